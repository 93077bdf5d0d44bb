/*
 * Request records on their way out: each finished request's record is
 * written as one JSON line to stdout (the request log) and kept in a batch;
 * every PROXY_RECORD_FLUSH_MS, or when the batch is full, a worker writes
 * the batch to the store's ring in one transaction. Until then /diag/req
 * finds a record here.
 *
 * Loop thread only, except the batch being flushed, which the worker reads
 * and the loop thread only reads too until the worker is done.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"
#include "server.h"

struct record_batch {
  uv_work_t work;
  struct proxy_server *s;
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

static void on_store(uv_work_t *w) {
  struct record_batch *b = w->data;
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
  store_records_put(b->s->store, rows, n, b->s->cfg->records_keep);
}

static void flush(struct proxy_server *s);

static void on_stored(uv_work_t *w, int status) {
  struct record_batch *b = w->data;
  struct proxy_server *s = b->s;
  s->flushing = NULL;
  batch_free(b);
  if (s->records != NULL && s->records->n == PROXY_RECORD_BATCH)
    flush(s);
}

static void flush(struct proxy_server *s) {
  fflush(stdout);
  if (s->flushing != NULL || s->records == NULL || s->records->n == 0)
    return;
  struct record_batch *b = s->records;
  s->records = NULL;
  s->flushing = b;
  b->work.data = b;
  if (uv_queue_work(s->loop, &b->work, on_store, on_stored) < 0) {
    s->flushing = NULL;
    batch_free(b);
  }
}

static void on_timer(uv_timer_t *t) {
  flush(t->data);
}

/* The record as JSON, through the server's reused stream (an
 * open_memstream per request would cost a large calloc each time). */
static char *render(struct proxy_server *s, const struct diag_record *r) {
  if (s->record_json == NULL)
    return diag_record_json(r);
  fseek(s->record_json, 0, SEEK_SET);
  diag_record_write_json(s->record_json, r);
  long n = ftell(s->record_json);
  fflush(s->record_json);
  return n >= 0 ? strndup(s->record_json_buf, (size_t)n) : NULL;
}

int proxy_records_init(struct proxy_server *s) {
  s->record_json = open_memstream(&s->record_json_buf, &s->record_json_len);
  uv_timer_init(s->loop, &s->record_timer);
  s->record_timer.data = s;
  uv_timer_start(&s->record_timer, on_timer, PROXY_RECORD_FLUSH_MS,
                 PROXY_RECORD_FLUSH_MS);
  /* The timer alone must not keep the loop (and shutdown) waiting. */
  uv_unref((uv_handle_t *)&s->record_timer);
  return 0;
}

void proxy_records_push(struct proxy_server *s, struct diag_record *r) {
  if (s->records == NULL)
    s->records = calloc(1, sizeof *s->records);
  if (s->records == NULL || s->records->n == PROXY_RECORD_BATCH) {
    /* The store is behind: the log line still goes out, the ring misses it. */
    char *line = render(s, r);
    if (line != NULL)
      printf("%s\n", line);
    free(line);
    diag_record_dispose(r);
    memset(r, 0, sizeof *r);
    return;
  }
  struct record_batch *b = s->records;
  b->s = s;
  b->recs[b->n] = *r;
  memset(r, 0, sizeof *r);
  b->json[b->n] = render(s, &b->recs[b->n]);
  if (b->json[b->n] != NULL)
    printf("%s\n", b->json[b->n]);
  if (++b->n == PROXY_RECORD_BATCH)
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
  /* Called once the loop is done: no flush is running after a clean drain,
   * so the rest is written here, synchronously. */
  fflush(stdout);
  if (s->records != NULL && s->flushing == NULL) {
    s->records->work.data = s->records;
    on_store(&s->records->work);
  }
  batch_free(s->records);
  s->records = NULL;
  if (s->record_json != NULL)
    fclose(s->record_json);
  free(s->record_json_buf);
  s->record_json = NULL;
  uv_close((uv_handle_t *)&s->record_timer, NULL);
}
