/*
 * The hot cache and refcounted bodies (proxy/goproxy/hot.c): get, put and replace,
 * LRU eviction bounded by bytes, references (a body evicted while a
 * connection still holds it stays valid), entries the cache refuses, and
 * growth of the hash table far past its initial buckets.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"

/* Bodies in the eviction tests are much larger than an entry's fixed
 * overhead and key, so a budget of k * (BODY + SLACK) holds exactly k. */
#define BODY 10000
#define SLACK 1000

static struct proxy_body *body_of(const char *s) {
  struct proxy_body *b = proxy_body_new(s, strlen(s));
  assert_non_null(b);
  return b;
}

static struct proxy_body *body_filled(size_t n, int c) {
  char *p = malloc(n);
  assert_non_null(p);
  memset(p, c, n);
  struct proxy_body *b = proxy_body_new(p, n);
  free(p);
  assert_non_null(b);
  return b;
}

static struct hot_value value_of(struct proxy_body *b, int status) {
  struct hot_value v;
  memset(&v, 0, sizeof v);
  v.status = status;
  v.body = b;
  v.fetched = 1000 + status;
  v.immutable = status == 200;
  snprintf(v.etag, sizeof v.etag, "\"tag%d\"", status);
  return v;
}

static void test_body_refs(void **state) {
  (void)state;
  struct proxy_body *b = proxy_body_new("hello", 5);
  assert_non_null(b);
  assert_int_equal(b->refs, 1);
  assert_int_equal(b->len, 5);
  assert_memory_equal(b->data, "hello", 5);
  assert_int_equal(b->data[5], '\0');
  assert_ptr_equal(proxy_body_ref(b), b);
  assert_int_equal(b->refs, 2);
  proxy_body_unref(b);
  assert_int_equal(b->refs, 1);
  proxy_body_unref(b);
  assert_null(proxy_body_ref(NULL));
  proxy_body_unref(NULL);
  /* An empty body is NUL-terminated too. */
  struct proxy_body *e = proxy_body_new(NULL, 0);
  assert_non_null(e);
  assert_int_equal(e->len, 0);
  assert_int_equal(e->data[0], '\0');
  proxy_body_unref(e);
}

static void test_get_put(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 1u << 20), 0);
  struct hot_value got;
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/list", &got), 0);

  struct proxy_body *b = body_of("v1.0.0\n");
  struct hot_value v = value_of(b, 200);
  hot_cache_put(&c, "example.com/m\n@v/list", &v);
  /* The cache holds its own reference. */
  assert_int_equal(b->refs, 2);
  assert_int_equal(c.count, 1);
  assert_true(c.bytes >= b->len + strlen("example.com/m\n@v/list"));

  memset(&got, 0, sizeof got);
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/list", &got), 1);
  assert_ptr_equal(got.body, b);
  assert_int_equal(got.status, 200);
  assert_int_equal(got.fetched, 1200);
  assert_int_equal(got.immutable, 1);
  assert_string_equal(got.etag, "\"tag200\"");
  /* get lends: no reference taken. */
  assert_int_equal(b->refs, 2);

  /* Other keys, including prefixes and extensions of this one, miss. */
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/lis", &got), 0);
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/list2", &got), 0);
  assert_int_equal(hot_cache_get(&c, "example.com/M\n@v/list", &got), 0);
  assert_int_equal(hot_cache_get(&c, "", &got), 0);

  /* The caller lets go; the cached body lives on. */
  proxy_body_unref(b);
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/list", &got), 1);
  assert_int_equal(got.body->refs, 1);
  assert_memory_equal(got.body->data, "v1.0.0\n", 7);

  /* A zip's metadata: no body. */
  struct hot_value z = value_of(NULL, 200);
  z.zip_size = 123456789;
  hot_cache_put(&c, "example.com/m\n@v/v1.0.0.zip", &z);
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/v1.0.0.zip", &got), 1);
  assert_null(got.body);
  assert_int_equal(got.zip_size, 123456789);
  assert_int_equal(c.count, 2);

  hot_cache_dispose(&c);
  assert_int_equal(c.count, 0);
  assert_int_equal(c.bytes, 0);
  assert_null(c.buckets);
}

