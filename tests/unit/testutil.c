#include "testutil.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

size_t tsv_unescape(char *s) {
  char *w = s;
  for (char *r = s; *r != '\0'; r++) {
    if (r[0] == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
      *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
      r += 2;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
  return (size_t)(w - s);
}

int tsv_each(const char *name, int decode,
             void (*cb)(const struct tsv_row *row, void *arg), void *arg) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", TEST_DATA_DIR, name);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    fail_msg("cannot open %s", path);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rows = 0, lineno = 0;
  while ((n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (n > 0 && line[n - 1] == '\n')
      line[--n] = '\0';
    if (line[0] == '#')
      continue;
    struct tsv_row row = {.lineno = lineno};
    char *p = line;
    for (;;) {
      char *tab = strchr(p, '\t');
      if (row.nfields < TSV_MAX_FIELDS) {
        row.field[row.nfields] = p;
        row.nfields++;
      }
      if (tab == NULL)
        break;
      *tab = '\0';
      p = tab + 1;
    }
    for (int i = 0; i < row.nfields; i++)
      row.len[i] = decode ? tsv_unescape(row.field[i]) : strlen(row.field[i]);
    cb(&row, arg);
    rows++;
  }
  free(line);
  fclose(f);
  return rows;
}

int test_mkdtemp(char *dir, size_t cap, const char *name) {
  int n = snprintf(dir, cap, "/tmp/%s.XXXXXX", name);
  return n > 0 && (size_t)n < cap && mkdtemp(dir) != NULL ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void test_rm_tree(const char *dir) {
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
