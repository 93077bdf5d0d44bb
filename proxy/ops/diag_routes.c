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
#include <stdio.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "html.h"
#include "ops.h"

void proxy_html_escape_n(FILE *f, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(s[i], f);
    }
  }
}

void proxy_html_escape(FILE *f, const char *s) {
  proxy_html_escape_n(f, s, strlen(s));
}

void proxy_html_begin(FILE *f, const char *title) {
  fputs("<!doctype html><html><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width\">"
        "<link rel=\"icon\" href=\"data:,\"><title>",
        f);
  proxy_html_escape(f, title);
  fputs("</title><style>body{font:15px/1.45 system-ui,sans-serif;"
        "margin:2em auto;max-width:60em;padding:0 1em;color:#222}"
        "pre{background:#f6f6f4;padding:1em;overflow-x:auto;"
        "white-space:pre-wrap}h1{font-size:1.3em}"
        "table{border-collapse:collapse}th,td{text-align:left;"
        "padding:.2em .6em;border-bottom:1px solid #ddd;vertical-align:top}"
        "textarea{width:100%;font-family:monospace}</style></head><body><h1>",
        f);
  proxy_html_escape(f, title);
  fputs("</h1>", f);
}

void proxy_html_end(FILE *f) {
  fputs("</body></html>\n", f);
}

/* One line of a text page as HTML: headings (unindented lines ending in
 * ':') in bold, and /diag/... references as links. */
static void html_line(FILE *f, const char *line, size_t n) {
  int heading = n > 1 && line[0] != ' ' && line[n - 1] == ':';
  if (heading)
    fputs("<b>", f);
  for (size_t i = 0; i < n;) {
    const char *ref = NULL;
    for (size_t k = i; k + 6 <= n && ref == NULL; k++)
      if (strncmp(line + k, "/diag/", 6) == 0 && (k == i || line[k - 1] == ' '))
        ref = line + k;
    size_t upto = ref != NULL ? (size_t)(ref - line) : n;
    proxy_html_escape_n(f, line + i, upto - i);
    if (ref == NULL)
      break;
    size_t len = strcspn(ref, " \n\"<>");
    if (ref + len > line + n)
      len = (size_t)(line + n - ref);
    fputs("<a href=\"", f);
    proxy_html_escape_n(f, ref, len);
    fputs("\">", f);
    proxy_html_escape_n(f, ref, len);
    fputs("</a>", f);
    i = upto + len;
  }
  if (heading)
    fputs("</b>", f);
  fputc('\n', f);
}

/* Sends a page body in the negotiated format; text is the plain-text form,
 * json the JSON form. */
