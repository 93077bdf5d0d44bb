/*
 * store/fsck.c: a clean store checks clean (every file counted); each kind
 * of damage written into the database directly, as a failing disk or a
 * stray tool would, is found: zip bytes changed in place (same length), a
 * chunk row missing, a .mod changed, a .info that no longer names its
 * version. --dry-run reports and keeps; otherwise the bad file moves to the
 * quarantine (its bytes kept there), is never served again, the removal is
 * logged, and storing the file again (the next fetch) works and checks
 * clean.
 */
#include <errno.h>

#include "store_fixture.h"

#define M "example.com/fsck"

struct seen {
  int n;
  char what[8][256];
};

static void on_problem(const struct store_fsck_problem *p, void *arg) {
  struct seen *s = arg;
  if (s->n < 8)
    snprintf(s->what[s->n], sizeof s->what[0], "%s@%s %s%s: %s", p->module,
             p->version, p->part, p->quarantined ? " Q" : "", p->reason);
  s->n++;
}

static int64_t version_id(struct fixture *f, const char *version) {
  return fx_int(f,
                "SELECT id FROM versions WHERE module = '" M "'"
                " AND version = '%s'",
                version);
}

static void test_clean_store(void **state) {
  struct fixture *f = *state;
  struct store_fsck_result r;
  struct seen s = {0};
  assert_int_equal(store_fsck(f->st, 1, on_problem, &s, &r), 0);
  assert_int_equal(r.versions, 0);
  uint64_t bytes = fx_put_version(f, M, "v1.0.0", 700000, 1); /* 3 chunks */
  bytes += fx_put_version(f, M, "v1.0.1", 10, 2);
  assert_int_equal(store_part_put(f->st, M, "v1.0.2", STORE_MOD,
                                  "module " M "\n", sizeof "module " M "\n" - 1,
                                  "t"),
                   0); /* a version with only a .mod */
  bytes += sizeof "module " M "\n" - 1;
  assert_int_equal(store_fsck(f->st, 1, on_problem, &s, &r), 0);
  assert_int_equal(s.n, 0);
  assert_int_equal(r.versions, 3);
  assert_int_equal(r.files, 7);
  assert_int_equal(r.bytes, bytes);
  assert_int_equal(r.bad, 0);
  assert_int_equal(r.quarantined, 0);
}

static void test_damaged_zip_quarantined(void **state) {
  struct fixture *f = *state;
  fx_put_version(f, M, "v1.0.0", 700000, 1);
  fx_put_version(f, M, "v1.1.0", 3000, 2);
  struct store_zip_meta before;
  assert_int_equal(store_zip_stat(f->st, M, "v1.0.0", &before), 0);
  /* Garbage over the middle chunk, same length: only the hashes can tell. */
  int64_t id = version_id(f, "v1.0.0");
  fx_sql(f,
         "UPDATE zip_chunks SET data = randomblob(length(data))"
         " WHERE version_id = %lld AND seq = 1",
         (long long)id);
  struct store_fsck_result r;
  struct seen s = {0};
  assert_int_equal(store_fsck(f->st, 0, on_problem, &s, &r), 0); /* dry run */
  assert_int_equal(r.bad, 1);
  assert_int_equal(r.quarantined, 0);
  assert_int_equal(s.n, 1);
  assert_non_null(strstr(s.what[0], M "@v1.0.0 zip: zip SHA-256 is "));
  assert_non_null(strstr(s.what[0], before.sha256));
  assert_int_equal(fx_gone(f, M, "v1.0.0"), 0); /* still there */

  memset(&s, 0, sizeof s);
  assert_int_equal(store_fsck(f->st, 1, on_problem, &s, &r), 0);
  assert_int_equal(r.bad, 1);
  assert_int_equal(r.quarantined, 1);
  assert_non_null(strstr(s.what[0], M "@v1.0.0 zip Q: "));
  /* Never served again: the zip is gone, .info and .mod stay. */
  struct store_zip_meta m;
  assert_int_equal(store_zip_stat(f->st, M, "v1.0.0", &m), -ENOENT);
  char buf[16];
  assert_int_equal(store_zip_read(f->st, M, "v1.0.0", 0, buf, sizeof buf),
                   -ENOENT);
  struct store_bytes b = {0};
  assert_int_equal(store_part_get(f->st, M, "v1.0.0", STORE_MOD, &b, NULL), 0);
  store_bytes_free(&b);
  /* The damaged bytes are kept aside, whole. */
  assert_int_equal(fx_int(f,
                          "SELECT count(*) FROM quarantine WHERE part = 'zip'"
                          " AND module = '" M "' AND version = 'v1.0.0'"),
                   1);
  assert_int_equal(fx_int(f, "SELECT sum(length(data)) FROM quarantine_chunks"),
                   (int64_t)before.size);
  assert_int_equal(
      fx_int(f, "SELECT count(*) FROM zip_chunks WHERE version_id = %lld",
             (long long)id),
      0);
  assert_int_equal(fx_int(f, "SELECT count(*) FROM removals WHERE reason ="
                             " 'quarantined' AND version = 'v1.0.0'"),
                   1);
  struct store_stats st;
  assert_int_equal(store_stats_get(f->st, &st), 0);
  assert_int_equal(st.quarantined, 1);
  /* The next fetch stores it again, and all is clean. */
  fx_put_version(f, M, "v1.0.0", 700000, 1);
  assert_int_equal(store_zip_stat(f->st, M, "v1.0.0", &m), 0);
  assert_string_equal(m.sha256, before.sha256);
  store_zip_meta_dispose(&m);
  store_zip_meta_dispose(&before);
  memset(&s, 0, sizeof s);
  assert_int_equal(store_fsck(f->st, 1, on_problem, &s, &r), 0);
  assert_int_equal(r.bad, 0);
  assert_int_equal(r.versions, 2);
}

