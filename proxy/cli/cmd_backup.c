/*
 * `modproxy backup FILE`: a consistent copy of the store while it serves,
 * with SQLite's online backup API (store_backup). To restore: stop
 * modproxy, copy FILE to DATA/modproxy.db (removing any modproxy.db-wal
 * and -shm beside it), start modproxy.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_store.h"

static const char summary[] =
    "Copies the store (DATA/modproxy.db) to FILE as one consistent snapshot,\n"
    "with SQLite's online backup API: a running modproxy keeps serving and\n"
    "storing meanwhile. FILE appears only once complete and checked.\n"
    "Restore: stop modproxy, copy FILE to DATA/modproxy.db, remove\n"
    "DATA/modproxy.db-wal and -shm if present, start modproxy.\n"
    "\n"
    "Usage: modproxy backup [--data DIR] FILE";

int cmd_backup(int argc, char **argv) {
  struct cmd_ctx ctx = {.name = "backup"};
  int rc = cmd_ctx_load(&ctx, summary, 1u << S_DATA, NULL, argc, argv);
  if (rc != 0) {
    rc = rc == 1 ? 0 : rc;
    goto out;
  }
  if (ctx.st.nargs != 1) {
    fprintf(stderr,
            "modproxy backup: %s (usage: modproxy backup [--data DIR] "
            "FILE)\n",
            ctx.st.nargs == 0 ? "say where to write the backup"
                              : "one FILE only");
    rc = CMD_EXIT_USAGE;
    goto out;
  }
  const char *file = ctx.st.args[0];
  rc = cmd_ctx_open(&ctx);
  if (rc != 0)
    goto out;
  double t0 = cmd_seconds();
  uint64_t bytes = 0;
  int brc = store_backup(ctx.store, file, &bytes);
  if (brc < 0) {
    fprintf(stderr, "modproxy backup: %s: %s\n", file, strerror(-brc));
    rc = 1;
    goto out;
  }
  char b[64];
  cmd_bytes(bytes, b, sizeof b);
  printf("backed up %s/modproxy.db (schema %d) to %s: %s in %.3f s\n",
         settings_text(&ctx.st, S_DATA), store_schema_version(ctx.store), file,
         b, cmd_seconds() - t0);
out:
  cmd_ctx_dispose(&ctx);
  return rc;
}
