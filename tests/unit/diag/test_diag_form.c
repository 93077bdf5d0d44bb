/* diag_form_parse: forms as curl and browsers send them (whole, and cut at
 * every offset into an exactly sized buffer, so ASan sees any read past the
 * end), hostile bodies (linear time), and each limit at its edge and one
 * past it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "modproxy/diag.h"

#define CT "multipart/form-data; boundary=XyZ"

/* A heap copy of exactly len bytes (no NUL after it). */
static char *exact(const char *s, size_t len) {
  char *p = malloc(len > 0 ? len : 1);
  assert_non_null(p);
  memcpy(p, s, len);
  return p;
}

static void expect_field(const struct diag_form *f, const char *name,
                         const char *want) {
  const char *v;
  size_t n;
  assert_int_equal(diag_form_get(f, name, &v, &n), 0);
  assert_int_equal(n, strlen(want));
  assert_memory_equal(v, want, n);
}

/* What `curl -F gomod=@go.mod -F go_version=go1.22 -F gosum=` sends. */
static const char curl_form[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"gomod\"; filename=\"go.mod\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "module example.com/m\n\ngo 1.22\n\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"go_version\"\r\n"
    "\r\n"
    "go1.22\r\n"
    "--XyZ\r\n"
    "content-disposition : form-data; name=gosum\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n";

static void test_whole(void **state) {
  (void)state;
  struct diag_form f;
  size_t len = sizeof curl_form - 1;
  char *b = exact(curl_form, len);
  assert_int_equal(diag_form_parse(b, len, CT, &f), 0);
  assert_int_equal(f.n, 3);
  expect_field(&f, "gomod", "module example.com/m\n\ngo 1.22\n");
  expect_field(&f, "go_version", "go1.22");
  expect_field(&f, "gosum", "");
  const char *v;
  size_t n;
  assert_int_equal(diag_form_get(&f, "goproxy", &v, &n), -ENOENT);
  assert_int_equal(diag_form_get(&f, "go.mod", &v, &n), -ENOENT);
  free(b);
}

/* Bare line feeds, a preamble and an epilogue, a quoted boundary, lines that
 * start like the delimiter, and an empty value straight after the headers. */
static void test_variants(void **state) {
  (void)state;
  static const char body[] = "preamble --XyZ\n"
                             "--XyZ \t\n"
                             "Content-Disposition: form-data; name=\"a\"\n"
                             "\n"
                             "x --XyZ\n"
                             "--XyZX\n"
                             "---XyZ\n"
                             "--XyZ\n"
                             "Content-Disposition: form-data; name=\"b\"\n"
                             "\n"
                             "--XyZ\n"
                             "Content-Type: text/plain\n"
                             "\n"
                             "no name: skipped\n"
                             "--XyZ--\n"
                             "epilogue\n";
  struct diag_form f;
  char *b = exact(body, sizeof body - 1);
  assert_int_equal(
      diag_form_parse(b, sizeof body - 1,
                      "Multipart/Form-Data; charset=x; boundary=\"XyZ\"", &f),
      0);
  assert_int_equal(f.n, 2);
  expect_field(&f, "a", "x --XyZ\n--XyZX\n---XyZ");
  expect_field(&f, "b", "");
  free(b);
}

static void test_not_a_form(void **state) {
  (void)state;
  struct diag_form f;
  const char *body = curl_form;
  size_t len = sizeof curl_form - 1;
  assert_int_equal(diag_form_parse(body, len, "text/plain", &f), -EINVAL);
  assert_int_equal(diag_form_parse(body, len, "multipart/form-data", &f),
                   -EINVAL);
  assert_int_equal(diag_form_parse(body, len,
                                   "multipart/form-dataX; "
                                   "boundary=XyZ",
                                   &f),
                   -EINVAL);
  assert_int_equal(diag_form_parse(body, len,
                                   "multipart/form-data; "
                                   "boundary=",
                                   &f),
                   -EINVAL);
  assert_int_equal(diag_form_parse(body, len,
                                   "multipart/form-data; "
                                   "boundary=\"XyZ",
                                   &f),
                   -EINVAL);
  assert_int_equal(diag_form_parse(body, len,
                                   "multipart/form-data; "
                                   "boundary=other",
                                   &f),
                   -EINVAL);
  assert_int_equal(diag_form_parse(NULL, 0, CT, &f), -EINVAL);
  assert_int_equal(diag_form_parse("", 0, CT, &f), -EINVAL);
}

/* Every prefix of the form is cut short (no closing delimiter yet) and
 * fails; none reads past its end (each is an exactly sized heap copy). */
static void test_every_truncation(void **state) {
  (void)state;
  size_t len = sizeof curl_form - 1;
  size_t closing = (size_t)(strstr(curl_form, "--XyZ--") - curl_form) + 7;
  for (size_t k = 0; k <= len; k++) {
    struct diag_form f;
    char *b = exact(curl_form, k);
    int rc = diag_form_parse(b, k, CT, &f);
    if (k < closing) {
      assert_int_equal(rc, -EINVAL);
      assert_int_equal(f.n, 0);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(f.n, 3);
    }
    free(b);
  }
}

/* Parses a hostile body of `len` bytes made of `unit` repeated; returns the
 * result and adds the time taken to *ms. */
static int hostile(const char *unit, size_t len, double *ms) {
  size_t u = strlen(unit);
  char *b = malloc(len);
  assert_non_null(b);
  for (size_t i = 0; i < len; i++)
    b[i] = unit[i % u];
  struct diag_form f;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int rc = diag_form_parse(b, len, "multipart/form-data; boundary=b", &f);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  *ms += (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
         (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  free(b);
  return rc;
}

/* 4 MiB bodies (the proxy's limit) built to make a naive parser rescan the
 * rest of the body from every part or line: the quadratic parser this
 * replaces took 52 s on 512 KiB of the first one. Linear time means well
 * under a second for all of them, even on a loaded machine. */
static void test_hostile_linear(void **state) {
  (void)state;
  size_t len = 4u << 20;
  double ms = 0;
  assert_int_equal(hostile("--b\n\nx", len, &ms), -EINVAL);
  assert_int_equal(hostile("x\n--bX", len, &ms), -EINVAL);
  assert_int_equal(hostile("\n", len, &ms), -EINVAL);
  assert_int_equal(hostile("--b\n\n\n", len, &ms), -E2BIG);
  assert_int_equal(hostile("--b\nContent-Disposition: a\n", len, &ms), -E2BIG);
  assert_int_equal(hostile("--b\n\n--b \n\n", len, &ms), -E2BIG);
  assert_int_equal(hostile("-\n--", len, &ms), -EINVAL);
  print_message("7 hostile 4 MiB bodies parsed in %.1f ms\n", ms);
  assert_true(ms < 2000);
}

/* A form of n empty parts named f0, f1, ... */
static char *parts_form(size_t n, size_t *len) {
  size_t cap = 64 * n + 16, o = 0;
  char *b = malloc(cap);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++)
    o += (size_t)snprintf(b + o, cap - o,
                          "--XyZ\r\nContent-Disposition: form-data; "
                          "name=\"f%zu\"\r\n\r\n\r\n",
                          i);
  o += (size_t)snprintf(b + o, cap - o, "--XyZ--\r\n");
  *len = o;
  return b;
}

static void test_limit_parts(void **state) {
  (void)state;
  struct diag_form f;
  size_t len;
  char *b = parts_form(DIAG_FORM_MAX_PARTS, &len);
  assert_int_equal(diag_form_parse(b, len, CT, &f), 0);
  assert_int_equal(f.n, DIAG_FORM_MAX_PARTS);
  free(b);
  b = parts_form(DIAG_FORM_MAX_PARTS + 1, &len);
  assert_int_equal(diag_form_parse(b, len, CT, &f), -E2BIG);
  free(b);
}

/* One part whose headers (through the empty line) take head_bytes, with a
 * name of name_bytes. */
static int one_part(size_t head_bytes, size_t name_bytes) {
  char name[256], head[4096], body[8192];
  memset(name, 'n', name_bytes);
  name[name_bytes] = '\0';
  int n = snprintf(head, sizeof head,
                   "Content-Disposition: form-data; name=\"%s\"\r\n", name);
  size_t pad = head_bytes - (size_t)n - 2 - 8; /* "X-Pad:", "\r\n\r\n" */
  n += snprintf(head + n, sizeof head - (size_t)n, "X-Pad:%*s\r\n\r\n",
                (int)pad, "");
  assert_int_equal((size_t)n, head_bytes);
  int len =
      snprintf(body, sizeof body, "--XyZ\r\n%svalue\r\n--XyZ--\r\n", head);
  char *b = exact(body, (size_t)len);
  struct diag_form f;
  int rc = diag_form_parse(b, (size_t)len, CT, &f);
  if (rc == 0) {
    assert_int_equal(f.n, 1);
    assert_int_equal(f.field[0].name_len, name_bytes);
    assert_int_equal(f.field[0].value_len, 5);
  }
  free(b);
  return rc;
}

static void test_limit_part_head(void **state) {
  (void)state;
  assert_int_equal(one_part(DIAG_FORM_MAX_PART_HEAD_BYTES, 5), 0);
  assert_int_equal(one_part(DIAG_FORM_MAX_PART_HEAD_BYTES + 1, 5), -E2BIG);
}

static void test_limit_name(void **state) {
  (void)state;
  assert_int_equal(one_part(200, DIAG_FORM_MAX_NAME_BYTES), 0);
  assert_int_equal(one_part(200, DIAG_FORM_MAX_NAME_BYTES + 1), -E2BIG);
}

static void test_limit_boundary(void **state) {
  (void)state;
  char b[DIAG_FORM_MAX_BOUNDARY_BYTES + 2], ct[160], body[256];
  for (size_t blen = DIAG_FORM_MAX_BOUNDARY_BYTES;
       blen <= DIAG_FORM_MAX_BOUNDARY_BYTES + 1; blen++) {
    memset(b, 'b', blen);
    b[blen] = '\0';
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b);
    int len = snprintf(body, sizeof body,
                       "--%s\r\nContent-Disposition: form-data; "
                       "name=\"gomod\"\r\n\r\nm\r\n--%s--\r\n",
                       b, b);
    struct diag_form f;
    assert_int_equal(diag_form_parse(body, (size_t)len, ct, &f),
                     blen <= DIAG_FORM_MAX_BOUNDARY_BYTES ? 0 : -EINVAL);
  }
}

/* An HTML form's default encoding: '+' and %XX decoded, '/' and newlines
 * as browsers escape them, a field without '=', empty pairs skipped; at
 * every cut, an exactly sized copy (ASan sees a read past the end). */
static void test_urlencoded(void **state) {
  (void)state;
  static const char body[] =
      "gomod=module+example.com%2Fm%0D%0A%0D%0Ago+1.22%0D%0A"
      "&&go_version=go1.22%2b1&gosum&x%41=%7e";
  size_t len = sizeof body - 1;
  struct diag_form f;
  char *b = exact(body, len);
  assert_int_equal(diag_form_parse_urlencoded(b, len, &f), 0);
  assert_int_equal(f.n, 4);
  expect_field(&f, "gomod", "module example.com/m\r\n\r\ngo 1.22\r\n");
  expect_field(&f, "go_version", "go1.22+1");
  expect_field(&f, "gosum", "");
  expect_field(&f, "xA", "~");
  free(b);
  /* A name twice (paste or upload): the first that is not empty. */
  char twice[] = "g=&g=x&g=y&h=&h=";
  assert_int_equal(diag_form_parse_urlencoded(twice, strlen(twice), &f), 0);
  expect_field(&f, "g", "x");
  expect_field(&f, "h", "");
  for (size_t cut = 0; cut < len; cut++) {
    b = exact(body, cut);
    int rc = diag_form_parse_urlencoded(b, cut, &f);
    assert_true(rc == 0 || rc == -EINVAL);
    free(b);
  }
}

static void test_urlencoded_bad(void **state) {
  (void)state;
  struct diag_form f;
  static const char *const bad[] = {"a=%", "a=%4", "a=%zz", "%g=1"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char *b = exact(bad[i], strlen(bad[i]));
    assert_int_equal(diag_form_parse_urlencoded(b, strlen(bad[i]), &f),
                     -EINVAL);
    assert_int_equal(f.n, 0);
    free(b);
  }
  /* DIAG_FORM_MAX_PARTS fields, then one more. */
  char many[DIAG_FORM_MAX_PARTS * 4 + 8] = "";
  for (int i = 0; i < DIAG_FORM_MAX_PARTS; i++)
    strcat(many, "a=1&");
  assert_int_equal(diag_form_parse_urlencoded(many, strlen(many), &f), 0);
  assert_int_equal(f.n, DIAG_FORM_MAX_PARTS);
  strcat(many, "b");
  assert_int_equal(diag_form_parse_urlencoded(many, strlen(many), &f), -E2BIG);
  /* A name of DIAG_FORM_MAX_NAME_BYTES, then one byte longer. */
  char name[DIAG_FORM_MAX_NAME_BYTES + 8];
  memset(name, 'n', DIAG_FORM_MAX_NAME_BYTES);
  strcpy(name + DIAG_FORM_MAX_NAME_BYTES, "=1");
  assert_int_equal(diag_form_parse_urlencoded(name, strlen(name), &f), 0);
  memset(name, 'n', DIAG_FORM_MAX_NAME_BYTES + 1);
  strcpy(name + DIAG_FORM_MAX_NAME_BYTES + 1, "=1");
  assert_int_equal(diag_form_parse_urlencoded(name, strlen(name), &f), -E2BIG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whole),
      cmocka_unit_test(test_variants),
      cmocka_unit_test(test_not_a_form),
      cmocka_unit_test(test_every_truncation),
      cmocka_unit_test(test_hostile_linear),
      cmocka_unit_test(test_limit_parts),
      cmocka_unit_test(test_limit_part_head),
      cmocka_unit_test(test_limit_name),
      cmocka_unit_test(test_limit_boundary),
      cmocka_unit_test(test_urlencoded),
      cmocka_unit_test(test_urlencoded_bad),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
