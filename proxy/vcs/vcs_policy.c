/*
 * The network side of the repository rule for public modules in "direct"
 * mode (see vcs_policy.h): address ranges, URLs taken apart for
 * comparison, the scheme and --git-route checks (pure), and the address
 * check of a host (uv_getaddrinfo on libuv's threadpool, then pure).
 *
 * Why the addresses are pinned: a host name checked here and resolved
 * again by curl or git could answer differently the second time (DNS
 * rebinding); curl (go-get pages) and git over http(s) get the checked
 * addresses through CURLOPT_RESOLVE / http.curloptResolve. git over ssh
 * and git:// resolves by itself: those names are checked, not pinned.
 */
#include "vcs_policy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/gomod.h"
#include "modproxy/netrange.h"

/* ---- address ranges ----------------------------------------------------- */

int vcs_policy_denies(const struct vcs_policy *p, const unsigned char a[16]) {
  return net_ranges_contain(p->deny, p->ndeny, a) &&
         !net_ranges_contain(p->allow, p->nallow, a);
}

/* ---- URLs --------------------------------------------------------------- */

/* The path's elements, decoded and cleaned, joined with '/'. */
static int clean_path(const char *p, size_t n, char *out, size_t cap) {
  char dec[VCS_MAX_URL_BYTES];
  size_t d = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)p[i];
    if (c == '%' && i + 2 < n && gomod_hex_digit(p[i + 1]) >= 0 &&
        gomod_hex_digit(p[i + 2]) >= 0) {
      c = gomod_hex_digit(p[i + 1]) * 16 + gomod_hex_digit(p[i + 2]);
      i += 2;
    }
    if (d + 1 >= sizeof dec)
      return -EINVAL;
    dec[d++] = (char)tolower(c);
  }
  dec[d] = '\0';
  size_t o = 0;
  out[0] = '\0';
  for (char *save = NULL, *e = strtok_r(dec, "/", &save); e != NULL;
       e = strtok_r(NULL, "/", &save)) {
    size_t len = strlen(e);
    if (len > 4 && strcmp(e + len - 4, ".git") == 0)
      e[len -= 4] = '\0';
    if (strcmp(e, ".") == 0)
      continue;
    if (strcmp(e, "..") == 0) {
      char *up = strrchr(out, '/');
      o = up != NULL ? (size_t)(up - out) : 0;
      out[o] = '\0';
      continue;
    }
    if (o + len + 2 > cap)
      return -EINVAL;
    o += (size_t)snprintf(out + o, cap - o, "%s%s", o > 0 ? "/" : "", e);
  }
  return 0;
}

int vcs_url_parse(const char *url, struct vcs_url *out) {
  memset(out, 0, sizeof *out);
  const char *sep = strstr(url, "://");
  if (sep == NULL || sep == url || (size_t)(sep - url) >= sizeof out->scheme)
    return -EINVAL;
  for (size_t i = 0; url + i < sep; i++)
    out->scheme[i] = (char)tolower((unsigned char)url[i]);
  if (strcmp(out->scheme, "git+ssh") == 0)
    snprintf(out->scheme, sizeof out->scheme, "ssh");
  const char *auth = sep + 3;
  size_t alen = strcspn(auth, "/?#");
  const char *rest = auth + alen;
  for (size_t i = alen; i > 0; i--) {
    if (auth[i - 1] == '@') { /* user info: not part of the host */
      alen -= i;
      auth += i;
      break;
    }
  }
  const char *host = auth, *port = NULL;
  size_t hlen = alen;
  if (alen > 0 && auth[0] == '[') {
    const char *close = memchr(auth, ']', alen);
    if (close == NULL)
      return -EINVAL;
    host = auth + 1;
    hlen = (size_t)(close - host);
    if (close + 1 < auth + alen) {
      if (close[1] != ':')
        return -EINVAL;
      port = close + 2;
    }
  } else {
    const char *colon = memchr(auth, ':', alen);
    if (colon != NULL) {
      hlen = (size_t)(colon - auth);
      port = colon + 1;
    }
  }
  if (hlen == 0 || hlen >= sizeof out->host)
    return -EINVAL;
  for (size_t i = 0; i < hlen; i++)
    out->host[i] = (char)tolower((unsigned char)host[i]);
  if (hlen > 1 && out->host[hlen - 1] == '.')
    out->host[hlen - 1] = '\0';
  if (port != NULL && port < auth + alen) {
    char *end;
    long v = strtol(port, &end, 10);
    if (end != auth + alen || v <= 0 || v > 65535)
      return -EINVAL;
    out->port = (int)v;
  }
  /* IP literals in every form the resolver accepts, canonical. */
  struct in_addr a4;
  unsigned char a6[16];
  char canon[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET6, out->host, a6) == 1 &&
      inet_ntop(AF_INET6, a6, canon, sizeof canon) != NULL)
    snprintf(out->host, sizeof out->host, "%s", canon);
  else if (inet_aton(out->host, &a4) == 1 &&
           inet_ntop(AF_INET, &a4, canon, sizeof canon) != NULL)
    snprintf(out->host, sizeof out->host, "%s", canon);
  return clean_path(rest, strcspn(rest, "?#"), out->path, sizeof out->path);
}

