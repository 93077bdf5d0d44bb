/*
 * The SQLite store (the files of store/) on a temporary directory: opening and
 * migrating (user_version, refusing a newer schema, reopening keeps data),
 * .info/.mod parts (stored bytes never change, the go.sum h1 of a .mod),
 * zips ingested from a real zip file written with libzip (metadata checked
 * against hashes computed here, reads at many offsets and in many chunk
 * sizes), refused zips (truncated: -EBADMSG; rule-breaking under strict:
 * -EPERM) that leave nothing behind, expiring answers, the stats, and
 * readers on four threads while another thread publishes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <zip.h>

#include "testutil.h"
#include "modproxy/store.h"

/* store/versions.c copies zips in 256 KiB chunks: the test zips span more
 * than two of them so the chunk seams are exercised. */
#define STORE_CHUNK (256u << 10)
#define BIG_FILE_BYTES (STORE_CHUNK * 2 + 12345)

#define MOD_A "module example.com/m\n"
#define MOD_A_H1 "h1:flS2VctbRrTv+sBE+VKgxx6hlkMGPVz9MGOmzMYFg3k="

/* ---- helpers ------------------------------------------------------------ */

struct fixture {
  char dir[64];
  struct store *st;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  if (test_mkdtemp(f->dir, sizeof f->dir, "test_store") < 0) {
    free(f);
    return -1;
  }
  if (store_open(f->dir, &f->st) != 0) {
    test_rm_tree(f->dir);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  store_close(f->st);
  test_rm_tree(f->dir);
  free(f);
  return 0;
}

/* Deterministic pseudo-random bytes (xorshift64). */
static void fill_random(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (unsigned char)(x >> 24);
  }
}

static void sha256_hex(const void *data, size_t len, char hex[65]) {
  unsigned char d[32];
  EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/* One file of a test zip. */
struct zfile {
  const char *name;
  const unsigned char *data;
  size_t len;
  int deflate;
};

static int cmp_zfile(const void *a, const void *b) {
  return strcmp(((const struct zfile *)a)->name,
                ((const struct zfile *)b)->name);
}

/* dirhash.Hash1 computed here, independently of proxy/gomod/h1.c: the
 * SHA-256 of the sorted "<hex sha256>  <name>\n" lines, base64. */
static void h1_of(struct zfile *files, size_t n, char out[GOMOD_H1_BYTES]) {
  qsort(files, n, sizeof *files, cmp_zfile);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  assert_non_null(md);
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (size_t i = 0; i < n; i++) {
    char hex[65], line[1024];
    sha256_hex(files[i].data, files[i].len, hex);
    int k = snprintf(line, sizeof line, "%s  %s\n", hex, files[i].name);
    EVP_DigestUpdate(md, line, (size_t)k);
  }
  unsigned char d[32];
  EVP_DigestFinal_ex(md, d, NULL);
  EVP_MD_CTX_free(md);
  unsigned char b64[64];
  EVP_EncodeBlock(b64, d, 32);
  snprintf(out, GOMOD_H1_BYTES, "h1:%s", (const char *)b64);
}

/* Writes a zip of files to path with libzip. */
static void write_zip(const char *path, const struct zfile *files, size_t n) {
  int err = 0;
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (za == NULL)
    fail_msg("zip_open %s: error %d", path, err);
  for (size_t i = 0; i < n; i++) {
    zip_source_t *src = zip_source_buffer(za, files[i].data, files[i].len, 0);
    assert_non_null(src);
    zip_int64_t idx = zip_file_add(za, files[i].name, src, ZIP_FL_ENC_UTF_8);
    if (idx < 0)
      fail_msg("zip_file_add %s: %s", files[i].name, zip_strerror(za));
    assert_int_equal(zip_set_file_compression(
                         za, (zip_uint64_t)idx,
                         files[i].deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0),
                     0);
  }
  if (zip_close(za) != 0)
    fail_msg("zip_close %s: %s", path, zip_strerror(za));
}

/* Reads a whole file into a heap buffer. */
static unsigned char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  assert_true(n >= 0);
  fseek(fp, 0, SEEK_SET);
  unsigned char *p = malloc((size_t)n + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
  fclose(fp);
  *len = (size_t)n;
  return p;
}

/* A module zip for example.com/m@<version>: go.mod (deflated), a big
 * stored random file and a small deflated source file. Writes it to path,
 * and its expected h1 to h1 (may be NULL). */
struct test_zip {
  char path[128];
  unsigned char *bytes; /* the zip file's bytes */
  size_t len;
  char h1[GOMOD_H1_BYTES];
  char sha256[65];
};

static void make_module_zip(const char *dir, const char *version, uint64_t seed,
                            size_t big_len, struct test_zip *z) {
  static const char gomod[] = MOD_A;
  static const char src[] = "package m\n\nfunc F() int { return 1 }\n";
  char n1[128], n2[128], n3[128];
  snprintf(n1, sizeof n1, "example.com/m@%s/go.mod", version);
  snprintf(n2, sizeof n2, "example.com/m@%s/data/blob.bin", version);
  snprintf(n3, sizeof n3, "example.com/m@%s/m.go", version);
  unsigned char *big = malloc(big_len);
  assert_non_null(big);
  fill_random(big, big_len, seed);
  struct zfile files[] = {
      {n1, (const unsigned char *)gomod, sizeof gomod - 1, 1},
      {n2, big, big_len, 0},
      {n3, (const unsigned char *)src, sizeof src - 1, 1},
  };
  snprintf(z->path, sizeof z->path, "%s/%s.zip", dir, version);
  write_zip(z->path, files, 3);
  h1_of(files, 3, z->h1);
  free(big);
  z->bytes = slurp(z->path, &z->len);
  sha256_hex(z->bytes, z->len, z->sha256);
}

static void test_zip_free(struct test_zip *z) {
  free(z->bytes);
  z->bytes = NULL;
}

static int put_zip_file(struct store *st, const char *version, const char *path,
                        int strict, struct gozip_report *rep) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  int rc = store_zip_put_fd(st, "example.com/m", version, fd, "test-origin",
                            strict, NULL, rep);
  close(fd);
  return rc;
}

