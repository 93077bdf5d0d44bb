/*
 * Settings from defaults, config file, environment and flags.
 *
 * The config file is lines of `key = value` (the key is the flag's name
 * without "--"), blank lines and lines starting with '#'. Repeatable keys
 * (git-route) may appear on several lines. An unknown key or a bad value is
 * an error that names the file and line. Values are validated as they are
 * read, so a bad value in any source is reported with that source.
 */
#include "settings.h"
#include "vcs_policy.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum kind { K_TEXT, K_COUNT, K_BOOL, K_LIST, K_CHOICE, K_RANGES };

/* getopt values for the settings' flags: OPT_BASE + setting_id. */
#define OPT_BASE 256

static const struct def {
  const char *name;
  enum kind kind;
  const char *def;
  int64_t max;
  const char *arg;
  const char *help;
} defs[S_COUNT] = {
    [S_LISTEN] = {"listen", K_TEXT, "127.0.0.1:3000", 0, "ADDR",
                  "address to listen on: host:port, [v6]:port or :port"},
    [S_DATA] = {"data", K_TEXT, "./modproxy-data", 0, "DIR",
                "where the cache (modproxy.db) lives"},
    [S_UPSTREAM] = {"upstream", K_TEXT, "https://proxy.golang.org", 0, "LIST",
                    "upstream proxies in GOPROXY syntax: ',' falls through on "
                    "404/410, '|' on any error, 'off' ends the list"},
    [S_UPSTREAM_CA] = {"upstream-ca", K_TEXT, NULL, 0, "FILE",
                       "PEM certificates to verify upstreams with instead of "
                       "the system store"},
    [S_LIST_TTL] = {"list-ttl", K_COUNT, "300", 365ll * 86400, "SECONDS",
                    "how long version lists and @latest are fresh"},
    [S_NOT_FOUND_TTL] = {"not-found-ttl", K_COUNT, "60", 365ll * 86400,
                         "SECONDS",
                         "how long a not-found answer is remembered"},
    [S_STRICT_ZIPS] = {"strict-zips", K_BOOL, "false", 0, NULL,
                       "refuse upstream zips that break the module zip rules "
                       "instead of serving them as published"},
    [S_MEMORY_CACHE] = {"memory-cache", K_COUNT, "64", 1 << 20, "MIB",
                        "memory for the hot cache of small responses"},
    [S_PRIVATE] = {"private", K_TEXT, NULL, 0, "PATTERNS",
                   "GOPRIVATE-style globs: matching modules come from their "
                   "git repositories, never from an upstream"},
    [S_GIT_ROUTE] = {"git-route", K_LIST, NULL, 0, "PATTERN=URL",
                     "where a private module's repository lives; URL may use "
                     "{root}, {1}, {2}...; repeatable"},
    [S_DIAG_RECORDS] = {"diag-records", K_COUNT, "10000", 100000000, "N",
                        "request records kept for /diag"},
    [S_MAX_CACHE_BYTES] = {"max-cache-bytes", K_COUNT, "0", INT64_MAX, "BYTES",
                           "evict the least recently used public module "
                           "versions past this many bytes; 0: never"},
    [S_ADMIN_TOKEN] = {"admin-token", K_TEXT, NULL, 0, "TOKEN",
                       "bearer token that POST /admin/refresh requires; "
                       "unset: /admin/ is disabled"},
    [S_GO_RELEASE] = {"go-release", K_TEXT, "1.19", 0, "VERSION",
                      "the oldest Go release your builds use: modules whose "
                      "go.mod needs a newer one are flagged in /diag"},
    [S_OFFLINE] = {"offline", K_BOOL, "false", 0, NULL,
                   "air-gapped mirror: fetch nothing, serve only what the "
                   "store holds (lists and @latest from its versions)"},
    [S_SUMDB] = {"sumdb", K_LIST, "sum.golang.org", 0, "GOSUMDB",
                 "checksum database to proxy and verify against, in GOSUMDB "
                 "syntax (name, name+hash+key, then an optional URL); "
                 "repeatable; off: none"},
    [S_VERIFY_SUMDB] = {"verify-sumdb", K_BOOL, "true", 0, NULL,
                        "check upstream zips and go.mod files of public "
                        "modules against the checksum database before storing "
                        "them (when it can be reached)"},
    [S_AUTH_FILE] = {"auth-file", K_TEXT, NULL, 0, "FILE",
                     "users and tokens (hashed) allowed to see private "
                     "modules; lines from `modproxy auth hash`"},
    [S_AUTH_REQUIRED] = {"auth-required", K_CHOICE, "private", 0, "private|all",
                         "with --auth-file, what needs credentials: private "
                         "(modules matching --private) or all"},
    [S_MAX_CONNECTIONS] = {"max-connections", K_COUNT, "20000", 1000000, "N",
                           "open client connections at most; more are "
                           "refused with 503"},
    [S_MAX_REQUEST_RATE] = {"max-request-rate", K_COUNT, "2000", 1000000, "N",
                            "requests per second one connection may make "
                            "(0: no limit); past it, 429 and the connection "
                            "closes"},
    [S_TLS_CERT] = {"tls-cert", K_TEXT, NULL, 0, "FILE",
                    "PEM certificate chain: serve https (reloaded on SIGHUP)"},
    [S_TLS_KEY] = {"tls-key", K_TEXT, NULL, 0, "FILE",
                   "PEM private key for --tls-cert"},
    [S_GIT_TIMEOUT] = {"git-timeout", K_COUNT, "120", 86400, "SECONDS",
                       "how long one git command may talk to a git host"},
    [S_DIRECT_DENY] = {"direct-deny", K_RANGES, VCS_POLICY_DEFAULT_DENY, 0,
                       "CIDRS",
                       "address ranges that public modules' repositories "
                       "and go-get pages may not be on (\"direct\"); none: "
                       "no range"},
    [S_DIRECT_ALLOW] = {"direct-allow", K_RANGES, NULL, 0, "CIDRS",
                        "address ranges allowed all the same, inside "
                        "--direct-deny"},
    [S_DIRECT_INSECURE] = {"direct-insecure", K_TEXT, NULL, 0, "PATTERNS",
                           "GOINSECURE-style globs: public modules whose "
                           "repositories may be http:// or git://"},
};

