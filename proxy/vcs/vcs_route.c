/*
 * Module path -> repository (pure).
 *
 * First the --git-route entries, in order: "PATTERN=URL", PATTERN a
 * GOPRIVATE-style glob of n path elements matched against the module
 * path's first n elements (module.MatchPrefixPatterns rules); those
 * elements are the repository root. URL may use {root} (the root) and
 * {1}, {2}, ... (its elements).
 *
 * Without a route, the go command's static rules for well-known hosts
 * (cmd/go/internal/vcs vcsPaths): github.com/<owner>/<repo>,
 * bitbucket.org/<owner>/<repo>, hub.jazz.net/git/<user>/<project>,
 * git.openstack.org/<owner>/<repo>, git.apache.org/<repo>.git, and a path
 * element ending in ".git" (host/path/repo.git/...). They map to https, as
 * the go command tries first. When neither matches, vcs.c asks the
 * ?go-get=1 pages (vcs_discover.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcs_internal.h"

/* Elements a route pattern may have. */
#define ROUTE_MAX_ELEMS 32

static size_t count_elems(const char *p, size_t n) {
  size_t k = n > 0 ? 1 : 0;
  for (size_t i = 0; i < n; i++)
    k += p[i] == '/';
  return k;
}

/* Length of the first k elements of path, or 0 when it has fewer. */
static size_t prefix_len(const char *path, size_t k) {
  size_t i = 0, seen = 0;
  for (;;) {
    size_t n = strcspn(path + i, "/");
    seen++;
    i += n;
    if (seen == k)
      return i;
    if (path[i] == '\0')
      return 0;
    i++;
  }
}

static int scheme_ok(const char *url) {
  static const char *const schemes[] = {"https://", "http://", "ssh://",
                                        "git://", "file://"};
  for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
    if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
      return 1;
  }
  return 0;
}

int vcs_route_check(const char *route, char *err, size_t errlen) {
  const char *eq = strchr(route, '=');
  if (eq == NULL || eq == route || eq[1] == '\0') {
    snprintf(err, errlen, "--git-route \"%s\": want PATTERN=URL", route);
    return -EINVAL;
  }
  size_t plen = (size_t)(eq - route);
  if (memchr(route, ',', plen) != NULL) {
    snprintf(err, errlen, "--git-route \"%s\": one pattern per route (no ',')",
             route);
    return -EINVAL;
  }
  if (count_elems(route, plen) > ROUTE_MAX_ELEMS) {
    snprintf(err, errlen, "--git-route \"%s\": pattern too long", route);
    return -EINVAL;
  }
  if (!scheme_ok(eq + 1)) {
    snprintf(err, errlen,
             "--git-route \"%s\": the URL must start with https://, http://, "
             "ssh://, git:// or file://",
             route);
    return -EINVAL;
  }
  return 0;
}

/* Expands {root} and {N} in tmpl into out. */
static int expand(const char *tmpl, const char *root, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = tmpl; *p != '\0';) {
    const char *sub = NULL;
    size_t sublen = 0, skip = 1;
    if (strncmp(p, "{root}", 6) == 0) {
      sub = root;
      sublen = strlen(root);
      skip = 6;
    } else if (p[0] == '{' && p[1] >= '1' && p[1] <= '9') {
      char *end;
      long k = strtol(p + 1, &end, 10);
      if (*end == '}') {
        size_t a = k > 1 ? prefix_len(root, (size_t)k - 1) : 0;
        size_t b = prefix_len(root, (size_t)k);
        if (b == 0)
          return -EINVAL;
        if (k > 1)
          a++;
        sub = root + a;
        sublen = b - a;
        skip = (size_t)(end - p) + 1;
      }
    }
    if (sub == NULL) {
      sub = p;
      sublen = 1;
    }
    if (o + sublen + 1 > cap)
      return -E2BIG;
    memcpy(out + o, sub, sublen);
    o += sublen;
    p += skip;
  }
  out[o] = '\0';
  return 0;
}

int vcs_route_url_glob(const char *route, char *out, size_t cap) {
  const char *eq = strchr(route, '=');
  char pattern[GOMOD_MAX_PATH_BYTES];
  if (eq == NULL || (size_t)(eq - route) >= sizeof pattern)
    return -EINVAL;
  snprintf(pattern, sizeof pattern, "%.*s", (int)(eq - route), route);
  size_t n = strlen(pattern);
  while (n > 0 && pattern[n - 1] == '/')
    pattern[--n] = '\0';
  return expand(eq + 1, pattern, out, cap);
}

