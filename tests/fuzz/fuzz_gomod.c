/*
 * Module paths and versions (include/modproxy/gomod.h) and the GOPROXY
 * request target decoder gp_parse (proxy/goproxy/route.h).
 *
 * Input: up to four strings separated by NUL bytes, "a\0b\0c\0d"; a is
 * read as a module path, an escaped path, a version and a request target,
 * b as a second version or path, c and d as the pseudo-version inputs.
 * Missing parts are "".
 *
 * Besides memory errors and undefined behaviour, checks properties x/mod
 * guarantees:
 *  - EscapePath/UnescapePath and EscapeVersion/UnescapeVersion invert each
 *    other on whatever one of them accepts;
 *  - semver.Compare is antisymmetric and reflexive, a valid version
 *    compares equal to its canonical form, and Canonical is idempotent;
 *  - a pseudo-version has a revision;
 *  - a target gp_parse accepts names a valid module path (and a version
 *    that passes module.Check when it says it is canonical).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "modproxy/gomod.h"
#include "route.h"

#define BIG 8192

static void paths(const char *a, const char *b) {
  char err[512], out[BIG], back[BIG];
  gomod_check_path(a, err, sizeof err);
  gomod_check_import_path(a, err, sizeof err);
  gomod_check_file_path(a, err, sizeof err);
  size_t prefix_len = 0;
  const char *major = NULL;
  if (gomod_split_path_version(a, &prefix_len, &major) == 0) {
    FUZZ_CHECK(prefix_len <= strlen(a), "split_path_version: prefix %zu > %zu",
               prefix_len, strlen(a));
    FUZZ_CHECK(major != NULL && major >= a && major <= a + strlen(a),
               "split_path_version: major outside the path");
    gomod_check_path_major(b, major, err, sizeof err);
    gomod_match_path_major(b, major);
  }
  gomod_check_path_major(a, b, err, sizeof err);
  gomod_match_path_major(a, b);
  gomod_check(a, b, err, sizeof err);
  gomod_match_prefix_patterns(a, b);
  gomod_match_prefix_patterns(b, a);

  /* EscapePath <-> UnescapePath. */
  int n = gomod_escape_path(a, out, sizeof out, err, sizeof err);
  if (n >= 0) {
    FUZZ_CHECK((size_t)n == strlen(out), "escape_path length %d != %zu", n,
               strlen(out));
    int m = gomod_unescape_path(out, back, sizeof back, err, sizeof err);
    FUZZ_CHECK(m >= 0, "unescape_path(escape_path(\"%s\") = \"%s\") failed: %s",
               a, out, err);
    FUZZ_CHECK(strcmp(back, a) == 0,
               "unescape_path(escape_path(\"%s\")) = \"%s\"", a, back);
  }
  if (gomod_unescape_path(a, out, sizeof out, err, sizeof err) >= 0) {
    int m = gomod_escape_path(out, back, sizeof back, err, sizeof err);
    FUZZ_CHECK(m >= 0, "escape_path(unescape_path(\"%s\") = \"%s\") failed: %s",
               a, out, err);
    FUZZ_CHECK(strcmp(back, a) == 0,
               "escape_path(unescape_path(\"%s\")) = \"%s\"", a, back);
  }
  /* EscapeVersion <-> UnescapeVersion. */
  if (gomod_escape_version(a, out, sizeof out, err, sizeof err) >= 0) {
    FUZZ_CHECK(
        gomod_unescape_version(out, back, sizeof back, err, sizeof err) >= 0,
        "unescape_version(escape_version(\"%s\") = \"%s\") failed: %s", a, out,
        err);
    FUZZ_CHECK(strcmp(back, a) == 0,
               "unescape_version(escape_version(\"%s\")) = \"%s\"", a, back);
  }
  if (gomod_unescape_version(a, out, sizeof out, err, sizeof err) >= 0) {
    FUZZ_CHECK(gomod_escape_version(out, back, sizeof back, err, sizeof err) >=
                   0,
               "escape_version(unescape_version(\"%s\") = \"%s\") failed: %s",
               a, out, err);
    FUZZ_CHECK(strcmp(back, a) == 0,
               "escape_version(unescape_version(\"%s\")) = \"%s\"", a, back);
  }
  /* Output buffers that are too small must be refused, not overrun. */
  char tiny[4];
  gomod_escape_path(a, tiny, sizeof tiny, err, sizeof err);
  gomod_unescape_path(a, tiny, sizeof tiny, err, sizeof err);
  gomod_escape_version(a, tiny, sizeof tiny, err, sizeof err);
  gomod_unescape_version(a, tiny, sizeof tiny, NULL, 0);
  gomod_check_path(a, tiny, sizeof tiny);
  gomod_check(a, b, tiny, 1);
}

