/*
 * GOPROXY request targets (proxy/goproxy/request.c): gp_parse on list, .info, .mod,
 * .zip and @latest targets, percent- and case-decoding, bad escapes,
 * canonical and non-canonical versions, unknown endpoints, and the escaped
 * module and suffix it builds for upstream URLs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"

/* One gp_parse case. For a status other than 0 only the status is checked
 * (and that a reason was given). */
struct parse_case {
  const char *target;
  int status;
  enum gp_kind kind;
  const char *module;
  const char *version;
  int canonical;
  const char *suffix;
  const char *escaped_module;
};

static void check_case(int i, const struct parse_case *c) {
  struct gp_req *r = malloc(sizeof *r);
  assert_non_null(r);
  memset(r, 0x5a, sizeof *r);
  char err[512];
  memset(err, 0, sizeof err);
  int st = gp_parse(c->target, r, err, sizeof err);
  if (st != c->status)
    fail_msg("case %d %s: status %d (%s), want %d", i, c->target, st, err,
             c->status);
  if (st != 0) {
    if (err[0] == '\0')
      fail_msg("case %d %s: status %d without a reason", i, c->target, st);
    free(r);
    return;
  }
  if (r->kind != c->kind)
    fail_msg("case %d %s: kind %d, want %d", i, c->target, r->kind, c->kind);
  if (strcmp(r->module, c->module) != 0)
    fail_msg("case %d %s: module \"%s\", want \"%s\"", i, c->target, r->module,
             c->module);
  if (strcmp(r->version, c->version) != 0)
    fail_msg("case %d %s: version \"%s\", want \"%s\"", i, c->target,
             r->version, c->version);
  if (c->kind != GP_LIST && c->kind != GP_LATEST &&
      r->canonical != c->canonical)
    fail_msg("case %d %s: canonical %d, want %d", i, c->target, r->canonical,
             c->canonical);
  if (strcmp(r->suffix, c->suffix) != 0)
    fail_msg("case %d %s: suffix \"%s\", want \"%s\"", i, c->target, r->suffix,
             c->suffix);
  if (strcmp(r->escaped_module, c->escaped_module) != 0)
    fail_msg("case %d %s: escaped_module \"%s\", want \"%s\"", i, c->target,
             r->escaped_module, c->escaped_module);
  free(r);
}

static void run_cases(const struct parse_case *cases, size_t n) {
  for (size_t i = 0; i < n; i++)
    check_case((int)i, &cases[i]);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))
/* A target refused with status s. */
#define BAD(t, s)                                                              \
  { t, s, GP_LIST, NULL, NULL, 0, NULL, NULL }

static void test_parse_endpoints(void **state) {
  (void)state;
  static const struct parse_case cases[] = {
      {"/example.com/m/@v/list", 0, GP_LIST, "example.com/m", "", 0, "@v/list",
       "example.com/m"},
      {"/example.com/m/@latest", 0, GP_LATEST, "example.com/m", "", 0,
       "@latest", "example.com/m"},
      {"/example.com/m/@v/v1.0.0.info", 0, GP_INFO, "example.com/m", "v1.0.0",
       1, "@v/v1.0.0.info", "example.com/m"},
      {"/example.com/m/@v/v1.0.0.mod", 0, GP_MOD, "example.com/m", "v1.0.0", 1,
       "@v/v1.0.0.mod", "example.com/m"},
      {"/example.com/m/@v/v1.0.0.zip", 0, GP_ZIP, "example.com/m", "v1.0.0", 1,
       "@v/v1.0.0.zip", "example.com/m"},
      {"/golang.org/x/text/@v/v0.3.7.mod", 0, GP_MOD, "golang.org/x/text",
       "v0.3.7", 1, "@v/v0.3.7.mod", "golang.org/x/text"},
      {"/example.com/m/v2/@v/v2.1.0.zip", 0, GP_ZIP, "example.com/m/v2",
       "v2.1.0", 1, "@v/v2.1.0.zip", "example.com/m/v2"},
      {"/gopkg.in/yaml.v3/@v/v3.0.1.mod", 0, GP_MOD, "gopkg.in/yaml.v3",
       "v3.0.1", 1, "@v/v3.0.1.mod", "gopkg.in/yaml.v3"},
      /* A pseudo-version is canonical. */
      {"/example.com/m/@v/v0.0.0-20200101000000-abcdefabcdef.zip", 0, GP_ZIP,
       "example.com/m", "v0.0.0-20200101000000-abcdefabcdef", 1,
       "@v/v0.0.0-20200101000000-abcdefabcdef.zip", "example.com/m"},
      /* +incompatible on an unsuffixed path for v2+ is canonical. */
      {"/example.com/m/@v/v2.0.0+incompatible.mod", 0, GP_MOD, "example.com/m",
       "v2.0.0+incompatible", 1, "@v/v2.0.0+incompatible.mod", "example.com/m"},
      /* The query string and fragment are not part of the path. */
      {"/example.com/m/@v/list?go-get=1", 0, GP_LIST, "example.com/m", "", 0,
       "@v/list", "example.com/m"},
      {"/example.com/m/@v/v1.0.0.info#x", 0, GP_INFO, "example.com/m", "v1.0.0",
       1, "@v/v1.0.0.info", "example.com/m"},
      /* A module path ending in "@v" elements is still split at "/@v/". */
      {"/example.com/m/@v/v1.2.3-pre.1.info", 0, GP_INFO, "example.com/m",
       "v1.2.3-pre.1", 1, "@v/v1.2.3-pre.1.info", "example.com/m"},
  };
  run_cases(cases, N(cases));
}

