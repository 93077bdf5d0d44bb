/*
 * The GOPROXY endpoints (the handler server.c registers for every target
 * that no other handler takes).
 *
 * A GOPROXY request goes, in order, to:
 *  1. the hot cache (loop thread): small replies and zip metadata;
 *  2. the store (a worker thread): versions, zips and expiring answers;
 *  3. the upstreams, through a coalesced fetch job (jobs.c).
 * Versioned .info/.mod/.zip never expire. Lists, @latest and query answers
 * are fresh for --list-ttl, not-found answers for --not-found-ttl; a stale
 * list or @latest is still served (marked) when the upstreams fail.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "mirror.h"
#include "modproxy/timeutil.h"
#include "route.h"
#include "sumdb_proxy.h"

/* Lists and @latest may be cached downstream (nginx, the go command does
 * not) this long; short so that a new tag shows up soon. */
#define ROUTE_LIST_MAX_AGE_S 60
#define ROUTE_IMMUTABLE "public, max-age=31536000, immutable"
#define ROUTE_STALE_HEADERS                                                    \
  "X-Modproxy-Stale: 1\r\nWarning: 110 modproxy \"Response is Stale\"\r\n"
/* A toolchain download the go command gets a 404 or 410 for shows only
 * "toolchain not available" (cmd/go/internal/toolchain Exec): any other
 * status shows the explanation in the body. 400: the request names a Go
 * release that does not exist (or is not here). */
#define ROUTE_TOOLCHAIN_MISSING_STATUS 400

void proxy_etag(const void *data, size_t len, char etag[40]) {
  unsigned char d[32];
  EVP_Digest(data, len, d, NULL, EVP_sha256(), NULL);
  etag[0] = '"';
  for (int i = 0; i < 16; i++)
    snprintf(etag + 1 + 2 * i, 3, "%02x", d[i]);
  snprintf(etag + 33, 7, "\"");
}

static const char *content_type(enum gp_kind k) {
  switch (k) {
  case GP_INFO:
  case GP_LATEST: return "application/json";
  case GP_ZIP: return "application/zip";
  default: return "text/plain; charset=utf-8";
  }
}

/* An offline mirror's lists, @latest and not-found answers come from the
 * store, which an import beside the server may fill at any time: they are
 * kept for this long only (the same second), so that a build retried after
 * an import sees what it added. */
#define PROXY_OFFLINE_ANSWER_TTL_S 1

static int is_fresh(const struct proxy_server *s, const struct hot_value *v) {
  if (v->immutable)
    return 1;
  if (v->fetched <= s->answers_since)
    return 0;
  int64_t ttl = v->status == 200 ? s->cfg->list_ttl_s : s->cfg->not_found_ttl_s;
  if (s->cfg->offline && ttl > PROXY_OFFLINE_ANSWER_TTL_S)
    ttl = PROXY_OFFLINE_ANSWER_TTL_S;
  return (int64_t)time(NULL) - v->fetched < ttl;
}

/* ---- answering: a client connection, or goproxy_get's caller ----------- */

static void ctx_outcome(struct route_ctx *ctx, enum diag_outcome o) {
  if (ctx->conn != NULL) {
    proxy_conn_outcome(ctx->conn, o);
    return;
  }
  ctx->rec.outcome = o;
  ctx->outcome_set = 1;
}

/* The client of a connection left (an in-process caller never does). */
static int ctx_gone(const struct route_ctx *ctx) {
  return ctx->conn != NULL && proxy_conn_gone(ctx->conn);
}

/* goproxy_get's answer: the record a connection would write, then cb. */
static void get_answer(struct route_ctx *ctx, int status,
                       struct proxy_body *body, uint64_t zip_size) {
  struct diag_record *rec = &ctx->rec;
  rec->status = status;
  rec->bytes = body != NULL ? body->len : zip_size;
  if (!ctx->outcome_set)
    rec->outcome = status < 400                     ? DIAG_LOCAL
                   : status == 404 || status == 410 ? DIAG_NOT_FOUND
                   : status < 500                   ? DIAG_INVALID
                                                    : DIAG_UPSTREAM_ERROR;
  if (status >= 400 && body != NULL)
    rec->explanation = strndup(body->data, body->len);
  rec->ms = (uint32_t)(uv_now(ctx->s->loop) - ctx->start_ms);
  struct goproxy_reply r = {
      .status = status, .body = body, .zip_size = zip_size, .id = rec->id};
  ctx->cb(&r, ctx->cb_arg);
  ctx->s->record(ctx->s, rec); /* metrics and records (proxy/ops) */
}

