/*
 * The client behind trusted proxies (proxy/http/forwarded.c): the
 * right-most address of X-Forwarded-For (else Forwarded's for=) that is not
 * a trusted proxy; the left-most when all are; an entry that is not an
 * address ends the walk; nothing usable: 0 (the peer is the client).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http_internal.h"

static struct net_range trusted[NET_MAX_RANGES];
static size_t ntrusted;

/* The client for (xff, fwd), or "-" when the headers name none. */
static const char *client(const char *xff, const char *fwd) {
  static char out[64];
  if (!http__forwarded_client(trusted, ntrusted, xff, fwd, out, sizeof out))
    return "-";
  return out;
}

static int setup(void **state) {
  char err[160];
  (void)state;
  return net_ranges_parse("127.0.0.1/32, 10.0.0.0/8 fd00::/8", trusted,
                          NET_MAX_RANGES, &ntrusted, err, sizeof err);
}

static void test_xff(void **state) {
  (void)state;
  assert_string_equal(client("203.0.113.7", ""), "203.0.113.7");
  /* What a client wrote stays on the left: the proxy's entry decides. */
  assert_string_equal(client("6.6.6.6, 203.0.113.7", ""), "203.0.113.7");
  assert_string_equal(client("6.6.6.6, 203.0.113.7, 10.1.2.3", ""),
                      "203.0.113.7");
  assert_string_equal(client("6.6.6.6,203.0.113.7 ,10.1.2.3,127.0.0.1", ""),
                      "203.0.113.7");
  /* All trusted: the left-most. */
  assert_string_equal(client("10.9.9.9, 10.1.1.1", ""), "10.9.9.9");
  /* Not an address: the walk ends; what was walked decides. */
  assert_string_equal(client("unknown, 10.0.0.1", ""), "10.0.0.1");
  assert_string_equal(client("10.0.0.1, garbage", ""), "-");
  assert_string_equal(client("", ""), "-");
  /* IPv6, bracketed, with ports; IPv4 with a port; canonical output. */
  assert_string_equal(client("2001:DB8::0:1", ""), "2001:db8::1");
  assert_string_equal(client("[2001:db8::1]:443, fd00::5", ""), "2001:db8::1");
  assert_string_equal(client("198.51.100.1:5555", ""), "198.51.100.1");
  assert_string_equal(client("::ffff:198.51.100.2", ""), "198.51.100.2");
  /* An IPv4-mapped trusted proxy is trusted as IPv4. */
  assert_string_equal(client("198.51.100.3, ::ffff:10.0.0.1", ""),
                      "198.51.100.3");
}

static void test_forwarded(void **state) {
  (void)state;
  assert_string_equal(client("", "for=203.0.113.7"), "203.0.113.7");
  assert_string_equal(
      client("", "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.1"),
      "2001:db8::1");
  assert_string_equal(
      client("", "for=6.6.6.6, proto=http;For=203.0.113.9;by=10.0.0.2"),
      "203.0.113.9");
  /* An element without for= ends the walk. */
  assert_string_equal(client("", "proto=https"), "-");
  assert_string_equal(client("", "for=_hidden, for=10.0.0.1"), "10.0.0.1");
  /* X-Forwarded-For wins when both came. */
  assert_string_equal(client("203.0.113.1", "for=203.0.113.2"), "203.0.113.1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xff),
      cmocka_unit_test(test_forwarded),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
