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

#endif
