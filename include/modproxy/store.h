/*
 * The module cache: one SQLite database (WAL mode) under the data directory.
 *
 * It knows bytes and hashes, not HTTP. Every function here blocks (disk and
 * SQLite) and is meant for a worker thread; any thread may call any function
 * at any time: the store keeps one writer connection and a small pool of
 * reader connections, each used by one thread at a time.
 *
 * What it holds:
 *  - versions: one row per module version with its .info, its .mod (and the
 *    go.sum "/go.mod" h1), and the zip's size, h1, SHA-256 and any module-zip
 *    rule violations. Each part is published on its own, in one transaction,
 *    only once it is complete and hashed: a version whose .info was asked for
 *    does not have to fetch its 500 MiB zip.
 *  - zip_chunks: the zip bytes in STORE_ZIP_CHUNK_BYTES rows, so that no zip
 *    sits in memory whole and any offset is one lookup away.
 *  - answers: replies that expire: version lists, @latest, .info for queries
 *    that are not canonical versions (branches, commit hashes), and
 *    not-found replies, each with the time it was fetched.
 */
#ifndef MODPROXY_STORE_H
#define MODPROXY_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "modproxy/gomod.h"
#include "modproxy/gozip.h"

struct store;

/** Zips are stored (and read back) in pieces of this size. */
#define STORE_ZIP_CHUNK_BYTES (256u << 10)
/** Reader connections kept open: more than the worker threads that read. */
#define STORE_READERS 8
/** How long a connection waits on a lock held by another process (e.g. a
 *  `modproxy` command run beside the server) before reporting -EBUSY. */
#define STORE_BUSY_TIMEOUT_MS 5000
/** After a write gave up on such a lock, writes fail at once for this long
 *  rather than queueing up one timeout each. */
#define STORE_BUSY_BACKOFF_MS 2000

/** Parts of a version. */
enum store_part { STORE_INFO, STORE_MOD, STORE_ZIP };

/**
 * Opens (creating if needed) DIR/modproxy.db and brings its schema up to date
 * with the numbered migrations. Returns 0 and *out, or a negative errno
 * (-EIO with the SQLite message logged to stderr).
 */
int store_open(const char *dir, struct store **out);
/** Closes every connection. Accepts NULL. No call may be in flight. */
void store_close(struct store *st);

/** The schema version the store is at (the highest migration applied). */
int store_schema_version(struct store *st);

/** A small stored value (a .info, a .mod, an answer body). Heap-owned by
 *  the caller: release with store_bytes_free. */
struct store_bytes {
  char *data;
  size_t len;
};
void store_bytes_free(struct store_bytes *b);

/**
 * Reads the .info or .mod of module@version into *out (and, for STORE_MOD,
 * the go.sum hash into h1 if h1 is not NULL). -ENOENT when that part is not
 * stored.
 */
int store_part_get(struct store *st, const char *module, const char *version,
                   enum store_part part, struct store_bytes *out,
                   char h1[GOMOD_H1_BYTES]);

/**
 * Publishes the .info (must be a JSON object naming `version`; the caller
 * checks) or the .mod (its h1 is computed here) of module@version, with
 * where it came from. Replaces nothing: if the part is already stored, the
 * call succeeds and leaves it as it was (stored bytes never change).
 */
int store_part_put(struct store *st, const char *module, const char *version,
                   enum store_part part, const void *data, size_t len,
                   const char *origin);

/** What the store knows about a stored zip. */
struct store_zip_meta {
  uint64_t size;
  char h1[GOMOD_H1_BYTES];
  char sha256[65];          /**< hex SHA-256 of the zip bytes (its ETag) */
  uint64_t violation_count; /**< module zip rules the zip breaks */
  char *violations;         /**< heap: "\n"-separated messages, or NULL */
};
void store_zip_meta_dispose(struct store_zip_meta *m);

/** Reads the zip's metadata; -ENOENT when the zip is not stored. */
int store_zip_stat(struct store *st, const char *module, const char *version,
                   struct store_zip_meta *out);

/**
 * Reads up to len bytes of the stored zip at offset off into buf; returns the
 * count (0 at the end) or a negative errno.
 */
int64_t store_zip_read(struct store *st, const char *module,
                       const char *version, uint64_t off, void *buf,
                       size_t len);

/**
 * Ingests a complete zip from the file descriptor fd (read with pread from
 * offset 0 to its end): inspects it (gozip_inspect), refuses it if it is not
 * a readable zip within the size limits (-EBADMSG/-E2BIG, the reason in
 * rep->error) or, when strict, if it breaks a module zip rule (-EPERM, the
 * violations in rep), or when want_h1 is not NULL and the zip's h1 (then in
 * rep->h1) differs from it (-EILSEQ); then copies it into the zips table in
 * chunks and publishes it with its hashes in one transaction. rep may not
 * be NULL. Already stored: 0, nothing changes.
 */
