/*
 * The --upstream list (proxy/upstream/upstream.c, proxy_upstreams_parse): the go
 * command's GOPROXY syntax with ',' (fall through on 404/410) and '|' (fall
 * through on any error), whitespace around entries, "off" ending the list,
 * scheme-less entries taken as https, schemes that are refused, lists with
 * no entries, and the password hidden in `shown`.
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

#include "server.h"

#define MAXU PROXY_MAX_UPSTREAMS

/* Parses list into a zeroed array; returns the count (or error). */
static int parse(const char *list, struct proxy_upstream *u, char *err,
                 size_t errlen) {
  memset(u, 0, sizeof *u * MAXU);
  err[0] = '\0';
  return proxy_upstreams_parse(list, u, MAXU, err, errlen);
}

/* The expected entry: base NULL for "off". */
struct want {
  const char *base;
  const char *shown;
  int fall_any;
};

static void check_list(const char *list, const struct want *w, int n) {
  struct proxy_upstream u[MAXU];
  char err[512], why[1024] = "";
  int got = parse(list, u, err, sizeof err);
  if (got != n)
    snprintf(why, sizeof why, "\"%s\": %d entries (%s), want %d", list, got,
             err, n);
  for (int i = 0; i < n && i < got && why[0] == '\0'; i++) {
    if (w[i].base == NULL) {
      if (u[i].base != NULL)
        snprintf(why, sizeof why, "\"%s\" entry %d: base \"%s\", want off",
                 list, i, u[i].base);
    } else {
      const char *ws = w[i].shown != NULL ? w[i].shown : w[i].base;
      if (u[i].base == NULL || strcmp(u[i].base, w[i].base) != 0)
        snprintf(why, sizeof why, "\"%s\" entry %d: base \"%s\", want \"%s\"",
                 list, i, u[i].base != NULL ? u[i].base : "(null)", w[i].base);
      else if (u[i].shown == NULL || strcmp(u[i].shown, ws) != 0)
        snprintf(why, sizeof why, "\"%s\" entry %d: shown \"%s\", want \"%s\"",
                 list, i, u[i].shown != NULL ? u[i].shown : "(null)", ws);
    }
    if (why[0] == '\0' && u[i].fall_any != w[i].fall_any)
      snprintf(why, sizeof why, "\"%s\" entry %d: fall_any %d, want %d", list,
               i, u[i].fall_any, w[i].fall_any);
  }
  /* Free before failing, so that a failure leaks nothing (ASan runs). */
  if (got > 0) {
    proxy_upstreams_free(u, got);
    for (int i = 0; i < got; i++) {
      assert_null(u[i].base);
      assert_null(u[i].shown);
    }
  }
  if (why[0] != '\0')
    fail_msg("%s", why);
}

static void check_refused(const char *list, const char *err_mentions) {
  struct proxy_upstream u[MAXU];
  char err[512];
  int got = parse(list, u, err, sizeof err);
  if (got > 0)
    proxy_upstreams_free(u, got);
  if (got != -EINVAL)
    fail_msg("\"%s\": %d, want -EINVAL", list, got);
  if (err[0] == '\0')
    fail_msg("\"%s\": refused without a message", list);
  if (err_mentions != NULL && strstr(err, err_mentions) == NULL)
    fail_msg("\"%s\": message \"%s\" does not mention \"%s\"", list, err,
             err_mentions);
}

static void test_single(void **state) {
  (void)state;
  static const struct want w1[] = {{"https://proxy.golang.org", NULL, 0}};
  check_list("https://proxy.golang.org", w1, 1);
  static const struct want w2[] = {{"http://127.0.0.1:8080", NULL, 0}};
  check_list("http://127.0.0.1:8080", w2, 1);
  static const struct want w3[] = {{"file:///srv/goproxy", NULL, 0}};
  check_list("file:///srv/goproxy", w3, 1);
  static const struct want w4[] = {{"https://example.com/a/b", NULL, 0}};
  check_list("https://example.com/a/b", w4, 1);
}

static void test_separators(void **state) {
  (void)state;
  static const struct want w[] = {
      {"https://a.example", NULL, 0},
      {"https://b.example", NULL, 1},
      {"https://c.example", NULL, 0},
  };
  check_list("https://a.example,https://b.example|https://c.example", w, 3);
  static const struct want w2[] = {
      {"https://a.example", NULL, 1},
      {"https://b.example", NULL, 1},
      {"https://c.example", NULL, 0},
  };
  check_list("https://a.example|https://b.example|https://c.example", w2, 3);
  /* Empty elements are skipped, as the go command does. */
  static const struct want w3[] = {
      {"https://a.example", NULL, 0},
      {"https://b.example", NULL, 0},
  };
  check_list(",https://a.example,,https://b.example,", w3, 2);
  /* The separator after an entry decides, even before an empty one. */
  static const struct want w4[] = {
      {"https://a.example", NULL, 1},
      {"https://b.example", NULL, 0},
  };
  check_list("https://a.example|,https://b.example", w4, 2);
}

