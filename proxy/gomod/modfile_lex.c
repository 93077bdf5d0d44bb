/*
 * The go.mod lexer and syntax tree: x/mod read.go (parse), ported
 * statement for statement so that every accepted file, every tree and every
 * syntax error (its text and position) is the same.
 *
 * Tokens: words (any run of isIdent runes, stopping before "//"), "..." and
 * `...` strings (kept with their quotes), the punctuation ( ) [ ] { } , and
 * '\n', and comments. A comment alone on its line is a COMMENT token the
 * grammar places; one after other text on its line is an EOLCOMMENT, a line
 * end that is also kept aside for comment assignment. The lexer always holds
 * the next token (lx->tok) and its position is past it, which is the
 * position x/mod reports for most syntax errors.
 *
 * Grammar (parseFile / parseStmt / parseLineBlock / parseLine):
 *   file  = { '\n' | COMMENT | stmt } EOF
 *   stmt  = word { token } EOL
 *         | word { token } '(' EOL { '\n' | COMMENT | line } ')' EOL
 *         | word { token } '(' ')' EOL               (an empty block)
 * where a '(' or "( )" not followed by a line end is just a token. Whole-
 * line comments right above a statement become its "before" comments; a
 * blank line first makes them a comment block of their own. Inside a block,
 * each line gets the comments above it, with a marker for a blank line, and
 * the ")" gets the rest.
 *
 * Then end-of-line comments are assigned (assignComments): walking the tree
 * in reverse postorder, each element that starts and ends on one line takes
 * the remaining comments that start at or after its end. x/mod's whole-line
 * comment pass has nothing to do (the lexer never keeps those aside), so it
 * is left out.
 *
 * Memory: the arrays of struct modfile__syntax grow by doubling up to
 * MODFILE_MAX_ITEMS elements in all; the only other allocation is the
 * postorder list, for the time comments are assigned.
 */
#include "modproxy/modfile.h"

#include "modfile_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Token kinds: '\n' and punctuation are their own characters. */
enum {
  TOK_EOF = -1,
  TOK_EOLCOMMENT = -2,
  TOK_IDENT = -3,
  TOK_STRING = -4,
  TOK_COMMENT = -5,
};

struct token {
  int kind;
  struct modfile__pos pos; /* its first rune */
  struct modfile__pos end; /* past its last rune */
  struct modfile__text text;
};

struct lexer {
  struct modfile__syntax *sx;
  const char *data;
  size_t len;
  struct modfile__pos pos; /* pos.byte is where the unread input starts */
  struct token tok;        /* the next token */
  struct gomod__buf *err;
};

void modfile__error_at(struct gomod__buf *b, struct modfile__pos pos) {
  char tmp[48];
  if (b->len > 0)
    gomod__buf_add(b, "\n", 1);
  if (pos.col > 1)
    snprintf(tmp, sizeof tmp, "go.mod:%u:%u: ", (unsigned)pos.line,
             (unsigned)pos.col);
  else
    snprintf(tmp, sizeof tmp, "go.mod:%u: ", (unsigned)pos.line);
  gomod__buf_str(b, tmp);
}

static int syntax_error(struct lexer *lx, struct modfile__pos pos,
                        const char *msg) {
  modfile__error_at(lx->err, pos);
  gomod__buf_str(lx->err, msg);
  return -EINVAL;
}

/* ---- storage ------------------------------------------------------------ */

/* Makes room for element n of an array of `size`-byte elements. */
static int grow(void *arrayp, uint32_t *cap, uint32_t n, size_t size) {
  void **array = arrayp;
  if (n < *cap)
    return 0;
  uint32_t ncap = *cap > 0 ? *cap * 2 : 64;
  if (ncap > MODFILE_MAX_ITEMS)
    ncap = MODFILE_MAX_ITEMS;
  void *p = realloc(*array, (size_t)ncap * size);
  if (p == NULL)
    return -ENOMEM;
  *array = p;
  *cap = ncap;
  return 0;
}

