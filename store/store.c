/*
 * Store connections and schema.
 *
 * One writer connection behind a mutex (SQLite allows one writer at a time
 * anyway) and STORE_READERS reader connections handed out to worker threads;
 * WAL mode lets the readers run while the writer commits. The schema is a
 * list of numbered migrations; PRAGMA user_version records how many have run,
 * and each runs in its own transaction, so an upgrade interrupted half way
 * resumes where it stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "internal.h"
#include "modproxy/timeutil.h"

/* SQLite's page cache per connection, in KiB (negative cache_size); what
 * SQLite may hold in memory is the writer's plus STORE_READERS readers'
 * (24 MiB). A reader looks rows up by key: it needs the interior pages of
 * the tables and indexes (about 40 pages of 16 KiB for a million versions)
 * and a few leaves; the rest comes from the kernel's page cache, a pread
 * away. The writer also keeps the leaves its inserts and the records
 * ring's trims touch. */
#define STORE_READER_CACHE_KIB 2048
#define STORE_WRITER_CACHE_KIB 8192
/* Pages of a new database. */
#define STORE_PAGE_BYTES 16384
/* No memory-mapped reads (SQLite's default): mapped pages of the database
 * count in the process's resident memory once per connection that touched
 * them (nine connections), growing with the database; read with pread,
 * they are in the kernel's page cache once, outside it. */
#define STORE_MMAP_BYTES 0ll

