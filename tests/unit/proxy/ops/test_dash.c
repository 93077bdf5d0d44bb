/*
 * dash.c: /diag's aggregates as records arrive: time buckets (the last
 * hour, day and week), the go command's path-prefix probes told from real
 * misses in both orders and only within the window, the bounded table of
 * most-missed modules, and the start from the store's ring.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dash.h"

static int64_t now_ms(void) {
  return (int64_t)time(NULL) * 1000;
}

/* Counts a record; module may be NULL. */
static void add(struct dash *d, int64_t ms, int status, enum diag_outcome o,
                const char *module) {
  static int n;
  struct diag_record r = {.start_ms = ms, .status = status, .outcome = o};
  snprintf(r.id, sizeof r.id, "id%d", n++);
  r.module = (char *)module;
  r.target = (char *)"/t";
  dash_record(d, &r);
}

static int missed_has(const struct dash *d, const char *module) {
  struct dash_missed m[DASH_MISSED];
  int n = dash_missed(d, m, DASH_MISSED);
  for (int i = 0; i < n; i++)
    if (strcmp(m[i].module, module) == 0)
      return 1;
  return 0;
}

static void test_buckets(void **state) {
  struct dash *d = dash_new();
  assert_non_null(d);
  int64_t now = now_ms();
  add(d, now, 200, DIAG_HIT, "a.example/m");
  add(d, now, 200, DIAG_FETCHED, "a.example/m");
  add(d, now - 2 * 3600 * 1000, 404, DIAG_NOT_FOUND, "b.example/m");
  add(d, now - 3 * 86400 * 1000LL, 502, DIAG_UPSTREAM_ERROR, "c.example/m");
  /* A day ago: the slot that a record 8 days old would take in the ring of
   * hours (192 h - 168 h), where the older one must not count. */
  add(d, now - 86400 * 1000LL, 200, DIAG_HIT, "a.example/m");
  add(d, now - 8 * 86400 * 1000LL, 502, DIAG_UPSTREAM_ERROR, "c.example/m");
  dash_upstream(d, 1, 40, 0);
  dash_upstream(d, 1, 60, 1);
  struct dash_bucket sum;
  dash_sum(d, DASH_HOUR, now, &sum);
  assert_int_equal(sum.requests, 2);
  assert_int_equal(sum.hits, 1);
  assert_int_equal(sum.fetched, 1);
  assert_int_equal(sum.failures, 0);
  assert_int_equal(sum.up_answers[1], 2);
  assert_int_equal(sum.up_errors[1], 1);
  assert_int_equal(sum.up_ms[1], 100);
  dash_sum(d, DASH_DAY, now, &sum);
  assert_int_equal(sum.requests, 3);
  assert_int_equal(sum.cause[DIAG_NOT_FOUND], 1);
  dash_sum(d, DASH_WEEK, now, &sum);
  assert_int_equal(sum.requests, 5); /* the 8-day-old one is out */
  assert_int_equal(sum.cause[DIAG_UPSTREAM_ERROR], 1);
  /* The series: 60 minutes, the newest last. */
  static struct dash_bucket b[DASH_HOURS];
  int step;
  assert_int_equal(dash_series(d, DASH_HOUR, now, b, &step), 60);
  assert_int_equal(step, 60);
  assert_int_equal(b[59].requests, 2);
  assert_int_equal(dash_series(d, DASH_WEEK, now, b, &step), DASH_HOURS);
  assert_int_equal(b[DASH_HOURS - 3].cause[DIAG_NOT_FOUND], 1);
  /* Since start: everything, and each cause's latest request. */
  uint64_t req, fail, probes;
  dash_totals(d, &req, &fail, &probes);
  assert_int_equal(req, 6);
  assert_int_equal(fail, 3);
  assert_int_equal(dash_cause(d, DIAG_UPSTREAM_ERROR)->count, 2);
  assert_string_equal(dash_cause(d, DIAG_UPSTREAM_ERROR)->last_id, "id3");
  dash_free(d);
  dash_free(NULL);
}

/* For an import a.b/c/d no module provides, the go command asks a.b/c/d,
 * a.b/c and a.b: the longest is the real miss, in whatever order. */
static void test_probes(void **state) {
  static const char *const orders[][3] = {
      {"x.example/c/d", "x.example/c", "x.example"},
      {"x.example", "x.example/c", "x.example/c/d"},
      {"x.example/c", "x.example/c/d", "x.example"},
  };
  for (size_t k = 0; k < sizeof orders / sizeof orders[0]; k++) {
    struct dash *d = dash_new();
    int64_t now = now_ms();
    for (int i = 0; i < 3; i++)
      add(d, now, 404, DIAG_NOT_FOUND, orders[k][i]);
    uint64_t req, fail, probes;
    dash_totals(d, &req, &fail, &probes);
    assert_int_equal(probes, 2);
    assert_true(missed_has(d, "x.example/c/d"));
    assert_false(missed_has(d, "x.example/c"));
    assert_false(missed_has(d, "x.example"));
    struct dash_bucket sum;
    dash_sum(d, DASH_HOUR, now, &sum);
    assert_int_equal(sum.probes, 2);
    dash_free(d);
  }
  /* A package of a module that exists: its path, and the module's parent,
   * are probes, found from the module's answer. */
  struct dash *d = dash_new();
  int64_t now = now_ms();
  add(d, now, 404, DIAG_NOT_FOUND, "golang.org/x/text/language");
  add(d, now, 200, DIAG_FETCHED, "golang.org/x/text");
  add(d, now, 404, DIAG_NOT_FOUND, "golang.org/x");
  uint64_t req, fail, probes;
  dash_totals(d, &req, &fail, &probes);
  assert_int_equal(probes, 2);
  assert_false(missed_has(d, "golang.org/x/text/language"));
  assert_false(missed_has(d, "golang.org/x"));
  /* Outside the window, a longer path makes no probe of an old miss. */
  add(d, now, 404, DIAG_NOT_FOUND, "far.example/a");
  for (int i = 0; i < DASH_PROBE_WINDOW; i++)
    add(d, now, 200, DIAG_HIT, "other.example/m");
  add(d, now, 404, DIAG_NOT_FOUND, "far.example/a/b");
  dash_totals(d, &req, &fail, &probes);
  assert_int_equal(probes, 2);
  assert_true(missed_has(d, "far.example/a"));
  assert_true(missed_has(d, "far.example/a/b"));
  dash_free(d);
}

/* The table of missed modules is bounded; a frequent miss stays in it
 * through a stream of one-off misses. */
static void test_missed_bounded(void **state) {
  struct dash *d = dash_new();
  int64_t now = now_ms();
  for (int i = 0; i < 5; i++)
    add(d, now, 404, DIAG_NOT_FOUND, "often.example/m");
  char m[64];
  for (int i = 0; i < 3 * DASH_MISSED; i++) {
    snprintf(m, sizeof m, "once%d.example/m", i);
    add(d, now, 404, DIAG_NOT_FOUND, m);
  }
  struct dash_missed top[3];
  assert_int_equal(dash_missed(d, top, 3), 3);
  assert_string_equal(top[0].module, "often.example/m");
  assert_int_equal(top[0].count, 5);
  dash_free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buckets),
      cmocka_unit_test(test_probes),
      cmocka_unit_test(test_missed_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