static void versions(const char *a, const char *b) {
  char out[BIG], again[BIG];
  int valid = gomod_semver_is_valid(a);
  FUZZ_CHECK(gomod_semver_compare(a, a) == 0, "compare(\"%s\", itself) != 0",
             a);
  int ab = gomod_semver_compare(a, b), ba = gomod_semver_compare(b, a);
  FUZZ_CHECK(ab >= -1 && ab <= 1, "compare returned %d", ab);
  FUZZ_CHECK(ab == -ba, "compare(\"%s\", \"%s\") = %d but reversed %d", a, b,
             ab, ba);
  int n = gomod_semver_canonical(a, out, sizeof out);
  FUZZ_CHECK(n >= 0, "canonical(\"%s\") failed with a large buffer", a);
  if (valid) {
    FUZZ_CHECK(out[0] != '\0', "canonical(\"%s\") is empty", a);
    FUZZ_CHECK(gomod_semver_is_valid(out), "canonical(\"%s\") = \"%s\" invalid",
               a, out);
    FUZZ_CHECK(gomod_semver_compare(a, out) == 0,
               "compare(\"%s\", canonical \"%s\") != 0", a, out);
    gomod_semver_canonical(out, again, sizeof again);
    FUZZ_CHECK(strcmp(out, again) == 0, "canonical not idempotent: %s -> %s",
               out, again);
  } else {
    FUZZ_CHECK(out[0] == '\0', "canonical of invalid \"%s\" is \"%s\"", a, out);
  }
  gomod_canonical_version(a, out, sizeof out);
  if (gomod_is_canonical_version(a))
    FUZZ_CHECK(valid, "\"%s\" canonical but not valid", a);
  gomod_semver_major(a, out, sizeof out);
  gomod_semver_major_minor(a, out, sizeof out);
  gomod_semver_prerelease(a, out, sizeof out);
  gomod_semver_build(a, out, sizeof out);
  char tiny[3];
  gomod_semver_canonical(a, tiny, sizeof tiny);
  gomod_canonical_version(a, tiny, sizeof tiny);
  gomod_semver_major_minor(a, tiny, sizeof tiny);
  gomod_semver_prerelease(a, tiny, sizeof tiny);
  gomod_semver_build(a, tiny, sizeof tiny);
}

static void pseudo(const char *a, const char *b, const char *c, const char *d,
                   int64_t t) {
  char out[BIG];
  time_t when;
  int is = gomod_is_pseudo_version(a);
  int rev = gomod_pseudo_version_rev(a, out, sizeof out);
  if (is)
    FUZZ_CHECK(rev >= 0, "pseudo-version \"%s\" has no revision", a);
  gomod_pseudo_version_base(a, out, sizeof out);
  gomod_pseudo_version_time(a, &when);
  char tiny[5];
  gomod_pseudo_version_rev(a, tiny, sizeof tiny);
  gomod_pseudo_version_base(a, tiny, sizeof tiny);
  /* major is "" or "vN" for callers; older and rev come from tags and
   * commits, and the time from a commit (any 64-bit value git prints). */
  gomod_pseudo_version_make(d, b, (time_t)t, c, out, sizeof out);
  gomod_pseudo_version_make("", b, (time_t)t, c, tiny, sizeof tiny);
}

static void request_target(const char *a) {
  struct gp_req *gp = malloc(sizeof *gp);
  if (gp == NULL)
    abort();
  char err[512];
  int status = gp_parse(a, gp, err, sizeof err);
  if (status == 0) {
    char why[512];
    FUZZ_CHECK(gomod_check_path(gp->module, why, sizeof why) == 0,
               "gp_parse(\"%s\") accepted module \"%s\": %s", a, gp->module,
               why);
    FUZZ_CHECK(gp->suffix[0] != '\0', "gp_parse(\"%s\"): empty suffix", a);
    if (gp->canonical)
      FUZZ_CHECK(gomod_check(gp->module, gp->version, why, sizeof why) == 0,
                 "gp_parse(\"%s\"): canonical %s@%s fails Check: %s", a,
                 gp->module, gp->version, why);
    if (gp->kind == GP_MOD || gp->kind == GP_ZIP)
      FUZZ_CHECK(gp->canonical,
                 "gp_parse(\"%s\"): .mod/.zip of a "
                 "non-canonical version %s",
                 a, gp->version);
  } else {
    FUZZ_CHECK(status >= 400 && status < 600, "gp_parse status %d", status);
  }
  free(gp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4 * HTTP_MAX_URL_BYTES)
    return 0;
  struct fuzz_parts p;
  fuzz_parts_split(data, size, 4, &p);
  int64_t t = 0;
  memcpy(&t, data + (size >= 8 ? size - 8 : 0), size >= 8 ? 8 : 0);
  paths(p.s[0], p.s[1]);
  versions(p.s[0], p.s[1]);
  pseudo(p.s[0], p.s[1], p.s[2], p.s[3], t);
  request_target(p.s[0]);
  struct gomod_h1_file files[3] = {
      {.name = p.s[0]}, {.name = p.s[1]}, {.name = p.s[2]}};
  char h1[GOMOD_H1_BYTES];
  gomod_h1(files, 3, h1);
  gomod_h1_gomod(data, size, h1);
  fuzz_parts_free(&p);
  return 0;
}
