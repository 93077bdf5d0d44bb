/*
 * go.mod directives: x/mod rule.go's File.add and what it calls
 * (parseString, parseVersion, parseReplace, parseVersionInterval,
 * parseDeprecation, parseDirectiveComment, isIndirect), with fix == nil.
 *
 * Each directive is checked in x/mod's order and its first broken rule is
 * reported with x/mod's wording and position; the caller goes on with the
 * next line. The entry arrays were sized by modfile.c for every line that
 * could add an entry, so appending never grows them. Strings are copied
 * into the struct modfile's memory (modfile__alloc), never borrowed from
 * the input.
 */
#include "modproxy/modfile.h"

#include "modfile_internal.h"

#include <errno.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static struct gomod__span tok_span(const struct modfile__parser *p,
                                   uint32_t i) {
  return modfile__tok(p->sx, i);
}

static int span_is(struct gomod__span s, const char *lit) {
  return modfile__span_is(s, lit);
}

static int tok_is(const struct modfile__parser *p, uint32_t i,
                  const char *lit) {
  return span_is(tok_span(p, i), lit);
}

/* Starts a rule error at `line` (x/mod's wrapError position). */
static struct gomod__buf *error_at(struct modfile__parser *p,
                                   const struct modfile__node *line) {
  modfile__error_at(p->err, line->start);
  p->nerr++;
  return p->err;
}

static void error_str(struct modfile__parser *p,
                      const struct modfile__node *line, const char *msg) {
  gomod__buf_str(error_at(p, line), msg);
}

/* The "verb path: " or "verb: " an Error with Verb and ModPath prints. */
static void add_directive(struct gomod__buf *b, const char *verb,
                          const char *path) {
  gomod__buf_str(b, verb);
  if (path != NULL && path[0] != '\0') {
    gomod__buf_str(b, " ");
    gomod__buf_str(b, path);
  }
  gomod__buf_str(b, ": ");
}

/* ---- strings and versions ----------------------------------------------- */

/* Why parse_string refused a token (strconv's error text, or ours). */
static const char why_syntax[] = "invalid syntax";
static const char why_quote[] = "unquoted string cannot contain quote";
static const char why_nul[] = "string contains a NUL byte";

/*
 * parseString: token i unquoted if it starts with '"', else as is (other
 * quotes are refused). Returns 0 with *out NUL-terminated in mf's memory,
 * -EINVAL with *why, or -ENOMEM.
 */
static int parse_string(struct modfile__parser *p, uint32_t i, char **out,
                        const char **why) {
  struct gomod__span s = tok_span(p, i);

  if (s.len > 0 && s.base[0] == '"') {
    char *buf = modfile__alloc(p->mf, 3 * s.len + 1);
    if (buf == NULL)
      return -ENOMEM;
    long n = modfile__unquote(s.base, s.len, buf);
    if (n < 0) {
      *why = why_syntax;
      return -EINVAL;
    }
    if (memchr(buf, '\0', (size_t)n) != NULL) {
      *why = why_nul; /* not x/mod: C strings cannot hold it */
      return -EINVAL;
    }
    buf[n] = '\0';
    *out = buf;
    return 0;
  }
  for (size_t k = 0; k < s.len; k++) {
    if (s.base[k] == '"' || s.base[k] == '\'' || s.base[k] == '`') {
      *why = why_quote;
      return -EINVAL;
    }
  }
  *out = modfile__strdup(p->mf, s.base, s.len);
  return *out != NULL ? 0 : -ENOMEM;
}

/* The "invalid quoted string: <why>" error of a parseString failure. */
static int quoted_string_error(struct modfile__parser *p,
                               const struct modfile__node *line, int rc,
                               const char *why) {
  if (rc == -EINVAL) {
    struct gomod__buf *b = error_at(p, line);
    gomod__buf_str(b, "invalid quoted string: ");
    gomod__buf_str(b, why);
    return 0;
  }
  return rc;
}

