/*
 * Checksum database answers (GOSUMDB) for the databases named by --sumdb
 * (proxy/sumdb holds them): /sumdb/<name>/supported, /latest, /lookup/...
 * and /tile/..., and the reads of proxy/sumdb's verifier.
 *
 * Answers are cached in the store (sumdb_cache): lookups and tiles never
 * change once published, `latest` is fresh for --list-ttl and served stale
 * (marked) when every source fails. A missing answer is fetched by a
 * fetch job of its own kind (proxy_sumdb_job; jobs.c: coalesced, recorded,
 * with the upstreams' health), from each upstream proxy's /sumdb/<name>/
 * and then the database itself, or only from the URL --sumdb gives.
 * Offline, nothing is fetched. A partial tile that is not stored is cut
 * from a wider stored copy of the same tile (tile contents never change,
 * so a prefix is that tile), and a partial tile a source no longer has is
 * cut from the full one, as the go command's client does. Lookups of
 * private module paths (--private) are answered 404 here and never leave
 * the process.
 *
 * Reading one answer (struct proxy_sumdb_get):
 *
 *   start --> STORE (worker: the cache, a wider tile, a remembered 404)
 *               |  fresh, or offline -----------------------------+
 *               v                                                 |
 *             FETCH (a fetch job) ------ partial tile 404 -->     |
 *               |    FETCH again for the full tile (once)         |
 *               v                                                 v
 *             DONE (on_done: status, body) <---------------------+
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"
#include "sumdb_proxy.h"
#include "vcs.h"

/* The i-th source of a database's job, or NULL past the last. */
static struct proxy_upstream *job_source(struct proxy_server *s,
                                         const struct proxy_config *cfg,
                                         const struct gp_req *gp, int i) {
  (void)cfg; /* the databases are set at start */
  struct proxy_sumdb_db *db = proxy_sumdb_find(s->sumdb, gp->module);
  return db != NULL && i >= 0 && i < db->nsources ? &db->sources[i] : NULL;
}

/* ---- paths --------------------------------------------------------------- */

/* "lookup/<escaped path>@<escaped version>" -> module and version, checked
 * as the database's own server does (sumdb.Server modVerRE, then
 * module.UnescapePath/UnescapeVersion) plus a valid semantic version. */
static int parse_lookup(const char *rest, char *module, char *version,
                        char *err, size_t errlen) {
  const char *at = strchr(rest, '@');
  if (at == NULL || at == rest || strchr(at + 1, '@') != NULL) {
    snprintf(err, errlen, "invalid module@version syntax");
    return -EINVAL;
  }
  char esc[GOMOD_MAX_PATH_BYTES * 2];
  size_t n = (size_t)(at - rest);
  if (n >= sizeof esc) {
    snprintf(err, errlen, "module path too long");
    return -EINVAL;
  }
  memcpy(esc, rest, n);
  esc[n] = '\0';
  if (gomod_unescape_path(esc, module, GOMOD_MAX_PATH_BYTES, err, errlen) < 0 ||
      gomod_unescape_version(at + 1, version, GOMOD_MAX_VERSION_BYTES, err,
                             errlen) < 0)
    return -EINVAL;
  if (!gomod_semver_is_valid(version) || version[0] != 'v') {
    snprintf(err, errlen, "invalid module@version syntax");
    return -EINVAL;
  }
  return 0;
}

/* The canonical lookup path of module@version. */
static int lookup_path(const char *module, const char *version, char *out,
                       size_t cap) {
  char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2];
  if (gomod_escape_path(module, ep, sizeof ep, NULL, 0) < 0 ||
      gomod_escape_version(version, ev, sizeof ev, NULL, 0) < 0)
    return -EINVAL;
  int n = snprintf(out, cap, "lookup/%s@%s", ep, ev);
  return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}

/* ---- reading an answer --------------------------------------------------- */

static void get_state(struct proxy_sumdb_get *g, enum sumdb_get_state to) {
  static const unsigned allowed[] = {
      [SGET_IDLE] = 1u << SGET_STORE,
      [SGET_STORE] = 1u << SGET_FETCH | 1u << SGET_DONE,
      [SGET_FETCH] = 1u << SGET_FETCH | 1u << SGET_DONE,
      [SGET_DONE] = 0,
  };
  if ((allowed[g->state] & (1u << to)) == 0) {
    fprintf(stderr, "sumdb get: illegal transition %d -> %d\n", g->state, to);
    abort();
  }
  g->state = to;
}

