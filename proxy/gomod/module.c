/*
 * Module paths and versions as golang.org/x/mod/module checks them:
 * CheckPath / CheckImportPath / CheckFilePath, SplitPathVersion,
 * CheckPathMajor, Check, and the '!' case-escaping of paths and versions
 * used in proxy URLs and cache directories.
 *
 * A failed check yields a `struct fault` (what broke which rule, and the
 * offending element or rune); one function turns it into x/mod's wording,
 * and each caller adds the prefix x/mod's error wrapping adds
 * (`malformed module path "p": `, `invalid escaped version "v": `...).
 *
 * Module and import paths are ASCII by rule; file paths may hold Unicode
 * letters, as judged by gomod__is_letter (an approximation, see text.c).
 */
#include "modproxy/gomod.h"

#include "gomod_internal.h"

#include <errno.h>
#include <string.h>

#define GOPKG_IN "gopkg.in/"
#define UNSTABLE "-unstable"
#define INCOMPATIBLE "+incompatible"

/* The three path flavours, from strictest to loosest. */
enum path_kind { MODULE_PATH, IMPORT_PATH, FILE_PATH };

static const char *const kind_names[] = {"module", "import", "file"};

/* Which rule a path broke: the reasons x/mod gives, in its words. */
enum fault_code {
  F_UTF8,
  F_EMPTY,
  F_LEADING_DASH,
  F_DOUBLE_SLASH,
  F_TRAILING_SLASH,
  F_EMPTY_ELEM,
  F_DOTS_ELEM,
  F_LEADING_DOT,
  F_TRAILING_DOT,
  F_CHAR,
  F_WINDOWS_NAME,
  F_SHORT_NAME,
  F_NO_DOT,
  F_FIRST_CHAR,
  F_VERSION,
};

/* How each reason reads: text before and after its quoted argument, if it
 * has one (ARG_SPAN quotes fault.text, ARG_RUNE quotes fault.rune). */
enum fault_arg { ARG_NONE, ARG_SPAN, ARG_RUNE };
static const struct {
  const char *before;
  enum fault_arg arg;
  const char *after;
} fault_texts[] = {
    [F_UTF8] = {"invalid UTF-8", ARG_NONE, ""},
    [F_EMPTY] = {"empty string", ARG_NONE, ""},
    [F_LEADING_DASH] = {"leading dash", ARG_NONE, ""},
    [F_DOUBLE_SLASH] = {"double slash", ARG_NONE, ""},
    [F_TRAILING_SLASH] = {"trailing slash", ARG_NONE, ""},
    [F_EMPTY_ELEM] = {"empty path element", ARG_NONE, ""},
    [F_DOTS_ELEM] = {"invalid path element ", ARG_SPAN, ""},
    [F_LEADING_DOT] = {"leading dot in path element", ARG_NONE, ""},
    [F_TRAILING_DOT] = {"trailing dot in path element", ARG_NONE, ""},
    [F_CHAR] = {"invalid char ", ARG_RUNE, ""},
    [F_WINDOWS_NAME] = {"", ARG_SPAN,
                        " disallowed as path element component on Windows"},
    [F_SHORT_NAME] = {"trailing tilde and digits in path element", ARG_NONE,
                      ""},
    [F_NO_DOT] = {"missing dot in first path element", ARG_NONE, ""},
    [F_FIRST_CHAR] = {"invalid char ", ARG_RUNE, " in first path element"},
    [F_VERSION] = {"invalid version", ARG_NONE, ""},
};

struct fault {
  enum fault_code code;
  struct gomod__span text; /* the element, for ARG_SPAN */
  uint32_t rune;           /* the character, for ARG_RUNE */
};

static int set_fault(struct fault *f, enum fault_code code) {
  f->code = code;
  return -EINVAL;
}

static int set_fault_text(struct fault *f, enum fault_code code, const char *s,
                          size_t n) {
  f->text.base = s;
  f->text.len = n;
  return set_fault(f, code);
}

static int set_fault_rune(struct fault *f, enum fault_code code, uint32_t r) {
  f->rune = r;
  return set_fault(f, code);
}

static void add_fault(struct gomod__buf *b, const struct fault *f) {
  gomod__buf_str(b, fault_texts[f->code].before);
  if (fault_texts[f->code].arg == ARG_SPAN)
    gomod__buf_quote(b, f->text.base, f->text.len);
  else if (fault_texts[f->code].arg == ARG_RUNE)
    gomod__buf_quote_rune(b, f->rune);
  gomod__buf_str(b, fault_texts[f->code].after);
}