static void test_other_damage(void **state) {
  struct fixture *f = *state;
  fx_put_version(f, M, "v1.0.0", 600000, 1);
  fx_put_version(f, M, "v1.0.1", 100, 2);
  fx_put_version(f, M, "v1.0.2", 100, 3);
  fx_put_version(f, M, "v1.0.3", 100, 4);
  /* v1.0.0: a chunk row lost; v1.0.1: the .mod changed; v1.0.2: the .info
   * names another version; v1.0.3: the zip rewritten as a valid zip whose
   * SHA-256 was recorded again but not its h1 (a consistent-looking lie). */
  fx_sql(f, "DELETE FROM zip_chunks WHERE version_id = %lld AND seq = 2",
         (long long)version_id(f, "v1.0.0"));
  fx_sql(f, "UPDATE versions SET mod = CAST('module evil.example/x' AS BLOB)"
            " WHERE module = '" M "' AND version = 'v1.0.1'");
  fx_sql(f,
         "UPDATE versions SET info = CAST('{\"Version\":\"v9.9.9\"}' AS BLOB)"
         " WHERE module = '" M "' AND version = 'v1.0.2'");
  fx_sql(f, "UPDATE versions SET zip_h1 = "
            "'h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='"
            " WHERE module = '" M "' AND version = 'v1.0.3'");
  struct store_fsck_result r;
  struct seen s = {0};
  assert_int_equal(store_fsck(f->st, 1, on_problem, &s, &r), 0);
  assert_int_equal(r.bad, 4);
  assert_int_equal(r.quarantined, 4);
  assert_int_equal(s.n, 4);
  assert_non_null(strstr(s.what[0], "v1.0.0 zip Q: zip is "));
  assert_non_null(strstr(s.what[0], "in 2 chunks"));
  assert_non_null(strstr(s.what[1], "v1.0.1 mod Q: go.mod h1 is "));
  assert_non_null(strstr(s.what[2], "v1.0.2 info Q: "));
  assert_non_null(strstr(s.what[3], "v1.0.3 zip Q: zip h1 is "));
  struct store_bytes b = {0};
  assert_int_equal(store_part_get(f->st, M, "v1.0.1", STORE_MOD, &b, NULL),
                   -ENOENT);
  assert_int_equal(store_part_get(f->st, M, "v1.0.2", STORE_INFO, &b, NULL),
                   -ENOENT);
  assert_int_equal(store_part_get(f->st, M, "v1.0.2", STORE_MOD, &b, NULL), 0);
  store_bytes_free(&b);
  assert_int_equal(fx_int(f, "SELECT count(*) FROM quarantine"), 4);
  assert_int_equal(
      fx_int(f, "SELECT length(data) FROM quarantine WHERE part = 'mod'"),
      (int64_t)strlen("module evil.example/x"));
  memset(&s, 0, sizeof s);
  assert_int_equal(store_fsck(f->st, 1, on_problem, &s, &r), 0);
  assert_int_equal(r.bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_clean_store, fx_setup, fx_teardown),
      cmocka_unit_test_setup_teardown(test_damaged_zip_quarantined, fx_setup,
                                      fx_teardown),
      cmocka_unit_test_setup_teardown(test_other_damage, fx_setup, fx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
