/*
 * The store's mirror side (store/sumdb.c, store/import.c): checksum
 * database answers (first copy wins, `latest` replaced, the widest copy of
 * a tile), mirror metadata, the versions a module holds, and whole-version
 * imports in one transaction: all parts or none, idempotent, marked
 * imported, the zip byte for byte with its h1.
 */
#include <errno.h>

#include "store_fixture.h"

#include "modproxy/gozip.h"

static void test_sumdb_cache(void **state) {
  struct fixture *f = *state;
  char wide[166 * 32], narrow[5 * 32], full[256 * 32];
  memset(wide, 'w', sizeof wide);
  memset(narrow, 'n', sizeof narrow);
  memset(full, 'f', sizeof full);
  struct store_sumdb_row rows[] = {
      {"db.example", "lookup/rsc.io/quote@v1.5.2", "record 1", 8, 100, "here",
       0},
      {"db.example", "tile/8/0/000.p/5", narrow, sizeof narrow, 100, NULL, 0},
      {"db.example", "tile/8/0/000.p/166", wide, sizeof wide, 100, NULL, 0},
      {"db.example", "tile/8/0/001.p/3", narrow, 3 * 32, 100, NULL, 0},
      {"db.example", "latest", "tree 1", 6, 100, NULL, 1},
  };
  assert_int_equal(store_sumdb_put(f->st, rows, 5), 5);
  /* Again, with other bytes: lookups and tiles keep their first copy,
   * latest is replaced. */
  struct store_sumdb_row again[] = {
      {"db.example", "lookup/rsc.io/quote@v1.5.2", "record 2", 8, 200, NULL, 0},
      {"db.example", "latest", "tree 2", 6, 200, NULL, 1},
  };
  assert_int_equal(store_sumdb_put(f->st, again, 2), 1);
  struct store_bytes b;
  int64_t fetched = 0;
  assert_int_equal(store_sumdb_get(f->st, "db.example",
                                   "lookup/rsc.io/quote@v1.5.2", &b, &fetched),
                   0);
  assert_string_equal(b.data, "record 1");
  assert_int_equal(fetched, 100);
  store_bytes_free(&b);
  assert_int_equal(store_sumdb_get(f->st, "db.example", "latest", &b, &fetched),
                   0);
  assert_string_equal(b.data, "tree 2");
  store_bytes_free(&b);
  assert_int_equal(store_sumdb_get(f->st, "other.example", "latest", &b, NULL),
                   -ENOENT);
  /* A prefix of the widest copy of tile 0, never tile 1's. */
  assert_int_equal(
      store_sumdb_tile_prefix(f->st, "db.example", "tile/8/0/000", 5 * 32, &b),
      0);
  assert_int_equal(b.len, 5 * 32);
  assert_memory_equal(b.data, wide, 5 * 32);
  store_bytes_free(&b);
  assert_int_equal(store_sumdb_tile_prefix(f->st, "db.example", "tile/8/0/000",
                                           sizeof wide, &b),
                   0);
  assert_int_equal(b.len, sizeof wide);
  store_bytes_free(&b);
  assert_int_equal(store_sumdb_tile_prefix(f->st, "db.example", "tile/8/0/000",
                                           sizeof wide + 32, &b),
                   -ENOENT);
  struct store_sumdb_row complete = {
      "db.example", "tile/8/0/000", full, sizeof full, 300, NULL, 0};
  assert_int_equal(store_sumdb_put(f->st, &complete, 1), 1);
  assert_int_equal(store_sumdb_tile_prefix(f->st, "db.example", "tile/8/0/000",
                                           sizeof wide, &b),
                   0);
  assert_memory_equal(b.data, full, sizeof wide);
  store_bytes_free(&b);
  assert_int_equal(
      store_sumdb_tile_prefix(f->st, "db.example", "tile/8/0/002", 32, &b),
      -ENOENT);
  assert_int_equal(
      store_sumdb_tile_prefix(f->st, "db.example", "tile/8/1/000", 32, &b),
      -ENOENT);
}

