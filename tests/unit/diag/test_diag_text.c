/*
 * Fitting explanations into the go command's error window (diag/text.c,
 * diag_text_fit). The test carries its own C port of the go command's
 * cmd/go/internal/web Response.formatErrorDetail (GOPROXY-PROTOCOL.md
 * section 3) and checks, for many inputs (long lines, more than 8 lines,
 * blank lines, control bytes, invalid UTF-8, multibyte runes around the
 * cut, format characters, Unicode spaces), that the fitted text
 *  - is shown in full by that rule: not suppressed, no "[Truncated", every
 *    fitted line in the detail;
 *  - keeps the input's last line (the pointer to more detail), whole or as
 *    a long prefix ending in "...";
 *  - keeps the start of the input's first line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/diag.h"

/* cmd/go/internal/web: maxErrorDetailLines, maxErrorDetailBytes. */
#define GO_MAX_LINES 8
#define GO_MAX_BYTES 648
#define OUT_BYTES (DIAG_WINDOW_BYTES + 16)

/* ---- a port of the go command's rule ------------------------------------ */

/* utf8.DecodeRuneInString with Go's validity rules (no overlongs, no
 * surrogates, nothing past U+10FFFF). Returns the length and *r, or 0 for an
 * invalid byte. */
static size_t go_decode(const unsigned char *p, size_t left, uint32_t *r) {
  if (p[0] < 0x80) {
    *r = p[0];
    return 1;
  }
  size_t n;
  uint32_t min, c;
  if (p[0] >= 0xc2 && p[0] <= 0xdf) {
    n = 2;
    min = 0x80;
    c = p[0] & 0x1f;
  } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
    n = 3;
    min = 0x800;
    c = p[0] & 0x0f;
  } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
    n = 4;
    min = 0x10000;
    c = p[0] & 0x07;
  } else {
    return 0;
  }
  if (n > left)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    c = c << 6 | (p[i] & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
    return 0;
  *r = c;
  return n;
}

/* unicode.IsSpace. */
static int go_is_space(uint32_t r) {
  switch (r) {
  case '\t':
  case '\n':
  case '\v':
  case '\f':
  case '\r':
  case ' ':
  case 0x85:
  case 0xa0:
  case 0x1680:
  case 0x2028:
  case 0x2029:
  case 0x202f:
  case 0x205f:
  case 0x3000: return 1;
  default: return r >= 0x2000 && r <= 0x200a;
  }
}

/* unicode.IsGraphic (L, M, N, P, S, Zs) for the runes these tests use:
 * controls (Cc), the format characters (Cf), private use (Co), line and
 * paragraph separators (Zl, Zp) and the unassigned code points that
 * appear below are not graphic; every other rune in the inputs (Latin,
 * Greek, CJK, symbols, emoji, Zs spaces) is. */
static int go_is_graphic(uint32_t r) {
  if (r < 0x20 || (r >= 0x7f && r <= 0x9f))
    return 0; /* Cc */
  static const uint32_t cf[][2] = {
      {0x00ad, 0x00ad},
      {0x0600, 0x0605},
      {0x061c, 0x061c},
      {0x06dd, 0x06dd},
      {0x070f, 0x070f},
      {0x180e, 0x180e},
      {0x200b, 0x200f},
      {0x202a, 0x202e},
      {0x2060, 0x2064},
      {0x2066, 0x206f},
      {0xfeff, 0xfeff},
      {0xfff9, 0xfffb},
      {0xe0001, 0xe0001},
      {0xe0020, 0xe007f},
      /* Co */
      {0xe000, 0xf8ff},
      {0xf0000, 0xffffd},
      {0x100000, 0x10fffd},
      /* Zl, Zp */
      {0x2028, 0x2029},
      /* unassigned (Cn) used by the tests */
      {0x0378, 0x0379},
      {0xfdd0, 0xfdef},
      {0xfffe, 0xffff},
      {0x10fffe, 0x10ffff},
  };
  for (size_t i = 0; i < sizeof cf / sizeof cf[0]; i++)
    if (r >= cf[i][0] && r <= cf[i][1])
      return 0;
  return 1;
}

/* strings.TrimSpace(line) == "" */
static int go_blank(const char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    uint32_t r;
    size_t n = go_decode((const unsigned char *)s + i, len - i, &r);
    if (n == 0 || !go_is_space(r))
      return 0;
    i += n;
  }
  return 1;
}

