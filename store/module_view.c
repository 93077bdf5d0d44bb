/*
 * Findings about served module versions, and the per-module view behind
 * /diag/module: the versions held with their origins and hashes, the
 * findings, and the latest requests for the module with who made them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char sql_put[] =
    "INSERT OR REPLACE INTO findings (module, version, kind, message, found)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";

int store_finding_put(struct store *st, const char *module, const char *version,
                      const char *kind, const char *message) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s = store__stmt(c, sql_put);
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, message, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, store__now());
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "finding");
    sqlite3_reset(s);
  }
  return store__write_end(st, c, rc);
}

static const char sql_versions[] =
    "SELECT v.version, v.info IS NOT NULL, v.mod IS NOT NULL, v.mod_h1,"
    " coalesce(v.zip_size, -1), v.zip_h1, coalesce(v.zip_violation_count, 0),"
    " coalesce(v.zip_origin, v.mod_origin, v.info_origin),"
    " p.url || ' ' || coalesce(p.ref, '') || ' ' || p.commit_hash, v.created"
    " FROM versions v LEFT JOIN provenance p"
    "  ON p.module = v.module AND p.version = v.version"
    " WHERE v.module = ?1 AND (?2 IS NULL OR v.version = ?2)"
    " ORDER BY v.created DESC LIMIT ?3";
static const char sql_findings[] =
    "SELECT version, kind, message, found FROM findings WHERE module = ?1"
    " AND (?2 IS NULL OR version = ?2 OR version = '')"
    " ORDER BY version = '' DESC, found DESC LIMIT ?3";
static const char sql_requests[] =
    "SELECT " STORE_RECORD_COLUMNS " FROM requests WHERE module = ?1"
    " AND (?2 IS NULL OR version = ?2) ORDER BY seq DESC LIMIT ?3";

/* Prepares one of the view's queries with its three parameters. */
static sqlite3_stmt *query(struct store_conn *c, const char *sql,
                           const char *module, const char *version, int limit) {
  sqlite3_stmt *s = store__stmt(c, sql);
  if (s != NULL) {
    sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, limit);
  }
  return s;
}

int store_module_view(struct store *st, const char *module, const char *version,
                      struct store_module_view *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s =
      query(c, sql_versions, module, version, STORE_VIEW_VERSIONS);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    struct store_view_version *v = &out->versions[out->nversions++];
    store__column_copy(v->version, sizeof v->version, s, 0);
    v->has_info = sqlite3_column_int(s, 1);
    v->has_mod = sqlite3_column_int(s, 2);
    store__column_copy(v->mod_h1, sizeof v->mod_h1, s, 3);
    v->zip_size = sqlite3_column_int64(s, 4);
    store__column_copy(v->zip_h1, sizeof v->zip_h1, s, 5);
    v->zip_violations = (uint64_t)sqlite3_column_int64(s, 6);
    store__column_copy(v->origin, sizeof v->origin, s, 7);
    store__column_copy(v->vcs, sizeof v->vcs, s, 8);
    v->created = sqlite3_column_int64(s, 9);
  }
  sqlite3_reset(s);
  if ((s = query(c, sql_findings, module, version, STORE_VIEW_FINDINGS)) ==
      NULL) {
    rc = -EIO;
    goto out;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    struct store_view_finding *f = &out->findings[out->nfindings++];
    store__column_copy(f->version, sizeof f->version, s, 0);
    store__column_copy(f->kind, sizeof f->kind, s, 1);
    store__column_copy(f->message, sizeof f->message, s, 2);
    f->found = sqlite3_column_int64(s, 3);
  }
  sqlite3_reset(s);
  if ((s = query(c, sql_requests, module, version, STORE_VIEW_REQUESTS)) ==
      NULL) {
    rc = -EIO;
    goto out;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    store__record_row(s, &out->requests[out->nrequests++]);
  }
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return rc;
}
