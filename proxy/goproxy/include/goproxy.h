/*
 * The GOPROXY core (proxy/goproxy), the folder's one interface header: the
 * configuration, the state the server composes (struct proxy_server), the
 * GOPROXY routes and the access phase, the hot cache of small answers, the
 * fetch jobs in flight, the last uses that drive eviction, the checksum
 * databases' answers (/sumdb/, and the reads of proxy/sumdb's verifier), and
 * requests made inside the process (goproxy_get). It sees proxy/http,
 * upstream, vcs, sumdb and mirror, and nothing above itself (ops, the
 * server, cli). Loop thread, unless a function says otherwise.
 */
#ifndef PROXY_GOPROXY_H
#define PROXY_GOPROXY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http.h"
#include "modproxy/diag.h"
#include "modproxy/store.h"
#include "sumdb_proxy.h"
#include "upstream.h"

/* ---- limits ------------------------------------------------------------- */

/* Zip bytes read from the store per step when streaming to a client. */
#define PROXY_ZIP_CHUNK_BYTES (512u << 10)
/* .info, .mod, lists and @latest fetched from upstream are held in memory
 * up to this size (the go command caps go.mod at 16 MiB). */
#define PROXY_MAX_SMALL_BODY_BYTES (16u << 20)
/* Default memory for the hot cache of small responses. */
#define PROXY_HOT_CACHE_BYTES (64u << 20)
/* Responses at most this large are kept in the hot cache. */
#define PROXY_HOT_MAX_ENTRY_BYTES (1u << 20)
/* A version used this recently is never evicted (by the server or by
 * `modproxy gc`): a 500 MiB zip to a slow client takes minutes, and the
 * server writes last uses a few seconds late. */
#define PROXY_EVICT_GRACE_S 600

/* ---- configuration ------------------------------------------------------ */

struct proxy_server;
struct policy_set;

/**
 * One whole configuration, read-only once made. SIGHUP swaps it whole
 * (proxy_server_on_reload): the server holds the one in effect, and work
 * that runs on a worker thread, or across callbacks, holds the one it
 * started with (proxy_config_hold), so that a reload never changes or frees
 * the settings under it.
 */
struct proxy_config {
  const char *listen; /**< host:port; NULL: no listener, no request log
                           (export: requests through goproxy_get only) */
  const char *data_dir;
  const char *upstream;    /**< GOPROXY syntax */
  const char *upstream_ca; /**< PEM file to verify upstreams with, or NULL */
  int64_t list_ttl_s;
  int64_t not_found_ttl_s;
  int strict_zips;
  size_t hot_cache_bytes;
  uint64_t records_keep;    /**< request records kept for /diag */
  uint64_t max_cache_bytes; /**< evict LRU public versions past it; 0: never */
  const char *admin_token;  /**< bearer token for /admin/, NULL: disabled */
  const char *private_patterns; /**< GOPRIVATE-style globs, or NULL */
  /** --git-route PATTERN=URL entries, in order (NULL-terminated array). */
  const char *const *git_routes;
  int64_t git_timeout_s;          /**< one git command's network time limit */
  const char *go_release;         /**< flag go.mod files needing a newer Go */
  const char *tls_cert, *tls_key; /**< PEM files: serve https (tls.c) */
  const char *auth_file;          /**< credentials (auth.c), or NULL: no auth */
  int auth_all;                   /**< everything needs credentials, not only
                                       private modules */
  uint64_t max_connections;
  uint64_t max_request_rate;   /**< per client address per second, 0: none */
  const char *trusted_proxies; /**< CIDRs of reverse proxies, or NULL */
  int offline; /**< air-gapped mirror: fetch nothing (mirror.c) */
  /** offline: warn once the content is older than this (seconds; 0: never) */
  int64_t offline_stale_after_s;
  /** --sumdb checksum databases in GOSUMDB syntax (NULL-terminated; NULL
   *  or "off": none), proxied under /sumdb/ (job_sumdb.c). */
  const char *const *sumdbs;
  int verify_sumdb; /**< check upstream zips/go.mods (sumdb_verify.c) */
  /** "direct" mode's rules for public modules' repositories and go-get
   *  pages (proxy/vcs): address ranges denied (NULL: the default list),
   *  ranges allowed all the same (NULL: none), GOINSECURE-style globs of
   *  modules whose repositories may be http or git:// (NULL: none). */
  const char *direct_deny, *direct_allow, *direct_insecure;
  /** References (proxy_config_hold); loop thread. A configuration whose
   *  free is NULL (a command's, on its stack) is never freed. */
  int refs;
  /** Frees it and what its strings point into, at the last release. */
  void (*free)(struct proxy_config *cfg);
  /** --policy rules (policy.c), built once from the settings and owned by
   *  them; NULL: none. Their upstream entries' health is counted on the
   *  loop thread, as --upstream's is. */
  struct policy_set *policies;
};

/** Takes a reference on the configuration in effect (loop thread): it
 *  stays whole and valid, whatever reloads happen, until released. */
const struct proxy_config *proxy_config_hold(const struct proxy_server *s);
/** Drops a reference (loop thread); accepts NULL. */
void proxy_config_release(const struct proxy_config *cfg);

