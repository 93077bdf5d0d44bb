/*
 * /diag over HTTP: what the proxy saw, for the developer whose build failed
 * and for the platform team. Each page is available as plain text (curl),
 * HTML (browsers) and JSON (?format=json or Accept: application/json).
 *
 *   /diag            recent failures by cause, upstream health, most-missed
 *                    modules, cache size and hit ratio
 *   /diag/req/<id>   the full record of one request
 *   /diag/config     the go command settings for clients of this proxy
 *   /diag/module/<path>[@<version>]  versions held, where each came from,
 *                    hashes, findings, and who asked for it when
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"
#include "ops.h"
#include "page.h"

/* Rows of the request table on one page of /diag. */
#define DIAG_PAGE_ROWS 25
/* Findings and most-missed modules listed on /diag. */
#define DIAG_FINDINGS 20
#define DIAG_MISSED 10
/* Charts on /diag: bars of the range's buckets in this box (px). */
#define DIAG_CHART_W 168
#define DIAG_CHART_H 28

/* Renders a page with fn(f, arg) into a new heap string, or NULL. */
static char *render(void (*fn)(FILE *, const void *), const void *arg) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  fn(f, arg);
  fclose(f);
  return out;
}

/* One page in its three forms: fn[PROXY_FORMAT_*] renders each from arg.
 * Sends the negotiated one, or 503 when it cannot be rendered. */
static void send_page(struct proxy_conn *c, enum proxy_format fmt,
                      void (*const fn[3])(FILE *, const void *),
                      const void *arg) {
  static const char *const types[] = {
      [PROXY_FORMAT_TEXT] = "text/plain; charset=utf-8",
      [PROXY_FORMAT_HTML] = "text/html; charset=utf-8",
      [PROXY_FORMAT_JSON] = "application/json",
  };
  char *body = render(fn[fmt], arg);
  if (body == NULL)
    proxy_conn_send_text(c, 503, "out of memory", NULL);
  else
    proxy_conn_send_local(c, 200, types[fmt], body, strlen(body),
                          "Vary: Accept\r\n");
  free(body);
}

/* 1 if the client may see a record about module (may be "" or NULL) with
 * this target (access.c decides). */
static int record_visible(const struct proxy_server *s,
                          const struct proxy_conn *c, const char *module,
                          const char *target) {
  return proxy_access_may_see(
      s, proxy_conn_user(c),
      module != NULL && module[0] != '\0' ? module : NULL, target);
}

/* A page's context: the request target (for the page's own links) and
 * what it shows. */
struct record_page {
  const char *self;
  const struct diag_record *r;
};

static void record_text(FILE *f, const void *arg) {
  const struct record_page *p = arg;
  char *text = diag_record_text(p->r);
  fputs(text != NULL ? text : "out of memory\n", f);
  free(text);
}

static void record_json(FILE *f, const void *arg) {
  const struct record_page *p = arg;
  char *json = diag_record_json(p->r);
  fputs(json != NULL ? json : "null", f);
  fputc('\n', f);
  free(json);
}

static void attempt_row(void *arg, const char *what, long status,
                        const char *error, long ms) {
  FILE *f = arg;
  fputs("<tr><td><code>", f);
  page_esc(f, what);
  fprintf(f, "</code></td><td class=\"n\">%ld</td><td>", status);
  page_esc(f, error);
  fprintf(f, "</td><td class=\"n\">%ld</td></tr>\n", ms);
}

/* A link to /diag listing the requests that match name=value (and every
 * status, not only failures). */
static void filter_link(FILE *f, const char *name, const char *value,
                        const char *text) {
  fprintf(f, "<a href=\"/diag?status=all&amp;%s=", name);
  page_url(f, value);
  fputs("\">", f);
  page_esc(f, text);
  fputs("</a>", f);
}

static void record_html(FILE *f, const void *arg) {
  const struct record_page *p = arg;
  const struct diag_record *r = p->r;
  char title[64], when[32];
  snprintf(title, sizeof title, "Request %s", r->id);
  page_time(r->start_ms, when, sizeof when);
  page_begin(f, title, PAGE_NAV_NONE);
  fputs("<div class=\"scroll\"><table id=\"record\">", f);
  fprintf(f, "<tr><th>id</th><td><code>%s</code></td></tr>", r->id);
  fprintf(f, "<tr><th>time</th><td>%s UTC</td></tr>", when);
  fputs("<tr><th>client</th><td>", f);
  if (r->client != NULL)
    filter_link(f, "client", r->client, r->client);
  fputs("</td></tr><tr><th>request</th><td><code>", f);
  page_esc(f, r->target);
  fputs("</code></td></tr>", f);
  if (r->client_id[0] != '\0') {
    fputs("<tr><th>the client's X-Request-Id</th><td><code>", f);
    page_esc(f, r->client_id);
    fputs("</code></td></tr>", f);
  }
  if (r->module != NULL) {
    fputs("<tr><th>module</th><td id=\"module\">", f);
    page_module_link(f, r->module, NULL);
    if (r->version != NULL) {
      fputs(" version ", f);
      page_module_link(f, r->module, r->version);
    }
    fputs(" &middot; ", f);
    filter_link(f, "q", r->module, "its requests");
    fputs("</td></tr>", f);
  }
  const char *cause = diag_outcome_name(r->outcome);
  fputs("<tr><th>outcome</th><td>", f);
  filter_link(f, "cause", cause, cause);
  fprintf(f,
          ", HTTP %d</td></tr><tr><th>sent</th><td>%" PRIu64 " bytes in "
          "%" PRIu32 " ms</td></tr></table></div>\n",
          r->status, r->bytes, r->ms);
  if (r->attempts != NULL && strcmp(r->attempts, "[]") != 0) {
    page_table_begin(f, "Attempts", "attempts", 1,
                     "upstream or command|status|error|ms");
    diag_attempts_each(r->attempts, attempt_row, f);
    page_table_end(f, 1);
  }
  if (r->explanation != NULL) {
    fputs("<h2>Explanation sent</h2><pre>", f);
    page_esc(f, r->explanation);
    fputs("</pre>\n", f);
  }
  page_end(f, p->self);
}

static void send_record(const struct proxy_server *s, struct proxy_conn *c,
                        enum proxy_format fmt, const struct diag_record *r) {
  if (!record_visible(s, c, r->module, r->target)) {
    /* The same answer as for an unknown id: nothing about a private
     * module reaches an anonymous client. */
    proxy_conn_send_text(c, 404, "no record of that request", NULL);
    return;
  }
  static void (*const fn[3])(FILE *, const void *) = {
      [PROXY_FORMAT_TEXT] = record_text,
      [PROXY_FORMAT_HTML] = record_html,
      [PROXY_FORMAT_JSON] = record_json,
  };
  struct record_page p = {proxy_conn_target(c), r};
  send_page(c, fmt, fn, &p);
}

struct req_lookup {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *s;
  enum proxy_format fmt;
  char id[DIAG_ID_BYTES];
  int rc;
  struct diag_record rec;
};

static void on_req_lookup(uv_work_t *w) {
  struct req_lookup *l = w->data;
  struct store_bytes b = {0};
  l->rc = store_record_get(l->s->store, l->id, &b);
  if (l->rc == 0)
    l->rc = diag_record_parse(b.data, &l->rec);
  store_bytes_free(&b);
}

