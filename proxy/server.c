/*
 * The server process: listener, signals and orderly shutdown.
 *
 * SIGTERM/SIGINT: stop accepting, close idle connections, let requests in
 * flight finish for up to PROXY_DRAIN_TIMEOUT_MS, then close the rest and
 * exit 0. The store stays consistent whenever the process stops, since
 * every publish is one SQLite transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "auth.h"
#include "upstream.h"
#include "mirror.h"
#include "sumdb_proxy.h"
#include "vcs.h"

/* Pending connections the kernel queues for us. */
#define PROXY_LISTEN_BACKLOG 1024

const char *proxy_server_date(struct proxy_server *s) {
  uint64_t now = uv_now(s->loop);
  if (s->date[0] == '\0' || now - s->date_ms >= 1000) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    s->date_ms = now;
  }
  return s->date;
}

static void on_connection(uv_stream_t *l, int status) {
  struct proxy_server *s = l->data;
  if (status < 0 || s->stopping)
    return;
  proxy_conn_accept(s);
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

static void on_drain_timeout(uv_timer_t *t) {
  struct proxy_server *s = t->data;
  fprintf(stderr,
          "modproxy: requests still running after %d ms; closing them\n",
          PROXY_DRAIN_TIMEOUT_MS);
  proxy_conn_close_all(s);
  uv_stop(s->loop);
}

void proxy_server_stop(struct proxy_server *s) {
  if (s->stopping)
    return;
  s->stopping = 1;
  uv_close((uv_handle_t *)&s->listener, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  proxy_conn_close_idle(s);
  uv_timer_start(&s->drain_timer, on_drain_timeout, PROXY_DRAIN_TIMEOUT_MS, 0);
  /* The drain timer alone must not keep the loop running. */
  uv_unref((uv_handle_t *)&s->drain_timer);
}

static void on_signal(uv_signal_t *h, int signum) {
  struct proxy_server *s = h->data;
  fprintf(stderr, "modproxy: %s received, finishing requests in flight\n",
          signum == SIGTERM ? "SIGTERM" : "SIGINT");
  proxy_server_stop(s);
}

/* The URL of our own listener, for the analyses that fetch through it. */
static void set_self_url(struct proxy_server *s) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char host[64] = "127.0.0.1";
  int port = 0;
  if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) < 0)
    return;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
    if (strcmp(host, "::") == 0)
      snprintf(host, sizeof host, "::1");
    snprintf(s->self_url, sizeof s->self_url, "%s://[%s]:%d",
             s->tls != NULL ? "https" : "http", host, port);
    return;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  uv_ip4_name(a, host, sizeof host);
  port = ntohs(a->sin_port);
  if (strcmp(host, "0.0.0.0") == 0)
    snprintf(host, sizeof host, "127.0.0.1");
  snprintf(s->self_url, sizeof s->self_url, "%s://%s:%d",
           s->tls != NULL ? "https" : "http", host, port);
}

/* Closes h unless it was never initialised (the server is zeroed before
 * init, and uv_*_init sets the handle's loop) or is closing already. */
static void close_handle(uv_handle_t *h) {
  if (h->loop != NULL && !uv_is_closing(h))
    uv_close(h, NULL);
}

/*
 * The one undo path of proxy_server_init, also the end of proxy_server_run:
 * releases whatever was acquired, in reverse order. It accepts a server whose
 * init stopped at any step, because every member stays zero (NULL, no
 * loop) until its step succeeded and every release below skips a zero one.
 * `clean`: no work is running on the worker threads (always after a failed
 * init; after a run, when the drain finished in time). After a forced stop,
 * work still queued may use the record batches and the store, so those are
 * left to the exiting process.
 */
static void server_dispose(struct proxy_server *s, int clean) {
  close_handle((uv_handle_t *)&s->listener);
  close_handle((uv_handle_t *)&s->sigterm);
  close_handle((uv_handle_t *)&s->sigint);
  close_handle((uv_handle_t *)&s->drain_timer);
  if (clean && s->record_timer.loop != NULL)
    proxy_records_close(s);
  proxy_cache_close(s, clean);
  proxy_vcs_close(s);
  proxy_tls_close(s);
  proxy_auth_checks_stop(s->auth_checks);
  s->auth_checks = NULL;
  proxy_auth_free(s->auth);
  s->auth = NULL;
  upstream_list_free(s->upstreams);
  s->upstreams = NULL;
  /* One iteration runs the close callbacks of the handles closed above
   * (the fetcher, TLS and cache free their memory there) and of the
   * connections closed by the drain, which drop their hot-cache bodies. */
  uv_run(s->loop, UV_RUN_NOWAIT);
  goproxy_free(s->goproxy);
  s->goproxy = NULL;
  proxy_sumdb_free(s);
  proxy_mirror_free(s);
  /* After a forced stop, worker threads may still hold store connections;
   * the process is about to exit and SQLite's journal keeps the store
   * consistent, so only close it after a clean drain. */
  if (clean) {
    store_close(s->store);
    s->store = NULL;
  }
}

