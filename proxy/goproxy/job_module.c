/*
 * The module-fetch job kind (job.h): a module's version list, @latest (or
 * a query), .info, .mod and .zip, from the --upstream list, from git for
 * a private module or for "direct", checked against the checksum database
 * (--verify-sumdb) before it is stored. A zip is staged in a file and may
 * stream while it downloads (jobs.c). A missing version's explanation
 * names the versions that do exist, from the module's list (fetched for
 * the purpose unless the hot cache has it fresh).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "mirror.h"
#include "modproxy/diag.h"
#include "modproxy/modfile.h"
#include "route.h"
#include "sumdb_proxy.h"
#include "vcs.h"

/* What a module job keeps besides the generic job (job_data). */
struct module_job {
  struct proxy_fetch list_fetch;    /* the module's list, to explain a miss */
  int list_fresh;                   /* ...fetched now: store it too */
  struct vcs_get vcs;               /* a private module's answer from git */
  struct proxy_sumdb_verify verify; /* the checksum database's record */
  int verified;                     /* verify ran: compare before storing */
};

static struct module_job *module_data(struct fetch_job *j) {
  return job_data(j);
}

static void what(const struct gp_req *gp, char *buf, size_t len) {
  if (gp->kind == GP_LIST)
    snprintf(buf, len, "the version list of %s", gp->module);
  else if (gp->kind == GP_LATEST)
    snprintf(buf, len, "%s@latest", gp->module);
  else
    snprintf(buf, len, "%s@%s", gp->module, gp->version);
}

/* --upstream, or the list of the module's "upstream LIST" policy. */
static struct proxy_upstream *source(struct proxy_server *s,
                                     const struct proxy_config *cfg,
                                     const struct gp_req *gp, int i) {
  struct policy *p = policy_find(cfg->policies, gp->module);
  if (p == NULL || p->action != POLICY_UPSTREAM)
    return upstream_list_at(s->upstreams, i);
  return i >= 0 && i < p->nupstreams ? &p->upstreams[i] : NULL;
}

static void url(const struct gp_req *gp, const char *base, char *out,
                size_t cap) {
  snprintf(out, cap, "%s/%s/%s", base, gp->escaped_module, gp->suffix);
}

static int staged(const struct gp_req *gp) {
  return gp->kind == GP_ZIP;
}

static int immutable(const struct gp_req *gp) {
  return gp->canonical && gp->kind != GP_LIST && gp->kind != GP_LATEST;
}

/* ---- git: private modules, and "direct" --------------------------------- */

/* A private module's answer from git. */
static void on_vcs_done(struct vcs_get *r) {
  struct fetch_job *j = r->data;
  /* For a private module the git commands are the attempts. */
  j->kind_attempts = r->attempts;
  if (r->status == 200) {
    proxy_job_ingest(j, r->body, r->len, r->origin);
    return;
  }
  j->result.status = r->status;
  j->result.upstream_error = r->status != 404 && r->status != 410;
  j->result.outcome = r->no_route && !r->direct  ? DIAG_PRIVATE_ROUTE
                      : j->result.upstream_error ? DIAG_GIT_ERROR
                                                 : DIAG_NOT_FOUND;
  proxy_job_set_body(j, r->body != NULL ? r->body
                                        : "private module: git failed\n");
  if (j->result.upstream_error || j->result.body == NULL) {
    proxy_job_done(j);
    return;
  }
  proxy_job_remember(j);
}

/* Hands the job to git (vcs.c): a private module, or "direct" in the
 * --upstream list. */
static void start_vcs(struct fetch_job *j, int direct) {
  static const enum vcs_what what[] = {[GP_LIST] = VCS_LIST,
                                       [GP_LATEST] = VCS_LATEST,
                                       [GP_INFO] = VCS_INFO,
                                       [GP_MOD] = VCS_MOD,
                                       [GP_ZIP] = VCS_ZIP};
  struct vcs_get *v = &module_data(j)->vcs;
  v->what = what[j->gp.kind]; /* a module's file: never GP_SUMDB */
  v->module = j->gp.module;
  v->version = j->gp.version;
  v->canonical = j->gp.canonical;
  v->fd = j->fd;
  v->direct = direct;
  v->on_done = on_vcs_done;
  v->data = j;
  int rc = proxy_vcs_start(j->s->vcs, v);
  if (rc == 0) {
    proxy_job_fetching(j);
    return;
  }
  char text[256];
  snprintf(text, sizeof text, "modproxy could not start git for %s: %s\n",
           j->gp.module, strerror(-rc));
  j->result.status = 502;
  j->result.upstream_error = 1;
  proxy_job_set_body(j, text);
  proxy_job_done(j);
}

/* Private modules never reach an upstream: git answers them. */
static int start_private(struct fetch_job *j) {
  if (j->cfg->offline || !proxy_vcs_private(j->s->vcs, j->gp.module))
    return 0;
  start_vcs(j, 0);
  return 1;
}

