/*
 * Fetch jobs: one per missing file, however many requests wait for it
 * (coalescing). A job walks the upstream list the way the go command walks
 * GOPROXY, then ingests what it got and answers every waiter.
 *
 *            join (no job for the key)
 *                |
 *                v        404/410, or an error after '|'
 *   +-------> ATTEMPT <------------------------------+
 *   |            | fetch started                     |
 *   |            v                                   |
 *   |         FETCHING ---------------------------->-+
 *   |            | 200                               | error after ','
 *   |            v                                   | or list exhausted
 *   |         VERIFY (public .mod/.zip: the checksum |
 *   |            |     database's record, sumdb_verify.c)
 *   |            v                                   |
 *   |         INGEST (worker: verify, hash, store)   v
 *   |            |                                REMEMBER (worker: store
 *   |            v                                  a not-found answer)
 *   +------   DONE  <-----------------------------------+
 *            (answer the waiters, free the job)
 *
 * Zips are staged in an unlinked temporary file in the data directory, so
 * a killed process leaves nothing behind and nothing half-written is ever
 * visible in the store. A zip of JOB_STREAM_MIN_BYTES or more reaches its
 * clients while it downloads (a proxy_stream, conn.h), all but its last
 * JOB_STREAM_HOLD_BYTES: those follow once it is checked and stored; a zip
 * that fails on the way cuts its clients off, so none ever holds a whole
 * zip that modproxy refused. Smaller zips are answered once stored, so
 * that a refusal reaches the client as an explanation.
 *
 * A GP_SUMDB job fetches a checksum database answer the same way, from the
 * database's own sources (sumdb.c) instead of the --upstream list.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "fetch.h"
#include "vcs.h"
#include "modproxy/diag.h"
#include "modproxy/modfile.h"
#include "route.h"
#include "mirror.h"
#include "sumdb_proxy.h"

/* What a job keeps of the upstreams' answers, for the explanation. */
#define JOB_ATTEMPTS_BYTES 1024
/* How much of an upstream's error body is quoted back. */
#define JOB_QUOTE_BYTES 160
/* Zips at least this large stream while they download: below it, storing
 * one takes a few milliseconds and the client gets a checked answer. */
#define JOB_STREAM_MIN_BYTES (1u << 20)
/* The end of a streamed zip, held back until it is stored: a client never
 * has the end of central directory (the zip's last bytes) of a zip that
 * was refused, and the missing bytes fail its Content-Length check. */
#define JOB_STREAM_HOLD_BYTES 4096u

enum job_state {
  JOB_ATTEMPT,
  JOB_FETCHING,
  JOB_INGEST,
  JOB_REMEMBER,
  JOB_DONE,
  JOB_VERIFY,
};

struct fetch_job {
  struct fetch_job *next;
  struct proxy_server *s;
  enum job_state state;
  struct gp_req gp;
  char key[sizeof((struct route_ctx *)0)->key];
  struct route_ctx *waiters;
  int index; /* upstream being tried */
  int fd;    /* zip staging file, or -1 */
  struct proxy_fetch fetch;
  struct proxy_fetch list_fetch;    /* the module's list, to explain a miss */
  int list_fresh;                   /* ...fetched now: store it too */
  struct vcs_get vcs;               /* a private module's answer from git */
  struct proxy_sumdb_verify verify; /* the checksum database's record */
  struct proxy_stream *stream;      /* the download, sent as it arrives */
  int no_stream;                    /* this download does not stream */
  int verified;                     /* verify ran: compare before storing */
  /* What ingest stores: the answer's bytes (not for zips) and its origin. */
  const char *src_body;
  size_t src_len;
  const char *src_origin;
  char url[PROXY_MAX_URL_BYTES + 1024];
  char attempts[JOB_ATTEMPTS_BYTES];
  size_t attempts_len;
  /* The same attempts as a JSON array, for the request records. */
  FILE *json;
  char *json_buf;
  size_t json_len;
  int json_count;
  uint64_t attempt_start_ms;
  int saw_error; /* some upstream failed for another reason than not-found */
  int denied;    /* some upstream answered 401 (a 403 is often "gone") */
  int timed_out;
  int not_found_status;
  uv_work_t work;
  struct job_result result;
  char failure[512]; /* ingest refused the upstream's bytes: why */
  int ingest_rc;
};