static void test_parse_decoding(void **state) {
  (void)state;
  static const struct parse_case cases[] = {
      /* '!' case-escaping as the go command sends it: percent-encoded. */
      {"/github.com/%21azure/%21foo/@v/v1.0.0-%21r%21c1.info", 0, GP_INFO,
       "github.com/Azure/Foo", "v1.0.0-RC1", 1, "@v/v1.0.0-!r!c1.info",
       "github.com/!azure/!foo"},
      /* The same with a literal '!'. */
      {"/github.com/!azure/!foo/@v/list", 0, GP_LIST, "github.com/Azure/Foo",
       "", 0, "@v/list", "github.com/!azure/!foo"},
      {"/github.com/!burnt!sushi/toml/@v/v1.2.0.mod", 0, GP_MOD,
       "github.com/BurntSushi/toml", "v1.2.0", 1, "@v/v1.2.0.mod",
       "github.com/!burnt!sushi/toml"},
      /* Lower-case hex digits and unreserved bytes percent-encoded. */
      {"/example.com/%6d/@v/v1.0.0.mod", 0, GP_MOD, "example.com/m", "v1.0.0",
       1, "@v/v1.0.0.mod", "example.com/m"},
      {"/example.com/%6D/@latest", 0, GP_LATEST, "example.com/m", "", 0,
       "@latest", "example.com/m"},
      /* Encoded "@v/" and extension still route. */
      {"/example.com/m/%40v/v1.0.0%2Ezip", 0, GP_ZIP, "example.com/m", "v1.0.0",
       1, "@v/v1.0.0.zip", "example.com/m"},
      /* Module path characters that survive escaping unchanged. */
      {"/example.com/a-b_c.d~e/@v/list", 0, GP_LIST, "example.com/a-b_c.d~e",
       "", 0, "@v/list", "example.com/a-b_c.d~e"},
      /* Versions that are file-path elements but not URL-safe are
       * percent-encoded again in the suffix sent upstream. */
      {"/example.com/m/@v/feature%20x.info", 0, GP_INFO, "example.com/m",
       "feature x", 0, "@v/feature%20x.info", "example.com/m"},
      {"/example.com/m/@v/a%23b.info", 0, GP_INFO, "example.com/m", "a#b", 0,
       "@v/a%23b.info", "example.com/m"},
      {"/example.com/m/@v/50%25.info", 0, GP_INFO, "example.com/m", "50%", 0,
       "@v/50%25.info", "example.com/m"},
      {"/example.com/m/@v/a%28b%29%5B1%5D.info", 0, GP_INFO, "example.com/m",
       "a(b)[1]", 0, "@v/a%28b%29%5B1%5D.info", "example.com/m"},
      {"/example.com/m/@v/!main.info", 0, GP_INFO, "example.com/m", "Main", 0,
       "@v/!main.info", "example.com/m"},
  };
  run_cases(cases, N(cases));
}

