/*
 * Text helpers for the Go module rules: UTF-8 decoding exactly as Go's
 * unicode/utf8 does it, Go's %q quoting (strconv.Quote / QuoteRune, which
 * x/mod's error messages use), rough Unicode letter/printable classes, and
 * bounded output buffers.
 *
 * The Unicode classes are deliberately small approximations, independent of
 * the process locale, instead of Go's Unicode 13 tables:
 *  - is_letter is exact for ASCII and accepts only code points that are
 *    letters in Unicode 13 (the main Latin, Greek, Cyrillic, Armenian,
 *    Hebrew, Arabic, kana, CJK and Hangul letter ranges). Any other letter
 *    (other scripts, Greek Extended, modifier letters...) is treated as a
 *    non-letter, so a file name using one is refused although x/mod accepts
 *    it; a non-letter is never accepted.
 *  - is_print is exact below U+0100. Above, it treats as non-printable the
 *    spaces, format characters, private-use code points and non-characters
 *    listed in is_print and planes 4 and up (bar the variation selectors);
 *    other unassigned code points count as printable, where Go escapes them
 *    as \u.... or \U........ This only changes how such a rune is shown
 *    inside an error message.
 */
#include "gomod_internal.h"

#include <errno.h>
#include <string.h>

#include "modproxy/gomod.h"

/* utf8.RuneSelf: bytes below it are single-byte runes. */
#define RUNE_SELF 0x80u

static const char lower_hex[] = "0123456789abcdef";

size_t gomod__utf8_decode(const char *s, size_t n, uint32_t *r) {
  const unsigned char *u = (const unsigned char *)s;
  unsigned char lo = 0x80, hi = 0xBF;
  size_t width;
  uint32_t c;

  *r = GOMOD__RUNE_ERROR;
  if (u[0] < RUNE_SELF) {
    *r = u[0];
    return 1;
  }
  if (u[0] >= 0xC2 && u[0] <= 0xDF) {
    width = 2;
    c = u[0] & 0x1Fu;
  } else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
    width = 3;
    c = u[0] & 0x0Fu;
    if (u[0] == 0xE0)
      lo = 0xA0; /* overlong */
    else if (u[0] == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
    width = 4;
    c = u[0] & 0x07u;
    if (u[0] == 0xF0)
      lo = 0x90; /* overlong */
    else if (u[0] == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else {
    return 1;
  }
  if (n < width)
    return 1;
  /* Only the second byte has a narrowed range; the rest are 80..BF. */
  for (size_t i = 1; i < width; i++) {
    if (u[i] < lo || u[i] > hi)
      return 1;
    c = c << 6 | (u[i] & 0x3Fu);
    lo = 0x80;
    hi = 0xBF;
  }
  *r = c;
  return width;
}

int gomod__utf8_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t r;
    size_t w = gomod__utf8_decode(s + i, n - i, &r);
    if (r == GOMOD__RUNE_ERROR && w == 1)
      return 0;
    i += w;
  }
  return 1;
}

int gomod_hex_digit(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int gomod__is_letter(uint32_t r) {
  if (r < RUNE_SELF)
    return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
  /* Latin-1 letters, Latin Extended-A/B, IPA, spacing modifier letters. */
  if (r == 0xAA || r == 0xB5 || r == 0xBA)
    return 1;
  if (r >= 0xC0 && r <= 0x2C1)
    return r != 0xD7 && r != 0xF7;
  /* Greek and Cyrillic, minus the Greek gaps and symbol and the Cyrillic
   * sign and combining marks. */
  if (r == 0x386 || r == 0x38C || (r >= 0x388 && r <= 0x38A))
    return 1;
  if (r >= 0x38E && r <= 0x52F)
    return r != 0x3A2 && r != 0x3F6 && !(r >= 0x482 && r <= 0x489);
  return (r >= 0x531 && r <= 0x556) ||   /* Armenian capitals */
         (r >= 0x560 && r <= 0x588) ||   /* Armenian small */
         (r >= 0x5D0 && r <= 0x5EA) ||   /* Hebrew */
         (r >= 0x620 && r <= 0x64A) ||   /* Arabic */
         (r >= 0x1E00 && r <= 0x1EFF) || /* Latin Extended Additional */
         (r >= 0x3041 && r <= 0x3096) || /* Hiragana */
         (r >= 0x30A1 && r <= 0x30FA) || /* Katakana */
         (r >= 0x3400 && r <= 0x4DBF) || /* CJK Extension A */
         (r >= 0x4E00 && r <= 0x9FFC) || /* CJK Unified Ideographs */
         (r >= 0xAC00 && r <= 0xD7A3);   /* Hangul syllables */
}

/* strconv.IsPrint, approximated above U+00FF (see the top of the file). */
static int is_print(uint32_t r) {
  if (r < RUNE_SELF)
    return r >= 0x20 && r < 0x7F;
  if (r <= 0xA0 || r == 0xAD)
    return 0;
  if (r < 0x100)
    return 1;
  if (r == 0x1680 || r == 0x3000 || r == 0xFEFF)
    return 0; /* spaces, byte order mark */
  if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
      (r >= 0x205F && r <= 0x206F))
    return 0;       /* general punctuation spaces and format characters */
  if (r >= 0x10000) /* planes 4-13 are unassigned; tags, private use */
    return r < 0x40000 || (r >= 0xE0100 && r <= 0xE01EF);
  if ((r >= 0xD800 && r <= 0xF8FF) || (r >= 0xFDD0 && r <= 0xFDEF) ||
      (r >= 0xFFF0 && r <= 0xFFFB) || r >= 0xFFFE)
    return 0; /* surrogates, private use, non-characters, specials */
  return 1;
}