/*
 * parseVersion(verb, path, token i, fix): the token unquoted and, unless
 * `as_written` (retract's dontFixRetract), made canonical. A bad version is
 * reported at `line` when `report` is set (lax retract lines are dropped
 * quietly). Returns 0 with *out, -EINVAL, or -ENOMEM.
 */
static int parse_version(struct modfile__parser *p,
                         const struct modfile__node *line, const char *verb,
                         const char *path, uint32_t i, int as_written,
                         int report, const char **out) {
  struct gomod__span raw = tok_span(p, i);
  const char *why = NULL, *bad;
  size_t bad_len;
  char *t;
  int rc = parse_string(p, i, &t, &why);

  if (rc == -ENOMEM)
    return rc;
  if (rc == 0 && as_written) {
    *out = t;
    return 0;
  }
  if (rc == 0) {
    char *cv = modfile__alloc(p->mf, strlen(t) + sizeof ".0.0");
    if (cv == NULL)
      return -ENOMEM;
    if (gomod_canonical_version(t, cv, strlen(t) + sizeof ".0.0") > 0) {
      *out = cv;
      return 0;
    }
    why = "must be of the form v1.2.3";
    bad = t;
    bad_len = strlen(t);
  } else {
    bad = raw.base; /* the token as written */
    bad_len = raw.len;
  }
  if (report) {
    /* Error{Verb, ModPath, Err: InvalidVersionError{Version, Err}} */
    struct gomod__buf *b = error_at(p, line);
    add_directive(b, verb, path);
    gomod__buf_str(b, "version ");
    gomod__buf_quote(b, bad, bad_len);
    gomod__buf_str(b, " invalid: ");
    gomod__buf_str(b, why);
  }
  return -EINVAL;
}

/* modulePathMajor + module.CheckPathMajor(v, pathMajor), reported as x/mod
 * does: "invalid module path" without (require, exclude) or with (replace)
 * the directive, a major-version mismatch always with it. 0 if all is well,
 * -EINVAL once reported. */
static int check_major(struct modfile__parser *p,
                       const struct modfile__node *line, const char *verb,
                       const char *path, const char *v,
                       int path_error_has_directive) {
  char msg[MODFILE_ERROR_BYTES];
  const char *major;
  size_t prefix_len;

  if (gomod_split_path_version(path, &prefix_len, &major) < 0) {
    struct gomod__buf *b = error_at(p, line);
    if (path_error_has_directive)
      add_directive(b, verb, path);
    gomod__buf_str(b, "invalid module path");
    return -EINVAL;
  }
  if (v == NULL || gomod_check_path_major(v, major, msg, sizeof msg) == 0)
    return 0;
  struct gomod__buf *b = error_at(p, line);
  add_directive(b, verb, path);
  gomod__buf_str(b, msg);
  return -EINVAL;
}

/* ---- go and toolchain --------------------------------------------------- */

/* Digits matching [1-9][0-9]* (major) or 0|[1-9][0-9]* (minor) at s[i]:
 * returns the index past them, or 0 if none match. */
static size_t match_number(const char *s, size_t n, size_t i, int zero_ok) {
  if (i >= n || s[i] < '0' || s[i] > '9')
    return 0;
  if (s[i] == '0')
    return zero_ok ? i + 1 : 0;
  while (i < n && s[i] >= '0' && s[i] <= '9')
    i++;
  return i;
}

/* Past "major.minor" at s[i], or 0. */
static size_t match_major_minor(const char *s, size_t n, size_t i) {
  i = match_number(s, n, i, 0);
  if (i == 0 || i >= n || s[i] != '.')
    return 0;
  return match_number(s, n, i + 1, 1);
}

/*
 * GoVersionRE ^([1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?
 * ([a-z]+[0-9]+)?$: "1.22", "1.22.0", "1.21rc1" (and "1.21.0rc1").
 */
static int go_version_ok(struct gomod__span v) {
  size_t i = match_major_minor(v.base, v.len, 0);
  if (i == 0)
    return 0;
  if (i < v.len && v.base[i] == '.') {
    i = match_number(v.base, v.len, i + 1, 1);
    if (i == 0)
      return 0;
  }
  if (i < v.len && v.base[i] >= 'a' && v.base[i] <= 'z') {
    while (i < v.len && v.base[i] >= 'a' && v.base[i] <= 'z')
      i++;
    size_t digits = i;
    while (i < v.len && v.base[i] >= '0' && v.base[i] <= '9')
      i++;
    if (i == digits)
      return 0;
  }
  return i == v.len;
}

