/*
 * The server process: listener, signals, reload and orderly shutdown.
 *
 * SIGTERM/SIGINT: stop accepting, close idle connections, let requests in
 * flight finish for up to PROXY_DRAIN_TIMEOUT_MS, then close the rest and
 * exit 0. The store stays consistent whenever the process stops, since
 * every publish is one SQLite transaction.
 *
 * SIGHUP (proxy_server_on_reload): a new whole configuration is made and
 * checked, the subsystems that keep state made from settings take it (the
 * HTTP layer re-reads the TLS files and the auth file, proxy/vcs takes the
 * private patterns and git routes), and s->cfg is swapped, all in one loop
 * callback: a request sees either configuration whole, never a mix. The
 * old one is freed once the work that holds it ends. Any error leaves the
 * running configuration untouched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mirror.h"
#include "server.h"
#include "vcs.h"

static void on_drain_timeout(uv_timer_t *t) {
  struct proxy_server *s = t->data;
  fprintf(stderr,
          "modproxy: requests still running after %d ms; closing them\n",
          PROXY_DRAIN_TIMEOUT_MS);
  http_server_close_all(s->http);
  uv_stop(s->loop);
}

void proxy_server_stop(struct proxy_server *s) {
  if (s->stopping)
    return;
  s->stopping = 1;
  http_server_stop(s->http);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
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

/* ---- the HTTP server's handlers and hooks ------------------------------- */

/* A finished request's record, from a connection or from goproxy_get. */
static void keep_record(struct proxy_server *s, struct diag_record *rec) {
  proxy_metrics_request(s, rec);
  proxy_records_push(s, rec);
}

static void on_request_done(struct proxy_conn *c, struct diag_record *rec,
                            void *arg) {
  struct proxy_server *s = arg;
  rec->audit = proxy_access_audited(s, rec);
  keep_record(s, rec);
}

static void on_hello(struct proxy_conn *c, void *arg) {
  static const char hello[] =
      "modproxy " MODPROXY_VERSION
      ": a Go module proxy. Point the go command here with\n"
      "  go env -w GOPROXY=<this URL>\n";
  proxy_conn_send_local(c, 200, "text/plain; charset=utf-8", hello,
                        sizeof hello - 1, NULL);
}

/* Every target and its handler; the first that matches wins, so the narrow
 * patterns come before the wide ones and GOPROXY takes the rest. */
static const struct route_spec {
  const char *pattern;
  enum http_match match;
  unsigned flags;
  http_handler_cb cb;
} routes[] = {
    {"/admin/", HTTP_MATCH_PREFIX, HTTP_HANDLER_BODY, proxy_route_admin},
    {"/healthz", HTTP_MATCH_QUERY, 0, proxy_route_ops},
    {"/readyz", HTTP_MATCH_QUERY, 0, proxy_route_ops},
    {"/metrics", HTTP_MATCH_QUERY, 0, proxy_route_ops},
    {"/", HTTP_MATCH_EXACT, 0, on_hello},
    {"/diag/modfile", HTTP_MATCH_QUERY, HTTP_HANDLER_BODY, proxy_route_modfile},
    {"/diag/mirror/missing.txt", HTTP_MATCH_QUERY, 0, proxy_route_mirror},
    {"/diag/mirror", HTTP_MATCH_QUERY, 0, proxy_route_mirror},
    {"/diag", HTTP_MATCH_TREE, 0, proxy_route_diag},
    {"/sumdb/", HTTP_MATCH_PREFIX, 0, proxy_route_sumdb},
    {"", HTTP_MATCH_PREFIX, 0, proxy_route},
};

/* What the HTTP layer takes of cfg. */
static struct http_config http_config_of(struct proxy_server *s,
                                         const struct proxy_config *cfg) {
  return (struct http_config){
      .tls_cert = cfg->tls_cert,
      .tls_key = cfg->tls_key,
      .auth_file = cfg->auth_file,
      .max_connections = cfg->max_connections,
      .max_request_rate = cfg->max_request_rate,
      .trusted_proxies = cfg->trusted_proxies,
      .access = proxy_access_check, /* access.c: the one place that decides */
      .on_done = on_request_done,
      .arg = s,
  };
}