static const char *const migrations[] = {
    /* 1: versions, zips and expiring answers. */
    "CREATE TABLE versions ("
    "  id INTEGER PRIMARY KEY,"
    "  module TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  info BLOB,"
    "  info_origin TEXT,"
    "  mod BLOB,"
    "  mod_h1 TEXT,"
    "  mod_origin TEXT,"
    "  zip_size INTEGER,"
    "  zip_h1 TEXT,"
    "  zip_sha256 TEXT,"
    "  zip_violation_count INTEGER,"
    "  zip_violations TEXT,"
    "  zip_origin TEXT,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (module, version));"
    /* Zips in STORE_ZIP_CHUNK_BYTES pieces: reading at any offset is one
     * index lookup, where one big blob would walk its page chain from the
     * start for every read. */
    "CREATE TABLE zip_chunks ("
    "  version_id INTEGER NOT NULL REFERENCES versions(id),"
    "  seq INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (version_id, seq));"
    "CREATE TABLE answers ("
    "  module TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  body BLOB NOT NULL,"
    "  fetched INTEGER NOT NULL,"
    "  origin TEXT,"
    "  PRIMARY KEY (module, key)) WITHOUT ROWID;",
    /* 2: the ring of request records behind /diag. */
    "CREATE TABLE requests ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  time_ms INTEGER NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  module TEXT,"
    "  version TEXT,"
    "  target TEXT,"
    "  record TEXT NOT NULL);"
    "CREATE INDEX requests_id ON requests(id);"
    "CREATE INDEX requests_module ON requests(module, version);",
    /* 3: where each private module version came from (provenance.c). */
    "CREATE TABLE provenance ("
    "  module TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  url TEXT NOT NULL,"
    "  ref TEXT,"
    "  commit_hash TEXT NOT NULL,"
    "  recorded INTEGER NOT NULL,"
    "  PRIMARY KEY (module, version)) WITHOUT ROWID;",
    /* 4: cache management (evict.c, manage.c, fsck.c): when each
     * version was last served, versions imported into a mirror (never
     * evicted), pins, the log of removed versions that running servers read
     * to drop their in-memory copies, and quarantined files. */
    "ALTER TABLE versions ADD COLUMN accessed INTEGER;"
    "ALTER TABLE versions ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX versions_used ON versions(coalesce(accessed, created));"
    "CREATE TABLE pins ("
    "  module TEXT NOT NULL,"
    "  version TEXT NOT NULL," /* '' pins every version of the module */
    "  pinned INTEGER NOT NULL,"
    "  PRIMARY KEY (module, version)) WITHOUT ROWID;"
    "CREATE TABLE removals ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  module TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE TABLE quarantine ("
    "  id INTEGER PRIMARY KEY,"
    "  module TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  part TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  data BLOB," /* a .info or .mod */
    "  origin TEXT,"
    "  found INTEGER NOT NULL);"
    "CREATE TABLE quarantine_chunks (" /* a zip, as zip_chunks held it */
    "  quarantine_id INTEGER NOT NULL REFERENCES quarantine(id),"
    "  seq INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (quarantine_id, seq));",
    /* 5: findings about what is served (module_view.c), recorded once per
     * module version (version '' for the module), and who asked. */
    "CREATE TABLE findings ("
    "  module TEXT NOT NULL,"
    "  version TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  found INTEGER NOT NULL,"
    "  PRIMARY KEY (module, version, kind)) WITHOUT ROWID;"
    "ALTER TABLE requests ADD COLUMN client TEXT;",
    /* 6: checksum database answers (sumdb.c): lookups and tiles, which
     * never change, and each database's latest signed tree; and what a
     * mirror knows about itself (when its content was imported). */
    "CREATE TABLE sumdb_cache ("
    "  db TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  body BLOB NOT NULL,"
    "  fetched INTEGER NOT NULL,"
    "  origin TEXT,"
    "  PRIMARY KEY (db, path));"
    "CREATE TABLE mirror_meta ("
    "  key TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL) WITHOUT ROWID;",
    /* 7: when the newest version was stored (store_versions_newest: an
     * offline mirror's snapshot time, read at start and for every list
     * it answers) from an index, not a scan of every version (0.2 s for
     * a million versions with the file in the page cache). */
    "CREATE INDEX versions_created ON versions(created);",
    /* 8: what /diag shows without scanning a table per request: the
     * cache's totals, kept by triggers as versions are written (one row),
     * the ring's failures (the latest first), and the latest findings.
     * A version's bytes are what --max-cache-bytes counts: .info, .mod and
     * zip (evict.c's SQL_BYTES). */
    "CREATE TABLE totals ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  versions INTEGER NOT NULL,"
    "  zips INTEGER NOT NULL,"
    "  zip_bytes INTEGER NOT NULL,"
    "  cache_bytes INTEGER NOT NULL);"
    "INSERT INTO totals SELECT 1, count(*), count(zip_size),"
    "  coalesce(sum(zip_size), 0), coalesce(sum(coalesce(zip_size, 0)"
    "  + coalesce(length(info), 0) + coalesce(length(mod), 0)), 0)"
    "  FROM versions;"
    "CREATE TRIGGER totals_insert AFTER INSERT ON versions BEGIN"
    "  UPDATE totals SET versions = versions + 1,"
    "  zips = zips + (NEW.zip_size IS NOT NULL),"
    "  zip_bytes = zip_bytes + coalesce(NEW.zip_size, 0),"
    "  cache_bytes = cache_bytes + coalesce(NEW.zip_size, 0)"
    "  + coalesce(length(NEW.info), 0) + coalesce(length(NEW.mod), 0);"
    "  END;"
    "CREATE TRIGGER totals_delete AFTER DELETE ON versions BEGIN"
    "  UPDATE totals SET versions = versions - 1,"
    "  zips = zips - (OLD.zip_size IS NOT NULL),"
    "  zip_bytes = zip_bytes - coalesce(OLD.zip_size, 0),"
    "  cache_bytes = cache_bytes - coalesce(OLD.zip_size, 0)"
    "  - coalesce(length(OLD.info), 0) - coalesce(length(OLD.mod), 0);"
    "  END;"
    "CREATE TRIGGER totals_update AFTER UPDATE OF zip_size, info, mod"
    "  ON versions BEGIN UPDATE totals SET"
    "  zips = zips + (NEW.zip_size IS NOT NULL) - (OLD.zip_size IS NOT NULL),"
    "  zip_bytes = zip_bytes + coalesce(NEW.zip_size, 0)"
    "  - coalesce(OLD.zip_size, 0),"
    "  cache_bytes = cache_bytes + coalesce(NEW.zip_size, 0)"
    "  + coalesce(length(NEW.info), 0) + coalesce(length(NEW.mod), 0)"
    "  - coalesce(OLD.zip_size, 0) - coalesce(length(OLD.info), 0)"
    "  - coalesce(length(OLD.mod), 0);"
    "  END;"
    "CREATE INDEX requests_failed ON requests(seq) WHERE status >= 400;"
    "CREATE INDEX findings_found ON findings(found);",
    /* 9: what an offline mirror was asked for and lacked (misses.c): one
     * row per module and version or query ('latest' for lists and
     * @latest), how often and when. */
    "CREATE TABLE misses ("
    "  module TEXT NOT NULL,"
    "  query TEXT NOT NULL,"
    "  exact INTEGER NOT NULL," /* 1: query is a canonical version */
    "  fetch INTEGER NOT NULL," /* 1: a .mod or .zip was asked */
    "  count INTEGER NOT NULL,"
    "  first INTEGER NOT NULL,"
    "  last INTEGER NOT NULL,"
    "  PRIMARY KEY (module, query)) WITHOUT ROWID;",
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

int64_t store__now(void) {
  return (int64_t)time(NULL);
}

int store__fail(sqlite3 *db, const char *what) {
  int code = sqlite3_extended_errcode(db);
  fprintf(stderr, "store: %s: %s\n", what, sqlite3_errmsg(db));
  switch (code & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return -EBUSY;
  case SQLITE_FULL: return -ENOSPC;
  default: return -EIO;
  }
}

sqlite3_stmt *store__stmt(struct store_conn *c, const char *sql) {
  int i;
  for (i = 0; i < STORE_STMT_CACHE && c->stmts[i].sql != NULL; i++) {
    if (c->stmts[i].sql == sql) {
      sqlite3_reset(c->stmts[i].stmt);
      sqlite3_clear_bindings(c->stmts[i].stmt);
      return c->stmts[i].stmt;
    }
  }
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
      SQLITE_OK) {
    store__fail(c->db, "prepare");
    return NULL;
  }
  if (i < STORE_STMT_CACHE) {
    c->stmts[i].sql = sql;
    c->stmts[i].stmt = s;
  } else {
    /* The cache is sized for every statement in store/; running out is a
     * programming error, so fail loudly rather than leak. */
    fprintf(stderr, "store: statement cache full\n");
    abort();
  }
  return s;
}

