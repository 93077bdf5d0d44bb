/*
 * GOPROXY requests in routes.c (parse, look up, answer); a miss waits on a
 * coalesced fetch job (job.h). Private to proxy/.
 */
#ifndef PROXY_ROUTE_H
#define PROXY_ROUTE_H

#include "conn.h"
#include "job.h"
#include "server.h"

/**
 * Parses a request target into *out: percent-decoding, then '!'
 * case-decoding, then x/mod validation. Returns 0, or the HTTP status to
 * answer with (400 for a malformed path or version, 404 for an endpoint that
 * does not exist or a version that cannot exist) with the reason in err.
 * Pure: no I/O.
 */
int gp_parse(const char *target, struct gp_req *out, char *err, size_t errlen);

/** Reads the "Version" string of a .info or @latest JSON body into out.
 *  -EINVAL when the body is not a JSON object with a plain Version string. */
int gp_info_version(const char *body, size_t len, char *out, size_t cap);

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
  struct job_waiter waiter; /**< on the fetch job, after a miss */
};

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