/* Response.formatErrorDetail on body s: writes the detail to out and returns
 * its length, or -1 when nothing is shown (invalid UTF-8 or a rune that is
 * neither graphic nor space). */
static int go_format_error_detail(const char *s, size_t len, char *out,
                                  size_t cap) {
  for (size_t i = 0; i < len;) {
    uint32_t r;
    size_t n = go_decode((const unsigned char *)s + i, len - i, &r);
    if (n == 0)
      return -1; /* !utf8.ValidString */
    if (!go_is_graphic(r) && !go_is_space(r))
      return -1;
    i += n;
  }
  size_t w = 0;
#define PUT(p, n)                                                              \
  do {                                                                         \
    assert_true(w + (n) < cap);                                                \
    memcpy(out + w, (p), (n));                                                 \
    w += (n);                                                                  \
  } while (0)
  size_t start = 0;
  for (int i = 0;; i++) {
    const char *nl = memchr(s + start, '\n', len - start);
    size_t end = nl != NULL ? (size_t)(nl - s) : len;
    const char *line = s + start;
    size_t llen = end - start;
    if (go_blank(line, llen))
      break;
    if (i > 0)
      PUT("\n\t", 2);
    if (i >= GO_MAX_LINES) {
      PUT("[Truncated: too many lines.]", 28);
      break;
    }
    if (w + llen > GO_MAX_BYTES) {
      PUT("[Truncated: too long.]", 22);
      break;
    }
    PUT(line, llen);
    if (nl == NULL)
      break;
    start = end + 1;
  }
#undef PUT
  out[w] = '\0';
  return (int)w;
}

/* ---- what the fitted text must be ---------------------------------------- */

/* The reference sanitising of one input line: every rune that is graphic
 * UTF-8 kept, a tab as a space, each other byte one '?'; trailing spaces and
 * CRs dropped. Returns the length. */
static size_t sanitize(const char *s, size_t len, char *out) {
  /* diag_text_fit's contract: every byte outside printable ASCII becomes
   * '?', a tab a space (so what it quotes can never hide the body). */
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\r'))
    len--;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    out[i] = c == '\t' ? ' ' : c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  out[len] = '\0';
  return len;
}

/* The first and last lines of text that are not blank (spaces, tabs, CRs). */
static void end_lines(const char *text, const char **first, size_t *flen,
                      const char **last, size_t *llen) {
  *first = *last = NULL;
  *flen = *llen = 0;
  for (const char *p = text; *p != '\0';) {
    const char *e = strchr(p, '\n');
    size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
    size_t k = 0;
    while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
      k++;
    if (k < len) {
      if (*first == NULL) {
        *first = p;
        *flen = len;
      }
      *last = p;
      *llen = len;
    }
    p += len + (e != NULL ? 1 : 0);
  }
}

/* s[0..n) with bytes outside printable ASCII as \\xNN, for messages (a
 * ring of buffers, so several can appear in one message). */
static const char *esc(const char *s, size_t n) {
  static char ring[4][8192];
  static int next;
  char *b = ring[next++ & 3];
  size_t w = 0;
  for (size_t i = 0; i < n && w + 5 < sizeof ring[0]; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c < 0x7f && c != '\\')
      b[w++] = (char)c;
    else
      w += (size_t)snprintf(b + w, 5, "\\x%02x", c);
  }
  b[w] = '\0';
  return b;
}

static const char *escs(const char *s) {
  return esc(s, strlen(s));
}

/* How many bytes of a cut line must survive, at least. */
#define MIN_KEPT_BYTES 120
#define FIRST_START_BYTES 40

/* Runs diag_text_fit on text and checks the three properties; returns 0 or
 * prints why and returns -1 (so a test can report every failing input). */