/** What a reload found, for its log lines: setting names, comma-separated
 *  ("" for none). */
struct proxy_reload {
  char changed[512]; /**< changed, and applied by the swap */
  char restart[512]; /**< changed, but the server keeps the value it
                          started with until a restart */
  char err[512];     /**< why no configuration could be made */
};
/**
 * Makes a new whole configuration from the same sources as `running` (the
 * config file, the environment, the command line), keeping the running
 * value of every setting that needs a restart. Returns it with one
 * reference, or NULL with r->err set (the file and line, the setting, the
 * reason).
 */
typedef struct proxy_config *(*proxy_reload_cb)(
    const struct proxy_config *running, struct proxy_reload *r, void *arg);

/* ---- module policies (--policy; policy.c) -------------------------------- */

struct policy;

/** Checks one "PATTERN=ACTION" as parsing it would, keeping nothing (the
 *  settings' check of each value): 0, or -EINVAL with one line in err
 *  saying what is wrong and what is expected, or -ENOMEM. Pure. */
int policy_check(const char *text, char *err, size_t errlen);
/**
 * The rules of texts (NULL-terminated; NULL or empty: none) into *out (NULL
 * when there are none). 0, or a negative errno with one line in err. Pure.
 */
int policy_set_new(const char *const *texts, struct policy_set **out, char *err,
                   size_t errlen);
/** NULL is fine. */
void policy_set_free(struct policy_set *ps);
/** How many rules ps has (ps may be NULL: none). */
int policy_set_count(const struct policy_set *ps);
/** The i-th rule, 0 <= i < policy_set_count (borrowed from ps). */
const struct policy *policy_set_at(const struct policy_set *ps, int i);
/** The first rule whose pattern matches module, or NULL (ps may be NULL).
 *  Borrowed for as long as ps lives. */
struct policy *policy_find(struct policy_set *ps, const char *module);
/** The rule as written, credentials in URLs masked (borrowed from p). */
const char *policy_shown(const struct policy *p);
/** 1 if p refuses version (p may be NULL: nothing is refused). */
int policy_denies(const struct policy *p, const char *version);

/* ---- what a GOPROXY request asks for ------------------------------------ */

/* GP_SUMDB: a checksum database answer (job_sumdb.c), fetched by the same
 * coalesced jobs: `module` is the database name, `suffix` the path below
 * it ("lookup/<escaped path>@<escaped version>", "tile/8/0/000", "latest"),
 * `canonical` 0. */
enum gp_kind { GP_LIST, GP_LATEST, GP_INFO, GP_MOD, GP_ZIP, GP_SUMDB };

struct gp_req {
  enum gp_kind kind;
  char module[GOMOD_MAX_PATH_BYTES];     /**< decoded module path */
  char version[GOMOD_MAX_VERSION_BYTES]; /**< decoded, "" for list/latest */
  int canonical; /**< version is canonical and valid for the module */
  /** "@v/list", "@latest", "@v/<escaped version>.<ext>": the upstream URL
   *  suffix and the store's answer key. Sized for a checksum database
   *  lookup path (GP_SUMDB), which holds an escaped module path too. */
  char suffix[GOMOD_MAX_PATH_BYTES * 2 + GOMOD_MAX_VERSION_BYTES * 2 + 16];
  char escaped_module[GOMOD_MAX_PATH_BYTES * 2];
};

/* ---- the server --------------------------------------------------------- */

struct proxy_fetcher;
struct proxy_vcs;
struct proxy_sumdb;
struct proxy_mirror;
struct proxy_conn;
struct fetch_job;

struct record_batch;
struct record_writer;
struct proxy_server;

/** Takes the contents of a finished request's record (rec is zeroed): the
 *  server's keeper of records and metrics (proxy/ops), given to the core
 *  so that it never calls ops by name. */
typedef void (*proxy_record_cb)(struct proxy_server *s,
                                struct diag_record *rec);
/** An upstream's answer (u, of s->upstreams or a policy's list) took ms
 *  and failed or not (not a 200, 404 or 410): the server's metrics and
 *  dashboard (proxy/ops), given to the core as the records are. */
typedef void (*proxy_upstream_cb)(struct proxy_server *s,
                                  struct proxy_upstream *u, uint64_t ms,
                                  int failed);
struct dash;

/* Endpoint classes and status codes counted separately in /metrics. */
enum proxy_endpoint {
  EP_LIST,
  EP_LATEST,
  EP_INFO,
  EP_MOD,
  EP_ZIP,
  EP_SUMDB,
  EP_DIAG,
  EP_OPS, /* /healthz, /readyz, /metrics, /admin/ */
  EP_OTHER,
  EP_COUNT
};
#define PROXY_STATUS_SLOTS 16
/* Buckets of the client request latency histogram in /metrics (ms
 * resolution: the loop's clock). */
#define PROXY_REQUEST_BUCKETS 12