static void send_text(struct route_ctx *ctx, int status, const char *text,
                      const char *cache_control) {
  if (ctx->conn != NULL) {
    proxy_conn_send_text(ctx->conn, status, text, cache_control);
    return;
  }
  struct proxy_body *b = proxy_body_new(text, strlen(text));
  get_answer(ctx, status, b, 0);
  proxy_body_unref(b);
}

/* ---- module policies (policy.h) ---------------------------------------- */

/* 1 when the request's policy refuses version (its answer's version for a
 * query or @latest; "" for the whole module): answered 403 with the
 * reason and an allowed version, from the module's list when the hot
 * cache has it. */
static int policy_refuses(struct route_ctx *ctx, const char *version) {
  if (!policy_denies(ctx->policy, version))
    return 0;
  char key[sizeof ctx->key], text[DIAG_WINDOW_BYTES * 2];
  struct hot_value list;
  hot_cache_key(key, sizeof key, ctx->gp.module, "@v/list");
  int have = hot_cache_get(goproxy_hot(ctx->s->goproxy), key, &list) &&
             list.status == 200 && list.body != NULL;
  policy_refusal(ctx->policy, ctx->gp.module, version,
                 have ? list.body->data : NULL, have ? list.body->len : 0, text,
                 sizeof text);
  ctx_outcome(ctx, DIAG_POLICY);
  send_text(ctx, 403, text, NULL);
  return 1;
}

static int cache_only(const struct route_ctx *ctx) {
  return ctx->policy != NULL && ctx->policy->action == POLICY_CACHE_ONLY;
}

static void send_value(struct route_ctx *ctx, const struct hot_value *v,
                       int stale);

/* A 200 answer as the policy lets it out: a list without the denied
 * versions, a query or @latest refused when it names one. 1 when it has
 * been answered. The stored and cached answers stay the upstream's. */
static int policy_reply(struct route_ctx *ctx, const struct hot_value *v,
                        int stale) {
  const struct policy *p = ctx->policy;
  const struct gp_req *gp = &ctx->gp;
  if (p == NULL || p->action != POLICY_DENY || v->status != 200 ||
      v->body == NULL)
    return 0;
  if (gp->kind == GP_LATEST || (gp->kind == GP_INFO && !gp->canonical)) {
    char version[GOMOD_MAX_VERSION_BYTES];
    return gomod_info_version(v->body->data, v->body->len, version,
                              sizeof version) == 0 &&
           policy_refuses(ctx, version);
  }
  if (gp->kind != GP_LIST)
    return 0;
  size_t len;
  char *list = policy_filter_list(p, v->body->data, v->body->len, &len);
  struct hot_value f = *v;
  f.body = list != NULL ? proxy_body_new(list, len) : NULL;
  free(list);
  if (f.body == NULL) {
    send_text(ctx, 503, "modproxy is out of memory; retry shortly", NULL);
    return 1;
  }
  proxy_etag(f.body->data, f.body->len, f.etag);
  send_value(ctx, &f, stale);
  proxy_body_unref(f.body);
  return 1;
}

/* Sends v as it is. */
static void send_value(struct route_ctx *ctx, const struct hot_value *v,
                       int stale) {
  const struct gp_req *gp = &ctx->gp;
  struct proxy_conn *c = ctx->conn;
  char cc[64];
  if (v->status != 200) {
    int toolchain = gp->kind != GP_LIST && gp->kind != GP_LATEST &&
                    strcmp(gp->module, DIAG_TOOLCHAIN_MODULE) == 0;
    snprintf(cc, sizeof cc, "public, max-age=%" PRId64,
             ctx->cfg->not_found_ttl_s);
    send_text(ctx, toolchain ? ROUTE_TOOLCHAIN_MISSING_STATUS : v->status,
              v->body != NULL ? v->body->data : "not found", cc);
    return;
  }
  if (v->immutable)
    proxy_cache_touch(ctx->s, gp->module, gp->version); /* for eviction */
  if (c == NULL) {
    get_answer(ctx, 200, v->body, v->zip_size);
    return;
  }
  if (v->immutable)
    snprintf(cc, sizeof cc, "%s", ROUTE_IMMUTABLE);
  else
    snprintf(cc, sizeof cc, "public, max-age=%d",
             stale ? 0 : ROUTE_LIST_MAX_AGE_S);
  struct conn_response r = {
      .status = 200,
      .content_type = content_type(gp->kind),
      .cache_control = cc,
      .etag = v->etag,
      .extra_headers = stale ? ROUTE_STALE_HEADERS
                             : proxy_mirror_headers(ctx->s->mirror,
                                                    gp->kind == GP_LIST ||
                                                        gp->kind == GP_LATEST),
      .rangeable = gp->kind == GP_ZIP,
      .body = v->body,
      .size = v->zip_size,
  };
  if (r.body == NULL && r.size > 0) {
    /* A zip too large for the hot cache streams from the store. */
    r.gen = proxy_zip_gen_new(ctx->s, gp->module, gp->version);
    if (r.gen == NULL) {
      proxy_conn_send_text(c, 503, "modproxy is out of memory; retry shortly",
                           NULL);
      return;
    }
  }
  proxy_conn_send(c, &r);
}

