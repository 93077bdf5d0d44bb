/*
 * The hot cache: small responses answered on the loop thread without a trip
 * to the store. A hash table of keys ("<module>\n<suffix>") with an LRU list,
 * bounded by max_bytes (--memory-cache): each entry is charged what it
 * really holds in memory (entry_cost), so that the bound is the memory the
 * cache takes, not only its payload: with small bodies (a not-found answer
 * is ~400 bytes) the bookkeeping is a third of it. Bodies are refcounted:
 * evicting an entry that a connection is still writing only drops the
 * cache's reference.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "goproxy.h"

/* What malloc adds to each allocation (glibc: an 8-byte header, sizes
 * rounded up to 16): an entry is two allocations, itself and its body. */
#define HOT_MALLOC_OVERHEAD_BYTES 16
#define HOT_INITIAL_BUCKETS 1024

struct hot_entry {
  struct hot_entry *chain;
  struct hot_entry *newer, *older;
  uint32_t hash;
  struct hot_value v;
  char key[];
};

static uint32_t hash_key(const char *k) {
  uint32_t h = 2166136261u;
  for (; *k != '\0'; k++)
    h = (h ^ (unsigned char)*k) * 16777619u;
  return h;
}

/* The entry and its key, its body with the body's header (a body shared
 * with a connection still writing it counts here in full), malloc's
 * overhead for both, and the entry's share of the bucket table: the table
 * doubles when it has one bucket per entry, so it holds at most two
 * pointers per entry. */
static size_t entry_cost(const struct hot_entry *e) {
  size_t body = e->v.body != NULL ? sizeof *e->v.body + e->v.body->len + 1 : 0;
  return sizeof *e + strlen(e->key) + 1 + body + 2 * HOT_MALLOC_OVERHEAD_BYTES +
         2 * sizeof(struct hot_entry *);
}

void hot_cache_key(char *out, size_t cap, const char *module,
                   const char *suffix) {
  snprintf(out, cap, "%s\n%s", module, suffix);
}

int hot_cache_init(struct hot_cache *c, size_t max_bytes) {
  memset(c, 0, sizeof *c);
  c->buckets = calloc(HOT_INITIAL_BUCKETS, sizeof *c->buckets);
  if (c->buckets == NULL)
    return -ENOMEM;
  c->nbuckets = HOT_INITIAL_BUCKETS;
  c->max_bytes = max_bytes;
  return 0;
}

static void lru_unlink(struct hot_cache *c, struct hot_entry *e) {
  if (e->newer != NULL)
    e->newer->older = e->older;
  else
    c->lru_head = e->older;
  if (e->older != NULL)
    e->older->newer = e->newer;
  else
    c->lru_tail = e->newer;
  e->newer = e->older = NULL;
}

static void lru_push_front(struct hot_cache *c, struct hot_entry *e) {
  e->older = c->lru_head;
  e->newer = NULL;
  if (c->lru_head != NULL)
    c->lru_head->newer = e;
  c->lru_head = e;
  if (c->lru_tail == NULL)
    c->lru_tail = e;
}

static struct hot_entry **find_slot(struct hot_cache *c, const char *key,
                                    uint32_t h) {
  struct hot_entry **p = &c->buckets[h & (c->nbuckets - 1)];
  while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
    p = &(*p)->chain;
  return p;
}

static void remove_entry(struct hot_cache *c, struct hot_entry *e) {
  struct hot_entry **p = find_slot(c, e->key, e->hash);
  *p = e->chain;
  lru_unlink(c, e);
  c->bytes -= entry_cost(e);
  c->count--;
  proxy_body_unref(e->v.body);
  free(e);
}

/* Doubles the table when it is fuller than one entry per bucket. */
static void maybe_grow(struct hot_cache *c) {
  if (c->count < c->nbuckets)
    return;
  size_t n = c->nbuckets * 2;
  struct hot_entry **b = calloc(n, sizeof *b);
  if (b == NULL)
    return; /* keep the longer chains; still correct */
  for (size_t i = 0; i < c->nbuckets; i++) {
    for (struct hot_entry *e = c->buckets[i], *next; e != NULL; e = next) {
      next = e->chain;
      e->chain = b[e->hash & (n - 1)];
      b[e->hash & (n - 1)] = e;
    }
  }
  free(c->buckets);
  c->buckets = b;
  c->nbuckets = n;
}

int hot_cache_get(struct hot_cache *c, const char *key, struct hot_value *v) {
  struct hot_entry *e = *find_slot(c, key, hash_key(key));
  if (e == NULL)
    return 0;
  lru_unlink(c, e);
  lru_push_front(c, e);
  *v = e->v;
  return 1;
}

void hot_cache_put(struct hot_cache *c, const char *key,
                   const struct hot_value *v) {
  uint32_t h = hash_key(key);
  struct hot_entry *old = *find_slot(c, key, h);
  if (old != NULL)
    remove_entry(c, old); /* even when the new value is not kept */
  if (v->body != NULL && v->body->len > PROXY_HOT_MAX_ENTRY_BYTES)
    return;
  size_t klen = strlen(key);
  struct hot_entry *e = malloc(sizeof *e + klen + 1);
  if (e == NULL)
    return;
  memcpy(e->key, key, klen + 1);
  e->hash = h;
  e->v = *v;
  proxy_body_ref(e->v.body);
  size_t cost = entry_cost(e);
  if (cost > c->max_bytes) {
    proxy_body_unref(e->v.body);
    free(e);
    return;
  }
  while (c->bytes + cost > c->max_bytes && c->lru_tail != NULL)
    remove_entry(c, c->lru_tail);
  maybe_grow(c);
  struct hot_entry **p = &c->buckets[h & (c->nbuckets - 1)];
  e->chain = *p;
  *p = e;
  lru_push_front(c, e);
  c->bytes += cost;
  c->count++;
}

void hot_cache_remove(struct hot_cache *c, const char *key) {
  struct hot_entry *e = *find_slot(c, key, hash_key(key));
  if (e != NULL)
    remove_entry(c, e);
}

size_t hot_cache_drop_module(struct hot_cache *c, const char *module) {
  size_t mlen = strlen(module), dropped = 0;
  for (struct hot_entry *e = c->lru_head, *next; e != NULL; e = next) {
    next = e->older;
    if (!e->v.immutable && strncmp(e->key, module, mlen) == 0 &&
        e->key[mlen] == '\n') {
      remove_entry(c, e);
      dropped++;
    }
  }
  return dropped;
}

void hot_cache_dispose(struct hot_cache *c) {
  while (c->lru_tail != NULL)
    remove_entry(c, c->lru_tail);
  free(c->buckets);
  memset(c, 0, sizeof *c);
}
