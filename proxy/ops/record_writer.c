/*
 * Request records on their way out: each finished request's record is
 * written as one JSON line to stdout (the request log) and kept in a batch;
 * every PROXY_RECORD_FLUSH_MS, or when the batch is full, the writer thread
 * writes the batch to the store's ring in one transaction. Until then
 * /diag/req finds a record here.
 *
 * The writer is a thread of its own at the lowest priority (nice 19), not
 * one of libuv's workers: writing a batch takes milliseconds of CPU (three
 * b-trees per record), and on a busy core the loop thread must not wait
 * for it; that wait was most of modproxy's tail latency. For the same
 * reason the writer yields its core every few records, and announces a
 * stored batch on an eventfd, not with uv_async_send: the loop spins while
 * an async sender is between its two steps, and a writer preempted there
 * (it is the lowest priority thread) held the loop thread for a scheduler
 * tick or more. When the writer falls behind (a saturated core), hits miss
 * the ring first: a failure's record takes the place of a hit's, since the
 * go command's error message points at it (/diag/req/<id>). No record ever
 * misses the log.
 *
 * Loop thread only, except the batch being flushed, which the writer reads
 * and the loop thread only reads too until the writer is done.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dash.h"
#include "modproxy/diag.h"
#include "mirror.h"
#include "ops.h"

struct record_batch {
  struct proxy_server *s;
  uint64_t keep; /* --diag-records when queued (the writer's thread reads) */
  size_t n;
  struct diag_record recs[PROXY_RECORD_BATCH];
  char *json[PROXY_RECORD_BATCH];
};

static void batch_free(struct record_batch *b) {
  if (b == NULL)
    return;
  for (size_t i = 0; i < b->n; i++) {
    diag_record_dispose(&b->recs[i]);
    free(b->json[i]);
  }
  free(b);
}

/* One batch at a time goes from the loop to the writer (queued) and back
 * (done, announced on the eventfd `efd`, which `poll` watches). */
struct record_writer {
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t wake;
  int efd;
  uv_poll_t poll;
  struct record_batch *queued, *done;
  int stop;
};

/* The writer's pause in the middle of a batch: on a kernel whose scheduler
 * lets a running task finish its slice (EEVDF), even a nice-19 writer
 * would hold a loop thread that just woke for a millisecond. */
static void writer_yield(void) {
  sched_yield();
}

static void store_batch(struct record_batch *b, void (*yield)(void)) {
  struct store_record rows[PROXY_RECORD_BATCH];
  size_t n = 0;
  for (size_t i = 0; i < b->n; i++) {
    if (b->json[i] == NULL)
      continue;
    rows[n++] = (struct store_record){
        .id = b->recs[i].id,
        .time_ms = b->recs[i].start_ms,
        .status = b->recs[i].status,
        .outcome = diag_outcome_name(b->recs[i].outcome),
        .module = b->recs[i].module,
        .version = b->recs[i].version,
        .target = b->recs[i].target,
        .client = b->recs[i].client,
        .json = b->json[i],
    };
  }
  store_records_put(b->s->store, rows, n, b->keep, yield);
  proxy_mirror_misses_put(b->s->mirror, b->recs, b->n);
}

static void writer_main(void *arg) {
  struct record_writer *w = arg;
  /* Nice 19. Not SCHED_IDLE: starved in the middle of a transaction, the
   * writer then held the store's write lock and its own for milliseconds
   * at a time (paced p99 7.2 ms against 2.0 ms at nice 19). Lowering one's
   * own priority needs no privilege. */
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  uv_mutex_lock(&w->lock);
  for (;;) {
    while (w->queued == NULL && !w->stop)
      uv_cond_wait(&w->wake, &w->lock);
    if (w->queued == NULL)
      break;
    struct record_batch *b = w->queued;
    w->queued = NULL;
    uv_mutex_unlock(&w->lock);
    store_batch(b, writer_yield);
    uv_mutex_lock(&w->lock);
    w->done = b;
    uv_mutex_unlock(&w->lock);
    uint64_t one = 1;
    while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR)
      ;
    uv_mutex_lock(&w->lock);
  }
  uv_mutex_unlock(&w->lock);
}

/* The writer finishes the batch it has, and ends. */
static void writer_stop(struct record_writer *w) {
  uv_mutex_lock(&w->lock);
  w->stop = 1;
  uv_cond_signal(&w->wake);
  uv_mutex_unlock(&w->lock);
  uv_thread_join(&w->thread);
}

static void flush(struct proxy_server *s);

static void on_stored(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  struct proxy_server *s = p->data;
  struct record_writer *w = s->record_writer;
  uint64_t n;
  while (read(w->efd, &n, sizeof n) < 0 && errno == EINTR)
    ;
  uv_mutex_lock(&w->lock);
  struct record_batch *b = w->done;
  w->done = NULL;
  uv_mutex_unlock(&w->lock);
  if (b == NULL)
    return;
  s->flushing = NULL;
  batch_free(b);
  if (s->records != NULL && s->records->n == PROXY_RECORD_BATCH)
    flush(s);
}

static void flush(struct proxy_server *s) {
  fflush(stdout);
  if (s->flushing != NULL || s->records == NULL || s->records->n == 0)
    return;
  struct record_writer *w = s->record_writer;
  s->flushing = s->records;
  s->records = NULL;
  s->flushing->keep = s->cfg->records_keep;
  uv_mutex_lock(&w->lock);
  w->queued = s->flushing;
  uv_cond_signal(&w->wake);
  uv_mutex_unlock(&w->lock);
}

