/*
 * Verifying upstream content against a checksum database (--verify-sumdb).
 *
 * Before a public module's .mod or .zip fetched from an upstream is
 * stored, the job asks the first --sumdb database for module@version's
 * record: the lookup's note must be signed by the database's key
 * (sumdb_lookup_parse), and the record must be in the signed tree (a
 * record proof from the tiles of that tree). Ingest then compares the h1
 * of the bytes with the record's; a mismatch is refused, explained to the
 * client and recorded as a finding. So is the file when the database's
 * answer fails its own checks (a note not signed by its key, a record for
 * something else or outside the signed tree, a tile that does not hash to
 * it): nothing then vouches for the bytes. A database that does not list
 * the version lets it through unverified (as a GONOSUMDB module would be);
 * one that cannot be reached is skipped for PROXY_SUMDB_UNREACHABLE_MS.
 *
 *   start --> LOOKUP --200--> TILES (each tile of the proof, in parallel)
 *               |  404: not listed        |  all in
 *               |  error: unreachable     v
 *               +-------------------->  DONE (verdict, hashes; on_done)
 *
 * Lookups and tiles are read through the read function the owner gave
 * proxy_sumdb_new (proxy/goproxy's: cached in the store, coalesced with the
 * go command's own requests under /sumdb/).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sumdb_internal.h"

static void verify_state(struct proxy_sumdb_verify *v,
                         enum sumdb_verify_state to) {
  static const unsigned allowed[] = {
      [SVER_IDLE] = 1u << SVER_LOOKUP,
      [SVER_LOOKUP] = 1u << SVER_TILES | 1u << SVER_DONE,
      [SVER_TILES] = 1u << SVER_DONE,
      [SVER_DONE] = 0,
  };
  if ((allowed[v->state] & (1u << to)) == 0) {
    fprintf(stderr, "sumdb verify: illegal transition %d -> %d\n", v->state,
            to);
    abort();
  }
  v->state = to;
}

int proxy_sumdb_should_verify(const struct proxy_sumdb *sd) {
  return sd != NULL && sd->ndbs > 0 &&
         sd->dbs[0].unreachable_until <= uv_now(sd->loop);
}

static void release(struct sumdb_verify_read *r) {
  proxy_body_unref(r->body);
  r->body = NULL;
}

static void free_reads(struct proxy_sumdb_verify *v) {
  release(&v->lookup);
  for (int i = 0; i < v->ntiles; i++)
    release(&v->tile_reads[i]);
}

void proxy_sumdb_verify_dispose(struct proxy_sumdb_verify *v) {
  free_reads(v);
}

const char *proxy_sumdb_error_name(enum proxy_sumdb_error e) {
  static const char *const names[PROXY_SUMDB_ERRORS] = {
      [PROXY_SUMDB_ERR_UNREACHABLE] = "unreachable",
      [PROXY_SUMDB_ERR_BAD] = "bad_answer",
      [PROXY_SUMDB_ERR_MISMATCH] = "mismatch",
  };
  return (unsigned)e < PROXY_SUMDB_ERRORS ? names[e] : "other";
}

static void count_error(struct proxy_sumdb *sd, enum proxy_sumdb_error e) {
  atomic_fetch_add_explicit(&sd->errors[e], 1, memory_order_relaxed);
}

uint64_t proxy_sumdb_errors(struct proxy_sumdb *sd, enum proxy_sumdb_error e) {
  return sd != NULL ? atomic_load_explicit(&sd->errors[e], memory_order_relaxed)
                    : 0;
}

static void finish(struct proxy_sumdb_verify *v, enum sumdb_verdict verdict) {
  v->verdict = verdict;
  if (verdict == SUMDB_UNREACHABLE) {
    v->dbp->unreachable_until =
        uv_now(v->sd->loop) + PROXY_SUMDB_UNREACHABLE_MS;
    count_error(v->sd, PROXY_SUMDB_ERR_UNREACHABLE);
  }
  if (verdict == SUMDB_BAD)
    count_error(v->sd, PROXY_SUMDB_ERR_BAD);
  verify_state(v, SVER_DONE);
  free_reads(v);
  v->on_done(v);
}

/* The first line of an explanation body, as the reason. */
static void reason_from(struct proxy_sumdb_verify *v, const char *what,
                        const struct sumdb_verify_read *g) {
  const char *b = g->body != NULL ? g->body->data : "no answer";
  snprintf(v->reason, sizeof v->reason, "%s: HTTP %d: %.*s", what, g->status,
           (int)strcspn(b, "\n"), b);
}

