/* The pure parts of the git backend: routes, URL redaction, ls-remote
 * parsing, go.mod module paths and retractions. (Version resolution
 * itself is checked against the go command in tests/e2e/private_git.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vcs_internal.h"

static void test_routes(void **state) {
  const char *routes[] = {
      "git.corp.example/*/*=ssh://git@git.corp.example/{2}/{3}.git",
      "mirror.example/*=file:///srv/{root}.git", NULL};
  struct vcs_location loc;
  char err[256];
  assert_int_equal(vcs_route(routes, "git.corp.example/team/repo/sub/v2", &loc,
                             err, sizeof err),
                   0);
  assert_string_equal(loc.root, "git.corp.example/team/repo");
  assert_string_equal(loc.url, "ssh://git@git.corp.example/team/repo.git");
  assert_int_equal(vcs_route(routes, "mirror.example/x", &loc, err, sizeof err),
                   0);
  assert_string_equal(loc.url, "file:///srv/mirror.example/x.git");
  assert_int_equal(vcs_route(routes, "github.com/a/b/c", &loc, err, sizeof err),
                   0);
  assert_string_equal(loc.root, "github.com/a/b");
  assert_string_equal(loc.url, "https://github.com/a/b");
  assert_int_equal(
      vcs_route(routes, "host.example/x/repo.git/sub", &loc, err, sizeof err),
      0);
  assert_string_equal(loc.root, "host.example/x/repo.git");
  assert_int_equal(
      vcs_route(routes, "nowhere.example/x", &loc, err, sizeof err), -ENOENT);
  const char *bad[] = {"x=ftp://h/{root}", NULL};
  assert_int_equal(vcs_route(bad, "x/y", &loc, err, sizeof err), -EINVAL);
}

static void test_redact(void **state) {
  char out[256];
  vcs_url_redact("https://user:tok@h.example/r.git", out, sizeof out);
  assert_string_equal(out, "https://h.example/r.git");
  vcs_url_redact("https://tok@h.example/r.git", out, sizeof out);
  assert_string_equal(out, "https://h.example/r.git");
  vcs_url_redact("ssh://git:pw@h.example/r.git", out, sizeof out);
  assert_string_equal(out, "ssh://git@h.example/r.git");
  vcs_url_redact("ssh://git@h.example/r.git", out, sizeof out);
  assert_string_equal(out, "ssh://git@h.example/r.git");
}

static void test_refs(void **state) {
  const char text[] =
      "1111111111111111111111111111111111111111\tHEAD\n"
      "2222222222222222222222222222222222222222\trefs/heads/main\n"
      "3333333333333333333333333333333333333333\trefs/tags/v1.0.0\n"
      "4444444444444444444444444444444444444444\trefs/tags/v1.0.0^{}\n"
      "5555555555555555555555555555555555555555\trefs/pull/1/head\n";
  struct vcs_refs *r;
  assert_int_equal(vcs_refs_parse(text, strlen(text), &r), 0);
  assert_int_equal(r->n, 2);
  assert_string_equal(r->head, "1111111111111111111111111111111111111111");
  assert_string_equal(vcs_refs_get(r, "refs/tags/v1.0.0"),
                      "4444444444444444444444444444444444444444");
  assert_null(vcs_refs_get(r, "refs/pull/1/head"));
  vcs_refs_unref(r);
}

static void test_modfile(void **state) {
  char p[256];
  const char a[] = "// x\nmodule   \"example.com/q\" // c\n";
  vcs_modfile_module_path(a, strlen(a), p, sizeof p);
  assert_string_equal(p, "example.com/q");
  const char b[] = "modulex y\n";
  vcs_modfile_module_path(b, strlen(b), p, sizeof p);
  assert_string_equal(p, "");
  const char c[] =
      "module m\nretract v1.0.1 // broken\nretract [v1.2.0, v1.3.0]\n"
      "require (\n\tx v1.0.0\n)\nretract (\n\tv2.0.0\n\t[v3.0.0, v3.1.0]\n)\n";
  struct vcs_retract r[8];
  size_t n = vcs_modfile_retractions(c, strlen(c), r, 8);
  assert_int_equal(n, 4);
  assert_string_equal(r[0].low, "v1.0.1");
  assert_string_equal(r[1].high, "v1.3.0");
  assert_string_equal(r[2].low, "v2.0.0");
  assert_string_equal(r[3].low, "v3.0.0");
  char legacy[64];
  vcs_modfile_legacy("example.com/m", legacy, sizeof legacy);
  assert_string_equal(legacy, "module example.com/m\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routes),
      cmocka_unit_test(test_redact),
      cmocka_unit_test(test_refs),
      cmocka_unit_test(test_modfile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