static void test_replace(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 1u << 20), 0);
  struct proxy_body *b1 = body_of("not found");
  struct proxy_body *b2 = body_of("v1.0.0\nv1.1.0\n");
  struct hot_value v1 = value_of(b1, 404);
  struct hot_value v2 = value_of(b2, 200);
  hot_cache_put(&c, "k", &v1);
  size_t bytes1 = c.bytes;
  assert_int_equal(b1->refs, 2);
  hot_cache_put(&c, "k", &v2);
  /* The old value's reference is dropped, the new one's taken. */
  assert_int_equal(b1->refs, 1);
  assert_int_equal(b2->refs, 2);
  assert_int_equal(c.count, 1);
  assert_int_equal(c.bytes, bytes1 + (b2->len - b1->len));
  struct hot_value got;
  assert_int_equal(hot_cache_get(&c, "k", &got), 1);
  assert_ptr_equal(got.body, b2);
  assert_int_equal(got.status, 200);
  /* Replacing with the very same body keeps it alive. */
  hot_cache_put(&c, "k", &v2);
  assert_int_equal(b2->refs, 2);
  assert_int_equal(c.count, 1);
  assert_int_equal(hot_cache_get(&c, "k", &got), 1);
  assert_memory_equal(got.body->data, "v1.0.0\nv1.1.0\n", 14);
  hot_cache_dispose(&c);
  assert_int_equal(b1->refs, 1);
  assert_int_equal(b2->refs, 1);
  proxy_body_unref(b1);
  proxy_body_unref(b2);
}

static void test_lru_eviction(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 3 * (BODY + SLACK)), 0);
  struct proxy_body *b[5];
  struct hot_value v[5];
  static const char *const keys[] = {"a", "b", "c", "d", "e"};
  for (int i = 0; i < 5; i++) {
    b[i] = body_filled(BODY, 'A' + i);
    v[i] = value_of(b[i], 200);
  }
  hot_cache_put(&c, keys[0], &v[0]);
  hot_cache_put(&c, keys[1], &v[1]);
  hot_cache_put(&c, keys[2], &v[2]);
  assert_int_equal(c.count, 3);
  struct hot_value got;
  /* Touch "a": "b" is now the least recently used. */
  assert_int_equal(hot_cache_get(&c, "a", &got), 1);
  hot_cache_put(&c, keys[3], &v[3]);
  assert_int_equal(c.count, 3);
  assert_true(c.bytes <= c.max_bytes);
  assert_int_equal(hot_cache_get(&c, "b", &got), 0);
  assert_int_equal(b[1]->refs, 1); /* the cache let go of it */
  /* Order now (newest first): d a c. Touch c, insert e: a goes. */
  assert_int_equal(hot_cache_get(&c, "c", &got), 1);
  hot_cache_put(&c, keys[4], &v[4]);
  assert_int_equal(hot_cache_get(&c, "a", &got), 0);
  assert_int_equal(hot_cache_get(&c, "c", &got), 1);
  assert_int_equal(hot_cache_get(&c, "d", &got), 1);
  assert_int_equal(hot_cache_get(&c, "e", &got), 1);
  assert_ptr_equal(got.body, b[4]);
  assert_int_equal(c.count, 3);
  assert_true(c.bytes <= c.max_bytes);

  /* A body twice the size pushes out two entries. */
  struct proxy_body *big = body_filled(2 * BODY, 'Z');
  struct hot_value vb = value_of(big, 200);
  /* Order: e d c (after the gets above, e newest); c and d are oldest. */
  hot_cache_put(&c, "big", &vb);
  assert_int_equal(hot_cache_get(&c, "big", &got), 1);
  assert_int_equal(hot_cache_get(&c, "e", &got), 1);
  assert_int_equal(hot_cache_get(&c, "c", &got), 0);
  assert_int_equal(hot_cache_get(&c, "d", &got), 0);
  assert_int_equal(c.count, 2);
  assert_true(c.bytes <= c.max_bytes);

  hot_cache_dispose(&c);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(b[i]->refs, 1);
    proxy_body_unref(b[i]);
  }
  proxy_body_unref(big);
}

