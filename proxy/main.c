/*
 * The modproxy command line: `modproxy serve`, `modproxy version`,
 * `modproxy help`. Every serve flag can also be set with a MODPROXY_*
 * environment variable; a flag wins over the variable.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "server.h"

#define EXIT_USAGE 2

static const char usage_main[] =
    "modproxy: a caching Go module proxy (GOPROXY server)\n"
    "\n"
    "Usage:\n"
    "  modproxy serve [flags]   serve the GOPROXY protocol\n"
    "  modproxy version         print the version\n"
    "  modproxy help [command]  show help\n"
    "\n"
    "Run 'modproxy serve --help' for the serve flags.\n";

static const char usage_serve[] =
    "Usage: modproxy serve [flags]\n"
    "\n"
    "Serves the GOPROXY protocol from a SQLite cache, fetching what it lacks\n"
    "from the upstream proxies. Point the go command at it with\n"
    "  go env -w GOPROXY=http://HOST:PORT\n"
    "\n"
    "Flags (each also read from the environment variable shown; a flag wins):\n"
    "  --listen ADDR          address to listen on, host:port\n"
    "                         [MODPROXY_LISTEN, default 127.0.0.1:3000]\n"
    "  --data DIR             where the cache (modproxy.db) lives\n"
    "                         [MODPROXY_DATA, default ./modproxy-data]\n"
    "  --upstream LIST        upstream proxies in GOPROXY syntax: ',' falls\n"
    "                         through on 404/410, '|' on any error, 'off' ends\n"
    "                         the list; http://, https://, file:// entries\n"
    "                         [MODPROXY_UPSTREAM, default https://proxy.golang.org]\n"
    "  --upstream-ca FILE     PEM certificates to verify upstreams with instead\n"
    "                         of the system store [MODPROXY_UPSTREAM_CA]\n"
    "  --list-ttl SECONDS     how long version lists and @latest are fresh\n"
    "                         [MODPROXY_LIST_TTL, default 300]\n"
    "  --not-found-ttl SECONDS  how long a not-found answer is remembered\n"
    "                         [MODPROXY_NOT_FOUND_TTL, default 60]\n"
    "  --strict-zips          refuse upstream zips that break the module zip\n"
    "                         rules instead of serving them as published\n"
    "                         [MODPROXY_STRICT_ZIPS=1]\n"
    "  --memory-cache MIB     memory for the hot cache of small responses\n"
    "                         [MODPROXY_MEMORY_CACHE, default 64]\n"
    "  --private PATTERNS     comma-separated GOPRIVATE-style globs: matching\n"
    "                         modules are fetched from their git repositories\n"
    "                         and never from an upstream [MODPROXY_PRIVATE]\n"
    "  --git-route PATTERN=URL  where a private module's repository lives;\n"
    "                         URL may use {root}, {1}, {2}...; repeatable\n"
    "                         [MODPROXY_GIT_ROUTES, space or newline separated]\n"
    "  --diag-records N       request records kept for /diag\n"
    "                         [MODPROXY_DIAG_RECORDS, default 10000]\n"
    "  -h, --help             show this help\n";

enum opt {
  OPT_LISTEN = 256,
  OPT_DATA,
  OPT_UPSTREAM,
  OPT_UPSTREAM_CA,
  OPT_LIST_TTL,
  OPT_NOT_FOUND_TTL,
  OPT_STRICT_ZIPS,
  OPT_MEMORY_CACHE,
  OPT_DIAG_RECORDS,
  OPT_PRIVATE,
  OPT_GIT_ROUTE,
};

/* --git-route entries kept (flags and MODPROXY_GIT_ROUTES together). */
#define MAX_GIT_ROUTES 64

static const struct option serve_options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"data", required_argument, NULL, OPT_DATA},
    {"upstream", required_argument, NULL, OPT_UPSTREAM},
    {"upstream-ca", required_argument, NULL, OPT_UPSTREAM_CA},
    {"list-ttl", required_argument, NULL, OPT_LIST_TTL},
    {"not-found-ttl", required_argument, NULL, OPT_NOT_FOUND_TTL},
    {"strict-zips", no_argument, NULL, OPT_STRICT_ZIPS},
    {"memory-cache", required_argument, NULL, OPT_MEMORY_CACHE},
    {"diag-records", required_argument, NULL, OPT_DIAG_RECORDS},
    {"private", required_argument, NULL, OPT_PRIVATE},
    {"git-route", required_argument, NULL, OPT_GIT_ROUTE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *env_or(const char *name, const char *def) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : def;
}

/* Parses a non-negative integer setting; prints one line and returns -1 on
 * a bad value. */
static int parse_count(const char *name, const char *text, int64_t max,
                       int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 0 || v > max) {
    fprintf(stderr, "modproxy: %s: \"%s\" is not a whole number from 0 to %lld\n",
            name, text, (long long)max);
    return -1;
  }
  *out = v;
  return 0;
}

