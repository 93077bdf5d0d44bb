/*
 * POST /diag/modfile: analyse a client's go.mod (and go.sum) as its build
 * would resolve it through this proxy.
 *
 * The body is a go.mod (text/plain), or multipart/form-data with the fields
 * gomod, and optionally gosum, go_version, gotoolchain, goproxy, gonoproxy,
 * gonosumdb and goprivate (the client's `go env` values). The analysis
 * (diag/analyze.c) runs on a worker thread and fetches the go.mod files and
 * lists it needs as any client would, with the client's user: it hands each
 * request target to the loop thread (uv_async), where goproxy_get answers
 * it through the GOPROXY core (cached, coalesced, recorded, fetched upstream
 * when missing), and waits for the answer. At most PROXY_MAX_ANALYSES run
 * at once, so that they never hold every worker thread while their own
 * requests wait for one.
 *
 * Everything that costs time in proportion to the body runs on the worker
 * thread: the form is parsed there (diag_form_parse, linear), from the
 * request's body, which the held connection keeps until the response. When
 * the client goes away, the analysis is cancelled: once its request in
 * flight is answered, every later one fails at once.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "page.h"
#include "modproxy/timeutil.h"
#include "ops.h"

/* Analyses running at once (each holds one worker thread while it waits on
 * its requests to the GOPROXY core, whose store lookups need one too). */
#define PROXY_MAX_ANALYSES 2
/* Drift looks at what other builds resolved in this window. */
#define PROXY_DRIFT_WINDOW_MS (14ll * 24 * 3600 * 1000)

/* The client's settings, read from the form into diag_client. */
#define ANALYSIS_FIELDS 7
static const char *const setting_names[ANALYSIS_FIELDS] = {
    "go_version", "goproxy",     "gonoproxy", "gonosumdb",
    "goprivate",  "gotoolchain", "gosumdb"};

struct analysis_job {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *server;
  const struct proxy_config *cfg; /* held: the worker reads it */
  /* One request at a time from the worker to the loop thread: the worker
   * sets `want` and waits until `got_done`; the loop thread answers. */
  uv_async_t async;
  uv_mutex_t lock;
  uv_cond_t cond;
  char want[HTTP_MAX_URL_BYTES]; /* the request target, "" when none */
  int got_done, got_status;
  char *got; /* the answer's body (heap, NUL-terminated), or NULL */
  size_t got_len;
  /* The request's body and type: borrowed from the connection, which is
   * held (and does not touch them) until on_analysed. */
  const char *body;
  size_t body_len;
  const char *content_type;
  char *decoded; /* an urlencoded body, decoded (heap), or NULL */
  /* Views into body (or decoded). */
  const char *gomod, *gosum;
  size_t gomod_len, gosum_len;
  char *fields[ANALYSIS_FIELDS]; /* setting_names, NUL-terminated copies */
  char base[300];
  char user[64]; /* the client's: what it may fetch, what the store tells */
  atomic_int cancelled; /* the client went away (loop thread sets it) */
  int rc;
  int status;      /* rc < 0: the answer's status */
  char error[200]; /* ...and its text */
  struct diag_report report;
};

/* Loop thread: the worker's request is answered (goproxy_get's callback). */
static void on_got(const struct goproxy_reply *r, void *arg) {
  struct analysis_job *j = arg;
  uv_mutex_lock(&j->lock);
  j->got_status = r->status;
  /* Copied here: bodies are reference-counted on the loop thread only. */
  if (r->body != NULL && (j->got = malloc(r->body->len + 1)) != NULL) {
    memcpy(j->got, r->body->data, r->body->len + 1);
    j->got_len = r->body->len;
  }
  j->got_done = 1;
  uv_cond_signal(&j->cond);
  uv_mutex_unlock(&j->lock);
}

/* Loop thread: the worker asks for j->want. */
static void on_want(uv_async_t *a) {
  struct analysis_job *j = a->data;
  char target[sizeof j->want];
  uv_mutex_lock(&j->lock);
  snprintf(target, sizeof target, "%s", j->want);
  j->want[0] = '\0';
  uv_mutex_unlock(&j->lock);
  if (target[0] == '\0')
    return;
  if (goproxy_get(j->server, target, j->user, on_got, j) < 0) {
    struct goproxy_reply r = {.status = 503};
    on_got(&r, j);
  }
}

