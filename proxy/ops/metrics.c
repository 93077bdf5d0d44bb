/*
 * /metrics in the Prometheus text format: client requests by endpoint and
 * status, and their latency by endpoint class and outcome; failures by
 * cause (the outcomes /diag groups them by); cache hits and misses,
 * coalesced waiters, upstream latency histograms and errors by cause, git
 * and checksum-database errors by cause; bytes served, the store's size,
 * the build and the process (read from /proc/self at each scrape).
 * Counters live in struct proxy_server and are only touched on the loop
 * thread, with plain increments (proxy_metrics_request is on every
 * request's path).
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <time.h>

#include "mirror.h"
#include "modproxy/diag.h"
#include "dash.h"
#include "ops.h"
#include "vcs.h"

static const int status_codes[PROXY_STATUS_SLOTS - 1] = {
    200, 206, 304, 400, 401, 403, 404, 405, 410, 413, 414, 416, 431, 502, 504};
/* Client request latency: the loop's clock counts whole milliseconds, so
 * the first bucket holds every answer from memory. */
static const uint64_t request_bucket_ms[PROXY_REQUEST_BUCKETS] = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 30000};
static const char *const endpoint_names[EP_COUNT] = {
    "list", "latest", "info", "mod", "zip", "sumdb", "diag", "ops", "other"};

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
  if (strncmp(t, "/admin/", 7) == 0 ||
      (n == 8 && strncmp(t, "/healthz", 8) == 0) ||
      (n == 7 && strncmp(t, "/readyz", 7) == 0) ||
      (n == 8 && strncmp(t, "/metrics", 8) == 0))
    return EP_OPS;
  return EP_OTHER;
}

void proxy_metrics_request(struct proxy_server *s,
                           const struct diag_record *rec) {
  struct proxy_counters *k = &s->counters;
  enum proxy_endpoint ep = endpoint_of(rec->target != NULL ? rec->target : "");
  int slot = PROXY_STATUS_SLOTS - 1; /* "other" */
  for (int i = 0; i < PROXY_STATUS_SLOTS - 1; i++) {
    if (status_codes[i] == rec->status) {
      slot = i;
      break;
    }
  }
  k->by_endpoint[ep][slot]++;
  int b = 0;
  while (b < PROXY_REQUEST_BUCKETS && rec->ms > request_bucket_ms[b])
    b++;
  k->latency[ep][rec->outcome][b]++;
  k->latency_ms[ep][rec->outcome] += rec->ms;
  if (rec->status >= 400)
    k->failures[rec->outcome]++;
}

void proxy_metrics_upstream(struct proxy_server *s, struct proxy_upstream *u,
                            uint64_t ms, int failed) {
  for (int k = 0; k < upstream_list_count(s->upstreams); k++)
    if (upstream_list_at(s->upstreams, k) == u)
      dash_upstream(s->dash, k, ms, failed);
}

/* The client latency histogram, one series per endpoint class and outcome
 * seen so far, and the failures by cause (every cause, zeros too). */
