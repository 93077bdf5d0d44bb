/*
 * Checksum databases (GOSUMDB) on the proxy side: the --sumdb
 * configuration, the /sumdb/<name>/ routes, cached reads of lookups and
 * tiles through the coalesced fetch jobs (a job kind of its own), and the
 * verification of upstream zips and go.mod files against a database.
 * Loop thread only, except the job kind's ingest and proxy_sumdb_check_*
 * (worker threads, read-only configuration). Private to proxy/.
 */
#ifndef PROXY_SUMDB_H
#define PROXY_SUMDB_H

#include "modproxy/sumdb.h"
#include "job.h"
#include "route.h"

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
/* How long /sumdb/<name>/latest may be cached downstream. */
#define PROXY_SUMDB_LATEST_MAX_AGE_S 60

struct proxy_sumdb_db {
  struct sumdb_spec spec;
  /** Where its answers come from, in order: each upstream proxy's
   *  /sumdb/<name> (up to "off"), then the database itself (https://<name>
   *  or the spec's URL; with a URL only that, as the go command does). */
  struct proxy_upstream sources[PROXY_MAX_UPSTREAMS + 1];
  int nsources;
  uint64_t unreachable_until; /**< loop ms; 0: reachable as far as known */
};

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

struct proxy_sumdb {
  struct proxy_sumdb_db dbs[PROXY_SUMDB_MAX_DBS];
  int ndbs;
  /** Verification failures by cause; a mismatch is found on a worker
   *  thread, hence atomic (relaxed: a count, ordering nothing). */
  _Atomic uint64_t errors[PROXY_SUMDB_ERRORS];
};

/** Parses a --sumdb list (GOSUMDB syntax each; "off" or empty: none) into
 *  out[0..max). Returns the count, or -EINVAL with the reason in err. */
int proxy_sumdb_specs(const char *const *list, struct sumdb_spec *out, int max,
                      char *err, size_t errlen);
/** Parses sumdbs (--sumdb; NULL, empty or "off": none) into *out, each
 *  database read through the proxies of upstreams before "off" or
 *  "direct" (borrowed for the call). 0, or -EINVAL after printing the
 *  reason to stderr, or -ENOMEM. */
int proxy_sumdb_new(const char *const *sumdbs, struct upstream_list *upstreams,
                    struct proxy_sumdb **out);
/** NULL is fine. */
void proxy_sumdb_free(struct proxy_sumdb *sd);
/** The database named `name`, or NULL. */
struct proxy_sumdb_db *proxy_sumdb_find(struct proxy_server *s,
                                        const char *name);

/** Serves GET /sumdb/<name>/{supported,latest,lookup/...,tile/...}. */
void proxy_route_sumdb(struct proxy_conn *c, const char *url);

/* ---- reading an answer: hot cache, store, then a fetch job -------------- */

struct proxy_sumdb_get;
typedef void (*proxy_sumdb_get_cb)(struct proxy_sumdb_get *g);

enum sumdb_get_state {
  SGET_IDLE,
  SGET_STORE, /* worker: sumdb_cache, a wider tile, a remembered 404 */
  SGET_FETCH, /* waiting on a fetch job (proxy_sumdb_job) */
  SGET_DONE,
};

/** One answer wanted (embedded and owned by the caller, which keeps it in
 *  place until on_done, then frees what it owns with _dispose). */
struct proxy_sumdb_get {
  /* in */
  struct proxy_sumdb_db *db;
  proxy_sumdb_get_cb on_done;
  void *data;
  /* out */
  int status;              /**< 200, 404/410, 502/504 or 503 */
  struct proxy_body *body; /**< the answer, or the explanation (owned) */
  int fetched;             /**< 1: fresh from a source */
  int stale;               /**< 1: an old `latest` served because the
                                sources failed */
  const char *attempts;    /**< JSON of the source attempts; valid only
                                during on_done */
  char refused[256];       /**< why a source's answer failed its checks
                                (then status is 502), or "" */
  /* private */
  struct proxy_server *s;
  enum sumdb_get_state state;
  int tile_w;               /**< a tile's width (-1 data, 0 not a tile) */
  char tile_base[64];       /**< a tile's path without ".p/W" */
  struct hot_value stale_v; /**< a stale `latest`, kept for a failure */
  int64_t stored_fetched;
  struct gp_req gp; /**< the job's request: module = db name, suffix = path */
  char key[sizeof((struct fetch_job *)0)->key];
  uv_work_t work;
  struct job_waiter waiter;
};

