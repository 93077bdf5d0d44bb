/* The go command's discovery, pure parts: go-import meta tags read from
 * real pages (parseMetaGoImports with PreferMod, encoding/xml non-strict),
 * matchGoImport, the go-get URL and validateRepoRoot. Cases follow
 * cmd/go/internal/vcs discovery_test.go and vcs_test.go (Go 1.19). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vcs_discover.h"

/* Parses html; returns the entries as "prefix vcs repo|prefix vcs repo...",
 * or "ERR: <message>". */
static const char *parse(const char *html) {
  static char out[4096];
  struct vcs_meta_imports m;
  char err[512];
  int rc = vcs_meta_parse(html, strlen(html), &m, err, sizeof err);
  if (rc < 0) {
    snprintf(out, sizeof out, "ERR: %s", err);
    return out;
  }
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < m.n; i++)
    o += (size_t)snprintf(out + o, sizeof out - o, "%s%s %s %s", i ? "|" : "",
                          m.v[i].prefix, m.v[i].vcs, m.v[i].repo);
  vcs_meta_free(&m);
  return out;
}

static void test_real_pages(void **state) {
  /* go.googlesource.com's page for golang.org/x/mod. */
  assert_string_equal(
      parse("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
            "charset=\"utf-8\">\n<meta name=\"viewport\" "
            "content=\"width=device-width, initial-scale=1\">\n<meta "
            "name=\"go-import\" content=\"golang.org/x/mod git "
            "https://go.googlesource.com/mod\">\n<meta name=\"go-source\" "
            "content=\"golang.org/x/mod https://github.com/golang/mod/ "
            "https://github.com/golang/mod/tree/master{/dir} "
            "https://github.com/golang/mod/blob/master{/dir}/{file}#L{line}\">"
            "\n<meta http-equiv=\"refresh\" content=\"0; "
            "url=https://pkg.go.dev/golang.org/x/mod/\">\n</head>\n<body>\n<a "
            "href=\"https://pkg.go.dev/golang.org/x/mod/\">Redirecting to "
            "documentation...</a>\n</body>\n</html>\n"),
      "golang.org/x/mod git https://go.googlesource.com/mod");
  /* A GitLab-style page: the tag after other head content, XHTML. */
  assert_string_equal(
      parse("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<html "
            "xmlns=\"http://www.w3.org/1999/xhtml\"><head><title>x &amp; "
            "y</title><!-- go get support --><meta name=\"go-import\" "
            "content=\"gitlab.example.com/group/proj git "
            "https://gitlab.example.com/group/proj.git\" /></head><body>"
            "</body></html>"),
      "gitlab.example.com/group/proj git "
      "https://gitlab.example.com/group/proj.git");
  /* Unquoted attributes and a title: XML would reject this page. */
  assert_string_equal(
      parse("<!doctype html><title>Page Not Found</title><meta name=go-import "
            "content=\"chitin.io/chitin git "
            "https://github.com/chitin-io/chitin\"><div "
            "style=position:relative>DRAFT</div>"),
      "chitin.io/chitin git https://github.com/chitin-io/chitin");
}

static void test_multiple_and_mod(void **state) {
  assert_string_equal(
      parse("<meta name=\"go-import\" content=\"foo/bar git "
            "https://github.com/rsc/foo/bar\">\n\t\t<meta name=\"go-import\" "
            "content=\"baz/quux git http://github.com/rsc/baz/quux\">"),
      "foo/bar git https://github.com/rsc/foo/bar|baz/quux git "
      "http://github.com/rsc/baz/quux");
  /* PreferMod: a mod entry hides the git entry with the same root. */
  assert_string_equal(
      parse("<meta name=\"go-import\" content=\"foo/bar git "
            "https://github.com/rsc/foo/bar\">\n<meta name=\"go-import\" "
            "content=\"foo/bar mod http://github.com/rsc/baz/quux\">"),
      "foo/bar mod http://github.com/rsc/baz/quux");
  /* ... but not one with another root; mod entries come first. */
  assert_string_equal(
      parse("<meta name=\"go-import\" content=\"myitcv.io git "
            "https://github.com/myitcv/x\">\n<meta name=\"go-import\" "
            "content=\"myitcv.io/blah2 mod "
            "https://raw.githubusercontent.com/myitcv/pubx/master\">\n"),
      "myitcv.io/blah2 mod https://raw.githubusercontent.com/myitcv/pubx/"
      "master|myitcv.io git https://github.com/myitcv/x");
}