/* Every element stored counts against MODFILE_MAX_ITEMS, which therefore
 * bounds each array too. */
static int take_item(struct lexer *lx) {
  const struct modfile__syntax *sx = lx->sx;
  char tmp[64];
  if ((size_t)sx->ntoks + sx->nlcom + sx->nscom + sx->nnodes <
      MODFILE_MAX_ITEMS)
    return 0;
  snprintf(tmp, sizeof tmp, "too many words and comments (more than %u)",
           (unsigned)MODFILE_MAX_ITEMS);
  syntax_error(lx, lx->pos, tmp);
  return -E2BIG;
}

static int push_tok(struct lexer *lx, struct modfile__text text) {
  struct modfile__syntax *sx = lx->sx;
  int rc = take_item(lx);
  if (rc == 0)
    rc = grow(&sx->toks, &sx->cap_toks, sx->ntoks, sizeof *sx->toks);
  if (rc < 0)
    return rc;
  sx->toks[sx->ntoks++] = text;
  return 0;
}

static int push_comment(struct lexer *lx, int suffix, struct modfile__pos pos,
                        struct modfile__text text) {
  struct modfile__syntax *sx = lx->sx;
  struct modfile__comment **list = suffix ? &sx->scom : &sx->lcom;
  uint32_t *n = suffix ? &sx->nscom : &sx->nlcom;
  uint32_t *cap = suffix ? &sx->cap_scom : &sx->cap_lcom;
  int rc = take_item(lx);
  if (rc == 0)
    rc = grow(list, cap, *n, sizeof **list);
  if (rc < 0)
    return rc;
  (*list)[*n].start = pos;
  (*list)[*n].text = text;
  (*n)++;
  return 0;
}

/* Appends a node; returns its index or a negative errno. */
static int push_node(struct lexer *lx, int kind, struct modfile__pos start,
                     struct modfile__pos end) {
  struct modfile__syntax *sx = lx->sx;
  int rc = take_item(lx);
  if (rc == 0)
    rc = grow(&sx->nodes, &sx->cap_nodes, sx->nnodes, sizeof *sx->nodes);
  if (rc < 0)
    return rc;
  struct modfile__node *x = &sx->nodes[sx->nnodes];
  memset(x, 0, sizeof *x);
  x->kind = (uint8_t)kind;
  x->start = start;
  x->end = end;
  return (int)sx->nnodes++;
}

/* Position.add(")"): one rune further on the same line. */
static struct modfile__pos past_paren(struct modfile__pos p) {
  p.col++;
  p.byte++;
  return p;
}

/* ---- lexer -------------------------------------------------------------- */

static int at_eof(const struct lexer *lx) {
  return lx->pos.byte >= lx->len;
}

/* The next rune, or 0 at the end. */
static uint32_t peek_rune(const struct lexer *lx) {
  uint32_t r = 0;
  if (!at_eof(lx))
    gomod__utf8_decode(lx->data + lx->pos.byte, lx->len - lx->pos.byte, &r);
  return r;
}

static int peek_prefix(const struct lexer *lx, const char *prefix) {
  size_t n = strlen(prefix);
  return lx->len - lx->pos.byte >= n &&
         memcmp(lx->data + lx->pos.byte, prefix, n) == 0;
}

/* Consumes the next rune (never called at the end). */
static uint32_t read_rune(struct lexer *lx) {
  uint32_t r;
  size_t w =
      gomod__utf8_decode(lx->data + lx->pos.byte, lx->len - lx->pos.byte, &r);
  if (r == '\n') {
    lx->pos.line++;
    lx->pos.col = 1;
  } else {
    lx->pos.col++;
  }
  lx->pos.byte += (uint32_t)w;
  return r;
}