static int check_fit(const char *name, const char *text) {
  char *out = malloc(OUT_BYTES);
  assert_non_null(out);
  memset(out, 0x7e, OUT_BYTES);
  size_t n = diag_text_fit(text, out, OUT_BYTES);
  int bad = 0;
  if (n >= OUT_BYTES || out[n] != '\0' || strlen(out) != n) {
    print_error("%s: returned %zu, strlen %zu\n", name, n,
                strnlen(out, OUT_BYTES));
    free(out);
    return -1;
  }
  const char *first, *last;
  size_t flen, llen;
  end_lines(text, &first, &flen, &last, &llen);
  if (first == NULL) {
    /* Nothing to say: nothing shown (an empty body gives no detail). */
    if (n != 0) {
      print_error("%s: blank input gave \"%s\"\n", name, escs(out));
      bad = 1;
    }
    free(out);
    return bad ? -1 : 0;
  }
  if (n == 0 || out[n - 1] != '\n') {
    print_error("%s: output \"%s\" does not end in a newline\n", name,
                escs(out));
    free(out);
    return -1;
  }

  /* 1. Shown in full by the go command. */
  char detail[4096];
  int d = go_format_error_detail(out, n, detail, sizeof detail);
  if (d < 0) {
    print_error("%s: the go command suppresses the whole body \"%s\"\n", name,
                escs(out));
    bad = 1;
  } else {
    /* The fitted lines joined as the go command joins them. */
    char joined[4096];
    size_t j = 0;
    for (size_t i = 0; i + 1 < n; i++) {
      if (out[i] == '\n') {
        joined[j++] = '\n';
        joined[j++] = '\t';
      } else {
        joined[j++] = out[i];
      }
    }
    joined[j] = '\0';
    if (strstr(detail, "[Truncated") != NULL) {
      print_error("%s: the go command truncates: \"%s\"\n", name, escs(detail));
      bad = 1;
    } else if (strcmp(detail, joined) != 0) {
      print_error("%s: the go command shows only \"%s\" of \"%s\"\n", name,
                  escs(detail), escs(joined));
      bad = 1;
    }
  }

  /* 2. The last line is kept. */
  char want[8192];
  size_t wl = sanitize(last, llen, want);
  const char *ol = out + n - 1;
  while (ol > out && ol[-1] != '\n')
    ol--;
  size_t olen = (size_t)(out + n - 1 - ol);
  int last_ok = olen == wl && memcmp(ol, want, wl) == 0;
  if (!last_ok && olen >= 3 && memcmp(ol + olen - 3, "...", 3) == 0 &&
      olen - 3 < wl && olen - 3 >= MIN_KEPT_BYTES &&
      memcmp(ol, want, olen - 3) == 0)
    last_ok = 1; /* a long last line, cut */
  if (!last_ok) {
    print_error("%s: last line \"%s\", want \"%s\" (or a long prefix and "
                "\"...\")\n",
                name, esc(ol, olen), escs(want));
    bad = 1;
  }

  /* 3. The first line's start is kept. */
  wl = sanitize(first, flen, want);
  size_t k = wl < FIRST_START_BYTES ? wl : FIRST_START_BYTES;
  if (memcmp(out, want, k) != 0) {
    print_error("%s: first line \"%s\" does not start with \"%s\"\n", name,
                esc(out, strcspn(out, "\n")), esc(want, k));
    bad = 1;
  }
  free(out);
  return bad ? -1 : 0;
}

/* ---- inputs ------------------------------------------------------------- */

/* A growing text buffer. */
struct text {
  char *p;
  size_t len, cap;
};

