/*
 * Go release versions as the go command orders them (cmd/go's gover):
 * "1.21" (the language) < "1.21rc1" < "1.21.0" < "1.21.1", while before
 * Go 1.21 "1.20" and "1.20.0" are the same release; and the toolchains a
 * module proxy serves as golang.org/toolchain versions
 * ("v0.0.1-go1.27.3.linux-amd64"). Pure.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "modproxy/diag.h"

/* gover.Version: decimal fields as byte ranges ("" when absent). */
struct gover {
  struct {
    const char *p;
    size_t n;
  } major, minor, patch, kind, pre;
};

/* gover.CmpInt: decimals, "" lowest. */
static int cmp_int(const char *x, size_t xn, const char *y, size_t yn) {
  if (xn != yn)
    return xn < yn ? -1 : 1;
  int c = xn > 0 ? memcmp(x, y, xn) : 0;
  return c < 0 ? -1 : c > 0;
}

/* cutInt: digits without a needless leading zero; 0 if none. */
static size_t cut_int(const char *s) {
  size_t i = strspn(s, "0123456789");
  return i == 0 || (s[0] == '0' && i != 1) ? 0 : i;
}

/* gover.Parse of x (a "go" prefix allowed): 0, or -EINVAL with *v zero
 * (which sorts below every valid version, as in gover). */
static int gover_parse(const char *x, struct gover *v) {
  static const char zero[] = "0";
  memset(v, 0, sizeof *v);
  if (strncmp(x, "go", 2) == 0)
    x += 2;
  size_t n = cut_int(x);
  if (n == 0)
    goto bad;
  v->major.p = x;
  v->major.n = n;
  x += n;
  if (*x == '\0') { /* "1" is 1.0.0 */
    v->minor.p = v->patch.p = zero;
    v->minor.n = v->patch.n = 1;
    return 0;
  }
  if (*x != '.')
    goto bad;
  n = cut_int(x + 1);
  if (n == 0)
    goto bad;
  v->minor.p = x + 1;
  v->minor.n = n;
  x += 1 + n;
  if (*x == '\0') {
    /* Before 1.21 a missing patch is ".0"; from 1.21 on it is the
     * language version, below its first release candidate. */
    if (cmp_int(v->minor.p, v->minor.n, "21", 2) < 0) {
      v->patch.p = zero;
      v->patch.n = 1;
    }
    return 0;
  }
  if (*x == '.') {
    n = cut_int(x + 1);
    if (n == 0 || x[1 + n] != '\0')
      goto bad;
    v->patch.p = x + 1;
    v->patch.n = n;
    return 0;
  }
  n = 0;
  while (x[n] >= 'a' && x[n] <= 'z')
    n++;
  if (n == 0 || (x[n] != '\0' && (x[n] < '0' || x[n] > '9')))
    goto bad;
  v->kind.p = x;
  v->kind.n = n;
  x += n;
  if (*x == '\0')
    return 0;
  n = cut_int(x);
  if (n == 0 || x[n] != '\0')
    goto bad;
  v->pre.p = x;
  v->pre.n = n;
  return 0;
bad:
  memset(v, 0, sizeof *v);
  return -EINVAL;
}

int diag_gover_compare(const char *x, const char *y) {
  struct gover a, b;
  gover_parse(x, &a);
  gover_parse(y, &b);
  int c = cmp_int(a.major.p, a.major.n, b.major.p, b.major.n);
  if (c == 0)
    c = cmp_int(a.minor.p, a.minor.n, b.minor.p, b.minor.n);
  if (c == 0)
    c = cmp_int(a.patch.p, a.patch.n, b.patch.p, b.patch.n);
  if (c == 0) { /* "" < "alpha" < "beta" < "rc", as strings */
    size_t n = a.kind.n < b.kind.n ? a.kind.n : b.kind.n;
    c = n > 0 ? memcmp(a.kind.p, b.kind.p, n) : 0;
    if (c == 0 && a.kind.n != b.kind.n)
      c = a.kind.n < b.kind.n ? -1 : 1;
    c = c < 0 ? -1 : c > 0;
  }
  if (c == 0)
    c = cmp_int(a.pre.p, a.pre.n, b.pre.p, b.pre.n);
  return c;
}

void diag_gover_lang(const char *x, char *out, size_t cap) {
  struct gover v;
  if (gover_parse(x, &v) < 0) {
    snprintf(out, cap, "%s", "");
    return;
  }
  /* gover.Lang: "1" and "1.0" are "1" */
  int minor = v.minor.n > 0 && !(cmp_int(v.major.p, v.major.n, "1", 1) == 0 &&
                                 cmp_int(v.minor.p, v.minor.n, "0", 1) == 0);
  snprintf(out, cap, "%.*s%s%.*s", (int)v.major.n, v.major.p, minor ? "." : "",
           minor ? (int)v.minor.n : 0, v.minor.p);
}

/* The Go release in one golang.org/toolchain version
 * ("v0.0.1-go1.27.3.linux-amd64" -> "go1.27.3"), or 0 if it is none. */
static size_t toolchain_release(const char *v, size_t n, const char **go) {
  static const char prefix[] = "v0.0.1-go";
  const size_t plen = sizeof prefix - 1;
  if (n <= plen || memcmp(v, prefix, plen) != 0)
    return 0;
  size_t end = n;
  while (end > plen && v[end - 1] != '.')
    end--;
  if (end == plen || memchr(v + end, '-', n - end) == NULL)
    return 0; /* no ".GOOS-GOARCH" */
  *go = v + plen - 2;
  return end - 1 - (plen - 2);
}

int diag_toolchain_newest(const char *list, size_t len, const char *need,
                          char *out, size_t cap) {
  char lang[32], best[GOMOD_MAX_VERSION_BYTES] = "";
  diag_gover_lang(need, lang, sizeof lang);
  for (size_t i = 0; i < len;) {
    size_t end = i;
    while (end < len && list[end] != '\n')
      end++;
    const char *go = NULL;
    size_t n = toolchain_release(list + i, end - i, &go);
    i = end + 1;
    char rel[GOMOD_MAX_VERSION_BYTES], rel_lang[32];
    if (n == 0 || n >= sizeof rel)
      continue;
    memcpy(rel, go, n);
    rel[n] = '\0';
    diag_gover_lang(rel, rel_lang, sizeof rel_lang);
    if (lang[0] == '\0' || strcmp(rel_lang, lang) != 0 ||
        diag_gover_compare(rel, need) < 0)
      continue;
    if (best[0] == '\0' || diag_gover_compare(rel, best) > 0)
      snprintf(best, sizeof best, "%s", rel);
  }
  if (best[0] == '\0')
    return -ENOENT;
  snprintf(out, cap, "%s", best);
  return 0;
}