static void send_page(struct proxy_conn *c, enum proxy_format fmt,
                      const char *title, const char *text, const char *json) {
  char *html = NULL;
  const char *body = text;
  const char *type = "text/plain; charset=utf-8";
  if (fmt == PROXY_FORMAT_JSON) {
    body = json;
    type = "application/json";
  } else if (fmt == PROXY_FORMAT_HTML) {
    size_t len;
    FILE *f = open_memstream(&html, &len);
    if (f != NULL) {
      proxy_html_begin(f, title);
      fputs("<pre>", f);
      for (const char *p = text; *p != '\0';) {
        size_t n = strcspn(p, "\n");
        html_line(f, p, n);
        p += n + (p[n] != '\0');
      }
      fputs("</pre><p><small>Also as <a href=\"?format=json\">JSON</a> and "
            "<a href=\"?format=text\">text</a>.</small></p>",
            f);
      proxy_html_end(f);
      fclose(f);
      body = html;
      type = "text/html; charset=utf-8";
    }
  }
  proxy_conn_send_local(c, 200, type, body, strlen(body), "Vary: Accept\r\n");
  free(html);
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

static void send_record(const struct proxy_server *s, struct proxy_conn *c,
                        enum proxy_format fmt, const struct diag_record *r) {
  if (!record_visible(s, c, r->module, r->target)) {
    /* The same answer as for an unknown id: nothing about a private
     * module reaches an anonymous client. */
    proxy_conn_send_text(c, 404, "no record of that request", NULL);
    return;
  }
  char *text = diag_record_text(r);
  char *json = diag_record_json(r);
  char title[64];
  snprintf(title, sizeof title, "modproxy request %s", r->id);
  if (text != NULL && json != NULL)
    send_page(c, fmt, title, text, json);
  else
    proxy_conn_send_text(c, 503, "out of memory", NULL);
  free(text);
  free(json);
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

struct summary_job {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *s;
  enum proxy_format fmt;
  int rc;
  struct store_summary sum;
  struct store_stats stats;
};

static void on_summary(uv_work_t *w) {
  struct summary_job *sj = w->data;
  struct store *st = sj->s->store;
  sj->rc = store_records_summary(st, &sj->sum);
  if (sj->rc == 0)
    sj->rc = store_stats_get(st, &sj->stats);
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

static void render_summary_text(FILE *f, const struct proxy_server *s,
                                const struct summary_job *sj) {
  const struct store_summary *m = &sj->sum;
  const struct proxy_counters *k = &s->counters;
  uint64_t served = k->hits + k->misses;
  fprintf(f,
          "modproxy %s\n\ncache: %" PRIu64 " versions, %" PRIu64
          " zips (%.1f MiB); hot cache %zu entries (%.1f MiB)\n",
          MODPROXY_VERSION, sj->stats.versions, sj->stats.zips,
          (double)sj->stats.zip_bytes / 1048576.0,
          goproxy_hot(s->goproxy)->count,
          (double)goproxy_hot(s->goproxy)->bytes / 1048576.0);
  fprintf(f,
          "since start: %" PRIu64 " requests, hit ratio %.1f%%, %" PRIu64
          " upstream requests, %" PRIu64 " coalesced waits\n",
          http_server_stats(s->http)->requests,
          served > 0 ? 100.0 * (double)k->hits / (double)served : 0.0,
          k->upstream_requests, k->coalesced);
  fprintf(f, "mirror and checksum databases: /diag/mirror\n");
  fprintf(
      f, "in the last %" PRIu64 " requests: %" PRIu64 " failed\n\nupstreams:\n",
      m->requests, m->failures);
  for (int i = 0; i < upstream_list_count(s->upstreams); i++) {
    const struct proxy_upstream *u = upstream_list_at(s->upstreams, i);
    if (u->base == NULL) {
      fprintf(f, "  off (nothing after this is asked)\n");
      continue;
    }
    const struct upstream_health *h = &u->health;
    uint64_t n = h->ok + h->not_found + h->errors;
    char ok[32], bad[32];
    ago(h->last_ok, ok, sizeof ok);
    ago(h->last_error_at, bad, sizeof bad);
    fprintf(
        f,
        "  %s: %" PRIu64 " found, %" PRIu64 " not found, %" PRIu64
        " failed, avg %" PRIu64 " ms; last answer %s, last failure %s%s%s\n",
        u->shown, h->ok, h->not_found, h->errors, n > 0 ? h->total_ms / n : 0,
        ok, bad, h->last_error[0] ? ": " : "", h->last_error);
  }
  fprintf(f, "\nfailures by cause:\n");
  if (m->ncauses == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < m->ncauses; i++)
    fprintf(f, "  %-16s %6" PRIu64 "%s%s\n", m->causes[i].outcome,
            m->causes[i].count,
            m->causes[i].last_id[0] ? "   latest: /diag/req/" : "",
            m->causes[i].last_id);
  fprintf(f, "\nmost-missed modules:\n");
  if (m->nmissed == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < m->nmissed; i++)
    fprintf(f, "  %6" PRIu64 "  %s\n", m->missed[i].count, m->missed[i].module);
  fprintf(f,
          "  (and %" PRIu64 " expected lookups: the go command asks each "
          "prefix of an import path, a.b/c/d, a.b/c, a.b, for its module)\n",
          m->probes);
  fprintf(f, "\nfindings about modules served (newest first):\n");
  if (m->nfindings == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < m->nfindings; i++)
    fprintf(f, "  %-14s /diag/module/%s%s%s\n", m->findings[i].kind,
            m->findings[i].module, m->findings[i].version[0] ? "@" : "",
            m->findings[i].version);
  fprintf(f, "\nlatest failures:\n");
  if (m->nrecent == 0)
    fprintf(f, "  none\n");
  for (int i = 0; i < m->nrecent; i++)
    fprintf(f, "  /diag/req/%s  %d %s  %s%s%s\n", m->recent[i].id,
            m->recent[i].status, m->recent[i].outcome, m->recent[i].module,
            m->recent[i].version[0] ? "@" : "", m->recent[i].version);
}

static void render_summary_json(FILE *f, const struct proxy_server *s,
                                const struct summary_job *sj) {
  const struct store_summary *m = &sj->sum;
  const struct proxy_counters *k = &s->counters;
  fprintf(f,
          "{\"version\":\"%s\",\"cache\":{\"versions\":%" PRIu64
          ",\"zips\":%" PRIu64 ",\"zip_bytes\":%" PRIu64
          ",\"hot_entries\":%zu,\"hot_bytes\":%zu},",
          MODPROXY_VERSION, sj->stats.versions, sj->stats.zips,
          sj->stats.zip_bytes, goproxy_hot(s->goproxy)->count,
          goproxy_hot(s->goproxy)->bytes);
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
          m->requests, m->failures);
  for (int i = 0; i < m->ncauses; i++) {
    fprintf(f, "%s{\"outcome\":", i > 0 ? "," : "");
    diag_json_write(f, m->causes[i].outcome);
    fprintf(f, ",\"count\":%" PRIu64 ",\"latest\":", m->causes[i].count);
    diag_json_write(f, m->causes[i].last_id[0] ? m->causes[i].last_id : NULL);
    fputc('}', f);
  }
  fprintf(f, "],\"probes\":%" PRIu64 ",\"most_missed\":[", m->probes);
  for (int i = 0; i < m->nmissed; i++) {
    fprintf(f, "%s{\"module\":", i > 0 ? "," : "");
    diag_json_write(f, m->missed[i].module);
    fprintf(f, ",\"count\":%" PRIu64 "}", m->missed[i].count);
  }
  fprintf(f, "],\"findings\":[");
  for (int i = 0; i < m->nfindings; i++) {
    fprintf(f, "%s{\"module\":", i > 0 ? "," : "");
    diag_json_write(f, m->findings[i].module);
    diag_json_field(f, "version", m->findings[i].version);
    diag_json_field(f, "kind", m->findings[i].kind);
    fputc('}', f);
  }
  fprintf(f, "],\"recent_failures\":[");
  for (int i = 0; i < m->nrecent; i++) {
    fprintf(f, "%s{\"id\":", i > 0 ? "," : "");
    diag_json_write(f, m->recent[i].id);
    fprintf(f, ",\"status\":%d,\"outcome\":", m->recent[i].status);
    diag_json_write(f, m->recent[i].outcome);
    diag_json_field(f, "module", m->recent[i].module);
    diag_json_field(f, "version", m->recent[i].version);
    fputc('}', f);
  }
  fprintf(f, "]}\n");
}

/* Renders with fn into a new heap string. */
static char *render(void (*fn)(FILE *, const struct proxy_server *,
                               const struct summary_job *),
                    const struct proxy_server *s,
                    const struct summary_job *sj) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  fn(f, s, sj);
  fclose(f);
  return out;
}

/* Keeps, in every list of the summary, only what the client may see; both
 * renderings then show the same. */
static void summary_filter(const struct proxy_server *s,
                           const struct proxy_conn *c,
                           struct store_summary *m) {
  /* A cause's count is an aggregate; only its latest request says what
   * it was about. */
  for (int i = 0; i < m->ncauses; i++)
    if (!record_visible(s, c, m->causes[i].last_module,
                        m->causes[i].last_target))
      m->causes[i].last_id[0] = '\0';
  int n = 0;
  for (int i = 0; i < m->nmissed; i++)
    if (record_visible(s, c, m->missed[i].module, NULL))
      m->missed[n++] = m->missed[i];
  m->nmissed = n;
  n = 0;
  for (int i = 0; i < m->nfindings; i++)
    if (record_visible(s, c, m->findings[i].module, NULL))
      m->findings[n++] = m->findings[i];
  m->nfindings = n;
  n = 0;
  for (int i = 0; i < m->nrecent; i++)
    if (record_visible(s, c, m->recent[i].module, m->recent[i].target))
      m->recent[n++] = m->recent[i];
  m->nrecent = n;
}

static void on_summary_done(uv_work_t *w, int status) {
  struct summary_job *sj = w->data;
  struct proxy_conn *c = sj->conn;
  if (!proxy_conn_gone(c)) {
    summary_filter(sj->s, c, &sj->sum);
    char *text = sj->rc == 0 ? render(render_summary_text, sj->s, sj) : NULL;
    char *json = sj->rc == 0 ? render(render_summary_json, sj->s, sj) : NULL;
    if (text != NULL && json != NULL)
      send_page(c, sj->fmt, "modproxy diagnostics", text, json);
    else
      proxy_conn_send_text(c, 503, "could not read the store; see the log",
                           NULL);
    free(text);
    free(json);
  }
  proxy_conn_release(c);
  free(sj);
}

static void serve_summary(struct proxy_server *s, struct proxy_conn *c,
                          enum proxy_format fmt) {
  struct summary_job *sj = calloc(1, sizeof *sj);
  if (sj == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  sj->conn = c;
  sj->s = s;
  sj->fmt = fmt;
  sj->work.data = sj;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &sj->work, on_summary, on_summary_done) < 0) {
    proxy_conn_release(c);
    free(sj);
    proxy_conn_send_text(c, 503, "could not queue the summary; retry", NULL);
  }
}