static void start_direct(struct fetch_job *j) {
  start_vcs(j, 1);
}

/* ---- the checksum database's record ------------------------------------- */

/* The record is in (or could not be had): store. */
static void on_verified(struct proxy_sumdb_verify *v) {
  struct fetch_job *j = v->data;
  module_data(j)->verified = 1;
  proxy_job_verified(j);
}

/* A public .mod or .zip is checked against the checksum database before
 * it is stored (--verify-sumdb). When the check cannot start, the file is
 * stored unchecked. */
static int verify(struct fetch_job *j) {
  struct proxy_sumdb_verify *v = &module_data(j)->verify;
  const struct gp_req *gp = &j->gp;
  if (!j->cfg->verify_sumdb || j->cfg->offline || !gp->canonical ||
      (gp->kind != GP_MOD && gp->kind != GP_ZIP) ||
      !proxy_sumdb_should_verify(j->s->sumdb) ||
      proxy_vcs_private(j->s->vcs, gp->module))
    return 0;
  v->on_done = on_verified;
  v->data = j;
  return proxy_sumdb_verify_start(j->s->sumdb, v, gp->module, gp->version) == 0;
}

/* ---- not found ---------------------------------------------------------- */

/* What the not-found explanation says about a missing version, from the
 * module's version list (fetched for the purpose). */
static void describe_missing(struct fetch_job *j, char *out, size_t cap) {
  const struct proxy_fetch *f = &module_data(j)->list_fetch;
  const char *m = j->gp.module, *v = j->gp.version;
  if (f->rc != 0 ||
      (f->status != 200 && f->status != 404 && f->status != 410)) {
    snprintf(out, cap, "%s@%s: not found.\n", m, v);
    return;
  }
  if (f->status != 200) {
    snprintf(out, cap,
             "%s@%s: no upstream knows the module %s.\n"
             "Check the module path for typos, or whether it moved.\n",
             m, v, m);
    return;
  }
  if (strcmp(m, DIAG_TOOLCHAIN_MODULE) == 0 &&
      diag_toolchain_missing(v, f->body, f->len, out, cap) == 0)
    return;
  if (diag_explain_major(m, v, f->body, f->len, out, cap) == 0)
    return;
  struct diag_nearest n;
  diag_nearest_versions(f->body, f->len, v, &n);
  if (n.count == 0) {
    snprintf(out, cap,
             "%s@%s: no such version; %s has no tagged versions.\n"
             "Use a commit instead: go get %s@<commit hash or branch>\n",
             m, v, m, m);
    return;
  }
  snprintf(out, cap,
           "%s@%s: no such version.\n"
           "%s does not exist; nearest: %s%s%s%s%s; latest: %s\n"
           "Use an existing version: go get %s@%s\n",
           m, v, v, n.below[0] != '\0' ? n.below : "",
           n.below[0] != '\0' ? " (below)" : "",
           n.below[0] != '\0' && n.above[0] != '\0' ? ", " : "", n.above,
           n.above[0] != '\0' ? " (above)" : "", n.latest, m, n.suggest);
}

static void on_list_fetched(struct proxy_fetch *f) {
  struct fetch_job *j = f->data;
  if (f->rc == 0 && f->status == 200) {
    /* Fresh: later requests (and explanations) use it too. */
    char key[sizeof j->key];
    hot_cache_key(key, sizeof key, j->gp.module, "@v/list");
    struct hot_value v = {.status = 200,
                          .body = proxy_body_new(f->body, f->len),
                          .fetched = (int64_t)time(NULL)};
    if (v.body != NULL) {
      proxy_etag(f->body, f->len, v.etag);
      hot_cache_put(goproxy_hot(j->s->goproxy), key, &v);
      proxy_body_unref(v.body);
      module_data(j)->list_fresh = 1;
    }
  }
  proxy_job_explain(j);
}

/* The module's list from the hot cache when it is fresh there: a missing
 * version's explanation then costs no upstream request. */
static int cached_list(struct fetch_job *j) {
  char key[sizeof j->key];
  hot_cache_key(key, sizeof key, j->gp.module, "@v/list");
  struct hot_value v;
  if (!hot_cache_get(goproxy_hot(j->s->goproxy), key, &v) || v.status != 200 ||
      v.body == NULL || (int64_t)time(NULL) - v.fetched >= j->cfg->list_ttl_s)
    return 0;
  struct proxy_fetch *f = &module_data(j)->list_fetch;
  f->body = strndup(v.body->data, v.body->len);
  if (f->body == NULL)
    return 0;
  f->len = v.body->len;
  f->url = "(cached)";
  f->rc = 0;
  f->status = 200;
  return 1;
}

