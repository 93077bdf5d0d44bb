/*
 * Dynamic discovery of a module's repository, as the go command does it
 * (cmd/go/internal/vcs: repoRootForImportDynamic, parseMetaGoImports,
 * matchGoImport, validateRepoRoot; Go 1.19).
 *
 * The page is read with a copy of what encoding/xml's RawToken does with
 * Strict = false (the go command's setting): comments, CDATA, directives
 * and processing instructions are skipped, attribute values may be
 * unquoted ([A-Za-z0-9_:-]) or missing (the value is then the name), the
 * five predefined entities and character references are decoded, other
 * entities are kept as written, and the same syntax errors stop the parse
 * (an error before the first go-import tag fails the lookup; after it, the
 * tags found so far count). One simplification: non-ASCII characters in
 * element and attribute names are checked against a short list of
 * non-letters (non_name_rune), not the XML 1.0 letter tables Go uses.
 */
#include "modproxy/buf.h"
#include "vcs_discover.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- a growable byte buffer ---------------------------------------------- */

struct xbuf {
  char *b;
  size_t n, cap;
  int oom;
};

static void xb_put(struct xbuf *x, char c) {
  if (buf_reserve(&x->b, &x->cap, x->n + 2, 256) < 0) {
    x->oom = 1;
    return;
  }
  x->b[x->n++] = c;
  x->b[x->n] = '\0';
}

static void xb_reset(struct xbuf *x) {
  x->n = 0;
  if (x->b != NULL)
    x->b[0] = '\0';
}

static void xb_truncate(struct xbuf *x, size_t n) {
  x->n = n;
  if (x->b != NULL)
    x->b[n] = '\0';
}

/* ---- UTF-8 --------------------------------------------------------------- */

/* utf8.DecodeRune: the rune and its size; invalid input gives -1, size 1. */
static long utf8_decode(const unsigned char *s, size_t n, size_t *size) {
  *size = 1;
  if (n == 0)
    return -1;
  unsigned c = s[0];
  if (c < 0x80)
    return c;
  size_t need;
  long r, min;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2, r = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3, r = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4, r = c & 0x07, min = 0x10000;
  } else {
    return -1;
  }
  if (n < need)
    return -1;
  for (size_t i = 1; i < need; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return -1;
    r = r << 6 | (s[i] & 0x3F);
  }
  if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    return -1;
  *size = need;
  return r;
}

