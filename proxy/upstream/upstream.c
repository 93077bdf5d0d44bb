/*
 * The --upstream list, in the go command's GOPROXY syntax: entries separated
 * by ',' (fall through to the next on 404/410 only) or '|' (fall through on
 * any error), "off" ending the list, scheme-less entries taken as https.
 * An entry may carry credentials (https://user:token@host): they go to the
 * upstream and nowhere else; every message shows the URL redacted. The
 * list (struct upstream_list) owns its entries, their health and the HTTP
 * client that fetches from them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upstream.h"

static int set_err(char *err, size_t errlen, const char *fmt, const char *a,
                   size_t alen) {
  snprintf(err, errlen, fmt, (int)alen, a);
  return -EINVAL;
}

static const uint64_t bucket_ms[PROXY_LATENCY_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};

void upstream_health_latency(struct upstream_health *h, uint64_t ms) {
  int i = 0;
  while (i < PROXY_LATENCY_BUCKETS && ms > bucket_ms[i])
    i++;
  h->latency[i]++;
  h->total_ms += ms;
}

uint64_t upstream_latency_bucket_ms(int i) {
  return bucket_ms[i];
}

char *proxy_url_redact(const char *text) {
  static const char mask[] = "xxxxx";
  size_t cap = strlen(text) + 1;
  for (const char *p = text; (p = strstr(p, "://")) != NULL; p += 3)
    cap += sizeof mask - 1; /* each userinfo may grow to the mask */
  char *out = malloc(cap);
  if (out == NULL)
    return NULL;
  size_t o = 0;
  const char *p = text;
  for (const char *sep; (sep = strstr(p, "://")) != NULL;) {
    const char *host = sep + 3;
    const char *end = host + strcspn(host, "/?#,| \t");
    const char *at = NULL;
    for (const char *q = host; q < end; q++)
      if (*q == '@')
        at = q;
    memcpy(out + o, p, (size_t)(host - p));
    o += (size_t)(host - p);
    if (at != NULL) {
      memcpy(out + o, mask, sizeof mask - 1);
      o += sizeof mask - 1;
      host = at;
    }
    memcpy(out + o, host, (size_t)(end - host));
    o += (size_t)(end - host);
    p = end;
  }
  snprintf(out + o, cap - o, "%s", p);
  return out;
}

/* Validates one entry and stores its base URL (without trailing '/'). */
static int parse_entry(const char *e, size_t len, struct proxy_upstream *u,
                       char *err, size_t errlen) {
  if (len == 3 && strncmp(e, "off", 3) == 0) {
    u->base = NULL;
    return 0;
  }
  if (len == 6 && strncmp(e, "direct", 6) == 0) {
    /* As for the go command: the module's own repository (git), found
     * through --git-route, the well-known hosts or ?go-get=1 pages. */
    u->base = strdup("direct");
    u->shown = strdup("direct");
    u->direct = 1;
    return u->base != NULL && u->shown != NULL ? 0 : -ENOMEM;
  }
  if (e[0] == '/')
    return set_err(err, errlen,
                   "invalid upstream URL \"%.*s\": missing scheme (a local "
                   "tree is file:///absolute/path)",
                   e, len);
  const char *prefix = "";
  const char *colon = memchr(e, ':', len);
  if (colon == NULL || len < (size_t)(colon - e) + 3 || colon[1] != '/' ||
      colon[2] != '/')
    prefix = "https://"; /* as the go command does for "proxy.example.com" */
  size_t plen = strlen(prefix);
  while (len > 0 && e[len - 1] == '/')
    len--;
  char *url = malloc(plen + len + 1);
  if (url == NULL)
    return -ENOMEM;
  memcpy(url, prefix, plen);
  memcpy(url + plen, e, len);
  url[plen + len] = '\0';
  if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0 &&
      strncmp(url, "file:///", 8) != 0) {
    char *shown = proxy_url_redact(url);
    free(url);
    if (shown == NULL)
      return -ENOMEM;
    int rc = set_err(err, errlen,
                     "invalid upstream URL \"%.*s\": the scheme must be http, "
                     "https or file (file:///absolute/path)",
                     shown, strlen(shown));
    free(shown);
    return rc;
  }
  u->base = url;
  u->shown = proxy_url_redact(url);
  if (u->shown == NULL) {
    free(url);
    u->base = NULL;
    return -ENOMEM;
  }
  return 0;
}