/* laxGoVersionRE ^v?(([1-9][0-9]*)\.(0|[1-9][0-9]*))([^0-9].*)$: on a match
 * returns 1 and narrows *v to the submatch "major.minor". */
static int lax_go_version(struct gomod__span *v) {
  size_t start = v->len > 0 && v->base[0] == 'v' ? 1 : 0;
  size_t i = match_major_minor(v->base, v->len, start);
  if (i == 0 || i >= v->len || (v->base[i] >= '0' && v->base[i] <= '9'))
    return 0;
  /* [^0-9] takes any one rune, even '\n'; ".*" then takes no '\n'. */
  if (memchr(v->base + i + 1, '\n', v->len - i - 1) != NULL)
    return 0;
  v->base += start;
  v->len = i - start;
  return 1;
}

static int add_go(struct modfile__parser *p, const struct modfile__node *line,
                  uint32_t args, uint32_t nargs) {
  if (p->mf->go != NULL) {
    error_str(p, line, "repeated go statement");
    return 0;
  }
  if (nargs != 1) {
    error_str(p, line, "go directive expects exactly one argument");
    return 0;
  }
  struct gomod__span v = tok_span(p, args);
  if (!go_version_ok(v)) {
    /* Lax mode reads "1.21-pre" or "v1.18.x" as "1.21", "1.18". */
    if (p->strict || !lax_go_version(&v)) {
      struct gomod__buf *b = error_at(p, line);
      gomod__buf_str(b, "invalid go version '");
      gomod__buf_span(b, v);
      gomod__buf_str(b, "': must match format 1.23.0");
      return 0;
    }
  }
  p->mf->go = modfile__strdup(p->mf, v.base, v.len);
  p->mf->go_line = line->start.line;
  return p->mf->go != NULL ? 0 : -ENOMEM;
}

/* The toolchain directive (Go 1.21; strict mode only). */
static int add_toolchain(struct modfile__parser *p,
                         const struct modfile__node *line, uint32_t args,
                         uint32_t nargs) {
  if (p->mf->toolchain != NULL) {
    error_str(p, line, "repeated toolchain statement");
    return 0;
  }
  if (nargs != 1) {
    error_str(p, line, "toolchain directive expects exactly one argument");
    return 0;
  }
  /* ToolchainRE: ^default$|^go1($|\.) */
  struct gomod__span v = tok_span(p, args);
  if (!span_is(v, "default") && !span_is(v, "go1") &&
      !(v.len > 4 && memcmp(v.base, "go1.", 4) == 0)) {
    struct gomod__buf *b = error_at(p, line);
    gomod__buf_str(b, "invalid toolchain version '");
    gomod__buf_span(b, v);
    gomod__buf_str(b, "': must match format go1.23.0 or default");
    return 0;
  }
  p->mf->toolchain = modfile__strdup(p->mf, v.base, v.len);
  p->mf->toolchain_line = line->start.line;
  return p->mf->toolchain != NULL ? 0 : -ENOMEM;
}

/* godebug key=value (Go 1.23; strict mode only): one word, no quotes or
 * commas, split at its first '='. */
static int add_godebug(struct modfile__parser *p,
                       const struct modfile__node *block,
                       const struct modfile__node *line, uint32_t args,
                       uint32_t nargs) {
  struct gomod__span v =
      nargs == 1 ? tok_span(p, args) : (struct gomod__span){0};
  const char *eq = v.len > 0 ? memchr(v.base, '=', v.len) : NULL;
  for (size_t k = 0; eq != NULL && k < v.len; k++)
    if (memchr("\"`',", v.base[k], 4) != NULL)
      eq = NULL;
  if (eq == NULL) {
    error_str(p, line, "usage: godebug key=value");
    return 0;
  }
  struct modfile_godebug *g = &p->mf->godebug[p->mf->ngodebug];
  size_t klen = (size_t)(eq - v.base);
  g->key = modfile__strdup(p->mf, v.base, klen);
  g->value = modfile__strdup(p->mf, eq + 1, v.len - klen - 1);
  g->line = line->start.line;
  g->block_line = block != NULL ? block->start.line : 0;
  if (g->key == NULL || g->value == NULL)
    return -ENOMEM;
  p->mf->ngodebug++;
  return 0;
}

