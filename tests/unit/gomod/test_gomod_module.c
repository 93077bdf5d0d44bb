/*
 * Module path rules (proxy/gomod/module.c, match.c, text.c) against the
 * x/mod v0.7.0 vectors: path checks with their error texts, escaping,
 * SplitPathVersion, Check, CheckPathMajor and MatchPrefixPatterns; then
 * error texts and glob cases the vectors lack, whose expected values were
 * produced by x/mod v0.7.0 under Go 1.19.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/gomod.h"
#include "testutil.h"

#include "gomod_expect.h"

#define BUF_BYTES 2048
#define ERROR_MARK "!ERROR"

/* Rows in each vector file (see /work/shared/vectors/README.md). */
#define MODULE_PATHS_ROWS 206
#define ESCAPE_ROWS 678
#define CHECK_ROWS 259
#define PATH_MAJOR_ROWS 11
#define PREFIX_PATTERNS_ROWS 26

/* A check's verdict and message: a failure is -EINVAL with want_err, a
 * success leaves err empty (want_err is "" then). */
static void want_check(int line, const char *what, int rc, const char *err,
                       const char *verdict, const char *want_err) {
  want_verdict(line, what, rc == 0, verdict);
  if (rc != 0)
    want_int(line, what, rc, -EINVAL);
  want_str(line, what, err, want_err);
}

/* A string result: "!ERROR" means -EINVAL with an empty out and a
 * message; else out and the returned length must match. */
static void want_output(int line, const char *what, int rc, const char *out,
                        const char *err, const char *want) {
  if (strcmp(want, ERROR_MARK) == 0) {
    want_int(line, what, rc, -EINVAL);
    want_str(line, what, out, "");
    if (err[0] == '\0')
      fail_msg("line %d: %s: no error message", line, what);
    return;
  }
  want_str(line, what, out, want);
  want_int(line, what, rc, (long long)strlen(want));
  want_str(line, what, err, "");
}

/* path  source  CheckPath  CheckImportPath  CheckFilePath  want x3
 * EscapePath  Split_prefix  Split_pathMajor  Split_ok  errors x3 */
static void on_module_path(const struct tsv_row *row, void *arg) {
  const char *path = row->field[0];
  char err[BUF_BYTES], out[BUF_BYTES], prefix[BUF_BYTES];
  const char *major;
  size_t prefix_len;
  int rc, line = row->lineno;

  want_fields(row, 15);
  rc = gomod_check_path(path, err, sizeof err);
  want_check(line, "CheckPath", rc, err, row->field[2], row->field[12]);
  rc = gomod_check_import_path(path, err, sizeof err);
  want_check(line, "CheckImportPath", rc, err, row->field[3], row->field[13]);
  rc = gomod_check_file_path(path, err, sizeof err);
  want_check(line, "CheckFilePath", rc, err, row->field[4], row->field[14]);

  rc = gomod_escape_path(path, out, sizeof out, err, sizeof err);
  want_output(line, "EscapePath", rc, out, err, row->field[8]);
  if (rc < 0) /* EscapePath fails with CheckPath's error */
    want_str(line, "EscapePath error", err, row->field[12]);

  rc = gomod_split_path_version(path, &prefix_len, &major);
  want_verdict(line, "SplitPathVersion ok", rc == 0, row->field[11]);
  snprintf(prefix, sizeof prefix, "%.*s", (int)prefix_len, path);
  want_str(line, "SplitPathVersion prefix", prefix, row->field[9]);
  want_str(line, "SplitPathVersion pathMajor", major, row->field[10]);
}

typedef int (*escape_fn)(const char *, char *, size_t, char *, size_t);

static escape_fn escape_by_name(int line, const char *name) {
  static const struct {
    const char *name;
    escape_fn fn;
  } fns[] = {{"EscapePath", gomod_escape_path},
             {"UnescapePath", gomod_unescape_path},
             {"EscapeVersion", gomod_escape_version},
             {"UnescapeVersion", gomod_unescape_version}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    if (strcmp(fns[i].name, name) == 0)
      return fns[i].fn;
  }
  fail_msg("line %d: unknown function %s", line, name);
  return NULL;
}

/* kind  input  output_or_!ERROR  source */
static void on_escape(const struct tsv_row *row, void *arg) {
  char out[BUF_BYTES], err[BUF_BYTES];
  escape_fn fn;
  int rc;

  want_fields(row, 4);
  fn = escape_by_name(row->lineno, row->field[0]);
  rc = fn(row->field[1], out, sizeof out, err, sizeof err);
  want_output(row->lineno, row->field[0], rc, out, err, row->field[2]);
}

