/*
 * What GOPROXY requests and answers carry on the wire: the percent-encoding
 * of request paths (GOPROXY-PROTOCOL.md 1.1) and the Version of a .info or
 * @latest body. Pure: bytes in, bytes out.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "gomod_internal.h"
#include "modproxy/gomod.h"

int gomod_pct_decode(const char *src, size_t len, char *dst, size_t cap) {
  size_t w = 0;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)src[i];
    if (c == '%') {
      if (i + 2 >= len)
        return -EINVAL;
      int h = gomod_hex_digit(src[i + 1]), l = gomod_hex_digit(src[i + 2]);
      if (h < 0 || l < 0)
        return -EINVAL;
      c = h * 16 + l;
      if (c == 0 || c == '/')
        return -EINVAL;
      i += 2;
    }
    if (w + 1 >= cap)
      return -E2BIG;
    dst[w++] = (char)c;
  }
  dst[w] = '\0';
  return 0;
}

/* A small JSON reader, enough to check that a .info body is one complete
 * JSON object and to find its top-level "Version" string. Nesting is
 * bounded; strings with escapes are skipped, never decoded. */
#define INFO_MAX_DEPTH 16

struct json {
  const char *p, *end;
};

static void json_ws(struct json *j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
    j->p++;
}

/* Skips a string; *start and *len give its raw contents. */
static int json_string(struct json *j, const char **start, size_t *len) {
  if (j->p >= j->end || *j->p != '"')
    return -EINVAL;
  const char *s = ++j->p;
  while (j->p < j->end && *j->p != '"') {
    if ((unsigned char)*j->p < 0x20)
      return -EINVAL;
    if (*j->p == '\\' && ++j->p >= j->end)
      return -EINVAL;
    j->p++;
  }
  if (j->p >= j->end)
    return -EINVAL;
  *start = s;
  *len = (size_t)(j->p - s);
  j->p++;
  return 0;
}

static int json_value(struct json *j, int depth);

static int json_members(struct json *j, int depth, char close,
                        int (*member)(struct json *, int, void *), void *arg) {
  j->p++;
  json_ws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++;
    return 0;
  }
  for (;;) {
    int rc = member(j, depth, arg);
    if (rc < 0)
      return rc;
    json_ws(j);
    if (j->p < j->end && *j->p == ',') {
      j->p++;
      json_ws(j);
      continue;
    }
    if (j->p < j->end && *j->p == close) {
      j->p++;
      return 0;
    }
    return -EINVAL;
  }
}

struct info_scan {
  int top;
  char *out;
  size_t cap;
  int found;
};

static int json_member(struct json *j, int depth, void *arg) {
  struct info_scan *sc = arg;
  const char *k, *v;
  size_t kl, vl;
  if (json_string(j, &k, &kl) < 0)
    return -EINVAL;
  json_ws(j);
  if (j->p >= j->end || *j->p != ':')
    return -EINVAL;
  j->p++;
  json_ws(j);
  /* encoding/json matches keys case-insensitively. */
  if (sc != NULL && sc->top && kl == 7 && strncasecmp(k, "version", 7) == 0 &&
      j->p < j->end && *j->p == '"') {
    if (json_string(j, &v, &vl) < 0 || vl >= sc->cap || memchr(v, '\\', vl))
      return -EINVAL;
    memcpy(sc->out, v, vl);
    sc->out[vl] = '\0';
    sc->found = 1;
    return 0;
  }
  return json_value(j, depth + 1);
}

static int json_element(struct json *j, int depth, void *arg) {
  return json_value(j, depth + 1);
}

static int json_value(struct json *j, int depth) {
  if (depth > INFO_MAX_DEPTH || j->p >= j->end)
    return -EINVAL;
  const char *s;
  size_t n;
  switch (*j->p) {
  case '{': return json_members(j, depth, '}', json_member, NULL);
  case '[': return json_members(j, depth, ']', json_element, NULL);
  case '"': return json_string(j, &s, &n);
  default:
    /* numbers, true, false, null: a run of their characters */
    s = j->p;
    while (j->p < j->end && strchr("0123456789+-.eEtruefalsn", *j->p) != NULL)
      j->p++;
    return j->p > s ? 0 : -EINVAL;
  }
}

int gomod_info_version(const char *body, size_t len, char *out, size_t cap) {
  if (body == NULL || len == 0)
    return -EINVAL;
  struct json j = {body, body + len};
  struct info_scan sc = {.top = 1, .out = out, .cap = cap};
  json_ws(&j);
  if (j.p >= j.end || *j.p != '{')
    return -EINVAL;
  if (json_members(&j, 0, '}', json_member, &sc) < 0)
    return -EINVAL;
  json_ws(&j);
  return j.p == j.end && sc.found ? 0 : -EINVAL;
}