static void on_req_looked_up(uv_work_t *w, int status) {
  struct req_lookup *l = w->data;
  struct proxy_conn *c = l->conn;
  if (!proxy_conn_gone(c)) {
    if (l->rc == 0) {
      send_record(l->s, c, l->fmt, &l->rec);
    } else {
      char text[160];
      snprintf(text, sizeof text,
               "no record of request %s: it is older than the records this "
               "proxy keeps (--diag-records), or the id is wrong",
               l->id);
      proxy_conn_send_text(c, 404, text, NULL);
    }
  }
  proxy_conn_release(c);
  diag_record_dispose(&l->rec);
  free(l);
}

static void serve_request_record(struct proxy_server *s, struct proxy_conn *c,
                                 enum proxy_format fmt, const char *id) {
  const struct diag_record *r = proxy_records_find(s, id);
  if (r != NULL) {
    send_record(s, c, fmt, r);
    return;
  }
  struct req_lookup *l = calloc(1, sizeof *l);
  if (l == NULL || strlen(id) >= sizeof l->id) {
    free(l);
    proxy_conn_send_text(c, 404, "no such request id", NULL);
    return;
  }
  l->conn = c;
  l->s = s;
  l->fmt = fmt;
  memcpy(l->id, id, strlen(id) + 1);
  l->work.data = l;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &l->work, on_req_lookup, on_req_looked_up) < 0) {
    proxy_conn_release(c);
    free(l);
    proxy_conn_send_text(c, 503, "could not queue the lookup; retry", NULL);
  }
}

/* ---- /diag ---------------------------------------------------------- */

/* /diag's query parameters: a shareable link is the filters themselves. */
struct diag_filters {
  char q[GOMOD_MAX_PATH_BYTES]; /* module path prefix */
  char status[8];               /* "" (failures), all, 2xx, 3xx, 4xx, 5xx */
  char cause[24];               /* an outcome's name, or "" */
  char client[64];              /* a client address, or "" */
  enum dash_range range;
  uint64_t page; /* 1: the newest */
};

static const char *const range_names[] = {
    [DASH_HOUR] = "hour", [DASH_DAY] = "day", [DASH_WEEK] = "week"};
static const int64_t range_ms[] = {
    [DASH_HOUR] = 3600000, [DASH_DAY] = 86400000, [DASH_WEEK] = 604800000};

static void filters_parse(const char *query, struct diag_filters *f) {
  char v[32];
  memset(f, 0, sizeof *f);
  page_query(query, "q", f->q, sizeof f->q);
  page_query(query, "status", f->status, sizeof f->status);
  if (strcmp(f->status, "fail") == 0)
    f->status[0] = '\0';
  page_query(query, "cause", f->cause, sizeof f->cause);
  page_query(query, "client", f->client, sizeof f->client);
  f->range = DASH_DAY;
  page_query(query, "range", v, sizeof v);
  for (int r = DASH_HOUR; r <= DASH_WEEK; r++)
    if (strcmp(v, range_names[r]) == 0)
      f->range = (enum dash_range)r;
  page_query(query, "page", v, sizeof v);
  f->page = strtoull(v, NULL, 10);
  if (f->page < 1 || f->page > 100000)
    f->page = 1;
}

/* Writes the filters as a query string (&amp;-separated for HTML), with
 * page p. */
static void filters_query(FILE *f, const struct diag_filters *x, uint64_t p) {
  fprintf(f, "/diag?range=%s", range_names[x->range]);
  const char *const kv[][2] = {{"q", x->q},
                               {"status", x->status},
                               {"cause", x->cause},
                               {"client", x->client}};
  for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
    if (kv[i][1][0] == '\0')
      continue;
    fprintf(f, "&amp;%s=", kv[i][0]);
    page_url(f, kv[i][1]);
  }
  if (p > 1)
    fprintf(f, "&amp;page=%" PRIu64, p);
}

struct summary_job {
  uv_work_t work;
  struct proxy_conn *conn;
  enum proxy_format fmt;
  struct diag_filters flt;
  int64_t now_ms;
  int rc;
  /* Read from the store on a worker thread: one row, the page of
   * requests (one more than shown: is there a next page), findings. */
  struct store_stats totals;
  struct store_record_row rows[DIAG_PAGE_ROWS + 1];
  int nrows;
  struct store_finding_row findings[DIAG_FINDINGS];
  int nfindings;
  /* From the aggregates, on the loop thread. */
  struct dash_bucket series[DASH_HOURS];
  int nseries, step_s;
  struct dash_bucket sums[DASH_WEEK + 1]; /* by range */
  struct dash_missed missed[DIAG_MISSED];
  int nmissed;
  enum diag_outcome causes[DIAG_OUTCOMES]; /* with failures, most first */
  int ncauses;
  uint64_t requests, failures, probes;
  /* Each cause's latest request, or "" when the client may not see it. */
  const char *cause_last[DIAG_OUTCOMES];
  const struct proxy_server *s;
  const char *self;
};

static void on_summary(uv_work_t *w) {
  struct summary_job *sj = w->data;
  struct store *st = sj->s->store;
  const struct diag_filters *x = &sj->flt;
  struct store_records_filter f = {
      .module_prefix = x->q,
      .outcome = x->cause,
      .client = x->client,
      .since_ms = sj->now_ms - range_ms[x->range],
      .offset = (x->page - 1) * DIAG_PAGE_ROWS,
  };
  if (strcmp(x->status, "all") == 0) {
    f.status_min = 0;
    f.status_max = 999;
  } else if (x->status[0] >= '1' && x->status[0] <= '5') {
    f.status_min = (x->status[0] - '0') * 100;
    f.status_max = f.status_min + 99;
  }
  sj->rc = store_totals_get(st, &sj->totals);
  if (sj->rc == 0)
    sj->rc = sj->nrows =
        store_records_query(st, &f, sj->rows, DIAG_PAGE_ROWS + 1);
  if (sj->rc >= 0)
    sj->rc = sj->nfindings =
        store_findings_latest(st, sj->findings, DIAG_FINDINGS);
}

static void ago(int64_t when_s, char *buf, size_t len) {
  if (when_s == 0) {
    snprintf(buf, len, "never");
    return;
  }
  int64_t d = (int64_t)time(NULL) - when_s;
  if (d < 120)
    snprintf(buf, len, "%" PRId64 " s ago", d);
  else if (d < 7200)
    snprintf(buf, len, "%" PRId64 " min ago", d / 60);
  else
    snprintf(buf, len, "%" PRId64 " h ago", d / 3600);
}

/* An upstream's health as the pages show it: average latency, and when it
 * last answered and last failed. */
struct health_shown {
  uint64_t avg_ms;
  char ok[32], bad[32];
};

static void health_show(const struct upstream_health *h,
                        struct health_shown *out) {
  uint64_t n = h->ok + h->not_found + h->errors;
  out->avg_ms = n > 0 ? h->total_ms / n : 0;
  ago(h->last_ok, out->ok, sizeof out->ok);
  ago(h->last_error_at, out->bad, sizeof out->bad);
}

static double ratio(uint64_t part, uint64_t whole) {
  return whole > 0 ? (double)part / (double)whole : 0.0;
}

