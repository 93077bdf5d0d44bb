/* Declarations shared by the files of store/ (not part of the public API). */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "modproxy/store.h"

/* Prepared statements kept per connection, keyed by the address of their SQL
 * text (always a string literal in store/). */
#define STORE_STMT_CACHE 64

struct store_conn {
  sqlite3 *db;
  struct {
    const char *sql;
    sqlite3_stmt *stmt;
  } stmts[STORE_STMT_CACHE];
};

struct store {
  char *path;
  pthread_mutex_t writer_lock; /* held for the whole of a write transaction */
  int64_t busy_at_ms; /* when BEGIN last gave up on a lock (writer_lock) */
  struct store_conn writer;
  pthread_mutex_t readers_lock;
  pthread_cond_t readers_free;
  struct store_conn readers[STORE_READERS];
  int reader_busy[STORE_READERS];
};

/** Takes a reader connection (waiting for a free one); give it back with
 *  store__reader_put. */
struct store_conn *store__reader_get(struct store *st);
void store__reader_put(struct store *st, struct store_conn *c);
/** Takes the writer and begins an IMMEDIATE transaction. */
int store__write_begin(struct store *st, struct store_conn **c);
/** Commits (rc >= 0) or rolls back (rc < 0), releases the writer, returns
 *  rc or the commit's error. */
int store__write_end(struct store *st, struct store_conn *c, int rc);
/** The prepared statement for sql on c, reset and with bindings cleared. */
sqlite3_stmt *store__stmt(struct store_conn *c, const char *sql);
/** Logs the connection's last error with the operation and returns -EIO
 *  (-EBUSY, -ENOSPC where SQLite reports those). */
int store__fail(sqlite3 *db, const char *what);
/** A heap copy of column i (blob or text), NUL-terminated. */
int store__column_bytes(sqlite3_stmt *s, int i, struct store_bytes *out);
/** A heap copy of text column i, or NULL. */
char *store__column_strdup(sqlite3_stmt *s, int i);
int64_t store__now(void);

/** Prepares sql on db outside the statement cache (for the rarely run
 *  statements of cache management); NULL after logging. Finalize it. */
sqlite3_stmt *store__prepare(sqlite3 *db, const char *sql);
/* The columns of a store_record_row, in its order (SELECT ... FROM
 * requests), and the reader of one such row. */
#define STORE_RECORD_COLUMNS                                                   \
  "id, time_ms, status, outcome, coalesce(module, ''),"                        \
  " coalesce(version, ''), coalesce(target, ''), coalesce(client, '')"
void store__record_row(sqlite3_stmt *s, struct store_record_row *r);
/** Copies text column i of s (NULL: "") into dst, cut to cap. */
void store__column_copy(char *dst, size_t cap, sqlite3_stmt *s, int i);
/** versions, zips, zip_bytes and cache_bytes of *out from the totals the
 *  triggers keep (one row, no scan), on connection c. */
int store__totals(struct store_conn *c, struct store_stats *out);
/** The cache-management counts of store_stats (manage.c), on reader c. */
int store__stats_more(struct store_conn *c, struct store_stats *out);
/** Appends module@version to the removal log (inside a write transaction). */
int store__removal_log(struct store_conn *c, const char *module,
                       const char *version, const char *reason);

#endif
