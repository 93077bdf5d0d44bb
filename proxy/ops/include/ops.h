/*
 * Operations (proxy/ops), the folder's one interface header: /diag and its
 * pages, /diag/modfile's analysis, /healthz, /readyz, /metrics, /admin/,
 * and the request records (their writer thread and the ring in the store).
 * It sees proxy/goproxy and the folders below it; the server registers its
 * handlers and gives the core proxy_records_keep for its records.
 * Loop thread.
 */
#ifndef PROXY_OPS_H
#define PROXY_OPS_H

#include "goproxy.h"

/* Request records wait in memory this long (or until a batch is full)
 * before one transaction writes them to the store and the log. */
#define PROXY_RECORD_FLUSH_MS 1000
#define PROXY_RECORD_BATCH 512
/* Records kept in the store's ring, by default. */
#define PROXY_RECORDS_KEEP 10000

/** Records subsystem (record_writer.c). */
int proxy_records_init(struct proxy_server *s);
/** Takes r's contents (r is zeroed); logs it and queues it for the store. */
void proxy_records_push(struct proxy_server *s, struct diag_record *r);
/** A record not yet in the store, by id, or NULL (borrowed; loop thread). */
const struct diag_record *proxy_records_find(struct proxy_server *s,
                                             const char *id);
/** Writes what is pending (at shutdown); closes the timer. */
void proxy_records_close(struct proxy_server *s);

/** Metrics (metrics.c): counts a finished request (its target, status,
 *  outcome and time). Loop thread: plain increments, no I/O. */
void proxy_metrics_request(struct proxy_server *s,
                           const struct diag_record *rec);
/** Counts the answer of upstream u that took ms in the dashboard, and
 *  whether it failed (not a 200, 404 or 410); a proxy_upstream_cb, given
 *  to the core as s->upstream_answered. */
void proxy_metrics_upstream(struct proxy_server *s, struct proxy_upstream *u,
                            uint64_t ms, int failed);
/** Renders /metrics (Prometheus text format) into a new heap string. */
char *proxy_metrics_render(const struct proxy_server *s,
                           const struct store_stats *st);

/* ---- handlers (http_handler_cb; arg: the server) ------------------------ */

/** Serves /healthz, /readyz and /metrics (ops_routes.c). */
void proxy_route_ops(struct proxy_conn *c, void *arg);
/** Serves POST /diag/modfile (analysis.c). */
void proxy_route_modfile(struct proxy_conn *c, void *arg);
/** Serves GET /diag/mirror and /diag/mirror/missing.txt (mirror_page.c). */
void proxy_route_mirror(struct proxy_conn *c, void *arg);
/** Serves /diag and below (diag_routes.c). */
void proxy_route_diag(struct proxy_conn *c, void *arg);
/** Serves /admin/ and below: POST /admin/refresh (admin_routes.c). */
void proxy_route_admin(struct proxy_conn *c, void *arg);

#endif
