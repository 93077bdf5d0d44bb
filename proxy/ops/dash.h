/*
 * What /diag shows over time, aggregated as requests finish (dash.c): per
 * minute for the last hour and per hour for the last week, the requests,
 * hits, failures by cause and the go command's path-prefix probes, and
 * each upstream's answers, failures and latency; since start (and the ring
 * read once at start), the failures by cause with the latest of each and
 * the modules most often missed. A page reads them without touching the
 * store. Loop thread only. Private to proxy/ops.
 */
#ifndef PROXY_OPS_DASH_H
#define PROXY_OPS_DASH_H

#include <stdint.h>

#include "modproxy/diag.h"
#include "modproxy/store.h"

/* A bucket a minute for the last hour, a bucket an hour for the last week:
 * the three ranges /diag charts. */
#define DASH_MINUTES 60
#define DASH_HOURS 168
/* Upstreams charted, the first of the list: more is not a proxy setup. */
#define DASH_UPSTREAMS 8
/* Modules whose misses are counted for "most missed": when it is full, the
 * least missed makes room (a bounded table, not one row per path asked). */
#define DASH_MISSED 256
/* The go command's probes of one command land within this many records
 * of each other, other clients' requests interleaved. */
#define DASH_PROBE_WINDOW 64

enum dash_range { DASH_HOUR, DASH_DAY, DASH_WEEK };

/** One interval's counts. */
struct dash_bucket {
  int64_t key; /**< minute or hour since the epoch it counts; 0: unused */
  uint32_t requests, hits, fetched, failures, probes;
  uint32_t cause[DIAG_OUTCOMES]; /**< failures (status >= 400) by outcome */
  uint32_t up_answers[DASH_UPSTREAMS], up_errors[DASH_UPSTREAMS];
  uint64_t up_ms[DASH_UPSTREAMS]; /**< summed latency of up_answers */
};

/** A failure cause since start: its count and its latest request. */
struct dash_cause {
  uint64_t count;
  int64_t last_ms;
  char last_id[DIAG_ID_BYTES];
  char last_module[256], last_target[300];
};

struct dash_missed {
  char module[256];
  uint64_t count;
};

struct dash;

/** A new, empty aggregate, or NULL (out of memory). */
struct dash *dash_new(void);
void dash_free(struct dash *d);

/** Counts a finished request's record (those diag_record_in_ring keeps).
 *  d NULL: nothing (as dash_upstream). */
void dash_record(struct dash *d, const struct diag_record *r);
/** Counts an upstream's answer (upstream: its index in the list), failed:
 *  not a 200, 404 or 410. */
void dash_upstream(struct dash *d, int upstream, uint64_t ms, int failed);
/** Counts the newest `last` records of the store's ring (at start, before
 *  the first request). */
int dash_seed(struct dash *d, struct store *st, uint64_t last);

/** The buckets of range r up to now (Unix ms), oldest first, into out
 *  (DASH_HOURS at most; a bucket with nothing is zero); returns the count,
 *  and the seconds each bucket spans in *step_s. */
int dash_series(const struct dash *d, enum dash_range r, int64_t now_ms,
                struct dash_bucket *out, int *step_s);
/** The sum of range r's buckets into *sum. */
void dash_sum(const struct dash *d, enum dash_range r, int64_t now_ms,
              struct dash_bucket *sum);

/** Since start: requests, failures, probes. */
void dash_totals(const struct dash *d, uint64_t *requests, uint64_t *failures,
                 uint64_t *probes);
/** Since start, by outcome (borrowed). */
const struct dash_cause *dash_cause(const struct dash *d, enum diag_outcome o);
/** Up to cap modules most often missed (not probes), most first, into out;
 *  returns the count. */
int dash_missed(const struct dash *d, struct dash_missed *out, int cap);

#endif
