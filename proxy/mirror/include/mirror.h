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
#include <stdint.h>
#include <stdio.h>

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
 * Worker thread, offline or a cache-only module: the version list (at_latest 0: the sorted
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

/** Worker thread: when the content was taken (Unix seconds, 0: unknown):
 *  the last imported bundle's creation time, else when the newest version
 *  was stored. Reads the store. */
int64_t proxy_mirror_content_taken(struct store *st);
/** Worker thread: reads again when the content was taken (an import may
 *  have run beside the server). Does nothing when not offline (m may be
 *  NULL). */
void proxy_mirror_refresh(struct proxy_mirror *m);
/** Offline: when the content was taken (Unix seconds; 0: unknown, or not
 *  offline; m may be NULL). Any thread. */
int64_t proxy_mirror_snapshot(const struct proxy_mirror *m);
/** Offline, past stale_after_s (--offline-stale-after; 0: never): 1 and a
 *  one-line warning in out (how old the content is, what to do); else 0.
 *  Any thread. */
int proxy_mirror_stale(const struct proxy_mirror *m, int64_t stale_after_s,
                       int64_t now, char *out, size_t cap);

/** The record writer's thread: counts in the store the not-found answers of
 *  an offline mirror among recs[0..n) (a module version, query or list it
 *  lacked). Does nothing when not offline (m may be NULL). */
void proxy_mirror_misses_put(struct proxy_mirror *m,
                             const struct diag_record *recs, size_t n);
/**
 * Writes the wants list: comment lines, then one `path@version` or
 * `path@query` line for each miss last asked at or after since that the
 * store still lacks (store_misses_each), with its counts in a comment.
 * The lines written into *n (may be NULL). 0 or a negative errno.
 */
int proxy_mirror_wants_write(struct store *st, int64_t since, FILE *f,
                             size_t *n);
/** The wants list's lines alone, without its comment lines (as
 *  proxy_mirror_wants_write). */
int proxy_mirror_wants_lines(struct store *st, int64_t since, FILE *f,
                             size_t *n);

#endif