static void add(struct text *t, const char *s, size_t n) {
  if (t->len + n + 1 > t->cap) {
    t->cap = (t->len + n + 1) * 2;
    t->p = realloc(t->p, t->cap);
    assert_non_null(t->p);
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void adds(struct text *t, const char *s) {
  add(t, s, strlen(s));
}

static void addrep(struct text *t, const char *s, size_t times) {
  for (size_t i = 0; i < times; i++)
    adds(t, s);
}

static void reset(struct text *t) {
  t->len = 0;
  if (t->p != NULL)
    t->p[0] = '\0';
}

#define LAST_LINE "see http://127.0.0.1:3000/diag/req/abc123 for details"

static void test_short_texts(void **state) {
  (void)state;
  int bad = 0;
  bad |= check_fit("one line", "module example.com/m@v1.0.0 not found");
  bad |= check_fit("one line, newline", "module not found\n");
  bad |= check_fit("three lines", "first\nsecond\n" LAST_LINE "\n");
  bad |= check_fit("eight lines", "1\n2\n3\n4\n5\n6\n7\n" LAST_LINE);
  bad |= check_fit("tabs", "a\tb\n\tindented\n" LAST_LINE);
  bad |= check_fit("crlf", "first line\r\nsecond\r\n" LAST_LINE "\r\n");
  bad |= check_fit("trailing spaces", "first   \n" LAST_LINE "   \n");
  bad |= check_fit("utf-8",
                   "caf\xc3\xa9 \xe2\x82\xac \xe4\xb8\xad\xe6\x96\x87 "
                   "\xf0\x9f\x98\x80\n\xce\xb1\xce\xb2\xce\xb3\n" LAST_LINE);
  bad |= check_fit("nbsp inside", "a\xc2\xa0"
                                  "b\n" LAST_LINE);
  /* U+2028 is not graphic but is a space: the go command shows it. */
  bad |= check_fit("line separator", "first\na\xe2\x80\xa8"
                                     "b\n" LAST_LINE);
  bad |= check_fit("empty", "");
  bad |= check_fit("blank only", "\n \n\t\n");
  assert_int_equal(bad, 0);
}

static void test_long_lines(void **state) {
  (void)state;
  struct text t = {0};
  int bad = 0;
  /* One line far over the window. */
  reset(&t);
  adds(&t, "start of a long line: ");
  addrep(&t, "abcdefghij", 200);
  bad |= check_fit("single 2000-byte line", t.p);
  /* A long first line and a short last line. */
  reset(&t);
  adds(&t, "first: ");
  addrep(&t, "0123456789", 150);
  adds(&t, "\n" LAST_LINE "\n");
  bad |= check_fit("long first, short last", t.p);
  /* A short first line and a long last line. */
  reset(&t);
  adds(&t, "short first\n");
  addrep(&t, "last-", 300);
  bad |= check_fit("short first, long last", t.p);
  /* Two long lines. */
  reset(&t);
  addrep(&t, "A", 700);
  adds(&t, "\n");
  addrep(&t, "Z", 700);
  bad |= check_fit("two long lines", t.p);
  /* Eight lines of 100 bytes (over 648 in total). */
  reset(&t);
  for (int i = 0; i < 7; i++) {
    char head[16];
    snprintf(head, sizeof head, "line %d: ", i);
    adds(&t, head);
    addrep(&t, "x", 92);
    adds(&t, "\n");
  }
  adds(&t, LAST_LINE);
  bad |= check_fit("eight 100-byte lines", t.p);
  /* Lines whose sizes sweep across the budget, one at a time. */
  for (size_t len = 600; len <= 660; len += 1) {
    reset(&t);
    addrep(&t, "f", len);
    adds(&t, "\n" LAST_LINE);
    char name[64];
    snprintf(name, sizeof name, "first line of %zu bytes", len);
    bad |= check_fit(name, t.p);
    reset(&t);
    addrep(&t, "g", len);
    snprintf(name, sizeof name, "only line of %zu bytes", len);
    bad |= check_fit(name, t.p);
  }
  /* Three lines each near a third of the window. */
  for (size_t len = 200; len <= 230; len++) {
    reset(&t);
    for (int i = 0; i < 3; i++) {
      addrep(&t, "m", len);
      adds(&t, "\n");
    }
    char name[64];
    snprintf(name, sizeof name, "three lines of %zu bytes", len);
    bad |= check_fit(name, t.p);
  }
  free(t.p);
  assert_int_equal(bad, 0);
}

static void test_many_lines(void **state) {
  (void)state;
  struct text t = {0};
  int bad = 0;
  static const int counts[] = {9, 10, 12, 20, 30, 63, 64};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    reset(&t);
    adds(&t, "the first line says what went wrong\n");
    for (int i = 1; i < counts[c] - 1; i++) {
      char line[64];
      snprintf(line, sizeof line, "detail line %d\n", i);
      adds(&t, line);
    }
    adds(&t, LAST_LINE "\n");
    char name[64];
    snprintf(name, sizeof name, "%d lines", counts[c]);
    bad |= check_fit(name, t.p);
  }
  free(t.p);
  assert_int_equal(bad, 0);
}

/* Long explanations (a list of every version tried, say) have more lines
 * than diag_text_fit's internal table; the last one must still win. */
static void test_very_many_lines(void **state) {
  (void)state;
  struct text t = {0};
  int bad = 0;
  static const int counts[] = {65, 100, 200};
  for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
    reset(&t);
    adds(&t, "the first line says what went wrong\n");
    for (int i = 1; i < counts[c] - 1; i++) {
      char line[64];
      snprintf(line, sizeof line, "detail line %d\n", i);
      adds(&t, line);
    }
    adds(&t, LAST_LINE "\n");
    char name[64];
    snprintf(name, sizeof name, "%d lines", counts[c]);
    bad |= check_fit(name, t.p);
  }
  free(t.p);
  assert_int_equal(bad, 0);
}