static int count_cb(void *arg, const char *db, const char *path,
                    const void *body, size_t len) {
  (*(int *)arg)++;
  return 0;
}

static void test_sumdb_each(void **state) {
  struct fixture *f = *state;
  struct store_sumdb_row rows[] = {
      {"a.example", "lookup/x.org/m@v1.0.0", "r", 1, 1, NULL, 0},
      {"a.example", "tile/8/0/000.p/1", "t", 1, 1, NULL, 0},
      {"b.example", "tile/8/0/000.p/1", "t", 1, 1, NULL, 0},
  };
  assert_int_equal(store_sumdb_put(f->st, rows, 3), 3);
  int n = 0;
  assert_int_equal(store_sumdb_each(f->st, "a.example", "", count_cb, &n), 0);
  assert_int_equal(n, 2);
  n = 0;
  assert_int_equal(store_sumdb_each(f->st, NULL, "tile/", count_cb, &n), 0);
  assert_int_equal(n, 2);
}

static void test_meta(void **state) {
  struct fixture *f = *state;
  char v[32];
  assert_int_equal(store_meta_get(f->st, "snapshot", v, sizeof v), -ENOENT);
  assert_int_equal(store_meta_put(f->st, "snapshot", "1700000000"), 0);
  assert_int_equal(store_meta_put(f->st, "snapshot", "1700000001"), 0);
  assert_int_equal(store_meta_get(f->st, "snapshot", v, sizeof v), 0);
  assert_string_equal(v, "1700000001");
}

static void test_versions_of(void **state) {
  struct fixture *f = *state;
  struct store_bytes b;
  int64_t newest = 0;
  assert_int_equal(store_versions_of(f->st, "example.com/m", &b), -ENOENT);
  assert_int_equal(store_versions_newest(f->st, &newest), -ENOENT);
  fx_put_version(f, "example.com/m", "v1.0.0", 10, 1);
  fx_put_version(f, "example.com/m", "v1.1.0", 10, 2);
  /* A version whose go.mod alone was fetched is not listed. */
  assert_int_equal(store_part_put(f->st, "example.com/m", "v1.2.0", STORE_MOD,
                                  "module example.com/m\n", 21, "test"),
                   0);
  assert_int_equal(store_versions_of(f->st, "example.com/m", &b), 0);
  assert_true(strstr(b.data, "v1.0.0\n") != NULL);
  assert_true(strstr(b.data, "v1.1.0\n") != NULL);
  assert_null(strstr(b.data, "v1.2.0"));
  store_bytes_free(&b);
  assert_int_equal(store_versions_newest(f->st, &newest), 0);
  assert_true(newest > 0);
}

/* A module zip on disk (one file), for import; returns its descriptor. */
static int make_zip(struct fixture *f, const char *module, const char *version,
                    const char *text) {
  char path[128], name[256];
  snprintf(path, sizeof path, "%s/in.zip", f->dir);
  int err = 0;
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  assert_non_null(za);
  snprintf(name, sizeof name, "%s@%s/a.go", module, version);
  zip_source_t *src = zip_source_buffer(za, text, strlen(text), 0);
  assert_true(zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8) >= 0);
  assert_int_equal(zip_close(za), 0);
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  return fd;
}

static int64_t read_fd(void *ctx, uint64_t off, void *buf, size_t len) {
  return pread(*(int *)ctx, buf, len, (off_t)off);
}

