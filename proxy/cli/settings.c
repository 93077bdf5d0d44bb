/*
 * Settings from defaults, config file, environment and flags, and the
 * commands' own flags: the one parser of every command's arguments.
 *
 * The config file is lines of `key = value` (the key is the flag's name
 * without "--"), blank lines and lines starting with '#'. Repeatable keys
 * (git-route) may appear on several lines. Every command reads the whole
 * file and skips the keys of settings it does not take; a key of no setting
 * or a bad value is an error that names the file and line. Values are
 * validated as they are read, so a bad value in any source is reported with
 * that source. The same holds for MODPROXY_* variables.
 */
#include "settings.h"
#include "goproxy.h"
#include "modproxy/netrange.h"
#include "vcs.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum kind {
  K_TEXT,
  K_COUNT,
  K_SIZE,
  K_DURATION,
  K_BOOL,
  K_LIST,
  K_CHOICE,
  K_RANGES
};

/* getopt values for the settings' flags: OPT_BASE + setting_id; for a
 * command's own flags: OPT_FLAG_BASE + index. */
#define OPT_BASE 256
#define OPT_FLAG_BASE 512

/* Names compared for "did you mean": longer ones are never a typo of ours. */
#define NEAREST_MAX_NAME_BYTES 64

extern char **environ;

