/*
 * Coalesced fetch jobs (jobs.c): one job per missing file, however many
 * waiters want it. A waiter is a request object its owner embeds (like a
 * uv_req_t): the job answers it through its own callbacks and never knows
 * who waits. What differs between the files a job can fetch (a module's
 * list, .info, .mod or .zip; a checksum database answer) is a job kind, an
 * ops table (like curl's Curl_handler): jobs.c walks the sources, records
 * the attempts and coalesces, the kind says where to fetch, how to check
 * and store, and how to explain a miss. Loop thread, except the ops marked
 * "worker". Private to proxy/goproxy.
 */
#ifndef PROXY_JOB_H
#define PROXY_JOB_H

#include <stddef.h>
#include <stdio.h>

#include "goproxy.h"

struct proxy_stream;

/* The object that embeds member p (libuv's container_of). */
#define container_of(p, type, member)                                          \
  ((type *)((char *)(p)-offsetof(type, member)))

/** The outcome of a fetch, handed to every request that waited for it. */
struct job_result {
  int status;              /**< 200, 404/410, or 502/504 */
  struct proxy_body *body; /**< small body, or the explanation on failure */
  char etag[40];
  uint64_t zip_size;    /**< for a zip */
  int upstream_error;   /**< failed for another reason than not-found */
  int fetched;          /**< 200 fresh from an upstream */
  int outcome;          /**< a diag_outcome to record, or -1: derive */
  const char *attempts; /**< JSON array of the upstream attempts */
  const char *refused;  /**< why the upstream's answer failed modproxy's
                             checks, or NULL; valid only during on_done */
};

struct job_waiter;
/** The job ended: r is borrowed for the call (ref r->body to keep it). */
typedef void (*job_done_cb)(struct job_waiter *w, const struct job_result *r);
/** A staged file (a zip) started streaming while it downloads: st is
 *  borrowed for the call (a waiter that keeps it takes a reference), and
 *  the waiter is done with the job. */
typedef void (*job_stream_cb)(struct job_waiter *w, struct proxy_stream *st);

/** One wait for a job; embedded and owned by the caller, in place until
 *  one of its callbacks ran (exactly one runs, exactly once). */
struct job_waiter {
  job_done_cb on_done;
  job_stream_cb on_stream; /**< NULL: wait for the stored answer instead */
  struct job_waiter *next; /**< private */
};

struct fetch_job;

/** A kind of job: what a job fetches and how it checks and stores it. */
struct job_kind {
  /** Bytes of per-job state the kind keeps at job_data(j), zeroed. */
  size_t data_bytes;
  /** "the version list of M", "M@V", ...: for messages. */
  void (*what)(const struct gp_req *gp, char *buf, size_t cap);
  /** The i-th source to try, or NULL past the last. */
  struct proxy_upstream *(*source)(struct proxy_server *s,
                                   const struct proxy_config *cfg,
                                   const struct gp_req *gp, int i);
  /** The file's URL below a source's base URL. */
  void (*url)(const struct gp_req *gp, const char *base, char *out, size_t cap);
  /** 1: the file is staged in a file (and may stream), not in memory. */
  int (*staged)(const struct gp_req *gp);
  /** 1: a 200 answer never changes (the hot cache keeps it for good). */
  int (*immutable)(const struct gp_req *gp);
  /** Optional: 1 when the kind took the job elsewhere (a private module's
   *  git) before any source; it then ends it with proxy_job_ingest,
   *  proxy_job_remember or proxy_job_done. */
  int (*start_private)(struct fetch_job *j);
  /** Optional: a source that is "direct" (git for a public module). */
  void (*start_direct)(struct fetch_job *j);
  /** Optional: 1 when a check of the fetched bytes started (it ends with
   *  proxy_job_verified); 0 stores them unchecked. */
  int (*verify)(struct fetch_job *j);
  /** Worker: checks and stores j->src_*. Sets j->failure when the
   *  source's bytes are refused; for a staged file, the body and etag. */
  int (*ingest)(struct fetch_job *j);
  /** Optional: 1 when the kind gathers more for a not-found explanation
   *  first (it then calls proxy_job_explain). */
  int (*before_explain)(struct fetch_job *j);
  /** The not-found explanation once some source was asked. */
  void (*explain)(struct fetch_job *j, char *text, size_t cap);
  /** Optional, worker, before the answer is stored: may replace its body,
   *  and stores what else the not-found answer gathered. */
  void (*remember)(struct fetch_job *j, int64_t now);
  /** Optional: frees what job_data(j) holds (the job is ending). */
  void (*dispose)(struct fetch_job *j);
};

