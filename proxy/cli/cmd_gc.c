/*
 * `modproxy gc [--dry-run]`: least-recently-used eviction of public module
 * versions down to max-cache-bytes, the same as a serving modproxy does
 * every minute, run by hand (or from cron) with the same settings. Prints
 * each version with its size and last use; --dry-run only prints.
 *
 * Beside a running server: versions it served in the last few seconds may
 * not have their use written yet, so they can look older than they are;
 * the grace period (PROXY_EVICT_GRACE_S) only protects what was written.
 * The server forgets what gc removed within seconds (the removal log) and
 * fetches it again if asked.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "cmd_store.h"

static const char summary[] =
    "Evicts the least recently used public module versions until the cache\n"
    "(.info, .mod and zip bytes) is within max-cache-bytes. Never evicts a\n"
    "version pinned with `modproxy pin`, imported into a mirror, private\n"
    "(matching --private, or built from git), or used in the last 10\n"
    "minutes. Reads the same settings as serve (--config, MODPROXY_*).\n"
    "\n"
    "  --dry-run\n"
    "      print what would be evicted, change nothing";

static int is_private(const char *module, void *arg) {
  return gomod_private(arg, module);
}

int cmd_gc(int argc, char **argv) {
  static const struct settings_flag own[] = {{"dry-run", 0, NULL},
                                             {NULL, 0, NULL}};
  struct cmd_ctx ctx = {.name = "gc"};
  struct store_evict_plan plan = {0};
  int rc = cmd_ctx_load(
      &ctx, summary, 1u << S_DATA | 1u << S_MAX_CACHE_BYTES | 1u << S_PRIVATE,
      own, argc, argv);
  if (rc != 0) {
    rc = rc == 1 ? 0 : rc;
    goto out;
  }
  int dry = settings_flag(&ctx.st, 0) != NULL;
  if ((rc = cmd_ctx_no_args(&ctx)) != 0)
    goto out;
  uint64_t max = (uint64_t)settings_count(&ctx.st, S_MAX_CACHE_BYTES);
  if (max == 0) {
    fprintf(stderr, "modproxy gc: no limit to collect to: set max-cache-bytes "
                    "(--max-cache-bytes, MODPROXY_MAX_CACHE_BYTES or the "
                    "config file)\n");
    rc = CMD_EXIT_USAGE;
    goto out;
  }
  rc = cmd_ctx_open(&ctx);
  if (rc != 0)
    goto out;
  double t0 = cmd_seconds();
  int64_t before = (int64_t)time(NULL) - PROXY_EVICT_GRACE_S;
  int n = store_evict_plan(ctx.store, max, before, is_private,
                           (void *)settings_text(&ctx.st, S_PRIVATE), SIZE_MAX,
                           &plan);
  if (n < 0) {
    fprintf(stderr, "modproxy gc: %s\n", strerror(-n));
    rc = 1;
    goto out;
  }
  char total[64], lim[64], b[64], when[40];
  cmd_bytes(plan.total_bytes, total, sizeof total);
  cmd_bytes(max, lim, sizeof lim);
  if (n == 0 && plan.over_bytes == 0) {
    printf("cache %s, within the limit of %s: nothing to evict\n", total, lim);
    goto out;
  }
  for (size_t i = 0; i < plan.n; i++) {
    cmd_time(plan.v[i].used, when, sizeof when);
    printf("%s %s@%s %" PRIu64 " bytes, last used %s\n",
           dry ? "would evict" : "evicting", plan.v[i].module,
           plan.v[i].version, plan.v[i].bytes, when);
  }
  uint64_t freed = plan.plan_bytes;
  int evicted = n;
  if (!dry) {
    evicted = store_evict_apply(ctx.store, &plan, before, &freed);
    if (evicted < 0) {
      fprintf(stderr, "modproxy gc: eviction stopped: %s\n",
              strerror(-evicted));
      rc = 1;
      goto out;
    }
  }
  cmd_bytes(freed, b, sizeof b);
  printf("%s %d versions, %s, in %.3f s; cache was %s, limit %s\n",
         dry ? "would evict" : "evicted", evicted, b, cmd_seconds() - t0, total,
         lim);
  if (plan.over_bytes > 0) {
    cmd_bytes(plan.over_bytes, b, sizeof b);
    printf("the cache stays %s over the limit: the rest is pinned, imported, "
           "private or used in the last %d s\n",
           b, PROXY_EVICT_GRACE_S);
  }
out:
  store_evict_plan_dispose(&plan);
  cmd_ctx_dispose(&ctx);
  return rc;
}
