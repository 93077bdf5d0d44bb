/*
 * The server process: configuration, the one `struct proxy_server` that
 * everything on the loop thread hangs off, and the interfaces between the
 * files of proxy/ (connections, routes, hot cache, upstream fetches).
 * Private to proxy/.
 */
#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "modproxy/diag.h"
#include "modproxy/store.h"

/* ---- limits ------------------------------------------------------------- */

/* A request head larger than this is refused with 431; real go command
 * requests are a few hundred bytes. */
#define PROXY_MAX_HEAD_BYTES (16u << 10)
#define PROXY_MAX_HEADERS 64
/* Longest request target (414 past it): module paths and versions are
 * bounded by GOMOD_MAX_*; with escaping a legitimate URL stays under this. */
#define PROXY_MAX_URL_BYTES 4096
/* A POST body (a go.mod and go.sum for /diag/modfile) larger than this is
 * refused with 413; a large project's go.sum is well under 1 MiB. */
#define PROXY_MAX_BODY_BYTES (4u << 20)
/* Request bodies buffered at once, over all connections: past it a new body
 * gets 503 before a byte of it is read. Without it, 300 clients each holding
 * an unfinished 4 MiB body took 1.1 GB; sixteen whole bodies fit. */
#define PROXY_MAX_BODIES_BYTES (64u << 20)
/* Time to receive a whole request body once its handler asked for it (4 MiB
 * at 2 Mbit/s), so that a slow client cannot hold its share of
 * PROXY_MAX_BODIES_BYTES for long. */
#define PROXY_BODY_TIMEOUT_MS 20000
/* Time to receive a whole request head once its first byte arrived. */
#define PROXY_HEAD_TIMEOUT_MS 10000
/* An idle keep-alive connection is closed after this. */
#define PROXY_IDLE_TIMEOUT_MS 60000
/* A client that accepts no bytes for this long is dropped. */
#define PROXY_WRITE_TIMEOUT_MS 60000
/* On SIGTERM, requests in flight get this long to finish. */
#define PROXY_DRAIN_TIMEOUT_MS 10000
/* Random bytes for request ids are drawn a block at a time: one RAND_bytes
 * call costs about 10 us here whatever its size up to a few KiB, so a block
 * for 340 ids brings an id's share down to some 30 ns. */
#define PROXY_ID_POOL_BYTES (340u * DIAG_ID_RANDOM_BYTES)
/* Zip bytes read from the store per step when streaming to a client. */
#define PROXY_ZIP_CHUNK_BYTES (512u << 10)
/* .info, .mod, lists and @latest fetched from upstream are held in memory
 * up to this size (the go command caps go.mod at 16 MiB). */
#define PROXY_MAX_SMALL_BODY_BYTES (16u << 20)
/* Default memory for the hot cache of small responses. */
#define PROXY_HOT_CACHE_BYTES (64u << 20)
/* Responses at most this large are kept in the hot cache. */
#define PROXY_HOT_MAX_ENTRY_BYTES (1u << 20)
/* Upstream timeouts: connecting, and a transfer that moves no byte. */
#define PROXY_UPSTREAM_CONNECT_TIMEOUT_MS 10000
#define PROXY_UPSTREAM_STALL_TIMEOUT_S 30
/* Redirects followed per upstream request (the go command allows 10). */
#define PROXY_UPSTREAM_MAX_REDIRECTS 10
#define PROXY_MAX_UPSTREAMS 16
/* Buckets of the upstream latency histogram in /metrics. */
#define PROXY_LATENCY_BUCKETS 10
/* A version used this recently is never evicted (by the server or by
 * `modproxy gc`): a 500 MiB zip to a slow client takes minutes, and the
 * server writes last uses a few seconds late. */
#define PROXY_EVICT_GRACE_S 600
/* One read from a socket. */
#define PROXY_READ_BUF_BYTES (64u << 10)

/* ---- configuration ------------------------------------------------------ */

/** Read-only after start. */
struct proxy_config {
  const char *listen; /**< host:port */
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
  uint64_t max_request_rate; /**< per connection per second, 0: none */
  int offline;               /**< air-gapped mirror: fetch nothing (mirror.c) */
  /** --sumdb checksum databases in GOSUMDB syntax (NULL-terminated; NULL
   *  or "off": none), proxied under /sumdb/ (sumdb.c). */
  const char *const *sumdbs;
  int verify_sumdb; /**< check upstream zips/go.mods (sumdb_verify.c) */
  /** "direct" mode's rules for public modules' repositories and go-get
   *  pages (vcs_policy.h): address ranges denied (NULL: the default list),
   *  ranges allowed all the same (NULL: none), GOINSECURE-style globs of
   *  modules whose repositories may be http or git:// (NULL: none). */
  const char *direct_deny, *direct_allow, *direct_insecure;
};

/** How an upstream has been doing (loop thread), for /diag and /metrics. */
struct upstream_health {
  uint64_t ok, not_found, errors;
  uint64_t total_ms; /**< over all answered requests */
  uint64_t latency[PROXY_LATENCY_BUCKETS + 1]; /**< last: +Inf */
  int64_t last_ok, last_error_at;              /**< Unix seconds, 0 = never */
  char last_error[160];
};

/** One GOPROXY-style upstream entry. */
struct proxy_upstream {
  char *base;   /**< URL without trailing '/'; NULL for "off" */
  char *shown;  /**< base with any password replaced, for messages */
  int fall_any; /**< separator after it was '|': fall through on any error */
  int direct;   /**< "direct": fetch from the module's repository (vcs.c) */
  struct upstream_health health;
};

