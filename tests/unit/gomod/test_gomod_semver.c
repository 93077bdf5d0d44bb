/*
 * Semantic versions (proxy/gomod/semver.c) against the x/mod v0.7.0
 * vectors: IsValid, Canonical, Major, MajorMinor, Prerelease, Build and
 * module.CanonicalVersion per version; semver.Sort order; Compare and Max
 * of every pair.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "modproxy/gomod.h"
#include "testutil.h"

#include "gomod_expect.h"

#define BUF_BYTES 512

/* Rows in each vector file (see /work/shared/vectors/README.md). */
#define SEMVER_ROWS 128
#define SORTED_ROWS 128
#define COMPARE_ROWS (SEMVER_ROWS * SEMVER_ROWS)

typedef int (*part_fn)(const char *, char *, size_t);

/* One string-valued function of v against its expected value. */
static void want_part(int line, const char *what, part_fn fn, const char *v,
                      const char *want) {
  char out[BUF_BYTES];
  int n = fn(v, out, sizeof out);
  want_str(line, what, out, want);
  want_int(line, what, n, (long long)strlen(want));
}

/* v  IsValid  Canonical  Major  MajorMinor  Prerelease  Build
 * want_Canonical  source */
static void on_semver(const struct tsv_row *row, void *arg) {
  const char *v = row->field[0];
  char canon[BUF_BYTES];
  int line = row->lineno, incompatible;

  want_fields(row, 9);
  want_verdict(line, "IsValid", gomod_semver_is_valid(v), row->field[1]);
  want_part(line, "Canonical", gomod_semver_canonical, v, row->field[2]);
  want_part(line, "Major", gomod_semver_major, v, row->field[3]);
  want_part(line, "MajorMinor", gomod_semver_major_minor, v, row->field[4]);
  want_part(line, "Prerelease", gomod_semver_prerelease, v, row->field[5]);
  want_part(line, "Build", gomod_semver_build, v, row->field[6]);

  /* module.CanonicalVersion is Canonical plus a "+incompatible" build. */
  incompatible = strcmp(row->field[6], "+incompatible") == 0;
  snprintf(canon, sizeof canon, "%s%s", row->field[2],
           incompatible ? "+incompatible" : "");
  want_part(line, "CanonicalVersion", gomod_canonical_version, v, canon);
  want_int(line, "IsCanonicalVersion", gomod_is_canonical_version(v),
           gomod_semver_is_valid(v) && strcmp(canon, v) == 0);
}

/* semver.Sort's order: Compare, ties broken bytewise. */
static int by_version(const void *a, const void *b) {
  const char *va = *(char *const *)a, *vb = *(char *const *)b;
  int c = gomod_semver_compare(va, vb);
  return c != 0 ? c : strcmp(va, vb);
}

struct sorted {
  char *v[SORTED_ROWS];
  int n;
};

static void on_sorted(const struct tsv_row *row, void *arg) {
  struct sorted *s = arg;
  want_fields(row, 1);
  if (s->n >= SORTED_ROWS)
    fail_msg("line %d: more than %d rows", row->lineno, SORTED_ROWS);
  s->v[s->n++] = strdup(row->field[0]);
}

static void test_sorted(void **state) {
  struct sorted want = {.n = 0};
  char *got[SORTED_ROWS];

  want_int(0, "rows", tsv_each("semver_sorted.tsv", 1, on_sorted, &want),
           SORTED_ROWS);
  /* Sort the list reversed, so that the order has to be produced. */
  for (int i = 0; i < want.n; i++)
    got[i] = want.v[want.n - 1 - i];
  qsort(got, (size_t)want.n, sizeof got[0], by_version);
  for (int i = 0; i < want.n; i++)
    want_str(i + 1, "sort position", got[i], want.v[i]);
  for (int i = 0; i < want.n; i++)
    free(want.v[i]);
}

/* a  b  Compare  Max */
static void on_compare(const struct tsv_row *row, void *arg) {
  const char *a = row->field[0], *b = row->field[1];
  char ca[BUF_BYTES], cb[BUF_BYTES];
  int c = gomod_semver_compare(a, b);

  want_fields(row, 4);
  want_int(row->lineno, "Compare", c, atoi(row->field[2]));
  want_int(row->lineno, "Compare reversed", gomod_semver_compare(b, a), -c);
  /* semver.Max: the larger canonical form, w on ties. */
  gomod_semver_canonical(a, ca, sizeof ca);
  gomod_semver_canonical(b, cb, sizeof cb);
  want_str(row->lineno, "Max", gomod_semver_compare(ca, cb) > 0 ? ca : cb,
           row->field[3]);
}

static void test_semver(void **state) {
  want_int(0, "rows", tsv_each("semver.tsv", 1, on_semver, NULL), SEMVER_ROWS);
}

static void test_compare(void **state) {
  want_int(0, "rows", tsv_each("semver_compare.tsv", 1, on_compare, NULL),
           COMPARE_ROWS);
}

/* Numbers of any length; short output buffers. */
static void test_edges(void **state) {
  char out[8];

  assert_int_equal(gomod_semver_compare("v1.2.100000000000000000000",
                                        "v1.2.99999999999999999999"),
                   1);
  assert_int_equal(gomod_semver_compare("v1.0.0-a.10", "v1.0.0-a.9"), 1);
  assert_int_equal(gomod_semver_compare("v1.0.0-a.b", "v1.0.0-a.b.c"), -1);
  assert_int_equal(gomod_semver_canonical("v1.2", out, 6), -E2BIG);
  assert_int_equal(gomod_semver_canonical("v1.2", out, 7), 6);
  assert_string_equal(out, "v1.2.0");
  assert_int_equal(
      gomod_canonical_version("v10.0.0+incompatible", out, sizeof out), -E2BIG);
  assert_int_equal(gomod_semver_major("v12345678.0.0", out, sizeof out),
                   -E2BIG);
  assert_int_equal(gomod_semver_build("bad+x", out, 1), 0);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_semver),
      cmocka_unit_test(test_sorted),
      cmocka_unit_test(test_compare),
      cmocka_unit_test(test_edges),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