static int is_latest(const struct proxy_sumdb_get *g) {
  return strcmp(g->gp.suffix, "latest") == 0;
}

static void get_done(struct proxy_sumdb_get *g) {
  get_state(g, SGET_DONE);
  g->on_done(g);
}

static void set_text(struct proxy_sumdb_get *g, int status, const char *text) {
  proxy_body_unref(g->body);
  g->status = status;
  g->body = proxy_body_new(text, strlen(text));
}

/* A missing answer on an offline mirror. */
static void not_in_mirror(struct proxy_sumdb_get *g) {
  char text[1024];
  snprintf(text, sizeof text,
           "%s/%s is not in this mirror, and it is offline (--offline).\n"
           "On a connected machine, export what your build needs "
           "(modproxy export -o BUNDLE go.mod) and import it here "
           "(modproxy import BUNDLE).\n",
           g->db->spec.key.name, g->gp.suffix);
  set_text(g, 404, text);
}

static void on_store(uv_work_t *w) {
  struct proxy_sumdb_get *g = w->data;
  struct store *st = g->s->store;
  const char *name = g->db->spec.key.name, *path = g->gp.suffix;
  struct store_bytes b;
  int64_t fetched = 0;
  if (store_sumdb_get(st, name, path, &b, &fetched) == 0) {
    g->status = 200;
    g->body = proxy_body_new(b.data, b.len);
    g->stored_fetched = fetched;
    store_bytes_free(&b);
    return;
  }
  if (g->tile_w > 0 &&
      store_sumdb_tile_prefix(st, name, g->tile_base,
                              (size_t)g->tile_w * SUMDB_HASH_BYTES, &b) == 0) {
    g->status = 200;
    g->body = proxy_body_new(b.data, b.len);
    g->stored_fetched = fetched;
    store_bytes_free(&b);
    return;
  }
  struct store_answer a;
  if (store_answer_get(st, name, path, &a) == 0) {
    if (a.status == 404 || a.status == 410) {
      g->status = a.status;
      g->body = proxy_body_new(a.body.data, a.body.len);
      g->stored_fetched = a.fetched;
    }
    store_answer_dispose(&a);
  }
}

static void fetch(struct proxy_sumdb_get *g) {
  get_state(g, SGET_FETCH);
  hot_cache_key(g->key, sizeof g->key, g->gp.module, g->gp.suffix);
  g->s->counters.misses++;
  proxy_job_join(g->s, &proxy_sumdb_job, &g->gp, g->key, &g->waiter);
}

static int sumdb_fresh(const struct proxy_server *s, const char *path,
                       const struct hot_value *v) {
  int64_t age = (int64_t)time(NULL) - v->fetched;
  if (v->status == 200)
    return strcmp(path, "latest") != 0 || s->cfg->offline ||
           age < s->cfg->list_ttl_s;
  return !s->cfg->offline && age < s->cfg->not_found_ttl_s;
}

static void on_stored(uv_work_t *w, int status) {
  struct proxy_sumdb_get *g = w->data;
  struct proxy_server *s = g->s;
  int64_t age = (int64_t)time(NULL) - g->stored_fetched;
  if (g->status == 200 && g->body != NULL) {
    if (!is_latest(g) || s->cfg->offline || age < s->cfg->list_ttl_s) {
      s->counters.hits++;
      get_done(g);
      return;
    }
    /* A stale `latest`: kept in case the sources fail. */
    g->stale_v.status = 200;
    g->stale_v.body = g->body;
    g->stale_v.fetched = g->stored_fetched;
    g->body = NULL;
    g->status = 0;
  } else if ((g->status == 404 || g->status == 410) && g->body != NULL &&
             !s->cfg->offline && age < s->cfg->not_found_ttl_s) {
    get_done(g);
    return;
  }
  proxy_body_unref(g->body);
  g->body = NULL;
  g->status = 0;
  if (s->cfg->offline) {
    not_in_mirror(g);
    get_done(g);
    return;
  }
  /* A fetch that ended while the store was read left its answer in the
   * hot cache (both run on this thread): no second fetch. */
  struct hot_value v;
  hot_cache_key(g->key, sizeof g->key, g->gp.module, g->gp.suffix);
  if (hot_cache_get(goproxy_hot(s->goproxy), g->key, &v) && v.body != NULL &&
      sumdb_fresh(s, g->gp.suffix, &v)) {
    g->status = v.status;
    g->body = proxy_body_ref(v.body);
    s->counters.hits++;
    get_done(g);
    return;
  }
  fetch(g);
}

