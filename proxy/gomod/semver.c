/*
 * Semantic versions as golang.org/x/mod/semver defines them: "v" MAJOR
 * [. MINOR [. PATCH [-PRERELEASE] [+BUILD]]], with "v1" and "v1.2" accepted
 * as shorthands for "v1.0.0" and "v1.2.0" (without prerelease or build), no
 * leading zeros in numbers or numeric prerelease identifiers. Numbers are
 * compared as digit strings, so they have no size limit.
 *
 * Also module.CanonicalVersion, which keeps a "+incompatible" build suffix.
 */
#include "modproxy/gomod.h"

#include "gomod_internal.h"

#include <errno.h>
#include <string.h>

#define INCOMPATIBLE "+incompatible"

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_ident_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) ||
         c == '-';
}

static size_t count_digits(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && is_digit(s[i]))
    i++;
  return i;
}

/* A number: one or more digits, no leading zero. Returns its length or 0. */
static size_t parse_int(const char *s) {
  size_t n = 0;
  while (is_digit(s[n]))
    n++;
  if (n > 1 && s[0] == '0')
    return 0;
  return n;
}

/* ".N" at *s: stores the number in *part and moves *s past it. */
static int parse_dot_int(const char **s, struct gomod__span *part) {
  size_t n;
  if (**s != '.')
    return -EINVAL;
  n = parse_int(*s + 1);
  if (n == 0)
    return -EINVAL;
  part->base = *s + 1;
  part->len = n;
  *s += 1 + n;
  return 0;
}

/* A numeric identifier with a leading zero ("01"), which prerelease forbids. */
static int is_bad_num(const char *s, size_t n) {
  return n > 1 && s[0] == '0' && count_digits(s, n) == n;
}

/*
 * The dot-separated identifiers after a '-' or '+' at s[0], up to `stop`
 * (or the end): non-empty, [0-9A-Za-z-]; numeric ones without a leading zero
 * when `numeric_rule` is set. Returns the length including s[0], or 0.
 */
static size_t parse_idents(const char *s, char stop, int numeric_rule) {
  size_t i = 1, start = 1;
  for (; s[i] != '\0' && s[i] != stop; i++) {
    if (s[i] == '.') {
      if (start == i || (numeric_rule && is_bad_num(s + start, i - start)))
        return 0;
      start = i + 1;
    } else if (!is_ident_char(s[i])) {
      return 0;
    }
  }
  if (start == i || (numeric_rule && is_bad_num(s + start, i - start)))
    return 0;
  return i;
}

static struct gomod__span span(const char *base, size_t len) {
  struct gomod__span s = {base, len};
  return s;
}

int gomod__semver_parse(const char *v, struct gomod__semver *p) {
  static const char zero[] = "0";
  const char *s = v + 1;
  size_t n;

  memset(p, 0, sizeof *p);
  p->prerelease.base = p->build.base = "";
  if (v[0] != 'v')
    return -EINVAL;
  n = parse_int(s);
  if (n == 0)
    return -EINVAL;
  p->major = span(s, n);
  s += n;
  p->minor = p->patch = span(zero, 1);
  if (*s == '\0') {
    p->shorthand = ".0.0";
    return 0;
  }
  if (parse_dot_int(&s, &p->minor) < 0)
    return -EINVAL;
  if (*s == '\0') {
    p->shorthand = ".0";
    return 0;
  }
  if (parse_dot_int(&s, &p->patch) < 0)
    return -EINVAL;
  p->shorthand = "";
  if (*s == '-') {
    n = parse_idents(s, '+', 1);
    if (n == 0)
      return -EINVAL;
    p->prerelease = span(s, n);
    s += n;
  }
  if (*s == '+') {
    n = parse_idents(s, '\0', 0);
    if (n == 0)
      return -EINVAL;
    p->build = span(s, n);
    s += n;
  }
  return *s == '\0' ? 0 : -EINVAL;
}

int gomod_semver_is_valid(const char *v) {
  struct gomod__semver p;
  return gomod__semver_parse(v, &p) == 0;
}

/* Writes Canonical(v), plus "+incompatible" if keep_incompatible and v has
 * exactly that build suffix; "" for an invalid v. */
static int canonical(const char *v, int keep_incompatible, char *out,
                     size_t outlen) {
  struct gomod__semver p;
  struct gomod__buf b;

  gomod__buf_init(&b, out, outlen);
  if (gomod__semver_parse(v, &p) == 0) {
    gomod__buf_add(&b, v, strlen(v) - p.build.len);
    gomod__buf_str(&b, p.shorthand);
    if (keep_incompatible && strcmp(p.build.base, INCOMPATIBLE) == 0)
      gomod__buf_str(&b, INCOMPATIBLE);
  }
  return gomod__buf_result(&b);
}