/* tool (Go 1.24; strict mode only), ignore (Go 1.25) and a go.work's use:
 * one path, quoted or not. */
static int add_path(struct modfile__parser *p,
                    const struct modfile__node *block,
                    const struct modfile__node *line, const char *verb,
                    uint32_t args, uint32_t nargs) {
  const char *why = NULL;
  char *path;

  if (nargs != 1) {
    struct gomod__buf *b = error_at(p, line);
    gomod__buf_str(b, verb);
    gomod__buf_str(b, " directive expects exactly one argument");
    return 0;
  }
  int rc = parse_string(p, args, &path, &why);
  if (rc < 0)
    return quoted_string_error(p, line, rc, why);
  struct modfile *mf = p->mf;
  struct modfile_path *e = verb[0] == 't'   ? &mf->tool[mf->ntool++]
                           : verb[0] == 'u' ? &mf->use[mf->nuse++]
                                            : &mf->ignore[mf->nignore++];
  e->path = path;
  e->line = line->start.line;
  e->block_line = block != NULL ? block->start.line : 0;
  return 0;
}

/* ---- comments ----------------------------------------------------------- */

/*
 * parseDirectiveComment: the line's comments (those above it, then the one
 * after it), or the block's if the line has none, each without "//" and
 * trimmed, joined by '\n'. Returns a string in mf's memory, or NULL.
 */
static char *directive_comment(struct modfile__parser *p,
                               const struct modfile__node *block,
                               const struct modfile__node *line) {
  const struct modfile__syntax *sx = p->sx;
  const struct modfile__node *c = line;
  size_t total = 0, len = 0, taken = 0;

  if (block != NULL && line->nbefore == 0 && line->nsuffix == 0)
    c = block;
  for (uint32_t k = 0; k < c->nbefore; k++)
    total += sx->lcom[c->before + k].text.len + 1;
  for (uint32_t k = 0; k < c->nsuffix; k++)
    total += sx->scom[c->suffix + k].text.len + 1;
  char *out = modfile__alloc(p->mf, total + 1);
  if (out == NULL)
    return NULL;
  for (uint32_t k = 0; k < c->nbefore + c->nsuffix; k++) {
    const struct modfile__comment *com =
        k < c->nbefore ? &sx->lcom[c->before + k]
                       : &sx->scom[c->suffix + k - c->nbefore];
    const char *s = sx->data + com->text.off;
    size_t n = com->text.len;
    if (n < 2 || memcmp(s, "//", 2) != 0)
      continue; /* a blank-line marker */
    s += 2;
    n -= 2;
    modfile__trim_space(&s, &n);
    if (taken > 0)
      out[len++] = '\n';
    memcpy(out + len, s, n);
    len += n;
    taken++;
  }
  out[len] = '\0';
  return out;
}

/*
 * deprecatedRE (?s)(?:^|\n\n)Deprecated: *(.*?)(?:$|\n\n) over text[0:n]:
 * the first paragraph that starts with "Deprecated:", from after the colon
 * and spaces to the paragraph's end. Returns its start and *len, or NULL.
 */
static char *find_deprecation(char *text, size_t n, size_t *len) {
  static const char word[] = "Deprecated:";
  const size_t wl = sizeof word - 1;

  for (size_t i = 0; i < n; i++) {
    size_t at;
    if (i == 0 && n >= wl && memcmp(text, word, wl) == 0)
      at = wl;
    else if (n - i >= 2 + wl && text[i] == '\n' && text[i + 1] == '\n' &&
             memcmp(text + i + 2, word, wl) == 0)
      at = i + 2 + wl;
    else
      continue;
    while (at < n && text[at] == ' ')
      at++;
    size_t end = at;
    while (end < n &&
           !(text[end] == '\n' && end + 1 < n && text[end + 1] == '\n'))
      end++;
    *len = end - at;
    return text + at;
  }
  return NULL;
}

