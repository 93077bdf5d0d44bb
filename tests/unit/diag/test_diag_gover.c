/*
 * Go versions as the go command orders them (diag/gover.c):
 *  - diag_gover_compare and diag_gover_lang against the Go team's own
 *    tables (gover.tsv: compareTests and langTests of Go 1.26's
 *    src/internal/gover/gover_test.go), each pair both ways round;
 *  - diag_toolchain_newest over a golang.org/toolchain @v/list.
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
#include "testutil.h"

#include "gomod_expect.h"

/* Rows in gover.tsv. */
#define GOVER_ROWS 30

/* func  x  y  want ("-" is the empty string) */
static void on_row(const struct tsv_row *row, void *arg) {
  want_fields(row, 4);
  const char *x = strcmp(row->field[1], "-") == 0 ? "" : row->field[1];
  const char *y = strcmp(row->field[2], "-") == 0 ? "" : row->field[2];
  if (strcmp(row->field[0], "Compare") == 0) {
    int want = atoi(row->field[3]);
    want_int(row->lineno, x, diag_gover_compare(x, y), want);
    want_int(row->lineno, y, diag_gover_compare(y, x), -want);
  } else {
    char lang[32];
    diag_gover_lang(x, lang, sizeof lang);
    want_str(row->lineno, x, lang, row->field[3]);
  }
  (*(int *)arg)++;
}

static void test_vectors(void **state) {
  int checked = 0;
  want_int(0, "gover.tsv rows", tsv_each("gover.tsv", 0, on_row, &checked),
           GOVER_ROWS);
  want_int(0, "rows checked", checked, GOVER_ROWS);
  /* The forms modproxy meets: `go env GOVERSION` and go.mod lines. */
  want_int(1, "go prefix", diag_gover_compare("go1.26.8", "1.27"), -1);
  want_int(2, "go line", diag_gover_compare("1.22.0", "go1.19.8"), 1);
  want_int(3, "language below rc", diag_gover_compare("go1.21rc1", "1.21"), 1);
}

static void test_toolchain_newest(void **state) {
  static const char list[] = "v0.0.1-go1.26.8.linux-amd64\n"
                             "v0.0.1-go1.27.3.linux-amd64\n"
                             "v0.0.1-go1.27.10.darwin-arm64\n"
                             "v0.0.1-go1.27rc2.linux-amd64\n"
                             "v0.0.1-go1.28.0.linux-amd64\n"
                             "v0.0.1-go1.27.99\n" /* no platform */
                             "v1.0.0\n";
  char out[64];
  want_int(1, "1.27",
           diag_toolchain_newest(list, strlen(list), "1.27", out, sizeof out),
           0);
  want_str(1, "1.27", out, "go1.27.10");
  want_int(
      2, "1.27rc1",
      diag_toolchain_newest(list, strlen(list), "1.27rc1", out, sizeof out), 0);
  want_str(2, "1.27rc1", out, "go1.27.10");
  want_int(3, "1.29",
           diag_toolchain_newest(list, strlen(list), "1.29", out, sizeof out),
           -ENOENT);
  want_int(
      4, "1.27.11",
      diag_toolchain_newest(list, strlen(list), "1.27.11", out, sizeof out),
      -ENOENT);
  want_int(5, "empty", diag_toolchain_newest(NULL, 0, "1.27", out, sizeof out),
           -ENOENT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_toolchain_newest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