static struct store_stats stats(struct store *st) {
  struct store_stats s;
  memset(&s, 0xff, sizeof s);
  assert_int_equal(store_stats_get(st, &s), 0);
  return s;
}

/* Opens the database file with SQLite directly. */
static sqlite3 *raw_open(const char *dir) {
  char path[128];
  snprintf(path, sizeof path, "%s/modproxy.db", dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  return db;
}

/* 1 if the database has a table of that name. */
static int has_table(const char *dir, const char *name) {
  sqlite3 *db = raw_open(dir);
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*) FROM sqlite_master"
                                      " WHERE type = 'table' AND name = ?1",
                                      -1, &s, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int n = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

/* The user_version in the database file, read with SQLite directly. */
static int file_user_version(const char *dir) {
  sqlite3 *db = raw_open(dir);
  sqlite3_stmt *s = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int v = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

/* ---- open and migrate ---------------------------------------------------- */

static void test_open_migrates_new_dir(void **state) {
  (void)state;
  char dir[64];
  assert_int_equal(test_mkdtemp(dir, sizeof dir, "test_store"), 0);
  /* A data directory that does not exist yet is created. */
  char sub[96];
  snprintf(sub, sizeof sub, "%s/data", dir);
  struct store *st = NULL;
  assert_int_equal(store_open(sub, &st), 0);
  assert_non_null(st);
  /* The schema is at the last migration, whatever number that is (at least
   * the first), and user_version in the file says the same. */
  int v = store_schema_version(st);
  assert_true(v >= 1);
  struct store_stats s = stats(st);
  assert_int_equal(s.versions, 0);
  assert_int_equal(s.zips, 0);
  assert_int_equal(s.zip_bytes, 0);
  assert_int_equal(s.answers, 0);
  store_close(st);
  assert_int_equal(file_user_version(sub), v);
  assert_int_equal(has_table(sub, "versions"), 1);
  assert_int_equal(has_table(sub, "zip_chunks"), 1);
  assert_int_equal(has_table(sub, "answers"), 1);
  assert_int_equal(has_table(sub, "no_such_table"), 0);
  /* Reopening an up-to-date store runs no migration (a migration that ran
   * again would fail on its existing tables) and stays at v. */
  st = NULL;
  assert_int_equal(store_open(sub, &st), 0);
  assert_int_equal(store_schema_version(st), v);
  store_close(st);
  assert_int_equal(file_user_version(sub), v);
  st = NULL;
  store_close(st);
  store_close(NULL); /* accepts NULL */
  test_rm_tree(dir);
}

static void test_reopen_keeps_data(void **state) {
  struct fixture *f = *state;
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.0.0", STORE_MOD,
                                  MOD_A, strlen(MOD_A), "o1"),
                   0);
  assert_int_equal(store_answer_put(f->st, "example.com/m", "@v/list", 200,
                                    "v1.0.0\n", 7, 1234, "o2"),
                   0);
  store_close(f->st);
  f->st = NULL;
  assert_int_equal(store_open(f->dir, &f->st), 0);
  struct store_bytes b = {0};
  char h1[GOMOD_H1_BYTES] = "";
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_MOD, &b, h1), 0);
  assert_int_equal(b.len, strlen(MOD_A));
  assert_memory_equal(b.data, MOD_A, b.len);
  assert_string_equal(h1, MOD_A_H1);
  store_bytes_free(&b);
  struct store_answer a;
  assert_int_equal(store_answer_get(f->st, "example.com/m", "@v/list", &a), 0);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.fetched, 1234);
  assert_int_equal(a.body.len, 7);
  assert_memory_equal(a.body.data, "v1.0.0\n", 7);
  store_answer_dispose(&a);
  assert_int_equal(stats(f->st).versions, 1);
}

