/*
 * Private modules served straight from their git repositories (GOPRIVATE-
 * style --private patterns, --git-route mappings, or the go command's
 * direct-mode discovery). jobs.c hands a request for a private module here
 * instead of to the upstreams, and ingests what comes back exactly like an
 * upstream's answer. Private to proxy/.
 */
#ifndef PROXY_VCS_H
#define PROXY_VCS_H

#include <stddef.h>

#include "server.h"

struct vcs_get;
typedef void (*vcs_get_cb)(struct vcs_get *r);

/** One ask for a private module's list, @latest, .info, .mod or .zip.
 *  Embedded and owned by the caller; on_done runs exactly once, on the loop
 *  thread, never from inside proxy_vcs_start. */
struct vcs_get {
  /* in */
  const struct gp_req *gp; /**< borrowed until on_done */
  int fd;                  /**< GP_ZIP: write the zip here (empty file) */
  int direct;              /**< a public module, for "direct" in --upstream */
  vcs_get_cb on_done;
  void *data;
  /* out */
  int status;   /**< 200; 404/410 nothing matches; 502/504 git failed */
  int no_route; /**< set with 404: no --git-route or discovery found it */
  char *body;   /**< heap: the answer (200, not for zips) or, otherwise, the
                     explanation for the person at the terminal (text) */
  size_t len;
  /** Where it came from, credentials removed, for the store's provenance:
   *  "<repository URL> <ref> <commit>" */
  char origin[1024];
  /** JSON array of the git commands run ({"cmd":..,"status":..,"ms":..}),
   *  for the request record; heap, or NULL. */
  char *attempts;
};

/** Sets up the private-module machinery from s->cfg (mirrors under
 *  <data>/git). Returns 0 or a negative errno after printing one line. */
int proxy_vcs_init(struct proxy_server *s);
/** Ends it: kills and reaps git processes still running. */
void proxy_vcs_close(struct proxy_server *s);
/** 1 if module matches the --private patterns (module.MatchPrefixPatterns). */
int proxy_vcs_private(const struct proxy_server *s, const char *module);
/** Starts r. 0, or a negative errno (on_done will not run). */
int proxy_vcs_start(struct proxy_server *s, struct vcs_get *r);
/** Frees r's outputs. */
void proxy_vcs_dispose(struct vcs_get *r);

#endif