static void on_job_done(struct job_waiter *w, const struct job_result *r);

int proxy_sumdb_get_start(struct proxy_server *s, struct proxy_sumdb_get *g,
                          const struct proxy_sumdb_db *db, const char *path) {
  if (strlen(path) >= sizeof g->gp.suffix)
    return -E2BIG;
  g->s = s;
  g->db = db;
  g->status = 0;
  g->body = NULL;
  g->fetched = g->stale = 0;
  g->attempts = NULL;
  g->refused[0] = '\0';
  memset(&g->stale_v, 0, sizeof g->stale_v);
  memset(&g->gp, 0, sizeof g->gp);
  g->gp.kind = GP_SUMDB;
  g->waiter.on_done = on_job_done;
  snprintf(g->gp.module, sizeof g->gp.module, "%s", db->spec.key.name);
  snprintf(g->gp.suffix, sizeof g->gp.suffix, "%s", path);
  g->tile_w = 0;
  g->tile_base[0] = '\0';
  struct sumdb_tile t;
  if (sumdb_tile_parse(path, &t) == 0) {
    g->tile_w = t.l < 0 ? -1 : t.w;
    t.w = 1 << t.h;
    if (sumdb_tile_path(&t, g->tile_base, sizeof g->tile_base) < 0)
      g->tile_base[0] = '\0';
  }
  g->state = SGET_IDLE;
  g->work.data = g;
  int rc = uv_queue_work(s->loop, &g->work, on_store, on_stored);
  if (rc == 0)
    get_state(g, SGET_STORE);
  return rc;
}

void proxy_sumdb_get_dispose(struct proxy_sumdb_get *g) {
  proxy_body_unref(g->body);
  proxy_body_unref(g->stale_v.body);
  g->body = g->stale_v.body = NULL;
}

/* The fetch job ended: its result is the get's. */
static void on_job_done(struct job_waiter *w, const struct job_result *r) {
  struct proxy_sumdb_get *g = container_of(w, struct proxy_sumdb_get, waiter);
  g->attempts = r->attempts;
  /* A partial tile the sources no longer have: its full tile holds it. */
  if ((r->status == 404 || r->status == 410) && g->tile_w > 0 &&
      g->tile_w < SUMDB_TILE_WIDTH && g->tile_base[0] != '\0' &&
      strcmp(g->gp.suffix, g->tile_base) != 0) {
    snprintf(g->gp.suffix, sizeof g->gp.suffix, "%s", g->tile_base);
    fetch(g);
    return;
  }
  if (r->upstream_error && g->stale_v.body != NULL) {
    g->status = 200;
    g->body = proxy_body_ref(g->stale_v.body);
    g->stale = 1;
    get_done(g);
    return;
  }
  g->status = r->status;
  g->fetched = r->fetched;
  snprintf(g->refused, sizeof g->refused, "%s",
           r->refused != NULL ? r->refused : "");
  if (r->body != NULL) {
    size_t len = r->body->len;
    size_t want = (size_t)g->tile_w * SUMDB_HASH_BYTES;
    /* The full tile fetched for a partial one: its prefix. */
    if (r->status == 200 && g->tile_w > 0 && len > want)
      g->body = proxy_body_new(r->body->data, want);
    else
      g->body = proxy_body_ref(r->body);
  }
  if (g->body == NULL)
    set_text(g, r->status == 200 ? 503 : r->status,
             "modproxy is out of memory; retry shortly");
  get_done(g);
}

/* ---- ingest (worker thread) ---------------------------------------------- */

/* Checks a fetched answer (a lookup's signature and that it names the
 * module asked for, a tile's length, latest's signature) and stores it. 0,
 * or a negative errno with the reason in j->failure. */