/* isIndirect: the first end-of-line comment reads "indirect" or starts
 * with the word "indirect;". */
static int is_indirect(const struct modfile__parser *p,
                       const struct modfile__node *line) {
  const char *first;
  size_t first_len;

  if (line->nsuffix == 0)
    return 0;
  const struct modfile__comment *c = &p->sx->scom[line->suffix];
  const char *s = p->sx->data + c->text.off;
  size_t n = c->text.len;
  if (n >= 2 && memcmp(s, "//", 2) == 0) {
    s += 2;
    n -= 2;
  }
  int count = modfile__fields2(s, n, &first, &first_len);
  struct gomod__span f = {first, first_len};
  return (count == 1 && span_is(f, "indirect")) ||
         (count > 1 && span_is(f, "indirect;"));
}

/* ---- directives --------------------------------------------------------- */

static int add_module(struct modfile__parser *p,
                      const struct modfile__node *block,
                      const struct modfile__node *line, uint32_t args,
                      uint32_t nargs) {
  const char *why = NULL;
  char *path, *text, *dep;
  size_t dep_len = 0;
  int rc;

  if (p->have_module) {
    error_str(p, line, "repeated module statement");
    return 0;
  }
  p->have_module = 1;
  text = directive_comment(p, block, line);
  if (text == NULL)
    return -ENOMEM;
  dep = find_deprecation(text, strlen(text), &dep_len);
  if (dep != NULL)
    dep[dep_len] = '\0';
  p->mf->deprecated = dep != NULL ? dep : "";
  if (nargs != 1) {
    error_str(p, line, "usage: module module/path");
    return 0;
  }
  rc = parse_string(p, args, &path, &why);
  if (rc < 0)
    return quoted_string_error(p, line, rc, why);
  p->mf->module = path;
  return 0;
}

/* require and exclude. */
static int add_requirement(struct modfile__parser *p,
                           const struct modfile__node *line, const char *verb,
                           uint32_t args, uint32_t nargs) {
  const char *why = NULL;
  const char *v;
  char *path;
  int rc;

  if (nargs != 2) {
    struct gomod__buf *b = error_at(p, line);
    gomod__buf_str(b, "usage: ");
    gomod__buf_str(b, verb);
    gomod__buf_str(b, " module/path v1.2.3");
    return 0;
  }
  rc = parse_string(p, args, &path, &why);
  if (rc < 0)
    return quoted_string_error(p, line, rc, why);
  rc = parse_version(p, line, verb, path, args + 1, 0, 1, &v);
  if (rc == 0)
    rc = check_major(p, line, verb, path, v, 0);
  if (rc < 0)
    return rc == -EINVAL ? 0 : rc;

  struct modfile *mf = p->mf;
  if (verb[0] == 'r') {
    /* Capacity was counted from the lines before the walk. */
    struct modfile_require *r = &mf->require[mf->nrequire++];
    r->path = path;
    r->version = v;
    r->indirect = is_indirect(p, line);
    r->line = line->start.line;
  } else {
    struct modfile_exclude *x = &mf->exclude[mf->nexclude++];
    x->path = path;
    x->version = v;
    x->line = line->start.line;
  }
  return 0;
}

/* IsDirectoryPath: relative or rooted, Unix or Windows style. */
static int is_directory_path(const char *ns) {
  return strcmp(ns, ".") == 0 || strcmp(ns, "..") == 0 ||
         strncmp(ns, "./", 2) == 0 || strncmp(ns, "../", 3) == 0 ||
         ns[0] == '/' || strncmp(ns, ".\\", 2) == 0 ||
         strncmp(ns, "..\\", 3) == 0 || ns[0] == '\\' ||
         (((ns[0] >= 'A' && ns[0] <= 'Z') || (ns[0] >= 'a' && ns[0] <= 'z')) &&
          ns[1] == ':');
}

