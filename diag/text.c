/*
 * Fitting explanations into the go command's error window.
 *
 * The rule it mirrors (cmd/go/internal/web formatErrorDetail): line i is shown
 * only if the bytes shown so far, including the "\n\t" joining each line to
 * the previous one, plus line i stay within DIAG_WINDOW_BYTES; only the first
 * DIAG_WINDOW_LINES lines are shown; it stops at the first blank line
 * (Unicode spaces count as blank); and a single rune that is neither graphic
 * nor space hides the whole body.
 *
 * Everything modproxy writes is ASCII (module paths and versions are ASCII
 * by x/mod's rules); what it quotes from elsewhere (an upstream's error
 * body) may not be. Rather than carry Unicode's tables to tell which runes
 * Go calls graphic, every byte outside printable ASCII becomes '?': the text
 * stays readable and can never hide itself. Then the last line (the pointer
 * to more detail) is kept, and lines are cut from the middle.
 */
#include <string.h>

#include "modproxy/diag.h"

/* Copies one line into dst, sanitised (anything but printable ASCII becomes
 * '?', a tab a space; the length is kept). A line longer than cap is cut
 * and ends in "...". Returns the bytes written (at most cap). */
static size_t copy_line(const char *src, size_t len, char *dst, size_t cap) {
  size_t limit = len <= cap ? len : (cap >= 3 ? cap - 3 : 0);
  for (size_t i = 0; i < limit; i++) {
    unsigned char ch = (unsigned char)src[i];
    dst[i] = ch == '\t' ? ' ' : ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
  }
  if (len > cap && cap >= 3) {
    memcpy(dst + limit, "...", 3);
    return limit + 3;
  }
  return limit;
}

struct span {
  const char *p;
  size_t len;
};

/* A line with nothing but ASCII blanks is dropped (a non-ASCII byte becomes
 * '?', which is not blank). */
static int blank(const char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\v' &&
        p[i] != '\f')
      return 0;
  return 1;
}

size_t diag_text_fit(const char *text, char *out, size_t outlen) {
  /* The first DIAG_WINDOW_LINES - 1 non-blank lines, and the last one. */
  struct span lines[DIAG_WINDOW_LINES];
  struct span last = {NULL, 0};
  size_t n = 0, total = 0;
  for (const char *p = text; *p != '\0';) {
    const char *e = strchr(p, '\n');
    size_t raw = e != NULL ? (size_t)(e - p) : strlen(p);
    size_t len = raw;
    if (!blank(p, len)) {
      while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\r'))
        len--;
      if (n < DIAG_WINDOW_LINES - 1)
        lines[n++] = (struct span){p, len};
      last = (struct span){p, len};
      total++;
    }
    p += raw + (e != NULL ? 1 : 0);
  }
  if (total > n)
    lines[n++] = last; /* more lines than fit: keep the last, cut the middle */
  /* The output is at most cap + 1 bytes and a NUL (one '\n' per line where
   * the budget counts two). */
  if (outlen < 16) {
    if (outlen > 0)
      out[0] = '\0';
    return 0;
  }
  size_t cap = outlen - 2 < DIAG_WINDOW_BYTES ? outlen - 2 : DIAG_WINDOW_BYTES;
  /* Each line costs its bytes plus, after the first, 2 for the "\n\t" the go
   * command joins them with; the output itself uses 1 ('\n') per line, so
   * it never needs more than cap bytes either. */
  size_t last_len =
      n > 1 ? (lines[n - 1].len < cap / 2 ? lines[n - 1].len : cap / 2) : 0;
  size_t budget = n > 1 ? cap - last_len - 2 : cap;
  size_t w = 0, used = 0;
  for (size_t i = 0; i + (n > 1 ? 1 : 0) < n; i++) {
    size_t sep = i > 0 ? 2 : 0;
    if (used + sep + 4 > budget)
      break;
    size_t got =
        copy_line(lines[i].p, lines[i].len, out + w, budget - used - sep);
    out[w + got] = '\n';
    w += got + 1;
    used += sep + got;
  }
  if (n > 1) {
    size_t got =
        copy_line(lines[n - 1].p, lines[n - 1].len, out + w, cap - used - 2);
    out[w + got] = '\n';
    w += got + 1;
  }
  out[w] = '\0';
  return w;
}