static void start_token(struct lexer *lx) {
  lx->tok.pos = lx->pos;
  lx->tok.text.off = lx->pos.byte;
  lx->tok.text.len = 0;
}

/* The token runs to here; a comment loses one trailing "\n" or "\r\n". */
static void end_token(struct lexer *lx, int kind) {
  struct modfile__text *t = &lx->tok.text;
  lx->tok.kind = kind;
  t->len = lx->pos.byte - t->off;
  if (kind == TOK_COMMENT || kind == TOK_EOLCOMMENT) {
    const char *s = lx->data + t->off;
    if (t->len >= 2 && s[t->len - 2] == '\r' && s[t->len - 1] == '\n')
      t->len -= 2;
    else if (t->len >= 1 && s[t->len - 1] == '\n')
      t->len--;
  }
  lx->tok.end = lx->pos;
}

/* Whether anything but space precedes the current position on its line (so
 * a comment starting here is an end-of-line comment). */
static int text_before_on_line(const struct lexer *lx) {
  uint32_t i = lx->pos.byte;
  while (i > 0 && lx->data[i - 1] != '\n')
    i--;
  const char *s = lx->data + i;
  size_t n = lx->pos.byte - i;
  modfile__trim_space(&s, &n);
  return n > 0;
}

static int lex_comment(struct lexer *lx) {
  start_token(lx);
  int suffix = text_before_on_line(lx);
  read_rune(lx);
  read_rune(lx);
  while (!at_eof(lx) && read_rune(lx) != '\n')
    ;
  if (!suffix) {
    end_token(lx, TOK_COMMENT);
    return 0;
  }
  end_token(lx, TOK_EOLCOMMENT);
  return push_comment(lx, 1, lx->tok.pos, lx->tok.text);
}

static int lex_string(struct lexer *lx, uint32_t quote) {
  read_rune(lx);
  for (;;) {
    if (at_eof(lx))
      return syntax_error(lx, lx->tok.pos, "unexpected EOF in string");
    if (peek_rune(lx) == '\n')
      return syntax_error(lx, lx->pos, "unexpected newline in string");
    uint32_t c = read_rune(lx);
    if (c == quote)
      break;
    if (c == '\\' && quote != '`') {
      /* Whatever follows is escaped, even a newline. */
      if (at_eof(lx))
        return syntax_error(lx, lx->tok.pos, "unexpected EOF in string");
      read_rune(lx);
    }
  }
  end_token(lx, TOK_STRING);
  return 0;
}

/*
 * The "unexpected input character %#q" error. A rune that is not isIdent
 * and not punctuation is a space or not printable, so Go's QuoteRune
 * always escapes it; that is done here rather than by gomod__buf_quote_rune,
 * whose idea of printable is approximate above U+00FF.
 */
static int bad_rune(struct lexer *lx, uint32_t r) {
  static const char hex[] = "0123456789abcdef";
  static const char escapes[][2] = {{'\a', 'a'}, {'\b', 'b'}, {'\f', 'f'},
                                    {'\n', 'n'}, {'\r', 'r'}, {'\t', 't'},
                                    {'\v', 'v'}};
  char tmp[16] = "'\\";
  size_t n = 2;
  int digits = r < 0x20 || r == 0x7F ? 2 : r < 0x10000 ? 4 : 8;

  for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
    if (r == (uint32_t)escapes[i][0]) {
      tmp[n++] = escapes[i][1];
      digits = 0;
    }
  }
  if (digits > 0)
    tmp[n++] = digits == 2 ? 'x' : digits == 4 ? 'u' : 'U';
  for (int d = digits - 1; d >= 0; d--)
    tmp[n++] = hex[(r >> (4 * d)) & 0xF];
  tmp[n++] = '\'';
  modfile__error_at(lx->err, lx->pos);
  gomod__buf_str(lx->err, "unexpected input character ");
  gomod__buf_add(lx->err, tmp, n);
  return -EINVAL;
}

