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
 * "snapshot"), else when the newest version was stored.
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

static int64_t read_snapshot(struct store *st) {
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
    m->snapshot = read_snapshot(cfg->store);
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
  __atomic_store_n(&m->snapshot, read_snapshot(st), __ATOMIC_RELAXED);
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

/* ---- /diag/mirror -------------------------------------------------------- */

struct mirror_page {
  uv_work_t work;
  struct proxy_conn *conn;
  struct proxy_mirror *m;
  int verify_sumdb; /* the setting shown (read on the loop) */
  int json;
  unsigned unreachable; /* bit i: database i is skipped by verification */
  char *text;
  size_t len;
};

struct counts {
  uint64_t lookups, tiles, other;
};

static int count_entry(void *arg, const char *db, const char *path,
                       const void *body, size_t len) {
  struct counts *c = arg;
  if (strncmp(path, "lookup/", 7) == 0)
    c->lookups++;
  else if (strncmp(path, "tile/", 5) == 0)
    c->tiles++;
  else
    c->other++;
  return 0;
}

static void on_page(uv_work_t *w) {
  struct mirror_page *p = w->data;
  const struct proxy_mirror_config *cfg = &p->m->cfg;
  struct store *store = cfg->store;
  FILE *f = open_memstream(&p->text, &p->len);
  if (f == NULL)
    return;
  char snap[32] = "unknown", imported[512] = "";
  int64_t t = read_snapshot(store);
  if (t > 0)
    time_rfc3339(t, snap, sizeof snap);
  store_meta_get(store, "last_import", imported, sizeof imported);
  struct store_stats st = {0};
  store_stats_get(store, &st);
  if (p->json) {
    fprintf(f,
            "{\"offline\":%s,\"snapshot\":", cfg->offline ? "true" : "false");
    diag_json_write(f, t > 0 ? snap : NULL);
    fprintf(f, ",\"last_import\":");
    diag_json_write(f, imported[0] != '\0' ? imported : NULL);
    fprintf(f,
            ",\"versions\":%" PRIu64 ",\"zips\":%" PRIu64
            ",\"imported\":%" PRIu64 ",\"verify_sumdb\":%s,\"sumdb\":[",
            st.versions, st.zips, st.imported,
            p->verify_sumdb ? "true" : "false");
  } else {
    fprintf(f,
            "mirror: %s\ncontent taken: %s\nlast import: %s\n"
            "versions: %" PRIu64 " (%" PRIu64 " zips, %" PRIu64
            " imported)\nverify against the checksum database: %s\n",
            cfg->offline ? "offline (fetches nothing)" : "online", snap,
            imported[0] != '\0' ? imported : "none", st.versions, st.zips,
            st.imported, p->verify_sumdb ? "yes" : "no");
  }
  for (int i = 0; i < proxy_sumdb_count(cfg->sumdb); i++) {
    const struct proxy_sumdb_db *db = proxy_sumdb_at(cfg->sumdb, i);
    struct counts c = {0};
    store_sumdb_each(store, db->spec.key.name, "", count_entry, &c);
    if (p->json) {
      fprintf(f, "%s{\"name\":", i > 0 ? "," : "");
      diag_json_write(f, db->spec.key.name);
      fprintf(f, ",\"key\":");
      diag_json_write(f, db->spec.key.text);
      fprintf(f, ",\"lookups\":%" PRIu64 ",\"tiles\":%" PRIu64 "}", c.lookups,
              c.tiles);
    } else {
      fprintf(f,
              "checksum database %s (%s): %" PRIu64 " lookups, %" PRIu64
              " tiles cached%s\n",
              db->spec.key.name,
              db->spec.url[0] != '\0' ? db->spec.url
                                      : "via upstreams, then direct",
              c.lookups, c.tiles,
              (p->unreachable >> i) & 1u ? "; unreachable now" : "");
    }
  }
  if (p->json)
    fputs("]}\n", f);
  fclose(f);
}

static void on_page_done(uv_work_t *w, int status) {
  struct mirror_page *p = w->data;
  struct proxy_conn *c = p->conn;
  if (!proxy_conn_gone(c)) {
    proxy_conn_send_local(
        c, 200, p->json ? "application/json" : "text/plain; charset=utf-8",
        p->text, p->len, NULL);
  }
  proxy_conn_release(c);
  free(p->text);
  free(p);
}

void proxy_route_mirror(struct proxy_conn *c, struct proxy_mirror *m,
                        int verify_sumdb) {
  struct mirror_page *p = calloc(1, sizeof *p);
  if (p == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  p->conn = c;
  p->m = m;
  p->verify_sumdb = verify_sumdb;
  p->json = proxy_format_negotiate(proxy_conn_target(c),
                                   proxy_conn_accept(c)) == PROXY_FORMAT_JSON;
  for (int i = 0; i < proxy_sumdb_count(m->cfg.sumdb); i++)
    if (proxy_sumdb_at(m->cfg.sumdb, i)->unreachable_until >
        uv_now(m->cfg.loop))
      p->unreachable |= 1u << i;
  p->work.data = p;
  proxy_conn_hold(c);
  if (uv_queue_work(m->cfg.loop, &p->work, on_page, on_page_done) < 0) {
    proxy_conn_release(c);
    free(p);
    proxy_conn_send_text(c, 503, "could not queue the page", NULL);
  }
}