static int job_ingest(struct fetch_job *j) {
  struct proxy_server *s = j->s;
  const struct gp_req *gp = &j->gp;
  const char *body = j->src_body, *origin = j->src_origin;
  size_t len = j->src_len, cap = sizeof j->failure;
  char *failure = j->failure;
  struct proxy_sumdb_db *db = proxy_sumdb_find(s->sumdb, gp->module);
  if (db == NULL)
    return -ENOENT;
  const char *path = gp->suffix;
  const struct sumdb_key *key = &db->spec.key;
  char err[256];
  if (strncmp(path, "lookup/", 7) == 0) {
    char module[GOMOD_MAX_PATH_BYTES], version[GOMOD_MAX_VERSION_BYTES];
    struct sumdb_lookup l;
    char zip[GOMOD_H1_BYTES], mod[GOMOD_H1_BYTES];
    if (parse_lookup(path + 7, module, version, err, sizeof err) < 0)
      return -EINVAL;
    if (sumdb_lookup_parse(body, len, key, &l, err, sizeof err) < 0) {
      snprintf(failure, cap,
               "its answer for %s@%s does not verify with the key %s: %s",
               module, version, key->text, err);
      return -EBADMSG;
    }
    if (sumdb_record_hashes(l.text, l.text_len, module, version, zip, mod) <
        0) {
      snprintf(failure, cap, "its record %" PRId64 " is not about %s@%s", l.id,
               module, version);
      return -EBADMSG;
    }
  } else if (strncmp(path, "tile/", 5) == 0) {
    struct sumdb_tile t;
    if (sumdb_tile_parse(path, &t) < 0)
      return -EINVAL;
    if ((t.l >= 0 && len != (size_t)t.w * SUMDB_HASH_BYTES) || len == 0) {
      snprintf(failure, cap, "the tile %s is %zu bytes, not %d hashes", path,
               len, t.w);
      return -EBADMSG;
    }
  } else if (strcmp(path, "latest") == 0) {
    size_t tlen;
    struct sumdb_tree tree;
    if (sumdb_note_verify(body, len, key, &tlen, err, sizeof err) < 0 ||
        sumdb_tree_parse(body, tlen, &tree) < 0) {
      snprintf(failure, cap,
               "its latest tree does not verify with the key %s%s%s", key->text,
               err[0] != '\0' ? ": " : "", err);
      return -EBADMSG;
    }
  } else {
    return -EINVAL;
  }
  struct store_sumdb_row row = {
      .db = key->name,
      .path = path,
      .body = body,
      .len = len,
      .fetched = (int64_t)time(NULL),
      .origin = origin,
      .replace = strcmp(path, "latest") == 0,
  };
  int rc = store_sumdb_put(s->store, &row, 1);
  return rc < 0 ? rc : 0;
}

static void job_what(const struct gp_req *gp, char *buf, size_t cap) {
  snprintf(buf, cap, "the checksum database answer %s/%s", gp->module,
           gp->suffix);
}

static void job_url(const struct gp_req *gp, const char *base, char *out,
                    size_t cap) {
  snprintf(out, cap, "%s/%s", base, gp->suffix);
}

static int job_never(const struct gp_req *gp) {
  (void)gp;
  return 0;
}

static void job_explain(struct fetch_job *j, char *text, size_t cap) {
  char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32];
  job_what(&j->gp, w, sizeof w);
  snprintf(text, cap,
           "%s: the checksum database does not have it.\nmodproxy asked:\n"
           "%sA private module is not in a public database: set GONOSUMDB "
           "(or GOPRIVATE) for it on the client.\n",
           w, j->attempts);
}

/* Answers are small, never staged, and (lookups and tiles, which never
 * change) kept in the store; the hot cache's freshness is sumdb_fresh's. */
const struct job_kind proxy_sumdb_job = {
    .what = job_what,
    .source = job_source,
    .url = job_url,
    .staged = job_never,
    .immutable = job_never,
    .ingest = job_ingest,
    .explain = job_explain,
};

/* ---- the /sumdb/ routes -------------------------------------------------- */

struct sumdb_request {
  struct proxy_conn *conn;
  char key[sizeof((struct fetch_job *)0)->key];
  struct proxy_sumdb_get get;
};

