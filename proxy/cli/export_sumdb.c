/*
 * `modproxy export`'s checksum databases (export.h): for each --sumdb
 * database, the lookups of the closure's public versions and the tiles a
 * go command reads to check them, all fetched through the proxy's reader
 * (which verifies them and keeps them in the store). The tiles are only
 * planned and fetched here; export_write.c copies them from the store.
 *
 * The plan covers every tree size the lookups were signed at: each record
 * below it, the consistency proof from each smaller size, and each
 * record's own proof (modproxy's verification on the offline side).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "modproxy/gomod.h"

/* Tiles planned for one database. */
#define EXPORT_MAX_TILES 100000

/* A set of tiles with a hash index (export plans thousands). */
struct tile_set {
  struct sumdb_tile *v;
  size_t n, cap;
  size_t *slots;
  size_t nslots;
};

static size_t tile_hash(const struct sumdb_tile *t) {
  uint64_t h = (uint64_t)t->n * 0x9E3779B97F4A7C15ull;
  h ^= (uint64_t)(t->l + 2) << 40 ^ (uint64_t)t->w << 20 ^ (uint64_t)t->h;
  return (size_t)(h ^ h >> 29);
}

static size_t *tile_slot(struct tile_set *s, const struct sumdb_tile *t) {
  size_t i = tile_hash(t) & (s->nslots - 1);
  while (s->slots[i] != 0) {
    const struct sumdb_tile *o = &s->v[s->slots[i] - 1];
    if (o->h == t->h && o->l == t->l && o->n == t->n && o->w == t->w)
      break;
    i = (i + 1) & (s->nslots - 1);
  }
  return &s->slots[i];
}

static int tile_set_add(struct tile_set *s, const struct sumdb_tile *t) {
  if ((s->n + 1) * 2 > s->nslots) {
    size_t ns = s->nslots == 0 ? 1024 : s->nslots * 2;
    size_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL)
      return -ENOMEM;
    free(s->slots);
    s->slots = slots;
    s->nslots = ns;
    for (size_t i = 0; i < s->n; i++)
      *tile_slot(s, &s->v[i]) = i + 1;
  }
  size_t *slot = tile_slot(s, t);
  if (*slot != 0)
    return 0;
  if (s->n == s->cap)
    return -E2BIG;
  s->v[s->n] = *t;
  *slot = ++s->n;
  return 0;
}

/* The tiles the go command reads for `indexes` of a tree of size n. */
static int plan_tiles(struct tile_set *s, int64_t n, const int64_t *indexes,
                      size_t count) {
  struct sumdb_tile tmp[4 * SUMDB_MAX_PROOF_HASHES];
  size_t nt = 0;
  int rc = sumdb_tiles_for_hashes(n, indexes, count, tmp, &nt,
                                  sizeof tmp / sizeof tmp[0]);
  for (size_t i = 0; rc == 0 && i < nt; i++)
    rc = tile_set_add(s, &tmp[i]);
  return rc;
}

struct record {
  struct node *n;
  int64_t id;
  struct sumdb_tree tree;
};

static int by_tree(const void *a, const void *b) {
  const struct sumdb_tree *x = a, *y = b;
  return x->n < y->n ? -1 : x->n > y->n;
}

