/*
 * The go command's "latest" and "upgrade" queries over a @v/list body
 * (cmd/go/internal/modload queryProxy and filterVersions), so that the
 * modfile report names the version `go list -m -u` would.
 *
 * The list's tagged versions (valid semantic versions, pseudo-versions
 * left out, as proxyRepo.Versions does) are sorted; a query keeps those
 * its predicate allows and that are not below the current version, and
 * picks the newest release, else the newest pre-release. +incompatible
 * versions count only while the newest compatible version before them has
 * no go.mod of its own. Pure apart from the caller's predicates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"

static int by_semver(const void *x, const void *y) {
  return gomod_semver_compare(*(char *const *)x, *(char *const *)y);
}

static int is_incompatible(const char *v) {
  size_t n = strlen(v);
  return n > 13 && strcmp(v + n - 13, "+incompatible") == 0;
}

int diag_list_versions(const char *list, size_t len, char **text, char ***out,
                       size_t *n) {
  *n = 0;
  *out = NULL;
  *text = malloc(len + 1);
  size_t lines = 1;
  for (size_t i = 0; i < len; i++)
    lines += list[i] == '\n';
  char **v = calloc(lines, sizeof *v);
  if (*text == NULL || v == NULL) {
    free(v);
    free(*text);
    *text = NULL;
    return -ENOMEM;
  }
  memcpy(*text, list, len);
  (*text)[len] = '\0';
  for (char *save = NULL, *line = strtok_r(*text, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    line += strspn(line, " \t\r");
    line[strcspn(line, " \t\r")] = '\0';
    if (gomod_semver_is_valid(line) && !gomod_is_pseudo_version(line))
      v[(*n)++] = line;
  }
  qsort(v, *n, sizeof *v, by_semver);
  *out = v;
  return 0;
}

int diag_query_latest(const char *list, size_t len, const char *current,
                      const struct diag_query_fns *fns,
                      char out[GOMOD_MAX_VERSION_BYTES],
                      char pre[GOMOD_MAX_VERSION_BYTES]) {
  out[0] = pre[0] = '\0';
  char *text, **v;
  size_t n;
  if (diag_list_versions(list, len, &text, &v, &n) < 0)
    return -ENOMEM;
  const char *release = NULL, *prerelease = NULL, *last_compatible = NULL;
  int need_incompatible = 0;
  for (size_t i = 0; i < n; i++) {
    if (current != NULL && gomod_semver_compare(v[i], current) < 0)
      continue;
    if (fns->allowed != NULL && !fns->allowed(fns->ctx, v[i]))
      continue;
    if (!need_incompatible) {
      if (!is_incompatible(v[i]))
        last_compatible = v[i];
      else if (last_compatible != NULL &&
               fns->has_gomod(fns->ctx, last_compatible))
        break; /* all that follow are +incompatible */
      else if (last_compatible != NULL)
        need_incompatible = 1;
    }
    char p[GOMOD_MAX_VERSION_BYTES];
    gomod_semver_prerelease(v[i], p, sizeof p);
    if (p[0] != '\0')
      prerelease = v[i];
    else
      release = v[i];
  }
  const char *pick = release != NULL ? release : prerelease;
  if (pick != NULL)
    snprintf(out, GOMOD_MAX_VERSION_BYTES, "%s", pick);
  if (prerelease != NULL && gomod_semver_compare(prerelease, pick) > 0)
    snprintf(pre, GOMOD_MAX_VERSION_BYTES, "%s", prerelease);
  free(v);
  free(text);
  return pick != NULL ? 0 : -ENOENT;
}