/** The core's state (goproxy.h), as the files of proxy/goproxy see it. */
struct goproxy {
  struct hot_cache hot;
  struct fetch_job *jobs;      /**< in flight (coalescing) */
  struct proxy_cache *lastuse; /**< last use, eviction (lastuse.c) */
};

/** GOPROXY files: a module's list, @latest, .info, .mod and .zip
 *  (job_module.c). */
extern const struct job_kind proxy_job_module;

enum job_state {
  JOB_ATTEMPT,
  JOB_FETCHING,
  JOB_INGEST,
  JOB_REMEMBER,
  JOB_DONE,
  JOB_VERIFY,
};

/* What a job keeps of the upstreams' answers, for the explanation. */
#define JOB_ATTEMPTS_BYTES 1024

struct fetch_job {
  struct fetch_job *next;
  struct proxy_server *s;
  /** The configuration in effect when the job started (held): the job,
   *  on the loop and on worker threads, reads this one to its end. */
  const struct proxy_config *cfg;
  const struct job_kind *kind;
  enum job_state state;
  struct gp_req gp;
  char key[sizeof((struct gp_req *)0)->module +
           sizeof((struct gp_req *)0)->suffix + 2];
  struct job_waiter *waiters;
  int index; /* upstream being tried */
  int fd;    /* staging file (a staged kind), or -1 */
  struct proxy_fetch fetch;
  struct proxy_stream *stream; /* the download, sent as it arrives */
  int no_stream;               /* this download does not stream */
  /* What ingest stores: the answer's bytes (not for staged files) and
   * its origin. */
  const char *src_body;
  size_t src_len;
  const char *src_origin;
  char url[HTTP_MAX_URL_BYTES + 1024];
  char attempts[JOB_ATTEMPTS_BYTES];
  size_t attempts_len;
  /* The same attempts as a JSON array, for the request records; a kind
   * that asked others (git) may put its own in its place. */
  FILE *json;
  char *json_buf;
  size_t json_len;
  int json_count;
  const char *kind_attempts;
  uint64_t attempt_start_ms;
  int saw_error; /* some upstream failed for another reason than not-found */
  int denied;    /* some upstream answered 401 (a 403 is often "gone") */
  int timed_out;
  int not_found_status;
  uv_work_t work;
  struct job_result result;
  char failure[512]; /* ingest refused the upstream's bytes: why */
  int ingest_rc;
  _Alignas(max_align_t) unsigned char data[]; /* kind->data_bytes */
};

/** The kind's own state of j. */
static inline void *job_data(struct fetch_job *j) {
  return j->data;
}

/**
 * Joins (or starts) the job of `kind` that fetches gp (coalesced on key,
 * "<module>\n<suffix>"); w's callback runs when it ends, never from inside
 * this call unless the job could not start (out of memory: a 503).
 */
void proxy_job_join(struct proxy_server *s, const struct job_kind *kind,
                    const struct gp_req *gp, const char *key,
                    struct job_waiter *w);

/* ---- for the kinds' ops ------------------------------------------------- */

/** The job waits on something of the kind's (git): FETCHING. */
void proxy_job_fetching(struct fetch_job *j);
/** Stores body (borrowed until the job ends) from origin, then answers. */
void proxy_job_ingest(struct fetch_job *j, const char *body, size_t len,
                      const char *origin);
/** The check proxy_job_kind.verify started ended: stores the fetched file. */
void proxy_job_verified(struct fetch_job *j);
/** Stores the not-found answer in j->result, then answers. */
void proxy_job_remember(struct fetch_job *j);
/** Explains a miss (kind->explain), remembers it, answers. */
void proxy_job_explain(struct fetch_job *j);
/** Answers every waiter with j->result and frees the job. */
void proxy_job_done(struct fetch_job *j);
/** Replaces j->result's body with a copy of text. */
void proxy_job_set_body(struct fetch_job *j, const char *text);

#endif