int gomod_semver_canonical(const char *v, char *out, size_t outlen) {
  return canonical(v, 0, out, outlen);
}

int gomod_canonical_version(const char *v, char *out, size_t outlen) {
  return canonical(v, 1, out, outlen);
}

int gomod_is_canonical_version(const char *v) {
  struct gomod__semver p;
  if (gomod__semver_parse(v, &p) < 0)
    return 0;
  /* CanonicalVersion(v) is v minus its build, plus the shorthand's
   * zeros, plus "+incompatible" when that was the build. */
  return p.shorthand[0] == '\0' &&
         (p.build.len == 0 || strcmp(p.build.base, INCOMPATIBLE) == 0);
}

int gomod_semver_major(const char *v, char *out, size_t outlen) {
  struct gomod__semver p;
  if (gomod__semver_parse(v, &p) < 0)
    return gomod__put(out, outlen, "", 0);
  return gomod__put(out, outlen, v, 1 + p.major.len);
}

int gomod_semver_major_minor(const char *v, char *out, size_t outlen) {
  struct gomod__semver p;
  struct gomod__buf b;

  gomod__buf_init(&b, out, outlen);
  if (gomod__semver_parse(v, &p) == 0) {
    gomod__buf_add(&b, v, 1 + p.major.len);
    gomod__buf_add(&b, ".", 1);
    gomod__buf_span(&b, p.minor);
  }
  return gomod__buf_result(&b);
}

int gomod_semver_prerelease(const char *v, char *out, size_t outlen) {
  struct gomod__semver p;
  if (gomod__semver_parse(v, &p) < 0)
    return gomod__put(out, outlen, "", 0);
  return gomod__put(out, outlen, p.prerelease.base, p.prerelease.len);
}

int gomod_semver_build(const char *v, char *out, size_t outlen) {
  struct gomod__semver p;
  if (gomod__semver_parse(v, &p) < 0)
    return gomod__put(out, outlen, "", 0);
  return gomod__put(out, outlen, p.build.base, p.build.len);
}

static int sign(int c) {
  return (c > 0) - (c < 0);
}

/* Numbers without leading zeros: the longer is larger, else bytewise. */
static int compare_int(struct gomod__span x, struct gomod__span y) {
  if (x.len != y.len)
    return x.len < y.len ? -1 : 1;
  return sign(memcmp(x.base, y.base, x.len));
}

/* The identifier at s (up to '.' or the end of the span). */
static struct gomod__span next_ident(const char *s, const char *end) {
  const char *e = memchr(s, '.', (size_t)(end - s));
  return span(s, (size_t)((e != NULL ? e : end) - s));
}

/*
 * Prereleases: none sorts after any; else identifier by identifier, numeric
 * ones numerically and below alphanumeric ones, which compare bytewise; a
 * shorter list of equal identifiers sorts first.
 */
static int compare_prerelease(struct gomod__span x, struct gomod__span y) {
  const char *xs = x.base, *xe = x.base + x.len;
  const char *ys = y.base, *ye = y.base + y.len;

  if (x.len == y.len && memcmp(x.base, y.base, x.len) == 0)
    return 0;
  if (x.len == 0)
    return 1;
  if (y.len == 0)
    return -1;
  while (xs < xe && ys < ye) {
    struct gomod__span dx = next_ident(xs + 1, xe); /* skip '-' or '.' */
    struct gomod__span dy = next_ident(ys + 1, ye);
    xs = dx.base + dx.len;
    ys = dy.base + dy.len;
    if (dx.len == dy.len && memcmp(dx.base, dy.base, dx.len) == 0)
      continue;
    int nx = count_digits(dx.base, dx.len) == dx.len;
    int ny = count_digits(dy.base, dy.len) == dy.len;
    if (nx != ny)
      return nx ? -1 : 1;
    if (nx && dx.len != dy.len)
      return dx.len < dy.len ? -1 : 1;
    size_t n = dx.len < dy.len ? dx.len : dy.len;
    int c = memcmp(dx.base, dy.base, n);
    if (c != 0)
      return sign(c);
    return dx.len < dy.len ? -1 : 1;
  }
  return xs == xe ? -1 : 1;
}

int gomod_semver_compare(const char *a, const char *b) {
  struct gomod__semver pa, pb;
  int va = gomod__semver_parse(a, &pa) == 0;
  int vb = gomod__semver_parse(b, &pb) == 0;
  int c;

  if (!va || !vb)
    return va - vb;
  c = compare_int(pa.major, pb.major);
  if (c == 0)
    c = compare_int(pa.minor, pb.minor);
  if (c == 0)
    c = compare_int(pa.patch, pb.patch);
  if (c == 0)
    c = compare_prerelease(pa.prerelease, pb.prerelease);
  return c;
}