static void test_whitespace(void **state) {
  (void)state;
  static const struct want w[] = {
      {"https://a.example", NULL, 0},
      {"https://b.example", NULL, 1},
      {"https://c.example", NULL, 0},
  };
  check_list(
      "  https://a.example ,\thttps://b.example\t|\n https://c.example \n", w,
      3);
  static const struct want w2[] = {{"https://a.example", NULL, 0}};
  check_list("\n\t https://a.example/ \t\n", w2, 1);
}

static void test_off(void **state) {
  (void)state;
  static const struct want w1[] = {{NULL, NULL, 0}};
  check_list("off", w1, 1);
  check_list("  off  ", w1, 1);
  static const struct want w2[] = {
      {"https://a.example", NULL, 0},
      {NULL, NULL, 0},
  };
  /* Nothing after "off" is read, not even an invalid entry. */
  check_list("https://a.example,off,https://b.example", w2, 2);
  check_list("https://a.example,off,ftp://bad", w2, 2);
  static const struct want w3[] = {
      {"https://a.example", NULL, 1},
      {NULL, NULL, 0},
  };
  check_list("https://a.example|off", w3, 2);
  /* "off" only as a whole entry. */
  static const struct want w4[] = {{"https://offline.example", NULL, 0}};
  check_list("offline.example", w4, 1);
}

static void test_scheme_less(void **state) {
  (void)state;
  static const struct want w1[] = {{"https://proxy.example.com", NULL, 0}};
  check_list("proxy.example.com", w1, 1);
  static const struct want w2[] = {
      {"https://proxy.example.com:8443/go", NULL, 0}};
  check_list("proxy.example.com:8443/go/", w2, 1);
  static const struct want w3[] = {
      {"https://a.example", NULL, 0},
      {"http://b.example", NULL, 0},
  };
  check_list("a.example,http://b.example", w3, 2);
  /* Trailing slashes go. */
  static const struct want w4[] = {{"https://a.example/p", NULL, 0}};
  check_list("https://a.example/p///", w4, 1);
}

static void test_bad_schemes(void **state) {
  (void)state;
  check_refused("ftp://proxy.example.com", "ftp://proxy.example.com");
  check_refused("gopher://x.example", "gopher://x.example");
  check_refused("file://relative/path", "file://relative/path");
  check_refused("https://a.example,ssh://b.example", "ssh://b.example");
  check_refused("https://a.example|ws://b.example|https://c.example",
                "ws://b.example");
}

/* "direct" (the module's own repository) ends the list, as for the go
 * command. */
static void test_direct(void **state) {
  (void)state;
  struct proxy_upstream u[MAXU];
  char err[512];
  assert_int_equal(parse("direct", u, err, sizeof err), 1);
  assert_true(u[0].direct);
  proxy_upstreams_free(u, 1);
  assert_int_equal(
      parse("https://a.example,direct,https://b.example", u, err, sizeof err),
      2);
  assert_false(u[0].direct);
  assert_true(u[1].direct);
  assert_string_equal(u[1].shown, "direct");
  proxy_upstreams_free(u, 2);
}

/* The go command trims entries with strings.TrimSpace, so a CR (a list
 * read from a file with CRLF line ends) or a vertical tab is whitespace. */
static void test_whitespace_cr(void **state) {
  (void)state;
  static const struct want w[] = {
      {"https://a.example", NULL, 0},
      {"https://b.example", NULL, 0},
  };
  check_list("https://a.example\r,\r\nhttps://b.example\r\n", w, 2);
  static const struct want w2[] = {{"https://a.example", NULL, 0}};
  check_list("\v\fhttps://a.example\f", w2, 1);
}

/* An absolute path is not a scheme-less host: the go command requires a
 * complete file:/// URL for it ("invalid proxy URL missing scheme"), and
 * "https:///srv/goproxy" has no host. */
static void test_absolute_path_refused(void **state) {
  (void)state;
  check_refused("/srv/goproxy", "/srv/goproxy");
  check_refused("https://a.example,/srv/goproxy", "/srv/goproxy");
}

static void test_empty(void **state) {
  (void)state;
  check_refused("", NULL);
  check_refused("   ", NULL);
  check_refused(",", NULL);
  check_refused(" , | ,\t", NULL);
  check_refused("\n", NULL);
}