int proxy_upstreams_parse(const char *list, struct proxy_upstream *out, int max,
                          char *err, size_t errlen) {
  int n = 0;
  const char *p = list;
  while (*p != '\0') {
    size_t len = strcspn(p, ",|");
    char sep = p[len];
    const char *s = p, *e = p + len;
    while (s < e && isspace((unsigned char)*s))
      s++;
    while (e > s && isspace((unsigned char)e[-1]))
      e--;
    if (e > s) {
      if (n == max) {
        proxy_upstreams_free(out, n);
        snprintf(err, errlen, "too many upstreams (at most %d)", max);
        return -EINVAL;
      }
      int rc = parse_entry(s, (size_t)(e - s), &out[n], err, errlen);
      if (rc < 0) {
        proxy_upstreams_free(out, n);
        return rc;
      }
      out[n].fall_any = sep == '|';
      n++;
      if (out[n - 1].base == NULL || out[n - 1].direct)
        break; /* "off" and "direct" end the list */
    }
    p += len + (sep != '\0' ? 1 : 0);
  }
  if (n == 0) {
    snprintf(err, errlen,
             "the upstream list \"%s\" has no entries (use \"off\" "
             "to serve only what the store holds)",
             list);
    return -EINVAL;
  }
  return n;
}

void proxy_upstreams_free(struct proxy_upstream *u, int n) {
  for (int i = 0; i < n; i++) {
    free(u[i].base);
    free(u[i].shown);
    u[i].base = u[i].shown = NULL;
  }
}

struct upstream_list {
  struct proxy_upstream entries[PROXY_MAX_UPSTREAMS];
  int n;
  struct proxy_fetcher *fetcher;
};

int upstream_list_new(uv_loop_t *loop, const char *list, const char *ca_file,
                      struct upstream_list **out) {
  char err[512];
  struct upstream_list *u = calloc(1, sizeof *u);
  int rc = u != NULL ? 0 : -ENOMEM;
  if (rc < 0) {
    fprintf(stderr, "modproxy: %s\n", strerror(-rc));
    goto fail;
  }
  rc = proxy_upstreams_parse(list, u->entries, PROXY_MAX_UPSTREAMS, err,
                             sizeof err);
  if (rc < 0) {
    fprintf(stderr, "modproxy: --upstream: %s\n", err);
    goto fail;
  }
  u->n = rc;
  if (ca_file != NULL && access(ca_file, R_OK) < 0) {
    fprintf(stderr, "modproxy: --upstream-ca: cannot read %s: %s\n", ca_file,
            strerror(errno));
    rc = -EINVAL;
    goto fail;
  }
  rc = proxy_fetcher_new(loop, ca_file, &u->fetcher);
  if (rc < 0) {
    fprintf(stderr, "modproxy: %s\n", strerror(-rc));
    goto fail;
  }
  *out = u;
  return 0;
fail:
  upstream_list_close(u, NULL, NULL);
  return rc;
}

void upstream_list_close(struct upstream_list *u, upstream_close_cb cb,
                         void *arg) {
  if (u == NULL)
    return;
  proxy_fetcher_close(u->fetcher, cb, arg);
  proxy_upstreams_free(u->entries, u->n);
  free(u);
}

enum upstream_error upstream_error_of(const struct proxy_fetch *f) {
  if (f->rc == 0)
    return f->status >= 500 ? UPSTREAM_ERR_HTTP_5XX : UPSTREAM_ERR_HTTP;
  switch (f->rc) {
  case -ETIMEDOUT: return UPSTREAM_ERR_TIMEOUT;
  case -ECONNREFUSED: return UPSTREAM_ERR_CONNECT;
  case -EHOSTUNREACH: return UPSTREAM_ERR_RESOLVE;
  case -EPROTO: return UPSTREAM_ERR_PROTOCOL;
  case -E2BIG: return UPSTREAM_ERR_TOO_LARGE;
  default: return UPSTREAM_ERR_OTHER;
  }
}

const char *upstream_error_name(enum upstream_error e) {
  static const char *const names[UPSTREAM_ERRORS] = {
      [UPSTREAM_ERR_TIMEOUT] = "timeout",
      [UPSTREAM_ERR_CONNECT] = "connect",
      [UPSTREAM_ERR_RESOLVE] = "resolve",
      [UPSTREAM_ERR_PROTOCOL] = "protocol",
      [UPSTREAM_ERR_TOO_LARGE] = "too_large",
      [UPSTREAM_ERR_HTTP_5XX] = "http_5xx",
      [UPSTREAM_ERR_HTTP] = "http_status",
      [UPSTREAM_ERR_OTHER] = "other",
  };
  return (unsigned)e < UPSTREAM_ERRORS ? names[e] : "other";
}

int upstream_list_count(const struct upstream_list *u) {
  return u->n;
}

struct proxy_upstream *upstream_list_at(struct upstream_list *u, int i) {
  return i >= 0 && i < u->n ? &u->entries[i] : NULL;
}

struct proxy_fetcher *upstream_list_fetcher(struct upstream_list *u) {
  return u->fetcher;
}