static void test_newer_schema_refused(void **state) {
  (void)state;
  char dir[64];
  assert_int_equal(test_mkdtemp(dir, sizeof dir, "test_store"), 0);
  char path[128];
  snprintf(path, sizeof path, "%s/modproxy.db", dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db, "PRAGMA user_version=1000", NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  struct store *st = NULL;
  assert_int_equal(store_open(dir, &st), -EPROTO);
  /* The newer database is left as it was. */
  assert_int_equal(file_user_version(dir), 1000);
  test_rm_tree(dir);
}

static void test_open_unusable_dir(void **state) {
  (void)state;
  struct store *st = NULL;
  /* A path under a regular file cannot become a directory. */
  char dir[64];
  assert_int_equal(test_mkdtemp(dir, sizeof dir, "test_store"), 0);
  char file[96], under[128];
  snprintf(file, sizeof file, "%s/file", dir);
  FILE *fp = fopen(file, "w");
  assert_non_null(fp);
  fclose(fp);
  snprintf(under, sizeof under, "%s/sub", file);
  int rc = store_open(under, &st);
  assert_true(rc < 0);
  test_rm_tree(dir);
}

/* ---- .info and .mod ------------------------------------------------------ */

static void test_part_put_get(void **state) {
  struct fixture *f = *state;
  static const char info[] =
      "{\"Version\":\"v1.0.0\",\"Time\":\"2020-01-01T00:00:00Z\"}";
  struct store_bytes b = {0};
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_INFO, &b, NULL),
      -ENOENT);
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.0.0", STORE_INFO,
                                  info, strlen(info), "https://up"),
                   0);
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_INFO, &b, NULL),
      0);
  assert_int_equal(b.len, strlen(info));
  assert_memory_equal(b.data, info, b.len);
  assert_int_equal(b.data[b.len], '\0');
  store_bytes_free(&b);
  assert_null(b.data);
  store_bytes_free(NULL);
  /* Only the .info is there: the .mod of the same version is not. */
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_MOD, &b, NULL),
      -ENOENT);
  /* Other versions and other modules are not. */
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.1", STORE_INFO, &b, NULL),
      -ENOENT);
  assert_int_equal(
      store_part_get(f->st, "example.com/M", "v1.0.0", STORE_INFO, &b, NULL),
      -ENOENT);
  /* A zip is not a part. */
  assert_int_equal(
      store_part_put(f->st, "example.com/m", "v1.0.0", STORE_ZIP, "x", 1, NULL),
      -EINVAL);
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_ZIP, &b, NULL),
      -EINVAL);
  /* Bytes with a NUL survive. */
  static const char bin[] = {'{', 0, 'x', '}'};
  assert_int_equal(store_part_put(f->st, "example.com/m", "v2.0.0+incompatible",
                                  STORE_INFO, bin, sizeof bin, NULL),
                   0);
  assert_int_equal(store_part_get(f->st, "example.com/m", "v2.0.0+incompatible",
                                  STORE_INFO, &b, NULL),
                   0);
  assert_int_equal(b.len, sizeof bin);
  assert_memory_equal(b.data, bin, sizeof bin);
  store_bytes_free(&b);
}

static void test_part_put_idempotent(void **state) {
  struct fixture *f = *state;
  static const char first[] = "{\"Version\":\"v1.0.0\"}";
  static const char second[] = "{\"Version\":\"v1.0.0\",\"Time\":\"x\"}";
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.0.0", STORE_INFO,
                                  first, strlen(first), "a"),
                   0);
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.0.0", STORE_INFO,
                                  second, strlen(second), "b"),
                   0);
  struct store_bytes b = {0};
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_INFO, &b, NULL),
      0);
  assert_int_equal(b.len, strlen(first));
  assert_memory_equal(b.data, first, b.len);
  store_bytes_free(&b);

  static const char mod2[] = "module example.com/m\n\ngo 1.19\n";
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.0.0", STORE_MOD,
                                  MOD_A, strlen(MOD_A), "a"),
                   0);
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.0.0", STORE_MOD,
                                  mod2, strlen(mod2), "b"),
                   0);
  char h1[GOMOD_H1_BYTES] = "";
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_MOD, &b, h1), 0);
  assert_int_equal(b.len, strlen(MOD_A));
  assert_memory_equal(b.data, MOD_A, b.len);
  assert_string_equal(h1, MOD_A_H1);
  store_bytes_free(&b);
  /* The .info is still the first one after the .mod went in. */
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_INFO, &b, NULL),
      0);
  assert_memory_equal(b.data, first, strlen(first));
  store_bytes_free(&b);
  /* One version row for both parts. */
  assert_int_equal(stats(f->st).versions, 1);
}

static void test_mod_h1(void **state) {
  struct fixture *f = *state;
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.2.3", STORE_MOD,
                                  MOD_A, strlen(MOD_A), NULL),
                   0);
  struct store_bytes b = {0};
  char h1[GOMOD_H1_BYTES];
  memset(h1, 'x', sizeof h1);
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.2.3", STORE_MOD, &b, h1), 0);
  assert_string_equal(h1, MOD_A_H1);
  store_bytes_free(&b);
  /* h1 may be NULL. */
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.2.3", STORE_MOD, &b, NULL), 0);
  assert_memory_equal(b.data, MOD_A, strlen(MOD_A));
  store_bytes_free(&b);
  /* A different go.mod has a different hash (and it is the h1 of its own
   * bytes, computed here with the same formula). */
  static const char other[] = "module example.com/other\n";
  assert_int_equal(store_part_put(f->st, "example.com/other", "v0.1.0",
                                  STORE_MOD, other, strlen(other), NULL),
                   0);
  assert_int_equal(
      store_part_get(f->st, "example.com/other", "v0.1.0", STORE_MOD, &b, h1),
      0);
  struct zfile zf = {"go.mod", (const unsigned char *)other, strlen(other), 0};
  char want[GOMOD_H1_BYTES];
  h1_of(&zf, 1, want);
  assert_string_equal(h1, want);
  assert_string_not_equal(h1, MOD_A_H1);
  store_bytes_free(&b);
}

/* ---- zips ---------------------------------------------------------------- */