static void render_summary_text(FILE *f, const void *arg) {
  const struct summary_job *sj = arg;
  const struct proxy_server *s = sj->s;
  const struct proxy_counters *k = &s->counters;
  fprintf(f,
          "modproxy %s\n\ncache: %" PRIu64 " versions, %" PRIu64
          " zips (%.1f MiB); hot cache %zu entries (%.1f MiB)\n",
          MODPROXY_VERSION, sj->totals.versions, sj->totals.zips,
          (double)sj->totals.zip_bytes / 1048576.0,
          goproxy_hot(s->goproxy)->count,
          (double)goproxy_hot(s->goproxy)->bytes / 1048576.0);
  if (s->cfg->max_cache_bytes > 0)
    fprintf(f, "cache size: %.1f of %.1f MiB (--max-cache-bytes)\n",
            (double)sj->totals.cache_bytes / 1048576.0,
            (double)s->cfg->max_cache_bytes / 1048576.0);
  fprintf(f,
          "since start: %" PRIu64 " requests, hit ratio %.1f%%, %" PRIu64
          " upstream requests, %" PRIu64 " coalesced waits\n",
          http_server_stats(s->http)->requests,
          100.0 * ratio(k->hits, k->hits + k->misses), k->upstream_requests,
          k->coalesced);
  fprintf(f, "mirror and checksum databases: /diag/mirror\n");
  fprintf(f,
          "requests recorded: %" PRIu64 ", %" PRIu64 " failed\n\nupstreams:\n",
          sj->requests, sj->failures);
  for (int i = 0; i < upstream_list_count(s->upstreams); i++) {
    const struct proxy_upstream *u = upstream_list_at(s->upstreams, i);
    if (u->base == NULL) {
      fprintf(f, "  off (nothing after this is asked)\n");
      continue;
    }
    const struct upstream_health *h = &u->health;
    struct health_shown x;
    health_show(h, &x);
    fprintf(f,
            "  %s: %" PRIu64 " found, %" PRIu64 " not found, %" PRIu64
            " failed, avg %" PRIu64
            " ms; last answer %s, last failure %s%s%s\n",
            u->shown, h->ok, h->not_found, h->errors, x.avg_ms, x.ok, x.bad,
            h->last_error[0] ? ": " : "", h->last_error);
  }
  fprintf(f, "\nfailures by cause (last hour, day, week; since start):\n");
  if (sj->ncauses == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < sj->ncauses; i++) {
    enum diag_outcome o = sj->causes[i];
    const struct dash_cause *c = dash_cause(s->dash, o);
    fprintf(
        f, "  %-20s %6" PRIu32 " %6" PRIu32 " %6" PRIu32 " %8" PRIu64 "%s%s\n",
        diag_outcome_name(o), sj->sums[DASH_HOUR].cause[o],
        sj->sums[DASH_DAY].cause[o], sj->sums[DASH_WEEK].cause[o], c->count,
        sj->cause_last[o][0] ? "   latest: /diag/req/" : "", sj->cause_last[o]);
  }
  fprintf(f, "\nmost-missed modules:\n");
  if (sj->nmissed == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < sj->nmissed; i++)
    fprintf(f, "  %6" PRIu64 "  %s\n", sj->missed[i].count,
            sj->missed[i].module);
  fprintf(f,
          "  (and %" PRIu64 " expected lookups: the go command asks each "
          "prefix of an import path, a.b/c/d, a.b/c, a.b, for its module)\n",
          sj->probes);
  fprintf(f, "\nfindings about modules served (newest first):\n");
  if (sj->nfindings == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < sj->nfindings; i++)
    fprintf(f, "  %-14s /diag/module/%s%s%s\n", sj->findings[i].kind,
            sj->findings[i].module, sj->findings[i].version[0] ? "@" : "",
            sj->findings[i].version);
  fprintf(f, "\nlatest %s (last %s):\n",
          sj->flt.status[0] == '\0' ? "failures" : "requests",
          range_names[sj->flt.range]);
  int shown = sj->nrows > DIAG_PAGE_ROWS ? DIAG_PAGE_ROWS : sj->nrows;
  if (shown == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < shown; i++) {
    const struct store_record_row *r = &sj->rows[i];
    fprintf(f, "  /diag/req/%s  %d %s  %s%s%s\n", r->id, r->status, r->outcome,
            r->module, r->version[0] ? "@" : "", r->version);
  }
}

static void render_summary_json(FILE *f, const void *arg) {
  const struct summary_job *sj = arg;
  const struct proxy_server *s = sj->s;
  const struct proxy_counters *k = &s->counters;
  fprintf(f,
          "{\"version\":\"%s\",\"cache\":{\"versions\":%" PRIu64
          ",\"zips\":%" PRIu64 ",\"zip_bytes\":%" PRIu64
          ",\"cache_bytes\":%" PRIu64 ",\"max_cache_bytes\":%" PRIu64
          ",\"hot_entries\":%zu,\"hot_bytes\":%zu},",
          MODPROXY_VERSION, sj->totals.versions, sj->totals.zips,
          sj->totals.zip_bytes, sj->totals.cache_bytes, s->cfg->max_cache_bytes,
          goproxy_hot(s->goproxy)->count, goproxy_hot(s->goproxy)->bytes);
  fprintf(f,
          "\"since_start\":{\"requests\":%" PRIu64 ",\"hits\":%" PRIu64
          ",\"misses\":%" PRIu64 ",\"upstream_requests\":%" PRIu64
          ",\"coalesced\":%" PRIu64 "},\"upstreams\":[",
          http_server_stats(s->http)->requests, k->hits, k->misses,
          k->upstream_requests, k->coalesced);
  for (int i = 0; i < upstream_list_count(s->upstreams); i++) {
    const struct proxy_upstream *u = upstream_list_at(s->upstreams, i);
    const struct upstream_health *h = &u->health;
    fprintf(f, "%s{\"url\":", i > 0 ? "," : "");
    diag_json_write(f, u->shown);
    fprintf(f,
            ",\"found\":%" PRIu64 ",\"not_found\":%" PRIu64
            ",\"failed\":%" PRIu64 ",\"last_ok\":%" PRId64
            ",\"last_error_at\":%" PRId64 ",\"last_error\":",
            h->ok, h->not_found, h->errors, h->last_ok, h->last_error_at);
    diag_json_write(f, h->last_error[0] ? h->last_error : NULL);
    fputc('}', f);
  }
  fprintf(f,
          "],\"ring\":{\"requests\":%" PRIu64 ",\"failures\":%" PRIu64
          "},\"causes\":[",
          sj->requests, sj->failures);
  for (int i = 0; i < sj->ncauses; i++) {
    enum diag_outcome o = sj->causes[i];
    const struct dash_cause *c = dash_cause(s->dash, o);
    fprintf(f, "%s{\"outcome\":", i > 0 ? "," : "");
    diag_json_write(f, diag_outcome_name(o));
    fprintf(f,
            ",\"count\":%" PRIu64 ",\"hour\":%" PRIu32 ",\"day\":%" PRIu32
            ",\"week\":%" PRIu32 ",\"latest\":",
            c->count, sj->sums[DASH_HOUR].cause[o], sj->sums[DASH_DAY].cause[o],
            sj->sums[DASH_WEEK].cause[o]);
    diag_json_write(f, sj->cause_last[o][0] ? sj->cause_last[o] : NULL);
    fputc('}', f);
  }
  fprintf(f, "],\"probes\":%" PRIu64 ",\"most_missed\":[", sj->probes);
  for (int i = 0; i < sj->nmissed; i++) {
    fprintf(f, "%s{\"module\":", i > 0 ? "," : "");
    diag_json_write(f, sj->missed[i].module);
    fprintf(f, ",\"count\":%" PRIu64 "}", sj->missed[i].count);
  }
  fprintf(f, "],\"findings\":[");
  for (int i = 0; i < sj->nfindings; i++) {
    fprintf(f, "%s{\"module\":", i > 0 ? "," : "");
    diag_json_write(f, sj->findings[i].module);
    diag_json_field(f, "version", sj->findings[i].version);
    diag_json_field(f, "kind", sj->findings[i].kind);
    fputc('}', f);
  }
  fprintf(f, "],\"recent_failures\":[");
  int shown = sj->nrows > DIAG_PAGE_ROWS ? DIAG_PAGE_ROWS : sj->nrows;
  for (int i = 0; i < shown; i++) {
    const struct store_record_row *r = &sj->rows[i];
    fprintf(f, "%s{\"id\":", i > 0 ? "," : "");
    diag_json_write(f, r->id);
    fprintf(f,
            ",\"time_ms\":%" PRId64 ",\"status\":%d,\"outcome\":", r->time_ms,
            r->status);
    diag_json_write(f, r->outcome);
    diag_json_field(f, "module", r->module);
    diag_json_field(f, "version", r->version);
    diag_json_field(f, "client", r->client);
    fputc('}', f);
  }
  fprintf(f, "],\"page\":%" PRIu64 ",\"more\":%s}\n", sj->flt.page,
          sj->nrows > DIAG_PAGE_ROWS ? "true" : "false");
}

