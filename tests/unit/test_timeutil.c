/*
 * Times as RFC 3339 (include/modproxy/timeutil.h): the form of a .info's
 * Time (Go's time.RFC3339 of a UTC time), a bundle's manifest and records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/timeutil.h"

static void test_rfc3339(void **state) {
  (void)state;
  char out[TIME_RFC3339_BYTES];
  time_rfc3339(0, out, sizeof out);
  assert_string_equal(out, "1970-01-01T00:00:00Z");
  time_rfc3339(1136214245, out, sizeof out);
  assert_string_equal(out, "2006-01-02T15:04:05Z");
  time_rfc3339(4102444799, out, sizeof out);
  assert_string_equal(out, "2099-12-31T23:59:59Z");
  /* TIME_RFC3339_BYTES is exactly enough. */
  assert_int_equal(strlen(out) + 1, TIME_RFC3339_BYTES);
}

static void test_now_ms(void **state) {
  (void)state;
  /* Unix time in ms: after 2020, and in ms, not seconds. */
  int64_t now = time_now_ms(CLOCK_REALTIME);
  assert_true(now > 1577836800000ll);
  assert_true(now / 1000 - (int64_t)time(NULL) <= 1);
  int64_t a = time_now_ms(CLOCK_MONOTONIC), b = time_now_ms(CLOCK_MONOTONIC);
  assert_true(b >= a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc3339),
      cmocka_unit_test(test_now_ms),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