static void attempt(struct fetch_job *j);

static void job_state(struct fetch_job *j, enum job_state to) {
  static const unsigned allowed[] = {
      [JOB_ATTEMPT] = 1u << JOB_FETCHING | 1u << JOB_REMEMBER | 1u << JOB_DONE,
      [JOB_FETCHING] = 1u << JOB_ATTEMPT | 1u << JOB_INGEST |
                       1u << JOB_REMEMBER | 1u << JOB_DONE | 1u << JOB_VERIFY,
      [JOB_VERIFY] = 1u << JOB_INGEST | 1u << JOB_DONE,
      [JOB_INGEST] = 1u << JOB_DONE,
      [JOB_REMEMBER] = 1u << JOB_DONE,
      [JOB_DONE] = 0,
  };
  if ((allowed[j->state] & (1u << to)) == 0) {
    fprintf(stderr, "job: illegal transition %d -> %d\n", j->state, to);
    abort();
  }
  j->state = to;
}

static const char *what(const struct gp_req *gp, char *buf, size_t len) {
  if (gp->kind == GP_LIST)
    snprintf(buf, len, "the version list of %s", gp->module);
  else if (gp->kind == GP_LATEST)
    snprintf(buf, len, "%s@latest", gp->module);
  else if (gp->kind == GP_SUMDB)
    snprintf(buf, len, "the checksum database answer %s/%s", gp->module,
             gp->suffix);
  else
    snprintf(buf, len, "%s@%s", gp->module, gp->version);
  return buf;
}

