/*
 * Private modules from git: routing by --private patterns. The git side
 * (mirrors, version resolution, zips) is being built; until then a private
 * module is refused with an explanation instead of ever reaching a public
 * upstream.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/gomod.h"
#include "vcs.h"

int proxy_vcs_init(struct proxy_server *s) { return 0; }

void proxy_vcs_close(struct proxy_server *s) {}

int proxy_vcs_private(const struct proxy_server *s, const char *module) {
  const char *p = s->cfg->private_patterns;
  return p != NULL && p[0] != '\0' && gomod_match_prefix_patterns(p, module);
}

int proxy_vcs_start(struct proxy_server *s, struct vcs_request *r) {
  return -ENOSYS;
}

void proxy_vcs_dispose(struct vcs_request *r) {
  free(r->body);
  free(r->attempts);
  r->body = r->attempts = NULL;
}