static const struct def {
  const char *name;
  enum kind kind;
  const char *def; /* the default value as text (NULL: unset) */
  int64_t max;     /* K_COUNT, K_SIZE: the largest value allowed */
  const char *arg; /* the value's name in the usage (NULL: none) */
  const char *help;
  int64_t unit;    /* K_SIZE: bytes of a number without suffix (0: 1) */
  const char *env; /* the variable when not MODPROXY_<NAME> */
  /* The server builds something from it once, at start (a listener, the
   * store, the upstream client): a new value on SIGHUP waits for a
   * restart. Every other setting applies on SIGHUP (settings_reload). */
  int restart;
  /* K_LIST: what separates the variable's values (NULL: white space) */
  const char *env_sep;
  /* checks a value beyond its kind: 0, or -EINVAL with why */
  int (*check)(const char *text, char *why, size_t cap);
} defs[S_COUNT] = {
    [S_LISTEN] = {.name = "listen",
                  .kind = K_TEXT,
                  .def = "127.0.0.1:3000",
                  .arg = "ADDR",
                  .help = "address to listen on: host:port, [v6]:port or :port",
                  .restart = 1},
    [S_DATA] = {.name = "data",
                .kind = K_TEXT,
                .def = "./modproxy-data",
                .arg = "DIR",
                .help = "where the cache (modproxy.db) lives",
                .restart = 1},
    [S_UPSTREAM] =
        {.name = "upstream",
         .kind = K_TEXT,
         .def = "https://proxy.golang.org",
         .arg = "LIST",
         .help = "upstream proxies in GOPROXY syntax: ',' falls through on "
                 "404/410, '|' on any error, 'off' ends the list",
         .restart = 1},
    [S_UPSTREAM_CA] =
        {.name = "upstream-ca",
         .kind = K_TEXT,
         .arg = "FILE",
         .help = "PEM certificates to verify upstreams with instead of "
                 "the system store",
         .restart = 1},
    [S_LIST_TTL] = {.name = "list-ttl",
                    .kind = K_COUNT,
                    .def = "300",
                    .max = 365ll * 86400,
                    .arg = "SECONDS",
                    .help = "how long version lists and @latest are fresh"},
    [S_NOT_FOUND_TTL] = {.name = "not-found-ttl",
                         .kind = K_COUNT,
                         .def = "60",
                         .max = 365ll * 86400,
                         .arg = "SECONDS",
                         .help = "how long a not-found answer is remembered"},
    [S_STRICT_ZIPS] =
        {.name = "strict-zips",
         .kind = K_BOOL,
         .def = "false",
         .help = "refuse upstream zips that break the module zip rules "
                 "instead of serving them as published"},
    [S_MEMORY_CACHE] = {.name = "memory-cache",
                        .kind = K_SIZE,
                        .def = "64",
                        .max = 1ll << 40,
                        .arg = "SIZE",
                        .help =
                            "memory for the hot cache of small responses (a "
                            "plain number is MiB; 512M, 1G)",
                        .unit = 1 << 20,
                        .restart = 1},
    [S_PRIVATE] =
        {.name = "private",
         .kind = K_TEXT,
         .arg = "PATTERNS",
         .help = "GOPRIVATE-style globs: matching modules come from their "
                 "git repositories, never from an upstream"},
    [S_GIT_ROUTE] =
        {.name = "git-route",
         .kind = K_LIST,
         .arg = "PATTERN=URL",
         .help = "where a private module's repository lives; URL may use "
                 "{root}, {1}, {2}...; repeatable",
         .env = "MODPROXY_GIT_ROUTES"},
    [S_DIAG_RECORDS] = {.name = "diag-records",
                        .kind = K_COUNT,
                        .def = "10000",
                        .max = 100000000,
                        .arg = "N",
                        .help = "request records kept for /diag"},
    [S_MAX_CACHE_BYTES] = {.name = "max-cache-bytes",
                           .kind = K_SIZE,
                           .def = "0",
                           .max = INT64_MAX,
                           .arg = "SIZE",
                           .help =
                               "evict the least recently used public module "
                               "versions past this size (bytes, or 100G, 512M, "
                               "64K); 0: never"},
    [S_ADMIN_TOKEN] = {.name = "admin-token",
                       .kind = K_TEXT,
                       .arg = "TOKEN",
                       .help =
                           "bearer token that POST /admin/refresh requires; "
                           "unset: /admin/ is disabled"},
    [S_GO_RELEASE] =
        {.name = "go-release",
         .kind = K_TEXT,
         .def = "1.19",
         .arg = "VERSION",
         .help = "the oldest Go release your builds use: modules whose "
                 "go.mod needs a newer one are flagged in /diag"},
    [S_OFFLINE] = {.name = "offline",
                   .kind = K_BOOL,
                   .def = "false",
                   .help =
                       "air-gapped mirror: fetch nothing, serve only what the "
                       "store holds (lists and @latest from its versions)",
                   .restart = 1},
    [S_SUMDB] =
        {.name = "sumdb",
         .kind = K_LIST,
         .def = "sum.golang.org",
         .arg = "GOSUMDB",
         .help = "checksum database to proxy and verify against, in GOSUMDB "
                 "syntax (name, name+hash+key, then an optional URL); "
                 "repeatable; off: none",
         .restart = 1},
    [S_VERIFY_SUMDB] =
        {.name = "verify-sumdb",
         .kind = K_BOOL,
         .def = "true",
         .help = "check upstream zips and go.mod files of public "
                 "modules against the checksum database before storing "
                 "them (when it can be reached)"},
    [S_AUTH_FILE] = {.name = "auth-file",
                     .kind = K_TEXT,
                     .arg = "FILE",
                     .help =
                         "users and tokens (hashed) allowed to see private "
                         "modules; lines from `modproxy auth user NAME` and "
                         "`modproxy auth token NAME`"},
    [S_AUTH_REQUIRED] =
        {.name = "auth-required",
         .kind = K_CHOICE,
         .def = "private",
         .arg = "private|all",
         .help = "with --auth-file, what needs credentials: private "
                 "(modules matching --private) or all"},
    [S_MAX_CONNECTIONS] = {.name = "max-connections",
                           .kind = K_COUNT,
                           .def = "20000",
                           .max = 1000000,
                           .arg = "N",
                           .help = "open client connections at most; more are "
                                   "refused with 503"},
    [S_MAX_REQUEST_RATE] = {.name = "max-request-rate",
                            .kind = K_COUNT,
                            .def = "2000",
                            .max = 1000000,
                            .arg = "N",
                            .help =
                                "requests per second one client address may "
                                "make (0: no limit); past it, 429 and the "
                                "connection closes"},
    [S_TLS_CERT] =
        {.name = "tls-cert",
         .kind = K_TEXT,
         .arg = "FILE",
         .help = "PEM certificate chain: serve https (reloaded on SIGHUP)"},
    [S_TLS_KEY] = {.name = "tls-key",
                   .kind = K_TEXT,
                   .arg = "FILE",
                   .help = "PEM private key for --tls-cert"},
    [S_GIT_TIMEOUT] = {.name = "git-timeout",
                       .kind = K_COUNT,
                       .def = "120",
                       .max = 86400,
                       .arg = "SECONDS",
                       .help =
                           "how long one git command may talk to a git host",
                       .restart = 1},
    [S_DIRECT_DENY] = {.name = "direct-deny",
                       .kind = K_RANGES,
                       .def = VCS_POLICY_DEFAULT_DENY,
                       .arg = "CIDRS",
                       .help =
                           "address ranges that public modules' repositories "
                           "and go-get pages may not be on (\"direct\"); none: "
                           "no range",
                       .restart = 1},
    [S_DIRECT_ALLOW] = {.name = "direct-allow",
                        .kind = K_RANGES,
                        .arg = "CIDRS",
                        .help = "address ranges allowed all the same, inside "
                                "--direct-deny",
                        .restart = 1},
    [S_DIRECT_INSECURE] = {.name = "direct-insecure",
                           .kind = K_TEXT,
                           .arg = "PATTERNS",
                           .help =
                               "GOINSECURE-style globs: public modules whose "
                               "repositories may be http:// or git://",
                           .restart = 1},
    [S_POLICY] =
        {.name = "policy",
         .kind = K_LIST,
         .arg = "PATTERN=ACTION",
         .help = "what to do for matching modules: deny REASON, deny RANGE "
                 "REASON (<v1.2.3, >=v2.0.0, v1.0.0), cache-only or "
                 "upstream LIST; first match wins; repeatable (the variable: "
                 "one a line)",
         .env_sep = "\n",
         .check = policy_check},
    [S_TRUSTED_PROXIES] = {.name = "trusted-proxies",
                           .kind = K_RANGES,
                           .arg = "CIDRS",
                           .help =
                               "reverse proxies (nginx, a load balancer) whose "
                               "X-Forwarded-For or Forwarded names the client "
                               "for logs, /diag and password budgets; other "
                               "peers' are ignored"},
    [S_OFFLINE_STALE_AFTER] = {.name = "offline-stale-after",
                               .kind = K_DURATION,
                               .def = "0",
                               .arg = "DURATION",
                               .help =
                                   "with --offline, warn in /readyz and "
                                   "/diag/mirror once the mirror's content is "
                                   "older than this (90m, 12h, 30d, 2w); 0: "
                                   "never"},
    [S_TRUST] =
        {.name = "trust",
         .kind = K_LIST,
         .arg = "KEY",
         .help = "import only bundles signed by this key (NAME+HASH+KEY from "
                 "`modproxy keygen`, or a file holding it); repeatable"},
};

