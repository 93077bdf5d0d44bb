/*
 * `modproxy serve` (the server, proxy/server.c, on this process's loop) and
 * `modproxy config` (the settings serve would use, and their sources).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cmd.h"
#include "server.h"
#include "settings.h"

static void close_handle(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

int cmd_serve(int argc, char **argv) {
  static const struct settings_cmd cmd = {
      "serve",
      "Serves the GOPROXY protocol from a SQLite cache, fetching what it "
      "lacks from the upstream proxies.\nPoint the go command at it with\n"
      "  go env -w GOPROXY=http://HOST:PORT",
      SETTINGS_SERVE, NULL};
  struct settings st;
  int rc = cmd_load(&st, &cmd, argc, argv);
  if (rc != 0) {
    settings_dispose(&st);
    return rc > 0 ? 0 : CMD_EXIT_USAGE;
  }
  if (st.nargs > 0) {
    fprintf(stderr,
            "modproxy serve: unexpected argument \"%s\" (see modproxy serve "
            "--help)\n",
            st.args[0]);
    settings_dispose(&st);
    return CMD_EXIT_USAGE;
  }
  /* The configuration made from st (which it takes), held here until the
   * server has ended: what the server builds once at start (the store, the
   * upstream client, proxy/vcs's directories) borrows from it, whatever
   * configuration a reload (the next, made from the same sources) swaps in. */
  struct proxy_config *cfg = settings_config_new(&st);
  struct settings_source src = {&cmd, argc, argv};
  /* A client that goes away mid-response must cost an EPIPE on that
   * connection, not the process. */
  signal(SIGPIPE, SIG_IGN);
  /* Store reads, ingests and analyses share libuv's worker threads; its
   * default of 4 is small for a server whose disk work blocks. */
  setenv("UV_THREADPOOL_SIZE", "16", 0);
  /* Request records go to stdout as JSON lines, flushed in batches. */
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct proxy_server *s = calloc(1, sizeof *s);
  rc = s == NULL || cfg == NULL ? -ENOMEM : proxy_server_init(s, &loop, cfg);
  if (rc == 0) {
    proxy_server_on_reload(s, settings_reload, &src);
    rc = proxy_server_run(s);
  } else
    rc = rc == -EINVAL ? CMD_EXIT_USAGE : 1;
  /* Close whatever handles are left (the record timer after a forced
   * stop), so that the loop, and the server its handles live in, can be
   * released; a failed start leaves none. */
  uv_walk(&loop, close_handle, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) == 0)
    free(s);
  curl_global_cleanup();
  proxy_config_release(cfg);
  return rc;
}

int cmd_config(int argc, char **argv) {
  static const struct settings_cmd cmd = {
      "config",
      "Prints the settings `modproxy serve` would use with the same flags, "
      "environment and config file, and where each value comes from.",
      SETTINGS_SERVE, NULL};
  struct settings st;
  int rc = cmd_load(&st, &cmd, argc, argv);
  if (rc == 0)
    settings_print(&st, SETTINGS_SERVE, stdout);
  settings_dispose(&st);
  return rc < 0 ? CMD_EXIT_USAGE : 0;
}