static void test_too_many(void **state) {
  (void)state;
  char list[2048] = "";
  size_t w = 0;
  for (int i = 0; i <= MAXU; i++)
    w += (size_t)snprintf(list + w, sizeof list - w, "%shttps://p%d.example",
                          i > 0 ? "," : "", i);
  check_refused(list, NULL);
  /* Exactly the maximum is fine. */
  char *last = strrchr(list, ',');
  *last = '\0';
  struct proxy_upstream u[MAXU];
  char err[512];
  int n = parse(list, u, err, sizeof err);
  assert_int_equal(n, MAXU);
  assert_string_equal(u[MAXU - 1].base, "https://p15.example");
  proxy_upstreams_free(u, n);
}

static void test_password_redaction(void **state) {
  (void)state;
  static const struct want w1[] = {{"https://user:secret@proxy.example/p",
                                    "https://xxxxx@proxy.example/p", 0}};
  check_list("https://user:secret@proxy.example/p", w1, 1);
  /* A user without a password is often a token: masked too. */
  static const struct want w2[] = {
      {"https://tok3n@proxy.example", "https://xxxxx@proxy.example", 0}};
  check_list("https://tok3n@proxy.example", w2, 1);
  /* An '@' in the password: the last '@' before the path ends it. */
  static const struct want w3[] = {{"https://u:p@ss:w@host.example:8443",
                                    "https://xxxxx@host.example:8443", 0}};
  check_list("https://u:p@ss:w@host.example:8443", w3, 1);
  /* '@' and ':' in the path are not userinfo. */
  static const struct want w4[] = {{"https://host.example/a:b@c", NULL, 0}};
  check_list("https://host.example/a:b@c", w4, 1);
  /* Scheme-less with credentials. */
  static const struct want w5[] = {
      {"https://me:pw@proxy.example", "https://xxxxx@proxy.example", 0}};
  check_list("me:pw@proxy.example", w5, 1);
  /* Each entry is redacted on its own. */
  static const struct want w6[] = {
      {"http://a:1@a.example", "http://xxxxx@a.example", 1},
      {"https://b.example", NULL, 0},
      {"https://c:2@c.example/x", "https://xxxxx@c.example/x", 0},
  };
  check_list("http://a:1@a.example|https://b.example,https://c:2@c.example/x",
             w6, 3);
  /* The password never appears in shown. */
  struct proxy_upstream u[MAXU];
  char err[512];
  int n =
      parse("https://deploy:hunter2@goproxy.corp.example", u, err, sizeof err);
  assert_int_equal(n, 1);
  assert_null(strstr(u[0].shown, "hunter2"));
  assert_non_null(strstr(u[0].base, "hunter2"));
  proxy_upstreams_free(u, n);
}

/* Whole settings values, as `modproxy config` and the start-up line show
 * them: every URL of a list, and a GOSUMDB spec's URL. */
static void test_url_redact_text(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"https://a:1@a.example,https://b.example|https://tok@c.example/p",
       "https://xxxxx@a.example,https://b.example|https://xxxxx@c.example/p"},
      {"sum.golang.org https://u:pw@db.example/x",
       "sum.golang.org https://xxxxx@db.example/x"},
      {"off", "off"},
      {"https://host.example/a:b@c", "https://host.example/a:b@c"},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = proxy_url_redact(cases[i].in);
    assert_non_null(got);
    assert_string_equal(got, cases[i].out);
    free(got);
  }
}

/* A refused entry after good ones: the good ones are freed (ASan) and the
 * caller gets nothing to free. */
static void test_error_after_entries(void **state) {
  (void)state;
  struct proxy_upstream u[MAXU];
  char err[512];
  int n = parse("https://a.example,https://b.example,ftp://c.example", u, err,
                sizeof err);
  assert_int_equal(n, -EINVAL);
  assert_null(u[0].base);
  assert_null(u[1].base);
  assert_non_null(strstr(err, "ftp://c.example"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single),
      cmocka_unit_test(test_separators),
      cmocka_unit_test(test_whitespace),
      cmocka_unit_test(test_off),
      cmocka_unit_test(test_scheme_less),
      cmocka_unit_test(test_bad_schemes),
      cmocka_unit_test(test_direct),
      cmocka_unit_test(test_whitespace_cr),
      cmocka_unit_test(test_absolute_path_refused),
      cmocka_unit_test(test_empty),
      cmocka_unit_test(test_too_many),
      cmocka_unit_test(test_password_redaction),
      cmocka_unit_test(test_url_redact_text),
      cmocka_unit_test(test_error_after_entries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
