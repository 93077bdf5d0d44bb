/*
 * The checksum database's transparency log (x/mod sumdb/tlog tlog.go and
 * tile.go): record and node hashes, the stored-hash ordering, tiles of
 * height H, and record and consistency proofs (RFC 6962 audit paths).
 *
 * Where Go's tlog panics on "bad math" (inputs its callers never give),
 * these return -EINVAL: the inputs here come from the network. Proof
 * index lists are built with a bounded appender; a tree of 2^63 leaves
 * needs fewer than SUMDB_MAX_PROOF_HASHES hashes per proof.
 */
#include "modproxy/sumdb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

/* tile.go pathBase: N is written in 3-digit groups. */
#define TILE_PATH_BASE 1000
/* Groups of an int64 in base 1000. */
#define TILE_PATH_MAX_GROUPS 7

void sumdb_record_hash(const void *data, size_t len, struct sumdb_hash *out) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  static const uint8_t zero = 0;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  EVP_DigestUpdate(md, &zero, 1);
  EVP_DigestUpdate(md, data, len);
  EVP_DigestFinal_ex(md, out->b, NULL);
  EVP_MD_CTX_free(md);
}

void sumdb_node_hash(const struct sumdb_hash *left,
                     const struct sumdb_hash *right, struct sumdb_hash *out) {
  uint8_t buf[1 + 2 * SUMDB_HASH_BYTES];
  buf[0] = 1;
  memcpy(buf + 1, left->b, SUMDB_HASH_BYTES);
  memcpy(buf + 1 + SUMDB_HASH_BYTES, right->b, SUMDB_HASH_BYTES);
  EVP_Digest(buf, sizeof buf, out->b, NULL, EVP_sha256(), NULL);
}

/* maxpow2: the largest power of 2 smaller than n (1 for n <= 2). */
static int64_t maxpow2(int64_t n) {
  int l = 0;
  while (l < 62 && ((int64_t)1 << (l + 1)) < n)
    l++;
  return (int64_t)1 << l;
}

static int level_of(int64_t k) {
  int l = 0;
  while (((int64_t)1 << l) < k)
    l++;
  return l;
}

int64_t sumdb_stored_hash_index(int level, int64_t n) {
  for (int l = level; l > 0; l--)
    n = 2 * n + 1;
  int64_t i = 0;
  for (; n > 0; n >>= 1)
    i += n;
  return i + level;
}

void sumdb_split_stored_hash_index(int64_t index, int *level, int64_t *n) {
  int64_t m = index / 2;
  int64_t at = sumdb_stored_hash_index(0, m);
  for (;;) {
    /* Each new record m adds 1 + trailingZeros(m + 1) hashes. */
    int64_t x = at + 1 + __builtin_ctzll((unsigned long long)(m + 1));
    if (x > index)
      break;
    m++;
    at = x;
  }
  *level = (int)(index - at);
  *n = m >> *level;
}

/* ---- tiles --------------------------------------------------------------- */

int sumdb_tile_path(const struct sumdb_tile *t, char *out, size_t cap) {
  char groups[TILE_PATH_MAX_GROUPS][8];
  int ng = 0;
  int64_t n = t->n;
  snprintf(groups[ng++], sizeof groups[0], "%03d", (int)(n % TILE_PATH_BASE));
  while (n >= TILE_PATH_BASE && ng < TILE_PATH_MAX_GROUPS) {
    n /= TILE_PATH_BASE;
    snprintf(groups[ng++], sizeof groups[0], "x%03d",
             (int)(n % TILE_PATH_BASE));
  }
  char nstr[64] = "";
  size_t w = 0;
  for (int i = ng - 1; i >= 0; i--)
    w += (size_t)snprintf(nstr + w, sizeof nstr - w, "%s%s", groups[i],
                          i > 0 ? "/" : "");
  char level[16], part[24] = "";
  if (t->l == -1)
    snprintf(level, sizeof level, "data");
  else
    snprintf(level, sizeof level, "%d", t->l);
  if (t->w != 1 << t->h)
    snprintf(part, sizeof part, ".p/%d", t->w);
  int len = snprintf(out, cap, "tile/%d/%s/%s%s", t->h, level, nstr, part);
  return len < 0 || (size_t)len >= cap ? -E2BIG : len;
}

