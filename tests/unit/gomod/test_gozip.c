/*
 * Module zip inspection (proxy/gomod/zip.c). Zips are built in memory with
 * libzip (a few by hand, or computed on the fly by a reader for the
 * limits) and read back through a memory reader.
 *
 *  - x/mod v0.7.0's own zip test cases (tests/data/zip_testdata.tsv, txtar
 *    files in tests/data/zip/): h1 and the violations x/mod reports;
 *  - vectors computed with Go 1.19 and x/mod v0.7.0 (dirhash.HashZip,
 *    zip.CheckZip) for what the table does not cover: directory entries,
 *    repeated names, Unicode case folding, unclean paths, CRC 0;
 *  - the zip structure as archive/zip reads it: what it ignores (disk
 *    numbers, flags, data around the zip) and what it checks (counts,
 *    local headers, data descriptors);
 *  - damaged zips (truncated, cut, flipped bytes, wrong sizes, wrong CRC,
 *    unknown methods) are unreadable, never a crash;
 *  - the size and count limits give -E2BIG, and a reader error its errno.
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
#include <openssl/evp.h>
#include <zip.h>

#include "modproxy/gomod.h"
#include "modproxy/gozip.h"
#include "testutil.h"

#define MOD_PATH "example.com/m"
#define MOD_VERSION "v1.0.0"
#define PFX MOD_PATH "@" MOD_VERSION "/"

#define MAX_ENTRIES 64
#define TXTAR_MAX_FILES 32

/* ---- building zips ----------------------------------------------------- */

struct entry {
  const char *name;
  const void *data;
  size_t len;
};

#define ENTRY(n, s)                                                            \
  { (n), (s), sizeof(s) - 1 }

struct zipbuf {
  unsigned char *data;
  size_t len;
};

/* The zip Go writes for no files: the end record alone. */
static struct zipbuf empty_zip(void) {
  struct zipbuf z = {calloc(1, 22), 22};
  assert_non_null(z.data);
  memcpy(z.data, "PK\5\6", 4);
  return z;
}

/*
 * Writes the entries, in order, with `method` (ZIP_CM_DEFLATE or
 * ZIP_CM_STORE). libzip refuses a name twice, so a repeated name is written
 * under a placeholder of the same length (first byte 0x01, 0x02...) and the
 * bytes are put back afterwards in both headers.
 */
static struct zipbuf build_zip(const struct entry *e, size_t n,
                               zip_int32_t method) {
  struct zipbuf z = {0};
  char *names[MAX_ENTRIES];
  zip_error_t ze;
  zip_stat_t st;

  assert_true(n <= MAX_ENTRIES);
  if (n == 0)
    return empty_zip();
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
  assert_non_null(src);
  zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
  assert_non_null(za);
  zip_source_keep(src);
  for (size_t i = 0; i < n; i++) {
    names[i] = strdup(e[i].name);
    assert_non_null(names[i]);
    int copies = 0;
    for (size_t j = 0; j < i; j++)
      copies += strcmp(e[j].name, e[i].name) == 0;
    if (copies > 0) {
      assert_true(names[i][0] != '\0');
      names[i][0] = (char)copies;
    }
    zip_source_t *fs = zip_source_buffer(za, e[i].data, e[i].len, 0);
    assert_non_null(fs);
    zip_int64_t idx = zip_file_add(za, names[i], fs, ZIP_FL_ENC_GUESS);
    if (idx < 0)
      fail_msg("zip_file_add %s: %s", e[i].name, zip_strerror(za));
    /* Level 1: the fastest deflate, still with dynamic Huffman blocks. */
    assert_int_equal(zip_set_file_compression(za, (zip_uint64_t)idx, method, 1),
                     0);
  }
  if (zip_close(za) != 0)
    fail_msg("zip_close: %s", zip_strerror(za));
  assert_int_equal(zip_source_stat(src, &st), 0);
  z.len = st.size;
  z.data = malloc(z.len);
  assert_non_null(z.data);
  assert_int_equal(zip_source_open(src), 0);
  assert_int_equal(zip_source_read(src, z.data, z.len), (zip_int64_t)z.len);
  zip_source_close(src);
  zip_source_free(src);

  for (size_t i = 0; i < n; i++) {
    size_t nl = strlen(names[i]);
    if (strcmp(names[i], e[i].name) != 0) {
      int seen = 0;
      for (size_t off = 0; off + nl <= z.len; off++) {
        if (memcmp(z.data + off, names[i], nl) == 0) {
          memcpy(z.data + off, e[i].name, nl);
          seen++;
        }
      }
      assert_int_equal(seen, 2); /* local header and central directory */
    }
    free(names[i]);
  }
  return z;
}

/* ---- patching built zips ---------------------------------------------- */

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint16_t get16(const unsigned char *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static void put16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

/* Where entry `name` sits in a small zip without comment or zip64. */
struct located {
  size_t cd;    /* its central directory header */
  size_t local; /* its local header */
  size_t data;  /* its (compressed) data */
  uint32_t comp_size;
};

static size_t eocd_of(const struct zipbuf *z) {
  assert_true(z->len >= 22);
  size_t e = z->len - 22;
  assert_int_equal(get32(z->data + e), 0x06054b50);
  return e;
}

static struct located locate(const struct zipbuf *z, const char *name) {
  size_t e = eocd_of(z);
  size_t p = get32(z->data + e + 16);
  unsigned count = get16(z->data + e + 10);
  for (unsigned i = 0; i < count; i++) {
    assert_int_equal(get32(z->data + p), 0x02014b50);
    size_t nl = get16(z->data + p + 28);
    size_t next =
        p + 46 + nl + get16(z->data + p + 30) + get16(z->data + p + 32);
    if (nl == strlen(name) && memcmp(z->data + p + 46, name, nl) == 0) {
      struct located l = {.cd = p, .local = get32(z->data + p + 42)};
      assert_int_equal(get32(z->data + l.local), 0x04034b50);
      l.data = l.local + 30 + get16(z->data + l.local + 26) +
               get16(z->data + l.local + 28);
      l.comp_size = get32(z->data + p + 20);
      return l;
    }
    p = next;
  }
  fail_msg("entry %s not in the zip", name);
  return (struct located){0};
}

/* Sets a 32-bit field in both headers (CRC: 16/14, sizes: 20/18, 24/22). */
static void patch_both32(struct zipbuf *z, const struct located *l, int cd_off,
                         uint32_t v) {
  put32(z->data + l->cd + cd_off, v);
  put32(z->data + l->local + cd_off - 2, v);
}

#define CD_CRC 16
#define CD_COMP_SIZE 20
#define CD_SIZE 24

/* ---- reading ----------------------------------------------------------- */

/* A zip in memory; reads touching [fail_from, fail_to) fail with -EIO. */
struct mem {
  const unsigned char *data;
  size_t len;
  uint64_t fail_from;
  uint64_t fail_to;
  int reads;
};

static int64_t mem_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  struct mem *m = ctx;
  m->reads++;
  if (off < m->fail_to && off + len > m->fail_from)
    return -EIO;
  if (off >= m->len)
    return 0;
  if (len > m->len - off)
    len = m->len - off;
  memcpy(buf, m->data + off, len);
  return (int64_t)len;
}

static int inspect_as(const struct zipbuf *z, const char *path,
                      const char *version, struct gozip_report *rep) {
  struct mem m = {z->data, z->len, UINT64_MAX, UINT64_MAX, 0};
  struct gozip_reader r = {z->len, mem_read_at, &m};
  int rc = gozip_inspect(&r, path, version, rep);
  if (rc < 0)
    assert_true(rep->error[0] != '\0');
  else
    assert_memory_equal(rep->h1, "h1:", 3);
  return rc;
}