static void on_timer(uv_timer_t *t) {
  flush(t->data);
}

static void on_writer_closed(uv_handle_t *h) {
  struct record_writer *w = h->data;
  close(w->efd);
  free(w);
}

/* Starts the writer thread and the flush timer. */
static int writer_start(struct proxy_server *s) {
  struct record_writer *w = calloc(1, sizeof *w);
  if (w == NULL)
    return -ENOMEM;
  int rc = uv_mutex_init(&w->lock);
  if (rc < 0) {
    free(w);
    return rc;
  }
  if ((rc = uv_cond_init(&w->wake)) < 0) {
    uv_mutex_destroy(&w->lock);
    free(w);
    return rc;
  }
  w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->efd < 0)
    rc = -errno;
  else if ((rc = uv_thread_create(&w->thread, writer_main, w)) == 0 &&
           (rc = uv_poll_init(s->loop, &w->poll, w->efd)) < 0)
    writer_stop(w);
  if (rc < 0) {
    if (w->efd >= 0)
      close(w->efd);
    uv_cond_destroy(&w->wake);
    uv_mutex_destroy(&w->lock);
    free(w);
    return rc;
  }
  w->poll.data = s;
  uv_poll_start(&w->poll, UV_READABLE, on_stored);
  /* The writer alone must not keep the loop (and shutdown) waiting. */
  uv_unref((uv_handle_t *)&w->poll);
  s->record_writer = w;
  uv_timer_init(s->loop, &s->record_timer);
  s->record_timer.data = s;
  uv_timer_start(&s->record_timer, on_timer, PROXY_RECORD_FLUSH_MS,
                 PROXY_RECORD_FLUSH_MS);
  /* The timer alone must not keep the loop (and shutdown) waiting. */
  uv_unref((uv_handle_t *)&s->record_timer);
  return 0;
}

int proxy_records_init(struct proxy_server *s) {
  /* /diag's aggregates start from the ring as the last run left it (a
   * serving process; export keeps no ring of its own to show). */
  s->dash = dash_new();
  if (s->dash == NULL)
    return -ENOMEM;
  if (s->cfg->listen != NULL)
    dash_seed(s->dash, s->store, s->cfg->records_keep);
  int rc = writer_start(s);
  if (rc < 0) {
    dash_free(s->dash);
    s->dash = NULL;
  }
  return rc;
}

/* A slot of the filling batch for r: the next one; or, when the batch is
 * full (the writer is behind), a hit's, if r is not a hit. -1: none. */
static int slot_for(struct record_batch *b, const struct diag_record *r) {
  if (b->n < PROXY_RECORD_BATCH)
    return (int)b->n++;
  if (r->outcome == DIAG_HIT)
    return -1;
  for (size_t i = b->n; i-- > 0;) {
    if (b->recs[i].outcome == DIAG_HIT) {
      diag_record_dispose(&b->recs[i]);
      free(b->json[i]);
      b->json[i] = NULL;
      return (int)i;
    }
  }
  return -1;
}

void proxy_records_push(struct proxy_server *s, struct diag_record *r) {
  if (s->records == NULL &&
      (s->records = calloc(1, sizeof *s->records)) != NULL)
    s->records->s = s;
  struct record_batch *b = s->records;
  char *line = diag_record_json(r);
  /* A process without a listener (export) keeps no request log. */
  if (line != NULL && s->cfg->listen != NULL)
    printf("%s\n", line);
  size_t was = b != NULL ? b->n : 0;
  int keep = diag_record_in_ring(r);
  if (keep)
    dash_record(s->dash, r);
  int i = b != NULL && keep ? slot_for(b, r) : -1;
  if (keep && (i < 0 || (size_t)i < was)) /* a record misses the ring */
    s->counters.records_shed++;
  if (i < 0) {
    free(line);
    diag_record_dispose(r);
  } else {
    b->recs[i] = *r;
    b->json[i] = line;
  }
  memset(r, 0, sizeof *r);
  if (b != NULL && was < PROXY_RECORD_BATCH && b->n == PROXY_RECORD_BATCH)
    flush(s);
}

static const struct diag_record *find_in(const struct record_batch *b,
                                         const char *id) {
  for (size_t i = b != NULL ? b->n : 0; i-- > 0;)
    if (strcmp(b->recs[i].id, id) == 0)
      return &b->recs[i];
  return NULL;
}

const struct diag_record *proxy_records_find(struct proxy_server *s,
                                             const char *id) {
  const struct diag_record *r = find_in(s->records, id);
  return r != NULL ? r : find_in(s->flushing, id);
}

void proxy_records_close(struct proxy_server *s) {
  /* Called once the loop is done: the writer finishes the batch it has,
   * then the rest is written here, synchronously. */
  fflush(stdout);
  struct record_writer *w = s->record_writer;
  writer_stop(w);
  batch_free(w->queued);
  batch_free(w->done);
  uv_cond_destroy(&w->wake);
  uv_mutex_destroy(&w->lock);
  w->poll.data = w;
  uv_close((uv_handle_t *)&w->poll, on_writer_closed);
  s->record_writer = NULL;
  s->flushing = NULL;
  if (s->records != NULL) {
    s->records->keep = s->cfg->records_keep;
    store_batch(s->records, NULL);
  }
  batch_free(s->records);
  s->records = NULL;
  uv_close((uv_handle_t *)&s->record_timer, NULL);
  dash_free(s->dash);
  s->dash = NULL;
}