/* strconv.Atoi over [s, s+n): a decimal with an optional sign. */
static int atoi_span(const char *s, size_t n, long long *out) {
  int neg = 0;
  if (n > 0 && (*s == '+' || *s == '-')) {
    neg = *s == '-';
    s++;
    n--;
  }
  if (n == 0 || n > 18)
    return -EINVAL;
  long long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

int sumdb_tile_parse(const char *path, struct sumdb_tile *out) {
  /* Split on '/' (at most: tile, H, L, groups..., .p, W). */
  const char *f[TILE_PATH_MAX_GROUPS + 6];
  size_t fl[TILE_PATH_MAX_GROUPS + 6];
  int nf = 0;
  for (const char *p = path;;) {
    size_t n = strcspn(p, "/");
    if (nf == (int)(sizeof f / sizeof f[0]))
      return -EINVAL;
    f[nf] = p;
    fl[nf++] = n;
    if (p[n] == '\0')
      break;
    p += n + 1;
  }
  if (nf < 4 || fl[0] != 4 || memcmp(f[0], "tile", 4) != 0)
    return -EINVAL;
  long long h, l, w;
  int is_data = fl[2] == 4 && memcmp(f[2], "data", 4) == 0;
  if (atoi_span(f[1], fl[1], &h) < 0 || h < 1 || h > 30)
    return -EINVAL;
  if (is_data)
    l = -1;
  else if (atoi_span(f[2], fl[2], &l) < 0 || l < 0 || l > 63)
    return -EINVAL;
  w = 1ll << h;
  size_t last_len = fl[nf - 2];
  int groups_end = nf; /* exclusive */
  size_t tail_group_len = fl[nf - 1];
  if (last_len >= 2 && memcmp(f[nf - 2] + last_len - 2, ".p", 2) == 0 &&
      nf >= 5) {
    long long ww;
    if (atoi_span(f[nf - 1], fl[nf - 1], &ww) < 0 || ww <= 0 || ww >= w)
      return -EINVAL;
    w = ww;
    groups_end = nf - 1;
    tail_group_len = last_len - 2;
  }
  int64_t n = 0;
  for (int i = 3; i < groups_end; i++) {
    const char *s = f[i];
    size_t sl = i == groups_end - 1 ? tail_group_len : fl[i];
    if (sl > 0 && s[0] == 'x') {
      s++;
      sl--;
    }
    long long nn;
    if (atoi_span(s, sl, &nn) < 0 || nn < 0 || nn >= TILE_PATH_BASE ||
        n > (INT64_MAX - nn) / TILE_PATH_BASE)
      return -EINVAL;
    n = n * TILE_PATH_BASE + nn;
  }
  struct sumdb_tile t = {.h = (int)h, .l = (int)l, .n = n, .w = (int)w};
  char canon[128];
  if (sumdb_tile_path(&t, canon, sizeof canon) < 0 || strcmp(canon, path) != 0)
    return -EINVAL;
  *out = t;
  return 0;
}

/* tileForIndex: the tile and the byte range [start, end) of its data that
 * hashes to the stored hash `index`. */
static struct sumdb_tile tile_for_index(int h, int64_t index, size_t *start,
                                        size_t *end) {
  int level;
  int64_t n;
  sumdb_split_stored_hash_index(index, &level, &n);
  struct sumdb_tile t = {.h = h};
  t.l = level / h;
  level -= t.l * h;
  t.n = n << level >> h;
  n -= t.n << h >> level;
  t.w = (int)((n + 1) << level);
  if (start != NULL)
    *start = (size_t)(n << level) * SUMDB_HASH_BYTES;
  if (end != NULL)
    *end = (size_t)((n + 1) << level) * SUMDB_HASH_BYTES;
  return t;
}

struct sumdb_tile sumdb_tile_for_index(int h, int64_t index) {
  return tile_for_index(h, index, NULL, NULL);
}

int sumdb_tile_parent(const struct sumdb_tile *t, int k, int64_t n,
                      struct sumdb_tile *out) {
  struct sumdb_tile p = *t;
  p.l += k;
  p.n >>= k * p.h;
  p.w = 1 << p.h;
  int64_t max = p.l * p.h < 63 ? n >> (p.l * p.h) : 0;
  if ((p.n << p.h) + p.w >= max) {
    if ((p.n << p.h) >= max)
      return -ENOENT;
    p.w = (int)(max - (p.n << p.h));
  }
  *out = p;
  return 0;
}

/* tileHash: the subtree hash over len/32 hashes (a power of two). */
static void tile_hash(const uint8_t *data, size_t len, struct sumdb_hash *out) {
  if (len == SUMDB_HASH_BYTES) {
    memcpy(out->b, data, SUMDB_HASH_BYTES);
    return;
  }
  struct sumdb_hash l, r;
  tile_hash(data, len / 2, &l);
  tile_hash(data + len / 2, len / 2, &r);
  sumdb_node_hash(&l, &r, out);
}

int sumdb_hash_from_tile(const struct sumdb_tile *t, const uint8_t *data,
                         size_t len, int64_t index, struct sumdb_hash *out) {
  if (t->h < 1 || t->h > 30 || t->l < 0 || t->l >= 64 || t->w < 1 ||
      t->w > 1 << t->h || len < (size_t)t->w * SUMDB_HASH_BYTES || index < 0)
    return -EINVAL;
  size_t start, end;
  struct sumdb_tile t1 = tile_for_index(t->h, index, &start, &end);
  if (t->l != t1.l || t->n != t1.n || t->w < t1.w)
    return -EINVAL;
  tile_hash(data + start, end - start, out);
  return 0;
}

/* ---- proofs -------------------------------------------------------------- */

struct idx_list {
  int64_t *v;
  size_t n, cap;
  int overflow;
};

static void push(struct idx_list *l, int64_t x) {
  if (l->n == l->cap) {
    l->overflow = 1;
    return;
  }
  l->v[l->n++] = x;
}

/* subTreeIndex(lo, hi) */
static void sub_tree_index(int64_t lo, int64_t hi, struct idx_list *l) {
  while (lo < hi) {
    int64_t k = maxpow2(hi - lo + 1);
    push(l, sumdb_stored_hash_index(level_of(k), lo >> level_of(k)));
    lo += k;
  }
}

/* Hashes consumed in order from a caller's array. */
struct cursor {
  const struct sumdb_hash *h;
  size_t n, at;
  int short_read;
};

/* subTreeHash(lo, hi) */
static void sub_tree_hash(int64_t lo, int64_t hi, struct cursor *c,
                          struct sumdb_hash *out) {
  size_t num = 0;
  for (int64_t x = lo; x < hi; num++)
    x += maxpow2(hi - x + 1);
  if (num == 0 || c->at + num > c->n) {
    c->short_read = 1;
    memset(out, 0, sizeof *out);
    return;
  }
  const struct sumdb_hash *hs = c->h + c->at;
  c->at += num;
  *out = hs[num - 1];
  for (size_t i = num - 1; i-- > 0;)
    sumdb_node_hash(&hs[i], out, out);
}

static void leaf_proof_index(int64_t lo, int64_t hi, int64_t n,
                             struct idx_list *l) {
  if (lo + 1 == hi)
    return;
  int64_t k = maxpow2(hi - lo);
  if (n < lo + k) {
    leaf_proof_index(lo, lo + k, n, l);
    sub_tree_index(lo + k, hi, l);
  } else {
    sub_tree_index(lo, lo + k, l);
    leaf_proof_index(lo + k, hi, n, l);
  }
}

int sumdb_record_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap) {
  if (t < 0 || n < 0 || n >= t)
    return -EINVAL;
  struct idx_list l = {out, 0, cap, 0};
  leaf_proof_index(0, t, n, &l);
  return l.overflow ? -E2BIG : (int)l.n;
}