/* InvalidPathError: `malformed <kind> path "<path>": <reason>`. */
static void add_path_error(struct gomod__buf *b, enum path_kind kind,
                           const char *path, const struct fault *f) {
  gomod__buf_str(b, "malformed ");
  gomod__buf_str(b, kind_names[kind]);
  gomod__buf_str(b, " path ");
  gomod__buf_quote(b, path, strlen(path));
  gomod__buf_str(b, ": ");
  add_fault(b, f);
}

/* ---- characters ---------------------------------------------------------- */

static int is_ascii_alnum(uint32_t r) {
  return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') ||
         (r >= 'A' && r <= 'Z');
}

/* r != 0 is one of the ASCII characters in `set`. */
static int in_set(uint32_t r, const char *set) {
  return r != 0 && r < 0x80 && strchr(set, (int)r) != NULL;
}

static int rune_ok(uint32_t r, enum path_kind kind) {
  switch (kind) {
  case MODULE_PATH: return is_ascii_alnum(r) || in_set(r, "-._~");
  case IMPORT_PATH: return is_ascii_alnum(r) || in_set(r, "-._~+");
  case FILE_PATH:
    /* ASCII punctuation minus shell specials and path separators. */
    if (r < 0x80)
      return is_ascii_alnum(r) || in_set(r, "!#$%&()+,-.=@[]^_{}~ ");
    return gomod__is_letter(r);
  }
  return 0;
}

/* ---- elements and paths ------------------------------------------------- */