/* GET /<escaped module>/<suffix> through this proxy, as the client would;
 * data NULL discards the body. Worker thread. */
static int self_get(struct analysis_job *j, const char *module,
                    const char *suffix, char **data, size_t *len, char *err,
                    size_t errlen) {
  char esc[GOMOD_MAX_PATH_BYTES * 2];
  if (atomic_load(&j->cancelled))
    return -ECANCELED;
  if (gomod_escape_path(module, esc, sizeof esc, NULL, 0) < 0)
    return -EINVAL;
  uv_mutex_lock(&j->lock);
  snprintf(j->want, sizeof j->want, "/%s/%s", esc, suffix);
  j->got_done = 0;
  uv_async_send(&j->async);
  while (!j->got_done)
    uv_cond_wait(&j->cond, &j->lock);
  uv_mutex_unlock(&j->lock);
  char *got = j->got;
  j->got = NULL;
  int rc = 0;
  if (j->got_status != 200) {
    if (err != NULL)
      snprintf(err, errlen, "%s", got != NULL ? got : "error");
    rc = j->got_status == 404 || j->got_status == 410 ? -ENOENT
         : j->got_status == 403                       ? -EACCES /* policy */
                                                      : -EIO;
  } else if (data != NULL) {
    if (got == NULL)
      got = calloc(1, 1);
    *data = got;
    *len = got != NULL ? j->got_len : 0;
    return got != NULL ? 0 : -ENOMEM;
  }
  free(got);
  return rc;
}

static int src_gomod(void *ctx, const char *path, const char *version,
                     char **data, size_t *len, char *err, size_t errlen) {
  char esc[GOMOD_MAX_VERSION_BYTES * 2],
      suffix[GOMOD_MAX_VERSION_BYTES * 2 + 8];
  if (gomod_escape_version(version, esc, sizeof esc, NULL, 0) < 0)
    return -EINVAL;
  snprintf(suffix, sizeof suffix, "@v/%s.mod", esc);
  return self_get(ctx, path, suffix, data, len, err, errlen);
}

static int src_list(void *ctx, const char *path, char **data, size_t *len) {
  return self_get(ctx, path, "@v/list", data, len, NULL, 0);
}

static int src_latest(void *ctx, const char *path,
                      char out[GOMOD_MAX_VERSION_BYTES]) {
  char *data = NULL;
  size_t len = 0;
  int rc = self_get(ctx, path, "@latest", &data, &len, NULL, 0);
  if (rc == 0)
    rc = gomod_info_version(data, len, out, GOMOD_MAX_VERSION_BYTES);
  free(data);
  return rc;
}

/* The store is read directly below (the zip's h1, other builds' versions):
 * only about modules the client could fetch itself (access.c decides). */
static int may_read(const struct analysis_job *j, const char *path) {
  return proxy_access_may_see(j->server, j->user, path, NULL);
}

static int src_zip_h1(void *ctx, const char *path, const char *version,
                      char h1[GOMOD_H1_BYTES]) {
  struct analysis_job *j = ctx;
  if (!may_read(j, path))
    return -ENOENT;
  struct store_zip_meta m;
  int rc = store_zip_stat(j->server->store, path, version, &m);
  if (rc == -ENOENT) {
    /* Not held yet: fetch it through the proxy, as the build will. */
    char esc[GOMOD_MAX_VERSION_BYTES * 2],
        suffix[GOMOD_MAX_VERSION_BYTES * 2 + 8];
    if (gomod_escape_version(version, esc, sizeof esc, NULL, 0) < 0)
      return -EINVAL;
    snprintf(suffix, sizeof suffix, "@v/%s.zip", esc);
    if (self_get(j, path, suffix, NULL, NULL, NULL, 0) < 0)
      return -ENOENT;
    rc = store_zip_stat(j->server->store, path, version, &m);
  }
  if (rc == 0) {
    memcpy(h1, m.h1, GOMOD_H1_BYTES);
    store_zip_meta_dispose(&m);
  }
  return rc;
}