int proxy_server_init(struct proxy_server *s, uv_loop_t *loop,
                      const struct proxy_config *cfg) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->cfg = cfg;
  char err[512];
  int rc =
      upstream_list_new(loop, cfg->upstream, cfg->upstream_ca, &s->upstreams);
  if (rc < 0)
    goto fail;
  rc = store_open(cfg->data_dir, &s->store);
  if (rc < 0) {
    fprintf(stderr, "modproxy: cannot open the store in %s: %s\n",
            cfg->data_dir, strerror(-rc));
    goto fail;
  }
  snprintf(s->tmp_dir, sizeof s->tmp_dir, "%s/tmp", cfg->data_dir);
  if (mkdir(s->tmp_dir, 0750) < 0 && errno != EEXIST) {
    rc = -errno;
    fprintf(stderr, "modproxy: cannot create %s: %s\n", s->tmp_dir,
            strerror(errno));
    goto fail;
  }
  rc = goproxy_new(cfg->hot_cache_bytes, &s->goproxy);
  if (rc < 0) {
    fprintf(stderr, "modproxy: %s\n", strerror(-rc));
    goto fail;
  }
  rc = proxy_vcs_init(s);
  if (rc == 0)
    rc = proxy_tls_init(s);
  if (rc < 0)
    goto fail;
  if (cfg->auth_file != NULL) {
    rc = proxy_auth_load(cfg->auth_file, &s->auth, err, sizeof err);
    if (rc < 0) {
      fprintf(stderr, "modproxy: %s\n", rc == -EINVAL ? err : strerror(-rc));
      goto fail;
    }
    rc = proxy_auth_checks_start(loop, s->auth, &s->auth_checks);
    if (rc < 0) {
      fprintf(stderr, "modproxy: cannot start the password thread: %s\n",
              uv_strerror(rc));
      goto fail;
    }
  }
  rc = proxy_sumdb_init(s);
  if (rc == 0)
    rc = proxy_mirror_init(s);
  if (rc < 0)
    goto fail;
  struct sockaddr_storage addr;
  if (parse_listen(cfg->listen, &addr) < 0) {
    fprintf(stderr, "modproxy: --listen: \"%s\" is not host:port\n",
            cfg->listen);
    rc = -EINVAL;
    goto fail;
  }
  rc = uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  if (rc == 0)
    rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, PROXY_LISTEN_BACKLOG,
                   on_connection);
  if (rc < 0) {
    fprintf(stderr, "modproxy: cannot listen on %s: %s\n", cfg->listen,
            uv_strerror(rc));
    goto fail;
  }
  set_self_url(s);
  rc = uv_signal_init(loop, &s->sigterm);
  if (rc == 0)
    rc = uv_signal_init(loop, &s->sigint);
  s->sigterm.data = s->sigint.data = s;
  if (rc == 0)
    rc = uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  if (rc == 0)
    rc = uv_signal_start(&s->sigint, on_signal, SIGINT);
  if (rc == 0)
    rc = uv_timer_init(loop, &s->drain_timer);
  s->drain_timer.data = s;
  if (rc < 0) {
    fprintf(stderr, "modproxy: cannot set up signal handling: %s\n",
            uv_strerror(rc));
    goto fail;
  }
  rc = proxy_cache_init(s);
  if (rc == 0)
    rc = proxy_records_init(s);
  if (rc < 0) {
    fprintf(stderr, "modproxy: %s\n", strerror(-rc));
    goto fail;
  }
  return 0;
fail:
  server_dispose(s, 1);
  return rc;
}

int proxy_server_run(struct proxy_server *s) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  char host[64] = "?";
  int port = 0;
  if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  char *upstream = proxy_url_redact(s->cfg->upstream);
  fprintf(stderr,
          "modproxy %s listening on %s://%s:%d (data %s, upstream %s)\n",
          MODPROXY_VERSION, s->tls != NULL ? "https" : "http", host, port,
          s->cfg->data_dir, upstream != NULL ? upstream : "(out of memory)");
  free(upstream);
  int clean = uv_run(s->loop, UV_RUN_DEFAULT) == 0;
  server_dispose(s, clean);
  fprintf(stderr, "modproxy: stopped\n");
  return 0;
}