int store_zip_put_fd(struct store *st, const char *module, const char *version,
                     int fd, const char *origin, int strict,
                     const char *want_h1, struct gozip_report *rep);

/** A reply that expires (list, @latest, a query's .info, a not-found). */
struct store_answer {
  int status; /**< the HTTP status it answers with: 200, 404, 410 */
  struct store_bytes body;
  int64_t fetched; /**< when it was fetched (Unix seconds) */
  char *origin;    /**< heap: which upstream said it, or NULL */
};
void store_answer_dispose(struct store_answer *a);

/** Reads the answer stored under (module, key); -ENOENT if none. */
int store_answer_get(struct store *st, const char *module, const char *key,
                     struct store_answer *out);
/** Stores (replacing) the answer under (module, key). */
int store_answer_put(struct store *st, const char *module, const char *key,
                     int status, const void *body, size_t len, int64_t fetched,
                     const char *origin);

/** One request record as the store keeps it (see diag.h). */
struct store_record {
  const char *id;
  int64_t time_ms;
  int status;
  const char *outcome;
  const char *module, *version; /**< may be NULL */
  const char *target;           /**< the request target */
  const char *client;           /**< the client's address, or NULL */
  const char *json;             /**< the whole record */
};

/**
 * Appends n records in one transaction, then drops the oldest so that at
 * most `keep` remain (the ring behind /diag). If `yield` is not NULL, it is
 * called every few records' worth of work (on this thread, the store's
 * write lock held): a background caller gives up its core there.
 */
int store_records_put(struct store *st, const struct store_record *recs,
                      size_t n, uint64_t keep, void (*yield)(void));
/** The JSON of the newest record with this id into *out; -ENOENT. */
int store_record_get(struct store *st, const char *id, struct store_bytes *out);

/** One of the latest findings (store_findings_latest). */
struct store_finding_row {
  char module[256];
  char version[128];
  char kind[32];
};
/** Up to cap of the latest findings, newest first; the count or a
 *  negative errno. */
int store_findings_latest(struct store *st, struct store_finding_row *rows,
                          int cap);

/** Called with each record's JSON (borrowed for the call). */
typedef void (*store_record_cb)(void *arg, const char *json);
/** Calls cb for the newest `last` records of the ring, oldest first (once,
 *  at start: what /diag aggregates as records are written). */
int store_records_each(struct store *st, uint64_t last, store_record_cb cb,
                       void *arg);

/** Which records store_records_query returns (every field optional). */
struct store_records_filter {
  const char *module_prefix;  /**< module path starts with it; NULL: any */
  int status_min, status_max; /**< status range; 0, 0: failures (>= 400) */
  const char *outcome;        /**< this outcome only; NULL: any */
  const char *client;         /**< this client address only; NULL: any */
  int64_t since_ms;           /**< records at or after it; 0: any */
  uint64_t offset;            /**< records skipped (newest first) */
};
/** One record's columns, as store_records_query returns them. */
struct store_record_row {
  char id[32];
  int64_t time_ms;
  int status;
  char outcome[24];
  char module[256];
  char version[128];
  char target[300];
  char client[64];
};
/**
 * Up to cap records of the ring that pass f, newest first, into rows;
 * returns how many (so cap + 1 tells whether there is a next page), or a
 * negative errno. The default (failures) walks an index of the failures
 * only; a filter walks back from the newest record until it has cap.
 */
int store_records_query(struct store *st, const struct store_records_filter *f,
                        struct store_record_row *rows, int cap);

/**
 * Versions of module that builds fetched (zips served with status 200)
 * since since_ms, one "version count" line each, most used first, into
 * *out; requests whose client is `self` (the proxy's own, made in-process)
 * are not builds and are left out. -ENOENT when there are none.
 */
int store_records_versions(struct store *st, const char *module,
                           int64_t since_ms, const char *self,
                           struct store_bytes *out);

/** Records a finding about module@version (version "" for the module as a
 *  whole); a finding of the same kind replaces the earlier one. */
int store_finding_put(struct store *st, const char *module, const char *version,
                      const char *kind, const char *message);

