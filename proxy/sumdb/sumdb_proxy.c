/*
 * The --sumdb databases: each one's spec (GOSUMDB syntax) and the sources
 * its answers come from, in order. Reading and serving their answers is
 * proxy/goproxy's (job_sumdb.c); verifying upstream content against them
 * is sumdb_verify.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sumdb_internal.h"

static int add_source(struct proxy_sumdb_db *db, const char *base,
                      const char *shown, const char *suffix, int fall_any) {
  struct proxy_upstream *u = &db->sources[db->nsources];
  size_t n = strlen(base) + strlen(suffix) + 1,
         m = strlen(shown) + strlen(suffix) + 1;
  u->base = malloc(n);
  u->shown = malloc(m);
  if (u->base == NULL || u->shown == NULL) {
    free(u->base);
    free(u->shown);
    u->base = u->shown = NULL;
    return -ENOMEM;
  }
  snprintf(u->base, n, "%s%s", base, suffix);
  snprintf(u->shown, m, "%s%s", shown, suffix);
  u->fall_any = fall_any;
  db->nsources++;
  return 0;
}

static int setup_db(struct upstream_list *upstreams,
                    struct proxy_sumdb_db *db) {
  char suffix[SUMDB_MAX_NAME_BYTES + 16];
  if (db->spec.url[0] != '\0') {
    char *shown = proxy_url_redact(db->spec.url);
    int rc =
        shown != NULL ? add_source(db, db->spec.url, shown, "", 0) : -ENOMEM;
    free(shown);
    return rc;
  }
  snprintf(suffix, sizeof suffix, "/sumdb/%s", db->spec.key.name);
  /* The proxies before "off" or "direct" (after which the go command asks
   * the database itself). */
  for (int i = 0;; i++) {
    const struct proxy_upstream *u = upstream_list_at(upstreams, i);
    if (u == NULL || u->base == NULL || u->direct)
      break;
    int rc = add_source(db, u->base, u->shown, suffix, u->fall_any);
    if (rc < 0)
      return rc;
  }
  return add_source(db, "https://", "https://", db->spec.key.name, 0);
}

int proxy_sumdb_specs(const char *const *list, struct sumdb_spec *out, int max,
                      char *err, size_t errlen) {
  int n = 0;
  if (list == NULL || list[0] == NULL || strcmp(list[0], "off") == 0)
    return 0;
  for (int i = 0; list[i] != NULL; i++) {
    char spec[SUMDB_MAX_KEY_BYTES + SUMDB_MAX_URL_BYTES + 2];
    snprintf(spec, sizeof spec, "%s", list[i]);
    /* MODPROXY_SUMDB splits values on spaces: a URL alone belongs to the
     * key before it. */
    if (strstr(list[i], "://") != NULL && strchr(list[i], '+') == NULL &&
        n > 0 && out[n - 1].url[0] == '\0') {
      snprintf(spec, sizeof spec, "%s %s", out[n - 1].key.text, list[i]);
      n--;
    }
    if (n == max) {
      snprintf(err, errlen, "at most %d databases", max);
      return -EINVAL;
    }
    char e[256];
    if (sumdb_spec_parse(spec, &out[n], e, sizeof e) < 0) {
      snprintf(err, errlen, "\"%s\": %s", spec, e);
      return -EINVAL;
    }
    for (int k = 0; k < n; k++) {
      if (strcmp(out[k].key.name, out[n].key.name) == 0) {
        snprintf(err, errlen, "%s is given twice", out[n].key.name);
        return -EINVAL;
      }
    }
    n++;
  }
  return n;
}

int proxy_sumdb_new(const struct proxy_sumdb_config *cfg,
                    struct proxy_sumdb **out) {
  struct proxy_sumdb *sd = calloc(1, sizeof *sd);
  struct sumdb_spec *specs = calloc(PROXY_SUMDB_MAX_DBS, sizeof *specs);
  if (sd == NULL || specs == NULL) {
    free(sd);
    free(specs);
    return -ENOMEM;
  }
  sd->loop = cfg->loop;
  sd->store = cfg->store;
  sd->read = cfg->read;
  sd->reader = cfg->reader;
  char err[512];
  int n = proxy_sumdb_specs(cfg->sumdbs, specs, PROXY_SUMDB_MAX_DBS, err,
                            sizeof err);
  if (n < 0)
    fprintf(stderr, "modproxy: --sumdb %s\n", err);
  int rc = n < 0 ? n : 0;
  for (int i = 0; i < n && rc == 0; i++) {
    sd->dbs[i].spec = specs[i];
    sd->ndbs++;
    rc = setup_db(cfg->upstreams, &sd->dbs[i]);
  }
  free(specs);
  if (rc < 0) {
    proxy_sumdb_free(sd);
    return rc;
  }
  *out = sd;
  return 0;
}

void proxy_sumdb_free(struct proxy_sumdb *sd) {
  if (sd == NULL)
    return;
  for (int i = 0; i < sd->ndbs; i++)
    proxy_upstreams_free(sd->dbs[i].sources, sd->dbs[i].nsources);
  free(sd);
}

int proxy_sumdb_count(const struct proxy_sumdb *sd) {
  return sd != NULL ? sd->ndbs : 0;
}

struct proxy_sumdb_db *proxy_sumdb_at(struct proxy_sumdb *sd, int i) {
  return &sd->dbs[i];
}

struct proxy_sumdb_db *proxy_sumdb_find(struct proxy_sumdb *sd,
                                        const char *name) {
  for (int i = 0; i < proxy_sumdb_count(sd); i++)
    if (strcmp(sd->dbs[i].spec.key.name, name) == 0)
      return &sd->dbs[i];
  return NULL;
}
