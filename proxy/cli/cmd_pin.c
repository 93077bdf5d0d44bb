/*
 * `modproxy pin`: keeps module versions from eviction.
 *
 *   modproxy pin MODULE@VERSION...     pin versions (stored or not yet)
 *   modproxy pin MODULE...             pin every version of a module
 *   modproxy pin --remove ARG...       remove pins
 *   modproxy pin [--list]              list the pins and the bytes they keep
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_store.h"

static const char summary[] =
    "Pins module versions so that eviction (max-cache-bytes, modproxy gc)\n"
    "never removes them. A pin may come before the version is stored.\n"
    "\n"
    "  modproxy pin MODULE@VERSION...   pin these versions\n"
    "  modproxy pin MODULE...           pin every version of these modules\n"
    "  modproxy pin --remove ARG...     remove these pins\n"
    "  modproxy pin [--list]            list the pins\n"
    "\n"
    "  --remove\n"
    "      remove the pins named\n"
    "  --list\n"
    "      list the pins and the stored bytes each keeps";

static int print_pin(const char *module, const char *version, int64_t pinned,
                     uint64_t bytes, void *arg) {
  char when[40];
  cmd_time(pinned, when, sizeof when);
  printf("%s%s%s  %" PRIu64 " bytes stored, pinned %s\n", module,
         version[0] != '\0' ? "@" : "",
         version[0] != '\0' ? version : " (all versions)", bytes, when);
  (*(int *)arg)++;
  return 0;
}

/* Splits "module[@version]" into its parts and checks them. */
static int parse_arg(const char *arg, char *module, size_t mcap, char *version,
                     size_t vcap) {
  char err[256];
  const char *at = strrchr(arg, '@');
  size_t mlen = at != NULL ? (size_t)(at - arg) : strlen(arg);
  if (mlen >= mcap || (at != NULL && strlen(at + 1) >= vcap)) {
    fprintf(stderr, "modproxy pin: %s: too long\n", arg);
    return -EINVAL;
  }
  memcpy(module, arg, mlen);
  module[mlen] = '\0';
  snprintf(version, vcap, "%s", at != NULL ? at + 1 : "");
  int rc = version[0] != '\0' ? gomod_check(module, version, err, sizeof err)
                              : gomod_check_path(module, err, sizeof err);
  if (rc == 0 && at != NULL && !gomod_is_canonical_version(version)) {
    snprintf(err, sizeof err, "%s is not a canonical version (vX.Y.Z)",
             version);
    rc = -EINVAL;
  }
  if (rc < 0) {
    fprintf(stderr, "modproxy pin: %s: %s\n", arg, err);
    return -EINVAL;
  }
  return 0;
}

int cmd_pin(int argc, char **argv) {
  static const struct settings_flag own[] = {
      {"remove", 0, NULL}, {"list", 0, NULL}, {NULL, 0, NULL}};
  struct cmd_ctx ctx = {.name = "pin"};
  int rc = cmd_ctx_load(&ctx, summary, 1u << S_DATA, own, argc, argv);
  if (rc != 0) {
    rc = rc == 1 ? 0 : rc;
    goto out;
  }
  int remove = settings_flag(&ctx.st, 0) != NULL,
      list = settings_flag(&ctx.st, 1) != NULL;
  if ((remove && ctx.st.nargs == 0) || (list && (remove || ctx.st.nargs > 0))) {
    fprintf(stderr, "modproxy pin: %s\n",
            list ? "--list takes no arguments"
                 : "--remove needs MODULE[@VERSION] arguments");
    rc = CMD_EXIT_USAGE;
    goto out;
  }
  char module[GOMOD_MAX_PATH_BYTES], version[GOMOD_MAX_VERSION_BYTES];
  for (int i = 0; i < ctx.st.nargs; i++) {
    if (parse_arg(ctx.st.args[i], module, sizeof module, version,
                  sizeof version) < 0) {
      rc = CMD_EXIT_USAGE;
      goto out;
    }
  }
  rc = cmd_ctx_open(&ctx);
  if (rc != 0)
    goto out;
  if (ctx.st.nargs == 0) {
    int n = 0;
    int lrc = store_pins_each(ctx.store, print_pin, &n);
    if (lrc < 0) {
      fprintf(stderr, "modproxy pin: %s\n", strerror(-lrc));
      rc = 1;
    } else if (n == 0) {
      printf("no pins\n");
    }
    goto out;
  }
  for (int i = 0; i < ctx.st.nargs; i++) {
    parse_arg(ctx.st.args[i], module, sizeof module, version, sizeof version);
    int prc = remove ? store_pin_delete(ctx.store, module, version)
                     : store_pin_put(ctx.store, module, version);
    if (prc == -ENOENT) {
      fprintf(stderr, "modproxy pin: %s is not pinned\n", ctx.st.args[i]);
      rc = 1;
    } else if (prc < 0) {
      fprintf(stderr, "modproxy pin: %s: %s\n", ctx.st.args[i], strerror(-prc));
      rc = 1;
    } else {
      printf("%s %s%s\n", remove ? "unpinned" : "pinned", ctx.st.args[i],
             version[0] == '\0' ? " (every version)" : "");
    }
  }
out:
  cmd_ctx_dispose(&ctx);
  return rc;
}