static void test_where_parsing_stops(void **state) {
  const char *tag = "<meta name=\"go-import\" content=\"a.example/r git "
                    "https://a.example/r\">";
  char page[1024];
  /* Tags after <body> or after </head> do not count. */
  snprintf(page, sizeof page, "<html><head></head><body>%s</body></html>", tag);
  assert_string_equal(parse(page), "");
  snprintf(page, sizeof page, "<head><title>t</title></HEAD>%s", tag);
  assert_string_equal(parse(page), "");
  snprintf(page, sizeof page,
           "<head>%s</head><BODY>"
           "<meta name=\"go-import\" content=\"b.example/r git https://b\">",
           tag);
  assert_string_equal(parse(page), "a.example/r git https://a.example/r");
  /* A tag inside a comment is not a tag; the element and attribute names
   * are case-insensitive, the name's value is not. */
  assert_string_equal(
      parse("<!-- <meta name=\"go-import\" content=\"c.example/x git "
            "https://c\"> --><META NAME=\"go-import\" CONTENT=\"d.example/y "
            "git https://d\"><meta name=\"Go-Import\" content=\"e.example/z "
            "git https://e\">"),
      "d.example/y git https://d");
  /* Not exactly three fields (Go 1.19 has no subdirectory field). */
  assert_string_equal(
      parse("<meta name=\"go-import\" content=\"f.example/x git\">"
            "<meta name=\"go-import\" content=\"f.example/x git https://f "
            "sub\"><meta name=\"go-import\" content=\"  g.example/x\tgit\n"
            "https://g  \">"),
      "g.example/x git https://g");
  /* Entities and character references in attribute values; CDATA. */
  assert_string_equal(
      parse("<head><script><![CDATA[ if (a < b) {} ]]></script><meta "
            "name='go-import' content='h.example/x git "
            "https://h.example/x?a=1&amp;b=2&#38;c=&#x33;&unknown;'>"),
      "h.example/x git https://h.example/x?a=1&b=2&c=3&unknown;");
}

static void test_syntax_errors(void **state) {
  /* A script with a bare '<' before any tag: the go command fails too. */
  assert_string_equal(
      parse("<html>\n<head>\n<script>if (a < b) {}</script>\n<meta "
            "name=\"go-import\" content=\"i.example/x git https://i\">"),
      "ERR: XML syntax error on line 3: expected element name after <");
  /* ... after a tag: what was found counts. */
  assert_string_equal(
      parse("<meta name=\"go-import\" content=\"i.example/x git "
            "https://i\"><script>if (a < b) {}</script>"),
      "i.example/x git https://i");
  assert_string_equal(parse("<head><title>t</title"),
                      "ERR: XML syntax error on line 1: unexpected EOF");
  assert_string_equal(
      parse("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><meta "
            "name=\"go-import\" content=\"j.example/x git https://j\">"),
      "ERR: xml: opening charset \"ISO-8859-1\": can't decode XML document "
      "using charset \"ISO-8859-1\"");
  assert_string_equal(parse("<p a=\"x<y\">"),
                      "ERR: XML syntax error on line 1: unescaped < inside "
                      "quoted string");
  assert_string_equal(parse("<!-- a -- b -->"),
                      "ERR: XML syntax error on line 1: invalid sequence "
                      "\"--\" not allowed in comments");
  assert_string_equal(parse("ok\n\xff"),
                      "ERR: XML syntax error on line 2: invalid UTF-8");
  /* Nothing at all: no entries, no error. */
  assert_string_equal(parse(""), "");
  assert_string_equal(parse("Not found\n"), "");
}

static int match(const char *html, const char *path, char *err, size_t errlen,
                 char *prefix) {
  struct vcs_meta_imports m;
  char perr[256];
  assert_int_equal(vcs_meta_parse(html, strlen(html), &m, perr, sizeof perr),
                   0);
  int k = vcs_meta_match(&m, path, err, errlen);
  if (k >= 0)
    strcpy(prefix, m.v[k].prefix);
  vcs_meta_free(&m);
  return k;
}