struct proxy_counters {
  uint64_t hits, misses, upstream_requests, coalesced;
  uint64_t by_endpoint[EP_COUNT][PROXY_STATUS_SLOTS];
  /* Client requests by endpoint class and outcome: the latency histogram
   * (last bucket: +Inf; not cumulative until rendered) and its sum. */
  uint64_t latency[EP_COUNT][DIAG_OUTCOMES][PROXY_REQUEST_BUCKETS + 1];
  uint64_t latency_ms[EP_COUNT][DIAG_OUTCOMES];
  uint64_t failures[DIAG_OUTCOMES]; /* answered >= 400, by /diag's cause */
  uint64_t evictions, evicted_bytes, refreshes; /* lastuse.c, admin_routes.c */
  uint64_t
      records_shed; /* logged, but not kept in the ring (record_writer.c) */
};

struct proxy_server {
  uv_loop_t *loop;
  /** The configuration in effect (one reference; SIGHUP swaps it): read it
   *  on the loop thread, or hold it (proxy_config_hold) for later. */
  const struct proxy_config *cfg;
  struct store *store;
  struct http_server *http; /**< listener, connections, TLS, credentials */
  uv_signal_t sigterm, sigint, sighup;
  proxy_reload_cb reload; /**< SIGHUP's (proxy_server_on_reload), or NULL */
  void *reload_arg;
  uv_timer_t drain_timer;
  struct upstream_list *upstreams; /**< --upstream and the HTTP client */
  struct proxy_vcs *vcs;           /**< private modules from git (vcs.c) */
  struct proxy_sumdb *sumdb;       /**< checksum databases (proxy/sumdb) */
  struct proxy_mirror *mirror;     /**< offline mirror state (mirror.c) */
  struct goproxy *goproxy;         /**< hot cache, fetch jobs (goproxy.h) */
  /** Lists, @latest and not-found answers fetched at or before this time
   *  (time(NULL)) are stale: a reload changed which modules are private or
   *  where they come from. 0: none. */
  int64_t answers_since;
  int stopping;
  int exit_code;
  char tmp_dir[1024]; /**< where upstream zips are staged */
  int analyses;       /**< /diag/modfile analyses running */
  struct proxy_counters counters;
  struct record_batch *records;  /**< filling */
  struct record_batch *flushing; /**< being written by the writer */
  struct record_writer
      *record_writer; /**< the ring's thread (record_writer.c) */
  struct dash *dash;  /**< /diag's aggregates (dash.h), beside the ring */
  uv_timer_t record_timer;
  proxy_record_cb record; /**< where goproxy_get's records go */
  proxy_upstream_cb
      upstream_answered; /**< where upstream answers are counted */
};

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

/* ---- handlers (registered with proxy/http by the server) ---------------- */

/** Serves the GOPROXY endpoints (routes.c; an http_handler_cb, arg: the
 *  server). */
void proxy_route(struct proxy_conn *c, void *arg);
/** Serves GET /sumdb/<name>/{supported,latest,lookup/...,tile/...}
 *  (job_sumdb.c; an http_handler_cb, arg: the server). */
void proxy_route_sumdb(struct proxy_conn *c, void *arg);
/**
 * The access phase, before any handler (http_config.access; arg: the
 * server), the one place that decides it (access.c): 1 if the current
 * request may go on; else it has been answered (401). Sets
 * c->needs_credentials.
 */
int proxy_access_check(struct proxy_conn *c, void *arg);
/**
 * 1 if a client with these credentials (user "" for anonymous) may see
 * something about module and target (either may be NULL): private modules,
 * named by the module or by the request target, or everything with
 * --auth-required all, need a user. Pure; any thread.
 */
int proxy_access_may_see(const struct proxy_server *s, const char *user,
                         const char *module, const char *target);
/** 1 when rec (a finished request) is a download of a private module's
 *  file (list, @latest, .info, .mod, .zip answered 200 or 206): its log
 *  line is an audit line. Loop thread; cheap when there is no --private. */
int proxy_access_audited(const struct proxy_server *s,
                         const struct diag_record *rec);

/** Reads a checksum database's answer through the hot cache, the store and
 *  the coalesced fetch jobs, as a client's /sumdb/ request would (a
 *  proxy_sumdb_read_fn; reader: the server). */
int proxy_sumdb_read(void *reader, const struct proxy_sumdb_db *db,
                     const char *path, proxy_sumdb_answer_cb cb, void *arg);

/** Cache management (lastuse.c): last use, eviction, removals by other
 *  processes. 0 or -ENOMEM. */
int proxy_cache_init(struct proxy_server *s);
/** Notes that module@version (a stored version) was just served. Loop
 *  thread; a hash lookup, no I/O (written in batches every few seconds). */
void proxy_cache_touch(struct proxy_server *s, const char *module,
                       const char *version);
/** Drops the hot-cache entries of module@version's .info, .mod and .zip. */
void proxy_cache_forget(struct proxy_server *s, const char *module,
                        const char *version);
/** Writes pending last uses (at shutdown, after a clean drain) and frees. */
void proxy_cache_close(struct proxy_server *s, int clean);
/** The /metrics lines for the cache (evictions, rows, sizes), heap. */
char *proxy_cache_metrics(const struct proxy_server *s,
                          const struct store_stats *st);

#endif