static void utf8_put(struct xbuf *x, unsigned long r) {
  if (r >= 0xD800 && r <= 0xDFFF)
    r = 0xFFFD; /* string(rune(n)) */
  if (r < 0x80) {
    xb_put(x, (char)r);
  } else if (r < 0x800) {
    xb_put(x, (char)(0xC0 | r >> 6));
    xb_put(x, (char)(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    xb_put(x, (char)(0xE0 | r >> 12));
    xb_put(x, (char)(0x80 | (r >> 6 & 0x3F)));
    xb_put(x, (char)(0x80 | (r & 0x3F)));
  } else {
    xb_put(x, (char)(0xF0 | r >> 18));
    xb_put(x, (char)(0x80 | (r >> 12 & 0x3F)));
    xb_put(x, (char)(0x80 | (r >> 6 & 0x3F)));
    xb_put(x, (char)(0x80 | (r & 0x3F)));
  }
}

static int in_char_range(long r) {
  return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) ||
         (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF);
}

/* ---- the tokenizer (encoding/xml RawToken, Strict = false) --------------- */

struct xdec {
  const unsigned char *s;
  size_t len, pos;
  int line;
  int failed; /* a syntax (or other) error, in err */
  char err[512];
  struct xbuf buf;   /* text, names */
  struct xbuf name_; /* the element name of the current token */
  struct xbuf aname; /* the current attribute's name */
  int need_close;    /* <x/>: an EndElement comes next */
  struct xbuf close;
};

enum tok { T_EOF, T_ERR, T_START, T_END, T_OTHER };

__attribute__((format(printf, 2, 3))) static void syntax(struct xdec *d,
                                                         const char *fmt, ...) {
  if (d->failed)
    return;
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(d->err, sizeof d->err, "XML syntax error on line %d: %s", d->line,
           msg);
  d->failed = 1;
}

static int xgetc(struct xdec *d) {
  if (d->failed || d->pos >= d->len)
    return -1;
  int b = d->s[d->pos++];
  if (b == '\n')
    d->line++;
  return b;
}

static void xungetc(struct xdec *d) {
  d->pos--;
  if (d->s[d->pos] == '\n')
    d->line--;
}

static int mustgetc(struct xdec *d) {
  int b = xgetc(d);
  if (b < 0)
    syntax(d, "unexpected EOF");
  return b;
}

static void space(struct xdec *d) {
  for (;;) {
    int b = xgetc(d);
    if (b < 0)
      return;
    if (b != ' ' && b != '\r' && b != '\n' && b != '\t') {
      xungetc(d);
      return;
    }
  }
}

static int is_name_byte(int c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '_' || c == ':' || c == '.' || c == '-';
}

/* readName: appends a name to d->buf; 0 when none starts here. */
static int read_name(struct xdec *d) {
  int b = mustgetc(d);
  if (b < 0)
    return 0;
  if (b < 0x80 && !is_name_byte(b)) {
    xungetc(d);
    return 0;
  }
  xb_put(&d->buf, (char)b);
  for (;;) {
    if ((b = mustgetc(d)) < 0)
      return 0;
    if (b < 0x80 && !is_name_byte(b)) {
      xungetc(d);
      break;
    }
    xb_put(&d->buf, (char)b);
  }
  return 1;
}

/* Non-ASCII runes that are surely not XML name characters (Latin-1
 * punctuation and no-break space, the multiplication and division signs,
 * general punctuation, ideographic space and marks); U+00B7 may follow the
 * first character. Other valid runes are taken as letters. */
static int non_name_rune(long c, int first) {
  if (c >= 0x80 && c <= 0xBF)
    return first || c != 0xB7;
  return c == 0xD7 || c == 0xF7 || (c >= 0x2000 && c <= 0x206F) ||
         (c >= 0x3000 && c <= 0x3004);
}

/* isName (non-ASCII letters approximated, see the top comment). */
static int is_name(const char *s, size_t n) {
  if (n == 0)
    return 0;
  const unsigned char *u = (const unsigned char *)s;
  size_t sz;
  long c = utf8_decode(u, n, &sz);
  if (c < 0 || non_name_rune(c, 1))
    return 0;
  if (c < 0x80 && !(isalpha((int)c) || c == '_' || c == ':'))
    return 0;
  for (size_t i = sz; i < n; i += sz) {
    c = utf8_decode(u + i, n - i, &sz);
    if (c < 0 || non_name_rune(c, 0))
      return 0;
    if (c < 0x80 && !is_name_byte((int)c))
      return 0;
  }
  return 1;
}

/* name(): into d->buf. */
static int name(struct xdec *d) {
  xb_reset(&d->buf);
  if (!read_name(d))
    return 0;
  if (!is_name(d->buf.b, d->buf.n)) {
    syntax(d, "invalid XML name: %s", d->buf.b);
    return 0;
  }
  return 1;
}

/* nsname(): the local part of the name into out. */
static int nsname(struct xdec *d, struct xbuf *out) {
  if (!name(d))
    return 0;
  const char *s = d->buf.b;
  size_t n = d->buf.n;
  const char *colon = memchr(s, ':', n);
  size_t start = 0;
  if (colon != NULL &&
      memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) == NULL &&
      colon > s && (size_t)(colon - s) < n - 1)
    start = (size_t)(colon - s) + 1;
  xb_reset(out);
  for (size_t i = start; i < n; i++)
    xb_put(out, s[i]);
  return 1;
}

static int entity(const char *name, size_t n, char *out) {
  static const struct {
    const char *name;
    char c;
  } e[] = {
      {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"apos", '\''}, {"quot", '"'}};
  for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
    if (strlen(e[i].name) == n && memcmp(e[i].name, name, n) == 0) {
      *out = e[i].c;
      return 1;
    }
  }
  return 0;
}

