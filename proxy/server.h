/*
 * The server process: configuration, the `struct proxy_server` that the
 * folders above proxy/http hang off (the HTTP layer keeps its own state
 * behind http.h), and the interfaces between them (routes, hot cache,
 * upstream fetches). Private to proxy/.
 */
#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http.h"
#include "modproxy/diag.h"
#include "modproxy/store.h"
#include "goproxy.h"
#include "upstream.h"

/* ---- limits ------------------------------------------------------------- */

/* On SIGTERM, requests in flight get this long to finish. */
#define PROXY_DRAIN_TIMEOUT_MS 10000
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
   *  or "off": none), proxied under /sumdb/ (sumdb.c). */
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
  /** --policy rules (policy.h), built once from the settings and owned by
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

/* ---- what a GOPROXY request asks for ------------------------------------ */

/* GP_SUMDB: a checksum database answer (sumdb.c), fetched by the same
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

/* Request records wait in memory this long (or until a batch is full)
 * before one transaction writes them to the store and the log. */
#define PROXY_RECORD_FLUSH_MS 1000
#define PROXY_RECORD_BATCH 512
/* Records kept in the store's ring, by default. */
#define PROXY_RECORDS_KEEP 10000

struct diag_record;
struct record_batch;
struct record_writer;
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
  struct proxy_sumdb *sumdb;       /**< checksum databases (sumdb.c) */
  struct proxy_mirror *mirror;     /**< offline mirror state (mirror.c) */
  struct goproxy *goproxy;         /**< hot cache, fetch jobs (goproxy.h) */
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
};

/** Opens the store, binds (unless cfg->listen is NULL), installs signal
 *  handlers. Returns 0 or a negative
 *  errno after printing one line to stderr; on failure everything acquired
 *  has been released and every handle it opened closed (their close
 *  callbacks have run), so the caller may close the loop and free s. */
int proxy_server_init(struct proxy_server *s, uv_loop_t *loop,
                      const struct proxy_config *cfg);
/**
 * Makes SIGHUP reload the configuration: load(running, report, arg) makes a
 * new one, the server re-reads the files it names (TLS certificate and
 * key, auth file), applies it to the subsystems that keep state made from
 * settings, then swaps it in whole; on any error the running configuration
 * stays, untouched. One log line either way, and one more for the settings
 * that need a restart. A subsystem that keeps state made from a setting
 * takes the new configuration in server.c's apply step; every other
 * setting applies by being read from s->cfg when used.
 */
void proxy_server_on_reload(struct proxy_server *s, proxy_reload_cb load,
                            void *arg);
/** Runs until stopped, then releases what init acquired (the store and the
 *  record batches only if the drain finished in time: after a forced stop,
 *  worker threads may still use them); returns the process exit code. */
int proxy_server_run(struct proxy_server *s);
/** Stops accepting, lets in-flight requests finish (bounded), exits run. */
void proxy_server_stop(struct proxy_server *s);

/** Records subsystem (record_writer.c). */
int proxy_records_init(struct proxy_server *s);
/** Takes r's contents (r is zeroed); logs it and queues it for the store. */
void proxy_records_push(struct proxy_server *s, struct diag_record *r);
/** A record not yet in the store, by id, or NULL (borrowed; loop thread). */
const struct diag_record *proxy_records_find(struct proxy_server *s,
                                             const char *id);
/** Writes what is pending (at shutdown); closes the timer. */
void proxy_records_close(struct proxy_server *s);

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

/** Metrics (metrics.c): counts a finished request (its target, status,
 *  outcome and time). Loop thread: plain increments, no I/O. */
void proxy_metrics_request(struct proxy_server *s,
                           const struct diag_record *rec);
/** Counts the answer of upstream u (of s's list) that took ms: its
 *  latency, and whether it failed (not a 200, 404 or 410). */
void proxy_metrics_upstream(struct proxy_server *s, struct proxy_upstream *u,
                            uint64_t ms, int failed);
/** Renders /metrics (Prometheus text format) into a new heap string. */
char *proxy_metrics_render(const struct proxy_server *s,
                           const struct store_stats *st);

#endif
