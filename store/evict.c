/*
 * Least-recently-used eviction of public module versions.
 *
 * Each version row carries `accessed`, the last time it was served (written
 * in batches by store_access_put; NULL until then, when `created` stands
 * in), and the index versions_used orders rows by that time. Eviction runs
 * in two steps so that a caller on an event loop can look at its own
 * in-memory state in between:
 *
 *   store_evict_plan   read only: the oldest evictable versions whose bytes
 *                      bring the cache down to the limit;
 *   store_evict_apply  removes them, STORE_EVICT_BATCH per transaction,
 *                      checking each again under the write lock, and logs
 *                      each removal (manage.c) so that other processes drop
 *                      what they hold in memory.
 *
 * Never evicted: a pinned version (pins: the version, or '' for the whole
 * module), one imported into a mirror (imported != 0), one with provenance
 * (a private version built from git, which may not be fetchable again), one
 * whose module the caller's keep callback calls private, and one used at or
 * after `used_before` (the caller's grace period, which protects a zip that
 * is being streamed to a client).
 *
 * A stored last use is rewritten only when the new one is at least
 * STORE_ACCESS_WINDOW_S later, so it may lag the true one by up to that
 * much; eviction makes up for it by taking only versions last used a
 * window before the caller's `used_before`, so that the lag never lets it
 * take a version used within the caller's grace period.
 *
 * Cache bytes are what the versions hold: zip + .mod + .info. The database
 * file does not shrink when rows go: SQLite keeps the freed pages and reuses
 * them for the next versions stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Last uses are written in batches every few seconds; a version served
 * all day would be rewritten in each (a 16 KiB page written, and an entry
 * moved in versions_used, per version and batch). Within this window its
 * stored last use stands: one write per version per window. LRU to within
 * ten minutes is plenty for a cache whose victims go unused for days. */
#define STORE_ACCESS_WINDOW_S 600

/* A version's bytes, as --max-cache-bytes counts them (the totals row of
 * store.c's migration 8 sums the same). */
#define SQL_BYTES                                                              \
  "coalesce(v.zip_size, 0) + coalesce(length(v.info), 0)"                      \
  " + coalesce(length(v.mod), 0)"

/* The conditions that make version v evictable; ?1 is used_before. */
#define SQL_EVICTABLE                                                          \
  "coalesce(v.accessed, v.created) < ?1 AND v.imported = 0"                    \
  " AND NOT EXISTS (SELECT 1 FROM pins p WHERE p.module = v.module"            \
  "  AND p.version IN ('', v.version))"                                        \
  " AND NOT EXISTS (SELECT 1 FROM provenance r WHERE r.module = v.module"      \
  "  AND r.version = v.version)"

/* ---- last use ------------------------------------------------------------ */

int store_access_put(struct store *st, const struct store_access *a, size_t n) {
  if (n == 0)
    return 0;
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s =
      store__prepare(c->db, "UPDATE versions SET accessed = ?3"
                            " WHERE module = ?1 AND version = ?2"
                            " AND (accessed IS NULL OR accessed <= ?4)");
  if (s == NULL)
    rc = -EIO;
  for (size_t i = 0; i < n && rc == 0; i++) {
    sqlite3_reset(s);
    sqlite3_bind_text(s, 1, a[i].module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, a[i].version, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, a[i].used);
    sqlite3_bind_int64(s, 4, a[i].used - STORE_ACCESS_WINDOW_S);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "record access");
  }
  sqlite3_finalize(s);
  return store__write_end(st, c, rc);
}

/* ---- planning ------------------------------------------------------------ */

void store_evict_plan_dispose(struct store_evict_plan *p) {
  if (p == NULL)
    return;
  for (size_t i = 0; i < p->n; i++) {
    free(p->v[i].module);
    free(p->v[i].version);
  }
  free(p->v);
  memset(p, 0, sizeof *p);
}

static int plan_add(struct store_evict_plan *p, size_t *cap, int64_t id,
                    const char *module, const char *version, uint64_t bytes,
                    int64_t used) {
  if (p->n == *cap) {
    size_t ncap = *cap == 0 ? 64 : *cap * 2;
    struct store_victim *nv = realloc(p->v, ncap * sizeof *nv);
    if (nv == NULL)
      return -ENOMEM;
    p->v = nv;
    *cap = ncap;
  }
  struct store_victim *v = &p->v[p->n];
  v->id = id;
  v->module = strdup(module);
  v->version = strdup(version);
  v->bytes = bytes;
  v->used = used;
  if (v->module == NULL || v->version == NULL) {
    free(v->module);
    free(v->version);
    return -ENOMEM;
  }
  p->n++;
  p->plan_bytes += bytes;
  return 0;
}

