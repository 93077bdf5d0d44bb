/*
 * GOPROXY requests between routes.c (parse, look up, answer) and jobs.c
 * (coalesced upstream fetches and ingest). Private to proxy/.
 */
#ifndef PROXY_ROUTE_H
#define PROXY_ROUTE_H

#include "conn.h"
#include "server.h"

/**
 * Parses a request target into *out: percent-decoding, then '!'
 * case-decoding, then x/mod validation. Returns 0, or the HTTP status to
 * answer with (400 for a malformed path or version, 404 for an endpoint that
 * does not exist or a version that cannot exist) with the reason in err.
 * Pure: no I/O.
 */
int gp_parse(const char *target, struct gp_req *out, char *err, size_t errlen);

/** The outcome of a fetch, handed to every request that waited for it. */
struct job_result {
  int status;              /**< 200, 404/410, or 502/504 */
  struct proxy_body *body; /**< small body, or the explanation on failure */
  char etag[40];
  uint64_t zip_size;    /**< for a zip */
  int upstream_error;   /**< failed for another reason than not-found */
  int fetched;          /**< 200 fresh from an upstream */
  int outcome;          /**< a diag_outcome to record, or -1: derive */
  const char *attempts; /**< JSON array of the upstream attempts */
  const char *refused;  /**< why the upstream's answer failed modproxy's
                             checks, or NULL; valid only during finish */
};

/** One GOPROXY request in progress. */
struct route_ctx {
  struct proxy_conn *conn;
  struct gp_req gp;
  char key[sizeof((struct gp_req *)0)->module +
           sizeof((struct gp_req *)0)->suffix + 2];
  uv_work_t work;
  /* Found in the store by the lookup. */
  int found; /**< 1: fresh answer in `value` */
  struct hot_value value;
  /** A stale list/@latest answer, kept to serve if the upstream fails. */
  struct hot_value stale;
  int have_stale;
  struct route_ctx *next_waiter;
};

/** Joins (or starts) the fetch for ctx->gp; answers ctx when it ends. */
void proxy_job_join(struct proxy_server *s, struct route_ctx *ctx);
/** Answers a waiting request with a fetch's outcome, then frees ctx. */
void proxy_route_finish(struct route_ctx *ctx, const struct job_result *r);
/** Answers a waiting zip request with a download in progress (a 200 whose
 *  body follows the stream), then frees ctx. */
void proxy_route_stream(struct route_ctx *ctx, struct proxy_stream *st);

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
