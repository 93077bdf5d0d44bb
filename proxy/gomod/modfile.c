/*
 * go.mod parsing, the API (modfile.h): x/mod parseToFile and
 * ModulePath, and the memory the results live in.
 *
 * How a parse runs:
 *  1. modfile__syntax_parse (modfile_lex.c) lexes and parses the whole
 *     file; a syntax error stops everything with its one message, as in
 *     x/mod.
 *  2. The entry arrays are sized for every line that could add an entry
 *     (and MODFILE_MAX_ENTRIES is checked there).
 *  3. Each statement is interpreted in order by modfile__add
 *     (modfile_rules.c): a line by its first word, a block's lines by the
 *     block's word. A directive that breaks a rule adds its error and the
 *     walk goes on, so the message lists every error, '\n'-joined, and the
 *     state a bad line leaves (a malformed module line still counts as
 *     "the" module line) is x/mod's.
 *  4. Any error: the results are dropped. Otherwise *mf holds them.
 *
 * Lax mode keeps only go, module, retract, require and ignore lines, and
 * ignores unknown blocks; strict mode reports every unknown directive and
 * block.
 *
 * Memory: the results (strings, entry arrays) go into chunks owned by the
 * struct modfile (mf->mem_), freed together by modfile_dispose; strings that
 * an error makes useless stay there until then. The syntax tree is freed
 * before modfile_parse returns. Allocation failure is -ENOMEM.
 */
#include "modproxy/modfile.h"

#include "modfile_internal.h"

#include <errno.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Results of a typical go.mod fit in one chunk this size; bigger requests
 * get a chunk of their own size. */
#define CHUNK_BYTES (16u << 10)

struct modfile__chunk {
  struct modfile__chunk *next;
  size_t used;
  size_t cap;
  max_align_t data[];
};

void modfile_init(struct modfile *mf) {
  memset(mf, 0, sizeof *mf);
}

void modfile_dispose(struct modfile *mf) {
  if (mf == NULL)
    return;
  struct modfile__chunk *c = mf->mem_;
  while (c != NULL) {
    struct modfile__chunk *next = c->next;
    free(c);
    c = next;
  }
  modfile_init(mf);
}

void *modfile__alloc(struct modfile *mf, size_t n) {
  const size_t align = alignof(max_align_t);
  struct modfile__chunk *c = mf->mem_;

  n = (n + align - 1) / align * align;
  if (c == NULL || c->cap - c->used < n) {
    size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
    c = malloc(sizeof *c + cap);
    if (c == NULL)
      return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = mf->mem_;
    mf->mem_ = c;
  }
  void *p = (char *)c->data + c->used;
  c->used += n;
  return p;
}