static int cmd_serve(int argc, char **argv) {
  struct proxy_config cfg = {
      .listen = env_or("MODPROXY_LISTEN", "127.0.0.1:3000"),
      .data_dir = env_or("MODPROXY_DATA", "./modproxy-data"),
      .upstream = env_or("MODPROXY_UPSTREAM", "https://proxy.golang.org"),
      .upstream_ca = env_or("MODPROXY_UPSTREAM_CA", NULL),
      .strict_zips = strcmp(env_or("MODPROXY_STRICT_ZIPS", "0"), "0") != 0,
  };
  const char *list_ttl = env_or("MODPROXY_LIST_TTL", "300");
  const char *nf_ttl = env_or("MODPROXY_NOT_FOUND_TTL", "60");
  const char *mem = env_or("MODPROXY_MEMORY_CACHE", "64");
  const char *records = env_or("MODPROXY_DIAG_RECORDS", "10000");
  cfg.private_patterns = env_or("MODPROXY_PRIVATE", NULL);
  static const char *routes[MAX_GIT_ROUTES + 1];
  int nroutes = 0, routes_from_flags = 0;
  /* MODPROXY_GIT_ROUTES holds entries separated by spaces or newlines; the
   * copy lives as long as the process. */
  char *env_routes = getenv("MODPROXY_GIT_ROUTES") != NULL
                         ? strdup(getenv("MODPROXY_GIT_ROUTES"))
                         : NULL;
  for (char *save = NULL, *t = env_routes != NULL ? strtok_r(env_routes, " \n\t", &save) : NULL;
       t != NULL && nroutes < MAX_GIT_ROUTES; t = strtok_r(NULL, " \n\t", &save))
    routes[nroutes++] = t;
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, ":h", serve_options, NULL)) != -1) {
    switch (c) {
    case OPT_LISTEN: cfg.listen = optarg; break;
    case OPT_DATA: cfg.data_dir = optarg; break;
    case OPT_UPSTREAM: cfg.upstream = optarg; break;
    case OPT_UPSTREAM_CA: cfg.upstream_ca = optarg; break;
    case OPT_LIST_TTL: list_ttl = optarg; break;
    case OPT_NOT_FOUND_TTL: nf_ttl = optarg; break;
    case OPT_STRICT_ZIPS: cfg.strict_zips = 1; break;
    case OPT_MEMORY_CACHE: mem = optarg; break;
    case OPT_DIAG_RECORDS: records = optarg; break;
    case OPT_PRIVATE: cfg.private_patterns = optarg; break;
    case OPT_GIT_ROUTE:
      if (!routes_from_flags) {
        nroutes = 0; /* flags replace the environment's list */
        routes_from_flags = 1;
      }
      if (nroutes == MAX_GIT_ROUTES) {
        fprintf(stderr, "modproxy serve: at most %d --git-route entries\n", MAX_GIT_ROUTES);
        return EXIT_USAGE;
      }
      routes[nroutes++] = optarg;
      break;
    case 'h':
      fputs(usage_serve, stdout);
      return 0;
    case ':':
      fprintf(stderr, "modproxy serve: %s needs a value (see modproxy serve --help)\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    default:
      fprintf(stderr, "modproxy serve: unknown flag %s (see modproxy serve --help)\n",
              argv[optind - 1]);
      return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "modproxy serve: unexpected argument \"%s\" (see modproxy serve --help)\n",
            argv[optind]);
    return EXIT_USAGE;
  }
  int64_t mib, keep;
  if (parse_count("--list-ttl", list_ttl, 365ll * 86400, &cfg.list_ttl_s) < 0 ||
      parse_count("--not-found-ttl", nf_ttl, 365ll * 86400, &cfg.not_found_ttl_s) < 0 ||
      parse_count("--memory-cache", mem, 1 << 20, &mib) < 0 ||
      parse_count("--diag-records", records, 100000000, &keep) < 0)
    return EXIT_USAGE;
  cfg.hot_cache_bytes = (size_t)mib << 20;
  cfg.records_keep = (uint64_t)keep;
  routes[nroutes] = NULL;
  cfg.git_routes = routes;

  /* Request records go to stdout as JSON lines, flushed in batches. */
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct proxy_server *s = calloc(1, sizeof *s);
  if (s == NULL)
    return 1;
  int rc = proxy_server_init(s, &loop, &cfg);
  if (rc < 0)
    return rc == -EINVAL ? EXIT_USAGE : 1;
  rc = proxy_server_run(s);
  free(s);
  curl_global_cleanup();
  return rc;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "help";
  if (strcmp(cmd, "serve") == 0)
    return cmd_serve(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("modproxy %s\n", MODPROXY_VERSION);
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    if (argc > 2 && strcmp(argv[2], "serve") == 0)
      fputs(usage_serve, stdout);
    else
      fputs(usage_main, stdout);
    return 0;
  }
  fprintf(stderr, "modproxy: unknown command \"%s\" (see modproxy --help)\n", cmd);
  return EXIT_USAGE;
}
