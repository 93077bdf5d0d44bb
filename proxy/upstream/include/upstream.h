/*
 * The upstreams (proxy/upstream), the one header of the folder: the HTTP(S)
 * client every upstream request goes through (libcurl's multi interface
 * driven by the libuv loop: curl's socket and timer callbacks map onto
 * uv_poll and uv_timer), and the --upstream list in GOPROXY syntax with
 * each entry's health. Loop thread. It includes nothing of the folders
 * above it (CMake gives it no path to them): what it tells them goes
 * through the callbacks it is given.
 */
#ifndef PROXY_UPSTREAM_H
#define PROXY_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

/* Upstream timeouts: connecting, and a transfer that moves no byte. */
#define PROXY_UPSTREAM_CONNECT_TIMEOUT_MS 10000
#define PROXY_UPSTREAM_STALL_TIMEOUT_S 30
/* Redirects followed per upstream request (the go command allows 10). */
#define PROXY_UPSTREAM_MAX_REDIRECTS 10

/* ---- the HTTP client ---------------------------------------------------- */

struct proxy_fetcher;
struct proxy_fetch;

typedef void (*proxy_fetch_cb)(struct proxy_fetch *f);

/** One GET. The caller owns and embeds it; it must stay put until on_done
 *  runs (exactly once, on the loop thread, never from inside
 *  proxy_fetch_start). */
struct proxy_fetch {
  /* in */
  const char *url;  /**< borrowed until on_done */
  int fd;           /**< >= 0: write the body to this file, else memory */
  size_t max_bytes; /**< a longer body fails with -E2BIG */
  proxy_fetch_cb on_done;
  /** File mode, may be NULL: runs on the loop thread after each piece of
   *  the body is written (len counts it), before on_done. */
  proxy_fetch_cb on_data;
  void *data;
  /** NULL, or "host:port:addr[,addr...]": connect to host:port at these
   *  addresses only (curl's CURLOPT_RESOLVE), borrowed until on_done. */
  const char *resolve;
  int no_redirect; /**< answer a 3xx as is, its target in location */
  /* out */
  int rc;      /**< 0: a response arrived (see status); else -errno */
  long status; /**< HTTP status (200 for a file:// hit) */
  char *body;  /**< memory mode: the body, NUL-terminated */
  size_t len;  /**< body bytes received */
  /** Set before the first on_data: the body's length when the answer is a
   *  200 that declared it (Content-Length, no Content-Encoding), else -1. */
  int64_t expected;
  char content_type[128];
  char location[2048]; /**< no_redirect: a 3xx's absolute target, or "" */
  char error[256];     /**< transport error, for people */
  double seconds;
  /* private */
  CURL *easy;
  struct curl_slist *resolve_list;
  size_t cap;
  int too_big;
  int stage_errno; /* writing the staging file failed (our disk) */
  int excess;      /* the upstream sent more than its framing declared */
  int fresh;       /* this attempt is the retry on a new connection */
  char errbuf[CURL_ERROR_SIZE];
};

/** Creates the client. ca_file: PEM bundle to verify upstreams with instead
 *  of the system store (NULL: system store). */
int proxy_fetcher_new(uv_loop_t *loop, const char *ca_file,
                      struct proxy_fetcher **out);
/** The client's or the list's close finished: its memory is freed. */
typedef void (*upstream_close_cb)(void *arg);
/** Cancels nothing: call when no fetch is in flight. Closes the client's
 *  handles and frees it in their close callback; then cb(arg) runs (cb may
 *  be NULL). Accepts NULL (cb never runs then). */
void proxy_fetcher_close(struct proxy_fetcher *f, upstream_close_cb cb,
                         void *arg);
/** Starts f. 0, or a negative errno (on_done will not run). */
int proxy_fetch_start(struct proxy_fetcher *fr, struct proxy_fetch *f);
/** Frees the memory body. Accepts a fetch that never started. */
void proxy_fetch_dispose(struct proxy_fetch *f);

/* ---- the --upstream list ------------------------------------------------ */

/* Buckets of the upstream latency histogram in /metrics. */
#define PROXY_LATENCY_BUCKETS 10
#define PROXY_MAX_UPSTREAMS 16

/** Why an upstream request failed, for /metrics. */
enum upstream_error {
  UPSTREAM_ERR_TIMEOUT,   /**< no connection or no byte in time */
  UPSTREAM_ERR_CONNECT,   /**< connection refused */
  UPSTREAM_ERR_RESOLVE,   /**< the host name did not resolve */
  UPSTREAM_ERR_PROTOCOL,  /**< TLS, resets, malformed answers, redirects */
  UPSTREAM_ERR_TOO_LARGE, /**< a body past the fetch's max_bytes */
  UPSTREAM_ERR_HTTP_5XX,  /**< answered 5xx */
  UPSTREAM_ERR_HTTP,      /**< answered another status than 200/404/410 */
  UPSTREAM_ERR_OTHER,     /**< our side: memory, the staging disk */
  UPSTREAM_ERRORS
};
/** The cause of a fetch that failed (rc < 0) or answered a status other
 *  than 200, 404 and 410. Pure. */
enum upstream_error upstream_error_of(const struct proxy_fetch *f);
/** The label of a cause ("timeout", "http_5xx"...). Pure. */
const char *upstream_error_name(enum upstream_error e);

/** How an upstream has been doing (loop thread), for /diag and /metrics. */
struct upstream_health {
  uint64_t ok, not_found, errors;
  uint64_t errors_by[UPSTREAM_ERRORS]; /**< errors, by cause */
  uint64_t total_ms;                   /**< over all answered requests */
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

/** Counts an answer that took ms in h's latency histogram (loop thread). */
void upstream_health_latency(struct upstream_health *h, uint64_t ms);
/** The upper bound of latency bucket i (0 <= i < PROXY_LATENCY_BUCKETS), in
 *  milliseconds. */
uint64_t upstream_latency_bucket_ms(int i);

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

struct upstream_list;

/**
 * Parses `list` (GOPROXY syntax), checks that ca_file (PEM, or NULL) can be
 * read and starts the HTTP client on loop. 0 and *out, or a negative errno
 * after printing one line to stderr. Close with upstream_list_close.
 */
int upstream_list_new(uv_loop_t *loop, const char *list, const char *ca_file,
                      struct upstream_list **out);
/** Frees the list and closes its HTTP client (proxy_fetcher_close: cb(arg)
 *  runs once the client's handles closed, on a later loop iteration). NULL
 *  is fine (cb never runs then). */
void upstream_list_close(struct upstream_list *u, upstream_close_cb cb,
                         void *arg);
/** How many entries ("off" included). */
int upstream_list_count(const struct upstream_list *u);
/** Entry i, or NULL past the last (borrowed until upstream_list_close). */
struct proxy_upstream *upstream_list_at(struct upstream_list *u, int i);
/** The HTTP client for upstream requests (borrowed, same lifetime). */
struct proxy_fetcher *upstream_list_fetcher(struct upstream_list *u);

#endif