/* Answers with v (a stale one: marked), as the module's policy lets it. */
static void reply_value(struct route_ctx *ctx, const struct hot_value *v,
                        int stale) {
  if (!policy_reply(ctx, v, stale))
    send_value(ctx, v, stale);
}

/* The request is over: releases its connection and frees ctx. */
static void ctx_free(struct route_ctx *ctx) {
  if (ctx->conn != NULL)
    proxy_conn_release(ctx->conn);
  diag_record_dispose(&ctx->rec);
  proxy_body_unref(ctx->value.body);
  proxy_body_unref(ctx->stale.body);
  proxy_config_release(ctx->cfg);
  free(ctx);
}

/* ---- store lookup (worker thread) ---------------------------------------- */

static int lookup_answer(struct store *st, struct route_ctx *ctx) {
  struct store_answer a;
  int rc = store_answer_get(st, ctx->gp.module, ctx->gp.suffix, &a);
  if (rc < 0)
    return rc;
  struct hot_value *v = &ctx->value;
  v->status = a.status;
  v->fetched = a.fetched;
  v->body = proxy_body_new(a.body.data, a.body.len);
  if (v->body != NULL && a.status == 200)
    proxy_etag(a.body.data, a.body.len, v->etag);
  store_answer_dispose(&a);
  return v->body != NULL ? 0 : -ENOMEM;
}

struct proxy_body *proxy_zip_body(struct store *st, const char *module,
                                  const char *version, uint64_t size) {
  if (size > PROXY_HOT_MAX_ENTRY_BYTES)
    return NULL;
  struct proxy_body *b = proxy_body_new(NULL, (size_t)size);
  if (b != NULL && store_zip_read(st, module, version, 0, b->data, b->len) !=
                       (int64_t)size) {
    proxy_body_unref(b);
    b = NULL;
  }
  return b;
}

static int lookup_part(struct store *st, struct route_ctx *ctx) {
  struct hot_value *v = &ctx->value;
  const struct gp_req *gp = &ctx->gp;
  int rc;
  if (gp->kind == GP_ZIP) {
    struct store_zip_meta m;
    rc = store_zip_stat(st, gp->module, gp->version, &m);
    if (rc == 0) {
      v->zip_size = m.size;
      v->body = proxy_zip_body(st, gp->module, gp->version, m.size);
      snprintf(v->etag, sizeof v->etag, "\"%.32s\"", m.sha256);
      store_zip_meta_dispose(&m);
    }
  } else {
    struct store_bytes b;
    rc = store_part_get(st, gp->module, gp->version,
                        gp->kind == GP_INFO ? STORE_INFO : STORE_MOD, &b, NULL);
    if (rc == 0) {
      v->body = proxy_body_new(b.data, b.len);
      proxy_etag(b.data, b.len, v->etag);
      store_bytes_free(&b);
      if (v->body == NULL)
        rc = -ENOMEM;
    }
  }
  if (rc == 0) {
    v->status = 200;
    v->immutable = 1;
  }
  return rc;
}