/* <select name=NAME> of the options (value, label), value sel selected. */
static void select_box(FILE *f, const char *name, const char *label,
                       const char *const (*opts)[2], size_t n,
                       const char *sel) {
  fprintf(f, "<label>%s<select name=\"%s\">", label, name);
  for (size_t i = 0; i < n; i++) {
    fputs("<option value=\"", f);
    page_esc(f, opts[i][0]);
    fprintf(f, "\"%s>", strcmp(opts[i][0], sel) == 0 ? " selected" : "");
    page_esc(f, opts[i][1]);
    fputs("</option>", f);
  }
  fputs("</select></label>", f);
}

static void filters_form(FILE *f, const struct diag_filters *x) {
  fputs("<form id=\"filters\" method=\"get\" action=\"/diag\">"
        "<label>Module path prefix<input type=\"search\" name=\"q\" "
        "id=\"q\" size=\"28\" value=\"",
        f);
  page_esc(f, x->q);
  fputs("\"></label>", f);
  static const char *const status[][2] = {{"", "failures"}, {"all", "all"},
                                          {"2xx", "2xx"},   {"3xx", "3xx"},
                                          {"4xx", "4xx"},   {"5xx", "5xx"}};
  select_box(f, "status", "Status", status, sizeof status / sizeof status[0],
             x->status);
  const char *causes[DIAG_OUTCOMES + 1][2] = {{"", "any"}};
  for (int o = 0; o < DIAG_OUTCOMES; o++)
    causes[o + 1][0] = causes[o + 1][1] = diag_outcome_name(o);
  select_box(f, "cause", "Cause", (const char *const(*)[2])causes,
             DIAG_OUTCOMES + 1, x->cause);
  fputs("<label>Client<input name=\"client\" size=\"14\" value=\"", f);
  page_esc(f, x->client);
  fputs("\"></label>", f);
  static const char *const ranges[][2] = {
      {"hour", "last hour"}, {"day", "last day"}, {"week", "last week"}};
  select_box(f, "range", "Time range", ranges, 3, range_names[x->range]);
  fputs("<button type=\"submit\">Apply</button>"
        "<a href=\"/diag\">Reset</a></form>\n",
        f);
}

/* A table of requests under heading, each linked to its client's and its
 * cause's requests, its module (with_module) and its record. */
static void requests_rows(FILE *f, const char *heading, const char *id,
                          const struct store_record_row *rows, int n,
                          int with_module) {
  page_table_begin(f, heading, id, n,
                   with_module
                       ? "time (UTC)|client|status|cause|module|target|record"
                       : "time (UTC)|client|status|cause|target|record");
  for (int i = 0; i < n; i++) {
    const struct store_record_row *r = &rows[i];
    char when[32];
    page_time(r->time_ms, when, sizeof when);
    fprintf(f, "<tr><td>%s</td><td>", when);
    filter_link(f, "client", r->client, r->client);
    fprintf(f, "</td><td class=\"n\">%d</td><td>", r->status);
    filter_link(f, "cause", r->outcome, r->outcome);
    if (with_module) {
      fputs("</td><td>", f);
      page_module_link(f, r->module, r->version);
    }
    fputs("</td><td><code>", f);
    page_esc(f, r->target);
    fputs("</code></td><td>", f);
    page_req_link(f, r->id);
    fputs("</td></tr>\n", f);
  }
  page_table_end(f, n);
}

static void requests_table(FILE *f, const struct summary_job *sj) {
  const struct diag_filters *x = &sj->flt;
  char heading[64];
  snprintf(heading, sizeof heading, "%s, last %s",
           x->status[0] == '\0' ? "Recent failures" : "Requests",
           range_names[x->range]);
  int shown = sj->nrows > DIAG_PAGE_ROWS ? DIAG_PAGE_ROWS : sj->nrows;
  requests_rows(f, heading, "reqtable", sj->rows, shown, 1);
  fputs("<p class=\"pages\">", f);
  if (x->page > 1) {
    fputs("<a rel=\"prev\" href=\"", f);
    filters_query(f, x, x->page - 1);
    fputs("\">&larr; newer</a> ", f);
  }
  fprintf(f, "page %" PRIu64, x->page);
  if (sj->nrows > DIAG_PAGE_ROWS) {
    fputs(" <a rel=\"next\" href=\"", f);
    filters_query(f, x, x->page + 1);
    fputs("\">older &rarr;</a>", f);
  }
  fputs("</p>\n", f);
}

/* A chart of the series' values that fn picks from each bucket. */
static void series_chart(FILE *f, const struct summary_job *sj,
                         double (*fn)(const struct dash_bucket *, int), int arg,
                         double max, const char *label) {
  double v[DASH_HOURS];
  for (int i = 0; i < sj->nseries; i++)
    v[i] = fn(&sj->series[i], arg);
  char title[160];
  snprintf(title, sizeof title, "%s, last %s, a bar per %s", label,
           range_names[sj->flt.range], sj->step_s == 60 ? "minute" : "hour");
  page_chart(f, v, sj->nseries, max, DIAG_CHART_W, DIAG_CHART_H, title);
}

static double cause_count(const struct dash_bucket *b, int o) {
  return b->cause[o];
}
static double request_count(const struct dash_bucket *b, int unused) {
  return b->requests;
}
static double hit_ratio(const struct dash_bucket *b, int unused) {
  return b->hits + b->fetched > 0 ? ratio(b->hits, b->hits + b->fetched) : -1;
}
static double upstream_ms(const struct dash_bucket *b, int k) {
  return b->up_answers[k] > 0 ? (double)b->up_ms[k] / b->up_answers[k] : -1;
}
static double upstream_errors(const struct dash_bucket *b, int k) {
  return b->up_answers[k] > 0 ? ratio(b->up_errors[k], b->up_answers[k]) : -1;
}

