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
#include <stdint.h>
#include <stdio.h>

#include "server.h"

struct conn_response;
struct diag_record;
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

/** Worker thread: reads again when the content was taken (an import may
 *  have run beside the server). Does nothing when not offline. */
void proxy_mirror_refresh(struct proxy_server *s);
/** Offline: when the content was taken (Unix seconds; 0: unknown, or not
 *  offline). Any thread. */
int64_t proxy_mirror_snapshot(const struct proxy_server *s);
/** Offline, past --offline-stale-after: 1 and a one-line warning in out
 *  (how old the content is, what to do); else 0. Any thread. */
int proxy_mirror_stale(const struct proxy_server *s, int64_t now, char *out,
                       size_t cap);

/** The record writer's thread: counts in the store the not-found answers of
 *  an offline mirror among recs[0..n) (a module version, query or list it
 *  lacked). Does nothing when not offline. */
void proxy_mirror_misses_put(struct proxy_server *s,
                             const struct diag_record *recs, size_t n);
/**
 * Writes the wants list: comment lines, then one `path@version` or
 * `path@query` line for each miss last asked at or after since that the
 * store still lacks (store_misses_each), with its counts in a comment.
 * The lines written into *n (may be NULL). 0 or a negative errno.
 */
int proxy_mirror_wants_write(struct store *st, int64_t since, FILE *f,
                             size_t *n);

/** Serves GET /diag/mirror: offline or not, snapshot time and age, last
 *  import, checksum databases and what the store holds for them, and what
 *  was asked for and lacked; /diag/mirror/missing.txt: the wants list. */
void proxy_route_mirror(struct proxy_conn *c);

#endif