#define TAG(p, v)                                                              \
  "<meta name=\"go-import\" content=\"" p " " v " https://r/" p "\">"

static void test_match(void **state) {
  char err[512], prefix[256];
  const char *one = TAG("example.com/user/foo", "git");
  assert_int_equal(match(one, "example.com/user/foo", err, sizeof err, prefix),
                   0);
  assert_int_equal(
      match(one, "example.com/user/foo/sub/v2", err, sizeof err, prefix), 0);
  assert_int_equal(match(one, "example.com/user/fooa", err, sizeof err, prefix),
                   -ENOENT);
  assert_string_equal(err, "meta tag example.com/user/foo did not match "
                           "import path example.com/user/fooa");
  assert_int_equal(match(one, "example.com", err, sizeof err, prefix), -ENOENT);
  const char *two =
      TAG("example.com/user/foo", "git") TAG("example.com/user/fooa", "git");
  assert_int_equal(match(two, "example.com/user/fooa", err, sizeof err, prefix),
                   1);
  assert_string_equal(prefix, "example.com/user/fooa");
  const char *nested =
      TAG("example.com/user/foo", "git") TAG("example.com/user/foo/bar", "git");
  assert_int_equal(
      match(nested, "example.com/user/foo/bar/baz", err, sizeof err, prefix),
      -EEXIST);
  assert_string_equal(err, "multiple meta tags match import path "
                           "\"example.com/user/foo/bar/baz\"");
  assert_int_equal(
      match(nested, "example.com/user/foo/baz", err, sizeof err, prefix), 0);
  /* A mod entry wins over a matching git entry with another root. */
  const char *mod =
      TAG("example.com/user", "git") TAG("example.com/user/foo", "mod");
  assert_int_equal(
      match(mod, "example.com/user/foo/x", err, sizeof err, prefix), 0);
  assert_string_equal(prefix, "example.com/user/foo");
  /* No entries: a mismatch with nothing to list. */
  assert_int_equal(match("<p>", "a.example/x", err, sizeof err, prefix),
                   -ENOENT);
  assert_string_equal(err, "");
  assert_true(vcs_has_path_prefix("a/b", "a/"));
  assert_true(vcs_has_path_prefix("a/b", ""));
  assert_false(vcs_has_path_prefix("ab", "a"));
}

static void test_url_and_repo(void **state) {
  char url[256], err[256];
  assert_int_equal(vcs_discover_url("corp.example/x/y", url, sizeof url), 0);
  assert_string_equal(url, "https://corp.example/x/y?go-get=1");
  assert_int_equal(vcs_discover_url("corp.example", url, sizeof url), 0);
  assert_string_equal(url, "https://corp.example/?go-get=1");
  assert_int_equal(vcs_discover_url("localhost/x", url, sizeof url), -EINVAL);
  assert_int_equal(
      vcs_meta_repo_check("https://h.example/r.git", err, sizeof err), 0);
  assert_int_equal(
      vcs_meta_repo_check("git://127.0.0.1:9418/r.git", err, sizeof err), 0);
  assert_int_equal(
      vcs_meta_repo_check("ssh://git@h.example/r", err, sizeof err), 0);
  assert_int_equal(vcs_meta_repo_check("h.example/r", err, sizeof err),
                   -EINVAL);
  assert_string_equal(err, "no scheme");
  assert_int_equal(vcs_meta_repo_check("git@h.example:r.git", err, sizeof err),
                   -EINVAL);
  assert_string_equal(err, "no scheme");
  assert_int_equal(vcs_meta_repo_check("FILE:///srv/r.git", err, sizeof err),
                   -EINVAL);
  assert_string_equal(err, "file scheme disallowed");
  assert_int_equal(vcs_meta_repo_check("ftp://h/r", err, sizeof err), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_pages),
      cmocka_unit_test(test_multiple_and_mod),
      cmocka_unit_test(test_where_parsing_stops),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_match),
      cmocka_unit_test(test_url_and_repo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
