/*
 * Private modules served straight from their git repositories (GOPRIVATE-
 * style --private patterns, --git-route mappings, or the go command's
 * direct-mode discovery), the one header of proxy/vcs. The GOPROXY core
 * hands a request for a private module here instead of to the upstreams,
 * and ingests what comes back exactly like an upstream's answer. It
 * includes nothing of the folders above it (CMake gives it no path to
 * them): it is given the loop, the store and the HTTP client it uses, and
 * answers through the callback of each request. Loop thread.
 */
#ifndef PROXY_VCS_H
#define PROXY_VCS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct store;
struct proxy_fetcher;
struct proxy_vcs;

/* --direct-deny's default: the loopback, "this network", private (RFC 1918, unique local),
 * shared (CGNAT), link-local (cloud metadata), benchmarking, multicast and
 * reserved ranges: nothing a public module's repository lives on. */
#define VCS_POLICY_DEFAULT_DENY                                                \
  "0.0.0.0/8,10.0.0.0/8,100.64.0.0/10,127.0.0.0/8,169.254.0.0/16,"             \
  "172.16.0.0/12,192.0.0.0/24,192.168.0.0/16,198.18.0.0/15,224.0.0.0/3,"       \
  "::/128,::1/128,fc00::/7,fe80::/10,ff00::/8"

/** The settings proxy/vcs reads; strings borrowed until proxy_vcs_free
 *  (private_patterns and git_routes: or the next proxy_vcs_configure). */
struct vcs_config {
  const char *data_dir;         /**< mirrors go under <data_dir>/git */
  const char *tmp_dir;          /**< where git archives are staged */
  const char *private_patterns; /**< GOPRIVATE-style globs, or NULL */
  /** --git-route PATTERN=URL entries, in order (NULL-terminated array). */
  const char *const *git_routes;
  int64_t git_timeout_s; /**< one git command's network time, 0: default */
  /** "direct" mode's rules for public modules' repositories and go-get
   *  pages: address ranges denied (NULL: the default list), ranges allowed
   *  all the same (NULL: none), GOINSECURE-style globs of modules whose
   *  repositories may be http or git:// (NULL: none). */
  const char *direct_deny, *direct_allow, *direct_insecure;
};

/**
 * Sets up the private-module machinery: checks the routes and the direct
 * rules, prepares <data_dir>/git and starts the git runner on loop. store
 * receives the provenance of what git answers, fetcher asks the go-get
 * pages of discovery (both borrowed until proxy_vcs_free). 0 and *out, or
 * a negative errno after printing one line to stderr.
 */
int proxy_vcs_new(uv_loop_t *loop, const struct vcs_config *cfg,
                  struct store *store, struct proxy_fetcher *fetcher,
                  struct proxy_vcs **out);
/** Ends it: kills and reaps git processes still running; requests in
 *  flight never answer. NULL is fine. */
void proxy_vcs_free(struct proxy_vcs *v);
/** 1 if module matches the --private patterns (module.MatchPrefixPatterns).
 *  Loop thread (proxy_vcs_configure changes the patterns there). */
int proxy_vcs_private(const struct proxy_vcs *v, const char *module);
/** Checks --git-route entries (NULL-terminated, or NULL). 0, or -EINVAL
 *  with why in err. Pure. */
int proxy_vcs_routes_check(const char *const *routes, char *err, size_t errlen);
/**
 * A reload: the --private patterns and --git-route entries from now on
 * (borrowed until the next call or proxy_vcs_free; the routes checked with
 * proxy_vcs_routes_check). Requests already running keep the repository
 * they found; the other settings stay as proxy_vcs_new had them.
 */
void proxy_vcs_configure(struct proxy_vcs *v, const char *private_patterns,
                         const char *const *git_routes);

/** What a vcs_get asks for: a module's GOPROXY files. */
enum vcs_what { VCS_LIST, VCS_LATEST, VCS_INFO, VCS_MOD, VCS_ZIP };

struct vcs_get;
typedef void (*vcs_get_cb)(struct vcs_get *r);

/** One ask for a private module's list, @latest, .info, .mod or .zip.
 *  Embedded and owned by the caller; on_done runs exactly once, on the loop
 *  thread, never from inside proxy_vcs_start. */
struct vcs_get {
  /* in */
  enum vcs_what what;
  const char *module;  /**< decoded module path, borrowed until on_done */
  const char *version; /**< decoded version ("" for list and latest), same */
  int canonical;       /**< version is canonical and valid for the module */
  int fd;              /**< VCS_ZIP: write the zip here (empty file) */
  int direct;          /**< a public module, for "direct" in --upstream */
  vcs_get_cb on_done;
  void *data;
  /* out */
  int status;   /**< 200; 404/410 nothing matches; 502/504 git failed */
  int no_route; /**< set with 404: no --git-route or discovery found it */
  char *body;   /**< heap: the answer (200, not for zips) or, otherwise, the
                     explanation for the person at the terminal (text) */
  size_t len;
  /** Where it came from, credentials removed, for the store's provenance:
   *  "<repository URL> <ref> <commit>" */
  char origin[1024];
  /** JSON array of the git commands run ({"cmd":..,"status":..,"ms":..}),
   *  for the request record; heap, or NULL. */
  char *attempts;
};

/** Why a network git command (fetch, ls-remote) failed, for /metrics. */
enum vcs_git_error {
  VCS_GIT_TIMEOUT,       /**< past --git-timeout */
  VCS_GIT_OUTPUT,        /**< printed more than modproxy reads */
  VCS_GIT_SPAWN,         /**< git could not be run */
  VCS_GIT_AUTH,          /**< the host refused the credentials */
  VCS_GIT_NO_REPOSITORY, /**< the repository does not exist */
  VCS_GIT_UNREACHABLE,   /**< the host could not be reached */
  VCS_GIT_OTHER,
  VCS_GIT_ERRORS
};
/** The label of a cause ("timeout", "auth"...). Pure. */
const char *proxy_vcs_git_error_name(enum vcs_git_error e);
/** Failed network git commands so far, by cause (VCS_GIT_ERRORS counts,
 *  borrowed until proxy_vcs_free). v may be NULL (all zero). */
const uint64_t *proxy_vcs_git_errors(const struct proxy_vcs *v);

/** Starts r. 0, or a negative errno (on_done will not run). */
int proxy_vcs_start(struct proxy_vcs *v, struct vcs_get *r);
/** Frees r's outputs. */
void proxy_vcs_dispose(struct vcs_get *r);

#endif
