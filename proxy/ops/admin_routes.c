/*
 * /admin/: operator actions over HTTP, authenticated with a bearer token
 * (the admin-token setting); without a token configured they do not exist
 * (404), so nothing is open by default.
 *
 *   POST /admin/refresh?module=PATH    (or PATH in a form body: module=PATH)
 *     Drops PATH's expiring answers (version list, @latest, queries,
 *     remembered not-found replies) from the store and from the hot cache,
 *     so that the next request asks the upstream (or the git host) and a
 *     tag pushed a moment ago shows up at once. Meant for a git host's push
 *     webhook:  curl -X POST -H "Authorization: Bearer $TOKEN" \
 *                 "$PROXY/admin/refresh?module=example.com/m"
 *     Stored versions are immutable and stay.
 *
 * The token is compared in constant time; a wrong one is a 401 that says
 * nothing about the right one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "ops.h"

#define ADMIN_BEARER "Bearer "

static void reply(struct proxy_conn *c, int status, const char *text,
                  const char *extra_headers) {
  proxy_conn_send_local(c, status, "text/plain; charset=utf-8", text,
                        strlen(text), extra_headers);
}

struct refresh_job {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_server *s;
  char module[GOMOD_MAX_PATH_BYTES];
  int dropped; /* answers dropped from the store, or a negative errno */
};

/* 1 when the request carries "Authorization: Bearer <token>". */
static int authorized(const struct proxy_conn *c, const char *token) {
  const char *h = proxy_conn_authorization(c);
  size_t plen = sizeof ADMIN_BEARER - 1;
  if (strncasecmp(h, ADMIN_BEARER, plen) != 0)
    return 0;
  h += plen;
  size_t n = strlen(h), want = strlen(token);
  /* Compare as many bytes as the token has, whatever was sent, so the time
   * taken does not depend on where the first difference is. */
  char given[HTTP_MAX_HEADER_VALUE_BYTES] = {0};
  memcpy(given, h, n < sizeof given ? n : sizeof given - 1);
  return want < sizeof given && n == want &&
         CRYPTO_memcmp(given, token, want) == 0;
}

static int hex(int ch) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

/* Finds `name` in a form-encoded string (a query or a body) and decodes its
 * value into out. 0, -ENOENT, or -EINVAL (bad escape, too long). */
static int form_value(const char *form, size_t len, const char *name, char *out,
                      size_t cap) {
  size_t nlen = strlen(name);
  for (size_t i = 0; i < len;) {
    size_t end = i;
    while (end < len && form[end] != '&')
      end++;
    if (end - i > nlen && strncmp(form + i, name, nlen) == 0 &&
        form[i + nlen] == '=') {
      size_t w = 0;
      for (size_t k = i + nlen + 1; k < end; k++) {
        int ch = (unsigned char)form[k];
        if (ch == '%') {
          if (k + 2 >= end)
            return -EINVAL;
          int hi = hex(form[k + 1]), lo = hex(form[k + 2]);
          if (hi < 0 || lo < 0)
            return -EINVAL;
          ch = hi * 16 + lo;
          k += 2;
        } else if (ch == '+') {
          ch = ' ';
        }
        if (w + 1 >= cap || ch == '\0')
          return -EINVAL;
        out[w++] = (char)ch;
      }
      out[w] = '\0';
      return 0;
    }
    i = end + 1;
  }
  return -ENOENT;
}

static void on_refresh(uv_work_t *w) {
  struct refresh_job *j = w->data;
  j->dropped = store_answers_drop(j->s->store, j->module);
}

static void on_refreshed(uv_work_t *w, int status) {
  struct refresh_job *j = w->data;
  struct proxy_conn *c = j->conn;
  struct proxy_server *s = j->s;
  /* After the store: a request in between may have put the old list back
   * into the hot cache from the store; now neither has it. */
  size_t hot = hot_cache_drop_module(goproxy_hot(s->goproxy), j->module);
  if (!proxy_conn_gone(c)) {
    char text[GOMOD_MAX_PATH_BYTES + 160];
    if (j->dropped < 0) {
      snprintf(text, sizeof text, "refresh %s failed: %s\n", j->module,
               strerror(-j->dropped));
      reply(c, 503, text, NULL);
    } else {
      s->counters.refreshes++;
      snprintf(text, sizeof text,
               "refreshed %s: %d stored and %zu in-memory answers dropped\n",
               j->module, j->dropped, hot);
      reply(c, 200, text, NULL);
    }
  }
  proxy_conn_release(c);
  free(j);
}

/* The module comes from the query, else from the body (read by now). */
static void refresh(struct proxy_conn *c, void *arg) {
  struct proxy_server *s = arg;
  char module[GOMOD_MAX_PATH_BYTES], err[256];
  const char *query = strchr(proxy_conn_target(c), '?');
  size_t body_len;
  const char *body = proxy_conn_body(c, &body_len);
  int rc = -ENOENT;
  if (query != NULL)
    rc = form_value(query + 1, strlen(query + 1), "module", module,
                    sizeof module);
  if (rc == -ENOENT && body != NULL)
    rc = form_value(body, body_len, "module", module, sizeof module);
  if (rc < 0) {
    reply(c, 400,
          rc == -ENOENT ? "refresh: say which module: "
                          "POST /admin/refresh?module=PATH\n"
                        : "refresh: the module parameter is malformed\n",
          NULL);
    return;
  }
  if (gomod_check_path(module, err, sizeof err) < 0) {
    char text[sizeof err + 32];
    snprintf(text, sizeof text, "refresh: %s\n", err);
    reply(c, 400, text, NULL);
    return;
  }
  proxy_conn_subject(c, module, NULL);
  struct refresh_job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    reply(c, 503, "out of memory\n", NULL);
    return;
  }
  j->conn = c;
  j->s = s;
  memcpy(j->module, module, sizeof module);
  j->work.data = j;
  proxy_conn_hold(c);
  if (uv_queue_work(s->loop, &j->work, on_refresh, on_refreshed) < 0) {
    proxy_conn_release(c);
    free(j);
    reply(c, 503, "could not queue the refresh; retry\n", NULL);
  }
}

void proxy_route_admin(struct proxy_conn *c, void *arg) {
  const struct proxy_server *s = arg;
  const char *path = proxy_conn_target(c);
  const char *token = s->cfg->admin_token;
  if (token == NULL || token[0] == '\0') {
    reply(c, 404,
          "the admin endpoints are off: set admin-token (--admin-token, "
          "MODPROXY_ADMIN_TOKEN or the config file) to use them\n",
          NULL);
    return;
  }
  const char *q = strchr(path, '?');
  size_t plen = q != NULL ? (size_t)(q - path) : strlen(path);
  if (plen != sizeof "/admin/refresh" - 1 ||
      strncmp(path, "/admin/refresh", plen) != 0) {
    reply(c, 404, "no such admin endpoint; there is POST /admin/refresh\n",
          NULL);
    return;
  }
  if (!authorized(c, token)) {
    reply(c, 401,
          "the admin endpoints need Authorization: Bearer <admin-token>\n",
          "WWW-Authenticate: Bearer realm=\"modproxy admin\"\r\n");
    return;
  }
  if (proxy_conn_method(c) != HTTP_POST) {
    reply(c, 405, "use POST /admin/refresh?module=PATH\n", "Allow: POST\r\n");
    return;
  }
  proxy_conn_read_body(c, refresh, arg);
}
