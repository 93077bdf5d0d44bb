/*
 * The modproxy command line: a table of subcommands, each in its own file
 * of proxy/cli (cmd.h) or here when it is a few lines.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

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
