/*
 * Settings and flags of every command: one table of every setting, read in
 * order from the defaults, a config file (--config FILE or MODPROXY_CONFIG),
 * the MODPROXY_* environment variables and the command-line flags, each
 * later source winning, plus each command's own flags (--dry-run, -o FILE).
 * Every command reads the same config file and environment: it uses the
 * settings it takes and ignores the others; a key or MODPROXY_* variable
 * that no command knows is an error naming the nearest real one. Every
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
/* Own flags of one command (export has the most: nine). */
#define SETTINGS_MAX_FLAGS 9
/* The longest duration a setting takes: a hundred years is "never". */
#define SETTINGS_MAX_DURATION_S (100ll * 365 * 86400)

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
  S_POLICY,
  S_TRUSTED_PROXIES,
  S_OFFLINE_STALE_AFTER,
  S_TRUST,
  S_COUNT
};

/** A command's own flag, beside the settings. */
struct settings_flag {
  const char *name; /**< "dry-run", given as --dry-run */
  int short_name;   /**< 'o' for -o, or 0 */
  const char *arg;  /**< the value's name ("FILE"); NULL: a switch */
};

/** What a command takes, for settings_load. */
struct settings_cmd {
  const char *name;    /**< "gc" */
  const char *summary; /**< the help text above the flags */
  unsigned allowed;    /**< the settings it uses: bits 1u << setting_id */
  /** its own flags, at most SETTINGS_MAX_FLAGS, ending with {NULL} (or
   *  NULL for none) */
  const struct settings_flag *flags;
};

struct settings {
  struct {
    const char *text; /**< the value (NULL: unset) */
    char source[160]; /**< "default", "MODPROXY_X", "FILE:LINE", "flag" */
    const char *list[SETTINGS_MAX_LIST + 1]; /**< repeatable: NULL-terminated */
    int nlist;
  } v[S_COUNT];
  char *file_text; /* the config file's contents (values point into it) */
  /* Memory of setting i's own that its values point into: a list
   * variable's copy (load_env), or the values a reload kept. */
  char *owned[S_COUNT];
  struct {
    const char *list[SETTINGS_MAX_LIST + 1]; /**< values, in order */
    int n;                    /**< times given (a switch's values are "true") */
  } flag[SETTINGS_MAX_FLAGS]; /**< own flags, in cmd->flags' order */
  /** The --policy rules, built from their values once all sources are
   *  read (NULL: none); the configuration points to them. */
  struct policy_set *policies;
  char **args; /**< positional arguments left after the flags */
  int nargs;
};

/**
 * Loads the settings and own flags of `cmd` from all sources (argv[0] is the
 * command's name; argv is permuted, as by getopt). Returns 0; 1 when --help
 * was given (the help is printed); -EINVAL with one line in err for an
 * unknown flag, key or MODPROXY_* variable (naming the nearest real one), a
 * bad value (naming its source and line), or an unreadable config file.
 */
int settings_load(struct settings *st, const struct settings_cmd *cmd, int argc,
                  char **argv, char *err, size_t errlen);
void settings_dispose(struct settings *st);

const char *settings_text(const struct settings *st, enum setting_id id);
/** A count setting, or a size in bytes (validated at load). */
int64_t settings_count(const struct settings *st, enum setting_id id);
int settings_bool(const struct settings *st, enum setting_id id);
/** The last value of own flag i (a switch: "true"), NULL if not given. */
const char *settings_flag(const struct settings *st, int i);

/**
 * Reads a size: plain bytes, or a number with a binary suffix K, M, G or T
 * (optionally followed by "iB" or "B": 64K, 512MiB, 100G). -EINVAL if it is
 * not one or is over max.
 */
int settings_size_parse(const char *text, int64_t max, int64_t *bytes);

/**
 * Reads a duration: a whole number with a unit s, m, h, d or w (90m, 12h,
 * 30d, 2w); a plain number is seconds. -EINVAL if it is not one, or is over
 * SETTINGS_MAX_DURATION_S.
 */
int settings_duration_parse(const char *text, int64_t *secs);
/**
 * Reads a point in time: an RFC 3339 date or time in UTC (2026-01-02,
 * 2026-01-02T15:04:05Z), or a duration (settings_duration_parse) meaning
 * that long before now. Unix seconds into *t; -EINVAL if it is neither.
 */
int settings_time_parse(const char *text, int64_t now, int64_t *t);

/** Fills the server configuration from loaded settings. */
void settings_to_config(const struct settings *st, struct proxy_config *cfg);

/**
 * A whole configuration for the server: st's contents are moved in (st is
 * left empty) and the server configuration made from them. One reference;
 * proxy_config_release frees it. NULL when out of memory (st disposed).
 */
struct proxy_config *settings_config_new(struct settings *st);

/** Where a reload reads `serve`'s settings from: its command and the
 *  arguments it started with (argv as settings_load left it). */
struct settings_source {
  const struct settings_cmd *cmd;
  int argc;
  char **argv;
};

/**
 * The reload of `serve` (a proxy_reload_cb; arg: a struct settings_source):
 * loads the settings again from every source, as at start; each setting
 * whose value differs from running's is named in r->changed, or, when the
 * server builds something from it once at start (the listener, the store,
 * the upstream client...), in r->restart, and then keeps running's value.
 * No code per setting: the table says which need a restart. running must
 * come from settings_config_new or settings_reload.
 */
struct proxy_config *settings_reload(const struct proxy_config *running,
                                     struct proxy_reload *r, void *arg);

/** Prints every allowed setting, its value and where it came from. */
void settings_print(const struct settings *st, unsigned allowed, FILE *f);

/* Commands pass the settings they take as a bitmask of 1u << setting_id. */
_Static_assert(S_COUNT < 32, "settings masks are 32-bit: widen them");

/** The settings that `serve` takes (and `config` shows): all but import's
 *  bundle keys. */
#define SETTINGS_SERVE (((1u << S_COUNT) - 1) & ~(1u << S_TRUST))

#endif
