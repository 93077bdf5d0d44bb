/*
 * The offline mirror (--offline, or --upstream off): what it answers
 * without any upstream. Lists and @latest come from the versions the store
 * holds, with the time that content was taken (X-Modproxy-Snapshot); a
 * missing module or version says so and names the export command that
 * would add it; /diag/mirror shows the mirror's state. Private to proxy/.
 */
#ifndef PROXY_MIRROR_H
#define PROXY_MIRROR_H

#include <stddef.h>

#include "server.h"

struct conn_response;
struct proxy_conn;

/** The mirror's state; offline, it reads when the content was taken from
 *  store (metadata). 0 and *out, or -ENOMEM. */
int proxy_mirror_new(struct store *store, int offline,
                     struct proxy_mirror **out);
/** NULL is fine. */
void proxy_mirror_free(struct proxy_mirror *m);

/**
 * Worker thread, offline only: answers a list or @latest from the stored
 * versions of gp->module into *v (status 200 and the body: the sorted
 * release and prerelease versions, or the .info of the version @latest
 * picks). Leaves v untouched (status 0) when the module has no version.
 */
void proxy_mirror_answer(struct proxy_server *s, const struct gp_req *gp,
                         struct hot_value *v);

/** Loop thread: "X-Modproxy-Snapshot: <time>\r\n" for an offline mirror's
 *  lists and @latest, else NULL. Valid until the next call. */
const char *proxy_mirror_headers(struct proxy_server *s, enum gp_kind kind);

/** Explains a miss on an offline mirror: not in this mirror, taken when,
 *  and the commands that would add it. */
void proxy_mirror_explain(struct proxy_server *s, const struct gp_req *gp,
                          char *out, size_t cap);

/** Serves GET /diag/mirror: offline or not, snapshot time, last import,
 *  checksum databases and what the store holds for them. */
void proxy_route_mirror(struct proxy_conn *c);

#endif
