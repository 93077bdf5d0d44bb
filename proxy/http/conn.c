/*
 * HTTP/1.1 connections.
 *
 * State diagram (conn_state(), one request at a time; pipelined requests wait
 * as unparsed bytes in `pending` and reading stops until the response to the
 * current one is written, which is the backpressure on pipelining clients):
 *
 *        accept
 *          |
 *          v      first byte         message complete
 *     +-> IDLE ---------------> HEAD -----------------> HANDLING
 *     |    |                     |  (400/414/431: respond, close)  |
 *     |    | idle timeout        | head timeout                    | handler
 *     |    v                     v                                 v calls
 *     |  CLOSING <-------------- +---------------------------- WRITING
 *     |                   error, write timeout, !keep-alive        |
 *     +------------------------------------------------------------+
 *                    response written, keep-alive
 *
 * A complete head goes to the phases of dispatch.c (credentials, the access
 * hook, the handler registered for the target); conn.c names no handler.
 * A response body is in memory (one write with the head) or comes from a
 * generator: after each write on_written asks it for the next piece
 * (proceed), and it answers with proxy_conn_body_write, _fail or _wait; its
 * stop runs once, when the response is over.
 *
 * Request bodies: the head of a POST to a handler that takes a body ends
 * the HEAD phase with the body unread; the handler decides on access
 * first, then proxy_conn_read_body moves HANDLING -> BODY, and the complete
 * body moves BODY -> HANDLING again (413, 503 and the body timeout leave
 * BODY for WRITING or CLOSING). A response to a request whose body was
 * never read closes the connection. Body memory is counted server-wide against
 * HTTP_MAX_BODIES_BYTES and freed when the request ends.
 *
 * Lifetime: `refs` counts the open handles (one reference for both) and every
 * async operation in flight (a handler's work, a generator's read). The
 * struct is freed when the count drops to zero, never inside one of its own
 * callbacks while another still holds it.
 */
#include "http_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "modproxy/buf.h"
#include "modproxy/diag.h"
#include "modproxy/timeutil.h"

static void conn_close(struct proxy_conn *c);
static void read_next(struct proxy_conn *c);
static void record_finish(struct proxy_conn *c);
static void on_written(uv_write_t *w, int status);
static void tls_pump(struct proxy_conn *c);
static void tls_close(struct proxy_conn *c);
static void request_free(struct proxy_conn *c);

static const char *state_name(enum conn_state s) {
  static const char *const names[] = {"IDLE", "HEAD",    "HANDLING",
                                      "BODY", "WRITING", "CLOSING"};
  return names[s];
}

/* The one place the state changes; checks that the transition is legal. */
static void conn_state(struct proxy_conn *c, enum conn_state to) {
  static const unsigned allowed[] = {
      [CONN_IDLE] = 1u << CONN_HEAD | 1u << CONN_HANDLING | 1u << CONN_CLOSING,
      [CONN_HEAD] =
          1u << CONN_HANDLING | 1u << CONN_WRITING | 1u << CONN_CLOSING,
      [CONN_HANDLING] =
          1u << CONN_BODY | 1u << CONN_WRITING | 1u << CONN_CLOSING,
      [CONN_BODY] =
          1u << CONN_HANDLING | 1u << CONN_WRITING | 1u << CONN_CLOSING,
      [CONN_WRITING] = 1u << CONN_IDLE | 1u << CONN_CLOSING,
      [CONN_CLOSING] = 0,
  };
  if ((allowed[c->state] & (1u << to)) == 0) {
    fprintf(stderr, "conn: illegal transition %s -> %s\n", state_name(c->state),
            state_name(to));
    abort();
  }
  c->state = to;
}

void proxy_conn_hold(struct proxy_conn *c) {
  c->refs++;
}

static void conn_free(struct proxy_conn *c) {
  struct http_server *h = c->http;
  h->nconns--;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    h->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  proxy_body_unref(c->body);
  free(c->pending);
  diag_record_dispose(&c->rec);
  request_free(c);
  SSL_free(c->ssl);
  free(c->tls_out);
  free(c);
  http__conn_freed(h);
}

void proxy_conn_release(struct proxy_conn *c) {
  if (--c->refs == 0)
    conn_free(c);
}

int proxy_conn_gone(const struct proxy_conn *c) {
  return c->state == CONN_CLOSING;
}

static void on_handle_closed(uv_handle_t *h) {
  struct proxy_conn *c = h->data;
  if (--c->handles_open == 0)
    proxy_conn_release(c);
}

