/*
 * Cache management inside the server: when each version was last served,
 * least-recently-used eviction past --max-cache-bytes, and forgetting what
 * another process (modproxy gc, modproxy fsck) removed from the store.
 *
 * Last use costs a hash-table update on the loop thread per request: the
 * filling batch maps "module\nversion" to the time it was last served. A
 * tick every PROXY_CACHE_TICK_MS hands the batch to a worker, which writes
 * it in one transaction (store_access_put), never a write per request. The
 * same work reads the store's removal log and, once per
 * PROXY_EVICT_INTERVAL_MS when a limit is set, plans an eviction:
 *
 *          tick                      flush + removal log + plan (worker)
 *   IDLE --------> FLUSHING ------------------------------------------+
 *    ^                                                                |
 *    |   nothing to evict     back on the loop: forget the removed    |
 *    +<----------------------- versions' hot entries; drop victims <--+
 *    |                         served since the flush (their use is
 *    |                         in the new batch); forget the rest
 *    |                                     |
 *    |        counters (loop)              v  victims left
 *    +<----------------------------- EVICTING (worker: store_evict_apply)
 *
 * A version used within PROXY_EVICT_GRACE_S is never evicted, which keeps
 * a zip that a client is still downloading in the store; the uses that
 * arrive while the plan is made are in the new batch and filtered out on
 * the loop thread, where the batch lives.
 *
 * Loop thread only, except the work functions, which touch only the batch
 * handed over and the plan.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h" /* struct goproxy */

/* Last uses are written, and the removal log read, this often. */
#define PROXY_CACHE_TICK_MS 5000
/* Eviction is planned at most this often (and at the first tick); expired
 * not-found answers are dropped from the store as often. */
#define PROXY_EVICT_INTERVAL_MS 60000
/* Versions evicted per round at most (the next round takes the rest). */
#define PROXY_EVICT_MAX_VICTIMS 20000
/* Distinct versions a batch remembers between two ticks; past it, uses are
 * dropped (counted) until the next tick: a version whose use was dropped
 * only looks older than it is. */
#define PROXY_ACCESS_MAX 65536
#define PROXY_ACCESS_INITIAL_SLOTS 1024
/* Removal-log entries read per tick. */
#define PROXY_REMOVALS_PER_TICK 10000

enum cache_state { CACHE_IDLE, CACHE_FLUSHING, CACHE_EVICTING };

struct access_entry {
  char *key; /* "module\0version": both strings in one allocation */
  int64_t used;
  uint32_t hash;
};

/* An open-addressing table, grown by doubling while under half full. */
struct access_batch {
  struct access_entry *slots;
  size_t nslots, n;
  uint64_t dropped;
};

/* A (module, version) to forget, read from the removal log. */
struct removed {
  char *key; /* "module\0version" */
};

struct proxy_cache {
  struct proxy_server *s;
  uv_timer_t timer;
  uv_work_t work;
  enum cache_state state;
  struct access_batch filling;
  struct access_batch flushing; /* owned by the worker while FLUSHING */
  int64_t removal_seq;          /* last removal-log entry seen */
  struct removed *removed;
  size_t nremoved, capremoved;
  int plan_due; /* plan an eviction in this work */
  uint64_t last_plan_ms;
  int expire_due; /* drop expired not-found answers in this work */
  uint64_t last_expire_ms;
  int plan_rc;
  struct store_evict_plan plan;
  /* The configuration the flush reads on its worker thread (held). */
  const struct proxy_config *flush_cfg;
  uint64_t freed;
  int evicted;
};

static void cache_state(struct proxy_cache *c, enum cache_state to) {
  static const unsigned allowed[] = {
      [CACHE_IDLE] = 1u << CACHE_FLUSHING,
      [CACHE_FLUSHING] = 1u << CACHE_IDLE | 1u << CACHE_EVICTING,
      [CACHE_EVICTING] = 1u << CACHE_IDLE,
  };
  if ((allowed[c->state] & (1u << to)) == 0) {
    fprintf(stderr, "cache: illegal transition %d -> %d\n", c->state, to);
    abort();
  }
  c->state = to;
}

