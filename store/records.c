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

static const char sql_totals[] =
    "SELECT count(*), coalesce(sum(outcome = 'hit'), 0),"
    " coalesce(sum(status >= 400), 0) FROM requests";
static const char sql_causes[] =
    "SELECT g.outcome, g.n, g.t, l.id, coalesce(l.module, ''),"
    " coalesce(l.target, '') FROM (SELECT outcome, count(*) AS n,"
    " max(time_ms) AS t, max(seq) AS last FROM requests WHERE status >= 400"
    " GROUP BY outcome) g JOIN requests l ON l.seq = g.last"
    " ORDER BY g.n DESC LIMIT ?1";
/* A miss is one of the go command's path-prefix probes (for an import
 * a.b/c/d it asks a.b/c/d, a.b/c and a.b at once) when a nearby request
 * asked for a longer path under it, or found a module whose path it
 * extends. The probes of one command land within this many records of
 * each other, other clients' requests interleaved. */
#define STORE_PROBE_WINDOW_RECORDS 64
#define STR_(x) #x
#define STR(x) STR_(x)
#define MISSES                                                                                                                                               \
  "WITH miss AS (SELECT m.seq, m.module, EXISTS (SELECT 1 FROM requests o"                                                                                   \
  " WHERE o.seq BETWEEN m.seq - " STR(                                                                                                                       \
      STORE_PROBE_WINDOW_RECORDS) " AND m.seq + " STR(STORE_PROBE_WINDOW_RECORDS) " AND o.module IS NOT NULL AND (substr(o.module, 1, length(m.module) + 1)" \
                                                                                  " = m.module || '/' OR (o.outcome <> 'not found' AND substr(m.module, 1,"  \
                                                                                  " length(o.module) + 1) = o.module || '/'))) AS probe FROM requests m"     \
                                                                                  " WHERE m.outcome = 'not found' AND m.module IS NOT NULL) "
static const char sql_missed[] =
    MISSES "SELECT module, count(*) FROM miss WHERE NOT probe"
           " GROUP BY module ORDER BY 2 DESC LIMIT ?1";
static const char sql_probes[] = MISSES "SELECT count(*) FROM miss WHERE probe";
static const char sql_recent[] =
    "SELECT id, time_ms, status, outcome, coalesce(module, ''),"
    " coalesce(version, ''), coalesce(target, '') FROM requests"
    " WHERE status >= 400"
    " ORDER BY seq DESC LIMIT ?1";

static const char sql_findings[] =
    "SELECT module, version, kind FROM findings ORDER BY found DESC LIMIT ?1";

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

int store_records_summary(struct store *st, struct store_summary *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = store__stmt(c, sql_totals);
  if (s == NULL || sqlite3_step(s) != SQLITE_ROW) {
    rc = store__fail(c->db, "summary");
    goto out;
  }
  out->requests = (uint64_t)sqlite3_column_int64(s, 0);
  out->hits = (uint64_t)sqlite3_column_int64(s, 1);
  out->failures = (uint64_t)sqlite3_column_int64(s, 2);
  sqlite3_reset(s);
  if ((s = store__stmt(c, sql_causes)) == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int(s, 1, STORE_SUMMARY_CAUSES);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int i = out->ncauses++;
    copy_text(out->causes[i].outcome, sizeof out->causes[i].outcome, s, 0);
    out->causes[i].count = (uint64_t)sqlite3_column_int64(s, 1);
    out->causes[i].last_ms = sqlite3_column_int64(s, 2);
    copy_text(out->causes[i].last_id, sizeof out->causes[i].last_id, s, 3);
    copy_text(out->causes[i].last_module, sizeof out->causes[i].last_module, s,
              4);
    copy_text(out->causes[i].last_target, sizeof out->causes[i].last_target, s,
              5);
  }
  sqlite3_reset(s);
  if ((s = store__stmt(c, sql_missed)) == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int(s, 1, STORE_SUMMARY_MISSED);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int i = out->nmissed++;
    copy_text(out->missed[i].module, sizeof out->missed[i].module, s, 0);
    out->missed[i].count = (uint64_t)sqlite3_column_int64(s, 1);
  }
  sqlite3_reset(s);
  if ((s = store__stmt(c, sql_probes)) == NULL ||
      sqlite3_step(s) != SQLITE_ROW) {
    rc = store__fail(c->db, "summary");
    goto out;
  }
  out->probes = (uint64_t)sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  if ((s = store__stmt(c, sql_recent)) == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int(s, 1, STORE_SUMMARY_RECENT);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int i = out->nrecent++;
    copy_text(out->recent[i].id, sizeof out->recent[i].id, s, 0);
    out->recent[i].time_ms = sqlite3_column_int64(s, 1);
    out->recent[i].status = sqlite3_column_int(s, 2);
    copy_text(out->recent[i].outcome, sizeof out->recent[i].outcome, s, 3);
    copy_text(out->recent[i].module, sizeof out->recent[i].module, s, 4);
    copy_text(out->recent[i].version, sizeof out->recent[i].version, s, 5);
    copy_text(out->recent[i].target, sizeof out->recent[i].target, s, 6);
  }
  sqlite3_reset(s);
  if ((s = store__stmt(c, sql_findings)) == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int(s, 1, STORE_SUMMARY_RECENT);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int i = out->nfindings++;
    copy_text(out->findings[i].module, sizeof out->findings[i].module, s, 0);
    copy_text(out->findings[i].version, sizeof out->findings[i].version, s, 1);
    copy_text(out->findings[i].kind, sizeof out->findings[i].kind, s, 2);
  }
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