static void check_zip_reads(struct store *st, const char *version,
                            const struct test_zip *z) {
  unsigned char *buf = malloc(z->len + 8192);
  assert_non_null(buf);
  /* Whole file in chunks of several sizes, including odd ones that do not
   * divide the store's chunk. */
  static const size_t chunks[] = {1 << 20, STORE_CHUNK, 65536, 4097, 1000, 7};
  for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
    if (chunks[c] == 7 && z->len > 200000)
      continue; /* byte-sized reads of the whole zip take too long */
    memset(buf, 0, z->len);
    uint64_t off = 0;
    for (;;) {
      int64_t n = store_zip_read(st, "example.com/m", version, off, buf + off,
                                 chunks[c]);
      assert_true(n >= 0);
      if (n == 0)
        break;
      assert_true((size_t)n <= chunks[c]);
      off += (uint64_t)n;
      assert_true(off <= z->len);
    }
    if (off != z->len)
      fail_msg("chunk %zu: read %llu bytes, want %zu", chunks[c],
               (unsigned long long)off, z->len);
    assert_memory_equal(buf, z->bytes, z->len);
  }
  /* Reads at offsets around the chunk seams and the ends. */
  const uint64_t offs[] = {0,
                           1,
                           100,
                           STORE_CHUNK - 1,
                           STORE_CHUNK,
                           STORE_CHUNK + 1,
                           2 * STORE_CHUNK - 3,
                           z->len / 2,
                           z->len - 1};
  for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    if (offs[i] >= z->len)
      continue;
    size_t want = z->len - offs[i] < 5000 ? z->len - offs[i] : 5000;
    memset(buf, 0, 5000);
    int64_t n =
        store_zip_read(st, "example.com/m", version, offs[i], buf, 5000);
    if (n != (int64_t)want)
      fail_msg("read at %llu: got %lld bytes, want %zu",
               (unsigned long long)offs[i], (long long)n, want);
    assert_memory_equal(buf, z->bytes + offs[i], want);
  }
  /* At and past the end: 0. */
  assert_int_equal(
      store_zip_read(st, "example.com/m", version, z->len, buf, 10), 0);
  assert_int_equal(
      store_zip_read(st, "example.com/m", version, z->len + 1000, buf, 10), 0);
  /* A zero-length read. */
  assert_int_equal(store_zip_read(st, "example.com/m", version, 0, buf, 0), 0);
  free(buf);
}

static void test_zip_put_and_read(void **state) {
  struct fixture *f = *state;
  struct test_zip z;
  make_module_zip(f->dir, "v1.0.0", 1, BIG_FILE_BYTES, &z);
  assert_true(z.len > 2 * STORE_CHUNK);

  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.0.0", &m),
                   -ENOENT);
  unsigned char tmp[16];
  assert_int_equal(store_zip_read(f->st, "example.com/m", "v1.0.0", 0, tmp, 16),
                   -ENOENT);

  struct gozip_report rep;
  assert_int_equal(put_zip_file(f->st, "v1.0.0", z.path, 1, &rep), 0);
  assert_string_equal(rep.h1, z.h1);
  assert_int_equal(rep.violation_count, 0);
  assert_int_equal(rep.entries, 3);

  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.0.0", &m), 0);
  assert_int_equal(m.size, z.len);
  assert_string_equal(m.h1, z.h1);
  assert_string_equal(m.sha256, z.sha256);
  assert_int_equal(m.violation_count, 0);
  assert_null(m.violations);
  store_zip_meta_dispose(&m);
  store_zip_meta_dispose(NULL);

  check_zip_reads(f->st, "v1.0.0", &z);

  struct store_stats s = stats(f->st);
  assert_int_equal(s.versions, 1);
  assert_int_equal(s.zips, 1);
  assert_int_equal(s.zip_bytes, z.len);
  /* A zip alone does not make a .info or .mod. */
  struct store_bytes b;
  assert_int_equal(
      store_part_get(f->st, "example.com/m", "v1.0.0", STORE_MOD, &b, NULL),
      -ENOENT);
  test_zip_free(&z);
}

/* With an expected h1 (a checksum database's), a zip whose h1 differs is
 * refused and nothing is stored; the report still names its h1. */
static void test_zip_put_want_h1(void **state) {
  struct fixture *f = *state;
  struct test_zip z;
  make_module_zip(f->dir, "v1.0.0", 1, 1000, &z);
  struct gozip_report rep;
  int fd = open(z.path, O_RDONLY);
  assert_true(fd >= 0);
  const char *other = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  assert_int_equal(store_zip_put_fd(f->st, "example.com/m", "v1.0.0", fd, "o",
                                    0, other, &rep),
                   -EILSEQ);
  assert_string_equal(rep.h1, z.h1);
  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.0.0", &m),
                   -ENOENT);
  assert_int_equal(store_zip_put_fd(f->st, "example.com/m", "v1.0.0", fd, "o",
                                    0, z.h1, &rep),
                   0);
  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.0.0", &m), 0);
  assert_string_equal(m.h1, z.h1);
  store_zip_meta_dispose(&m);
  close(fd);
  test_zip_free(&z);
}