static int src_recent(void *ctx, const char *path, char **data, size_t *len) {
  struct analysis_job *j = ctx;
  if (!may_read(j, path))
    return -ENOENT;
  struct store_bytes b = {0};
  int64_t now_ms = time_now_ms(CLOCK_REALTIME);
  int rc = store_records_versions(j->server->store, path,
                                  now_ms - PROXY_DRIFT_WINDOW_MS,
                                  GOPROXY_SELF_CLIENT, &b);
  *data = b.data;
  *len = b.len;
  return rc;
}

/* Sets the answer for a request the analysis cannot start on; returns rc. */
static int refuse(struct analysis_job *j, int rc, int status,
                  const char *text) {
  j->status = status;
  snprintf(j->error, sizeof j->error, "%s", text);
  return rc;
}

/* An urlencoded body is a form when it has a gomod field; else it is the
 * go.mod itself, as `curl --data-binary @go.mod` sends it (with curl's
 * default Content-Type). Decoded in a copy the job keeps. 0 with the form,
 * -EINVAL when it is no form, or -ENOMEM. */
static int urlencoded_form(struct analysis_job *j, struct diag_form *f) {
  const char *v;
  size_t n;
  j->decoded = malloc(j->body_len + 1);
  if (j->decoded == NULL)
    return -ENOMEM;
  memcpy(j->decoded, j->body, j->body_len);
  if (diag_form_parse_urlencoded(j->decoded, j->body_len, f) < 0 ||
      diag_form_get(f, "gomod", &v, &n) < 0)
    return -EINVAL;
  return 0;
}

/* The go.mod, go.sum and settings: the body itself (a go.mod as
 * text/plain), or the fields of a form (multipart, or urlencoded as an
 * HTML form sends it by default). */
static int read_form(struct analysis_job *j) {
  struct diag_form f;
  int form = 0, rc = 0;
  if (strncasecmp(j->content_type, "multipart/", 10) == 0) {
    form = 1;
    rc = diag_form_parse(j->body, j->body_len, j->content_type, &f);
  } else if (strncasecmp(j->content_type, "application/x-www-form-urlencoded",
                         33) == 0) {
    rc = urlencoded_form(j, &f);
    form = rc == 0;
    rc = rc == -EINVAL ? 0 : rc;
  }
  if (rc == -ENOMEM)
    return refuse(j, rc, 503, "out of memory");
  if (rc == -E2BIG)
    return refuse(j, rc, 413,
                  "the form has too many parts, or a part header or "
                  "field name that is too long");
  if (rc < 0)
    return refuse(j, rc, 400,
                  "the form is not multipart/form-data with the boundary "
                  "its Content-Type names, or it is cut short");
  if (!form) {
    j->gomod = j->body;
    j->gomod_len = j->body_len;
  } else {
    /* An HTML form sends an empty gomod when nothing was pasted. */
    if (diag_form_get(&f, "gomod", &j->gomod, &j->gomod_len) < 0 ||
        j->gomod_len == 0)
      j->gomod = NULL;
    if (diag_form_get(&f, "gosum", &j->gosum, &j->gosum_len) < 0)
      j->gosum = NULL;
  }
  if (j->gomod == NULL)
    return refuse(j, -EINVAL, 400,
                  "no go.mod in the request: send it as the body "
                  "(text/plain) or as the form field gomod");
  for (int i = 0; form && i < ANALYSIS_FIELDS; i++) {
    const char *v;
    size_t n;
    if (diag_form_get(&f, setting_names[i], &v, &n) < 0)
      continue;
    if (n > DIAG_CLIENT_MAX_SETTING_BYTES)
      return refuse(j, -E2BIG, 413,
                    "a go env value in the form is too long (GOPRIVATE and "
                    "the like: a few hundred bytes)");
    j->fields[i] = strndup(v, n);
    if (j->fields[i] == NULL)
      return refuse(j, -ENOMEM, 503, "out of memory");
  }
  return 0;
}