int store__column_bytes(sqlite3_stmt *s, int i, struct store_bytes *out) {
  const void *p = sqlite3_column_blob(s, i);
  size_t n = (size_t)sqlite3_column_bytes(s, i);
  out->data = malloc(n + 1);
  if (out->data == NULL)
    return -ENOMEM;
  if (n > 0)
    memcpy(out->data, p, n);
  out->data[n] = '\0';
  out->len = n;
  return 0;
}

char *store__column_strdup(sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  return t == NULL ? NULL : strdup((const char *)t);
}

void store_bytes_free(struct store_bytes *b) {
  if (b == NULL)
    return;
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

static int conn_open(const char *path, struct store_conn *c, int cache_kib) {
  memset(c, 0, sizeof *c);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
    int rc = store__fail(c->db, path);
    sqlite3_close(c->db);
    c->db = NULL;
    return rc;
  }
  sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);
  char pragmas[256];
  /* The page size only applies to a new, empty database (and must be set
   * before WAL mode): large pages keep zip chunks on short page chains. */
  snprintf(
      pragmas, sizeof pragmas,
      "PRAGMA page_size=%d; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
      "PRAGMA foreign_keys=ON; PRAGMA cache_size=-%d;"
      "PRAGMA mmap_size=%lld;",
      STORE_PAGE_BYTES, cache_kib, STORE_MMAP_BYTES);
  if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
    return store__fail(c->db, "pragmas");
  return 0;
}

