/*
 * What GOPROXY requests and answers carry on the wire (proxy/gomod/wire.c):
 * gomod_pct_decode on request paths, gomod_info_version on .info bodies
 * (well-formed and not); and gomod_private on --private patterns.
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

#include "modproxy/gomod.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- gomod_pct_decode ---------------------------------------------------- */

static void want_decoded(const char *in, const char *want) {
  char out[64];
  int rc = gomod_pct_decode(in, strlen(in), out, sizeof out);
  if (rc != 0)
    fail_msg("%s: rc %d, want 0", in, rc);
  if (strcmp(out, want) != 0)
    fail_msg("%s: \"%s\", want \"%s\"", in, out, want);
}

static void test_pct_decode(void **state) {
  (void)state;
  want_decoded("", "");
  want_decoded("github.com/%21azure/@v/list", "github.com/!azure/@v/list");
  want_decoded("a%20b%2e%2Ezip", "a b..zip");
  want_decoded("50%25", "50%");
  /* Only len bytes are read. */
  char out[8];
  assert_int_equal(gomod_pct_decode("ab%41zz", 5, out, sizeof out), 0);
  assert_string_equal(out, "abA");
}

static void test_pct_decode_refused(void **state) {
  (void)state;
  /* Bad escapes, an encoded NUL, and an encoded '/' in either case: the go
   * command never sends %2F, and a checksum database's name holds '/', so
   * one could move a path element past the checks. */
  const char *bad[] = {"%",   "a%",    "a%4",   "%zz", "%4g",
                       "%00", "a%2Fb", "a%2fb", "%2F", "x/%2f/y"};
  for (size_t i = 0; i < N(bad); i++) {
    char out[64] = "";
    int rc = gomod_pct_decode(bad[i], strlen(bad[i]), out, sizeof out);
    if (rc != -EINVAL)
      fail_msg("%s: rc %d (\"%s\"), want -EINVAL", bad[i], rc, out);
  }
  assert_int_equal(gomod_hex_digit('0'), 0);
  assert_int_equal(gomod_hex_digit('f'), 15);
  assert_int_equal(gomod_hex_digit('F'), 15);
  assert_int_equal(gomod_hex_digit('g'), -1);
  assert_int_equal(gomod_hex_digit('/'), -1);
  char small[4];
  assert_int_equal(gomod_pct_decode("abcd", 4, small, sizeof small), -E2BIG);
  assert_int_equal(gomod_pct_decode("abc", 3, small, sizeof small), 0);
}

/* ---- gomod_private ------------------------------------------------------- */

static void test_private(void **state) {
  (void)state;
  assert_int_equal(gomod_private(NULL, "example.com/m"), 0);
  assert_int_equal(gomod_private("", "example.com/m"), 0);
  assert_int_equal(gomod_private("example.com", "example.com/m"), 1);
  assert_int_equal(gomod_private("example.com/m", "example.com/m/v2"), 1);
  assert_int_equal(gomod_private("example.com/m", "example.com/mm"), 0);
  assert_int_equal(gomod_private("other.org,*.corp", "git.corp/x"), 1);
  assert_int_equal(gomod_private("other.org,*.corp", "git.corp.com/x"), 0);
}

/* ---- gomod_info_version -------------------------------------------------- */

static void want_version(const char *body, const char *want) {
  char out[64];
  memset(out, 'z', sizeof out);
  int rc = gomod_info_version(body, strlen(body), out, sizeof out);
  if (rc != 0)
    fail_msg("%s: rc %d, want 0", body, rc);
  if (strcmp(out, want) != 0)
    fail_msg("%s: \"%s\", want \"%s\"", body, out, want);
}

static void want_invalid(const char *body, size_t len) {
  char out[64] = "";
  int rc = gomod_info_version(body, len, out, sizeof out);
  if (rc != -EINVAL)
    fail_msg("%.*s: rc %d (\"%s\"), want -EINVAL", (int)len,
             body != NULL ? body : "(null)", rc, out);
}