static int inspect(const struct zipbuf *z, struct gozip_report *rep) {
  return inspect_as(z, MOD_PATH, MOD_VERSION, rep);
}

static void free_zip(struct zipbuf *z) {
  free(z->data);
  z->data = NULL;
}

/* Builds, inspects, and checks the verdict of a readable zip. */
static void expect_zip(const struct entry *e, size_t n, const char *h1,
                       const char *const *violations, size_t nviolations) {
  struct gozip_report rep;
  struct zipbuf z = build_zip(e, n, ZIP_CM_DEFLATE);
  int rc = inspect(&z, &rep);
  if (rc != 0)
    fail_msg("rc %d: %s", rc, rep.error);
  assert_string_equal(rep.h1, h1);
  for (size_t i = 0; i < nviolations && i < rep.violation_count; i++)
    assert_string_equal(rep.violations[i], violations[i]);
  assert_int_equal(rep.violation_count, nviolations);
  free_zip(&z);
}

/* ---- txtar ------------------------------------------------------------- */

struct txtar_file {
  char *name;
  char *data;
  size_t len;
};

struct txtar {
  char *text;
  struct txtar_file files[TXTAR_MAX_FILES];
  int nfiles;
};

/* If p starts a "-- name --" line, returns the name (trimmed, in place)
 * and sets *after to the next line. */
static char *txtar_marker(char *p, char *end, char **after) {
  if (end - p < 3 || memcmp(p, "-- ", 3) != 0)
    return NULL;
  char *nl = memchr(p, '\n', (size_t)(end - p));
  char *le = nl != NULL ? nl : end;
  if (le - p < 6 || memcmp(le - 3, " --", 3) != 0)
    return NULL;
  char *s = p + 3, *t = le - 3;
  while (s < t && (*s == ' ' || *s == '\t'))
    s++;
  while (t > s && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r'))
    t--;
  *after = nl != NULL ? nl + 1 : end;
  *t = '\0';
  return s;
}

/* golang.org/x/tools/txtar.Parse, including its fixNL: every file's data
 * ends with a newline unless empty. Data is copied so the newline fits. */
static void txtar_load(const char *rel, struct txtar *a) {
  char path[1024];
  snprintf(path, sizeof path, "%s/zip/%s", TEST_DATA_DIR, rel);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("cannot open %s", path);
  memset(a, 0, sizeof *a);
  a->text = malloc(1 << 16);
  assert_non_null(a->text);
  size_t n = fread(a->text, 1, (1 << 16) - 1, f);
  fclose(f);
  char *end = a->text + n;
  char *p = a->text, *after = NULL, *name = NULL;

  /* The comment, then one file per marker. */
  for (char *q = p; q < end;) {
    name = txtar_marker(q, end, &after);
    if (name != NULL)
      break;
    char *nl = memchr(q, '\n', (size_t)(end - q));
    q = nl != NULL ? nl + 1 : end;
  }
  while (name != NULL) {
    struct txtar_file *tf = &a->files[a->nfiles++];
    assert_true(a->nfiles <= TXTAR_MAX_FILES);
    tf->name = name;
    char *start = after, *q = after;
    name = NULL;
    while (q < end) {
      char *next;
      char *nm = txtar_marker(q, end, &next);
      if (nm != NULL) {
        name = nm;
        after = next;
        break;
      }
      char *nl = memchr(q, '\n', (size_t)(end - q));
      q = nl != NULL ? nl + 1 : end;
    }
    tf->len = (size_t)(q - start);
    tf->data = malloc(tf->len + 2);
    assert_non_null(tf->data);
    memcpy(tf->data, start, tf->len);
    if (tf->len > 0 && tf->data[tf->len - 1] != '\n')
      tf->data[tf->len++] = '\n';
    tf->data[tf->len] = '\0';
  }
}

static void txtar_free(struct txtar *a) {
  for (int i = 0; i < a->nfiles; i++)
    free(a->files[i].data);
  free(a->text);
}

/* The txtar's files as zip entries, each name after `prefix`. */
static struct zipbuf txtar_zip(const struct txtar *a, const char *prefix,
                               char **names) {
  struct entry e[TXTAR_MAX_FILES] = {{0}};
  size_t n = 0;
  for (int i = 0; i < a->nfiles; i++) {
    if (strcmp(a->files[i].name, "want") == 0)
      continue;
    size_t len = strlen(prefix) + strlen(a->files[i].name) + 1;
    names[n] = malloc(len);
    assert_non_null(names[n]);
    snprintf(names[n], len, "%s%s", prefix, a->files[i].name);
    e[n] = (struct entry){names[n], a->files[i].data, a->files[i].len};
    n++;
  }
  struct zipbuf z = build_zip(e, n, ZIP_CM_DEFLATE);
  for (size_t i = 0; i < n; i++)
    free(names[i]);
  return z;
}

/* ---- x/mod's test cases ------------------------------------------------ */

struct tsv_stats {
  int rows, skipped, hashes, errors;
};

/* readTest's value cleanup: drop a '#' comment, trim spaces. */
static void strip_comment(char *s) {
  char *hash = strchr(s, '#');
  if (hash != NULL)
    *hash = '\0';
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
}

/* The TSV's "name=size;..." list must be what the txtar parser found. */
static void check_sizes(const struct tsv_row *row, const struct txtar *a) {
  char *list = strdup(row->field[5]);
  int i = 0;
  assert_non_null(list);
  for (char *item = strtok(list, ";"); item != NULL;
       item = strtok(NULL, ";"), i++) {
    char *eq = strrchr(item, '=');
    assert_non_null(eq);
    *eq = '\0';
    assert_true(i < a->nfiles);
    assert_string_equal(a->files[i].name, item);
    if ((size_t)atol(eq + 1) != a->files[i].len)
      fail_msg("line %d: %s: size %zu, want %s", row->lineno, item,
               a->files[i].len, eq + 1);
  }
  assert_int_equal(i, a->nfiles);
  free(list);
}

static int has_violation(const struct gozip_report *rep, const char *want) {
  for (uint64_t i = 0; i < rep->violation_count && i < GOZIP_MAX_VIOLATIONS;
       i++) {
    if (strstr(rep->violations[i], want) != NULL)
      return 1;
  }
  return 0;
}

/*
 * x/mod's "<name>: path does not have prefix ..." is reported in the go
 * command's words (see gozip.h), the check users actually meet.
 */
static void expected_error(const char *want, const char *path,
                           const char *version, char *out, size_t outlen) {
  const char *cut = strstr(want, ": path does not have prefix");
  if (cut == NULL) {
    snprintf(out, outlen, "%s", want);
    return;
  }
  snprintf(out, outlen, "zip for %s@%s has unexpected file %.*s", path, version,
           (int)(cut - want), want);
}

static void on_testdata_row(const struct tsv_row *row, void *arg) {
  struct tsv_stats *stats = arg;
  const char *txt = row->field[0];
  const char *prefix = "";
  char *names[TXTAR_MAX_FILES];
  struct txtar a;
  struct gozip_report rep;
  char want[512];

  assert_int_equal(row->nfields, 6);
  stats->rows++;
  if (strncmp(txt, "create/", 7) == 0 && strstr(txt, "exclude") == NULL) {
    prefix = NULL; /* Create adds "<path>@<version>/" to each name */
  } else if (strncmp(txt, "unzip/", 6) != 0 &&
             strncmp(txt, "check_zip/", 10) != 0) {
    stats->skipped++; /* what zip.Create or CheckDir leaves out */
    return;
  }
  char *path = row->field[1], *version = row->field[2];
  strip_comment(path);
  txtar_load(txt, &a);
  check_sizes(row, &a);
  char pfx[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 3];
  snprintf(pfx, sizeof pfx, "%s@%s/", path, version);
  struct zipbuf z = txtar_zip(&a, prefix != NULL ? prefix : pfx, names);

  int rc = inspect_as(&z, path, version, &rep);
  if (rc != 0)
    fail_msg("%s: rc %d (%s)", txt, rc, rep.error);
  if (row->field[3][0] != '\0') {
    if (rep.violation_count != 0)
      fail_msg("%s: unexpected violation %s", txt, rep.violations[0]);
    if (strcmp(rep.h1, row->field[3]) != 0)
      fail_msg("%s: h1 %s, want %s", txt, rep.h1, row->field[3]);
    stats->hashes++;
  }
  if (row->field[4][0] != '\0') {
    expected_error(row->field[4], path, version, want, sizeof want);
    if (!has_violation(&rep, want))
      fail_msg("%s: no violation contains \"%s\" (%llu, first: %s)", txt, want,
               (unsigned long long)rep.violation_count, rep.violations[0]);
    stats->errors++;
  }
  free_zip(&z);
  txtar_free(&a);
}

static void test_xmod_testdata(void **state) {
  struct tsv_stats stats = {0};
  tsv_each("zip_testdata.tsv", 1, on_testdata_row, &stats);
  print_message("zip_testdata.tsv: %d rows, %d skipped, %d hashes, %d "
                "errors\n",
                stats.rows, stats.skipped, stats.hashes, stats.errors);
  assert_int_equal(stats.rows, 48);
  assert_int_equal(stats.hashes, 6);
  assert_int_equal(stats.errors, 21);
}

/* CheckZip's full invalid list, in order, against the "want" file. */
static void check_zip_case(const char *txt, const char *path,
                           const char *version, int want_count) {
  char *names[TXTAR_MAX_FILES];
  struct txtar a;
  struct gozip_report rep;
  char want[512];
  const char *list = NULL;

  txtar_load(txt, &a);
  for (int i = 0; i < a.nfiles; i++) {
    if (strcmp(a.files[i].name, "want") == 0)
      list = a.files[i].data;
  }
  assert_non_null(list);
  list = strstr(list, "invalid:\n");
  assert_non_null(list);
  list += strlen("invalid:\n");

  struct zipbuf z = txtar_zip(&a, "", names);
  assert_int_equal(inspect_as(&z, path, version, &rep), 0);
  int k = 0;
  for (const char *line = list; *line != '\0';) {
    const char *nl = strchr(line, '\n');
    char item[512];
    snprintf(item, sizeof item, "%.*s", (int)(nl - line), line);
    expected_error(item, path, version, want, sizeof want);
    assert_true(k < GOZIP_MAX_VIOLATIONS);
    assert_string_equal(rep.violations[k], want);
    k++;
    line = nl + 1;
  }
  assert_int_equal(k, want_count);
  assert_int_equal(rep.violation_count, want_count);
  free_zip(&z);
  txtar_free(&a);
}

static void test_xmod_check_zip(void **state) {
  check_zip_case("check_zip/empty.txt", "example.com/empty", "v1.0.0", 0);
  check_zip_case("check_zip/various.txt", "example.com/various", "v1.0.0", 5);
}

/* ---- h1 vectors -------------------------------------------------------- */

static void test_h1_directory_entries(void **state) {
  /* GOPROXY-PROTOCOL.md 7.3. */
  const struct entry files[] = {
      ENTRY(PFX "go.mod", "module example.com/m\n"),
      ENTRY(PFX "a.go", "package m\n"),
  };
  const struct entry with_dir[] = {
      ENTRY(PFX, ""),
      ENTRY(PFX "go.mod", "module example.com/m\n"),
      ENTRY(PFX "a.go", "package m\n"),
  };
  expect_zip(files, 2, "h1:SXy42eQ/QbleX7vtuAPFnaM3tNuQnfeo7rulG/p7iOw=", NULL,
             0);
  expect_zip(with_dir, 3,
             "h1:b7KR3xYtxOCgxAkHd0W3O9FtN/63njZb4ggUqZG5DJI=", NULL, 0);
}

static void test_h1_stored_and_deflated_agree(void **state) {
  const struct entry files[] = {
      ENTRY(PFX "go.mod", "module example.com/m\n"),
      ENTRY(PFX "a.go", "package m\n"),
  };
  struct gozip_report rep;
  struct zipbuf z = build_zip(files, 2, ZIP_CM_STORE);
  assert_int_equal(get16(z.data + locate(&z, PFX "a.go").cd + 10),
                   ZIP_CM_STORE);
  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1,
                      "h1:SXy42eQ/QbleX7vtuAPFnaM3tNuQnfeo7rulG/p7iOw=");
  free_zip(&z);
}

