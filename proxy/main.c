/*
 * The modproxy command line: a table of subcommands, each in its own file
 * or here when it is a few lines. Settings (flags, MODPROXY_* variables,
 * config file) are read through settings.c.
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

static int cmd_serve(int argc, char **argv) {
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

static int cmd_config(int argc, char **argv) {
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

static int cmd_version(int argc, char **argv) {
  printf("modproxy %s\n", MODPROXY_VERSION);
  return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"serve", cmd_serve, "serve the GOPROXY protocol"},
    {"config", cmd_config, "print the effective settings and their sources"},
    {"diag", cmd_diag, "check a module's go.mod against a modproxy"},
    {"gc", cmd_gc, "evict least recently used versions past max-cache-bytes"},
    {"fsck", cmd_fsck, "verify every stored file, quarantine damaged ones"},
    {"stats", cmd_stats, "print what the store holds"},
    {"pin", cmd_pin, "keep module versions from eviction"},
    {"backup", cmd_backup, "copy the store to a file, while it serves"},
    {"export", cmd_export, "write a bundle of what builds need, for a mirror"},
    {"import", cmd_import, "import a bundle, GOPROXY tree or module cache"},
    {"missing", cmd_missing, "list what an offline mirror lacked, for export"},
    {"keygen", cmd_keygen, "make a key pair to sign bundles with"},
    {"auth", cmd_auth, "make --auth-file lines for users and tokens"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "show help for a command"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static int cmd_help(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") != 0 &&
      strcmp(argv[1], "-h") != 0) {
    for (size_t i = 0; i < NCOMMANDS; i++)
      if (strcmp(argv[1], commands[i].name) == 0 && commands[i].run != cmd_help)
        return commands[i].run(2, (char *[]){argv[1], "--help", NULL});
    fprintf(stderr, "modproxy help: unknown command \"%s\"\n", argv[1]);
    return CMD_EXIT_USAGE;
  }
  printf("modproxy: a caching Go module proxy (GOPROXY server)\n\nUsage:\n");
  for (size_t i = 0; i < NCOMMANDS; i++)
    printf("  modproxy %-8s %s\n", commands[i].name, commands[i].summary);
  printf("\nRun 'modproxy COMMAND --help' for a command's flags.\n");
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "help";
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
    cmd = "help";
  if (strcmp(cmd, "--version") == 0)
    cmd = "version";
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(cmd, commands[i].name) == 0)
      return commands[i].run(argc > 1 ? argc - 1 : 1,
                             argc > 1 ? argv + 1 : argv);
  fprintf(stderr, "modproxy: unknown command \"%s\" (see modproxy --help)\n",
          cmd);
  return CMD_EXIT_USAGE;
}