static void render_latency(FILE *f, const struct proxy_counters *k) {
  fprintf(f, "# HELP modproxy_request_duration_seconds Client requests by "
             "endpoint class and outcome, by the time to answer them "
             "(millisecond resolution).\n"
             "# TYPE modproxy_request_duration_seconds histogram\n");
  for (int e = 0; e < EP_COUNT; e++) {
    for (int o = 0; o < DIAG_OUTCOMES; o++) {
      const uint64_t *h = k->latency[e][o];
      uint64_t count = 0;
      for (int i = 0; i <= PROXY_REQUEST_BUCKETS; i++)
        count += h[i];
      if (count == 0)
        continue;
      const char *on = diag_outcome_name((enum diag_outcome)o);
      uint64_t cum = 0;
      for (int i = 0; i <= PROXY_REQUEST_BUCKETS; i++) {
        cum += h[i];
        char le[16];
        if (i < PROXY_REQUEST_BUCKETS)
          snprintf(le, sizeof le, "%g", (double)request_bucket_ms[i] / 1000.0);
        else
          snprintf(le, sizeof le, "+Inf");
        fprintf(f,
                "modproxy_request_duration_seconds_bucket{endpoint=\"%s\","
                "outcome=\"%s\",le=\"%s\"} %" PRIu64 "\n",
                endpoint_names[e], on, le, cum);
      }
      fprintf(f,
              "modproxy_request_duration_seconds_sum{endpoint=\"%s\","
              "outcome=\"%s\"} %.3f\n"
              "modproxy_request_duration_seconds_count{endpoint=\"%s\","
              "outcome=\"%s\"} %" PRIu64 "\n",
              endpoint_names[e], on, (double)k->latency_ms[e][o] / 1000.0,
              endpoint_names[e], on, count);
    }
  }
  fprintf(f, "# HELP modproxy_failures_total Requests answered with an error "
             "status (400 and up), by cause: the outcome /diag groups "
             "failures by.\n"
             "# TYPE modproxy_failures_total counter\n");
  for (int o = 0; o < DIAG_OUTCOMES; o++)
    fprintf(f, "modproxy_failures_total{cause=\"%s\"} %" PRIu64 "\n",
            diag_outcome_name((enum diag_outcome)o), k->failures[o]);
}

/* Upstream, git and checksum-database errors by cause (zeros too, so that
 * rate() has a start). */
static void render_errors(FILE *f, const struct proxy_server *s) {
  fprintf(f, "# HELP modproxy_upstream_errors_total Upstream requests that "
             "failed, by upstream and cause.\n"
             "# TYPE modproxy_upstream_errors_total counter\n");
  for (int u = 0; u < upstream_list_count(s->upstreams); u++) {
    const struct proxy_upstream *up = upstream_list_at(s->upstreams, u);
    if (up->base == NULL)
      continue;
    for (int e = 0; e < UPSTREAM_ERRORS; e++) {
      fprintf(f, "modproxy_upstream_errors_total{upstream=");
      diag_json_write(f, up->shown);
      fprintf(f, ",cause=\"%s\"} %" PRIu64 "\n",
              upstream_error_name((enum upstream_error)e),
              up->health.errors_by[e]);
    }
  }
  const uint64_t *git = proxy_vcs_git_errors(s->vcs);
  fprintf(f, "# HELP modproxy_git_errors_total Network git commands (fetch, "
             "ls-remote) that failed, by cause.\n"
             "# TYPE modproxy_git_errors_total counter\n");
  for (int e = 0; e < VCS_GIT_ERRORS; e++)
    fprintf(f, "modproxy_git_errors_total{cause=\"%s\"} %" PRIu64 "\n",
            proxy_vcs_git_error_name((enum vcs_git_error)e), git[e]);
  fprintf(f, "# HELP modproxy_sumdb_errors_total Checks of upstream files "
             "against the checksum database that failed, by cause.\n"
             "# TYPE modproxy_sumdb_errors_total counter\n");
  for (int e = 0; e < PROXY_SUMDB_ERRORS; e++)
    fprintf(f, "modproxy_sumdb_errors_total{cause=\"%s\"} %" PRIu64 "\n",
            proxy_sumdb_error_name((enum proxy_sumdb_error)e),
            proxy_sumdb_errors(s->sumdb, (enum proxy_sumdb_error)e));
}

/* A file of /proc (small) into buf; 0 or -1. */
static int read_proc(const char *path, char *buf, size_t cap) {
  FILE *in = fopen(path, "r");
  if (in == NULL)
    return -1;
  size_t n = fread(buf, 1, cap - 1, in);
  fclose(in);
  buf[n] = '\0';
  return n > 0 ? 0 : -1;
}

