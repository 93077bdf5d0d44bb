/*
 * What an offline mirror was asked for and lacked: the list a site carries
 * to a connected machine (`modproxy missing`, /diag/mirror). One row per
 * module and version or query, with how often and when it was asked.
 *
 * Not every miss is wanted: for an import a.b/c/d the go command asks
 * a.b/c/d, a.b/c and a.b at once, and all but the module are expected to
 * be missing. The rule is the one /diag applies to the request ring
 * (records.c): a miss is such a path-prefix probe when a longer path under
 * it was asked about at the same time, or when it extends a module that
 * was found (here: that the store holds). The go command probes with
 * queries (.info, lists, @latest), never by fetching a .mod or a .zip, so
 * those misses are always wanted. A miss also leaves the list once the
 * store has what it asked for (the version; for a query, any version of the
 * module: an offline mirror answers queries from what it holds).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The probes of one go command are asked together: two misses are of the
 * same command when they were asked within this many seconds. */
#define STORE_PROBE_WINDOW_S 60

static const char sql_add[] =
    "INSERT INTO misses (module, query, exact, fetch, count, first, last)"
    " VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5) ON CONFLICT (module, query) DO"
    " UPDATE SET count = count + 1, fetch = max(fetch, excluded.fetch),"
    " first = min(first, excluded.first), last = max(last, excluded.last)";

int store_misses_add(struct store *st, const struct store_miss *v, size_t n) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s = store__prepare(c->db, sql_add);
  if (s == NULL)
    rc = -EIO;
  for (size_t i = 0; s != NULL && i < n && rc == 0; i++) {
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, v[i].module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, v[i].query, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, v[i].exact != 0);
    sqlite3_bind_int(s, 4, v[i].fetch != 0);
    sqlite3_bind_int64(s, 5, v[i].last);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "miss add");
  }
  sqlite3_finalize(s);
  return store__write_end(st, c, rc);
}

/* The misses still lacking, without those a longer path asked at the same
 * time makes probes (a range of the primary key: '0' follows '/'). */
static const char sql_each[] =
    "SELECT m.module, m.query, m.exact, m.fetch, m.count, m.first, m.last"
    " FROM misses m WHERE m.last >= ?1"
    " AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.module = m.module"
    "  AND (v.version = m.query OR NOT m.exact))"
    " AND (m.fetch OR NOT EXISTS (SELECT 1 FROM misses o"
    "  WHERE o.module > m.module || '/' AND o.module < m.module || '0'"
    "  AND o.first <= m.last + ?2 AND o.last >= m.first - ?2))"
    " ORDER BY m.module, m.query";
static const char sql_held[] = "SELECT 1 FROM versions WHERE module = ?1";

/* 1 when a module whose path module extends (a.b/c for a.b/c/d) is stored. */
static int extends_stored(sqlite3_stmt *held, const char *module) {
  char path[1024];
  snprintf(path, sizeof path, "%s", module);
  for (char *slash = strrchr(path, '/'); slash != NULL;
       slash = strrchr(path, '/')) {
    *slash = '\0';
    sqlite3_reset(held);
    sqlite3_bind_text(held, 1, path, -1, SQLITE_STATIC);
    if (sqlite3_step(held) == SQLITE_ROW)
      return 1;
  }
  return 0;
}

int store_misses_each(struct store *st, int64_t since,
                      int (*cb)(void *arg, const struct store_miss *m),
                      void *arg) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0, step = SQLITE_DONE;
  sqlite3_stmt *s = store__prepare(c->db, sql_each);
  sqlite3_stmt *held = store__prepare(c->db, sql_held);
  if (s == NULL || held == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, since);
  sqlite3_bind_int64(s, 2, STORE_PROBE_WINDOW_S);
  while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
    struct store_miss m = {
        .module = (const char *)sqlite3_column_text(s, 0),
        .query = (const char *)sqlite3_column_text(s, 1),
        .exact = sqlite3_column_int(s, 2),
        .fetch = sqlite3_column_int(s, 3),
        .count = (uint64_t)sqlite3_column_int64(s, 4),
        .first = sqlite3_column_int64(s, 5),
        .last = sqlite3_column_int64(s, 6),
    };
    if (!m.fetch && extends_stored(held, m.module))
      continue;
    rc = cb(arg, &m);
  }
  if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
    rc = store__fail(c->db, "misses");
out:
  sqlite3_finalize(s);
  sqlite3_finalize(held);
  store__reader_put(st, c);
  return rc;
}
