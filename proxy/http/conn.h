/*
 * HTTP/1.1 connections: parsing with llhttp, keep-alive and pipelining (one
 * request handled at a time, the rest waits in `pending`), conditional and
 * range requests, and writing responses from memory or streamed from the
 * store. Private to proxy/.
 */
#ifndef PROXY_CONN_H
#define PROXY_CONN_H

#include <llhttp.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "modproxy/diag.h"
#include "server.h"

enum conn_state {
  CONN_IDLE,     /* waiting for the first byte of a request */
  CONN_HEAD,     /* reading a request */
  CONN_HANDLING, /* request head complete, a handler is working on it */
  CONN_BODY,     /* the handler is reading the request body */
  CONN_WRITING,  /* response being written */
  CONN_CLOSING,  /* uv_close called */
};

struct proxy_request {
  int method;
  int head_only;
  int keep_alive;
  char url[PROXY_MAX_URL_BYTES + 1];
  size_t url_len;
  size_t head_bytes;
  int header_count;
  int host_count;
  const char *value_end; /* where the last header-value span ended */
  int error_status;      /* set by a parser callback that refused the request */
  const char *error_reason; /* ...and why (a string literal) */
  /* The header being parsed (names longer than this are never ours). */
  char hname[32];
  size_t hname_len;
  char hvalue[256];
  size_t hvalue_len;
  int hvalue_truncated;
  /* Headers modproxy uses. */
  char if_none_match[256];
  char range[128];
  char if_range[128];
  char request_id[64];
  char accept[256];
  char host[256];
  char content_type[256];
  char authorization[256]; /* for /admin/ (admin_routes.c) */
  int expect_continue;     /* Expect: 100-continue */
  /* POST body (only where a route takes one): heap, not NUL-terminated,
   * body_cap bytes counted in the server's body_bytes. */
  char *body;
  size_t body_len, body_cap;
  int body_waiting; /* the body is still on the wire (not read yet) */
  uint64_t start_ms;
  char head[2048]; /* the response head being written */
};

/**
 * A zip being downloaded from an upstream, sent to its clients while it
 * arrives (jobs.c feeds it, connections read it). `ready` stops short of the
 * end until the zip is checked and stored, so a client never receives the
 * whole of a zip modproxy refused: it is cut off instead. Loop thread only.
 */
struct proxy_stream {
  int refs;
  int fd;         /**< the staging file (a dup, closed with the last ref) */
  uint64_t size;  /**< the upstream's Content-Length */
  uint64_t ready; /**< bytes that may be sent */
  int failed;     /**< refused or cut short: close the clients */
  int outcome;    /**< a diag_outcome for the clients' records, or -1 */
  char *attempts; /**< the upstream attempts (JSON), once known */
  char *why;      /**< failed: the explanation, for the clients' records */
  struct proxy_conn *waiting; /**< connections waiting for bytes */
};

/** A stream of size bytes staged in fd (duplicated); one reference. */
struct proxy_stream *proxy_stream_new(int fd, uint64_t size);
void proxy_stream_unref(struct proxy_stream *st);
/** Lets the waiting connections send what is ready (or close, if failed). */
void proxy_stream_wake(struct proxy_stream *st);

/** A response to send. Exactly one of body/zip_size/stream applies. */
struct conn_response {
  int status;
  const char *content_type;
  const char *cache_control; /**< NULL: no header */
  const char *etag;          /**< quoted strong ETag, or NULL */
  const char *extra_headers; /**< "Name: value\r\n"..., or NULL */
  int rangeable;             /**< honour Range/If-Range */
  struct proxy_body *body;   /**< borrowed; the connection takes a ref */
  /** Stream a stored zip of this size instead of a body. */
  uint64_t zip_size;
  const char *zip_module, *zip_version;
  /** Or a zip still downloading (not rangeable: it has no ETag yet). */
  struct proxy_stream *stream;
};

struct proxy_conn;
/** The request's body is complete (proxy_conn_read_body). */
typedef void (*proxy_conn_body_cb)(struct proxy_conn *c);
/** The client of a request being handled went away (proxy_conn_watch). */
typedef void (*proxy_conn_gone_cb)(void *arg);

struct proxy_conn {
  struct proxy_conn *next, *prev; /* the server's list */
  struct proxy_server *server;
  uv_tcp_t tcp;
  uv_timer_t timer;
  llhttp_t parser;
  enum conn_state state;
  int refs;            /* the handle, plus one per async operation in flight */
  int handles_open;    /* tcp and timer, closed with uv_close */
  char *pending;       /* bytes read but not yet parsed (pipelining) */
  const char *feeding; /* start of the bytes being parsed now */
  size_t pending_len;
  /* The request being read or answered: allocated when its first byte
   * arrives and freed when the connection goes idle, so that an idle
   * keep-alive connection costs a few hundred bytes, not kilobytes. */
  struct proxy_request *req;
  char id[DIAG_ID_BYTES]; /* this request's id (sent as X-Request-Id) */
  char peer[64];          /* the client's address */
  char user[64];          /* who the credentials name ("" anonymous) */
  int auth_done;          /* user is settled for the current request */
  /* The current request needed credentials (access.c): its answer must not
   * be kept by a shared cache. */
  int needs_credentials;
  uint64_t rate_window_ms; /* start of the current one-second window */
  uint64_t rate_count;     /* requests in it */
  struct diag_record rec;  /* filled as the request is handled */
  int outcome_set;
  proxy_conn_body_cb on_body; /* CONN_BODY: who gets the body */
  proxy_conn_gone_cb on_gone; /* the handler's watch, or NULL */
  void *gone_arg;
  /* The response being written. */
  uv_write_t write;
  struct proxy_body *body;
  uint64_t body_off, body_end;
  /* Zip streaming, from the store or from a download in progress. */
  char *zip_module, *zip_version;
  struct proxy_stream *stream;
  struct proxy_conn *stream_next; /* in stream->waiting */
  char *chunk;
  int64_t chunk_len;
  uv_work_t work;
  int close_after;
  /* TLS (NULL on a plain connection): the session, and the ciphertext of
   * the response write in flight. */
  SSL *ssl;
  char *tls_out;
};