int store_evict_plan(struct store *st, uint64_t max_bytes, int64_t used_before,
                     store_keep_cb keep, void *arg, size_t max_victims,
                     struct store_evict_plan *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  sqlite3_stmt *s = NULL;
  size_t cap = 0;
  /* One read transaction: the total and the candidates agree. */
  int rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : store__fail(c->db, "begin");
  if (rc < 0)
    goto out;
  struct store_stats totals;
  rc = store__totals(c, &totals);
  out->total_bytes = totals.cache_bytes;
  if (rc < 0 || out->total_bytes <= max_bytes)
    goto out;
  s = store__prepare(c->db, "SELECT v.id, v.module, v.version, " SQL_BYTES ","
                            " coalesce(v.accessed, v.created) FROM versions v"
                            " WHERE " SQL_EVICTABLE
                            " ORDER BY coalesce(v.accessed, v.created), v.id");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, used_before - STORE_ACCESS_WINDOW_S);
  int step = SQLITE_DONE;
  while (out->total_bytes - out->plan_bytes > max_bytes &&
         out->n < max_victims && (step = sqlite3_step(s)) == SQLITE_ROW) {
    const char *module = (const char *)sqlite3_column_text(s, 1);
    if (keep != NULL && keep(module, arg))
      continue;
    rc = plan_add(out, &cap, sqlite3_column_int64(s, 0), module,
                  (const char *)sqlite3_column_text(s, 2),
                  (uint64_t)sqlite3_column_int64(s, 3),
                  sqlite3_column_int64(s, 4));
    if (rc < 0)
      goto out;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE)
    rc = store__fail(c->db, "plan eviction");
out:
  sqlite3_finalize(s);
  sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
  store__reader_put(st, c);
  if (rc < 0) {
    store_evict_plan_dispose(out);
    return rc;
  }
  if (out->total_bytes > max_bytes + out->plan_bytes)
    out->over_bytes = out->total_bytes - max_bytes - out->plan_bytes;
  return (int)out->n;
}

/* ---- removing ------------------------------------------------------------ */

struct evict_stmts {
  sqlite3_stmt *check, *del_zip, *del_version;
};

static void stmts_finalize(struct evict_stmts *q) {
  sqlite3_finalize(q->check);
  sqlite3_finalize(q->del_zip);
  sqlite3_finalize(q->del_version);
  memset(q, 0, sizeof *q);
}

/* Removes one victim if it is still evictable: 1 removed, 0 kept. */
static int evict_one(struct store_conn *c, struct evict_stmts *q,
                     const struct store_victim *v, int64_t used_before) {
  sqlite3_reset(q->check);
  sqlite3_bind_int64(q->check, 1, used_before - STORE_ACCESS_WINDOW_S);
  sqlite3_bind_int64(q->check, 2, v->id);
  int step = sqlite3_step(q->check);
  sqlite3_reset(q->check);
  if (step == SQLITE_DONE)
    return 0;
  if (step != SQLITE_ROW)
    return store__fail(c->db, "eviction check");
  sqlite3_reset(q->del_zip);
  sqlite3_bind_int64(q->del_zip, 1, v->id);
  if (sqlite3_step(q->del_zip) != SQLITE_DONE)
    return store__fail(c->db, "evict zip");
  sqlite3_reset(q->del_version);
  sqlite3_bind_int64(q->del_version, 1, v->id);
  if (sqlite3_step(q->del_version) != SQLITE_DONE)
    return store__fail(c->db, "evict version");
  int rc = store__removal_log(c, v->module, v->version, "evicted");
  return rc < 0 ? rc : 1;
}

int store_evict_apply(struct store *st, struct store_evict_plan *p,
                      int64_t used_before, uint64_t *freed) {
  int removed = 0;
  *freed = 0;
  for (size_t at = 0; at < p->n;) {
    struct store_conn *c;
    int rc = store__write_begin(st, &c);
    if (rc < 0)
      return rc;
    struct evict_stmts q = {
        .check =
            store__prepare(c->db, "SELECT 1 FROM versions v"
                                  " WHERE " SQL_EVICTABLE " AND v.id = ?2"),
        .del_zip = store__prepare(
            c->db, "DELETE FROM zip_chunks WHERE version_id = ?1"),
        .del_version =
            store__prepare(c->db, "DELETE FROM versions WHERE id = ?1"),
    };
    if (q.check == NULL || q.del_zip == NULL || q.del_version == NULL)
      rc = -EIO;
    size_t end = at + STORE_EVICT_BATCH < p->n ? at + STORE_EVICT_BATCH : p->n;
    int batch = 0;
    uint64_t batch_bytes = 0;
    for (size_t i = at; i < end && rc >= 0; i++) {
      rc = evict_one(c, &q, &p->v[i], used_before);
      if (rc == 1) {
        batch++;
        batch_bytes += p->v[i].bytes;
      } else if (rc == 0) {
        p->v[i].bytes = 0; /* used or pinned meanwhile: it stays */
      }
    }
    stmts_finalize(&q);
    rc = store__write_end(st, c, rc < 0 ? rc : 0);
    if (rc < 0)
      return rc; /* *freed counts the batches committed before */
    removed += batch;
    *freed += batch_bytes;
    at = end;
  }
  return removed;
}
