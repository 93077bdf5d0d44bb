/*
 * The HTTP layer (proxy/http): listener, HTTP/1.1 connections, TLS,
 * credentials. Its one interface header: the folders above include only
 * this, and http/ includes nothing of theirs.
 *
 * What http/ does and what it leaves to others:
 *  - the owner creates an http_server (http_server_new), registers its
 *    handlers by target (http_server_handle), one access hook that runs
 *    before any handler (http_config.access) and one hook that receives
 *    each finished request's record (http_config.on_done), then listens;
 *  - for every request http/ parses the head, settles who the credentials
 *    name, calls the access hook, then the handler registered for the
 *    target, which answers with proxy_conn_send and friends, now or later;
 *  - a response body is either bytes in memory (a struct proxy_body) or a
 *    generator (struct http_generator) that hands over the body a piece at
 *    a time: http/ never knows whether the bytes come from memory, the
 *    store or a download.
 * Loop thread only, unless a function says otherwise.
 */
#ifndef PROXY_HTTP_H
#define PROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>
#include <uv.h>

#include "modproxy/diag.h"

/* ---- limits ------------------------------------------------------------- */

/* A request head larger than this is refused with 431; real go command
 * requests are a few hundred bytes. */
#define HTTP_MAX_HEAD_BYTES (16u << 10)
#define HTTP_MAX_HEADERS 64
/* Longest request target (414 past it): module paths and versions are
 * bounded by GOMOD_MAX_*; with escaping a legitimate URL stays under this. */
#define HTTP_MAX_URL_BYTES 4096
/* A header value modproxy keeps (Accept, Authorization...) is cut at this
 * size; real values are far shorter. */
#define HTTP_MAX_HEADER_VALUE_BYTES 256
/* A POST body (a go.mod and go.sum for /diag/modfile) larger than this is
 * refused with 413; a large project's go.sum is well under 1 MiB. */
#define HTTP_MAX_BODY_BYTES (4u << 20)
/* Request bodies buffered at once, over all connections: past it a new body
 * gets 503 before a byte of it is read. Without it, 300 clients each holding
 * an unfinished 4 MiB body took 1.1 GB; sixteen whole bodies fit. */
#define HTTP_MAX_BODIES_BYTES (64u << 20)
/* Time to receive a whole request body once its handler asked for it (4 MiB
 * at 2 Mbit/s), so that a slow client cannot hold its share of
 * HTTP_MAX_BODIES_BYTES for long. */
#define HTTP_BODY_TIMEOUT_MS 20000
/* Time to receive a whole request head once its first byte arrived. */
#define HTTP_HEAD_TIMEOUT_MS 10000
/* X-Forwarded-For (all its lines) or Forwarded kept from a trusted proxy:
 * past it the request is refused (431), never cut, since a cut list would
 * lose the addresses on its right, the ones the proxies vouch for. A
 * client behind a few proxies needs well under 200 bytes. */
#define HTTP_MAX_FORWARDED_BYTES 512
/* An idle keep-alive connection is closed after this. */
#define HTTP_IDLE_TIMEOUT_MS 60000
/* A client that accepts no bytes for this long is dropped. */
#define HTTP_WRITE_TIMEOUT_MS 60000

/* ---- refcounted response bodies ----------------------------------------- */

struct proxy_body {
  int refs;
  size_t len;
  char data[];
};
/** A body of len bytes copied from data (left uninitialised when data is
 *  NULL, for the caller to fill). NULL when out of memory. Any thread. */
struct proxy_body *proxy_body_new(const void *data, size_t len);
struct proxy_body *proxy_body_ref(struct proxy_body *b);
/** Drops a reference; accepts NULL. */
void proxy_body_unref(struct proxy_body *b);

/* ---- the server --------------------------------------------------------- */

struct http_server;
struct proxy_conn;

/** A request handler: answers c, now or later (holding c meanwhile). */
typedef void (*http_handler_cb)(struct proxy_conn *c, void *arg);
/** The access phase: 1 if the request may go on to its handler; else the
 *  hook has answered it (proxy_conn_send_unauthorized). */
typedef int (*http_access_cb)(struct proxy_conn *c, void *arg);
/** A request ended (answered, refused or abandoned): takes rec's contents
 *  (rec is zeroed afterwards). */
typedef void (*http_done_cb)(struct proxy_conn *c, struct diag_record *rec,
                             void *arg);
/** http_server_close finished: the server is freed. */
typedef void (*http_close_cb)(void *arg);

/** Read-only once given (http_server_new, http_server_configure); strings
 *  borrowed until the next http_server_configure or the server's end. */
struct http_config {
  const char *tls_cert, *tls_key; /**< PEM files: serve https, or NULL */
  const char *auth_file;          /**< credentials (auth.c), or NULL */
  uint64_t max_connections;       /**< 0: no limit */
  uint64_t max_request_rate;      /**< per client address per second, 0: none */
  /** --trusted-proxies: CIDR ranges of the reverse proxies whose
   *  X-Forwarded-For / Forwarded name the client, or NULL: none. */
  const char *trusted_proxies;
  http_access_cb access; /**< the access phase, or NULL */
  http_done_cb on_done;  /**< finished requests, or NULL */
  void *arg;             /**< for access and on_done */
};