static void causes_table(FILE *f, const struct summary_job *sj) {
  page_table_begin(f, "Failures by cause", "causes", sj->ncauses,
                   "cause|last hour|day|week|since start|over time|latest");
  for (int i = 0; i < sj->ncauses; i++) {
    enum diag_outcome o = sj->causes[i];
    const struct dash_cause *c = dash_cause(sj->s->dash, o);
    const char *name = diag_outcome_name(o);
    fputs("<tr><td>", f);
    struct diag_filters x = sj->flt;
    snprintf(x.cause, sizeof x.cause, "%s", name);
    x.q[0] = x.client[0] = '\0';
    fputs("<a href=\"", f);
    filters_query(f, &x, 1);
    fprintf(f,
            "\">%s</a></td><td class=\"n\">%" PRIu32
            "</td><td class=\"n\">%" PRIu32 "</td><td class=\"n\">%" PRIu32
            "</td><td class=\"n\">%" PRIu64 "</td><td>",
            name, sj->sums[DASH_HOUR].cause[o], sj->sums[DASH_DAY].cause[o],
            sj->sums[DASH_WEEK].cause[o], c->count);
    series_chart(f, sj, cause_count, (int)o, 0, name);
    fputs("</td><td>", f);
    if (sj->cause_last[o][0] != '\0')
      page_req_link(f, sj->cause_last[o]);
    fputs("</td></tr>\n", f);
  }
  page_table_end(f, sj->ncauses);
}

static void traffic_table(FILE *f, const struct summary_job *sj) {
  const struct dash_bucket *sum = &sj->sums[sj->flt.range];
  const struct proxy_counters *k = &sj->s->counters;
  fprintf(f,
          "<h2>Traffic</h2><div class=\"scroll\"><table id=\"traffic\">"
          "<tr><th></th><th>last %s</th><th>over time</th></tr>"
          "<tr><th>requests</th><td class=\"n\">%" PRIu32 " (%.1f a minute)"
          "</td><td>",
          range_names[sj->flt.range], sum->requests,
          (double)sum->requests / (sj->nseries * sj->step_s / 60.0));
  series_chart(f, sj, request_count, 0, 0, "requests");
  fprintf(f,
          "</td></tr><tr><th>hit ratio</th><td class=\"n\">%.1f%% (since "
          "start %.1f%%)</td><td>",
          100.0 * ratio(sum->hits, sum->hits + sum->fetched),
          100.0 * ratio(k->hits, k->hits + k->misses));
  series_chart(f, sj, hit_ratio, 0, 1.0, "hit ratio");
  fprintf(f,
          "</td></tr><tr><th>failures</th><td class=\"n\">%" PRIu32
          "</td><td></td></tr><tr><th>expected lookups</th><td class=\"n\">"
          "%" PRIu32 " (the go command's path-prefix probes; %" PRIu64
          " since start)</td><td></td></tr></table></div>\n",
          sum->failures, sum->probes, sj->probes);
}

static void upstreams_table(FILE *f, const struct summary_job *sj) {
  const struct proxy_server *s = sj->s;
  int n = upstream_list_count(s->upstreams);
  page_table_begin(f, "Upstreams", "upstreams", n,
                   "upstream|found|not found|failed|avg ms|latency|error "
                   "rate|last answer|last failure");
  for (int i = 0; i < n; i++) {
    const struct proxy_upstream *u = upstream_list_at(s->upstreams, i);
    fputs("<tr><td>", f);
    if (u->base == NULL) {
      fputs("off (nothing after this is asked)</td></tr>\n", f);
      continue;
    }
    const struct upstream_health *h = &u->health;
    struct health_shown x;
    health_show(h, &x);
    page_esc(f, u->shown);
    fprintf(f,
            "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
            "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
            "</td><td>",
            h->ok, h->not_found, h->errors, x.avg_ms);
    if (i < DASH_UPSTREAMS) {
      series_chart(f, sj, upstream_ms, i, 0, "average latency (ms)");
      fputs("</td><td>", f);
      series_chart(f, sj, upstream_errors, i, 1.0, "error rate");
    } else {
      fputs("</td><td>", f);
    }
    fprintf(f, "</td><td>%s</td><td>%s", x.ok, x.bad);
    if (h->last_error[0] != '\0') {
      fputs(": <span class=\"bad\">", f);
      page_esc(f, h->last_error);
      fputs("</span>", f);
    }
    fputs("</td></tr>\n", f);
  }
  page_table_end(f, n);
}

static void cache_table(FILE *f, const struct summary_job *sj) {
  const struct proxy_server *s = sj->s;
  uint64_t max = s->cfg->max_cache_bytes;
  fprintf(f,
          "<h2>Cache</h2><div class=\"scroll\"><table id=\"cache\"><tr><th>"
          "versions</th><td class=\"n\">%" PRIu64 "</td></tr><tr><th>zips"
          "</th><td class=\"n\">%" PRIu64 " (%.1f MiB)</td></tr><tr><th>size"
          "</th><td>%.1f MiB",
          sj->totals.versions, sj->totals.zips,
          (double)sj->totals.zip_bytes / 1048576.0,
          (double)sj->totals.cache_bytes / 1048576.0);
  if (max > 0) {
    double used = ratio(sj->totals.cache_bytes, max);
    fprintf(f,
            " of %.1f MiB (--max-cache-bytes), %.0f%%<div class=\"meter\" "
            "title=\"%.0f%% of the limit\"><div style=\"width:%.0f%%\">"
            "</div></div>",
            (double)max / 1048576.0, 100.0 * used, 100.0 * used,
            used > 1 ? 100.0 : 100.0 * used);
  } else {
    fputs(" (no limit: --max-cache-bytes 0)", f);
  }
  fprintf(f,
          "</td></tr><tr><th>hot cache</th><td class=\"n\">%zu entries "
          "(%.1f MiB)</td></tr></table></div>\n",
          goproxy_hot(s->goproxy)->count,
          (double)goproxy_hot(s->goproxy)->bytes / 1048576.0);
}

static void missed_table(FILE *f, const struct summary_job *sj) {
  page_table_begin(f, "Most-missed modules", "missed", sj->nmissed,
                   "module|misses|");
  for (int i = 0; i < sj->nmissed; i++) {
    fputs("<tr><td>", f);
    page_module_link(f, sj->missed[i].module, NULL);
    fprintf(f, "</td><td class=\"n\">%" PRIu64 "</td><td>",
            sj->missed[i].count);
    filter_link(f, "q", sj->missed[i].module, "requests");
    fputs("</td></tr>\n", f);
  }
  page_table_end(f, sj->nmissed);
  fprintf(f,
          "<p>And %" PRIu64 " expected lookups: the go command asks each "
          "prefix of an import path (a.b/c/d, a.b/c, a.b) for its module."
          "</p>\n",
          sj->probes);
}

static void findings_table(FILE *f, const struct summary_job *sj) {
  page_table_begin(f, "Findings about modules served", "findings",
                   sj->nfindings, "finding|module");
  for (int i = 0; i < sj->nfindings; i++) {
    fputs("<tr><td>", f);
    page_esc(f, sj->findings[i].kind);
    fputs("</td><td>", f);
    page_module_link(f, sj->findings[i].module, sj->findings[i].version);
    fputs("</td></tr>\n", f);
  }
  page_table_end(f, sj->nfindings);
}

static void render_summary_html(FILE *f, const void *arg) {
  const struct summary_job *sj = arg;
  page_begin(f, "modproxy diagnostics", PAGE_NAV_DASHBOARD);
  fprintf(f,
          "<p>modproxy %s: %" PRIu64 " requests recorded, %" PRIu64
          " failed.</p>\n",
          MODPROXY_VERSION, sj->requests, sj->failures);
  filters_form(f, &sj->flt);
  requests_table(f, sj);
  causes_table(f, sj);
  traffic_table(f, sj);
  upstreams_table(f, sj);
  cache_table(f, sj);
  missed_table(f, sj);
  findings_table(f, sj);
  page_end(f, sj->self);
}

