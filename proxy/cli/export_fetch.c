/*
 * `modproxy export`'s fetching (export.h): the proxy's subsystems running
 * in the process, on the command's own loop, without a listener, and the
 * requests made through them.
 *
 * The server is set up on the same store and settings as `serve`, so that
 * what the store lacks is fetched, verified and cached exactly as a serving
 * modproxy would. Requests go to the GOPROXY core directly (goproxy_get),
 * and those for a checksum database to its reader (proxy_sumdb_read),
 * EXPORT_PARALLEL at a time, while the command runs the loop. A body is
 * kept in memory up to PROXY_MAX_SMALL_BODY_BYTES, except a zip's, of
 * which only the start of an error answer is kept (the bundle is written
 * from the store afterwards).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "modproxy/buf.h"
#include "modproxy/gomod.h"

/* Requests in flight at once: enough to keep the upstream busy, few enough
 * not to look like a flood. */
#define EXPORT_PARALLEL 8
/* Of a discarded body (a zip), the start of an error answer is kept. */
#define EXPORT_ERROR_BODY_BYTES 1024

/* ---- the server's subsystems --------------------------------------------- */

int export_server_start(struct exporter *x) {
  /* No listener: nothing but this process asks, with no credentials, no
   * limits and no eviction while the bundle is made. */
  x->cfg.listen = NULL;
  x->cfg.tls_cert = x->cfg.tls_key = NULL;
  x->cfg.auth_file = NULL;
  x->cfg.auth_all = 0;
  x->cfg.admin_token = NULL;
  x->cfg.max_connections = 0;
  x->cfg.max_request_rate = 0;
  x->cfg.max_cache_bytes = 0;
  x->s = calloc(1, sizeof *x->s);
  if (x->s == NULL)
    return -ENOMEM;
  int rc = uv_loop_init(&x->loop);
  if (rc < 0) {
    free(x->s);
    x->s = NULL;
    return rc;
  }
  rc = proxy_server_init(x->s, &x->loop, &x->cfg);
  if (rc < 0) {
    /* A failed init released what it acquired and left no handle. */
    free(x->s);
    x->s = NULL;
    uv_loop_close(&x->loop);
  }
  return rc;
}

void export_server_stop(struct exporter *x) {
  proxy_server_stop(x->s);
  proxy_server_run(x->s); /* the work still running, then the release */
  free(x->s);
  x->s = NULL;
  uv_loop_close(&x->loop);
}

/* ---- requests ------------------------------------------------------------ */

/* A request ended: one progress step. */
static void xfer_end(struct xfer *t) {
  t->x->running--;
  bundle_progress_step(&t->x->pr, 1);
}

/* Keeps an answer's body (a zip's only when it is an error's text). */
static void xfer_answer(struct xfer *t, int status,
                        const struct proxy_body *body) {
  t->status = status;
  if (body != NULL && !(t->discard && status == 200) &&
      buf_append(&t->body, body->data, body->len) < 0)
    snprintf(t->err, sizeof t->err, "answer too large or out of memory");
}

static void on_got(const struct goproxy_reply *r, void *arg) {
  struct xfer *t = arg;
  xfer_answer(t, r->status, r->body);
  xfer_end(t);
}

static void on_sumdb_got(void *arg, const struct proxy_sumdb_answer *a) {
  struct xfer *t = arg;
  xfer_answer(t, a->status, a->body);
  xfer_end(t);
}

/* The database of a "/sumdb/<name>/<path>" target, and *path, or NULL. */
static struct proxy_sumdb_db *sumdb_of(struct exporter *x, const char *target,
                                       const char **path) {
  const char *after = target + strlen("/sumdb/");
  for (int i = 0; i < proxy_sumdb_count(x->s->sumdb); i++) {
    struct proxy_sumdb_db *db = proxy_sumdb_at(x->s->sumdb, i);
    size_t n = strlen(db->spec.key.name);
    if (strncmp(after, db->spec.key.name, n) == 0 && after[n] == '/') {
      *path = after + n + 1;
      return db;
    }
  }
  return NULL;
}

/* Starts t; 0, or a negative errno (nothing started). */
static int xfer_start(struct exporter *x, struct xfer *t) {
  t->body.max =
      t->discard ? EXPORT_ERROR_BODY_BYTES : PROXY_MAX_SMALL_BODY_BYTES;
  t->body.truncate = t->discard;
  if (strncmp(t->url, "/sumdb/", 7) != 0)
    return goproxy_get(x->s, t->url, "", on_got, t);
  const char *path;
  struct proxy_sumdb_db *db = sumdb_of(x, t->url, &path);
  if (db == NULL)
    return -ENOENT;
  return proxy_sumdb_read(x->s, db, path, on_sumdb_got, t);
}

void export_fetch_all(struct exporter *x, struct xfer **v, size_t n) {
  size_t next = 0;
  while (next < n || x->running > 0) {
    while (x->running < EXPORT_PARALLEL && next < n) {
      struct xfer *t = v[next++];
      t->x = x;
      x->running++;
      t->rc = xfer_start(x, t);
      if (t->rc < 0) {
        snprintf(t->err, sizeof t->err, "%s", strerror(-t->rc));
        xfer_end(t);
      }
    }
    if (x->running > 0)
      uv_run(&x->loop, UV_RUN_ONCE);
  }
}

void xfer_free(struct xfer *t) {
  if (t == NULL)
    return;
  free(t->body.data);
  free(t);
}

/* Why a request failed, in a few words (the body's first line). */
void xfer_why(const struct xfer *t, char *out, size_t cap) {
  if (t->rc != 0)
    snprintf(out, cap, "%s", t->err[0] != '\0' ? t->err : "request failed");
  else
    snprintf(out, cap, "HTTP %ld: %.*s", t->status,
             t->body.data != NULL ? (int)strcspn(t->body.data, "\n") : 0,
             t->body.data != NULL ? t->body.data : "");
}

struct xfer *xfer_new(struct exporter *x, const char *module,
                      const char *suffix_fmt, const char *version) {
  struct xfer *t = calloc(1, sizeof *t);
  char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2] = "";
  if (t == NULL || gomod_escape_path(module, ep, sizeof ep, NULL, 0) < 0 ||
      (version != NULL &&
       gomod_escape_version(version, ev, sizeof ev, NULL, 0) < 0)) {
    free(t);
    return NULL;
  }
  char suffix[GOMOD_MAX_VERSION_BYTES * 2 + 16];
  snprintf(suffix, sizeof suffix, suffix_fmt, ev);
  snprintf(t->url, sizeof t->url, "/%s/%s", ep, suffix);
  return t;
}
