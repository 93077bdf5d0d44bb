/*
 * /diag over HTTP: what the proxy saw, for the developer whose build failed
 * and for the platform team. Each page is available as plain text (curl),
 * HTML (browsers) and JSON (?format=json or Accept: application/json).
 *
 *   /diag/req/<id>   the full record of one request
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

enum diag_format { FMT_TEXT, FMT_HTML, FMT_JSON };

static enum diag_format negotiate(const struct proxy_conn *c, const char *query) {
  if (query != NULL && strstr(query, "format=json") != NULL)
    return FMT_JSON;
  if (query != NULL && strstr(query, "format=text") != NULL)
    return FMT_TEXT;
  if (query != NULL && strstr(query, "format=html") != NULL)
    return FMT_HTML;
  const char *a = c->req.accept;
  if (strstr(a, "application/json") != NULL)
    return FMT_JSON;
  if (strstr(a, "text/html") != NULL)
    return FMT_HTML;
  return FMT_TEXT;
}

static void html_escape(FILE *f, const char *s) {
  for (; *s != '\0'; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

/* Sends a page body in the negotiated format; text is the plain-text form,
 * json the JSON form. */
static void send_page(struct proxy_conn *c, enum diag_format fmt,
                      const char *title, const char *text, const char *json) {
  char *html = NULL;
  const char *body = text;
  const char *type = "text/plain; charset=utf-8";
  if (fmt == FMT_JSON) {
    body = json;
    type = "application/json";
  } else if (fmt == FMT_HTML) {
    size_t len;
    FILE *f = open_memstream(&html, &len);
    if (f != NULL) {
      fputs("<!doctype html><html><head><meta charset=\"utf-8\"><title>", f);
      html_escape(f, title);
      fputs("</title><style>body{font:15px/1.45 system-ui,sans-serif;"
            "margin:2em auto;max-width:60em;padding:0 1em;color:#222}"
            "pre{background:#f6f6f4;padding:1em;overflow-x:auto;"
            "white-space:pre-wrap}h1{font-size:1.3em}</style></head><body><h1>",
            f);
      html_escape(f, title);
      fputs("</h1><pre>", f);
      html_escape(f, text);
      fputs("</pre></body></html>\n", f);
      fclose(f);
      body = html;
      type = "text/html; charset=utf-8";
    }
  }
  struct proxy_body *b = proxy_body_new(body, strlen(body));
  free(html);
  if (b == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  proxy_conn_outcome(c, DIAG_LOCAL);
  struct conn_response r = {
      .status = 200,
      .content_type = type,
      .cache_control = "no-store",
      .extra_headers = "Vary: Accept\r\n",
      .body = b,
  };
  proxy_conn_send(c, &r);
  proxy_body_unref(b);
}

static void send_record(struct proxy_conn *c, enum diag_format fmt,
                        const struct diag_record *r) {
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
  enum diag_format fmt;
  char id[DIAG_ID_BYTES];
  int rc;
  struct diag_record rec;
};

static void on_req_lookup(uv_work_t *w) {
  struct req_lookup *l = w->data;
  struct store_bytes b = {0};
  l->rc = store_record_get(l->conn->server->store, l->id, &b);
  if (l->rc == 0)
    l->rc = diag_record_parse(b.data, &l->rec);
  store_bytes_free(&b);
}

static void on_req_looked_up(uv_work_t *w, int status) {
  struct req_lookup *l = w->data;
  struct proxy_conn *c = l->conn;
  if (!proxy_conn_gone(c)) {
    if (l->rc == 0) {
      send_record(c, l->fmt, &l->rec);
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

static void serve_request_record(struct proxy_conn *c, enum diag_format fmt,
                                 const char *id) {
  const struct diag_record *r = proxy_records_find(c->server, id);
  if (r != NULL) {
    send_record(c, fmt, r);
    return;
  }
  struct req_lookup *l = calloc(1, sizeof *l);
  if (l == NULL || strlen(id) >= sizeof l->id) {
    free(l);
    proxy_conn_send_text(c, 404, "no such request id", NULL);
    return;
  }
  l->conn = c;
  l->fmt = fmt;
  memcpy(l->id, id, strlen(id) + 1);
  l->work.data = l;
  proxy_conn_hold(c);
  if (uv_queue_work(c->server->loop, &l->work, on_req_lookup, on_req_looked_up) < 0) {
    proxy_conn_release(c);
    free(l);
    proxy_conn_send_text(c, 503, "could not queue the lookup; retry", NULL);
  }
}

void proxy_route_diag(struct proxy_conn *c, const char *url) {
  char path[PROXY_MAX_URL_BYTES + 1];
  snprintf(path, sizeof path, "%s", url);
  char *query = strchr(path, '?');
  if (query != NULL)
    *query++ = '\0';
  enum diag_format fmt = negotiate(c, query);
  if (strncmp(path, "/diag/req/", 10) == 0 && path[10] != '\0') {
    serve_request_record(c, fmt, path + 10);
    return;
  }
  proxy_conn_send_text(c, 404,
                       "no such diagnostics page; try /diag/req/<request id>",
                       NULL);
}
