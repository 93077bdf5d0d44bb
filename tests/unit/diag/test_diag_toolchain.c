/*
 * Explanations of missing golang.org/toolchain versions (diag/toolchain.c):
 * parsing the versions, and which release each explanation picks from an
 * @v/list in the module proxy's order (not sorted: go1.9 after go1.27, rc
 * and beta versions among releases, other platforms mixed in).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/diag.h"

static const char list[] = "v0.0.1-go1.27.3.linux-amd64\n"
                           "v0.0.1-go1.28rc1.linux-amd64\n"
                           "v0.0.1-go1.9.2.linux-amd64\n"
                           "v0.0.1-go1.27.4.darwin-arm64\n"
                           "v0.0.1-go1.26.10.linux-amd64\n"
                           "v0.0.1-go1.2.1.linux-amd64\n"
                           "not a version\n"
                           "v0.0.1-go1.27.2.linux-amd64";

static void test_parse(void **state) {
  (void)state;
  char go[64], plat[64];
  assert_int_equal(
      diag_toolchain_parse("v0.0.1-go1.27.3.linux-amd64", go, plat, 64), 0);
  assert_string_equal(go, "go1.27.3");
  assert_string_equal(plat, "linux-amd64");
  assert_int_equal(
      diag_toolchain_parse("v0.0.1-go1.21rc2.windows-arm64", go, plat, 64), 0);
  assert_string_equal(go, "go1.21rc2");
  const char *bad[] = {"v1.0.0", "v0.0.1-go1.27.3", "v0.0.1-go1.27.3.",
                       "v0.0.2-go1.27.3.linux-amd64", "v0.0.1-gcc.linux-amd64"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(diag_toolchain_parse(bad[i], go, plat, 64), -EINVAL);
  assert_int_equal(
      diag_toolchain_parse("v0.0.1-go1.27.3.linux-amd64", go, plat, 8),
      -EINVAL);
}

static void expect(const char *version, const char *const want[]) {
  char out[1024];
  assert_int_equal(
      diag_toolchain_missing(version, list, strlen(list), out, sizeof out), 0);
  for (int i = 0; want[i] != NULL; i++)
    if (strstr(out, want[i]) == NULL)
      fail_msg("%s: \"%s\" not in:\n%s", version, want[i], out);
  assert_true(strlen(out) < 400);
}

static void test_missing(void **state) {
  (void)state;
  /* The newest release for the platform: not go1.9.2 (after go1.27 in the
   * list), not the release candidate, not another platform's go1.27.4. */
  expect("v0.0.1-go1.99.0.linux-amd64",
         (const char *[]){"go1.99.0: no such Go release",
                          "newest Go release for linux-amd64 is go1.27.3.",
                          "Use GOTOOLCHAIN=go1.27.3,", NULL});
  expect("v0.0.1-go1.27.4.linux-amd64",
         (const char *[]){"go1.27.4 has no toolchain for linux-amd64 (it has "
                          "one for darwin-arm64)",
                          "Use GOTOOLCHAIN=go1.27.3,", NULL});
  /* A language version: the newest of its family, not the newest overall. */
  expect("v0.0.1-go1.26.linux-amd64",
         (const char *[]){"go1.26 is a Go language version",
                          "newest Go 1.26 release for linux-amd64 is go1.26.10",
                          "Use GOTOOLCHAIN=go1.26.10,", NULL});
  /* go1.2's family is not go1.27's. */
  expect("v0.0.1-go1.2.2.linux-amd64",
         (const char *[]){"no such Go release", "Use GOTOOLCHAIN=go1.27.3,",
                          NULL});
  /* Before Go 1.21 a language version was a release's name too. */
  expect("v0.0.1-go1.20.linux-amd64",
         (const char *[]){"go1.20: no such Go release", NULL});
  expect("v0.0.1-go1.27.3.plan9-arm",
         (const char *[]){"No Go release for plan9-arm", "GOTOOLCHAIN=local",
                          NULL});
  char out[256];
  assert_int_equal(
      diag_toolchain_missing("v1.2.3", list, strlen(list), out, sizeof out),
      -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_missing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
