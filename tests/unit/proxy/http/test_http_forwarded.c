/*
 * The forwarding headers at the connection (proxy/http/conn.c), through a
 * real server (http_harness.h) that trusts the test clients' address as a
 * proxy: what it keeps of X-Forwarded-For and Forwarded is bounded, and a
 * header past the bound is refused rather than cut short. Which client the
 * headers name is test_forwarded's subject.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http_harness.h"

/* --trusted-proxies 127.0.0.1/32 (where the test clients connect from). */
static int setup_trusted(void **state) {
  return harness_start(
      state, &(struct harness_opts){.trusted_proxies = "127.0.0.1/32"});
}

/* From a trusted proxy, X-Forwarded-For and Forwarded are kept up to
 * HTTP_MAX_FORWARDED_BYTES, several lines of one header together; past it
 * (or a line past what a header value may hold), 431 rather than a list
 * cut short. */
static void test_forwarded_too_long(void **state) {
  struct harness *h = *state;
  static const char *const names[] = {"X-Forwarded-For", "Forwarded"};
  /* Lines of LINE bytes: two fit, three do not. */
  enum { LINE = 200 };
  _Static_assert(2 * LINE + 2 < HTTP_MAX_FORWARDED_BYTES &&
                     3 * LINE + 4 >= HTTP_MAX_FORWARDED_BYTES,
                 "two lines fit, three do not");
  char line[LINE + 1], req[2048];
  for (size_t i = 0; i < LINE; i += 10)
    memcpy(line + i, "10.0.0.1, ", 10);
  line[LINE - 2] = '\0'; /* no ", " at the end */
  for (int n = 0; n < 2; n++) {
    int w = snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    for (int lines = 1; lines <= 3; lines++) {
      w += snprintf(req + w, sizeof req - (size_t)w, "%s: %s\r\n", names[n],
                    line);
      char *end = req + w;
      memcpy(end, "\r\n", 3);
      if (lines < 3)
        assert_int_equal(status_of(h, req, strlen(req)), 200);
      else
        expect_refused_str(h, req, 431);
    }
    /* One line of two of these, past what a header value holds: 431. */
    snprintf(req, sizeof req,
             "GET /healthz HTTP/1.1\r\nHost: t\r\n%s: %s, %s\r\n\r\n", names[n],
             line, line);
    expect_refused_str(h, req, 431);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_forwarded_too_long, setup_trusted,
                                      harness_teardown),
  };
  return cmocka_run_group_tests(tests, harness_group_setup,
                                harness_group_teardown);
}