static const char block_comment_error[] =
    "mod files must use // comments (not /* */ comments)";

/* readToken: lexes the next token into lx->tok. */
static int read_token(struct lexer *lx) {
  while (!at_eof(lx)) {
    uint32_t c = peek_rune(lx);
    if (c == ' ' || c == '\t' || c == '\r') {
      read_rune(lx);
      continue;
    }
    if (peek_prefix(lx, "//"))
      return lex_comment(lx);
    if (peek_prefix(lx, "/*"))
      return syntax_error(lx, lx->pos, block_comment_error);
    break;
  }

  start_token(lx);
  if (at_eof(lx)) {
    end_token(lx, TOK_EOF);
    return 0;
  }
  uint32_t c = peek_rune(lx);
  switch (c) {
  case '\n':
  case '(':
  case ')':
  case '[':
  case ']':
  case '{':
  case '}':
  case ',':
    read_rune(lx);
    end_token(lx, (int)c);
    return 0;
  case '"':
  case '`': return lex_string(lx, c);
  default: break;
  }
  if (!modfile__is_ident(c))
    return bad_rune(lx, c);
  while (modfile__is_ident(peek_rune(lx))) {
    if (peek_prefix(lx, "//"))
      break;
    if (peek_prefix(lx, "/*"))
      return syntax_error(lx, lx->pos, block_comment_error);
    read_rune(lx);
  }
  end_token(lx, TOK_IDENT);
  return 0;
}

static int is_eol(int kind) {
  return kind == TOK_EOF || kind == TOK_EOLCOMMENT || kind == '\n';
}

/* lex: hands out the next token and reads the one after it. */
static int lex(struct lexer *lx, struct token *t) {
  *t = lx->tok;
  return read_token(lx);
}

/* ---- parser ------------------------------------------------------------- */

static int add_line(struct lexer *lx, struct modfile__pos start,
                    struct modfile__pos end, uint32_t first) {
  int x = push_node(lx, MODFILE__LINE, start, end);
  if (x < 0)
    return x;
  lx->sx->nodes[x].tok = first;
  lx->sx->nodes[x].ntok = lx->sx->ntoks - first;
  return x;
}

/* A BLOCK node and its LPAREN; the caller adds lines and the RPAREN. */
static int add_block(struct lexer *lx, struct modfile__pos start,
                     uint32_t first, struct modfile__pos lparen) {
  int b = push_node(lx, MODFILE__BLOCK, start, start);
  if (b < 0)
    return b;
  lx->sx->nodes[b].tok = first;
  lx->sx->nodes[b].ntok = lx->sx->ntoks - first;
  int rc = push_node(lx, MODFILE__LPAREN, lparen, past_paren(lparen));
  return rc < 0 ? rc : b;
}

/* Closes block b with its RPAREN at `rparen`, which takes the whole-line
 * comments from lcom[com_first] on. */
static int end_block(struct lexer *lx, int b, struct modfile__pos rparen,
                     uint32_t com_first) {
  int r = push_node(lx, MODFILE__RPAREN, rparen, past_paren(rparen));
  if (r < 0)
    return r;
  struct modfile__syntax *sx = lx->sx;
  sx->nodes[r].before = com_first;
  sx->nodes[r].nbefore = sx->nlcom - com_first;
  sx->nodes[b].last = (uint32_t)r;
  sx->nodes[b].end = past_paren(rparen);
  return b;
}

/* parseLine: a line inside a block, up to its line end. */
static int parse_line(struct lexer *lx) {
  struct token t;
  int rc = lex(lx, &t);
  if (rc < 0)
    return rc;
  struct modfile__pos start = t.pos, end = t.end;
  uint32_t first = lx->sx->ntoks;
  rc = push_tok(lx, t.text);
  for (;;) {
    if (rc < 0)
      return rc;
    rc = lex(lx, &t);
    if (rc < 0)
      return rc;
    if (is_eol(t.kind))
      return add_line(lx, start, end, first);
    rc = push_tok(lx, t.text);
    end = t.end;
  }
}

