/*
 * Provenance of private module versions: the repository URL (credentials
 * removed by the caller), the commit and the ref each version was built
 * from. Recorded once, when modproxy first serves a part of the version
 * from git; like the version's bytes, it never changes afterwards.
 */
#include <errno.h>

#include "internal.h"

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