/* leafProof: appends the proof (bottom first) to p. */
static void leaf_proof(int64_t lo, int64_t hi, int64_t n, struct cursor *c,
                       struct sumdb_hash *p, size_t *np) {
  if (lo + 1 == hi)
    return;
  int64_t k = maxpow2(hi - lo);
  struct sumdb_hash th;
  if (n < lo + k) {
    leaf_proof(lo, lo + k, n, c, p, np);
    sub_tree_hash(lo + k, hi, c, &th);
  } else {
    sub_tree_hash(lo, lo + k, c, &th);
    leaf_proof(lo + k, hi, n, c, p, np);
  }
  if (*np < SUMDB_MAX_PROOF_HASHES)
    p[(*np)++] = th;
  else
    c->short_read = 1;
}

/* runRecordProof over p[0..np). */
static int run_record_proof(const struct sumdb_hash *p, size_t np, int64_t lo,
                            int64_t hi, int64_t n,
                            const struct sumdb_hash *leaf,
                            struct sumdb_hash *out) {
  if (lo + 1 == hi) {
    if (np != 0)
      return -EBADMSG;
    *out = *leaf;
    return 0;
  }
  if (np == 0)
    return -EBADMSG;
  int64_t k = maxpow2(hi - lo);
  struct sumdb_hash th;
  if (n < lo + k) {
    if (run_record_proof(p, np - 1, lo, lo + k, n, leaf, &th) < 0)
      return -EBADMSG;
    sumdb_node_hash(&th, &p[np - 1], out);
  } else {
    if (run_record_proof(p, np - 1, lo + k, hi, n, leaf, &th) < 0)
      return -EBADMSG;
    sumdb_node_hash(&p[np - 1], &th, out);
  }
  return 0;
}