/* dirhash.HashZip hashes a repeated name with its last entry's content. */
static void test_h1_duplicates_use_last_entry(void **state) {
  const struct entry dup[] = {
      ENTRY(PFX "go.mod", "module example.com/m\n"),
      ENTRY(PFX "a.go", "package one\n"),
      ENTRY(PFX "a.go", "package two\n"),
  };
  const struct entry reversed[] = {
      ENTRY(PFX "go.mod", "module example.com/m\n"),
      ENTRY(PFX "a.go", "package two\n"),
      ENTRY(PFX "a.go", "package one\n"),
  };
  const char *const v[] = {PFX "a.go: multiple entries for file \"a.go\""};
  expect_zip(dup, 3, "h1:OqCfiNx5rgfMQdmNtxtWgJyEcSqc77I61Zu39Wy0f7w=", v, 1);
  expect_zip(reversed, 3, "h1:8hnMWKUYWp2njS216svBRH9+yAE29H1ly+0TMGHOXzw=", v,
             1);
}

/* A file big enough to take many buffer loads: h1 of its SHA-256. */
static void test_h1_large_entry(void **state) {
  size_t len = (5u << 20) + 12345;
  unsigned char *data = malloc(len);
  struct gomod_h1_file f = {PFX "big.bin", {0}};
  char want[GOMOD_H1_BYTES];
  struct gozip_report rep;
  uint32_t x = 1;

  assert_non_null(data);
  for (size_t i = 0; i < len; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (unsigned char)(i % 7 == 0 ? x >> 24 : 'a' + i % 13);
  }
  assert_int_equal(EVP_Digest(data, len, f.sha256, NULL, EVP_sha256(), NULL),
                   1);
  assert_int_equal(gomod_h1(&f, 1, want), 0);
  struct entry e = {PFX "big.bin", data, len};
  struct zipbuf z = build_zip(&e, 1, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1, want);
  assert_int_equal(rep.uncompressed_bytes, len);
  free_zip(&z);
  free(data);
}

/* ---- name rules beyond the table --------------------------------------- */