void gomod__buf_init(struct gomod__buf *b, char *base, size_t cap) {
  b->base = base;
  b->cap = base != NULL ? cap : 0;
  b->len = 0;
  b->overflow = b->cap == 0;
  if (b->cap > 0)
    base[0] = '\0';
}

void gomod__buf_add(struct gomod__buf *b, const char *s, size_t n) {
  if (b->cap == 0) {
    b->overflow = 1;
    return;
  }
  size_t room = b->cap - 1 - b->len;
  if (n > room) {
    n = room;
    b->overflow = 1;
  }
  memcpy(b->base + b->len, s, n);
  b->len += n;
  b->base[b->len] = '\0';
}

void gomod__buf_str(struct gomod__buf *b, const char *s) {
  gomod__buf_add(b, s, strlen(s));
}

void gomod__buf_span(struct gomod__buf *b, struct gomod__span s) {
  gomod__buf_add(b, s.base, s.len);
}

static void add_hex(struct gomod__buf *b, const char *prefix, uint32_t v,
                    int digits) {
  char tmp[8];
  for (int i = digits - 1; i >= 0; i--) {
    tmp[i] = lower_hex[v & 0xF];
    v >>= 4;
  }
  gomod__buf_str(b, prefix);
  gomod__buf_add(b, tmp, (size_t)digits);
}

static void add_utf8(struct gomod__buf *b, uint32_t r) {
  char tmp[4];
  size_t n;
  if (r < 0x80) {
    tmp[0] = (char)r;
    n = 1;
  } else if (r < 0x800) {
    tmp[0] = (char)(0xC0 | r >> 6);
    tmp[1] = (char)(0x80 | (r & 0x3F));
    n = 2;
  } else if (r < 0x10000) {
    tmp[0] = (char)(0xE0 | r >> 12);
    tmp[1] = (char)(0x80 | (r >> 6 & 0x3F));
    tmp[2] = (char)(0x80 | (r & 0x3F));
    n = 3;
  } else {
    tmp[0] = (char)(0xF0 | r >> 18);
    tmp[1] = (char)(0x80 | (r >> 12 & 0x3F));
    tmp[2] = (char)(0x80 | (r >> 6 & 0x3F));
    tmp[3] = (char)(0x80 | (r & 0x3F));
    n = 4;
  }
  gomod__buf_add(b, tmp, n);
}

/* The letter of the backslash escape Go uses for a control character, or 0. */
static char control_escape(uint32_t r) {
  switch (r) {
  case '\a': return 'a';
  case '\b': return 'b';
  case '\f': return 'f';
  case '\n': return 'n';
  case '\r': return 'r';
  case '\t': return 't';
  case '\v': return 'v';
  default: return 0;
  }
}

/* strconv's appendEscapedRune: r inside a literal delimited by `quote`. */
static void add_escaped_rune(struct gomod__buf *b, uint32_t r, char quote) {
  char esc[2] = {'\\', control_escape(r)};

  if (r == (uint32_t)quote || r == '\\') {
    gomod__buf_add(b, "\\", 1);
    add_utf8(b, r);
  } else if (is_print(r)) {
    add_utf8(b, r);
  } else if (esc[1] != 0) {
    gomod__buf_add(b, esc, 2);
  } else if (r < 0x20 || r == 0x7F) {
    add_hex(b, "\\x", r, 2);
  } else if (r < 0x10000) {
    add_hex(b, "\\u", r, 4);
  } else {
    add_hex(b, "\\U", r, 8);
  }
}

void gomod__buf_quote(struct gomod__buf *b, const char *s, size_t n) {
  gomod__buf_add(b, "\"", 1);
  size_t i = 0;
  while (i < n) {
    uint32_t r;
    size_t w = gomod__utf8_decode(s + i, n - i, &r);
    if (r == GOMOD__RUNE_ERROR && w == 1)
      add_hex(b, "\\x", (unsigned char)s[i], 2);
    else
      add_escaped_rune(b, r, '"');
    i += w;
  }
  gomod__buf_add(b, "\"", 1);
}

void gomod__buf_quote_rune(struct gomod__buf *b, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
    r = GOMOD__RUNE_ERROR;
  gomod__buf_add(b, "'", 1);
  add_escaped_rune(b, r, '\'');
  gomod__buf_add(b, "'", 1);
}

int gomod__buf_result(const struct gomod__buf *b) {
  return b->overflow ? -E2BIG : (int)b->len;
}

int gomod__put(char *out, size_t outlen, const char *s, size_t n) {
  struct gomod__buf b;
  gomod__buf_init(&b, out, outlen);
  gomod__buf_add(&b, s, n);
  return gomod__buf_result(&b);
}