/* ---- the repository rule ------------------------------------------------ */

/* 1 if host (an address literal) is one of addrs. */
static int host_is_one_of(const char *host, const unsigned char (*addrs)[16],
                          size_t naddrs) {
  unsigned char a[16];
  if (net_addr_parse(host, a) < 0)
    return 0;
  for (size_t i = 0; i < naddrs; i++)
    if (memcmp(addrs[i], a, 16) == 0)
      return 1;
  return 0;
}

/* 1 if u is at or below what route's URL can name: same host (a glob when
 * the route takes it from the module path), and each path element of the
 * route's URL matched by u's. */
static int under_route(const char *route, const struct vcs_url *u,
                       const unsigned char (*addrs)[16], size_t naddrs) {
  char glob[VCS_MAX_URL_BYTES];
  struct vcs_url r;
  /* A route that cannot be expanded names no repository at all (its
   * roots have as many elements as its pattern). */
  if (vcs_route_url_glob(route, glob, sizeof glob) < 0 ||
      vcs_url_parse(glob, &r) < 0)
    return 0;
  if (fnmatch(r.host, u->host, 0) != 0 &&
      !host_is_one_of(r.host, addrs, naddrs))
    return 0;
  const char *rp = r.path, *up = u->path;
  while (*rp != '\0') {
    size_t rn = strcspn(rp, "/"), un = strcspn(up, "/");
    if (un == 0)
      return 0; /* u is above the route's repositories */
    char re[VCS_MAX_URL_BYTES], ue[VCS_MAX_URL_BYTES];
    snprintf(re, sizeof re, "%.*s", (int)rn, rp);
    snprintf(ue, sizeof ue, "%.*s", (int)un, up);
    if (fnmatch(re, ue, 0) != 0)
      return 0;
    rp += rn + (rp[rn] == '/');
    up += un + (up[un] == '/');
  }
  return 1;
}

int vcs_policy_repo(const struct vcs_policy *p, const char *module,
                    const struct vcs_url *u, const unsigned char (*addrs)[16],
                    size_t naddrs, char *err, size_t errlen) {
  int secure = strcmp(u->scheme, "https") == 0 || strcmp(u->scheme, "ssh") == 0;
  int plain = strcmp(u->scheme, "http") == 0 || strcmp(u->scheme, "git") == 0;
  if (!secure && !(plain && p->insecure != NULL && p->insecure[0] != '\0' &&
                   gomod_match_prefix_patterns(p->insecure, module))) {
    snprintf(err, errlen,
             "a public module's repository must be https or ssh; "
             "modproxy's operators can allow http and git:// for it with "
             "--direct-insecure");
    return -EACCES;
  }
  for (size_t i = 0; p->routes != NULL && p->routes[i] != NULL; i++) {
    if (under_route(p->routes[i], u, addrs, naddrs)) {
      snprintf(err, errlen,
               "its repository is one of those modproxy's --git-route "
               "entries serve, which only their own module paths get");
      return -EACCES;
    }
  }
  return 0;
}