/* The process, from /proc/self (Linux): resident memory, open descriptors
 * and their limit, start time, CPU time and threads, under the names
 * Prometheus' client libraries use. Nothing when /proc cannot be read. */
static void render_process(FILE *f) {
  char stat[1024], sys[8192];
  if (read_proc("/proc/self/stat", stat, sizeof stat) < 0 ||
      read_proc("/proc/stat", sys, sizeof sys) < 0)
    return;
  /* Fields after the command name (which may hold spaces and parentheses):
   * state is field 3; utime 14, stime 15, num_threads 20, starttime 22
   * (clock ticks after boot), rss 24 (pages). */
  const char *p = strrchr(stat, ')');
  const char *btime = strstr(sys, "\nbtime ");
  unsigned long long v[25] = {0};
  if (p == NULL || btime == NULL)
    return;
  p += 2;
  for (int field = 3; field <= 24 && *p != '\0'; field++) {
    v[field] = strtoull(p, NULL, 10);
    p += strcspn(p, " ");
    p += *p == ' ';
  }
  double tick = (double)sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  uint64_t fds = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d != NULL) {
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
      fds += e->d_name[0] != '.';
    closedir(d);
    fds--; /* the directory's own descriptor */
  }
  struct rlimit rl = {0};
  getrlimit(RLIMIT_NOFILE, &rl);
  fprintf(f,
          "# HELP process_resident_memory_bytes Resident memory.\n"
          "# TYPE process_resident_memory_bytes gauge\n"
          "process_resident_memory_bytes %llu\n"
          "# HELP process_open_fds Open file descriptors.\n"
          "# TYPE process_open_fds gauge\nprocess_open_fds %" PRIu64 "\n"
          "# HELP process_max_fds The limit of open file descriptors.\n"
          "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
          "# HELP process_start_time_seconds When the process started (Unix "
          "time).\n"
          "# TYPE process_start_time_seconds gauge\n"
          "process_start_time_seconds %.2f\n"
          "# HELP process_cpu_seconds_total User and system CPU time.\n"
          "# TYPE process_cpu_seconds_total counter\n"
          "process_cpu_seconds_total %.2f\n"
          "# HELP process_threads Threads of the process.\n"
          "# TYPE process_threads gauge\nprocess_threads %llu\n",
          v[24] * (unsigned long long)page, fds,
          (unsigned long long)rl.rlim_cur,
          (double)strtoull(btime + 7, NULL, 10) + (double)v[22] / tick,
          (double)(v[14] + v[15]) / tick, v[20]);
}

char *proxy_metrics_render(const struct proxy_server *s,
                           const struct store_stats *st) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  const struct proxy_counters *k = &s->counters;
  fprintf(f,
          "# HELP modproxy_build_info The running modproxy's version.\n"
          "# TYPE modproxy_build_info gauge\n"
          "modproxy_build_info{version=\"%s\"} 1\n",
          MODPROXY_VERSION);
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
  render_latency(f, k);
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
  render_errors(f, s);
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
  int64_t snapshot = proxy_mirror_snapshot(s->mirror);
  if (snapshot > 0)
    fprintf(f,
            "# HELP modproxy_mirror_content_age_seconds How old an offline "
            "mirror's content is (since its snapshot was taken).\n"
            "# TYPE modproxy_mirror_content_age_seconds gauge\n"
            "modproxy_mirror_content_age_seconds %" PRId64 "\n"
            "# HELP modproxy_mirror_stale_after_seconds "
            "--offline-stale-after (0: never stale).\n"
            "# TYPE modproxy_mirror_stale_after_seconds gauge\n"
            "modproxy_mirror_stale_after_seconds %" PRId64 "\n",
            (int64_t)time(NULL) - snapshot, s->cfg->offline_stale_after_s);
  char *cache = proxy_cache_metrics(s, st);
  if (cache != NULL)
    fputs(cache, f);
  free(cache);
  render_process(f);
  fclose(f);
  return out;
}