static void on_analyse(uv_work_t *w) {
  struct analysis_job *j = w->data;
  j->rc = read_form(j);
  if (j->rc < 0)
    return;
  struct diag_source src = {
      .gomod = src_gomod,
      .list = src_list,
      .latest = src_latest,
      .zip_h1 = src_zip_h1,
      .recent = src_recent,
      .ctx = j,
  };
  struct diag_client client = {
      .go_version = j->fields[0],
      .goproxy = j->fields[1],
      .gonoproxy = j->fields[2],
      .gonosumdb = j->fields[3],
      .goprivate = j->fields[4],
      .gotoolchain = j->fields[5],
      .gosumdb = j->fields[6],
      .proxy_base = j->base,
      .proxy_private = j->cfg->private_patterns,
  };
  j->rc = diag_modfile_analyze(j->gomod, j->gomod_len, j->gosum, j->gosum_len,
                               &client, &src, &j->report);
}

/* ---- HTML: the form that asks for a report, and the report ----------- */

/* The Content-Type of each proxy_format. */
static const char *const format_types[] = {"text/plain; charset=utf-8",
                                           "text/html; charset=utf-8",
                                           "application/json"};

/* The form: go.mod and go.sum pasted or uploaded (one name each: the one
 * that is not empty counts), the client's Go version and GOTOOLCHAIN. */
static void html_form(FILE *f) {
  fputs("<form method=\"post\" action=\"/diag/modfile\" "
        "enctype=\"multipart/form-data\">"
        "<p><label for=\"gomod\"><b>go.mod</b></label>: paste it, or "
        "upload it <input type=\"file\" name=\"gomod\"><br>"
        "<textarea id=\"gomod\" name=\"gomod\" rows=\"12\"></textarea></p>"
        "<p><label for=\"gosum\"><b>go.sum</b></label> (optional): paste "
        "it, or upload it <input type=\"file\" name=\"gosum\"><br>"
        "<textarea id=\"gosum\" name=\"gosum\" rows=\"6\"></textarea></p>"
        "<p><label>The client's Go version <input name=\"go_version\" "
        "placeholder=\"go1.26.8\" size=\"12\"></label> "
        "(<code>go env GOVERSION</code>) <label>GOTOOLCHAIN <select "
        "name=\"gotoolchain\"><option>auto</option><option>local</option>"
        "</select></label></p>"
        "<p><button type=\"submit\">Analyse</button></p></form>",
        f);
}

/* A link to the module's page (at version, if not NULL). */
static void html_module_link(FILE *f, const char *path, const char *version) {
  fputs("<a href=\"/diag/module/", f);
  page_url(f, path);
  if (version != NULL) {
    fputc('@', f);
    page_url(f, version);
  }
  fputs("\">", f);
  page_esc(f, version != NULL ? version : path);
  fputs("</a>", f);
}

/* The kinds of the findings about path, each with its fix. */
static void html_module_findings(FILE *f, const struct diag_report *r,
                                 const char *path) {
  for (size_t i = 0; i < r->nfindings; i++) {
    const struct diag_finding *d = &r->findings[i];
    if (d->module == NULL || strcmp(d->module, path) != 0)
      continue;
    fputs("<div><b>", f);
    page_esc(f, d->kind);
    fputs("</b>", f);
    if (d->fix != NULL) {
      fputs(": <code>", f);
      page_esc(f, d->fix);
      fputs("</code>", f);
    }
    fputs("</div>", f);
  }
}

/* The build list as a table: what go list -m -u all shows, and more. */
static void html_build_table(FILE *f, const struct diag_report *r) {
  int nrows = r->info != NULL ? (int)r->nbuild : 0;
  page_table_begin(f, NULL, "buildlist", nrows,
                   "module|version|latest|pre-release||retracted / "
                   "deprecated|go.sum|findings and fixes");
  for (int i = 0; i < nrows; i++) {
    const struct diag_mod *b = &r->build[i];
    const struct diag_module_info *m = &r->info[i];
    fputs("<tr><td>", f);
    html_module_link(f, b->path, NULL);
    fputs("</td><td>", f);
    html_module_link(f, b->path, b->version);
    fputs("</td><td>", f);
    if (m->latest != NULL && strcmp(m->latest, b->version) != 0)
      html_module_link(f, b->path, m->latest);
    else if (m->latest != NULL)
      fputs("up to date", f);
    fputs("</td><td>", f);
    if (m->prerelease != NULL)
      html_module_link(f, b->path, m->prerelease);
    fprintf(f, "</td><td>%s</td><td>", m->indirect ? "indirect" : "direct");
    if (m->retracted != NULL) {
      fputs("retracted: ", f);
      page_esc(f, m->retracted);
    }
    if (m->deprecated != NULL) {
      fputs(m->retracted != NULL ? "<br>deprecated: " : "deprecated: ", f);
      page_esc(f, m->deprecated);
    }
    fprintf(f, "</td><td>%s</td><td>", diag_sum_name(m->sum));
    html_module_findings(f, r, b->path);
    fputs("</td></tr>", f);
  }
  page_table_end(f, nrows);
}

