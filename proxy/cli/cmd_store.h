/*
 * What the cache-management commands (gc, fsck, stats, pin, backup) share:
 * their own flags beside the settings, and opening an existing store.
 * Private to proxy/.
 */
#ifndef PROXY_CMD_STORE_H
#define PROXY_CMD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "settings.h"

/* At most this many flags of a command's own. */
#define CMD_MAX_OWN_FLAGS 4

/** A command's run: its settings, its own flags and its positional args. */
struct cmd_ctx {
  const char *name; /**< "gc" */
  struct settings st;
  unsigned own; /**< bit i: own flag i was given */
  char **argv;  /**< heap copy of argv without the own flags */
  struct store *store;
};

/**
 * Loads the settings `allowed` for command ctx->name after taking out the
 * command's own boolean flags (`own`, NULL-terminated, e.g. "--dry-run"),
 * which settings_load would not know. `summary` is the help text. Returns
 * 0; 1 when the help was printed; CMD_EXIT_USAGE after printing one line.
 */
int cmd_ctx_load(struct cmd_ctx *ctx, const char *summary, unsigned allowed,
                 const char *const *own, int argc, char **argv);

/** Opens the store of --data, which must exist (a typo must not create an
 *  empty store). 0, or CMD_EXIT_USAGE / 1 after printing one line. */
int cmd_ctx_open(struct cmd_ctx *ctx);

/** Closes the store, frees the settings and argv copy. */
void cmd_ctx_dispose(struct cmd_ctx *ctx);

/** "2024-05-01 12:00:00 UTC" (or "never" for 0). */
void cmd_time(int64_t t, char *buf, size_t len);
/** "1.5 MiB (1572864 bytes)". */
void cmd_bytes(uint64_t n, char *buf, size_t len);
/** Seconds since an arbitrary start (for timings). */
double cmd_seconds(void);

#endif
