/*
 * The go command's "latest" and "upgrade" queries (diag/latest.c), each
 * case as cmd/go's modload decides it: releases before pre-releases,
 * pseudo-versions never from the list, never below the current version,
 * versions the predicate refuses (retracted, excluded) skipped, and
 * +incompatible versions only while the newest compatible one before
 * them has no go.mod.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/diag.h"

/* The test's predicates: `refused` is a version allowed() refuses (or
 * NULL), `legacy` the versions without a go.mod (space-separated). */
struct preds {
  const char *refused;
  const char *legacy;
  int gomod_asked;
};

static int allowed(void *ctx, const char *v) {
  const struct preds *p = ctx;
  return p->refused == NULL || strcmp(p->refused, v) != 0;
}

static int has_gomod(void *ctx, const char *v) {
  struct preds *p = ctx;
  p->gomod_asked++;
  return p->legacy == NULL || strstr(p->legacy, v) == NULL;
}

static int query(const char *list, const char *current, struct preds *p,
                 char *out, char *pre) {
  struct diag_query_fns fns = {
      .allowed = allowed, .has_gomod = has_gomod, .ctx = p};
  return diag_query_latest(list, strlen(list), current, &fns, out, pre);
}

static void test_latest(void **state) {
  char out[GOMOD_MAX_VERSION_BYTES], pre[GOMOD_MAX_VERSION_BYTES];
  struct preds p = {0};
  /* Unsorted; a pre-release above every release is not the latest, but
   * is named; a pseudo-version in the list does not count. */
  assert_int_equal(query("v1.5.3-pre1\nv1.5.2 2018-02-14T00:00:00Z\nv1.0.0\n"
                         "v1.9.0-0.20200101000000-0123456789ab\nbad\n",
                         NULL, &p, out, pre),
                   0);
  assert_string_equal(out, "v1.5.2");
  assert_string_equal(pre, "v1.5.3-pre1");
  /* A pre-release below the latest release is not named. */
  assert_int_equal(query("v1.0.0-rc1\nv1.0.0\n", NULL, &p, out, pre), 0);
  assert_string_equal(out, "v1.0.0");
  assert_string_equal(pre, "");
  /* Only pre-releases: the newest. */
  assert_int_equal(query("v0.1.0-a\nv0.1.0-b\n", NULL, &p, out, pre), 0);
  assert_string_equal(out, "v0.1.0-b");
  /* No tagged version. */
  assert_int_equal(
      query("v0.0.0-20200101000000-0123456789ab\n", NULL, &p, out, pre),
      -ENOENT);
  assert_string_equal(out, "");
}

static void test_upgrade(void **state) {
  char out[GOMOD_MAX_VERSION_BYTES], pre[GOMOD_MAX_VERSION_BYTES];
  struct preds p = {0};
  /* From a selected pre-release newer than every release: no release is
   * at or above it, so the newest pre-release that is. */
  assert_int_equal(
      query("v1.5.2\nv1.5.3-pre1\nv1.5.3-pre2\n", "v1.5.3-pre1", &p, out, pre),
      0);
  assert_string_equal(out, "v1.5.3-pre2");
  /* Nothing at or above the current version. */
  assert_int_equal(query("v1.0.0\n", "v1.2.0", &p, out, pre), -ENOENT);
  /* The newest is refused (retracted): the next one. */
  p.refused = "v1.9.0";
  assert_int_equal(
      query("v1.0.0-bad\nv1.1.0\nv1.9.0\n", "v1.0.0-bad", &p, out, pre), 0);
  assert_string_equal(out, "v1.1.0");
  /* The current version itself refused, nothing newer: none. */
  assert_int_equal(query("v1.9.0\n", "v1.9.0", &p, out, pre), -ENOENT);
}

static void test_incompatible(void **state) {
  char out[GOMOD_MAX_VERSION_BYTES], pre[GOMOD_MAX_VERSION_BYTES];
  static const char list[] = "v2.0.0+incompatible\nv1.2.0\nv1.1.0\n"
                             "v3.1.0+incompatible\n";
  /* v1.2.0 has a go.mod: the +incompatible versions are left out. */
  struct preds p = {0};
  assert_int_equal(query(list, NULL, &p, out, pre), 0);
  assert_string_equal(out, "v1.2.0");
  assert_int_equal(p.gomod_asked, 1);
  /* v1.2.0 has none (a module from before modules): they count. */
  struct preds legacy = {.legacy = "v1.2.0"};
  assert_int_equal(query(list, NULL, &legacy, out, pre), 0);
  assert_string_equal(out, "v3.1.0+incompatible");
  /* Only +incompatible versions: no compatible one to ask about. */
  struct preds none = {0};
  assert_int_equal(query("v2.0.0+incompatible\n", NULL, &none, out, pre), 0);
  assert_string_equal(out, "v2.0.0+incompatible");
  assert_int_equal(none.gomod_asked, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_latest),
      cmocka_unit_test(test_upgrade),
      cmocka_unit_test(test_incompatible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