static void test_blank_lines(void **state) {
  (void)state;
  int bad = 0;
  bad |= check_fit("blank in the middle", "first\n\nsecond\n" LAST_LINE);
  bad |= check_fit("leading blank", "\nfirst\n" LAST_LINE);
  bad |= check_fit("spaces line", "first\n   \n" LAST_LINE);
  bad |= check_fit("tab line", "first\n\t\t\n" LAST_LINE);
  bad |= check_fit("cr line", "first\n\r\n" LAST_LINE);
  bad |= check_fit("many blanks",
                   "\n\n\nfirst\n\n\n\nsecond\n\n\n" LAST_LINE "\n\n\n");
  bad |= check_fit("blank before last of ten",
                   "1\n2\n3\n4\n5\n6\n7\n8\n9\n\n" LAST_LINE);
  assert_int_equal(bad, 0);
}

static void test_control_bytes(void **state) {
  (void)state;
  int bad = 0;
  bad |=
      check_fit("esc colours", "\x1b[31merror\x1b[0m: not found\n" LAST_LINE);
  bad |= check_fit("bell", "ding\x07\n" LAST_LINE);
  bad |= check_fit("control in last line", "first\nsee \x01here\x7f");
  bad |= check_fit("del", "a\x7f"
                          "b\n" LAST_LINE);
  bad |= check_fit("backspace", "abc\b\b\bxyz\n" LAST_LINE);
  bad |= check_fit("cr in a line", "progress 10%\rprogress 100%\n" LAST_LINE);
  bad |= check_fit("vt ff", "a\vb\fc\n" LAST_LINE);
  bad |= check_fit("vt alone", "first\n\v\n" LAST_LINE);
  bad |= check_fit("c1 csi", "a\xc2\x9b"
                             "31mb\n" LAST_LINE);
  bad |= check_fit("c1 nel", "a\xc2\x85"
                             "b\n" LAST_LINE);
  bad |= check_fit("control in a long line",
                   "\x1b"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                   "AAAAAAAAAAAAAAAAA"
                   "\x1b\n" LAST_LINE);
  assert_int_equal(bad, 0);
}

/* Byte sequences that are not UTF-8 the way Go decodes it but that look like
 * it: lone bytes and cut sequences. */
static void test_broken_utf8(void **state) {
  (void)state;
  int bad = 0;
  bad |= check_fit("lone continuation", "a\x80"
                                        "b\n" LAST_LINE);
  bad |= check_fit("lone lead", "a\xc3 b\n" LAST_LINE);
  bad |= check_fit("cut 3-byte", "a\xe2\x82 b\n" LAST_LINE);
  bad |= check_fit("cut at line end", "a\xe2\x82\n" LAST_LINE);
  bad |= check_fit("cut at text end", "first\n" LAST_LINE "\xf0\x9f\x98");
  bad |= check_fit("c0 c1 leads", "a\xc0\xaf"
                                  "b\xc1\xbf\n" LAST_LINE);
  bad |= check_fit("latin-1", "caf\xe9 na\xefve\n" LAST_LINE);
  assert_int_equal(bad, 0);
}

/* Sequences that diag must also see as invalid: overlong 3- and 4-byte
 * forms, UTF-16 surrogates, code points past U+10FFFF, and lead bytes F5 to
 * FF. Go's utf8.ValidString refuses them all, which hides the whole body. */
static void test_invalid_utf8_sequences(void **state) {
  (void)state;
  int bad = 0;
  bad |= check_fit("overlong 3-byte slash", "a\xe0\x80\xaf"
                                            "b\n" LAST_LINE);
  bad |= check_fit("overlong 4-byte", "a\xf0\x80\x80\xaf"
                                      "b\n" LAST_LINE);
  bad |= check_fit("surrogate", "a\xed\xa0\x80"
                                "b\n" LAST_LINE);
  bad |= check_fit("past U+10FFFF", "a\xf4\x90\x80\x80"
                                    "b\n" LAST_LINE);
  bad |= check_fit("lead F5", "a\xf5\x80\x80\x80"
                              "b\n" LAST_LINE);
  bad |= check_fit("lead FF", "a\xff\x80\x80"
                              "b\n" LAST_LINE);
  bad |= check_fit("lead F8", "a\xf8\x88\x80\x80\x80"
                              "b\n" LAST_LINE);
  assert_int_equal(bad, 0);
}

