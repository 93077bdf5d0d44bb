/*
 * Facts for explanations: where a missing version sits among the versions
 * that exist, and what a version asked for at the wrong major-version path
 * is (a /vN module or a +incompatible version).
 */
#include <errno.h>
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

/* The major-version suffix `version` needs ("/v3", ".v3" for gopkg.in)
 * into out; 0, or -ENOENT when version is a semantic version path's own
 * suffix (or +incompatible) accepts, or is no semantic version. */
static int needed_major(const char *module, const char *version,
                        size_t *prefix_len, char *out, size_t cap) {
  const char *have;
  char major[GOMOD_MAX_VERSION_BYTES], build[GOMOD_MAX_VERSION_BYTES];
  if (!gomod_semver_is_valid(version) ||
      gomod_split_path_version(module, prefix_len, &have) < 0 ||
      gomod_match_path_major(version, have))
    return -ENOENT;
  gomod_semver_build(version, build, sizeof build);
  gomod_semver_major(version, major, sizeof major);
  if (strcmp(build, "+incompatible") == 0 || strcmp(major, "v0") == 0 ||
      strcmp(major, "v1") == 0)
    return -ENOENT;
  snprintf(out, cap, "%c%s", have[0] == '.' ? '.' : '/', major);
  return 0;
}

int diag_wrong_major(const char *module, const char *version) {
  size_t prefix;
  char suffix[GOMOD_MAX_VERSION_BYTES];
  return needed_major(module, version, &prefix, suffix, sizeof suffix) == 0;
}

int diag_explain_major(const char *module, const char *version,
                       const char *list, size_t len, char *out, size_t cap) {
  size_t prefix;
  char suffix[GOMOD_MAX_VERSION_BYTES], incompatible[GOMOD_MAX_VERSION_BYTES];
  if (needed_major(module, version, &prefix, suffix, sizeof suffix) < 0)
    return -ENOENT;
  /* A repository without a go.mod at v2+ has its v2+ tags as
   * +incompatible versions of the unsuffixed path: the list says so. */
  snprintf(incompatible, sizeof incompatible, "%s+incompatible", version);
  for (size_t i = 0; i < len;) {
    size_t end = i;
    while (end < len && list[end] != '\n')
      end++;
    size_t n = strcspn(list + i, " \t\r\n");
    if (n > end - i)
      n = end - i;
    if (n == strlen(incompatible) && memcmp(list + i, incompatible, n) == 0) {
      snprintf(out, cap,
               "%s@%s: no such version: %s has no go.mod at %s, so that tag "
               "is the version %s (+incompatible: from before modules).\n"
               "Use: go get %s@%s\n",
               module, version, module, version, incompatible, module,
               incompatible);
      return 0;
    }
    i = end + 1;
  }
  snprintf(out, cap,
           "%s@%s: no such version: from v2 on, the major version is part of "
           "the module path, so %s is a version of %.*s%s, not of %s.\n"
           "Use: go get %.*s%s@%s (and import %.*s%s/... in your code)\n",
           module, version, version, (int)prefix, module, suffix, module,
           (int)prefix, module, suffix, version, (int)prefix, module, suffix);
  return 0;
}
