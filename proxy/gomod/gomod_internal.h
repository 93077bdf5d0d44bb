/*
 * Declarations shared between the files of proxy/gomod/ and nothing else:
 * Go's UTF-8 decoding and %q quoting (text.c), bounded output buffers
 * (text.c) and the parsed form of a semantic version (semver.c).
 */
#ifndef MODPROXY_GOMOD_INTERNAL_H
#define MODPROXY_GOMOD_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* utf8.RuneError: what an invalid byte decodes to. */
#define GOMOD__RUNE_ERROR 0xFFFDu

/** A borrowed byte range. */
struct gomod__span {
  const char *base;
  size_t len;
};

/**
 * utf8.DecodeRuneInString over s[0:n], n > 0: stores the rune in *r and
 * returns its width; an invalid or truncated sequence decodes as
 * (GOMOD__RUNE_ERROR, 1), as in Go.
 */
size_t gomod__utf8_decode(const char *s, size_t n, uint32_t *r);
/** utf8.ValidString over s[0:n]: 1 or 0. */
int gomod__utf8_valid(const char *s, size_t n);
/** An approximation of unicode.IsLetter (exact for ASCII; see text.c). */
int gomod__is_letter(uint32_t r);

/**
 * An output buffer that never overflows: appends past the end are dropped
 * and remembered, and the contents stay NUL-terminated. `base` may be NULL
 * (everything is dropped), which is how an absent `err` is handled.
 */
struct gomod__buf {
  char *base;
  size_t cap;
  size_t len;
  int overflow;
};

void gomod__buf_init(struct gomod__buf *b, char *base, size_t cap);
void gomod__buf_add(struct gomod__buf *b, const char *s, size_t n);
/** Appends a NUL-terminated string. */
void gomod__buf_str(struct gomod__buf *b, const char *s);
void gomod__buf_span(struct gomod__buf *b, struct gomod__span s);
/** Appends s[0:n] as Go's %q (strconv.Quote) writes it. */
void gomod__buf_quote(struct gomod__buf *b, const char *s, size_t n);
/** Appends the rune r as Go's %q (strconv.QuoteRune) writes it. */
void gomod__buf_quote_rune(struct gomod__buf *b, uint32_t r);
/** The length written, or -E2BIG if anything was dropped. */
int gomod__buf_result(const struct gomod__buf *b);
/** Writes s[0:n] to out (NUL-terminated): returns n or -E2BIG. */
int gomod__put(char *out, size_t outlen, const char *s, size_t n);

/**
 * A parsed semantic version (semver.parse). Every span points into the
 * parsed string, except minor/patch of a shorthand ("v1", "v1.2"), which
 * point at a static "0", and `shorthand`, the ".0.0"/".0"/"" that
 * Canonical appends.
 */
struct gomod__semver {
  struct gomod__span major; /* digits, without the 'v' */
  struct gomod__span minor;
  struct gomod__span patch;
  const char *shorthand;
  struct gomod__span prerelease; /* with its '-', or empty */
  struct gomod__span build;      /* with its '+', or empty */
};

/** semver.parse: 0 with *p filled in, or -EINVAL if v is not valid. */
int gomod__semver_parse(const char *v, struct gomod__semver *p);

/* Case folding for the zip collision check (fold.c): an FNV-1a hash of the
 * folded runes of s[0:n], and strings.EqualFold for valid UTF-8. */
uint32_t gomod__fold_hash(const char *s, size_t n);
int gomod__fold_equal(const char *a, size_t an, const char *b, size_t bn);

#endif