/* ---- /diag/config -------------------------------------------------- */

static void serve_config(const struct proxy_server *s, struct proxy_conn *c,
                         enum proxy_format fmt) {
  const struct proxy_config *cfg = s->cfg;
  char base[300];
  proxy_conn_base(c, base, sizeof base);
  if (base[0] == '\0')
    snprintf(base, sizeof base, "http://%s", cfg->listen);
  const char *priv = cfg->private_patterns != NULL ? cfg->private_patterns : "";
  char *text = NULL, *json = NULL;
  size_t tl, jl;
  FILE *t = open_memstream(&text, &tl);
  FILE *j = open_memstream(&json, &jl);
  if (t == NULL || j == NULL) {
    if (t != NULL)
      fclose(t);
    if (j != NULL)
      fclose(j);
    free(text);
    free(json);
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  fprintf(t,
          "# Settings for the go command of every client of this proxy:\n"
          "go env -w GOPROXY=%s\n",
          base);
  if (priv[0] != '\0')
    fprintf(t,
            "# private modules come from this proxy, and are not in the\n"
            "# public checksum database:\n"
            "go env -w GONOSUMDB=%s\n"
            "# if GOPRIVATE is set, keep it from bypassing the proxy:\n"
            "go env -w GONOPROXY=none\n",
            priv);
  fprintf(t, "# GOFLAGS needs nothing from this proxy.\n");
  fprintf(j, "{\"GOPROXY\":");
  diag_json_write(j, base);
  diag_json_field(j, "GONOSUMDB", priv);
  diag_json_field(j, "GONOPROXY", priv[0] != '\0' ? "none" : "");
  fprintf(j, ",\"GOFLAGS\":\"\",\"policies\":[");
  const struct policy_set *ps = cfg->policies;
  for (int i = 0; i < policy_set_count(ps); i++) {
    const char *shown = policy_shown(policy_set_at(ps, i));
    if (i == 0)
      fprintf(t, "# Module policies of this proxy (the first match wins):\n");
    fprintf(t, "#   %s\n", shown);
    if (i > 0)
      fputc(',', j);
    diag_json_write(j, shown);
  }
  fprintf(j, "]}\n");
  fclose(t);
  fclose(j);
  send_page(c, fmt, "modproxy client settings", text, json);
  free(text);
  free(json);
}

/* ---- /diag/module ---------------------------------------------------- */

static void iso(int64_t ms, char *buf, size_t len) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

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
  iso(mj->list.fetched * 1000, when, sizeof when);
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

static void render_module_text(FILE *f, const struct module_job *mj) {
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
    iso(v->requests[i].time_ms, when, sizeof when);
    fprintf(f, "  %s  %s  %d %s  %s  /diag/req/%s\n", when,
            v->requests[i].client, v->requests[i].status,
            v->requests[i].outcome, v->requests[i].target, v->requests[i].id);
  }
}

static void render_module_json(FILE *f, const struct module_job *mj) {
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

static char *render_with(void (*fn)(FILE *, const struct module_job *),
                         const struct module_job *mj) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  fn(f, mj);
  fclose(f);
  return out;
}

static void on_module_view_done(uv_work_t *w, int status) {
  struct module_job *mj = w->data;
  struct proxy_conn *c = mj->conn;
  if (!proxy_conn_gone(c)) {
    char *text = mj->rc == 0 ? render_with(render_module_text, mj) : NULL;
    char *json = mj->rc == 0 ? render_with(render_module_json, mj) : NULL;
    char title[GOMOD_MAX_PATH_BYTES + 32];
    snprintf(title, sizeof title, "modproxy: %s", mj->module);
    if (text != NULL && json != NULL)
      send_page(c, mj->fmt, title, text, json);
    else
      proxy_conn_send_text(c, 503, "could not read the store; see the log",
                           NULL);
    free(text);
    free(json);
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
    serve_summary(s, c, fmt);
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
