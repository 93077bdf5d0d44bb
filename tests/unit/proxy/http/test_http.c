/*
 * HTTP/1.1 connections (proxy/http/conn.c) through a real server: a struct
 * proxy_server on its own loop thread, listening on 127.0.0.1 with an
 * ephemeral port, a fresh data directory and upstream "off", talked to with
 * plain blocking sockets.
 *
 * A request is fed whole, byte by byte and split at every offset, and must
 * always get the same response; pipelined requests are answered in order;
 * malformed requests (400), oversize heads (431), long targets (414), other
 * methods (405) and bodies on GET (400) are refused and the connection
 * closed; every response carries Content-Length. Each test stops the server
 * with proxy_server_stop from the loop thread (through a uv_async) and checks
 * that the run returns, that every handle was closed (uv_loop_close) and how
 * connections left open are treated.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <uv.h>
#include <zip.h>

#include "modproxy/diag.h"
#include "modproxy/store.h"
#include "server.h"

/* How long a client waits for the server before the test fails. */
#define CLIENT_TIMEOUT_MS 5000
/* How long the server may take to stop once nothing is open. */
#define STOP_TIMEOUT_MS 5000
/* A pause between writes so the server sees them as separate reads. */
#define SPLIT_PAUSE_US 2000

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

static void on_stop_async(uv_async_t *a) {
  struct harness *h = a->data;
  proxy_server_stop(h->s);
  uv_close((uv_handle_t *)a, NULL);
}

static void *server_main(void *arg) {
  struct harness *h = arg;
  uv_loop_init(&h->loop);
  int rc = proxy_server_init(h->s, &h->loop, &h->cfg);
  int port = 0;
  if (rc == 0) {
    struct sockaddr_storage ss;
    rc = http_server_sockname(h->s->http, &ss);
    if (rc == 0)
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  }
  if (rc == 0) {
    uv_async_init(&h->loop, &h->stop_async, on_stop_async);
    h->stop_async.data = h;
  }
  pthread_mutex_lock(&h->lock);
  h->init_rc = rc;
  h->port = port;
  h->ready = rc == 0 ? 1 : -1;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  if (rc != 0)
    return NULL;
  int run_rc = proxy_server_run(h->s);
  int close_rc = uv_loop_close(&h->loop);
  pthread_mutex_lock(&h->lock);
  h->run_rc = run_rc;
  h->loop_close_rc = close_rc;
  h->done = 1;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->lock);
  return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

/* What a test puts in the store before the server opens it. */
static int (*populate)(const char *dir);
/* --max-connections and --max-request-rate for the next server (0: none),
 * and its --trusted-proxies (NULL: none). */
static uint64_t limit_connections, limit_request_rate;
static const char *trusted_proxies;

static int setup(void **state) {
  struct harness *h = calloc(1, sizeof *h);
  if (h == NULL)
    return -1;
  h->s = calloc(1, sizeof *h->s);
  if (h->s == NULL)
    return -1;
  snprintf(h->dir, sizeof h->dir, "/tmp/test_http.XXXXXX");
  if (mkdtemp(h->dir) == NULL)
    return -1;
  if (populate != NULL && populate(h->dir) != 0) {
    fprintf(stderr, "cannot fill the store in %s\n", h->dir);
    return -1;
  }
  h->cfg.listen = "127.0.0.1:0";
  h->cfg.data_dir = h->dir;
  h->cfg.upstream = "off";
  h->cfg.list_ttl_s = 300;
  h->cfg.not_found_ttl_s = 60;
  h->cfg.hot_cache_bytes = 1u << 20;
  h->cfg.records_keep = 1000;
  h->cfg.max_connections = limit_connections;
  h->cfg.max_request_rate = limit_request_rate;
  h->cfg.trusted_proxies = trusted_proxies;
  pthread_mutex_init(&h->lock, NULL);
  pthread_cond_init(&h->cond, NULL);
  if (pthread_create(&h->thread, NULL, server_main, h) != 0)
    return -1;
  struct timespec ts;
  deadline_in(&ts, CLIENT_TIMEOUT_MS);
  pthread_mutex_lock(&h->lock);
  while (h->ready == 0)
    if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) == ETIMEDOUT)
      break;
  int ready = h->ready;
  pthread_mutex_unlock(&h->lock);
  if (ready != 1) {
    fprintf(stderr, "server did not start: %d (%s)\n", h->init_rc,
            strerror(-h->init_rc));
    return -1;
  }
  *state = h;
  return 0;
}

/* Asks the loop thread to stop and waits for the run to return. Returns 0,
 * or -1 if it did not return in time. */
static void send_stop(struct harness *h) {
  if (!h->stop_sent) {
    h->stop_sent = 1;
    uv_async_send(&h->stop_async);
  }
}

static int stop_server(struct harness *h, int timeout_ms) {
  send_stop(h);
  struct timespec ts;
  deadline_in(&ts, timeout_ms);
  pthread_mutex_lock(&h->lock);
  while (!h->done)
    if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) == ETIMEDOUT)
      break;
  int done = h->done;
  pthread_mutex_unlock(&h->lock);
  return done ? 0 : -1;
}

static int teardown(void **state) {
  struct harness *h = *state;
  int rc = 0;
  if (!h->done && stop_server(h, STOP_TIMEOUT_MS) < 0) {
    fprintf(stderr, "the server did not stop within %d ms\n", STOP_TIMEOUT_MS);
    /* The thread is stuck in the loop: leave it (and its memory) be. */
    return -1;
  }
  pthread_join(h->thread, NULL);
  if (h->run_rc != 0) {
    fprintf(stderr, "proxy_server_run returned %d\n", h->run_rc);
    rc = -1;
  }
  if (h->loop_close_rc != 0) {
    fprintf(stderr, "uv_loop_close: %s (a handle was left open)\n",
            uv_strerror(h->loop_close_rc));
    rc = -1;
  }
  nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  pthread_cond_destroy(&h->cond);
  pthread_mutex_destroy(&h->lock);
  free(h->s);
  free(h);
  return rc;
}

/* ---- a blocking client --------------------------------------------------- */

struct client {
  int fd;
  char buf[4 << 20];
  size_t len; /* bytes received but not yet consumed */
};

static struct client *client_open(const struct harness *h) {
  struct client *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(c->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)h->port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0)
    fail_msg("connect to port %d: %s", h->port, strerror(errno));
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return c;
}

static void client_close(struct client *c) {
  if (c == NULL)
    return;
  if (c->fd >= 0)
    close(c->fd);
  free(c);
}

static void send_bytes(struct client *c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      fail_msg("send: %s", strerror(errno));
    p += w;
    n -= (size_t)w;
  }
}

static void send_str(struct client *c, const char *s) {
  send_bytes(c, s, strlen(s));
}

