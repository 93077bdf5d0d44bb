/*
 * `modproxy auth user NAME` (password on standard input) and
 * `modproxy auth token NAME` (a new random token): print the line to add
 * to the --auth-file. Only hashes go in the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "http.h"
#include "cmd.h"
#include "settings.h"

static const char usage[] =
    "  modproxy auth user NAME    read NAME's password from standard input\n"
    "  modproxy auth token NAME   make a new bearer token for NAME\n"
    "Each prints one line for the --auth-file. Clients put the password or\n"
    "the token in ~/.netrc (machine HOST login NAME password SECRET).\n";

/* Prints the --auth-file line for `auth KIND NAME`; the exit status. */
static int auth_line(const char *kind, const char *name) {
  char secret[256] = "";
  if (strcmp(kind, "user") == 0) {
    if (fgets(secret, sizeof secret, stdin) == NULL || secret[0] == '\n') {
      fprintf(stderr, "modproxy auth: no password on standard input\n");
      return CMD_EXIT_USAGE;
    }
    secret[strcspn(secret, "\r\n")] = '\0';
  } else {
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof raw) != 1) {
      fprintf(stderr, "modproxy auth: no randomness available\n");
      return 1;
    }
    for (size_t i = 0; i < sizeof raw; i++)
      snprintf(secret + 2 * i, 3, "%02x", raw[i]);
    fprintf(
        stderr,
        "the token for %s (shown once; the file keeps only its hash):\n%s\n",
        name, secret);
  }
  char line[512];
  int rc = proxy_auth_hash_line(kind, name, secret, line, sizeof line);
  OPENSSL_cleanse(secret, sizeof secret);
  if (rc < 0) {
    fprintf(stderr, "modproxy auth: cannot hash the secret\n");
    return 1;
  }
  printf("%s\n", line);
  return 0;
}

int cmd_auth(int argc, char **argv) {
  static const struct settings_cmd cmd = {"auth", usage, 0, NULL};
  struct settings st;
  int rc = cmd_load(&st, &cmd, argc, argv);
  if (rc == 0 && (st.nargs != 2 || (strcmp(st.args[0], "user") != 0 &&
                                    strcmp(st.args[0], "token") != 0))) {
    fprintf(stderr, "modproxy auth: want \"user NAME\" or \"token NAME\" (see "
                    "modproxy auth --help)\n");
    rc = -EINVAL;
  }
  if (rc == 0)
    rc = auth_line(st.args[0], st.args[1]);
  else
    rc = rc > 0 ? 0 : CMD_EXIT_USAGE;
  settings_dispose(&st);
  return rc;
}