/* path  version  Check  want  source  error */
static void on_check(const struct tsv_row *row, void *arg) {
  char err[BUF_BYTES];
  int rc;

  want_fields(row, 6);
  rc = gomod_check(row->field[0], row->field[1], err, sizeof err);
  want_check(row->lineno, "Check", rc, err, row->field[2], row->field[5]);
}

/* v  pathMajor  MatchPathMajor  CheckPathMajor  want_MatchPathMajor */
static void on_path_major(const struct tsv_row *row, void *arg) {
  char err[BUF_BYTES];
  int rc;

  want_fields(row, 5);
  want_verdict(row->lineno, "MatchPathMajor",
               gomod_match_path_major(row->field[0], row->field[1]),
               row->field[2]);
  rc = gomod_check_path_major(row->field[0], row->field[1], err, sizeof err);
  want_verdict(row->lineno, "CheckPathMajor", rc == 0, row->field[3]);
  want_int(row->lineno, "CheckPathMajor message", err[0] != '\0', rc != 0);
}

/* globs  target  MatchPrefixPatterns  want */
static void on_prefix_pattern(const struct tsv_row *row, void *arg) {
  want_fields(row, 4);
  want_verdict(row->lineno, "MatchPrefixPatterns",
               gomod_match_prefix_patterns(row->field[0], row->field[1]),
               row->field[2]);
}

static void test_module_paths(void **state) {
  want_int(0, "rows", tsv_each("module_paths.tsv", 1, on_module_path, NULL),
           MODULE_PATHS_ROWS);
}

static void test_escape(void **state) {
  want_int(0, "rows", tsv_each("escape.tsv", 1, on_escape, NULL), ESCAPE_ROWS);
}

static void test_check(void **state) {
  want_int(0, "rows", tsv_each("check.tsv", 1, on_check, NULL), CHECK_ROWS);
}

static void test_path_major(void **state) {
  want_int(0, "rows", tsv_each("path_major.tsv", 1, on_path_major, NULL),
           PATH_MAJOR_ROWS);
}

static void test_prefix_patterns(void **state) {
  want_int(0, "rows",
           tsv_each("prefix_patterns.tsv", 1, on_prefix_pattern, NULL),
           PREFIX_PATTERNS_ROWS);
}

/* ---- cases beyond the vectors (expected values from x/mod itself) ------ */

enum op {
  CHECK_PATH,
  CHECK_IMPORT_PATH,
  CHECK_FILE_PATH,
  CHECK,
  CHECK_PATH_MAJOR,
  UNESCAPE_PATH,
  UNESCAPE_VERSION,
  ESCAPE_VERSION,
};

static int run_op(enum op op, const char *a, const char *b, char *err,
                  size_t errlen) {
  char out[BUF_BYTES];
  switch (op) {
  case CHECK_PATH: return gomod_check_path(a, err, errlen);
  case CHECK_IMPORT_PATH: return gomod_check_import_path(a, err, errlen);
  case CHECK_FILE_PATH: return gomod_check_file_path(a, err, errlen);
  case CHECK: return gomod_check(a, b, err, errlen);
  case CHECK_PATH_MAJOR: return gomod_check_path_major(a, b, err, errlen);
  case UNESCAPE_PATH:
    return gomod_unescape_path(a, out, sizeof out, err, errlen);
  case UNESCAPE_VERSION:
    return gomod_unescape_version(a, out, sizeof out, err, errlen);
  case ESCAPE_VERSION:
    return gomod_escape_version(a, out, sizeof out, err, errlen);
  }
  return 0;
}

