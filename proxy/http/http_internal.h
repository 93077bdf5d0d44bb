/*
 * What the files of proxy/http share: the server's state, the handler
 * table and the functions one file calls in another (http__ prefix).
 * Private to proxy/http.
 */
#ifndef PROXY_HTTP_INTERNAL_H
#define PROXY_HTTP_INTERNAL_H

#include <openssl/ssl.h>

#include "http.h"
#include "modproxy/netrange.h"

/* Random bytes for request ids are drawn a block at a time: one RAND_bytes
 * call costs about 10 us here whatever its size up to a few KiB, so a block
 * for 340 ids brings an id's share down to some 30 ns. */
#define HTTP_ID_POOL_BYTES (340u * DIAG_ID_RANDOM_BYTES)
/* One read from a socket. */
#define HTTP_READ_BUF_BYTES (64u << 10)
/* Client addresses whose request rate is counted at once (rate.c), about
 * 48 bytes each: more than the clients one server sees within a second
 * (a client pushed out starts a new second, so escaping the limit takes
 * cycling through this many addresses a second, past --max-connections
 * unless through a trusted proxy). */
#define HTTP_RATE_CLIENTS_MAX 4096u

struct http_rate;

/* ---- connections and requests ------------------------------------------- */

enum conn_state {
  CONN_IDLE,     /* waiting for the first byte of a request */
  CONN_HEAD,     /* reading a request */
  CONN_HANDLING, /* request head complete, a handler is working on it */
  CONN_BODY,     /* the handler is reading the request body */
  CONN_WRITING,  /* response being written */
  CONN_CLOSING,  /* uv_close called */
};

/* The request being read or answered. */
struct proxy_request {
  int method; /**< llhttp's HTTP_GET, HTTP_HEAD, HTTP_POST */
  int head_only;
  int keep_alive;
  char url[HTTP_MAX_URL_BYTES + 1]; /**< the target, origin form */
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
  char authorization[HTTP_MAX_HEADER_VALUE_BYTES]; /* for /admin/ */
  int expect_continue;                             /* Expect: 100-continue */
  /* From a trusted proxy only: X-Forwarded-For and Forwarded, each header
   * line appended (", "). Read by forwarded.c alone: handlers use
   * proxy_conn_peer. */
  char forwarded_for[HTTP_MAX_FORWARDED_BYTES];
  char forwarded[HTTP_MAX_FORWARDED_BYTES];
  /* POST body (only where a handler takes one): heap, not NUL-terminated,
   * body_cap bytes counted against HTTP_MAX_BODIES_BYTES. */
  char *body;
  size_t body_len, body_cap;
  int body_waiting; /* the body is still on the wire (not read yet) */
  uint64_t start_ms;
  char head[2048]; /* the response head being written */
};

struct ssl_st;
struct http_handler;

/* A client connection (opaque to handlers: http.h's proxy_conn_*). */
struct proxy_conn {
  struct proxy_conn *next, *prev; /* the http server's list */
  struct http_server *http;
  uv_tcp_t tcp;
  uv_timer_t timer;
  llhttp_t parser;
  enum conn_state state;
  int refs;            /* the handle, plus one per async operation in flight */
  int handles_open;    /* tcp and timer, closed with uv_close */
  char *pending;       /* bytes read but not yet parsed (pipelining) */
  const char *feeding; /* start of the bytes being parsed now */
  size_t pending_len;
  /** The request being read or answered: allocated when its first byte
   *  arrives and freed when the connection goes idle, so that an idle
   *  keep-alive connection costs a few hundred bytes, not kilobytes. */
  struct proxy_request *req;
  const struct http_handler *handler; /* the one the target matched */
  char id[DIAG_ID_BYTES]; /**< this request's id (sent as X-Request-Id) */
  /** The current request's client: the peer's address, or behind a
   *  trusted proxy the one its forwarding headers name (--trusted-proxies;
   *  set when the request's head is complete). */
  char peer[64];
  char tcp_peer[64]; /* the connection's peer address */
  int peer_trusted;  /* ...which is in --trusted-proxies */
  char user[64];     /**< who the credentials name ("" anonymous) */
  int auth_done;     /* user is settled for the current request */
  /** The current request needed credentials (the access hook sets it): its
   *  answer must not be kept by a shared cache. */
  int needs_credentials;
  struct diag_record rec; /* filled as the request is handled */
  int outcome_set;
  proxy_conn_body_cb on_body; /* CONN_BODY: who gets the body */
  void *body_arg;
  proxy_conn_gone_cb on_gone; /* the handler's watch, or NULL */
  void *gone_arg;
  /* The response being written. */
  uv_write_t write;
  struct proxy_body *body;
  uint64_t body_off, body_end;
  struct http_generator *gen; /* the body's generator, until stopped */
  int close_after;
  /* TLS (NULL on a plain connection): the session, and the ciphertext of
   * the response write in flight. */
  struct ssl_st *ssl;
  char *tls_out;
};

