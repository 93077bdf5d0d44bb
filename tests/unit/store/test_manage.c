/*
 * store/manage.c: pins (put twice, delete, -ENOENT, whole-module pins, the
 * listing with the bytes each keeps), marking a version imported, dropping
 * a module's expiring answers and nothing else, dropping expired not-found
 * answers (and nothing fresh or found), the removal log (last
 * sequence, reading after a point, bounded reads, trimming old entries)
 * and the cache-management counts of store_stats.
 */
#include <errno.h>
#include <time.h>

#include "store_fixture.h"

#define M "example.com/mg"

struct pins {
  int n;
  char line[8][256];
};

static int on_pin(const char *module, const char *version, int64_t pinned,
                  uint64_t bytes, void *arg) {
  struct pins *p = arg;
  assert_true(pinned > 0);
  snprintf(p->line[p->n++], sizeof p->line[0], "%s@%s %llu", module, version,
           (unsigned long long)bytes);
  return 0;
}

static void test_pins(void **state) {
  struct fixture *f = *state;
  uint64_t b0 = fx_put_version(f, M, "v1.0.0", 1000, 1);
  uint64_t b1 = fx_put_version(f, M, "v1.1.0", 2000, 2);
  assert_int_equal(store_pin_put(f->st, M, "v1.0.0"), 0);
  assert_int_equal(store_pin_put(f->st, M, "v1.0.0"), 0);
  assert_int_equal(store_pin_put(f->st, M, ""), 0);
  assert_int_equal(store_pin_put(f->st, "example.com/later", "v0.0.1"), 0);
  struct pins p = {0};
  assert_int_equal(store_pins_each(f->st, on_pin, &p), 0);
  assert_int_equal(p.n, 3);
  assert_string_equal(p.line[0], "example.com/later@v0.0.1 0");
  char want[256];
  snprintf(want, sizeof want, M "@ %llu", (unsigned long long)(b0 + b1));
  assert_string_equal(p.line[1], want);
  snprintf(want, sizeof want, M "@v1.0.0 %llu", (unsigned long long)b0);
  assert_string_equal(p.line[2], want);
  assert_int_equal(store_pin_delete(f->st, M, ""), 0);
  assert_int_equal(store_pin_delete(f->st, M, ""), -ENOENT);
  assert_int_equal(store_pin_delete(f->st, M, "v9.0.0"), -ENOENT);
  struct store_stats s;
  assert_int_equal(store_stats_get(f->st, &s), 0);
  assert_int_equal(s.pins, 2);
}

static void test_imported(void **state) {
  struct fixture *f = *state;
  fx_put_version(f, M, "v1.0.0", 100, 1);
  assert_int_equal(store_version_set_imported(f->st, M, "v1.0.0"), 0);
  assert_int_equal(store_version_set_imported(f->st, M, "v2.0.0"), -ENOENT);
  struct store_stats s;
  assert_int_equal(store_stats_get(f->st, &s), 0);
  assert_int_equal(s.imported, 1);
}

static void test_answers_drop(void **state) {
  struct fixture *f = *state;
  fx_put_version(f, M, "v1.0.0", 100, 1);
  assert_int_equal(
      store_answer_put(f->st, M, "@v/list", 200, "v1.0.0\n", 7, 1, NULL), 0);
  assert_int_equal(store_answer_put(f->st, M, "@latest", 200, "{}", 2, 1, NULL),
                   0);
  assert_int_equal(
      store_answer_put(f->st, M, "@v/v1.2.0.info", 404, "no", 2, 1, NULL), 0);
  assert_int_equal(
      store_answer_put(f->st, M "/sub", "@v/list", 200, "", 0, 1, NULL), 0);
  assert_int_equal(store_answers_drop(f->st, M), 3);
  assert_int_equal(store_answers_drop(f->st, M), 0);
  struct store_answer a;
  assert_int_equal(store_answer_get(f->st, M, "@v/list", &a), -ENOENT);
  assert_int_equal(store_answer_get(f->st, M "/sub", "@v/list", &a), 0);
  store_answer_dispose(&a);
  assert_int_equal(fx_gone(f, M, "v1.0.0"), 0); /* versions stay */
}

static void test_answers_expire(void **state) {
  struct fixture *f = *state;
  assert_int_equal(
      store_answer_put(f->st, M, "@v/v1.1.0.info", 404, "old", 3, 100, NULL),
      0);
  assert_int_equal(
      store_answer_put(f->st, M, "@v/v1.2.0.info", 410, "old", 3, 199, NULL),
      0);
  assert_int_equal(
      store_answer_put(f->st, M, "@v/v1.3.0.info", 404, "new", 3, 200, NULL),
      0);
  assert_int_equal(
      store_answer_put(f->st, M, "@v/list", 200, "v1.0.0\n", 7, 1, NULL), 0);
  assert_int_equal(store_answers_expire(f->st, 200), 2);
  assert_int_equal(store_answers_expire(f->st, 200), 0);
  struct store_answer a;
  assert_int_equal(store_answer_get(f->st, M, "@v/v1.1.0.info", &a), -ENOENT);
  assert_int_equal(store_answer_get(f->st, M, "@v/v1.2.0.info", &a), -ENOENT);
  assert_int_equal(store_answer_get(f->st, M, "@v/v1.3.0.info", &a), 0);
  store_answer_dispose(&a);
  /* An old list stays: it is served stale when the upstreams fail. */
  assert_int_equal(store_answer_get(f->st, M, "@v/list", &a), 0);
  assert_int_equal(a.status, 200);
  store_answer_dispose(&a);
}