static void test_evicted_body_stays_valid(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 2 * (BODY + SLACK)), 0);
  struct proxy_body *b = body_filled(BODY, 'q');
  struct hot_value v = value_of(b, 200);
  hot_cache_put(&c, "first", &v);
  proxy_body_unref(b); /* only the cache holds it now */
  /* A connection takes the body to write it. */
  struct hot_value got;
  assert_int_equal(hot_cache_get(&c, "first", &got), 1);
  struct proxy_body *held = proxy_body_ref(got.body);
  assert_int_equal(held->refs, 2);
  /* Two more entries evict it. */
  for (int i = 0; i < 2; i++) {
    char key[16];
    snprintf(key, sizeof key, "other%d", i);
    struct proxy_body *o = body_filled(BODY, 'o');
    struct hot_value vo = value_of(o, 200);
    hot_cache_put(&c, key, &vo);
    proxy_body_unref(o);
  }
  assert_int_equal(hot_cache_get(&c, "first", &got), 0);
  /* Still whole, and now ours alone (ASan reports a use after free). */
  assert_int_equal(held->refs, 1);
  assert_int_equal(held->len, BODY);
  for (size_t i = 0; i < BODY; i++)
    if (held->data[i] != 'q')
      fail_msg("byte %zu of the evicted body changed", i);
  proxy_body_unref(held);
  /* Replacing and disposing also leave held bodies alone. */
  struct proxy_body *r = body_of("replaced");
  struct hot_value vr = value_of(r, 200);
  hot_cache_put(&c, "other0", &vr);
  proxy_body_unref(r);
  assert_int_equal(hot_cache_get(&c, "other0", &got), 1);
  held = proxy_body_ref(got.body);
  hot_cache_dispose(&c);
  assert_int_equal(held->refs, 1);
  assert_memory_equal(held->data, "replaced", 8);
  proxy_body_unref(held);
}

static void test_refused_entries(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 2 * (BODY + SLACK)), 0);
  struct proxy_body *small = body_of("small");
  struct hot_value vs = value_of(small, 200);
  hot_cache_put(&c, "small", &vs);
  /* Larger than the whole budget: not cached, and nothing else evicted. */
  struct proxy_body *huge = body_filled(3 * BODY, 'h');
  struct hot_value vh = value_of(huge, 200);
  hot_cache_put(&c, "huge", &vh);
  struct hot_value got;
  assert_int_equal(hot_cache_get(&c, "huge", &got), 0);
  assert_int_equal(hot_cache_get(&c, "small", &got), 1);
  assert_int_equal(huge->refs, 1);
  assert_int_equal(c.count, 1);
  proxy_body_unref(huge);
  hot_cache_dispose(&c);

  /* Over the per-entry limit, even with room to spare. */
  assert_int_equal(hot_cache_init(&c, 64u << 20), 0);
  struct proxy_body *over = body_filled(PROXY_HOT_MAX_ENTRY_BYTES + 1, 'x');
  struct hot_value vo = value_of(over, 200);
  hot_cache_put(&c, "over", &vo);
  assert_int_equal(hot_cache_get(&c, "over", &got), 0);
  assert_int_equal(over->refs, 1);
  assert_int_equal(c.count, 0);
  /* Exactly at the limit is fine. */
  struct proxy_body *at = body_filled(PROXY_HOT_MAX_ENTRY_BYTES, 'y');
  struct hot_value va = value_of(at, 200);
  hot_cache_put(&c, "at", &va);
  assert_int_equal(hot_cache_get(&c, "at", &got), 1);
  hot_cache_dispose(&c);
  proxy_body_unref(at);

  /* A zero budget holds nothing. */
  assert_int_equal(hot_cache_init(&c, 0), 0);
  hot_cache_put(&c, "small", &vs);
  assert_int_equal(hot_cache_get(&c, "small", &got), 0);
  assert_int_equal(c.count, 0);
  assert_int_equal(c.bytes, 0);
  hot_cache_dispose(&c);
  assert_int_equal(small->refs, 1);
  proxy_body_unref(small);
  proxy_body_unref(over);
}

/* After put(key, v), get(key) must never answer with an older value, even
 * when the cache declines to keep v. */