/* Waits for more bytes. Returns the count, 0 on EOF, -1 on timeout, -2 on
 * a connection reset. */
static ssize_t recv_more(struct client *c) {
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  int r = poll(&p, 1, CLIENT_TIMEOUT_MS);
  if (r == 0)
    return -1;
  if (c->len == sizeof c->buf)
    fail_msg("response larger than the client buffer");
  ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
  if (n < 0)
    return errno == ECONNRESET ? -2 : -1;
  c->len += (size_t)n;
  return n;
}

struct response {
  int status;
  char head[8192];     /* status line and headers, without the final CRLF */
  long content_length; /* -1: no header */
  char *body;
  size_t body_len;
};

static void response_free(struct response *r) {
  free(r->body);
  r->body = NULL;
}

/* The value of header name in r->head (case-insensitive), or NULL. */
static const char *header(const struct response *r, const char *name, char *out,
                          size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = strstr(r->head, "\r\n"); p != NULL;
       p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
      const char *v = line + nl + 1;
      while (*v == ' ')
        v++;
      size_t vl = strcspn(v, "\r");
      if (vl >= cap)
        vl = cap - 1;
      memcpy(out, v, vl);
      out[vl] = '\0';
      return out;
    }
  }
  return NULL;
}

/* Reads one response (head_only: no body follows, as for HEAD). Returns 0,
 * or fails the test with what went wrong. */
static void read_response(struct client *c, struct response *r, int head_only) {
  memset(r, 0, sizeof *r);
  char *end;
  for (;;) {
    end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (end != NULL)
      break;
    ssize_t n = recv_more(c);
    if (n <= 0)
      fail_msg("no complete response head (%s; %zu bytes: %.*s)",
               n == 0    ? "EOF"
               : n == -1 ? "timeout"
                         : "reset",
               c->len, (int)c->len, c->buf);
  }
  size_t hlen = (size_t)(end - c->buf);
  if (hlen >= sizeof r->head)
    fail_msg("response head of %zu bytes", hlen);
  memcpy(r->head, c->buf, hlen);
  r->head[hlen] = '\0';
  if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
    fail_msg("bad status line: %s", r->head);
  char v[64];
  r->content_length = -1;
  if (header(r, "Content-Length", v, sizeof v) != NULL)
    r->content_length = strtol(v, NULL, 10);
  size_t used = hlen + 4;
  memmove(c->buf, c->buf + used, c->len - used);
  c->len -= used;
  if (head_only || r->content_length <= 0) {
    r->body = calloc(1, 1);
    return;
  }
  size_t want = (size_t)r->content_length;
  while (c->len < want) {
    ssize_t n = recv_more(c);
    if (n <= 0)
      fail_msg("body cut short: %zu of %zu bytes", c->len, want);
  }
  r->body = malloc(want + 1);
  assert_non_null(r->body);
  memcpy(r->body, c->buf, want);
  r->body[want] = '\0';
  r->body_len = want;
  memmove(c->buf, c->buf + want, c->len - want);
  c->len -= want;
}

/* After the last response: the server closes, sending nothing more. */
static void expect_closed(struct client *c) {
  ssize_t n;
  while ((n = recv_more(c)) > 0)
    ;
  if (n == -1)
    fail_msg("the server kept the connection open");
  if (c->len != 0)
    fail_msg("%zu unexpected bytes after the response: %.*s", c->len,
             (int)c->len, c->buf);
}

/* The response with the headers that change per request (Date,
 * X-Request-Id) taken out, as one comparable string. */
static char *normalized(const struct response *r) {
  size_t cap = strlen(r->head) + r->body_len + 16;
  char *out = malloc(cap);
  assert_non_null(out);
  size_t w = 0;
  const char *p = r->head;
  while (*p != '\0') {
    const char *e = strstr(p, "\r\n");
    size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
    if (strncasecmp(p, "Date:", 5) != 0 &&
        strncasecmp(p, "X-Request-Id:", 13) != 0) {
      memcpy(out + w, p, n);
      w += n;
      out[w++] = '\n';
    }
    p += n + (e != NULL ? 2 : 0);
  }
  memcpy(out + w, r->body, r->body_len);
  w += r->body_len;
  out[w] = '\0';
  return out;
}

/* Every response says how long its body is, and the body is that long; a
 * 304 has no body and may leave Content-Length out (RFC 9110 8.6). */
static void check_framing(const struct response *r) {
  if (r->content_length < 0 && r->status != 304)
    fail_msg("no Content-Length in: %s", r->head);
  char v[64];
  if (header(r, "Transfer-Encoding", v, sizeof v) != NULL)
    fail_msg("Transfer-Encoding %s with Content-Length", v);
}

#define HEALTHZ                                                                \
  "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n"

static struct response get_once(struct harness *h, const char *req) {
  struct client *c = client_open(h);
  send_str(c, req);
  struct response r;
  read_response(c, &r, 0);
  client_close(c);
  return r;
}

/* ---- tests --------------------------------------------------------------- */

static void test_healthz(void **state) {
  struct harness *h = *state;
  struct response r = get_once(h, HEALTHZ);
  assert_int_equal(r.status, 200);
  check_framing(&r);
  assert_int_equal(r.content_length, 3);
  assert_string_equal(r.body, "ok\n");
  char v[128];
  assert_non_null(header(&r, "Content-Type", v, sizeof v));
  assert_non_null(strstr(v, "text/plain"));
  assert_non_null(header(&r, "Date", v, sizeof v));
  assert_non_null(header(&r, "X-Request-Id", v, sizeof v));
  assert_null(header(&r, "Connection", v, sizeof v));
  response_free(&r);
}

/* Request ids are random (96 bits in hex), never the client's own
 * X-Request-Id: nobody can guess or choose the key of another request's
 * record (/diag/req/<id>). */
static void test_request_ids(void **state) {
  struct harness *h = *state;
  char seen[2][64];
  for (int i = 0; i < 2; i++) {
    struct response r = get_once(h, "GET /healthz HTTP/1.1\r\nHost: t\r\n"
                                    "X-Request-Id: mine-1\r\n\r\n");
    assert_int_equal(r.status, 200);
    assert_non_null(header(&r, "X-Request-Id", seen[i], sizeof seen[i]));
    if (strlen(seen[i]) != 2 * DIAG_ID_RANDOM_BYTES ||
        strspn(seen[i], "0123456789abcdef") != strlen(seen[i]))
      fail_msg("request id %s is not %d random bytes in hex", seen[i],
               DIAG_ID_RANDOM_BYTES);
    response_free(&r);
  }
  assert_string_not_equal(seen[0], seen[1]);
}

/* The same request whole, byte by byte, and in two writes split at every
 * offset: all answered the same. */
