/*
 * Comparisons shared by the test_gomod_*.c programs. Each failure names the
 * vector row (file line) or case and what was compared. Include after
 * <cmocka.h> and testutil.h. (Not expect_*: cmocka owns those names.)
 */
#ifndef GOMOD_EXPECT_H
#define GOMOD_EXPECT_H

#include <stdio.h>
#include <string.h>

/** got must equal want; `line` is the vector file line (or a case index). */
static inline void want_str(int line, const char *what, const char *got,
                            const char *want) {
  if (strcmp(got, want) != 0)
    fail_msg("line %d: %s: got \"%s\", want \"%s\"", line, what, got, want);
}

static inline void want_int(int line, const char *what, long long got,
                            long long want) {
  if (got != want)
    fail_msg("line %d: %s: got %lld, want %lld", line, what, got, want);
}

/** A boolean result against a vector's "true"/"false" or "ok"/"fail". */
static inline void want_verdict(int line, const char *what, int got,
                                const char *want) {
  int w = strcmp(want, "true") == 0 || strcmp(want, "ok") == 0;
  if (!w && strcmp(want, "false") != 0 && strcmp(want, "fail") != 0)
    fail_msg("line %d: %s: bad verdict \"%s\" in vector", line, what, want);
  if (got != w)
    fail_msg("line %d: %s: got %s, want %s", line, what, got ? "true" : "false",
             want);
}

/** The row must have exactly n fields (the table's columns). */
static inline void want_fields(const struct tsv_row *row, int n) {
  want_int(row->lineno, "field count", row->nfields, n);
}

#endif
