/*
 * "Did you mean": module paths this proxy has served that are close to one
 * no upstream knows: the same path in another case, the path with one
 * element more or less, or a few typing slips (edit distance). The caller
 * gives the candidates through a callback (the store's module paths); at
 * most DIAG_SUGGEST_MAX_CANDIDATES are scanned, each in time linear in its
 * length, so a large store costs a bounded scan.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "modproxy/diag.h"

/* Typing slips tolerated: two covers a swapped pair of letters. */
#define SUGGEST_MAX_EDITS 2
/* Paths compared by edit distance; real module paths are far shorter. */
#define SUGGEST_MAX_PATH_BYTES 256
/* Candidates named; more would not fit the go command's window. */
#define SUGGEST_MAX_NAMES 3

struct suggest {
  const char *path;
  size_t len;
  char name[SUGGEST_MAX_NAMES][SUGGEST_MAX_PATH_BYTES];
  int score[SUGGEST_MAX_NAMES];
  int n;
};

/* Levenshtein distance of a and b, or SUGGEST_MAX_EDITS + 1 when larger:
 * only the band |i - j| <= SUGGEST_MAX_EDITS is computed. */
static int edits(const char *a, size_t la, const char *b, size_t lb) {
  enum { FAR = SUGGEST_MAX_EDITS + 1 };
  if (la > lb + SUGGEST_MAX_EDITS || lb > la + SUGGEST_MAX_EDITS ||
      la >= SUGGEST_MAX_PATH_BYTES || lb >= SUGGEST_MAX_PATH_BYTES)
    return FAR;
  int prev[SUGGEST_MAX_PATH_BYTES + 1], cur[SUGGEST_MAX_PATH_BYTES + 1];
  for (size_t j = 0; j <= lb; j++)
    prev[j] = j <= SUGGEST_MAX_EDITS ? (int)j : FAR;
  for (size_t i = 1; i <= la; i++) {
    int best = FAR;
    for (size_t j = 0; j <= lb; j++) {
      if (j + SUGGEST_MAX_EDITS < i || j > i + SUGGEST_MAX_EDITS) {
        cur[j] = FAR;
        continue;
      }
      int d = j == 0 ? (int)i : prev[j - 1] + (a[i - 1] != b[j - 1]);
      if (prev[j] + 1 < d)
        d = prev[j] + 1;
      if (j > 0 && cur[j - 1] + 1 < d)
        d = cur[j - 1] + 1;
      cur[j] = d < FAR ? d : FAR;
      if (cur[j] < best)
        best = cur[j];
    }
    if (best == FAR)
      return FAR;
    memcpy(prev, cur, (lb + 1) * sizeof *prev);
  }
  return prev[lb];
}

/* 1 if removing one path element (and its '/') from lng gives shrt. */
static int one_element_more(const char *lng, size_t ll, const char *shrt,
                            size_t sl) {
  for (size_t st = 0; st < ll;) {
    size_t en = st;
    while (en < ll && lng[en] != '/')
      en++;
    /* Without lng[st, en): the part before it (no '/' of its own) and
     * the part after it. */
    size_t head = st > 0 ? st - 1 : 0;
    size_t tail = st > 0 ? en : (en < ll ? en + 1 : ll);
    if (head + (ll - tail) == sl && memcmp(lng, shrt, head) == 0 &&
        memcmp(lng + tail, shrt + head, ll - tail) == 0)
      return 1;
    st = en + 1;
  }
  return 0;
}

/* How close candidate is: 0 another case, 1 an element more or less,
 * 1 + edits for typing slips; -1 when not close. */
static int closeness(const struct suggest *s, const char *c) {
  size_t lc = strlen(c);
  if (lc == s->len && memcmp(c, s->path, lc) == 0)
    return -1;
  if (lc == s->len && strncasecmp(c, s->path, lc) == 0)
    return 0;
  if (one_element_more(c, lc, s->path, s->len) ||
      one_element_more(s->path, s->len, c, lc))
    return 1;
  int e = edits(s->path, s->len, c, lc);
  return e <= SUGGEST_MAX_EDITS ? 1 + e : -1;
}

static int on_candidate(const char *module, void *arg) {
  struct suggest *s = arg;
  int score = closeness(s, module);
  if (score < 0 || strlen(module) >= SUGGEST_MAX_PATH_BYTES)
    return 0;
  int at = s->n;
  while (at > 0 && s->score[at - 1] > score)
    at--;
  if (at == SUGGEST_MAX_NAMES)
    return 0;
  int last = s->n < SUGGEST_MAX_NAMES ? s->n : SUGGEST_MAX_NAMES - 1;
  for (int i = last; i > at; i--) {
    memcpy(s->name[i], s->name[i - 1], sizeof s->name[i]);
    s->score[i] = s->score[i - 1];
  }
  snprintf(s->name[at], sizeof s->name[at], "%s", module);
  s->score[at] = score;
  if (s->n < SUGGEST_MAX_NAMES)
    s->n++;
  return 0;
}

int diag_did_you_mean(const char *module, const char *text, size_t len,
                      diag_modules_fn each, void *ctx, char *out, size_t cap) {
  struct suggest s = {.path = module, .len = strlen(module)};
  if (each(ctx, DIAG_SUGGEST_MAX_CANDIDATES, on_candidate, &s) < 0 || s.n == 0)
    return -ENOENT;
  /* After the explanation's first line (what is missing), before the
   * upstreams asked: the go command's window may cut the middle. */
  size_t first = 0;
  while (first < len && text[first] != '\n')
    first++;
  if (first < len)
    first++;
  int n = snprintf(out, cap,
                   "%.*sDid you mean %s%s%s%s%s? (%s this proxy has "
                   "served)\n%.*s",
                   (int)first, text, s.name[0], s.n > 1 ? ", " : "",
                   s.n > 1 ? s.name[1] : "", s.n > 2 ? ", " : "",
                   s.n > 2 ? s.name[2] : "", s.n > 1 ? "modules" : "a module",
                   (int)(len - first), text + first);
  return n > 0 && (size_t)n < cap ? 0 : -E2BIG;
}