static void test_zip_put_twice_keeps_first(void **state) {
  struct fixture *f = *state;
  struct test_zip z1, z2;
  make_module_zip(f->dir, "v1.0.0", 1, 3000, &z1);
  /* A different zip for the same version (other random contents). */
  char sub[96];
  snprintf(sub, sizeof sub, "%s/second", f->dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  make_module_zip(sub, "v1.0.0", 2, 5000, &z2);
  assert_string_not_equal(z1.sha256, z2.sha256);

  struct gozip_report rep;
  assert_int_equal(put_zip_file(f->st, "v1.0.0", z1.path, 0, &rep), 0);
  assert_int_equal(put_zip_file(f->st, "v1.0.0", z2.path, 0, &rep), 0);
  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.0.0", &m), 0);
  assert_int_equal(m.size, z1.len);
  assert_string_equal(m.sha256, z1.sha256);
  assert_string_equal(m.h1, z1.h1);
  store_zip_meta_dispose(&m);
  check_zip_reads(f->st, "v1.0.0", &z1);
  struct store_stats s = stats(f->st);
  assert_int_equal(s.zips, 1);
  assert_int_equal(s.zip_bytes, z1.len);
  test_zip_free(&z1);
  test_zip_free(&z2);
}

static void test_zip_truncated_refused(void **state) {
  struct fixture *f = *state;
  struct test_zip z;
  make_module_zip(f->dir, "v1.0.0", 3, BIG_FILE_BYTES, &z);
  /* Several truncations: inside the data, just before the central directory
   * ends, and one byte short. */
  const size_t cuts[] = {z.len / 2, z.len - 30, z.len - 1, 100, 0};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    char path[160];
    snprintf(path, sizeof path, "%s/cut%zu.zip", f->dir, i);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(z.bytes, 1, cuts[i], fp), cuts[i]);
    fclose(fp);
    struct gozip_report rep;
    int rc = put_zip_file(f->st, "v1.0.0", path, 0, &rep);
    if (rc != -EBADMSG)
      fail_msg("cut at %zu of %zu: rc %d, want -EBADMSG", cuts[i], z.len, rc);
    assert_true(rep.error[0] != '\0');
    struct store_zip_meta m;
    assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.0.0", &m),
                     -ENOENT);
    unsigned char tmp[8];
    assert_int_equal(
        store_zip_read(f->st, "example.com/m", "v1.0.0", 0, tmp, 8), -ENOENT);
    struct store_stats s = stats(f->st);
    assert_int_equal(s.versions, 0);
    assert_int_equal(s.zips, 0);
    assert_int_equal(s.zip_bytes, 0);
  }
  /* The whole file still goes in afterwards. */
  struct gozip_report rep;
  assert_int_equal(put_zip_file(f->st, "v1.0.0", z.path, 0, &rep), 0);
  assert_int_equal(stats(f->st).zips, 1);
  test_zip_free(&z);
}

static void test_zip_rule_violations(void **state) {
  struct fixture *f = *state;
  /* A file outside the module@version prefix breaks a module zip rule. */
  static const char gomod[] = MOD_A;
  static const char stray[] = "stray\n";
  struct zfile files[] = {
      {"example.com/m@v1.1.0/go.mod", (const unsigned char *)gomod,
       sizeof gomod - 1, 1},
      {"elsewhere/x.go", (const unsigned char *)stray, sizeof stray - 1, 1},
  };
  char path[128];
  snprintf(path, sizeof path, "%s/bad.zip", f->dir);
  write_zip(path, files, 2);

  struct gozip_report rep;
  assert_int_equal(put_zip_file(f->st, "v1.1.0", path, 1, &rep), -EPERM);
  assert_true(rep.violation_count > 0);
  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.1.0", &m),
                   -ENOENT);
  assert_int_equal(stats(f->st).versions, 0);
  assert_int_equal(stats(f->st).zips, 0);

  /* Not strict: stored as published, with the violations recorded. */
  assert_int_equal(put_zip_file(f->st, "v1.1.0", path, 0, &rep), 0);
  uint64_t count = rep.violation_count;
  assert_true(count > 0);
  assert_int_equal(store_zip_stat(f->st, "example.com/m", "v1.1.0", &m), 0);
  assert_int_equal(m.violation_count, count);
  assert_non_null(m.violations);
  assert_non_null(strstr(m.violations, "elsewhere/x.go"));
  store_zip_meta_dispose(&m);
  assert_null(m.violations);
  assert_int_equal(stats(f->st).zips, 1);
}

/* ---- answers ------------------------------------------------------------- */

static int collect_module(const char *module, void *arg) {
  char *seen = arg;
  size_t n = strlen(seen);
  snprintf(seen + n, 256 - n, "%s;", module);
  return 0;
}

static void test_answers(void **state) {
  struct fixture *f = *state;
  struct store_answer a;
  memset(&a, 0x55, sizeof a);
  assert_int_equal(store_answer_get(f->st, "example.com/m", "@v/list", &a),
                   -ENOENT);
  assert_int_equal(store_answer_put(f->st, "example.com/m", "@v/list", 200,
                                    "v1.0.0\nv1.1.0\n", 14, 1000, "https://a"),
                   0);
  assert_int_equal(store_answer_get(f->st, "example.com/m", "@v/list", &a), 0);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.body.len, 14);
  assert_memory_equal(a.body.data, "v1.0.0\nv1.1.0\n", 14);
  assert_int_equal(a.fetched, 1000);
  assert_non_null(a.origin);
  assert_string_equal(a.origin, "https://a");
  store_answer_dispose(&a);
  assert_null(a.origin);
  store_answer_dispose(NULL);

  /* Replace: everything changes, including to an empty body and no
   * origin. */
  assert_int_equal(store_answer_put(f->st, "example.com/m", "@v/list", 404, "",
                                    0, 2000, NULL),
                   0);
  assert_int_equal(store_answer_get(f->st, "example.com/m", "@v/list", &a), 0);
  assert_int_equal(a.status, 404);
  assert_int_equal(a.body.len, 0);
  assert_non_null(a.body.data);
  assert_int_equal(a.fetched, 2000);
  assert_null(a.origin);
  store_answer_dispose(&a);

  /* Another key and another module are separate. */
  assert_int_equal(store_answer_put(f->st, "example.com/m", "@latest", 410,
                                    "gone", 4, 3000, "o"),
                   0);
  assert_int_equal(store_answer_get(f->st, "example.com/m", "@v/list", &a), 0);
  assert_int_equal(a.status, 404);
  store_answer_dispose(&a);
  assert_int_equal(store_answer_get(f->st, "example.com/m", "@latest", &a), 0);
  assert_int_equal(a.status, 410);
  assert_memory_equal(a.body.data, "gone", 4);
  store_answer_dispose(&a);
  assert_int_equal(store_answer_get(f->st, "example.com/n", "@latest", &a),
                   -ENOENT);

  /* Large fetched times survive. */
  assert_int_equal(store_answer_put(f->st, "example.com/n", "@v/main.info", 200,
                                    "{}", 2, INT64_C(5000000000), "o"),
                   0);
  assert_int_equal(store_answer_get(f->st, "example.com/n", "@v/main.info", &a),
                   0);
  assert_int_equal(a.fetched, INT64_C(5000000000));
  store_answer_dispose(&a);

  struct store_stats s = stats(f->st);
  assert_int_equal(s.answers, 3);
  /* Answers are not versions. */
  assert_int_equal(s.versions, 0);

  /* Module paths ("did you mean"): those with a found answer or a version,
   * each once; at most max of them. */
  char seen[256] = "";
  assert_int_equal(store_modules_each(f->st, 10, collect_module, seen), 0);
  assert_string_equal(seen, "example.com/n;");
  assert_int_equal(store_part_put(f->st, "example.com/v", "v1.0.0", STORE_INFO,
                                  "{}", 2, NULL),
                   0);
  assert_int_equal(store_part_put(f->st, "example.com/n", "v1.0.0", STORE_INFO,
                                  "{}", 2, NULL),
                   0);
  seen[0] = '\0';
  assert_int_equal(store_modules_each(f->st, 10, collect_module, seen), 0);
  assert_string_equal(seen, "example.com/n;example.com/v;");
  seen[0] = '\0';
  assert_int_equal(store_modules_each(f->st, 1, collect_module, seen), 0);
  assert_string_equal(seen, "example.com/n;");
}