/* The setting's variable: MODPROXY_<NAME>, upper case, '-' as '_'. */
static void env_name(const struct def *d, char *out, size_t cap) {
  if (d->env != NULL) {
    snprintf(out, cap, "%s", d->env);
    return;
  }
  size_t w = (size_t)snprintf(out, cap, "MODPROXY_");
  for (const char *name = d->name; *name != '\0' && w + 1 < cap; name++)
    out[w++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
  out[w] = '\0';
}

/* Levenshtein distance, for "did you mean". */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > NEAREST_MAX_NAME_BYTES || lb > NEAREST_MAX_NAME_BYTES)
    return SIZE_MAX;
  size_t row[NEAREST_MAX_NAME_BYTES + 1];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (tolower((unsigned char)a[i - 1]) !=
                            tolower((unsigned char)b[j - 1]));
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* Keeps in best the candidate nearest to name so far. */
static void nearer(const char *name, const char *candidate, char *best,
                   size_t cap, size_t *best_d) {
  size_t d = distance(name, candidate);
  if (d < *best_d) {
    *best_d = d;
    snprintf(best, cap, "%s", candidate);
  }
}

static int parse_bool(const char *t) {
  static const char *const yes[] = {"1", "true", "yes", "on"};
  static const char *const no[] = {"0", "false", "no", "off"};
  for (int i = 0; i < 4; i++) {
    if (strcasecmp(t, yes[i]) == 0)
      return 1;
    if (strcasecmp(t, no[i]) == 0)
      return 0;
  }
  return -1;
}

int settings_size_parse(const char *text, int64_t max, int64_t *bytes) {
  static const char suffixes[] = "KMGT";
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || !isdigit((unsigned char)text[0]))
    return -EINVAL;
  int shift = 0;
  const char *s =
      *end != '\0' ? strchr(suffixes, toupper((unsigned char)*end)) : NULL;
  if (s != NULL) {
    shift = 10 * (int)(s - suffixes + 1);
    end++;
    if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
      end += strlen(end);
  }
  if (*end != '\0' || v > (INT64_MAX >> shift))
    return -EINVAL;
  v <<= shift;
  if (v > max)
    return -EINVAL;
  *bytes = v;
  return 0;
}

int settings_duration_parse(const char *text, int64_t *secs) {
  static const struct {
    char unit;
    int64_t secs;
  } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || !isdigit((unsigned char)text[0]))
    return -EINVAL;
  int64_t unit = *end == '\0' ? 1 : 0;
  for (size_t i = 0; unit == 0 && i < sizeof units / sizeof units[0]; i++)
    if (end[0] == units[i].unit && end[1] == '\0')
      unit = units[i].secs;
  if (unit == 0 || v > SETTINGS_MAX_DURATION_S / unit)
    return -EINVAL;
  *secs = v * unit;
  return 0;
}

int settings_time_parse(const char *text, int64_t now, int64_t *t) {
  static const char *const layouts[] = {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"};
  int64_t ago;
  if (settings_duration_parse(text, &ago) == 0) {
    *t = now - ago;
    return 0;
  }
  for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(text, layouts[i], &tm);
    if (end != NULL && *end == '\0') {
      *t = (int64_t)timegm(&tm);
      return 0;
    }
  }
  return -EINVAL;
}