static void conn_close(struct proxy_conn *c) {
  if (c->state == CONN_CLOSING)
    return;
  if (c->state == CONN_HANDLING || c->state == CONN_BODY ||
      c->state == CONN_WRITING) {
    if (c->state != CONN_WRITING || c->body_off < c->body_end)
      proxy_conn_outcome(c, DIAG_ABORTED);
    record_finish(c);
  }
  conn_state(c, CONN_CLOSING);
  if (c->on_gone != NULL) {
    proxy_conn_gone_cb cb = c->on_gone;
    c->on_gone = NULL;
    cb(c->gone_arg);
  }
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_timeout(uv_timer_t *t) {
  conn_close(t->data);
}

static void arm_timer(struct proxy_conn *c, uint64_t ms) {
  uv_timer_start(&c->timer, on_timeout, ms, 0);
}

/* ---- parsing --------------------------------------------------------- */

static struct proxy_conn *conn_of(llhttp_t *p) {
  return p->data;
}

static int refuse(llhttp_t *p, int status, const char *reason) {
  conn_of(p)->req->error_status = status;
  conn_of(p)->req->error_reason = reason;
  return HPE_USER;
}

static int count_head(llhttp_t *p, size_t len) {
  struct proxy_request *r = conn_of(p)->req;
  r->head_bytes += len;
  if (r->head_bytes > HTTP_MAX_HEAD_BYTES)
    return refuse(p, 431, "request head too large");
  return 0;
}

/* Frees the request's body and gives its memory back to the server's
 * budget (HTTP_MAX_BODIES_BYTES). */
static void body_free(struct proxy_conn *c) {
  struct proxy_request *r = c->req;
  if (r == NULL)
    return;
  c->http->body_bytes -= r->body_cap;
  free(r->body);
  r->body = NULL;
  r->body_len = r->body_cap = 0;
}

/* Makes the body's buffer hold `need` bytes (from `first` when it has
 * none), counting it against the server's budget: 0, -EAGAIN past
 * HTTP_MAX_BODIES_BYTES (what was allocated stays counted until the
 * request ends), or -ENOMEM. */
static int body_reserve(struct proxy_conn *c, size_t need, size_t first) {
  struct proxy_request *r = c->req;
  size_t had = r->body_cap;
  if (buf_reserve(&r->body, &r->body_cap, need, first) < 0)
    return -ENOMEM;
  c->http->body_bytes += r->body_cap - had;
  return c->http->body_bytes > HTTP_MAX_BODIES_BYTES ? -EAGAIN : 0;
}

static const char bodies_busy[] =
    "modproxy is holding too many request bodies; retry in a few seconds";

/* Resets a request for reuse (its body freed first: body_free). The struct
 * is several KiB of header buffers; clearing each string's first byte
 * instead of the whole struct keeps the hot path cheap. */
static void request_reset(struct proxy_request *r) {
  r->method = r->head_only = r->keep_alive = r->expect_continue = 0;
  r->url_len = r->head_bytes = r->hname_len = r->hvalue_len = 0;
  r->header_count = r->host_count = r->error_status = r->hvalue_truncated = 0;
  r->body_waiting = 0;
  r->value_end = NULL;
  r->error_reason = NULL;
  r->start_ms = 0;
  char *const strings[] = {r->url,           r->hname,         r->hvalue,
                           r->if_none_match, r->range,         r->if_range,
                           r->request_id,    r->accept,        r->host,
                           r->content_type,  r->authorization, r->forwarded_for,
                           r->forwarded};
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
    strings[i][0] = '\0';
}

/* The request buffers, allocated for the duration of a request. */
static int request_ensure(struct proxy_conn *c) {
  if (c->req != NULL)
    return 0;
  c->req = malloc(sizeof *c->req);
  if (c->req == NULL)
    return -ENOMEM;
  c->req->body = NULL;
  c->req->body_len = c->req->body_cap = 0;
  request_reset(c->req);
  return 0;
}

static void request_free(struct proxy_conn *c) {
  if (c->req == NULL)
    return;
  body_free(c);
  free(c->req);
  c->req = NULL;
}

static int on_message_begin(llhttp_t *p) {
  struct proxy_conn *c = conn_of(p);
  body_free(c);
  request_reset(c->req);
  c->req->start_ms = uv_now(c->http->loop);
  if (c->state == CONN_IDLE) {
    conn_state(c, CONN_HEAD);
    arm_timer(c, HTTP_HEAD_TIMEOUT_MS);
  }
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len) {
  struct proxy_request *r = conn_of(p)->req;
  if (r->url_len + len > HTTP_MAX_URL_BYTES)
    return refuse(p, 414, "request target too long");
  memcpy(r->url + r->url_len, at, len);
  r->url_len += len;
  r->url[r->url_len] = '\0';
  return count_head(p, len);
}

/* RFC 9110 tchar: what a header name may be made of. */
static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') ||
         (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len) {
  struct proxy_request *r = conn_of(p)->req;
  for (size_t i = 0; i < len; i++)
    if (!is_tchar((unsigned char)at[i]))
      return refuse(p, 400, "invalid header name");
  size_t room = sizeof r->hname - 1 - r->hname_len;
  size_t n = len < room ? len : room;
  memcpy(r->hname + r->hname_len, at, n);
  r->hname_len += n;
  r->hname[r->hname_len] = '\0';
  return count_head(p, len + 4); /* ": " and CRLF */
}

static int on_header_value(llhttp_t *p, const char *at, size_t len) {
  struct proxy_request *r = conn_of(p)->req;
  /* llhttp accepts obsolete line folding, handing the continuation over as
   * another span of the same value with the line break skipped. A second
   * span that does not start where the first ended (within the same read)
   * is a fold: RFC 9112 5.2 lets a server refuse it. (A fold split exactly
   * at a read boundary is not seen; modproxy forwards no request, so it
   * cannot be a smuggling channel here.) */
  struct proxy_conn *c = conn_of(p);
  if (r->hvalue_len > 0 && r->value_end != NULL && at != c->feeding &&
      at != r->value_end)
    return refuse(p, 400, "obsolete line folding in a header");
  r->value_end = at + len;
  size_t room = sizeof r->hvalue - 1 - r->hvalue_len;
  size_t n = len < room ? len : room;
  if (n < len)
    r->hvalue_truncated = 1;
  memcpy(r->hvalue + r->hvalue_len, at, n);
  r->hvalue_len += n;
  r->hvalue[r->hvalue_len] = '\0';
  return count_head(p, len);
}

/* Keeps a header's value; one too long for dst is dropped whole, never cut
 * (a cut Range or Authorization would mean something else). */
static void keep_header(char *dst, size_t cap, const struct proxy_request *r) {
  int fits = !r->hvalue_truncated && r->hvalue_len < cap;
  snprintf(dst, cap, "%s", fits ? r->hvalue : "");
}

/* Appends a forwarding header's line to what the request has of it (a
 * trusted proxy's X-Forwarded-For may come as several lines). 0, or -1
 * past HTTP_MAX_FORWARDED_BYTES. */
static int keep_forwarded(char *dst, const struct proxy_request *r) {
  size_t have = strlen(dst);
  if (r->hvalue_truncated ||
      have + 2 + r->hvalue_len >= HTTP_MAX_FORWARDED_BYTES)
    return -1;
  if (have > 0) {
    memcpy(dst + have, ", ", 2);
    have += 2;
  }
  memcpy(dst + have, r->hvalue, r->hvalue_len + 1);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  struct proxy_conn *c = conn_of(p);
  struct proxy_request *r = c->req;
  if (r->hname_len == 0)
    return refuse(p, 400, "empty header name");
  if (++r->header_count > HTTP_MAX_HEADERS)
    return refuse(p, 431, "too many request headers");
  if (strcasecmp(r->hname, "if-none-match") == 0)
    keep_header(r->if_none_match, sizeof r->if_none_match, r);
  else if (strcasecmp(r->hname, "range") == 0)
    keep_header(r->range, sizeof r->range, r);
  else if (strcasecmp(r->hname, "if-range") == 0)
    keep_header(r->if_range, sizeof r->if_range, r);
  else if (strcasecmp(r->hname, "x-request-id") == 0)
    keep_header(r->request_id, sizeof r->request_id, r);
  else if (strcasecmp(r->hname, "accept") == 0)
    keep_header(r->accept, sizeof r->accept, r);
  else if (strcasecmp(r->hname, "host") == 0 && r->host_count++ == 0)
    keep_header(r->host, sizeof r->host, r);
  else if (strcasecmp(r->hname, "content-type") == 0)
    keep_header(r->content_type, sizeof r->content_type, r);
  else if (strcasecmp(r->hname, "authorization") == 0)
    keep_header(r->authorization, sizeof r->authorization, r);
  else if (strcasecmp(r->hname, "expect") == 0)
    r->expect_continue = strcasecmp(r->hvalue, "100-continue") == 0;
  else if (c->peer_trusted && strcasecmp(r->hname, "x-forwarded-for") == 0) {
    if (keep_forwarded(r->forwarded_for, r) < 0)
      return refuse(p, 431, "X-Forwarded-For too long");
  } else if (c->peer_trusted && strcasecmp(r->hname, "forwarded") == 0) {
    if (keep_forwarded(r->forwarded, r) < 0)
      return refuse(p, 431, "Forwarded too long");
  }
  r->hname_len = 0;
  r->hname[0] = '\0';
  r->hvalue_len = 0;
  r->hvalue[0] = '\0';
  r->hvalue_truncated = 0;
  r->value_end = NULL;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  struct proxy_conn *c = conn_of(p);
  struct proxy_request *r = c->req;
  if (llhttp_get_http_major(p) != 1)
    return refuse(p, 505, "only HTTP/1.0 and HTTP/1.1 are supported");
  /* RFC 9112 3.2: exactly one Host in HTTP/1.1. */
  if (r->host_count > 1 ||
      (r->host_count == 0 && llhttp_get_http_minor(p) == 1))
    return refuse(p, 400, "an HTTP/1.1 request needs exactly one Host header");
  /* Absolute-form targets (RFC 9112 3.2.2): keep the path. */
  if (strncmp(r->url, "http://", 7) == 0 ||
      strncmp(r->url, "https://", 8) == 0) {
    const char *path = strchr(strstr(r->url, "//") + 2, '/');
    size_t n = path != NULL ? strlen(path) : 0;
    memmove(r->url, path != NULL ? path : "/", n > 0 ? n + 1 : 2);
    r->url_len = n > 0 ? n : 1;
  }
  r->method = llhttp_get_method(p);
  r->head_only = r->method == HTTP_HEAD;
  r->keep_alive = llhttp_should_keep_alive(p);
  c->handler = http__handler_find(c->http, r->url);
  if (r->method == HTTP_POST && c->handler != NULL &&
      (c->handler->flags & HTTP_HANDLER_BODY) != 0) {
    if ((p->flags & F_CONTENT_LENGTH) != 0 &&
        p->content_length > HTTP_MAX_BODY_BYTES)
      return refuse(p, 413, "request body too large");
    /* Stop before the body: its handler decides on access first, then
     * reads it (proxy_conn_read_body). */
    r->body_waiting =
        (p->flags & F_CHUNKED) != 0 ||
        ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0);
    return r->body_waiting ? HPE_PAUSED : 0;
  }
  if (r->method != HTTP_GET && r->method != HTTP_HEAD)
    return refuse(p, 405, "only GET and HEAD are supported here");
  /* A body on GET/HEAD is how request smuggling starts: refuse it. */
  if ((p->flags & F_CHUNKED) != 0 ||
      ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > 0))
    return refuse(p, 400, "GET and HEAD requests must not have a body");
  return 0;
}