static void test_stats(void **state) {
  struct fixture *f = *state;
  struct store_stats s = stats(f->st);
  assert_int_equal(s.versions, 0);
  assert_int_equal(s.zips, 0);
  assert_int_equal(s.zip_bytes, 0);
  assert_int_equal(s.answers, 0);
  store_part_put(f->st, "example.com/m", "v1.0.0", STORE_MOD, MOD_A,
                 strlen(MOD_A), NULL);
  store_part_put(f->st, "example.com/m", "v1.0.1", STORE_INFO, "{}", 2, NULL);
  struct test_zip z1, z2;
  make_module_zip(f->dir, "v1.0.0", 4, 1000, &z1);
  make_module_zip(f->dir, "v1.0.2", 5, 2000, &z2);
  struct gozip_report rep;
  assert_int_equal(put_zip_file(f->st, "v1.0.0", z1.path, 0, &rep), 0);
  assert_int_equal(put_zip_file(f->st, "v1.0.2", z2.path, 0, &rep), 0);
  store_answer_put(f->st, "example.com/m", "@v/list", 200, "x", 1, 1, NULL);
  s = stats(f->st);
  assert_int_equal(s.versions, 3);
  assert_int_equal(s.zips, 2);
  assert_int_equal(s.zip_bytes, z1.len + z2.len);
  assert_int_equal(s.answers, 1);
  test_zip_free(&z1);
  test_zip_free(&z2);
}

/* ---- concurrency --------------------------------------------------------- */

#define CONC_VERSIONS 12
#define CONC_READERS 4

struct conc {
  struct store *st;
  struct test_zip zips[CONC_VERSIONS];
  char versions[CONC_VERSIONS][16];
  atomic_int writer_done;
  atomic_int write_errors;
  atomic_int read_errors;
  atomic_long zips_seen;
  char first_error[256];
  pthread_mutex_t err_lock;
};

static void conc_error(struct conc *c, const char *fmt, ...) {
  atomic_fetch_add(&c->read_errors, 1);
  pthread_mutex_lock(&c->err_lock);
  if (c->first_error[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->first_error, sizeof c->first_error, fmt, ap);
    va_end(ap);
  }
  pthread_mutex_unlock(&c->err_lock);
}

static void *conc_writer(void *arg) {
  struct conc *c = arg;
  for (int i = 0; i < CONC_VERSIONS; i++) {
    if (store_part_put(c->st, "example.com/m", c->versions[i], STORE_MOD, MOD_A,
                       strlen(MOD_A), "w") != 0)
      atomic_fetch_add(&c->write_errors, 1);
    int fd = open(c->zips[i].path, O_RDONLY);
    struct gozip_report rep;
    if (fd < 0 || store_zip_put_fd(c->st, "example.com/m", c->versions[i], fd,
                                   "w", 1, NULL, &rep) != 0)
      atomic_fetch_add(&c->write_errors, 1);
    if (fd >= 0)
      close(fd);
    if (store_answer_put(c->st, "example.com/m", "@v/list", 200, c->versions[i],
                         strlen(c->versions[i]), i, "w") != 0)
      atomic_fetch_add(&c->write_errors, 1);
  }
  atomic_store(&c->writer_done, 1);
  return NULL;
}

