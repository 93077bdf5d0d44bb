/*
 * The generators of zip bodies (http.h's struct http_generator): a zip read
 * from the store a step at a time on a worker thread, and a zip sent to its
 * clients while it downloads (a proxy_stream, fed by jobs.c).
 *
 * A generator is freed by its stop, or after it when work it started (a
 * store read, a wait for downloaded bytes) ends: the connection may close
 * in the meantime, and never sees the generator again after stop.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "route.h"

/* ---- a zip from the store ----------------------------------------------- */

struct zip_gen {
  struct http_generator gen; /* first: the generator is the zip_gen */
  struct store *store;
  uv_loop_t *loop;
  uv_work_t work;
  struct proxy_conn *conn; /* held while a read runs */
  char *chunk;             /* PROXY_ZIP_CHUNK_BYTES, on first use */
  uint64_t off;
  size_t want;
  int64_t got;
  int reading, stopped;
  char *version; /* in the same allocation, after module */
  char module[];
};

static void zip_gen_free(struct zip_gen *z) {
  free(z->chunk);
  free(z);
}

static void on_zip_read(uv_work_t *w) {
  struct zip_gen *z = w->data;
  z->got = store_zip_read(z->store, z->module, z->version, z->off, z->chunk,
                          z->want);
}

static void on_zip_read_done(uv_work_t *w, int status) {
  struct zip_gen *z = w->data;
  struct proxy_conn *c = z->conn;
  z->reading = 0;
  if (z->stopped) {
    zip_gen_free(z);
    proxy_conn_release(c);
    return;
  }
  proxy_conn_release(c);
  if (status < 0 || z->got <= 0) {
    /* The head is out: all we can do is cut the body short, which the
     * client detects by Content-Length. */
    fprintf(stderr, "conn %s: zip read failed at %" PRIu64 ": %s\n",
            proxy_conn_id(c), z->off, strerror((int)-z->got));
    proxy_conn_body_fail(c);
    return;
  }
  proxy_conn_body_write(c, z->chunk, (size_t)z->got);
}

static void zip_proceed(struct http_generator *g, struct proxy_conn *c,
                        uint64_t off, uint64_t left) {
  struct zip_gen *z = (struct zip_gen *)g;
  if (z->chunk == NULL)
    z->chunk = malloc(PROXY_ZIP_CHUNK_BYTES);
  if (z->chunk == NULL) {
    proxy_conn_body_fail(c);
    return;
  }
  z->off = off;
  z->want = left < PROXY_ZIP_CHUNK_BYTES ? (size_t)left : PROXY_ZIP_CHUNK_BYTES;
  z->conn = c;
  z->work.data = z;
  proxy_conn_hold(c);
  if (uv_queue_work(z->loop, &z->work, on_zip_read, on_zip_read_done) < 0) {
    proxy_conn_release(c);
    proxy_conn_body_fail(c);
    return;
  }
  z->reading = 1;
}

static void zip_stop(struct http_generator *g, struct proxy_conn *c) {
  struct zip_gen *z = (struct zip_gen *)g;
  z->stopped = 1;
  if (!z->reading)
    zip_gen_free(z);
}

struct http_generator *proxy_zip_gen_new(struct proxy_server *s,
                                         const char *module,
                                         const char *version) {
  size_t m = strlen(module) + 1, v = strlen(version) + 1;
  struct zip_gen *z = calloc(1, sizeof *z + m + v);
  if (z == NULL)
    return NULL;
  z->gen.proceed = zip_proceed;
  z->gen.stop = zip_stop;
  z->store = s->store;
  z->loop = s->loop;
  memcpy(z->module, module, m);
  z->version = z->module + m;
  memcpy(z->version, version, v);
  return &z->gen;
}

/* ---- a zip streamed while it downloads ----------------------------------- */

