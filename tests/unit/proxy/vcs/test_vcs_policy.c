/* The pure parts of the direct-mode repository rule (vcs_policy.c):
 * address ranges, URLs taken apart in the forms git and curl accept, the
 * scheme rule and the --git-route rule, with the spellings a hostile page
 * would try. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vcs_policy.h"

/* text as a 16-byte address (IPv4 mapped). */
static void addr(const char *text, unsigned char out[16]) {
  struct in_addr a4;
  if (inet_pton(AF_INET, text, &a4) == 1) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &a4.s_addr, 4);
    return;
  }
  assert_int_equal(inet_pton(AF_INET6, text, out), 1);
}

static void policy(struct vcs_policy *p, const char *allow,
                   const char *const *routes) {
  char err[256];
  memset(p, 0, sizeof *p);
  assert_int_equal(net_ranges_parse(VCS_POLICY_DEFAULT_DENY, p->deny,
                                    NET_MAX_RANGES, &p->ndeny, err, sizeof err),
                   0);
  assert_int_equal(net_ranges_parse(allow, p->allow, NET_MAX_RANGES, &p->nallow,
                                    err, sizeof err),
                   0);
  p->routes = routes;
}

static int denied(const struct vcs_policy *p, const char *text) {
  unsigned char a[16];
  addr(text, a);
  return vcs_policy_denies(p, a);
}

static void test_ranges(void **state) {
  struct vcs_policy p;
  policy(&p, NULL, NULL);
  assert_true(denied(&p, "127.0.0.1"));
  assert_true(denied(&p, "127.255.0.9"));
  assert_true(denied(&p, "10.1.2.3"));
  assert_true(denied(&p, "172.31.255.255"));
  assert_false(denied(&p, "172.32.0.1"));
  assert_true(denied(&p, "192.168.0.1"));
  assert_true(denied(&p, "169.254.169.254"));
  assert_true(denied(&p, "100.64.0.1"));
  assert_true(denied(&p, "0.0.0.0"));
  assert_true(denied(&p, "::1"));
  assert_true(denied(&p, "::"));
  assert_true(denied(&p, "fe80::1"));
  assert_true(denied(&p, "fd00::1"));
  assert_true(denied(&p, "::ffff:127.0.0.1")); /* mapped: the same address */
  assert_false(denied(&p, "8.8.8.8"));
  assert_false(denied(&p, "2001:db8::1"));
  policy(&p, "127.0.0.1/32, ::1", NULL);
  assert_false(denied(&p, "127.0.0.1"));
  assert_true(denied(&p, "127.0.0.2"));
  assert_false(denied(&p, "::1"));

  struct net_range r[4];
  size_t n;
  char err[256];
  assert_int_equal(net_ranges_parse("none", r, 4, &n, err, sizeof err), 0);
  assert_int_equal(n, 0);
  assert_int_equal(net_ranges_parse("10.0.0.0/33", r, 4, &n, err, sizeof err),
                   -EINVAL);
  assert_string_equal(err, "\"10.0.0.0/33\" is not an address range (CIDR)");
  assert_int_equal(net_ranges_parse("localhost", r, 4, &n, err, sizeof err),
                   -EINVAL);
  assert_int_equal(
      net_ranges_parse("1.0.0.0/8,2.0.0.0/8,3.0.0.0/8,4.0.0.0/8,5.0.0.0/8", r,
                       4, &n, err, sizeof err),
      -EINVAL);
}

