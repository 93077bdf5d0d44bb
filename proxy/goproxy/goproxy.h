/*
 * The GOPROXY core's own state (proxy/goproxy): the hot cache of small
 * answers, the fetch jobs in flight and the last uses that drive eviction
 * (lastuse.c, started by proxy_cache_init). The server creates one and hands
 * it nothing else to hold. Loop thread. Private to proxy/.
 */
#ifndef PROXY_GOPROXY_H
#define PROXY_GOPROXY_H

#include <stddef.h>
#include <stdint.h>

struct proxy_body;

/* ---- hot cache: small responses answered on the loop thread ------------ */

struct hot_entry;
struct hot_cache {
  struct hot_entry **buckets;
  size_t nbuckets, count;
  size_t bytes, max_bytes;
  struct hot_entry *lru_head, *lru_tail; /* head = most recently used */
};

/** A cached reply: 200 bodies and not-found answers. */
struct hot_value {
  int status;
  struct proxy_body *body;
  int64_t fetched; /**< Unix seconds it was fetched, for freshness */
  int immutable;   /**< versioned .info/.mod/.zip */
  char etag[40];
  /** For zips only the metadata is cached: the bytes stream from the store. */
  uint64_t zip_size;
};

/** The key of a module's answer at suffix ("@v/list", "@v/<v>.info", ...; a
 *  checksum database's name and its path): "<module>\n<suffix>" into out,
 *  truncated like snprintf when out is too small. */
void hot_cache_key(char *out, size_t cap, const char *module,
                   const char *suffix);
int hot_cache_init(struct hot_cache *c, size_t max_bytes);
void hot_cache_dispose(struct hot_cache *c);
/** Looks key up; fills *v (borrowed: ref the body to keep it) and returns 1,
 *  or returns 0. */
int hot_cache_get(struct hot_cache *c, const char *key, struct hot_value *v);
/** Inserts or replaces key (takes its own reference to v->body). */
void hot_cache_put(struct hot_cache *c, const char *key,
                   const struct hot_value *v);
/** Drops key if present. */
void hot_cache_remove(struct hot_cache *c, const char *key);
/** Drops every entry of module ("<module>\n..." keys) that is not immutable
 *  (lists, @latest, queries, not-found answers); returns how many. Walks the
 *  whole cache: for rare admin requests, not the request path. */
size_t hot_cache_drop_module(struct hot_cache *c, const char *module);

/* ---- the core ----------------------------------------------------------- */

struct goproxy;

/** A core with a hot cache of hot_cache_bytes. 0 and *out, or -ENOMEM. */
int goproxy_new(size_t hot_cache_bytes, struct goproxy **out);
/** Frees the core and its hot cache (after the drain: jobs still in flight
 *  after a forced stop are left to the exiting process). NULL is fine. */
void goproxy_free(struct goproxy *gp);
/** The hot cache (borrowed until goproxy_free). */
struct hot_cache *goproxy_hot(struct goproxy *gp);

/* ---- requests made inside the process ----------------------------------- */

struct proxy_server;

/** The client of the records of goproxy_get's requests: the proxy's own,
 *  not a build's. */
#define GOPROXY_SELF_CLIENT "modproxy"

/** goproxy_get's answer, borrowed for the callback (ref body to keep it). */
struct goproxy_reply {
  int status; /**< what a network client would get */
  /** The body (for an error, its text), or NULL: no body, or a zip too
   *  large for memory, which is in the store (zip_size bytes). */
  struct proxy_body *body;
  uint64_t zip_size; /**< a zip's size */
  const char *id;    /**< the request record's id */
};
typedef void (*goproxy_get_cb)(const struct goproxy_reply *r, void *arg);

/**
 * Answers the GOPROXY request target (origin form, "/<module>/@v/list"...)
 * for user ("" anonymous) as if a client had sent it: the same parsing,
 * access rule, hot cache, store, coalesced fetch jobs, metrics and request
 * record, without a connection. A zip is waited for until stored, never
 * streamed. 0, and cb runs exactly once on the loop thread (a hot-cache hit
 * or a refusal: before goproxy_get returns); or -ENOMEM, and cb never runs.
 * Loop thread.
 */
int goproxy_get(struct proxy_server *s, const char *target, const char *user,
                goproxy_get_cb cb, void *arg);

#endif
