/*
 * The h1 hash (proxy/gomod/h1.c) against the x/mod v0.7.0 dirhash.Hash1
 * vectors, in the given and the reversed file order, and the go.mod hash;
 * then the zip hashes of GOPROXY-PROTOCOL.md section 7.3.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "modproxy/gomod.h"
#include "testutil.h"

#include "gomod_expect.h"

#define ERROR_MARK "!ERROR"
#define HASH1_ROWS 7
#define MAX_FILES 16

/* A file set given as parallel ';'-separated name and content lists. */
struct file_set {
  struct gomod_h1_file files[MAX_FILES];
  char *contents[MAX_FILES];
  size_t lens[MAX_FILES];
  size_t n;
};

/* Splits a raw (still percent-encoded) list on ';' and decodes each item
 * in place; an empty list is one empty item. Returns the count. */
static size_t split_list(int line, char *list, char **items, size_t *lens) {
  size_t n = 0;
  for (char *p = list;; p++) {
    char *semi = strchr(p, ';');
    if (n == MAX_FILES)
      fail_msg("line %d: more than %d files", line, MAX_FILES);
    if (semi != NULL)
      *semi = '\0';
    items[n] = p;
    lens[n++] = tsv_unescape(p);
    if (semi == NULL)
      return n;
    p = semi;
  }
}

static void load_set(int line, char *names, char *contents,
                     struct file_set *s) {
  char *name_items[MAX_FILES];
  size_t name_lens[MAX_FILES];
  size_t nc = split_list(line, contents, s->contents, s->lens);

  /* An empty name list is no files (the vectors cannot hold one file with
   * an empty name). */
  s->n = names[0] != '\0' ? split_list(line, names, name_items, name_lens) : 0;
  if (s->n > 0)
    want_int(line, "content count", (long long)nc, (long long)s->n);
  for (size_t i = 0; i < s->n; i++) {
    s->files[i].name = name_items[i];
    EVP_Digest(s->contents[i], s->lens[i], s->files[i].sha256, NULL,
               EVP_sha256(), NULL);
  }
}

/* Hash1 of the set, or "!ERROR" for -EINVAL. */
static void want_h1(int line, const char *what, struct gomod_h1_file *files,
                    size_t n, const char *want) {
  char out[GOMOD_H1_BYTES];
  int rc = gomod_h1(files, n, out);
  if (strcmp(want, ERROR_MARK) == 0) {
    want_int(line, what, rc, -EINVAL);
    return;
  }
  want_int(line, what, rc, 0);
  want_str(line, what, out, want);
}

/* names(;-separated)  contents(;-separated)  Hash1 */
static void on_hash1(const struct tsv_row *row, void *arg) {
  struct file_set s;
  struct gomod_h1_file reversed[MAX_FILES];
  int line = row->lineno;

  want_fields(row, 3);
  load_set(line, row->field[0], row->field[1], &s);
  tsv_unescape(row->field[2]);
  for (size_t i = 0; i < s.n; i++)
    reversed[i] = s.files[s.n - 1 - i];
  want_h1(line, "Hash1", s.files, s.n, row->field[2]);
  want_h1(line, "Hash1 reversed", reversed, s.n, row->field[2]);
  if (s.n == 1 && strcmp(s.files[0].name, "go.mod") == 0) {
    char out[GOMOD_H1_BYTES];
    want_int(line, "go.mod hash", gomod_h1_gomod(s.contents[0], s.lens[0], out),
             0);
    want_str(line, "go.mod hash", out, row->field[2]);
  }
}

static void test_hash1(void **state) {
  want_int(0, "rows", tsv_each("hash1.tsv", 0, on_hash1, NULL), HASH1_ROWS);
}

/* A zip's hash covers every entry name, so a directory entry changes it. */
static void test_zip_hashes(void **state) {
  char names[] = "example.com/m@v1.0.0/go.mod;example.com/m@v1.0.0/a.go;"
                 "example.com/m@v1.0.0/";
  char contents[] = "module example.com/m%0A;package m%0A;";
  struct file_set s;

  load_set(0, names, contents, &s);
  want_h1(0, "zip", s.files, 2,
          "h1:SXy42eQ/QbleX7vtuAPFnaM3tNuQnfeo7rulG/p7iOw=");
  want_h1(0, "zip with directory", s.files, 3,
          "h1:b7KR3xYtxOCgxAkHd0W3O9FtN/63njZb4ggUqZG5DJI=");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash1),
      cmocka_unit_test(test_zip_hashes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