static void test_info_version_valid(void **state) {
  (void)state;
  want_version("{\"Version\":\"v1.0.0\",\"Time\":\"2020-01-01T00:00:00Z\"}",
               "v1.0.0");
  want_version("{\"Time\":\"2020-01-01T00:00:00Z\",\"Version\":\"v1.2.3\"}",
               "v1.2.3");
  want_version("  \n\t{ \"Version\" : \"v0.0.0-20200101000000-abcdefabcdef\" }",
               "v0.0.0-20200101000000-abcdefabcdef");
  want_version("{\n\t\"Version\":\n\t\"v2.0.0+incompatible\"\n}\n",
               "v2.0.0+incompatible");
  /* encoding/json matches keys case-insensitively. */
  want_version("{\"version\":\"v1.0.1\"}", "v1.0.1");
  want_version("{\"VERSION\":\"v1.0.2\"}", "v1.0.2");
  /* A value that mentions Version is not the key. */
  want_version("{\"Time\":\"Version\",\"Version\":\"v1.0.3\"}", "v1.0.3");
  want_version("{\"Origin\":{\"VCS\":\"git\",\"Ref\":\"refs/tags/v1.0.4\"},"
               "\"Version\":\"v1.0.4\"}",
               "v1.0.4");
  /* An empty string is a string. */
  want_version("{\"Version\":\"\"}", "");
  /* Only len bytes are read: a body that is not NUL-terminated. */
  static const char unterminated[] = {'{', '"', 'V', 'e', 'r', 's', 'i', 'o',
                                      'n', '"', ':', '"', 'v', '1', '.', '0',
                                      '.', '0', '"', '}', 'X', 'X'};
  char out[16];
  assert_int_equal(gomod_info_version(unterminated, 20, out, sizeof out), 0);
  assert_string_equal(out, "v1.0.0");
}

static void test_info_version_invalid(void **state) {
  (void)state;
  /* An empty 200 from an upstream: no body at all (the soak found it). */
  want_invalid(NULL, 0);
  const char *bad[] = {
      "",
      "   ",
      "[]",
      "[{\"Version\":\"v1.0.0\"}]",
      "null",
      "\"Version\"",
      "not json",
      "{}",
      "{\"Time\":\"2020-01-01T00:00:00Z\"}",
      "{\"Version\":1}",
      "{\"Version\":null}",
      "{\"Version\":[\"v1.0.0\"]}",
      "{\"Version\":\"v1.0.0",
      "{\"Version\":",
      "{\"Version\"",
      "{\"Version\":\"v\\u0031.0.0\"}",
      "{\"Version\":\"v1.0.0\\\"\"}",
      "{\"Versions\":\"v1.0.0\"}",
      "{\"MyVersion\":\"v1.0.0\"}",
      "x{\"Version\":\"v1.0.0\"}",
  };
  for (size_t i = 0; i < N(bad); i++)
    want_invalid(bad[i], strlen(bad[i]));
  /* The string must be complete within len. */
  const char *b = "{\"Version\":\"v1.0.0\"}";
  want_invalid(b, 15);
  want_invalid(b, 18);
  /* Too long for the caller's buffer: refused, not truncated. */
  char out[6];
  assert_int_equal(gomod_info_version(b, strlen(b), out, sizeof out), -EINVAL);
  char out7[7];
  assert_int_equal(gomod_info_version(b, strlen(b), out7, sizeof out7), 0);
  assert_string_equal(out7, "v1.0.0");
}

/* Bodies that encoding/json (which the go command uses on .info) refuses or
 * reads differently. jobs.c stores an upstream .info forever once this
 * accepts it, so a cut-off or trailing-garbage body must be refused. */
static void test_info_version_not_json(void **state) {
  (void)state;
  const char *bad[] = {
      /* The upstream's body was cut off after the value. */
      "{\"Version\":\"v1.0.0\"",
      "{\"Version\":\"v1.0.0\",\"Time\":\"2020-01-01T00:00:00Z\"",
      "{\"Version\":\"v1.0.0\",",
      /* Something after the object. */
      "{\"Version\":\"v1.0.0\"} trailing",
  };
  /* Every body is tried, and each one accepted is named, before failing. */
  int accepted = 0;
  for (size_t i = 0; i < N(bad); i++) {
    char out[64] = "";
    int rc = gomod_info_version(bad[i], strlen(bad[i]), out, sizeof out);
    if (rc != -EINVAL) {
      print_error("%s: rc %d (\"%s\"), want -EINVAL\n", bad[i], rc, out);
      accepted++;
    }
  }
  assert_int_equal(accepted, 0);
}

/* encoding/json reads the top-level member; a "Version" key inside a nested
 * object is not it. */
static void test_info_version_nested_key(void **state) {
  (void)state;
  want_version("{\"Origin\":{\"Version\":\"v9.9.9\"},\"Version\":\"v1.0.0\"}",
               "v1.0.0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pct_decode),
      cmocka_unit_test(test_pct_decode_refused),
      cmocka_unit_test(test_private),
      cmocka_unit_test(test_info_version_valid),
      cmocka_unit_test(test_info_version_invalid),
      cmocka_unit_test(test_info_version_not_json),
      cmocka_unit_test(test_info_version_nested_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