/* parseReplace. */
static int add_replace(struct modfile__parser *p,
                       const struct modfile__node *line, uint32_t args,
                       uint32_t nargs) {
  static const char verb[] = "replace";
  const char *why = NULL;
  const char *old_v = "", *new_v = "";
  char *old_path, *new_path;
  uint32_t arrow = 2;
  int rc;

  if (nargs >= 2 && tok_is(p, args + 1, "=>"))
    arrow = 1;
  if (nargs < arrow + 2 || nargs > arrow + 3 ||
      !tok_is(p, args + arrow, "=>")) {
    error_str(p, line,
              "usage: replace module/path [v1.2.3] => other/module v1.4\n"
              "\t or replace module/path [v1.2.3] => ../local/directory");
    return 0;
  }
  rc = parse_string(p, args, &old_path, &why);
  if (rc < 0)
    return quoted_string_error(p, line, rc, why);
  rc = check_major(p, line, verb, old_path, NULL, 1);
  if (rc == 0 && arrow == 2) {
    rc = parse_version(p, line, verb, old_path, args + 1, 0, 1, &old_v);
    if (rc == 0)
      rc = check_major(p, line, verb, old_path, old_v, 1);
  }
  if (rc < 0)
    return rc == -EINVAL ? 0 : rc;
  rc = parse_string(p, args + arrow + 1, &new_path, &why);
  if (rc < 0)
    return quoted_string_error(p, line, rc, why);
  if (nargs == arrow + 2) {
    if (!is_directory_path(new_path)) {
      error_str(p, line,
                strchr(new_path, '@') != NULL
                    ? "replacement module must match format 'path version', "
                      "not 'path@version'"
                    : "replacement module without version must be directory "
                      "path (rooted or starting with . or ..)");
      return 0;
    }
    if (strchr(new_path, '\\') != NULL) {
      error_str(p, line,
                "replacement directory appears to be Windows path "
                "(on a non-windows system)");
      return 0;
    }
  } else {
    rc = parse_version(p, line, verb, new_path, args + arrow + 2, 0, 1, &new_v);
    if (rc < 0)
      return rc == -EINVAL ? 0 : rc;
    if (is_directory_path(new_path)) {
      struct gomod__buf *b = error_at(p, line);
      gomod__buf_str(b, "replacement module directory path ");
      gomod__buf_quote(b, new_path, strlen(new_path));
      gomod__buf_str(b, " cannot have version");
      return 0;
    }
  }
  struct modfile_replace *r = &p->mf->replace[p->mf->nreplace++];
  r->old_path = old_path;
  r->old_version = old_v;
  r->new_path = new_path;
  r->new_version = new_v;
  r->line = line->start.line;
  return 0;
}

/*
 * parseVersionInterval over args[*i:n]: "v" or "[ low , high ]", versions
 * as written. On success *i is past the interval. A bad interval is
 * reported (strict mode) and gives -EINVAL.
 */
static int parse_interval(struct modfile__parser *p,
                          const struct modfile__node *line, uint32_t *i,
                          uint32_t n, const char **low, const char **high) {
  const char *msg;
  uint32_t k = *i;
  int rc;

  if (k == n || tok_is(p, k, "(")) {
    msg = "expected '[' or version";
    goto bad;
  }
  if (!tok_is(p, k, "[")) {
    rc = parse_version(p, line, "retract", "", k, 1, p->strict, low);
    if (rc < 0)
      return rc;
    *high = *low;
    *i = k + 1;
    return 0;
  }
  if (++k == n) {
    msg = "expected version after '['";
    goto bad;
  }
  rc = parse_version(p, line, "retract", "", k, 1, p->strict, low);
  if (rc < 0)
    return rc;
  if (++k == n || !tok_is(p, k, ",")) {
    msg = "expected ',' after version";
    goto bad;
  }
  if (++k == n) {
    msg = "expected version after ','";
    goto bad;
  }
  rc = parse_version(p, line, "retract", "", k, 1, p->strict, high);
  if (rc < 0)
    return rc;
  if (++k == n || !tok_is(p, k, "]")) {
    msg = "expected ']' after version";
    goto bad;
  }
  *i = k + 1;
  return 0;
bad:
  if (p->strict)
    error_str(p, line, msg);
  return -EINVAL;
}

