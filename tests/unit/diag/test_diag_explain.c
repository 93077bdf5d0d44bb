/*
 * The facts behind explanations (diag/explain.c, diag/findings.c): where a
 * missing version sits among the versions that exist (below, above,
 * latest, what to suggest), and the findings a go.mod gives (retractions of
 * one version and of a range, deprecation).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/diag.h"

static void nearest(const char *list, const char *wanted,
                    struct diag_nearest *n) {
  diag_nearest_versions(list, strlen(list), wanted, n);
}

static void test_nearest(void **state) {
  struct diag_nearest n;
  /* Unsorted, a prerelease above every release. */
  nearest("v0.9.0\nv1.1.0\nv1.0.0\nv1.2.0-pre\nv1.3.0\nnot-a-version\n",
          "v1.0.5", &n);
  assert_int_equal(n.count, 5);
  assert_string_equal(n.below, "v1.0.0");
  assert_string_equal(n.above, "v1.1.0");
  assert_string_equal(n.latest, "v1.3.0");
  assert_string_equal(n.suggest, "v1.0.0");
  /* The latest is the highest release, not a higher prerelease. */
  nearest("v1.1.0\nv1.2.0-pre\n", "v1.5.0", &n);
  assert_string_equal(n.latest, "v1.1.0");
  /* Below is a prerelease: suggest the latest release instead. */
  nearest("v1.1.0\nv1.2.0-pre\n", "v1.2.0", &n);
  assert_string_equal(n.below, "v1.2.0-pre");
  assert_string_equal(n.suggest, "v1.1.0");
  /* Only prereleases: the latest of them. */
  nearest("v1.0.0-b\nv1.0.0-a\n", "v2.0.0", &n);
  assert_string_equal(n.latest, "v1.0.0-b");
  /* No tagged versions at all. */
  nearest("", "v1.0.0", &n);
  assert_int_equal(n.count, 0);
}

static void test_gomod_findings(void **state) {
  static const char gomod[] = "// Deprecated: use example.com/new instead.\n"
                              "module example.com/m\n\n"
                              "retract v1.0.1 // broken build\n"
                              "retract [v1.1.0, v1.1.5]\n";
  struct diag_gomod_finding f[8];
  int n = diag_gomod_findings("example.com/m", "v1.2.0", gomod, strlen(gomod),
                              NULL, f, 8);
  assert_int_equal(n, 3);
  assert_string_equal(f[0].kind, "retracted");
  assert_string_equal(f[0].version, "v1.0.1");
  assert_non_null(strstr(f[0].message, "example.com/m@v1.0.1 is retracted "
                                       "(says example.com/m@v1.2.0): broken "
                                       "build"));
  assert_string_equal(f[1].kind, "retracted");
  assert_string_equal(f[1].version, "v1.1.0");
  assert_non_null(strstr(f[1].message,
                         "example.com/m versions [v1.1.0, v1.1.5] are "
                         "retracted (says example.com/m@v1.2.0)"));
  assert_string_equal(f[2].kind, "deprecated");
  assert_non_null(strstr(f[2].message, "module example.com/m is deprecated "
                                       "(says example.com/m@v1.2.0): use "
                                       "example.com/new instead."));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nearest),
      cmocka_unit_test(test_gomod_findings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
