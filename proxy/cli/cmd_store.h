/*
 * What the cache-management commands (gc, fsck, stats, pin, backup) share:
 * loading their settings and flags, and opening an existing store.
 * Private to proxy/cli.
 */
#ifndef PROXY_CMD_STORE_H
#define PROXY_CMD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/** A command's run: its settings, its own flags and its positional args. */
struct cmd_ctx {
  const char *name;   /**< "gc" */
  struct settings st; /**< settings_flag(&st, i): own flag i */
  struct store *store;
};

/**
 * Loads the settings `allowed` and the own flags `flags` (see struct
 * settings_cmd) of command ctx->name. `summary` is the help text. Returns
 * 0; 1 when the help was printed; CMD_EXIT_USAGE after printing one line.
 */
int cmd_ctx_load(struct cmd_ctx *ctx, const char *summary, unsigned allowed,
                 const struct settings_flag *flags, int argc, char **argv);

/** 0 when the command line named no argument besides flags; else
 *  CMD_EXIT_USAGE after printing one line naming the first. */
int cmd_ctx_no_args(const struct cmd_ctx *ctx);

/** Opens the store of --data, which must exist (a typo must not create an
 *  empty store). 0, or CMD_EXIT_USAGE / 1 after printing one line. */
int cmd_ctx_open(struct cmd_ctx *ctx);

/** Closes the store and frees the settings. */
void cmd_ctx_dispose(struct cmd_ctx *ctx);

/** "2024-05-01 12:00:00 UTC" (or "never" for 0). */
void cmd_time(int64_t t, char *buf, size_t len);
/** "1.5 MiB (1572864 bytes)". */
void cmd_bytes(uint64_t n, char *buf, size_t len);
/** Seconds since an arbitrary start (for timings). */
double cmd_seconds(void);

#endif
