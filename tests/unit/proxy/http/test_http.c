/*
 * HTTP/1.1 connections (proxy/http/conn.c) through a real server
 * (http_harness.h), talked to with plain blocking sockets.
 *
 * A request is fed whole, byte by byte and split at every offset, and must
 * always get the same response; pipelined requests are answered in order;
 * malformed requests (400), oversize heads (431), long targets (414), other
 * methods (405) and bodies on GET (400) are refused and the connection
 * closed; every response carries Content-Length. Stored modules are served
 * from the store: zips streamed, byte ranges, conditional requests. Stopping
 * the server (proxy_server_stop, from the loop thread) returns the run, and
 * connections left open are closed or their request finished.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
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
#include <openssl/evp.h>
#include <zip.h>

#include "modproxy/diag.h"
#include "modproxy/store.h"
#include "http_harness.h"

/* A pause between writes so the server sees them as separate reads. */
#define SPLIT_PAUSE_US 2000

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

#define HEALTHZ                                                                \
  "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n"

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
  assert_int_equal(harness_stop(h, STOP_TIMEOUT_MS), 0);
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
  harness_send_stop(h);
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
  assert_int_equal(harness_stop(h, STOP_TIMEOUT_MS), 0);
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
  return harness_start(state, &(struct harness_opts){.populate = fill_store});
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

/* A plain start and stop, nothing else. */
static void test_start_stop(void **state) {
  struct harness *h = *state;
  assert_true(h->port > 0);
  assert_int_equal(harness_stop(h, STOP_TIMEOUT_MS), 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, harness_setup, harness_teardown)
/* With a module in the store. */
#define D(f) cmocka_unit_test_setup_teardown(f, setup_data, harness_teardown)

int main(void) {
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
      D(test_stored_parts),
      D(test_zip_streamed),
      D(test_zip_ranges),
      D(test_conditional),
      D(test_304_content_length),
      T(test_head_timeout),
  };
  int rc = cmocka_run_group_tests(tests, harness_group_setup,
                                  harness_group_teardown);
  free(zip_bytes);
  return rc;
}