static void test_request_splits(void **state) {
  struct harness *h = *state;
  const char *req = HEALTHZ;
  size_t len = strlen(req);
  struct response whole = get_once(h, req);
  assert_int_equal(whole.status, 200);
  char *want = normalized(&whole);

  struct client *c = client_open(h);
  for (size_t i = 0; i < len; i++) {
    send_bytes(c, req + i, 1);
    usleep(SPLIT_PAUSE_US / 4);
  }
  struct response r;
  read_response(c, &r, 0);
  char *got = normalized(&r);
  if (strcmp(got, want) != 0)
    fail_msg("byte by byte:\n%s\nwant:\n%s", got, want);
  free(got);
  response_free(&r);
  /* The connection is still usable. */
  send_str(c, req);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  response_free(&r);
  client_close(c);

  for (size_t cut = 1; cut < len; cut++) {
    c = client_open(h);
    send_bytes(c, req, cut);
    usleep(SPLIT_PAUSE_US);
    send_bytes(c, req + cut, len - cut);
    read_response(c, &r, 0);
    got = normalized(&r);
    if (strcmp(got, want) != 0)
      fail_msg("split at %zu:\n%s\nwant:\n%s", cut, got, want);
    free(got);
    response_free(&r);
    client_close(c);
  }
  /* The splits again on one keep-alive connection. */
  c = client_open(h);
  for (size_t cut = 1; cut < len; cut++) {
    send_bytes(c, req, cut);
    usleep(SPLIT_PAUSE_US);
    send_bytes(c, req + cut, len - cut);
    read_response(c, &r, 0);
    got = normalized(&r);
    if (strcmp(got, want) != 0)
      fail_msg("keep-alive split at %zu:\n%s\nwant:\n%s", cut, got, want);
    free(got);
    response_free(&r);
  }
  client_close(c);
  free(want);
  response_free(&whole);
}

static void test_pipelined(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  /* Three requests in one write. */
  send_str(c, HEALTHZ "GET / HTTP/1.1\r\nHost: x\r\n\r\n" HEALTHZ);
  struct response r;
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "modproxy"));
  check_framing(&r);
  response_free(&r);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);

  /* Many at once, the last asking to close. */
  char many[64 * 80];
  size_t w = 0;
  for (int i = 0; i < 40; i++)
    w += (size_t)snprintf(many + w, sizeof many - w,
                          "GET /diag/req/req-%d HTTP/1.1\r\nHost: t\r\n%s\r\n",
                          i, i == 39 ? "Connection: close\r\n" : "");
  send_bytes(c, many, w);
  for (int i = 0; i < 40; i++) {
    read_response(c, &r, 0);
    assert_int_equal(r.status, 404);
    char v[64], want[32];
    snprintf(want, sizeof want, "request req-%d:", i);
    if (strstr(r.body, want) == NULL)
      fail_msg("response %d answers %s: out of order", i, r.body);
    if (i == 39) {
      assert_non_null(header(&r, "Connection", v, sizeof v));
      assert_string_equal(v, "close");
    }
    response_free(&r);
  }
  expect_closed(c);
  client_close(c);

  /* A pipelined request cut across two writes. */
  c = client_open(h);
  send_str(c, HEALTHZ "GET /heal");
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  response_free(&r);
  usleep(SPLIT_PAUSE_US);
  send_str(c, "thz HTTP/1.1\r\nHost: x\r\n\r\n");
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);
  client_close(c);
}

/* A refused request gets status `want`, a text/plain reason, Content-Length,
 * Connection: close, and then the connection closes. */
static void expect_refused(struct harness *h, const char *req, size_t len,
                           int want) {
  struct client *c = client_open(h);
  send_bytes(c, req, len);
  struct response r;
  read_response(c, &r, 0);
  if (r.status != want)
    fail_msg("request %.60s...: status %d, want %d\n%s\n%s", req, r.status,
             want, r.head, r.body);
  check_framing(&r);
  assert_int_equal((size_t)r.content_length, r.body_len);
  assert_true(r.body_len > 0);
  char v[64];
  assert_non_null(header(&r, "Content-Type", v, sizeof v));
  assert_non_null(strstr(v, "text/plain"));
  assert_non_null(header(&r, "Connection", v, sizeof v));
  assert_string_equal(v, "close");
  response_free(&r);
  expect_closed(c);
  client_close(c);
}

static void expect_refused_str(struct harness *h, const char *req, int want) {
  expect_refused(h, req, strlen(req), want);
}

static void test_malformed(void **state) {
  struct harness *h = *state;
  expect_refused_str(h, "GARBAGE\r\n\r\n", 400);
  expect_refused_str(h, "GET\r\n\r\n", 400);
  expect_refused_str(h, "GET /healthz HTX/1.1\r\n\r\n", 400);
  expect_refused_str(
      h, "GET /healthz HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n", 400);
  expect_refused_str(
      h, "GET /healthz HTTP/1.1\r\nHost: t\r\n Folded: x\r\n\r\n", 400);
  expect_refused_str(h, "GET /healthz HTTP/1.1\r\nHost: t\r\nX\x01Y: 1\r\n\r\n",
                     400);
  expect_refused_str(h,
                     "GET /healthz HTTP/1.1\r\nHost: t\r\nX: a\x01"
                     "b\r\n\r\n",
                     400);
  expect_refused_str(h, "GET /healthz HTTP/1.1\nHost: x\n\n", 400);
  /* The ways to smuggle a body past a front proxy. */
  expect_refused_str(
      h, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length : 5\r\n\r\nhello",
      400);
  expect_refused_str(
      h,
      "GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 3\r\n\r\n0\r\n\r\n",
      400);
  expect_refused_str(h, "GET /heal thz HTTP/1.1\r\nHost: t\r\n\r\n", 400);
  expect_refused_str(h,
                     "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                     "Content-Length: 2\r\n\r\n",
                     400);
  /* A NUL in the request line. */
  static const char nul[] = "GET /heal\0thz HTTP/1.1\r\nHost: t\r\n\r\n";
  expect_refused(h, nul, sizeof nul - 1, 400);
  /* Malformed after a good request on the same connection: the good one is
   * answered, then the 400. */
  struct client *c = client_open(h);
  send_str(c, HEALTHZ "BROKEN\r\n\r\n");
  struct response r;
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  response_free(&r);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 400);
  check_framing(&r);
  response_free(&r);
  expect_closed(c);
  client_close(c);
}

/* A field name is a token (RFC 9112 section 5.1): one with a space in it, or
 * an empty one, makes the request malformed. */
static void test_invalid_header_names(void **state) {
  struct harness *h = *state;
  static const char *const reqs[] = {
      "GET /healthz HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost: t\r\n: empty name\r\n\r\n",
  };
  int accepted = 0;
  for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
    struct client *c = client_open(h);
    send_str(c, reqs[i]);
    struct response r;
    read_response(c, &r, 0);
    if (r.status != 400) {
      print_error("%s: status %d, want 400\n", reqs[i], r.status);
      accepted++;
    }
    response_free(&r);
    client_close(c);
  }
  assert_int_equal(accepted, 0);
}

