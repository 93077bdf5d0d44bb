/*
 * Findings about what the proxy serves: what a module version's go.mod says
 * that will trip the builds using it, worded for the person who has to fix
 * it. The same wording serves the store's findings (recorded at ingest, in
 * /diag/module) and the go.mod analysis (/diag/modfile, modproxy diag).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"
#include "modproxy/modfile.h"

/* modload's maxRationaleBytes. */
#define SHORT_MESSAGE_MAX_BYTES 500

void diag_short_message(const char *in, char *out, size_t cap) {
  size_t n = strcspn(in, "\n");
  while (n > 0 && strchr(" \t\r\v\f", in[n - 1]) != NULL)
    n--;
  while (n > 0 && strchr(" \t\r\v\f", *in) != NULL) {
    in++;
    n--;
  }
  if (n > SHORT_MESSAGE_MAX_BYTES) {
    snprintf(out, cap, "(message omitted: too long)");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)in[i];
    size_t k = ch < 0x80                 ? 1
               : ch >= 0xc2 && ch < 0xe0 ? 2
               : ch >= 0xe0 && ch < 0xf0 ? 3
               : ch >= 0xf0 && ch < 0xf5 ? 4
                                         : 0;
    int ok = k > 0 && i + k <= n && (ch >= 0x20 || ch == '\t') && ch != 0x7f;
    for (size_t j = 1; ok && j < k; j++)
      ok = ((unsigned char)in[i + j] & 0xc0) == 0x80;
    if (!ok) {
      snprintf(out, cap,
               "(message omitted: contains non-printable characters)");
      return;
    }
    i += k - 1;
  }
  snprintf(out, cap, "%.*s", (int)n, in);
}

void diag_msg_path_mismatch(char *out, size_t cap, const char *module,
                            const char *version, const char *declared,
                            const char *fix) {
  snprintf(out, cap,
           "%s@%s: its go.mod declares its path as %s, but it was required "
           "as %s; the go command stops with \"module declares its path as\"\n"
           "fix: %s",
           module, version, declared, module, fix);
}

/* The explanation of a module needing a newer Go than `have`. */
static void msg_newer_go(char *out, size_t cap, const char *module,
                         const char *version, const char *need,
                         const char *have) {
  snprintf(out, cap,
           "%s@%s requires go >= %s, newer than %s\nfix: upgrade Go to %s or "
           "later, or require an older %s",
           module, version, need, have, need, module);
}

int diag_gomod_findings(const char *module, const char *version,
                        const char *gomod, size_t len, const char *go_release,
                        struct diag_gomod_finding *out, int max) {
  struct modfile mf;
  modfile_init(&mf);
  if (modfile_parse(&mf, gomod, len, MODFILE_LAX, NULL, 0) < 0)
    return 0;
  int n = 0;
  if (n < max && mf.module != NULL && strcmp(mf.module, module) != 0) {
    out[n] = (struct diag_gomod_finding){.kind = "path mismatch"};
    snprintf(out[n].version, sizeof out[n].version, "%s", version);
    /* What the proxy serves is not known here: the fix is checked by the
     * go.mod analysis, which can ask. */
    diag_msg_path_mismatch(out[n].message, sizeof out[n].message, module,
                           version, mf.module,
                           "run modproxy diag (or POST go.mod to /diag/modfile)"
                           " in the module that requires it: it names the "
                           "versions and paths this proxy serves that work");
    n++;
  }
  if (n < max && mf.go != NULL && go_release != NULL && go_release[0] != '\0' &&
      diag_gover_compare(mf.go, go_release) > 0) {
    out[n] = (struct diag_gomod_finding){.kind = "newer go"};
    snprintf(out[n].version, sizeof out[n].version, "%s", version);
    msg_newer_go(out[n].message, sizeof out[n].message, module, version, mf.go,
                 go_release);
    n++;
  }
  char why[SHORT_MESSAGE_MAX_BYTES + 64];
  for (size_t i = 0; i < mf.nretract && n < max; i++) {
    const struct modfile_retract *r = &mf.retract[i];
    diag_short_message(r->rationale, why, sizeof why);
    out[n] = (struct diag_gomod_finding){.kind = "retracted"};
    snprintf(out[n].version, sizeof out[n].version, "%s", r->low);
    if (strcmp(r->low, r->high) == 0)
      snprintf(out[n].message, sizeof out[n].message,
               "%s@%s is retracted (says %s@%s)%s%s\nfix: go get %s@latest",
               module, r->low, module, version, why[0] ? ": " : "", why,
               module);
    else
      snprintf(out[n].message, sizeof out[n].message,
               "%s versions [%s, %s] are retracted (says %s@%s)%s%s\nfix: go "
               "get %s@latest",
               module, r->low, r->high, module, version, why[0] ? ": " : "",
               why, module);
    n++;
  }
  if (n < max && mf.deprecated != NULL && mf.deprecated[0] != '\0') {
    out[n] = (struct diag_gomod_finding){.kind = "deprecated"};
    diag_short_message(mf.deprecated, why, sizeof why);
    snprintf(out[n].message, sizeof out[n].message,
             "module %s is deprecated (says %s@%s): %s\nfix: move to the "
             "replacement it names, then go mod tidy",
             module, module, version, why);
    n++;
  }
  modfile_dispose(&mf);
  return n;
}