struct proxy_auth;
struct proxy_auth_checks;

/** One registration (http_server_handle). */
struct http_handler {
  const char *pattern;
  size_t len;
  enum http_match match;
  unsigned flags;
  http_handler_cb cb;
  void *arg;
};

struct http_server {
  uv_loop_t *loop;
  struct http_config cfg;
  uv_tcp_t listener;
  int listening;           /* listener initialised (closed at close) */
  SSL_CTX *tls;            /* the TLS context for new connections, or NULL */
  struct proxy_auth *auth; /* --auth-file credentials, or NULL */
  struct proxy_auth_checks *auth_checks; /* their password thread */
  struct http_rate *rate; /* --max-request-rate's counts, or NULL (off) */
  struct http_handler handlers[HTTP_MAX_HANDLERS];
  int nhandlers;
  struct proxy_conn *conns; /* open connections */
  uint64_t nconns;
  int stopping;
  /* http_server_close: handles still closing, and who to tell. */
  int closing, closes_pending;
  http_close_cb on_closed;
  void *closed_arg;
  size_t body_bytes; /* request body memory held, all connections */
  char date[40];     /* cached HTTP Date header value */
  uint64_t date_ms;
  /* Random bytes for request ids; the last id_pool_left unused. */
  unsigned char id_pool[HTTP_ID_POOL_BYTES];
  size_t id_pool_left;
  struct http_stats stats;
  /* --trusted-proxies: peers whose forwarding headers name the client. */
  struct net_range trusted[NET_MAX_RANGES];
  size_t ntrusted;
  /* Every read lands here first (reads are handled one at a time on the
   * loop thread); a connection copies only the bytes it must keep. */
  char read_buf[HTTP_READ_BUF_BYTES];
  /* Plaintext decrypted from read_buf (TLS connections). */
  char tls_buf[HTTP_READ_BUF_BYTES];
};

/**
 * The client's address of a request that came from a trusted proxy
 * (forwarded.c): from xff (X-Forwarded-For, "" when absent) or else fwd
 * (Forwarded), the right-most address not in trusted[0..ntrusted), as text
 * in out. 1 when the headers named one, 0 when not (the peer is the
 * client then). Pure.
 */
int http__forwarded_client(const struct net_range *trusted, size_t ntrusted,
                           const char *xff, const char *fwd, char *out,
                           size_t cap);

/**
 * The request rate table (rate.c): empty, sized for HTTP_RATE_CLIENTS_MAX
 * clients. 0 or -ENOMEM. Loop thread, as every http__rate_ call.
 */
int http__rate_new(struct http_rate **out);
/** Frees t (NULL: nothing). */
void http__rate_free(struct http_rate *t);
/**
 * Counts a request of the client at addr (net_addr_parse's 16 bytes) at
 * now_ms (a monotonic clock): 1 when it is past max requests in the
 * client's current one-second window, else 0.
 */
int http__rate_over(struct http_rate *t, const unsigned char addr[16],
                    uint64_t now_ms, uint64_t max);

/** The current Date header value (refreshed at most once a second). */
const char *http__date(struct http_server *h);
/** The handler for a target, or NULL (http_server_handle's rules). */
const struct http_handler *http__handler_find(const struct http_server *h,
                                              const char *target);
/** Runs the phases of a complete request: credentials, the access hook,
 *  the handler (dispatch.c). */
void http__dispatch(struct proxy_conn *c);

/** Accepts a connection on h's listener (conn.c). */
void http__conn_accept(struct http_server *h);
/** Closes idle connections (shutdown: stop keeping them alive). */
void http__conn_close_idle(struct http_server *h);
/** Closes every connection at once. */
void http__conn_close_all(struct http_server *h);
/** A connection was freed (http_server_close waits for the last). */
void http__conn_freed(struct http_server *h);

/** TLS listener (tls.c): a context from cfg's certificate chain and key
 *  (*out NULL without them). 0, or -EINVAL with "FILE: why" in err. */
int http__tls_load(const struct http_config *cfg, SSL_CTX **out, char *err,
                   size_t errlen);
/** A new server-side session on memory BIOs, or NULL. */
SSL *http__tls_session(struct http_server *h);

#endif
