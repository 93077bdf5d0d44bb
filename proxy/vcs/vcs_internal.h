/*
 * Declarations shared by the vcs files of proxy/ (nothing else includes
 * this):
 *
 *   vcs.c          requests: route, refresh the mirror, run the resolver,
 *                  build the zip, answer (the state machine)
 *   vcs_route.c    module path -> repository root and URL (pure)
 *   vcs_repo.c     bare mirrors: creation, coalesced ls-remote + fetch, refs
 *   vcs_resolve.c  versions exactly as the go command's direct mode (pure,
 *                  replayed over a memo of git outputs)
 *   vcs_modfile.c  the bits of go.mod the resolver reads (pure)
 *   vcs_zip.c      git archive output -> module zip (worker thread)
 */
#ifndef PROXY_VCS_INTERNAL_H
#define PROXY_VCS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "git.h"
#include "modproxy/gomod.h"

/* Longest repository URL accepted from a route or discovery. */
#define VCS_MAX_URL_BYTES 2048
/* Git commands one request may run while resolving (each answer is
 * memoised; real resolutions need well under 20). */
#define VCS_MAX_STEPS 64
/* Captured stdout of a git command that lists refs or commits. */
#define VCS_MAX_LIST_BYTES (32u << 20)
/* Refs one repository may have (ls-remote lines kept). */
#define VCS_MAX_REFS 200000

/* ---- routes (vcs_route.c) ----------------------------------------------- */

/** Where a module's repository is. */
struct vcs_location {
  char root[GOMOD_MAX_PATH_BYTES]; /**< repository root import path */
  char url[VCS_MAX_URL_BYTES];     /**< git remote URL (may hold secrets) */
  char shown[VCS_MAX_URL_BYTES];   /**< url with credentials removed */
  int routed; /**< from a --git-route: the operator's word, not checked */
};

/**
 * Maps module to its repository: the first --git-route whose pattern
 * matches a prefix of the module path, else the go command's static rules
 * (github.com and friends, a ".git" path element). Returns 0, -ENOENT when
 * nothing says where the repository is (err explains), -EINVAL for a bad
 * route (err explains). Pure.
 */
int vcs_route(const char *const *routes, const char *module,
              struct vcs_location *out, char *err, size_t errlen);
/** Copies url to out with any user:password@ removed. */
void vcs_url_redact(const char *url, char *out, size_t cap);
/** The URL a route gives with its own pattern as the root: every URL the
 *  route can give matches it, element by element, as a glob. 0 or -EINVAL,
 *  -E2BIG. */
int vcs_route_url_glob(const char *route, char *out, size_t cap);
/** Checks one route entry's syntax; 0 or -EINVAL with err. */
int vcs_route_check(const char *route, char *err, size_t errlen);

/* ---- refs (vcs_repo.c) -------------------------------------------------- */

struct vcs_ref {
  char *name;    /**< "refs/tags/v1.0.0", "refs/heads/main" */
  char hash[41]; /**< commit (annotated tags peeled) */
};

/** A repository's refs as `git ls-remote` listed them: HEAD, refs/heads/..
 *  and refs/tags/.., sorted by name. */
struct vcs_refs {
  struct vcs_ref *v;
  size_t n;
  char head[41]; /**< "" when the remote has no HEAD */
  int refs;      /**< reference count (snapshots are shared) */
};

/** Parses ls-remote output. 0 or -ENOMEM / -E2BIG. */
int vcs_refs_parse(const char *text, size_t len, struct vcs_refs **out);
struct vcs_refs *vcs_refs_ref(struct vcs_refs *r);
void vcs_refs_unref(struct vcs_refs *r);
/** The hash of ref `name` or NULL. */
const char *vcs_refs_get(const struct vcs_refs *r, const char *name);
/** 1 if both list the same heads and tags (HEAD ignored). */
int vcs_refs_same(const struct vcs_refs *a, const struct vcs_refs *b);

/* ---- go.mod (vcs_modfile.c) --------------------------------------------- */

/** modfile.ModulePath into out ("" when there is none). */
void vcs_modfile_module_path(const char *data, size_t len, char *out,
                             size_t cap);
/** One retract interval. */
struct vcs_retract {
  char low[GOMOD_MAX_VERSION_BYTES], high[GOMOD_MAX_VERSION_BYTES];
};
/** Reads the retract directives (single, interval, block) of a go.mod as
 *  modfile.ParseLax does; fills up to cap intervals, returns the count. */
size_t vcs_modfile_retractions(const char *data, size_t len,
                               struct vcs_retract *out, size_t cap);
/** LegacyGoMod: "module <path>\n" with the path quoted when modfile would
 *  (AutoQuote). Returns the length written. */
size_t vcs_modfile_legacy(const char *module, char *out, size_t cap);