/* Every finding, errors first, with its message and fix. */
static void html_findings(FILE *f, const struct diag_report *r) {
  static const char *const sev[] = {"error", "warning", "note"};
  fputs("<h2>Findings</h2>", f);
  if (r->nfindings == 0)
    fputs("<p>no problems found</p>", f);
  fputs("<ul>", f);
  for (int s = DIAG_SEV_ERROR; s <= DIAG_SEV_INFO; s++) {
    for (size_t i = 0; i < r->nfindings; i++) {
      const struct diag_finding *d = &r->findings[i];
      if ((int)d->severity != s)
        continue;
      fprintf(f, "<li><b>%s: ", sev[s]);
      page_esc(f, d->kind);
      fputs("</b>", f);
      if (d->module != NULL) {
        fputs(" (", f);
        html_module_link(f, d->module, d->version);
        fputs(")", f);
      }
      fputs("<br>", f);
      page_esc(f, d->message);
      if (d->fix != NULL) {
        fputs("<br>fix: <code>", f);
        page_esc(f, d->fix);
        fputs("</code>", f);
      }
      fputs("</li>", f);
    }
  }
  fputs("</ul>", f);
}

/* The report as a page, into a new heap string. */
static char *html_report(const struct diag_report *r) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  const char *name = r->main_module != NULL && r->main_module[0] != '\0'
                         ? r->main_module
                         : "go.mod";
  page_begin(f, "modproxy: go.mod report", PAGE_NAV_MODFILE);
  fputs("<p><b>", f);
  page_esc(f, name);
  fprintf(f,
          "</b>: %zu modules in the build list; %d error%s, %d warning%s</p>",
          r->nbuild, r->errors, r->errors == 1 ? "" : "s", r->warnings,
          r->warnings == 1 ? "" : "s");
  html_build_table(f, r);
  html_findings(f, r);
  fputs("<p><a href=\"/diag/modfile\">Analyse another go.mod</a></p>", f);
  page_end(f, NULL);
  fclose(f);
  return out;
}

/* GET /diag/modfile from a browser: the form. */
static void serve_form(struct proxy_conn *c) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  page_begin(f, "modproxy: check a go.mod", PAGE_NAV_MODFILE);
  fputs("<p>What your build resolves through this proxy: each module's "
        "version, the latest, retractions, deprecations, go.sum lines, and "
        "what to do about each problem.</p>",
        f);
  html_form(f);
  page_end(f, NULL);
  fclose(f);
  proxy_conn_send_local(c, 200, "text/html; charset=utf-8", out, len,
                        "Vary: Accept\r\n");
  free(out);
}

static void job_free(struct analysis_job *j) {
  for (int i = 0; i < ANALYSIS_FIELDS; i++)
    free(j->fields[i]);
  free(j->decoded);
  diag_report_dispose(&j->report);
  proxy_config_release(j->cfg);
  uv_cond_destroy(&j->cond);
  uv_mutex_destroy(&j->lock);
  free(j);
}

static void on_async_closed(uv_handle_t *h) {
  job_free(h->data);
}