__attribute__((format(printf, 2, 3))) static void note(struct fetch_job *j,
                                                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = sizeof j->attempts - j->attempts_len;
  int n = vsnprintf(j->attempts + j->attempts_len, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    j->attempts_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* The download that was streaming ended: its clients get the rest (ok: the
 * zip is stored, and is the bytes they were sent) or are cut off. */
static void end_stream(struct fetch_job *j, int ok, int outcome,
                       const char *attempts, const char *why) {
  struct proxy_stream *st = j->stream;
  if (st == NULL)
    return;
  j->stream = NULL;
  if (ok && j->fetch.len == st->size) {
    st->ready = st->size;
  } else {
    st->failed = 1;
    st->outcome = outcome;
    st->why = why != NULL ? strdup(why) : NULL;
  }
  if (attempts != NULL)
    st->attempts = strdup(attempts);
  proxy_stream_wake(st);
  proxy_stream_unref(st);
}

/* Answers every waiter and frees the job. */
static void job_done(struct fetch_job *j) {
  job_state(j, JOB_DONE);
  struct proxy_server *s = j->s;
  for (struct fetch_job **p = &s->jobs; *p != NULL; p = &(*p)->next) {
    if (*p == j) {
      *p = j->next;
      break;
    }
  }
  struct job_result *r = &j->result;
  if (j->json != NULL) {
    fputc(']', j->json);
    fclose(j->json);
    j->json = NULL;
    /* For a private module the git commands are the attempts. */
    r->attempts = j->vcs.attempts != NULL ? j->vcs.attempts : j->json_buf;
  }
  end_stream(j, r->status == 200,
             r->outcome >= 0 ? r->outcome : DIAG_UPSTREAM_ERROR, r->attempts,
             r->body != NULL ? r->body->data : NULL);
  if (r->status == 200 || r->status == 404 || r->status == 410) {
    struct hot_value v = {
        .status = r->status,
        .body = r->body,
        .zip_size = r->zip_size,
        .immutable = r->status == 200 && j->gp.canonical &&
                     j->gp.kind != GP_LIST && j->gp.kind != GP_LATEST,
        .fetched = (int64_t)time(NULL),
    };
    memcpy(v.etag, r->etag, sizeof v.etag);
    hot_cache_put(&s->hot, j->key, &v);
  }
  for (struct route_ctx *w = j->waiters, *next; w != NULL; w = next) {
    next = w->next_waiter;
    proxy_route_finish(w, r);
  }
  if (j->fd >= 0)
    close(j->fd);
  proxy_fetch_dispose(&j->fetch);
  proxy_fetch_dispose(&j->list_fetch);
  proxy_vcs_dispose(&j->vcs);
  proxy_sumdb_verify_dispose(&j->verify);
  proxy_body_unref(r->body);
  free(j->json_buf);
  free(j);
}

static void set_body(struct fetch_job *j, const char *text) {
  proxy_body_unref(j->result.body);
  j->result.body = proxy_body_new(text, strlen(text));
}

/* Every upstream failed, at least one for another reason than not-found. */
static void fail_upstream(struct fetch_job *j) {
  char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[2048];
  snprintf(text, sizeof text,
           "modproxy could not fetch %s from its upstream:\n%s%s",
           what(&j->gp, w, sizeof w), j->attempts,
           j->denied ? "The upstream wants credentials modproxy lacks or got "
                       "wrong: its operators set them in the --upstream URL "
                       "or modproxy's netrc file ($NETRC, ~/.netrc).\n"
                     : "This is a problem between modproxy and its upstream, "
                       "not in your module; retry, or tell the proxy's "
                       "operators.\n");
  j->result.status = j->timed_out ? 504 : 502;
  j->result.upstream_error = 1;
  set_body(j, text);
  job_done(j);
}

static void on_remembered(uv_work_t *w, int status) {
  job_done(w->data);
}

static void on_remember(uv_work_t *w) {
  struct fetch_job *j = w->data;
  int64_t now = (int64_t)time(NULL);
  store_answer_put(j->s->store, j->gp.module, j->gp.suffix, j->result.status,
                   j->result.body->data, j->result.body->len, now, NULL);
  /* The list fetched for the explanation is an answer like any other: the
   * hot cache has it, so the store must too (or it could not be served
   * stale once the upstreams are down). */
  if (j->list_fresh)
    store_answer_put(j->s->store, j->gp.module, "@v/list", 200,
                     j->list_fetch.body != NULL ? j->list_fetch.body : "",
                     j->list_fetch.len, now, j->s->upstreams[0].shown);
}

/* What the not-found explanation says about a missing version, from the
 * module's version list (fetched for the purpose). */
static void describe_missing(struct fetch_job *j, char *out, size_t cap) {
  const struct proxy_fetch *f = &j->list_fetch;
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

static void explain_not_found(struct fetch_job *j);

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
      hot_cache_put(&j->s->hot, key, &v);
      proxy_body_unref(v.body);
      j->list_fresh = 1;
    }
  }
  explain_not_found(j);
}

/* The module's list from the hot cache when it is fresh there: a missing
 * version's explanation then costs no upstream request. */
static int cached_list(struct fetch_job *j) {
  char key[sizeof j->key];
  hot_cache_key(key, sizeof key, j->gp.module, "@v/list");
  struct hot_value v;
  if (!hot_cache_get(&j->s->hot, key, &v) || v.status != 200 ||
      v.body == NULL ||
      (int64_t)time(NULL) - v.fetched >= j->s->cfg->list_ttl_s)
    return 0;
  struct proxy_fetch *f = &j->list_fetch;
  f->body = strndup(v.body->data, v.body->len);
  if (f->body == NULL)
    return 0;
  f->len = v.body->len;
  f->url = "(cached)";
  f->rc = 0;
  f->status = 200;
  return 1;
}

/* No upstream has it: explain, and remember that for --not-found-ttl. A
 * missing version of a module first fetches the module's list, to say
 * which versions do exist. */
static void not_found(struct fetch_job *j) {
  const struct proxy_upstream *first = &j->s->upstreams[0];
  int versioned =
      j->gp.kind != GP_LIST && j->gp.kind != GP_LATEST && j->gp.canonical;
  if (versioned && j->attempts_len > 0 && cached_list(j)) {
    explain_not_found(j);
    return;
  }
  if (versioned && j->attempts_len > 0 && first->base != NULL) {
    snprintf(j->url, sizeof j->url, "%s/%s/@v/list", first->base,
             j->gp.escaped_module);
    j->list_fetch.url = j->url;
    j->list_fetch.fd = -1;
    j->list_fetch.max_bytes = PROXY_MAX_SMALL_BODY_BYTES;
    j->list_fetch.on_done = on_list_fetched;
    j->list_fetch.data = j;
    if (proxy_fetch_start(j->s->fetcher, &j->list_fetch) == 0) {
      j->s->counters.upstream_requests++;
      return;
    }
  }
  explain_not_found(j);
}

