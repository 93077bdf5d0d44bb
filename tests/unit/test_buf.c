/*
 * Growing buffers (include/modproxy/buf.h): buf_append stops at the ceiling
 * fixed when the buffer is made (refusing, or keeping what fits when it
 * truncates), and buf_curl_write tells libcurl to stop past it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/buf.h"

static void test_append_ceiling(void **state) {
  (void)state;
  struct buf b = {.max = 8};
  assert_int_equal(buf_append(&b, "abcde", 5), 0);
  assert_int_equal(buf_append(&b, "fgh", 3), 0);
  assert_string_equal(b.data, "abcdefgh");
  /* One byte past the ceiling: refused, nothing appended. */
  assert_int_equal(buf_append(&b, "i", 1), -E2BIG);
  assert_int_equal(b.len, 8);
  assert_string_equal(b.data, "abcdefgh");
  free(b.data);
}

static void test_append_truncates(void **state) {
  (void)state;
  struct buf b = {.max = 4, .truncate = 1};
  assert_int_equal(buf_append(&b, "abc", 3), 0);
  assert_int_equal(buf_append(&b, "defg", 4), 0);
  assert_int_equal(b.len, 4);
  assert_string_equal(b.data, "abcd");
  free(b.data);
  /* A ceiling of 0 keeps nothing and allocates nothing. */
  struct buf none = {.max = 0, .truncate = 1};
  assert_int_equal(buf_append(&none, "abc", 3), 0);
  assert_null(none.data);
}

static void test_curl_write(void **state) {
  (void)state;
  struct buf b = {.max = 10};
  char chunk[4] = "wxyz";
  assert_int_equal(buf_curl_write(chunk, 1, 4, &b), 4);
  assert_int_equal(buf_curl_write(chunk, 2, 2, &b), 4);
  /* Past the ceiling libcurl is told to stop (a short count). */
  assert_int_equal(buf_curl_write(chunk, 1, 4, &b), 0);
  assert_int_equal(b.len, 8);
  free(b.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_ceiling),
      cmocka_unit_test(test_append_truncates),
      cmocka_unit_test(test_curl_write),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
