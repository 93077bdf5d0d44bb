/*
 * Checksum databases (GOSUMDB) on the proxy side (proxy/sumdb), the folder's
 * one interface header: the --sumdb databases and where their answers come
 * from, and the verification of upstream zips and go.mod files against the
 * first of them. The verifier reads a database's lookups and tiles through
 * the read function its owner gave it (proxy/goproxy's cached, coalesced
 * reads, job_sumdb.c), so it sees nothing above itself.
 * Loop thread only, except proxy_sumdb_check and proxy_sumdb_refuse_bad
 * (worker threads; they read what a finished verification holds).
 */
#ifndef PROXY_SUMDB_PROXY_H
#define PROXY_SUMDB_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http.h"
#include "modproxy/store.h"
#include "modproxy/sumdb.h"
#include "upstream.h"

/* Checksum databases one proxy serves (--sumdb is repeatable); the go
 * command uses one, a site rarely needs more than two. */
#define PROXY_SUMDB_MAX_DBS 8
/* After every source of a database failed, verification skips it this
 * long (and publishes unverified) instead of waiting on it again for each
 * file; client requests under /sumdb/ still try. */
#define PROXY_SUMDB_UNREACHABLE_MS 60000
/* Distinct tiles one record proof reads: one or two per tile level (a
 * tree of 2^40 records has 5 levels of height-8 tiles). */
#define PROXY_SUMDB_MAX_PROOF_TILES 16

/** One database. */
struct proxy_sumdb_db {
  struct sumdb_spec spec;
  /** Where its answers come from, in order: each upstream proxy's
   *  /sumdb/<name> (up to "off"), then the database itself (https://<name>
   *  or the spec's URL; with a URL only that, as the go command does). */
  struct proxy_upstream sources[PROXY_MAX_UPSTREAMS + 1];
  int nsources;
  uint64_t unreachable_until; /**< loop ms; 0: reachable as far as known */
};

struct proxy_sumdb;

/** Why a file could not be checked against the checksum database, or
 *  failed the check, for /metrics. */
enum proxy_sumdb_error {
  PROXY_SUMDB_ERR_UNREACHABLE, /**< no source answered: stored unverified */
  PROXY_SUMDB_ERR_BAD,         /**< its answer failed its own checks: refused */
  PROXY_SUMDB_ERR_MISMATCH,    /**< the upstream's h1 differs: refused */
  PROXY_SUMDB_ERRORS
};
/** The label of a cause ("unreachable", "bad_answer", "mismatch"). */
const char *proxy_sumdb_error_name(enum proxy_sumdb_error e);
/** How many verifications failed for cause e (sd may be NULL: 0). Any
 *  thread. */
uint64_t proxy_sumdb_errors(struct proxy_sumdb *sd, enum proxy_sumdb_error e);

/* ---- reading a database's answers (the owner's function) ---------------- */

/** An answer read from a database, borrowed for the callback (ref body to
 *  keep it). */
struct proxy_sumdb_answer {
  int status;              /**< 200, 404/410, 502/504 or 503 */
  struct proxy_body *body; /**< the answer, or the explanation, or NULL */
  const char *refused;     /**< why a source's answer failed its checks
                                (then status is 502), or "" */
};
typedef void (*proxy_sumdb_answer_cb)(void *arg,
                                      const struct proxy_sumdb_answer *a);
/**
 * Reads db's answer at path ("lookup/<esc>@<esc>", "tile/..."): cb(arg, a)
 * runs exactly once, on the loop thread, never from inside this call.
 * Returns 0, or a negative errno (cb will not run). reader is the pointer
 * given to proxy_sumdb_new.
 */
typedef int (*proxy_sumdb_read_fn)(void *reader,
                                   const struct proxy_sumdb_db *db,
                                   const char *path, proxy_sumdb_answer_cb cb,
                                   void *arg);

/* ---- the databases ------------------------------------------------------- */

/** What proxy_sumdb_new is given; borrowed for the call unless said. */
struct proxy_sumdb_config {
  const char *const *sumdbs; /**< --sumdb (NULL, empty or "off": none) */
  /** each database is read through the proxies of this list before "off"
   *  or "direct" */
  struct upstream_list *upstreams;
  uv_loop_t *loop;          /**< kept */
  struct store *store;      /**< kept: findings of failed verifications */
  proxy_sumdb_read_fn read; /**< how the verifier reads answers */
  void *reader;             /**< kept, for read */
};

/** Parses a --sumdb list (GOSUMDB syntax each; "off" or empty: none) into
 *  out[0..max). Returns the count, or -EINVAL with the reason in err. */
int proxy_sumdb_specs(const char *const *list, struct sumdb_spec *out, int max,
                      char *err, size_t errlen);
/** The databases of cfg->sumdbs. 0 and *out, or -EINVAL after printing the
 *  reason to stderr, or -ENOMEM. */
int proxy_sumdb_new(const struct proxy_sumdb_config *cfg,
                    struct proxy_sumdb **out);