int sumdb_record_check(const struct sumdb_tree *tree, int64_t n,
                       const struct sumdb_hash *leaf,
                       const struct sumdb_hash *hashes, size_t count) {
  if (tree->n < 0 || n < 0 || n >= tree->n)
    return -EINVAL;
  struct cursor c = {hashes, count, 0, 0};
  struct sumdb_hash p[SUMDB_MAX_PROOF_HASHES];
  size_t np = 0;
  leaf_proof(0, tree->n, n, &c, p, &np);
  if (c.short_read || c.at != count)
    return -EBADMSG;
  struct sumdb_hash root;
  if (run_record_proof(p, np, 0, tree->n, n, leaf, &root) < 0)
    return -EBADMSG;
  return memcmp(root.b, tree->hash.b, SUMDB_HASH_BYTES) == 0 ? 0 : -EBADMSG;
}

static void tree_proof_index(int64_t lo, int64_t hi, int64_t n,
                             struct idx_list *l) {
  if (n == hi) {
    if (lo != 0)
      sub_tree_index(lo, hi, l);
    return;
  }
  int64_t k = maxpow2(hi - lo);
  if (n <= lo + k) {
    tree_proof_index(lo, lo + k, n, l);
    sub_tree_index(lo + k, hi, l);
  } else {
    sub_tree_index(lo, lo + k, l);
    tree_proof_index(lo + k, hi, n, l);
  }
}

int sumdb_tree_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap) {
  if (t < 1 || n < 1 || n > t)
    return -EINVAL;
  struct idx_list l = {out, 0, cap, 0};
  tree_proof_index(0, t, n, &l);
  return l.overflow ? -E2BIG : (int)l.n;
}

static void tree_proof(int64_t lo, int64_t hi, int64_t n, struct cursor *c,
                       struct sumdb_hash *p, size_t *np) {
  struct sumdb_hash th;
  if (n == hi) {
    if (lo == 0)
      return;
    sub_tree_hash(lo, hi, c, &th);
  } else {
    int64_t k = maxpow2(hi - lo);
    if (n <= lo + k) {
      tree_proof(lo, lo + k, n, c, p, np);
      sub_tree_hash(lo + k, hi, c, &th);
    } else {
      sub_tree_hash(lo, lo + k, c, &th);
      tree_proof(lo + k, hi, n, c, p, np);
    }
  }
  if (*np < SUMDB_MAX_PROOF_HASHES)
    p[(*np)++] = th;
  else
    c->short_read = 1;
}

/* runTreeProof: the old and new hashes of [lo, hi). */
static int run_tree_proof(const struct sumdb_hash *p, size_t np, int64_t lo,
                          int64_t hi, int64_t n, const struct sumdb_hash *old,
                          struct sumdb_hash *oh, struct sumdb_hash *th) {
  if (n == hi) {
    if (lo == 0) {
      if (np != 0)
        return -EBADMSG;
      *oh = *th = *old;
      return 0;
    }
    if (np != 1)
      return -EBADMSG;
    *oh = *th = p[0];
    return 0;
  }
  if (np == 0)
    return -EBADMSG;
  int64_t k = maxpow2(hi - lo);
  struct sumdb_hash o, t;
  if (n <= lo + k) {
    if (run_tree_proof(p, np - 1, lo, lo + k, n, old, &o, &t) < 0)
      return -EBADMSG;
    *oh = o;
    sumdb_node_hash(&t, &p[np - 1], th);
  } else {
    if (run_tree_proof(p, np - 1, lo + k, hi, n, old, &o, &t) < 0)
      return -EBADMSG;
    sumdb_node_hash(&p[np - 1], &o, oh);
    sumdb_node_hash(&p[np - 1], &t, th);
  }
  return 0;
}