/* A missing version (or a v2+ version asked for at a path without its
 * /vN) first fetches the module's list, to say which versions do exist;
 * from the hot cache when it is fresh there, so that the explanation costs
 * no upstream request. */
static int before_explain(struct fetch_job *j) {
  const struct proxy_upstream *first = source(j->s, j->cfg, &j->gp, 0);
  struct module_job *m = module_data(j);
  int versioned =
      j->gp.kind != GP_LIST && j->gp.kind != GP_LATEST &&
      (j->gp.canonical || diag_wrong_major(j->gp.module, j->gp.version));
  if (!versioned || j->attempts_len == 0)
    return 0;
  if (cached_list(j))
    return 0;
  if (first->base == NULL)
    return 0;
  snprintf(j->url, sizeof j->url, "%s/%s/@v/list", first->base,
           j->gp.escaped_module);
  m->list_fetch.url = j->url;
  m->list_fetch.fd = -1;
  m->list_fetch.max_bytes = PROXY_MAX_SMALL_BODY_BYTES;
  m->list_fetch.on_done = on_list_fetched;
  m->list_fetch.data = j;
  if (proxy_fetch_start(upstream_list_fetcher(j->s->upstreams),
                        &m->list_fetch) != 0)
    return 0;
  j->s->counters.upstream_requests++;
  return 1;
}

static void explain(struct fetch_job *j, char *text, size_t cap) {
  char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32];
  what(&j->gp, w, sizeof w);
  if (module_data(j)->list_fetch.url != NULL) {
    char head[1024];
    describe_missing(j, head, sizeof head);
    snprintf(text, cap, "%smodproxy asked its upstreams:\n%s", head,
             j->attempts);
  } else if (j->gp.kind == GP_LIST || j->gp.kind == GP_LATEST) {
    snprintf(text, cap,
             "module %s: no upstream knows it.\nmodproxy asked its "
             "upstreams:\n%sCheck the module path for typos, or whether the "
             "module moved (the import path in your code may be stale).\n",
             j->gp.module, j->attempts);
  } else {
    snprintf(text, cap,
             "%s: not found.\nmodproxy asked its upstreams:\n%s"
             "Check the version; go list -m -versions %s shows the versions "
             "that exist.\n",
             w, j->attempts, j->gp.module);
  }
}

/* 1 when no upstream knows the module at all (not only the version). */
static int unknown_module(struct fetch_job *j) {
  const struct proxy_fetch *f = &module_data(j)->list_fetch;
  if (j->attempts_len == 0)
    return 0;
  return j->gp.kind == GP_LIST || j->gp.kind == GP_LATEST ||
         (f->url != NULL && f->rc == 0 &&
          (f->status == 404 || f->status == 410));
}

static int each_module(void *ctx, size_t max,
                       int (*cb)(const char *module, void *arg), void *arg) {
  return store_modules_each(ctx, max, cb, arg);
}

/* Worker thread, before the answer is stored. An unknown module's
 * explanation names the paths this proxy has served that were likely
 * meant (kept as it was when there is no room for a longer one). The list
 * fetched for the explanation is an answer like any other: the hot cache
 * has it, so the store must too (or it could not be served stale once the
 * upstreams are down). */
static void remember(struct fetch_job *j, int64_t now) {
  struct module_job *m = module_data(j);
  char text[4096];
  struct proxy_body *b = NULL;
  if (unknown_module(j) &&
      diag_did_you_mean(j->gp.module, j->result.body->data, j->result.body->len,
                        each_module, j->s->store, text, sizeof text) == 0 &&
      (b = proxy_body_new(text, strlen(text))) != NULL) {
    proxy_body_unref(j->result.body);
    j->result.body = b;
  }
  if (m->list_fresh)
    store_answer_put(j->s->store, j->gp.module, "@v/list", 200,
                     m->list_fetch.body != NULL ? m->list_fetch.body : "",
                     m->list_fetch.len, now,
                     source(j->s, j->cfg, &j->gp, 0)->shown);
}

/* ---- ingest (worker thread) --------------------------------------------- */

/* Findings about a go.mod, recorded once per module version for /diag. */
static void record_findings(struct fetch_job *j, const char *gomod,
                            size_t len) {
  struct diag_gomod_finding f[DIAG_GOMOD_FINDINGS];
  int n = diag_gomod_findings(j->gp.module, j->gp.version, gomod, len,
                              j->cfg->go_release, f, DIAG_GOMOD_FINDINGS);
  for (int i = 0; i < n; i++)
    store_finding_put(j->s->store, j->gp.module, f[i].version, f[i].kind,
                      f[i].message);
}

/* Checks and stores a 200 answer. Sets j->failure when the upstream's
 * bytes are refused. */