/* Creates the HTTP server (TLS, credentials) and registers the handlers. */
static int http_init(struct proxy_server *s) {
  struct http_config hc = http_config_of(s, s->cfg);
  int rc = http_server_new(s->loop, &hc, &s->http);
  for (size_t i = 0; rc == 0 && i < sizeof routes / sizeof routes[0]; i++)
    rc = http_server_handle(s->http, routes[i].pattern, routes[i].match,
                            routes[i].flags, routes[i].cb, s);
  return rc;
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
  close_handle((uv_handle_t *)&s->sigterm);
  close_handle((uv_handle_t *)&s->sigint);
  close_handle((uv_handle_t *)&s->sighup);
  close_handle((uv_handle_t *)&s->drain_timer);
  if (clean && s->record_timer.loop != NULL)
    proxy_records_close(s);
  proxy_cache_close(s, clean);
  proxy_vcs_free(s->vcs);
  s->vcs = NULL;
  http_server_close(s->http, NULL, NULL);
  s->http = NULL;
  upstream_list_close(s->upstreams, NULL, NULL);
  s->upstreams = NULL;
  /* One iteration runs the close callbacks of the handles closed above
   * (the fetcher, HTTP server and cache free their memory there) and of the
   * connections closed by the drain, which drop their hot-cache bodies. */
  uv_run(s->loop, UV_RUN_NOWAIT);
  goproxy_free(s->goproxy);
  s->goproxy = NULL;
  proxy_sumdb_free(s->sumdb);
  s->sumdb = NULL;
  proxy_mirror_free(s->mirror);
  s->mirror = NULL;
  /* After a forced stop, worker threads may still hold store connections;
   * the process is about to exit and SQLite's journal keeps the store
   * consistent, so only close it after a clean drain. */
  if (clean) {
    store_close(s->store);
    s->store = NULL;
    proxy_config_release(s->cfg);
    s->cfg = NULL;
  }
}