/* Sends req on a fresh connection and returns the status. */
static int status_of(struct harness *h, const char *req, size_t len) {
  struct client *c = client_open(h);
  send_bytes(c, req, len);
  struct response r;
  read_response(c, &r, 0);
  int status = r.status;
  response_free(&r);
  client_close(c);
  return status;
}

static void test_oversize_head(void **state) {
  struct harness *h = *state;
  /* One huge header value. */
  size_t n = HTTP_MAX_HEAD_BYTES + 1024;
  char *req = malloc(n + 128);
  assert_non_null(req);
  size_t w =
      (size_t)snprintf(req, 128, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
  memset(req + w, 'b', n);
  w += n;
  w += (size_t)snprintf(req + w, 128, "\r\n\r\n");
  expect_refused(h, req, w, 431);
  /* Many small headers adding up. */
  w = (size_t)snprintf(req, 128, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; w + 64 < n; i++)
    w += (size_t)snprintf(req + w, 64, "X-H%d: %040d\r\n", i % 50, i);
  w += (size_t)snprintf(req + w, 8, "\r\n");
  expect_refused(h, req, w, 431);
  /* More headers than HTTP_MAX_HEADERS, each small. */
  w = (size_t)snprintf(req, 128, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
  for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
    w += (size_t)snprintf(req + w, 64, "X-N%d: v\r\n", i);
  w += (size_t)snprintf(req + w, 8, "\r\n");
  expect_refused(h, req, w, 431);
  /* Just under the limits: answered. */
  w = (size_t)snprintf(req, 128, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
  memset(req + w, 'b', 8000);
  w += 8000;
  w += (size_t)snprintf(req + w, 128, "\r\n\r\n");
  assert_int_equal(status_of(h, req, w), 200);
  free(req);
}

/* HTTP_MAX_HEADERS headers (Host included) are read; one more is 431. */
static void test_header_count_edge(void **state) {
  struct harness *h = *state;
  char req[4096];
  for (int n = HTTP_MAX_HEADERS; n <= HTTP_MAX_HEADERS + 1; n++) {
    size_t w = (size_t)snprintf(req, sizeof req,
                                "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    for (int i = 1; i < n; i++)
      w += (size_t)snprintf(req + w, sizeof req - w, "X-N%d: v\r\n", i);
    w += (size_t)snprintf(req + w, sizeof req - w, "\r\n");
    int want = n == HTTP_MAX_HEADERS ? 200 : 431;
    if (status_of(h, req, w) != want)
      fail_msg("%d headers: want %d", n, want);
  }
}

/* The head counts the target plus each header as "Name: value\r\n";
 * HTTP_MAX_HEAD_BYTES of it are read, one byte more is 431. */
static void test_head_bytes_edge(void **state) {
  struct harness *h = *state;
  static const char start[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ";
  size_t counted =
      strlen("/healthz") + strlen("Host: t\r\n") + strlen("X-Big: \r\n");
  char *req = malloc(HTTP_MAX_HEAD_BYTES + 256);
  assert_non_null(req);
  for (size_t extra = 0; extra <= 1; extra++) {
    size_t value = HTTP_MAX_HEAD_BYTES - counted + extra;
    size_t w = (size_t)snprintf(req, 128, "%s", start);
    memset(req + w, 'b', value);
    w += value;
    w += (size_t)snprintf(req + w, 8, "\r\n\r\n");
    int want = extra == 0 ? 200 : 431;
    if (status_of(h, req, w) != want)
      fail_msg("a head of HTTP_MAX_HEAD_BYTES + %zu: want %d", extra, want);
  }
  free(req);
}

/* A POST body of HTTP_MAX_BODY_BYTES is read; one byte more is 413, both
 * when announced (refused at the head: the body is not sent) and when it
 * arrives chunked. */
static void test_body_bytes_edge(void **state) {
  struct harness *h = *state;
  size_t cap = HTTP_MAX_BODY_BYTES + 256;
  char *req = malloc(cap);
  assert_non_null(req);
  for (size_t extra = 0; extra <= 1; extra++) {
    size_t len = HTTP_MAX_BODY_BYTES + extra;
    int want = extra == 0 ? 200 : 413;
    for (int chunked = 0; chunked <= 1; chunked++) {
      size_t w = (size_t)snprintf(
          req, 256,
          "POST /diag/modfile HTTP/1.1\r\nHost: t\r\nContent-Type: "
          "text/plain\r\n");
      if (chunked)
        w += (size_t)snprintf(req + w, 128,
                              "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", len);
      else
        w += (size_t)snprintf(req + w, 128, "Content-Length: %zu\r\n\r\n", len);
      if (want == 413 && !chunked) {
        if (status_of(h, req, w) != 413)
          fail_msg("a declared body of HTTP_MAX_BODY_BYTES + 1 was taken");
        continue;
      }
      w += (size_t)snprintf(req + w, 32, "module example.com/m\n//");
      size_t fill = len - strlen("module example.com/m\n//");
      memset(req + w, 'c', fill);
      w += fill;
      if (chunked)
        w += (size_t)snprintf(req + w, 16, "\r\n0\r\n\r\n");
      int got = status_of(h, req, w);
      if ((want == 413) != (got == 413))
        fail_msg("a %s body of HTTP_MAX_BODY_BYTES + %zu: status %d",
                 chunked ? "chunked" : "declared", extra, got);
    }
  }
  free(req);
}

static void test_long_url(void **state) {
  struct harness *h = *state;
  char *req = malloc(HTTP_MAX_URL_BYTES + 256);
  assert_non_null(req);
  /* One byte over the limit. */
  size_t w = (size_t)snprintf(req, 16, "GET /");
  memset(req + w, 'u', HTTP_MAX_URL_BYTES);
  w += HTTP_MAX_URL_BYTES;
  w += (size_t)snprintf(req + w, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_refused(h, req, w, 414);
  /* Exactly at the limit: not 414 (a GOPROXY 404 here). */
  w = (size_t)snprintf(req, 16, "GET /");
  memset(req + w, 'u', HTTP_MAX_URL_BYTES - 1);
  w += HTTP_MAX_URL_BYTES - 1;
  w += (size_t)snprintf(req + w, 64, " HTTP/1.1\r\nHost: x\r\n\r\n");
  struct client *c = client_open(h);
  send_bytes(c, req, w);
  struct response r;
  read_response(c, &r, 0);
  if (r.status == 414)
    fail_msg("a target of exactly %d bytes was refused", HTTP_MAX_URL_BYTES);
  check_framing(&r);
  response_free(&r);
  client_close(c);
  /* Over the limit, sent in small pieces. */
  w = (size_t)snprintf(req, 16, "GET /");
  memset(req + w, 'v', HTTP_MAX_URL_BYTES + 100);
  w += HTTP_MAX_URL_BYTES + 100;
  w += (size_t)snprintf(req + w, 64, " HTTP/1.1\r\nHost: t\r\n\r\n");
  c = client_open(h);
  for (size_t off = 0; off < w; off += 500) {
    send_bytes(c, req + off, w - off < 500 ? w - off : 500);
    usleep(SPLIT_PAUSE_US / 4);
  }
  read_response(c, &r, 0);
  assert_int_equal(r.status, 414);
  response_free(&r);
  client_close(c);
  free(req);
}

static void test_methods(void **state) {
  struct harness *h = *state;
  expect_refused_str(
      h, "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405);
  expect_refused_str(
      h, "POST /example.com/m/@v/list HTTP/1.1\r\nHost: t\r\n\r\n", 405);
  expect_refused_str(
      h, "PUT /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 405);
  expect_refused_str(h, "DELETE /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 405);
  expect_refused_str(h, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 405);
  /* HEAD: the head of the GET response, no body. */
  struct client *c = client_open(h);
  send_str(c, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  struct response r;
  read_response(c, &r, 1);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.content_length, 3);
  response_free(&r);
  /* No body bytes follow: the next response starts right away. */
  send_str(c, HEALTHZ);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);
  client_close(c);
}

static void test_body_on_get(void **state) {
  struct harness *h = *state;
  expect_refused_str(
      h, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
      400);
  expect_refused_str(
      h,
      "GET /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n",
      400);
  /* HEAD: refused as well; the answer to a HEAD has no body. */
  struct client *c = client_open(h);
  send_str(c,
           "HEAD /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx");
  struct response hr;
  read_response(c, &hr, 1);
  assert_int_equal(hr.status, 400);
  check_framing(&hr);
  response_free(&hr);
  expect_closed(c);
  client_close(c);
  /* Content-Length: 0 is no body. */
  struct response r = get_once(
      h, "GET /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  assert_int_equal(r.status, 200);
  response_free(&r);
}

static void test_connection_close(void **state) {
  struct harness *h = *state;
  /* HTTP/1.1 with Connection: close. */
  struct client *c = client_open(h);
  send_str(c, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  struct response r;
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  check_framing(&r);
  char v[32];
  assert_non_null(header(&r, "Connection", v, sizeof v));
  assert_string_equal(v, "close");
  response_free(&r);
  expect_closed(c);
  client_close(c);
  /* HTTP/1.0 without keep-alive. */
  c = client_open(h);
  send_str(c, "GET /healthz HTTP/1.0\r\n\r\n");
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);
  expect_closed(c);
  client_close(c);
}

/* GOPROXY answers that need no upstream: refused targets come back as
 * text/plain explanations the go command shows. */
static void test_goproxy_errors(void **state) {
  struct harness *h = *state;
  static const struct {
    const char *target;
    int status;
  } cases[] = {
      {"/github.com/Azure/x/@v/list", 400},
      {"/example.com/m/@v/master.mod", 404},
      {"/example.com/m/@v/v1.0.0.txt", 404},
      {"/example.com/m", 404},
      {"/sumdb/sum.golang.org/supported", 404},
  };
  struct client *c = client_open(h);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
             cases[i].target);
    send_str(c, req);
    struct response r;
    read_response(c, &r, 0);
    if (r.status != cases[i].status)
      fail_msg("%s: status %d, want %d", cases[i].target, r.status,
               cases[i].status);
    check_framing(&r);
    assert_true(r.body_len > 0);
    /* Fitted into the go command's window (lines end in one '\n'). */
    assert_true(r.body_len <= DIAG_WINDOW_BYTES + DIAG_WINDOW_LINES);
    char v[64];
    assert_non_null(header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; charset=utf-8");
    response_free(&r);
  }
  client_close(c);
}

/* Stopping with a keep-alive connection open and idle: it is closed and the
 * server exits at once. */
static void test_stop_closes_idle(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  send_str(c, HEALTHZ);
  struct response r;
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  response_free(&r);
  assert_int_equal(stop_server(h, STOP_TIMEOUT_MS), 0);
  expect_closed(c);
  client_close(c);
  /* New connections are refused. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)h->port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_not_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  close(fd);
}

/* Stopping while a request is half sent: when it completes it is answered,
 * with Connection: close, and then the server exits. */
static void test_stop_finishes_request(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  send_str(c, "GET /healthz HTTP/1.1\r\nHo");
  /* The server must have read the partial head before the stop (a loaded
   * machine, a sanitizer build): give it time. */
  usleep(300000);
  send_stop(h);
  usleep(20000);
  send_str(c, "st: x\r\n\r\n");
  struct response r;
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  char v[32];
  assert_non_null(header(&r, "Connection", v, sizeof v));
  assert_string_equal(v, "close");
  response_free(&r);
  expect_closed(c);
  client_close(c);
  assert_int_equal(stop_server(h, STOP_TIMEOUT_MS), 0);
}

/* ---- stored modules: zips streamed, ranges, conditional requests --------- */

#define MODULE "example.com/m"
#define VERSION "v1.0.0"
#define MOD_BYTES "module example.com/m\n"
#define INFO_BYTES "{\"Version\":\"v1.0.0\",\"Time\":\"2020-01-01T00:00:00Z\"}"
/* Over two of the server's zip read steps (PROXY_ZIP_CHUNK_BYTES). */
#define BIG_BYTES (PROXY_ZIP_CHUNK_BYTES * 2 + 4321)

/* The zip the server serves, as the test wrote it. */
static unsigned char *zip_bytes;
static size_t zip_len;

static int fill_store(const char *dir) {
  unsigned char *big = malloc(BIG_BYTES);
  if (big == NULL)
    return -1;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < BIG_BYTES; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    big[i] = (unsigned char)(x >> 29);
  }
  char path[128];
  snprintf(path, sizeof path, "%s/m.zip", dir);
  int err = 0;
  zip_t *za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (za == NULL)
    return -1;
  zip_source_t *s1 = zip_source_buffer(za, MOD_BYTES, strlen(MOD_BYTES), 0);
  zip_source_t *s2 = zip_source_buffer(za, big, BIG_BYTES, 0);
  zip_int64_t i1 = zip_file_add(za, MODULE "@" VERSION "/go.mod", s1, 0);
  zip_int64_t i2 = zip_file_add(za, MODULE "@" VERSION "/blob.bin", s2, 0);
  if (i1 < 0 || i2 < 0)
    return -1;
  zip_set_file_compression(za, (zip_uint64_t)i2, ZIP_CM_STORE, 0);
  if (zip_close(za) != 0)
    return -1;
  free(big);
  FILE *fp = fopen(path, "rb");
  if (fp == NULL)
    return -1;
  fseek(fp, 0, SEEK_END);
  zip_len = (size_t)ftell(fp);
  fseek(fp, 0, SEEK_SET);
  free(zip_bytes);
  zip_bytes = malloc(zip_len);
  if (zip_bytes == NULL || fread(zip_bytes, 1, zip_len, fp) != zip_len)
    return -1;
  fclose(fp);

  struct store *st = NULL;
  if (store_open(dir, &st) != 0)
    return -1;
  int rc = store_part_put(st, MODULE, VERSION, STORE_INFO, INFO_BYTES,
                          strlen(INFO_BYTES), "test");
  if (rc == 0)
    rc = store_part_put(st, MODULE, VERSION, STORE_MOD, MOD_BYTES,
                        strlen(MOD_BYTES), "test");
  if (rc == 0) {
    int fd = open(path, O_RDONLY);
    struct gozip_report rep;
    rc = fd < 0
             ? -1
             : store_zip_put_fd(st, MODULE, VERSION, fd, "test", 1, NULL, &rep);
    if (rc != 0)
      fprintf(stderr, "zip refused: %d %s\n", rc, rep.error);
    if (fd >= 0)
      close(fd);
  }
  store_close(st);
  return rc;
}

static int setup_data(void **state) {
  populate = fill_store;
  int rc = setup(state);
  populate = NULL;
  return rc;
}

static struct response get_on(struct client *c, const char *target,
                              const char *extra, int head_only) {
  char req[1024];
  snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n",
           head_only ? "HEAD" : "GET", target, extra != NULL ? extra : "");
  send_str(c, req);
  struct response r;
  read_response(c, &r, head_only);
  check_framing(&r);
  return r;
}

#define ZIP_URL "/" MODULE "/@v/" VERSION ".zip"

static void test_stored_parts(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  struct response r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", NULL, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, MOD_BYTES);
  char etag[64], v[128];
  assert_non_null(header(&r, "ETag", etag, sizeof etag));
  assert_non_null(header(&r, "Cache-Control", v, sizeof v));
  assert_non_null(strstr(v, "immutable"));
  response_free(&r);
  r = get_on(c, "/" MODULE "/@v/" VERSION ".info", NULL, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, INFO_BYTES);
  assert_non_null(header(&r, "Content-Type", v, sizeof v));
  assert_string_equal(v, "application/json");
  response_free(&r);
  /* The .mod again, now from the hot cache: the same bytes and tag. */
  r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", NULL, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, MOD_BYTES);
  assert_non_null(header(&r, "ETag", v, sizeof v));
  assert_string_equal(v, etag);
  response_free(&r);
  client_close(c);
}

static void test_zip_streamed(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  for (int round = 0; round < 2; round++) {
    struct response r = get_on(c, ZIP_URL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal((size_t)r.content_length, zip_len);
    assert_int_equal(r.body_len, zip_len);
    assert_memory_equal(r.body, zip_bytes, zip_len);
    char v[128];
    assert_non_null(header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/zip");
    assert_non_null(header(&r, "Accept-Ranges", v, sizeof v));
    assert_string_equal(v, "bytes");
    /* The ETag is the zip's SHA-256 (its first 32 hex digits, quoted). */
    unsigned char d[32];
    EVP_Digest(zip_bytes, zip_len, d, NULL, EVP_sha256(), NULL);
    char want[40];
    want[0] = '"';
    for (int i = 0; i < 16; i++)
      snprintf(want + 1 + 2 * i, 3, "%02x", d[i]);
    snprintf(want + 33, 2, "\"");
    assert_non_null(header(&r, "ETag", v, sizeof v));
    assert_string_equal(v, want);
    response_free(&r);
  }
  /* HEAD: the length, no bytes; the connection carries on. */
  struct response r = get_on(c, ZIP_URL, NULL, 1);
  assert_int_equal(r.status, 200);
  assert_int_equal((size_t)r.content_length, zip_len);
  response_free(&r);
  r = get_on(c, "/healthz", NULL, 0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "ok\n");
  response_free(&r);
  /* Two zips pipelined. */
  char two[512];
  snprintf(two, sizeof two,
           "GET %s HTTP/1.1\r\nHost: t\r\n\r\nGET %s HTTP/1.1\r\nHost: t\r\n"
           "Range: bytes=0-9\r\n\r\n",
           ZIP_URL, ZIP_URL);
  send_str(c, two);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, zip_len);
  assert_memory_equal(r.body, zip_bytes, zip_len);
  response_free(&r);
  read_response(c, &r, 0);
  assert_int_equal(r.status, 206);
  assert_int_equal(r.body_len, 10);
  assert_memory_equal(r.body, zip_bytes, 10);
  response_free(&r);
  client_close(c);
}

/* GETs the zip with "Range: spec": a 206 of its bytes from..to
 * (inclusive), with their Content-Range. */
static void expect_range(struct client *c, const char *spec, size_t from,
                         size_t to) {
  char hdr[192];
  snprintf(hdr, sizeof hdr, "Range: %s\r\n", spec);
  struct response r = get_on(c, ZIP_URL, hdr, 0);
  size_t len = to - from + 1;
  if (r.status != 206 || r.body_len != len)
    fail_msg("%s: status %d, %zu bytes, want 206 and %zu", spec, r.status,
             r.body_len, len);
  assert_memory_equal(r.body, zip_bytes + from, len);
  char v[128], want[128];
  snprintf(want, sizeof want, "bytes %zu-%zu/%zu", from, to, zip_len);
  assert_non_null(header(&r, "Content-Range", v, sizeof v));
  assert_string_equal(v, want);
  response_free(&r);
}

static void test_zip_ranges(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  size_t n = zip_len;
  struct {
    const char *fmt;
    size_t from, to; /* inclusive */
  } cases[] = {
      {"bytes=0-0", 0, 0},
      {"bytes=100-199", 100, 199},
      {"bytes=-10", n - 10, n - 1},
      {"bytes=1000-", 1000, n - 1},
      {"bytes=0-99999999", 0, n - 1},
      {"bytes=-99999999", 0, n - 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_range(c, cases[i].fmt, cases[i].from, cases[i].to);
  /* A range across the server's read steps. */
  char hdr[192];
  size_t a = PROXY_ZIP_CHUNK_BYTES - 7, b = PROXY_ZIP_CHUNK_BYTES * 2 + 7;
  snprintf(hdr, sizeof hdr, "Range: bytes=%zu-%zu\r\n", a, b);
  struct response r = get_on(c, ZIP_URL, hdr, 0);
  assert_int_equal(r.status, 206);
  assert_int_equal(r.body_len, b - a + 1);
  assert_memory_equal(r.body, zip_bytes + a, b - a + 1);
  response_free(&r);
  /* At the file's last byte and one past it: clamped to the file. */
  struct {
    size_t a, b; /* SIZE_MAX: absent */
    size_t from, to;
  } edges[] = {
      {0, n - 1, 0, n - 1},
      {n - 1, n - 1, n - 1, n - 1},
      {n - 1, n, n - 1, n - 1},
      {0, n, 0, n - 1},
      {n - 1, SIZE_MAX, n - 1, n - 1},
      {SIZE_MAX, n, 0, n - 1},
      {SIZE_MAX, n - 1, 1, n - 1},
      {SIZE_MAX, n + 1, 0, n - 1},
  };
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
    char spec[64], first[24] = "", last[24] = "";
    if (edges[i].a != SIZE_MAX)
      snprintf(first, sizeof first, "%zu", edges[i].a);
    if (edges[i].b != SIZE_MAX)
      snprintf(last, sizeof last, "%zu", edges[i].b);
    snprintf(spec, sizeof spec, "bytes=%s-%s", first, last);
    expect_range(c, spec, edges[i].from, edges[i].to);
  }
  /* Ranges that are ignored (malformed, or several): the whole zip. */
  static const char *const ignored[] = {
      "items=0-5",    "bytes=5-1", "bytes=0-1,5-6", "bytes=x-",
      "bytes=--5",    "bytes=-+5", "bytes=+0-5",    "bytes=0--5",
      "bytes=0-+5",   "bytes=- 5", "bytes=0- 5",    "bytes=-5,0-1",
      "bytes=0-,5-6", "bytes=-",   "bytes=0-5x",    "bytes=-0x5"};
  for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
    snprintf(hdr, sizeof hdr, "Range: %s\r\n", ignored[i]);
    r = get_on(c, ZIP_URL, hdr, 0);
    if (r.status != 200 || r.body_len != n)
      fail_msg("%s: status %d, %zu bytes", ignored[i], r.status, r.body_len);
    response_free(&r);
  }
  /* A Range header as long as modproxy keeps (127 bytes) is honoured; one
   * byte longer is ignored whole, never cut short. */
  for (size_t len = 127; len <= 128; len++) {
    char spec[160] = "bytes=";
    memset(spec + 6, '0', len - 6 - 3);
    memcpy(spec + len - 3, "0-9", 4);
    snprintf(hdr, sizeof hdr, "Range: %s\r\n", spec);
    r = get_on(c, ZIP_URL, hdr, 0);
    int want = len == 127 ? 206 : 200;
    if (r.status != want)
      fail_msg("a Range of %zu bytes: status %d, want %d", len, r.status, want);
    assert_int_equal(r.body_len, len == 127 ? 10 : n);
    response_free(&r);
  }
  /* If-Range with another tag: the whole zip. */
  r = get_on(c, ZIP_URL, "Range: bytes=0-9\r\nIf-Range: \"0000\"\r\n", 0);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body_len, n);
  char etag[64];
  assert_non_null(header(&r, "ETag", etag, sizeof etag));
  response_free(&r);
  /* If-Range with its tag: the range. */
  snprintf(hdr, sizeof hdr, "Range: bytes=0-9\r\nIf-Range: %s\r\n", etag);
  r = get_on(c, ZIP_URL, hdr, 0);
  assert_int_equal(r.status, 206);
  assert_int_equal(r.body_len, 10);
  response_free(&r);
  client_close(c);
  /* Not satisfiable: 416, and the connection is kept. */
  c = client_open(h);
  snprintf(hdr, sizeof hdr, "Range: bytes=%zu-\r\n", n);
  r = get_on(c, ZIP_URL, hdr, 0);
  assert_int_equal(r.status, 416);
  response_free(&r);
  r = get_on(c, ZIP_URL, "Range: bytes=-0\r\n", 0);
  assert_int_equal(r.status, 416);
  response_free(&r);
  r = get_on(c, "/healthz", NULL, 0);
  assert_int_equal(r.status, 200);
  response_free(&r);
  client_close(c);
}

static void test_conditional(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  struct response r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", NULL, 0);
  assert_int_equal(r.status, 200);
  char etag[64];
  assert_non_null(header(&r, "ETag", etag, sizeof etag));
  response_free(&r);
  char hdr[256];
  static const char *const forms[] = {"%s", "W/%s", "\"other\", %s", "*"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    char list[128];
    snprintf(list, sizeof list, forms[i], etag);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", list);
    r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", hdr, 0);
    if (r.status != 304)
      fail_msg("If-None-Match: %s: status %d, want 304", list, r.status);
    assert_int_equal(r.body_len, 0);
    char v[64];
    assert_non_null(header(&r, "ETag", v, sizeof v));
    assert_string_equal(v, etag);
    response_free(&r);
  }
  r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", "If-None-Match: \"nope\"\r\n",
             0);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, MOD_BYTES);
  response_free(&r);
  client_close(c);
}

/* A 304 may carry Content-Length only if it is the length the 200 would
 * have (RFC 9110 section 8.6); "0" for a non-empty .mod is wrong. */
static void test_304_content_length(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  struct response r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", NULL, 0);
  char etag[64], hdr[128], v[32];
  assert_non_null(header(&r, "ETag", etag, sizeof etag));
  response_free(&r);
  snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
  r = get_on(c, "/" MODULE "/@v/" VERSION ".mod", hdr, 0);
  int status = r.status;
  int wrong = header(&r, "Content-Length", v, sizeof v) != NULL &&
              strtol(v, NULL, 10) != (long)strlen(MOD_BYTES);
  response_free(&r);
  client_close(c);
  assert_int_equal(status, 304);
  if (wrong)
    fail_msg("304 with Content-Length: %s; the 200 has %zu bytes", v,
             strlen(MOD_BYTES));
}

/* A request head that never completes is dropped after
 * HTTP_HEAD_TIMEOUT_MS, even when bytes keep trickling in. */
static void test_head_timeout(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  send_str(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ssize_t n = 0;
  for (;;) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, 1000) == 1) {
      n = recv(c->fd, c->buf, sizeof c->buf, 0);
      if (n <= 0)
        break;
      /* a 408 before the close is fine too */
      continue;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms =
        (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms > HTTP_HEAD_TIMEOUT_MS + 5000)
      fail_msg("the connection was still open after %ld ms", ms);
    send_str(c, "X: y\r\n"); /* a trickle of header lines */
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  long ms =
      (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  assert_true(ms >= HTTP_HEAD_TIMEOUT_MS - 1000);
  client_close(c);
}

/* The limits at the edge: few, so that a test reaches them quickly. */
#define EDGE_CONNECTIONS 4
#define EDGE_REQUEST_RATE 5

/* The test clients connect from 127.0.0.1: a trusted proxy here. */
static int setup_limits(void **state) {
  limit_connections = EDGE_CONNECTIONS;
  limit_request_rate = EDGE_REQUEST_RATE;
  trusted_proxies = "127.0.0.1/32";
  int rc = setup(state);
  limit_connections = limit_request_rate = 0;
  trusted_proxies = NULL;
  return rc;
}

/* --trusted-proxies 127.0.0.1/32 (where the test clients connect from). */
static int setup_trusted(void **state) {
  trusted_proxies = "127.0.0.1/32";
  int rc = setup(state);
  trusted_proxies = NULL;
  return rc;
}

/* A GET /healthz on c for the client `xff` names (NULL: the peer), which
 * must get status `want`. */
static void expect_rate(struct client *c, const char *xff, int want,
                        const char *what) {
  char extra[128] = "";
  if (xff != NULL)
    snprintf(extra, sizeof extra, "X-Forwarded-For: %s\r\n", xff);
  struct response r = get_on(c, "/healthz", extra, 0);
  if (r.status != want)
    fail_msg("%s: status %d, want %d", what, r.status, want);
  response_free(&r);
}

/* --max-request-rate requests from one client address within a second are
 * answered; the next is 429 and closes the connection. The client is the
 * forwarded one: two clients on one connection of a trusted proxy are
 * counted apart, one client on two connections together. */
static void test_request_rate_edge(void **state) {
  struct harness *h = *state;
  struct client *c = client_open(h);
  for (int i = 1; i <= EDGE_REQUEST_RATE + 1; i++)
    expect_rate(c, NULL, i <= EDGE_REQUEST_RATE ? 200 : 429, "the peer");
  expect_closed(c);
  client_close(c);
  /* Two clients through one proxy connection: each has the allowance. */
  c = client_open(h);
  for (int i = 1; i <= EDGE_REQUEST_RATE; i++) {
    expect_rate(c, "10.0.0.1", 200, "client 1 of 2 on one connection");
    expect_rate(c, "10.0.0.2", 200, "client 2 of 2 on one connection");
  }
  expect_rate(c, "10.0.0.1", 429, "client 1 past its allowance");
  expect_closed(c);
  client_close(c);
  /* One client through two connections: one allowance. */
  struct client *c1 = client_open(h), *c2 = client_open(h);
  for (int i = 1; i <= EDGE_REQUEST_RATE; i++)
    expect_rate(i % 2 ? c1 : c2, "10.0.0.3", 200, "one client, 2 connections");
  expect_rate(c1, "10.0.0.3", 429, "one client past its allowance");
  expect_closed(c1);
  client_close(c1);
  client_close(c2);
}

/* From a trusted proxy, X-Forwarded-For and Forwarded are kept up to
 * HTTP_MAX_FORWARDED_BYTES, several lines of one header together; past it
 * (or a line past what a header value may hold), 431 rather than a list
 * cut short. */
static void test_forwarded_too_long(void **state) {
  struct harness *h = *state;
  static const char *const names[] = {"X-Forwarded-For", "Forwarded"};
  /* Lines of LINE bytes: two fit, three do not. */
  enum { LINE = 200 };
  _Static_assert(2 * LINE + 2 < HTTP_MAX_FORWARDED_BYTES &&
                     3 * LINE + 4 >= HTTP_MAX_FORWARDED_BYTES,
                 "two lines fit, three do not");
  char line[LINE + 1], req[2048];
  for (size_t i = 0; i < LINE; i += 10)
    memcpy(line + i, "10.0.0.1, ", 10);
  line[LINE - 2] = '\0'; /* no ", " at the end */
  for (int n = 0; n < 2; n++) {
    int w = snprintf(req, sizeof req, "GET /healthz HTTP/1.1\r\nHost: t\r\n");
    for (int lines = 1; lines <= 3; lines++) {
      w += snprintf(req + w, sizeof req - (size_t)w, "%s: %s\r\n", names[n],
                    line);
      char *end = req + w;
      memcpy(end, "\r\n", 3);
      if (lines < 3)
        assert_int_equal(status_of(h, req, strlen(req)), 200);
      else
        expect_refused_str(h, req, 431);
    }
    /* One line of two of these, past what a header value holds: 431. */
    snprintf(req, sizeof req,
             "GET /healthz HTTP/1.1\r\nHost: t\r\n%s: %s, %s\r\n\r\n", names[n],
             line, line);
    expect_refused_str(h, req, 431);
  }
}

/* --max-connections connections are served; one more gets 503 and is
 * closed, and once one leaves, a new one is served again. */
static void test_connections_edge(void **state) {
  struct harness *h = *state;
  struct client *open[EDGE_CONNECTIONS];
  for (int i = 0; i < EDGE_CONNECTIONS; i++) {
    open[i] = client_open(h);
    struct response r = get_on(open[i], "/healthz", NULL, 0);
    assert_int_equal(r.status, 200);
    response_free(&r);
  }
  struct client *extra = client_open(h);
  struct response r;
  read_response(extra, &r, 0);
  assert_int_equal(r.status, 503);
  response_free(&r);
  expect_closed(extra);
  client_close(extra);
  client_close(open[0]);
  usleep(50000); /* the server sees the close */
  open[0] = client_open(h);
  r = get_on(open[0], "/healthz", NULL, 0);
  assert_int_equal(r.status, 200);
  response_free(&r);
  for (int i = 0; i < EDGE_CONNECTIONS; i++)
    client_close(open[i]);
}

/* A plain start and stop, nothing else. */
static void test_start_stop(void **state) {
  struct harness *h = *state;
  assert_true(h->port > 0);
  assert_int_equal(stop_server(h, STOP_TIMEOUT_MS), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      T(test_start_stop),
      T(test_healthz),
      T(test_request_ids),
      T(test_request_splits),
      T(test_pipelined),
      T(test_malformed),
      T(test_invalid_header_names),
      T(test_oversize_head),
      T(test_header_count_edge),
      T(test_head_bytes_edge),
      T(test_body_bytes_edge),
      T(test_long_url),
      T(test_methods),
      T(test_body_on_get),
      T(test_connection_close),
      T(test_goproxy_errors),
      T(test_stop_closes_idle),
      T(test_stop_finishes_request),
      cmocka_unit_test_setup_teardown(test_stored_parts, setup_data, teardown),
      cmocka_unit_test_setup_teardown(test_zip_streamed, setup_data, teardown),
      cmocka_unit_test_setup_teardown(test_zip_ranges, setup_data, teardown),
      cmocka_unit_test_setup_teardown(test_conditional, setup_data, teardown),
      cmocka_unit_test_setup_teardown(test_304_content_length, setup_data,
                                      teardown),
      T(test_head_timeout),
      cmocka_unit_test_setup_teardown(test_request_rate_edge, setup_limits,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_forwarded_too_long, setup_trusted,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_connections_edge, setup_limits,
                                      teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  free(zip_bytes);
  return rc;
}