/* MODPROXY_<NAME>, upper case, '-' as '_'. */
static void env_name(const char *name, char *out, size_t cap) {
  size_t w = (size_t)snprintf(out, cap, "MODPROXY_");
  for (; *name != '\0' && w + 1 < cap; name++)
    out[w++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
  out[w] = '\0';
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

/* Checks and records one value for id from source. */
static int set(struct settings *st, enum setting_id id, const char *text,
               const char *source, char *err, size_t errlen) {
  const struct def *d = &defs[id];
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
    struct vcs_net_range r[VCS_POLICY_MAX_RANGES];
    size_t n;
    char why[160];
    if (vcs_ranges_parse(text, r, VCS_POLICY_MAX_RANGES, &n, why, sizeof why) <
        0) {
      snprintf(err, errlen, "%s: %s: %s", source, d->name, why);
      return -EINVAL;
    }
  } else if (d->kind == K_BOOL && parse_bool(text) < 0) {
    snprintf(err, errlen, "%s: %s: \"%s\" is not true or false", source,
             d->name, text);
    return -EINVAL;
  }
  if (d->kind == K_LIST) {
    if (st->v[id].nlist == SETTINGS_MAX_LIST) {
      snprintf(err, errlen, "%s: %s: at most %d values", source, d->name,
               SETTINGS_MAX_LIST);
      return -EINVAL;
    }
    st->v[id].list[st->v[id].nlist++] = text;
  }
  st->v[id].text = text;
  snprintf(st->v[id].source, sizeof st->v[id].source, "%s", source);
  return 0;
}

static int find_def(const char *name, unsigned allowed) {
  for (int i = 0; i < S_COUNT; i++)
    if ((allowed & (1u << i)) != 0 && strcmp(defs[i].name, name) == 0)
      return i;
  return -1;
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
    int id = find_def(p, allowed);
    if (id < 0) {
      snprintf(err, errlen, "config %s: unknown key \"%s\"", where, p);
      return -EINVAL;
    }
    reset_list(st, (enum setting_id)id, &seen);
    char src[160];
    snprintf(src, sizeof src, "config %s", where);
    if (set(st, (enum setting_id)id, value, src, err, errlen) < 0)
      return -EINVAL;
  }
  return 0;
}

