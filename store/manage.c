/*
 * Cache management bookkeeping: pins, versions imported into a mirror, the
 * removal log, dropping a module's expiring answers, and the counts behind
 * `modproxy stats` and /metrics.
 *
 * The removal log is how processes sharing a store learn what another one
 * removed: eviction and fsck append (module, version) in the transaction
 * that removes the bytes, and a running server reads the entries after the
 * last one it saw to forget its in-memory copies. Sequence numbers come from
 * AUTOINCREMENT, so trimming old entries never lets a number come back.
 *
 * These statements run rarely (an admin command, a flush every few seconds),
 * so they are prepared per call rather than kept in the statement cache.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Removal-log entries older than this are trimmed: a server reads the log
 * every few seconds, so a day is far more than any reader needs. */
#define STORE_REMOVALS_KEEP_S 86400

sqlite3_stmt *store__prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    store__fail(db, "prepare");
    sqlite3_finalize(s);
    return NULL;
  }
  return s;
}

/* Runs a statement that returns no rows, with text bindings. */
static int exec_text(sqlite3 *db, const char *sql, const char *what, int n,
                     const char *const *args) {
  sqlite3_stmt *s = store__prepare(db, sql);
  if (s == NULL)
    return -EIO;
  for (int i = 0; i < n; i++)
    sqlite3_bind_text(s, i + 1, args[i], -1, SQLITE_STATIC);
  int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(db)
                                          : store__fail(db, what);
  sqlite3_finalize(s);
  return rc;
}

/* ---- pins ---------------------------------------------------------------- */

int store_pin_put(struct store *st, const char *module, const char *version) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s = store__prepare(
      c->db, "INSERT OR IGNORE INTO pins (module, version, pinned)"
             " VALUES (?1, ?2, ?3)");
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store__now());
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "pin");
    sqlite3_finalize(s);
  }
  return store__write_end(st, c, rc);
}

int store_pin_delete(struct store *st, const char *module,
                     const char *version) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  const char *args[] = {module, version};
  int deleted =
      exec_text(c->db, "DELETE FROM pins WHERE module = ?1 AND version = ?2",
                "unpin", 2, args);
  rc = store__write_end(st, c, deleted < 0 ? deleted : 0);
  if (rc < 0)
    return rc;
  return deleted == 0 ? -ENOENT : 0;
}

int store_pins_each(struct store *st,
                    int (*cb)(const char *module, const char *version,
                              int64_t pinned, uint64_t bytes, void *arg),
                    void *arg) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = store__prepare(
      c->db, "SELECT p.module, p.version, p.pinned,"
             " (SELECT coalesce(sum(coalesce(v.zip_size, 0) + "
             "coalesce(length(v.info), 0)"
             "  + coalesce(length(v.mod), 0)), 0) FROM versions v"
             "  WHERE v.module = p.module AND (p.version = '' OR v.version = "
             "p.version))"
             " FROM pins p ORDER BY p.module, p.version");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (cb((const char *)sqlite3_column_text(s, 0),
           (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2),
           (uint64_t)sqlite3_column_int64(s, 3), arg) != 0)
      break;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE)
    rc = store__fail(c->db, "list pins");
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

int store_version_set_imported(struct store *st, const char *module,
                               const char *version) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  const char *args[] = {module, version};
  int changed = exec_text(c->db,
                          "UPDATE versions SET imported = 1"
                          " WHERE module = ?1 AND version = ?2",
                          "mark imported", 2, args);
  rc = store__write_end(st, c, changed < 0 ? changed : 0);
  if (rc < 0)
    return rc;
  return changed == 0 ? -ENOENT : 0;
}

/* ---- answers ------------------------------------------------------------- */

int store_answers_drop(struct store *st, const char *module) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  const char *args[] = {module};
  rc = exec_text(c->db, "DELETE FROM answers WHERE module = ?1", "drop answers",
                 1, args);
  int end = store__write_end(st, c, rc);
  return end < 0 ? end : rc;
}

int store_answers_expire(struct store *st, int64_t before) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  char at[24];
  snprintf(at, sizeof at, "%" PRId64, before);
  const char *args[] = {at};
  rc = exec_text(c->db,
                 "DELETE FROM answers WHERE status != 200"
                 " AND fetched < CAST(?1 AS INTEGER)",
                 "expire answers", 1, args);
  int end = store__write_end(st, c, rc);
  return end < 0 ? end : rc;
}

/* ---- the removal log ----------------------------------------------------- */