/* text(quote, cdata) into d->buf: 0, or -1 with d->failed. */
static int text(struct xdec *d, int quote, int cdata) {
  int b0 = 0, b1 = 0;
  size_t trunc = 0;
  xb_reset(&d->buf);
  for (;;) {
    int b = xgetc(d);
    if (b < 0) {
      if (d->failed)
        return -1;
      if (cdata) {
        syntax(d, "unexpected EOF in CDATA section");
        return -1;
      }
      break;
    }
    if (quote < 0 && b0 == ']' && b1 == ']' && b == '>') {
      if (cdata) {
        trunc = 2;
        break;
      }
      syntax(d, "unescaped ]]> not in CDATA section");
      return -1;
    }
    if (b == '<' && !cdata) {
      if (quote >= 0) {
        syntax(d, "unescaped < inside quoted string");
        return -1;
      }
      xungetc(d);
      break;
    }
    if (quote >= 0 && b == quote)
      break;
    if (b == '&' && !cdata) {
      size_t before = d->buf.n;
      int have = 0;
      unsigned long rune = 0;
      xb_put(&d->buf, '&');
      if ((b = mustgetc(d)) < 0)
        return -1;
      if (b == '#') {
        xb_put(&d->buf, (char)b);
        if ((b = mustgetc(d)) < 0)
          return -1;
        int base = 10;
        if (b == 'x') {
          base = 16;
          xb_put(&d->buf, (char)b);
          if ((b = mustgetc(d)) < 0)
            return -1;
        }
        size_t start = d->buf.n;
        while ((b >= '0' && b <= '9') ||
               (base == 16 &&
                ((b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')))) {
          xb_put(&d->buf, (char)b);
          if ((b = mustgetc(d)) < 0)
            return -1;
        }
        if (b != ';') {
          xungetc(d);
        } else {
          size_t digits = d->buf.n - start;
          int overflow = 0;
          unsigned long long v = 0;
          for (size_t i = start; i < d->buf.n; i++) {
            int c = d->buf.b[i];
            int dv = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
            if (v > (~0ULL - (unsigned)dv) / (unsigned)base)
              overflow = 1;
            v = v * (unsigned)base + (unsigned)dv;
          }
          xb_put(&d->buf, ';');
          if (digits > 0 && !overflow && v <= 0x10FFFF) {
            rune = (unsigned long)v;
            have = 1;
          }
        }
      } else {
        xungetc(d);
        if (!read_name(d) && d->failed)
          return -1;
        if ((b = mustgetc(d)) < 0)
          return -1;
        if (b != ';') {
          xungetc(d);
        } else {
          char c;
          if (entity(d->buf.b + before + 1, d->buf.n - before - 1, &c)) {
            rune = (unsigned char)c;
            have = 1;
          }
          xb_put(&d->buf, ';');
        }
      }
      if (have) {
        xb_truncate(&d->buf, before);
        utf8_put(&d->buf, rune);
      }
      b0 = b1 = 0; /* not strict: an unknown entity stays as written */
      continue;
    }
    if (b == '\r')
      xb_put(&d->buf, '\n');
    else if (!(b1 == '\r' && b == '\n'))
      xb_put(&d->buf, (char)b);
    b0 = b1;
    b1 = b;
  }
  xb_truncate(&d->buf, d->buf.n - trunc);
  const unsigned char *u = (const unsigned char *)d->buf.b;
  for (size_t i = 0, sz; i < d->buf.n; i += sz) {
    long r = utf8_decode(u + i, d->buf.n - i, &sz);
    if (r < 0) {
      syntax(d, "invalid UTF-8");
      return -1;
    }
    if (!in_char_range(r)) {
      syntax(d, "illegal character code U+%04lX", (unsigned long)r);
      return -1;
    }
  }
  return 0;
}

/* procInst (Go 1.19). */
static void proc_inst(const char *param, const char *s, char *out, size_t cap) {
  out[0] = '\0';
  char p[32];
  snprintf(p, sizeof p, "%s=", param);
  const char *v = strstr(s, p);
  if (v == NULL)
    return;
  v += strlen(p);
  if (*v != '\'' && *v != '"')
    return;
  const char *end = strchr(v + 1, *v);
  if (end == NULL)
    return;
  snprintf(out, cap, "%.*s", (int)(end - v - 1), v + 1);
}

struct attrs {
  char *name;    /* first attribute whose local name is "name" (any case) */
  char *content; /* first "content" */
};

static void attrs_free(struct attrs *a) {
  free(a->name);
  free(a->content);
  a->name = a->content = NULL;
}

/* <! after "<!": comments, CDATA, directives. */
static enum tok bang(struct xdec *d) {
  int b = mustgetc(d);
  if (b < 0)
    return T_ERR;
  if (b == '-') {
    if ((b = mustgetc(d)) < 0)
      return T_ERR;
    if (b != '-') {
      syntax(d, "invalid sequence <!- not part of <!--");
      return T_ERR;
    }
    int b0 = 0, b1 = 0;
    for (;;) {
      if ((b = mustgetc(d)) < 0)
        return T_ERR;
      if (b0 == '-' && b1 == '-') {
        if (b != '>') {
          syntax(d, "invalid sequence \"--\" not allowed in comments");
          return T_ERR;
        }
        return T_OTHER;
      }
      b0 = b1;
      b1 = b;
    }
  }
  if (b == '[') {
    for (int i = 0; i < 6; i++) {
      if ((b = mustgetc(d)) < 0)
        return T_ERR;
      if (b != "CDATA["[i]) {
        syntax(d, "invalid <![ sequence");
        return T_ERR;
      }
    }
    return text(d, -1, 1) < 0 ? T_ERR : T_OTHER;
  }
  /* A directive: quoted angle brackets do not count for nesting. */
  int inquote = 0, depth = 0;
  for (;;) {
    if ((b = mustgetc(d)) < 0)
      return T_ERR;
    if (inquote == 0 && b == '>' && depth == 0)
      return T_OTHER;
  handle_b:
    if (b == inquote) {
      inquote = 0;
    } else if (inquote != 0) {
      /* nothing */
    } else if (b == '\'' || b == '"') {
      inquote = b;
    } else if (b == '>') {
      depth--;
    } else if (b == '<') {
      static const char s[] = "!--";
      for (int i = 0; i < 3; i++) {
        if ((b = mustgetc(d)) < 0)
          return T_ERR;
        if (b != s[i]) {
          depth++;
          goto handle_b;
        }
      }
      int b0 = 0, b1 = 0;
      for (;;) {
        if ((b = mustgetc(d)) < 0)
          return T_ERR;
        if (b0 == '-' && b1 == '-' && b == '>')
          break;
        b0 = b1;
        b1 = b;
      }
    }
  }
}

static enum tok raw_token(struct xdec *d, struct attrs *at) {
  if (d->failed)
    return T_ERR;
  if (d->need_close) {
    d->need_close = 0;
    xb_reset(&d->name_);
    for (size_t i = 0; i < d->close.n; i++)
      xb_put(&d->name_, d->close.b[i]);
    return T_END;
  }
  int b = xgetc(d);
  if (b < 0)
    return T_EOF;
  if (b != '<') {
    xungetc(d);
    return text(d, -1, 0) < 0 ? T_ERR : T_OTHER;
  }
  if ((b = mustgetc(d)) < 0)
    return T_ERR;
  if (b == '/') {
    if (!nsname(d, &d->name_)) {
      syntax(d, "expected element name after </");
      return T_ERR;
    }
    space(d);
    if ((b = mustgetc(d)) < 0)
      return T_ERR;
    if (b != '>') {
      syntax(d, "invalid characters between </%s and >", d->name_.b);
      return T_ERR;
    }
    return T_END;
  }
  if (b == '?') {
    if (!name(d)) {
      syntax(d, "expected target name after <?");
      return T_ERR;
    }
    int is_xml = strcmp(d->buf.b, "xml") == 0;
    space(d);
    xb_reset(&d->buf);
    int b0 = 0;
    for (;;) {
      if ((b = mustgetc(d)) < 0)
        return T_ERR;
      xb_put(&d->buf, (char)b);
      if (b0 == '?' && b == '>')
        break;
      b0 = b;
    }
    xb_truncate(&d->buf, d->buf.n - 2);
    if (is_xml) {
      char v[128];
      proc_inst("version", d->buf.b, v, sizeof v);
      if (v[0] != '\0' && strcmp(v, "1.0") != 0) {
        snprintf(d->err, sizeof d->err,
                 "xml: unsupported version \"%s\"; only version 1.0 is "
                 "supported",
                 v);
        d->failed = 1;
        return T_ERR;
      }
      proc_inst("encoding", d->buf.b, v, sizeof v);
      if (v[0] != '\0' && strcasecmp(v, "utf-8") != 0 &&
          strcasecmp(v, "ascii") != 0) {
        snprintf(d->err, sizeof d->err,
                 "xml: opening charset \"%s\": can't decode XML document "
                 "using charset \"%s\"",
                 v, v);
        d->failed = 1;
        return T_ERR;
      }
    }
    return T_OTHER;
  }
  if (b == '!')
    return bang(d);

  /* An open element like <a href="foo">. */
  xungetc(d);
  if (!nsname(d, &d->name_)) {
    syntax(d, "expected element name after <");
    return T_ERR;
  }
  int empty = 0;
  for (;;) {
    space(d);
    if ((b = mustgetc(d)) < 0)
      return T_ERR;
    if (b == '/') {
      empty = 1;
      if ((b = mustgetc(d)) < 0)
        return T_ERR;
      if (b != '>') {
        syntax(d, "expected /> in element");
        return T_ERR;
      }
      break;
    }
    if (b == '>')
      break;
    xungetc(d);
    if (!nsname(d, &d->aname)) {
      syntax(d, "expected attribute name in element");
      return T_ERR;
    }
    space(d);
    if ((b = mustgetc(d)) < 0)
      return T_ERR;
    const char *value;
    if (b != '=') {
      xungetc(d);
      value = d->aname.b;
    } else {
      space(d);
      if ((b = mustgetc(d)) < 0)
        return T_ERR;
      if (b == '"' || b == '\'') {
        if (text(d, b, 0) < 0)
          return T_ERR;
      } else {
        xungetc(d);
        xb_reset(&d->buf);
        for (;;) {
          if ((b = mustgetc(d)) < 0)
            return T_ERR;
          if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
              (b >= '0' && b <= '9') || b == '_' || b == ':' || b == '-') {
            xb_put(&d->buf, (char)b);
          } else {
            xungetc(d);
            break;
          }
        }
      }
      value = d->buf.b != NULL ? d->buf.b : "";
    }
    char **slot = NULL;
    if (strcasecmp(d->aname.b, "name") == 0 && at->name == NULL)
      slot = &at->name;
    else if (strcasecmp(d->aname.b, "content") == 0 && at->content == NULL)
      slot = &at->content;
    if (slot != NULL && (*slot = strdup(value)) == NULL) {
      snprintf(d->err, sizeof d->err, "out of memory");
      d->failed = 1;
      return T_ERR;
    }
  }
  if (empty) {
    d->need_close = 1;
    xb_reset(&d->close);
    for (size_t i = 0; i < d->name_.n; i++)
      xb_put(&d->close, d->name_.b[i]);
  }
  return T_START;
}

/* ---- parseMetaGoImports -------------------------------------------------- */

/* unicode.IsSpace at s: the length of the space character, or 0. */
static size_t space_len(const unsigned char *s, size_t n) {
  if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
    return 1;
  size_t sz;
  long r = utf8_decode(s, n, &sz);
  if (r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) ||
      r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000)
    return sz;
  return 0;
}

/* strings.Fields, up to 4 fields (the 4th only says "more than 3"). */
static int fields(const char *s, char *f[4]) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s), i = 0;
  int k = 0;
  for (;;) {
    size_t sl;
    while (i < n && (sl = space_len(u + i, n - i)) > 0)
      i += sl;
    if (i >= n)
      return k;
    size_t start = i;
    while (i < n && space_len(u + i, n - i) == 0)
      i++;
    if (k == 4)
      return 5;
    f[k] = strndup(s + start, i - start);
    if (f[k] == NULL)
      return -1;
    k++;
  }
}