struct stream_gen {
  struct http_generator gen; /* first: the generator is the stream_gen */
  struct proxy_stream *st;
  struct proxy_conn *conn; /* while waiting */
  uint64_t off, left;      /* ...for what */
  struct stream_gen *next; /* in st->waiting */
  char *chunk;             /* PROXY_ZIP_CHUNK_BYTES, on first use */
  int waiting, stopped;
};

struct proxy_stream *proxy_stream_new(int fd, uint64_t size) {
  struct proxy_stream *st = calloc(1, sizeof *st);
  if (st == NULL)
    return NULL;
  st->fd = dup(fd);
  if (st->fd < 0) {
    free(st);
    return NULL;
  }
  st->refs = 1;
  st->size = size;
  st->outcome = -1;
  return st;
}

void proxy_stream_unref(struct proxy_stream *st) {
  if (st == NULL || --st->refs > 0)
    return;
  close(st->fd);
  free(st->attempts);
  free(st->why);
  free(st);
}

static void stream_gen_free(struct stream_gen *g) {
  proxy_stream_unref(g->st);
  free(g->chunk);
  free(g);
}

/* Sends the next ready piece of the stream, or waits for the job to say
 * more is ready. The staging file's pages were just written by this thread
 * (fetch.c): reading them back is a copy from the page cache. */
static void stream_proceed(struct http_generator *gen, struct proxy_conn *c,
                           uint64_t off, uint64_t left) {
  struct stream_gen *g = (struct stream_gen *)gen;
  struct proxy_stream *st = g->st;
  if (st->failed) {
    proxy_conn_body_fail(c);
    return;
  }
  if (st->ready <= off) {
    proxy_conn_body_wait(c); /* the upstream's stall timeout applies */
    g->conn = c;
    g->off = off;
    g->left = left;
    g->waiting = 1;
    g->next = st->waiting;
    st->waiting = g;
    return;
  }
  if (g->chunk == NULL)
    g->chunk = malloc(PROXY_ZIP_CHUNK_BYTES);
  if (g->chunk == NULL) {
    proxy_conn_body_fail(c);
    return;
  }
  uint64_t ready = st->ready - off;
  size_t want =
      ready < PROXY_ZIP_CHUNK_BYTES ? (size_t)ready : PROXY_ZIP_CHUNK_BYTES;
  ssize_t got = pread(st->fd, g->chunk, want, (off_t)off);
  if (got <= 0) {
    fprintf(stderr, "conn %s: staged zip read failed at %" PRIu64 ": %s\n",
            proxy_conn_id(c), off, strerror(errno));
    proxy_conn_body_fail(c);
    return;
  }
  proxy_conn_body_write(c, g->chunk, (size_t)got);
}

/* The response is over: a failed download says how it ended, in the
 * client's record. */
static void stream_stop(struct http_generator *gen, struct proxy_conn *c) {
  struct stream_gen *g = (struct stream_gen *)gen;
  struct proxy_stream *st = g->st;
  if (c != NULL && st->failed) {
    proxy_conn_outcome(c, (enum diag_outcome)st->outcome);
    proxy_conn_record_sent(c);
    proxy_conn_explain(c, st->why);
  }
  if (c != NULL && st->attempts != NULL)
    proxy_conn_attempts(c, st->attempts);
  g->stopped = 1;
  if (!g->waiting)
    stream_gen_free(g); /* else freed by the next wake */
}

struct http_generator *proxy_stream_gen_new(struct proxy_stream *st) {
  struct stream_gen *g = calloc(1, sizeof *g);
  if (g == NULL)
    return NULL;
  g->gen.proceed = stream_proceed;
  g->gen.stop = stream_stop;
  g->st = st;
  st->refs++;
  return &g->gen;
}

void proxy_stream_wake(struct proxy_stream *st) {
  struct stream_gen *g = st->waiting;
  st->waiting = NULL;
  while (g != NULL) {
    struct stream_gen *next = g->next;
    g->next = NULL;
    g->waiting = 0;
    if (g->stopped)
      stream_gen_free(g);
    else
      stream_proceed(&g->gen, g->conn, g->off, g->left);
    g = next;
  }
}