/* Takes the aggregates the page shows, and keeps, in every list, only what
 * the client may see; every rendering then shows the same. */
static void summary_gather(const struct proxy_conn *c, struct summary_job *sj) {
  const struct proxy_server *s = sj->s;
  const struct dash *d = s->dash;
  sj->self = proxy_conn_target(c);
  sj->nseries =
      dash_series(d, sj->flt.range, sj->now_ms, sj->series, &sj->step_s);
  for (int r = DASH_HOUR; r <= DASH_WEEK; r++)
    dash_sum(d, (enum dash_range)r, sj->now_ms, &sj->sums[r]);
  dash_totals(d, &sj->requests, &sj->failures, &sj->probes);
  /* Causes with failures, most first. A cause's count is an aggregate;
   * only its latest request says what it was about. */
  sj->ncauses = 0;
  for (int o = 0; o < DIAG_OUTCOMES; o++) {
    if (dash_cause(d, o)->count == 0)
      continue;
    int i = sj->ncauses++;
    while (i > 0 &&
           dash_cause(d, sj->causes[i - 1])->count < dash_cause(d, o)->count) {
      sj->causes[i] = sj->causes[i - 1];
      i--;
    }
    sj->causes[i] = (enum diag_outcome)o;
    const struct dash_cause *k = dash_cause(d, o);
    sj->cause_last[o] =
        record_visible(s, c, k->last_module, k->last_target) ? k->last_id : "";
  }
  struct dash_missed all[DIAG_MISSED];
  int n = dash_missed(d, all, DIAG_MISSED);
  sj->nmissed = 0;
  for (int i = 0; i < n; i++)
    if (record_visible(s, c, all[i].module, NULL))
      sj->missed[sj->nmissed++] = all[i];
  n = 0;
  for (int i = 0; i < sj->nfindings; i++)
    if (record_visible(s, c, sj->findings[i].module, NULL))
      sj->findings[n++] = sj->findings[i];
  sj->nfindings = n;
  n = 0;
  for (int i = 0; i < sj->nrows; i++)
    if (record_visible(s, c, sj->rows[i].module, sj->rows[i].target))
      sj->rows[n++] = sj->rows[i];
  sj->nrows = n;
}

static void on_summary_done(uv_work_t *w, int status) {
  struct summary_job *sj = w->data;
  struct proxy_conn *c = sj->conn;
  if (!proxy_conn_gone(c)) {
    if (sj->rc < 0) {
      proxy_conn_send_text(c, 503, "could not read the store; see the log",
                           NULL);
    } else {
      static void (*const fn[3])(FILE *, const void *) = {
          [PROXY_FORMAT_TEXT] = render_summary_text,
          [PROXY_FORMAT_HTML] = render_summary_html,
          [PROXY_FORMAT_JSON] = render_summary_json,
      };
      summary_gather(c, sj);
      send_page(c, sj->fmt, fn, sj);
    }
  }
  proxy_conn_release(c);
  free(sj);
}

static void serve_summary(struct proxy_server *s, struct proxy_conn *c,
                          enum proxy_format fmt, const char *query) {
  struct summary_job *sj = calloc(1, sizeof *sj);
  if (sj == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  sj->conn = c;
  sj->s = s;
  sj->fmt = fmt;
  filters_parse(query, &sj->flt);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  sj->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  sj->work.data = sj;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &sj->work, on_summary, on_summary_done) < 0) {
    proxy_conn_release(c);
    free(sj);
    proxy_conn_send_text(c, 503, "could not queue the summary; retry", NULL);
  }
}

/* ---- /diag/config -------------------------------------------------- */

struct config_page {
  const char *self;
  char base[300];
  const char *priv; /* the private patterns, or "" */
  const struct policy_set *policies;
};

/* The go env -w lines, each value quoted where a shell would split or
 * glob it (a pattern with a star would match files); html: escaped
 * for a page. */
static void config_lines(FILE *f, const struct config_page *p, int html) {
  char *line = NULL;
  size_t len = 0;
  FILE *l = open_memstream(&line, &len);
  if (l == NULL)
    return;
  fputs("# Settings for the go command of every client of this proxy:\n"
        "go env -w GOPROXY=",
        l);
  page_shell_word(l, p->base);
  fputc('\n', l);
  if (p->priv[0] != '\0') {
    fputs("# private modules come from this proxy, and are not in the\n"
          "# public checksum database:\ngo env -w GONOSUMDB=",
          l);
    page_shell_word(l, p->priv);
    fputs("\n# if GOPRIVATE is set, keep it from bypassing the proxy:\n"
          "go env -w GONOPROXY=none\n",
          l);
  }
  fputs("# GOFLAGS needs nothing from this proxy.\n", l);
  const struct policy_set *ps = p->policies;
  for (int i = 0; i < policy_set_count(ps); i++)
    fprintf(l, "%s#   %s\n",
            i == 0 ? "# Module policies of this proxy (the first match "
                     "wins):\n"
                   : "",
            policy_shown(policy_set_at(ps, i)));
  fclose(l);
  if (html)
    page_esc(f, line);
  else
    fputs(line, f);
  free(line);
}

static void config_text(FILE *f, const void *arg) {
  config_lines(f, arg, 0);
}

static void config_json(FILE *f, const void *arg) {
  const struct config_page *p = arg;
  fprintf(f, "{\"GOPROXY\":");
  diag_json_write(f, p->base);
  diag_json_field(f, "GONOSUMDB", p->priv);
  diag_json_field(f, "GONOPROXY", p->priv[0] != '\0' ? "none" : "");
  fprintf(f, ",\"GOFLAGS\":\"\",\"policies\":[");
  const struct policy_set *ps = p->policies;
  for (int i = 0; i < policy_set_count(ps); i++) {
    if (i > 0)
      fputc(',', f);
    diag_json_write(f, policy_shown(policy_set_at(ps, i)));
  }
  fprintf(f, "]}\n");
}

static void config_html(FILE *f, const void *arg) {
  const struct config_page *p = arg;
  page_begin(f, "modproxy client settings", PAGE_NAV_CONFIG);
  fputs("<p>Run these once on each machine that builds through this "
        "proxy:</p><pre id=\"settings\">",
        f);
  config_lines(f, p, 1);
  fputs("</pre><div class=\"scroll\"><table><tr><th>variable</th><th>value"
        "</th></tr><tr><td>GOPROXY</td><td><code>",
        f);
  page_esc(f, p->base);
  fputs("</code></td></tr><tr><td>GONOSUMDB</td><td><code>", f);
  page_esc(f, p->priv);
  fprintf(f,
          "</code></td></tr><tr><td>GONOPROXY</td><td><code>%s</code></td>"
          "</tr></table></div>",
          p->priv[0] != '\0' ? "none" : "");
  page_end(f, p->self);
}