/* A K_SIZE setting's bytes: a plain number counts d->unit each. */
static int size_of(const struct def *d, const char *text, int64_t *bytes) {
  int64_t unit = d->unit > 0 ? d->unit : 1;
  int rc = settings_size_parse(text, d->max, bytes);
  if (rc == 0 && unit > 1 && isdigit((unsigned char)text[strlen(text) - 1])) {
    if (*bytes > d->max / unit)
      return -EINVAL;
    *bytes *= unit;
  }
  return rc;
}

/* Checks and records one value for id from source. */
static int set(struct settings *st, enum setting_id id, const char *text,
               const char *source, char *err, size_t errlen) {
  const struct def *d = &defs[id];
  int64_t bytes;
  if (d->kind == K_SIZE && size_of(d, text, &bytes) < 0) {
    snprintf(err, errlen,
             "%s: %s: \"%s\" is not a size (bytes, or a number with K, M, G "
             "or T) up to %lld bytes",
             source, d->name, text, (long long)d->max);
    return -EINVAL;
  }
  int64_t secs;
  if (d->kind == K_DURATION && settings_duration_parse(text, &secs) < 0) {
    snprintf(err, errlen,
             "%s: %s: \"%s\" is not a duration (a number with s, m, h, d "
             "or w: 90m, 12h, 30d)",
             source, d->name, text);
    return -EINVAL;
  }
  if (d->kind == K_COUNT) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < 0 || v > d->max) {
      snprintf(err, errlen,
               "%s: %s: \"%s\" is not a whole number from 0 to %lld", source,
               d->name, text, (long long)d->max);
      return -EINVAL;
    }
  } else if (d->kind == K_CHOICE) {
    /* d->arg lists the choices, '|'-separated. */
    size_t n = strlen(text);
    const char *hit = strstr(d->arg, text);
    if (n == 0 || hit == NULL || (hit != d->arg && hit[-1] != '|') ||
        (hit[n] != '\0' && hit[n] != '|')) {
      snprintf(err, errlen, "%s: %s: \"%s\" is not one of %s", source, d->name,
               text, d->arg);
      return -EINVAL;
    }
  } else if (d->kind == K_RANGES) {
    char why[160];
    struct net_range r[NET_MAX_RANGES];
    size_t n;
    if (net_ranges_parse(text, r, NET_MAX_RANGES, &n, why, sizeof why) < 0) {
      snprintf(err, errlen, "%s: %s: %s", source, d->name, why);
      return -EINVAL;
    }
  } else if (d->kind == K_BOOL && parse_bool(text) < 0) {
    snprintf(err, errlen, "%s: %s: \"%s\" is not true or false", source,
             d->name, text);
    return -EINVAL;
  }
  char why[512];
  int rc = d->check != NULL ? d->check(text, why, sizeof why) : 0;
  if (rc < 0) {
    snprintf(err, errlen, "%s: %s: %s", source, d->name,
             rc == -EINVAL ? why : strerror(-rc));
    return -EINVAL;
  }
  if (d->kind == K_LIST) {
    if (st->v[id].nlist == SETTINGS_MAX_LIST) {
      snprintf(err, errlen, "%s: %s: at most %d values", source, d->name,
               SETTINGS_MAX_LIST);
      return -EINVAL;
    }
    st->v[id].list[st->v[id].nlist++] = text;
    /* NULL-terminated even after a new source replaced longer values. */
    st->v[id].list[st->v[id].nlist] = NULL;
  }
  st->v[id].text = text;
  snprintf(st->v[id].source, sizeof st->v[id].source, "%s", source);
  return 0;
}

static int find_def(const char *name) {
  for (int i = 0; i < S_COUNT; i++)
    if (strcmp(defs[i].name, name) == 0)
      return i;
  return -1;
}

/* The setting name nearest to name, into best. */
static void nearest_key(const char *name, char *best, size_t cap) {
  size_t d = SIZE_MAX;
  for (int i = 0; i < S_COUNT; i++)
    nearer(name, defs[i].name, best, cap, &d);
}

/* A repeatable setting from a new source replaces the earlier values. */
static void reset_list(struct settings *st, enum setting_id id,
                       unsigned *seen) {
  if (defs[id].kind == K_LIST && (*seen & (1u << id)) == 0) {
    st->v[id].nlist = 0;
    *seen |= 1u << id;
  }
}