/** Everything /diag/module shows about a module (or one version of it). */
#define STORE_VIEW_VERSIONS 200
#define STORE_VIEW_FINDINGS 50
#define STORE_VIEW_REQUESTS 30
struct store_view_version {
  char version[GOMOD_MAX_VERSION_BYTES];
  int has_info, has_mod;
  char mod_h1[GOMOD_H1_BYTES];
  int64_t zip_size; /**< -1 when the zip is not stored */
  char zip_h1[GOMOD_H1_BYTES];
  uint64_t zip_violations;
  char origin[300]; /**< upstream or repository it came from */
  char vcs[400];    /**< "url ref commit" for private versions */
  int64_t created;
};
struct store_view_finding {
  char version[GOMOD_MAX_VERSION_BYTES];
  char kind[32];
  char message[640];
  int64_t found;
};
struct store_module_view {
  struct store_view_version versions[STORE_VIEW_VERSIONS];
  int nversions;
  struct store_view_finding findings[STORE_VIEW_FINDINGS];
  int nfindings;
  struct store_record_row requests[STORE_VIEW_REQUESTS]; /**< newest first */
  int nrequests;
};
/** Fills *out for module (and only `version` when not NULL). Heap-allocate
 *  the view: it is large. */
int store_module_view(struct store *st, const char *module, const char *version,
                      struct store_module_view *out);

/** Checks that the store takes writes (an empty write transaction). */
int store_ping(struct store *st);

/**
 * Reads len bytes at off from the file descriptor *(int *)ctx, retrying
 * short reads: the read_at of a struct gozip_reader over a file. Returns the
 * count (short only at the end of the file) or a negative errno.
 */
int64_t store_fd_read_at(void *ctx, uint64_t off, void *buf, size_t len);

/** Counts for /diag and `modproxy stats`. */
struct store_stats {
  uint64_t versions, zips, zip_bytes, answers;
  /* Cache management (manage.c). */
  uint64_t cache_bytes; /**< .info + .mod + zip bytes: what
                             --max-cache-bytes limits */
  uint64_t db_bytes;    /**< the database file (pages in use and free) */
  uint64_t free_bytes;  /**< free pages, reused before the file grows */
  uint64_t zip_chunks;  /**< rows of zip bytes */
  uint64_t requests;    /**< request records in the ring */
  uint64_t provenance;  /**< private versions with a recorded origin */
  uint64_t imported;    /**< versions imported into a mirror */
  uint64_t pins;        /**< pins (module@version or a whole module) */
  uint64_t quarantined; /**< files fsck moved aside */
  uint64_t removals;    /**< entries in the removal log */
  int64_t oldest_use;   /**< least recent use of a version (Unix s), 0 */
};
int store_stats_get(struct store *st, struct store_stats *out);
/** versions, zips, zip_bytes and cache_bytes of *out only (the other
 *  fields untouched): one row that triggers keep, no table scan. */
int store_totals_get(struct store *st, struct store_stats *out);

/* ---- provenance of private versions ------------------------------------ */

/** Records (first time wins: stored provenance never changes) that
 *  module@version was built from commit of url, found through ref (may be
 *  NULL). url must not hold credentials. */
int store_provenance_put(struct store *st, const char *module,
                         const char *version, const char *url, const char *ref,
                         const char *commit);

/* ---- cache management (evict.c, manage.c, fsck.c, backup.c) ----------- */

/* Versions removed per write transaction by eviction: the writer lock is
 * released between batches so that publishes are not held up for long. */
#define STORE_EVICT_BATCH 64

/** When a version was last served. */
struct store_access {
  const char *module, *version;
  int64_t used; /**< Unix seconds */
};

/**
 * Records last uses in one transaction: each version's `accessed` time is
 * raised to `used` (never lowered); versions not stored are skipped.
 * Meant to be called with a batch collected in memory (a few seconds of
 * requests), never once per request.
 */
int store_access_put(struct store *st, const struct store_access *a, size_t n);

/** Pins module@version (version "" pins every version of the module, stored
 *  now or later): eviction never removes a pinned version. Pinning what is
 *  already pinned succeeds. */
int store_pin_put(struct store *st, const char *module, const char *version);
/** Removes a pin; -ENOENT when there is none. */
int store_pin_delete(struct store *st, const char *module, const char *version);
/** Calls cb for every pin (version "" for a whole module) with the stored
 *  bytes it keeps, in module order; stops at a nonzero return of cb. */
int store_pins_each(struct store *st,
                    int (*cb)(const char *module, const char *version,
                              int64_t pinned, uint64_t bytes, void *arg),
                    void *arg);

/** Marks module@version imported into a mirror: eviction never removes it.
 *  (Import code inside its own transaction may instead set
 *  versions.imported = 1.) -ENOENT when the version is not stored. */
int store_version_set_imported(struct store *st, const char *module,
                               const char *version);