static void test_parse_bad_escapes(void **state) {
  (void)state;
  static const struct parse_case cases[] = {
      BAD("/example.com/m%/@v/list", 400),
      BAD("/example.com/m%2/@v/list", 400),
      BAD("/example.com/m/@v/list%", 400),
      BAD("/example.com/m/@v/list%4", 400),
      BAD("/example.com/%zz/@v/list", 400),
      BAD("/example.com/%g1/@v/list", 400),
      BAD("/example.com/m%00x/@v/list", 400),
      /* Upper case must arrive escaped. */
      BAD("/github.com/Azure/foo/@v/list", 400),
      BAD("/example.com/m/@v/v1.0.0-RC1.info", 400),
      BAD("/example.com/m/@v/Main.info", 400),
      /* Bad '!' escapes. */
      BAD("/github.com/!!azure/@v/list", 400),
      BAD("/github.com/!Azure/@v/list", 400),
      BAD("/github.com/azure!/@v/list", 400),
      BAD("/github.com/%21/@v/list", 400),
      BAD("/github.com/!1x/@v/list", 400),
      BAD("/example.com/m/@v/v1.0.0-!!rc.info", 400),
      BAD("/example.com/m/@v/v1.0.0!.info", 400),
      /* Invalid module paths after decoding. */
      BAD("/x/@v/list", 400),
      BAD("/example.com//m/@v/list", 400),
      BAD("/example.com/m/../n/@v/list", 400),
      BAD("/-example.com/m/@v/list", 400),
      BAD("/example.com/m%0a/@v/list", 400),
      BAD("/example.com/m /@v/list", 400),
      /* Versions that are not file-path elements. */
      BAD("/example.com/m/@v/a%3Fb.info", 400),
      BAD("/example.com/m/@v/a%3Ab.info", 400),
      BAD("/example.com/m/@v/.info", 400),
      /* x/mod's unescape takes ASCII only. */
      BAD("/example.com/m/@v/caf%C3%A9.info", 400),
  };
  run_cases(cases, N(cases));
}

/* An encoded '/' must not smuggle an extra path element (pct_decode's own
 * contract: "-EINVAL on a bad escape or an encoded NUL or '/'"). */
static void test_parse_encoded_slash(void **state) {
  (void)state;
  static const struct parse_case cases[] = {
      BAD("/example.com%2Fm/@v/list", 400),
      BAD("/example.com/m%2f@v/list", 400),
      BAD("/example.com/m/@v%2Fv1.0.0.mod", 400),
  };
  int accepted = 0;
  for (size_t i = 0; i < N(cases); i++) {
    struct gp_req r;
    char err[512] = "";
    int st = gp_parse(cases[i].target, &r, err, sizeof err);
    if (st != 400) {
      print_error("%s: status %d, want 400\n", cases[i].target, st);
      accepted++;
    }
  }
  assert_int_equal(accepted, 0);
}

static void test_parse_versions(void **state) {
  (void)state;
  static const struct parse_case cases[] = {
      /* .mod and .zip only for canonical versions. */
      BAD("/example.com/m/@v/v1.0.mod", 404),
      BAD("/example.com/m/@v/v1.mod", 404),
      BAD("/example.com/m/@v/master.mod", 404),
      BAD("/example.com/m/@v/master.zip", 404),
      BAD("/example.com/m/@v/v1.0.0+meta.zip", 404),
      BAD("/example.com/m/@v/abcdef123456.zip", 404),
      BAD("/example.com/m/@v/latest.mod", 404),
      /* A canonical version that the path cannot have. */
      BAD("/example.com/m/@v/v2.0.0.mod", 404),
      BAD("/example.com/m/@v/v2.0.0.zip", 404),
      BAD("/example.com/m/v2/@v/v1.0.0.mod", 404),
      BAD("/example.com/m/v2/@v/v3.0.0.zip", 404),
      BAD("/gopkg.in/yaml.v3/@v/v2.0.0.mod", 404),
      /* .info takes queries: branches, short versions, commit hashes. */
      {"/example.com/m/@v/master.info", 0, GP_INFO, "example.com/m", "master",
       0, "@v/master.info", "example.com/m"},
      {"/example.com/m/@v/v1.info", 0, GP_INFO, "example.com/m", "v1", 0,
       "@v/v1.info", "example.com/m"},
      {"/example.com/m/@v/v1.2.info", 0, GP_INFO, "example.com/m", "v1.2", 0,
       "@v/v1.2.info", "example.com/m"},
      {"/example.com/m/@v/abcdef123456.info", 0, GP_INFO, "example.com/m",
       "abcdef123456", 0, "@v/abcdef123456.info", "example.com/m"},
      {"/example.com/m/@v/v1.0.0+meta.info", 0, GP_INFO, "example.com/m",
       "v1.0.0+meta", 0, "@v/v1.0.0+meta.info", "example.com/m"},
      {"/example.com/m/@v/feature%2Dx.info", 0, GP_INFO, "example.com/m",
       "feature-x", 0, "@v/feature-x.info", "example.com/m"},
      /* v2.0.0 on an unsuffixed path: a query for .info, not canonical. */
      {"/example.com/m/@v/v2.0.0.info", 0, GP_INFO, "example.com/m", "v2.0.0",
       0, "@v/v2.0.0.info", "example.com/m"},
      {"/example.com/m/v2/@v/v1.5.0.info", 0, GP_INFO, "example.com/m/v2",
       "v1.5.0", 0, "@v/v1.5.0.info", "example.com/m/v2"},
      {"/example.com/m/v2/@v/v2.5.0.info", 0, GP_INFO, "example.com/m/v2",
       "v2.5.0", 1, "@v/v2.5.0.info", "example.com/m/v2"},
      {"/example.com/m/@v/v2.0.0+incompatible.info", 0, GP_INFO,
       "example.com/m", "v2.0.0+incompatible", 1, "@v/v2.0.0+incompatible.info",
       "example.com/m"},
  };
  run_cases(cases, N(cases));
}

