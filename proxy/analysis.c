/*
 * POST /diag/modfile: analyse a client's go.mod (and go.sum) as its build
 * would resolve it through this proxy.
 *
 * The body is a go.mod (text/plain), or multipart/form-data with the fields
 * gomod, and optionally gosum, go_version, gotoolchain, goproxy, gonoproxy,
 * gonosumdb and goprivate (the client's `go env` values). The analysis
 * (diag/analyze.c) runs on a worker thread and fetches the go.mod files and
 * lists it needs through this proxy's own listener, as any client would:
 * cached, coalesced, recorded, fetched upstream when missing. At most
 * PROXY_MAX_ANALYSES run at once, so that they never hold every worker thread
 * while their own requests wait for one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "conn.h"

/* Analyses running at once (each holds one worker thread while it waits on
 * its own HTTP requests to this proxy). */
#define PROXY_MAX_ANALYSES 2
/* Drift looks at what other builds resolved in this window. */
#define PROXY_DRIFT_WINDOW_MS (14ll * 24 * 3600 * 1000)

/* The client's `go env` values a form may carry. */
#define ANALYSIS_FIELDS 6

struct analysis_job {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *server;
  CURL *curl;
  char *gomod, *gosum;
  size_t gomod_len, gosum_len;
  /* go_version, goproxy, gonoproxy, gonosumdb, goprivate, gotoolchain */
  char *fields[ANALYSIS_FIELDS];
  char base[300];
  char authorization[300]; /* the client's, for the requests made for it */
  struct curl_slist *headers;
  int rc;
  struct diag_report report;
};

struct grow {
  char *data;
  size_t len;
  int discard; /* only the status matters (a zip fetched to be stored) */
};

static size_t on_data(char *p, size_t size, size_t n, void *userp) {
  struct grow *g = userp;
  size_t add = size * n;
  if (g->discard)
    return add;
  if (g->len + add > PROXY_MAX_SMALL_BODY_BYTES)
    return 0;
  char *d = realloc(g->data, g->len + add + 1);
  if (d == NULL)
    return 0;
  memcpy(d + g->len, p, add);
  g->data = d;
  g->len += add;
  d[g->len] = '\0';
  return add;
}

/* GET <self>/<escaped module>/<suffix> through this proxy; data NULL
 * discards the body. */
