/*
 * Declarations shared by the go.mod parser's files and nothing else:
 *  - modfile_text.c: Go's unicode.IsSpace / isIdent classes, TrimSpace,
 *    Fields and strconv.Unquote over byte ranges;
 *  - modfile_lex.c: the lexer and syntax tree of x/mod's read.go;
 *  - modfile_rules.c: each directive (rule.go's File.add);
 *  - modfile.c: the API, the results' memory and the walk over the tree.
 */
#ifndef MODPROXY_MODFILE_INTERNAL_H
#define MODPROXY_MODFILE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gomod_internal.h"

struct modfile;

/* ---- text (modfile_text.c) ---------------------------------------------- */

/** unicode.IsSpace. */
int modfile__is_space(uint32_t r);
/** read.go isIdent: !unicode.IsSpace(r) && unicode.IsPrint(r), with the
 *  Unicode 15 tables of Go 1.26, minus the punctuation " ()[]{},". */
int modfile__is_ident(uint32_t r);
/** strings.TrimSpace over *s[0:*n] (Unicode spaces; invalid UTF-8 stays). */
void modfile__trim_space(const char **s, size_t *n);
/**
 * strings.Fields over s[0:n], as far as isIndirect needs it: stores the
 * first field in *first and *first_len and returns the number of fields,
 * counting no further than 2.
 */
int modfile__fields2(const char *s, size_t n, const char **first,
                     size_t *first_len);
/**
 * strconv.Unquote of s[0:n] (a "..." or `...` literal) into out, which must
 * have room for 3 * n bytes (an invalid byte becomes a 3-byte U+FFFD).
 * Returns the decoded length (not NUL-terminated), or -EINVAL where Go
 * returns ErrSyntax ("invalid syntax").
 */
long modfile__unquote(const char *s, size_t n, char *out);

/* ---- syntax (modfile_lex.c) --------------------------------------------- */

/** read.go Position. */
struct modfile__pos {
  uint32_t line; /* from 1 */
  uint32_t col;  /* LineRune: the rune in the line, from 1 */
  uint32_t byte; /* offset in the input */
};

/** A byte range of the input. */
struct modfile__text {
  uint32_t off;
  uint32_t len;
};

/** A // comment (its text without the line end), or a blank-line marker
 *  (len 0) that a block keeps between its lines. */
struct modfile__comment {
  struct modfile__pos start;
  struct modfile__text text;
};

enum modfile__node_kind {
  MODFILE__LINE,     /* a line of tokens, on its own or in a block */
  MODFILE__BLOCK,    /* verb ( lines ): followed by its LPAREN, lines and
                        RPAREN nodes */
  MODFILE__LPAREN,   /* holds the suffix comment after "verb (" */
  MODFILE__RPAREN,   /* holds the comments before ")" */
  MODFILE__COMMENTS, /* a block of whole-line comments on its own */
};

/** One element of the syntax tree (read.go's Line, LineBlock, LParen,
 *  RParen and CommentBlock, with their Comments). */
struct modfile__node {
  uint8_t kind;
  struct modfile__pos start;
  struct modfile__pos end;  /* Span's end */
  uint32_t tok, ntok;       /* LINE: its tokens; BLOCK: those before "(" */
  uint32_t before, nbefore; /* whole-line comments (syntax.lcom) */
  uint32_t suffix, nsuffix; /* end-of-line comments (syntax.scom) */
  uint32_t last;            /* BLOCK: the index of its RPAREN node */
};

/**
 * A parsed file: x/mod's FileSyntax with comments assigned. The top-level
 * statements are the nodes in order, each BLOCK followed by its LPAREN,
 * lines and RPAREN (nodes[block.last]). Token and comment texts are ranges
 * of `data`, which is borrowed.
 */
struct modfile__syntax {
  const char *data;
  size_t len;
  struct modfile__text *toks;
  uint32_t ntoks, cap_toks;
  struct modfile__comment *lcom; /* whole-line comments and markers */
  uint32_t nlcom, cap_lcom;
  struct modfile__comment *scom; /* end-of-line comments */
  uint32_t nscom, cap_scom;
  struct modfile__node *nodes;
  uint32_t nnodes, cap_nodes;
};

/** Appends "go.mod:<line>[:<col>]: " as x/mod's Error does (the column only
 *  when it is past 1), after a '\n' if b already holds an error. */
void modfile__error_at(struct gomod__buf *b, struct modfile__pos pos);

/**
 * read.go parse: builds the syntax tree of data[0:len] (len <=
 * MODFILE_MAX_BYTES) and assigns comments. Returns 0; -EINVAL on a syntax
 * error, with x/mod's message in err; -E2BIG past MODFILE_MAX_ITEMS, with a
 * message; -ENOMEM. sx is always left for modfile__syntax_dispose.
 */
int modfile__syntax_parse(struct modfile__syntax *sx, const char *data,
                          size_t len, struct gomod__buf *err);
void modfile__syntax_dispose(struct modfile__syntax *sx);

/* The text of token i. */
static inline struct gomod__span modfile__tok(const struct modfile__syntax *sx,
                                              uint32_t i) {
  struct gomod__span s = {sx->data + sx->toks[i].off, sx->toks[i].len};
  return s;
}

static inline int modfile__span_is(struct gomod__span s, const char *lit) {
  return s.len == strlen(lit) && memcmp(s.base, lit, s.len) == 0;
}

/* ---- results (modfile.c) and directives (modfile_rules.c) --------------- */

/** n bytes from mf's memory, aligned for any type; NULL when out of it. */
void *modfile__alloc(struct modfile *mf, size_t n);
/** s[0:n] NUL-terminated in mf's memory; NULL when out of it. */
char *modfile__strdup(struct modfile *mf, const char *s, size_t n);

/** The state of one walk over a syntax tree (parseToFile's File). */
struct modfile__parser {
  struct modfile *mf; /* results; entry arrays sized beforehand */
  const struct modfile__syntax *sx;
  struct gomod__buf *err;
  int strict;      /* Parse, not ParseLax */
  int work;        /* ParseWork: a go.work file */
  int nerr;        /* rule errors reported so far */
  int have_module; /* f.Module != nil (set even by a malformed line) */
};

/**
 * File.add: the directive `verb_tok` with tokens [args, args + nargs) on
 * `line`, inside `block` or not (NULL). A broken rule is reported to p->err
 * and counted in p->nerr. Returns 0, or -ENOMEM.
 */
int modfile__add(struct modfile__parser *p, const struct modfile__node *block,
                 const struct modfile__node *line, uint32_t verb_tok,
                 uint32_t args, uint32_t nargs);

#endif