static void test_refused_replace_drops_old(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 64u << 20), 0);
  struct proxy_body *old = body_of("v1.0.0\n");
  struct hot_value vold = value_of(old, 200);
  hot_cache_put(&c, "example.com/m\n@v/list", &vold);
  struct proxy_body *over = body_filled(PROXY_HOT_MAX_ENTRY_BYTES + 1, 'v');
  struct hot_value vnew = value_of(over, 200);
  vnew.fetched = 5000;
  hot_cache_put(&c, "example.com/m\n@v/list", &vnew);
  struct hot_value got;
  int found = hot_cache_get(&c, "example.com/m\n@v/list", &got);
  int stale = found && got.body != over;
  if (stale)
    print_error("after a refused replace, get answers with the older value "
                "\"%s\" (fetched %lld)\n",
                got.body != NULL ? got.body->data : "(null)",
                (long long)got.fetched);
  hot_cache_dispose(&c);
  proxy_body_unref(old);
  proxy_body_unref(over);
  assert_false(stale);
}

static void test_growth(void **state) {
  (void)state;
  enum { N = 20000 };
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 512u << 20), 0);
  size_t initial = c.nbuckets;
  assert_true(initial > 0);
  /* Keys that look like real ones: many share long prefixes. */
  for (int i = 0; i < N; i++) {
    char key[96], val[32];
    snprintf(key, sizeof key, "example.com/mod%d\n@v/v1.0.%d.info", i % 97, i);
    snprintf(val, sizeof val, "{\"Version\":\"v1.0.%d\"}", i);
    struct proxy_body *b = body_of(val);
    struct hot_value v = value_of(b, 200);
    hot_cache_put(&c, key, &v);
    proxy_body_unref(b);
  }
  assert_int_equal(c.count, N);
  assert_true(c.nbuckets > initial);
  assert_true(c.nbuckets >= N / 2);
  /* A power of two (the index is hash & (n - 1)). */
  assert_int_equal(c.nbuckets & (c.nbuckets - 1), 0);
  for (int i = 0; i < N; i++) {
    char key[96], val[32];
    snprintf(key, sizeof key, "example.com/mod%d\n@v/v1.0.%d.info", i % 97, i);
    snprintf(val, sizeof val, "{\"Version\":\"v1.0.%d\"}", i);
    struct hot_value got;
    if (hot_cache_get(&c, key, &got) != 1)
      fail_msg("entry %d lost after growing to %zu buckets", i, c.nbuckets);
    if (got.body->len != strlen(val) ||
        memcmp(got.body->data, val, got.body->len) != 0)
      fail_msg("entry %d has another body: %s", i, got.body->data);
  }
  struct hot_value none;
  /* Key 1 lives under mod1, not mod0. */
  assert_int_equal(hot_cache_get(&c, "example.com/mod0\n@v/v1.0.1.info", &none),
                   0);
  hot_cache_dispose(&c);
}

/* Random puts, replaces and gets against a model of the newest value per
 * key: a hit must always be the newest value, the newest insert is always
 * there, and the byte budget holds throughout. */
/* hot_cache_remove drops one key; hot_cache_drop_module drops a module's
 * expiring entries (lists, @latest, not-found) and keeps its immutable ones
 * and every other module's, a module whose path extends it included. */
static void test_remove_and_drop_module(void **state) {
  (void)state;
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 1u << 20), 0);
  static const struct {
    const char *key;
    int immutable;
  } entries[] = {
      {"example.com/m\n@v/list", 0},        {"example.com/m\n@latest", 0},
      {"example.com/m\n@v/v1.9.0.info", 0}, {"example.com/m\n@v/v1.0.0.mod", 1},
      {"example.com/m\n@v/v1.0.0.zip", 1},  {"example.com/m/v2\n@v/list", 0},
      {"example.com/mm\n@v/list", 0},
  };
  enum { N = sizeof entries / sizeof entries[0] };
  struct proxy_body *b = body_of("x");
  for (int i = 0; i < N; i++) {
    struct hot_value v = value_of(b, entries[i].immutable ? 200 : 404);
    v.immutable = entries[i].immutable;
    hot_cache_put(&c, entries[i].key, &v);
  }
  assert_int_equal(c.count, N);
  size_t bytes = c.bytes;
  assert_int_equal(hot_cache_drop_module(&c, "example.com/m"), 3);
  assert_int_equal(c.count, N - 3);
  assert_true(c.bytes < bytes);
  struct hot_value got;
  for (int i = 0; i < N; i++)
    assert_int_equal(hot_cache_get(&c, entries[i].key, &got), i >= 3);
  assert_int_equal(hot_cache_drop_module(&c, "example.com/m"), 0);
  hot_cache_remove(&c, "example.com/m\n@v/v1.0.0.zip");
  hot_cache_remove(&c, "example.com/m\n@v/v1.0.0.zip"); /* absent: no-op */
  hot_cache_remove(&c, "no such key");
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/v1.0.0.zip", &got), 0);
  assert_int_equal(hot_cache_get(&c, "example.com/m\n@v/v1.0.0.mod", &got), 1);
  assert_int_equal(c.count, N - 4);
  assert_int_equal(b->refs, 1 + N - 4);
  hot_cache_dispose(&c);
  assert_int_equal(b->refs, 1);
  proxy_body_unref(b);
}

