/*
 * Rendering a go.mod analysis: for a terminal (errors first, each with the
 * command that fixes it; ANSI colour only when asked, i.e. on a TTY) and as
 * JSON for tools.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"

static const char *const sev_names[] = {"error", "warning", "note"};

/* Module paths wider than this push their row's other columns right
 * rather than widening the whole table. */
#define REPORT_MAX_PATH_COLUMN 48

/* What the notes column says of a module: retracted, deprecated, a newer
 * pre-release, a go.sum line that is missing or disagrees. */
static void module_notes(const struct diag_module_info *m, char *out,
                         size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  if (m->retracted != NULL)
    o += (size_t)snprintf(out + o, cap - o, "retracted; ");
  if (m->deprecated != NULL && o < cap)
    o += (size_t)snprintf(out + o, cap - o, "deprecated; ");
  if (m->prerelease != NULL && o < cap)
    o += (size_t)snprintf(out + o, cap - o, "pre-release %s; ", m->prerelease);
  if ((m->sum == DIAG_SUM_MISSING || m->sum == DIAG_SUM_MISMATCH) && o < cap)
    o += (size_t)snprintf(out + o, cap - o, "go.sum %s; ",
                          diag_sum_name(m->sum));
  if (o >= 2 && o < cap)
    out[o - 2] = '\0';
}

/* The build list as go list -m -u shows it: each module's version, the
 * newer one it could move to in brackets, and the notes. Each line starts
 * with two blanks (the report's layout for what is not a heading). */
static void build_table(FILE *f, const struct diag_report *r) {
  if (r->info == NULL || r->nbuild == 0)
    return;
  int w = 6;
  for (size_t i = 0; i < r->nbuild; i++) {
    int n = (int)strlen(r->build[i].path);
    if (n > w && n <= REPORT_MAX_PATH_COLUMN)
      w = n;
  }
  fprintf(f, "\n  %-*s  %-8s  %s\n", w, "module", "", "version [latest]");
  for (size_t i = 0; i < r->nbuild; i++) {
    const struct diag_mod *b = &r->build[i];
    const struct diag_module_info *m = &r->info[i];
    char notes[GOMOD_MAX_VERSION_BYTES + 64];
    module_notes(m, notes, sizeof notes);
    int newer = m->latest != NULL && strcmp(m->latest, b->version) != 0;
    fprintf(f, "  %-*s  %-8s  %s%s%s%s%s%s\n", w, b->path,
            m->indirect ? "indirect" : "direct", b->version, newer ? " [" : "",
            newer ? m->latest : "", newer ? "]" : "",
            notes[0] != '\0' ? "  " : "", notes);
  }
}

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
  build_table(f, r);
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
    if (r->info != NULL) {
      const struct diag_module_info *m = &r->info[i];
      diag_json_field(f, "latest", m->latest);
      diag_json_field(f, "prerelease", m->prerelease);
      fprintf(f, ",\"indirect\":%s", m->indirect ? "true" : "false");
      diag_json_field(f, "retracted", m->retracted);
      diag_json_field(f, "deprecated", m->deprecated);
      diag_json_field(f, "gosum", diag_sum_name(m->sum));
    }
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
