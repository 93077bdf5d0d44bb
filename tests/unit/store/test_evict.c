/*
 * store/evict.c: last uses written in batches (raised, never lowered);
 * least-recently-used eviction that keeps pinned (a version, or a whole
 * module), imported, private (provenance, or the keep callback) and
 * recently used versions, frees exactly the planned bytes, leaves no part
 * of a removed version behind and logs each removal; a version used or
 * pinned between plan and apply stays; a cache that cannot get under its
 * limit says by how much. Ends with a timing over many versions.
 */
#include <errno.h>
#include <time.h>

#include "store_fixture.h"

#define M "example.com/lru"

static int64_t now_s(void) {
  return (int64_t)time(NULL);
}

static uint64_t cache_bytes(struct store *st) {
  struct store_stats s;
  memset(&s, 0, sizeof s);
  assert_int_equal(store_stats_get(st, &s), 0);
  return s.cache_bytes;
}

static int keep_private(const char *module, void *arg) {
  return strcmp(module, (const char *)arg) == 0;
}

static void test_under_limit_plans_nothing(void **state) {
  struct fixture *f = *state;
  struct store_evict_plan p;
  assert_int_equal(store_evict_plan(f->st, 1000, now_s(), NULL, NULL, 100, &p),
                   0);
  assert_int_equal(p.total_bytes, 0);
  store_evict_plan_dispose(&p);
  uint64_t b = fx_put_version(f, M, "v1.0.0", 1000, 1);
  assert_int_equal(store_evict_plan(f->st, b, now_s() + 1, NULL, NULL, 100, &p),
                   0);
  assert_int_equal(p.total_bytes, b);
  assert_int_equal(p.n, 0);
  assert_int_equal(p.over_bytes, 0);
  store_evict_plan_dispose(&p);
  store_evict_plan_dispose(NULL);
}

static void test_access_put_raises_only(void **state) {
  struct fixture *f = *state;
  fx_put_version(f, M, "v1.0.0", 100, 1);
  struct store_access a[] = {{M, "v1.0.0", 5000}, {M, "v9.9.9", 7000}};
  assert_int_equal(store_access_put(f->st, a, 2), 0); /* unknown: skipped */
  assert_int_equal(
      fx_int(f, "SELECT accessed FROM versions WHERE version = 'v1.0.0'"),
      5000);
  a[0].used = 4000;
  assert_int_equal(store_access_put(f->st, a, 1), 0);
  assert_int_equal(
      fx_int(f, "SELECT accessed FROM versions WHERE version = 'v1.0.0'"),
      5000);
  a[0].used = 6000;
  assert_int_equal(store_access_put(f->st, a, 1), 0);
  assert_int_equal(
      fx_int(f, "SELECT accessed FROM versions WHERE version = 'v1.0.0'"),
      6000);
  assert_int_equal(store_access_put(f->st, a, 0), 0);
  assert_int_equal(fx_int(f, "SELECT count(*) FROM versions"), 1);
}

/* Twelve versions used a minute apart, oldest first; some of them kept for
 * each reason. Eviction to a limit takes the oldest of the others, in
 * order, just enough of them, and frees exactly their bytes. */
