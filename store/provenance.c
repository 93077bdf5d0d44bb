/*
 * Provenance of private module versions: the repository URL (credentials
 * removed by the caller), the commit and the ref each version was built
 * from. Recorded once, when modproxy first serves a part of the version
 * from git; like the version's bytes, it never changes afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void store_provenance_dispose(struct store_provenance *p) {
  if (p == NULL)
    return;
  free(p->url);
  free(p->ref);
  free(p->commit);
  p->url = p->ref = p->commit = NULL;
}

static const char sql_put[] =
    "INSERT OR IGNORE INTO provenance"
    " (module, version, url, ref, commit_hash, recorded)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

int store_provenance_put(struct store *st, const char *module,
                         const char *version, const char *url, const char *ref,
                         const char *commit) {
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
    sqlite3_bind_text(s, 3, url, -1, SQLITE_STATIC);
    if (ref != NULL && ref[0] != '\0')
      sqlite3_bind_text(s, 4, ref, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, commit, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, store__now());
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "store provenance");
    sqlite3_reset(s);
  }
  return store__write_end(st, c, rc);
}

static const char sql_get[] =
    "SELECT url, ref, commit_hash, recorded FROM provenance"
    " WHERE module = ?1 AND version = ?2";

int store_provenance_get(struct store *st, const char *module,
                         const char *version, struct store_provenance *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = store__stmt(c, sql_get);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE) {
    rc = -ENOENT;
  } else if (step != SQLITE_ROW) {
    rc = store__fail(c->db, "read provenance");
  } else {
    out->url = store__column_strdup(s, 0);
    out->ref = store__column_strdup(s, 1);
    out->commit = store__column_strdup(s, 2);
    out->recorded = sqlite3_column_int64(s, 3);
    if (out->url == NULL || out->commit == NULL) {
      store_provenance_dispose(out);
      rc = -ENOMEM;
    }
  }
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return rc;
}
