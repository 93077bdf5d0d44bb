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
 * `modproxy export --from` reads on the connected side.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"
#include "mirror.h"
#include "http.h"
#include "sumdb_proxy.h"
#include "modproxy/timeutil.h"
#include "page.h" /* proxy/ops: the diagnostics pages' HTML */

struct proxy_mirror {
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

int proxy_mirror_new(struct store *store, int offline,
                     struct proxy_mirror **out) {
  struct proxy_mirror *m = calloc(1, sizeof *m);
  if (m == NULL)
    return -ENOMEM;
  if (offline)
    m->snapshot = read_snapshot(store);
  *out = m;
  return 0;
}

void proxy_mirror_free(struct proxy_mirror *m) {
  free(m);
}

const char *proxy_mirror_headers(struct proxy_server *s, enum gp_kind kind) {
  if (!s->cfg->offline || s->mirror == NULL ||
      (kind != GP_LIST && kind != GP_LATEST))
    return NULL;
  int64_t t = __atomic_load_n(&s->mirror->snapshot, __ATOMIC_RELAXED);
  char when[32] = "unknown";
  if (t > 0)
    time_rfc3339(t, when, sizeof when);
  snprintf(s->mirror->headers, sizeof s->mirror->headers,
           "X-Modproxy-Snapshot: %s\r\n", when);
  return s->mirror->headers;
}

void proxy_mirror_refresh(struct proxy_server *s) {
  if (s->cfg->offline && s->mirror != NULL)
    __atomic_store_n(&s->mirror->snapshot, read_snapshot(s->store),
                     __ATOMIC_RELAXED);
}

int64_t proxy_mirror_snapshot(const struct proxy_server *s) {
  if (!s->cfg->offline || s->mirror == NULL)
    return 0;
  return __atomic_load_n(&s->mirror->snapshot, __ATOMIC_RELAXED);
}

int proxy_mirror_stale(const struct proxy_server *s, int64_t now, char *out,
                       size_t cap) {
  int64_t t = proxy_mirror_snapshot(s), after = s->cfg->offline_stale_after_s;
  if (t <= 0 || after <= 0 || now - t <= after)
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

void proxy_mirror_misses_put(struct proxy_server *s,
                             const struct diag_record *recs, size_t n) {
  if (!s->cfg->offline || n == 0)
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
    store_misses_add(s->store, v, k);
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

int proxy_mirror_wants_write(struct store *st, int64_t since, FILE *f,
                             size_t *n) {
  struct wants w = {f, 0};
  fprintf(f, "# What this offline mirror was asked for and lacks (the go "
             "command's\n# path-prefix probes left out). On a connected "
             "machine:\n#   modproxy export --from THIS_FILE -o BUNDLE\n");
  int rc = store_misses_each(st, since, write_want, &w);
  if (n != NULL)
    *n = w.n;
  return rc;
}

/* ---- lists and @latest from the stored versions (worker) ---------------- */

static int by_semver(const void *a, const void *b) {
  return gomod_semver_compare(*(char *const *)a, *(char *const *)b);
}

void proxy_mirror_answer(struct proxy_server *s, const struct gp_req *gp,
                         struct hot_value *v) {
  struct store_bytes b;
  if (store_versions_of(s->store, gp->module, &b) < 0)
    return;
  proxy_mirror_refresh(s);
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
    if (gomod_is_canonical_version(p) &&
        gomod_check(gp->module, p, NULL, 0) == 0)
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
  if (gp->kind == GP_LIST) {
    v->body = proxy_body_new(list, len);
  } else {
    const char *pick = latest != NULL ? latest : pre != NULL ? pre : pseudo;
    struct store_bytes info;
    if (pick == NULL ||
        store_part_get(s->store, gp->module, pick, STORE_INFO, &info, NULL) < 0)
      goto out;
    v->body = proxy_body_new(info.data, info.len);
    store_bytes_free(&info);
  }
  if (v->body != NULL) {
    v->status = 200;
    v->fetched = (int64_t)time(NULL);
    proxy_etag(v->body->data, v->body->len, v->etag);
  }
out:
  free(vs);
  free(list);
  store_bytes_free(&b);
}

void proxy_mirror_explain(struct proxy_server *s, const struct gp_req *gp,
                          char *out, size_t cap) {
  char when[32] = "at an unknown time";
  int64_t t = s->mirror != NULL
                  ? __atomic_load_n(&s->mirror->snapshot, __ATOMIC_RELAXED)
                  : 0;
  if (t > 0)
    time_rfc3339(t, when, sizeof when);
  char what[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 8];
  int versioned =
      gp->kind == GP_INFO || gp->kind == GP_MOD || gp->kind == GP_ZIP;
  char args[sizeof what + 32], go[GOMOD_MAX_VERSION_BYTES],
      platform[GOMOD_MAX_VERSION_BYTES];
  if (versioned)
    snprintf(what, sizeof what, "%s@%s", gp->module, gp->version);
  else
    snprintf(what, sizeof what, "%s@latest", gp->module);
  if (versioned && strcmp(gp->module, DIAG_TOOLCHAIN_MODULE) == 0 &&
      diag_toolchain_parse(gp->version, go, platform, sizeof go) == 0) {
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
           versioned ? what : gp->module, when, args);
}

/* ---- /diag/mirror -------------------------------------------------------- */

struct mirror_page {
  uv_work_t work;
  struct proxy_conn *conn;
  enum proxy_format fmt;
  int wants;                 /* /diag/mirror/missing.txt */
  unsigned unreachable;      /* bit i: database i is skipped by verification */
  int offline, verify_sumdb; /* the settings shown (read on the loop) */
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

/* One row of the HTML table: a heading and its (escaped) value. */
static void html_row(FILE *f, const char *name, const char *value) {
  fprintf(f, "<tr><th>%s</th><td>", name);
  page_esc(f, value);
  fputs("</td></tr>\n", f);
}

static int json_miss(void *arg, const struct store_miss *m) {
  struct wants *w = arg;
  char want[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 2];
  snprintf(want, sizeof want, "%s@%s", m->module, m->query);
  fprintf(w->f, "%s{\"want\":", w->n++ > 0 ? "," : "");
  diag_json_write(w->f, want);
  fprintf(w->f,
          ",\"count\":%" PRIu64 ",\"first\":%" PRId64 ",\"last\":%" PRId64 "}",
          m->count, m->first, m->last);
  return 0;
}

static void on_page(uv_work_t *w) {
  struct mirror_page *p = w->data;
  struct proxy_server *s = p->conn->server;
  FILE *f = open_memstream(&p->text, &p->len);
  if (f == NULL)
    return;
  if (p->wants) {
    proxy_mirror_wants_write(s->store, 0, f, NULL);
    fclose(f);
    return;
  }
  char snap[32] = "unknown", imported[512] = "", stale[256] = "";
  int64_t t = read_snapshot(s->store), now = (int64_t)time(NULL);
  if (t > 0)
    time_rfc3339(t, snap, sizeof snap);
  proxy_mirror_stale(s, now, stale, sizeof stale);
  store_meta_get(s->store, "last_import", imported, sizeof imported);
  struct store_stats st = {0};
  store_stats_get(s->store, &st);
  char versions[128];
  snprintf(versions, sizeof versions,
           "%" PRIu64 " (%" PRIu64 " zips, %" PRIu64 " imported)", st.versions,
           st.zips, st.imported);
  const char *mode = p->offline ? "offline (fetches nothing)" : "online";
  const char *last = imported[0] != '\0' ? imported : "none";
  const char *verify = p->verify_sumdb ? "yes" : "no";
  int ndbs = s->sumdb != NULL ? s->sumdb->ndbs : 0;
  if (p->fmt == PROXY_FORMAT_JSON) {
    fprintf(f, "{\"offline\":%s,\"snapshot\":", p->offline ? "true" : "false");
    diag_json_write(f, t > 0 ? snap : NULL);
    if (t > 0)
      fprintf(f, ",\"age_seconds\":%" PRId64, now - t);
    fprintf(f, ",\"stale_after_seconds\":%" PRId64 ",\"stale\":",
            s->cfg->offline_stale_after_s);
    diag_json_write(f, stale[0] != '\0' ? stale : NULL);
    fprintf(f, ",\"last_import\":");
    diag_json_write(f, imported[0] != '\0' ? imported : NULL);
    fprintf(f,
            ",\"versions\":%" PRIu64 ",\"zips\":%" PRIu64
            ",\"imported\":%" PRIu64 ",\"verify_sumdb\":%s,\"sumdb\":[",
            st.versions, st.zips, st.imported,
            p->verify_sumdb ? "true" : "false");
  } else if (p->fmt == PROXY_FORMAT_HTML) {
    page_begin(f, "modproxy mirror", PAGE_NAV_MIRROR);
    fputs("<div class=\"scroll\"><table id=\"mirror\">", f);
    html_row(f, "mirror", mode);
    html_row(f, "content taken", snap);
    html_row(f, "last import", last);
    html_row(f, "versions", versions);
    html_row(f, "verify against the checksum database", verify);
    if (stale[0] != '\0')
      html_row(f, "warning", stale);
    fputs("</table></div>", f);
    page_table_begin(f, "Checksum databases", "sumdbs", ndbs,
                     "name|from|lookups|tiles|state");
  } else {
    fprintf(f,
            "mirror: %s\ncontent taken: %s\nlast import: %s\n"
            "versions: %s\nverify against the checksum database: %s\n",
            mode, snap, last, versions, verify);
    if (t > 0)
      fprintf(f, "content age: %" PRId64 " days %" PRId64 " hours\n",
              (now - t) / 86400, (now - t) % 86400 / 3600);
    if (stale[0] != '\0')
      fprintf(f, "warning: %s\n", stale);
  }
  for (int i = 0; i < ndbs; i++) {
    const struct proxy_sumdb_db *db = &s->sumdb->dbs[i];
    struct counts c = {0};
    store_sumdb_each(s->store, db->spec.key.name, "", count_entry, &c);
    const char *from =
        db->spec.url[0] != '\0' ? db->spec.url : "via upstreams, then direct";
    int down = (p->unreachable >> i) & 1u;
    if (p->fmt == PROXY_FORMAT_JSON) {
      fprintf(f, "%s{\"name\":", i > 0 ? "," : "");
      diag_json_write(f, db->spec.key.name);
      fprintf(f, ",\"key\":");
      diag_json_write(f, db->spec.key.text);
      fprintf(f, ",\"lookups\":%" PRIu64 ",\"tiles\":%" PRIu64 "}", c.lookups,
              c.tiles);
    } else if (p->fmt == PROXY_FORMAT_HTML) {
      fputs("<tr><td>", f);
      page_esc(f, db->spec.key.name);
      fputs("</td><td>", f);
      page_esc(f, from);
      fprintf(f,
              "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
              "</td><td>%s</td></tr>\n",
              c.lookups, c.tiles, down ? "unreachable now" : "reachable");
    } else {
      fprintf(f,
              "checksum database %s (%s): %" PRIu64 " lookups, %" PRIu64
              " tiles cached%s\n",
              db->spec.key.name, from, c.lookups, c.tiles,
              down ? "; unreachable now" : "");
    }
  }
  struct wants lacks = {f, 0};
  if (p->fmt == PROXY_FORMAT_JSON) {
    fputs("],\"missing\":[", f);
    store_misses_each(s->store, 0, json_miss, &lacks);
    fputs("],\"missing_txt\":\"/diag/mirror/missing.txt\"}\n", f);
  } else if (p->fmt == PROXY_FORMAT_HTML) {
    page_table_end(f, ndbs);
    char *list = NULL;
    size_t len = 0;
    FILE *l = open_memstream(&list, &len);
    if (l != NULL) {
      lacks.f = l;
      store_misses_each(s->store, 0, write_want, &lacks);
      fclose(l);
    }
    fputs("<h2>Asked for and lacking</h2><p><a "
          "href=\"/diag/mirror/missing.txt\">missing.txt</a>, for "
          "<code>modproxy export --from</code></p><pre id=\"missing\">",
          f);
    page_esc(f, list != NULL && list[0] != '\0' ? list : "nothing\n");
    fputs("</pre>", f);
    free(list);
    page_end(f, p->conn->req->url);
  } else {
    fputs("\nasked for and lacking (download: /diag/mirror/missing.txt, for "
          "modproxy export --from):\n",
          f);
    store_misses_each(s->store, 0, write_want, &lacks);
    if (lacks.n == 0)
      fputs("nothing\n", f);
  }
  fclose(f);
}

static void on_page_done(uv_work_t *w, int status) {
  static const char *const types[] = {
      [PROXY_FORMAT_TEXT] = "text/plain; charset=utf-8",
      [PROXY_FORMAT_HTML] = "text/html; charset=utf-8",
      [PROXY_FORMAT_JSON] = "application/json",
  };
  struct mirror_page *p = w->data;
  struct proxy_conn *c = p->conn;
  if (!proxy_conn_gone(c)) {
    proxy_conn_send_local(
        c, 200, p->wants ? "text/plain; charset=utf-8" : types[p->fmt], p->text,
        p->len, "Vary: Accept\r\n");
  }
  proxy_conn_release(c);
  free(p->text);
  free(p);
}

void proxy_route_mirror(struct proxy_conn *c) {
  struct mirror_page *p = calloc(1, sizeof *p);
  if (p == NULL) {
    proxy_conn_send_text(c, 503, "out of memory", NULL);
    return;
  }
  p->conn = c;
  p->fmt = proxy_format_negotiate(c->req->url, c->req->accept);
  p->wants = strncmp(c->req->url, "/diag/mirror/missing.txt", 24) == 0;
  struct proxy_server *s = c->server;
  for (int i = 0; s->sumdb != NULL && i < s->sumdb->ndbs; i++)
    if (s->sumdb->dbs[i].unreachable_until > uv_now(s->loop))
      p->unreachable |= 1u << i;
  p->offline = s->cfg->offline;
  p->verify_sumdb = s->cfg->verify_sumdb;
  p->work.data = p;
  proxy_conn_hold(c);
  if (uv_queue_work(c->server->loop, &p->work, on_page, on_page_done) < 0) {
    proxy_conn_release(c);
    free(p);
    proxy_conn_send_text(c, 503, "could not queue the page", NULL);
  }
}