/* Every key is made by hot_cache_key, in the form drop_module reads. */
static void test_key(void **state) {
  (void)state;
  char key[64];
  hot_cache_key(key, sizeof key, "example.com/m", "@v/list");
  assert_string_equal(key, "example.com/m\n@v/list");
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 1u << 20), 0);
  struct proxy_body *b = body_of("x");
  struct hot_value v = value_of(b, 200);
  v.immutable = 0;
  hot_cache_put(&c, key, &v);
  assert_int_equal(hot_cache_drop_module(&c, "example.com/m"), 1);
  hot_cache_dispose(&c);
  proxy_body_unref(b);
  /* Too small a buffer truncates, as snprintf does. */
  char small[8];
  hot_cache_key(small, sizeof small, "example.com/m", "@v/list");
  assert_string_equal(small, "example");
}

static void test_random_against_model(void **state) {
  (void)state;
  enum { KEYS = 300, OPS = 20000 };
  struct hot_cache c;
  assert_int_equal(hot_cache_init(&c, 200000), 0);
  static unsigned version[KEYS]; /* 0: never put */
  memset(version, 0, sizeof version);
  uint64_t x = 88172645463325252ull;
  unsigned next = 1;
  for (int op = 0; op < OPS; op++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int k = (int)(x % KEYS);
    char key[32];
    snprintf(key, sizeof key, "mod%d\n@v/list", k);
    struct hot_value got;
    if ((x >> 20) % 3 != 0) {
      /* put a body whose content names its version */
      size_t len = 16 + (size_t)((x >> 32) % 3000);
      char *p = malloc(len + 1);
      assert_non_null(p);
      memset(p, '.', len);
      int n = snprintf(p, len + 1, "%d:%u:", k, next);
      p[n] = '.';
      struct proxy_body *b = proxy_body_new(p, len);
      free(p);
      assert_non_null(b);
      struct hot_value v = value_of(b, 200);
      hot_cache_put(&c, key, &v);
      proxy_body_unref(b);
      version[k] = next++;
      if (hot_cache_get(&c, key, &got) != 1)
        fail_msg("op %d: %s missing right after put", op, key);
    } else if (hot_cache_get(&c, key, &got) != 1) {
      continue;
    }
    if (version[k] == 0)
      fail_msg("op %d: %s found but never put", op, key);
    char want[32];
    int n = snprintf(want, sizeof want, "%d:%u:", k, version[k]);
    if (got.body->len < (size_t)n ||
        memcmp(got.body->data, want, (size_t)n) != 0)
      fail_msg("op %d: %s has an old value %.16s, want %s", op, key,
               got.body->data, want);
    if (c.bytes > c.max_bytes)
      fail_msg("op %d: %zu bytes over the budget of %zu", op, c.bytes,
               c.max_bytes);
  }
  assert_true(c.count > 10);
  hot_cache_dispose(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_key),
      cmocka_unit_test(test_body_refs),
      cmocka_unit_test(test_get_put),
      cmocka_unit_test(test_replace),
      cmocka_unit_test(test_lru_eviction),
      cmocka_unit_test(test_evicted_body_stays_valid),
      cmocka_unit_test(test_refused_entries),
      cmocka_unit_test(test_refused_replace_drops_old),
      cmocka_unit_test(test_growth),
      cmocka_unit_test(test_remove_and_drop_module),
      cmocka_unit_test(test_random_against_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
