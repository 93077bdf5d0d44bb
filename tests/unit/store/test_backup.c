/*
 * store/backup.c: a backup holds exactly the rows of every table of the
 * store (compared row by row), is one self-contained file (no -wal) that
 * store_open takes as a store, replaces an older backup only when complete,
 * and fails without leaving a file behind. Taken while another thread keeps
 * committing, it is one consistent snapshot (the writes it holds are a
 * prefix of the writer's, with no gap) and the writer is not held up.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "store_fixture.h"

#define M "example.com/bk"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every row of every table of the database at path, one line per row
 * (columns hex-encoded), sorted: equal outputs mean equal contents. */
static char *dump(const char *path) {
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  sqlite3_stmt *t = NULL;
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT name FROM sqlite_master WHERE"
                                      " type = 'table' ORDER BY name",
                                      -1, &t, NULL),
                   SQLITE_OK);
  while (sqlite3_step(t) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(t, 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", name);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    char **rows = NULL;
    size_t n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
      char *row = NULL;
      size_t rlen = 0;
      FILE *r = open_memstream(&row, &rlen);
      fprintf(r, "%s:", name);
      for (int i = 0; i < sqlite3_column_count(s); i++) {
        const unsigned char *p = sqlite3_column_blob(s, i);
        int k = sqlite3_column_bytes(s, i);
        fprintf(r, " %d/", sqlite3_column_type(s, i));
        for (int j = 0; j < k; j++)
          fprintf(r, "%02x", p[j]);
      }
      fclose(r);
      rows = realloc(rows, (n + 1) * sizeof *rows);
      rows[n++] = row;
    }
    sqlite3_finalize(s);
    if (n > 0)
      qsort(rows, n, sizeof *rows, cmp_str);
    for (size_t i = 0; i < n; i++) {
      fprintf(f, "%s\n", rows[i]);
      free(rows[i]);
    }
    free(rows);
  }
  sqlite3_finalize(t);
  sqlite3_close(db);
  fclose(f);
  return out;
}

static void fill(struct fixture *f) {
  fx_put_version(f, M, "v1.0.0", 600000, 1);
  fx_put_version(f, M, "v1.1.0", 1000, 2);
  assert_int_equal(store_answer_put(f->st, M, "@v/list", 200,
                                    "v1.0.0\nv1.1.0\n", 14, 1000, "up"),
                   0);
  assert_int_equal(store_pin_put(f->st, M, "v1.0.0"), 0);
  assert_int_equal(
      store_provenance_put(f->st, "corp.example/x", "v0.1.0",
                           "https://git.example/x", "refs/tags/v0.1.0",
                           "0123456789abcdef0123456789abcdef01234567"),
      0);
  struct store_record rec = {.id = "r-1",
                             .time_ms = 5,
                             .status = 200,
                             .outcome = "hit",
                             .module = M,
                             .version = "v1.0.0",
                             .target = "/x",
                             .json = "{}"};
  assert_int_equal(store_records_put(f->st, &rec, 1, 100, NULL), 0);
}

