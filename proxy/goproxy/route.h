/*
 * GOPROXY requests in routes.c (parse, look up, answer); a miss waits on a
 * coalesced fetch job (job.h). Private to proxy/.
 */
#ifndef PROXY_ROUTE_H
#define PROXY_ROUTE_H

#include "http.h"
#include "job.h"
#include "policy.h"
#include "server.h"

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

/** Serves the GOPROXY endpoints (routes.c). */
void proxy_route(struct proxy_conn *c);
/**
 * Access control (access.c), the one place that decides it. 1 if a client
 * with these credentials (user "" for anonymous) may see something about
 * module and target (either may be NULL): private modules, named by the
 * module or by the request target, or everything with --auth-required
 * all, need a user. Pure; any thread.
 */
int proxy_access_may_see(const struct proxy_server *s, const char *user,
                         const char *module, const char *target);
/**
 * The access phase, before any handler (http_config.access): 1 if the
 * current request may go on; else it has been answered (401). Sets
 * c->needs_credentials.
 */
int proxy_access_check(struct proxy_conn *c);
/** 1 when rec (a finished request) is a download of a private module's
 *  file (list, @latest, .info, .mod, .zip answered 200 or 206): its log
 *  line is an audit line. Loop thread; cheap when there is no --private. */
int proxy_access_audited(const struct proxy_server *s,
                         const struct diag_record *rec);
/** Serves /healthz, /readyz and /metrics; 0 if path is none of them
 *  (ops_routes.c). */
int proxy_route_ops(struct proxy_conn *c, const char *path);
/** Serves POST /diag/modfile (analysis.c). */
void proxy_route_modfile(struct proxy_conn *c);

/** Serves /diag and below (diag_routes.c). */
void proxy_route_diag(struct proxy_conn *c, const char *path);

/** Serves /admin/ and below: POST /admin/refresh (admin_routes.c). */
void proxy_route_admin(struct proxy_conn *c, const char *path);

/** A stored zip's bytes as a body when it is small enough for the hot
 *  cache (PROXY_HOT_MAX_ENTRY_BYTES), else NULL: large zips stream from
 *  the store. Worker thread. */
struct proxy_body *proxy_zip_body(struct store *st, const char *module,
                                  const char *version, uint64_t size);

/** Hex SHA-256 prefix of a body as a quoted strong ETag. */
void proxy_etag(const void *data, size_t len, char etag[40]);

#endif
