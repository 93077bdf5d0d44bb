/*
 * Upstream HTTP(S) client: libcurl's multi interface driven by the libuv
 * loop (curl's socket and timer callbacks map onto uv_poll and uv_timer).
 * Private to proxy/.
 */
#ifndef PROXY_FETCH_H
#define PROXY_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

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
  char errbuf[CURL_ERROR_SIZE];
};

/** Creates the client. ca_file: PEM bundle to verify upstreams with instead
 *  of the system store (NULL: system store). */
int proxy_fetcher_new(uv_loop_t *loop, const char *ca_file,
                      struct proxy_fetcher **out);
/** Cancels nothing: call when no fetch is in flight; closes its handles. */
void proxy_fetcher_free(struct proxy_fetcher *f);
/** Starts f. 0, or a negative errno (on_done will not run). */
int proxy_fetch_start(struct proxy_fetcher *fr, struct proxy_fetch *f);
/** Frees the memory body. Accepts a fetch that never started. */
void proxy_fetch_dispose(struct proxy_fetch *f);

#endif
