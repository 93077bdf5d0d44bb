/*
 * The modproxy subcommands (main.c dispatches; one file per command).
 * Private to proxy/.
 */
#ifndef PROXY_CMD_H
#define PROXY_CMD_H

/* Exit status for bad usage (and, for client commands, a check that could
 * not run). */
#define CMD_EXIT_USAGE 2

/** Each takes the arguments after the command name (argv[0] is the name)
 *  and returns the process exit status. */
int cmd_diag(int argc, char **argv);
int cmd_auth(int argc, char **argv);
/* Air-gapped mirrors (cmd_export.c, cmd_import.c). */
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);

/* Cache management (cmd_gc.c, cmd_fsck.c, cmd_stats.c, cmd_pin.c,
 * cmd_backup.c); they share the store helpers of cmd_store.c. */
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_pin(int argc, char **argv);
int cmd_backup(int argc, char **argv);

#endif
