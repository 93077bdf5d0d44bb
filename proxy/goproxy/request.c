/*
 * GOPROXY request targets: "/<module>/@v/list", "/<module>/@v/<v>.info",
 * ".mod", ".zip" and "/<module>/@latest". The go command case-escapes the
 * module path and version ('!' before a lower-cased letter) and then
 * percent-encodes them (so '!' arrives as "%21"): decode percent first, then
 * '!', then check the result exactly as golang.org/x/mod does.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "route.h"

#include "modproxy/gomod.h"

/* Percent-encodes what a URL path element must not carry literally. */
static int pct_encode(const char *src, char *dst, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t w = 0;
  for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
    int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                (*p >= '0' && *p <= '9') || strchr("-._~!+/", *p) != NULL;
    if (w + (plain ? 1 : 3) >= cap)
      return -E2BIG;
    if (plain) {
      dst[w++] = (char)*p;
    } else {
      dst[w++] = '%';
      dst[w++] = hex[*p >> 4];
      dst[w++] = hex[*p & 15];
    }
  }
  dst[w] = '\0';
  return 0;
}

static int fail(char *err, size_t errlen, int status, const char *fmt,
                const char *a, const char *b) {
  snprintf(err, errlen, fmt, a, b);
  return status;
}

int gp_parse(const char *target, struct gp_req *out, char *err, size_t errlen) {
  char path[HTTP_MAX_URL_BYTES + 1];
  size_t len = strcspn(target, "?#");
  /* Only what every path below relies on (the struct is several KiB). */
  out->kind = GP_LIST;
  out->module[0] = out->version[0] = out->suffix[0] = '\0';
  out->escaped_module[0] = '\0';
  out->canonical = 0;
  if (target[0] != '/' ||
      gomod_pct_decode(target + 1, len - 1, path, sizeof path) < 0)
    return fail(err, errlen, 400,
                "malformed request path: bad percent-encoding%s%s", "", "");
  char *ver = NULL;
  char *at = strstr(path, "/@v/");
  const char *ext = NULL;
  if (at != NULL) {
    *at = '\0';
    ver = at + 4;
    if (strcmp(ver, "list") == 0) {
      out->kind = GP_LIST;
      ver = NULL;
    } else {
      char *dot = strrchr(ver, '.');
      static const char *const exts[] = {
          [GP_INFO] = ".info", [GP_MOD] = ".mod", [GP_ZIP] = ".zip"};
      for (int k = GP_INFO; k <= GP_ZIP && dot != NULL && ext == NULL; k++) {
        if (strcmp(dot, exts[k]) == 0) {
          out->kind = (enum gp_kind)k;
          ext = exts[k];
        }
      }
      if (ext == NULL)
        return fail(err, errlen, 404,
                    "no such endpoint: %s/@v/ serves list, <version>.info, "
                    ".mod and .zip%s",
                    "<module>", "");
      *dot = '\0';
    }
  } else {
    size_t n = strlen(path);
    if (n < 8 || strcmp(path + n - 8, "/@latest") != 0)
      return fail(err, errlen, 404,
                  "no such endpoint: %s: GOPROXY requests end in /@v/list, "
                  "/@v/<version>.info|.mod|.zip or /@latest%s",
                  target, "");
    path[n - 8] = '\0';
    out->kind = GP_LATEST;
  }
  char why[256];
  if (gomod_unescape_path(path, out->module, sizeof out->module, why,
                          sizeof why) < 0)
    return fail(err, errlen, 400, "%s%s", why, "");
  if (ver != NULL) {
    if (gomod_unescape_version(ver, out->version, sizeof out->version, why,
                               sizeof why) < 0)
      return fail(err, errlen, 400, "%s%s", why, "");
    out->canonical =
        gomod_is_canonical_version(out->version) &&
        gomod_check(out->module, out->version, why, sizeof why) == 0;
    if (!out->canonical && out->kind != GP_INFO) {
      if (gomod_is_canonical_version(out->version))
        return fail(err, errlen, 404, "%s%s", why, "");
      return fail(err, errlen, 404,
                  "%s is not a canonical version: .mod and .zip are served "
                  "for canonical versions only (resolve it with %s.info)",
                  out->version, out->version);
    }
  }
  /* The escaped forms, for the upstream URL and the store's answer key:
   * what the request named, percent-encoded again. Escaping is one to one
   * (x/mod's EscapePath undoes UnescapePath, which accepted these), so they
   * are the canonical ones without escaping the decoded path again. */
  if (pct_encode(path, out->escaped_module, sizeof out->escaped_module) < 0)
    return fail(err, errlen, 414, "module path too long%s%s", "", "");
  if (out->kind == GP_LIST) {
    snprintf(out->suffix, sizeof out->suffix, "@v/list");
  } else if (out->kind == GP_LATEST) {
    snprintf(out->suffix, sizeof out->suffix, "@latest");
  } else {
    char venc[GOMOD_MAX_VERSION_BYTES * 3];
    if (pct_encode(ver, venc, sizeof venc) < 0 ||
        (size_t)snprintf(out->suffix, sizeof out->suffix, "@v/%s%s", venc,
                         ext) >= sizeof out->suffix)
      return fail(err, errlen, 414, "version too long%s%s", "", "");
  }
  return 0;
}