static void test_fold_collisions_unicode(void **state) {
  const struct entry sigma[] = {ENTRY(PFX "Σ.go", "package m\n"),
                                ENTRY(PFX "ς.go", "package m\n")};
  const char *const sigma_v[] = {
      PFX "ς.go: case-insensitive file name collision: \"Σ.go\" and "
          "\"ς.go\""};
  const struct entry long_s[] = {ENTRY(PFX "s.go", "package m\n"),
                                 ENTRY(PFX "ſ.go", "package m\n")};
  const char *const long_s_v[] = {
      PFX "ſ.go: case-insensitive file name collision: \"s.go\" and "
          "\"ſ.go\""};
  const struct entry cyr[] = {ENTRY(PFX "д/a.go", "package m\n"),
                              ENTRY(PFX "Д/b.go", "package m\n")};
  const char *const cyr_v[] = {
      PFX "Д/b.go: case-insensitive file name collision: \"д\" and \"Д\""};

  expect_zip(sigma, 2,
             "h1:WIbPf2r5EVE3QRjBQNYOEKQVn+b6nb08TZwNBsGbeIQ=", sigma_v, 1);
  expect_zip(long_s, 2,
             "h1:wxZ+D12nPjqzCVpw0v/OTzUjugM05tfqUgJjfoh1XQQ=", long_s_v, 1);
  expect_zip(cyr, 2, "h1:kNikfy+orheclLc2adgLcdEYGO0kaHZ/4BPg7PizL+U=", cyr_v,
             1);
}

static void test_collisions_directories(void **state) {
  const struct entry parent[] = {ENTRY(PFX "a/b.go", "package m\n"),
                                 ENTRY(PFX "A/c.go", "package m\n")};
  const char *const parent_v[] = {
      PFX "A/c.go: case-insensitive file name collision: \"a\" and \"A\""};
  const struct entry dir_file[] = {ENTRY(PFX "a/", ""), ENTRY(PFX "a", "x")};
  const char *const dir_file_v[] = {
      PFX "a: entry \"a\" is both a file and a directory"};
  const struct entry dir_twice[] = {ENTRY(PFX "a/", ""), ENTRY(PFX "a/", ""),
                                    ENTRY(PFX "a/b.go", "package m\n")};

  expect_zip(parent, 2,
             "h1:6boJMuLhNfpWzFXF6e40f6Gu+czpj71cQIwbELyNtwo=", parent_v, 1);
  expect_zip(dir_file, 2,
             "h1:lldGzV0aBSYQem9g1uJGKsOctstL9zIhR0sKaqyscTY=", dir_file_v, 1);
  expect_zip(dir_twice, 3,
             "h1:G4V2z6x1zM7CwAqZ9l3lf5KRCPur1FipH0cqpJ3G0fc=", NULL, 0);
}

static void test_unclean_paths(void **state) {
  const struct entry e[] = {
      ENTRY(PFX "./a.go", "x"), ENTRY(PFX "..", "x"), ENTRY(PFX "a//b", "x"),
      ENTRY(PFX "/a", "x"),     ENTRY(PFX "b/", ""),  ENTRY(PFX "c//", ""),
      ENTRY(PFX "../x", ""),
  };
  const char *const v[] = {
      PFX "./a.go: file path is not clean",
      PFX "..: malformed file path \"..\": invalid path element \"..\"",
      PFX "a//b: file path is not clean",
      PFX "/a: malformed file path \"/a\": empty path element",
      PFX "c//: file path is not clean",
      PFX "../x: malformed file path \"../x\": invalid path element \"..\"",
  };
  expect_zip(e, 7, "h1:kwB/MBT7RkG2oU6kWiu00O+AUk6GPFCCdPByFG/UWl4=", v, 6);
}

static void test_report_fields(void **state) {
  struct entry e[12] = {
      ENTRY(PFX "go.mod", "module example.com/m\n"),
      ENTRY(PFX "LICENSE", "BSD\n"),
  };
  char names[10][24];
  struct gozip_report rep;

  for (int i = 0; i < 10; i++) {
    snprintf(names[i], sizeof names[i], "stray%d.go", i);
    e[2 + i] = (struct entry){names[i], "x", 1};
  }
  struct zipbuf z = build_zip(e, 12, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), 0);
  assert_int_equal(rep.entries, 12);
  assert_int_equal(rep.uncompressed_bytes, 21 + 4 + 10);
  assert_int_equal(rep.has_gomod, 1);
  /* All ten counted, the first GOZIP_MAX_VIOLATIONS kept. */
  assert_int_equal(rep.violation_count, 10);
  assert_string_equal(rep.violations[0], "zip for " MOD_PATH "@" MOD_VERSION
                                         " has unexpected file stray0.go");
  assert_string_equal(rep.violations[GOZIP_MAX_VIOLATIONS - 1],
                      "zip for " MOD_PATH "@" MOD_VERSION
                      " has unexpected file stray7.go");
  free_zip(&z);

  /* go.mod elsewhere is not the module's go.mod. */
  const struct entry sub[] = {ENTRY(PFX "sub/go.mod", "module x\n")};
  z = build_zip(sub, 1, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), 0);
  assert_int_equal(rep.has_gomod, 0);
  assert_int_equal(rep.violation_count, 1);
  free_zip(&z);
}

/* A bad module path or version is one violation; x/mod then checks no
 * file, and the h1 is still the zip's. */
static void test_module_errors_stop_file_checks(void **state) {
  const struct entry e[] = {ENTRY("noprefix", "x"), ENTRY("GO.MOD", "x")};
  struct gozip_report rep;
  struct zipbuf z = build_zip(e, 2, ZIP_CM_DEFLATE);
  char h1[GOMOD_H1_BYTES];

  assert_int_equal(inspect(&z, &rep), 0);
  assert_int_equal(rep.violation_count, 2);
  memcpy(h1, rep.h1, sizeof h1);

  assert_int_equal(inspect_as(&z, MOD_PATH, "v1.0", &rep), 0);
  assert_int_equal(rep.violation_count, 1);
  assert_string_equal(rep.violations[0],
                      "version \"v1.0\" is not canonical (should be "
                      "\"v1.0.0\")");
  assert_string_equal(rep.h1, h1);

  assert_int_equal(inspect_as(&z, "example.com/m/v2", MOD_VERSION, &rep), 0);
  assert_int_equal(rep.violation_count, 1);
  assert_non_null(strstr(rep.violations[0], "invalid version"));
  free_zip(&z);
}

static void test_newline_in_name(void **state) {
  const struct entry e[] = {ENTRY(PFX "a\nb.go", "x")};
  struct gozip_report rep;
  struct zipbuf z = build_zip(e, 1, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  assert_non_null(strstr(rep.error, "newline"));
  free_zip(&z);
}

/* ---- damaged zips ------------------------------------------------------ */

static const struct entry simple[] = {
    ENTRY(PFX "go.mod", "module example.com/m\n\ngo 1.13\n"),
    ENTRY(PFX "m.go", "package m\n\nfunc Foo() int { return 42 }\n"),
    ENTRY(PFX "cmd/hello/hello.go",
          "package main\n\nimport (\n  \"fmt\"\n  \"example.com/m\"\n)\n\n"
          "func main() {\n  fmt.Println(m.Foo())\n}\n"),
};
#define SIMPLE_H1 "h1:tpqYOOmuilagXzyqoJ3roUjp8gneQeTv5YVpL6BG7/k="

/* Text that deflates to a few hundred bytes of real Huffman codes. */
static char *prose(size_t len) {
  static const char *const words[] = {"module",  "proxy", "zip",   "hash",
                                      "entry",   "go",    "sum",   "path",
                                      "version", "check", "cache", "file"};
  char *s = malloc(len + 1);
  uint32_t x = 7;
  assert_non_null(s);
  size_t i = 0;
  while (i < len) {
    x = x * 1103515245u + 12345u;
    const char *w = words[(x >> 16) % 12];
    for (size_t k = 0; w[k] != '\0' && i < len; k++)
      s[i++] = w[k];
    if (i < len)
      s[i++] = (x >> 8) % 9 == 0 ? '\n' : ' ';
  }
  s[len] = '\0';
  return s;
}

static void test_truncated_every_offset(void **state) {
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_DEFLATE);
  struct gozip_report rep;

  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1, SIMPLE_H1);
  for (size_t cut = 0; cut < z.len; cut++) {
    struct zipbuf t = {z.data, cut};
    int rc = inspect(&t, &rep);
    if (rc != -EBADMSG)
      fail_msg("truncated at %zu of %zu: rc %d", cut, z.len, rc);
  }
  free_zip(&z);
}

