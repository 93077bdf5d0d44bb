/*
 * Settings: one table of every setting, read in order from the defaults, a
 * config file (--config FILE or MODPROXY_CONFIG), the MODPROXY_* environment
 * variables and the command-line flags, each later source winning. Every
 * value remembers where it came from (`modproxy config` prints it). Private
 * to proxy/.
 */
#ifndef PROXY_SETTINGS_H
#define PROXY_SETTINGS_H

#include <stdint.h>
#include <stdio.h>

#include "server.h"

/* Lines of a config file, and the file's size: a config is a few dozen
 * lines; these bound what a mistaken path (a binary, a log) can cost. */
#define SETTINGS_MAX_FILE_BYTES (1u << 20)
/* Values of one repeatable setting (--git-route). */
#define SETTINGS_MAX_LIST 64

enum setting_id {
  S_LISTEN,
  S_DATA,
  S_UPSTREAM,
  S_UPSTREAM_CA,
  S_LIST_TTL,
  S_NOT_FOUND_TTL,
  S_STRICT_ZIPS,
  S_MEMORY_CACHE,
  S_PRIVATE,
  S_GIT_ROUTE,
  S_DIAG_RECORDS,
  S_GIT_TIMEOUT,
  S_GO_RELEASE,
  S_TLS_CERT,
  S_TLS_KEY,
  S_MAX_CACHE_BYTES,
  S_ADMIN_TOKEN,
  S_OFFLINE,
  S_SUMDB,
  S_VERIFY_SUMDB,
  S_AUTH_FILE,
  S_AUTH_REQUIRED,
  S_MAX_CONNECTIONS,
  S_MAX_REQUEST_RATE,
  S_DIRECT_DENY,
  S_DIRECT_ALLOW,
  S_DIRECT_INSECURE,
  S_COUNT
};

struct settings {
  struct {
    const char *text; /**< the value (NULL: unset) */
    char source[160]; /**< "default", "MODPROXY_X", "FILE:LINE", "flag" */
    const char *list[SETTINGS_MAX_LIST + 1]; /**< repeatable: NULL-terminated */
    int nlist;
  } v[S_COUNT];
  char *file_text; /* the config file's contents (values point into it) */
  char *env_copy[S_COUNT];
  char **args; /**< positional arguments left after the flags */
  int nargs;
};

/**
 * Loads the settings `allowed` (a bitmask of 1u << setting_id) for command
 * `cmd` from all sources. Returns 0; 1 when --help was given (the help is
 * printed); -EINVAL with one line in err for an unknown flag or key, a bad
 * value (naming its source and line), or an unreadable config file.
 */
int settings_load(struct settings *st, const char *cmd, const char *summary,
                  unsigned allowed, int argc, char **argv, char *err,
                  size_t errlen);
void settings_dispose(struct settings *st);

const char *settings_text(const struct settings *st, enum setting_id id);
/** A count setting (validated at load). */
int64_t settings_count(const struct settings *st, enum setting_id id);
int settings_bool(const struct settings *st, enum setting_id id);

/** Fills the server configuration from loaded settings. */
void settings_to_config(const struct settings *st, struct proxy_config *cfg);

/** Prints every allowed setting, its value and where it came from. */
void settings_print(const struct settings *st, unsigned allowed, FILE *f);

/* Commands pass the settings they take as a bitmask of 1u << setting_id. */
_Static_assert(S_COUNT < 32, "settings masks are 32-bit: widen them");

/** The settings that `serve` takes (and `config` shows). */
#define SETTINGS_SERVE ((1u << S_COUNT) - 1)

#endif