/* Error texts the vectors do not show; "" means x/mod returns nil. */
static void test_messages(void **state) {
  static const struct {
    enum op op;
    const char *a, *b, *want;
  } cases[] = {
      {CHECK_PATH_MAJOR, "v1.0.0", "/v2",
       "version \"v1.0.0\" invalid: should be v2, not v1"},
      {CHECK_PATH_MAJOR, "v2.0.0", "",
       "version \"v2.0.0\" invalid: should be v0 or v1, not v2"},
      {CHECK_PATH_MAJOR, "bad", "",
       "version \"bad\" invalid: should be v0 or v1, not "},
      {CHECK_PATH_MAJOR, "v1.0.0", "v2",
       "version \"v1.0.0\" invalid: should be v2, not v1"},
      {CHECK_PATH_MAJOR, "v1.0.0", ".v2-unstable",
       "version \"v1.0.0\" invalid: should be v2, not v1"},
      {UNESCAPE_PATH, "github.com/GoogleCloudPlatform/omega", NULL,
       "invalid escaped module path \"github.com/GoogleCloudPlatform/omega\""},
      {UNESCAPE_PATH, "github.com/!x!y/v1", NULL,
       "invalid escaped module path \"github.com/!x!y/v1\": malformed module "
       "path \"github.com/XY/v1\": invalid version"},
      {UNESCAPE_VERSION, "", NULL,
       "invalid escaped version \"\": empty path element"},
      {UNESCAPE_VERSION, "v1.0.0-!", NULL,
       "invalid escaped version \"v1.0.0-!\""},
      {UNESCAPE_VERSION, "v1.0.0-!c!o!n", NULL, ""},
      {ESCAPE_VERSION, "v1.0.0-!", NULL,
       "version \"v1.0.0-!\" invalid: disallowed version string"},
      {ESCAPE_VERSION, "v1.0.0-\xc3\xa9", NULL,
       "internal error: inconsistency in EscapePath"},
      {ESCAPE_VERSION, "feature/x", NULL,
       "version \"feature/x\" invalid: disallowed version string"},
      {CHECK_FILE_PATH,
       "a/\xc2\xa0"
       "b",
       NULL, "malformed file path \"a/\\u00a0b\": invalid char '\\u00a0'"},
      {CHECK_FILE_PATH, "a/b\tc", NULL,
       "malformed file path \"a/b\\tc\": invalid char '\\t'"},
      {CHECK_FILE_PATH,
       "a/b\x7f"
       "c",
       NULL, "malformed file path \"a/b\\x7fc\": invalid char '\\x7f'"},
      {CHECK_FILE_PATH,
       "a/\xe2\x80\x8b"
       "b",
       NULL, "malformed file path \"a/\\u200bb\": invalid char '\\u200b'"},
      {CHECK_FILE_PATH, "a/\xf0\x9f\x98\x80", NULL,
       "malformed file path \"a/\xf0\x9f\x98\x80\": invalid char "
       "'\xf0\x9f\x98\x80'"},
      {CHECK_FILE_PATH, "a/CON.txt/b", NULL,
       "malformed file path \"a/CON.txt/b\": \"CON\" disallowed as path "
       "element component on Windows"},
      {CHECK_FILE_PATH,
       "a/\xc3\xa9-\xc3\xb1/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/"
       "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4/"
       "\xce\xa9\xce\xbc\xce\xad\xce\xb3\xce\xb1",
       NULL, ""},
      {CHECK_IMPORT_PATH, "a/b~1", NULL,
       "malformed import path \"a/b~1\": trailing tilde and digits in path "
       "element"},
      {CHECK_PATH, "example.com/v\xed\xa0\x80", NULL,
       "malformed module path \"example.com/v\\xed\\xa0\\x80\": invalid "
       "UTF-8"},
      {CHECK, "example.com/m", "v1.0.0-bad!",
       "example.com/m@v1.0.0-bad!: invalid version: not a semantic version"},
  };
  char err[BUF_BYTES];

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = run_op(cases[i].op, cases[i].a, cases[i].b, err, sizeof err);
    /* a length on success for the unescaping functions */
    want_int((int)i, "rc", rc < 0 ? rc : 0,
             cases[i].want[0] != '\0' ? -EINVAL : 0);
    want_str((int)i, "message", err, cases[i].want);
  }
}

