/*
 * A store on a temporary directory, filled with real module versions, for
 * the cache-management tests (test_evict.c, test_fsck.c, test_backup.c,
 * test_manage.c). Header-only: each test program includes it once.
 *
 * A version here is example-like: a .info naming it, a go.mod, and a zip
 * written with libzip holding go.mod and one stored file of pseudo-random
 * bytes, so its size is controlled and its bytes never compress.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <zip.h>

#include "modproxy/store.h"
#include "testutil.h"

/* Not every test program uses every helper. */
#define FX_UNUSED __attribute__((unused))

struct fixture {
  char dir[64];
  struct store *st;
};

FX_UNUSED static int fx_setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (f == NULL)
    return -1;
  if (test_mkdtemp(f->dir, sizeof f->dir, "test_cache") < 0 ||
      store_open(f->dir, &f->st) != 0) {
    test_rm_tree(f->dir);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

FX_UNUSED static int fx_teardown(void **state) {
  struct fixture *f = *state;
  store_close(f->st);
  test_rm_tree(f->dir);
  free(f);
  return 0;
}

FX_UNUSED static void fx_random(unsigned char *p, size_t n, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (unsigned char)(x >> 24);
  }
}

/* Stores module@version (.info, .mod and a zip with `payload` random bytes)
 * and returns its cache bytes (.info + .mod + zip), as eviction counts
 * them. */
FX_UNUSED static uint64_t fx_put_version(struct fixture *f, const char *module,
                                         const char *version, size_t payload,
                                         uint64_t seed) {
  char info[256], mod[256], name[512], path[128];
  int ilen = snprintf(info, sizeof info,
                      "{\"Version\":\"%s\",\"Time\":\"2023-01-01T00:00:00Z\"}",
                      version);
  int mlen = snprintf(mod, sizeof mod, "module %s\n", module);
  assert_int_equal(store_part_put(f->st, module, version, STORE_INFO, info,
                                  (size_t)ilen, "test"),
                   0);
  assert_int_equal(store_part_put(f->st, module, version, STORE_MOD, mod,
                                  (size_t)mlen, "test"),
                   0);
  unsigned char *data = malloc(payload + 1);
  assert_non_null(data);
  fx_random(data, payload, seed);
  snprintf(path, sizeof path, "%s/put.zip", f->dir);
  int err = 0;
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  assert_non_null(za);
  snprintf(name, sizeof name, "%s@%s/go.mod", module, version);
  zip_source_t *s1 = zip_source_buffer(za, mod, (size_t)mlen, 0);
  zip_int64_t idx = zip_file_add(za, name, s1, ZIP_FL_ENC_UTF_8);
  assert_true(idx >= 0);
  /* A fixed time: the same version written again is the same bytes (libzip
   * would stamp the current time, which moves between two writes). */
  assert_int_equal(zip_file_set_mtime(za, (zip_uint64_t)idx, 1672531200, 0), 0);
  snprintf(name, sizeof name, "%s@%s/data.bin", module, version);
  zip_source_t *s2 = zip_source_buffer(za, data, payload, 0);
  idx = zip_file_add(za, name, s2, ZIP_FL_ENC_UTF_8);
  assert_true(idx >= 0);
  assert_int_equal(zip_file_set_mtime(za, (zip_uint64_t)idx, 1672531200, 0), 0);
  assert_int_equal(
      zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0), 0);
  assert_int_equal(zip_close(za), 0);
  free(data);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  struct gozip_report rep;
  assert_int_equal(
      store_zip_put_fd(f->st, module, version, fd, "test", 0, NULL, &rep), 0);
  close(fd);
  unlink(path);
  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(f->st, module, version, &m), 0);
  uint64_t zip = m.size;
  store_zip_meta_dispose(&m);
  return zip + (uint64_t)ilen + (uint64_t)mlen;
}

/* The database file, opened read-write with SQLite directly (beside the
 * store's own connections, as the sqlite3 CLI would be). */
FX_UNUSED static sqlite3 *fx_raw(const struct fixture *f) {
  char path[128];
  snprintf(path, sizeof path, "%s/modproxy.db", f->dir);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
                   SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

/* Runs SQL (printf-style) on the database file directly. */
FX_UNUSED __attribute__((format(printf, 2, 3))) static void
fx_sql(const struct fixture *f, const char *fmt, ...) {
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  sqlite3 *db = fx_raw(f);
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
    fail_msg("%s: %s", sql, err);
  sqlite3_close(db);
}

/* One integer from a query on the database file. */
FX_UNUSED __attribute__((format(printf, 2, 3))) static int64_t
fx_int(const struct fixture *f, const char *fmt, ...) {
  char sql[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  sqlite3 *db = fx_raw(f);
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return v;
}

/* Sets when module@version was last used (Unix seconds), directly. */
FX_UNUSED static void fx_set_used(const struct fixture *f, const char *module,
                                  const char *version, int64_t t) {
  fx_sql(f,
         "UPDATE versions SET accessed = %lld, created = %lld"
         " WHERE module = '%s' AND version = '%s'",
         (long long)t, (long long)t, module, version);
}

/* 1 if every part of module@version is gone from the store, 0 if all are
 * there (fails the test for anything in between). */
FX_UNUSED static int fx_gone(const struct fixture *f, const char *module,
                             const char *version) {
  struct store_bytes b = {0};
  struct store_zip_meta m;
  int info = store_part_get(f->st, module, version, STORE_INFO, &b, NULL);
  store_bytes_free(&b);
  int mod = store_part_get(f->st, module, version, STORE_MOD, &b, NULL);
  store_bytes_free(&b);
  int zip = store_zip_stat(f->st, module, version, &m);
  store_zip_meta_dispose(&m);
  char buf[16];
  int64_t rd = store_zip_read(f->st, module, version, 0, buf, sizeof buf);
  if (info == -ENOENT && mod == -ENOENT && zip == -ENOENT && rd == -ENOENT)
    return 1;
  if (info == 0 && mod == 0 && zip == 0 && rd == (int64_t)sizeof buf)
    return 0;
  fail_msg("%s@%s half there: info %d mod %d zip %d read %lld", module, version,
           info, mod, zip, (long long)rd);
  return -1;
}

#endif