static void serve_config(const struct proxy_server *s, struct proxy_conn *c,
                         enum proxy_format fmt) {
  const struct proxy_config *cfg = s->cfg;
  struct config_page p = {.self = proxy_conn_target(c)};
  proxy_conn_base(c, p.base, sizeof p.base);
  if (p.base[0] == '\0')
    snprintf(p.base, sizeof p.base, "http://%s", cfg->listen);
  p.priv = cfg->private_patterns != NULL ? cfg->private_patterns : "";
  p.policies = cfg->policies;
  static void (*const fn[3])(FILE *, const void *) = {
      [PROXY_FORMAT_TEXT] = config_text,
      [PROXY_FORMAT_HTML] = config_html,
      [PROXY_FORMAT_JSON] = config_json,
  };
  send_page(c, fmt, fn, &p);
}

/* ---- /diag/module ---------------------------------------------------- */

struct module_job {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *s;
  enum proxy_format fmt;
  char module[GOMOD_MAX_PATH_BYTES];
  char version[GOMOD_MAX_VERSION_BYTES];
  char *policy; /* the module's policy rule as written, or NULL */
  int rc;
  struct store_module_view view;
  /* The upstream's @v/list as cached (module pages only), sorted. */
  struct store_answer list;
  char *list_text, **listed;
  size_t nlisted;
};

static void on_module_view(uv_work_t *w) {
  struct module_job *mj = w->data;
  struct store *st = mj->s->store;
  mj->rc = store_module_view(
      st, mj->module, mj->version[0] != '\0' ? mj->version : NULL, &mj->view);
  if (mj->rc == 0 && mj->version[0] == '\0' &&
      store_answer_get(st, mj->module, "@v/list", &mj->list) == 0 &&
      mj->list.status == 200)
    mj->rc = diag_list_versions(mj->list.body.data, mj->list.body.len,
                                &mj->list_text, &mj->listed, &mj->nlisted);
}

static int is_stored(const struct store_module_view *v, const char *version) {
  for (int i = 0; i < v->nversions; i++)
    if (strcmp(v->versions[i].version, version) == 0)
      return 1;
  return 0;
}

/* The versions the upstream lists (as cached) beside those stored, newest
 * first, each with its page. */
static void render_listed_text(FILE *f, const struct module_job *mj) {
  char when[32];
  if (mj->list.status == 0) {
    fprintf(f, "\nversions the upstream lists: not asked yet\n");
    return;
  }
  if (mj->list.status != 200) {
    fprintf(f, "\nversions the upstream lists: none (it answered %d)\n",
            mj->list.status);
    return;
  }
  page_time(mj->list.fetched * 1000, when, sizeof when);
  fprintf(f, "\nversions the upstream lists (%zu, cached %s UTC, from %s):\n",
          mj->nlisted, when,
          mj->list.origin != NULL ? mj->list.origin : "an upstream");
  if (mj->nlisted == 0)
    fprintf(f, "  none\n");
  for (size_t i = mj->nlisted; i-- > 0;)
    fprintf(f, "  %-24s %-7s /diag/module/%s@%s\n", mj->listed[i],
            is_stored(&mj->view, mj->listed[i]) ? "stored" : "", mj->module,
            mj->listed[i]);
}

static void render_listed_json(FILE *f, const struct module_job *mj) {
  if (mj->list.status != 200)
    return;
  fprintf(f, ",\"upstream_list\":{\"fetched\":%" PRId64 ",\"origin\":",
          mj->list.fetched);
  diag_json_write(f, mj->list.origin);
  fprintf(f, ",\"versions\":[");
  for (size_t i = mj->nlisted; i-- > 0;) {
    fprintf(f, "%s{\"version\":", i + 1 < mj->nlisted ? "," : "");
    diag_json_write(f, mj->listed[i]);
    fprintf(f, ",\"stored\":%s}",
            is_stored(&mj->view, mj->listed[i]) ? "true" : "false");
  }
  fprintf(f, "]}");
}

static void render_module_text(FILE *f, const void *arg) {
  const struct module_job *mj = arg;
  const struct store_module_view *v = &mj->view;
  fprintf(f, "module %s%s%s\n\npolicy: %s\n\nversions held (%d):\n", mj->module,
          mj->version[0] ? "@" : "", mj->version,
          mj->policy != NULL ? mj->policy : "none", v->nversions);
  if (v->nversions == 0)
    fprintf(f, "  none: this proxy has not stored it (yet)\n");
  for (int i = 0; i < v->nversions; i++) {
    const struct store_view_version *x = &v->versions[i];
    fprintf(f, "  %s\n    from: %s%s%s\n", x->version,
            x->origin[0] ? x->origin : "?", x->vcs[0] ? "\n    git: " : "",
            x->vcs);
    if (x->has_mod)
      fprintf(f, "    go.mod: %s\n", x->mod_h1);
    if (x->zip_size >= 0)
      fprintf(f, "    zip: %s (%" PRId64 " bytes)%s\n", x->zip_h1, x->zip_size,
              x->zip_violations > 0 ? ", breaks the module zip rules" : "");
  }
  if (mj->version[0] == '\0')
    render_listed_text(f, mj);
  fprintf(f, "\nfindings:\n");
  if (v->nfindings == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < v->nfindings; i++) {
    const char *m = v->findings[i].message;
    const char *fix = strstr(m, "\nfix: ");
    fprintf(f, "  %s%s%s: %.*s\n", v->findings[i].kind,
            v->findings[i].version[0] ? " @" : "", v->findings[i].version,
            fix != NULL ? (int)(fix - m) : (int)strlen(m), m);
    if (fix != NULL)
      fprintf(f, "    %s\n", fix + 1);
  }
  fprintf(f, "\nlatest requests:\n");
  if (v->nrequests == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < v->nrequests; i++) {
    char when[32];
    page_time(v->requests[i].time_ms, when, sizeof when);
    fprintf(f, "  %s  %s  %d %s  %s  /diag/req/%s\n", when,
            v->requests[i].client, v->requests[i].status,
            v->requests[i].outcome, v->requests[i].target, v->requests[i].id);
  }
}

static void render_module_json(FILE *f, const void *arg) {
  const struct module_job *mj = arg;
  const struct store_module_view *v = &mj->view;
  fprintf(f, "{\"module\":");
  diag_json_write(f, mj->module);
  diag_json_field(f, "policy", mj->policy);
  fprintf(f, ",\"versions\":[");
  for (int i = 0; i < v->nversions; i++) {
    const struct store_view_version *x = &v->versions[i];
    fprintf(f, "%s{\"version\":", i ? "," : "");
    diag_json_write(f, x->version);
    diag_json_field(f, "origin", x->origin);
    diag_json_field(f, "git", x->vcs[0] ? x->vcs : NULL);
    diag_json_field(f, "gomod_h1", x->has_mod ? x->mod_h1 : NULL);
    diag_json_field(f, "zip_h1", x->zip_size >= 0 ? x->zip_h1 : NULL);
    fprintf(f, ",\"zip_bytes\":%" PRId64 ",\"zip_violations\":%" PRIu64 "}",
            x->zip_size, x->zip_violations);
  }
  fputc(']', f);
  render_listed_json(f, mj);
  fprintf(f, ",\"findings\":[");
  for (int i = 0; i < v->nfindings; i++) {
    fprintf(f, "%s{\"version\":", i ? "," : "");
    diag_json_write(f, v->findings[i].version);
    diag_json_field(f, "kind", v->findings[i].kind);
    diag_json_field(f, "message", v->findings[i].message);
    fputc('}', f);
  }
  fprintf(f, "],\"requests\":[");
  for (int i = 0; i < v->nrequests; i++) {
    fprintf(f, "%s{\"id\":", i ? "," : "");
    diag_json_write(f, v->requests[i].id);
    fprintf(f, ",\"time_ms\":%" PRId64 ",\"client\":", v->requests[i].time_ms);
    diag_json_write(f, v->requests[i].client);
    fprintf(f, ",\"status\":%d,\"outcome\":", v->requests[i].status);
    diag_json_write(f, v->requests[i].outcome);
    diag_json_field(f, "target", v->requests[i].target);
    fputc('}', f);
  }
  fprintf(f, "]}\n");
}

