/*
 * Module zips: the reader and validator gozip_inspect (what every zip from
 * an upstream goes through at ingest), and the git archive -> module zip
 * conversion vcs_zip_build (libzip + gozip_create, what every zip of a
 * private module goes through).
 *
 * Input: one header line "<module> <version> [<subdir>]\n", then the zip
 * bytes. An input without a header line is all zip, for module
 * example.com/m at v1.0.0.
 *
 * Properties checked: gozip_inspect returns one of its documented codes,
 * and its report is consistent (violation messages terminated, no more
 * than it counted); a zip vcs_zip_build writes reads back through
 * gozip_inspect with no violation (what x/mod's Create writes, its
 * CheckZip accepts).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "modproxy/gozip.h"
#include "vcs_internal.h"

/* Bounds the work per input (entries are decompressed to be hashed). */
#define FUZZ_MAX_INPUT (1u << 20)

struct mem {
  const uint8_t *p;
  size_t n;
};

static int64_t mem_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  const struct mem *m = ctx;
  if (off >= m->n)
    return 0;
  size_t k = m->n - off < len ? m->n - off : len;
  memcpy(buf, m->p + off, k);
  return (int64_t)k;
}

static int64_t fd_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);
  return n < 0 ? -errno : n;
}

/* A reader that fails after some bytes, as a disk or socket may. */
static int64_t failing_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  const struct mem *m = ctx;
  if (off + len > m->n / 2 + 1)
    return -EIO;
  return mem_read_at(ctx, off, buf, len);
}

static void check_report(const struct gozip_report *rep, int rc) {
  FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -E2BIG || rc == -ENOMEM ||
                 rc == -EIO,
             "gozip_inspect returned %d", rc);
  FUZZ_CHECK(memchr(rep->error, '\0', sizeof rep->error) != NULL,
             "error not terminated");
  if (rc != 0) {
    FUZZ_CHECK(rep->error[0] != '\0',
               "gozip_inspect failed (%d) without a "
               "reason",
               rc);
    return;
  }
  FUZZ_CHECK(strncmp(rep->h1, "h1:", 3) == 0 && strlen(rep->h1) == 47,
             "bad h1 \"%s\"", rep->h1);
  uint64_t shown = rep->violation_count < GOZIP_MAX_VIOLATIONS
                       ? rep->violation_count
                       : GOZIP_MAX_VIOLATIONS;
  for (uint64_t i = 0; i < shown; i++) {
    FUZZ_CHECK(memchr(rep->violations[i], '\0', GOZIP_VIOLATION_BYTES) != NULL,
               "violation %llu not terminated", (unsigned long long)i);
    FUZZ_CHECK(rep->violations[i][0] != '\0', "violation %llu empty",
               (unsigned long long)i);
  }
}

static void git_archive(const uint8_t *zip, size_t n, const char *module,
                        const char *version, const char *subdir) {
  int in = memfd_create("archive", 0), out = memfd_create("zip", 0);
  if (in < 0 || out < 0)
    abort();
  for (size_t off = 0; off < n;) {
    ssize_t w = write(in, zip + off, n - off);
    if (w <= 0)
      abort();
    off += (size_t)w;
  }
  struct vcs_zip_plan plan;
  memset(&plan, 0, sizeof plan);
  snprintf(plan.hash, sizeof plan.hash, "%040d", 0);
  snprintf(plan.subdir, sizeof plan.subdir, "%s", subdir);
  static char license[] = "Copyright (c) the authors.\n";
  plan.license = license;
  plan.license_len = sizeof license - 1;
  char err[512];
  int rc = vcs_zip_build(in, module, version, &plan, out, err, sizeof err);
  if (rc == 0) {
    off_t size = lseek(out, 0, SEEK_END);
    struct gozip_reader r = {
        .size = (uint64_t)size, .read_at = fd_read_at, .ctx = &out};
    struct gozip_report rep;
    int irc = gozip_inspect(&r, module, version, &rep);
    FUZZ_CHECK(irc == 0,
               "the zip vcs_zip_build wrote does not read back: %d %s", irc,
               rep.error);
    FUZZ_CHECK(rep.violation_count == 0,
               "the zip vcs_zip_build wrote breaks %llu rules, first: %s",
               (unsigned long long)rep.violation_count, rep.violations[0]);
  } else {
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0',
               "vcs_zip_build failed (%d) without a reason", rc);
  }
  close(in);
  close(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_MAX_INPUT)
    return 0;
  char module[GOMOD_MAX_PATH_BYTES] = "example.com/m", version[128] = "v1.0.0",
       subdir[256] = "";
  const uint8_t *zip = data;
  size_t n = size;
  const uint8_t *nl = memchr(data, '\n', size < 1024 ? size : 1024);
  if (nl != NULL && (size < 2 || memcmp(data, "PK", 2) != 0)) {
    char *line = fuzz_strndup(data, (size_t)(nl - data));
    char m[GOMOD_MAX_PATH_BYTES], v[128], s[256];
    int k = sscanf(line, "%1023s %127s %255s", m, v, s);
    if (k >= 2) {
      snprintf(module, sizeof module, "%s", m);
      snprintf(version, sizeof version, "%s", v);
    }
    if (k == 3)
      snprintf(subdir, sizeof subdir, "%s", s);
    free(line);
    zip = nl + 1;
    n = size - (size_t)(nl + 1 - data);
  }
  /* Exactly the zip's bytes on the heap, so ASan sees reads past them. */
  uint8_t *copy = malloc(n > 0 ? n : 1);
  if (copy == NULL)
    abort();
  memcpy(copy, zip, n);
  struct mem m = {copy, n};

  struct gozip_reader r = {.size = n, .read_at = mem_read_at, .ctx = &m};
  struct gozip_report rep;
  int rc = gozip_inspect(&r, module, version, &rep);
  check_report(&rep, rc);
  /* A reader that lies about the size, and one that fails. */
  if (n > 0) {
    struct gozip_reader lie = {
        .size = n + 100, .read_at = mem_read_at, .ctx = &m};
    int lrc = gozip_inspect(&lie, module, version, &rep);
    FUZZ_CHECK(lrc < 0, "a zip with 100 bytes missing was accepted");
    struct gozip_reader bad = {
        .size = n, .read_at = failing_read_at, .ctx = &m};
    gozip_inspect(&bad, module, version, &rep);
  }
  git_archive(copy, n, module, version, subdir);
  free(copy);
  return 0;
}