/* Valid UTF-8 runes that are not graphic: format characters (soft hyphen,
 * zero-width space, BOM, bidi controls), private use and unassigned code
 * points. Any one of them hides the whole body. */
static void test_non_graphic_runes(void **state) {
  (void)state;
  int bad = 0;
  bad |= check_fit("soft hyphen", "hy\xc2\xadphen\n" LAST_LINE);
  bad |= check_fit("zero-width space", "a\xe2\x80\x8b"
                                       "b\n" LAST_LINE);
  bad |= check_fit("bom", "\xef\xbb\xbfmodule not found\n" LAST_LINE);
  bad |= check_fit("bidi override", "a\xe2\x80\xae"
                                    "cba\n" LAST_LINE);
  bad |= check_fit("bidi isolate", "a\xe2\x81\xa6"
                                   "b\n" LAST_LINE);
  bad |= check_fit("private use", "icon \xee\x80\x80\n" LAST_LINE);
  bad |= check_fit("unassigned", "a\xcd\xb8"
                                 "b\n" LAST_LINE);
  bad |= check_fit("noncharacter", "a\xef\xbf\xbf"
                                   "b\n" LAST_LINE);
  bad |= check_fit("tag character", "flag\xf3\xa0\x80\x81\n" LAST_LINE);
  assert_int_equal(bad, 0);
}

/* A line of Unicode spaces is blank to the go command (strings.TrimSpace),
 * which stops there: the lines after it, the last line too, are not shown. */
static void test_unicode_space_lines(void **state) {
  (void)state;
  int bad = 0;
  bad |= check_fit("nbsp line", "first\n\xc2\xa0\n" LAST_LINE);
  bad |= check_fit("ideographic space line", "first\n\xe3\x80\x80\n" LAST_LINE);
  bad |= check_fit("em spaces line",
                   "first\n \xe2\x80\x83\xe2\x80\x83 \n" LAST_LINE);
  bad |= check_fit("nbsp first line", "\xc2\xa0\xc2\xa0\nsecond\n" LAST_LINE);
  assert_int_equal(bad, 0);
}

/* Multibyte runes around the cut of a long line: the cut must fall between
 * runes, never inside one (a cut rune is invalid UTF-8 and hides it all). */
static void test_multibyte_near_cut(void **state) {
  (void)state;
  static const char *const runes[] = {"\xc3\xa9", "\xe2\x82\xac",
                                      "\xf0\x9f\x98\x80", "\xe4\xb8\xad"};
  struct text t = {0};
  int bad = 0;
  for (size_t r = 0; r < sizeof runes / sizeof runes[0]; r++) {
    /* Lines made only of the rune. */
    reset(&t);
    addrep(&t, runes[r], 400);
    char name[96];
    snprintf(name, sizeof name, "rune %zu only, one line", r);
    bad |= check_fit(name, t.p);
    adds(&t, "\n");
    addrep(&t, runes[r], 400);
    snprintf(name, sizeof name, "rune %zu only, two lines", r);
    bad |= check_fit(name, t.p);
    /* ASCII padding shifting the rune across every cut position. */
    for (size_t pad = 0; pad < 8; pad++) {
      reset(&t);
      addrep(&t, "p", 300 + pad);
      addrep(&t, runes[r], 200);
      adds(&t, "\n");
      addrep(&t, "q", 250 + pad);
      addrep(&t, runes[r], 100);
      adds(&t, "\n");
      addrep(&t, runes[r], 150);
      addrep(&t, "z", pad);
      snprintf(name, sizeof name, "rune %zu, pad %zu", r, pad);
      bad |= check_fit(name, t.p);
      /* Single line crossing the window's end at each offset. */
      reset(&t);
      addrep(&t, "s", 640 + pad);
      addrep(&t, runes[r], 10);
      snprintf(name, sizeof name, "rune %zu at the end, pad %zu", r, pad);
      bad |= check_fit(name, t.p);
    }
  }
  free(t.p);
  assert_int_equal(bad, 0);
}

/* Random texts from pieces that cover the cases above that diag handles by
 * replacing bytes (ASCII controls, lone and cut UTF-8 bytes, C1 controls)
 * and graphic runes of every length, with lines of all sizes. The invalid
 * sequences and non-graphic runes of the tests above are left out here so
 * that a failure points at something new. */
