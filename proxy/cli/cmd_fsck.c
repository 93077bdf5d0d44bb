/*
 * `modproxy fsck [--dry-run]`: re-verifies every stored file against the
 * hashes recorded when it was published (store_fsck) and quarantines the
 * damaged ones, which are then fetched again on the next request. Runs
 * beside a serving modproxy, which forgets its in-memory copies of what
 * was quarantined within seconds.
 *
 * Exit status, as fsck(8): 0 nothing wrong, 1 damaged files found and
 * quarantined, 4 damaged files found and left (--dry-run), 8 the check
 * could not run to its end; 2 bad usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_store.h"

#define FSCK_EXIT_CORRECTED 1
#define FSCK_EXIT_UNCORRECTED 4
#define FSCK_EXIT_FAILED 8

static const char summary[] =
    "Verifies every stored .mod (go.sum h1), zip (size, SHA-256, h1) and\n"
    ".info (JSON naming its version) against what was recorded when it was\n"
    "stored, and quarantines damaged files: they are moved to the quarantine\n"
    "table, never served again, and fetched anew on the next request.\n"
    "Exit status: 0 all good, 1 damage quarantined, 4 damage left\n"
    "(--dry-run), 8 the check could not finish.\n"
    "\n"
    "  --dry-run\n"
    "      report damaged files, quarantine nothing";

static void on_problem(const struct store_fsck_problem *p, void *arg) {
  printf("DAMAGED %s@%s %s: %s%s\n", p->module, p->version, p->part, p->reason,
         p->quarantined ? " (quarantined)" : "");
  fflush(stdout);
}

int cmd_fsck(int argc, char **argv) {
  static const struct settings_flag own[] = {{"dry-run", 0, NULL},
                                             {NULL, 0, NULL}};
  struct cmd_ctx ctx = {.name = "fsck"};
  int rc = cmd_ctx_load(&ctx, summary, 1u << S_DATA, own, argc, argv);
  if (rc != 0) {
    rc = rc == 1 ? 0 : rc;
    goto out;
  }
  if ((rc = cmd_ctx_no_args(&ctx)) != 0)
    goto out;
  rc = cmd_ctx_open(&ctx);
  if (rc != 0)
    goto out;
  int dry = settings_flag(&ctx.st, 0) != NULL;
  double t0 = cmd_seconds();
  struct store_fsck_result res;
  int frc = store_fsck(ctx.store, !dry, on_problem, NULL, &res);
  char b[64];
  cmd_bytes(res.bytes, b, sizeof b);
  printf("checked %" PRIu64 " versions, %" PRIu64 " files, %s in %.3f s: "
         "%" PRIu64 " damaged, %" PRIu64 " quarantined\n",
         res.versions, res.files, b, cmd_seconds() - t0, res.bad,
         res.quarantined);
  if (frc < 0) {
    fprintf(stderr, "modproxy fsck: stopped: %s\n", strerror(-frc));
    rc = FSCK_EXIT_FAILED;
  } else if (res.bad > res.quarantined) {
    rc = FSCK_EXIT_UNCORRECTED;
  } else if (res.bad > 0) {
    rc = FSCK_EXIT_CORRECTED;
  }
out:
  cmd_ctx_dispose(&ctx);
  return rc;
}