static void conn_close(struct store_conn *c) {
  for (int i = 0; i < STORE_STMT_CACHE; i++)
    sqlite3_finalize(c->stmts[i].stmt);
  sqlite3_close(c->db);
  memset(c, 0, sizeof *c);
}

static int migrate(struct store_conn *c) {
  sqlite3_stmt *s = store__stmt(c, "PRAGMA user_version");
  if (s == NULL || sqlite3_step(s) != SQLITE_ROW)
    return store__fail(c->db, "read schema version");
  int have = sqlite3_column_int(s, 0);
  sqlite3_reset(s);
  if (have > MIGRATION_COUNT) {
    fprintf(stderr,
            "store: the database has schema version %d, newer than this "
            "modproxy knows (%d); upgrade modproxy\n",
            have, MIGRATION_COUNT);
    return -EPROTO;
  }
  for (int v = have; v < MIGRATION_COUNT; v++) {
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version=%d;", v + 1);
    if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
      return store__fail(c->db, "begin migration");
    if (sqlite3_exec(c->db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, bump, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
      int rc = store__fail(c->db, "migration");
      sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
      return rc;
    }
  }
  return 0;
}

int store_open(const char *dir, struct store **out) {
  int rc = 0;
  if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
    rc = -errno;
    fprintf(stderr, "store: cannot create %s: %s\n", dir, strerror(errno));
    return rc;
  }
  struct store *st = calloc(1, sizeof *st);
  if (st == NULL)
    return -ENOMEM;
  size_t n = strlen(dir) + sizeof "/modproxy.db";
  st->path = malloc(n);
  if (st->path == NULL) {
    free(st);
    return -ENOMEM;
  }
  snprintf(st->path, n, "%s/modproxy.db", dir);
  pthread_mutex_init(&st->writer_lock, NULL);
  pthread_mutex_init(&st->readers_lock, NULL);
  pthread_cond_init(&st->readers_free, NULL);
  rc = conn_open(st->path, &st->writer, STORE_WRITER_CACHE_KIB);
  if (rc < 0)
    goto fail;
  rc = migrate(&st->writer);
  if (rc < 0)
    goto fail;
  for (int i = 0; i < STORE_READERS; i++) {
    rc = conn_open(st->path, &st->readers[i], STORE_READER_CACHE_KIB);
    if (rc < 0)
      goto fail;
  }
  *out = st;
  return 0;
fail:
  store_close(st);
  return rc;
}

void store_close(struct store *st) {
  if (st == NULL)
    return;
  for (int i = 0; i < STORE_READERS; i++)
    conn_close(&st->readers[i]);
  conn_close(&st->writer);
  pthread_cond_destroy(&st->readers_free);
  pthread_mutex_destroy(&st->readers_lock);
  pthread_mutex_destroy(&st->writer_lock);
  free(st->path);
  free(st);
}

int store_schema_version(struct store *st) {
  struct store_conn *c = store__reader_get(st);
  sqlite3_stmt *s = store__stmt(c, "PRAGMA user_version");
  int v = (s != NULL && sqlite3_step(s) == SQLITE_ROW)
              ? sqlite3_column_int(s, 0)
              : store__fail(c->db, "read schema version");
  if (s != NULL)
    sqlite3_reset(s);
  store__reader_put(st, c);
  return v;
}

struct store_conn *store__reader_get(struct store *st) {
  pthread_mutex_lock(&st->readers_lock);
  for (;;) {
    for (int i = 0; i < STORE_READERS; i++) {
      if (!st->reader_busy[i]) {
        st->reader_busy[i] = 1;
        pthread_mutex_unlock(&st->readers_lock);
        return &st->readers[i];
      }
    }
    pthread_cond_wait(&st->readers_free, &st->readers_lock);
  }
}