static void test_random_texts(void **state) {
  (void)state;
  static const char *const pieces[] = {
      "word",
      "x",
      "module",
      "example.com/m@v1.0.0",
      " ",
      "  ",
      "\t",
      "\r",
      "\x1b[0m",
      "\x07",
      "\x7f",
      "\x01",
      "\x80",
      "\xbf",
      "\xe2x",
      "\xc3 ",
      "\xc3\xa9",
      "\xe2\x82\xac",
      "\xf0\x9f\x98\x80",
      "\xe4\xb8\xad",
      "\xc2\x9b",
      "\xc2\x85",
      "\xc2\xa0",
      ":",
      "/",
      "%",
      "!",
      "0123456789012345678901234567890123456789",
  };
  enum { NP = sizeof pieces / sizeof pieces[0] };
  uint64_t x = 0x243f6a8885a308d3ull;
  struct text t = {0};
  int bad = 0;
  for (int iter = 0; iter < 3000 && bad == 0; iter++) {
    reset(&t);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int lines = 1 + (int)(x % 14);
    for (int l = 0; l < lines; l++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      int len = (int)(x % ((x >> 8) % 3 == 0 ? 60 : 8));
      adds(&t, "L");
      for (int k = 0; k < len; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        adds(&t, pieces[x % NP]);
      }
      adds(&t, (x >> 5) % 9 == 0 ? "\n\n" : "\n");
    }
    char name[32];
    snprintf(name, sizeof name, "random %d", iter);
    bad |= check_fit(name, t.p);
  }
  free(t.p);
  assert_int_equal(bad, 0);
}

/* The port itself: the go command's documented behaviour on the example of
 * GOPROXY-PROTOCOL.md section 3 and its limits, so that a broken port
 * cannot make the checks above pass. */
static void test_port_of_go_rule(void **state) {
  (void)state;
  char d[4096];
  const char *ex = "line one\nline two\n\nafter blank\n";
  assert_int_equal(go_format_error_detail(ex, strlen(ex), d, sizeof d), 18);
  assert_string_equal(d, "line one\n\tline two");
  const char *esc = "a\x1b[31m\nb";
  assert_int_equal(go_format_error_detail(esc, strlen(esc), d, sizeof d), -1);
  const char *nine = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  go_format_error_detail(nine, strlen(nine), d, sizeof d);
  assert_non_null(strstr(d, "\n\t8\n\t[Truncated: too many lines.]"));
  char big[700];
  memset(big, 'a', 649);
  big[649] = '\0';
  go_format_error_detail(big, 649, d, sizeof d);
  assert_string_equal(d, "[Truncated: too long.]");
  big[648] = '\0';
  assert_int_equal(go_format_error_detail(big, 648, d, sizeof d), 648);
  /* Separators count: 2 lines of 323 fit (323 + 2 + 323 = 648), 324 do not. */
  memset(big, 'b', 323);
  big[323] = '\n';
  memset(big + 324, 'c', 323);
  assert_int_equal(go_format_error_detail(big, 647, d, sizeof d), 648);
  memset(big, 'b', 324);
  big[324] = '\n';
  memset(big + 325, 'c', 323);
  go_format_error_detail(big, 648, d, sizeof d);
  assert_non_null(strstr(d, "[Truncated: too long.]"));
  assert_int_equal(go_format_error_detail("\xe0\x80\xaf", 3, d, sizeof d), -1);
  assert_int_equal(go_format_error_detail("\xc2\xad", 2, d, sizeof d), -1);
  assert_int_equal(go_format_error_detail("caf\xc3\xa9", 5, d, sizeof d), 5);
  assert_int_equal(go_format_error_detail("a\n\xc2\xa0\nb", 6, d, sizeof d), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_port_of_go_rule),
      cmocka_unit_test(test_short_texts),
      cmocka_unit_test(test_long_lines),
      cmocka_unit_test(test_many_lines),
      cmocka_unit_test(test_very_many_lines),
      cmocka_unit_test(test_blank_lines),
      cmocka_unit_test(test_control_bytes),
      cmocka_unit_test(test_broken_utf8),
      cmocka_unit_test(test_invalid_utf8_sequences),
      cmocka_unit_test(test_non_graphic_runes),
      cmocka_unit_test(test_unicode_space_lines),
      cmocka_unit_test(test_multibyte_near_cut),
      cmocka_unit_test(test_random_texts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
