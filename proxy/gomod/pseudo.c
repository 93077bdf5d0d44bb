/*
 * Pseudo-versions (x/mod/module/pseudo.go): versions that name a commit
 * rather than a tag, in three forms (T a UTC yyyymmddhhmmss time, R a
 * revision id, +B an optional build suffix):
 *
 *   vX.0.0-T-R[+B]          no base tag
 *   vX.Y.Z-pre.0.T-R[+B]    base is the prerelease vX.Y.Z-pre
 *   vX.Y.(Z+1)-0.T-R[+B]    base is the release vX.Y.Z
 *
 * IsPseudoVersion is x/mod's regular expression
 *   ^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+
 *   (\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$
 * matched by hand, plus "valid semver with at least two dashes".
 * Times are converted without the C library's time zone or locale.
 */
#include "modproxy/gomod.h"

#include "gomod_internal.h"

#include <errno.h>
#include <string.h>

/* PseudoVersionTimestampFormat "20060102150405". */
#define TIMESTAMP_DIGITS 14
#define SECONDS_PER_DAY 86400

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_alnum(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t count_digits(const char *s) {
  size_t n = 0;
  while (is_digit(s[n]))
    n++;
  return n;
}

/* (\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$ */
static int is_build_tail(const char *s) {
  size_t run = 0;
  if (*s == '\0')
    return 1;
  if (*s != '+')
    return 0;
  for (s++; *s != '\0'; s++) {
    if (*s == '.' && run > 0)
      run = 0;
    else if (is_alnum(*s) || *s == '-')
      run++;
    else
      return 0;
  }
  return run > 0;
}

/* \d{14}-[A-Za-z0-9]+ then the build tail. */
static int is_time_rev_tail(const char *s) {
  size_t n = 0;
  if (count_digits(s) < TIMESTAMP_DIGITS || s[TIMESTAMP_DIGITS] != '-')
    return 0;
  s += TIMESTAMP_DIGITS + 1;
  while (is_alnum(s[n]))
    n++;
  return n > 0 && is_build_tail(s + n);
}

/* The regular expression of the file comment. */
static int match_pseudo_re(const char *v) {
  size_t n;
  const char *s;

  if (v[0] != 'v')
    return 0;
  n = count_digits(v + 1);
  if (n == 0 || v[1 + n] != '.')
    return 0;
  s = v + 2 + n;
  /* first alternative: 0\.0- */
  if (strncmp(s, "0.0-", 4) == 0 && is_time_rev_tail(s + 4))
    return 1;
  /* second: \d+\.\d+-, then "0." right away or after any run of non-'+'
   * characters ending in '.' */
  n = count_digits(s);
  if (n == 0 || s[n] != '.')
    return 0;
  s += n + 1;
  n = count_digits(s);
  if (n == 0 || s[n] != '-')
    return 0;
  s += n + 1;
  if (strncmp(s, "0.", 2) == 0 && is_time_rev_tail(s + 2))
    return 1;
  for (; *s != '\0' && *s != '+'; s++) {
    if (*s == '.' && strncmp(s + 1, "0.", 2) == 0 && is_time_rev_tail(s + 3))
      return 1;
  }
  return 0;
}

int gomod_is_pseudo_version(const char *v) {
  size_t dashes = 0;
  for (const char *p = v; *p != '\0'; p++)
    dashes += *p == '-';
  return dashes >= 2 && gomod_semver_is_valid(v) && match_pseudo_re(v);
}

/* parsePseudoVersion: the pieces of a pseudo-version. */
struct pseudo {
  struct gomod__span base;      /* "vX.0.0", "vX.Y.Z-pre.0", "vX.Y.(Z+1)-0" */
  struct gomod__span timestamp; /* 14 digits */
  struct gomod__span rev;
  struct gomod__span build; /* with its '+', or empty */
};

static const char *last_of(const char *s, size_t n, char c) {
  while (n > 0) {
    n--;
    if (s[n] == c)
      return s + n;
  }
  return NULL;
}

static int parse_pseudo(const char *v, struct pseudo *ps) {
  struct gomod__semver p;
  const char *dash, *dot;
  size_t n;

  if (!gomod_is_pseudo_version(v))
    return -EINVAL;
  gomod__semver_parse(v, &p);
  ps->build = p.build;
  n = strlen(v) - p.build.len;
  dash = last_of(v, n, '-');
  ps->rev.base = dash + 1;
  ps->rev.len = (size_t)(v + n - ps->rev.base);
  n = (size_t)(dash - v);
  dash = last_of(v, n, '-');
  dot = last_of(v, n, '.');
  if (dot != NULL && dot > dash)
    dash = dot; /* "vX.Y.Z-pre.0.T", "vX.Y.(Z+1)-0.T" */
  ps->base.base = v;
  ps->base.len = (size_t)(dash - v);
  ps->timestamp.base = dash + 1;
  ps->timestamp.len = (size_t)(v + n - ps->timestamp.base);
  return 0;
}

static int is_leap(long long y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int m, long long y) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long long days_from_civil(long long y, int m, int d) {
  long long era, yoe, doy;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* The inverse: *y, *m, *d of a day count from 1970-01-01. */
static void civil_from_days(long long z, long long *y, int *m, int *d) {
  long long era, doe, yoe, doy, mp;
  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static int digits_value(const char *s, size_t n) {
  int v = 0;
  for (size_t i = 0; i < n; i++)
    v = v * 10 + (s[i] - '0');
  return v;
}

int gomod_pseudo_version_time(const char *v, time_t *t) {
  struct pseudo ps;
  const char *ts;
  int year, mon, day, hour, min, sec;

  if (parse_pseudo(v, &ps) < 0)
    return -EINVAL;
  /* time.Parse("20060102150405") range checks; no leap seconds. */
  ts = ps.timestamp.base;
  year = digits_value(ts, 4);
  mon = digits_value(ts + 4, 2);
  day = digits_value(ts + 6, 2);
  hour = digits_value(ts + 8, 2);
  min = digits_value(ts + 10, 2);
  sec = digits_value(ts + 12, 2);
  if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(mon, year) ||
      hour > 23 || min > 59 || sec > 59)
    return -EINVAL;
  *t = (time_t)(days_from_civil(year, mon, day) * SECONDS_PER_DAY +
                hour * 3600 + min * 60 + sec);
  return 0;
}

int gomod_pseudo_version_rev(const char *v, char *out, size_t outlen) {
  struct pseudo ps;
  if (parse_pseudo(v, &ps) < 0)
    return -EINVAL;
  return gomod__put(out, outlen, ps.rev.base, ps.rev.len);
}

/* decDecimal on the digits s[0:n], appended to b: subtracts one, dropping
 * a leading zero that creates ("10" -> "9"). -EINVAL for zero. */
static int add_dec_decimal(struct gomod__buf *b, const char *s, size_t n) {
  size_t i = n;
  while (i > 0 && s[i - 1] == '0')
    i--;
  if (i == 0)
    return -EINVAL;
  if (!(i == 1 && s[0] == '1' && n > 1)) {
    char c = (char)(s[i - 1] - 1);
    gomod__buf_add(b, s, i - 1);
    gomod__buf_add(b, &c, 1);
  }
  for (; i < n; i++)
    gomod__buf_add(b, "9", 1);
  return 0;
}

/* incDecimal on the digits s[0:n], appended to b: adds one. */
static void add_inc_decimal(struct gomod__buf *b, const char *s, size_t n) {
  size_t i = n;
  while (i > 0 && s[i - 1] == '9')
    i--;
  if (i == 0) {
    gomod__buf_add(b, "1", 1);
  } else {
    char c = (char)(s[i - 1] + 1);
    gomod__buf_add(b, s, i - 1);
    gomod__buf_add(b, &c, 1);
  }
  for (; i < n; i++)
    gomod__buf_add(b, "0", 1);
}

int gomod_pseudo_version_base(const char *v, char *out, size_t outlen) {
  struct gomod__semver p;
  struct gomod__span base, pre, patch;
  struct gomod__buf b;
  struct pseudo ps;
  size_t pre_off;
  const char *dot;

  if (parse_pseudo(v, &ps) < 0)
    return -EINVAL;
  gomod__semver_parse(v, &p);
  base = ps.base;
  /* semver.Prerelease(base): base is v cut at an identifier boundary, so
   * its prerelease is the start of v's, or none for "vX.0.0". */
  pre_off = (size_t)(p.prerelease.base - v);
  pre.base = v + pre_off;
  pre.len = base.len > pre_off ? base.len - pre_off : 0;
  gomod__buf_init(&b, out, outlen);
  if (pre.len == 0) {
    /* No base tag: then there can be no base build suffix either. */
    return ps.build.len > 0 ? -EINVAL : gomod__buf_result(&b);
  }
  if (pre.len == 2 && memcmp(pre.base, "-0", 2) == 0) {
    /* "vX.Y.(Z+1)-0": the base is vX.Y.Z. */
    base.len -= 2;
    dot = last_of(base.base, base.len, '.');
    gomod__buf_add(&b, base.base, (size_t)(dot + 1 - base.base));
    patch.base = dot + 1;
    patch.len = (size_t)(base.base + base.len - patch.base);
    if (add_dec_decimal(&b, patch.base, patch.len) < 0)
      return -EINVAL; /* the base would have a negative patch number */
  } else {
    /* "vX.Y.Z-pre.0": the base is vX.Y.Z-pre. */
    gomod__buf_add(&b, base.base, base.len - 2);
  }
  gomod__buf_span(&b, ps.build);
  return gomod__buf_result(&b);
}

/* Go's appendInt(n, width): zero-padded to width digits, after any sign. */
static void add_padded(struct gomod__buf *b, long long n, int width) {
  char tmp[24];
  int i = (int)sizeof tmp;
  unsigned long long u =
      n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;

  if (n < 0)
    gomod__buf_add(b, "-", 1);
  do {
    tmp[--i] = (char)('0' + u % 10);
    u /= 10;
    width--;
  } while (u > 0);
  for (; width > 0; width--)
    gomod__buf_add(b, "0", 1);
  gomod__buf_add(b, tmp + i, sizeof tmp - (size_t)i);
}

/* time.Time.Format("20060102150405") of t in UTC. */
static void add_timestamp(struct gomod__buf *b, time_t t) {
  long long secs = (long long)t;
  long long days = secs / SECONDS_PER_DAY, rem = secs % SECONDS_PER_DAY;
  long long year;
  int mon, day;

  if (rem < 0) {
    rem += SECONDS_PER_DAY;
    days--;
  }
  civil_from_days(days, &year, &mon, &day);
  add_padded(b, year, 4);
  add_padded(b, mon, 2);
  add_padded(b, day, 2);
  add_padded(b, rem / 3600, 2);
  add_padded(b, rem / 60 % 60, 2);
  add_padded(b, rem % 60, 2);
}

int gomod_pseudo_version_make(const char *major, const char *older, time_t t,
                              const char *rev, char *out, size_t outlen) {
  struct gomod__semver p;
  struct gomod__buf b;
  int has_base = gomod__semver_parse(older, &p) == 0;

  gomod__buf_init(&b, out, outlen);
  if (!has_base) {
    /* No base version: vX.0.0-T-R, X from the path's major version. */
    gomod__buf_str(&b, major[0] != '\0' ? major : "v0");
    gomod__buf_str(&b, ".0.0-");
  } else if (p.prerelease.len > 0) {
    /* vX.Y.Z-pre.0.T-R */
    gomod__buf_add(&b, older, strlen(older) - p.build.len);
    gomod__buf_str(&b, ".0.");
  } else {
    /* vX.Y.(Z+1)-0.T-R, from the canonical form of the release. */
    if (p.shorthand[0] != '\0') {
      gomod__buf_str(&b, older);
      gomod__buf_add(&b, p.shorthand, strlen(p.shorthand) - 1);
    } else {
      gomod__buf_add(&b, older, (size_t)(p.patch.base - older));
    }
    add_inc_decimal(&b, p.patch.base, p.patch.len);
    gomod__buf_str(&b, "-0.");
  }
  add_timestamp(&b, t);
  gomod__buf_str(&b, "-");
  gomod__buf_str(&b, rev);
  if (has_base)
    gomod__buf_span(&b, p.build); /* e.g. "+incompatible" */
  return gomod__buf_result(&b);
}