static void check(struct proxy_sumdb_verify *v) {
  struct sumdb_hash hashes[SUMDB_MAX_PROOF_HASHES];
  for (int i = 0; i < v->nidx; i++) {
    struct sumdb_tile t = sumdb_tile_for_index(SUMDB_TILE_HEIGHT, v->idx[i]);
    int k = 0;
    while (k < v->ntiles && (v->tiles[k].l != t.l || v->tiles[k].n != t.n))
      k++;
    const struct sumdb_verify_read *g =
        k < v->ntiles && v->tile_reads[k].done ? &v->tile_reads[k] : NULL;
    if (g != NULL && g->refused[0] != '\0') {
      snprintf(v->reason, sizeof v->reason, "%s", g->refused);
      finish(v, SUMDB_BAD);
      return;
    }
    if (g == NULL || g->status != 200 || g->body == NULL) {
      if (g != NULL)
        reason_from(v, "a tile of the record's proof", g);
      finish(v, SUMDB_UNREACHABLE);
      return;
    }
    if (sumdb_hash_from_tile(&v->tiles[k], (const uint8_t *)g->body->data,
                             g->body->len, v->idx[i], &hashes[i]) < 0) {
      snprintf(v->reason, sizeof v->reason,
               "a tile of the record's proof is "
               "malformed");
      finish(v, SUMDB_BAD);
      return;
    }
  }
  if (sumdb_record_check(&v->tree, v->record_id, &v->leaf, hashes,
                         (size_t)v->nidx) < 0) {
    snprintf(v->reason, sizeof v->reason,
             "record %" PRId64 " is not in the signed tree of %" PRId64
             " records (its inclusion proof fails)",
             v->record_id, v->tree.n);
    finish(v, SUMDB_BAD);
    return;
  }
  finish(v, SUMDB_VERIFIED);
}

/* Keeps the answer a read gave (its body referenced). */
static void keep(struct sumdb_verify_read *r,
                 const struct proxy_sumdb_answer *a) {
  r->done = 1;
  r->status = a->status;
  r->body = a->body != NULL ? proxy_body_ref(a->body) : NULL;
  snprintf(r->refused, sizeof r->refused, "%s",
           a->refused != NULL ? a->refused : "");
}

static void on_tile(void *arg, const struct proxy_sumdb_answer *a) {
  struct sumdb_verify_read *r = arg;
  struct proxy_sumdb_verify *v = r->v;
  keep(r, a);
  if (--v->pending == 0)
    check(v);
}

/* Starts reading db's answer at path into r. */
static int read_start(struct proxy_sumdb_verify *v, struct sumdb_verify_read *r,
                      const char *path, proxy_sumdb_answer_cb cb) {
  memset(r, 0, sizeof *r);
  r->v = v;
  return v->sd->read(v->sd->reader, v->dbp, path, cb, r);
}

static void on_lookup(void *arg, const struct proxy_sumdb_answer *a) {
  struct sumdb_verify_read *g = arg;
  struct proxy_sumdb_verify *v = g->v;
  keep(g, a);
  if (g->status == 404 || g->status == 410) {
    reason_from(v, "lookup", g);
    finish(v, SUMDB_NOT_LISTED);
    return;
  }
  if (g->refused[0] != '\0') {
    snprintf(v->reason, sizeof v->reason, "%s", g->refused);
    finish(v, SUMDB_BAD);
    return;
  }
  if (g->status != 200 || g->body == NULL) {
    reason_from(v, "lookup", g);
    finish(v, SUMDB_UNREACHABLE);
    return;
  }
  struct sumdb_lookup l;
  char err[200];
  if (sumdb_lookup_parse(g->body->data, g->body->len, &v->dbp->spec.key, &l,
                         err, sizeof err) < 0 ||
      sumdb_record_hashes(l.text, l.text_len, v->module, v->version, v->zip_h1,
                          v->mod_h1) < 0) {
    snprintf(v->reason, sizeof v->reason, "its lookup answer: %s",
             err[0] != '\0' ? err : "no line for the version");
    finish(v, SUMDB_BAD);
    return;
  }
  v->record_id = l.id;
  v->tree = l.tree;
  sumdb_record_hash(l.text, l.text_len, &v->leaf);
  v->nidx = sumdb_record_proof_indexes(l.tree.n, l.id, v->idx,
                                       SUMDB_MAX_PROOF_HASHES);
  if (v->nidx < 0) {
    finish(v, SUMDB_BAD);
    return;
  }
  /* The tiles of the tree the lookup was signed with. */
  v->ntiles = 0;
  for (int i = 0; i < v->nidx; i++) {
    struct sumdb_tile t = sumdb_tile_for_index(SUMDB_TILE_HEIGHT, v->idx[i]), p;
    if (sumdb_tile_parent(&t, 0, l.tree.n, &p) < 0) {
      finish(v, SUMDB_BAD);
      return;
    }
    int k = 0;
    while (k < v->ntiles && (v->tiles[k].l != p.l || v->tiles[k].n != p.n))
      k++;
    if (k < v->ntiles)
      continue;
    if (v->ntiles == PROXY_SUMDB_MAX_PROOF_TILES) {
      snprintf(v->reason, sizeof v->reason, "the proof needs too many tiles");
      finish(v, SUMDB_BAD);
      return;
    }
    v->tiles[v->ntiles++] = p;
  }
  if (v->ntiles == 0) {
    check(v);
    return;
  }
  verify_state(v, SVER_TILES);
  v->pending = v->ntiles;
  int started = 0;
  for (int i = 0; i < v->ntiles; i++) {
    char path[128];
    if (sumdb_tile_path(&v->tiles[i], path, sizeof path) >= 0 &&
        read_start(v, &v->tile_reads[i], path, on_tile) == 0) {
      started++;
      continue;
    }
    v->pending--;
  }
  if (started == 0)
    check(v); /* nothing could start: check() reports the missing tiles */
}

