/*
 * Pseudo-versions (proxy/gomod/pseudo.c) against the x/mod v0.7.0 vectors:
 * IsPseudoVersion, PseudoVersionTime/Rev/Base per version, PseudoVersion
 * construction (and reading back what it built); then time edge cases
 * whose expected values came from x/mod under Go 1.19.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "modproxy/gomod.h"
#include "testutil.h"

#include "gomod_expect.h"

#define BUF_BYTES 512
#define ERROR_MARK "!ERROR"

/* Rows in each vector file (see /work/shared/vectors/README.md). */
#define PSEUDO_ROWS 128
#define PSEUDO_MAKE_ROWS 37

/* The vectors' time format, RFC 3339 in UTC: "2006-01-02T15:04:05Z". */
static void format_time(time_t t, char *out, size_t outlen) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static time_t parse_time(int line, const char *s) {
  struct tm tm = {0};
  if (sscanf(s, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    fail_msg("line %d: bad time %s", line, s);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm(&tm);
}

/* A result that is a string or "!ERROR" (-EINVAL). */
static void want_result(int line, const char *what, int rc, const char *got,
                        const char *want) {
  if (strcmp(want, ERROR_MARK) == 0) {
    want_int(line, what, rc, -EINVAL);
    return;
  }
  want_int(line, what, rc, (long long)strlen(want));
  want_str(line, what, got, want);
}

/* v  IsPseudoVersion  Time  Rev  Base  source */
static void on_pseudo(const struct tsv_row *row, void *arg) {
  const char *v = row->field[0];
  char out[BUF_BYTES];
  time_t t;
  int rc, line = row->lineno;

  want_fields(row, 6);
  want_verdict(line, "IsPseudoVersion", gomod_is_pseudo_version(v),
               row->field[1]);
  rc = gomod_pseudo_version_time(v, &t);
  if (rc == 0)
    format_time(t, out, sizeof out);
  want_result(line, "PseudoVersionTime", rc == 0 ? (int)strlen(out) : rc, out,
              row->field[2]);
  rc = gomod_pseudo_version_rev(v, out, sizeof out);
  want_result(line, "PseudoVersionRev", rc, out, row->field[3]);
  rc = gomod_pseudo_version_base(v, out, sizeof out);
  want_result(line, "PseudoVersionBase", rc, out, row->field[4]);
}

/* major  older  time  rev  PseudoVersion  want  source */
static void on_pseudo_make(const struct tsv_row *row, void *arg) {
  char out[BUF_BYTES], rev[BUF_BYTES];
  time_t t = parse_time(row->lineno, row->field[2]), back;
  int n, line = row->lineno;

  want_fields(row, 7);
  n = gomod_pseudo_version_make(row->field[0], row->field[1], t, row->field[3],
                                out, sizeof out);
  want_result(line, "PseudoVersion", n, out, row->field[4]);
  /* What was built reads back as a pseudo-version of that time and rev. */
  want_int(line, "IsPseudoVersion", gomod_is_pseudo_version(out), 1);
  want_int(line, "PseudoVersionTime", gomod_pseudo_version_time(out, &back), 0);
  want_int(line, "PseudoVersionTime value", back, t);
  gomod_pseudo_version_rev(out, rev, sizeof rev);
  want_str(line, "PseudoVersionRev", rev, row->field[3]);
}

static void test_pseudo(void **state) {
  want_int(0, "rows", tsv_each("pseudo.tsv", 1, on_pseudo, NULL), PSEUDO_ROWS);
}

static void test_pseudo_make(void **state) {
  want_int(0, "rows", tsv_each("pseudo_make.tsv", 1, on_pseudo_make, NULL),
           PSEUDO_MAKE_ROWS);
}

/* Calendar edges, years outside 0000-9999, shorthand bases, buffers, the
 * pseudo-version pattern. */
static void test_edges(void **state) {
  char out[64];
  time_t t;

  assert_int_equal(gomod_pseudo_version_time("v0.0.0-20060230150405-hash", &t),
                   -EINVAL);
  assert_int_equal(gomod_pseudo_version_time("v0.0.0-20060102240000-hash", &t),
                   -EINVAL);
  assert_int_equal(gomod_pseudo_version_time("v0.0.0-20000229235959-hash", &t),
                   0);
  assert_int_equal(t, 951868799);
  assert_int_equal(gomod_pseudo_version_time("v0.0.0-19000229000000-hash", &t),
                   -EINVAL);
  assert_int_equal(gomod_pseudo_version_time("v0.0.0-00000101000000-hash", &t),
                   0);
  assert_int_equal(t, -62167219200LL);

  /* time.Date(-5, 1, 2, 3, 4, 5) and time.Date(12345, ...) */
  gomod_pseudo_version_make("", "", (time_t)-62324888155LL, "x", out,
                            sizeof out);
  assert_string_equal(out, "v0.0.0--00050102030405-x");
  gomod_pseudo_version_make("", "v1", (time_t)327403479845LL, "x", out,
                            sizeof out);
  assert_string_equal(out, "v1.0.1-0.123450102030405-x");
  gomod_pseudo_version_make("", "v1.2", (time_t)327403479845LL, "x", out,
                            sizeof out);
  assert_string_equal(out, "v1.2.1-0.123450102030405-x");

  assert_int_equal(gomod_pseudo_version_make("v2", "", 0, "abc", out, 25),
                   -E2BIG);
  assert_int_equal(gomod_pseudo_version_make("v2", "", 0, "abc", out, 26), 25);
  assert_string_equal(out, "v2.0.0-19700101000000-abc");
  assert_int_equal(gomod_pseudo_version_rev("v1.0.0", out, sizeof out),
                   -EINVAL);
  /* "0." after the dash, or after a run ending in '.', not anywhere */
  assert_int_equal(gomod_is_pseudo_version("v1.2.3-x0.20060102150405-hash"), 0);
  assert_int_equal(gomod_is_pseudo_version("v1.2.3-x.0.20060102150405-hash"),
                   1);
  /* The timestamp is exactly 14 digits, then a dash. */
  assert_int_equal(gomod_is_pseudo_version("v0.0.0-2006010215040-abcdef123456"),
                   0);
  assert_int_equal(
      gomod_is_pseudo_version("v0.0.0-20060102150405xabcdef-123456"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pseudo),
      cmocka_unit_test(test_pseudo_make),
      cmocka_unit_test(test_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
