/*
 * page.c: the pieces every diagnostics page shares: query parameters as a
 * browser's form sends them, escaping, links, shell quoting of what a
 * shell would glob, the page chrome and the charts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "page.h"

/* What fn writes, as a heap string. */
#define WRITTEN(out, call)                                                     \
  do {                                                                         \
    size_t len_;                                                               \
    FILE *f = open_memstream(&(out), &len_);                                   \
    assert_non_null(f);                                                        \
    call;                                                                      \
    fclose(f);                                                                 \
  } while (0)

static void test_query(void **state) {
  char v[64];
  const char *q = "q=rsc.io%2Fquote&status=all&client=&x=a+b%41&bad=%4";
  assert_int_equal(page_query(q, "q", v, sizeof v), 1);
  assert_string_equal(v, "rsc.io/quote");
  assert_int_equal(page_query(q, "status", v, sizeof v), 1);
  assert_string_equal(v, "all");
  assert_int_equal(page_query(q, "client", v, sizeof v), 1);
  assert_string_equal(v, "");
  assert_int_equal(page_query(q, "x", v, sizeof v), 1);
  assert_string_equal(v, "a bA");
  assert_int_equal(page_query(q, "bad", v, sizeof v), 1);
  assert_string_equal(v, "%4");
  assert_int_equal(page_query(q, "stat", v, sizeof v), 0);
  assert_int_equal(page_query(NULL, "q", v, sizeof v), 0);
  assert_int_equal(page_query("q=%00x", "q", v, sizeof v), 1);
  assert_string_equal(v, "x");
  assert_int_equal(page_query("q=abcdef", "q", v, 4), 1);
  assert_string_equal(v, "abc");
}

static void test_escape_and_links(void **state) {
  char *out = NULL;
  WRITTEN(out, page_esc(f, "<a href=\"x\">&'"));
  assert_string_equal(out, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  free(out);
  WRITTEN(out, page_module_link(f, "ex.com/a b", "v1.0.0"));
  assert_string_equal(
      out,
      "<a href=\"/diag/module/ex.com/a%20b@v1.0.0\">ex.com/a b@v1.0.0</a>");
  free(out);
  WRITTEN(out, page_module_link(f, "", "v1"));
  assert_string_equal(out, "");
  free(out);
}

static void test_shell_word(void **state) {
  char *out = NULL;
  WRITTEN(out, page_shell_word(f, "corp.example.com"));
  assert_string_equal(out, "corp.example.com");
  free(out);
  WRITTEN(out, page_shell_word(f, "corp.example.com/*,*.corp"));
  assert_string_equal(out, "'corp.example.com/*,*.corp'");
  free(out);
  WRITTEN(out, page_shell_word(f, "it's"));
  assert_string_equal(out, "'it'\\''s'");
  free(out);
}

static void test_chrome_and_chart(void **state) {
  char *out = NULL;
  WRITTEN(out, {
    page_begin(f, "A <title>", PAGE_NAV_MIRROR);
    page_end(f, "/diag/mirror?x=1&format=html");
  });
  assert_non_null(strstr(out, "<title>A &lt;title&gt;</title>"));
  assert_non_null(
      strstr(out, "<a href=\"/diag/mirror\" aria-current=\"page\">"));
  assert_non_null(strstr(out, "<a href=\"/diag\">"));
  assert_non_null(strstr(out, "href=\"/diag/mirror?format=json&amp;x=1\""));
  assert_null(strstr(out, "http"));
  free(out);
  double v[4] = {0, 2, -1, 4};
  WRITTEN(out, page_chart(f, v, 4, 0, 40, 10, "x"));
  assert_non_null(strstr(out, "<title>x (highest 4)</title>"));
  /* Two bars: 2 (half height) and 4 (full); 0 and -1 draw none. */
  assert_non_null(strstr(out, "y=\"5.0\" width=\"9.5\" height=\"5.0\""));
  assert_non_null(strstr(out, "x=\"30.0\" y=\"0.0\""));
  assert_null(strstr(out, "x=\"0.0\" y="));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_query),
      cmocka_unit_test(test_escape_and_links),
      cmocka_unit_test(test_shell_word),
      cmocka_unit_test(test_chrome_and_chart),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