static int push(struct vcs_meta_imports *m, char *f[3]) {
  if (m->n == m->cap) {
    size_t cap = m->cap == 0 ? 4 : m->cap * 2;
    struct vcs_meta_import *v = realloc(m->v, cap * sizeof *v);
    if (v == NULL)
      return -ENOMEM;
    m->v = v;
    m->cap = cap;
  }
  m->v[m->n].prefix = f[0];
  m->v[m->n].vcs = f[1];
  m->v[m->n].repo = f[2];
  m->n++;
  return 0;
}

void vcs_meta_free(struct vcs_meta_imports *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].prefix);
    free(m->v[i].vcs);
    free(m->v[i].repo);
  }
  free(m->v);
  memset(m, 0, sizeof *m);
}

int vcs_meta_parse(const char *html, size_t len, struct vcs_meta_imports *out,
                   char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  struct vcs_meta_imports all = {0};
  struct xdec d = {.s = (const unsigned char *)html, .len = len, .line = 1};
  int rc = 0;
  for (;;) {
    struct attrs at = {0};
    enum tok t = raw_token(&d, &at);
    if (t == T_EOF || t == T_ERR) {
      if (t == T_ERR && all.n == 0) {
        snprintf(err, errlen, "%s", d.err);
        rc = strcmp(d.err, "out of memory") == 0 ? -ENOMEM : -EINVAL;
      }
      attrs_free(&at);
      break;
    }
    if (d.name_.oom || d.buf.oom || d.aname.oom || d.close.oom) {
      attrs_free(&at);
      rc = -ENOMEM;
      snprintf(err, errlen, "out of memory");
      break;
    }
    const char *local = d.name_.b != NULL ? d.name_.b : "";
    if (t == T_START && strcasecmp(local, "body") == 0) {
      attrs_free(&at);
      break;
    }
    if (t == T_END && strcasecmp(local, "head") == 0) {
      attrs_free(&at);
      break;
    }
    if (t == T_START && strcasecmp(local, "meta") == 0 && at.name != NULL &&
        strcmp(at.name, "go-import") == 0) {
      char *f[4] = {0};
      int k = fields(at.content != NULL ? at.content : "", f);
      if (k == 3) {
        if (push(&all, f) < 0) {
          k = -1;
          rc = -ENOMEM;
        }
      }
      if (k != 3) {
        for (int i = 0; i < 4 && i < (k < 0 ? 4 : k); i++)
          free(f[i]);
      }
    }
    attrs_free(&at);
    if (rc < 0)
      break;
  }
  free(d.buf.b);
  free(d.name_.b);
  free(d.aname.b);
  free(d.close.b);
  if (rc < 0) {
    vcs_meta_free(&all);
    return rc;
  }
  /* PreferMod: the mod entries first; others unless a mod entry has their
   * root. Moves the strings into out. */
  out->v = calloc(all.n > 0 ? all.n : 1, sizeof *out->v);
  if (out->v == NULL) {
    vcs_meta_free(&all);
    return -ENOMEM;
  }
  out->cap = all.n;
  for (size_t i = 0; i < all.n; i++) {
    if (strcmp(all.v[i].vcs, "mod") == 0)
      out->v[out->n++] = all.v[i];
  }
  for (size_t i = 0; i < all.n; i++) {
    if (strcmp(all.v[i].vcs, "mod") == 0)
      continue;
    int hidden = 0;
    for (size_t j = 0; j < all.n; j++) {
      if (strcmp(all.v[j].vcs, "mod") == 0 &&
          strcmp(all.v[j].prefix, all.v[i].prefix) == 0)
        hidden = 1;
    }
    if (hidden) {
      free(all.v[i].prefix);
      free(all.v[i].vcs);
      free(all.v[i].repo);
    } else {
      out->v[out->n++] = all.v[i];
    }
  }
  free(all.v);
  return 0;
}