/** What http/ counts, for /metrics and /diag. */
struct http_stats {
  uint64_t requests;  /**< complete request heads */
  uint64_t bytes_out; /**< response body bytes written */
};

/** Creates a server on loop: loads the TLS certificate and the credentials
 *  (and starts their password thread). 0, or a negative errno after one
 *  line on stderr (nothing left to release). */
int http_server_new(uv_loop_t *loop, const struct http_config *cfg,
                    struct http_server **out);
/**
 * Applies a new configuration (a reload): reads cfg's TLS certificate and
 * key and its auth file again, and only if every one loads, swaps them in
 * with cfg's limits. New connections get the new TLS context, new requests
 * the new credentials; open connections keep their TLS session, and
 * password checks already queued finish against the old credentials.
 * 0, or a negative errno with one line in err (the file and what is wrong
 * with it): the running configuration is then untouched.
 */
int http_server_configure(struct http_server *h, const struct http_config *cfg,
                          char *err, size_t errlen);
/** Binds and listens on "host:port", "[v6]:port" or ":port". 0, or a
 *  negative errno after one line on stderr. */
int http_server_listen(struct http_server *h, const char *listen);
/** The listener's address. 0 or a negative errno. */
int http_server_sockname(const struct http_server *h,
                         struct sockaddr_storage *ss);
/** A new request id (random: nobody can guess another request's id and
 *  read its record at /diag/req/<id>), also for requests made inside the
 *  process (goproxy_get). */
void http_server_new_id(struct http_server *h, char id[DIAG_ID_BYTES]);
/** Client connections open (closing ones included). */
uint64_t http_server_connections(const struct http_server *h);
/** 1 when new connections speak TLS. */
int http_server_tls(const struct http_server *h);
const struct http_stats *http_server_stats(const struct http_server *h);

/** How http_server_handle matches a request target (the path and query). */
enum http_match {
  HTTP_MATCH_EXACT,  /**< the target is the pattern */
  HTTP_MATCH_QUERY,  /**< ...or the pattern followed by a query ("?...") */
  HTTP_MATCH_TREE,   /**< ...or by a query or a path below it ("/...") */
  HTTP_MATCH_PREFIX, /**< the target starts with the pattern */
};
/* The handler takes a POST body (proxy_conn_read_body); other handlers get
 * GET and HEAD only. */
#define HTTP_HANDLER_BODY 1u
/* Handlers registered at most (a fixed table, searched in order). */
#define HTTP_MAX_HANDLERS 16

/**
 * Registers cb(conn, arg) for the targets that pattern (a string literal,
 * or borrowed for the server's life) matches. The first registration that
 * matches a target wins: register the narrow patterns before the wide
 * ones. A target that nothing matches gets 404. 0, or -E2BIG past
 * HTTP_MAX_HANDLERS.
 */
int http_server_handle(struct http_server *h, const char *pattern,
                       enum http_match match, unsigned flags,
                       http_handler_cb cb, void *arg);

/** Stops accepting and closes idle connections; the requests in flight
 *  finish, and their connections close once answered. */
void http_server_stop(struct http_server *h);
/** Closes every connection at once (end of a drain that took too long). */
void http_server_close_all(struct http_server *h);
/** Closes the listener, the TLS context and the password thread, and frees
 *  h once they and every connection are closed; then cb(arg) runs (cb may
 *  be NULL). Accepts NULL (cb never runs then). */
void http_server_close(struct http_server *h, http_close_cb cb, void *arg);

/** Makes an --auth-file line (`modproxy auth`): kind "user" (PBKDF2 of the
 *  password) or "token" (SHA-256 of the token). Returns its length or a
 *  negative errno. Any thread. */
int proxy_auth_hash_line(const char *kind, const char *name, const char *secret,
                         char *out, size_t cap);

/* ---- connections and requests ------------------------------------------- */

/**
 * A response body produced a piece at a time (a stored zip, a download in
 * progress). The connection owns the generator from proxy_conn_send on and
 * calls stop exactly once; between the two it calls proceed whenever it
 * wants more bytes (never while a piece is being written).
 */
struct http_generator {
  /**
   * Produces the next piece, from byte `off` of the body, at most `left`
   * bytes: the generator answers, now or later, with exactly one of
   * proxy_conn_body_write (the bytes, borrowed until the next proceed or
   * stop), proxy_conn_body_fail (the body is cut short) or, while it waits
   * for bytes that have their own timeout, proxy_conn_body_wait followed
   * later by one of the first two.
   */
  void (*proceed)(struct http_generator *g, struct proxy_conn *c, uint64_t off,
                  uint64_t left);
  /**
   * The response is over (written, cut short, or the client left). c is
   * the connection, whose request record is finished just after (the
   * generator may add to it), or NULL when the response took no bytes from
   * the generator (HEAD, 304, 416, an empty range, a closed connection).
   * The generator frees itself, at once or when work it started ends.
   */
  void (*stop)(struct http_generator *g, struct proxy_conn *c);
};