/** Drops every expiring answer of module (lists, @latest, queries and
 *  not-found replies) so that the next request asks the upstream; returns
 *  how many were dropped. */
int store_answers_drop(struct store *st, const char *module);

/** Drops the remembered not-found answers fetched before `before` (Unix
 *  seconds): expired, they are never served again, and the table would
 *  otherwise keep one row per distinct miss for good. Answers with a 200
 *  stay (an expired list is still served when the upstreams fail).
 *  Returns how many were dropped. */
int store_answers_expire(struct store *st, int64_t before);

/** Decides whether a module is private (never evicted); any thread. */
typedef int (*store_keep_cb)(const char *module, void *arg);

/** A version chosen for eviction. */
struct store_victim {
  int64_t id;
  char *module, *version; /**< heap */
  uint64_t bytes;         /**< .info + .mod + zip */
  int64_t used;           /**< last use (or when it was stored) */
};

/** Least recently used versions to remove. */
struct store_evict_plan {
  struct store_victim *v;
  size_t n;
  uint64_t total_bytes; /**< cache bytes when planned */
  uint64_t plan_bytes;  /**< bytes of the n victims */
  /** Bytes the cache stays over max_bytes after the plan, because the rest
   *  is pinned, imported, private or used since used_before (0: the plan
   *  reaches the limit). */
  uint64_t over_bytes;
};
void store_evict_plan_dispose(struct store_evict_plan *p);

/**
 * Plans least-recently-used eviction down to max_bytes of cache: public
 * versions last used before used_before, oldest first, never a pinned one,
 * one imported into a mirror, one with provenance (private, from git), or
 * one whose module `keep` says is private (keep may be NULL). At most
 * max_victims. Returns the count (0 when under the limit). Reads only.
 */
int store_evict_plan(struct store *st, uint64_t max_bytes, int64_t used_before,
                     store_keep_cb keep, void *arg, size_t max_victims,
                     struct store_evict_plan *out);

/**
 * Removes the plan's versions, STORE_EVICT_BATCH per transaction, checking
 * each again inside its transaction (a version used since used_before or
 * pinned meanwhile stays; its v[i].bytes is set to 0), and logs each in
 * the removal log. Returns how many were removed; *freed gets their bytes.
 */
int store_evict_apply(struct store *st, struct store_evict_plan *p,
                      int64_t used_before, uint64_t *freed);

/** The newest removal-log sequence number (0 when empty). */
int store_removals_last(struct store *st, int64_t *seq);
/**
 * Calls cb for each removal logged after `after`, oldest first, at most
 * `max`; *last gets the last sequence number seen. Trims entries older
 * than a day. A server reads it to forget what other processes removed.
 */
int store_removals_since(struct store *st, int64_t after, size_t max,
                         void (*cb)(const char *module, const char *version,
                                    void *arg),
                         void *arg, int64_t *last);

/** One damaged file found by store_fsck. */
struct store_fsck_problem {
  const char *module, *version;
  const char *part; /**< "info", "mod" or "zip" */
  const char *reason;
  int quarantined; /**< moved aside and no longer served */
};
struct store_fsck_result {
  uint64_t versions, files, bytes; /**< checked */
  uint64_t bad, quarantined;
};

/**
 * Re-verifies every stored file: each .mod against its recorded go.sum h1,
 * each zip against its size, SHA-256 and h1 (hashing the zip again), each
 * .info as a JSON object naming its version. With `quarantine`, a bad file
 * is moved to the quarantine table and removed from its version (the next
 * request fetches it again), and logged in the removal log. cb (may be
 * NULL) hears of each problem. Returns 0 or a negative errno.
 */
int store_fsck(struct store *st, int quarantine,
               void (*cb)(const struct store_fsck_problem *p, void *arg),
               void *arg, struct store_fsck_result *out);

/**
 * Copies the database to `path` with SQLite's online backup API (one read
 * snapshot: writers carry on), through `path`.tmp renamed into place once
 * complete and checked (PRAGMA quick_check). *bytes gets its size.
 */
int store_backup(struct store *st, const char *path, uint64_t *bytes);

/* ---- checksum databases and mirrors (sumdb.c, import.c) ------------------ */

/** One checksum database answer to store. */
struct store_sumdb_row {
  const char *db;   /**< the database name ("sum.golang.org") */
  const char *path; /**< "lookup/...", "tile/...", "latest" */
  const void *body;
  size_t len;
  int64_t fetched;    /**< Unix seconds */
  const char *origin; /**< where it came from, or NULL */
  int replace;        /**< 1: replace a stored copy (latest); 0: first wins */
};