/* parseLineBlock: the lines of a block whose "(" ended its first line. */
static int parse_line_block(struct lexer *lx, struct modfile__pos start,
                            uint32_t first, struct modfile__pos lparen) {
  struct modfile__syntax *sx = lx->sx;
  struct token t;
  uint32_t com_first = sx->nlcom, nlines = 0;
  char tmp[96];
  int rc, b = add_block(lx, start, first, lparen);

  if (b < 0)
    return b;
  for (;;) {
    switch (lx->tok.kind) {
    case TOK_EOLCOMMENT: /* assigned later */ rc = lex(lx, &t); break;
    case '\n':
      rc = lex(lx, &t);
      if (rc < 0)
        return rc;
      /* A blank line: keep a marker, but not two in a row nor one first. */
      if ((sx->nlcom == com_first && nlines > 0) ||
          (sx->nlcom > com_first && sx->lcom[sx->nlcom - 1].text.len > 0))
        rc = push_comment(lx, 0, (struct modfile__pos){0, 0, 0},
                          (struct modfile__text){0, 0});
      break;
    case TOK_COMMENT:
      rc = lex(lx, &t);
      if (rc == 0)
        rc = push_comment(lx, 0, t.pos, t.text);
      break;
    case TOK_EOF:
      snprintf(tmp, sizeof tmp,
               "syntax error (unterminated block started at go.mod:%u:%u)",
               (unsigned)start.line, (unsigned)start.col);
      return syntax_error(lx, lx->pos, tmp);
    case ')':
      rc = lex(lx, &t);
      if (rc == 0)
        rc = end_block(lx, b, t.pos, com_first);
      if (rc < 0)
        return rc;
      if (!is_eol(lx->tok.kind))
        return syntax_error(lx, lx->pos,
                            "syntax error (expected newline after closing "
                            "paren)");
      rc = lex(lx, &t);
      return rc < 0 ? rc : b;
    default:
      rc = parse_line(lx);
      if (rc >= 0) {
        sx->nodes[rc].before = com_first;
        sx->nodes[rc].nbefore = sx->nlcom - com_first;
        com_first = sx->nlcom;
        nlines++;
      }
      break;
    }
    if (rc < 0)
      return rc;
  }
}

/* parseStmt: a line or a block at the top level; returns its node. */
static int parse_stmt(struct lexer *lx) {
  struct token t, rparen;
  int rc = lex(lx, &t);
  if (rc < 0)
    return rc;
  struct modfile__pos start = t.pos, end = t.end;
  uint32_t first = lx->sx->ntoks;
  rc = push_tok(lx, t.text);
  for (;;) {
    if (rc < 0)
      return rc;
    rc = lex(lx, &t);
    if (rc < 0)
      return rc;
    if (is_eol(t.kind))
      return add_line(lx, start, end, first);
    if (t.kind != '(') {
      rc = push_tok(lx, t.text);
      end = t.end;
      continue;
    }
    if (is_eol(lx->tok.kind)) /* the start of a block */
      return parse_line_block(lx, start, first, t.pos);
    if (lx->tok.kind != ')') { /* '(' inside the line: a token */
      rc = push_tok(lx, t.text);
      continue;
    }
    rc = lex(lx, &rparen);
    if (rc < 0)
      return rc;
    if (is_eol(lx->tok.kind)) { /* an empty block */
      struct token eol;
      rc = lex(lx, &eol);
      int b = rc < 0 ? rc : add_block(lx, start, first, t.pos);
      return b < 0 ? b : end_block(lx, b, rparen.pos, lx->sx->nlcom);
    }
    /* "( )" inside the line: two tokens (the line's end stays put). */
    rc = push_tok(lx, t.text);
    if (rc == 0)
      rc = push_tok(lx, rparen.text);
  }
}