/* ---- matchGoImport and friends ------------------------------------------- */

int vcs_has_path_prefix(const char *s, const char *prefix) {
  size_t ls = strlen(s), lp = strlen(prefix);
  if (ls == lp)
    return strcmp(s, prefix) == 0;
  if (lp == 0)
    return 1;
  if (ls > lp && (prefix[lp - 1] == '/' || s[lp] == '/'))
    return strncmp(s, prefix, lp) == 0;
  return 0;
}

int vcs_meta_match(const struct vcs_meta_imports *m, const char *path,
                   char *err, size_t errlen) {
  long match = -1;
  size_t o = 0;
  if (errlen > 0)
    err[0] = '\0';
  for (size_t i = 0; i < m->n; i++) {
    const struct vcs_meta_import *im = &m->v[i];
    if (!vcs_has_path_prefix(path, im->prefix)) {
      if (o < errlen) {
        int w = snprintf(err + o, errlen - o,
                         "%smeta tag %s did not match import path %s",
                         o > 0 ? ", " : "", im->prefix, path);
        o += w > 0 ? (size_t)w : 0;
      }
      continue;
    }
    if (match >= 0) {
      if (strcmp(m->v[match].vcs, "mod") == 0 && strcmp(im->vcs, "mod") != 0)
        break;
      snprintf(err, errlen, "multiple meta tags match import path \"%s\"",
               path);
      return -EEXIST;
    }
    match = (long)i;
  }
  if (match < 0)
    return -ENOENT;
  if (errlen > 0)
    err[0] = '\0';
  return (int)match;
}