static int load_file(struct settings *st, const char *path, unsigned allowed,
                     char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "config %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  st->file_text = malloc(SETTINGS_MAX_FILE_BYTES + 1);
  size_t n = st->file_text != NULL
                 ? fread(st->file_text, 1, SETTINGS_MAX_FILE_BYTES + 1, f)
                 : 0;
  fclose(f);
  if (st->file_text == NULL || n > SETTINGS_MAX_FILE_BYTES) {
    snprintf(err, errlen, "config %s: larger than %u bytes", path,
             SETTINGS_MAX_FILE_BYTES);
    return -EINVAL;
  }
  st->file_text[n] = '\0';
  unsigned seen = 0;
  int lineno = 0;
  for (char *line = st->file_text, *next; line != NULL; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    char *p = line;
    while (isspace((unsigned char)*p))
      p++;
    char *end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
      *--end = '\0';
    if (*p == '\0' || *p == '#')
      continue;
    char where[128];
    snprintf(where, sizeof where, "%s:%d", path, lineno);
    char *eq = strchr(p, '=');
    if (eq == NULL) {
      snprintf(err, errlen, "config %s: expected key = value", where);
      return -EINVAL;
    }
    char *key_end = eq;
    while (key_end > p && isspace((unsigned char)key_end[-1]))
      key_end--;
    *key_end = '\0';
    char *value = eq + 1;
    while (isspace((unsigned char)*value))
      value++;
    int id = find_def(p);
    if (id < 0) {
      char near[NEAREST_MAX_NAME_BYTES + 1] = "";
      nearest_key(p, near, sizeof near);
      snprintf(err, errlen,
               "config %s: unknown key \"%s\" (did you mean "
               "\"%s\"?)",
               where, p, near);
      return -EINVAL;
    }
    if ((allowed & (1u << id)) == 0)
      continue; /* another command's setting */
    reset_list(st, (enum setting_id)id, &seen);
    char src[160];
    snprintf(src, sizeof src, "config %s", where);
    if (set(st, (enum setting_id)id, value, src, err, errlen) < 0)
      return -EINVAL;
  }
  return 0;
}

/* Every MODPROXY_* variable must be a setting's or MODPROXY_CONFIG: a
 * misspelt one would otherwise be ignored without a word. */
static int check_env(char *err, size_t errlen) {
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    if (strncmp(*e, "MODPROXY_", 9) != 0)
      continue;
    char var[NEAREST_MAX_NAME_BYTES + 1], name[NEAREST_MAX_NAME_BYTES + 1],
        near[NEAREST_MAX_NAME_BYTES + 1];
    snprintf(var, sizeof var, "%.*s", (int)strcspn(*e, "="), *e);
    size_t best = distance(var, "MODPROXY_CONFIG");
    snprintf(near, sizeof near, "MODPROXY_CONFIG");
    for (int i = 0; i < S_COUNT && best > 0; i++) {
      env_name(&defs[i], name, sizeof name);
      nearer(var, name, near, sizeof near, &best);
    }
    if (best > 0 || strcmp(var, near) != 0) {
      snprintf(err, errlen, "unknown variable %s (did you mean %s?)", var,
               near);
      return -EINVAL;
    }
  }
  return 0;
}

static int load_env(struct settings *st, unsigned allowed, char *err,
                    size_t errlen) {
  if (check_env(err, errlen) < 0)
    return -EINVAL;
  for (int i = 0; i < S_COUNT; i++) {
    if ((allowed & (1u << i)) == 0)
      continue;
    char name[64];
    env_name(&defs[i], name, sizeof name);
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
      continue;
    if (defs[i].kind != K_LIST) {
      if (set(st, (enum setting_id)i, v, name, err, errlen) < 0)
        return -EINVAL;
      continue;
    }
    /* A list variable holds entries separated by spaces or newlines (or
     * by the setting's own separator). */
    const char *sep = defs[i].env_sep != NULL ? defs[i].env_sep : " \t\n";
    st->v[i].nlist = 0;
    if ((st->owned[i] = strdup(v)) == NULL)
      return -ENOMEM;
    for (char *save = NULL, *t = strtok_r(st->owned[i], sep, &save); t != NULL;
         t = strtok_r(NULL, sep, &save))
      if (set(st, (enum setting_id)i, t, name, err, errlen) < 0)
        return -EINVAL;
  }
  return 0;
}

static void usage(const struct settings_cmd *cmd) {
  printf("Usage: modproxy %s [flags]\n\n%s\n", cmd->name, cmd->summary);
  if (cmd->allowed == 0) {
    printf("\nEvery command takes --config FILE [MODPROXY_CONFIG]: the config "
           "file of\n`modproxy serve`, whose keys it does not use.\n");
    return;
  }
  printf("\nFlags (also MODPROXY_<NAME> variables and config file keys; flags "
         "win over variables, which win over the file; keys of other "
         "commands' settings are skipped):\n  --config FILE\n      a config "
         "file of key = value lines [MODPROXY_CONFIG]\n");
  for (int i = 0; i < S_COUNT; i++) {
    if ((cmd->allowed & (1u << i)) == 0)
      continue;
    const struct def *d = &defs[i];
    char env[64];
    env_name(d, env, sizeof env);
    printf("  --%s%s%s\n      %s [%s%s%s]\n", d->name,
           d->arg != NULL ? " " : "", d->arg != NULL ? d->arg : "", d->help,
           env, d->def != NULL ? ", default " : "",
           d->def != NULL ? d->def : "");
  }
  printf("  -h, --help\n      show this help\n");
}