/* One pass over every version: whatever is visible must be whole. */
static void conc_pass(struct conc *c, unsigned char *buf, int must_exist) {
  for (int i = 0; i < CONC_VERSIONS; i++) {
    const char *v = c->versions[i];
    struct store_bytes b;
    int rc = store_part_get(c->st, "example.com/m", v, STORE_MOD, &b, NULL);
    if (rc == 0) {
      if (b.len != strlen(MOD_A) || memcmp(b.data, MOD_A, b.len) != 0)
        conc_error(c, "%s: .mod has other bytes", v);
      store_bytes_free(&b);
    } else if (rc != -ENOENT || must_exist) {
      conc_error(c, "%s: .mod get rc %d", v, rc);
    }
    struct store_zip_meta m;
    rc = store_zip_stat(c->st, "example.com/m", v, &m);
    if (rc == -ENOENT && !must_exist)
      continue;
    if (rc != 0) {
      conc_error(c, "%s: zip stat rc %d", v, rc);
      continue;
    }
    if (m.size != c->zips[i].len || strcmp(m.sha256, c->zips[i].sha256) != 0)
      conc_error(c, "%s: zip meta size %llu sha %s", v,
                 (unsigned long long)m.size, m.sha256);
    store_zip_meta_dispose(&m);
    /* Published: every byte must be readable now. */
    uint64_t off = 0;
    for (;;) {
      int64_t n =
          store_zip_read(c->st, "example.com/m", v, off, buf + off, 100000);
      if (n < 0) {
        conc_error(c, "%s: zip read at %llu: %lld", v, (unsigned long long)off,
                   (long long)n);
        break;
      }
      if (n == 0)
        break;
      off += (uint64_t)n;
      if (off > c->zips[i].len)
        break;
    }
    if (off != c->zips[i].len ||
        memcmp(buf, c->zips[i].bytes, c->zips[i].len) != 0)
      conc_error(c, "%s: zip read %llu bytes, differing", v,
                 (unsigned long long)off);
    atomic_fetch_add(&c->zips_seen, 1);
  }
  struct store_answer a;
  int rc = store_answer_get(c->st, "example.com/m", "@v/list", &a);
  if (rc == 0) {
    if (a.body.len == 0 || a.body.data[0] != 'v' || a.status != 200)
      conc_error(c, "list answer: status %d len %zu", a.status, a.body.len);
    store_answer_dispose(&a);
  } else if (rc != -ENOENT || must_exist) {
    conc_error(c, "list answer rc %d", rc);
  }
}

static void *conc_reader(void *arg) {
  struct conc *c = arg;
  unsigned char *buf = malloc(BIG_FILE_BYTES + (1u << 20));
  if (buf == NULL) {
    conc_error(c, "out of memory");
    return NULL;
  }
  while (!atomic_load(&c->writer_done))
    conc_pass(c, buf, 0);
  conc_pass(c, buf, 1);
  free(buf);
  return NULL;
}

/* ---- the request ring --------------------------------------------------- */

static int yields;
static void count_yield(void) {
  yields++;
}

/* A batch goes in whole, the oldest records beyond `keep` go, and a caller's
 * yield is called during a large batch (a background writer gives up its
 * core there), never after the store's write lock is released. */
static void test_records_ring_and_yield(void **state) {
  struct fixture *f = *state;
  enum { N = 600, KEEP = 500 };
  static struct store_record recs[N];
  static char ids[N][16], json[N][48];
  for (int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "r-%d", i);
    snprintf(json[i], sizeof json[i], "{\"id\":\"r-%d\",\"status\":200}", i);
    recs[i] = (struct store_record){.id = ids[i],
                                    .time_ms = 1000 + i,
                                    .status = 200,
                                    .outcome = "hit",
                                    .module = "example.com/m",
                                    .version = "v1.0.0",
                                    .target = "/example.com/m/@v/v1.0.0.info",
                                    .json = json[i]};
  }
  yields = 0;
  assert_int_equal(store_records_put(f->st, recs, N, KEEP, count_yield), 0);
  assert_true(yields >= N / 100);
  struct store_bytes b = {0};
  assert_int_equal(store_record_get(f->st, "r-99", &b), -ENOENT);
  assert_int_equal(store_record_get(f->st, "r-100", &b), 0);
  assert_int_equal(b.len, strlen(json[100]));
  assert_memory_equal(b.data, json[100], b.len);
  store_bytes_free(&b);

  /* Without a yield, nothing is called; the handler is gone from the
   * connection. */
  yields = 0;
  assert_int_equal(store_records_put(f->st, recs, 10, KEEP, NULL), 0);
  assert_int_equal(yields, 0);
}

/* The versions builds resolved: zips served with 200, most used first; the
 * proxy's own in-process requests are no build's. */
static void test_records_versions(void **state) {
  struct fixture *f = *state;
  static const struct {
    const char *version, *target, *client;
    int status;
  } rows[] = {
      {"v1.0.0", "/example.com/m/@v/v1.0.0.zip", "10.0.0.1", 200},
      {"v1.0.0", "/example.com/m/@v/v1.0.0.zip", "10.0.0.2", 200},
      {"v1.1.0", "/example.com/m/@v/v1.1.0.zip", "10.0.0.3", 200},
      {"v1.2.0", "/example.com/m/@v/v1.2.0.zip", "modproxy", 200},
      {"v1.3.0", "/example.com/m/@v/v1.3.0.mod", "10.0.0.1", 200},
      {"v1.4.0", "/example.com/m/@v/v1.4.0.zip", "10.0.0.1", 404},
  };
  struct store_record recs[6];
  char ids[6][8];
  for (int i = 0; i < 6; i++) {
    snprintf(ids[i], sizeof ids[i], "v-%d", i);
    recs[i] = (struct store_record){.id = ids[i],
                                    .time_ms = 5000,
                                    .status = rows[i].status,
                                    .outcome = "hit",
                                    .module = "example.com/m",
                                    .version = rows[i].version,
                                    .target = rows[i].target,
                                    .client = rows[i].client,
                                    .json = "{}"};
  }
  assert_int_equal(store_records_put(f->st, recs, 6, 100, NULL), 0);
  struct store_bytes b = {0};
  assert_int_equal(
      store_records_versions(f->st, "example.com/m", 1000, "modproxy", &b), 0);
  assert_string_equal(b.data, "v1.0.0 2\nv1.1.0 1\n");
  store_bytes_free(&b);
  assert_int_equal(
      store_records_versions(f->st, "example.com/m", 6000, "modproxy", &b),
      -ENOENT);
}

