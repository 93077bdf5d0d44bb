/*
 * `modproxy stats`: what the store holds, read beside a running server:
 * versions and bytes against max-cache-bytes, the database file, pins,
 * imported and private versions, quarantined files, answers and records.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_store.h"

static const char summary[] =
    "Prints what the store holds: versions, cache bytes against\n"
    "max-cache-bytes, the database file, pins, imported and private\n"
    "versions, quarantined files, expiring answers and request records.";

int cmd_stats(int argc, char **argv) {
  struct cmd_ctx ctx = {.name = "stats"};
  int rc = cmd_ctx_load(&ctx, summary, 1u << S_DATA | 1u << S_MAX_CACHE_BYTES,
                        NULL, argc, argv);
  if (rc != 0) {
    rc = rc == 1 ? 0 : rc;
    goto out;
  }
  if ((rc = cmd_ctx_no_args(&ctx)) != 0)
    goto out;
  rc = cmd_ctx_open(&ctx);
  if (rc != 0)
    goto out;
  struct store_stats s;
  memset(&s, 0, sizeof s);
  int src = store_stats_get(ctx.store, &s);
  if (src < 0) {
    fprintf(stderr, "modproxy stats: %s\n", strerror(-src));
    rc = 1;
    goto out;
  }
  uint64_t max = (uint64_t)settings_count(&ctx.st, S_MAX_CACHE_BYTES);
  char b[64], z[64], db[64], fr[64], lim[96], when[40];
  cmd_bytes(s.cache_bytes, b, sizeof b);
  cmd_bytes(s.zip_bytes, z, sizeof z);
  cmd_bytes(s.db_bytes, db, sizeof db);
  cmd_bytes(s.free_bytes, fr, sizeof fr);
  if (max == 0) {
    snprintf(lim, sizeof lim, "none (max-cache-bytes unset)");
  } else {
    char m[64];
    cmd_bytes(max, m, sizeof m);
    snprintf(lim, sizeof lim, "%s, %.1f%% used", m,
             100.0 * (double)s.cache_bytes / (double)max);
  }
  cmd_time(s.oldest_use, when, sizeof when);
  printf("store           %s/modproxy.db (schema %d)\n",
         settings_text(&ctx.st, S_DATA), store_schema_version(ctx.store));
  printf("database file   %s, %s free\n", db, fr);
  printf("versions        %" PRIu64 " (%" PRIu64 " with a zip)\n", s.versions,
         s.zips);
  printf("cache bytes     %s (zips %s)\n", b, z);
  printf("cache limit     %s\n", lim);
  printf("oldest use      %s\n", when);
  printf("pins            %" PRIu64 "\n", s.pins);
  printf("imported        %" PRIu64 " versions\n", s.imported);
  printf("private         %" PRIu64 " versions built from git\n", s.provenance);
  printf("quarantined     %" PRIu64 " files\n", s.quarantined);
  printf("answers         %" PRIu64 " (lists, @latest, queries, not-found)\n",
         s.answers);
  printf("request records %" PRIu64 "\n", s.requests);
  printf("removal log     %" PRIu64 " entries (last day)\n", s.removals);
out:
  cmd_ctx_dispose(&ctx);
  return rc;
}