static int ingest(struct fetch_job *j) {
  struct module_job *m = module_data(j);
  struct store *st = j->s->store;
  const struct gp_req *gp = &j->gp;
  const char *body = j->src_body, *origin = j->src_origin;
  size_t len = j->src_len;
  char v[GOMOD_MAX_VERSION_BYTES];
  int rc;
  if (m->verified &&
      (rc = proxy_sumdb_refuse_bad(j->s->sumdb, &m->verify, origin, j->failure,
                                   sizeof j->failure)) < 0)
    return rc;
  switch (gp->kind) {
  case GP_LIST:
    return store_answer_put(st, gp->module, gp->suffix, 200, body, len,
                            (int64_t)time(NULL), origin);
  case GP_LATEST:
  case GP_INFO:
    if (gomod_info_version(body, len, v, sizeof v) < 0 ||
        !gomod_is_canonical_version(v)) {
      snprintf(j->failure, sizeof j->failure,
               "the upstream's answer is not a valid .info JSON object with "
               "a canonical Version");
      return -EPROTO;
    }
    if (gp->canonical && strcmp(v, gp->version) != 0) {
      snprintf(j->failure, sizeof j->failure,
               "the upstream returned info for version %s instead of the "
               "requested %s",
               v, gp->version);
      return -EPROTO;
    }
    /* A query's (or @latest's) answer is that query's only: the version's
     * own .info is what the upstream serves for the version itself (an
     * answer for a branch may carry that branch in its Origin). */
    if (!gp->canonical)
      return store_answer_put(st, gp->module, gp->suffix, 200, body, len,
                              (int64_t)time(NULL), origin);
    return store_part_put(st, gp->module, v, STORE_INFO, body, len, origin);
  case GP_MOD: {
    /* A go.mod the go command cannot parse is a damaged answer (a body cut
     * short by a lying Content-Length, for one): never store it. */
    char why[MODFILE_ERROR_BYTES];
    struct modfile mf;
    modfile_init(&mf);
    rc = modfile_parse(&mf, body, len, MODFILE_LAX, why, sizeof why);
    modfile_dispose(&mf);
    if (rc < 0) {
      snprintf(j->failure, sizeof j->failure,
               "the upstream's go.mod does not parse: %s", why);
      return -EPROTO;
    }
  }
    char h1[GOMOD_H1_BYTES];
    if (m->verified && gomod_h1_gomod(body, len, h1) == 0 &&
        (rc = proxy_sumdb_check(j->s->sumdb, &m->verify, 1, h1, origin,
                                j->failure, sizeof j->failure)) < 0)
      return rc;
    rc = store_part_put(st, gp->module, gp->version, STORE_MOD, body, len,
                        origin);
    if (rc == 0)
      record_findings(j, body, len);
    return rc;
  case GP_ZIP: {
    /* The store inspects the zip once: its h1 is checked there against the
     * checksum database's. */
    struct gozip_report rep;
    rc = store_zip_put_fd(
        st, gp->module, gp->version, j->fd, origin, j->cfg->strict_zips,
        m->verified ? proxy_sumdb_want(&m->verify, 0) : NULL, &rep);
    if (rc == -EILSEQ)
      return proxy_sumdb_check(j->s->sumdb, &m->verify, 0, rep.h1, origin,
                               j->failure, sizeof j->failure);
    if (rc == -EBADMSG || rc == -E2BIG)
      snprintf(j->failure, sizeof j->failure,
               "the upstream's zip is unusable: %s", rep.error);
    else if (rc == -EPERM)
      snprintf(j->failure, sizeof j->failure,
               "the zip breaks the module zip rules, and this proxy runs "
               "with --strict-zips: %s",
               rep.violations[0]);
    if (rc < 0)
      return rc;
    struct store_zip_meta meta;
    rc = store_zip_stat(st, gp->module, gp->version, &meta);
    if (rc == 0) {
      j->result.zip_size = meta.size;
      snprintf(j->result.etag, sizeof j->result.etag, "\"%.32s\"", meta.sha256);
      store_zip_meta_dispose(&meta);
      j->result.body =
          proxy_zip_body(st, gp->module, gp->version, j->result.zip_size);
    }
    return rc;
  }
  default: break; /* not a module file: never this kind */
  }
  return -EINVAL;
}

static void dispose(struct fetch_job *j) {
  struct module_job *m = module_data(j);
  proxy_fetch_dispose(&m->list_fetch);
  proxy_vcs_dispose(&m->vcs);
  proxy_sumdb_verify_dispose(&m->verify);
}

const struct job_kind proxy_job_module = {
    .data_bytes = sizeof(struct module_job),
    .what = what,
    .source = source,
    .url = url,
    .staged = staged,
    .immutable = immutable,
    .start_private = start_private,
    .start_direct = start_direct,
    .verify = verify,
    .ingest = ingest,
    .before_explain = before_explain,
    .explain = explain,
    .remember = remember,
    .dispose = dispose,
};
