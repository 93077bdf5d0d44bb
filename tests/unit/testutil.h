/* Helpers shared by the cmocka programs: reading the x/mod vector tables,
 * removing temporary directories. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

#define TSV_MAX_FIELDS 16

/** One row of a vector table: fields percent-decoded, NUL-terminated. */
struct tsv_row {
  int nfields;
  char *field[TSV_MAX_FIELDS];
  size_t len[TSV_MAX_FIELDS]; /* decoded length (fields may hold NUL bytes) */
  int lineno;
};

/**
 * Calls cb for every data row of TEST_DATA_DIR/name (lines starting with '#'
 * are skipped). Fields are percent-decoded when `decode` is set. Fails the
 * test if the file cannot be read. Returns the number of rows.
 */
int tsv_each(const char *name, int decode,
             void (*cb)(const struct tsv_row *row, void *arg), void *arg);

/** Percent-decodes s in place; returns the decoded length. */
size_t tsv_unescape(char *s);

/** Makes a new, empty directory /tmp/NAME.<random> (mkdtemp) and writes
 *  its path to dir (cap bytes). Returns 0, or -1 when it cannot. */
int test_mkdtemp(char *dir, size_t cap, const char *name);

/** Removes dir and everything below it (a test's temporary directory). */
void test_rm_tree(const char *dir);

#endif
