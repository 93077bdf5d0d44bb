/*
 * /diag's aggregates, counted as each request finishes: see dash.h.
 *
 * Time buckets are two rings indexed by minute (or hour) modulo their
 * size; a bucket holding an older interval is cleared when a newer one
 * takes its place, and a record older than its slot's interval (read back
 * from the store at start) is not counted there.
 *
 * Probes: a miss (404/410 for a module) is one of the go command's
 * path-prefix probes when a record within DASH_PROBE_WINDOW of it asked
 * for a longer path under it, or found a module whose path it extends.
 * Each new record is compared with the window of those before it, in both
 * directions: the new miss may be a probe, or it may turn an earlier miss
 * into one, which then moves from "missed" to "probes".
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dash.h"

struct window_entry {
  char module[256];
  int64_t time_ms;
  int miss;  /**< a not-found */
  int probe; /**< counted as a probe (else, if a miss, as missed) */
};

struct dash {
  struct dash_bucket minutes[DASH_MINUTES], hours[DASH_HOURS];
  uint64_t requests, failures, probes;
  struct dash_cause causes[DIAG_OUTCOMES];
  struct dash_missed missed[DASH_MISSED];
  int nmissed;
  struct window_entry window[DASH_PROBE_WINDOW];
  unsigned next; /**< window slot of the next record */
};

struct dash *dash_new(void) {
  return calloc(1, sizeof(struct dash));
}

void dash_free(struct dash *d) {
  free(d);
}

/* The bucket of ring b (n buckets of step_s) for time ms, cleared if it
 * held an older interval; NULL if it holds a newer one. */
static struct dash_bucket *bucket(struct dash_bucket *b, int n, int step_s,
                                  int64_t ms) {
  int64_t key = ms / 1000 / step_s + 1; /* + 1: key 0 means unused */
  struct dash_bucket *x = &b[key % n];
  if (x->key > key)
    return NULL;
  if (x->key < key) {
    memset(x, 0, sizeof *x);
    x->key = key;
  }
  return x;
}

/* Runs stmt with x at the minute and at the hour bucket of time ms. */
#define EACH_BUCKET(d, ms, x, stmt)                                            \
  do {                                                                         \
    struct dash_bucket *x = bucket((d)->minutes, DASH_MINUTES, 60, ms);        \
    if (x != NULL)                                                             \
      stmt;                                                                    \
    x = bucket((d)->hours, DASH_HOURS, 3600, ms);                              \
    if (x != NULL)                                                             \
      stmt;                                                                    \
  } while (0)

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 if path starts with prefix + "/". */
static int under(const char *path, const char *prefix) {
  size_t n = strlen(prefix);
  return n > 0 && strncmp(path, prefix, n) == 0 && path[n] == '/';
}

static struct dash_missed *missed_find(struct dash *d, const char *module) {
  for (int i = 0; i < d->nmissed; i++)
    if (strcmp(d->missed[i].module, module) == 0)
      return &d->missed[i];
  return NULL;
}

static void missed_add(struct dash *d, const char *module) {
  struct dash_missed *m = missed_find(d, module);
  if (m == NULL && d->nmissed < DASH_MISSED) {
    m = &d->missed[d->nmissed++];
  } else if (m == NULL) {
    /* Full: the least missed makes room; the newcomer starts from its
     * count, an overestimate that keeps a frequent miss from being pushed
     * out by a stream of one-off ones (space-saving). */
    m = &d->missed[0];
    for (int i = 1; i < d->nmissed; i++)
      if (d->missed[i].count < m->count)
        m = &d->missed[i];
  }
  if (strcmp(m->module, module) != 0)
    snprintf(m->module, sizeof m->module, "%s", module);
  m->count++;
}

/* An earlier miss w turns out to be a probe. */
static void becomes_probe(struct dash *d, struct window_entry *w) {
  w->probe = 1;
  d->probes++;
  EACH_BUCKET(d, w->time_ms, x, x->probes++);
  struct dash_missed *m = missed_find(d, w->module);
  if (m != NULL && m->count > 0)
    m->count--;
}

/* Compares the record (module, miss) with the window; returns 1 if it is a
 * probe itself. */
static int probe_check(struct dash *d, const char *module, int miss) {
  int probe = 0;
  for (int i = 0; i < DASH_PROBE_WINDOW; i++) {
    struct window_entry *w = &d->window[i];
    if (w->module[0] == '\0')
      continue;
    if (miss &&
        (under(w->module, module) || (!w->miss && under(module, w->module))))
      probe = 1;
    if (w->miss && !w->probe &&
        (under(module, w->module) || (!miss && under(w->module, module))))
      becomes_probe(d, w);
  }
  return probe;
}