/** Parses a GOPROXY-style list. Returns the count or -EINVAL with a message
 *  in err. "off" ends the list (it becomes an entry with base NULL). */
int proxy_upstreams_parse(const char *list, struct proxy_upstream *out, int max,
                          char *err, size_t errlen);
void proxy_upstreams_free(struct proxy_upstream *u, int n);
/** A copy of text (a URL, or a list of them in GOPROXY or GOSUMDB syntax)
 *  with the user information of every URL replaced by "xxxxx": a user name
 *  alone is often a token. For every message, log line and page that shows
 *  an upstream. The caller frees it; NULL when out of memory. */
char *proxy_url_redact(const char *text);

/* ---- refcounted response bodies ----------------------------------------- */

struct proxy_body {
  int refs;
  size_t len;
  char data[];
};
/** A body of len bytes copied from data (left uninitialised when data is
 *  NULL, for the caller to fill). */
struct proxy_body *proxy_body_new(const void *data, size_t len);
struct proxy_body *proxy_body_ref(struct proxy_body *b);
void proxy_body_unref(struct proxy_body *b);

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

/* ---- the server --------------------------------------------------------- */

struct proxy_fetcher;
struct proxy_vcs;
struct proxy_tls;
struct proxy_auth;
struct proxy_auth_checks;
typedef struct ssl_st SSL;
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

/* Endpoints and status codes counted separately in /metrics. */
enum proxy_endpoint {
  EP_LIST,
  EP_LATEST,
  EP_INFO,
  EP_MOD,
  EP_ZIP,
  EP_SUMDB,
  EP_DIAG,
  EP_OTHER,
  EP_COUNT
};
#define PROXY_STATUS_SLOTS 16

struct proxy_counters {
  uint64_t requests, hits, misses, upstream_requests, coalesced, bytes_out;
  uint64_t by_endpoint[EP_COUNT][PROXY_STATUS_SLOTS];
  uint64_t evictions, evicted_bytes, refreshes; /* lastuse.c, admin_routes.c */
  uint64_t
      records_shed; /* logged, but not kept in the ring (record_writer.c) */
};

struct proxy_server {
  uv_loop_t *loop;
  const struct proxy_config *cfg;
  struct store *store;
  uv_tcp_t listener;
  uv_signal_t sigterm, sigint;
  uv_timer_t drain_timer;
  struct proxy_upstream upstreams[PROXY_MAX_UPSTREAMS];
  int nupstreams;
  struct proxy_fetcher *fetcher;
  struct proxy_vcs *vcs;   /**< private modules from git (vcs.c) */
  struct proxy_tls *tls;   /**< the TLS listener's context, or NULL */
  struct proxy_auth *auth; /**< --auth-file credentials, or NULL */
  struct proxy_auth_checks *auth_checks; /**< their password thread */
  uint64_t nconns;                       /**< open client connections */
  struct proxy_cache *cache;             /**< last use, eviction (lastuse.c) */
  struct proxy_sumdb *sumdb;             /**< checksum databases (sumdb.c) */
  struct proxy_mirror *mirror;           /**< offline mirror state (mirror.c) */
  struct hot_cache hot;
  struct fetch_job *jobs;   /**< fetches in flight (coalescing) */
  struct proxy_conn *conns; /**< open connections */
  int stopping;
  int exit_code;
  char tmp_dir[1024]; /**< where upstream zips are staged */
  char date[40];      /**< cached HTTP Date header value */
  uint64_t date_ms;
  int analyses;      /**< /diag/modfile analyses running */
  size_t body_bytes; /**< request body memory held, all connections (conn.c) */
  char self_url[80]; /**< how this process reaches itself */
  /** Random bytes for request ids (conn.c); the last id_pool_left unused. */
  unsigned char id_pool[PROXY_ID_POOL_BYTES];
  size_t id_pool_left;
  struct proxy_counters counters;
  struct record_batch *records;  /**< filling */
  struct record_batch *flushing; /**< being written by the writer */
  struct record_writer
      *record_writer; /**< the ring's thread (record_writer.c) */
  uv_timer_t record_timer;
  /* Every read lands here first (reads are handled one at a time on the
   * loop thread); a connection copies only the bytes it must keep. */
  char read_buf[PROXY_READ_BUF_BYTES];
  /* Plaintext decrypted from read_buf (TLS connections). */
  char tls_buf[PROXY_READ_BUF_BYTES];
};

/** Opens the store, binds, installs signal handlers. Returns 0 or a negative
 *  errno after printing one line to stderr; on failure everything acquired
 *  has been released and every handle it opened closed (their close
 *  callbacks have run), so the caller may close the loop and free s. */
int proxy_server_init(struct proxy_server *s, uv_loop_t *loop,
                      const struct proxy_config *cfg);
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

/** Metrics (metrics.c): counts a finished request. */
void proxy_metrics_request(struct proxy_server *s, const char *target,
                           int status);
/** Counts an upstream answer's latency. */
void proxy_metrics_upstream(struct upstream_health *h, uint64_t ms);
/** Renders /metrics (Prometheus text format) into a new heap string. */
char *proxy_metrics_render(const struct proxy_server *s,
                           const struct store_stats *st);

/** TLS listener (tls.c): loads --tls-cert/--tls-key (no-op without them)
 *  and reloads them on SIGHUP. */
int proxy_tls_init(struct proxy_server *s);
void proxy_tls_close(struct proxy_server *s);
/** A new server-side session on memory BIOs, or NULL without TLS. */
SSL *proxy_tls_session(struct proxy_server *s);

/** The current Date header value (refreshed at most once a second). */
const char *proxy_server_date(struct proxy_server *s);

#endif