int proxy_server_init(struct proxy_server *s, uv_loop_t *loop,
                      const struct proxy_config *cfg) {
  memset(s, 0, sizeof *s);
  s->loop = loop;
  s->cfg = cfg;
  s->record = keep_record;
  s->upstream_answered = proxy_metrics_upstream;
  proxy_config_hold(s);
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
  const struct vcs_config vcs = {
      .data_dir = cfg->data_dir,
      .tmp_dir = s->tmp_dir,
      .private_patterns = cfg->private_patterns,
      .git_routes = cfg->git_routes,
      .git_timeout_s = cfg->git_timeout_s,
      .direct_deny = cfg->direct_deny,
      .direct_allow = cfg->direct_allow,
      .direct_insecure = cfg->direct_insecure,
  };
  rc = proxy_vcs_new(loop, &vcs, s->store, upstream_list_fetcher(s->upstreams),
                     &s->vcs);
  if (rc == 0)
    rc = http_init(s);
  if (rc < 0)
    goto fail;
  const struct proxy_sumdb_config sumdb = {
      .sumdbs = cfg->sumdbs,
      .upstreams = s->upstreams,
      .loop = loop,
      .store = s->store,
      .read = proxy_sumdb_read, /* cached and coalesced (job_sumdb.c) */
      .reader = s,
  };
  rc = proxy_sumdb_new(&sumdb, &s->sumdb);
  const struct proxy_mirror_config mirror = {
      .loop = loop,
      .store = s->store,
      .offline = cfg->offline,
      .sumdb = s->sumdb,
  };
  if (rc == 0)
    rc = proxy_mirror_new(&mirror, &s->mirror);
  if (rc < 0)
    goto fail;
  rc = cfg->listen != NULL ? http_server_listen(s->http, cfg->listen) : 0;
  if (rc < 0)
    goto fail;
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
  char host[64] = "?";
  int port = 0;
  if (http_server_sockname(s->http, &ss) == 0) {
    if (ss.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
      port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
      port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
  }
  char *upstream = proxy_url_redact(s->cfg->upstream);
  int logs = s->cfg->listen != NULL; /* s->cfg is released when it ends */
  if (logs)
    fprintf(stderr,
            "modproxy %s listening on %s://%s:%d (data %s, upstream %s)\n",
            MODPROXY_VERSION, http_server_tls(s->http) ? "https" : "http", host,
            port, s->cfg->data_dir,
            upstream != NULL ? upstream : "(out of memory)");
  free(upstream);
  int clean = uv_run(s->loop, UV_RUN_DEFAULT) == 0;
  server_dispose(s, clean);
  if (logs)
    fprintf(stderr, "modproxy: stopped\n");
  return 0;
}

/* ---- reload (SIGHUP) ------------------------------------------------------ */

/* Gives the subsystems that keep state made from settings the new
 * configuration: all of it or, on an error (one line in err), none. A
 * subsystem that builds something from a setting (a parsed list, a loaded
 * file) takes it here; every other setting applies by being read from
 * s->cfg where it is used. */
static int apply(struct proxy_server *s, const struct proxy_config *cfg,
                 char *err, size_t errlen) {
  int rc = proxy_vcs_routes_check(cfg->git_routes, err, errlen);
  if (rc < 0)
    return rc;
  struct http_config hc = http_config_of(s, cfg);
  rc = http_server_configure(s->http, &hc, err, errlen);
  if (rc < 0)
    return rc;
  proxy_vcs_configure(s->vcs, cfg->private_patterns, cfg->git_routes);
  return 0;
}

static int same_text(const char *a, const char *b) {
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether a and b route modules alike: the same private patterns and git
 * routes. */
static int same_routes(const struct proxy_config *a,
                       const struct proxy_config *b) {
  if (!same_text(a->private_patterns, b->private_patterns))
    return 0;
  const char *const *x = a->git_routes, *const *y = b->git_routes;
  for (; x != NULL && y != NULL && *x != NULL && *y != NULL; x++, y++)
    if (strcmp(*x, *y) != 0)
      return 0;
  return (x == NULL || *x == NULL) && (y == NULL || *y == NULL);
}

static void on_sighup(uv_signal_t *h, int signum) {
  struct proxy_server *s = h->data;
  struct proxy_reload r = {.err = ""};
  struct proxy_config *cfg = s->reload(s->cfg, &r, s->reload_arg);
  if (cfg != NULL && apply(s, cfg, r.err, sizeof r.err) < 0) {
    proxy_config_release(cfg);
    cfg = NULL;
  }
  if (cfg == NULL) {
    fprintf(stderr,
            "modproxy: SIGHUP: %s; still serving with the previous settings\n",
            r.err);
    return;
  }
  const struct proxy_config *old = s->cfg;
  s->cfg = cfg;
  /* An answer remembered from the old route (a public 404 for a module
   * now private) is asked again. */
  if (!same_routes(old, cfg))
    s->answers_since = (int64_t)time(NULL);
  proxy_config_release(old);
  fprintf(stderr, "modproxy: SIGHUP: reloaded; %s%s%s%s\n",
          r.changed[0] != '\0' ? "changed: " : "no setting changed", r.changed,
          cfg->tls_cert != NULL ? "; TLS certificate and key read again" : "",
          cfg->auth_file != NULL ? "; auth file read again" : "");
  if (r.restart[0] != '\0')
    fprintf(stderr,
            "modproxy: SIGHUP: changed, but only applied by a restart: %s\n",
            r.restart);
}

void proxy_server_on_reload(struct proxy_server *s, proxy_reload_cb load,
                            void *arg) {
  int rc = uv_signal_init(s->loop, &s->sighup);
  s->sighup.data = s;
  if (rc == 0)
    rc = uv_signal_start(&s->sighup, on_sighup, SIGHUP);
  if (rc < 0) {
    fprintf(stderr,
            "modproxy: cannot handle SIGHUP (%s): change settings by a "
            "restart\n",
            uv_strerror(rc));
    return;
  }
  /* Waiting for a reload must not keep the loop (and shutdown) running. */
  uv_unref((uv_handle_t *)&s->sighup);
  s->reload = load;
  s->reload_arg = arg;
}