static void explain_not_found(struct fetch_job *j) {
  char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[2048];
  what(&j->gp, w, sizeof w);
  if (j->attempts_len == 0 && j->s->cfg->offline) {
    proxy_mirror_explain(j->s, &j->gp, text, sizeof text);
  } else if (j->attempts_len == 0) {
    snprintf(text, sizeof text,
             "%s is not in this proxy's cache, and modproxy runs with its "
             "upstreams off (--upstream off), so it cannot fetch it.\n",
             w);
  } else if (j->list_fetch.url != NULL) {
    char head[1024];
    describe_missing(j, head, sizeof head);
    snprintf(text, sizeof text, "%smodproxy asked its upstreams:\n%s", head,
             j->attempts);
  } else if (j->gp.kind == GP_SUMDB) {
    snprintf(text, sizeof text,
             "%s: the checksum database does not have it.\nmodproxy asked:\n"
             "%sA private module is not in a public database: set GONOSUMDB "
             "(or GOPRIVATE) for it on the client.\n",
             w, j->attempts);
  } else if (j->gp.kind == GP_LIST || j->gp.kind == GP_LATEST) {
    snprintf(text, sizeof text,
             "module %s: no upstream knows it.\nmodproxy asked its "
             "upstreams:\n%sCheck the module path for typos, or whether the "
             "module moved (the import path in your code may be stale).\n",
             j->gp.module, j->attempts);
  } else {
    snprintf(text, sizeof text,
             "%s: not found.\nmodproxy asked its upstreams:\n%s"
             "Check the version; go list -m -versions %s shows the versions "
             "that exist.\n",
             w, j->attempts, j->gp.module);
  }
  j->result.status = j->not_found_status != 0 ? j->not_found_status : 404;
  set_body(j, text);
  if (j->result.body == NULL) {
    j->result.status = 503;
    job_done(j);
    return;
  }
  job_state(j, JOB_REMEMBER);
  j->work.data = j;
  if (uv_queue_work(j->s->loop, &j->work, on_remember, on_remembered) < 0)
    job_done(j);
}

/* ---- ingest (worker thread) --------------------------------------------- */

/* Findings about a go.mod, recorded once per module version for /diag. */
static void record_findings(struct fetch_job *j, const char *gomod,
                            size_t len) {
  struct diag_gomod_finding f[DIAG_GOMOD_FINDINGS];
  int n = diag_gomod_findings(j->gp.module, j->gp.version, gomod, len,
                              j->s->cfg->go_release, f, DIAG_GOMOD_FINDINGS);
  for (int i = 0; i < n; i++)
    store_finding_put(j->s->store, j->gp.module, f[i].version, f[i].kind,
                      f[i].message);
}

/* Checks and stores a 200 answer. Sets j->failure when the upstream's
 * bytes are refused. */
static int ingest(struct fetch_job *j) {
  struct store *st = j->s->store;
  const struct gp_req *gp = &j->gp;
  const char *body = j->src_body, *origin = j->src_origin;
  size_t len = j->src_len;
  char v[GOMOD_MAX_VERSION_BYTES];
  int rc;
  if (j->verified &&
      (rc = proxy_sumdb_refuse_bad(j->s, &j->verify, gp, origin, j->failure,
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
  case GP_SUMDB:
    return proxy_sumdb_ingest(j->s, gp, body, len, origin, j->failure,
                              sizeof j->failure);
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
    if (j->verified && gomod_h1_gomod(body, len, h1) == 0 &&
        (rc = proxy_sumdb_check(j->s, &j->verify, gp, h1, origin, j->failure,
                                sizeof j->failure)) < 0)
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
        st, gp->module, gp->version, j->fd, origin, j->s->cfg->strict_zips,
        j->verified ? proxy_sumdb_want(&j->verify, gp) : NULL, &rep);
    if (rc == -EILSEQ)
      return proxy_sumdb_check(j->s, &j->verify, gp, rep.h1, origin, j->failure,
                               sizeof j->failure);
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
    struct store_zip_meta m;
    rc = store_zip_stat(st, gp->module, gp->version, &m);
    if (rc == 0) {
      j->result.zip_size = m.size;
      snprintf(j->result.etag, sizeof j->result.etag, "\"%.32s\"", m.sha256);
      store_zip_meta_dispose(&m);
    }
    return rc;
  }
  }
  return -EINVAL;
}