int vcs_discover_url(const char *path, char *out, size_t cap) {
  size_t host = strcspn(path, "/");
  if (memchr(path, '.', host) == NULL)
    return -EINVAL;
  int n = snprintf(out, cap, "https://%.*s%s?go-get=1", (int)host, path,
                   path[host] == '\0' ? "/" : path + host);
  return n < 0 || (size_t)n >= cap ? -E2BIG : 0;
}

int vcs_meta_repo_check(const char *repo, char *err, size_t errlen) {
  /* url.Parse's getScheme: a letter, then letters, digits, + - . up to
   * the first ':'. */
  size_t i = 0;
  for (; repo[i] != '\0'; i++) {
    unsigned char c = (unsigned char)repo[i];
    if (isalpha(c))
      continue;
    if (isdigit(c) || c == '+' || c == '-' || c == '.') {
      if (i == 0)
        break;
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        snprintf(err, errlen, "missing protocol scheme");
        return -EINVAL;
      }
      break;
    }
    break;
  }
  if (repo[i] != ':' || i == 0) {
    snprintf(err, errlen, "no scheme");
    return -EINVAL;
  }
  char scheme[32];
  snprintf(scheme, sizeof scheme, "%.*s", (int)(i < 31 ? i : 31), repo);
  for (char *p = scheme; *p != '\0'; p++)
    *p = (char)tolower((unsigned char)*p);
  if (strcmp(scheme, "file") == 0) {
    snprintf(err, errlen, "file scheme disallowed");
    return -EINVAL;
  }
  static const char *const ok[] = {"https", "http", "ssh", "git", "git+ssh"};
  for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++) {
    if (strcmp(scheme, ok[k]) == 0) {
      for (const char *p = repo; *p != '\0'; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
          snprintf(err, errlen, "invalid control character or space in URL");
          return -EINVAL;
        }
      }
      if (strlen(repo) >= VCS_MAX_URL_BYTES) {
        snprintf(err, errlen, "URL too long");
        return -EINVAL;
      }
      return 0;
    }
  }
  snprintf(err, errlen, "scheme %s is not one git is run with here", scheme);
  return -EINVAL;
}

/* ---- the lookup ---------------------------------------------------------- */

