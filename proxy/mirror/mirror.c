/*
 * The offline mirror: answers from the store alone.
 *
 * An offline modproxy (--offline, or --upstream off) starts no fetch: the
 * jobs find no upstream and not-found answers are explained here. Lists
 * and @latest are not the upstream's (there is none) but computed from the
 * versions the store holds, as a GOPROXY file:// tree of the same content
 * would list them: releases and prereleases valid for the module path,
 * sorted; @latest is the highest release, else prerelease, else the newest
 * pseudo-version. Both carry X-Modproxy-Snapshot, the time the content was
 * taken: the creation time of the last imported bundle (store metadata
 * "snapshot"), else when the newest version was stored. Past
 * --offline-stale-after, that content is stale: /readyz warns, /diag/mirror
 * says so, /metrics gives its age.
 *
 * What it was asked for and lacked is counted in the store (the request
 * records' writer hands over each batch's not-found answers) and written as
 * the wants list of `modproxy missing` and /diag/mirror/missing.txt, which
 * `modproxy export --from` reads on the connected side. The /diag/mirror
 * page itself is proxy/ops' (mirror_page.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mirror.h"
#include "modproxy/timeutil.h"

struct proxy_mirror {
  struct proxy_mirror_config cfg;
  /* When the content was taken (Unix seconds, 0: unknown); written by
   * workers after an answer (imports may run beside the server). */
  int64_t snapshot;
  char headers[96];
};

int64_t proxy_mirror_content_taken(struct store *st) {
  char v[64];
  int64_t t = 0;
  if (store_meta_get(st, "snapshot", v, sizeof v) == 0)
    t = strtoll(v, NULL, 10);
  else if (store_versions_newest(st, &t) < 0)
    t = 0;
  return t;
}

int proxy_mirror_new(const struct proxy_mirror_config *cfg,
                     struct proxy_mirror **out) {
  struct proxy_mirror *m = calloc(1, sizeof *m);
  if (m == NULL)
    return -ENOMEM;
  m->cfg = *cfg;
  if (cfg->offline)
    m->snapshot = proxy_mirror_content_taken(cfg->store);
  *out = m;
  return 0;
}

void proxy_mirror_free(struct proxy_mirror *m) {
  free(m);
}

const char *proxy_mirror_headers(struct proxy_mirror *m, int listing) {
  if (m == NULL || !m->cfg.offline || !listing)
    return NULL;
  int64_t t = __atomic_load_n(&m->snapshot, __ATOMIC_RELAXED);
  char when[32] = "unknown";
  if (t > 0)
    time_rfc3339(t, when, sizeof when);
  snprintf(m->headers, sizeof m->headers, "X-Modproxy-Snapshot: %s\r\n", when);
  return m->headers;
}

void proxy_mirror_refresh(struct proxy_mirror *m) {
  if (m != NULL && m->cfg.offline)
    __atomic_store_n(&m->snapshot, proxy_mirror_content_taken(m->cfg.store),
                     __ATOMIC_RELAXED);
}

int64_t proxy_mirror_snapshot(const struct proxy_mirror *m) {
  if (m == NULL || !m->cfg.offline)
    return 0;
  return __atomic_load_n(&m->snapshot, __ATOMIC_RELAXED);
}

int proxy_mirror_stale(const struct proxy_mirror *m, int64_t stale_after_s,
                       int64_t now, char *out, size_t cap) {
  int64_t t = proxy_mirror_snapshot(m);
  if (t <= 0 || stale_after_s <= 0 || now - t <= stale_after_s)
    return 0;
  char when[TIME_RFC3339_BYTES];
  time_rfc3339(t, when, sizeof when);
  snprintf(out, cap,
           "the mirror's content was taken %s, %" PRId64
           " days ago (over --offline-stale-after): builds see no newer "
           "versions; import a new bundle",
           when, (now - t) / 86400);
  return 1;
}

/* ---- what it lacked ------------------------------------------------------ */

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

void proxy_mirror_misses_put(struct proxy_mirror *m,
                             const struct diag_record *recs, size_t n) {
  if (m == NULL || !m->cfg.offline || n == 0)
    return;
  struct store_miss *v = calloc(n, sizeof *v);
  size_t k = 0;
  for (size_t i = 0; v != NULL && i < n; i++) {
    const struct diag_record *r = &recs[i];
    if (r->outcome != DIAG_NOT_FOUND || r->module == NULL ||
        r->target == NULL || strncmp(r->target, "/sumdb/", 7) == 0)
      continue;
    size_t tl = strcspn(r->target, "?");
    int query = ends_with(r->target, tl, "/@v/list") ||
                ends_with(r->target, tl, "/@latest") || r->version == NULL;
    v[k++] = (struct store_miss){
        .module = r->module,
        .query = query ? "latest" : r->version,
        .exact = !query && gomod_is_canonical_version(r->version),
        .fetch = ends_with(r->target, tl, ".mod") ||
                 ends_with(r->target, tl, ".zip"),
        .last = r->start_ms / 1000,
    };
  }
  if (k > 0)
    store_misses_add(m->cfg.store, v, k);
  free(v);
}

struct wants {
  FILE *f;
  size_t n;
};