/* /diag's request table: failures by default (through their index), a
 * status class, a module path prefix, a cause, a client, a time, pages. */
static void test_records_query(void **state) {
  struct fixture *f = *state;
  static const struct {
    int status;
    const char *outcome, *module, *client;
  } rows[] = {
      {200, "hit", "rsc.io/quote", "10.0.0.1"},
      {404, "not found", "rsc.io/quote", "10.0.0.1"},
      {404, "not found", "rsc.io/sampler", "10.0.0.2"},
      {502, "upstream error", "golang.org/x/text", "10.0.0.2"},
      {200, "fetched", "golang.org/x/text", "10.0.0.1"},
      {400, "invalid request", NULL, "10.0.0.3"},
  };
  enum { N = sizeof rows / sizeof rows[0] };
  struct store_record recs[N];
  char ids[N][8];
  for (int i = 0; i < N; i++) {
    snprintf(ids[i], sizeof ids[i], "q%d", i);
    recs[i] = (struct store_record){.id = ids[i],
                                    .time_ms = 1000 * (i + 1),
                                    .status = rows[i].status,
                                    .outcome = rows[i].outcome,
                                    .module = rows[i].module,
                                    .target = "/x",
                                    .client = rows[i].client,
                                    .json = "{}"};
  }
  assert_int_equal(store_records_put(f->st, recs, N, 100, NULL), 0);
  struct store_record_row out[8];
  struct store_records_filter q = {0};
  assert_int_equal(store_records_query(f->st, &q, out, 8), 4);
  assert_string_equal(out[0].id, "q5"); /* newest first */
  assert_string_equal(out[3].id, "q1");
  assert_string_equal(out[1].client, "10.0.0.2");
  q = (struct store_records_filter){.status_min = 200, .status_max = 299};
  assert_int_equal(store_records_query(f->st, &q, out, 8), 2);
  assert_string_equal(out[0].outcome, "fetched");
  q = (struct store_records_filter){.module_prefix = "rsc.io/q",
                                    .status_max = 999};
  assert_int_equal(store_records_query(f->st, &q, out, 8), 2);
  assert_string_equal(out[0].id, "q1");
  assert_string_equal(out[1].module, "rsc.io/quote");
  q = (struct store_records_filter){.outcome = "not found"};
  assert_int_equal(store_records_query(f->st, &q, out, 8), 2);
  q = (struct store_records_filter){.client = "10.0.0.2"};
  assert_int_equal(store_records_query(f->st, &q, out, 8), 2);
  q = (struct store_records_filter){.since_ms = 3500};
  assert_int_equal(store_records_query(f->st, &q, out, 8), 2);
  /* Pages: one row each, the second page is the second newest. */
  q = (struct store_records_filter){.offset = 1};
  assert_int_equal(store_records_query(f->st, &q, out, 1), 1);
  assert_string_equal(out[0].id, "q3");
  q = (struct store_records_filter){.offset = 4};
  assert_int_equal(store_records_query(f->st, &q, out, 1), 0);
}

static void test_concurrent_readers_and_writer(void **state) {
  struct fixture *f = *state;
  struct conc *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->st = f->st;
  pthread_mutex_init(&c->err_lock, NULL);
  for (int i = 0; i < CONC_VERSIONS; i++) {
    snprintf(c->versions[i], sizeof c->versions[i], "v1.0.%d", i);
    make_module_zip(f->dir, c->versions[i], (uint64_t)(100 + i),
                    STORE_CHUNK + 1000u * (unsigned)i, &c->zips[i]);
  }
  pthread_t w, r[CONC_READERS];
  for (int i = 0; i < CONC_READERS; i++)
    assert_int_equal(pthread_create(&r[i], NULL, conc_reader, c), 0);
  assert_int_equal(pthread_create(&w, NULL, conc_writer, c), 0);
  pthread_join(w, NULL);
  for (int i = 0; i < CONC_READERS; i++)
    pthread_join(r[i], NULL);
  if (atomic_load(&c->read_errors) != 0)
    fail_msg("%d read errors, first: %s", atomic_load(&c->read_errors),
             c->first_error);
  assert_int_equal(atomic_load(&c->write_errors), 0);
  /* Each reader's final pass saw every zip. */
  assert_true(atomic_load(&c->zips_seen) >= CONC_READERS * CONC_VERSIONS);
  struct store_stats s = stats(f->st);
  assert_int_equal(s.versions, CONC_VERSIONS);
  assert_int_equal(s.zips, CONC_VERSIONS);
  assert_int_equal(s.answers, 1);
  for (int i = 0; i < CONC_VERSIONS; i++)
    test_zip_free(&c->zips[i]);
  pthread_mutex_destroy(&c->err_lock);
  free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_migrates_new_dir),
      cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
      cmocka_unit_test(test_newer_schema_refused),
      cmocka_unit_test(test_open_unusable_dir),
      cmocka_unit_test_setup_teardown(test_part_put_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_part_put_idempotent, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_mod_h1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zip_put_and_read, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zip_put_want_h1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zip_put_twice_keeps_first, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_zip_truncated_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_zip_rule_violations, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_ring_and_yield, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_records_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_query, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_readers_and_writer, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
