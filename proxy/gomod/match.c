/*
 * GOPRIVATE-style prefix patterns: module.MatchPrefixPatterns, built on a
 * port of Go's path.Match.
 *
 * path.Match syntax: '*' matches any run of non-'/' bytes, '?' one non-'/'
 * character, '[...]' / '[^...]' a character (UTF-8 rune) in / not in the
 * listed characters and lo-hi ranges, '\' makes the next character literal.
 * A malformed pattern is an error (ErrBadPattern), which
 * MatchPrefixPatterns treats as "no match". As in Go, the pattern is only
 * checked as far as matching needs, plus the chunks after a failed one.
 */
#include "modproxy/gomod.h"

#include "gomod_internal.h"

#include <errno.h>
#include <string.h>

static struct gomod__span advance(struct gomod__span s, size_t n) {
  s.base += n;
  s.len -= n;
  return s;
}

/*
 * scanChunk: splits off the leading '*'s (sets *star) and the chunk up to
 * the next '*' outside a class. Returns the chunk; *pattern is what is left.
 */
static struct gomod__span scan_chunk(struct gomod__span *pattern, int *star) {
  struct gomod__span p = *pattern, chunk;
  int in_class = 0;
  size_t i;

  *star = 0;
  while (p.len > 0 && p.base[0] == '*') {
    p = advance(p, 1);
    *star = 1;
  }
  for (i = 0; i < p.len; i++) {
    if (p.base[i] == '\\') {
      if (i + 1 < p.len)
        i++;
    } else if (p.base[i] == '[') {
      in_class = 1;
    } else if (p.base[i] == ']') {
      in_class = 0;
    } else if (p.base[i] == '*' && !in_class) {
      break;
    }
  }
  chunk.base = p.base;
  chunk.len = i;
  *pattern = advance(p, i);
  return chunk;
}

/* getEsc: one possibly escaped character of a class, which must be followed
 * by more of the class. */
static int get_esc(struct gomod__span *chunk, uint32_t *r) {
  struct gomod__span c = *chunk;
  size_t w;

  if (c.len == 0 || c.base[0] == '-' || c.base[0] == ']')
    return -EINVAL;
  if (c.base[0] == '\\') {
    c = advance(c, 1);
    if (c.len == 0)
      return -EINVAL;
  }
  w = gomod__utf8_decode(c.base, c.len, r);
  if (*r == GOMOD__RUNE_ERROR && w == 1)
    return -EINVAL;
  *chunk = advance(c, w);
  return chunk->len == 0 ? -EINVAL : 0;
}

/* A class after its '[': does rune r match? Consumes through the ']'. */
static int match_class(struct gomod__span *chunk, uint32_t r, int *matched) {
  int negated = 0, match = 0, nrange = 0;

  if (chunk->len > 0 && chunk->base[0] == '^') {
    negated = 1;
    *chunk = advance(*chunk, 1);
  }
  for (;;) {
    uint32_t lo, hi;
    if (chunk->len > 0 && chunk->base[0] == ']' && nrange > 0) {
      *chunk = advance(*chunk, 1);
      break;
    }
    if (get_esc(chunk, &lo) < 0)
      return -EINVAL;
    hi = lo;
    if (chunk->base[0] == '-') {
      *chunk = advance(*chunk, 1);
      if (get_esc(chunk, &hi) < 0)
        return -EINVAL;
    }
    if (lo <= r && r <= hi)
      match = 1;
    nrange++;
  }
  *matched = match != negated;
  return 0;
}

/*
 * matchChunk: does chunk match a prefix of s? Returns -EINVAL for a bad
 * pattern, else 0 with *ok set and, on a match, *rest the unmatched tail.
 * After a mismatch the rest of the chunk is still parsed, for its syntax.
 */