char *modfile__strdup(struct modfile *mf, const char *s, size_t n) {
  char *p = modfile__alloc(mf, n + 1);
  if (p != NULL) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

/* The block words whose lines are directives. */
static int block_verb(struct gomod__span verb) {
  static const char *const verbs[] = {"module",  "godebug", "require",
                                      "exclude", "replace", "retract",
                                      "tool",    "ignore",  "use"};
  for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
    if (modfile__span_is(verb, verbs[i]))
      return 1;
  return 0;
}

/* The directives that add entries, in the order of the counts below, and
 * whether lax mode keeps them (it keeps only what matters in a dependency). */
enum { LISTS = 8 };
static const struct {
  const char *verb;
  int lax;
} lists[LISTS] = {{"require", 1}, {"exclude", 0}, {"replace", 0},
                  {"retract", 1}, {"godebug", 0}, {"tool", 0},
                  {"ignore", 1},  {"use", 0}};

/* Adds n lines of `verb` to the count of its list, if this mode keeps
 * them. */
static void count_lines(const struct modfile__parser *p,
                        struct gomod__span verb, uint32_t n,
                        size_t counts[LISTS]) {
  for (int k = 0; k < LISTS; k++) {
    if (modfile__span_is(verb, lists[k].verb) && (p->strict || lists[k].lax))
      counts[k] += n;
  }
}

/* Sizes the entry arrays for every line that could add an entry, and
 * refuses more than MODFILE_MAX_ENTRIES of a kind. */
static int alloc_entries(struct modfile__parser *p) {
  const struct modfile__syntax *sx = p->sx;
  size_t counts[LISTS] = {0};
  struct modfile *mf = p->mf;

  for (uint32_t i = 0; i < sx->nnodes;) {
    const struct modfile__node *x = &sx->nodes[i];
    if (x->kind == MODFILE__LINE)
      count_lines(p, modfile__tok(sx, x->tok), 1, counts);
    if (x->kind == MODFILE__BLOCK && x->ntok == 1)
      count_lines(p, modfile__tok(sx, x->tok), x->last - i - 2, counts);
    i = x->kind == MODFILE__BLOCK ? x->last + 1 : i + 1;
  }
  for (int k = 0; k < LISTS; k++) {
    if (counts[k] > MODFILE_MAX_ENTRIES) {
      char tmp[96];
      snprintf(tmp, sizeof tmp, "go.mod: too many %s lines (more than %u)",
               lists[k].verb, (unsigned)MODFILE_MAX_ENTRIES);
      gomod__buf_str(p->err, tmp);
      return -E2BIG;
    }
  }
  mf->require = modfile__alloc(mf, counts[0] * sizeof *mf->require + 1);
  mf->exclude = modfile__alloc(mf, counts[1] * sizeof *mf->exclude + 1);
  mf->replace = modfile__alloc(mf, counts[2] * sizeof *mf->replace + 1);
  mf->retract = modfile__alloc(mf, counts[3] * sizeof *mf->retract + 1);
  mf->godebug = modfile__alloc(mf, counts[4] * sizeof *mf->godebug + 1);
  mf->tool = modfile__alloc(mf, counts[5] * sizeof *mf->tool + 1);
  mf->ignore = modfile__alloc(mf, counts[6] * sizeof *mf->ignore + 1);
  mf->use = modfile__alloc(mf, counts[7] * sizeof *mf->use + 1);
  if (mf->require == NULL || mf->exclude == NULL || mf->replace == NULL ||
      mf->retract == NULL || mf->godebug == NULL || mf->tool == NULL ||
      mf->ignore == NULL || mf->use == NULL)
    return -ENOMEM;
  return 0;
}

/* parseToFile after parse: every statement in order. */
static int interpret(struct modfile__parser *p) {
  const struct modfile__syntax *sx = p->sx;
  int rc = alloc_entries(p);

  for (uint32_t i = 0; rc == 0 && i < sx->nnodes;) {
    const struct modfile__node *x = &sx->nodes[i];
    switch (x->kind) {
    case MODFILE__LINE:
      rc = modfile__add(p, NULL, x, x->tok, x->tok + 1, x->ntok - 1);
      i++;
      break;
    case MODFILE__BLOCK:
      if (x->ntok > 1 || !block_verb(modfile__tok(sx, x->tok))) {
        if (p->strict) {
          modfile__error_at(p->err, x->start);
          p->nerr++;
          gomod__buf_str(p->err, "unknown block type:");
          for (uint32_t k = 0; k < x->ntok; k++) {
            gomod__buf_str(p->err, " ");
            gomod__buf_span(p->err, modfile__tok(sx, x->tok + k));
          }
        }
      } else {
        /* Its lines sit between its LPAREN and RPAREN. */
        for (uint32_t j = i + 2; rc == 0 && j < x->last; j++)
          rc = modfile__add(p, x, &sx->nodes[j], x->tok, sx->nodes[j].tok,
                            sx->nodes[j].ntok);
      }
      i = x->last + 1;
      break;
    default: /* a comment block */ i++; break;
    }
  }
  return rc;
}

int modfile_parse(struct modfile *mf, const void *data, size_t len,
                  unsigned flags, char *err, size_t errlen) {
  struct modfile__syntax sx;
  struct gomod__buf eb;
  struct modfile__parser p;
  int rc;

  gomod__buf_init(&eb, err, errlen);
  modfile_dispose(mf);
  if ((flags & ~(MODFILE_LAX | MODFILE_WORK)) != 0 ||
      flags == (MODFILE_LAX | MODFILE_WORK)) {
    gomod__buf_str(&eb, "modfile: unknown flags");
    return -EINVAL;
  }
  if (len > MODFILE_MAX_BYTES) {
    char tmp[80];
    snprintf(tmp, sizeof tmp, "go.mod: file too large (max size is %u bytes)",
             (unsigned)MODFILE_MAX_BYTES);
    gomod__buf_str(&eb, tmp);
    return -E2BIG;
  }
  rc = modfile__syntax_parse(&sx, data, len, &eb);
  if (rc == 0) {
    memset(&p, 0, sizeof p);
    p.mf = mf;
    p.sx = &sx;
    p.err = &eb;
    p.strict = (flags & MODFILE_LAX) == 0;
    p.work = (flags & MODFILE_WORK) != 0;
    rc = interpret(&p);
    if (rc == 0 && p.nerr > 0)
      rc = -EINVAL;
  }
  modfile__syntax_dispose(&sx);
  if (rc < 0)
    modfile_dispose(mf);
  return rc;
}

/* ---- ModulePath ---------------------------------------------------------- */

static const char *find_slashes(const char *s, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (s[i] == '/' && s[i + 1] == '/')
      return s + i;
  }
  return NULL;
}

int modfile_module_path(const void *data, size_t len, char *out, size_t cap) {
  const char *s = data, *end = s + len;

  if (cap > 0)
    out[0] = '\0';
  if (len > MODFILE_MAX_BYTES)
    return -E2BIG;
  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *line = s;
    size_t n = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
    s = nl != NULL ? nl + 1 : end;

    const char *slashes = find_slashes(line, n);
    if (slashes != NULL)
      n = (size_t)(slashes - line);
    modfile__trim_space(&line, &n);
    if (n < 6 || memcmp(line, "module", 6) != 0)
      continue;
    line += 6;
    n -= 6;
    size_t untrimmed = n;
    modfile__trim_space(&line, &n);
    if (n == untrimmed || n == 0)
      continue; /* "modulex", or "module" alone */

    long plen = (long)n;
    char *buf = NULL;
    if (line[0] == '"' || line[0] == '`') {
      buf = malloc(3 * n);
      if (buf == NULL)
        return -ENOMEM;
      plen = modfile__unquote(line, n, buf);
      if (plen < 0) {
        free(buf);
        return -ENOENT; /* malformed, or a path that spans lines */
      }
      line = buf;
    }
    int rc = (size_t)plen < cap ? (int)plen : -E2BIG;
    if (rc >= 0) {
      memcpy(out, line, (size_t)plen);
      out[plen] = '\0';
    }
    free(buf);
    return rc;
  }
  return -ENOENT;
}