static int load_env(struct settings *st, unsigned allowed, char *err,
                    size_t errlen) {
  for (int i = 0; i < S_COUNT; i++) {
    if ((allowed & (1u << i)) == 0)
      continue;
    char name[64];
    env_name(defs[i].name, name, sizeof name);
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
      continue;
    if (defs[i].kind != K_LIST) {
      if (set(st, (enum setting_id)i, v, name, err, errlen) < 0)
        return -EINVAL;
      continue;
    }
    /* A list variable holds entries separated by spaces or newlines. */
    st->v[i].nlist = 0;
    if ((st->env_copy[i] = strdup(v)) == NULL)
      return -ENOMEM;
    for (char *save = NULL, *t = strtok_r(st->env_copy[i], " \t\n", &save);
         t != NULL; t = strtok_r(NULL, " \t\n", &save))
      if (set(st, (enum setting_id)i, t, name, err, errlen) < 0)
        return -EINVAL;
  }
  return 0;
}

static void usage(const char *cmd, const char *summary, unsigned allowed) {
  printf("Usage: modproxy %s [flags]\n\n%s\n\nFlags (also MODPROXY_<NAME> "
         "variables and config file keys; flags win over variables, which win "
         "over the file):\n  --config FILE\n      a config file of key = value "
         "lines [MODPROXY_CONFIG]\n",
         cmd, summary);
  for (int i = 0; i < S_COUNT; i++) {
    if ((allowed & (1u << i)) == 0)
      continue;
    const struct def *d = &defs[i];
    char env[64];
    env_name(d->name, env, sizeof env);
    printf("  --%s%s%s\n      %s [%s%s%s]\n", d->name,
           d->arg != NULL ? " " : "", d->arg != NULL ? d->arg : "", d->help,
           env, d->def != NULL ? ", default " : "",
           d->def != NULL ? d->def : "");
  }
  printf("  -h, --help\n      show this help\n");
}

int settings_load(struct settings *st, const char *cmd, const char *summary,
                  unsigned allowed, int argc, char **argv, char *err,
                  size_t errlen) {
  memset(st, 0, sizeof *st);
  for (int i = 0; i < S_COUNT; i++) {
    if ((allowed & (1u << i)) != 0 && defs[i].def != NULL) {
      st->v[i].text = defs[i].def;
      snprintf(st->v[i].source, sizeof st->v[i].source, "default");
    }
  }
  /* Options: every allowed setting, plus --config and --help. */
  struct option opts[S_COUNT + 3];
  int n = 0;
  for (int i = 0; i < S_COUNT; i++)
    if ((allowed & (1u << i)) != 0)
      opts[n++] = (struct option){defs[i].name,
                                  defs[i].kind == K_BOOL ? optional_argument
                                                         : required_argument,
                                  NULL, OPT_BASE + i};
  opts[n++] = (struct option){"config", required_argument, NULL, 'c'};
  opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
  opts[n] = (struct option){NULL, 0, NULL, 0};
  /* First pass: only --config and --help, which decide what loads first. */
  const char *config = getenv("MODPROXY_CONFIG");
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c == 'h') {
      usage(cmd, summary, allowed);
      return 1;
    }
    if (c == 'c')
      config = optarg;
    if (c == '?' || c == ':') {
      snprintf(err, errlen, "%s %s (see modproxy %s --help)",
               c == ':' ? "missing value for" : "unknown flag",
               argv[optind - 1], cmd);
      return -EINVAL;
    }
  }
  if (config != NULL && config[0] != '\0' &&
      load_file(st, config, allowed, err, errlen) < 0)
    return -EINVAL;
  int rc = load_env(st, allowed, err, errlen);
  if (rc < 0)
    return rc;
  unsigned seen = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    if (c < OPT_BASE)
      continue; /* --config, --help */
    enum setting_id id = (enum setting_id)(c - OPT_BASE);
    reset_list(st, id, &seen);
    const char *v = optarg != NULL ? optarg : "true"; /* a bare bool flag */
    if (set(st, id, v, "flag", err, errlen) < 0)
      return -EINVAL;
  }
  st->args = argv + optind;
  st->nargs = argc - optind;
  return 0;
}

void settings_dispose(struct settings *st) {
  free(st->file_text);
  for (int i = 0; i < S_COUNT; i++)
    free(st->env_copy[i]);
  memset(st, 0, sizeof *st);
}

const char *settings_text(const struct settings *st, enum setting_id id) {
  return st->v[id].text;
}

int64_t settings_count(const struct settings *st, enum setting_id id) {
  return st->v[id].text != NULL ? strtoll(st->v[id].text, NULL, 10) : 0;
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
  cfg->hot_cache_bytes = (size_t)settings_count(st, S_MEMORY_CACHE) << 20;
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