int store__removal_log(struct store_conn *c, const char *module,
                       const char *version, const char *reason) {
  sqlite3_stmt *s =
      store__prepare(c->db, "INSERT INTO removals (module, version, reason, at)"
                            " VALUES (?1, ?2, ?3, ?4)");
  if (s == NULL)
    return -EIO;
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, reason, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, store__now());
  int rc =
      sqlite3_step(s) == SQLITE_DONE ? 0 : store__fail(c->db, "log removal");
  sqlite3_finalize(s);
  return rc;
}

int store_removals_last(struct store *st, int64_t *seq) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  *seq = 0;
  sqlite3_stmt *s =
      store__prepare(c->db, "SELECT coalesce(max(seq), 0) FROM removals");
  if (s == NULL)
    rc = -EIO;
  else if (sqlite3_step(s) != SQLITE_ROW)
    rc = store__fail(c->db, "removal log");
  else
    *seq = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  store__reader_put(st, c);
  return rc;
}

int store_removals_since(struct store *st, int64_t after, size_t max,
                         void (*cb)(const char *module, const char *version,
                                    void *arg),
                         void *arg, int64_t *last) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  *last = after;
  sqlite3_stmt *s = store__prepare(
      c->db, "SELECT seq, module, version FROM removals WHERE seq > ?1"
             " ORDER BY seq LIMIT ?2");
  if (s == NULL) {
    store__reader_put(st, c);
    return -EIO;
  }
  sqlite3_bind_int64(s, 1, after);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    *last = sqlite3_column_int64(s, 0);
    cb((const char *)sqlite3_column_text(s, 1),
       (const char *)sqlite3_column_text(s, 2), arg);
  }
  if (step != SQLITE_DONE)
    rc = store__fail(c->db, "read removal log");
  sqlite3_finalize(s);
  store__reader_put(st, c);
  if (rc < 0)
    return rc;
  /* Trim, cheaply: only when the oldest entry (the lowest seq, found
   * through the rowid) is old enough. */
  c = store__reader_get(st);
  s = store__prepare(c->db, "SELECT at FROM removals ORDER BY seq LIMIT 1");
  int old = s != NULL && sqlite3_step(s) == SQLITE_ROW &&
            sqlite3_column_int64(s, 0) < store__now() - STORE_REMOVALS_KEEP_S;
  sqlite3_finalize(s);
  store__reader_put(st, c);
  if (old) {
    struct store_conn *w;
    if (store__write_begin(st, &w) == 0) {
      sqlite3_stmt *d =
          store__prepare(w->db, "DELETE FROM removals WHERE at < ?1");
      int drc = 0;
      if (d != NULL) {
        sqlite3_bind_int64(d, 1, store__now() - STORE_REMOVALS_KEEP_S);
        if (sqlite3_step(d) != SQLITE_DONE)
          drc = store__fail(w->db, "trim removal log");
      }
      sqlite3_finalize(d);
      store__write_end(st, w, drc);
    }
  }
  return 0;
}

/* ---- counts -------------------------------------------------------------- */

int store__stats_more(struct store_conn *c, struct store_stats *out) {
  sqlite3_stmt *s = store__prepare(
      c->db,
      "SELECT (SELECT count(*) FROM requests),"
      " (SELECT count(*) FROM zip_chunks),"
      " (SELECT count(*) FROM provenance),"
      " (SELECT count(*) FROM versions WHERE imported != 0),"
      " (SELECT count(*) FROM pins),"
      " (SELECT count(*) FROM quarantine),"
      " (SELECT count(*) FROM removals),"
      " (SELECT coalesce(min(coalesce(accessed, created)), 0) FROM versions),"
      " (SELECT page_count * page_size FROM pragma_page_count(), "
      "pragma_page_size()),"
      " (SELECT freelist_count * page_size FROM pragma_freelist_count(),"
      "   pragma_page_size())");
  if (s == NULL)
    return -EIO;
  int rc = 0;
  if (sqlite3_step(s) != SQLITE_ROW) {
    rc = store__fail(c->db, "stats");
  } else {
    out->requests = (uint64_t)sqlite3_column_int64(s, 0);
    out->zip_chunks = (uint64_t)sqlite3_column_int64(s, 1);
    out->provenance = (uint64_t)sqlite3_column_int64(s, 2);
    out->imported = (uint64_t)sqlite3_column_int64(s, 3);
    out->pins = (uint64_t)sqlite3_column_int64(s, 4);
    out->quarantined = (uint64_t)sqlite3_column_int64(s, 5);
    out->removals = (uint64_t)sqlite3_column_int64(s, 6);
    out->oldest_use = sqlite3_column_int64(s, 7);
    out->db_bytes = (uint64_t)sqlite3_column_int64(s, 8);
    out->free_bytes = (uint64_t)sqlite3_column_int64(s, 9);
  }
  sqlite3_finalize(s);
  return rc;
}
