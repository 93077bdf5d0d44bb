/*
 * --max-request-rate's table (proxy/http/rate.c): max requests a client
 * address may make in a one-second window, one more is over; the window
 * starts afresh a second later; each address counts alone; past
 * HTTP_RATE_CLIENTS_MAX addresses the one seen least recently is pushed
 * out (and starts afresh), the others keep their counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http_internal.h"

#define ALLOWED 3

/* The 16-byte key of client number n (an IPv4-mapped address). */
static const unsigned char *addr(uint32_t n) {
  static unsigned char a[16];
  memset(a, 0, sizeof a);
  a[10] = a[11] = 0xff;
  a[12] = (unsigned char)(n >> 24);
  a[13] = (unsigned char)(n >> 16);
  a[14] = (unsigned char)(n >> 8);
  a[15] = (unsigned char)n;
  return a;
}

static int setup(void **state) {
  struct http_rate *t = NULL;
  if (http__rate_new(&t) < 0)
    return -1;
  *state = t;
  return 0;
}

static int teardown(void **state) {
  http__rate_free(*state);
  http__rate_free(NULL);
  return 0;
}

/* Makes ALLOWED requests of client n at now: none is over. */
static void use_up(struct http_rate *t, uint32_t n, uint64_t now) {
  for (int i = 1; i <= ALLOWED; i++)
    if (http__rate_over(t, addr(n), now, ALLOWED) != 0)
      fail_msg("client %u, request %d of %d: over", n, i, ALLOWED);
}

static void test_limit_and_refill(void **state) {
  struct http_rate *t = *state;
  use_up(t, 1, 5000);
  assert_int_equal(http__rate_over(t, addr(1), 5000, ALLOWED), 1);
  assert_int_equal(http__rate_over(t, addr(1), 5999, ALLOWED), 1);
  /* Another address has its own allowance. */
  use_up(t, 2, 5999);
  assert_int_equal(http__rate_over(t, addr(2), 5999, ALLOWED), 1);
  /* A second after its window began, client 1 starts afresh. */
  use_up(t, 1, 6000);
  assert_int_equal(http__rate_over(t, addr(1), 6000, ALLOWED), 1);
}

/* HTTP_RATE_CLIENTS_MAX clients are all remembered; one more pushes out
 * the one seen least recently, and only it. */
static void test_eviction_edge(void **state) {
  struct http_rate *t = *state;
  for (uint32_t n = 0; n < HTTP_RATE_CLIENTS_MAX; n++)
    use_up(t, n, 100);
  /* Client 0 is seen again: now client 1 is the least recent. */
  assert_int_equal(http__rate_over(t, addr(0), 100, ALLOWED), 1);
  /* At the limit, every one is still counted. */
  for (uint32_t n = 0; n < HTTP_RATE_CLIENTS_MAX; n++)
    if (http__rate_over(t, addr(n), 100, ALLOWED) != 1)
      fail_msg("client %u of %u forgotten", n, HTTP_RATE_CLIENTS_MAX);
  /* Now client 0 is the least recent again; a new client replaces it. */
  use_up(t, HTTP_RATE_CLIENTS_MAX, 100);
  use_up(t, 0, 100); /* pushed out: it starts afresh */
  /* That pushed out client 1; the rest are still counted. */
  for (uint32_t n = 2; n <= HTTP_RATE_CLIENTS_MAX; n++)
    if (http__rate_over(t, addr(n), 100, ALLOWED) != 1)
      fail_msg("client %u forgotten", n);
  use_up(t, 1, 100);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_limit_and_refill, setup, teardown),
      cmocka_unit_test_setup_teardown(test_eviction_edge, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