/* The flag nearest to the unknown one arg, for its error. */
static void nearest_flag(const char *arg, const struct option *opts, char *best,
                         size_t cap) {
  const char *name = arg + strspn(arg, "-");
  char given[NEAREST_MAX_NAME_BYTES + 1];
  snprintf(given, sizeof given, "%.*s", (int)strcspn(name, "="), name);
  size_t d = SIZE_MAX;
  for (const struct option *o = opts; o->name != NULL; o++)
    nearer(given, o->name, best, cap, &d);
}

static int usage_error(const char *what, const char *arg,
                       const struct option *opts, const char *cmd, char *err,
                       size_t errlen) {
  char near[NEAREST_MAX_NAME_BYTES + 1] = "";
  nearest_flag(arg, opts, near, sizeof near);
  if (strcmp(what, "unknown flag") == 0 && near[0] != '\0')
    snprintf(err, errlen,
             "unknown flag %s (did you mean --%s? see modproxy "
             "%s --help)",
             arg, near, cmd);
  else
    snprintf(err, errlen, "%s %s (see modproxy %s --help)", what, arg, cmd);
  return -EINVAL;
}

/* Records own flag i's value (a switch: "true"). */
static int set_flag(struct settings *st, const struct settings_cmd *cmd, int i,
                    char *err, size_t errlen) {
  if (st->flag[i].n == SETTINGS_MAX_LIST) {
    snprintf(err, errlen, "--%s: at most %d values", cmd->flags[i].name,
             SETTINGS_MAX_LIST);
    return -EINVAL;
  }
  st->flag[i].list[st->flag[i].n++] =
      cmd->flags[i].arg != NULL ? optarg : "true";
  return 0;
}

int settings_load(struct settings *st, const struct settings_cmd *cmd, int argc,
                  char **argv, char *err, size_t errlen) {
  memset(st, 0, sizeof *st);
  unsigned allowed = cmd->allowed;
  for (int i = 0; i < S_COUNT; i++) {
    if ((allowed & (1u << i)) != 0 && defs[i].def != NULL) {
      st->v[i].text = defs[i].def;
      snprintf(st->v[i].source, sizeof st->v[i].source, "default");
    }
  }
  /* Options: every allowed setting, the command's own flags, --config and
   * --help; short options: -h and the own flags' letters. */
  struct option opts[S_COUNT + SETTINGS_MAX_FLAGS + 3];
  char shorts[3 + 2 * SETTINGS_MAX_FLAGS + 1] = ":h";
  int n = 0, nflags = 0;
  for (int i = 0; i < S_COUNT; i++)
    if ((allowed & (1u << i)) != 0)
      opts[n++] = (struct option){defs[i].name,
                                  defs[i].kind == K_BOOL ? optional_argument
                                                         : required_argument,
                                  NULL, OPT_BASE + i};
  for (; cmd->flags != NULL && cmd->flags[nflags].name != NULL; nflags++) {
    const struct settings_flag *f = &cmd->flags[nflags];
    opts[n++] = (struct option){
        f->name, f->arg != NULL ? required_argument : no_argument, NULL,
        OPT_FLAG_BASE + nflags};
    if (f->short_name != 0) {
      size_t w = strlen(shorts);
      shorts[w++] = (char)f->short_name;
      if (f->arg != NULL)
        shorts[w++] = ':';
      shorts[w] = '\0';
    }
  }
  opts[n++] = (struct option){"config", required_argument, NULL, 'c'};
  opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
  opts[n] = (struct option){NULL, 0, NULL, 0};
  /* First pass: only --config and --help, which decide what loads first. */
  const char *config = getenv("MODPROXY_CONFIG");
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
    if (c == 'h') {
      usage(cmd);
      return 1;
    }
    if (c == 'c')
      config = optarg;
    if (c == '?' || c == ':')
      return usage_error(c == ':' ? "missing value for" : "unknown flag",
                         argv[optind - 1], opts, cmd->name, err, errlen);
  }
  if (config != NULL && config[0] != '\0' &&
      load_file(st, config, allowed, err, errlen) < 0)
    return -EINVAL;
  int rc = load_env(st, allowed, err, errlen);
  if (rc < 0)
    return rc;
  unsigned seen = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
    if (c >= OPT_FLAG_BASE) {
      if (set_flag(st, cmd, c - OPT_FLAG_BASE, err, errlen) < 0)
        return -EINVAL;
      continue;
    }
    if (c < OPT_BASE) {
      for (int i = 0; i < nflags; i++) /* a short own flag (-o FILE) */
        if (cmd->flags[i].short_name == c &&
            set_flag(st, cmd, i, err, errlen) < 0)
          return -EINVAL;
      continue; /* or --config, --help */
    }
    enum setting_id id = (enum setting_id)(c - OPT_BASE);
    reset_list(st, id, &seen);
    const char *v = optarg != NULL ? optarg : "true"; /* a bare bool flag */
    if (set(st, id, v, "flag", err, errlen) < 0)
      return -EINVAL;
  }
  st->args = argv + optind;
  st->nargs = argc - optind;
  /* Each value was checked as it was read: only memory can fail here. */
  rc = policy_set_new(st->v[S_POLICY].list, &st->policies, err, errlen);
  if (rc < 0)
    snprintf(err, errlen, "policy: %s", strerror(-rc));
  return rc;
}

