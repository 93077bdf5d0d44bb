/*
 * The modproxy subcommands (proxy/cli), the folder's one interface header:
 * main.c dispatches to them; one file per command. They read every setting
 * through settings.c and run the server (proxy/server.c) or the store.
 */
#ifndef PROXY_CMD_H
#define PROXY_CMD_H

/* Exit status for bad usage (and, for client commands, a check that could
 * not run). */
#define CMD_EXIT_USAGE 2

struct settings;
struct settings_cmd;

/**
 * Every command's flags, config file and MODPROXY_* variables, through
 * settings_load (settings.h); an error is printed as one line "modproxy
 * CMD: ...". Returns 0; 1 when the help was printed (exit 0); -EINVAL after
 * the error (exit CMD_EXIT_USAGE). st is set either way: dispose of it.
 */
int cmd_load(struct settings *st, const struct settings_cmd *cmd, int argc,
             char **argv);

/** Each takes the arguments after the command name (argv[0] is the name)
 *  and returns the process exit status. */
/* The server and its settings (cmd_serve.c). */
int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_diag(int argc, char **argv);
int cmd_auth(int argc, char **argv);
/* Air-gapped mirrors (cmd_export.c, cmd_import.c, cmd_missing.c,
 * cmd_keygen.c). */
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_missing(int argc, char **argv);
int cmd_keygen(int argc, char **argv);

/* Cache management (cmd_gc.c, cmd_fsck.c, cmd_stats.c, cmd_pin.c,
 * cmd_backup.c); they share the store helpers of cmd_store.c. */
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_pin(int argc, char **argv);
int cmd_backup(int argc, char **argv);

#endif