static int ascii_upper(int c) {
  return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/*
 * A reserved Windows device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9) in
 * any case. x/mod compares with strings.EqualFold, but the only non-ASCII
 * runes that fold to ASCII (U+017F to 's', U+212A to 'k') fold to letters
 * these names do not use, so an ASCII comparison gives the same answer.
 */
static int is_windows_name(const char *s, size_t n) {
  char u[4];
  if (n != 3 && n != 4)
    return 0;
  for (size_t i = 0; i < n; i++)
    u[i] = (char)ascii_upper((unsigned char)s[i]);
  if (n == 3)
    return memcmp(u, "CON", 3) == 0 || memcmp(u, "PRN", 3) == 0 ||
           memcmp(u, "AUX", 3) == 0 || memcmp(u, "NUL", 3) == 0;
  return (memcmp(u, "COM", 3) == 0 || memcmp(u, "LPT", 3) == 0) &&
         u[3] >= '1' && u[3] <= '9';
}

/* Ends in '~' and one or more ASCII digits, like a Windows 8.3 short name. */
static int is_short_name(const char *s, size_t n) {
  size_t i = n;
  while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
    i--;
  return i < n && i > 0 && s[i - 1] == '~';
}

/* checkElem: one path element e[0:n] (or a version, as a file element). */
static int check_elem(const char *e, size_t n, enum path_kind kind,
                      struct fault *f) {
  size_t dots = 0, i = 0, short_len;
  const char *dot;

  if (n == 0)
    return set_fault(f, F_EMPTY_ELEM);
  while (dots < n && e[dots] == '.')
    dots++;
  if (dots == n)
    return set_fault_text(f, F_DOTS_ELEM, e, n);
  if (e[0] == '.' && kind == MODULE_PATH)
    return set_fault(f, F_LEADING_DOT);
  if (e[n - 1] == '.')
    return set_fault(f, F_TRAILING_DOT);
  while (i < n) {
    uint32_t r;
    i += gomod__utf8_decode(e + i, n - i, &r);
    if (!rune_ok(r, kind))
      return set_fault_rune(f, F_CHAR, r);
  }
  dot = memchr(e, '.', n);
  short_len = dot != NULL ? (size_t)(dot - e) : n;
  if (is_windows_name(e, short_len))
    return set_fault_text(f, F_WINDOWS_NAME, e, short_len);
  /* Short names only matter for import paths, not for file names. */
  if (kind != FILE_PATH && is_short_name(e, short_len))
    return set_fault(f, F_SHORT_NAME);
  return 0;
}

/* checkPath: the rules common to module, import and file paths. */
static int check_path(const char *path, enum path_kind kind, struct fault *f) {
  size_t n = strlen(path), start = 0;

  if (!gomod__utf8_valid(path, n))
    return set_fault(f, F_UTF8);
  if (n == 0)
    return set_fault(f, F_EMPTY);
  if (path[0] == '-' && kind != FILE_PATH)
    return set_fault(f, F_LEADING_DASH);
  if (strstr(path, "//") != NULL)
    return set_fault(f, F_DOUBLE_SLASH);
  if (path[n - 1] == '/')
    return set_fault(f, F_TRAILING_SLASH);
  for (size_t i = 0; i <= n; i++) {
    if (i == n || path[i] == '/') {
      if (check_elem(path + start, i - start, kind, f) < 0)
        return -EINVAL;
      start = i + 1;
    }
  }
  return 0;
}

/* splitGopkgIn: "gopkg.in/name.vN" or ".vN-unstable"; N without a leading
 * zero, except ".v0". */
static int split_gopkg_in(const char *path, size_t n, size_t *prefix_len) {
  size_t i = n, ulen = strlen(UNSTABLE), pm_len;
  const char *pm;

  if (n >= ulen && memcmp(path + n - ulen, UNSTABLE, ulen) == 0)
    i -= ulen;
  while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9')
    i--;
  if (i <= 1 || path[i - 1] != 'v' || path[i - 2] != '.')
    return -EINVAL;
  pm = path + i - 2; /* ".v" N ["-unstable"] */
  pm_len = n - (i - 2);
  if (pm_len <= 2 ||
      (pm[2] == '0' && !(pm_len == 3 && memcmp(pm, ".v0", 3) == 0)))
    return -EINVAL;
  *prefix_len = i - 2;
  return 0;
}

/*
 * SplitPathVersion: *prefix_len is where the major-version suffix starts
 * (n when there is none). A trailing "/vN" must have N >= 2, without dots
 * or a leading zero.
 */
static int split_path_version(const char *path, size_t *prefix_len) {
  size_t n = strlen(path), i = n;
  int dot = 0;

  *prefix_len = n;
  if (strncmp(path, GOPKG_IN, strlen(GOPKG_IN)) == 0)
    return split_gopkg_in(path, n, prefix_len);
  while (i > 0 &&
         ((path[i - 1] >= '0' && path[i - 1] <= '9') || path[i - 1] == '.')) {
    if (path[i - 1] == '.')
      dot = 1;
    i--;
  }
  if (i <= 1 || i == n || path[i - 1] != 'v' || path[i - 2] != '/')
    return 0;
  if (dot || path[i] == '0' || (n - i == 1 && path[i] == '1'))
    return -EINVAL;
  *prefix_len = i - 2;
  return 0;
}

/* CheckPath without the error wrapping. */
static int check_module_path(const char *path, struct fault *f) {
  size_t first, prefix_len;

  if (check_path(path, MODULE_PATH, f) < 0)
    return -EINVAL;
  /* check_path has already refused a leading slash or dash, which x/mod
   * tests again here; the path is ASCII from now on. */
  first = strcspn(path, "/");
  if (memchr(path, '.', first) == NULL)
    return set_fault(f, F_NO_DOT);
  for (size_t i = 0; i < first; i++) {
    unsigned char c = (unsigned char)path[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.'))
      return set_fault_rune(f, F_FIRST_CHAR, c);
  }
  if (split_path_version(path, &prefix_len) < 0)
    return set_fault(f, F_VERSION);
  return 0;
}

/* The three public path checks, differing only in the rules applied. */
static int check_kind(const char *path, enum path_kind kind, char *err,
                      size_t errlen) {
  struct gomod__buf b;
  struct fault f;
  int rc;

  gomod__buf_init(&b, err, errlen);
  if (kind == MODULE_PATH)
    rc = check_module_path(path, &f);
  else
    rc = check_path(path, kind, &f);
  if (rc < 0)
    add_path_error(&b, kind, path, &f);
  return rc;
}

int gomod_check_path(const char *path, char *err, size_t errlen) {
  return check_kind(path, MODULE_PATH, err, errlen);
}

int gomod_check_import_path(const char *path, char *err, size_t errlen) {
  return check_kind(path, IMPORT_PATH, err, errlen);
}

int gomod_check_file_path(const char *path, char *err, size_t errlen) {
  return check_kind(path, FILE_PATH, err, errlen);
}

int gomod_split_path_version(const char *path, size_t *prefix_len,
                             const char **major) {
  int rc = split_path_version(path, prefix_len);
  *major = path + *prefix_len;
  return rc;
}

/* ---- versions against paths --------------------------------------------- */

static int span_eq(struct gomod__span s, const char *lit) {
  return s.len == strlen(lit) && memcmp(s.base, lit, s.len) == 0;
}

/* semver.Major(v): "vN", or empty for an invalid v. */
static struct gomod__span major_of(const char *v) {
  struct gomod__semver p;
  struct gomod__span m = {v, 0};
  if (gomod__semver_parse(v, &p) == 0)
    m.len = 1 + p.major.len;
  return m;
}

/*
 * CheckPathMajor without the error wrapping: on a mismatch, *want is what
 * the message says v should be ("v0 or v1", "v2", ...).
 */
static int match_major(const char *v, const char *path_major,
                       struct gomod__span *want) {
  struct gomod__span pm = {path_major, strlen(path_major)};
  struct gomod__span m = major_of(v);
  struct gomod__semver p;
  size_t ulen = strlen(UNSTABLE);

  if (pm.len >= 2 && memcmp(pm.base, ".v", 2) == 0 && pm.len >= ulen &&
      memcmp(pm.base + pm.len - ulen, UNSTABLE, ulen) == 0)
    pm.len -= ulen;
  /* Old go versions made v0.0.0- pseudo-versions for gopkg.in .v1 paths. */
  if (strncmp(v, "v0.0.0-", 7) == 0 && span_eq(pm, ".v1"))
    return 0;
  if (pm.len == 0) {
    if (span_eq(m, "v0") || span_eq(m, "v1"))
      return 0;
    if (gomod__semver_parse(v, &p) == 0 && span_eq(p.build, INCOMPATIBLE))
      return 0;
    want->base = "v0 or v1";
    want->len = strlen(want->base);
    return -EINVAL;
  }
  if (pm.base[0] == '/' || pm.base[0] == '.') {
    pm.base++;
    pm.len--;
    if (m.len == pm.len && memcmp(m.base, pm.base, m.len) == 0)
      return 0;
  }
  *want = pm;
  return -EINVAL;
}

/* The reason of a major-version mismatch: "should be v2, not v1". */
static void add_major_mismatch(struct gomod__buf *b, const char *v,
                               struct gomod__span want) {
  gomod__buf_str(b, "should be ");
  gomod__buf_span(b, want);
  gomod__buf_str(b, ", not ");
  gomod__buf_span(b, major_of(v));
}

int gomod_check_path_major(const char *v, const char *path_major, char *err,
                           size_t errlen) {
  struct gomod__buf b;
  struct gomod__span want;

  gomod__buf_init(&b, err, errlen);
  if (match_major(v, path_major, &want) == 0)
    return 0;
  /* InvalidVersionError */
  gomod__buf_str(&b, "version ");
  gomod__buf_quote(&b, v, strlen(v));
  gomod__buf_str(&b, " invalid: ");
  add_major_mismatch(&b, v, want);
  return -EINVAL;
}

int gomod_match_path_major(const char *v, const char *path_major) {
  struct gomod__span want;
  return match_major(v, path_major, &want) == 0;
}

/* A ModuleError wrapping an InvalidVersionError: the text before its
 * reason, "path@version: invalid version: ". */
static void add_module_version_error(struct gomod__buf *b, const char *path,
                                     const char *version) {
  gomod__buf_str(b, path);
  gomod__buf_str(b, "@");
  gomod__buf_str(b, version);
  gomod__buf_str(b, ": invalid version: ");
}

int gomod_check(const char *path, const char *version, char *err,
                size_t errlen) {
  struct gomod__buf b;
  struct gomod__span want;
  struct fault f;
  size_t prefix_len;

  gomod__buf_init(&b, err, errlen);
  if (check_module_path(path, &f) < 0) {
    add_path_error(&b, MODULE_PATH, path, &f);
    return -EINVAL;
  }
  if (!gomod_semver_is_valid(version)) {
    add_module_version_error(&b, path, version);
    gomod__buf_str(&b, "not a semantic version");
    return -EINVAL;
  }
  split_path_version(path, &prefix_len); /* cannot fail: path is valid */
  if (match_major(version, path + prefix_len, &want) == 0)
    return 0;
  add_module_version_error(&b, path, version);
  add_major_mismatch(&b, version, want);
  return -EINVAL;
}

/* ---- '!' escaping -------------------------------------------------------- */

/* Leaves an empty out (when there is room) after a failure. */
static int fail_out(char *out, size_t outlen, int rc) {
  if (outlen > 0)
    out[0] = '\0';
  return rc;
}

/* escapeString: each upper-case ASCII letter becomes '!' and its lower-case
 * form. '!' or non-ASCII would make that ambiguous: CheckPath keeps both out
 * of paths, EscapeVersion keeps out '!', but a version may still hold a
 * Unicode letter, which x/mod reports as this internal error. */
static int escape_string(const char *s, char *out, size_t outlen,
                         struct gomod__buf *eb) {
  struct gomod__buf b;

  for (const char *p = s; *p != '\0'; p++) {
    if (*p == '!' || (unsigned char)*p >= 0x80) {
      gomod__buf_str(eb, "internal error: inconsistency in EscapePath");
      return fail_out(out, outlen, -EINVAL);
    }
  }
  gomod__buf_init(&b, out, outlen);
  for (const char *p = s; *p != '\0'; p++) {
    char esc[2] = {'!', (char)(*p - 'A' + 'a')};
    if (*p >= 'A' && *p <= 'Z')
      gomod__buf_add(&b, esc, 2);
    else
      gomod__buf_add(&b, p, 1);
  }
  return gomod__buf_result(&b);
}

/*
 * unescapeString into out: refuses non-ASCII, upper case, and a '!' not
 * followed by a lower-case letter. -EINVAL for those, else the length or
 * -E2BIG.
 */
static int unescape_string(const char *escaped, char *out, size_t outlen) {
  struct gomod__buf b;
  int bang = 0;

  gomod__buf_init(&b, out, outlen);
  for (const char *p = escaped; *p != '\0'; p++) {
    char c = *p;
    if ((unsigned char)c >= 0x80)
      return -EINVAL;
    if (bang) {
      if (c < 'a' || c > 'z')
        return -EINVAL;
      c = (char)(c - 'a' + 'A');
      bang = 0;
    } else if (c == '!') {
      bang = 1;
      continue;
    } else if (c >= 'A' && c <= 'Z') {
      return -EINVAL;
    }
    gomod__buf_add(&b, &c, 1);
  }
  if (bang)
    return -EINVAL;
  return gomod__buf_result(&b);
}

int gomod_escape_path(const char *path, char *out, size_t outlen, char *err,
                      size_t errlen) {
  struct gomod__buf eb;
  struct fault f;

  gomod__buf_init(&eb, err, errlen);
  if (check_module_path(path, &f) < 0) {
    add_path_error(&eb, MODULE_PATH, path, &f);
    return fail_out(out, outlen, -EINVAL);
  }
  return escape_string(path, out, outlen, &eb);
}

int gomod_escape_version(const char *v, char *out, size_t outlen, char *err,
                         size_t errlen) {
  struct gomod__buf eb;
  struct fault f;

  gomod__buf_init(&eb, err, errlen);
  if (check_elem(v, strlen(v), FILE_PATH, &f) < 0 || strchr(v, '!') != NULL) {
    gomod__buf_str(&eb, "version ");
    gomod__buf_quote(&eb, v, strlen(v));
    gomod__buf_str(&eb, " invalid: disallowed version string");
    return fail_out(out, outlen, -EINVAL);
  }
  return escape_string(v, out, outlen, &eb);
}

/* The start of both unescaping errors: `invalid escaped <what> "<s>"`. */
static void add_unescape_error(struct gomod__buf *eb, const char *what,
                               const char *s, size_t n) {
  gomod__buf_str(eb, "invalid escaped ");
  gomod__buf_str(eb, what);
  gomod__buf_str(eb, " ");
  gomod__buf_quote(eb, s, n);
}

int gomod_unescape_path(const char *escaped, char *out, size_t outlen,
                        char *err, size_t errlen) {
  struct gomod__buf eb;
  struct fault f;
  int n;

  gomod__buf_init(&eb, err, errlen);
  n = unescape_string(escaped, out, outlen);
  if (n == -E2BIG)
    return fail_out(out, outlen, n);
  if (n == -EINVAL || check_module_path(out, &f) < 0) {
    add_unescape_error(&eb, "module path", escaped, strlen(escaped));
    if (n >= 0) {
      gomod__buf_str(&eb, ": ");
      add_path_error(&eb, MODULE_PATH, out, &f);
    }
    return fail_out(out, outlen, -EINVAL);
  }
  return n;
}

int gomod_unescape_version(const char *escaped, char *out, size_t outlen,
                           char *err, size_t errlen) {
  struct gomod__buf eb;
  struct fault f;
  int n;

  gomod__buf_init(&eb, err, errlen);
  n = unescape_string(escaped, out, outlen);
  if (n == -EINVAL)
    add_unescape_error(&eb, "version", escaped, strlen(escaped));
  if (n < 0)
    return fail_out(out, outlen, n);
  if (check_elem(out, (size_t)n, FILE_PATH, &f) < 0) {
    /* x/mod quotes the decoded version here, not the escaped one. */
    add_unescape_error(&eb, "version", out, (size_t)n);
    gomod__buf_str(&eb, ": ");
    add_fault(&eb, &f);
    return fail_out(out, outlen, -EINVAL);
  }
  return n;
}