static void on_ingest(uv_work_t *w) {
  struct fetch_job *j = w->data;
  int rc = ingest(j);
  j->ingest_rc = rc;
  if (rc < 0) {
    j->result.status = 502;
    if (j->failure[0] == '\0')
      snprintf(j->failure, sizeof j->failure, "modproxy could not store it: %s",
               strerror(-rc));
    return;
  }
  j->result.status = 200;
  j->result.fetched = 1;
  if (j->gp.kind != GP_ZIP) {
    j->result.body = proxy_body_new(j->src_body, j->src_len);
    proxy_etag(j->src_body, j->src_len, j->result.etag);
  } else {
    j->result.body = proxy_zip_body(j->s->store, j->gp.module, j->gp.version,
                                    j->result.zip_size);
  }
}

/* A failure of modproxy's own store, not of the upstream: 503, worded so. */
static void fail_local(struct fetch_job *j, int err) {
  char wbuf[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[1024];
  snprintf(text, sizeof text,
           "modproxy could not store %s: %s.\nThe upstream answered; the "
           "problem is on the proxy's side. Retry shortly, or tell the "
           "proxy's operators.\n",
           what(&j->gp, wbuf, sizeof wbuf),
           err == -EBUSY    ? "its cache database (modproxy.db) is locked by "
                              "another process"
           : err == -ENOSPC ? "its disk is full"
                            : strerror(-err));
  j->result.status = 503;
  j->result.upstream_error = 1;
  j->result.outcome = DIAG_STORE_ERROR;
  set_body(j, text);
}

static void on_ingested(uv_work_t *w, int status) {
  struct fetch_job *j = w->data;
  if (j->ingest_rc == -EBUSY || j->ingest_rc == -ENOSPC ||
      j->ingest_rc == -EIO) {
    fail_local(j, j->ingest_rc);
  } else if (j->result.status != 200 ||
             (j->gp.kind != GP_ZIP && j->result.body == NULL)) {
    char wbuf[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[1024];
    snprintf(text, sizeof text,
             "modproxy refused %s from %s:\n%s\nNothing was cached; retry "
             "later or tell the proxy's operators.\n",
             what(&j->gp, wbuf, sizeof wbuf), j->src_origin, j->failure);
    j->result.status = 502;
    j->result.upstream_error = 1;
    j->result.refused = j->failure;
    set_body(j, text);
  }
  job_done(j);
}

/* ---- upstream attempts -------------------------------------------------- */

static void start_ingest(struct fetch_job *j, const char *body, size_t len,
                         const char *origin) {
  j->src_body = body;
  j->src_len = len;
  j->src_origin = origin;
  job_state(j, JOB_INGEST);
  j->work.data = j;
  if (uv_queue_work(j->s->loop, &j->work, on_ingest, on_ingested) < 0) {
    j->result.status = 503;
    set_body(j, "modproxy could not queue the ingest; retry");
    job_done(j);
  }
}

/* A private module's answer from git. */
static void on_vcs_done(struct vcs_get *r) {
  struct fetch_job *j = r->data;
  if (r->status == 200) {
    start_ingest(j, r->body, r->len, r->origin);
    return;
  }
  j->result.status = r->status;
  j->result.upstream_error = r->status != 404 && r->status != 410;
  j->result.outcome = r->no_route && !r->direct  ? DIAG_PRIVATE_ROUTE
                      : j->result.upstream_error ? DIAG_GIT_ERROR
                                                 : DIAG_NOT_FOUND;
  set_body(j, r->body != NULL ? r->body : "private module: git failed\n");
  if (j->result.upstream_error || j->result.body == NULL) {
    job_done(j);
    return;
  }
  job_state(j, JOB_REMEMBER);
  j->work.data = j;
  if (uv_queue_work(j->s->loop, &j->work, on_remember, on_remembered) < 0)
    job_done(j);
}

/* Hands the job to git (vcs.c): a private module, or "direct" in the
 * --upstream list. */
static void start_vcs(struct fetch_job *j, int direct) {
  j->vcs.gp = &j->gp;
  j->vcs.fd = j->fd;
  j->vcs.direct = direct;
  j->vcs.on_done = on_vcs_done;
  j->vcs.data = j;
  int rc = proxy_vcs_start(j->s, &j->vcs);
  if (rc == 0) {
    job_state(j, JOB_FETCHING);
    return;
  }
  char text[256];
  snprintf(text, sizeof text, "modproxy could not start git for %s: %s\n",
           j->gp.module, strerror(-rc));
  j->result.status = 502;
  j->result.upstream_error = 1;
  set_body(j, text);
  job_done(j);
}

/* Private modules never reach an upstream: git answers them. */
static int attempt_private(struct fetch_job *j) {
  if (j->s->cfg->offline || j->gp.kind == GP_SUMDB ||
      !proxy_vcs_private(j->s, j->gp.module))
    return 0;
  start_vcs(j, 0);
  return 1;
}

/* The upstream a job tries at j->index: the --upstream list, or for a
 * checksum database its own sources (sumdb.c). NULL past the last. */
static struct proxy_upstream *job_upstream(struct fetch_job *j) {
  if (j->gp.kind == GP_SUMDB)
    return proxy_sumdb_source(j->s, &j->gp, j->index);
  return j->index < j->s->nupstreams ? &j->s->upstreams[j->index] : NULL;
}

/* The URL of the job's file below an upstream's base URL. */
static void job_url(const struct fetch_job *j, const char *base, char *out,
                    size_t cap) {
  if (j->gp.kind == GP_SUMDB)
    snprintf(out, cap, "%s/%s", base, j->gp.suffix);
  else
    snprintf(out, cap, "%s/%s/%s", base, j->gp.escaped_module, j->gp.suffix);
}

/* The checksum database's record is in (or could not be had): store. */
static void on_verified(struct proxy_sumdb_verify *v) {
  struct fetch_job *j = v->data;
  j->verified = 1;
  start_ingest(j, j->fetch.body, j->fetch.len, job_upstream(j)->shown);
}

/* A public .mod or .zip is checked against the checksum database before
 * it is stored (--verify-sumdb). */
static int start_verify(struct fetch_job *j) {
  if (!proxy_sumdb_should_verify(j->s, &j->gp))
    return 0;
  j->verify.on_done = on_verified;
  j->verify.data = j;
  job_state(j, JOB_VERIFY);
  /* When it cannot start, the file is stored unchecked (INGEST follows). */
  return proxy_sumdb_verify_start(j->s, &j->verify, j->gp.module,
                                  j->gp.version) == 0;
}

/* The first line of an upstream's text error body, for the explanation. */
static void quote_body(const struct proxy_fetch *f, char *out, size_t cap) {
  out[0] = '\0';
  if (f->body == NULL || strncmp(f->content_type, "text/plain", 10) != 0)
    return;
  size_t n = strcspn(f->body, "\r\n");
  if (n > JOB_QUOTE_BYTES)
    n = JOB_QUOTE_BYTES;
  snprintf(out, cap, ": %.*s", (int)n, f->body);
}

/* Adds an attempt to the JSON list (credentials are not in `shown`). */
static void record_attempt(struct fetch_job *j, const struct proxy_fetch *f) {
  if (j->json == NULL)
    return;
  const struct proxy_upstream *u = job_upstream(j);
  char url[PROXY_MAX_URL_BYTES + 1024];
  job_url(j, u->shown, url, sizeof url);
  fprintf(j->json, "%s{\"url\":", j->json_count++ > 0 ? "," : "");
  diag_json_write(j->json, url);
  fprintf(j->json, ",\"status\":%ld,\"error\":", f->status);
  diag_json_write(j->json, f->rc < 0 ? f->error : NULL);
  fprintf(j->json, ",\"ms\":%u}",
          (unsigned)(uv_now(j->s->loop) - j->attempt_start_ms));
}

/* Counts the answer in the upstream's health, for /diag. */
static void record_health(struct fetch_job *j, const struct proxy_fetch *f) {
  struct upstream_health *h = &job_upstream(j)->health;
  proxy_metrics_upstream(h, uv_now(j->s->loop) - j->attempt_start_ms);
  if (f->rc == 0 &&
      (f->status == 200 || f->status == 404 || f->status == 410)) {
    if (f->status == 200)
      h->ok++;
    else
      h->not_found++;
    h->last_ok = (int64_t)time(NULL);
    return;
  }
  h->errors++;
  h->last_error_at = (int64_t)time(NULL);
  if (f->rc < 0)
    snprintf(h->last_error, sizeof h->last_error, "%s", f->error);
  else
    snprintf(h->last_error, sizeof h->last_error, "HTTP %ld for %s", f->status,
             j->gp.suffix);
}

/* A zip streams only when the disk has room to stage and store it: a full
 * disk is then found before the first byte goes out, and is explained. */
static int room_for(const struct fetch_job *j, uint64_t size) {
  struct statvfs sv;
  return statvfs(j->s->tmp_dir, &sv) == 0 &&
         (uint64_t)sv.f_bavail * sv.f_frsize / 2 >= size;
}

/* More of a zip is staged: stream it (a large zip of known length), or let
 * its clients have more of it. */
static void on_fetch_data(struct proxy_fetch *f) {
  struct fetch_job *j = f->data;
  if (j->stream == NULL) {
    if (j->no_stream || f->expected < (int64_t)JOB_STREAM_MIN_BYTES ||
        f->expected > (int64_t)GOMOD_MAX_ZIP_BYTES ||
        !room_for(j, (uint64_t)f->expected) ||
        (j->stream = proxy_stream_new(j->fd, (uint64_t)f->expected)) == NULL) {
      j->no_stream = 1;
      return;
    }
    for (struct route_ctx *w = j->waiters, *next; w != NULL; w = next) {
      next = w->next_waiter;
      proxy_route_stream(w, j->stream);
    }
    j->waiters = NULL;
  }
  uint64_t held = j->stream->size - JOB_STREAM_HOLD_BYTES;
  j->stream->ready = f->len < held ? f->len : held;
  proxy_stream_wake(j->stream);
}

/* An upstream's answer that the version is not there: 404 and 410, as for
 * the go command; and for golang.org/toolchain also 403, the module
 * proxy's "This module version is not available." for a Go release it does
 * not have (so that it is explained like a missing version). */
static int answers_not_found(const struct fetch_job *j,
                             const struct proxy_fetch *f) {
  if (f->rc != 0)
    return 0;
  return f->status == 404 || f->status == 410 ||
         (f->status == 403 && strcmp(j->gp.module, DIAG_TOOLCHAIN_MODULE) == 0);
}

static void on_fetched(struct proxy_fetch *f) {
  struct fetch_job *j = f->data;
  const struct proxy_upstream *u = job_upstream(j);
  record_attempt(j, f);
  record_health(j, f);
  if (f->rc == 0 && f->status == 200) {
    if (!start_verify(j))
      start_ingest(j, f->body, f->len, u->shown);
    return;
  }
  char quote[JOB_QUOTE_BYTES + 8] = "";
  if (f->rc == 0) {
    quote_body(f, quote, sizeof quote);
    note(j, "  %s: HTTP %ld%s\n", u->shown, f->status, quote);
  } else {
    note(j, "  %s: %s\n", u->shown, f->error);
  }
  int nf = answers_not_found(j, f);
  if (f->rc == 0 && f->status == 401)
    j->denied = 1;
  if (nf)
    j->not_found_status = f->status == 410 ? 410 : 404;
  else
    j->saw_error = 1;
  if (f->rc == -ETIMEDOUT)
    j->timed_out = 1;
  if (j->stream != NULL) {
    char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], why[1024];
    snprintf(why, sizeof why,
             "modproxy was sending %s as it downloaded from %s when the "
             "download failed: %s\nThe client was cut off; retry.\n",
             what(&j->gp, w, sizeof w), u->shown, f->error);
    end_stream(j, 0, DIAG_UPSTREAM_ERROR, NULL, why);
  }
  proxy_fetch_dispose(f);
  job_state(j, JOB_ATTEMPT);
  if (!nf && !u->fall_any) {
    fail_upstream(j);
    return;
  }
  j->index++;
  attempt(j);
}

/* Tries upstream j->index and the ones after it. */
static void attempt(struct fetch_job *j) {
  struct proxy_server *s = j->s;
  for (;; j->index++) {
    const struct proxy_upstream *u = job_upstream(j);
    if (u == NULL || u->base == NULL)
      break; /* the end of the list, or "off" */
    if (u->direct) {
      start_vcs(j, 1);
      return;
    }
    job_url(j, u->base, j->url, sizeof j->url);
    if (j->gp.kind == GP_ZIP &&
        (ftruncate(j->fd, 0) < 0 || lseek(j->fd, 0, SEEK_SET) < 0)) {
      note(j, "  staging file: %s\n", strerror(errno));
      j->saw_error = 1;
      break;
    }
    memset(&j->fetch, 0, sizeof j->fetch);
    j->fetch.url = j->url;
    j->fetch.fd = j->gp.kind == GP_ZIP ? j->fd : -1;
    j->fetch.max_bytes = j->gp.kind == GP_ZIP ? (size_t)GOMOD_MAX_ZIP_BYTES + 1
                                              : PROXY_MAX_SMALL_BODY_BYTES;
    j->fetch.on_done = on_fetched;
    j->fetch.on_data = j->gp.kind == GP_ZIP ? on_fetch_data : NULL;
    j->no_stream = 0;
    j->fetch.data = j;
    int rc = proxy_fetch_start(s->fetcher, &j->fetch);
    if (rc == 0) {
      j->attempt_start_ms = uv_now(s->loop);
      s->counters.upstream_requests++;
      job_state(j, JOB_FETCHING);
      return;
    }
    note(j, "  %s: %s\n", u->shown, strerror(-rc));
    j->saw_error = 1;
    if (!u->fall_any)
      break;
  }
  if (j->saw_error)
    fail_upstream(j);
  else
    not_found(j);
}

/* An unlinked staging file for a zip download. */
static int staging_file(struct proxy_server *s) {
  char path[sizeof s->tmp_dir + 32];
  snprintf(path, sizeof path, "%s/fetch-XXXXXX", s->tmp_dir);
  int fd = mkstemp(path);
  if (fd >= 0)
    unlink(path);
  return fd;
}

void proxy_job_join(struct proxy_server *s, struct route_ctx *ctx) {
  for (struct fetch_job *j = s->jobs; j != NULL; j = j->next) {
    if (strcmp(j->key, ctx->key) == 0 && j->stream != NULL) {
      s->counters.coalesced++;
      proxy_route_stream(ctx, j->stream);
      return;
    }
    if (strcmp(j->key, ctx->key) == 0) {
      ctx->next_waiter = j->waiters;
      j->waiters = ctx;
      s->counters.coalesced++;
      return;
    }
  }
  struct fetch_job *j = calloc(1, sizeof *j);
  struct job_result fail = {.status = 503, .outcome = -1};
  if (j != NULL)
    j->result.outcome = -1;
  if (j == NULL) {
    proxy_route_finish(ctx, &fail);
    return;
  }
  j->s = s;
  j->gp = ctx->gp;
  memcpy(j->key, ctx->key, sizeof j->key);
  j->waiters = ctx;
  j->fd = -1;
  if (ctx->gp.kind == GP_ZIP && (j->fd = staging_file(s)) < 0) {
    fprintf(stderr, "job: cannot create a staging file in %s: %s\n", s->tmp_dir,
            strerror(errno));
    free(j);
    proxy_route_finish(ctx, &fail);
    return;
  }
  j->json = open_memstream(&j->json_buf, &j->json_len);
  if (j->json != NULL)
    fputc('[', j->json);
  j->next = s->jobs;
  s->jobs = j;
  if (!attempt_private(j))
    attempt(j);
}
