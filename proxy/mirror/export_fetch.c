/*
 * `modproxy export`'s fetching (export.h): a modproxy server embedded in
 * the process and the transfers through it.
 *
 * The server runs on its own loop and thread, on the same store and
 * settings as `serve`, so that what the store lacks is fetched, verified
 * and cached exactly as a serving modproxy would. The command's thread
 * talks to it over HTTP on 127.0.0.1 with curl, EXPORT_PARALLEL transfers
 * at a time; a body is kept in memory up to PROXY_MAX_SMALL_BODY_BYTES,
 * except a zip's, of which only the start of an error answer is kept (the
 * bundle is written from the store afterwards).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "export.h"
#include "modproxy/buf.h"
#include "modproxy/gomod.h"

/* Requests in flight to the embedded server: enough to keep the upstream
 * busy, few enough not to look like a flood. */
#define EXPORT_PARALLEL 8
/* A transfer that moves no byte for this long fails. */
#define EXPORT_STALL_TIMEOUT_S 300
/* Of a discarded body (a zip), the start of an error answer is kept. */
#define EXPORT_ERROR_BODY_BYTES 1024

/* ---- the embedded server ------------------------------------------------- */

static void on_stop_async(uv_async_t *a) {
  uv_close((uv_handle_t *)a, NULL);
  proxy_server_stop(a->data);
}

static void server_thread(void *arg) {
  struct exporter *x = arg;
  x->server_rc = proxy_server_run(x->s);
}

int export_server_start(struct exporter *x) {
  /* Only this process talks to it: plain HTTP on loopback, no
   * credentials, no limits, no eviction while the bundle is made. */
  x->cfg.listen = "127.0.0.1:0";
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
  /* The server's request log (stdout) is of no use here. */
  fflush(stdout);
  x->saved_stdout = dup(STDOUT_FILENO);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    close(null);
  }
  rc = proxy_server_init(x->s, &x->loop, &x->cfg);
  if (rc < 0) {
    fflush(stdout);
    dup2(x->saved_stdout, STDOUT_FILENO);
    close(x->saved_stdout);
    x->saved_stdout = -1;
    /* A failed init released what it acquired and left no handle. */
    free(x->s);
    x->s = NULL;
    uv_loop_close(&x->loop);
    return rc;
  }
  uv_async_init(&x->loop, &x->stop, on_stop_async);
  x->stop.data = x->s;
  snprintf(x->base, sizeof x->base, "%s", x->s->self_url);
  return uv_thread_create(&x->thread, server_thread, x);
}

void export_server_stop(struct exporter *x) {
  uv_async_send(&x->stop);
  uv_thread_join(&x->thread);
  free(x->s);
  x->s = NULL;
  uv_loop_close(&x->loop);
  fflush(stdout);
  if (x->saved_stdout >= 0) {
    dup2(x->saved_stdout, STDOUT_FILENO);
    close(x->saved_stdout);
    x->saved_stdout = -1;
  }
}

/* ---- fetching through it ------------------------------------------------- */

/* A zip is fetched for its status: its body is dropped, an error answer's
 * first EXPORT_ERROR_BODY_BYTES kept (t->body truncates). */
static size_t on_data(char *p, size_t size, size_t n, void *userp) {
  struct xfer *t = userp;
  long status = 0;
  if (t->discard) {
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200)
      return size * n;
  }
  return buf_curl_write(p, size, n, &t->body);
}

static int xfer_start(struct exporter *x, struct xfer *t) {
  t->body.max =
      t->discard ? EXPORT_ERROR_BODY_BYTES : PROXY_MAX_SMALL_BODY_BYTES;
  t->body.truncate = t->discard;
  t->easy = curl_easy_init();
  if (t->easy == NULL)
    return -ENOMEM;
  curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->err);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME,
                   (long)EXPORT_STALL_TIMEOUT_S);
  curl_easy_setopt(t->easy, CURLOPT_USERAGENT,
                   "modproxy-export/" MODPROXY_VERSION);
  return curl_multi_add_handle(x->multi, t->easy) == CURLM_OK ? 0 : -ENOMEM;
}

/* Runs every transfer, EXPORT_PARALLEL at a time; one progress step each. */
void export_fetch_all(struct exporter *x, struct xfer **v, size_t n) {
  size_t next = 0, running = 0;
  while (next < n || running > 0) {
    while (running < EXPORT_PARALLEL && next < n) {
      struct xfer *t = v[next++];
      if (xfer_start(x, t) < 0) {
        t->rc = CURLE_OUT_OF_MEMORY;
        bundle_progress_step(&x->pr, 1);
        continue;
      }
      running++;
    }
    int still = 0;
    curl_multi_perform(x->multi, &still);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(x->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE)
        continue;
      struct xfer *t;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      t->rc = (int)m->data.result;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
      curl_multi_remove_handle(x->multi, t->easy);
      curl_easy_cleanup(t->easy);
      t->easy = NULL;
      running--;
      bundle_progress_step(&x->pr, 1);
    }
    if (running > 0)
      curl_multi_poll(x->multi, NULL, 0, 1000, NULL);
  }
}

void xfer_free(struct xfer *t) {
  if (t == NULL)
    return;
  free(t->body.data);
  free(t);
}

/* Why a transfer failed, in a few words (the body's first line). */
void xfer_why(const struct xfer *t, char *out, size_t cap) {
  if (t->rc != 0)
    snprintf(out, cap, "%s", t->err[0] != '\0' ? t->err : "transfer failed");
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
  snprintf(t->url, sizeof t->url, "%s/%s/%s", x->base, ep, suffix);
  return t;
}
