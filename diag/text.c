/*
 * Fitting explanations into the go command's error window.
 *
 * The rule it mirrors (cmd/go/internal/web formatErrorDetail): line i is shown
 * only if the bytes shown so far, including the "\n\t" joining each line to
 * the previous one, plus line i stay within DIAG_WINDOW_BYTES, and only the
 * first DIAG_WINDOW_LINES lines are shown; any rune that is neither graphic
 * nor space hides the whole body. So this keeps every line printable, keeps
 * the last line (the pointer to more detail), and cuts from the middle.
 */
#include <stdint.h>
#include <string.h>

#include "modproxy/diag.h"

/* Length of the valid, printable UTF-8 sequence at p (1 to 4), or 0. */
static size_t printable_rune(const unsigned char *p, size_t left) {
  if (p[0] >= 0x20 && p[0] < 0x7f)
    return 1;
  size_t n = p[0] >= 0xf0 && p[0] < 0xf5   ? 4
             : p[0] >= 0xe0                ? 3
             : p[0] >= 0xc2 && p[0] < 0xe0 ? 2
                                           : 0;
  if (n == 0 || n > left)
    return 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  /* C1 controls (U+0080..U+009F) are not graphic. */
  if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
    return 0;
  return n;
}

/* Copies one line into dst, sanitised (each byte that is not part of a
 * printable rune becomes one '?', a tab one space, so the length is kept).
 * A line longer than cap is cut at a rune boundary and ends in "...".
 * Returns the bytes written (at most cap). */
static size_t copy_line(const char *src, size_t len, char *dst, size_t cap) {
  size_t limit = len <= cap ? len : (cap >= 3 ? cap - 3 : 0);
  size_t w = 0;
  for (size_t i = 0; i < len;) {
    size_t n = printable_rune((const unsigned char *)src + i, len - i);
    if (w + (n > 0 ? n : 1) > limit)
      break;
    if (n > 0)
      memcpy(dst + w, src + i, n);
    else
      dst[w] = src[i] == '\t' ? ' ' : '?';
    w += n > 0 ? n : 1;
    i += n > 0 ? n : 1;
  }
  if (len > cap && cap >= 3) {
    memcpy(dst + w, "...", 3);
    w += 3;
  }
  return w;
}

struct span {
  const char *p;
  size_t len;
};

size_t diag_text_fit(const char *text, char *out, size_t outlen) {
  struct span lines[64];
  size_t n = 0;
  for (const char *p = text; *p != '\0' && n < 64;) {
    const char *e = strchr(p, '\n');
    size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
    size_t k = 0;
    while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
      k++;
    if (k < len) {
      while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\r'))
        len--;
      lines[n].p = p;
      lines[n].len = len;
      n++;
    }
    p += e != NULL ? (size_t)(e - p) + 1 : strlen(p);
  }
  if (n > DIAG_WINDOW_LINES) {
    lines[DIAG_WINDOW_LINES - 1] = lines[n - 1];
    n = DIAG_WINDOW_LINES;
  }
  size_t cap = outlen < DIAG_WINDOW_BYTES + 1 ? outlen - 1 : DIAG_WINDOW_BYTES;
  /* The budget counts 2 bytes per line break, as the go command does. */
  size_t last_len = n > 1 ? (lines[n - 1].len < cap / 2 ? lines[n - 1].len : cap / 2) : 0;
  size_t budget = n > 1 ? cap - last_len - 2 : cap;
  size_t w = 0, used = 0;
  for (size_t i = 0; i + (n > 1 ? 1 : 0) < n; i++) {
    size_t sep = i > 0 ? 2 : 0;
    if (used + sep + 4 > budget)
      break;
    size_t got = copy_line(lines[i].p, lines[i].len, out + w, budget - used - sep);
    out[w + got] = '\n';
    w += got + 1;
    used += sep + got;
  }
  if (n > 1) {
    size_t got = copy_line(lines[n - 1].p, lines[n - 1].len, out + w,
                           cap - used - 2);
    out[w + got] = '\n';
    w += got + 1;
  }
  out[w] = '\0';
  return w;
}
