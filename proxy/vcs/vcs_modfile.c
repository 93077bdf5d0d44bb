/*
 * The parts of go.mod that resolving versions from git needs: the module
 * path (x/mod ModulePath) and the retract directives (as ParseLax keeps
 * them), through the go.mod parser in proxy/gomod; and the go.mod the go
 * command synthesises for a module without one.
 */
#include <stdio.h>
#include <string.h>

#include "modproxy/modfile.h"
#include "vcs_internal.h"

void vcs_modfile_module_path(const char *data, size_t len, char *out,
                             size_t cap) {
  if (modfile_module_path(data, len, out, cap) < 0 && cap > 0)
    out[0] = '\0';
}

size_t vcs_modfile_retractions(const char *data, size_t len,
                               struct vcs_retract *out, size_t cap) {
  struct modfile mf;
  modfile_init(&mf);
  if (modfile_parse(&mf, data, len, MODFILE_LAX, NULL, 0) < 0)
    return 0;
  size_t n = 0;
  for (size_t i = 0; i < mf.nretract && n < cap; i++) {
    snprintf(out[n].low, sizeof out[n].low, "%s", mf.retract[i].low);
    snprintf(out[n].high, sizeof out[n].high, "%s", mf.retract[i].high);
    n++;
  }
  modfile_dispose(&mf);
  return n;
}

size_t vcs_modfile_legacy(const char *module, char *out, size_t cap) {
  /* A path that passes module.CheckPath holds none of the characters that
   * modfile.AutoQuote quotes for. */
  int n = snprintf(out, cap, "module %s\n", module);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
