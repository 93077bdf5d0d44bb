/*
 * The GOPROXY core's state (goproxy.h): created and freed here, used by
 * routes.c (the hot cache), jobs.c (the jobs in flight) and the files that
 * read or drop hot-cache entries. And the configuration's reference count,
 * which the jobs, the routes and the server hold and release.
 */
#include <errno.h>
#include <stdlib.h>

#include "goproxy.h"
#include "job.h"

int goproxy_new(size_t hot_cache_bytes, struct goproxy **out) {
  struct goproxy *gp = calloc(1, sizeof *gp);
  if (gp == NULL)
    return -ENOMEM;
  int rc = hot_cache_init(&gp->hot, hot_cache_bytes);
  if (rc < 0) {
    free(gp);
    return rc;
  }
  *out = gp;
  return 0;
}

void goproxy_free(struct goproxy *gp) {
  if (gp == NULL)
    return;
  hot_cache_dispose(&gp->hot);
  free(gp);
}

struct hot_cache *goproxy_hot(struct goproxy *gp) {
  return &gp->hot;
}

const struct proxy_config *proxy_config_hold(const struct proxy_server *s) {
  /* The count is the one thing that changes in a configuration. */
  ((struct proxy_config *)s->cfg)->refs++;
  return s->cfg;
}

void proxy_config_release(const struct proxy_config *cfg) {
  struct proxy_config *c = (struct proxy_config *)cfg;
  if (c != NULL && --c->refs == 0 && c->free != NULL)
    c->free(c);
}
