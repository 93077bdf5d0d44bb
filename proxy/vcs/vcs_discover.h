/*
 * The go command's dynamic discovery of a repository (cmd/go/internal/vcs,
 * Go 1.19): GET https://<path>?go-get=1, read the <meta name="go-import"
 * content="root vcs url"> tags of the page, take the one whose root is a
 * path prefix of the module path, and, when the root is not the path
 * itself, check that the root's own page says the same. Used by vcs.c for
 * a private module that no --git-route and no well-known host rule covers.
 * Private to proxy/ (vcs files and tests only).
 */
#ifndef PROXY_VCS_DISCOVER_H
#define PROXY_VCS_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "upstream.h"
#include "vcs_internal.h"
#include "vcs_policy.h"

/* The largest go-get page read (the go command stops at </head>; pages
 * are small). */
#define VCS_DISCOVER_MAX_PAGE (4u << 20)
/* Redirects followed for one page (on its own host only), as many as the
 * go command's http client follows. */
#define VCS_DISCOVER_MAX_REDIRECTS 10
/* Page fetches kept for the request record. */
#define VCS_DISCOVER_MAX_STEPS 4

/* ---- pure parts ---------------------------------------------------------- */

/** One go-import meta tag (metaImport). */
struct vcs_meta_import {
  char *prefix;
  char *vcs;
  char *repo;
};

struct vcs_meta_imports {
  struct vcs_meta_import *v;
  size_t n, cap;
};

/**
 * parseMetaGoImports(html, PreferMod): the go-import tags before <body> or
 * </head>, read with encoding/xml's non-strict tokenizer; tags whose
 * content is not exactly three fields are ignored; "mod" entries come
 * first and hide the other entries with the same root. Returns 0, -ENOMEM,
 * or -EINVAL when the page is not readable before any go-import tag was
 * found (err: "XML syntax error on line N: ..." or "xml: ...", as Go says).
 */
int vcs_meta_parse(const char *html, size_t len, struct vcs_meta_imports *out,
                   char *err, size_t errlen);
void vcs_meta_free(struct vcs_meta_imports *m);

/**
 * matchGoImport: the index of the one entry whose root is a path prefix of
 * path (a "mod" entry wins over later non-mod ones). -ENOENT when none
 * matches (err lists "meta tag R did not match import path P" for each),
 * -EEXIST when several do (err says so).
 */
int vcs_meta_match(const struct vcs_meta_imports *m, const char *path,
                   char *err, size_t errlen);

/** str.HasPathPrefix. */
int vcs_has_path_prefix(const char *s, const char *prefix);

/** https://<path>?go-get=1 into out. -EINVAL when the first element has no
 *  dot ("import path does not begin with hostname"), -E2BIG. */
int vcs_discover_url(const char *path, char *out, size_t cap);

/** validateRepoRoot, plus the schemes git is run with here: 0, or -EINVAL
 *  with err ("no scheme", "file scheme disallowed", ...). */
int vcs_meta_repo_check(const char *repo, char *err, size_t errlen);

/* ---- the lookup (on the loop) -------------------------------------------- */

struct vcs_discovery;
typedef void (*vcs_discovery_cb)(struct vcs_discovery *d);

/** One page fetched, for the request record. */
struct vcs_discovery_step {
  char url[VCS_MAX_URL_BYTES];
  long status; /**< HTTP status, or a negative errno */
  uint64_t ms;
};

/** One discovery. Embedded by the caller; on_done runs exactly once, on the
 *  loop thread, never from inside vcs_discover_start. */
struct vcs_discovery {
  /* in */
  struct proxy_fetcher *fetcher;
  uv_loop_t *loop;
  const char *module; /**< borrowed until on_done */
  /** A public module's policy: the pages' host must pass the address
   *  check, and messages quote nothing from the pages. NULL for a private
   *  module (the operator's pages). */
  const struct vcs_policy *policy;
  vcs_discovery_cb on_done;
  void *data;
  /* out */
  int status;              /**< 0 found; 404 the pages say nothing usable;
                                502 a page could not be fetched */
  struct vcs_location loc; /**< status 0: root, url, shown */
  char err[1024];          /**< otherwise: why, one line */
  struct vcs_discovery_step steps[VCS_DISCOVER_MAX_STEPS];
  int nsteps;
  /* private */
  struct proxy_fetch fetch;
  struct vcs_check check;
  int second;                    /* fetching the root's page */
  int redirects;                 /* followed for this page */
  char asked[VCS_MAX_URL_BYTES]; /* the page's URL before redirects */
  char url[VCS_MAX_URL_BYTES];
  uint64_t start_ms;
  struct vcs_meta_import chosen; /* heap copies, after the first page */
  char first_url[VCS_MAX_URL_BYTES];
};

/** Starts d. 0, or a negative errno (on_done will not run). */
int vcs_discover_start(struct vcs_discovery *d);
/** Frees what d holds (after on_done). */
void vcs_discover_dispose(struct vcs_discovery *d);

#endif
