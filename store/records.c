/*
 * The request ring: the last N request records, for /diag. Records arrive
 * in batches (one transaction per batch keeps the cost per request small)
 * and the oldest are dropped past the configured size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* SQLite instructions between two calls of store_records_put's yield: a
 * few records' worth, some tens of microseconds. */
#define STORE_YIELD_OPS 1000

static const char sql_insert[] =
    "INSERT INTO requests (id, time_ms, status, outcome, module, version,"
    " target, record, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char sql_trim[] =
    "DELETE FROM requests WHERE seq <= (SELECT max(seq) FROM requests) - ?1";

struct yield_ctx {
  void (*fn)(void);
};

static int on_progress(void *arg) {
  ((struct yield_ctx *)arg)->fn();
  return 0;
}

int store_records_put(struct store *st, const struct store_record *recs,
                      size_t n, uint64_t keep, void (*yield)(void)) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  struct yield_ctx y = {yield};
  if (yield != NULL)
    sqlite3_progress_handler(c->db, STORE_YIELD_OPS, on_progress, &y);
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
    sqlite3_bind_text(s, 7, r->target, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 8, r->json, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 9, r->client, -1, SQLITE_STATIC);
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
  sqlite3_progress_handler(c->db, 0, NULL, NULL);
  return store__write_end(st, c, rc);
}

static const char sql_get[] =
    "SELECT record FROM requests WHERE id = ?1 ORDER BY seq DESC LIMIT 1";

int store_record_get(struct store *st, const char *id,
                     struct store_bytes *out) {
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

/* The columns of a store_record_row, and the filters of
 * store_records_query as parameters: a NULL one passes every record. */
#define QUERY_COLUMNS "SELECT " STORE_RECORD_COLUMNS " FROM requests"
#define QUERY_FILTERS                                                          \
  " (?1 IS NULL OR substr(module, 1, length(?1)) = ?1)"                        \
  " AND (?2 IS NULL OR outcome = ?2) AND (?3 IS NULL OR client = ?3)"          \
  " AND time_ms >= ?4 ORDER BY seq DESC LIMIT ?5 OFFSET ?6"
/* Failures through their partial index (requests_failed), newest first. */
static const char sql_query_failed[] =
    QUERY_COLUMNS " INDEXED BY requests_failed WHERE status >= 400"
                  " AND" QUERY_FILTERS;
static const char sql_query_status[] =
    QUERY_COLUMNS " WHERE status BETWEEN ?7 AND ?8 AND" QUERY_FILTERS;

void store__column_copy(char *dst, size_t cap, sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

void store__record_row(sqlite3_stmt *s, struct store_record_row *r) {
  store__column_copy(r->id, sizeof r->id, s, 0);
  r->time_ms = sqlite3_column_int64(s, 1);
  r->status = sqlite3_column_int(s, 2);
  store__column_copy(r->outcome, sizeof r->outcome, s, 3);
  store__column_copy(r->module, sizeof r->module, s, 4);
  store__column_copy(r->version, sizeof r->version, s, 5);
  store__column_copy(r->target, sizeof r->target, s, 6);
  store__column_copy(r->client, sizeof r->client, s, 7);
}

static void bind_opt(sqlite3_stmt *s, int i, const char *v) {
  if (v != NULL && v[0] != '\0')
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

int store_records_query(struct store *st, const struct store_records_filter *f,
                        struct store_record_row *rows, int cap) {
  int failed = f->status_min == 0 && f->status_max == 0;
  struct store_conn *c = store__reader_get(st);
  sqlite3_stmt *s =
      store__stmt(c, failed ? sql_query_failed : sql_query_status);
  int n = 0;
  if (s == NULL) {
    n = -EIO;
    goto out;
  }
  bind_opt(s, 1, f->module_prefix);
  bind_opt(s, 2, f->outcome);
  bind_opt(s, 3, f->client);
  sqlite3_bind_int64(s, 4, f->since_ms);
  sqlite3_bind_int(s, 5, cap);
  sqlite3_bind_int64(s, 6, (sqlite3_int64)f->offset);
  if (!failed) {
    sqlite3_bind_int(s, 7, f->status_min);
    sqlite3_bind_int(s, 8, f->status_max);
  }
  int step = SQLITE_DONE;
  while (n < cap && (step = sqlite3_step(s)) == SQLITE_ROW)
    store__record_row(s, &rows[n++]);
  if (n < cap && step != SQLITE_DONE)
    n = store__fail(c->db, "records query");
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return n;
}

static const char sql_findings[] =
    "SELECT module, version, kind FROM findings ORDER BY found DESC LIMIT ?1";

int store_findings_latest(struct store *st, struct store_finding_row *rows,
                          int cap) {
  struct store_conn *c = store__reader_get(st);
  sqlite3_stmt *s = store__stmt(c, sql_findings);
  int n = 0;
  if (s == NULL) {
    n = -EIO;
    goto out;
  }
  sqlite3_bind_int(s, 1, cap);
  int step = SQLITE_DONE;
  while (n < cap && (step = sqlite3_step(s)) == SQLITE_ROW) {
    store__column_copy(rows[n].module, sizeof rows[n].module, s, 0);
    store__column_copy(rows[n].version, sizeof rows[n].version, s, 1);
    store__column_copy(rows[n].kind, sizeof rows[n].kind, s, 2);
    n++;
  }
  if (n < cap && step != SQLITE_DONE)
    n = store__fail(c->db, "findings");
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return n;
}

static const char sql_each[] =
    "SELECT record FROM requests WHERE seq > (SELECT max(seq) FROM requests)"
    " - ?1 ORDER BY seq";

int store_records_each(struct store *st, uint64_t last, store_record_cb cb,
                       void *arg) {
  struct store_conn *c = store__reader_get(st);
  sqlite3_stmt *s = store__stmt(c, sql_each);
  int rc = 0;
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, (sqlite3_int64)last);
  int step = SQLITE_DONE;
  while ((step = sqlite3_step(s)) == SQLITE_ROW)
    cb(arg, (const char *)sqlite3_column_text(s, 0));
  if (step != SQLITE_DONE)
    rc = store__fail(c->db, "records");
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return rc;
}

static const char sql_versions[] =
    "SELECT version, count(*) FROM requests WHERE module = ?1 AND status = 200"
    " AND time_ms >= ?2 AND version IS NOT NULL AND target LIKE '%.zip'"
    " AND coalesce(client, '') <> ?3"
    " GROUP BY version ORDER BY 2 DESC LIMIT 20";

int store_records_versions(struct store *st, const char *module,
                           int64_t since_ms, const char *self,
                           struct store_bytes *out) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  sqlite3_stmt *s = store__stmt(c, sql_versions);
  if (f == NULL || s == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, since_ms);
  sqlite3_bind_text(s, 3, self, -1, SQLITE_STATIC);
  int n = 0;
  while (sqlite3_step(s) == SQLITE_ROW) {
    fprintf(f, "%s %lld\n", (const char *)sqlite3_column_text(s, 0),
            (long long)sqlite3_column_int64(s, 1));
    n++;
  }
  sqlite3_reset(s);
  rc = n > 0 ? 0 : -ENOENT;
out:
  if (f != NULL)
    fclose(f);
  if (rc == 0) {
    out->data = text;
    out->len = len;
  } else {
    free(text);
  }
  store__reader_put(st, c);
  return rc;
}