/** A response to send. body or gen (or neither: an empty body) applies. */
struct conn_response {
  int status;
  const char *content_type;
  const char *cache_control; /**< NULL: no header */
  const char *etag;          /**< quoted strong ETag, or NULL */
  const char *extra_headers; /**< "Name: value\r\n"..., or NULL */
  int rangeable;             /**< honour Range/If-Range */
  struct proxy_body *body;   /**< borrowed; the connection takes a ref */
  /** Or a body of `size` bytes from a generator (taken over). */
  struct http_generator *gen;
  uint64_t size;
};

/** The request's body is complete (proxy_conn_read_body). */
typedef void (*proxy_conn_body_cb)(struct proxy_conn *c, void *arg);
/** The client of a request being handled went away (proxy_conn_watch). */
typedef void (*proxy_conn_gone_cb)(void *arg);

/** A client connection, opaque to handlers: they read what they need of
 *  it through the functions below. */
struct proxy_conn;

/* What handlers read of the current request. */
/** The request target, origin form ("/path?query"). */
const char *proxy_conn_target(const struct proxy_conn *c);
/** llhttp's method: HTTP_GET, HTTP_HEAD, HTTP_POST. */
int proxy_conn_method(const struct proxy_conn *c);
/** The Accept, Authorization and Content-Type headers ("" when absent). */
const char *proxy_conn_accept(const struct proxy_conn *c);
const char *proxy_conn_authorization(const struct proxy_conn *c);
const char *proxy_conn_content_type(const struct proxy_conn *c);
/** The body read by proxy_conn_read_body (not NUL-terminated; NULL and 0
 *  when there is none), borrowed until the request ends. */
const char *proxy_conn_body(const struct proxy_conn *c, size_t *len);
/** The request's id (sent as X-Request-Id), for logs and records. */
const char *proxy_conn_id(const struct proxy_conn *c);
/** Who the credentials name ("" anonymous). */
const char *proxy_conn_user(const struct proxy_conn *c);
/** The access hook says whether the current request needed credentials:
 *  its answer must then not be kept by a shared cache. */
void proxy_conn_set_needs_credentials(struct proxy_conn *c, int needs);

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
/** Answers 401 with how to configure ~/.netrc for this proxy. */
void proxy_conn_send_unauthorized(struct proxy_conn *c, const char *what);

/** A generator's next piece of the body (http_generator.proceed): len > 0
 *  bytes, borrowed until the next proceed or stop. */
void proxy_conn_body_write(struct proxy_conn *c, const char *data, size_t len);
/** The generator cannot go on: the body is cut short (the client sees it by
 *  Content-Length) and the connection closed. */
void proxy_conn_body_fail(struct proxy_conn *c);
/** The generator waits for bytes that have a timeout of their own: the
 *  client's write timeout stops until the next proxy_conn_body_write. */
void proxy_conn_body_wait(struct proxy_conn *c);

/**
 * Reads the current request's body, for a handler registered with
 * HTTP_HANDLER_BODY. Handlers call it once access is decided: a body is
 * never read for a client that is refused (the connection closes after such
 * an answer instead). cb runs when the body is complete (req->body,
 * body_len; NULL and 0 when there is none), possibly before this returns.
 * Otherwise the connection answers for the handler: 503 while other requests
 * hold HTTP_MAX_BODIES_BYTES (before a byte is read), 413 past
 * HTTP_MAX_BODY_BYTES; and closes after HTTP_BODY_TIMEOUT_MS. The body is
 * freed when the request ends.
 */
void proxy_conn_read_body(struct proxy_conn *c, proxy_conn_body_cb cb,
                          void *arg);
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
/** Records the body bytes sent so far as the response's size (a body that
 *  was cut short). */
void proxy_conn_record_sent(struct proxy_conn *c);
/** Records why the request failed (copied; NULL: no explanation). */
void proxy_conn_explain(struct proxy_conn *c, const char *why);
/** "http://<Host>" of the current request, for links in explanations
 *  ("" when the client sent no usable Host). */
const char *proxy_conn_base(struct proxy_conn *c, char *buf, size_t len);

/** Takes/releases a reference across an async operation. */
void proxy_conn_hold(struct proxy_conn *c);
void proxy_conn_release(struct proxy_conn *c);
/** 1 when the connection was closed while the operation ran. */
int proxy_conn_gone(const struct proxy_conn *c);

/* ---- which form a page is answered in (negotiate.c) --------------------- */

/* Plain text, HTML or JSON: one rule for every page that has more than one
 * (the /diag pages, /diag/modfile, the mirror's status): "?format=" in the
 * query wins, then the Accept header, then plain text. */
enum proxy_format { PROXY_FORMAT_TEXT, PROXY_FORMAT_HTML, PROXY_FORMAT_JSON };

/** The form asked for by a request target (its query) and its Accept
 *  header. Pure. A page without an HTML form answers PROXY_FORMAT_HTML with
 *  its text. */
enum proxy_format proxy_format_negotiate(const char *target,
                                         const char *accept);

#endif
