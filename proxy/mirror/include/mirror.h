/*
 * The offline mirror (proxy/mirror), the folder's one interface header:
 * what an offline modproxy (--offline, or --upstream off) answers without
 * any upstream. Lists and @latest come from the versions the store holds,
 * with the time that content was taken (X-Modproxy-Snapshot); a missing
 * module or version says so and names the export command that would add
 * it; /diag/mirror shows the mirror's state. proxy/goproxy asks it; it
 * sees nothing of proxy/goproxy.
 */
#ifndef PROXY_MIRROR_H
#define PROXY_MIRROR_H

#include <stddef.h>

#include "http.h"
#include "modproxy/store.h"
#include "sumdb_proxy.h"

struct proxy_mirror;

/** What proxy_mirror_new is given (kept for the mirror's life). */
struct proxy_mirror_config {
  uv_loop_t *loop;
  struct store *store;
  int offline;               /**< --offline (or --upstream off) */
  struct proxy_sumdb *sumdb; /**< the databases, shown on /diag/mirror */
};

/** The mirror's state; offline, it reads when the content was taken from
 *  the store (metadata). 0 and *out, or -ENOMEM. */
int proxy_mirror_new(const struct proxy_mirror_config *cfg,
                     struct proxy_mirror **out);
/** NULL is fine. */
void proxy_mirror_free(struct proxy_mirror *m);

/**
 * Worker thread, offline only: the version list (at_latest 0: the sorted
 * release and prerelease versions) or the @latest .info (at_latest 1: of the
 * version @latest picks) of module from the stored versions, as a new
 * body; NULL when the module has no version (or out of memory).
 */
struct proxy_body *proxy_mirror_answer(struct proxy_mirror *m,
                                       const char *module, int at_latest);

/** Loop thread: "X-Modproxy-Snapshot: <time>\r\n" for an offline mirror's
 *  lists and @latest (listing 1), else NULL (m may be NULL). Valid until
 *  the next call. */
const char *proxy_mirror_headers(struct proxy_mirror *m, int listing);

/** Explains a miss of module@version (version "": its list or @latest) on
 *  an offline mirror: not in this mirror, taken when, and the commands that
 *  would add it. m may be NULL. */
void proxy_mirror_explain(struct proxy_mirror *m, const char *module,
                          const char *version, char *out, size_t cap);

/** Serves GET /diag/mirror: offline or not, snapshot time, last import,
 *  whether upstream content is verified (verify_sumdb, as configured now),
 *  checksum databases and what the store holds for them. */
void proxy_route_mirror(struct proxy_conn *c, struct proxy_mirror *m,
                        int verify_sumdb);

#endif