/* ---- the address check -------------------------------------------------- */

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  struct vcs_check *c = req->data;
  unsigned char addrs[VCS_POLICY_MAX_ADDRS][16];
  size_t n = 0;
  for (struct addrinfo *ai = res; ai != NULL && n < VCS_POLICY_MAX_ADDRS;
       ai = ai->ai_next) {
    if (ai->ai_family == AF_INET)
      net_addr_map_v4(&((struct sockaddr_in *)ai->ai_addr)->sin_addr, addrs[n]);
    else if (ai->ai_family == AF_INET6)
      memcpy(addrs[n], &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
    else
      continue;
    size_t k = 0;
    while (k < n && memcmp(addrs[k], addrs[n], 16) != 0)
      k++;
    n += k == n; /* once each */
  }
  uv_freeaddrinfo(res);
  c->status = 0;
  if (status < 0 || n == 0) {
    c->status = 404;
    snprintf(c->err, sizeof c->err, "the host %s has no address (%s)",
             c->u.host, status < 0 ? uv_strerror(status) : "none usable");
  } else if (c->module != NULL &&
             vcs_policy_repo(c->policy, c->module, &c->u,
                             (const unsigned char(*)[16])addrs, n, c->err,
                             sizeof c->err) < 0) {
    c->status = 403;
  }
  /* An address literal needs no pin: nothing resolves it again. */
  unsigned char lit[16];
  int http =
      (strcmp(c->u.scheme, "https") == 0 || strcmp(c->u.scheme, "http") == 0) &&
      inet_pton(AF_INET, c->u.host, lit) != 1 &&
      inet_pton(AF_INET6, c->u.host, lit) != 1;
  size_t o = 0;
  if (http)
    o = (size_t)snprintf(c->pin, sizeof c->pin, "%s:%s:", c->u.host, c->port);
  for (size_t i = 0; i < n && c->status == 0; i++) {
    char text[INET6_ADDRSTRLEN];
    int v4 = memcmp(addrs[i], "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0;
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? addrs[i] + 12 : addrs[i], text,
              sizeof text);
    if (vcs_policy_denies(c->policy, addrs[i])) {
      c->status = 403;
      snprintf(c->err, sizeof c->err,
               "%s%s%s is in an address range public modules may not use "
               "(--direct-deny); modproxy's operators can allow it with "
               "--direct-allow",
               c->u.host, strcmp(c->u.host, text) != 0 ? " at " : "",
               strcmp(c->u.host, text) != 0 ? text : "");
    } else if (http && o < sizeof c->pin) {
      o += (size_t)snprintf(c->pin + o, sizeof c->pin - o, "%s%s%s%s",
                            i > 0 ? "," : "", v4 ? "" : "[", text,
                            v4 ? "" : "]");
    }
  }
  if (c->status != 0 || !http || o >= sizeof c->pin)
    c->pin[0] = '\0';
  c->on_done(c);
}

int vcs_check_start(struct vcs_check *c) {
  static const struct {
    const char *scheme;
    int port;
  } ports[] = {{"https", 443}, {"http", 80}, {"ssh", 22}, {"git", 9418}};
  c->status = 0;
  c->pin[0] = c->err[0] = '\0';
  if (vcs_url_parse(c->url, &c->u) < 0)
    return -EINVAL;
  int port = c->u.port;
  for (size_t i = 0; port == 0 && i < sizeof ports / sizeof ports[0]; i++)
    if (strcmp(c->u.scheme, ports[i].scheme) == 0)
      port = ports[i].port;
  snprintf(c->port, sizeof c->port, "%d", port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  c->req.data = c;
  int rc =
      uv_getaddrinfo(c->loop, &c->req, on_resolved, c->u.host, c->port, &hints);
  return rc < 0 ? rc : 0;
}
