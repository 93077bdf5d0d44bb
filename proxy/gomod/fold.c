/*
 * Unicode simple case folding as x/mod's zip collision check does it
 * (strings.EqualFold): used when reading zips (zip.c) and writing them
 * (zipcreate.c). The table is in zip_internal.h.
 */
#include "gomod_internal.h"
#include "zip_internal.h"

/* strToFold for one rune (see zip_internal.h). */
static uint32_t fold_rune(uint32_t r) {
  size_t lo = 0;
  size_t hi = sizeof gomod__fold_ranges / sizeof gomod__fold_ranges[0];
  if (r < 0x80)
    return r >= 'A' && r <= 'Z' ? r + ('a' - 'A') : r;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct gomod__fold_range *f = &gomod__fold_ranges[mid];
    if (r < f->lo) {
      hi = mid;
    } else if (r > f->hi) {
      lo = mid + 1;
    } else {
      if ((r - f->lo) % f->stride != 0)
        return r;
      return (uint32_t)((int32_t)r + f->delta);
    }
  }
  return r;
}

/* FNV-1a over the folded runes of s[0:n]. */
uint32_t gomod__fold_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i = 0;
  while (i < n) {
    uint32_t r;
    i += gomod__utf8_decode(s + i, n - i, &r);
    r = fold_rune(r);
    for (int k = 0; k < 4; k++) {
      h ^= (r >> (8 * k)) & 0xFFu;
      h *= 16777619u;
    }
  }
  return h;
}

/* strings.EqualFold(a, b) for valid UTF-8 (what CheckFilePath lets by). */
int gomod__fold_equal(const char *a, size_t an, const char *b, size_t bn) {
  size_t i = 0, j = 0;
  while (i < an && j < bn) {
    uint32_t ra, rb;
    i += gomod__utf8_decode(a + i, an - i, &ra);
    j += gomod__utf8_decode(b + j, bn - j, &rb);
    if (fold_rune(ra) != fold_rune(rb))
      return 0;
  }
  return i == an && j == bn;
}