/** NULL is fine. */
void proxy_sumdb_free(struct proxy_sumdb *sd);
/** How many databases there are (0 for sd NULL). */
int proxy_sumdb_count(const struct proxy_sumdb *sd);
/** The i-th database, 0 <= i < proxy_sumdb_count (borrowed from sd). */
struct proxy_sumdb_db *proxy_sumdb_at(struct proxy_sumdb *sd, int i);
/** The database named `name`, or NULL (sd may be NULL). */
struct proxy_sumdb_db *proxy_sumdb_find(struct proxy_sumdb *sd,
                                        const char *name);

/* ---- verifying upstream content (sumdb_verify.c) ------------------------- */

enum sumdb_verdict {
  SUMDB_VERIFIED,    /**< the database's record is in hand, proof checked */
  SUMDB_NOT_LISTED,  /**< the database does not know module@version */
  SUMDB_UNREACHABLE, /**< no source answered: published unverified */
  SUMDB_BAD,         /**< the database's answer failed its own checks */
};

struct proxy_sumdb_verify;
typedef void (*proxy_sumdb_verify_cb)(struct proxy_sumdb_verify *v);

enum sumdb_verify_state {
  SVER_IDLE,
  SVER_LOOKUP, /* reading the record */
  SVER_TILES,  /* reading the tiles of its inclusion proof */
  SVER_DONE,
};

/* One answer the verifier waits for, as the read function gave it. */
struct sumdb_verify_read {
  struct proxy_sumdb_verify *v;
  int done;
  int status;
  struct proxy_body *body; /* a reference */
  char refused[256];
};

/** Embedded in a fetch job; on_done runs once, on the loop thread. */
struct proxy_sumdb_verify {
  /* in */
  proxy_sumdb_verify_cb on_done;
  void *data;
  /* out */
  enum sumdb_verdict verdict;
  char db[SUMDB_MAX_NAME_BYTES];
  int64_t record_id;
  char zip_h1[GOMOD_H1_BYTES]; /**< "" when the record has none */
  char mod_h1[GOMOD_H1_BYTES];
  char reason[256]; /**< for SUMDB_BAD / UNREACHABLE */
  /* private */
  struct proxy_sumdb *sd;
  struct proxy_sumdb_db *dbp;
  enum sumdb_verify_state state;
  char module[GOMOD_MAX_PATH_BYTES];
  char version[GOMOD_MAX_VERSION_BYTES];
  struct sumdb_verify_read lookup;
  struct sumdb_tree tree;
  struct sumdb_hash leaf;
  int64_t idx[SUMDB_MAX_PROOF_HASHES];
  int nidx;
  struct sumdb_tile tiles[PROXY_SUMDB_MAX_PROOF_TILES];
  struct sumdb_verify_read tile_reads[PROXY_SUMDB_MAX_PROOF_TILES];
  int ntiles, pending;
};

/** 1 when a public module's file fetched from an upstream can be checked
 *  before it is stored (the caller asks when --verify-sumdb is on and it
 *  is online): a database configured and not known to be unreachable. sd
 *  may be NULL. */
int proxy_sumdb_should_verify(const struct proxy_sumdb *sd);
/** Starts checking module@version against the first database. 0, or a
 *  negative errno (on_done will not run). */
int proxy_sumdb_verify_start(struct proxy_sumdb *sd,
                             struct proxy_sumdb_verify *v, const char *module,
                             const char *version);
/** Frees what a finished (or never started) verification holds. */
void proxy_sumdb_verify_dispose(struct proxy_sumdb_verify *v);

/** The h1 a finished verification found for module@version's go.mod
 *  (gomod 1) or zip (gomod 0), or NULL when there is nothing to compare
 *  with. Borrowed from v. */
const char *proxy_sumdb_want(const struct proxy_sumdb_verify *v, int gomod);
/**
 * Worker thread: when the database's answer failed its own checks
 * (SUMDB_BAD: a note not signed by its key, a record for something else or
 * outside the signed tree, a tile that does not hash to it), nothing can
 * vouch for the bytes of v's module@version: -EBADMSG with the explanation
 * in failure, and a finding recorded in the store. 0 otherwise.
 */
int proxy_sumdb_refuse_bad(const struct proxy_sumdb *sd,
                           const struct proxy_sumdb_verify *v,
                           const char *origin, char *failure, size_t cap);
/**
 * Worker thread: compares a part's h1 (`got`: of the go.mod, gomod 1, or of
 * the zip as store_zip_put_fd found it) with proxy_sumdb_want's. 0 when it
 * matches or there is nothing to compare; -EBADMSG on a mismatch, with the
 * explanation in failure, and the mismatch recorded as a finding in the
 * store.
 */
int proxy_sumdb_check(struct proxy_sumdb *sd,
                      const struct proxy_sumdb_verify *v, int gomod,
                      const char *got, const char *origin, char *failure,
                      size_t cap);

#endif