static uint32_t hash2(const char *module, const char *version) {
  uint32_t h = 2166136261u;
  for (const char *p = module; *p != '\0'; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ '\n') * 16777619u;
  for (const char *p = version; *p != '\0'; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h;
}

static int key_is(const char *key, const char *module, const char *version) {
  size_t m = strlen(key);
  return strcmp(key, module) == 0 && strcmp(key + m + 1, version) == 0;
}

static char *key_new(const char *module, const char *version) {
  size_t m = strlen(module), v = strlen(version);
  char *k = malloc(m + v + 2);
  if (k != NULL) {
    memcpy(k, module, m + 1);
    memcpy(k + m + 1, version, v + 1);
  }
  return k;
}

static void batch_dispose(struct access_batch *b) {
  for (size_t i = 0; i < b->nslots; i++)
    free(b->slots[i].key);
  free(b->slots);
  memset(b, 0, sizeof *b);
}

static struct access_entry *batch_find(const struct access_batch *b,
                                       const char *module, const char *version,
                                       uint32_t h) {
  if (b->nslots == 0)
    return NULL;
  for (size_t i = h & (b->nslots - 1);; i = (i + 1) & (b->nslots - 1)) {
    struct access_entry *e = &b->slots[i];
    if (e->key == NULL || (e->hash == h && key_is(e->key, module, version)))
      return e;
  }
}

static int batch_grow(struct access_batch *b) {
  size_t n = b->nslots == 0 ? PROXY_ACCESS_INITIAL_SLOTS : b->nslots * 2;
  struct access_entry *slots = calloc(n, sizeof *slots);
  if (slots == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < b->nslots; i++) {
    struct access_entry *e = &b->slots[i];
    if (e->key == NULL)
      continue;
    size_t j = e->hash & (n - 1);
    while (slots[j].key != NULL)
      j = (j + 1) & (n - 1);
    slots[j] = *e;
  }
  free(b->slots);
  b->slots = slots;
  b->nslots = n;
  return 0;
}

void proxy_cache_touch(struct proxy_server *s, const char *module,
                       const char *version) {
  struct proxy_cache *c = s->goproxy->lastuse;
  if (c == NULL)
    return;
  struct access_batch *b = &c->filling;
  uint32_t h = hash2(module, version);
  struct access_entry *e = batch_find(b, module, version, h);
  int64_t now = (int64_t)time(NULL);
  if (e != NULL && e->key != NULL) {
    e->used = now;
    return;
  }
  if (b->n >= PROXY_ACCESS_MAX) {
    b->dropped++;
    return;
  }
  if (2 * (b->n + 1) > b->nslots) {
    if (batch_grow(b) < 0) {
      b->dropped++;
      return;
    }
    e = batch_find(b, module, version, h);
  }
  e->key = key_new(module, version);
  if (e->key == NULL) {
    b->dropped++;
    return;
  }
  e->hash = h;
  e->used = now;
  b->n++;
}

void proxy_cache_forget(struct proxy_server *s, const char *module,
                        const char *version) {
  static const char *const exts[] = {"info", "mod", "zip"};
  char esc[GOMOD_MAX_VERSION_BYTES * 2], err[128];
  if (gomod_escape_version(version, esc, sizeof esc, err, sizeof err) < 0)
    return;
  char suffix[sizeof esc + 16], key[GOMOD_MAX_PATH_BYTES + sizeof suffix];
  for (int i = 0; i < 3; i++) {
    snprintf(suffix, sizeof suffix, "@v/%s.%s", esc, exts[i]);
    hot_cache_key(key, sizeof key, module, suffix);
    hot_cache_remove(goproxy_hot(s->goproxy), key);
  }
}

/* ---- work on a worker thread --------------------------------------------- */

static void on_removed(const char *module, const char *version, void *arg) {
  struct proxy_cache *c = arg;
  if (c->nremoved == c->capremoved) {
    size_t n = c->capremoved == 0 ? 64 : c->capremoved * 2;
    struct removed *r = realloc(c->removed, n * sizeof *r);
    if (r == NULL)
      return; /* forgotten at worst later, when the hot entry ages out */
    c->removed = r;
    c->capremoved = n;
  }
  char *k = key_new(module, version);
  if (k != NULL)
    c->removed[c->nremoved++].key = k;
}

static int is_private(const char *module, void *arg) {
  const struct proxy_config *cfg = arg;
  return gomod_private(cfg->private_patterns, module);
}

static void on_flush(uv_work_t *w) {
  struct proxy_cache *c = w->data;
  struct store *st = c->s->store;
  struct access_batch *b = &c->flushing;
  if (b->n > 0) {
    struct store_access *a = malloc(b->n * sizeof *a);
    size_t n = 0;
    for (size_t i = 0; a != NULL && i < b->nslots; i++) {
      const char *k = b->slots[i].key;
      if (k != NULL)
        a[n++] = (struct store_access){k, k + strlen(k) + 1, b->slots[i].used};
    }
    if (a != NULL)
      store_access_put(st, a, n);
    free(a);
  }
  int64_t last;
  if (store_removals_since(st, c->removal_seq, PROXY_REMOVALS_PER_TICK,
                           on_removed, c, &last) == 0)
    c->removal_seq = last;
  const struct proxy_config *cfg = c->flush_cfg;
  if (c->expire_due)
    store_answers_expire(st, (int64_t)time(NULL) - cfg->not_found_ttl_s);
  if (c->plan_due) {
    c->plan_rc = store_evict_plan(
        st, cfg->max_cache_bytes, (int64_t)time(NULL) - PROXY_EVICT_GRACE_S,
        is_private, (void *)cfg, PROXY_EVICT_MAX_VICTIMS, &c->plan);
  }
}

static void on_evict(uv_work_t *w) {
  struct proxy_cache *c = w->data;
  c->evicted =
      store_evict_apply(c->s->store, &c->plan,
                        (int64_t)time(NULL) - PROXY_EVICT_GRACE_S, &c->freed);
}

static void on_evicted(uv_work_t *w, int status) {
  struct proxy_cache *c = w->data;
  struct proxy_server *s = c->s;
  if (c->evicted > 0) {
    s->counters.evictions += (uint64_t)c->evicted;
    s->counters.evicted_bytes += c->freed;
    fprintf(stderr,
            "modproxy: evicted %d least recently used versions, %" PRIu64
            " bytes (cache was %" PRIu64 " bytes, limit %" PRIu64 ")\n",
            c->evicted, c->freed, c->plan.total_bytes, s->cfg->max_cache_bytes);
  } else if (c->evicted < 0) {
    fprintf(stderr, "modproxy: eviction failed: %s\n", strerror(-c->evicted));
  }
  if (c->plan.over_bytes > 0)
    fprintf(stderr,
            "modproxy: the cache stays %" PRIu64 " bytes over "
            "--max-cache-bytes: the rest is pinned, imported, private or "
            "used in the last %d s\n",
            c->plan.over_bytes, PROXY_EVICT_GRACE_S);
  /* A request that found a victim in the store between the plan and the
   * removal may have put it back in the hot cache: forget them again. */
  for (size_t i = 0; i < c->plan.n; i++)
    if (c->plan.v[i].bytes > 0)
      proxy_cache_forget(s, c->plan.v[i].module, c->plan.v[i].version);
  store_evict_plan_dispose(&c->plan);
  cache_state(c, CACHE_IDLE);
}

static void on_flushed(uv_work_t *w, int status) {
  struct proxy_cache *c = w->data;
  struct proxy_server *s = c->s;
  batch_dispose(&c->flushing);
  proxy_config_release(c->flush_cfg);
  c->flush_cfg = NULL;
  for (size_t i = 0; i < c->nremoved; i++) {
    const char *k = c->removed[i].key;
    proxy_cache_forget(s, k, k + strlen(k) + 1);
    free(c->removed[i].key);
  }
  c->nremoved = 0;
  if (!c->plan_due || c->plan_rc <= 0 || s->stopping) {
    if (c->plan_due && c->plan_rc < 0)
      fprintf(stderr, "modproxy: eviction planning failed: %s\n",
              strerror(-c->plan_rc));
    else if (c->plan_due && c->plan.over_bytes > 0)
      fprintf(stderr,
              "modproxy: the cache stays %" PRIu64 " bytes over "
              "--max-cache-bytes: the rest is pinned, imported, private or "
              "used in the last %d s\n",
              c->plan.over_bytes, PROXY_EVICT_GRACE_S);
    store_evict_plan_dispose(&c->plan);
    cache_state(c, CACHE_IDLE);
    return;
  }
  /* Victims served since the batch was taken stay (their use is in the
   * filling batch); the others leave the hot cache now, before the store. */
  size_t n = 0;
  for (size_t i = 0; i < c->plan.n; i++) {
    struct store_victim *v = &c->plan.v[i];
    struct access_entry *e = batch_find(&c->filling, v->module, v->version,
                                        hash2(v->module, v->version));
    if (e != NULL && e->key != NULL) {
      free(v->module);
      free(v->version);
      continue;
    }
    proxy_cache_forget(s, v->module, v->version);
    c->plan.v[n++] = *v;
  }
  c->plan.n = n;
  cache_state(c, CACHE_EVICTING);
  c->work.data = c;
  if (n == 0 || uv_queue_work(s->loop, &c->work, on_evict, on_evicted) < 0) {
    store_evict_plan_dispose(&c->plan);
    cache_state(c, CACHE_IDLE);
  }
}

static void on_tick(uv_timer_t *t) {
  struct proxy_cache *c = t->data;
  struct proxy_server *s = c->s;
  if (c->state != CACHE_IDLE || s->stopping)
    return;
  if (c->filling.dropped > 0)
    fprintf(stderr,
            "modproxy: %" PRIu64 " uses of versions not recorded (more than %d "
            "distinct versions in %d ms)\n",
            c->filling.dropped, PROXY_ACCESS_MAX, PROXY_CACHE_TICK_MS);
  c->flushing = c->filling;
  memset(&c->filling, 0, sizeof c->filling);
  c->flushing.dropped = 0;
  uint64_t now = uv_now(s->loop);
  c->plan_due = s->cfg->max_cache_bytes > 0 &&
                (c->last_plan_ms == 0 ||
                 now - c->last_plan_ms >= PROXY_EVICT_INTERVAL_MS);
  if (c->plan_due)
    c->last_plan_ms = now;
  c->expire_due = c->last_expire_ms == 0 ||
                  now - c->last_expire_ms >= PROXY_EVICT_INTERVAL_MS;
  if (c->expire_due)
    c->last_expire_ms = now;
  c->plan_rc = 0;
  cache_state(c, CACHE_FLUSHING);
  c->work.data = c;
  c->flush_cfg = proxy_config_hold(s);
  if (uv_queue_work(s->loop, &c->work, on_flush, on_flushed) < 0) {
    proxy_config_release(c->flush_cfg);
    c->flush_cfg = NULL;
    batch_dispose(&c->flushing);
    cache_state(c, CACHE_IDLE);
  }
}

int proxy_cache_init(struct proxy_server *s) {
  struct proxy_cache *c = calloc(1, sizeof *c);
  if (c == NULL)
    return -ENOMEM;
  c->s = s;
  /* What was removed before we started is not in our (empty) hot cache. */
  store_removals_last(s->store, &c->removal_seq);
  uv_timer_init(s->loop, &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, on_tick, PROXY_CACHE_TICK_MS, PROXY_CACHE_TICK_MS);
  /* The timer alone must not keep the loop (and shutdown) waiting. */
  uv_unref((uv_handle_t *)&c->timer);
  s->goproxy->lastuse = c;
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  free(h->data);
}

void proxy_cache_close(struct proxy_server *s, int clean) {
  /* Also after a failed start, before the goproxy state was made. */
  struct proxy_cache *c = s->goproxy != NULL ? s->goproxy->lastuse : NULL;
  if (c == NULL)
    return;
  s->goproxy->lastuse = NULL;
  /* After a clean drain no work is running: write the last uses here. */
  if (clean && c->state == CACHE_IDLE && c->filling.n > 0) {
    c->flushing = c->filling;
    memset(&c->filling, 0, sizeof c->filling);
    c->plan_due = 0;
    c->work.data = c;
    c->flush_cfg = s->cfg; /* read here, on this thread, at once */
    on_flush(&c->work);
    c->flush_cfg = NULL;
    for (size_t i = 0; i < c->nremoved; i++)
      free(c->removed[i].key);
    c->nremoved = 0;
    batch_dispose(&c->flushing);
  }
  if (c->state == CACHE_IDLE) {
    batch_dispose(&c->filling);
    free(c->removed);
    store_evict_plan_dispose(&c->plan);
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
  } else {
    /* Work is still queued (a forced stop): its callbacks may still run,
     * and the process is about to exit; leave them their memory. */
    uv_close((uv_handle_t *)&c->timer, NULL);
  }
}

char *proxy_cache_metrics(const struct proxy_server *s,
                          const struct store_stats *st) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  const struct proxy_counters *k = &s->counters;
  fprintf(
      f,
      "# HELP modproxy_evictions_total Module versions evicted (least "
      "recently used past --max-cache-bytes).\n"
      "# TYPE modproxy_evictions_total counter\n"
      "modproxy_evictions_total %" PRIu64 "\n"
      "# HELP modproxy_evicted_bytes_total Bytes of the versions evicted.\n"
      "# TYPE modproxy_evicted_bytes_total counter\n"
      "modproxy_evicted_bytes_total %" PRIu64 "\n"
      "# HELP modproxy_admin_refreshes_total Modules refreshed through "
      "POST /admin/refresh.\n"
      "# TYPE modproxy_admin_refreshes_total counter\n"
      "modproxy_admin_refreshes_total %" PRIu64 "\n"
      "# HELP modproxy_cache_bytes Bytes of stored versions (.info, .mod, "
      "zip): what --max-cache-bytes limits.\n"
      "# TYPE modproxy_cache_bytes gauge\nmodproxy_cache_bytes %" PRIu64 "\n"
      "# HELP modproxy_cache_max_bytes The --max-cache-bytes limit (0: none).\n"
      "# TYPE modproxy_cache_max_bytes gauge\n"
      "modproxy_cache_max_bytes %" PRIu64 "\n"
      "# HELP modproxy_cache_oldest_use_timestamp_seconds When the least "
      "recently used version was last used (a Unix timestamp, not an age; "
      "0: no version).\n"
      "# TYPE modproxy_cache_oldest_use_timestamp_seconds gauge\n"
      "modproxy_cache_oldest_use_timestamp_seconds %" PRId64 "\n"
      "# HELP modproxy_store_db_bytes Size of the database file.\n"
      "# TYPE modproxy_store_db_bytes gauge\n"
      "modproxy_store_db_bytes %" PRIu64 "\n"
      "# HELP modproxy_store_free_bytes Free pages in the database file, "
      "reused before it grows.\n"
      "# TYPE modproxy_store_free_bytes gauge\n"
      "modproxy_store_free_bytes %" PRIu64 "\n",
      k->evictions, k->evicted_bytes, k->refreshes, st->cache_bytes,
      s->cfg->max_cache_bytes, st->oldest_use, st->db_bytes, st->free_bytes);
  const struct {
    const char *table;
    uint64_t rows;
  } rows[] = {
      {"versions", st->versions},      {"zip_chunks", st->zip_chunks},
      {"answers", st->answers},        {"requests", st->requests},
      {"provenance", st->provenance},  {"pins", st->pins},
      {"quarantine", st->quarantined}, {"removals", st->removals},
  };
  fprintf(f, "# HELP modproxy_store_rows Rows in each table of the store.\n"
             "# TYPE modproxy_store_rows gauge\n");
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    fprintf(f, "modproxy_store_rows{table=\"%s\"} %" PRIu64 "\n", rows[i].table,
            rows[i].rows);
  fclose(f);
  return out;
}