static void test_lru_keeps_what_it_must(void **state) {
  struct fixture *f = *state;
  const int64_t base = now_s() - 100000;
  enum { N = 12 };
  char v[N][16];
  uint64_t bytes[N], total = 0;
  for (int i = 0; i < N; i++) {
    snprintf(v[i], sizeof v[i], "v1.0.%d", i);
    bytes[i] = fx_put_version(f, M, v[i], 2000 + 100 * (size_t)i, (uint64_t)i);
    fx_set_used(f, M, v[i], base + 60 * i);
    total += bytes[i];
  }
  /* Kept: v1.0.0 pinned, v1.0.1 imported, v1.0.2 private (provenance),
   * v1.0.4 used recently (through the batch API). */
  assert_int_equal(store_pin_put(f->st, M, "v1.0.0"), 0);
  assert_int_equal(store_version_set_imported(f->st, M, "v1.0.1"), 0);
  assert_int_equal(
      store_provenance_put(f->st, M, "v1.0.2", "https://git.example/lru", NULL,
                           "0123456789abcdef0123456789abcdef01234567"),
      0);
  struct store_access a = {M, "v1.0.4", now_s()};
  assert_int_equal(store_access_put(f->st, &a, 1), 0);
  /* Other modules: a whole-module pin and a private module. */
  uint64_t pinned_mod =
      fx_put_version(f, "example.com/keepall", "v0.1.0", 5000, 90);
  uint64_t private_mod =
      fx_put_version(f, "corp.example/secret", "v0.1.0", 5000, 91);
  fx_set_used(f, "example.com/keepall", "v0.1.0", base - 1000);
  fx_set_used(f, "corp.example/secret", "v0.1.0", base - 1000);
  assert_int_equal(store_pin_put(f->st, "example.com/keepall", ""), 0);
  total += pinned_mod + private_mod;
  assert_int_equal(cache_bytes(f->st), total);

  /* Evictable, oldest first: 3, 5, 6, 7, ... Free at least bytes[3] +
   * bytes[5] + 1: three victims exactly. */
  uint64_t max = total - (bytes[3] + bytes[5] + 1);
  int64_t before = now_s() - 600;
  struct store_evict_plan p;
  int n = store_evict_plan(f->st, max, before, keep_private,
                           "corp.example/secret", 1000, &p);
  assert_int_equal(n, 3);
  assert_string_equal(p.v[0].version, "v1.0.3");
  assert_string_equal(p.v[1].version, "v1.0.5");
  assert_string_equal(p.v[2].version, "v1.0.6");
  assert_int_equal(p.v[0].used, base + 180);
  assert_int_equal(p.v[0].bytes, bytes[3]);
  assert_int_equal(p.plan_bytes, bytes[3] + bytes[5] + bytes[6]);
  assert_int_equal(p.total_bytes, total);
  assert_int_equal(p.over_bytes, 0);
  uint64_t freed = 0;
  assert_int_equal(store_evict_apply(f->st, &p, before, &freed), 3);
  assert_int_equal(freed, bytes[3] + bytes[5] + bytes[6]);
  store_evict_plan_dispose(&p);
  assert_int_equal(cache_bytes(f->st), total - freed);
  assert_true(cache_bytes(f->st) <= max);
  for (int i = 0; i < N; i++)
    assert_int_equal(fx_gone(f, M, v[i]), i == 3 || i == 5 || i == 6);
  assert_int_equal(fx_gone(f, "example.com/keepall", "v0.1.0"), 0);
  assert_int_equal(fx_gone(f, "corp.example/secret", "v0.1.0"), 0);
  assert_int_equal(
      fx_int(f, "SELECT count(*) FROM zip_chunks c WHERE NOT EXISTS"
                " (SELECT 1 FROM versions v WHERE v.id = c.version_id)"),
      0);
  assert_int_equal(
      fx_int(f, "SELECT count(*) FROM removals WHERE reason = 'evicted'"
                " AND module = '" M "' AND version IN"
                " ('v1.0.3', 'v1.0.5', 'v1.0.6')"),
      3);

  /* Down to nothing: everything evictable goes, the rest is reported. */
  n = store_evict_plan(f->st, 0, before, keep_private, "corp.example/secret",
                       1000, &p);
  assert_int_equal(n, N - 4 - 3);
  uint64_t kept =
      bytes[0] + bytes[1] + bytes[2] + bytes[4] + pinned_mod + private_mod;
  assert_int_equal(p.over_bytes, kept);
  assert_int_equal(store_evict_apply(f->st, &p, before, &freed), N - 7);
  store_evict_plan_dispose(&p);
  assert_int_equal(cache_bytes(f->st), kept);
  /* Without the keep callback the private module is evictable. */
  n = store_evict_plan(f->st, 0, before, NULL, NULL, 1000, &p);
  assert_int_equal(n, 1);
  assert_string_equal(p.v[0].module, "corp.example/secret");
  store_evict_plan_dispose(&p);
}

/* Between the plan and its application, one victim is used and another
 * pinned: both stay, the rest go. */