void vcs_url_redact(const char *url, char *out, size_t cap) {
  const char *s = strstr(url, "://");
  if (s == NULL) {
    snprintf(out, cap, "%s", url);
    return;
  }
  const char *host = s + 3;
  size_t auth_end = strcspn(host, "/?#");
  const char *at = NULL;
  for (size_t i = 0; i < auth_end; i++) {
    if (host[i] == '@')
      at = host + i;
  }
  if (at == NULL) {
    snprintf(out, cap, "%s", url);
    return;
  }
  /* http(s): a user name alone is often a token; drop it all. Elsewhere
   * keep the user name (ssh://git@host), drop a password. */
  int http = strncmp(url, "http", 4) == 0;
  const char *colon = memchr(host, ':', (size_t)(at - host));
  int pre = (int)(host - url);
  if (http)
    snprintf(out, cap, "%.*s%s", pre, url, at + 1);
  else if (colon != NULL)
    snprintf(out, cap, "%.*s%.*s%s", pre, url, (int)(colon - host), host, at);
  else
    snprintf(out, cap, "%s", url);
}

/* The go command's static host rules. */
static int static_route(const char *module, struct vcs_location *out) {
  static const struct {
    const char *host;
    size_t elems;
  } hosts[] = {
      {"github.com/", 3},
      {"bitbucket.org/", 3},
      {"hub.jazz.net/git/", 4},
      {"git.openstack.org/", 3},
  };
  for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
    if (strncmp(module, hosts[i].host, strlen(hosts[i].host)) != 0)
      continue;
    size_t n = prefix_len(module, hosts[i].elems);
    if (n == 0)
      return -ENOENT;
    snprintf(out->root, sizeof out->root, "%.*s", (int)n, module);
    snprintf(out->url, sizeof out->url, "https://%s", out->root);
    return 0;
  }
  /* A VCS qualifier: the first element (after the host) ending in .git. */
  const char *p = strchr(module, '/');
  while (p != NULL) {
    const char *e = p + 1;
    size_t n = strcspn(e, "/");
    if (n > 4 && strncmp(e + n - 4, ".git", 4) == 0) {
      snprintf(out->root, sizeof out->root, "%.*s", (int)(e + n - module),
               module);
      snprintf(out->url, sizeof out->url, "https://%s", out->root);
      return 0;
    }
    p = e[n] == '/' ? e + n : NULL;
  }
  return -ENOENT;
}

int vcs_route(const char *const *routes, const char *module,
              struct vcs_location *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; routes != NULL && routes[i] != NULL; i++) {
    int rc = vcs_route_check(routes[i], err, errlen);
    if (rc < 0)
      return rc;
    const char *eq = strchr(routes[i], '=');
    char pattern[GOMOD_MAX_PATH_BYTES];
    size_t plen = (size_t)(eq - routes[i]);
    if (plen >= sizeof pattern)
      continue;
    memcpy(pattern, routes[i], plen);
    pattern[plen] = '\0';
    while (plen > 0 && pattern[plen - 1] == '/')
      pattern[--plen] = '\0';
    size_t k = count_elems(pattern, plen);
    size_t n = prefix_len(module, k);
    if (n == 0)
      continue;
    snprintf(out->root, sizeof out->root, "%.*s", (int)n, module);
    if (!gomod_match_prefix_patterns(pattern, out->root))
      continue;
    if (expand(eq + 1, out->root, out->url, sizeof out->url) < 0) {
      snprintf(err, errlen, "--git-route \"%s\": cannot expand for %s",
               routes[i], module);
      return -EINVAL;
    }
    vcs_url_redact(out->url, out->shown, sizeof out->shown);
    out->routed = 1;
    return 0;
  }
  if (static_route(module, out) == 0) {
    vcs_url_redact(out->url, out->shown, sizeof out->shown);
    return 0;
  }
  snprintf(err, errlen,
           "modproxy does not know where the repository of %s is: no "
           "--git-route matches it",
           module);
  return -ENOENT;
}
