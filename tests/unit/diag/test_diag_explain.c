/*
 * The facts behind explanations (diag/explain.c, diag/findings.c): where a
 * missing version sits among the versions that exist (below, above,
 * latest, what to suggest), the findings a go.mod gives (retractions of
 * one version and of a range, deprecation), a v2+ version asked for at the
 * wrong major-version path, and which requests stay out of the ring.
 */
#include <errno.h>
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

static void test_wrong_major(void **state) {
  (void)state;
  char out[1024];
  assert_true(diag_wrong_major("rsc.io/quote", "v3.0.0"));
  assert_true(diag_wrong_major("rsc.io/quote/v2", "v3.0.0"));
  assert_true(diag_wrong_major("gopkg.in/yaml.v2", "v3.0.0"));
  assert_false(diag_wrong_major("rsc.io/quote", "v1.5.2"));
  assert_false(diag_wrong_major("rsc.io/quote/v3", "v3.0.0"));
  assert_false(diag_wrong_major("rsc.io/quote", "v2.0.0+incompatible"));
  assert_false(diag_wrong_major("rsc.io/quote", "master"));
  /* The /vN path, with the go get that works. */
  static const char list[] = "v1.5.2\nv2.0.0+incompatible\n";
  assert_int_equal(diag_explain_major("rsc.io/quote", "v3.0.0", list,
                                      strlen(list), out, sizeof out),
                   0);
  assert_non_null(strstr(out, "go get rsc.io/quote/v3@v3.0.0"));
  assert_int_equal(
      diag_explain_major("gopkg.in/yaml.v2", "v3.0.0", "", 0, out, sizeof out),
      0);
  assert_non_null(strstr(out, "go get gopkg.in/yaml.v3@v3.0.0"));
  /* A +incompatible version in the list is the one meant. */
  assert_int_equal(diag_explain_major("rsc.io/quote", "v2.0.0", list,
                                      strlen(list), out, sizeof out),
                   0);
  assert_non_null(strstr(out, "go get rsc.io/quote@v2.0.0+incompatible"));
  assert_null(strstr(out, "quote/v2"));
  assert_int_equal(diag_explain_major("rsc.io/quote", "v1.9.0", list,
                                      strlen(list), out, sizeof out),
                   -ENOENT);
}

static void test_record_in_ring(void **state) {
  (void)state;
  struct diag_record r = {.target = "/healthz"};
  assert_false(diag_record_in_ring(&r));
  r.target = "/metrics?x=1";
  assert_false(diag_record_in_ring(&r));
  r.target = "/favicon.ico";
  assert_false(diag_record_in_ring(&r));
  r.target = "/healthzz";
  assert_true(diag_record_in_ring(&r));
  r.target = "/rsc.io/quote/@v/list";
  assert_true(diag_record_in_ring(&r));
}

/* The store's module paths, for diag_did_you_mean; counts the calls. */
static const char *const served[] = {"rsc.io/quote",        "rsc.io/quote/v3",
                                     "github.com/Org/Tool", "example.com/a/b/c",
                                     "golang.org/x/text",   "rsc.io/sampler"};
static size_t scanned;

static int each_served(void *ctx, size_t max,
                       int (*cb)(const char *module, void *arg), void *arg) {
  (void)ctx;
  for (size_t i = 0; i < sizeof served / sizeof served[0] && i < max; i++) {
    scanned++;
    if (cb(served[i], arg) != 0)
      break;
  }
  return 0;
}

static void mean(const char *module, const char *want) {
  static const char text[] = "first line\nsecond line\n";
  char out[1024];
  int rc = diag_did_you_mean(module, text, strlen(text), each_served, NULL, out,
                             sizeof out);
  if (want == NULL) {
    assert_int_equal(rc, -ENOENT);
    return;
  }
  if (rc != 0)
    fail_msg("%s: no suggestion", module);
  /* After the first line, before the rest. */
  assert_memory_equal(out, "first line\nDid you mean ", 23);
  assert_non_null(strstr(out, "\nsecond line\n"));
  char *line = strstr(out, "Did you mean ");
  if (strncmp(line + 13, want, strlen(want)) != 0)
    fail_msg("%s: %s", module, out);
}

static void test_did_you_mean(void **state) {
  (void)state;
  mean("rsc.io/qoute", "rsc.io/quote?");               /* swapped letters */
  mean("rsc.io/quot", "rsc.io/quote?");                /* one missing */
  mean("github.com/org/tool", "github.com/Org/Tool?"); /* case */
  mean("example.com/a/c", "example.com/a/b/c?");       /* element missing */
  mean("example.com/a/b/x/c", "example.com/a/b/c?");   /* element extra */
  mean("golang.org/x/text/language", "golang.org/x/text?");
  mean("rsc.io/quote/v4", "rsc.io/quote, rsc.io/quote/v3?");
  mean("nothing.like/it/at/all", NULL);
  mean("rsc.io/sampler", NULL); /* itself is no suggestion */
  scanned = 0;
  mean("x.org/y", NULL);
  assert_int_equal(scanned, sizeof served / sizeof served[0]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nearest),
      cmocka_unit_test(test_wrong_major),
      cmocka_unit_test(test_record_in_ring),
      cmocka_unit_test(test_did_you_mean),
      cmocka_unit_test(test_gomod_findings),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