int sumdb_tree_check(const struct sumdb_tree *newer,
                     const struct sumdb_tree *older,
                     const struct sumdb_hash *hashes, size_t count) {
  if (newer->n < 1 || older->n < 1 || older->n > newer->n)
    return -EINVAL;
  struct cursor c = {hashes, count, 0, 0};
  struct sumdb_hash p[SUMDB_MAX_PROOF_HASHES];
  size_t np = 0;
  tree_proof(0, newer->n, older->n, &c, p, &np);
  if (c.short_read || c.at != count)
    return -EBADMSG;
  struct sumdb_hash oh, th;
  if (run_tree_proof(p, np, 0, newer->n, older->n, &older->hash, &oh, &th) < 0)
    return -EBADMSG;
  return memcmp(oh.b, older->hash.b, SUMDB_HASH_BYTES) == 0 &&
                 memcmp(th.b, newer->hash.b, SUMDB_HASH_BYTES) == 0
             ? 0
             : -EBADMSG;
}

int sumdb_tree_hash_indexes(int64_t n, int64_t *out, size_t cap) {
  if (n < 0)
    return -EINVAL;
  struct idx_list l = {out, 0, cap, 0};
  sub_tree_index(0, n, &l);
  return l.overflow ? -E2BIG : (int)l.n;
}

int sumdb_tree_hash(int64_t n, const struct sumdb_hash *hashes, size_t count,
                    struct sumdb_hash *out) {
  if (n == 0) {
    memset(out, 0, sizeof *out);
    return count == 0 ? 0 : -EINVAL;
  }
  struct cursor c = {hashes, count, 0, 0};
  sub_tree_hash(0, n, &c, out);
  return c.short_read || c.at != count ? -EINVAL : 0;
}

/* ---- the tiles a client reads -------------------------------------------- */

static int tile_eq(const struct sumdb_tile *a, const struct sumdb_tile *b) {
  return a->h == b->h && a->l == b->l && a->n == b->n && a->w == b->w;
}

static int find_tile(const struct sumdb_tile *v, size_t n,
                     const struct sumdb_tile *t) {
  for (size_t i = 0; i < n; i++)
    if (tile_eq(&v[i], t))
      return (int)i;
  return -1;
}

static int add_tile(struct sumdb_tile *out, size_t *n, size_t cap,
                    const struct sumdb_tile *t) {
  if (find_tile(out, *n, t) >= 0)
    return 0;
  if (*n == cap)
    return -E2BIG;
  out[(*n)++] = *t;
  return 0;
}

int sumdb_tiles_for_hashes(int64_t tree_n, const int64_t *indexes, size_t count,
                           struct sumdb_tile *out, size_t *n, size_t cap) {
  const int h = SUMDB_TILE_HEIGHT;
  int64_t stx[SUMDB_MAX_PROOF_HASHES];
  int ns = sumdb_tree_hash_indexes(tree_n, stx, SUMDB_MAX_PROOF_HASHES);
  if (ns < 0)
    return ns;
  /* The tiles of the tree hash: authenticated by the signed root. */
  for (int i = 0; i < ns; i++) {
    struct sumdb_tile t = sumdb_tile_for_index(h, stx[i]), p;
    if (sumdb_tile_parent(&t, 0, tree_n, &p) < 0)
      return -EINVAL;
    int rc = add_tile(out, n, cap, &p);
    if (rc < 0)
      return rc;
  }
  int64_t limit = sumdb_stored_hash_index(0, tree_n);
  for (size_t i = 0; i < count; i++) {
    if (indexes[i] < 0 || indexes[i] >= limit)
      return -EINVAL;
    struct sumdb_tile t = sumdb_tile_for_index(h, indexes[i]), p;
    /* Walk up to a tile already planned (it authenticates the path),
     * then add the tiles below it. */
    int k = 0;
    for (;; k++) {
      if (sumdb_tile_parent(&t, k, tree_n, &p) < 0)
        return -EINVAL;
      if (find_tile(out, *n, &p) >= 0)
        break;
      if (k > 64)
        return -EINVAL;
    }
    for (k--; k >= 0; k--) {
      if (sumdb_tile_parent(&t, k, tree_n, &p) < 0)
        return -EINVAL;
      int rc = add_tile(out, n, cap, &p);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}