/** Accepts a connection on the server's listener. */
void proxy_conn_accept(struct proxy_server *s);
/** Sends r for the current request; the connection then reads the next. */
void proxy_conn_send(struct proxy_conn *c, const struct conn_response *r);
/**
 * Sends an error as text/plain; charset=utf-8, fitted into the window the go
 * command prints (8 lines, 648 bytes). `text` is one or more lines.
 */
void proxy_conn_send_text(struct proxy_conn *c, int status, const char *text,
                          const char *cache_control);
/**
 * Sends modproxy's own answer (a page, a report, a health check): text
 * (len bytes, NULL for out of memory: a 503) as content_type, not cached,
 * recorded as a local outcome. extra_headers may be NULL.
 */
void proxy_conn_send_local(struct proxy_conn *c, int status,
                           const char *content_type, const char *text,
                           size_t len, const char *extra_headers);
/** The same with extra response headers ("Name: value\r\n"...). */
void proxy_conn_send_text_with(struct proxy_conn *c, int status,
                               const char *text, const char *cache_control,
                               const char *extra_headers);
/**
 * Reads the current request's body, for a handler whose route takes one
 * (proxy_route_takes_body). Handlers call it once access is decided: a body
 * is never read for a client that is refused (the connection closes after
 * such an answer instead). cb runs when the body is complete (req->body,
 * body_len; NULL and 0 when there is none), possibly before this returns.
 * Otherwise the connection answers for the handler: 503 while other requests
 * hold PROXY_MAX_BODIES_BYTES (before a byte is read), 413 past
 * PROXY_MAX_BODY_BYTES; and closes after PROXY_BODY_TIMEOUT_MS. The body is
 * freed when the request ends.
 */
void proxy_conn_read_body(struct proxy_conn *c, proxy_conn_body_cb cb);
/**
 * While a handler works on the current request, notices its client leaving:
 * cb(arg) runs once, on the loop thread, when the connection closes before
 * the response starts. The watch ends with the response, or with cb NULL.
 */
void proxy_conn_watch(struct proxy_conn *c, proxy_conn_gone_cb cb, void *arg);
/** Records what became of the current request (default: from the status). */
void proxy_conn_outcome(struct proxy_conn *c, enum diag_outcome o);
/** Records the module (and version, may be NULL) the request is about. */
void proxy_conn_subject(struct proxy_conn *c, const char *module,
                        const char *version);
/** Records the upstream attempts (a JSON array, copied). */
void proxy_conn_attempts(struct proxy_conn *c, const char *json);
/** "http://<Host>" of the current request, for links in explanations
 *  ("" when the client sent no usable Host). */
const char *proxy_conn_base(struct proxy_conn *c, char *buf, size_t len);

/**
 * Access control (access.c), the one place that decides it. 1 if a client
 * with these credentials (user "" for anonymous) may see something about
 * module and target (either may be NULL): private modules, named by the
 * module or by the request target, or everything with --auth-required
 * all, need a user. Pure; any thread.
 */
int proxy_access_may_see(const struct proxy_server *s, const char *user,
                         const char *module, const char *target);
/**
 * The access phase, before any handler: 1 if the current request may go
 * on; else it has been answered (401). Sets c->needs_credentials.
 */
int proxy_access_check(struct proxy_conn *c);
/** Answers 401 with how to configure ~/.netrc for this proxy. */
void proxy_conn_send_unauthorized(struct proxy_conn *c, const char *what);

/** Takes/releases a reference across an async operation. */
void proxy_conn_hold(struct proxy_conn *c);
void proxy_conn_release(struct proxy_conn *c);
/** 1 when the connection was closed while the operation ran. */
int proxy_conn_gone(const struct proxy_conn *c);
/** Closes every connection at once (end of shutdown). */
void proxy_conn_close_all(struct proxy_server *s);
/** Closes idle connections (shutdown: stop keeping them alive). */
void proxy_conn_close_idle(struct proxy_server *s);

/** Handles a complete request (routes.c). */
void proxy_route(struct proxy_conn *c);
/** Serves /healthz, /readyz and /metrics; 0 if path is none of them
 *  (ops_routes.c). */
int proxy_route_ops(struct proxy_conn *c, const char *path);
/** Serves POST /diag/modfile (analysis.c). */
void proxy_route_modfile(struct proxy_conn *c);
/** 1 if a POST to this target may carry a body (routes.c). */
int proxy_route_takes_body(const char *target);

#endif