/*
 * The entry data cut short while the central directory stays whole (its
 * offset moved to the cut): the entry's data then runs into the directory
 * and past the end. Tried at every offset of the data.
 */
static void test_data_cut_short(void **state) {
  char *text = prose(4000);
  struct entry e = {PFX "doc.txt", text, strlen(text)};
  struct zipbuf z = build_zip(&e, 1, ZIP_CM_DEFLATE);
  struct located l = locate(&z, PFX "doc.txt");
  size_t eocd = eocd_of(&z);
  size_t cd = get32(z.data + eocd + 16);
  size_t tail = z.len - cd;
  struct gozip_report rep;

  assert_int_equal(inspect(&z, &rep), 0);
  assert_true(l.comp_size > 100 && l.comp_size < 3000);
  for (size_t cut = l.data; cut < cd; cut++) {
    struct zipbuf t = {malloc(cut + tail), cut + tail};
    assert_non_null(t.data);
    memcpy(t.data, z.data, cut);
    memcpy(t.data + cut, z.data + cd, tail);
    put32(t.data + t.len - 22 + 16, (uint32_t)cut);
    int rc = inspect(&t, &rep);
    if (rc != -EBADMSG)
      fail_msg("data cut at %zu (data %zu..%zu): rc %d", cut, l.data, cd, rc);
    free_zip(&t);
  }
  free_zip(&z);
  free(text);
}

static void test_flipped_compressed_byte(void **state) {
  char *text = prose(4000);
  struct entry e = {PFX "doc.txt", text, strlen(text)};
  struct zipbuf z = build_zip(&e, 1, ZIP_CM_DEFLATE);
  struct located l = locate(&z, PFX "doc.txt");
  struct gozip_report rep;
  int tried = 0;

  assert_int_equal(get16(z.data + l.cd + 10), ZIP_CM_DEFLATE);
  /* Every byte but the last, whose unused padding bits may be flipped
   * harmlessly. */
  for (size_t off = l.data; off + 1 < l.data + l.comp_size; off++) {
    z.data[off] ^= 0xFF;
    int rc = inspect(&z, &rep);
    if (rc != -EBADMSG)
      fail_msg("byte %zu of the data flipped: rc %d", off - l.data, rc);
    z.data[off] ^= 0xFF;
    tried++;
  }
  assert_true(tried > 100);
  assert_int_equal(inspect(&z, &rep), 0);
  free_zip(&z);
  free(text);
}

/* Any byte anywhere: a verdict, never a crash (run it under ASan). */
static void test_every_byte_flipped(void **state) {
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_DEFLATE);
  struct gozip_report rep;
  int ok = 0, bad = 0;

  for (size_t off = 0; off < z.len; off++) {
    for (int bit = 0; bit < 8; bit += 3) {
      z.data[off] ^= (unsigned char)(1u << bit);
      int rc = inspect(&z, &rep);
      if (rc != 0 && rc != -EBADMSG && rc != -E2BIG)
        fail_msg("offset %zu bit %d: rc %d", off, bit, rc);
      ok += rc == 0;
      bad += rc != 0;
      z.data[off] ^= (unsigned char)(1u << bit);
    }
  }
  assert_true(ok > 0 && bad > 0);
  free_zip(&z);
}

static void test_declared_size_wrong(void **state) {
  struct gozip_report rep;
  for (int method = 0; method < 2; method++) {
    zip_int32_t cm = method == 0 ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    for (int delta = -1; delta <= 1; delta += 2) {
      struct zipbuf z = build_zip(simple, 3, cm);
      struct located l = locate(&z, PFX "m.go");
      uint32_t size = get32(z.data + l.cd + CD_SIZE);
      patch_both32(&z, &l, CD_SIZE, size + (uint32_t)delta);
      assert_int_equal(inspect(&z, &rep), -EBADMSG);
      assert_non_null(strstr(rep.error, delta < 0 ? "larger" : "smaller"));
      assert_non_null(strstr(rep.error, PFX "m.go"));
      free_zip(&z);
    }
  }
}

static void test_stored_compressed_size_wrong(void **state) {
  struct gozip_report rep;
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_STORE);
  struct located l = locate(&z, PFX "m.go");
  patch_both32(&z, &l, CD_COMP_SIZE, l.comp_size - 1);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  free_zip(&z);
}

static void test_crc(void **state) {
  struct gozip_report rep;
  for (int method = 0; method < 2; method++) {
    zip_int32_t cm = method == 0 ? ZIP_CM_DEFLATE : ZIP_CM_STORE;
    struct zipbuf z = build_zip(simple, 3, cm);
    struct located l = locate(&z, PFX "m.go");
    uint32_t crc = get32(z.data + l.cd + CD_CRC);

    patch_both32(&z, &l, CD_CRC, crc ^ 0x100);
    assert_int_equal(inspect(&z, &rep), -EBADMSG);
    assert_non_null(strstr(rep.error, "checksum error"));
    /* archive/zip does not check a CRC of 0 (and HashZip then gives the
     * usual h1: checked with Go 1.19 on a zip written by CreateRaw). */
    patch_both32(&z, &l, CD_CRC, 0);
    assert_int_equal(inspect(&z, &rep), 0);
    assert_string_equal(rep.h1, SIMPLE_H1);
    free_zip(&z);
  }
}

static void test_unsupported_method(void **state) {
  struct gozip_report rep;
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_DEFLATE);
  struct located l = locate(&z, PFX "m.go");
  put16(z.data + l.cd + 10, ZIP_CM_BZIP2);
  put16(z.data + l.local + 8, ZIP_CM_BZIP2);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  assert_non_null(strstr(rep.error, "unsupported compression"));
  free_zip(&z);
}

static void test_not_a_zip(void **state) {
  struct gozip_report rep;
  unsigned char junk[300];
  for (size_t i = 0; i < sizeof junk; i++)
    junk[i] = (unsigned char)(i * 37 + 11);
  struct zipbuf nothing = {junk, 0};
  struct zipbuf random = {junk, sizeof junk};
  assert_int_equal(inspect(&nothing, &rep), -EBADMSG);
  assert_int_equal(inspect(&random, &rep), -EBADMSG);

  /* The empty zip is a zip, with the h1 of no files. */
  struct zipbuf z = empty_zip();
  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1,
                      "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  free_zip(&z);
}

/* Pseudo-random bytes: they do not compress, so stored and deflated
 * sizes match the content size. */
static unsigned char *noise(size_t len, uint32_t seed) {
  unsigned char *b = malloc(len);
  assert_non_null(b);
  for (size_t i = 0; i < len; i++) {
    seed = seed * 1103515245u + 12345u;
    b[i] = (unsigned char)(seed >> 16);
  }
  return b;
}