static void count_cause(struct dash *d, const struct diag_record *r) {
  struct dash_cause *c = &d->causes[r->outcome];
  c->count++;
  if (r->start_ms < c->last_ms)
    return;
  c->last_ms = r->start_ms;
  snprintf(c->last_id, sizeof c->last_id, "%s", r->id);
  snprintf(c->last_module, sizeof c->last_module, "%s",
           r->module != NULL ? r->module : "");
  snprintf(c->last_target, sizeof c->last_target, "%s",
           r->target != NULL ? r->target : "");
}

void dash_record(struct dash *d, const struct diag_record *r) {
  if (d == NULL || (unsigned)r->outcome >= DIAG_OUTCOMES)
    return;
  int failed = r->status >= 400;
  d->requests++;
  d->failures += failed;
  if (failed)
    count_cause(d, r);
  EACH_BUCKET(d, r->start_ms, x, {
    x->requests++;
    x->hits += r->outcome == DIAG_HIT;
    x->fetched += r->outcome == DIAG_FETCHED;
    x->failures += failed;
    x->cause[r->outcome] += failed;
  });
  if (r->module == NULL || r->module[0] == '\0')
    return;
  int miss = r->outcome == DIAG_NOT_FOUND;
  int probe = probe_check(d, r->module, miss);
  struct window_entry *w = &d->window[d->next++ % DASH_PROBE_WINDOW];
  snprintf(w->module, sizeof w->module, "%s", r->module);
  w->time_ms = r->start_ms;
  w->miss = miss;
  w->probe = 0;
  if (miss && probe)
    becomes_probe(d, w);
  else if (miss)
    missed_add(d, r->module);
}

void dash_upstream(struct dash *d, int upstream, uint64_t ms, int failed) {
  if (d == NULL || upstream < 0 || upstream >= DASH_UPSTREAMS)
    return;
  EACH_BUCKET(d, now_ms(), x, {
    x->up_answers[upstream]++;
    x->up_errors[upstream] += failed;
    x->up_ms[upstream] += ms;
  });
}

static void on_seed(void *arg, const char *json) {
  struct diag_record r = {0};
  if (json != NULL && diag_record_parse(json, &r) == 0)
    dash_record(arg, &r);
  diag_record_dispose(&r);
}

int dash_seed(struct dash *d, struct store *st, uint64_t last) {
  return store_records_each(st, last, on_seed, d);
}

int dash_series(const struct dash *d, enum dash_range r, int64_t now,
                struct dash_bucket *out, int *step_s) {
  const struct dash_bucket *ring = r == DASH_HOUR ? d->minutes : d->hours;
  int size = r == DASH_HOUR ? DASH_MINUTES : DASH_HOURS;
  int n = r == DASH_HOUR ? DASH_MINUTES : r == DASH_DAY ? 24 : DASH_HOURS;
  *step_s = r == DASH_HOUR ? 60 : 3600;
  int64_t last = now / 1000 / *step_s + 1;
  for (int i = 0; i < n; i++) {
    int64_t key = last - (n - 1 - i);
    const struct dash_bucket *x = &ring[key % size];
    if (x->key == key)
      out[i] = *x;
    else
      memset(&out[i], 0, sizeof out[i]);
  }
  return n;
}

void dash_sum(const struct dash *d, enum dash_range r, int64_t now,
              struct dash_bucket *sum) {
  struct dash_bucket b[DASH_HOURS]; /* 40 KiB: the loop thread's stack */
  int step;
  int n = dash_series(d, r, now, b, &step);
  memset(sum, 0, sizeof *sum);
  for (int i = 0; i < n; i++) {
    sum->requests += b[i].requests;
    sum->hits += b[i].hits;
    sum->fetched += b[i].fetched;
    sum->failures += b[i].failures;
    sum->probes += b[i].probes;
    for (int k = 0; k < DIAG_OUTCOMES; k++)
      sum->cause[k] += b[i].cause[k];
    for (int k = 0; k < DASH_UPSTREAMS; k++) {
      sum->up_answers[k] += b[i].up_answers[k];
      sum->up_errors[k] += b[i].up_errors[k];
      sum->up_ms[k] += b[i].up_ms[k];
    }
  }
}

void dash_totals(const struct dash *d, uint64_t *requests, uint64_t *failures,
                 uint64_t *probes) {
  *requests = d->requests;
  *failures = d->failures;
  *probes = d->probes;
}

const struct dash_cause *dash_cause(const struct dash *d, enum diag_outcome o) {
  return &d->causes[o];
}

int dash_missed(const struct dash *d, struct dash_missed *out, int cap) {
  /* cap picks of the largest count not yet taken: cap is small (10). */
  char taken[DASH_MISSED] = {0};
  int n = 0;
  while (n < cap) {
    int best = -1;
    for (int i = 0; i < d->nmissed; i++)
      if (!taken[i] && d->missed[i].count > 0 &&
          (best < 0 || d->missed[i].count > d->missed[best].count))
        best = i;
    if (best < 0)
      break;
    taken[best] = 1;
    out[n++] = d->missed[best];
  }
  return n;
}
