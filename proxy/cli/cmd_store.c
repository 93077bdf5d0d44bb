/*
 * Helpers of the commands: loading settings and flags (every command), and
 * for the cache-management commands opening an existing store, printing
 * times and sizes.
 */
#include "cmd_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"

int cmd_load(struct settings *st, const struct settings_cmd *cmd, int argc,
             char **argv) {
  char err[512] = "";
  int rc = settings_load(st, cmd, argc, argv, err, sizeof err);
  if (rc < 0)
    fprintf(stderr, "modproxy %s: %s\n", cmd->name, err);
  return rc;
}

int cmd_ctx_load(struct cmd_ctx *ctx, const char *summary, unsigned allowed,
                 const struct settings_flag *flags, int argc, char **argv) {
  const struct settings_cmd cmd = {ctx->name, summary, allowed, flags};
  int rc = cmd_load(&ctx->st, &cmd, argc, argv);
  return rc < 0 ? CMD_EXIT_USAGE : rc;
}

int cmd_ctx_no_args(const struct cmd_ctx *ctx) {
  if (ctx->st.nargs == 0)
    return 0;
  fprintf(stderr, "modproxy %s: unexpected argument \"%s\"\n", ctx->name,
          ctx->st.args[0]);
  return CMD_EXIT_USAGE;
}

int cmd_ctx_open(struct cmd_ctx *ctx) {
  const char *dir = settings_text(&ctx->st, S_DATA);
  char path[4096];
  struct stat sb;
  snprintf(path, sizeof path, "%s/modproxy.db", dir);
  if (stat(path, &sb) < 0) {
    fprintf(stderr,
            "modproxy %s: no store in %s (%s: %s); say where it is "
            "with --data\n",
            ctx->name, dir, path, strerror(errno));
    return CMD_EXIT_USAGE;
  }
  int rc = store_open(dir, &ctx->store);
  if (rc < 0) {
    fprintf(stderr, "modproxy %s: cannot open the store in %s: %s\n", ctx->name,
            dir, strerror(-rc));
    return 1;
  }
  return 0;
}

void cmd_ctx_dispose(struct cmd_ctx *ctx) {
  store_close(ctx->store);
  ctx->store = NULL;
  settings_dispose(&ctx->st);
}

void cmd_time(int64_t t, char *buf, size_t len) {
  if (t == 0) {
    snprintf(buf, len, "never");
    return;
  }
  time_t tt = (time_t)t;
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

void cmd_bytes(uint64_t n, char *buf, size_t len) {
  static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(buf, len, "%llu bytes", (unsigned long long)n);
  else
    snprintf(buf, len, "%.1f %s (%llu bytes)", v, units[u],
             (unsigned long long)n);
}

double cmd_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
