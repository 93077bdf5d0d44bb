/*
 * GOPROXY requests in routes.c (parse, look up, answer); a miss waits on a
 * coalesced fetch job (job.h); checksum database answers (job_sumdb.c).
 * Private to proxy/goproxy.
 */
#ifndef PROXY_ROUTE_H
#define PROXY_ROUTE_H

#include "goproxy.h"
#include "job.h"
#include "policy.h"

struct proxy_stream;

/**
 * Parses a request target into *out: percent-decoding, then '!'
 * case-decoding, then x/mod validation. Returns 0, or the HTTP status to
 * answer with (400 for a malformed path or version, 404 for an endpoint that
 * does not exist or a version that cannot exist) with the reason in err.
 * Pure: no I/O.
 */
int gp_parse(const char *target, struct gp_req *out, char *err, size_t errlen);

/** One GOPROXY request in progress: from a client connection (held until
 *  the request ends), or made inside the process (goproxy_get). */
struct route_ctx {
  struct proxy_server *s;
  /** The configuration in effect when the request came (held): it is read
   *  whole until the end, whatever a reload swaps in meanwhile. */
  const struct proxy_config *cfg;
  struct proxy_conn *conn; /**< NULL for goproxy_get */
  /* goproxy_get: who waits, and the record a connection would keep. */
  goproxy_get_cb cb;
  void *cb_arg;
  struct diag_record rec;
  int outcome_set;
  uint64_t start_ms;
  struct gp_req gp;
  /** The module's policy (policy.h), or NULL: looked up once, after the
   *  target is parsed; borrowed from the configuration. */
  const struct policy *policy;
  char key[sizeof((struct gp_req *)0)->module +
           sizeof((struct gp_req *)0)->suffix + 2];
  uv_work_t work;
  /* Found in the store by the lookup. */
  int found; /**< 1: fresh answer in `value` */
  struct hot_value value;
  /** A stale list/@latest answer, kept to serve if the upstream fails. */
  struct hot_value stale;
  int have_stale;
  struct job_waiter waiter; /**< on the fetch job, after a miss */
};

/**
 * A zip being downloaded from an upstream, sent to its clients while it
 * arrives (jobs.c feeds it, the clients' generators read it: zipgen.c).
 * `ready` stops short of the end until the zip is checked and stored, so a
 * client never receives the whole of a zip modproxy refused: it is cut off
 * instead. Loop thread only.
 */
struct stream_gen;
struct proxy_stream {
  int refs;
  int fd;         /**< the staging file (a dup, closed with the last ref) */
  uint64_t size;  /**< the upstream's Content-Length */
  uint64_t ready; /**< bytes that may be sent */
  int failed;     /**< refused or cut short: close the clients */
  int outcome;    /**< a diag_outcome for the clients' records, or -1 */
  char *attempts; /**< the upstream attempts (JSON), once known */
  char *why;      /**< failed: the explanation, for the clients' records */
  struct stream_gen *waiting; /**< generators waiting for bytes */
};

/** A stream of size bytes staged in fd (duplicated); one reference. */
struct proxy_stream *proxy_stream_new(int fd, uint64_t size);
void proxy_stream_unref(struct proxy_stream *st);
/** Lets the waiting clients send what is ready (or close, if failed). */
void proxy_stream_wake(struct proxy_stream *st);
/** A body generator for one client of st (takes a reference), or NULL. */
struct http_generator *proxy_stream_gen_new(struct proxy_stream *st);
/** A body generator for a stored zip, read from the store in steps of
 *  PROXY_ZIP_CHUNK_BYTES on worker threads, or NULL. */
struct http_generator *proxy_zip_gen_new(struct proxy_server *s,
                                         const char *module,
                                         const char *version);

/** A stored zip's bytes as a body when it is small enough for the hot
 *  cache (PROXY_HOT_MAX_ENTRY_BYTES), else NULL: large zips stream from
 *  the store. Worker thread. */
struct proxy_body *proxy_zip_body(struct store *st, const char *module,
                                  const char *version, uint64_t size);

/** Hex SHA-256 prefix of a body as a quoted strong ETag. */
void proxy_etag(const void *data, size_t len, char etag[40]);

/* ---- checksum database answers (job_sumdb.c) ----------------------------- */

/* How long /sumdb/<name>/latest may be cached downstream. */
#define PROXY_SUMDB_LATEST_MAX_AGE_S 60

struct proxy_sumdb_get;
typedef void (*proxy_sumdb_get_cb)(struct proxy_sumdb_get *g);

enum sumdb_get_state {
  SGET_IDLE,
  SGET_STORE, /* worker: sumdb_cache, a wider tile, a remembered 404 */
  SGET_FETCH, /* waiting on a fetch job (proxy_sumdb_job) */
  SGET_DONE,
};

/** One answer wanted (embedded and owned by the caller, which keeps it in
 *  place until on_done, then frees what it owns with _dispose). */
struct proxy_sumdb_get {
  /* in */
  const struct proxy_sumdb_db *db;
  proxy_sumdb_get_cb on_done;
  void *data;
  /* out */
  int status;              /**< 200, 404/410, 502/504 or 503 */
  struct proxy_body *body; /**< the answer, or the explanation (owned) */
  int fetched;             /**< 1: fresh from a source */
  int stale;               /**< 1: an old `latest` served because the
                                sources failed */
  const char *attempts;    /**< JSON of the source attempts; valid only
                                during on_done */
  char refused[256];       /**< why a source's answer failed its checks
                                (then status is 502), or "" */
  /* private */
  struct proxy_server *s;
  enum sumdb_get_state state;
  int tile_w;               /**< a tile's width (-1 data, 0 not a tile) */
  char tile_base[64];       /**< a tile's path without ".p/W" */
  struct hot_value stale_v; /**< a stale `latest`, kept for a failure */
  int64_t stored_fetched;
  struct gp_req gp; /**< the job's request: module = db name, suffix = path */
  char key[sizeof((struct fetch_job *)0)->key];
  uv_work_t work;
  struct job_waiter waiter;
};

/**
 * Starts reading db's answer at `path` ("lookup/<esc>@<esc>", "tile/...",
 * "latest"). on_done runs exactly once, on the loop thread, never from
 * inside this call. Offline, nothing is fetched: what the store lacks
 * answers 404. Returns 0, or -E2BIG for a path too long (on_done will not
 * run).
 */
int proxy_sumdb_get_start(struct proxy_server *s, struct proxy_sumdb_get *g,
                          const struct proxy_sumdb_db *db, const char *path);
void proxy_sumdb_get_dispose(struct proxy_sumdb_get *g);

/** The fetch-job kind of checksum database answers (job.h): from each
 *  upstream proxy's /sumdb/<name>/, then the database itself. */
extern const struct job_kind proxy_sumdb_job;

#endif