static void test_reader_error_is_returned(void **state) {
  /* Two 80 KiB entries, so that the first one's data lies outside the
   * tail read to find the end record. */
  unsigned char *a = noise(80 << 10, 1), *b = noise(80 << 10, 2);
  struct entry e[] = {{PFX "a.bin", a, 80 << 10}, {PFX "b.bin", b, 80 << 10}};
  struct zipbuf z = build_zip(e, 2, ZIP_CM_STORE);
  struct located l = locate(&z, PFX "a.bin");
  struct gozip_report rep;

  /* Every read fails; then only those of a.bin's data. */
  struct mem all = {z.data, z.len, 0, UINT64_MAX, 0};
  struct mem data = {z.data, z.len, l.data, l.data + l.comp_size, 0};
  struct gozip_reader r1 = {z.len, mem_read_at, &all};
  struct gozip_reader r2 = {z.len, mem_read_at, &data};
  assert_int_equal(gozip_inspect(&r1, MOD_PATH, MOD_VERSION, &rep), -EIO);
  assert_true(rep.error[0] != '\0');
  assert_int_equal(gozip_inspect(&r2, MOD_PATH, MOD_VERSION, &rep), -EIO);
  assert_true(data.reads > 3);
  /* A reader with less data than its size says breaks its contract. */
  struct mem shorter = {z.data, z.len, UINT64_MAX, UINT64_MAX, 0};
  struct gozip_reader r3 = {z.len + 10, mem_read_at, &shorter};
  assert_int_equal(gozip_inspect(&r3, MOD_PATH, MOD_VERSION, &rep), -EIO);
  data.fail_from = data.fail_to = UINT64_MAX;
  assert_int_equal(gozip_inspect(&r2, MOD_PATH, MOD_VERSION, &rep), 0);
  free_zip(&z);
  free(a);
  free(b);
}

/* ---- limits ------------------------------------------------------------ */

static int64_t must_not_read(void *ctx, uint64_t off, void *buf, size_t len) {
  fail_msg("read at %llu", (unsigned long long)off);
  return -EIO;
}

static void test_limit_zip_file_size(void **state) {
  struct gozip_reader r = {(uint64_t)GOMOD_MAX_ZIP_BYTES + 1, must_not_read,
                           NULL};
  struct gozip_report rep;
  assert_int_equal(gozip_inspect(&r, MOD_PATH, MOD_VERSION, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "module zip file is too large"));
}

/* Declared sizes are refused before anything is decompressed. */
static void test_limit_declared_sizes(void **state) {
  struct gozip_report rep;
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_DEFLATE);
  struct located gomod = locate(&z, PFX "go.mod");
  struct located m = locate(&z, PFX "m.go");
  struct located hello = locate(&z, PFX "cmd/hello/hello.go");
  uint32_t m_size = get32(z.data + m.cd + CD_SIZE);

  /* Two entries under the limit each, over it together. */
  patch_both32(&z, &m, CD_SIZE, GOMOD_MAX_ZIP_BYTES / 2 + 1);
  patch_both32(&z, &hello, CD_SIZE, GOMOD_MAX_ZIP_BYTES / 2);
  assert_int_equal(inspect(&z, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "total uncompressed size"));
  /* Together exactly at the limit: no -E2BIG (the data is then shorter than
   * declared); one byte more is over it. */
  uint32_t gomod_size = get32(z.data + gomod.cd + CD_SIZE);
  patch_both32(&z, &m, CD_SIZE, GOMOD_MAX_ZIP_BYTES / 2);
  patch_both32(&z, &hello, CD_SIZE,
               GOMOD_MAX_ZIP_BYTES - GOMOD_MAX_ZIP_BYTES / 2 - gomod_size);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  patch_both32(&z, &hello, CD_SIZE,
               GOMOD_MAX_ZIP_BYTES - GOMOD_MAX_ZIP_BYTES / 2 - gomod_size + 1);
  assert_int_equal(inspect(&z, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "total uncompressed size"));

  /* go.mod over its own limit. */
  patch_both32(&z, &m, CD_SIZE, m_size);
  patch_both32(&z, &hello, CD_SIZE, 1);
  patch_both32(&z, &gomod, CD_SIZE, GOMOD_MAX_GOMOD_BYTES + 1);
  assert_int_equal(inspect(&z, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "go.mod file too large"));

  /* Just at it: no -E2BIG; the data is then shorter than declared. */
  patch_both32(&z, &gomod, CD_SIZE, GOMOD_MAX_GOMOD_BYTES);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  free_zip(&z);
}

static void test_limit_gomod_license_real(void **state) {
  size_t len = GOMOD_MAX_GOMOD_BYTES + 1;
  char *big = malloc(len);
  struct gozip_report rep;
  assert_non_null(big);
  memset(big, '\n', len);
  memcpy(big, "module example.com/m\n", 21);

  struct entry e[] = {{PFX "go.mod", big, len - 1},
                      ENTRY(PFX "LICENSE", "MIT\n"),
                      ENTRY(PFX "sub/LICENSE", "MIT\n")};
  struct zipbuf z = build_zip(e, 3, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), 0);
  assert_int_equal(rep.violation_count, 0);
  free_zip(&z);

  e[0].len = len;
  z = build_zip(e, 3, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), -E2BIG);
  free_zip(&z);

  /* LICENSE has the same limit at the root only. */
  e[0].len = 21;
  e[1] = (struct entry){PFX "LICENSE", big, GOMOD_MAX_LICENSE_BYTES + 1};
  z = build_zip(e, 3, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "LICENSE file too large"));
  free_zip(&z);
  e[1] = (struct entry)ENTRY(PFX "LICENSE", "MIT\n");
  e[2] = (struct entry){PFX "sub/LICENSE", big, GOMOD_MAX_LICENSE_BYTES + 1};
  z = build_zip(e, 3, ZIP_CM_DEFLATE);
  assert_int_equal(inspect(&z, &rep), 0);
  free_zip(&z);
  free(big);
}

/* The end record counts entries but archive/zip reads headers until one
 * fails: a count or directory size that does not match is unreadable. */
static void test_declared_counts_not_trusted(void **state) {
  struct gozip_report rep;
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_DEFLATE);
  size_t eocd = eocd_of(&z);

  /* A zip64 end record claiming GOZIP_MAX_ENTRIES + 1. */
  struct zipbuf big = {malloc(z.len + 76), z.len + 76};
  assert_non_null(big.data);
  memcpy(big.data, z.data, eocd);
  unsigned char *r64 = big.data + eocd, *loc = r64 + 56, *end = loc + 20;
  memset(r64, 0, 76);
  put32(r64, 0x06064b50);
  put32(r64 + 4, 44);
  put32(r64 + 24, GOZIP_MAX_ENTRIES + 1);
  put32(r64 + 32, GOZIP_MAX_ENTRIES + 1);
  put32(r64 + 40, get32(z.data + eocd + 12)); /* directory size */
  put32(r64 + 48, get32(z.data + eocd + 16)); /* directory offset */
  put32(loc, 0x07064b50);
  put32(loc + 8, (uint32_t)eocd);
  put32(loc + 16, 1);
  memcpy(end, z.data + eocd, 22);
  put16(end + 8, 0xFFFF);
  put16(end + 10, 0xFFFF);
  assert_int_equal(inspect(&big, &rep), -EBADMSG);
  /* Without the count, the same zip64 records are fine. */
  put32(r64 + 24, 3);
  put32(r64 + 32, 3);
  assert_int_equal(inspect(&big, &rep), 0);
  assert_string_equal(rep.h1, SIMPLE_H1);
  free_zip(&big);

  put16(z.data + eocd + 10, 4);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  put16(z.data + eocd + 10, 3);
  put32(z.data + eocd + 12, (64u << 20) + 1);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  free_zip(&z);
}

