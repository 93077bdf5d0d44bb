/*
 * `modproxy missing --data DIR [--since T] -o WANTS`: the wants list of an
 * offline mirror (mirror.h): what its clients asked for and it lacked, one
 * `path@version` or `path@query` line each, for `modproxy export --from` on
 * a connected machine. Reads the store beside a running server. WANTS
 * appears only once complete ("-": standard output).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_store.h"
#include "mirror.h"

static const char summary[] =
    "Writes what this offline mirror was asked for and lacks (the go\n"
    "command's path-prefix probes left out) to WANTS: one path@version or\n"
    "path@query line each, with how often and when in a # comment. Carry\n"
    "it to a connected machine and run `modproxy export --from WANTS`.\n"
    "\n"
    "Usage: modproxy missing [--data DIR] [--since T] -o WANTS\n"
    "  --since T   only what was last asked at or after T: an RFC 3339 date\n"
    "              or time (2026-01-02, 2026-01-02T15:04:05Z) or a duration\n"
    "              before now (12h, 7d)\n"
    "  -o WANTS    the file to write (\"-\": standard output)";

enum { F_OUTPUT, F_SINCE };
static const struct settings_flag flags[] = {
    [F_OUTPUT] = {"output", 'o', "WANTS"},
    [F_SINCE] = {"since", 0, "T"},
    {NULL, 0, NULL},
};

int cmd_missing(int argc, char **argv) {
  struct cmd_ctx ctx = {.name = "missing"};
  char tmp[4200] = "";
  FILE *f = NULL;
  int rc = cmd_ctx_load(&ctx, summary, 1u << S_DATA, flags, argc, argv);
  if (rc != 0) {
    rc = rc == 1 ? 0 : rc;
    goto out;
  }
  if ((rc = cmd_ctx_no_args(&ctx)) != 0)
    goto out;
  const char *out = settings_flag(&ctx.st, F_OUTPUT);
  const char *since_text = settings_flag(&ctx.st, F_SINCE);
  int64_t since = 0;
  rc = CMD_EXIT_USAGE;
  if (out == NULL) {
    fprintf(stderr, "modproxy missing: say where to write the list with -o "
                    "WANTS (\"-\": standard output)\n");
    goto out;
  }
  if (since_text != NULL &&
      settings_time_parse(since_text, (int64_t)time(NULL), &since) < 0) {
    fprintf(stderr,
            "modproxy missing: --since %s: not a date, time or duration "
            "(2026-01-02, 2026-01-02T15:04:05Z, 12h, 7d)\n",
            since_text);
    goto out;
  }
  if ((rc = cmd_ctx_open(&ctx)) != 0)
    goto out;
  if (strcmp(out, "-") == 0) {
    f = stdout;
  } else {
    snprintf(tmp, sizeof tmp, "%s.partial-%d", out, (int)getpid());
    f = fopen(tmp, "w");
  }
  size_t n = 0;
  int wrc =
      f != NULL ? proxy_mirror_wants_write(ctx.store, since, f, &n) : -errno;
  if (f != NULL && f != stdout && fclose(f) != 0 && wrc == 0)
    wrc = -errno;
  if (wrc == 0 && tmp[0] != '\0' && rename(tmp, out) < 0)
    wrc = -errno;
  if (wrc < 0) {
    fprintf(stderr, "modproxy missing: %s: %s\n", out, strerror(-wrc));
    if (tmp[0] != '\0')
      unlink(tmp);
    rc = 1;
    goto out;
  }
  if (f != stdout)
    fprintf(stderr,
            "modproxy missing: %zu module version%s and queries to "
            "%s\n",
            n, n == 1 ? "" : "s", out);
  rc = 0;
out:
  cmd_ctx_dispose(&ctx);
  return rc;
}