/* The lookups of every public version and the tiles to check them. */
void export_db(struct exporter *x, int which) {
  const struct sumdb_spec *spec = &x->specs[which];
  const char *name = spec->key.name;
  struct xfer **ts = calloc(x->nnodes + 1, sizeof *ts);
  struct record *recs = calloc(x->nnodes + 1, sizeof *recs);
  struct sumdb_tile *tiles = calloc(EXPORT_MAX_TILES, sizeof *tiles);
  struct sumdb_tree *trees = calloc(x->nnodes + 1, sizeof *trees);
  size_t nt = 0, nrec = 0, ntiles = 0, ntrees = 0, not_listed = 0;
  if (ts == NULL || recs == NULL || tiles == NULL || trees == NULL)
    goto out;
  for (size_t i = 0; i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    if (n->failed != NULL || !n->loaded ||
        gomod_private(x->cfg.private_patterns, n->module))
      continue;
    char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2];
    struct xfer *t = calloc(1, sizeof *t);
    if (t == NULL || gomod_escape_path(n->module, ep, sizeof ep, NULL, 0) < 0 ||
        gomod_escape_version(n->version, ev, sizeof ev, NULL, 0) < 0) {
      free(t);
      continue;
    }
    snprintf(t->url, sizeof t->url, "/sumdb/%s/lookup/%s@%s", name, ep, ev);
    t->ctx = n;
    ts[nt++] = t;
  }
  bundle_progress_phase(&x->pr, "lookups", nt);
  export_fetch_all(x, ts, nt);
  int unreachable = 0;
  for (size_t i = 0; i < nt; i++) {
    struct node *n = ts[i]->ctx;
    struct sumdb_lookup l;
    char err[256] = "";
    if (ts[i]->rc == 0 && ts[i]->status == 200 &&
        sumdb_lookup_parse(ts[i]->body.data, ts[i]->body.len, &spec->key, &l,
                           err, sizeof err) == 0) {
      recs[nrec++] = (struct record){n, l.id, l.tree};
      size_t k = 0;
      while (k < ntrees &&
             (trees[k].n != l.tree.n ||
              memcmp(trees[k].hash.b, l.tree.hash.b, SUMDB_HASH_BYTES) != 0))
        k++;
      if (k == ntrees)
        trees[ntrees++] = l.tree;
    } else if (ts[i]->rc == 0 &&
               (ts[i]->status == 404 || ts[i]->status == 410)) {
      not_listed++;
      fprintf(x->errs,
              "  note: %s does not list %s@%s: offline clients need "
              "GONOSUMDB for it\n",
              name, n->module, n->version);
    } else {
      char why[256];
      xfer_why(ts[i], why, sizeof why);
      if (ts[i]->rc == 0 && ts[i]->status == 200)
        snprintf(why, sizeof why, "its answer does not verify: %s", err);
      if (ts[i]->status >= 500 || ts[i]->rc != 0)
        unreachable++;
      export_problem(x, "%s: lookup %s@%s: %s", name, n->module, n->version,
                     why);
    }
  }
  char sum[160];
  snprintf(sum, sizeof sum, "%zu records, %zu not listed, %d failed", nrec,
           not_listed, unreachable);
  bundle_progress_end(&x->pr, sum);
  /* The tiles a client reads: for each tree size seen, each record below
   * it and the consistency proof from each smaller tree; planned one
   * record or proof at a time (a superset of planning them together) into
   * a hashed set. */
  qsort(trees, ntrees, sizeof *trees, by_tree);
  struct tile_set set = {tiles, 0, EXPORT_MAX_TILES, NULL, 0};
  int64_t idx[SUMDB_MAX_PROOF_HASHES];
  int full = 0;
  for (size_t k = 0; k < ntrees && !full; k++) {
    for (size_t i = 0; i < nrec && !full; i++) {
      if (recs[i].id >= trees[k].n)
        continue;
      idx[0] = sumdb_stored_hash_index(0, recs[i].id);
      full = plan_tiles(&set, trees[k].n, idx, 1) < 0;
    }
    for (size_t j = 0; j < k && !full; j++) {
      int c = sumdb_tree_proof_indexes(trees[k].n, trees[j].n, idx,
                                       SUMDB_MAX_PROOF_HASHES);
      if (c > 0)
        full = plan_tiles(&set, trees[k].n, idx, (size_t)c) < 0;
    }
  }
  /* And the tiles of each record's own proof (modproxy's verification). */
  for (size_t i = 0; i < nrec && !full; i++) {
    int c = sumdb_record_proof_indexes(recs[i].tree.n, recs[i].id, idx,
                                       SUMDB_MAX_PROOF_HASHES);
    for (int k = 0; k < c && !full; k++) {
      struct sumdb_tile t = sumdb_tile_for_index(SUMDB_TILE_HEIGHT, idx[k]), p;
      if (sumdb_tile_parent(&t, 0, recs[i].tree.n, &p) == 0)
        full = tile_set_add(&set, &p) < 0;
    }
  }
  if (full)
    export_problem(x, "%s: more than %d tiles to plan", name, EXPORT_MAX_TILES);
  ntiles = set.n;
  free(set.slots);
  for (size_t i = 0; i < nt; i++)
    xfer_free(ts[i]);
  free(ts);
  ts = calloc(ntiles + 1, sizeof *ts);
  nt = 0;
  for (size_t i = 0; ts != NULL && i < ntiles; i++) {
    struct xfer *t = calloc(1, sizeof *t);
    char path[128];
    if (t == NULL || sumdb_tile_path(&tiles[i], path, sizeof path) < 0) {
      free(t);
      continue;
    }
    snprintf(t->url, sizeof t->url, "/sumdb/%s/%s", name, path);
    t->discard = 1;
    ts[nt++] = t;
  }
  bundle_progress_phase(&x->pr, "tiles", nt);
  export_fetch_all(x, ts, nt);
  size_t bad = 0;
  for (size_t i = 0; i < nt; i++) {
    if (ts[i]->rc != 0 || ts[i]->status != 200) {
      bad++;
      export_problem(x, "%s: %s: HTTP %ld", name, ts[i]->url, ts[i]->status);
    }
  }
  snprintf(sum, sizeof sum, "%zu tiles for %zu tree sizes", nt - bad, ntrees);
  bundle_progress_end(&x->pr, sum);
  x->plan[which] = tiles;
  x->nplan[which] = ntiles;
  tiles = NULL;
out:
  for (size_t i = 0; ts != NULL && i < nt; i++)
    xfer_free(ts[i]);
  free(ts);
  free(recs);
  free(tiles);
  free(trees);
}