static int write_want(void *arg, const struct store_miss *m) {
  struct wants *w = arg;
  char first[TIME_RFC3339_BYTES], last[TIME_RFC3339_BYTES];
  time_rfc3339(m->first, first, sizeof first);
  time_rfc3339(m->last, last, sizeof last);
  fprintf(w->f, "%s@%s # asked %" PRIu64 " time%s, first %s, last %s\n",
          m->module, m->query, m->count, m->count == 1 ? "" : "s", first, last);
  w->n++;
  return 0;
}

int proxy_mirror_wants_lines(struct store *st, int64_t since, FILE *f,
                             size_t *n) {
  struct wants w = {f, 0};
  int rc = store_misses_each(st, since, write_want, &w);
  if (n != NULL)
    *n = w.n;
  return rc;
}

int proxy_mirror_wants_write(struct store *st, int64_t since, FILE *f,
                             size_t *n) {
  fprintf(f, "# What this offline mirror was asked for and lacks (the go "
             "command's\n# path-prefix probes left out). On a connected "
             "machine:\n#   modproxy export --from THIS_FILE -o BUNDLE\n");
  return proxy_mirror_wants_lines(st, since, f, n);
}

/* ---- lists and @latest from the stored versions (worker) ---------------- */

static int by_semver(const void *a, const void *b) {
  return gomod_semver_compare(*(char *const *)a, *(char *const *)b);
}

struct proxy_body *proxy_mirror_answer(struct proxy_mirror *m,
                                       const char *module, int at_latest) {
  struct store *st = m->cfg.store;
  struct proxy_body *body = NULL;
  struct store_bytes b;
  if (store_versions_of(st, module, &b) < 0)
    return NULL;
  proxy_mirror_refresh(m);
  size_t n = 0;
  for (size_t i = 0; i < b.len; i++)
    n += b.data[i] == '\n';
  char **vs = calloc(n + 1, sizeof *vs);
  char *list = malloc(b.len + 1);
  if (vs == NULL || list == NULL)
    goto out;
  size_t nv = 0;
  for (char *p = b.data, *nl; p < b.data + b.len; p = nl + 1) {
    nl = strchr(p, '\n');
    *nl = '\0';
    if (gomod_is_canonical_version(p) && gomod_check(module, p, NULL, 0) == 0)
      vs[nv++] = p;
  }
  if (nv == 0)
    goto out;
  qsort(vs, nv, sizeof *vs, by_semver);
  const char *latest = NULL, *pre = NULL, *pseudo = NULL;
  time_t pseudo_t = 0;
  size_t len = 0;
  for (size_t i = 0; i < nv; i++) {
    char pr[GOMOD_MAX_VERSION_BYTES];
    if (gomod_is_pseudo_version(vs[i])) {
      time_t t;
      if (gomod_pseudo_version_time(vs[i], &t) == 0 &&
          (pseudo == NULL || t >= pseudo_t)) {
        pseudo = vs[i];
        pseudo_t = t;
      }
      continue; /* lists hold no pseudo-versions */
    }
    len += (size_t)sprintf(list + len, "%s\n", vs[i]);
    if (gomod_semver_prerelease(vs[i], pr, sizeof pr) > 0)
      pre = vs[i];
    else
      latest = vs[i];
  }
  if (!at_latest) {
    body = proxy_body_new(list, len);
  } else {
    const char *pick = latest != NULL ? latest : pre != NULL ? pre : pseudo;
    struct store_bytes info;
    if (pick == NULL ||
        store_part_get(st, module, pick, STORE_INFO, &info, NULL) < 0)
      goto out;
    body = proxy_body_new(info.data, info.len);
    store_bytes_free(&info);
  }
out:
  free(vs);
  free(list);
  store_bytes_free(&b);
  return body;
}

void proxy_mirror_explain(struct proxy_mirror *m, const char *module,
                          const char *version, char *out, size_t cap) {
  char when[32] = "at an unknown time";
  int64_t t = m != NULL ? __atomic_load_n(&m->snapshot, __ATOMIC_RELAXED) : 0;
  if (t > 0)
    time_rfc3339(t, when, sizeof when);
  char what[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 8];
  int versioned = version[0] != '\0';
  char args[sizeof what + 32], go[GOMOD_MAX_VERSION_BYTES],
      platform[GOMOD_MAX_VERSION_BYTES];
  if (versioned)
    snprintf(what, sizeof what, "%s@%s", module, version);
  else
    snprintf(what, sizeof what, "%s@latest", module);
  if (versioned && strcmp(module, DIAG_TOOLCHAIN_MODULE) == 0 &&
      diag_toolchain_parse(version, go, platform, sizeof go) == 0) {
    /* export names a toolchain by release and platform (GOOS/GOARCH). */
    platform[strcspn(platform, "-")] = '/';
    snprintf(args, sizeof args, "--toolchain %s --platform %s", go, platform);
  } else {
    snprintf(args, sizeof args, "%s", what);
  }
  snprintf(out, cap,
           "%s: not in this mirror (offline; content taken %s).\n"
           "To add it, on a connected machine: modproxy export -o BUNDLE %s\n"
           "then here: modproxy import BUNDLE\n",
           versioned ? what : module, when, args);
}