/* path.Match features the vector patterns do not use. */
static void test_prefix_pattern_syntax(void **state) {
  static const struct {
    const char *globs, *target;
    int want;
  } cases[] = {
      {"a[b-d]c", "abc", 1},
      {"a[^b-d]c", "abc", 0},
      {"a[\\]]c", "a]c", 1},
      {"a\\*c", "a*c", 1},
      {"a\\*c", "abc", 0},
      {"[", "a", 0},
      {"a[", "b", 0},
      {"*x", "abx", 1},
      {"[]a]", "]", 0},
      {"[-]", "-", 0},
      {"[x-]", "x", 0},
      {"*[\xc3\xa9]", "x\xc3\xa9/y", 1},
      {"a\\", "a", 0},
      {"x,a\\", "x/y", 1},
      {"*.corp.example.com", "git.corp.example.com/xyzzy", 1},
      {"*.corp.example.com", "corp.example.com/xyzzy", 0},
      {"rsc.io/private", "rsc.io/privateer", 0},
      {"github.com/*/x", "github.com/a/b/x", 0},
      {" rsc.io", "rsc.io/x", 0},
      {"*/*mple*", "rsc.io/sampler", 1},
      {"a*b*c", "aXbYc", 1},
      {"a*b*c", "aXbYcd", 0},
      {"a*b", "abab", 1},
      {"[a-c]?[!x]", "b/z", 0},
      {"[^a]", "\xff", 1},
      {"?", "\xff", 1},
      {"[\xff]", "a", 0},
      {"*[", "abc", 0},
      {"a*[", "abc", 0},
      /* A '/' in a class counts as an element: the star then meets "/b". */
      {"[/a]*", "a/b/c", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    want_int((int)i, cases[i].globs,
             gomod_match_prefix_patterns(cases[i].globs, cases[i].target),
             cases[i].want);
}

/* Every letter, A to Z and a to z, escaped and unescaped, in a path and in
 * a version: an upper-case letter is '!' and its lower-case form, the rest
 * stays; '!' before anything but a lower-case letter, an upper-case letter
 * and a trailing '!' are refused. */
static void test_escape_every_letter(void **state) {
  char path[64], esc[64], out[64], err[256];
  for (char c = 'A'; c <= 'Z'; c++) {
    char lower = (char)(c - 'A' + 'a');
    snprintf(path, sizeof path, "example.com/%c%c", c, lower);
    snprintf(esc, sizeof esc, "example.com/!%c%c", lower, lower);
    assert_int_equal(gomod_escape_path(path, out, sizeof out, err, sizeof err),
                     (int)strlen(esc));
    assert_string_equal(out, esc);
    assert_int_equal(gomod_unescape_path(esc, out, sizeof out, err, sizeof err),
                     (int)strlen(path));
    assert_string_equal(out, path);
    snprintf(path, sizeof path, "v1.0.0-%c%c", c, lower);
    snprintf(esc, sizeof esc, "v1.0.0-!%c%c", lower, lower);
    assert_int_equal(
        gomod_escape_version(path, out, sizeof out, err, sizeof err),
        (int)strlen(esc));
    assert_string_equal(out, esc);
    assert_int_equal(
        gomod_unescape_version(esc, out, sizeof out, err, sizeof err),
        (int)strlen(path));
    assert_string_equal(out, path);
    /* Not escaped: refused when unescaping. */
    snprintf(esc, sizeof esc, "example.com/%c", c);
    assert_int_equal(gomod_unescape_path(esc, out, sizeof out, err, sizeof err),
                     -EINVAL);
    snprintf(esc, sizeof esc, "v1.0.0-!%c", c);
    assert_int_equal(
        gomod_unescape_version(esc, out, sizeof out, err, sizeof err), -EINVAL);
  }
  assert_int_equal(
      gomod_unescape_version("v1.0.0-a!", out, sizeof out, err, sizeof err),
      -EINVAL);
  assert_int_equal(
      gomod_escape_version("v1.0.0-!a", out, sizeof out, err, sizeof err),
      -EINVAL);
}

/* Windows' reserved names, COM1-COM9 and LPT1-LPT9 (any case, with or
 * without an extension), are refused in file paths; COM0 and LPT0 are not
 * reserved. */
static void test_windows_names(void **state) {
  char path[32], err[256];
  for (char d = '1'; d <= '9'; d++) {
    snprintf(path, sizeof path, "a/COM%c.go", d);
    assert_int_equal(gomod_check_file_path(path, err, sizeof err), -EINVAL);
    snprintf(path, sizeof path, "a/lpt%c", d);
    assert_int_equal(gomod_check_file_path(path, err, sizeof err), -EINVAL);
  }
  assert_int_equal(gomod_check_file_path("a/COM0.go", err, sizeof err), 0);
  assert_int_equal(gomod_check_file_path("a/LPT0", err, sizeof err), 0);
}

/* Short buffers: -E2BIG for outputs; messages are cut, still terminated. */
static void test_buffers(void **state) {
  char out[8], err[16];

  assert_int_equal(gomod_escape_path("rsc.io/QUOTE", out, sizeof out, NULL, 0),
                   -E2BIG);
  assert_int_equal(gomod_escape_path("rsc.io/Q", out, 0, NULL, 0), -E2BIG);
  assert_int_equal(gomod_escape_path("x.y/Q", out, sizeof out, NULL, 0),
                   (int)strlen("x.y/!q"));
  assert_string_equal(out, "x.y/!q");
  assert_int_equal(gomod_unescape_path("rsc.io/!q!u!o!t!e", out, sizeof out,
                                       err, sizeof err),
                   -E2BIG);
  assert_string_equal(out, "");
  assert_int_equal(gomod_unescape_path("rsc.io/!Q", out, 1, err, sizeof err),
                   -EINVAL);
  assert_int_equal(gomod_check_path("a/b/c", err, sizeof err), -EINVAL);
  assert_string_equal(err, "malformed modul");
  assert_int_equal(gomod_check_path("a/b/c", NULL, 0), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_module_paths),
      cmocka_unit_test(test_escape),
      cmocka_unit_test(test_check),
      cmocka_unit_test(test_path_major),
      cmocka_unit_test(test_prefix_patterns),
      cmocka_unit_test(test_messages),
      cmocka_unit_test(test_prefix_pattern_syntax),
      cmocka_unit_test(test_escape_every_letter),
      cmocka_unit_test(test_windows_names),
      cmocka_unit_test(test_buffers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