/* ---- the resolver (vcs_resolve.c) -------------------------------------- */

/** A git answer kept for the replay. */
struct vcs_memo_entry {
  char *key;  /**< the argv joined with '\x1f' */
  int status; /**< exit code, or a negative errno (timeout, too big) */
  char *out;  /**< stdout, NUL-terminated */
  size_t len;
  char *err; /**< stderr tail */
};

struct vcs_memo {
  struct vcs_memo_entry v[VCS_MAX_STEPS];
  size_t n;
};
void vcs_memo_dispose(struct vcs_memo *m);

/** The git command the resolver needs next (-EAGAIN). */
struct vcs_need {
  const char *argv[GIT_MAX_ARGS + 1]; /**< point into buf */
  char buf[4096];
  char key[4096];
  size_t max_out;
};

/** What the go command knows about a revision (codehost.RevInfo). */
struct vcs_rev {
  char name[41];                          /**< full hash */
  char short_[13];                        /**< 12-character hash */
  time_t time;                            /**< commit time (UTC seconds) */
  char version[GOMOD_MAX_VERSION_BYTES];  /**< rev if it is a tag on it */
  char tags[64][GOMOD_MAX_VERSION_BYTES]; /**< tags on the commit (sorted) */
  int ntags;
  char ref[GOMOD_MAX_VERSION_BYTES + 16]; /**< ref it was found by, or "" */
};

/** A resolved module version (modfetch.RevInfo). */
struct vcs_info {
  char version[GOMOD_MAX_VERSION_BYTES];
  time_t time;
  char hash[41];
  char ref[GOMOD_MAX_VERSION_BYTES + 16];
};

/** What goes in a zip: the commit, the module's directory in it, and the
 *  repository root's LICENSE when the module is in a subdirectory. */
struct vcs_zip_plan {
  char hash[41];
  char subdir[GOMOD_MAX_PATH_BYTES];
  char *license; /**< heap or NULL */
  size_t license_len;
};

/** One resolution. The caller fills the inputs and calls a vcs_resolve_*
 *  function; -EAGAIN means "run ctx->need, add its answer to the memo,
 *  call again" (the resolver starts over and replays the memo). */
struct vcs_ctx {
  /* in */
  const char *module;
  const char *code_root;
  const struct vcs_refs *refs;
  struct vcs_memo *memo;
  /* derived (vcs_ctx_init) */
  char code_dir[GOMOD_MAX_PATH_BYTES];
  char path_prefix[GOMOD_MAX_PATH_BYTES];
  char path_major[GOMOD_MAX_PATH_BYTES];
  char pseudo_major[16];
  /* out */
  struct vcs_need need;
  int status;     /**< on failure: 404/410 (nothing matches) or 502/504 */
  char err[1024]; /**< on failure: why, as the go command would say */
};

/** Derives codeDir, pathMajor... (newCodeRepo). 0 or -EINVAL with err. */
int vcs_ctx_init(struct vcs_ctx *c, const char *module, const char *root,
                 const struct vcs_refs *refs, struct vcs_memo *memo);
/** The version list (one per line, sorted), heap. */
int vcs_resolve_list(struct vcs_ctx *c, char **out, size_t *len);
/** Stat(query): a version, branch, tag, commit prefix or "latest". */
int vcs_resolve_stat(struct vcs_ctx *c, const char *query,
                     struct vcs_info *out);
/** @latest as a proxy answers it: the highest release in the list, else
 *  the highest prerelease, else the default branch's pseudo-version. */
int vcs_resolve_latest(struct vcs_ctx *c, struct vcs_info *out);
/** GoMod(version), heap. */
int vcs_resolve_gomod(struct vcs_ctx *c, const char *version, char **out,
                      size_t *len);
/** The zip plan for version. */
int vcs_resolve_zip(struct vcs_ctx *c, const char *version,
                    struct vcs_zip_plan *out);
/** The .info JSON (with Origin) for info, heap. */
char *vcs_info_json(const struct vcs_info *info, const char *url,
                    const char *subdir, size_t *len);

/* ---- zips (vcs_zip.c) --------------------------------------------------- */

/**
 * Turns the `git archive --format=zip --prefix=prefix/` output read from
 * archive_fd into the module zip written to out_fd: strips the prefix,
 * keeps plan->subdir, skips directories, adds the root LICENSE, applies
 * zip.Create. Blocking (worker thread). 0, or a negative errno with err.
 * No h1 comes back: the store hashes the zip from the staged bytes when it
 * publishes it, as it does every zip.
 */
int vcs_zip_build(int archive_fd, const char *module, const char *version,
                  const struct vcs_zip_plan *plan, int out_fd, char *err,
                  size_t errlen);

#endif