static void test_apply_rechecks(void **state) {
  struct fixture *f = *state;
  const int64_t base = now_s() - 100000;
  uint64_t b[4];
  for (int i = 0; i < 4; i++) {
    char v[16];
    snprintf(v, sizeof v, "v2.0.%d", i);
    b[i] = fx_put_version(f, M, v, 1000, (uint64_t)(10 + i));
    fx_set_used(f, M, v, base + i);
  }
  int64_t before = now_s() - 600;
  struct store_evict_plan p;
  assert_int_equal(store_evict_plan(f->st, 0, before, NULL, NULL, 100, &p), 4);
  struct store_access a = {M, "v2.0.1", now_s()};
  assert_int_equal(store_access_put(f->st, &a, 1), 0);
  assert_int_equal(store_pin_put(f->st, M, "v2.0.2"), 0);
  uint64_t freed;
  assert_int_equal(store_evict_apply(f->st, &p, before, &freed), 2);
  assert_int_equal(freed, b[0] + b[3]);
  assert_int_equal(p.v[1].bytes, 0);
  assert_int_equal(p.v[2].bytes, 0);
  store_evict_plan_dispose(&p);
  assert_int_equal(fx_gone(f, M, "v2.0.0"), 1);
  assert_int_equal(fx_gone(f, M, "v2.0.1"), 0);
  assert_int_equal(fx_gone(f, M, "v2.0.2"), 0);
  assert_int_equal(fx_gone(f, M, "v2.0.3"), 1);
  /* max_victims bounds a plan. */
  assert_int_equal(store_pin_delete(f->st, M, "v2.0.2"), 0);
  fx_set_used(f, M, "v2.0.1", base);
  assert_int_equal(store_evict_plan(f->st, 0, before, NULL, NULL, 1, &p), 1);
  assert_true(p.over_bytes > 0);
  store_evict_plan_dispose(&p);
}

/* Many versions, inserted directly (one transaction), evicted down to half:
 * the figures for the README. */
static void test_many_versions_timing(void **state) {
  struct fixture *f = *state;
  enum { N = 20000, ZIP = 4096 };
  const int64_t base = now_s() - 1000000;
  sqlite3 *db = fx_raw(f);
  assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_stmt *v = NULL, *z = NULL;
  assert_int_equal(
      sqlite3_prepare_v2(
          db,
          "INSERT INTO versions (module, version, info, mod,"
          " zip_size, zip_h1, zip_sha256, created)"
          " VALUES (?1, ?2, '{}', 'module x', ?3, 'h1:x', 'x', ?4)",
          -1, &v, NULL),
      SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "INSERT INTO zip_chunks (version_id, seq, data)"
                         " VALUES (?1, 0, randomblob(?2))",
                         -1, &z, NULL),
      SQLITE_OK);
  for (int i = 0; i < N; i++) {
    char mod[64], ver[32];
    snprintf(mod, sizeof mod, "example.com/m%d", i % 500);
    snprintf(ver, sizeof ver, "v1.%d.0", i);
    sqlite3_reset(v);
    sqlite3_bind_text(v, 1, mod, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(v, 2, ver, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(v, 3, ZIP);
    /* Uses scattered over time, not in insertion order. */
    sqlite3_bind_int64(v, 4, base + (int64_t)((i * 7919) % N));
    assert_int_equal(sqlite3_step(v), SQLITE_DONE);
    sqlite3_reset(z);
    sqlite3_bind_int64(z, 1, sqlite3_last_insert_rowid(db));
    sqlite3_bind_int(z, 2, ZIP);
    assert_int_equal(sqlite3_step(z), SQLITE_DONE);
  }
  sqlite3_finalize(v);
  sqlite3_finalize(z);
  assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  uint64_t total = cache_bytes(f->st);
  struct timespec t0, t1, t2;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  struct store_evict_plan p;
  int n = store_evict_plan(f->st, total / 2, now_s() - 600, NULL, NULL,
                           SIZE_MAX, &p);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_true(n >= N / 2 - 1 && n <= N / 2 + 1);
  /* Oldest first. */
  for (size_t i = 1; i < p.n; i++)
    assert_true(p.v[i - 1].used <= p.v[i].used);
  uint64_t freed;
  assert_int_equal(store_evict_apply(f->st, &p, now_s() - 600, &freed), n);
  clock_gettime(CLOCK_MONOTONIC, &t2);
  assert_true(cache_bytes(f->st) <= total / 2);
  print_message("eviction of %d of %d versions (%llu bytes): plan %.3f s, "
                "apply %.3f s\n",
                n, N, (unsigned long long)freed,
                (double)(t1.tv_sec - t0.tv_sec) +
                    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                (double)(t2.tv_sec - t1.tv_sec) +
                    (double)(t2.tv_nsec - t1.tv_nsec) / 1e9);
  store_evict_plan_dispose(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_under_limit_plans_nothing, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_access_put_raises_only, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_lru_keeps_what_it_must, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_apply_rechecks, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_many_versions_timing, fx_setup,
                                      fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
