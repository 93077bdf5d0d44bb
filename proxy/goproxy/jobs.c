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
 *   |         VERIFY (the kind's check: for a public |
 *   |            |     .mod/.zip the checksum database's record)
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
 * clients while it downloads (a proxy_stream, route.h), all but its last
 * JOB_STREAM_HOLD_BYTES: those follow once it is checked and stored; a zip
 * that fails on the way cuts its clients off, so none ever holds a whole
 * zip that modproxy refused. Smaller zips are answered once stored, so
 * that a refusal reaches the client as an explanation.
 *
 * What is fetched from where, and how it is checked, stored and explained
 * is the job's kind (job.h): the module files (job_module.c) or a checksum
 * database's answers (sumdb_proxy.c). jobs.c has no branch on either; it
 * answers each waiter through the waiter's own callback.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "mirror.h"
#include "modproxy/diag.h"
#include "route.h" /* proxy_etag */

/* How much of an upstream's error body is quoted back. */
#define JOB_QUOTE_BYTES 160
/* Zips at least this large stream while they download: below it, storing
 * one takes a few milliseconds and the client gets a checked answer. */
#define JOB_STREAM_MIN_BYTES (1u << 20)
/* The end of a streamed zip, held back until it is stored: a client never
 * has the end of central directory (the zip's last bytes) of a zip that
 * was refused, and the missing bytes fail its Content-Length check. */
#define JOB_STREAM_HOLD_BYTES 4096u

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
void proxy_job_done(struct fetch_job *j) {
  job_state(j, JOB_DONE);
  struct proxy_server *s = j->s;
  for (struct fetch_job **p = &s->goproxy->jobs; *p != NULL; p = &(*p)->next) {
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
    r->attempts = j->kind_attempts != NULL ? j->kind_attempts : j->json_buf;
  }
  end_stream(j, r->status == 200,
             r->outcome >= 0 ? r->outcome : DIAG_UPSTREAM_ERROR, r->attempts,
             r->body != NULL ? r->body->data : NULL);
  if (r->status == 200 || r->status == 404 || r->status == 410) {
    struct hot_value v = {
        .status = r->status,
        .body = r->body,
        .zip_size = r->zip_size,
        .immutable = r->status == 200 && j->kind->immutable(&j->gp),
        .fetched = (int64_t)time(NULL),
    };
    memcpy(v.etag, r->etag, sizeof v.etag);
    hot_cache_put(&s->goproxy->hot, j->key, &v);
  }
  for (struct job_waiter *w = j->waiters, *next; w != NULL; w = next) {
    next = w->next;
    w->on_done(w, r);
  }
  if (j->fd >= 0)
    close(j->fd);
  proxy_fetch_dispose(&j->fetch);
  if (j->kind->dispose != NULL)
    j->kind->dispose(j);
  proxy_body_unref(r->body);
  free(j->json_buf);
  proxy_config_release(j->cfg);
  free(j);
}

void proxy_job_set_body(struct fetch_job *j, const char *text) {
  proxy_body_unref(j->result.body);
  j->result.body = proxy_body_new(text, strlen(text));
}

/* Every upstream failed, at least one for another reason than not-found. */
static void fail_upstream(struct fetch_job *j) {
  char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[2048];
  snprintf(text, sizeof text,
           "modproxy could not fetch %s from its upstream:\n%s%s",
           (j->kind->what(&j->gp, w, sizeof w), w), j->attempts,
           j->denied ? "The upstream wants credentials modproxy lacks or got "
                       "wrong: its operators set them in the --upstream URL "
                       "or modproxy's netrc file ($NETRC, ~/.netrc).\n"
                     : "This is a problem between modproxy and its upstream, "
                       "not in your module; retry, or tell the proxy's "
                       "operators.\n");
  j->result.status = j->timed_out ? 504 : 502;
  j->result.upstream_error = 1;
  proxy_job_set_body(j, text);
  proxy_job_done(j);
}

static void on_remembered(uv_work_t *w, int status) {
  proxy_job_done(w->data);
}

static void on_remember(uv_work_t *w) {
  struct fetch_job *j = w->data;
  int64_t now = (int64_t)time(NULL);
  if (j->kind->remember != NULL)
    j->kind->remember(j, now); /* may replace the answer's body */
  store_answer_put(j->s->store, j->gp.module, j->gp.suffix, j->result.status,
                   j->result.body->data, j->result.body->len, now, NULL);
}

void proxy_job_remember(struct fetch_job *j) {
  job_state(j, JOB_REMEMBER);
  j->work.data = j;
  if (uv_queue_work(j->s->loop, &j->work, on_remember, on_remembered) < 0)
    proxy_job_done(j);
}

/* No source has it: explain, and remember that for --not-found-ttl. */
void proxy_job_explain(struct fetch_job *j) {
  char w[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[2048];
  j->kind->what(&j->gp, w, sizeof w);
  if (j->attempts_len == 0 && j->cfg->offline) {
    proxy_mirror_explain(j->s->mirror, j->gp.module, j->gp.version, text,
                         sizeof text);
  } else if (j->attempts_len == 0) {
    snprintf(text, sizeof text,
             "%s is not in this proxy's cache, and modproxy runs with its "
             "upstreams off (--upstream off), so it cannot fetch it.\n",
             w);
  } else {
    j->kind->explain(j, text, sizeof text);
  }
  j->result.status = j->not_found_status != 0 ? j->not_found_status : 404;
  proxy_job_set_body(j, text);
  if (j->result.body == NULL) {
    j->result.status = 503;
    proxy_job_done(j);
    return;
  }
  proxy_job_remember(j);
}

static void not_found(struct fetch_job *j) {
  if (j->kind->before_explain == NULL || !j->kind->before_explain(j))
    proxy_job_explain(j);
}

/* ---- ingest (worker thread) --------------------------------------------- */

static void on_ingest(uv_work_t *w) {
  struct fetch_job *j = w->data;
  int rc = j->kind->ingest(j);
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
  if (j->fd < 0) { /* a staged file's body is the kind's (ingest) */
    j->result.body = proxy_body_new(j->src_body, j->src_len);
    proxy_etag(j->src_body, j->src_len, j->result.etag);
  }
}

/* A failure of modproxy's own store, not of the upstream: 503, worded so. */
static void fail_local(struct fetch_job *j, int err) {
  char wbuf[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[1024];
  snprintf(text, sizeof text,
           "modproxy could not store %s: %s.\nThe upstream answered; the "
           "problem is on the proxy's side. Retry shortly, or tell the "
           "proxy's operators.\n",
           (j->kind->what(&j->gp, wbuf, sizeof wbuf), wbuf),
           err == -EBUSY    ? "its cache database (modproxy.db) is locked by "
                              "another process"
           : err == -ENOSPC ? "its disk is full"
                            : strerror(-err));
  j->result.status = 503;
  j->result.upstream_error = 1;
  j->result.outcome = DIAG_STORE_ERROR;
  proxy_job_set_body(j, text);
}

static void on_ingested(uv_work_t *w, int status) {
  struct fetch_job *j = w->data;
  if (j->ingest_rc == -EBUSY || j->ingest_rc == -ENOSPC ||
      j->ingest_rc == -EIO) {
    fail_local(j, j->ingest_rc);
  } else if (j->result.status != 200 || (j->fd < 0 && j->result.body == NULL)) {
    char wbuf[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 32], text[1024];
    snprintf(text, sizeof text,
             "modproxy refused %s from %s:\n%s\nNothing was cached; retry "
             "later or tell the proxy's operators.\n",
             (j->kind->what(&j->gp, wbuf, sizeof wbuf), wbuf), j->src_origin,
             j->failure);
    j->result.status = 502;
    j->result.upstream_error = 1;
    j->result.refused = j->failure;
    proxy_job_set_body(j, text);
  }
  proxy_job_done(j);
}

/* ---- upstream attempts -------------------------------------------------- */

void proxy_job_ingest(struct fetch_job *j, const char *body, size_t len,
                      const char *origin) {
  j->src_body = body;
  j->src_len = len;
  j->src_origin = origin;
  job_state(j, JOB_INGEST);
  j->work.data = j;
  if (uv_queue_work(j->s->loop, &j->work, on_ingest, on_ingested) < 0) {
    j->result.status = 503;
    proxy_job_set_body(j, "modproxy could not queue the ingest; retry");
    proxy_job_done(j);
  }
}

void proxy_job_fetching(struct fetch_job *j) {
  job_state(j, JOB_FETCHING);
}

/* The source a job tries at j->index; NULL past the last. */
static struct proxy_upstream *job_upstream(struct fetch_job *j) {
  return j->kind->source(j->s, j->cfg, &j->gp, j->index);
}

void proxy_job_verified(struct fetch_job *j) {
  proxy_job_ingest(j, j->fetch.body, j->fetch.len, job_upstream(j)->shown);
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
  char url[HTTP_MAX_URL_BYTES + 1024];
  j->kind->url(&j->gp, u->shown, url, sizeof url);
  fprintf(j->json, "%s{\"url\":", j->json_count++ > 0 ? "," : "");
  diag_json_write(j->json, url);
  fprintf(j->json, ",\"status\":%ld,\"error\":", f->status);
  diag_json_write(j->json, f->rc < 0 ? f->error : NULL);
  fprintf(j->json, ",\"ms\":%u}",
          (unsigned)(uv_now(j->s->loop) - j->attempt_start_ms));
}

/* Counts the answer in the upstream's health, for /diag. */
static void record_health(struct fetch_job *j, const struct proxy_fetch *f) {
  struct proxy_upstream *u = job_upstream(j);
  struct upstream_health *h = &u->health;
  uint64_t ms = uv_now(j->s->loop) - j->attempt_start_ms;
  int answered =
      f->rc == 0 && (f->status == 200 || f->status == 404 || f->status == 410);
  upstream_health_latency(h, ms);
  if (j->s->upstream_answered != NULL)
    j->s->upstream_answered(j->s, u, ms, !answered);
  if (answered) {
    if (f->status == 200)
      h->ok++;
    else
      h->not_found++;
    h->last_ok = (int64_t)time(NULL);
    return;
  }
  h->errors++;
  h->errors_by[upstream_error_of(f)]++;
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
    /* Waiters that take a stream are done with the job; the others wait
     * for the stored answer. */
    struct job_waiter **p = &j->waiters;
    while (*p != NULL) {
      struct job_waiter *w = *p;
      if (w->on_stream == NULL) {
        p = &w->next;
        continue;
      }
      *p = w->next;
      w->on_stream(w, j->stream);
    }
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
    if (j->kind->verify == NULL) {
      proxy_job_ingest(j, f->body, f->len, u->shown);
      return;
    }
    job_state(j, JOB_VERIFY);
    if (!j->kind->verify(j))
      proxy_job_ingest(j, f->body, f->len, u->shown);
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
             (j->kind->what(&j->gp, w, sizeof w), w), u->shown, f->error);
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
      j->kind->start_direct(j);
      return;
    }
    j->kind->url(&j->gp, u->base, j->url, sizeof j->url);
    if (j->fd >= 0 &&
        (ftruncate(j->fd, 0) < 0 || lseek(j->fd, 0, SEEK_SET) < 0)) {
      note(j, "  staging file: %s\n", strerror(errno));
      j->saw_error = 1;
      break;
    }
    memset(&j->fetch, 0, sizeof j->fetch);
    j->fetch.url = j->url;
    j->fetch.fd = j->fd;
    j->fetch.max_bytes = j->fd >= 0 ? (size_t)GOMOD_MAX_ZIP_BYTES + 1
                                    : PROXY_MAX_SMALL_BODY_BYTES;
    j->fetch.on_done = on_fetched;
    j->fetch.on_data = j->fd >= 0 ? on_fetch_data : NULL;
    j->no_stream = 0;
    j->fetch.data = j;
    int rc = proxy_fetch_start(upstream_list_fetcher(s->upstreams), &j->fetch);
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

/* The job could not start: a 503, answered at once. */
static void refuse(struct job_waiter *w) {
  struct job_result fail = {.status = 503, .outcome = -1};
  w->on_done(w, &fail);
}

void proxy_job_join(struct proxy_server *s, const struct job_kind *kind,
                    const struct gp_req *gp, const char *key,
                    struct job_waiter *w) {
  for (struct fetch_job *j = s->goproxy->jobs; j != NULL; j = j->next) {
    if (j->kind != kind || strcmp(j->key, key) != 0)
      continue;
    s->counters.coalesced++;
    if (j->stream != NULL && w->on_stream != NULL) {
      w->on_stream(w, j->stream);
      return;
    }
    w->next = j->waiters;
    j->waiters = w;
    return;
  }
  struct fetch_job *j = calloc(1, sizeof *j + kind->data_bytes);
  if (j == NULL) {
    refuse(w);
    return;
  }
  j->result.outcome = -1;
  j->s = s;
  j->kind = kind;
  j->gp = *gp;
  snprintf(j->key, sizeof j->key, "%s", key);
  w->next = NULL;
  j->waiters = w;
  j->fd = -1;
  if (kind->staged(gp) && (j->fd = staging_file(s)) < 0) {
    fprintf(stderr, "job: cannot create a staging file in %s: %s\n", s->tmp_dir,
            strerror(errno));
    free(j);
    refuse(w);
    return;
  }
  j->cfg = proxy_config_hold(s);
  j->json = open_memstream(&j->json_buf, &j->json_len);
  if (j->json != NULL)
    fputc('[', j->json);
  j->next = s->goproxy->jobs;
  s->goproxy->jobs = j;
  if (kind->start_private == NULL || !kind->start_private(j))
    attempt(j);
}