static void test_urls(void **state) {
  struct vcs_url u;
  assert_int_equal(vcs_url_parse("GIT://user:pw@127.1:9418/Team//./x/../"
                                 "SecretProj.git/",
                                 &u),
                   0);
  assert_string_equal(u.scheme, "git");
  assert_string_equal(u.host, "127.0.0.1");
  assert_int_equal(u.port, 9418);
  assert_string_equal(u.path, "team/secretproj");
  assert_int_equal(vcs_url_parse("https://0x7f.0.0.1/a%2Fb/%2e%2e/c", &u), 0);
  assert_string_equal(u.host, "127.0.0.1");
  assert_string_equal(u.path, "a/c");
  assert_int_equal(vcs_url_parse("git+ssh://git@[0:0::1]:22/r", &u), 0);
  assert_string_equal(u.scheme, "ssh");
  assert_string_equal(u.host, "::1");
  assert_int_equal(vcs_url_parse("https://Example.COM./r?x#y", &u), 0);
  assert_string_equal(u.host, "example.com");
  assert_int_equal(u.port, 0);
  assert_string_equal(u.path, "r");
  assert_int_equal(vcs_url_parse("https://h:99999/r", &u), -EINVAL);
  assert_int_equal(vcs_url_parse("h.example/r", &u), -EINVAL);
  assert_int_equal(vcs_url_parse("https:///r", &u), -EINVAL);
}

static int repo(const struct vcs_policy *p, const char *module,
                const char *url) {
  struct vcs_url u;
  char err[512];
  assert_int_equal(vcs_url_parse(url, &u), 0);
  return vcs_policy_repo(p, module, &u, NULL, 0, err, sizeof err);
}

static void test_schemes(void **state) {
  struct vcs_policy p;
  policy(&p, NULL, NULL);
  assert_int_equal(repo(&p, "h.example/m", "https://h.example/m"), 0);
  assert_int_equal(repo(&p, "h.example/m", "ssh://git@h.example/m"), 0);
  assert_int_equal(repo(&p, "h.example/m", "git+ssh://h.example/m"), 0);
  assert_int_equal(repo(&p, "h.example/m", "git://h.example/m"), -EACCES);
  assert_int_equal(repo(&p, "h.example/m", "http://h.example/m"), -EACCES);
  p.insecure = "h.example";
  assert_int_equal(repo(&p, "h.example/m", "git://h.example/m"), 0);
  assert_int_equal(repo(&p, "h.example/m", "http://h.example/m"), 0);
  assert_int_equal(repo(&p, "other.example/m", "git://h.example/m"), -EACCES);
}

static void test_routes(void **state) {
  static const char *const routes[] = {
      "git.corp.example/*/*=git://127.0.0.1:9418/{2}/{3}",
      "github.com/corp/*=https://github.com/corp/{3}.git",
      "*.corp.example/*=ssh://git@{1}/{2}",
      NULL,
  };
  struct vcs_policy p;
  policy(&p, NULL, routes);
  p.insecure = "*";
  /* Under the first route, however it is spelled. */
  assert_int_equal(repo(&p, "a.example/x", "git://127.0.0.1:9418/team/secret"),
                   -EACCES);
  assert_int_equal(repo(&p, "a.example/x", "git://127.1/team//./Secret.git"),
                   -EACCES);
  assert_int_equal(repo(&p, "a.example/x", "https://127.0.0.1/team/secret/x"),
                   -EACCES);
  /* Above it: not a repository the route can name. */
  assert_int_equal(repo(&p, "a.example/x", "git://127.0.0.1:9418/lib"), 0);
  /* The same host by another name, known by its addresses. */
  struct vcs_url u;
  char err[512];
  unsigned char lo[1][16];
  addr("127.0.0.1", lo[0]);
  assert_int_equal(vcs_url_parse("git://localhost:9418/team/secret", &u), 0);
  assert_int_equal(
      vcs_policy_repo(&p, "a.example/x", &u, NULL, 0, err, sizeof err), 0);
  assert_int_equal(
      vcs_policy_repo(&p, "a.example/x", &u, lo, 1, err, sizeof err), -EACCES);
  /* A shared host: only the route's part of it. */
  assert_int_equal(repo(&p, "github.com/other/x", "https://github.com/other/x"),
                   0);
  assert_int_equal(repo(&p, "github.com/Corp/x", "https://github.com/Corp/x"),
                   -EACCES);
  /* A host taken from the module path: a glob. */
  assert_int_equal(repo(&p, "a.example/x", "ssh://git@src.corp.example/y"),
                   -EACCES);
  assert_int_equal(repo(&p, "a.example/x", "ssh://git@corp.example.org/y"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranges),
      cmocka_unit_test(test_urls),
      cmocka_unit_test(test_schemes),
      cmocka_unit_test(test_routes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