/**
 * Starts reading db's answer at `path` ("lookup/<esc>@<esc>", "tile/...",
 * "latest"). on_done runs exactly once, on the loop thread, never from
 * inside this call. Offline, nothing is fetched: what the store lacks
 * answers 404. Returns 0, or -E2BIG for a path too long (on_done will not
 * run).
 */
int proxy_sumdb_get_start(struct proxy_server *s, struct proxy_sumdb_get *g,
                          struct proxy_sumdb_db *db, const char *path);
void proxy_sumdb_get_dispose(struct proxy_sumdb_get *g);

/** The fetch-job kind of checksum database answers (job.h): from each
 *  upstream proxy's /sumdb/<name>/, then the database itself. */
extern const struct job_kind proxy_sumdb_job;

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
  struct proxy_server *s;
  enum sumdb_verify_state state;
  char module[GOMOD_MAX_PATH_BYTES];
  char version[GOMOD_MAX_VERSION_BYTES];
  struct proxy_sumdb_get *lookup;
  struct sumdb_tree tree;
  struct sumdb_hash leaf;
  int64_t idx[SUMDB_MAX_PROOF_HASHES];
  int nidx;
  struct sumdb_tile tiles[PROXY_SUMDB_MAX_PROOF_TILES];
  struct proxy_sumdb_get *tile_gets[PROXY_SUMDB_MAX_PROOF_TILES];
  int ntiles, pending;
};

/** 1 when module@version fetched from an upstream should be checked
 *  before it is stored: --verify-sumdb, online, a public module, a
 *  database configured and not known to be unreachable. */
int proxy_sumdb_should_verify(struct proxy_server *s, const struct gp_req *gp);
/** Starts checking module@version against the first database. 0, or a
 *  negative errno (on_done will not run). */
int proxy_sumdb_verify_start(struct proxy_server *s,
                             struct proxy_sumdb_verify *v, const char *module,
                             const char *version);
/** Frees what a finished (or never started) verification holds. */
void proxy_sumdb_verify_dispose(struct proxy_sumdb_verify *v);

/** The h1 a finished verification found for gp's part (GP_MOD: the go.mod,
 *  GP_ZIP: the zip), or NULL when there is nothing to compare with.
 *  Borrowed from v. */
const char *proxy_sumdb_want(const struct proxy_sumdb_verify *v,
                             const struct gp_req *gp);
/**
 * Worker thread: when the database's answer failed its own checks
 * (SUMDB_BAD: a note not signed by its key, a record for something else or
 * outside the signed tree, a tile that does not hash to it), nothing can
 * vouch for gp's bytes: -EBADMSG with the explanation in failure, and a
 * finding recorded in the store. 0 otherwise.
 */
int proxy_sumdb_refuse_bad(struct proxy_server *s,
                           const struct proxy_sumdb_verify *v,
                           const struct gp_req *gp, const char *origin,
                           char *failure, size_t cap);
/**
 * Worker thread: compares a part's h1 (`got`: of the go.mod, or of the zip
 * as store_zip_put_fd found it) with proxy_sumdb_want's. 0 when it matches
 * or there is nothing to compare; -EBADMSG on a mismatch, with the
 * explanation in failure, and the mismatch recorded as a finding in the
 * store.
 */
int proxy_sumdb_check(struct proxy_server *s,
                      const struct proxy_sumdb_verify *v,
                      const struct gp_req *gp, const char *got,
                      const char *origin, char *failure, size_t cap);

#endif
