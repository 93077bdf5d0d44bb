/*
 * The form of a page (proxy/http/negotiate.c): ?format= wins over Accept,
 * Accept over the plain-text default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http.h"

static void test_negotiate(void **state) {
  (void)state;
  assert_int_equal(proxy_format_negotiate("/diag", ""), PROXY_FORMAT_TEXT);
  assert_int_equal(proxy_format_negotiate("/diag", "*/*"), PROXY_FORMAT_TEXT);
  assert_int_equal(proxy_format_negotiate("/diag", "text/html,*/*"),
                   PROXY_FORMAT_HTML);
  assert_int_equal(proxy_format_negotiate("/diag", "application/json"),
                   PROXY_FORMAT_JSON);
  assert_int_equal(proxy_format_negotiate("/diag?format=json", "text/html"),
                   PROXY_FORMAT_JSON);
  assert_int_equal(
      proxy_format_negotiate("/diag?format=text", "application/json"),
      PROXY_FORMAT_TEXT);
  assert_int_equal(proxy_format_negotiate("/diag?x=1&format=html", ""),
                   PROXY_FORMAT_HTML);
  /* Only the query counts: a path that mentions it is not asking. */
  assert_int_equal(proxy_format_negotiate("/diag/req/format=json", ""),
                   PROXY_FORMAT_TEXT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_negotiate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