int proxy_sumdb_verify_start(struct proxy_sumdb *sd,
                             struct proxy_sumdb_verify *v, const char *module,
                             const char *version) {
  struct proxy_sumdb_db *db = &sd->dbs[0];
  v->sd = sd;
  v->dbp = db;
  v->state = SVER_IDLE;
  v->verdict = SUMDB_UNREACHABLE;
  v->zip_h1[0] = v->mod_h1[0] = v->reason[0] = '\0';
  v->record_id = -1;
  v->ntiles = v->pending = v->nidx = 0;
  memset(&v->lookup, 0, sizeof v->lookup);
  snprintf(v->db, sizeof v->db, "%s", db->spec.key.name);
  snprintf(v->module, sizeof v->module, "%s", module);
  snprintf(v->version, sizeof v->version, "%s", version);
  char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2];
  char path[sizeof ep + sizeof ev + 8];
  if (gomod_escape_path(module, ep, sizeof ep, NULL, 0) < 0 ||
      gomod_escape_version(version, ev, sizeof ev, NULL, 0) < 0)
    return -EINVAL;
  snprintf(path, sizeof path, "lookup/%s@%s", ep, ev);
  int rc = read_start(v, &v->lookup, path, on_lookup);
  if (rc < 0)
    return rc;
  verify_state(v, SVER_LOOKUP);
  return 0;
}

/* ---- comparing (worker thread) ------------------------------------------- */

const char *proxy_sumdb_want(const struct proxy_sumdb_verify *v, int gomod) {
  if (v->verdict != SUMDB_VERIFIED)
    return NULL;
  const char *want = gomod ? v->mod_h1 : v->zip_h1;
  return want[0] != '\0' ? want : NULL;
}

int proxy_sumdb_refuse_bad(const struct proxy_sumdb *sd,
                           const struct proxy_sumdb_verify *v,
                           const char *origin, char *failure, size_t cap) {
  if (v->verdict != SUMDB_BAD)
    return 0;
  const char *why =
      v->reason[0] != '\0' ? v->reason : "its answer is malformed";
  snprintf(failure, cap,
           "the checksum database %s failed verification: %s\n"
           "Nothing vouches for the upstream's copy, so it was refused.",
           v->db, why);
  char finding[640];
  snprintf(finding, sizeof finding,
           "the checksum database %s failed verification for %s@%s: %s; "
           "%s's copy was refused, nothing stored.",
           v->db, v->module, v->version, why, origin);
  store_finding_put(sd->store, v->module, v->version, "sumdb unverifiable",
                    finding);
  return -EBADMSG;
}

int proxy_sumdb_check(struct proxy_sumdb *sd,
                      const struct proxy_sumdb_verify *v, int gomod,
                      const char *got, const char *origin, char *failure,
                      size_t cap) {
  const char *want = proxy_sumdb_want(v, gomod);
  if (want == NULL || strcmp(got, want) == 0)
    return 0;
  count_error(sd, PROXY_SUMDB_ERR_MISMATCH);
  const char *noun = gomod ? "/go.mod" : "";
  snprintf(failure, cap,
           "checksum mismatch for %s@%s%s:\n"
           "  %s sent: %s\n  %s: %s (record %" PRId64 ")\n"
           "The upstream's copy differs from what the checksum database "
           "recorded (it may have been tampered with); it was refused.",
           v->module, v->version, noun, origin, got, v->db, want, v->record_id);
  char finding[640];
  snprintf(finding, sizeof finding,
           "%s sent %s%s with h1 %s, but the checksum database %s records %s "
           "(record %" PRId64 "); refused, nothing stored.",
           origin, gomod ? "a go.mod" : "a zip", "", got, v->db, want,
           v->record_id);
  store_finding_put(sd->store, v->module, v->version,
                    gomod ? "sumdb mismatch (go.mod)" : "sumdb mismatch (zip)",
                    finding);
  return -EBADMSG;
}