static void test_backup_identical(void **state) {
  struct fixture *f = *state;
  fill(f);
  char path[128], src[128];
  snprintf(path, sizeof path, "%s/backup.db", f->dir);
  snprintf(src, sizeof src, "%s/modproxy.db", f->dir);
  uint64_t bytes = 0;
  assert_int_equal(store_backup(f->st, path, &bytes), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal((uint64_t)sb.st_size, bytes);
  assert_true(bytes > 600000);
  char tmp[160];
  snprintf(tmp, sizeof tmp, "%s-wal", path);
  assert_int_equal(stat(tmp, &sb), -1); /* one self-contained file */
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  assert_int_equal(stat(tmp, &sb), -1);
  char *a = dump(src), *b = dump(path);
  assert_true(strlen(a) > 1000);
  assert_string_equal(a, b);
  free(b);
  /* Restored: the backup is a store. */
  char rdir[128];
  snprintf(rdir, sizeof rdir, "%s/restored", f->dir);
  assert_int_equal(mkdir(rdir, 0700), 0);
  snprintf(tmp, sizeof tmp, "%s/modproxy.db", rdir);
  assert_int_equal(rename(path, tmp), 0);
  struct store *r = NULL;
  assert_int_equal(store_open(rdir, &r), 0);
  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(r, M, "v1.0.0", &m), 0);
  store_zip_meta_dispose(&m);
  struct store_fsck_result fr;
  assert_int_equal(store_fsck(r, 0, NULL, NULL, &fr), 0);
  assert_int_equal(fr.bad, 0);
  assert_int_equal(fr.versions, 2);
  store_close(r);
  b = dump(tmp);
  assert_string_equal(a, b);
  free(a);
  free(b);
}

static void test_backup_replaces_and_fails_cleanly(void **state) {
  struct fixture *f = *state;
  fill(f);
  char path[128];
  snprintf(path, sizeof path, "%s/b.db", f->dir);
  FILE *old = fopen(path, "w");
  fputs("an older backup", old);
  fclose(old);
  uint64_t bytes;
  assert_int_equal(store_backup(f->st, path, &bytes), 0);
  char src[128];
  snprintf(src, sizeof src, "%s/modproxy.db", f->dir);
  char *a = dump(src), *b = dump(path);
  assert_string_equal(a, b);
  free(a);
  free(b);
  snprintf(path, sizeof path, "%s/no/such/dir/b.db", f->dir);
  assert_true(store_backup(f->st, path, &bytes) < 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), -1);
}

struct writer {
  struct store *st;
  atomic_int stop;
  atomic_long done;
};

static void *write_loop(void *arg) {
  struct writer *w = arg;
  for (long i = 0; !atomic_load(&w->stop); i++) {
    char key[32];
    snprintf(key, sizeof key, "k%08ld", i);
    if (store_answer_put(w->st, "example.com/load", key, 200, key, strlen(key),
                         i, NULL) != 0)
      break;
    atomic_store(&w->done, i + 1);
  }
  return NULL;
}

static void test_backup_under_writes(void **state) {
  struct fixture *f = *state;
  for (int i = 0; i < 16; i++) {
    char v[16];
    snprintf(v, sizeof v, "v1.%d.0", i);
    fx_put_version(f, M, v, 1 << 20, (uint64_t)i); /* 16 MiB of zips */
  }
  struct writer w = {.st = f->st};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, write_loop, &w), 0);
  while (atomic_load(&w.done) < 50)
    usleep(1000);
  char path[128];
  snprintf(path, sizeof path, "%s/live.db", f->dir);
  long at_start = atomic_load(&w.done);
  uint64_t bytes;
  assert_int_equal(store_backup(f->st, path, &bytes), 0);
  long at_end = atomic_load(&w.done);
  usleep(20000);
  atomic_store(&w.stop, 1);
  pthread_join(th, NULL);
  /* The writer kept going while the backup ran... */
  print_message("backup of %llu bytes while %ld writes committed meanwhile\n",
                (unsigned long long)bytes, at_end - at_start);
  assert_true(at_end > at_start);
  /* ...and the backup holds a prefix of its writes: k0..k(n-1), no gap. */
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  sqlite3_stmt *s = NULL;
  assert_int_equal(
      sqlite3_prepare_v2(
          db,
          "SELECT count(*), coalesce(max(fetched), -1) FROM answers"
          " WHERE module = 'example.com/load'",
          -1, &s, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  long n = (long)sqlite3_column_int64(s, 0),
       max = (long)sqlite3_column_int64(s, 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
  assert_true(n >= at_start && n <= at_end);
  assert_int_equal(max, n - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_backup_identical, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_backup_replaces_and_fails_cleanly,
                                      fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_backup_under_writes, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