void store__reader_put(struct store *st, struct store_conn *c) {
  pthread_mutex_lock(&st->readers_lock);
  st->reader_busy[c - st->readers] = 0;
  pthread_cond_signal(&st->readers_free);
  pthread_mutex_unlock(&st->readers_lock);
}

int store__write_begin(struct store *st, struct store_conn **c) {
  pthread_mutex_lock(&st->writer_lock);
  /* Another process holds the database: the writer that found out waited
   * STORE_BUSY_TIMEOUT_MS; the ones queued behind it give up at once for a
   * while instead of each waiting as long again. */
  int backoff =
      time_now_ms(CLOCK_MONOTONIC) - st->busy_at_ms < STORE_BUSY_BACKOFF_MS;
  if (backoff)
    sqlite3_busy_timeout(st->writer.db, 0);
  sqlite3_stmt *s = store__stmt(&st->writer, "BEGIN IMMEDIATE");
  int step = s != NULL ? sqlite3_step(s) : SQLITE_ERROR;
  if (backoff)
    sqlite3_busy_timeout(st->writer.db, STORE_BUSY_TIMEOUT_MS);
  if (step != SQLITE_DONE) {
    int rc = store__fail(st->writer.db, "begin");
    if (rc == -EBUSY)
      st->busy_at_ms = time_now_ms(CLOCK_MONOTONIC);
    pthread_mutex_unlock(&st->writer_lock);
    return rc;
  }
  *c = &st->writer;
  return 0;
}

int store__write_end(struct store *st, struct store_conn *c, int rc) {
  const char *sql = rc >= 0 ? "COMMIT" : "ROLLBACK";
  sqlite3_stmt *s = store__stmt(c, sql);
  if (s == NULL || sqlite3_step(s) != SQLITE_DONE) {
    int err = store__fail(c->db, sql);
    if (rc >= 0) {
      rc = err;
      sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    }
  }
  pthread_mutex_unlock(&st->writer_lock);
  return rc;
}

int store_totals_get(struct store *st, struct store_stats *out) {
  struct store_conn *c = store__reader_get(st);
  int rc = store__totals(c, out);
  store__reader_put(st, c);
  return rc;
}

int store__totals(struct store_conn *c, struct store_stats *out) {
  sqlite3_stmt *s = store__stmt(
      c, "SELECT versions, zips, zip_bytes, cache_bytes FROM totals");
  if (s == NULL || sqlite3_step(s) != SQLITE_ROW) {
    int rc = store__fail(c->db, "totals");
    if (s != NULL)
      sqlite3_reset(s);
    return rc;
  }
  out->versions = (uint64_t)sqlite3_column_int64(s, 0);
  out->zips = (uint64_t)sqlite3_column_int64(s, 1);
  out->zip_bytes = (uint64_t)sqlite3_column_int64(s, 2);
  out->cache_bytes = (uint64_t)sqlite3_column_int64(s, 3);
  sqlite3_reset(s);
  return 0;
}

int store_stats_get(struct store *st, struct store_stats *out) {
  struct store_conn *c = store__reader_get(st);
  int rc = store__totals(c, out);
  sqlite3_stmt *s =
      rc == 0 ? store__stmt(c, "SELECT count(*) FROM answers") : NULL;
  if (rc == 0 && (s == NULL || sqlite3_step(s) != SQLITE_ROW))
    rc = store__fail(c->db, "stats");
  else if (rc == 0)
    out->answers = (uint64_t)sqlite3_column_int64(s, 0);
  if (s != NULL)
    sqlite3_reset(s);
  if (rc == 0)
    rc = store__stats_more(c, out);
  store__reader_put(st, c);
  return rc;
}

int store_ping(struct store *st) {
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  return store__write_end(st, c, 0);
}
