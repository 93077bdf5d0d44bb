/*
 * Checksum database answers and mirror metadata.
 *
 * sumdb_cache holds what modproxy fetched from (or imported for) a checksum
 * database, keyed by the database name and the path below it: lookups
 * ("lookup/<escaped path>@<escaped version>") and tiles ("tile/8/0/x001/
 * 234.p/5") never change once published, so the first copy stays; `latest`
 * (the newest signed tree head) is replaced. mirror_meta is a small
 * key/value table: when the mirror's content was last imported and how it
 * was made.
 *
 * These statements run rarely next to the GOPROXY ones, so they are
 * prepared per call rather than kept in the connection's cache.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    store__fail(db, "prepare");
    sqlite3_finalize(s);
    return NULL;
  }
  return s;
}

int store_sumdb_get(struct store *st, const char *db, const char *path,
                    struct store_bytes *out, int64_t *fetched) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc;
  sqlite3_stmt *s = prepare(c->db, "SELECT body, fetched FROM sumdb_cache"
                                   " WHERE db = ?1 AND path = ?2");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, db, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, path, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE) {
    rc = -ENOENT;
  } else if (step != SQLITE_ROW) {
    rc = store__fail(c->db, "read sumdb entry");
  } else {
    rc = store__column_bytes(s, 0, out);
    if (fetched != NULL)
      *fetched = sqlite3_column_int64(s, 1);
  }
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

/* Inserts (or, for replace, replaces) one row on the writer. */
static int put_row(sqlite3 *db, const struct store_sumdb_row *r) {
  sqlite3_stmt *s = prepare(
      db, r->replace
              ? "INSERT OR REPLACE INTO sumdb_cache (db, path, body, fetched,"
                " origin) VALUES (?1, ?2, ?3, ?4, ?5)"
              : "INSERT OR IGNORE INTO sumdb_cache (db, path, body, fetched,"
                " origin) VALUES (?1, ?2, ?3, ?4, ?5)");
  if (s == NULL)
    return -EIO;
  sqlite3_bind_text(s, 1, r->db, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, r->path, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 3, r->len > 0 ? r->body : "", (int)r->len,
                    SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, r->fetched);
  sqlite3_bind_text(s, 5, r->origin, -1, SQLITE_STATIC);
  int rc = 0;
  if (sqlite3_step(s) != SQLITE_DONE)
    rc = store__fail(db, "store sumdb entry");
  else
    rc = sqlite3_changes(db) > 0 ? 1 : 0;
  sqlite3_finalize(s);
  return rc;
}

int store_sumdb_put(struct store *st, const struct store_sumdb_row *rows,
                    size_t n) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  int added = 0;
  for (size_t i = 0; i < n && rc >= 0; i++) {
    rc = put_row(c->db, &rows[i]);
    if (rc > 0)
      added++;
  }
  rc = store__write_end(st, c, rc < 0 ? rc : 0);
  return rc < 0 ? rc : added;
}

int store_sumdb_tile_prefix(struct store *st, const char *db, const char *base,
                            size_t len, struct store_bytes *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc = -ENOENT;
  /* The full tile is `base`; partial ones are `base.p/W`. */
  sqlite3_stmt *s = prepare(
      c->db, "SELECT body FROM sumdb_cache WHERE db = ?1 AND"
             " (path = ?2 OR (path > ?2 || '.p/' AND path < ?2 || '.p0'))"
             " ORDER BY length(body) DESC LIMIT 1");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, db, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, base, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 0) >= len) {
    rc = store__column_bytes(s, 0, out);
    if (rc == 0)
      out->len = len;
  } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
    rc = store__fail(c->db, "read sumdb tiles");
  }
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

int store_sumdb_each(struct store *st, const char *db, const char *prefix,
                     int (*cb)(void *arg, const char *db, const char *path,
                               const void *body, size_t len),
                     void *arg) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = prepare(
      c->db, "SELECT db, path, body FROM sumdb_cache WHERE"
             " (?1 IS NULL OR db = ?1) AND substr(path, 1, length(?2)) = ?2"
             " ORDER BY db, path");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, db, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, prefix != NULL ? prefix : "", -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    rc = cb(arg, (const char *)sqlite3_column_text(s, 0),
            (const char *)sqlite3_column_text(s, 1), sqlite3_column_blob(s, 2),
            (size_t)sqlite3_column_bytes(s, 2));
    if (rc != 0)
      break;
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = store__fail(c->db, "list sumdb entries");
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

int store_meta_get(struct store *st, const char *key, char *out, size_t cap) {
  struct store_conn *c = store__reader_get(st);
  int rc = -ENOENT;
  sqlite3_stmt *s =
      prepare(c->db, "SELECT value FROM mirror_meta WHERE key = ?1");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_ROW) {
    snprintf(out, cap, "%s", (const char *)sqlite3_column_text(s, 0));
    rc = 0;
  } else if (step != SQLITE_DONE) {
    rc = store__fail(c->db, "read mirror metadata");
  }
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

int store_meta_put(struct store *st, const char *key, const char *value) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  sqlite3_stmt *s = prepare(c->db, "INSERT OR REPLACE INTO mirror_meta"
                                   " (key, value) VALUES (?1, ?2)");
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "store mirror metadata");
    sqlite3_finalize(s);
  }
  return store__write_end(st, c, rc);
}
