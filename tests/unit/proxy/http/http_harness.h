/*
 * A real server for proxy/http's tests, and a blocking client to talk to it:
 * a struct proxy_server on its own loop thread, listening on 127.0.0.1 with
 * an ephemeral port, a fresh data directory and upstream "off".
 *
 * harness_start and harness_teardown are cmocka setup and teardown
 * functions (the state is the struct harness). The teardown stops the
 * server with proxy_server_stop from the loop thread (through a uv_async)
 * and fails unless the run returned 0 and every handle was closed
 * (uv_loop_close). The client functions fail the test on what they do not
 * expect.
 */
#ifndef HTTP_HARNESS_H
#define HTTP_HARNESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "server.h"

/* How long a client waits for the server before the test fails. */
#define CLIENT_TIMEOUT_MS 5000
/* How long the server may take to stop once nothing is open. */
#define STOP_TIMEOUT_MS 5000

/* ---- the server on its own thread ---------------------------------------- */

struct harness {
  char dir[64];
  struct proxy_config cfg;
  struct proxy_server *s;
  uv_loop_t loop;
  uv_async_t stop_async;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int ready;     /* 1: listening, port set; -1: init failed */
  int stop_sent; /* the async was sent (it is closed once it runs) */
  int init_rc;
  int port;
  int done; /* the run returned */
  int run_rc;
  int loop_close_rc;
};

/** What a test changes in the server it starts (zero: the defaults). */
struct harness_opts {
  /** Puts what the test needs in the store before the server opens it
   * (NULL: an empty store); returns 0 or fails the start. */
  int (*populate)(const char *dir);
  /** --max-connections and --max-request-rate (0: none). */
  uint64_t max_connections, max_request_rate;
  /** --trusted-proxies (NULL: none); borrowed until the teardown. */
  const char *trusted_proxies;
};

/** The cmocka group setup and teardown of every program that runs the
 * server: SIGPIPE ignored (a peer may close while the client writes) and
 * libcurl's global state made once, before any thread. */
int harness_group_setup(void **state);
int harness_group_teardown(void **state);

/** Starts a server as o says (NULL: the defaults) and sets *state to its
 * struct harness. Returns 0, or -1 with the reason on stderr. */
int harness_start(void **state, const struct harness_opts *o);

/** A cmocka setup: harness_start with the defaults. */
int harness_setup(void **state);

/** A cmocka teardown: stops the server if it still runs and frees it. */
int harness_teardown(void **state);

/** Asks the loop thread to stop, once, without waiting. */
void harness_send_stop(struct harness *h);

/** harness_send_stop, then waits up to timeout_ms for the run to return.
 * Returns 0, or -1 if it did not return in time. */
int harness_stop(struct harness *h, int timeout_ms);

/* ---- a blocking client --------------------------------------------------- */

struct client {
  int fd;
  char buf[4 << 20];
  size_t len; /* bytes received but not yet consumed */
};

struct response {
  int status;
  char head[8192];     /* status line and headers, without the final CRLF */
  long content_length; /* -1: no header */
  char *body;
  size_t body_len;
};

/** A connection to h's port, with TCP_NODELAY. */
struct client *client_open(const struct harness *h);
void client_close(struct client *c);

void send_bytes(struct client *c, const char *p, size_t n);
void send_str(struct client *c, const char *s);

/** Reads one response (head_only: no body follows, as for HEAD); r->body
 * is always allocated and NUL-terminated. */
void read_response(struct client *c, struct response *r, int head_only);
void response_free(struct response *r);

/** The value of header name in r->head (case-insensitive), copied into out
 * (cut to cap - 1 bytes), or NULL. */
const char *header(const struct response *r, const char *name, char *out,
                   size_t cap);

/** After the last response: the server closes, sending nothing more. */
void expect_closed(struct client *c);

/** Every response says how long its body is, and the body is that long; a
 * 304 has no body and may leave Content-Length out (RFC 9110 8.6). */
void check_framing(const struct response *r);

/** Sends req on a fresh connection and reads the response. */
struct response get_once(struct harness *h, const char *req);

/** A GET (HEAD if head_only) of target on c, with the header lines extra
 * (each ending in CRLF; NULL: none); its framing checked. */
struct response get_on(struct client *c, const char *target, const char *extra,
                       int head_only);

/** Sends req on a fresh connection and returns the status. */
int status_of(struct harness *h, const char *req, size_t len);

/** A refused request gets status `want`, a text/plain reason,
 * Content-Length, Connection: close, and then the connection closes. */
void expect_refused(struct harness *h, const char *req, size_t len, int want);
void expect_refused_str(struct harness *h, const char *req, int want);

#endif
