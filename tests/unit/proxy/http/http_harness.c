/*
 * The server and the client of proxy/http's tests (http_harness.h): the
 * server runs on a thread of its own, so that the test's blocking client
 * and the loop never wait on each other.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "http_harness.h"
#include "testutil.h"

/* ---- the server on its own thread ---------------------------------------- */

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

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

int harness_group_setup(void **state) {
  signal(SIGPIPE, SIG_IGN);
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int harness_group_teardown(void **state) {
  curl_global_cleanup();
  return 0;
}

int harness_start(void **state, const struct harness_opts *o) {
  static const struct harness_opts defaults;
  if (o == NULL)
    o = &defaults;
  struct harness *h = calloc(1, sizeof *h);
  if (h == NULL)
    return -1;
  h->s = calloc(1, sizeof *h->s);
  if (h->s == NULL)
    return -1;
  if (test_mkdtemp(h->dir, sizeof h->dir, "test_http") < 0)
    return -1;
  if (o->populate != NULL && o->populate(h->dir) != 0) {
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
  h->cfg.max_connections = o->max_connections;
  h->cfg.max_request_rate = o->max_request_rate;
  h->cfg.trusted_proxies = o->trusted_proxies;
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

int harness_setup(void **state) {
  return harness_start(state, NULL);
}

void harness_send_stop(struct harness *h) {
  if (!h->stop_sent) {
    h->stop_sent = 1;
    uv_async_send(&h->stop_async);
  }
}

int harness_stop(struct harness *h, int timeout_ms) {
  harness_send_stop(h);
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

int harness_teardown(void **state) {
  struct harness *h = *state;
  int rc = 0;
  if (!h->done && harness_stop(h, STOP_TIMEOUT_MS) < 0) {
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
  test_rm_tree(h->dir);
  pthread_cond_destroy(&h->cond);
  pthread_mutex_destroy(&h->lock);
  free(h->s);
  free(h);
  return rc;
}

/* ---- a blocking client --------------------------------------------------- */

struct client *client_open(const struct harness *h) {
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

void client_close(struct client *c) {
  if (c == NULL)
    return;
  if (c->fd >= 0)
    close(c->fd);
  free(c);
}

void send_bytes(struct client *c, const char *p, size_t n) {
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

void send_str(struct client *c, const char *s) {
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

void response_free(struct response *r) {
  free(r->body);
  r->body = NULL;
}

const char *header(const struct response *r, const char *name, char *out,
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

void read_response(struct client *c, struct response *r, int head_only) {
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

void expect_closed(struct client *c) {
  ssize_t n;
  while ((n = recv_more(c)) > 0)
    ;
  if (n == -1)
    fail_msg("the server kept the connection open");
  if (c->len != 0)
    fail_msg("%zu unexpected bytes after the response: %.*s", c->len,
             (int)c->len, c->buf);
}

void check_framing(const struct response *r) {
  if (r->content_length < 0 && r->status != 304)
    fail_msg("no Content-Length in: %s", r->head);
  char v[64];
  if (header(r, "Transfer-Encoding", v, sizeof v) != NULL)
    fail_msg("Transfer-Encoding %s with Content-Length", v);
}

struct response get_once(struct harness *h, const char *req) {
  struct client *c = client_open(h);
  send_str(c, req);
  struct response r;
  read_response(c, &r, 0);
  client_close(c);
  return r;
}

void expect_refused(struct harness *h, const char *req, size_t len, int want) {
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

void expect_refused_str(struct harness *h, const char *req, int want) {
  expect_refused(h, req, strlen(req), want);
}

int status_of(struct harness *h, const char *req, size_t len) {
  struct client *c = client_open(h);
  send_bytes(c, req, len);
  struct response r;
  read_response(c, &r, 0);
  int status = r.status;
  response_free(&r);
  client_close(c);
  return status;
}

struct response get_on(struct client *c, const char *target, const char *extra,
                       int head_only) {
  char req[1024];
  snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n",
           head_only ? "HEAD" : "GET", target, extra != NULL ? extra : "");
  send_str(c, req);
  struct response r;
  read_response(c, &r, head_only);
  check_framing(&r);
  return r;
}