static int add_comment_block(struct lexer *lx, struct modfile__pos start,
                             uint32_t first) {
  int x = push_node(lx, MODFILE__COMMENTS, start, start);
  if (x < 0)
    return x;
  lx->sx->nodes[x].before = first;
  lx->sx->nodes[x].nbefore = lx->sx->nlcom - first;
  return 0;
}

/* parseFile. */
static int parse_file(struct lexer *lx) {
  struct modfile__syntax *sx = lx->sx;
  struct modfile__pos cb_start = {0, 0, 0};
  uint32_t cb_first = 0, cb_end;
  int in_cb = 0, rc;
  struct token t;

  for (;;) {
    switch (lx->tok.kind) {
    case '\n':
      rc = lex(lx, &t);
      if (rc == 0 && in_cb)
        rc = add_comment_block(lx, cb_start, cb_first);
      in_cb = 0;
      break;
    case TOK_COMMENT:
      rc = lex(lx, &t);
      if (rc < 0)
        return rc;
      if (!in_cb) {
        in_cb = 1;
        cb_start = t.pos;
        cb_first = sx->nlcom;
      }
      rc = push_comment(lx, 0, t.pos, t.text);
      break;
    case TOK_EOF: return in_cb ? add_comment_block(lx, cb_start, cb_first) : 0;
    default:
      /* The comments right above go to the statement (a block may add
       * comments of its own after them). */
      cb_end = sx->nlcom;
      rc = parse_stmt(lx);
      if (rc >= 0 && in_cb) {
        sx->nodes[rc].before = cb_first;
        sx->nodes[rc].nbefore = cb_end - cb_first;
      }
      in_cb = 0;
      break;
    }
    if (rc < 0)
      return rc;
  }
}

/* assignComments, for end-of-line comments (see the top of the file). */
static int assign_comments(struct modfile__syntax *sx) {
  uint32_t *post = malloc(((size_t)sx->nnodes + 1) * sizeof *post);
  uint32_t npost = 0, hi = sx->nscom;

  if (post == NULL)
    return -ENOMEM;
  /* Postorder: a block's LPAREN, lines and RPAREN come before it. */
  for (uint32_t i = 0; i < sx->nnodes;) {
    const struct modfile__node *x = &sx->nodes[i];
    if (x->kind == MODFILE__BLOCK) {
      for (uint32_t j = i + 1; j <= x->last; j++)
        post[npost++] = j;
      post[npost++] = i;
      i = x->last + 1;
    } else {
      post[npost++] = i++;
    }
  }
  for (uint32_t k = npost; k-- > 0;) {
    struct modfile__node *x = &sx->nodes[post[k]];
    if (x->start.line != x->end.line)
      continue; /* "x ( y \n z ) // c" goes to z, not to x */
    uint32_t lo = hi;
    while (lo > 0 && x->end.byte <= sx->scom[lo - 1].start.byte)
      lo--;
    x->suffix = lo;
    x->nsuffix = hi - lo;
    hi = lo;
  }
  free(post);
  return 0;
}

int modfile__syntax_parse(struct modfile__syntax *sx, const char *data,
                          size_t len, struct gomod__buf *err) {
  struct lexer lx = {.sx = sx, .data = data, .len = len, .err = err};
  int rc;

  memset(sx, 0, sizeof *sx);
  sx->data = data;
  sx->len = len;
  lx.pos = (struct modfile__pos){1, 1, 0};
  rc = read_token(&lx);
  if (rc == 0)
    rc = parse_file(&lx);
  if (rc == 0)
    rc = assign_comments(sx);
  return rc;
}

void modfile__syntax_dispose(struct modfile__syntax *sx) {
  free(sx->toks);
  free(sx->lcom);
  free(sx->scom);
  free(sx->nodes);
  memset(sx, 0, sizeof *sx);
}