static void on_lookup(uv_work_t *w) {
  struct route_ctx *ctx = w->data;
  struct store *st = ctx->s->store;
  int canonical_part =
      ctx->gp.kind != GP_LIST && ctx->gp.kind != GP_LATEST && ctx->gp.canonical;
  if (canonical_part && lookup_part(st, ctx) == 0)
    return;
  if ((ctx->cfg->offline || cache_only(ctx)) &&
      (ctx->gp.kind == GP_LIST || ctx->gp.kind == GP_LATEST)) {
    /* An offline mirror, or a cache-only module, lists what it holds
     * (mirror.c). */
    struct hot_value *v = &ctx->value;
    v->body = proxy_mirror_answer(ctx->s->mirror, ctx->gp.module,
                                  ctx->gp.kind == GP_LATEST);
    if (v->body != NULL) {
      v->status = 200;
      v->fetched = (int64_t)time(NULL);
      proxy_etag(v->body->data, v->body->len, v->etag);
    }
    return;
  }
  /* Not stored: an answer (a list, or a remembered not-found) may be. */
  lookup_answer(st, ctx);
}

static void on_lookup_done(uv_work_t *w, int status) {
  struct route_ctx *ctx = w->data;
  struct proxy_server *s = ctx->s;
  struct hot_value *v = &ctx->value;
  if (ctx_gone(ctx) || (v->status != 0 && is_fresh(s, v))) {
    if (!ctx_gone(ctx)) {
      hot_cache_put(goproxy_hot(s->goproxy), ctx->key, v);
      s->counters.hits++;
      ctx_outcome(ctx, v->status == 200 ? DIAG_HIT : DIAG_NOT_FOUND);
      reply_value(ctx, v, 0);
    }
    ctx_free(ctx);
    return;
  }
  if (cache_only(ctx)) {
    /* Not stored, and never fetched: a frozen set. */
    const struct gp_req *gp = &ctx->gp;
    char what[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 8],
        text[DIAG_WINDOW_BYTES * 2];
    snprintf(what, sizeof what, "%s@%s", gp->module,
             gp->kind == GP_LIST || gp->kind == GP_LATEST ? "latest"
                                                          : gp->version);
    policy_cache_only_miss(ctx->policy, what, gp->module, text, sizeof text);
    ctx_outcome(ctx, DIAG_POLICY);
    send_text(ctx, 404, text, NULL);
    ctx_free(ctx);
    return;
  }
  if (v->status == 200 && !v->immutable) {
    ctx->stale = *v; /* takes the reference */
    ctx->have_stale = 1;
  } else {
    proxy_body_unref(v->body);
  }
  memset(v, 0, sizeof *v);
  s->counters.misses++;
  /* The request goes on in on_fetch_done or on_fetch_stream. */
  proxy_job_join(s, &proxy_job_module, &ctx->gp, ctx->key, &ctx->waiter);
}

/* ---- fetch outcome ----------------------------------------------------- */

/* Answers a waiting request with a fetch's outcome, then frees ctx. */
static void on_fetch_done(struct job_waiter *w, const struct job_result *r) {
  struct route_ctx *ctx = container_of(w, struct route_ctx, waiter);
  if (ctx_gone(ctx))
    goto out;
  if (ctx->conn != NULL)
    proxy_conn_attempts(ctx->conn, r->attempts);
  else if (r->attempts != NULL)
    ctx->rec.attempts = strdup(r->attempts);
  ctx_outcome(
      ctx, r->outcome >= 0 && r->status != 200 ? (enum diag_outcome)r->outcome
           : r->upstream_error && ctx->have_stale ? DIAG_STALE
           : r->status == 200 ? (r->fetched ? DIAG_FETCHED : DIAG_HIT)
           : r->status == 404 || r->status == 410 ? DIAG_NOT_FOUND
                                                  : DIAG_UPSTREAM_ERROR);
  if (r->upstream_error && ctx->have_stale) {
    reply_value(ctx, &ctx->stale, 1);
  } else if (r->status == 200 || r->status == 404 || r->status == 410) {
    struct hot_value v = {
        .status = r->status,
        .body = r->body,
        .zip_size = r->zip_size,
        .immutable = r->status == 200 && ctx->gp.canonical &&
                     ctx->gp.kind != GP_LIST && ctx->gp.kind != GP_LATEST,
        .fetched = (int64_t)time(NULL),
    };
    memcpy(v.etag, r->etag, sizeof v.etag);
    reply_value(ctx, &v, 0);
  } else {
    send_text(ctx, r->status,
              r->body != NULL ? r->body->data : "upstream failure", NULL);
  }
out:
  ctx_free(ctx);
}

/* Answers a waiting zip request with a download in progress (a 200 whose
 * body follows the stream), then frees ctx. Connections only: goproxy_get
 * waits for the stored zip. */
