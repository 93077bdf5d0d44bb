/*
 * /metrics in the Prometheus text format: requests by endpoint and status,
 * cache hits and misses, coalesced waiters, upstream latency histograms,
 * bytes served and the store's size. Counters live in struct proxy_server
 * and are only touched on the loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"
#include "ops.h"

static const int status_codes[PROXY_STATUS_SLOTS - 1] = {
    200, 206, 304, 400, 401, 403, 404, 405, 410, 413, 414, 416, 431, 502, 504};
static const char *const endpoint_names[EP_COUNT] = {
    "list", "latest", "info", "mod", "zip", "sumdb", "diag", "other"};

static enum proxy_endpoint endpoint_of(const char *t) {
  size_t n = strcspn(t, "?");
  if (strncmp(t, "/sumdb/", 7) == 0)
    return EP_SUMDB;
  if (strncmp(t, "/diag", 5) == 0)
    return EP_DIAG;
  if (n >= 8 && strncmp(t + n - 8, "/@v/list", 8) == 0)
    return EP_LIST;
  if (n >= 8 && strncmp(t + n - 8, "/@latest", 8) == 0)
    return EP_LATEST;
  if (n >= 5 && strncmp(t + n - 5, ".info", 5) == 0)
    return EP_INFO;
  if (n >= 4 && strncmp(t + n - 4, ".mod", 4) == 0)
    return EP_MOD;
  if (n >= 4 && strncmp(t + n - 4, ".zip", 4) == 0)
    return EP_ZIP;
  return EP_OTHER;
}

void proxy_metrics_request(struct proxy_server *s, const char *target,
                           int status) {
  int slot = PROXY_STATUS_SLOTS - 1; /* "other" */
  for (int i = 0; i < PROXY_STATUS_SLOTS - 1; i++)
    if (status_codes[i] == status)
      slot = i;
  s->counters.by_endpoint[endpoint_of(target != NULL ? target : "")][slot]++;
}

char *proxy_metrics_render(const struct proxy_server *s,
                           const struct store_stats *st) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  const struct proxy_counters *k = &s->counters;
  fprintf(f, "# HELP modproxy_requests_total Requests answered, by endpoint "
             "and status.\n"
             "# TYPE modproxy_requests_total counter\n");
  for (int e = 0; e < EP_COUNT; e++) {
    for (int i = 0; i < PROXY_STATUS_SLOTS; i++) {
      if (k->by_endpoint[e][i] == 0)
        continue;
      char code[8];
      if (i < PROXY_STATUS_SLOTS - 1)
        snprintf(code, sizeof code, "%d", status_codes[i]);
      else
        snprintf(code, sizeof code, "other");
      fprintf(f,
              "modproxy_requests_total{endpoint=\"%s\",code=\"%s\"} %" PRIu64
              "\n",
              endpoint_names[e], code, k->by_endpoint[e][i]);
    }
  }
  fprintf(f,
          "# HELP modproxy_cache_hits_total GOPROXY requests answered from the "
          "cache.\n"
          "# TYPE modproxy_cache_hits_total counter\n"
          "modproxy_cache_hits_total %" PRIu64 "\n"
          "# HELP modproxy_cache_misses_total GOPROXY requests that needed an "
          "upstream.\n"
          "# TYPE modproxy_cache_misses_total counter\n"
          "modproxy_cache_misses_total %" PRIu64 "\n"
          "# HELP modproxy_coalesced_waiters_total Requests that waited for a "
          "fetch another request started.\n"
          "# TYPE modproxy_coalesced_waiters_total counter\n"
          "modproxy_coalesced_waiters_total %" PRIu64 "\n"
          "# HELP modproxy_bytes_served_total Response body bytes written.\n"
          "# TYPE modproxy_bytes_served_total counter\n"
          "modproxy_bytes_served_total %" PRIu64 "\n"
          "# HELP modproxy_records_shed_total Request records logged but not "
          "kept for /diag: the ring's writer was behind.\n"
          "# TYPE modproxy_records_shed_total counter\n"
          "modproxy_records_shed_total %" PRIu64 "\n",
          k->hits, k->misses, k->coalesced,
          http_server_stats(s->http)->bytes_out, k->records_shed);
  fprintf(f, "# HELP modproxy_upstream_request_duration_seconds Upstream "
             "answers by latency.\n"
             "# TYPE modproxy_upstream_request_duration_seconds histogram\n");
  for (int u = 0; u < upstream_list_count(s->upstreams); u++) {
    const struct proxy_upstream *up = upstream_list_at(s->upstreams, u);
    if (up->base == NULL)
      continue;
    uint64_t cum = 0;
    for (int i = 0; i <= PROXY_LATENCY_BUCKETS; i++) {
      cum += up->health.latency[i];
      char le[16];
      if (i < PROXY_LATENCY_BUCKETS)
        snprintf(le, sizeof le, "%g",
                 (double)upstream_latency_bucket_ms(i) / 1000.0);
      else
        snprintf(le, sizeof le, "+Inf");
      fprintf(f, "modproxy_upstream_request_duration_seconds_bucket{upstream=");
      diag_json_write(f, up->shown);
      fprintf(f, ",le=\"%s\"} %" PRIu64 "\n", le, cum);
    }
    fprintf(f, "modproxy_upstream_request_duration_seconds_sum{upstream=");
    diag_json_write(f, up->shown);
    fprintf(
        f, "} %.3f\nmodproxy_upstream_request_duration_seconds_count{upstream=",
        (double)up->health.total_ms / 1000.0);
    diag_json_write(f, up->shown);
    fprintf(f, "} %" PRIu64 "\n", cum);
  }
  fprintf(
      f,
      "# HELP modproxy_store_versions Module versions in the store.\n"
      "# TYPE modproxy_store_versions gauge\nmodproxy_store_versions %" PRIu64
      "\n"
      "# HELP modproxy_store_zip_bytes Bytes of zips in the store.\n"
      "# TYPE modproxy_store_zip_bytes gauge\nmodproxy_store_zip_bytes %" PRIu64
      "\n"
      "# HELP modproxy_store_answers Lists, @latest and not-found answers "
      "kept.\n"
      "# TYPE modproxy_store_answers gauge\nmodproxy_store_answers %" PRIu64
      "\n"
      "# HELP modproxy_hot_cache_bytes Memory held by the hot cache.\n"
      "# TYPE modproxy_hot_cache_bytes gauge\nmodproxy_hot_cache_bytes %zu\n"
      "# HELP modproxy_hot_cache_entries Entries in the hot cache.\n"
      "# TYPE modproxy_hot_cache_entries gauge\nmodproxy_hot_cache_entries "
      "%zu\n",
      st->versions, st->zip_bytes, st->answers, goproxy_hot(s->goproxy)->bytes,
      goproxy_hot(s->goproxy)->count);
  char *cache = proxy_cache_metrics(s, st);
  if (cache != NULL)
    fputs(cache, f);
  free(cache);
  fclose(f);
  return out;
}
