/*
 * Endpoints for operators: /healthz (the process answers), /readyz (the
 * store takes writes; upstream reachability is reported, not required) and
 * /metrics (Prometheus text format). A query string is allowed on each;
 * /readyz?format=json answers in JSON. An offline mirror whose content is
 * older than --offline-stale-after is ready with a warning: builds still
 * work, with what it holds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror.h"
#include "ops.h"

enum ops_page { OPS_READY, OPS_METRICS };

struct ops_job {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *s;
  enum ops_page page;
  int json; /* ?format=json */
  int rc;
  struct store_stats stats;
};

static void on_ops_work(uv_work_t *w) {
  struct ops_job *j = w->data;
  struct store *st = j->s->store;
  proxy_mirror_refresh(j->s->mirror);
  j->rc =
      j->page == OPS_READY ? store_ping(st) : store_stats_get(st, &j->stats);
}

/* The readiness report: the store's state, then each upstream's, as text
 * or as JSON ({"ready":..,"store":..,"upstreams":[{"url":..,"state":..}]};
 * the strings hold no quote or backslash: URLs are shown redacted). */
static char *ready_text(const struct proxy_server *s, int rc, int json) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  const char *store = rc == 0 ? "writable" : strerror(-rc);
  char stale[256];
  int warn = proxy_mirror_stale(s->mirror, s->cfg->offline_stale_after_s,
                                (int64_t)time(NULL), stale, sizeof stale);
  if (json) {
    fprintf(f, "{\"ready\":%s,\"store\":\"%s\",\"warnings\":[",
            rc == 0 ? "true" : "false", store);
    if (warn)
      diag_json_write(f, stale);
    fputs("],\"upstreams\":[", f);
  } else {
    fprintf(f, "%s\nstore: %s\n", rc == 0 ? "ready" : "not ready", store);
    if (warn)
      fprintf(f, "warning: %s\n", stale);
  }
  for (int i = 0, n = 0; i < upstream_list_count(s->upstreams); i++) {
    const struct proxy_upstream *u = upstream_list_at(s->upstreams, i);
    if (u->base == NULL)
      continue;
    const struct upstream_health *h = &u->health;
    const char *state = h->last_ok == 0 && h->last_error_at == 0
                            ? "not used yet"
                        : h->last_error_at > h->last_ok ? "failing"
                                                        : "answering";
    if (json)
      fprintf(f, "%s{\"url\":\"%s\",\"state\":\"%s\"}", n++ > 0 ? "," : "",
              u->shown, state);
    else
      fprintf(f, "upstream %s: %s\n", u->shown, state);
  }
  if (json)
    fputs("]}\n", f);
  fclose(f);
  return out;
}

static void on_ops_done(uv_work_t *w, int status) {
  struct ops_job *j = w->data;
  struct proxy_conn *c = j->conn;
  if (!proxy_conn_gone(c)) {
    char *text =
        j->page == OPS_READY
            ? ready_text(j->s, j->rc, j->json)
            : (j->rc == 0 ? proxy_metrics_render(j->s, &j->stats) : NULL);
    if (text == NULL)
      proxy_conn_send_text(c, 503, "the store cannot be read; see the log",
                           NULL);
    else if (j->page == OPS_READY)
      proxy_conn_send_local(c, j->rc == 0 ? 200 : 503,
                            j->json ? "application/json"
                                    : "text/plain; charset=utf-8",
                            text, strlen(text), NULL);
    else
      proxy_conn_send_local(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                            text, strlen(text), NULL);
    free(text);
  }
  proxy_conn_release(c);
  free(j);
}

void proxy_route_ops(struct proxy_conn *c, void *arg) {
  struct proxy_server *s = arg;
  const char *url = proxy_conn_target(c);
  const char *query = url + strcspn(url, "?");
  size_t n = (size_t)(query - url);
  if (n == 8 && strncmp(url, "/healthz", n) == 0) {
    proxy_conn_send_local(c, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
    return;
  }
  /* Registered for /healthz, /readyz and /metrics alone. */
  enum ops_page page =
      n == 7 && strncmp(url, "/readyz", n) == 0 ? OPS_READY : OPS_METRICS;
  struct ops_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  j->conn = c;
  j->s = s;
  j->page = page;
  j->json = strstr(query, "format=json") != NULL;
  j->work.data = j;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &j->work, on_ops_work, on_ops_done) < 0) {
    proxy_conn_release(c);
    free(j);
    proxy_conn_send_text(c, 503, "could not queue the check; retry", NULL);
  }
}
