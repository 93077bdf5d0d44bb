/* gozip_create: x/mod zip.Create's rules, determinism, and agreement with
 * gozip_inspect (the zip it writes is readable, follows the rules, and
 * has the h1 the writer reports). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/gozip.h"

struct mem {
  char *buf;
  size_t len, cap;
  const char *cur; /* content of the open file */
  size_t off, n;
};

static int m_open(void *ctx, const struct gozip_create_file *f) {
  struct mem *m = ctx;
  m->cur = f->ctx;
  m->off = 0;
  m->n = f->ctx != NULL ? strlen(f->ctx) : 0;
  return 0;
}

static int64_t m_read(void *ctx, void *buf, size_t len) {
  struct mem *m = ctx;
  size_t k = m->n - m->off < len ? m->n - m->off : len;
  memcpy(buf, m->cur + m->off, k);
  m->off += k;
  return (int64_t)k;
}

static void m_close(void *ctx) {}

static int m_write(void *ctx, const void *p, size_t len) {
  struct mem *m = ctx;
  if (m->len + len > m->cap) {
    m->cap = (m->len + len) * 2;
    m->buf = realloc(m->buf, m->cap);
  }
  memcpy(m->buf + m->len, p, len);
  m->len += len;
  return 0;
}

static int64_t m_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  struct mem *m = ctx;
  if (off >= m->len)
    return 0;
  size_t k = m->len - off < len ? m->len - off : len;
  memcpy(buf, m->buf + off, k);
  return (int64_t)k;
}

#define F(p, k, s)                                                             \
  { p, k, sizeof(s) - 1, (void *)(s) }

static int create(struct gozip_create_file *files, size_t n, struct mem *m,
                  struct gozip_create_report *rep) {
  memset(m, 0, sizeof *m);
  struct gozip_create_io io = {m_open, m_read, m_close, m_write, m};
  return gozip_create("example.com/m", "v1.0.0", files, n, &io, rep);
}

static void test_rules(void **state) {
  struct gozip_create_file files[] = {
      F("go.mod", GOZIP_FILE_REGULAR, "module example.com/m\n"),
      F("m.go", GOZIP_FILE_REGULAR, "package m\n"),
      F("vendor/modules.txt", GOZIP_FILE_REGULAR, "# x\n"),
      F("vendor/example.com/x/x.go", GOZIP_FILE_REGULAR, "package x\n"),
      F("a/vendor/y.go", GOZIP_FILE_REGULAR, "package y\n"), /* quirk */
      F("sub/go.mod", GOZIP_FILE_REGULAR, "module example.com/m/sub\n"),
      F("sub/s.go", GOZIP_FILE_REGULAR, "package s\n"),
      F("link.go", GOZIP_FILE_SYMLINK, "m.go"),
      F(".hg_archival.txt", GOZIP_FILE_REGULAR, "x"),
      F("dir", GOZIP_FILE_DIR, ""),
  };
  struct mem m;
  struct gozip_create_report rep;
  assert_int_equal(create(files, sizeof files / sizeof files[0], &m, &rep), 0);
  assert_int_equal(rep.files, 3); /* go.mod, m.go, vendor/modules.txt */
  assert_int_equal(rep.omitted, 7);
  struct gozip_reader r = {m.len, m_read_at, &m};
  struct gozip_report ir;
  assert_int_equal(gozip_inspect(&r, "example.com/m", "v1.0.0", &ir), 0);
  assert_int_equal(ir.violation_count, 0);
  assert_int_equal(ir.entries, 3);
  assert_string_equal(ir.h1, rep.h1);
  /* Deterministic. */
  struct mem m2;
  struct gozip_create_report rep2;
  assert_int_equal(create(files, sizeof files / sizeof files[0], &m2, &rep2),
                   0);
  assert_int_equal(m.len, m2.len);
  assert_memory_equal(m.buf, m2.buf, m.len);
  free(m.buf);
  free(m2.buf);
}

static void test_invalid(void **state) {
  struct mem m;
  struct gozip_create_report rep;
  struct gozip_create_file collide[] = {
      F("a.go", GOZIP_FILE_REGULAR, "x"),
      F("A.go", GOZIP_FILE_REGULAR, "y"),
  };
  assert_int_equal(create(collide, 2, &m, &rep), -EINVAL);
  assert_non_null(strstr(rep.error, "case-insensitive file name collision"));
  free(m.buf);
  struct gozip_create_file gomod[] = {F("GO.MOD", GOZIP_FILE_REGULAR, "x")};
  assert_int_equal(create(gomod, 1, &m, &rep), -EINVAL);
  assert_non_null(strstr(rep.error, "lowercase"));
  free(m.buf);
  struct gozip_create_file unclean[] = {
      F("a/../b.go", GOZIP_FILE_REGULAR, "x")};
  assert_int_equal(create(unclean, 1, &m, &rep), -EINVAL);
  assert_non_null(strstr(rep.error, "not clean"));
  free(m.buf);
  struct gozip_create_file shorter[] = {{"a.go", GOZIP_FILE_REGULAR, 5, "x"}};
  assert_int_equal(create(shorter, 1, &m, &rep), -EINVAL);
  free(m.buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rules),
      cmocka_unit_test(test_invalid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
