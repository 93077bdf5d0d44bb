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
  char sha256[65];           /**< hex SHA-256 of the zip bytes (its ETag) */
  uint64_t violation_count;  /**< module zip rules the zip breaks */
  char *violations;          /**< heap: "\n"-separated messages, or NULL */
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
 * violations in rep), then copies it into the zips table in chunks and
 * publishes it with its hashes in one transaction. rep may not be NULL.
 * Already stored: 0, nothing changes.
 */
int store_zip_put_fd(struct store *st, const char *module, const char *version,
                     int fd, const char *origin, int strict,
                     struct gozip_report *rep);

/** A reply that expires (list, @latest, a query's .info, a not-found). */
struct store_answer {
  int status;         /**< the HTTP status it answers with: 200, 404, 410 */
  struct store_bytes body;
  int64_t fetched;    /**< when it was fetched (Unix seconds) */
  char *origin;       /**< heap: which upstream said it, or NULL */
};
void store_answer_dispose(struct store_answer *a);

/** Reads the answer stored under (module, key); -ENOENT if none. */
int store_answer_get(struct store *st, const char *module, const char *key,
                     struct store_answer *out);
/** Stores (replacing) the answer under (module, key). */
int store_answer_put(struct store *st, const char *module, const char *key,
                     int status, const void *body, size_t len,
                     int64_t fetched, const char *origin);

/** One request record as the store keeps it (see diag.h). */
struct store_record {
  const char *id;
  int64_t time_ms;
  int status;
  const char *outcome;
  const char *module, *version; /**< may be NULL */
  const char *target;           /**< the request target */
  const char *json;             /**< the whole record */
};

/**
 * Appends n records in one transaction, then drops the oldest so that at
 * most `keep` remain (the ring behind /diag).
 */
int store_records_put(struct store *st, const struct store_record *recs,
                      size_t n, uint64_t keep);
/** The JSON of the newest record with this id into *out; -ENOENT. */
int store_record_get(struct store *st, const char *id, struct store_bytes *out);

/** What /diag summarises from the request ring. */
#define STORE_SUMMARY_CAUSES 12
#define STORE_SUMMARY_MISSED 10
#define STORE_SUMMARY_RECENT 20
struct store_summary {
  uint64_t requests, hits, failures; /**< over the records kept */
  struct {
    char outcome[24];
    uint64_t count;
    int64_t last_ms;
    char last_id[32];
  } causes[STORE_SUMMARY_CAUSES]; /**< failures grouped by outcome */
  int ncauses;
  struct {
    char module[256];
    uint64_t count;
  } missed[STORE_SUMMARY_MISSED]; /**< modules most often not found */
  int nmissed;
  struct {
    char id[32];
    int64_t time_ms;
    int status;
    char outcome[24];
    char module[256];
    char version[128];
  } recent[STORE_SUMMARY_RECENT]; /**< the latest failures, newest first */
  int nrecent;
};
int store_records_summary(struct store *st, struct store_summary *out);

/**
 * Versions of module that builds fetched (zips served with status 200)
 * since since_ms, one "version count" line each, most used first, into
 * *out. -ENOENT when there are none.
 */
int store_records_versions(struct store *st, const char *module,
                           int64_t since_ms, struct store_bytes *out);

/** Checks that the store takes writes (an empty write transaction). */
int store_ping(struct store *st);

/** Counts for /diag and `modproxy stats`. */
struct store_stats {
  uint64_t versions, zips, zip_bytes, answers;
};
int store_stats_get(struct store *st, struct store_stats *out);

/* ---- provenance of private versions ------------------------------------ */

/** Where a private module version came from. */
struct store_provenance {
  char *url;    /**< repository URL without credentials (heap) */
  char *ref;    /**< ref it was found by ("refs/tags/v1.0.0"), or NULL */
  char *commit; /**< full commit hash (heap) */
  int64_t recorded; /**< Unix seconds it was first recorded */
};
void store_provenance_dispose(struct store_provenance *p);

/** Records (first time wins: stored provenance never changes) that
 *  module@version was built from commit of url, found through ref (may be
 *  NULL). url must not hold credentials. */
int store_provenance_put(struct store *st, const char *module,
                         const char *version, const char *url,
                         const char *ref, const char *commit);
/** Reads it back; -ENOENT when none is recorded. */
int store_provenance_get(struct store *st, const char *module,
                         const char *version, struct store_provenance *out);

#endif
