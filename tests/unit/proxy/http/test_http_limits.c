/*
 * --max-connections and --max-request-rate at the connection
 * (proxy/http/conn.c), through a real server (http_harness.h) with limits
 * low enough to reach quickly: one connection over the limit gets 503, one
 * request over a client's rate gets 429, and both are closed. The client
 * the rate counts is the forwarded one (the test clients connect from a
 * trusted proxy, 127.0.0.1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_harness.h"

/* The limits at the edge: few, so that a test reaches them quickly. */
#define EDGE_CONNECTIONS 4
#define EDGE_REQUEST_RATE 5

/* The test clients connect from 127.0.0.1: a trusted proxy here. */
static int setup_limits(void **state) {
  return harness_start(state, &(struct harness_opts){
                                  .max_connections = EDGE_CONNECTIONS,
                                  .max_request_rate = EDGE_REQUEST_RATE,
                                  .trusted_proxies = "127.0.0.1/32",
                              });
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

#define L(f) cmocka_unit_test_setup_teardown(f, setup_limits, harness_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      L(test_request_rate_edge),
      L(test_connections_edge),
  };
  return cmocka_run_group_tests(tests, harness_group_setup,
                                harness_group_teardown);
}