static void reply(struct proxy_conn *c, const char *path, int status,
                  struct proxy_body *body, int stale) {
  if (status != 200) {
    proxy_conn_send_text(c, status, body != NULL ? body->data : "not found",
                         "no-store");
    return;
  }
  char etag[40], cc[64];
  proxy_etag(body->data, body->len, etag);
  int latest = strcmp(path, "latest") == 0;
  if (latest)
    snprintf(cc, sizeof cc, "public, max-age=%d",
             stale ? 0 : PROXY_SUMDB_LATEST_MAX_AGE_S);
  else
    snprintf(cc, sizeof cc, "public, max-age=31536000, immutable");
  struct conn_response r = {
      .status = 200,
      .content_type = strncmp(path, "tile/", 5) == 0
                          ? "application/octet-stream"
                          : "text/plain; charset=utf-8",
      .cache_control = cc,
      .etag = etag,
      .extra_headers = stale ? "X-Modproxy-Stale: 1\r\n" : NULL,
      .body = body,
  };
  proxy_conn_send(c, &r);
}

static void on_request_done(struct proxy_sumdb_get *g) {
  struct sumdb_request *q = g->data;
  struct proxy_conn *c = q->conn;
  struct proxy_server *s = g->s;
  if (g->status == 200 && g->body != NULL && !g->stale) {
    struct hot_value v = {
        .status = 200, .body = g->body, .fetched = (int64_t)time(NULL)};
    if (!g->fetched)
      hot_cache_put(goproxy_hot(s->goproxy), q->key, &v);
  }
  if (!proxy_conn_gone(c)) {
    if (g->attempts != NULL)
      proxy_conn_attempts(c, g->attempts);
    proxy_conn_outcome(c, g->stale                         ? DIAG_STALE
                          : g->status == 200 && g->fetched ? DIAG_FETCHED
                          : g->status == 200               ? DIAG_HIT
                          : g->status == 404 || g->status == 410
                              ? DIAG_NOT_FOUND
                              : DIAG_UPSTREAM_ERROR);
    reply(c, g->gp.suffix, g->status, g->body, g->stale);
  }
  proxy_conn_release(c);
  proxy_sumdb_get_dispose(g);
  free(q);
}

static void send_404(struct proxy_conn *c, const char *text) {
  proxy_conn_outcome(c, DIAG_NOT_FOUND);
  proxy_conn_send_text(c, 404, text, "no-store");
}

