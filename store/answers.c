/*
 * Answers that expire: version lists, @latest, .info for non-canonical
 * queries, and remembered not-found replies. Each is stored with the time it
 * was fetched; the caller decides what is fresh (the store knows no TTLs),
 * and keeps serving a stale answer when the upstream cannot be reached.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void store_answer_dispose(struct store_answer *a) {
  if (a == NULL)
    return;
  store_bytes_free(&a->body);
  free(a->origin);
  a->origin = NULL;
}

static const char sql_get[] =
    "SELECT status, body, fetched, origin FROM answers"
    " WHERE module = ?1 AND key = ?2";

int store_answer_get(struct store *st, const char *module, const char *key,
                     struct store_answer *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = store__stmt(c, sql_get);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE) {
    rc = -ENOENT;
  } else if (step != SQLITE_ROW) {
    rc = store__fail(c->db, "read answer");
  } else {
    out->status = sqlite3_column_int(s, 0);
    rc = store__column_bytes(s, 1, &out->body);
    out->fetched = sqlite3_column_int64(s, 2);
    out->origin = store__column_strdup(s, 3);
  }
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return rc;
}

static const char sql_put[] = "INSERT OR REPLACE INTO answers (module, key, "
                              "status, body, fetched, origin)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

int store_answer_put(struct store *st, const char *module, const char *key,
                     int status, const void *body, size_t len, int64_t fetched,
                     const char *origin) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s = store__stmt(c, sql_put);
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, status);
    sqlite3_bind_blob(s, 4, len > 0 ? body : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, fetched);
    sqlite3_bind_text(s, 6, origin, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "store answer");
    sqlite3_reset(s);
  }
  return store__write_end(st, c, rc);
}