static int add_retract(struct modfile__parser *p,
                       const struct modfile__node *block,
                       const struct modfile__node *line, uint32_t args,
                       uint32_t nargs) {
  const char *low, *high;
  char *rationale;
  uint32_t i = args;
  int rc;

  rationale = directive_comment(p, block, line);
  if (rationale == NULL)
    return -ENOMEM;
  rc = parse_interval(p, line, &i, args + nargs, &low, &high);
  if (rc < 0)
    return rc == -EINVAL ? 0 : rc; /* lax mode drops the line */
  if (i < args + nargs && p->strict) {
    /* Reserved for more information after the version. */
    struct gomod__span t = tok_span(p, i);
    struct gomod__buf *b = error_at(p, line);
    gomod__buf_str(b, "unexpected token after version: ");
    gomod__buf_quote(b, t.base, t.len);
    return 0;
  }
  struct modfile_retract *r = &p->mf->retract[p->mf->nretract++];
  r->low = low;
  r->high = high;
  r->rationale = rationale;
  r->line = line->start.line;
  return 0;
}

/* Whether lax mode reads this directive (the rest only matter in the main
 * module, or are unknown to this version). */
static int lax_keeps(struct gomod__span verb) {
  return span_is(verb, "go") || span_is(verb, "module") ||
         span_is(verb, "retract") || span_is(verb, "require") ||
         span_is(verb, "ignore");
}

/* The directives of a go.work file (x/mod WorkFile.add). */
static int work_keeps(struct gomod__span verb) {
  return span_is(verb, "go") || span_is(verb, "toolchain") ||
         span_is(verb, "godebug") || span_is(verb, "use") ||
         span_is(verb, "replace");
}

static int unknown_directive(struct modfile__parser *p,
                             const struct modfile__node *line,
                             struct gomod__span verb) {
  struct gomod__buf *b = error_at(p, line);
  gomod__buf_str(b, "unknown directive: ");
  gomod__buf_span(b, verb);
  return 0;
}

/*
 * File.add: one directive, `verb` with tokens args[0:nargs], on `line`
 * (inside `block` or not). Rule errors are reported and counted; the
 * return value is 0 or -ENOMEM.
 */
int modfile__add(struct modfile__parser *p, const struct modfile__node *block,
                 const struct modfile__node *line, uint32_t verb_tok,
                 uint32_t args, uint32_t nargs) {
  struct gomod__span verb = tok_span(p, verb_tok);

  if (!p->strict && !lax_keeps(verb))
    return 0;
  /* A go.work has its own directives; a go.mod has no use. */
  if (p->work ? !work_keeps(verb) : span_is(verb, "use"))
    return unknown_directive(p, line, verb);
  if (span_is(verb, "go"))
    return add_go(p, line, args, nargs);
  if (span_is(verb, "toolchain"))
    return add_toolchain(p, line, args, nargs);
  if (span_is(verb, "godebug"))
    return add_godebug(p, block, line, args, nargs);
  if (span_is(verb, "tool"))
    return add_path(p, block, line, "tool", args, nargs);
  if (span_is(verb, "ignore"))
    return add_path(p, block, line, "ignore", args, nargs);
  if (span_is(verb, "module"))
    return add_module(p, block, line, args, nargs);
  if (span_is(verb, "require"))
    return add_requirement(p, line, "require", args, nargs);
  if (span_is(verb, "exclude"))
    return add_requirement(p, line, "exclude", args, nargs);
  if (span_is(verb, "replace"))
    return add_replace(p, line, args, nargs);
  if (span_is(verb, "retract"))
    return add_retract(p, block, line, args, nargs);
  if (span_is(verb, "use"))
    return add_path(p, block, line, "use", args, nargs);
  return unknown_directive(p, line, verb);
}
