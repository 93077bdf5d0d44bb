/*
 * Declarations shared by the files of `modproxy export` (nothing else
 * includes this; the command itself is described in cmd_export.c):
 *
 *   cmd_export.c     the module graph, the roots, the closure, the command
 *   export_fetch.c   the proxy's subsystems and the requests through them
 *   export_sumdb.c   checksum databases: lookups and the tiles to check them
 *   export_write.c   writing the bundle from the store
 *
 * Everything runs on the command's thread: the proxy's subsystems on a loop
 * the command runs while it waits for their answers.
 */
#ifndef PROXY_EXPORT_H
#define PROXY_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "bundle.h"
#include "modproxy/buf.h"
#include "server.h"
#include "settings.h"
#include "sumdb_proxy.h"

/* Toolchain versions and platforms given on the command line. */
#define EXPORT_MAX_LIST 64

/* ---- the module graph (cmd_export.c) ------------------------------------ */

struct req {
  char *path, *version;
};

/** One module@version of the closure. */
struct node {
  char *module, *version;
  int loaded;     /**< .mod fetched and parsed */
  int info_ok;    /**< .info fetched */
  char *info_why; /**< why not (heap), or NULL */
  int need_info;  /**< the go command may read its .info: a version of a
                       graph walked whole, a selected, zipped or queried one
                       (a pruned graph's other versions: only their .mod) */
  int want_zip;
  int zip_ok;
  char *failed; /**< why it could not be had (heap), or NULL */
  struct req *reqs;
  size_t nreqs;
  int prunes;    /**< its go.mod says go 1.17 or later (module graph pruning) */
  int mark;      /**< the root set that last walked it */
  int root_mark; /**< the pruned root set that last took it as a root */
};

/* One root set: a go.mod (with its replacements), or the queries. */
struct replace {
  char *old_path, *old_version; /**< "" old_version: every version */
  char *new_path, *new_version; /**< "" new_version: new_path is a dir */
};

struct rootset {
  char *what; /**< "go.mod FILE" or "queries" */
  char *dir;  /**< the go.mod's directory (for local replacements) */
  struct req *reqs;
  size_t nreqs;
  struct replace *repl;
  size_t nrepl;
  int zip_roots;   /**< queries and toolchains: every root's zip too */
  int stored_zips; /**< --all: the zips the store holds, marked when added */
  int pruned;      /**< a go.mod at go 1.17 or later: the graph the go command
                   loads for it is pruned (walk) */
};

/** One run of the command. */
struct exporter {
  struct proxy_config cfg;
  struct settings st;
  /* the proxy's subsystems, without a listener */
  uv_loop_t loop;
  struct proxy_server *s;
  size_t running; /**< requests in flight */
  struct bundle_progress pr;
  /* the closure */
  struct node *nodes;
  size_t nnodes, capnodes;
  size_t *slots;
  size_t nslots;
  struct rootset *sets;
  size_t nsets;
  struct bundle_manifest gosum;       /**< the roots' go.sum lines */
  char *gosum_files[EXPORT_MAX_LIST]; /**< the go.sum files read (heap) */
  int ngosum_files;
  int gosum_bad; /**< go.sum lines that disagree with the store */
  /* arguments */
  const char *out, *since;
  const char *from[EXPORT_MAX_LIST]; /**< --from WANTS files */
  int nfrom;
  int all;                        /**< --all */
  const char *match, *used_since; /**< --match, --used-since (with --all) */
  const char *toolchains[EXPORT_MAX_LIST], *platforms[EXPORT_MAX_LIST];
  int ntoolchains, nplatforms;
  struct sumdb_signer signer; /**< --sign (when sign is 1) */
  int sign;
  struct sumdb_spec *specs; /**< the --sumdb databases (copied) */
  int nspecs;
  struct sumdb_tile *plan[PROXY_SUMDB_MAX_DBS]; /**< tiles to write, per db */
  size_t nplan[PROXY_SUMDB_MAX_DBS];
  int failures;
  FILE *errs; /**< what went wrong, for the summary */
  char *errs_buf;
  size_t errs_len;
};

/** Adds a line to the summary of problems printed at the end, and counts a
 *  failure (the command then exits 1). */
void export_problem(struct exporter *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- the proxy's subsystems and requests through them (export_fetch.c) -- */

/**
 * Sets up the proxy's subsystems on x->cfg (made listener-less, without
 * credentials, limits or eviction) on x->loop. Returns 0, or a negative
 * errno.
 */
int export_server_start(struct exporter *x);
/** Lets the work still running finish and releases what start set up. */
void export_server_stop(struct exporter *x);

/** One request to the proxy: a GOPROXY target, or a checksum database's
 *  ("/sumdb/<name>/<path>"). */
struct xfer {
  char url[HTTP_MAX_URL_BYTES + 256]; /**< the request target */
  int discard;                        /**< a zip: only the status matters */
  long status;
  int rc;          /**< 0, or a negative errno: it could not be asked */
  struct buf body; /**< its ceiling is set when it starts */
  char err[256];
  void *ctx; /**< the caller's */
  int kind;  /**< the caller's */
  /* private */
  struct exporter *x;
};

/**
 * A request of /<module>/<suffix_fmt>, where suffix_fmt's one %s
 * takes version (NULL: ""), both escaped. NULL when out of memory or when
 * module or version cannot be escaped. Free with xfer_free.
 */
struct xfer *xfer_new(struct exporter *x, const char *module,
                      const char *suffix_fmt, const char *version);
/** Frees t and its body; accepts NULL. */
void xfer_free(struct xfer *t);
/** Why a transfer failed, in a few words (the body's first line). */
void xfer_why(const struct xfer *t, char *out, size_t cap);
/**
 * Runs every request of v[0..n), EXPORT_PARALLEL at a time, on x->loop;
 * one progress step each. Each ends with its rc, status and body set.
 */
void export_fetch_all(struct exporter *x, struct xfer **v, size_t n);

/* ---- checksum databases (export_sumdb.c) -------------------------------- */

/**
 * Fetches from database x->specs[which] the lookups of every public version
 * of the closure and the tiles a go command reads to check them, and keeps
 * the planned tiles in x->plan[which] for the writer. What fails goes to
 * export_problem.
 */
void export_db(struct exporter *x, int which);

/* ---- writing the bundle (export_write.c) -------------------------------- */

/**
 * Writes the bundle x->out from the store: as x->out.partial-PID, renamed
 * once complete (removed on failure), then prints its summary on stdout.
 * secs_fetch is reported in the summary. Returns 0, or a negative errno
 * (-EINVAL: --since names no bundle, said on stderr).
 */
int export_write_bundle(struct exporter *x, double secs_fetch);

#endif