static void on_analysed(uv_work_t *w, int status) {
  struct analysis_job *j = w->data;
  struct proxy_conn *c = j->conn;
  j->server->analyses--;
  if (!proxy_conn_gone(c)) {
    proxy_conn_watch(c, NULL, NULL);
    if (j->rc < 0 && j->status != 0) {
      proxy_conn_send_text(c, j->status, j->error, NULL);
    } else if (j->rc < 0) {
      proxy_conn_send_text(c, 503, "the analysis ran out of memory or limits",
                           NULL);
    } else {
      enum proxy_format fmt =
          proxy_format_negotiate(proxy_conn_target(c), proxy_conn_accept(c));
      char *body = fmt == PROXY_FORMAT_JSON   ? diag_report_json(&j->report)
                   : fmt == PROXY_FORMAT_HTML ? html_report(&j->report)
                                              : diag_report_text(&j->report, 0);
      proxy_conn_send_local(c, 200, format_types[fmt], body,
                            body != NULL ? strlen(body) : 0,
                            "Vary: Accept\r\n");
      free(body);
    }
  }
  proxy_conn_release(c);
  uv_close((uv_handle_t *)&j->async, on_async_closed);
}

/* Answers 503 when PROXY_MAX_ANALYSES run already: 1 if it did. */
static int analyses_busy(const struct proxy_server *s, struct proxy_conn *c) {
  if (s->analyses < PROXY_MAX_ANALYSES)
    return 0;
  proxy_conn_send_text(c, 503,
                       "modproxy is busy with other analyses; retry "
                       "in a few seconds",
                       NULL);
  return 1;
}

/* The client left: its analysis stops (on the loop thread). */
static void on_client_gone(void *arg) {
  struct analysis_job *j = arg;
  atomic_store(&j->cancelled, 1);
}

/* A job with its handoff to the loop thread set up, or NULL. */
static struct analysis_job *job_new(uv_loop_t *loop) {
  struct analysis_job *j = calloc(1, sizeof *j);
  if (j == NULL)
    return NULL;
  if (uv_mutex_init(&j->lock) < 0)
    goto fail;
  if (uv_cond_init(&j->cond) < 0)
    goto fail_mutex;
  uv_async_init(loop, &j->async, on_want);
  j->async.data = j;
  return j;
fail_mutex:
  uv_mutex_destroy(&j->lock);
fail:
  free(j);
  return NULL;
}

/* The body is in: the analysis starts on a worker thread. */
static void on_body(struct proxy_conn *c, void *arg) {
  struct proxy_server *s = arg;
  if (analyses_busy(s, c))
    return;
  struct analysis_job *j = job_new(s->loop);
  if (j == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  j->body = proxy_conn_body(c, &j->body_len);
  j->content_type = proxy_conn_content_type(c);
  proxy_conn_base(c, j->base, sizeof j->base);
  snprintf(j->user, sizeof j->user, "%s", proxy_conn_user(c));
  j->conn = c;
  j->server = s;
  j->cfg = proxy_config_hold(s);
  j->work.data = j;
  proxy_conn_hold(c);
  s->analyses++;
  if (uv_queue_work(s->loop, &j->work, on_analyse, on_analysed) < 0) {
    s->analyses--;
    proxy_conn_release(c);
    uv_close((uv_handle_t *)&j->async, on_async_closed);
    proxy_conn_send_text(c, 503, "could not queue the analysis; retry", NULL);
    return;
  }
  proxy_conn_watch(c, on_client_gone, j);
}

void proxy_route_modfile(struct proxy_conn *c, void *arg) {
  if (proxy_conn_method(c) == HTTP_GET &&
      proxy_format_negotiate(proxy_conn_target(c), proxy_conn_accept(c)) ==
          PROXY_FORMAT_HTML) {
    serve_form(c);
    return;
  }
  if (proxy_conn_method(c) != HTTP_POST) {
    proxy_conn_send_text_with(c, 405,
                              "POST a go.mod here (text/plain), or a form "
                              "(multipart or urlencoded) with the fields "
                              "gomod, gosum, go_version, gotoolchain, "
                              "goproxy, gonoproxy, gonosumdb, goprivate, "
                              "gosumdb; or run: modproxy diag; or open this "
                              "page in a browser",
                              NULL, "Allow: GET, POST\r\n");
    return;
  }
  if (analyses_busy(arg, c))
    return;
  proxy_conn_read_body(c, on_body, arg);
}