static void disc_done(struct vcs_discovery *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void disc_done(struct vcs_discovery *d, int status, const char *fmt,
                      ...) {
  d->status = status;
  if (fmt != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
  }
  proxy_fetch_dispose(&d->fetch);
  d->on_done(d);
}

/* A failure that the pages' contents explain. For a public module (a page
 * on a host any client may name) the text quotes nothing of them: only
 * what was asked and that it did not lead to a repository. */
static void page_fail(struct vcs_discovery *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void page_fail(struct vcs_discovery *d, const char *fmt, ...) {
  if (d->policy != NULL) {
    disc_done(d, 404, "%s does not name a git repository modproxy can use",
              d->asked);
    return;
  }
  char text[sizeof d->err];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  disc_done(d, 404, "%s", text);
}

static void fetch_page(struct vcs_discovery *d);
static void on_page(struct proxy_fetch *f);

static int copy_import(struct vcs_meta_import *dst,
                       const struct vcs_meta_import *src) {
  dst->prefix = strdup(src->prefix);
  dst->vcs = strdup(src->vcs);
  dst->repo = strdup(src->repo);
  return dst->prefix != NULL && dst->vcs != NULL && dst->repo != NULL ? 0
                                                                      : -ENOMEM;
}

static void finish(struct vcs_discovery *d) {
  const struct vcs_meta_import *mi = &d->chosen;
  char why[256];
  if (vcs_meta_repo_check(mi->repo, why, sizeof why) < 0) {
    page_fail(d, "%s: invalid repo root \"%s\": %s", d->first_url, mi->repo,
              why);
    return;
  }
  if (strcmp(mi->vcs, "mod") == 0) {
    page_fail(d,
              "the go-import meta tag at %s names a module proxy (%s), not "
              "a git repository; modproxy serves private modules from git "
              "only",
              d->first_url, mi->repo);
    return;
  }
  if (strcmp(mi->vcs, "git") != 0) {
    page_fail(d,
              "the go-import meta tag at %s says vcs \"%s\"; modproxy "
              "serves private modules from git only",
              d->first_url, mi->vcs);
    return;
  }
  if (strlen(mi->prefix) >= sizeof d->loc.root) {
    page_fail(d, "meta tag root too long at %s", d->first_url);
    return;
  }
  snprintf(d->loc.root, sizeof d->loc.root, "%s", mi->prefix);
  snprintf(d->loc.url, sizeof d->loc.url, "%s", mi->repo);
  vcs_url_redact(d->loc.url, d->loc.shown, sizeof d->loc.shown);
  disc_done(d, 0, NULL);
}

/* A 3xx: follow it on the page's own host (scheme https, same host and
 * port), never elsewhere. 1 if it was followed or failed the discovery. */
static int follow(struct vcs_discovery *d, const struct proxy_fetch *f) {
  if (f->status < 300 || f->status > 399 || f->location[0] == '\0')
    return 0;
  struct vcs_url from, to;
  int same = vcs_url_parse(d->url, &from) == 0 &&
             vcs_url_parse(f->location, &to) == 0 &&
             strcmp(to.scheme, "https") == 0 &&
             strcmp(from.host, to.host) == 0 && from.port == to.port;
  if (!same) {
    disc_done(d, 404,
              "%s redirects to another host; modproxy follows a go-get "
              "page's redirects on its own host only",
              d->asked);
    return 1;
  }
  if (++d->redirects > VCS_DISCOVER_MAX_REDIRECTS ||
      strlen(f->location) >= sizeof d->url) {
    disc_done(d, 404, "%s: too many redirects", d->asked);
    return 1;
  }
  snprintf(d->url, sizeof d->url, "%s", f->location);
  proxy_fetch_dispose(&d->fetch);
  fetch_page(d);
  return 1;
}

static void on_page(struct proxy_fetch *f) {
  struct vcs_discovery *d = f->data;
  if (d->nsteps < VCS_DISCOVER_MAX_STEPS) {
    struct vcs_discovery_step *st = &d->steps[d->nsteps++];
    snprintf(st->url, sizeof st->url, "%s", d->url);
    st->status = f->rc < 0 ? f->rc : f->status;
    st->ms = uv_now(d->loop) - d->start_ms;
  }
  int verifying = d->second;
  const char *subject = verifying ? d->chosen.prefix : d->module;
  if (f->rc < 0) {
    /* A host that does not resolve has no page: nothing says where the
     * repository is. Other transport failures may pass. */
    disc_done(d, f->rc == -EHOSTUNREACH ? 404 : 502, "cannot fetch %s: %s",
              d->asked, f->error[0] != '\0' ? f->error : strerror(-f->rc));
    return;
  }
  if (follow(d, f))
    return;
  struct vcs_meta_imports m;
  char perr[512];
  int rc = vcs_meta_parse(f->body != NULL ? f->body : "", f->len, &m, perr,
                          sizeof perr);
  if (rc == -ENOMEM) {
    disc_done(d, 503, "out of memory");
    return;
  }
  if (m.n == 0 && f->status != 200) {
    vcs_meta_free(&m);
    disc_done(d, f->status >= 500 ? 502 : 404,
              "no go-import meta tag at %s (HTTP status %ld)", d->asked,
              f->status);
    return;
  }
  if (rc < 0) {
    page_fail(d, "cannot read the go-import meta tags at %s: %s", d->url, perr);
    return;
  }
  if (m.n == 0) {
    vcs_meta_free(&m);
    page_fail(d, "no go-import meta tag at %s", d->url);
    return;
  }
  char merr[768];
  int k = vcs_meta_match(&m, d->module, merr, sizeof merr);
  if (k < 0) {
    vcs_meta_free(&m);
    if (k == -EEXIST)
      page_fail(d, "%s at %s", merr, d->url);
    else if (verifying)
      page_fail(d, "%s and %s disagree about go-import for %s (%s)",
                d->first_url, d->url, subject, merr);
    else
      page_fail(d, "no go-import meta tag at %s matches %s (%s)", d->url,
                d->module, merr);
    return;
  }
  if (verifying) {
    const struct vcs_meta_import *b = &m.v[k];
    int same = strcmp(b->prefix, d->chosen.prefix) == 0 &&
               strcmp(b->vcs, d->chosen.vcs) == 0 &&
               strcmp(b->repo, d->chosen.repo) == 0;
    if (!same) {
      char msg[1024];
      snprintf(msg, sizeof msg,
               "%s and %s disagree about go-import for %s (\"%s %s %s\" vs "
               "\"%s %s %s\")",
               d->first_url, d->url, d->chosen.prefix, d->chosen.prefix,
               d->chosen.vcs, d->chosen.repo, b->prefix, b->vcs, b->repo);
      vcs_meta_free(&m);
      page_fail(d, "%s", msg);
      return;
    }
    vcs_meta_free(&m);
    finish(d);
    return;
  }
  rc = copy_import(&d->chosen, &m.v[k]);
  vcs_meta_free(&m);
  if (rc < 0) {
    disc_done(d, 503, "out of memory");
    return;
  }
  snprintf(d->first_url, sizeof d->first_url, "%s", d->url);
  if (strcmp(d->chosen.prefix, d->module) == 0) {
    finish(d);
    return;
  }
  /* A page below the root may not speak for it: ask the root's page (on
   * the same host: the root is a prefix of the path). */
  if (vcs_discover_url(d->chosen.prefix, d->url, sizeof d->url) < 0) {
    page_fail(d, "meta tag root %s at %s is not a host name path",
              d->chosen.prefix, d->first_url);
    return;
  }
  d->second = 1;
  d->redirects = 0;
  snprintf(d->asked, sizeof d->asked, "%s", d->url);
  proxy_fetch_dispose(&d->fetch);
  fetch_page(d);
}

/* Starts the fetch of d->url, at the addresses checked (if any), without
 * following redirects (follow does, on the page's host). */
static int page_fetch_start(struct vcs_discovery *d) {
  memset(&d->fetch, 0, sizeof d->fetch);
  d->fetch.url = d->url;
  d->fetch.fd = -1;
  d->fetch.max_bytes = VCS_DISCOVER_MAX_PAGE;
  d->fetch.resolve = d->check.pin;
  d->fetch.no_redirect = 1;
  d->fetch.on_done = on_page;
  d->fetch.data = d;
  d->start_ms = uv_now(d->loop);
  return proxy_fetch_start(d->fetcher, &d->fetch);
}

/* page_fetch_start from a callback: a failure to start goes through
 * on_page. */
static void fetch_page(struct vcs_discovery *d) {
  int rc = page_fetch_start(d);
  if (rc < 0) {
    d->fetch.rc = rc;
    snprintf(d->fetch.error, sizeof d->fetch.error, "%s", strerror(-rc));
    on_page(&d->fetch);
  }
}

/* A public module's page host passed (or failed) the address check. */
static void on_host_checked(struct vcs_check *c) {
  struct vcs_discovery *d = c->data;
  if (c->status != 0) {
    disc_done(d, c->status, "%s: %s", d->asked, c->err);
    return;
  }
  fetch_page(d);
}

int vcs_discover_start(struct vcs_discovery *d) {
  d->status = 0;
  d->err[0] = '\0';
  d->nsteps = 0;
  d->second = 0;
  d->redirects = 0;
  memset(&d->chosen, 0, sizeof d->chosen);
  memset(&d->loc, 0, sizeof d->loc);
  memset(&d->fetch, 0, sizeof d->fetch);
  memset(&d->check, 0, sizeof d->check);
  if (d->fetcher == NULL)
    return -ECANCELED;
  if (vcs_discover_url(d->module, d->url, sizeof d->url) < 0)
    return -EINVAL;
  snprintf(d->asked, sizeof d->asked, "%s", d->url);
  if (d->policy != NULL) {
    d->check.loop = d->loop;
    d->check.policy = d->policy;
    d->check.url = d->url;
    d->check.on_done = on_host_checked;
    d->check.data = d;
    return vcs_check_start(&d->check);
  }
  return page_fetch_start(d);
}

void vcs_discover_dispose(struct vcs_discovery *d) {
  free(d->chosen.prefix);
  free(d->chosen.vcs);
  free(d->chosen.repo);
  memset(&d->chosen, 0, sizeof d->chosen);
  proxy_fetch_dispose(&d->fetch);
}
