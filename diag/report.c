/*
 * Rendering a go.mod analysis: for a terminal (errors first, each with the
 * command that fixes it; ANSI colour only when asked, i.e. on a TTY) and as
 * JSON for tools.
 */
#include <stdio.h>
#include <stdlib.h>

#include "modproxy/diag.h"

static const char *const sev_names[] = {"error", "warning", "note"};

char *diag_report_text(const struct diag_report *r, int color) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  static const char *const colors[] = {"\033[1;31m", "\033[1;33m",
                                       "\033[1;36m"};
  const char *reset = color ? "\033[0m" : "";
  fprintf(f, "%s: %zu modules in the build list; %d error%s, %d warning%s\n",
          r->main_module != NULL && r->main_module[0] != '\0' ? r->main_module
                                                              : "go.mod",
          r->nbuild, r->errors, r->errors == 1 ? "" : "s", r->warnings,
          r->warnings == 1 ? "" : "s");
  for (int sev = DIAG_SEV_ERROR; sev <= DIAG_SEV_INFO; sev++) {
    for (size_t i = 0; i < r->nfindings; i++) {
      const struct diag_finding *d = &r->findings[i];
      if ((int)d->severity != sev)
        continue;
      fprintf(f, "\n%s%s%s: %s", color ? colors[sev] : "", sev_names[sev],
              reset, d->kind);
      if (d->module != NULL)
        fprintf(f, " (%s%s%s)", d->module, d->version != NULL ? "@" : "",
                d->version != NULL ? d->version : "");
      fprintf(f, "\n  %s\n", d->message);
      if (d->fix != NULL)
        fprintf(f, "  fix: %s\n", d->fix);
    }
  }
  if (r->dropped > 0)
    fprintf(f, "\n(%zu more findings not listed)\n", r->dropped);
  if (r->nfindings == 0)
    fprintf(f, "\nno problems found\n");
  fclose(f);
  return out;
}

char *diag_report_json(const struct diag_report *r) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  fprintf(f, "{\"module\":");
  diag_json_write(f, r->main_module);
  fprintf(f, ",\"errors\":%d,\"warnings\":%d,\"build_list\":[", r->errors,
          r->warnings);
  for (size_t i = 0; i < r->nbuild; i++) {
    fprintf(f, "%s{\"path\":", i > 0 ? "," : "");
    diag_json_write(f, r->build[i].path);
    diag_json_field(f, "version", r->build[i].version);
    fputc('}', f);
  }
  fprintf(f, "],\"findings\":[");
  for (size_t i = 0; i < r->nfindings; i++) {
    const struct diag_finding *d = &r->findings[i];
    fprintf(f, "%s{\"severity\":\"%s\",\"kind\":", i > 0 ? "," : "",
            sev_names[d->severity]);
    diag_json_write(f, d->kind);
    diag_json_field(f, "module", d->module);
    diag_json_field(f, "version", d->version);
    diag_json_field(f, "message", d->message);
    diag_json_field(f, "fix", d->fix);
    fputc('}', f);
  }
  fprintf(f, "],\"dropped\":%zu}\n", r->dropped);
  fclose(f);
  return out;
}