static void render_module_html(FILE *f, const void *arg) {
  const struct module_job *mj = arg;
  const struct store_module_view *v = &mj->view;
  char title[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 16];
  snprintf(title, sizeof title, "Module %s%s%s", mj->module,
           mj->version[0] ? "@" : "", mj->version);
  page_begin(f, title, PAGE_NAV_NONE);
  fputs("<p>", f);
  if (mj->version[0] != '\0') {
    fputs("All versions: ", f);
    page_module_link(f, mj->module, NULL);
    fputs(" &middot; ", f);
  }
  filter_link(f, "q", mj->module, "its requests in the ring");
  fputs("</p><p>Policy: ", f);
  page_esc(f, mj->policy != NULL ? mj->policy : "none");
  fputs("</p>", f);
  char heading[48];
  snprintf(heading, sizeof heading, "Versions held (%d)", v->nversions);
  page_table_begin(f, heading, "versions", v->nversions,
                   "version|from|go.mod|zip");
  for (int i = 0; i < v->nversions; i++) {
    const struct store_view_version *x = &v->versions[i];
    fputs("<tr><td>", f);
    page_module_link(f, mj->module, x->version);
    fputs("</td><td>", f);
    page_esc(f, x->origin[0] ? x->origin : "?");
    if (x->vcs[0] != '\0') {
      fputs("<br>git: <code>", f);
      page_esc(f, x->vcs);
      fputs("</code>", f);
    }
    fputs("</td><td><code>", f);
    page_esc(f, x->has_mod ? x->mod_h1 : "");
    fputs("</code></td><td>", f);
    if (x->zip_size >= 0) {
      fputs("<code>", f);
      page_esc(f, x->zip_h1);
      fprintf(f, "</code> (%" PRId64 " bytes)%s", x->zip_size,
              x->zip_violations > 0
                  ? " <span class=\"bad\">breaks the module zip rules</span>"
                  : "");
    }
    fputs("</td></tr>\n", f);
  }
  page_table_end(f, v->nversions);
  if (mj->list.status == 200) {
    int n = (int)mj->nlisted;
    page_table_begin(f, "Versions the upstream lists", "listed", n,
                     "version|stored");
    for (size_t i = mj->nlisted; i-- > 0;) {
      fputs("<tr><td>", f);
      page_module_link(f, mj->module, mj->listed[i]);
      fprintf(f, "</td><td>%s</td></tr>\n",
              is_stored(&mj->view, mj->listed[i]) ? "stored" : "");
    }
    page_table_end(f, n);
  }
  page_table_begin(f, "Findings", "modfindings", v->nfindings,
                   "finding|version|what");
  for (int i = 0; i < v->nfindings; i++) {
    fputs("<tr><td>", f);
    page_esc(f, v->findings[i].kind);
    fputs("</td><td>", f);
    page_module_link(f, v->findings[i].version[0] ? mj->module : NULL,
                     v->findings[i].version);
    fputs("</td><td><pre>", f);
    page_esc(f, v->findings[i].message);
    fputs("</pre></td></tr>\n", f);
  }
  page_table_end(f, v->nfindings);
  requests_rows(f, "Latest requests", "modrequests", v->requests, v->nrequests,
                0);
  page_end(f, proxy_conn_target(mj->conn));
}

static void on_module_view_done(uv_work_t *w, int status) {
  struct module_job *mj = w->data;
  struct proxy_conn *c = mj->conn;
  if (!proxy_conn_gone(c)) {
    static void (*const fn[3])(FILE *, const void *) = {
        [PROXY_FORMAT_TEXT] = render_module_text,
        [PROXY_FORMAT_HTML] = render_module_html,
        [PROXY_FORMAT_JSON] = render_module_json,
    };
    if (mj->rc == 0)
      send_page(c, mj->fmt, fn, mj);
    else
      proxy_conn_send_text(c, 503, "could not read the store; see the log",
                           NULL);
  }
  proxy_conn_release(c);
  store_answer_dispose(&mj->list);
  free(mj->listed);
  free(mj->list_text);
  free(mj->policy);
  free(mj);
}

static void serve_module(struct proxy_server *s, struct proxy_conn *c,
                         enum proxy_format fmt, const char *spec) {
  struct module_job *mj = calloc(1, sizeof *mj);
  if (mj == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  /* <path>[@<version>], the path as written or !-escaped. */
  char path[GOMOD_MAX_PATH_BYTES * 2];
  snprintf(path, sizeof path, "%s", spec);
  char *at = strchr(path, '@');
  if (at != NULL) {
    *at = '\0';
    snprintf(mj->version, sizeof mj->version, "%s", at + 1);
  }
  char why[256] = "";
  if (strchr(path, '!') != NULL
          ? gomod_unescape_path(path, mj->module, sizeof mj->module, why,
                                sizeof why) < 0
          : gomod_check_path(path, why, sizeof why) < 0 ||
                snprintf(mj->module, sizeof mj->module, "%s", path) < 0) {
    free(mj);
    proxy_conn_send_text(c, 400, why, NULL);
    return;
  }
  /* A copy: the configuration may be replaced while the store is read. */
  const struct policy *p = policy_find(s->cfg->policies, mj->module);
  if (p != NULL &&
      asprintf(&mj->policy, "%s%s", policy_shown(p),
               mj->version[0] != '\0' && policy_denies(p, mj->version)
                   ? " (refuses this version)"
                   : "") < 0) {
    free(mj);
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  mj->conn = c;
  mj->s = s;
  mj->fmt = fmt;
  mj->work.data = mj;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &mj->work, on_module_view, on_module_view_done) <
      0) {
    proxy_conn_release(c);
    free(mj->policy);
    free(mj);
    proxy_conn_send_text(c, 503, "could not queue the lookup; retry", NULL);
  }
}

void proxy_route_diag(struct proxy_conn *c, void *arg) {
  struct proxy_server *s = arg;
  const char *url = proxy_conn_target(c);
  char path[HTTP_MAX_URL_BYTES + 1];
  snprintf(path, sizeof path, "%s", url);
  char *query = strchr(path, '?');
  if (query != NULL)
    *query++ = '\0';
  enum proxy_format fmt = proxy_format_negotiate(url, proxy_conn_accept(c));
  if (strcmp(path, "/diag") == 0 || strcmp(path, "/diag/") == 0) {
    serve_summary(s, c, fmt, query);
    return;
  }
  if (strcmp(path, "/diag/config") == 0) {
    serve_config(s, c, fmt);
    return;
  }
  if (strncmp(path, "/diag/req/", 10) == 0 && path[10] != '\0') {
    serve_request_record(s, c, fmt, path + 10);
    return;
  }
  if (strncmp(path, "/diag/module/", 13) == 0 && path[13] != '\0') {
    serve_module(s, c, fmt, path + 13);
    return;
  }
  proxy_conn_send_text(c, 404,
                       "no such diagnostics page; try /diag, /diag/config, "
                       "/diag/module/<path>[@<version>] or /diag/req/<id>",
                       NULL);
}