static int self_get(struct analysis_job *j, const char *module,
                    const char *suffix, char **data, size_t *len, char *err,
                    size_t errlen) {
  char esc[GOMOD_MAX_PATH_BYTES * 2], url[GOMOD_MAX_PATH_BYTES * 3];
  if (gomod_escape_path(module, esc, sizeof esc, NULL, 0) < 0)
    return -EINVAL;
  snprintf(url, sizeof url, "%s/%s/%s", j->server->self_url, esc, suffix);
  struct grow g = {.discard = data == NULL};
  curl_easy_setopt(j->curl, CURLOPT_URL, url);
  curl_easy_setopt(j->curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(j->curl, CURLOPT_WRITEDATA, &g);
  CURLcode cc = curl_easy_perform(j->curl);
  long status = 0;
  curl_easy_getinfo(j->curl, CURLINFO_RESPONSE_CODE, &status);
  if (cc != CURLE_OK || status != 200) {
    if (err != NULL)
      snprintf(err, errlen, "%s",
               cc != CURLE_OK   ? curl_easy_strerror(cc)
               : g.data != NULL ? g.data
                                : "error");
    free(g.data);
    return cc == CURLE_OK && (status == 404 || status == 410) ? -ENOENT : -EIO;
  }
  if (data == NULL)
    return 0;
  if (g.data == NULL)
    g.data = calloc(1, 1);
  *data = g.data;
  *len = g.len;
  return g.data != NULL ? 0 : -ENOMEM;
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

static int src_zip_h1(void *ctx, const char *path, const char *version,
                      char h1[GOMOD_H1_BYTES]) {
  struct analysis_job *j = ctx;
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
  struct store_bytes b = {0};
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now_ms = (int64_t)ts.tv_sec * 1000;
  int rc = store_records_versions(j->server->store, path,
                                  now_ms - PROXY_DRIFT_WINDOW_MS, &b);
  *data = b.data;
  *len = b.len;
  return rc;
}

static void on_analyse(uv_work_t *w) {
  struct analysis_job *j = w->data;
  j->curl = curl_easy_init();
  if (j->curl == NULL) {
    j->rc = -ENOMEM;
    return;
  }
  curl_easy_setopt(j->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(j->curl, CURLOPT_TIMEOUT, 120L);
  /* The analysis talks to this very process on loopback: with the TLS
   * listener on, its certificate names the public host, not 127.0.0.1. */
  curl_easy_setopt(j->curl, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(j->curl, CURLOPT_SSL_VERIFYHOST, 0L);
  /* Fetch as the client would: with its credentials, so that private
   * modules are analysed only for clients allowed to see them. */
  if (j->authorization[0] != '\0') {
    char h[sizeof j->authorization + 32];
    snprintf(h, sizeof h, "Authorization: %s", j->authorization);
    j->headers = curl_slist_append(NULL, h);
    curl_easy_setopt(j->curl, CURLOPT_HTTPHEADER, j->headers);
  }
  struct diag_source src = {
      .gomod = src_gomod,
      .list = src_list,
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
      .proxy_base = j->base,
      .proxy_private = j->server->cfg->private_patterns,
  };
  j->rc = diag_modfile_analyze(j->gomod, j->gomod_len, j->gosum, j->gosum_len,
                               &client, &src, &j->report);
  curl_easy_cleanup(j->curl);
  curl_slist_free_all(j->headers);
}

static void job_free(struct analysis_job *j) {
  free(j->gomod);
  free(j->gosum);
  for (int i = 0; i < ANALYSIS_FIELDS; i++)
    free(j->fields[i]);
  diag_report_dispose(&j->report);
  free(j);
}

static void on_analysed(uv_work_t *w, int status) {
  struct analysis_job *j = w->data;
  struct proxy_conn *c = j->conn;
  j->server->analyses--;
  if (!proxy_conn_gone(c)) {
    if (j->rc < 0) {
      proxy_conn_send_text(c, 503, "the analysis ran out of memory or limits",
                           NULL);
    } else {
      int json = strstr(c->req->url, "format=json") != NULL ||
                 strstr(c->req->accept, "application/json") != NULL;
      char *body =
          json ? diag_report_json(&j->report) : diag_report_text(&j->report, 0);
      proxy_conn_send_local(
          c, 200, json ? "application/json" : "text/plain; charset=utf-8", body,
          body != NULL ? strlen(body) : 0, NULL);
      free(body);
    }
  }
  proxy_conn_release(c);
  job_free(j);
}

static char *dup_field(const struct proxy_request *q, const char *name) {
  const char *v;
  size_t n;
  if (diag_form_field(q->body, q->body_len, q->content_type, name, &v, &n) < 0)
    return NULL;
  return strndup(v, n);
}

void proxy_route_modfile(struct proxy_conn *c) {
  struct proxy_server *s = c->server;
  const struct proxy_request *q = c->req;
  if (q->method != HTTP_POST) {
    proxy_conn_send_text_with(c, 405,
                              "POST a go.mod here (text/plain), or a form with "
                              "the fields gomod, gosum, go_version, "
                              "gotoolchain, goproxy, gonoproxy, gonosumdb, "
                              "goprivate; or run: "
                              "modproxy diag",
                              NULL, "Allow: POST\r\n");
    return;
  }
  if (s->analyses >= PROXY_MAX_ANALYSES) {
    proxy_conn_send_text(c, 503,
                         "modproxy is busy with other analyses; retry "
                         "in a few seconds",
                         NULL);
    return;
  }
  struct analysis_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  static const char *const names[ANALYSIS_FIELDS] = {
      "go_version", "goproxy",   "gonoproxy",
      "gonosumdb",  "goprivate", "gotoolchain"};
  if (strncmp(q->content_type, "multipart/form-data", 19) == 0) {
    j->gomod = dup_field(q, "gomod");
    j->gosum = dup_field(q, "gosum");
    for (int i = 0; i < ANALYSIS_FIELDS; i++)
      j->fields[i] = dup_field(q, names[i]);
  } else if (q->body != NULL) {
    j->gomod = strndup(q->body, q->body_len);
  }
  if (j->gomod == NULL) {
    job_free(j);
    proxy_conn_send_text(c, 400,
                         "no go.mod in the request: send it as the body "
                         "(text/plain) or as the form field gomod",
                         NULL);
    return;
  }
  j->gomod_len = strlen(j->gomod);
  j->gosum_len = j->gosum != NULL ? strlen(j->gosum) : 0;
  proxy_conn_base(c, j->base, sizeof j->base);
  snprintf(j->authorization, sizeof j->authorization, "%s", q->authorization);
  j->conn = c;
  j->server = s;
  j->work.data = j;
  proxy_conn_hold(c);
  s->analyses++;
  if (uv_queue_work(s->loop, &j->work, on_analyse, on_analysed) < 0) {
    s->analyses--;
    proxy_conn_release(c);
    job_free(j);
    proxy_conn_send_text(c, 503, "could not queue the analysis; retry", NULL);
  }
}
