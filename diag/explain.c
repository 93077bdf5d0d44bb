/*
 * Facts for explanations: where a missing version sits among the versions
 * that exist.
 */
#include <string.h>

#include "modproxy/diag.h"

static void keep(char *dst, const char *v) {
  snprintf(dst, GOMOD_MAX_VERSION_BYTES, "%s", v);
}

void diag_nearest_versions(const char *list, size_t len, const char *wanted,
                           struct diag_nearest *out) {
  memset(out, 0, sizeof *out);
  char latest_pre[GOMOD_MAX_VERSION_BYTES] = "";
  for (size_t i = 0; i < len;) {
    size_t end = i;
    while (end < len && list[end] != '\n')
      end++;
    /* The first whitespace-separated field is the version. */
    size_t a = i;
    while (a < end && (list[a] == ' ' || list[a] == '\t' || list[a] == '\r'))
      a++;
    size_t b = a;
    while (b < end && list[b] != ' ' && list[b] != '\t' && list[b] != '\r')
      b++;
    char v[GOMOD_MAX_VERSION_BYTES];
    i = end + 1;
    if (b == a || b - a >= sizeof v)
      continue;
    memcpy(v, list + a, b - a);
    v[b - a] = '\0';
    if (!gomod_semver_is_valid(v))
      continue;
    out->count++;
    int cmp = gomod_semver_compare(v, wanted);
    if (cmp < 0 &&
        (out->below[0] == '\0' || gomod_semver_compare(v, out->below) > 0))
      keep(out->below, v);
    if (cmp > 0 &&
        (out->above[0] == '\0' || gomod_semver_compare(v, out->above) < 0))
      keep(out->above, v);
    char pre[GOMOD_MAX_VERSION_BYTES];
    gomod_semver_prerelease(v, pre, sizeof pre);
    char *best = pre[0] == '\0' ? out->latest : latest_pre;
    if (best[0] == '\0' || gomod_semver_compare(v, best) > 0)
      keep(best, v);
  }
  if (out->latest[0] == '\0')
    keep(out->latest, latest_pre);
  char pre[GOMOD_MAX_VERSION_BYTES];
  gomod_semver_prerelease(out->below, pre, sizeof pre);
  keep(out->suggest,
       out->below[0] != '\0' && pre[0] == '\0' ? out->below : out->latest);
}