/* What archive/zip ignores or works around, and libzip would refuse:
 * data before and after the zip, a wrong directory size, disk numbers, the
 * encryption flag, the UTF-8 flag on a name that is not UTF-8. Checked
 * with Go 1.19. */
static void test_structure_as_archive_zip(void **state) {
  struct gozip_report rep;
  struct zipbuf z = build_zip(simple, 3, ZIP_CM_DEFLATE);
  size_t eocd = eocd_of(&z);

  struct zipbuf moved = {malloc(z.len + 200), z.len + 200};
  assert_non_null(moved.data);
  memset(moved.data, '#', 120);
  memcpy(moved.data + 120, z.data, z.len);
  memcpy(moved.data + 120 + z.len, "trailing junk after the end record", 35);
  moved.len = 120 + z.len + 35;
  assert_int_equal(inspect(&moved, &rep), 0);
  assert_string_equal(rep.h1, SIMPLE_H1);
  free_zip(&moved);

  /* A directory size too small: archive/zip looks for the directory at
   * the wrong place, then once more without the base offset. */
  put32(z.data + eocd + 12, get32(z.data + eocd + 12) - 10);
  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1, SIMPLE_H1);

  put16(z.data + eocd + 4, 1);
  put16(z.data + eocd + 6, 2);
  put16(z.data + eocd + 8, 1);
  z.data[locate(&z, PFX "m.go").cd + 8] |= 1; /* "encrypted" */
  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1, SIMPLE_H1);
  free_zip(&z);

  const struct entry bad_utf8[] = {ENTRY(PFX "a\xff"
                                             "b.go",
                                         "x")};
  z = build_zip(bad_utf8, 1, ZIP_CM_DEFLATE);
  z.data[locate(&z, PFX "a\xff"
                        "b.go")
             .cd +
         9] |= 0x08; /* UTF-8 flag */
  assert_int_equal(inspect(&z, &rep), 0);
  assert_int_equal(rep.violation_count, 1);
  assert_non_null(strstr(rep.violations[0], "invalid UTF-8"));
  free_zip(&z);
}

static uint32_t crc32_of(const void *data, size_t len) {
  const unsigned char *p = data;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = c >> 1 ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

/*
 * One stored entry the way Go's zip.Writer streams it: sizes and CRC 0 in
 * the local header, flag 0x8, a data descriptor (with or without its
 * signature) after the data.
 */
static struct zipbuf descriptor_zip(const char *name, const char *data,
                                    int with_sig, uint32_t desc_crc,
                                    uint32_t dir_crc) {
  size_t nl = strlen(name), dl = strlen(data), dd = with_sig ? 16 : 12;
  size_t cd = 30 + nl + dl + dd;
  struct zipbuf z = {calloc(1, cd + 46 + nl + 22), cd + 46 + nl + 22};
  unsigned char *p = z.data;
  assert_non_null(p);
  put32(p, 0x04034b50);
  put16(p + 4, 20);
  put16(p + 6, 0x8);
  put16(p + 26, (uint16_t)nl);
  memcpy(p + 30, name, nl);
  memcpy(p + 30 + nl, data, dl);
  p += 30 + nl + dl;
  if (with_sig) {
    put32(p, 0x08074b50);
    p += 4;
  }
  put32(p, desc_crc);
  put32(p + 4, (uint32_t)dl);
  put32(p + 8, (uint32_t)dl);
  p = z.data + cd;
  put32(p, 0x02014b50);
  put16(p + 4, 20);
  put16(p + 6, 20);
  put16(p + 8, 0x8);
  put32(p + 16, dir_crc);
  put32(p + 20, (uint32_t)dl);
  put32(p + 24, (uint32_t)dl);
  put16(p + 28, (uint16_t)nl);
  memcpy(p + 46, name, nl);
  p += 46 + nl;
  put32(p, 0x06054b50);
  put16(p + 8, 1);
  put16(p + 10, 1);
  put32(p + 12, (uint32_t)(46 + nl));
  put32(p + 16, (uint32_t)cd);
  return z;
}

static void test_data_descriptor(void **state) {
  const char *data = "package m\n";
  uint32_t crc = crc32_of(data, strlen(data));
  const struct entry plain = ENTRY(PFX "a.go", "package m\n");
  struct gozip_report rep;
  char want[GOMOD_H1_BYTES];

  struct zipbuf z = build_zip(&plain, 1, ZIP_CM_STORE);
  assert_int_equal(inspect(&z, &rep), 0);
  memcpy(want, rep.h1, sizeof want);
  free_zip(&z);
  for (int sig = 0; sig < 2; sig++) {
    z = descriptor_zip(PFX "a.go", data, sig, crc, crc);
    assert_int_equal(inspect(&z, &rep), 0);
    assert_string_equal(rep.h1, want);
    free_zip(&z);
    /* The descriptor's CRC must be the directory's. */
    z = descriptor_zip(PFX "a.go", data, sig, crc ^ 1, crc);
    assert_int_equal(inspect(&z, &rep), -EBADMSG);
    assert_non_null(strstr(rep.error, "checksum error"));
    free_zip(&z);
    /* A CRC of 0 is checked when there is a descriptor. */
    z = descriptor_zip(PFX "a.go", data, sig, 0, 0);
    assert_int_equal(inspect(&z, &rep), -EBADMSG);
    free_zip(&z);
  }
}

/* libzip reads nothing of an empty stored entry; archive/zip reads its
 * local header and checks its CRC. */
static void test_empty_entries_are_read(void **state) {
  const struct entry e[] = {ENTRY(PFX "empty.go", ""),
                            ENTRY(PFX "a.go", "package m\n")};
  struct gozip_report rep;
  struct zipbuf z = build_zip(e, 2, ZIP_CM_STORE);
  struct located l = locate(&z, PFX "empty.go");

  assert_int_equal(inspect(&z, &rep), 0);
  z.data[l.local] ^= 0xFF;
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  z.data[l.local] ^= 0xFF;
  put32(z.data + l.cd + CD_CRC, 0x1234);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  put32(z.data + l.cd + CD_CRC, 0);
  /* Data where none is declared is too much. */
  patch_both32(&z, &l, CD_COMP_SIZE, 2);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  free_zip(&z);
}

/* HashZip reads only the last entry of a repeated name: damage in an
 * earlier copy goes unseen (x/mod then reports the repeated name). */
static void test_earlier_copy_not_read(void **state) {
  const struct entry e[] = {ENTRY(PFX "a.go", "package one // first\n"),
                            ENTRY(PFX "a.go", "package two\n")};
  struct gozip_report rep;
  struct zipbuf z = build_zip(e, 2, ZIP_CM_STORE);
  char h1[GOMOD_H1_BYTES];

  assert_int_equal(inspect(&z, &rep), 0);
  memcpy(h1, rep.h1, sizeof h1);
  size_t first = get32(z.data + eocd_of(&z) + 16);
  assert_int_equal(get32(z.data + first + 42), 0); /* the first copy */
  z.data[30 + strlen(PFX "a.go") + 3] ^= 0xFF;
  assert_int_equal(inspect(&z, &rep), 0);
  assert_string_equal(rep.h1, h1);
  assert_int_equal(rep.violation_count, 1);
  free_zip(&z);
}

/* A deflate stream cut before its end-of-block code, all its data out:
 * archive/zip reports an unexpected EOF. */
static void test_deflate_without_end(void **state) {
  const struct entry e = ENTRY(PFX "a.go", "package m\n\nfunc A() {}\n");
  struct gozip_report rep;
  struct zipbuf z = build_zip(&e, 1, ZIP_CM_DEFLATE);
  struct located l = locate(&z, PFX "a.go");

  assert_int_equal(inspect(&z, &rep), 0);
  patch_both32(&z, &l, CD_COMP_SIZE, l.comp_size - 1);
  assert_int_equal(inspect(&z, &rep), -EBADMSG);
  free_zip(&z);
}

/* A zip computed on the fly, without memory: one local entry, then
 * `count` central headers pointing at it, each followed by `comment` zero
 * bytes of comment, then the end record. The headers repeat one name, or,
 * with `numbered`, put their index in the 6 digits at name offset 22. */
struct synth {
  unsigned char head[128];
  size_t head_len;
  unsigned char rec[128];
  size_t rec_len;
  size_t comment;
  uint64_t count;
  int numbered;
  unsigned char end[22];
};

#define SYNTH_DIGITS_AT (46 + 22)

static uint64_t synth_size(const struct synth *s) {
  return s->head_len + s->count * (s->rec_len + s->comment) + 22;
}

static int64_t synth_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  const struct synth *s = ctx;
  uint64_t size = synth_size(s), cd_end = size - 22;
  unsigned char *out = buf;
  size_t done = 0;
  if (off >= size)
    return 0;
  if (len > size - off)
    len = (size_t)(size - off);
  while (done < len) {
    uint64_t pos = off + done;
    size_t n;
    if (pos < s->head_len) {
      n = s->head_len - (size_t)pos;
      n = n < len - done ? n : len - done;
      memcpy(out + done, s->head + pos, n);
    } else if (pos < cd_end) {
      uint64_t in_rec = (pos - s->head_len) % (s->rec_len + s->comment);
      if (in_rec < s->rec_len) {
        unsigned char rec[128];
        uint64_t index = (pos - s->head_len) / (s->rec_len + s->comment);
        memcpy(rec, s->rec, s->rec_len);
        for (int k = 5; s->numbered && k >= 0; k--, index /= 10)
          rec[SYNTH_DIGITS_AT + k] = (unsigned char)('0' + index % 10);
        n = s->rec_len - (size_t)in_rec;
        n = n < len - done ? n : len - done;
        memcpy(out + done, rec + in_rec, n);
      } else {
        n = s->rec_len + s->comment - (size_t)in_rec;
        n = n < len - done ? n : len - done;
        memset(out + done, 0, n);
      }
    } else {
      n = (size_t)(size - pos);
      n = n < len - done ? n : len - done;
      memcpy(out + done, s->end + (pos - cd_end), n);
    }
    done += n;
  }
  return (int64_t)done;
}

