/*
 * The parts of go.mod that resolving versions from git needs, read the way
 * golang.org/x/mod/modfile reads them: the module path (ModulePath, a line
 * scan that ignores everything else) and the retract directives (as
 * ParseLax keeps them: single versions, [low, high] intervals, and
 * retract ( ... ) blocks). Pure functions over bytes.
 */
#include <stdio.h>
#include <string.h>

#include "vcs_internal.h"

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

/* Trims s[0:*n] in place (returns the new start). */
static const char *trim(const char *s, size_t *n) {
  while (*n > 0 && is_space(*s)) {
    s++;
    (*n)--;
  }
  while (*n > 0 && is_space(s[*n - 1]))
    (*n)--;
  return s;
}

/* A Go double-quoted or back-quoted string without escapes beyond \" and
 * \\ (module paths and versions never need more). 0 or -1. */
static int unquote(const char *s, size_t n, char *out, size_t cap) {
  if (n < 2 || s[n - 1] != s[0])
    return -1;
  size_t o = 0;
  for (size_t i = 1; i + 1 < n; i++) {
    char c = s[i];
    if (s[0] == '"' && c == '\\') {
      if (i + 2 >= n || (s[i + 1] != '"' && s[i + 1] != '\\'))
        return -1;
      c = s[++i];
    } else if (s[0] == '"' && c == '"') {
      return -1;
    }
    if (o + 1 >= cap)
      return -1;
    out[o++] = c;
  }
  out[o] = '\0';
  return 0;
}

void vcs_modfile_module_path(const char *data, size_t len, char *out,
                             size_t cap) {
  out[0] = '\0';
  const char *p = data, *end = data + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    const char *line = p;
    p = nl != NULL ? nl + 1 : end;
    for (size_t i = 0; i + 1 < n; i++) {
      if (line[i] == '/' && line[i + 1] == '/') {
        n = i;
        break;
      }
    }
    line = trim(line, &n);
    if (n < 6 || memcmp(line, "module", 6) != 0)
      continue;
    line += 6;
    n -= 6;
    size_t before = n;
    line = trim(line, &n);
    if (n == before || n == 0)
      continue;
    if (line[0] == '"' || line[0] == '`') {
      if (unquote(line, n, out, cap) < 0)
        out[0] = '\0';
      return;
    }
    snprintf(out, cap, "%.*s", (int)n, line);
    return;
  }
}

/* ---- retract ----------------------------------------------------------- */

#define MAX_TOKENS 16

struct token {
  const char *s;
  size_t n;
};

/* Splits one line (comment removed) into tokens: ( ) [ ] , are tokens of
 * their own; quoted strings are one token. */
static int tokenize(const char *s, size_t n, struct token *t) {
  int k = 0;
  size_t i = 0;
  while (i < n && k < MAX_TOKENS) {
    if (is_space(s[i])) {
      i++;
      continue;
    }
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '/')
      break;
    size_t start = i;
    if (strchr("()[],", s[i]) != NULL) {
      i++;
    } else if (s[i] == '"' || s[i] == '`') {
      char q = s[i++];
      while (i < n && s[i] != q) {
        if (q == '"' && s[i] == '\\')
          i++;
        i++;
      }
      if (i < n)
        i++;
    } else {
      while (i < n && !is_space(s[i]) && strchr("()[],", s[i]) == NULL &&
             !(i + 1 < n && s[i] == '/' && s[i + 1] == '/'))
        i++;
    }
    t[k].s = s + start;
    t[k].n = i - start;
    k++;
  }
  return k;
}

static int tok_is(const struct token *t, const char *w) {
  return t->n == strlen(w) && memcmp(t->s, w, t->n) == 0;
}

/* A version token (maybe quoted) into out; 0 if it is a valid semver. */
static int tok_version(const struct token *t, char *out, size_t cap) {
  if (t->n > 0 && (t->s[0] == '"' || t->s[0] == '`')) {
    if (unquote(t->s, t->n, out, cap) < 0)
      return -1;
  } else {
    snprintf(out, cap, "%.*s", (int)t->n, t->s);
  }
  /* modfile canonicalizes with module.CanonicalVersion (lax: invalid
   * versions are errors and the directive is dropped). */
  char canon[GOMOD_MAX_VERSION_BYTES];
  if (!gomod_semver_is_valid(out) ||
      gomod_canonical_version(out, canon, sizeof canon) < 0 ||
      strcmp(canon, out) != 0)
    return -1;
  return 0;
}

/* The arguments of one retract directive. */
static int parse_args(const struct token *t, int k, struct vcs_retract *r) {
  if (k == 1)
    return tok_version(&t[0], r->low, sizeof r->low) < 0 ||
                   tok_version(&t[0], r->high, sizeof r->high) < 0
               ? -1
               : 0;
  if (k == 5 && tok_is(&t[0], "[") && tok_is(&t[2], ",") &&
      tok_is(&t[4], "]"))
    return tok_version(&t[1], r->low, sizeof r->low) < 0 ||
                   tok_version(&t[3], r->high, sizeof r->high) < 0
               ? -1
               : 0;
  return -1;
}

size_t vcs_modfile_retractions(const char *data, size_t len,
                               struct vcs_retract *out, size_t cap) {
  size_t count = 0;
  int in_block = 0;     /* inside some verb ( ... ) block */
  int block_retract = 0;
  const char *p = data, *end = data + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    const char *line = p;
    p = nl != NULL ? nl + 1 : end;
    struct token t[MAX_TOKENS];
    int k = tokenize(line, n, t);
    if (k == 0)
      continue;
    if (in_block) {
      if (k == 1 && tok_is(&t[0], ")")) {
        in_block = 0;
        continue;
      }
      if (block_retract && count < cap && parse_args(t, k, &out[count]) == 0)
        count++;
      continue;
    }
    if (k == 2 && tok_is(&t[1], "(")) {
      in_block = 1;
      block_retract = tok_is(&t[0], "retract");
      continue;
    }
    if (tok_is(&t[0], "retract") && count < cap &&
        parse_args(t + 1, k - 1, &out[count]) == 0)
      count++;
  }
  return count;
}

size_t vcs_modfile_legacy(const char *module, char *out, size_t cap) {
  /* A path that passes module.CheckPath holds none of the characters that
   * modfile.AutoQuote quotes for. */
  int n = snprintf(out, cap, "module %s\n", module);
  return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}