void proxy_route_sumdb(struct proxy_conn *c, void *arg) {
  struct proxy_server *s = arg;
  const char *url = proxy_conn_target(c);
  char path[HTTP_MAX_URL_BYTES + 1], text[1024];
  if (strchr(url, '?') != NULL ||
      gomod_pct_decode(url, strlen(url), path, sizeof path) < 0) {
    proxy_conn_outcome(c, DIAG_INVALID);
    proxy_conn_send_text(c, 400, "malformed checksum database request", NULL);
    return;
  }
  /* /sumdb/<name>/<rest>: the name may hold '/' (host/path). */
  const char *after = path + 7, *rest = NULL;
  struct proxy_sumdb_db *db = NULL;
  for (int i = 0; i < proxy_sumdb_count(s->sumdb); i++) {
    const char *name = proxy_sumdb_at(s->sumdb, i)->spec.key.name;
    size_t n = strlen(name);
    if (strncmp(after, name, n) == 0 && after[n] == '/') {
      db = proxy_sumdb_at(s->sumdb, i);
      rest = after + n + 1;
      break;
    }
  }
  if (db == NULL) {
    size_t w = (size_t)snprintf(text, sizeof text,
                                "modproxy does not proxy this checksum "
                                "database; the go command then asks it "
                                "directly.\nDatabases proxied here:");
    for (int i = 0; i < proxy_sumdb_count(s->sumdb) && w < sizeof text; i++)
      w += (size_t)snprintf(text + w, sizeof text - w, " %s",
                            proxy_sumdb_at(s->sumdb, i)->spec.key.name);
    if (proxy_sumdb_count(s->sumdb) == 0)
      snprintf(text + w, sizeof text - w, " none (--sumdb off)");
    send_404(c, text);
    return;
  }
  if (strcmp(rest, "supported") == 0) {
    struct proxy_body *b = proxy_body_new("", 0);
    if (b == NULL) {
      proxy_conn_send_text(c, 503, "out of memory", NULL);
      return;
    }
    proxy_conn_outcome(c, DIAG_LOCAL);
    struct conn_response r = {.status = 200,
                              .content_type = "text/plain; charset=utf-8",
                              .cache_control = "no-store",
                              .body = b};
    proxy_conn_send(c, &r);
    proxy_body_unref(b);
    return;
  }
  char canon[sizeof((struct gp_req *)0)->suffix];
  if (strncmp(rest, "lookup/", 7) == 0) {
    char module[GOMOD_MAX_PATH_BYTES], version[GOMOD_MAX_VERSION_BYTES];
    char err[256];
    if (parse_lookup(rest + 7, module, version, err, sizeof err) < 0) {
      proxy_conn_outcome(c, DIAG_INVALID);
      proxy_conn_send_text(c, 400, err, NULL);
      return;
    }
    proxy_conn_subject(c, module, version);
    if (proxy_vcs_private(s->vcs, module)) {
      snprintf(text, sizeof text,
               "%s is a private module here (--private): modproxy never "
               "sends its path to a checksum database.\n"
               "Tell the go command not to look it up: go env -w "
               "GONOSUMDB=%s (or GOPRIVATE).\n",
               module, module);
      send_404(c, text);
      return;
    }
    if (lookup_path(module, version, canon, sizeof canon) < 0) {
      send_404(c, "module path too long for this proxy");
      return;
    }
  } else if (strncmp(rest, "tile/", 5) == 0 || strcmp(rest, "latest") == 0) {
    struct sumdb_tile t;
    if (rest[0] == 't' && sumdb_tile_parse(rest, &t) < 0) {
      proxy_conn_outcome(c, DIAG_INVALID);
      proxy_conn_send_text(c, 400, "invalid tile syntax", NULL);
      return;
    }
    snprintf(canon, sizeof canon, "%s", rest);
  } else {
    send_404(c, "unknown checksum database endpoint (supported, latest, "
                "lookup/, tile/)");
    return;
  }
  struct sumdb_request *q = calloc(1, sizeof *q);
  if (q == NULL) {
    proxy_conn_send_text(c, 503, "modproxy is out of memory; retry shortly",
                         NULL);
    return;
  }
  hot_cache_key(q->key, sizeof q->key, db->spec.key.name, canon);
  struct hot_value v;
  if (hot_cache_get(goproxy_hot(s->goproxy), q->key, &v) &&
      sumdb_fresh(s, canon, &v)) {
    s->counters.hits++;
    proxy_conn_outcome(c, v.status == 200 ? DIAG_HIT : DIAG_NOT_FOUND);
    reply(c, canon, v.status, v.body, 0);
    free(q);
    return;
  }
  q->conn = c;
  q->get.on_done = on_request_done;
  q->get.data = q;
  proxy_conn_hold(c);
  if (proxy_sumdb_get_start(s, &q->get, db, canon) < 0) {
    proxy_conn_release(c);
    free(q);
    proxy_conn_send_text(c, 503, "modproxy could not queue the lookup; retry",
                         NULL);
  }
}

/* ---- the verifier's reads (proxy_sumdb_read_fn) -------------------------- */

struct verify_read {
  struct proxy_sumdb_get get;
  proxy_sumdb_answer_cb cb;
  void *arg;
};

static void on_verify_read(struct proxy_sumdb_get *g) {
  struct verify_read *r = container_of(g, struct verify_read, get);
  struct proxy_sumdb_answer a = {
      .status = g->status, .body = g->body, .refused = g->refused};
  r->cb(r->arg, &a);
  proxy_sumdb_get_dispose(g);
  free(r);
}

int proxy_sumdb_read(void *reader, const struct proxy_sumdb_db *db,
                     const char *path, proxy_sumdb_answer_cb cb, void *arg) {
  struct verify_read *r = calloc(1, sizeof *r);
  if (r == NULL)
    return -ENOMEM;
  r->cb = cb;
  r->arg = arg;
  r->get.on_done = on_verify_read;
  int rc = proxy_sumdb_get_start(reader, &r->get, db, path);
  if (rc < 0)
    free(r);
  return rc;
}