void settings_dispose(struct settings *st) {
  policy_set_free(st->policies);
  free(st->file_text);
  for (int i = 0; i < S_COUNT; i++)
    free(st->owned[i]);
  memset(st, 0, sizeof *st);
}

const char *settings_text(const struct settings *st, enum setting_id id) {
  return st->v[id].text;
}

int64_t settings_count(const struct settings *st, enum setting_id id) {
  int64_t bytes = 0;
  if (st->v[id].text == NULL)
    return 0;
  if (defs[id].kind == K_SIZE)
    return size_of(&defs[id], st->v[id].text, &bytes) == 0 ? bytes : 0;
  if (defs[id].kind == K_DURATION)
    return settings_duration_parse(st->v[id].text, &bytes) == 0 ? bytes : 0;
  return strtoll(st->v[id].text, NULL, 10);
}

const char *settings_flag(const struct settings *st, int i) {
  return st->flag[i].n > 0 ? st->flag[i].list[st->flag[i].n - 1] : NULL;
}

int settings_bool(const struct settings *st, enum setting_id id) {
  return st->v[id].text != NULL && parse_bool(st->v[id].text) == 1;
}

void settings_to_config(const struct settings *st, struct proxy_config *cfg) {
  cfg->listen = settings_text(st, S_LISTEN);
  cfg->data_dir = settings_text(st, S_DATA);
  cfg->upstream = settings_text(st, S_UPSTREAM);
  cfg->upstream_ca = settings_text(st, S_UPSTREAM_CA);
  cfg->list_ttl_s = settings_count(st, S_LIST_TTL);
  cfg->not_found_ttl_s = settings_count(st, S_NOT_FOUND_TTL);
  cfg->strict_zips = settings_bool(st, S_STRICT_ZIPS);
  cfg->hot_cache_bytes = (size_t)settings_count(st, S_MEMORY_CACHE);
  cfg->private_patterns = settings_text(st, S_PRIVATE);
  cfg->git_routes = st->v[S_GIT_ROUTE].list;
  cfg->records_keep = (uint64_t)settings_count(st, S_DIAG_RECORDS);
  cfg->git_timeout_s = settings_count(st, S_GIT_TIMEOUT);
  cfg->go_release = settings_text(st, S_GO_RELEASE);
  cfg->tls_cert = settings_text(st, S_TLS_CERT);
  cfg->tls_key = settings_text(st, S_TLS_KEY);
  cfg->max_cache_bytes = (uint64_t)settings_count(st, S_MAX_CACHE_BYTES);
  cfg->admin_token = settings_text(st, S_ADMIN_TOKEN);
  /* An empty upstream list ("off") is an offline mirror too. */
  cfg->offline = settings_bool(st, S_OFFLINE) ||
                 (cfg->upstream != NULL && strcmp(cfg->upstream, "off") == 0);
  if (cfg->offline)
    cfg->upstream = "off";
  static const char *const default_sumdbs[] = {"sum.golang.org", NULL};
  cfg->sumdbs = st->v[S_SUMDB].nlist > 0 ? st->v[S_SUMDB].list : default_sumdbs;
  cfg->verify_sumdb = settings_bool(st, S_VERIFY_SUMDB);
  cfg->auth_file = settings_text(st, S_AUTH_FILE);
  /* Commands that take a subset of the settings leave the others NULL. */
  const char *auth_required = settings_text(st, S_AUTH_REQUIRED);
  cfg->auth_all = auth_required != NULL && strcmp(auth_required, "all") == 0;
  cfg->max_connections = (uint64_t)settings_count(st, S_MAX_CONNECTIONS);
  cfg->max_request_rate = (uint64_t)settings_count(st, S_MAX_REQUEST_RATE);
  cfg->direct_deny = settings_text(st, S_DIRECT_DENY);
  cfg->direct_allow = settings_text(st, S_DIRECT_ALLOW);
  cfg->direct_insecure = settings_text(st, S_DIRECT_INSECURE);
  cfg->policies = st->policies;
  cfg->trusted_proxies = settings_text(st, S_TRUSTED_PROXIES);
  cfg->offline_stale_after_s = settings_count(st, S_OFFLINE_STALE_AFTER);
}

/* ---- the server's configuration, and its reload ------------------------- */