/* Chunked bodies (of unknown length) grow from this. */
#define HTTP_BODY_FIRST_BYTES (16u << 10)

static int on_body(llhttp_t *p, const char *at, size_t len) {
  struct proxy_conn *c = conn_of(p);
  struct proxy_request *r = c->req;
  if (r->body_len + len > HTTP_MAX_BODY_BYTES)
    return refuse(p, 413, "request body too large");
  int rc = body_reserve(c, r->body_len + len, HTTP_BODY_FIRST_BYTES);
  if (rc < 0)
    return refuse(p, 503, rc == -EAGAIN ? bodies_busy : "out of memory");
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  conn_of(p)->req->body_waiting = 0;
  return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Builds this request's id: random, so that nobody can guess another
 * request's id and read its record (/diag/req/<id>); never the client's
 * X-Request-Id, which the record keeps beside it. */
void http_server_new_id(struct http_server *s, char id[DIAG_ID_BYTES]) {
  static const char hex[] = "0123456789abcdef";
  if (s->id_pool_left < DIAG_ID_RANDOM_BYTES) {
    if (RAND_bytes(s->id_pool, sizeof s->id_pool) != 1) {
      /* OpenSSL's generator failed: ids would be guessable, and a record
       * then anyone's to read. */
      fprintf(stderr, "modproxy: RAND_bytes failed for request ids\n");
      abort();
    }
    s->id_pool_left = sizeof s->id_pool;
  }
  const unsigned char *rnd = s->id_pool + sizeof s->id_pool - s->id_pool_left;
  s->id_pool_left -= DIAG_ID_RANDOM_BYTES;
  for (size_t i = 0; i < DIAG_ID_RANDOM_BYTES; i++) {
    id[2 * i] = hex[rnd[i] >> 4];
    id[2 * i + 1] = hex[rnd[i] & 15];
  }
  id[2 * DIAG_ID_RANDOM_BYTES] = '\0';
}

/* The client's X-Request-Id, when it is short and printable ("" if not). */
static const char *client_request_id(const struct proxy_request *q) {
  const char *in = q->request_id;
  size_t n = strlen(in);
  int ok = n > 0 && n < DIAG_ID_BYTES;
  for (size_t i = 0; ok && i < n; i++)
    ok = (in[i] >= '0' && in[i] <= '9') || (in[i] >= 'a' && in[i] <= 'z') ||
         (in[i] >= 'A' && in[i] <= 'Z') || in[i] == '-' || in[i] == '_' ||
         in[i] == '.';
  return ok ? in : "";
}

/* The request's client address (c->peer), set here only: the peer, or for
 * a peer in --trusted-proxies, whom its forwarding headers name. Nothing
 * else reads those headers. */
static void client_address(struct proxy_conn *c) {
  struct http_server *h = c->http;
  const struct proxy_request *r = c->req;
  if (!c->peer_trusted)
    return; /* c->peer is tcp_peer from the accept on */
  if (!http__forwarded_client(h->trusted, h->ntrusted, r->forwarded_for,
                              r->forwarded, c->peer, sizeof c->peer))
    memcpy(c->peer, c->tcp_peer, sizeof c->peer);
}

/* A complete (or refused) request starts its diagnostic record. */
static void record_start(struct proxy_conn *c) {
  client_address(c);
  http_server_new_id(c->http, c->id);
  diag_record_dispose(&c->rec);
  memset(&c->rec, 0, sizeof c->rec);
  memcpy(c->rec.id, c->id, sizeof c->rec.id);
  snprintf(c->rec.client_id, sizeof c->rec.client_id, "%s",
           client_request_id(c->req));
  c->rec.start_ms = time_now_ms(CLOCK_REALTIME);
  c->rec.target = strdup(c->req->url);
  c->rec.client = strdup(c->peer);
  c->outcome_set = 0;
  c->auth_done = 0;
  c->needs_credentials = 0;
  c->user[0] = '\0';
}

/* The response is out (or the connection died): the record is complete. */
static void record_finish(struct proxy_conn *c) {
  struct http_server *h = c->http;
  if (c->gen != NULL) {
    /* How a generated body ended may be the generator's to say. */
    struct http_generator *g = c->gen;
    c->gen = NULL;
    g->stop(g, c);
  }
  if (c->rec.start_ms == 0)
    return;
  c->rec.ms = (uint32_t)(uv_now(h->loop) - c->req->start_ms);
  if (c->user[0] != '\0')
    c->rec.user = strdup(c->user);
  if (h->cfg.on_done != NULL)
    h->cfg.on_done(c, &c->rec, h->cfg.arg);
  else
    diag_record_dispose(&c->rec);
  memset(&c->rec, 0, sizeof c->rec);
}

void proxy_conn_outcome(struct proxy_conn *c, enum diag_outcome o) {
  c->rec.outcome = o;
  c->outcome_set = 1;
}

void proxy_conn_subject(struct proxy_conn *c, const char *module,
                        const char *version) {
  free(c->rec.module);
  free(c->rec.version);
  c->rec.module = module != NULL ? strdup(module) : NULL;
  c->rec.version =
      version != NULL && version[0] != '\0' ? strdup(version) : NULL;
}

void proxy_conn_attempts(struct proxy_conn *c, const char *json) {
  free(c->rec.attempts);
  c->rec.attempts = json != NULL ? strdup(json) : NULL;
}

void proxy_conn_explain(struct proxy_conn *c, const char *why) {
  free(c->rec.explanation);
  c->rec.explanation = why != NULL ? strdup(why) : NULL;
}

const char *proxy_conn_base(struct proxy_conn *c, char *buf, size_t len) {
  const char *h = c->req->host;
  size_t n = strlen(h);
  buf[0] = '\0';
  if (n == 0 || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789.-:[]") != n)
    return buf;
  snprintf(buf, len, "%s://%s", c->ssl != NULL ? "https" : "http", h);
  return buf;
}

/* Counts a request against its client's per-second allowance: the client
 * address (c->peer), not the connection, so that a trusted proxy's
 * connection carrying many clients limits each of them. */
static int over_rate(struct proxy_conn *c) {
  struct http_server *h = c->http;
  unsigned char a[16] = {0};
  if (h->cfg.max_request_rate == 0)
    return 0;
  /* c->peer is an address but for a peer getpeername could not name
   * (""): those share the all-zero key. */
  if (net_addr_parse(c->peer, a) < 0)
    memset(a, 0, sizeof a);
  return http__rate_over(h->rate, a, uv_now(h->loop), h->cfg.max_request_rate);
}

/* The hint names the proxy as ~/.netrc must: Go 1.24 and newer look a
 * credential up by host and port when the URL has a port (golang/go#81253),
 * Go 1.23 and older by host alone, so a proxy on its own port needs both. */
void proxy_conn_send_unauthorized(struct proxy_conn *c, const char *what) {
  char text[640], hostport[300], host[300], lines[700];
  snprintf(hostport, sizeof hostport, "%s",
           c->req->host[0] ? c->req->host : "HOST");
  snprintf(host, sizeof host, "%s", hostport);
  char *port = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
  if (port != NULL)
    port[host[0] == '[' ? 1 : 0] = '\0';
  if (port == NULL)
    snprintf(lines, sizeof lines,
             "  machine %s login USER password PASSWORD-OR-TOKEN\n", host);
  else
    snprintf(lines, sizeof lines,
             "  machine %s login USER password PASSWORD-OR-TOKEN (Go 1.24+)\n"
             "  machine %s login USER password PASSWORD-OR-TOKEN (older Go)\n",
             hostport, host);
  snprintf(text, sizeof text,
           "modproxy needs credentials for %s.\n"
           "Add the proxy to ~/.netrc (the go command sends it over https "
           "only):\n%s"
           "Ask the proxy's operators for a token if you have none.",
           what, lines);
  proxy_conn_outcome(c, DIAG_INVALID);
  proxy_conn_send_text_with(c, 401, text, NULL,
                            "WWW-Authenticate: Basic realm=\"modproxy\"\r\n");
}

/* 1 while the connection parses a request (the other states wait). */
static int conn_reading(const struct proxy_conn *c) {
  return c->state == CONN_IDLE || c->state == CONN_HEAD ||
         c->state == CONN_BODY;
}

/* Keeps bytes read ahead of the parser (pipelining, or bytes that arrive
 * while a request is handled) for later. 0 or -ENOMEM. */
static int pending_add(struct proxy_conn *c, const char *data, size_t len) {
  char *p = realloc(c->pending, c->pending_len + len);
  if (p == NULL)
    return -ENOMEM;
  memcpy(p + c->pending_len, data, len);
  c->pending = p;
  c->pending_len += len;
  return 0;
}

/* Feeds bytes to the parser. Stops at the end of one request's head or
 * body: the rest is kept in `pending` until the request is answered or its
 * body asked for. `data` is never `pending` itself (read_resume detaches
 * it first). */
static void feed(struct proxy_conn *c, const char *data, size_t len) {
  if (request_ensure(c) < 0) {
    conn_close(c);
    return;
  }
  c->feeding = data;
  llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
  if (err == HPE_OK)
    return;
  if (err == HPE_PAUSED) {
    const char *pos = llhttp_get_error_pos(&c->parser);
    size_t rest = len - (size_t)(pos - data);
    if (rest > 0 && pending_add(c, pos, rest) < 0) {
      conn_close(c);
      return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_timer_stop(&c->timer);
    int body_done = c->state == CONN_BODY;
    conn_state(c, CONN_HANDLING);
    if (body_done) {
      proxy_conn_body_cb cb = c->on_body;
      c->on_body = NULL;
      cb(c, c->body_arg);
      return;
    }
    c->http->stats.requests++;
    record_start(c);
    if (over_rate(c)) {
      c->req->keep_alive = 0;
      proxy_conn_outcome(c, DIAG_INVALID);
      proxy_conn_send_text(c, 429,
                           "too many requests from one client address; this "
                           "proxy allows --max-request-rate per second",
                           NULL);
      return;
    }
    http__dispatch(c);
    return;
  }
  /* A malformed or refused request: answer it and close. */
  int status = c->req->error_status != 0 ? c->req->error_status : 400;
  const char *why = c->req->error_reason != NULL
                        ? c->req->error_reason
                        : llhttp_get_error_reason(&c->parser);
  char msg[256];
  snprintf(msg, sizeof msg, "malformed HTTP request: %s", why);
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->req->keep_alive = 0;
  if (c->state == CONN_IDLE)
    conn_state(c, CONN_HEAD);
  if (c->state == CONN_HEAD)
    record_start(c); /* a body's request has its record already */
  c->on_body = NULL;
  proxy_conn_outcome(c, DIAG_INVALID);
  proxy_conn_send_text(c, status, status == 400 ? msg : why, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  struct proxy_conn *c = h->data;
  buf->base = c->http->read_buf;
  buf->len = sizeof c->http->read_buf;
}

/* ---- TLS ------------------------------------------------------------ */

struct tls_write {
  uv_write_t req;
  struct proxy_conn *conn;
  int close_after; /* the close_notify alert: close once it is out */
  char data[];
};

static void on_tls_flushed(uv_write_t *w, int status) {
  struct tls_write *t = (struct tls_write *)w;
  if (t->close_after)
    conn_close(t->conn);
  free(t);
}

/* Sends what OpenSSL wants sent on its own (handshake, session tickets,
 * alerts), in a write of its own. Ordered with the response writes by
 * libuv's write queue. */
static void tls_flush(struct proxy_conn *c, int close_after) {
  BIO *wbio = SSL_get_wbio(c->ssl);
  size_t n = BIO_ctrl_pending(wbio);
  if (n == 0 || c->state == CONN_CLOSING) {
    if (close_after)
      conn_close(c);
    return;
  }
  struct tls_write *t = malloc(sizeof *t + n);
  if (t == NULL) {
    conn_close(c);
    return;
  }
  t->conn = c;
  t->close_after = close_after;
  int got = BIO_read(wbio, t->data, (int)n);
  uv_buf_t b = uv_buf_init(t->data, got > 0 ? (unsigned)got : 0);
  if (uv_write(&t->req, (uv_stream_t *)&c->tcp, &b, 1, on_tls_flushed) < 0) {
    free(t);
    conn_close(c);
  }
}

/* Decrypts what has arrived and feeds it to the parser, as long as the
 * connection is reading a request (a paused parser leaves the rest of the
 * ciphertext in OpenSSL until read_next). */
static void tls_pump(struct proxy_conn *c) {
  if (!SSL_is_init_finished(c->ssl)) {
    int r = SSL_do_handshake(c->ssl);
    tls_flush(c, 0);
    if (r <= 0) {
      int e = SSL_get_error(c->ssl, r);
      ERR_clear_error();
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        conn_close(c);
      return;
    }
  }
  while (conn_reading(c)) {
    int n = SSL_read(c->ssl, c->http->tls_buf, sizeof c->http->tls_buf);
    if (n <= 0) {
      int e = SSL_get_error(c->ssl, n);
      ERR_clear_error();
      if (e != SSL_ERROR_WANT_READ)
        conn_close(c); /* close_notify, or a broken record */
      break;
    }
    feed(c, c->http->tls_buf, (size_t)n);
  }
  if (c->state != CONN_CLOSING)
    tls_flush(c, 0);
}

/* Ends a TLS connection politely: close_notify first, then the close. */
static void tls_close(struct proxy_conn *c) {
  if (SSL_is_init_finished(c->ssl))
    SSL_shutdown(c->ssl);
  ERR_clear_error();
  tls_flush(c, 1);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct proxy_conn *c = st->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  if (n == 0)
    return;
  /* Not parsing: a watched request (proxy_conn_watch), whose client is
   * evidently still there. Its bytes wait for the response to be out. */
  if (!conn_reading(c))
    uv_read_stop(st);
  if (c->ssl == NULL) {
    if (conn_reading(c))
      feed(c, buf->base, (size_t)n);
    else if (pending_add(c, buf->base, (size_t)n) < 0)
      conn_close(c);
    return;
  }
  if (BIO_write(SSL_get_rbio(c->ssl), buf->base, (int)n) != (int)n) {
    conn_close(c);
    return;
  }
  tls_pump(c);
}

/* Writes a response's buffers, encrypted on a TLS connection; on_written
 * runs when they are out. */
static int conn_write(struct proxy_conn *c, uv_buf_t *bufs, unsigned n) {
  c->write.data = c;
  if (c->ssl == NULL)
    return uv_write(&c->write, (uv_stream_t *)&c->tcp, bufs, n, on_written);
  for (unsigned i = 0; i < n; i++) {
    if (bufs[i].len > 0 &&
        SSL_write(c->ssl, bufs[i].base, (int)bufs[i].len) <= 0) {
      ERR_clear_error();
      return -EPROTO;
    }
  }
  BIO *wbio = SSL_get_wbio(c->ssl);
  size_t pending = BIO_ctrl_pending(wbio);
  free(c->tls_out);
  c->tls_out = malloc(pending > 0 ? pending : 1);
  if (c->tls_out == NULL)
    return -ENOMEM;
  int got = BIO_read(wbio, c->tls_out, (int)pending);
  uv_buf_t b = uv_buf_init(c->tls_out, got > 0 ? (unsigned)got : 0);
  return uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

/* Resumes parsing: what is pending first, then what arrives. */
static void read_resume(struct proxy_conn *c) {
  llhttp_resume(&c->parser);
  if (c->pending_len > 0) {
    char *data = c->pending;
    size_t len = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    feed(c, data, len);
    free(data);
    if (!conn_reading(c))
      return;
  }
  if (c->ssl != NULL)
    tls_pump(c); /* records that arrived while the request was handled */
  if (!conn_reading(c))
    return;
  if (c->state == CONN_IDLE) {
    request_free(c); /* nothing of a next request yet */
    arm_timer(c, HTTP_IDLE_TIMEOUT_MS);
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* After a response: parse what is pending or wait for more. */
static void read_next(struct proxy_conn *c) {
  conn_state(c, CONN_IDLE);
  if (c->close_after || c->http->stopping) {
    if (c->ssl != NULL)
      tls_close(c);
    else
      conn_close(c);
    return;
  }
  read_resume(c);
}

/* Tells a client that waits for it (Expect: 100-continue) to send its
 * body. Best effort: nothing else is being written at this point, so the
 * few bytes fit the socket buffer; without them curl sends after 1 s. */
static void send_continue(struct proxy_conn *c) {
  static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
  if (c->ssl != NULL) {
    if (SSL_write(c->ssl, msg, sizeof msg - 1) <= 0)
      ERR_clear_error();
    tls_flush(c, 0);
    return;
  }
  uv_buf_t b = uv_buf_init((char *)msg, sizeof msg - 1);
  uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
}

void proxy_conn_read_body(struct proxy_conn *c, proxy_conn_body_cb cb,
                          void *arg) {
  struct proxy_request *r = c->req;
  if (!r->body_waiting) {
    cb(c, arg);
    return;
  }
  /* A declared length is reserved whole, before a byte is read. */
  if ((c->parser.flags & F_CONTENT_LENGTH) != 0) {
    size_t n = (size_t)c->parser.content_length;
    int rc = body_reserve(c, n, n);
    if (rc < 0) {
      body_free(c);
      proxy_conn_outcome(c, DIAG_LOCAL);
      proxy_conn_send_text(c, 503,
                           rc == -EAGAIN ? bodies_busy : "out of memory", NULL);
      return;
    }
  }
  if (r->expect_continue && llhttp_get_http_minor(&c->parser) >= 1)
    send_continue(c);
  c->on_body = cb;
  c->body_arg = arg;
  conn_state(c, CONN_BODY);
  arm_timer(c, HTTP_BODY_TIMEOUT_MS);
  read_resume(c);
}

void proxy_conn_watch(struct proxy_conn *c, proxy_conn_gone_cb cb, void *arg) {
  c->on_gone = cb;
  c->gone_arg = arg;
  if (c->state != CONN_HANDLING)
    return;
  if (cb != NULL)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  else
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void http__conn_accept(struct http_server *s) {
  struct proxy_conn *c = calloc(1, sizeof *c);
  if (c == NULL)
    return;
  c->http = s;
  c->refs = 1;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->handles_open = 2;
  c->tcp.data = c;
  c->timer.data = c;
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) < 0) {
    conn_close(c);
    return;
  }
  if (s->cfg.max_connections > 0 && s->nconns > s->cfg.max_connections) {
    /* Over the limit: one short answer, then close (no TLS handshake). */
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; "
        "charset=utf-8\r\nContent-Length: 52\r\nConnection: close\r\n\r\n"
        "modproxy has too many connections; retry in a moment";
    uv_buf_t b = uv_buf_init((char *)busy, sizeof busy - 1);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage ss;
  int sl = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
    if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->tcp_peer, sizeof c->tcp_peer);
    else
      uv_ip4_name((struct sockaddr_in *)&ss, c->tcp_peer, sizeof c->tcp_peer);
    unsigned char a[16];
    c->peer_trusted = s->ntrusted > 0 && net_addr_parse(c->tcp_peer, a) == 0 &&
                      net_ranges_contain(s->trusted, s->ntrusted, a);
  }
  memcpy(c->peer, c->tcp_peer, sizeof c->peer);
  if (s->tls != NULL && (c->ssl = http__tls_session(s)) == NULL) {
    conn_close(c);
    return;
  }
  llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
  c->parser.data = c;
  c->state = CONN_IDLE;
  arm_timer(c, HTTP_IDLE_TIMEOUT_MS);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- responses ------------------------------------------------------- */

static const char *reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 206: return "Partial Content";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 410: return "Gone";
  case 413: return "Content Too Large";
  case 429: return "Too Many Requests";
  case 414: return "URI Too Long";
  case 416: return "Range Not Satisfiable";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

/* If-None-Match: does any listed tag (weak or strong) equal ours? */
static int etag_listed(const char *list, const char *etag) {
  size_t n = strlen(etag);
  for (const char *p = list; *p != '\0';) {
    while (*p == ' ' || *p == ',')
      p++;
    if (*p == '*')
      return 1;
    if (strncmp(p, "W/", 2) == 0)
      p += 2;
    if (strncmp(p, etag, n) == 0 &&
        (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
      return 1;
    while (*p != '\0' && *p != ',')
      p++;
  }
  return 0;
}

/* Reads the digits at p (RFC 9110: 1*DIGIT, no sign, no space) into *v,
 * saturating at UINT64_MAX; the end, or NULL when p holds no digit. */
static const char *range_digits(const char *p, uint64_t *v) {
  if (*p < '0' || *p > '9')
    return NULL;
  *v = 0;
  for (; *p >= '0' && *p <= '9'; p++)
    *v = *v > (UINT64_MAX - 9) / 10 ? UINT64_MAX
                                    : *v * 10 + (uint64_t)(*p - '0');
  return p;
}

/* Parses a single "bytes=a-b" range against size. 1: satisfiable range set,
 * 0: ignore the header (malformed, or several ranges: serve it all, as RFC
 * 9110 14.2 allows), -1: unsatisfiable (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *from,
                       uint64_t *to) {
  if (strncmp(h, "bytes=", 6) != 0)
    return 0;
  const char *p = h + 6;
  uint64_t a, b;
  if (*p == '-') {
    p = range_digits(p + 1, &b);
    if (p == NULL || *p != '\0')
      return 0;
    if (b == 0 || size == 0)
      return -1;
    *from = b >= size ? 0 : size - b;
    *to = size - 1;
    return 1;
  }
  p = range_digits(p, &a);
  if (p == NULL || *p != '-')
    return 0;
  p++;
  b = UINT64_MAX;
  if (*p != '\0') {
    p = range_digits(p, &b);
    if (p == NULL || *p != '\0' || b < a)
      return 0;
  }
  if (a >= size)
    return -1;
  *from = a;
  *to = b >= size ? size - 1 : b;
  return 1;
}

/* A response head being built in a fixed buffer, from strings copied as
 * they are (every response has one: no printf on this path). */
struct head {
  char *buf;
  size_t len, cap;
  int overflow;
};

/* Appends the strings, up to a NULL. */
__attribute__((sentinel)) static void head_add(struct head *h, ...) {
  va_list ap;
  va_start(ap, h);
  for (const char *s; (s = va_arg(ap, const char *)) != NULL;) {
    size_t n = strlen(s);
    if (n > h->cap - h->len) {
      h->overflow = 1;
      break;
    }
    memcpy(h->buf + h->len, s, n);
    h->len += n;
  }
  va_end(ap);
}

/* v in decimal, in buf (at least 21 bytes); returns where it starts. */
static const char *decimal(uint64_t v, char *buf, size_t cap) {
  char *p = buf + cap;
  *--p = '\0';
  do
    *--p = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  return p;
}

static void finish_response(struct proxy_conn *c) {
  record_finish(c);
  body_free(c);
  proxy_body_unref(c->body);
  c->body = NULL;
  read_next(c);
}

/* Asks the generator for the next piece of the body. */
static void body_proceed(struct proxy_conn *c) {
  c->gen->proceed(c->gen, c, c->body_off, c->body_end - c->body_off);
}

static void on_written(uv_write_t *w, int status) {
  struct proxy_conn *c = w->data;
  if (status < 0 || c->state == CONN_CLOSING) {
    conn_close(c);
    return;
  }
  if (c->gen != NULL && c->body_off < c->body_end) {
    body_proceed(c);
    return;
  }
  finish_response(c);
}

void proxy_conn_body_write(struct proxy_conn *c, const char *data, size_t len) {
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  c->body_off += len;
  c->http->stats.bytes_out += len;
  arm_timer(c, HTTP_WRITE_TIMEOUT_MS);
  if (conn_write(c, &b, 1) < 0)
    conn_close(c);
}

void proxy_conn_body_fail(struct proxy_conn *c) {
  conn_close(c);
}

void proxy_conn_body_wait(struct proxy_conn *c) {
  uv_timer_stop(&c->timer);
}

/* Ends a generator that gives no bytes to this response. */
static void gen_drop(struct http_generator *g) {
  if (g != NULL)
    g->stop(g, NULL);
}

void proxy_conn_send(struct proxy_conn *c, const struct conn_response *r) {
  if (c->state == CONN_CLOSING) {
    gen_drop(r->gen);
    return;
  }
  struct proxy_request *q = c->req;
  int status = r->status;
  uint64_t total = r->body != NULL ? r->body->len : r->size;
  uint64_t from = 0, to = total == 0 ? 0 : total - 1;
  int ranged = 0;
  char content_range[96] = "";
  if (status == 200 && r->etag != NULL && q->if_none_match[0] != '\0' &&
      etag_listed(q->if_none_match, r->etag)) {
    status = 304;
  } else if (status == 200 && r->rangeable && q->range[0] != '\0' &&
             (q->if_range[0] == '\0' ||
              (r->etag != NULL && strcmp(q->if_range, r->etag) == 0))) {
    int pr = parse_range(q->range, total, &from, &to);
    if (pr == 1) {
      status = 206;
      ranged = 1;
      snprintf(content_range, sizeof content_range,
               "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n",
               from, to, total);
    } else if (pr < 0) {
      char text[64], hdr[64];
      snprintf(text, sizeof text,
               "range not satisfiable: the file has %" PRIu64 " bytes", total);
      snprintf(hdr, sizeof hdr, "Content-Range: bytes */%" PRIu64 "\r\n",
               total);
      gen_drop(r->gen);
      proxy_conn_send_text_with(c, 416, text, NULL, hdr);
      return;
    }
  }
  uint64_t len = status == 304 ? 0 : ranged ? to - from + 1 : total;
  if (!ranged && total == 0)
    len = 0;
  /* A body never read is still on its way: the connection cannot go on. */
  int keep = q->keep_alive && !c->http->stopping && !q->body_waiting;
  if (c->on_gone != NULL)
    proxy_conn_watch(c, NULL, NULL); /* the handler is done */
  c->close_after = !keep;
  struct head h = {.buf = c->req->head, .cap = sizeof c->req->head};
  char num[24];
  head_add(&h, "HTTP/1.1 ", decimal((uint64_t)status, num, sizeof num), " ",
           reason_phrase(status), "\r\nDate: ", http__date(c->http),
           "\r\nServer: modproxy\r\nX-Request-Id: ", c->id, "\r\n", NULL);
  if (status != 304)
    head_add(&h, "Content-Type: ", r->content_type, "\r\n", NULL);
  if (r->rangeable)
    head_add(&h, "Accept-Ranges: bytes\r\n", NULL);
  if (r->etag != NULL)
    head_add(&h, "ETag: ", r->etag, "\r\n", NULL);
  /* An answer that needed credentials is the client's alone: a shared
   * cache in front (nginx) must not keep it for the next client. */
  if (r->cache_control != NULL && c->needs_credentials &&
      strncmp(r->cache_control, "public", 6) == 0)
    head_add(&h, "Cache-Control: private", r->cache_control + 6, "\r\n", NULL);
  else if (r->cache_control != NULL)
    head_add(&h, "Cache-Control: ", r->cache_control, "\r\n", NULL);
  head_add(&h, content_range, r->extra_headers != NULL ? r->extra_headers : "",
           NULL);
  /* A 304 has no body, and its Content-Length would have to be the
   * full response's: leave it out. */
  if (status != 304)
    head_add(&h, "Content-Length: ", decimal(len, num, sizeof num), "\r\n",
             NULL);
  head_add(&h, keep ? "" : "Connection: close\r\n", "\r\n", NULL);
  int n = (int)h.len;
  if (h.overflow) {
    fprintf(stderr, "conn %s: response head too large\n", c->id);
    gen_drop(r->gen);
    conn_close(c);
    return;
  }
  conn_state(c, CONN_WRITING);
  c->rec.status = status;
  c->rec.bytes = q->head_only ? 0 : len;
  if (!c->outcome_set)
    c->rec.outcome = status < 400                     ? DIAG_LOCAL
                     : status == 404 || status == 410 ? DIAG_NOT_FOUND
                     : status < 500                   ? DIAG_INVALID
                                                      : DIAG_UPSTREAM_ERROR;
  uv_buf_t bufs[2];
  unsigned nbufs = 1;
  bufs[0] = uv_buf_init(c->req->head, (unsigned)n);
  c->body_off = from;
  c->body_end = from + len;
  if (!q->head_only && len > 0 && r->body != NULL) {
    c->body = proxy_body_ref(r->body);
    bufs[1] = uv_buf_init(c->body->data + from, (unsigned)len);
    nbufs = 2;
    c->body_off = c->body_end;
    c->http->stats.bytes_out += len;
  } else if (!q->head_only && len > 0 && r->gen != NULL) {
    c->gen = r->gen; /* asked for bytes once the head is out */
  } else {
    gen_drop(r->gen);
  }
  arm_timer(c, HTTP_WRITE_TIMEOUT_MS);
  if (conn_write(c, bufs, nbufs) < 0)
    conn_close(c);
}

void proxy_conn_send_local(struct proxy_conn *c, int status,
                           const char *content_type, const char *text,
                           size_t len, const char *extra_headers) {
  struct proxy_body *b = text != NULL ? proxy_body_new(text, len) : NULL;
  if (b == NULL) {
    proxy_conn_send_text(c, 503, "modproxy is out of memory; retry shortly",
                         NULL);
    return;
  }
  proxy_conn_outcome(c, DIAG_LOCAL);
  struct conn_response r = {
      .status = status,
      .content_type = content_type,
      .cache_control = "no-store",
      .extra_headers = extra_headers,
      .body = b,
  };
  proxy_conn_send(c, &r);
  proxy_body_unref(b);
}

void proxy_conn_send_text(struct proxy_conn *c, int status, const char *text,
                          const char *cache_control) {
  proxy_conn_send_text_with(c, status, text, cache_control,
                            status == 405 ? "Allow: GET, HEAD\r\n" : NULL);
}

void proxy_conn_send_text_with(struct proxy_conn *c, int status,
                               const char *text, const char *cache_control,
                               const char *extra_headers) {
  char fitted[DIAG_WINDOW_BYTES + 64];
  char base[300], *full = NULL;
  proxy_conn_base(c, base, sizeof base);
  if (status >= 400 && base[0] != '\0' &&
      asprintf(&full, "%s\nsee %s/diag/req/%s\n", text, base, c->id) < 0)
    full = NULL;
  size_t n = diag_text_fit(full != NULL ? full : text, fitted, sizeof fitted);
  free(full);
  free(c->rec.explanation);
  c->rec.explanation = status >= 400 ? strdup(fitted) : NULL;
  struct proxy_body *b = proxy_body_new(fitted, n);
  if (b == NULL) {
    conn_close(c);
    return;
  }
  struct conn_response r = {
      .status = status,
      .content_type = "text/plain; charset=utf-8",
      .cache_control = cache_control != NULL ? cache_control : "no-store",
      .extra_headers = extra_headers,
      .body = b,
  };
  proxy_conn_send(c, &r);
  proxy_body_unref(b);
}

void http__conn_close_idle(struct http_server *s) {
  /* A request still arriving is in flight: it is finished (its head timeout
   * bounds the wait). */
  for (struct proxy_conn *c = s->conns; c != NULL; c = c->next)
    if (c->state == CONN_IDLE)
      conn_close(c);
}

void http__conn_close_all(struct http_server *s) {
  for (struct proxy_conn *c = s->conns; c != NULL; c = c->next)
    conn_close(c);
}

/* ---- what handlers read ------------------------------------------------- */

const char *proxy_conn_target(const struct proxy_conn *c) {
  return c->req->url;
}

int proxy_conn_method(const struct proxy_conn *c) {
  return c->req->method;
}

const char *proxy_conn_accept(const struct proxy_conn *c) {
  return c->req->accept;
}

const char *proxy_conn_authorization(const struct proxy_conn *c) {
  return c->req->authorization;
}

const char *proxy_conn_content_type(const struct proxy_conn *c) {
  return c->req->content_type;
}

const char *proxy_conn_body(const struct proxy_conn *c, size_t *len) {
  *len = c->req->body_len;
  return c->req->body;
}

const char *proxy_conn_id(const struct proxy_conn *c) {
  return c->id;
}

const char *proxy_conn_user(const struct proxy_conn *c) {
  return c->user;
}

void proxy_conn_set_needs_credentials(struct proxy_conn *c, int needs) {
  c->needs_credentials = needs;
}

void proxy_conn_record_sent(struct proxy_conn *c) {
  c->rec.bytes = c->body_off;
}