/** Stores n rows in one transaction; returns how many were new (or
 *  replaced), or a negative errno (nothing stored). */
int store_sumdb_put(struct store *st, const struct store_sumdb_row *rows,
                    size_t n);
/** Reads the answer stored for (db, path) into *out (caller frees);
 *  *fetched (may be NULL) gets its time. -ENOENT when none. */
int store_sumdb_get(struct store *st, const char *db, const char *path,
                    struct store_bytes *out, int64_t *fetched);
/** The first len bytes (the hashes of a tile of width len / 32) of the
 *  widest stored copy of the tile whose full path is `base` (the full tile
 *  itself or a `base.p/W`): a narrower tile is a prefix of a wider one.
 *  -ENOENT when no copy holds len bytes. */
int store_sumdb_tile_prefix(struct store *st, const char *db, const char *base,
                            size_t len, struct store_bytes *out);
/** Calls cb for each stored answer of db (NULL: every database) whose path
 *  starts with prefix ("" for all), in (db, path) order; stops at and
 *  returns a nonzero cb result. body is borrowed for the call. */
int store_sumdb_each(struct store *st, const char *db, const char *prefix,
                     int (*cb)(void *arg, const char *db, const char *path,
                               const void *body, size_t len),
                     void *arg);

/** Mirror metadata ("snapshot": when the content was taken; ...). */
int store_meta_get(struct store *st, const char *key, char *out, size_t cap);
int store_meta_put(struct store *st, const char *key, const char *value);

/** Calls cb for at most max module paths the store holds versions or a
 *  found list of, each once; stops at a nonzero return of cb. 0 or -EIO. */
int store_modules_each(struct store *st, size_t max,
                       int (*cb)(const char *module, void *arg), void *arg);

/** Calls cb for every stored version with a .mod, last used (served or
 *  stored) at or after used_since (Unix seconds), in module and version
 *  order; stops at and returns a nonzero cb result. 0 or -EIO. */
int store_versions_each(struct store *st, int64_t used_since,
                        int (*cb)(void *arg, const char *module,
                                  const char *version),
                        void *arg);

/** The versions of module whose .info is stored, one per line ("v1.0.0\n"),
 *  unsorted, into *out (caller frees). -ENOENT when there are none. */
int store_versions_of(struct store *st, const char *module,
                      struct store_bytes *out);
/** When the newest version was stored (Unix seconds); -ENOENT if empty. */
int store_versions_newest(struct store *st, int64_t *created);

/* ---- what an offline mirror lacked (misses.c) ----------------------------- */

/** A request an offline mirror could not answer, or (store_misses_each) all
 *  the requests for one module and query. */
struct store_miss {
  const char *module;
  /** a version; a query ("master", "v1.2"); "latest" for a list or @latest */
  const char *query;
  int exact;      /**< query is a canonical version */
  int fetch;      /**< a .mod or .zip was asked */
  int64_t first;  /**< Unix seconds */
  int64_t last;   /**< Unix seconds (store_misses_add: the time asked) */
  uint64_t count; /**< store_misses_add: ignored (one each) */
};

/** Counts n misses in one transaction. 0 or a negative errno. */
int store_misses_add(struct store *st, const struct store_miss *v, size_t n);

/**
 * Calls cb for each miss last asked at or after `since` (Unix seconds) that
 * the store still lacks (the version; for a query, any version of the
 * module) and that is not one of the go command's path-prefix probes, in
 * module and query order; stops at and returns a nonzero cb result. The
 * miss is borrowed for the call. 0 or -EIO.
 */
int store_misses_each(struct store *st, int64_t since,
                      int (*cb)(void *arg, const struct store_miss *m),
                      void *arg);

/** A whole version to import; absent parts are NULL / -1. */
struct store_import {
  const char *module, *version;
  const void *info;
  size_t info_len;
  const void *mod;
  size_t mod_len;
  int zip_fd; /**< read with pread from 0 to its size, or -1 */
  /** The zip as gozip_inspect reported it (h1, violations); the caller has
   *  checked it. Required with zip_fd. */
  const struct gozip_report *zip_report;
  const char *origin; /**< where it came from ("bundle ...") */
  int64_t created;    /**< 0: now */
  int mark_imported;  /**< set versions.imported (eviction keeps it) */
};

/**
 * Publishes every given part of a version that is not stored yet, in one
 * transaction (a part already stored is left as it was). *added gets a
 * bitmask of the parts added (1 << STORE_INFO, STORE_MOD, STORE_ZIP).
 * The caller checks the bytes first (JSON, hashes, zip rules).
 */
int store_version_import(struct store *st, const struct store_import *v,
                         int *added);

#endif
