/*
 * What a public module's repository may be, in "direct" mode
 * (vcs_policy.c): the network side of the rule that vcs.c applies next to
 * proxy_vcs_private. Private to the vcs files of proxy/ (and tests).
 *
 * A public module path is chosen by any client, and so are the go-get page
 * it leads to and the repository that page names. So for a public module
 * whose repository no --git-route gives:
 *   - the repository URL is https, ssh or git+ssh (the go command's secure
 *     schemes); http and git only for paths matching --direct-insecure;
 *   - it is not under a --git-route's URL (the operator's repositories are
 *     served under the paths the routes give, to the clients allowed to see
 *     them, nothing else);
 *   - every address its host (and a go-get page's host) resolves to is
 *     outside --direct-deny, or inside --direct-allow; https connections
 *     are pinned to the addresses checked (no second DNS answer).
 */
#ifndef PROXY_VCS_POLICY_H
#define PROXY_VCS_POLICY_H

#include <stddef.h>

#include <uv.h>

#include "vcs.h"
#include "vcs_internal.h"
#include "modproxy/netrange.h"

/* Addresses of one host checked and pinned (more are ignored: curl and git
 * connect only to the pinned ones). */
#define VCS_POLICY_MAX_ADDRS 8

struct vcs_policy {
  struct net_range deny[NET_MAX_RANGES];
  size_t ndeny;
  struct net_range allow[NET_MAX_RANGES];
  size_t nallow;
  const char *insecure;      /**< GOINSECURE-style globs, or NULL */
  const char *const *routes; /**< --git-route entries (NULL-terminated) */
};

/** 1 if addr (16 bytes, IPv4-mapped for IPv4) is denied by p. */
int vcs_policy_denies(const struct vcs_policy *p, const unsigned char addr[16]);

/** A URL taken apart for comparisons: scheme lower case ("git+ssh" as
 *  "ssh"), host lower case without brackets or a final dot, IP literals in
 *  canonical form (so 127.1 and 0x7f.0.0.1 are 127.0.0.1), port (0 when
 *  not given), and the path's elements percent-decoded, lower case, without
 *  "." and ".." and a ".git" suffix, joined with '/'. */
struct vcs_url {
  char scheme[16];
  char host[256];
  int port;
  char path[VCS_MAX_URL_BYTES];
};
/** 0, or -EINVAL for what is not scheme://[user@]host[:port][/path]. */
int vcs_url_parse(const char *url, struct vcs_url *out);

/**
 * The repository rule for a public module, without the address ranges:
 * the scheme, and no --git-route URL above it (its host compared as
 * written, and with addrs, the host's addresses, when a route names an
 * address). 0, or -EACCES with a sentence in err that quotes nothing the
 * page said. Pure.
 */
int vcs_policy_repo(const struct vcs_policy *p, const char *module,
                    const struct vcs_url *u, const unsigned char (*addrs)[16],
                    size_t naddrs, char *err, size_t errlen);

struct vcs_check;
typedef void (*vcs_check_cb)(struct vcs_check *c);

/** One check of the addresses a URL's host resolves to (vcs_policy_repo
 *  is the rest of the rule, checked first by the caller). Embedded by the
 * caller; on_done runs exactly once on the loop thread, never from inside
 * vcs_check_start. */
struct vcs_check {
  /* in */
  uv_loop_t *loop;
  const struct vcs_policy *policy;
  const char *url;    /**< a repository or go-get page URL; borrowed until
                           vcs_check_start returns */
  const char *module; /**< a repository's module (vcs_policy_repo again
                           with its addresses), NULL for a page; borrowed
                           until on_done */
  vcs_check_cb on_done;
  void *data;
  /* out */
  int status;     /**< 0 allowed; 403 refused; 404 the host has no address */
  char pin[1024]; /**< status 0: "host:port:addr[,addr...]" for curl's
                       CURLOPT_RESOLVE and git's http.curloptResolve, or
                       "" when the URL is not http(s) */
  char err[512];  /**< otherwise: why, quoting nothing foreign */
  /* private */
  struct vcs_url u;
  char port[8];
  uv_getaddrinfo_t req;
};

/** Starts c. 0, or a negative errno (on_done will not run). */
int vcs_check_start(struct vcs_check *c);

#endif