static int match_chunk(struct gomod__span chunk, struct gomod__span s,
                       struct gomod__span *rest, int *ok) {
  int failed = 0;

  while (chunk.len > 0) {
    uint32_t r = 0;
    int in_class;
    if (!failed && s.len == 0)
      failed = 1;
    switch (chunk.base[0]) {
    case '[':
      if (!failed) {
        size_t w = gomod__utf8_decode(s.base, s.len, &r);
        s = advance(s, w);
      }
      chunk = advance(chunk, 1);
      if (match_class(&chunk, r, &in_class) < 0)
        return -EINVAL;
      if (!in_class)
        failed = 1;
      break;
    case '?':
      if (!failed) {
        if (s.base[0] == '/')
          failed = 1;
        s = advance(s, gomod__utf8_decode(s.base, s.len, &r));
      }
      chunk = advance(chunk, 1);
      break;
    case '\\':
      chunk = advance(chunk, 1);
      if (chunk.len == 0)
        return -EINVAL;
      /* fall through - the next byte is literal */
    default:
      if (!failed) {
        if (chunk.base[0] != s.base[0])
          failed = 1;
        s = advance(s, 1);
      }
      chunk = advance(chunk, 1);
      break;
    }
  }
  *ok = !failed;
  if (!failed)
    *rest = s;
  return 0;
}

/* path.Match: 1 or 0, or -EINVAL for a malformed pattern. */
static int path_match(struct gomod__span pattern, struct gomod__span name) {
  while (pattern.len > 0) {
    struct gomod__span chunk, rest;
    int star, ok, rc, found = 0;

    chunk = scan_chunk(&pattern, &star);
    if (star && chunk.len == 0)
      return memchr(name.base, '/', name.len) == NULL;
    rc = match_chunk(chunk, name, &rest, &ok);
    if (rc == 0 && ok && (rest.len == 0 || pattern.len > 0)) {
      name = rest;
      continue;
    }
    if (rc < 0)
      return rc;
    /* After a star, retry the chunk further on, without crossing a '/';
     * the last chunk must also end the name. */
    for (size_t i = 0; star && !found && i < name.len && name.base[i] != '/';
         i++) {
      rc = match_chunk(chunk, advance(name, i + 1), &rest, &ok);
      if (rc < 0)
        return rc;
      if (ok && !(pattern.len == 0 && rest.len > 0)) {
        name = rest;
        found = 1;
      }
    }
    if (found)
      continue;
    /* No match; but a malformed rest of the pattern is still an error. */
    while (pattern.len > 0) {
      struct gomod__span empty = {"", 0};
      chunk = scan_chunk(&pattern, &star);
      if (match_chunk(chunk, empty, &rest, &ok) < 0)
        return -EINVAL;
    }
    return 0;
  }
  return name.len == 0;
}

int gomod_match_prefix_patterns(const char *globs, const char *target) {
  struct gomod__span rest = {globs, strlen(globs)};
  size_t tlen = strlen(target);

  while (rest.len > 0) {
    const char *comma = memchr(rest.base, ',', rest.len);
    struct gomod__span glob = {
        rest.base, comma != NULL ? (size_t)(comma - rest.base) : rest.len};
    struct gomod__span prefix = {target, tlen};
    size_t slashes = 0;

    rest = advance(rest, glob.len + (comma != NULL));
    if (glob.len > 0 && glob.base[glob.len - 1] == '/')
      glob.len--;
    if (glob.len == 0)
      continue;
    /* A glob of n+1 elements is matched against target's first n+1. */
    for (size_t i = 0; i < glob.len; i++)
      slashes += glob.base[i] == '/';
    for (size_t i = 0; i < tlen; i++) {
      if (target[i] != '/')
        continue;
      if (slashes == 0) {
        prefix.len = i;
        break;
      }
      slashes--;
    }
    if (slashes > 0)
      continue;
    if (path_match(glob, prefix) == 1)
      return 1;
  }
  return 0;
}

int gomod_private(const char *patterns, const char *module) {
  return patterns != NULL && patterns[0] != '\0' &&
         gomod_match_prefix_patterns(patterns, module);
}
