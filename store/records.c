/*
 * The request ring: the last N request records, for /diag. Records arrive
 * in batches (one transaction per batch keeps the cost per request small)
 * and the oldest are dropped past the configured size.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static const char sql_insert[] =
    "INSERT INTO requests (id, time_ms, status, outcome, module, version, record)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char sql_trim[] =
    "DELETE FROM requests WHERE seq <= (SELECT max(seq) FROM requests) - ?1";

int store_records_put(struct store *st, const struct store_record *recs,
                      size_t n, uint64_t keep) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s = store__stmt(c, sql_insert);
  for (size_t i = 0; i < n && rc == 0 && s != NULL; i++) {
    const struct store_record *r = &recs[i];
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, r->time_ms);
    sqlite3_bind_int(s, 3, r->status);
    sqlite3_bind_text(s, 4, r->outcome, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, r->module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r->version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, r->json, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "record insert");
  }
  if (s == NULL)
    rc = -EIO;
  else
    sqlite3_reset(s);
  sqlite3_stmt *t = rc == 0 ? store__stmt(c, sql_trim) : NULL;
  if (t != NULL) {
    sqlite3_bind_int64(t, 1, (sqlite3_int64)keep);
    if (sqlite3_step(t) != SQLITE_DONE)
      rc = store__fail(c->db, "record trim");
    sqlite3_reset(t);
  }
  return store__write_end(st, c, rc);
}

static const char sql_get[] =
    "SELECT record FROM requests WHERE id = ?1 ORDER BY seq DESC LIMIT 1";

int store_record_get(struct store *st, const char *id, struct store_bytes *out) {
  struct store_conn *c = store__reader_get(st);
  int rc;
  sqlite3_stmt *s = store__stmt(c, sql_get);
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    rc = step == SQLITE_ROW    ? store__column_bytes(s, 0, out)
         : step == SQLITE_DONE ? -ENOENT
                               : store__fail(c->db, "record get");
    sqlite3_reset(s);
  }
  store__reader_put(st, c);
  return rc;
}