static void on_fetch_stream(struct job_waiter *w, struct proxy_stream *st) {
  struct route_ctx *ctx = container_of(w, struct route_ctx, waiter);
  struct proxy_conn *c = ctx->conn;
  struct http_generator *gen =
      proxy_conn_gone(c) ? NULL : proxy_stream_gen_new(st);
  if (gen != NULL) {
    proxy_conn_outcome(c, DIAG_FETCHED);
    struct conn_response r = {
        .status = 200,
        .content_type = content_type(GP_ZIP),
        .cache_control = ROUTE_IMMUTABLE,
        .gen = gen,
        .size = st->size,
    };
    proxy_conn_send(c, &r);
  } else if (!proxy_conn_gone(c)) {
    proxy_conn_send_text(c, 503, "modproxy is out of memory; retry shortly",
                         NULL);
  }
  ctx_free(ctx);
}

/* ---- dispatch ---------------------------------------------------------- */

/* Parses ctx's target, then answers from the hot cache, or looks it up in
 * the store (and on to a fetch job); ctx is freed when the request ends. */
static void serve_gp(struct route_ctx *ctx, const char *target) {
  struct proxy_server *s = ctx->s;
  struct gp_req *gp = &ctx->gp;
  char err[512];
  int status = gp_parse(target, gp, err, sizeof err);
  if (status != 0) {
    ctx_outcome(ctx, DIAG_INVALID);
    send_text(ctx, status, err, NULL);
    ctx_free(ctx);
    return;
  }
  hot_cache_key(ctx->key, sizeof ctx->key, gp->module, gp->suffix);
  if (ctx->conn != NULL)
    proxy_conn_subject(ctx->conn, gp->module, gp->version);
  else {
    ctx->rec.module = strdup(gp->module);
    ctx->rec.version = gp->version[0] != '\0' ? strdup(gp->version) : NULL;
  }
  /* The module's policy, before any answer: no hot-cache entry, stored
   * file or fetch serves what it refuses. */
  ctx->policy = policy_find(ctx->cfg->policies, gp->module);
  if (policy_refuses(ctx, gp->version)) {
    ctx_free(ctx);
    return;
  }
  struct hot_value v;
  if (hot_cache_get(goproxy_hot(s->goproxy), ctx->key, &v) && is_fresh(s, &v)) {
    s->counters.hits++;
    ctx_outcome(ctx, v.status == 200 ? DIAG_HIT : DIAG_NOT_FOUND);
    reply_value(ctx, &v, 0);
    ctx_free(ctx);
    return;
  }
  ctx->work.data = ctx;
  ctx->waiter.on_done = on_fetch_done;
  ctx->waiter.on_stream = ctx->conn != NULL ? on_fetch_stream : NULL;
  if (uv_queue_work(s->loop, &ctx->work, on_lookup, on_lookup_done) < 0) {
    send_text(ctx, 503, "modproxy could not queue the lookup; retry", NULL);
    ctx_free(ctx);
  }
}

void proxy_route(struct proxy_conn *c, void *arg) {
  struct route_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL) {
    proxy_conn_send_text(c, 503, "modproxy is out of memory; retry shortly",
                         NULL);
    return;
  }
  ctx->s = arg;
  ctx->cfg = proxy_config_hold(ctx->s);
  ctx->conn = c;
  proxy_conn_hold(c);
  serve_gp(ctx, proxy_conn_target(c));
}

int goproxy_get(struct proxy_server *s, const char *target, const char *user,
                goproxy_get_cb cb, void *arg) {
  struct route_ctx *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL)
    return -ENOMEM;
  ctx->s = s;
  ctx->cfg = proxy_config_hold(s);
  ctx->cb = cb;
  ctx->cb_arg = arg;
  ctx->start_ms = uv_now(s->loop);
  struct diag_record *rec = &ctx->rec;
  http_server_new_id(s->http, rec->id);
  rec->start_ms = time_now_ms(CLOCK_REALTIME);
  rec->target = strdup(target);
  rec->client = strdup(GOPROXY_SELF_CLIENT);
  if (rec->target == NULL || rec->client == NULL) {
    ctx_free(ctx);
    return -ENOMEM;
  }
  /* The access phase, as proxy_access_check decides it for a client. */
  if (!proxy_access_may_see(s, user, NULL, target)) {
    send_text(ctx, 401, "this needs credentials", NULL);
    ctx_free(ctx);
    return 0;
  }
  serve_gp(ctx, target);
  return 0;
}
