/*
 * Helpers shared by the fuzz targets: splitting an input into strings, and
 * failing loudly when a property does not hold (abort() is a crash to
 * libFuzzer, which then saves the input).
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* UBSan findings stop the fuzzer (as a crash, input saved) unless
 * UBSAN_OPTIONS says otherwise; the checks are built recoverable only so
 * that a suppressions file can silence a known finding. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) {
  return "halt_on_error=1:print_stacktrace=1";
}

/* Reports a broken property and aborts. */
__attribute__((format(printf, 1, 2), noreturn)) static inline void
fuzz_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz property failed: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond))                                                               \
      fuzz_fail(__VA_ARGS__);                                                  \
  } while (0)

/* The input split at NUL bytes into at most `max` NUL-terminated strings,
 * each in a heap block of exactly its size (so that ASan sees a read past
 * its end). Missing parts are "". Free with fuzz_parts_free. */
struct fuzz_parts {
  char *s[8];
  size_t len[8];
  int n;
};

static inline void fuzz_parts_split(const uint8_t *data, size_t size, int max,
                                    struct fuzz_parts *p) {
  memset(p, 0, sizeof *p);
  if (max > 8)
    max = 8;
  size_t off = 0;
  for (int i = 0; i < max; i++) {
    size_t n = 0;
    if (off < size) {
      const uint8_t *z = i + 1 < max ? memchr(data + off, 0, size - off) : NULL;
      n = z != NULL ? (size_t)(z - (data + off)) : size - off;
    }
    p->s[i] = malloc(n + 1);
    if (p->s[i] == NULL)
      abort();
    if (n > 0)
      memcpy(p->s[i], data + off, n);
    p->s[i][n] = '\0';
    p->len[i] = n;
    off += n + 1;
    if (off <= size)
      p->n = i + 1;
  }
}

static inline void fuzz_parts_free(struct fuzz_parts *p) {
  for (int i = 0; i < 8; i++)
    free(p->s[i]);
}

/* A heap copy of data[0:size] with a NUL after it, exactly size + 1 bytes. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL)
    abort();
  if (size > 0)
    memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

static inline int fuzz_sign(int x) {
  return (x > 0) - (x < 0);
}

#endif