struct seen {
  int n;
  char what[16][128];
};

static void on_removed(const char *module, const char *version, void *arg) {
  struct seen *s = arg;
  snprintf(s->what[s->n++], sizeof s->what[0], "%s@%s", module, version);
}

static void test_removal_log(void **state) {
  struct fixture *f = *state;
  int64_t last = -1;
  assert_int_equal(store_removals_last(f->st, &last), 0);
  assert_int_equal(last, 0);
  /* Entries as eviction and fsck write them; one old enough to trim. */
  fx_sql(f,
         "INSERT INTO removals (module, version, reason, at) VALUES"
         " ('a', 'v1.0.0', 'evicted', %lld), ('b', 'v1.0.0', 'evicted', %lld),"
         " ('c', 'v1.0.0', 'quarantined', %lld)",
         (long long)time(NULL) - 2 * 86400, (long long)time(NULL),
         (long long)time(NULL));
  assert_int_equal(store_removals_last(f->st, &last), 0);
  assert_int_equal(last, 3);
  struct seen s = {0};
  int64_t to;
  assert_int_equal(store_removals_since(f->st, 1, 1, on_removed, &s, &to), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.what[0], "b@v1.0.0");
  assert_int_equal(to, 2);
  /* That read trimmed the old entry; numbers never come back. */
  assert_int_equal(fx_int(f, "SELECT count(*) FROM removals"), 2);
  assert_int_equal(store_removals_since(f->st, to, 100, on_removed, &s, &to),
                   0);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.what[1], "c@v1.0.0");
  assert_int_equal(to, 3);
  assert_int_equal(store_removals_since(f->st, to, 100, on_removed, &s, &to),
                   0);
  assert_int_equal(s.n, 2);
  assert_int_equal(to, 3);
  fx_sql(f, "DELETE FROM removals");
  fx_sql(f, "INSERT INTO removals (module, version, reason, at)"
            " VALUES ('d', 'v1', 'evicted', 0)");
  assert_int_equal(store_removals_last(f->st, &last), 0);
  assert_int_equal(last, 4);
}

static void test_stats(void **state) {
  struct fixture *f = *state;
  uint64_t b = fx_put_version(f, M, "v1.0.0", 300000, 1); /* 2 chunks */
  b += fx_put_version(f, M, "v1.0.1", 10, 2);
  fx_set_used(f, M, "v1.0.0", 12345);
  struct store_stats s;
  memset(&s, 0xff, sizeof s);
  assert_int_equal(store_stats_get(f->st, &s), 0);
  assert_int_equal(s.versions, 2);
  assert_int_equal(s.cache_bytes, b);
  assert_int_equal(s.zip_chunks, 3);
  assert_int_equal(s.oldest_use, 12345);
  assert_true(s.db_bytes > 300000);
  assert_true(s.free_bytes < s.db_bytes);
  assert_int_equal(s.pins, 0);
  assert_int_equal(s.quarantined, 0);
  assert_int_equal(s.removals, 0);
  assert_int_equal(s.requests, 0);
  assert_int_equal(s.provenance, 0);
}

/* The totals row follows every write to versions, whoever makes it (the
 * store's own functions or SQL from outside, as fsck and a person would):
 * it equals a scan of the table. */
static void test_totals(void **state) {
  struct fixture *f = *state;
  fx_put_version(f, M, "v1.0.0", 1000, 1);
  fx_put_version(f, M, "v1.0.1", 2000, 2);
  fx_put_version(f, M, "v1.0.2", 3000, 3);
  fx_sql(f, "DELETE FROM versions WHERE version = 'v1.0.1'");
  fx_sql(f, "UPDATE versions SET zip_size = NULL WHERE version = 'v1.0.2'");
  fx_sql(f, "UPDATE versions SET mod = 'module x' WHERE version = 'v1.0.0'");
  struct store_stats t;
  memset(&t, 0xff, sizeof t);
  assert_int_equal(store_totals_get(f->st, &t), 0);
  sqlite3 *db = fx_raw(f);
  sqlite3_stmt *s = NULL;
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "SELECT count(*), count(zip_size), "
                         "coalesce(sum(zip_size), 0), sum(coalesce(zip_size, "
                         "0) + coalesce(length(info), 0) + "
                         "coalesce(length(mod), 0)) FROM versions",
                         -1, &s, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_int_equal(t.versions, 2);
  assert_int_equal(t.versions, sqlite3_column_int64(s, 0));
  assert_int_equal(t.zips, 1);
  assert_int_equal(t.zips, sqlite3_column_int64(s, 1));
  assert_int_equal(t.zip_bytes, sqlite3_column_int64(s, 2));
  assert_int_equal(t.cache_bytes, sqlite3_column_int64(s, 3));
  sqlite3_finalize(s);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_pins, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_imported, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_answers_drop, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_answers_expire, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_removal_log, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_stats, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_totals, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