struct settings_config {
  struct proxy_config cfg; /* first: what the server is given */
  struct settings st;      /* what cfg's strings point into */
};

static void config_free(struct proxy_config *cfg) {
  struct settings_config *c = (struct settings_config *)cfg;
  settings_dispose(&c->st);
  free(c);
}

struct proxy_config *settings_config_new(struct settings *st) {
  struct settings_config *c = calloc(1, sizeof *c);
  if (c == NULL) {
    settings_dispose(st);
    return NULL;
  }
  c->st = *st;
  memset(st, 0, sizeof *st);
  settings_to_config(&c->st, &c->cfg);
  c->cfg.refs = 1;
  c->cfg.free = config_free;
  return &c->cfg;
}

static int same_text(const char *a, const char *b) {
  return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* 1 when setting id has the same value in a and b. */
static int same_value(const struct settings *a, const struct settings *b,
                      enum setting_id id) {
  if (!same_text(a->v[id].text, b->v[id].text) ||
      a->v[id].nlist != b->v[id].nlist)
    return 0;
  for (int k = 0; k < a->v[id].nlist; k++)
    if (!same_text(a->v[id].list[k], b->v[id].list[k]))
      return 0;
  return 1;
}

/* Copies from's value of setting id into st, in memory of st's own (from
 * is freed before st). 0 or -ENOMEM. */
static int keep_value(struct settings *st, const struct settings *from,
                      enum setting_id id) {
  size_t need = 0;
  const char *const *list = from->v[id].list;
  int n = from->v[id].nlist;
  for (int k = 0; k < n; k++)
    need += strlen(list[k]) + 1;
  if (from->v[id].text != NULL)
    need += strlen(from->v[id].text) + 1;
  char *mem = malloc(need + 1);
  if (mem == NULL)
    return -ENOMEM;
  free(st->owned[id]);
  st->owned[id] = mem;
  st->v[id] = from->v[id];
  for (int k = 0; k < n; k++) {
    st->v[id].list[k] = strcpy(mem, list[k]);
    mem += strlen(mem) + 1;
  }
  if (from->v[id].text != NULL)
    st->v[id].text = strcpy(mem, from->v[id].text);
  return 0;
}

/* Adds name to the comma-separated list in out. */
static void name_add(char *out, size_t cap, const char *name) {
  size_t w = strlen(out);
  snprintf(out + w, cap - w, "%s%s", w > 0 ? ", " : "", name);
}

struct proxy_config *settings_reload(const struct proxy_config *running,
                                     struct proxy_reload *r, void *arg) {
  const struct settings_source *src = arg;
  const struct settings *old = &((const struct settings_config *)running)->st;
  struct settings st;
  if (settings_load(&st, src->cmd, src->argc, src->argv, r->err,
                    sizeof r->err) != 0) {
    settings_dispose(&st);
    return NULL;
  }
  for (int i = 0; i < S_COUNT; i++) {
    if (same_value(old, &st, (enum setting_id)i))
      continue;
    if (!defs[i].restart) {
      name_add(r->changed, sizeof r->changed, defs[i].name);
      continue;
    }
    name_add(r->restart, sizeof r->restart, defs[i].name);
    if (keep_value(&st, old, (enum setting_id)i) < 0) {
      settings_dispose(&st);
      snprintf(r->err, sizeof r->err, "out of memory");
      return NULL;
    }
  }
  struct proxy_config *cfg = settings_config_new(&st);
  if (cfg == NULL)
    snprintf(r->err, sizeof r->err, "out of memory");
  return cfg;
}

/* One "key = value # source" line; credentials in URLs (an upstream's or a
 * checksum database's) are masked. */
static void print_value(FILE *f, const char *name, const char *value,
                        const char *src) {
  char *shown = proxy_url_redact(value);
  fprintf(f, "%-14s = %-34s # %s\n", name, shown != NULL ? shown : "", src);
  free(shown);
}

void settings_print(const struct settings *st, unsigned allowed, FILE *f) {
  for (int i = 0; i < S_COUNT; i++) {
    if ((allowed & (1u << i)) == 0)
      continue;
    const char *src = st->v[i].source[0] != '\0' ? st->v[i].source : "unset";
    if (defs[i].kind == K_LIST) {
      if (st->v[i].nlist == 0)
        fprintf(f, "%-14s = %-34s # %s\n", defs[i].name,
                defs[i].def != NULL ? defs[i].def : "",
                defs[i].def != NULL ? "default" : "unset");
      for (int k = 0; k < st->v[i].nlist; k++)
        print_value(f, defs[i].name, st->v[i].list[k], src);
      continue;
    }
    const char *shown = st->v[i].text != NULL ? st->v[i].text : "";
    if (i == S_ADMIN_TOKEN && st->v[i].text != NULL)
      shown = "(set, not shown)"; /* a secret: never printed */
    print_value(f, defs[i].name, shown, src);
  }
}