static void test_parse_unknown_endpoints(void **state) {
  (void)state;
  static const struct parse_case cases[] = {
      BAD("/example.com/m", 404),
      BAD("/example.com/m/", 404),
      BAD("/example.com/m/@v", 404),
      BAD("/example.com/m/@v/", 404),
      BAD("/example.com/m/@v/v1.0.0", 404),
      BAD("/example.com/m/@v/v1.0.0.txt", 404),
      BAD("/example.com/m/@v/v1.0.0.INFO", 404),
      BAD("/example.com/m/@v/v1.0.0.info/", 404),
      BAD("/example.com/m/@v/listing", 404),
      BAD("/example.com/m/@v/list/x", 404),
      BAD("/example.com/m/@latest/x", 404),
      BAD("/example.com/m/@LATEST", 404),
      BAD("/example.com/m@latest", 404),
      BAD("/@latest", 404),
      BAD("/", 404),
      BAD("", 400),
      BAD("example.com/m/@v/list", 400),
      BAD("*", 400),
  };
  run_cases(cases, N(cases));
}

/* Targets longer than the module and version buffers are refused, never
 * truncated into a different module. */
static void test_parse_long(void **state) {
  (void)state;
  size_t n = 2000;
  char *t = malloc(n + 64);
  assert_non_null(t);
  memcpy(t, "/example.com/", 13);
  memset(t + 13, 'a', n);
  snprintf(t + 13 + n, 64, "/@v/list");
  struct gp_req *r = malloc(sizeof *r);
  assert_non_null(r);
  char err[512] = "";
  int st = gp_parse(t, r, err, sizeof err);
  if (st != 400 && st != 414)
    fail_msg("module of %zu bytes: status %d, want 400 or 414", n, st);
  /* A long version on .info. */
  snprintf(t, n + 64, "/example.com/m/@v/");
  memset(t + 18, 'b', 400);
  snprintf(t + 18 + 400, 64, ".info");
  st = gp_parse(t, r, err, sizeof err);
  if (st != 400 && st != 414)
    fail_msg("version of 400 bytes: status %d, want 400 or 414", st);
  /* A module of upper-case letters just under the path limit: escaping
   * doubles it, which must still fit in escaped_module. */
  size_t m = 500;
  char *t2 = malloc(3 * m + 64);
  assert_non_null(t2);
  size_t w = (size_t)snprintf(t2, 64, "/example.com/");
  for (size_t i = 0; i < m; i++) {
    t2[w++] = '!';
    t2[w++] = 'x';
  }
  snprintf(t2 + w, 64, "/@v/list");
  st = gp_parse(t2, r, err, sizeof err);
  assert_int_equal(st, 0);
  assert_int_equal(strlen(r->module), 12 + m);
  assert_int_equal(strlen(r->escaped_module), 12 + 2 * m);
  assert_int_equal(memcmp(r->escaped_module + 12, "!x!x", 4), 0);
  assert_int_equal(r->module[12], 'X');
  free(t2);
  free(t);
  free(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_endpoints),
      cmocka_unit_test(test_parse_decoding),
      cmocka_unit_test(test_parse_bad_escapes),
      cmocka_unit_test(test_parse_encoded_slash),
      cmocka_unit_test(test_parse_versions),
      cmocka_unit_test(test_parse_unknown_endpoints),
      cmocka_unit_test(test_parse_long),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