static int synth_inspect(uint64_t count, size_t comment, int numbered,
                         struct gozip_report *rep) {
  /* The digits of a numbered name are at SYNTH_DIGITS_AT. */
  const char *name = numbered ? PFX "d000000/a/b/c/d/e/f.go" : PFX "a.go";
  const size_t nl = strlen(name);
  struct synth s = {.count = count, .comment = comment, .numbered = numbered};

  put32(s.head, 0x04034b50);
  put16(s.head + 4, 10);
  put16(s.head + 26, (uint16_t)nl);
  memcpy(s.head + 30, name, nl);
  s.head_len = 30 + nl;
  put32(s.rec, 0x02014b50);
  put16(s.rec + 28, (uint16_t)nl);
  put16(s.rec + 32, (uint16_t)comment);
  memcpy(s.rec + 46, name, nl);
  s.rec_len = 46 + nl;
  /* archive/zip checks the count modulo 65536 only. */
  put32(s.end, 0x06054b50);
  put16(s.end + 8, (uint16_t)count);
  put16(s.end + 10, (uint16_t)count);
  put32(s.end + 12, (uint32_t)(count * (s.rec_len + comment)));
  put32(s.end + 16, (uint32_t)s.head_len);

  struct gozip_reader r = {synth_size(&s), synth_read_at, &s};
  return gozip_inspect(&r, MOD_PATH, MOD_VERSION, rep);
}

static void test_limit_entry_count(void **state) {
  struct gozip_report rep;
  assert_int_equal(synth_inspect(3, 0, 0, &rep), 0);
  assert_int_equal(rep.entries, 3);
  assert_int_equal(rep.violation_count, 2); /* the repeated name */
  assert_int_equal(synth_inspect(GOZIP_MAX_ENTRIES, 0, 0, &rep), 0);
  assert_int_equal(rep.entries, GOZIP_MAX_ENTRIES);
  assert_int_equal(synth_inspect(GOZIP_MAX_ENTRIES + 1, 0, 0, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "too many entries"));
}

/* Central directory bytes (headers, names, extras, comments) are capped
 * at 64 MiB: 1000 headers with 64 KiB comments fit, 1030 do not. */
static void test_limit_central_directory(void **state) {
  struct gozip_report rep;
  assert_int_equal(synth_inspect(1000, 0xFFFF, 0, &rep), 0);
  assert_int_equal(synth_inspect(1030, 0xFFFF, 0, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "central directory too large"));
}

/* The collision check tracks up to 2^20 files and directories: each entry
 * here brings 7 (its file and 6 directories). */
static void test_limit_paths(void **state) {
  struct gozip_report rep;
  assert_int_equal(synth_inspect(3, 0, 1, &rep), 0);
  assert_int_equal(rep.violation_count, 0);
  assert_int_equal(synth_inspect(140000, 0, 1, &rep), 0);
  assert_int_equal(rep.violation_count, 0);
  assert_int_equal(synth_inspect(150000, 0, 1, &rep), -E2BIG);
  assert_non_null(strstr(rep.error, "too many files and directories"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xmod_testdata),
      cmocka_unit_test(test_xmod_check_zip),
      cmocka_unit_test(test_h1_directory_entries),
      cmocka_unit_test(test_h1_stored_and_deflated_agree),
      cmocka_unit_test(test_h1_duplicates_use_last_entry),
      cmocka_unit_test(test_h1_large_entry),
      cmocka_unit_test(test_fold_collisions_unicode),
      cmocka_unit_test(test_collisions_directories),
      cmocka_unit_test(test_unclean_paths),
      cmocka_unit_test(test_report_fields),
      cmocka_unit_test(test_module_errors_stop_file_checks),
      cmocka_unit_test(test_newline_in_name),
      cmocka_unit_test(test_truncated_every_offset),
      cmocka_unit_test(test_data_cut_short),
      cmocka_unit_test(test_flipped_compressed_byte),
      cmocka_unit_test(test_every_byte_flipped),
      cmocka_unit_test(test_declared_size_wrong),
      cmocka_unit_test(test_stored_compressed_size_wrong),
      cmocka_unit_test(test_crc),
      cmocka_unit_test(test_unsupported_method),
      cmocka_unit_test(test_not_a_zip),
      cmocka_unit_test(test_reader_error_is_returned),
      cmocka_unit_test(test_limit_zip_file_size),
      cmocka_unit_test(test_limit_declared_sizes),
      cmocka_unit_test(test_limit_gomod_license_real),
      cmocka_unit_test(test_declared_counts_not_trusted),
      cmocka_unit_test(test_structure_as_archive_zip),
      cmocka_unit_test(test_data_descriptor),
      cmocka_unit_test(test_empty_entries_are_read),
      cmocka_unit_test(test_earlier_copy_not_read),
      cmocka_unit_test(test_deflate_without_end),
      cmocka_unit_test(test_limit_entry_count),
      cmocka_unit_test(test_limit_central_directory),
      cmocka_unit_test(test_limit_paths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
