/*
 * The HTTP server: its listener, its lifetime and what it shares among its
 * connections (the Date header, the request-id pool, the body budget).
 *
 * Closing (http_server_close) is asynchronous: the listener is a libuv
 * handle, and connections still closing refer to the server, so it is freed
 * when the last of them is gone.
 *
 * A reload (http_server_configure) reads the new TLS files and auth file
 * first and changes nothing unless both load: then new connections get the
 * new TLS context and new requests the new credentials, while connections
 * already open keep their TLS session and password checks already queued
 * finish against the credentials they started with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "http_internal.h"

/* Pending connections the kernel queues for us. */
#define HTTP_LISTEN_BACKLOG 1024

const char *http__date(struct http_server *h) {
  uint64_t now = uv_now(h->loop);
  if (h->date[0] == '\0' || now - h->date_ms >= 1000) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(h->date, sizeof h->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    h->date_ms = now;
  }
  return h->date;
}

int http_server_configure(struct http_server *h, const struct http_config *cfg,
                          char *err, size_t errlen) {
  SSL_CTX *tls = NULL;
  struct proxy_auth *auth = NULL;
  struct net_range trusted[NET_MAX_RANGES];
  size_t ntrusted = 0;
  int rc = net_ranges_parse(cfg->trusted_proxies, trusted, NET_MAX_RANGES,
                            &ntrusted, err, errlen);
  if (rc < 0) {
    char why[256];
    snprintf(why, sizeof why, "%s", err);
    snprintf(err, errlen, "--trusted-proxies: %s", why);
    return rc;
  }
  rc = http__tls_load(cfg, &tls, err, errlen);
  if (rc == 0 && cfg->auth_file != NULL) {
    rc = proxy_auth_load(cfg->auth_file, &auth, err, errlen);
    if (rc < 0 && rc != -EINVAL)
      snprintf(err, errlen, "--auth-file %s: %s", cfg->auth_file,
               strerror(-rc));
  }
  if (rc == 0 && auth != NULL && h->auth_checks == NULL) {
    rc = proxy_auth_checks_start(h->loop, &h->auth_checks);
    if (rc < 0)
      snprintf(err, errlen, "cannot start the password thread: %s",
               uv_strerror(rc));
  }
  if (rc == 0 && cfg->max_request_rate > 0 && h->rate == NULL) {
    rc = http__rate_new(&h->rate);
    if (rc < 0)
      snprintf(err, errlen, "--max-request-rate: %s", strerror(-rc));
  }
  if (rc < 0) {
    SSL_CTX_free(tls);
    proxy_auth_release(auth);
    return rc;
  }
  SSL_CTX_free(h->tls);
  h->tls = tls;
  proxy_auth_release(h->auth);
  h->auth = auth;
  memcpy(h->trusted, trusted, ntrusted * sizeof trusted[0]);
  h->ntrusted = ntrusted;
  h->cfg = *cfg;
  return 0;
}

int http_server_new(uv_loop_t *loop, const struct http_config *cfg,
                    struct http_server **out) {
  char err[512];
  struct http_server *h = calloc(1, sizeof *h);
  if (h == NULL) {
    fprintf(stderr, "modproxy: %s\n", strerror(ENOMEM));
    return -ENOMEM;
  }
  h->loop = loop;
  int rc = http_server_configure(h, cfg, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "modproxy: %s\n", err);
    http_server_close(h, NULL, NULL);
    return rc;
  }
  *out = h;
  return 0;
}

static void on_connection(uv_stream_t *l, int status) {
  struct http_server *h = l->data;
  if (status < 0 || h->stopping)
    return;
  http__conn_accept(h);
}

/* Parses "host:port", "[v6]:port" or ":port" (all interfaces). */
static int parse_listen(const char *spec, struct sockaddr_storage *ss) {
  char host[256];
  const char *colon = strrchr(spec, ':');
  if (colon == NULL || colon[1] == '\0')
    return -EINVAL;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return -EINVAL;
  size_t hlen = (size_t)(colon - spec);
  if (hlen >= sizeof host)
    return -EINVAL;
  memcpy(host, spec, hlen);
  host[hlen] = '\0';
  if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
    host[hlen - 1] = '\0';
    return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss);
  }
  return uv_ip4_addr(hlen == 0 ? "0.0.0.0" : host, (int)port,
                     (struct sockaddr_in *)ss);
}

int http_server_listen(struct http_server *h, const char *listen) {
  struct sockaddr_storage addr;
  if (parse_listen(listen, &addr) < 0) {
    fprintf(stderr, "modproxy: --listen: \"%s\" is not host:port\n", listen);
    return -EINVAL;
  }
  int rc = uv_tcp_init(h->loop, &h->listener);
  h->listener.data = h;
  if (rc == 0) {
    h->listening = 1;
    rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&addr, 0);
  }
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&h->listener, HTTP_LISTEN_BACKLOG,
                   on_connection);
  if (rc < 0)
    fprintf(stderr, "modproxy: cannot listen on %s: %s\n", listen,
            uv_strerror(rc));
  return rc;
}

int http_server_sockname(const struct http_server *h,
                         struct sockaddr_storage *ss) {
  int len = sizeof *ss;
  if (!h->listening)
    return -ENOTCONN;
  return uv_tcp_getsockname(&h->listener, (struct sockaddr *)ss, &len);
}

uint64_t http_server_connections(const struct http_server *h) {
  return h->nconns;
}

int http_server_tls(const struct http_server *h) {
  return h->tls != NULL;
}

const struct http_stats *http_server_stats(const struct http_server *h) {
  return &h->stats;
}

/* Frees h once its handles and connections are closed. */
static void close_step(struct http_server *h) {
  if (!h->closing || h->closes_pending > 0 || h->nconns > 0)
    return;
  http_close_cb cb = h->on_closed;
  void *arg = h->closed_arg;
  http__rate_free(h->rate);
  free(h);
  if (cb != NULL)
    cb(arg);
}

static void on_handle_closed(uv_handle_t *handle) {
  struct http_server *h = handle->data;
  h->closes_pending--;
  close_step(h);
}

void http__conn_freed(struct http_server *h) {
  close_step(h);
}

/* Closes the listener once (by stop or by close, whichever comes first);
 * h is not freed before its close callback ran. */
static void listener_close(struct http_server *h) {
  if (!h->listening || uv_is_closing((uv_handle_t *)&h->listener))
    return;
  h->closes_pending++;
  uv_close((uv_handle_t *)&h->listener, on_handle_closed);
}

void http_server_stop(struct http_server *h) {
  if (h->stopping)
    return;
  h->stopping = 1;
  listener_close(h);
  http__conn_close_idle(h);
}

void http_server_close_all(struct http_server *h) {
  http__conn_close_all(h);
}

void http_server_close(struct http_server *h, http_close_cb cb, void *arg) {
  if (h == NULL)
    return;
  h->stopping = 1;
  h->closing = 1;
  h->on_closed = cb;
  h->closed_arg = arg;
  /* One pending close for this function itself, so that h outlives it. */
  h->closes_pending++;
  listener_close(h);
  SSL_CTX_free(h->tls);
  h->tls = NULL;
  proxy_auth_checks_stop(h->auth_checks);
  h->auth_checks = NULL;
  proxy_auth_release(h->auth);
  h->auth = NULL;
  h->closes_pending--;
  close_step(h);
}