static void test_version_import(void **state) {
  struct fixture *f = *state;
  const char *m = "example.com/imp", *v = "v1.0.0";
  struct gozip_report rep;
  int fd = make_zip(f, m, v, "package imp\n");
  struct stat sb;
  fstat(fd, &sb);
  struct gozip_reader r = {
      .size = (uint64_t)sb.st_size, .read_at = read_fd, .ctx = &fd};
  assert_int_equal(gozip_inspect(&r, m, v, &rep), 0);
  const char *info = "{\"Version\":\"v1.0.0\"}",
             *mod = "module example.com/imp\n";
  struct store_import in = {
      m, v, info, strlen(info), mod, strlen(mod), fd, &rep, "bundle test",
      0, 1};
  int added = -1;
  assert_int_equal(store_version_import(f->st, &in, &added), 0);
  assert_int_equal(added, 1 << STORE_INFO | 1 << STORE_MOD | 1 << STORE_ZIP);
  assert_int_equal(
      fx_int(f, "SELECT imported FROM versions WHERE module='%s'", m), 1);
  /* Idempotent. */
  assert_int_equal(store_version_import(f->st, &in, &added), 0);
  assert_int_equal(added, 0);
  /* The zip reads back byte for byte, with the inspected h1. */
  struct store_zip_meta meta;
  assert_int_equal(store_zip_stat(f->st, m, v, &meta), 0);
  assert_int_equal(meta.size, (uint64_t)sb.st_size);
  assert_string_equal(meta.h1, rep.h1);
  store_zip_meta_dispose(&meta);
  char *a = malloc((size_t)sb.st_size), *b = malloc((size_t)sb.st_size);
  assert_int_equal(pread(fd, a, (size_t)sb.st_size, 0), sb.st_size);
  assert_int_equal(store_zip_read(f->st, m, v, 0, b, (size_t)sb.st_size),
                   sb.st_size);
  assert_memory_equal(a, b, (size_t)sb.st_size);
  free(a);
  free(b);
  char h1[GOMOD_H1_BYTES], want[GOMOD_H1_BYTES];
  struct store_bytes got;
  assert_int_equal(store_part_get(f->st, m, v, STORE_MOD, &got, h1), 0);
  gomod_h1_gomod(mod, strlen(mod), want);
  assert_string_equal(h1, want);
  store_bytes_free(&got);
  close(fd);
}

static void test_import_keeps_stored_parts(void **state) {
  struct fixture *f = *state;
  const char *m = "example.com/keep", *v = "v1.0.0";
  const char *first =
      "{\"Version\":\"v1.0.0\",\"Time\":\"2020-01-01T00:00:00Z\"}";
  assert_int_equal(
      store_part_put(f->st, m, v, STORE_INFO, first, strlen(first), "upstream"),
      0);
  const char *mod = "module example.com/keep\n";
  struct store_import in = {m,  v,    "{\"Version\":\"v1.0.0\"}",
                            20, mod,  strlen(mod),
                            -1, NULL, "bundle",
                            0,  1};
  int added = -1;
  assert_int_equal(store_version_import(f->st, &in, &added), 0);
  assert_int_equal(added, 1 << STORE_MOD);
  struct store_bytes b;
  assert_int_equal(store_part_get(f->st, m, v, STORE_INFO, &b, NULL), 0);
  assert_string_equal(b.data, first);
  store_bytes_free(&b);
}

static void test_import_all_or_nothing(void **state) {
  struct fixture *f = *state;
  const char *m = "example.com/fail", *v = "v1.0.0";
  struct gozip_report rep;
  memset(&rep, 0, sizeof rep);
  const char *mod = "module example.com/fail\n";
  /* The zip cannot be read (a closed descriptor): the .info and .mod of
   * the same version are not published either. */
  struct store_import in = {m,    v,    "{\"Version\":\"v1.0.0\"}",
                            20,   mod,  strlen(mod),
                            1000, &rep, "bundle",
                            0,    1};
  int added = -1;
  assert_true(store_version_import(f->st, &in, &added) < 0);
  assert_int_equal(added, 0);
  struct store_bytes b;
  assert_int_equal(store_part_get(f->st, m, v, STORE_INFO, &b, NULL), -ENOENT);
  assert_int_equal(store_part_get(f->st, m, v, STORE_MOD, &b, NULL), -ENOENT);
  assert_int_equal(
      fx_int(f, "SELECT count(*) FROM versions WHERE module='%s'", m), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sumdb_cache, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_sumdb_each, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_meta, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_versions_of, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_version_import, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_import_keeps_stored_parts, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_import_all_or_nothing, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
