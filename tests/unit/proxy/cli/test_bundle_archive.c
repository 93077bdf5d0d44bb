/*
 * Bundles as one archive (proxy/mirror/bundle_archive.c): the kind a name
 * says, packing a directory (manifest and signature first, a version's
 * files together, every byte back), and the reader's refusals: names out of
 * the bundle, links, devices, a member over the size limit (by its header),
 * and more members than the caller allows.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "bundle.h"
#include "testutil.h"

static char tmp[64];

static void put(const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/dir/%s", tmp, rel);
  assert_int_equal(bundle_mkdirs(path), 0);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void test_kind(void **state) {
  assert_int_equal(bundle_archive_kind("b.tar"), BUNDLE_TAR);
  assert_int_equal(bundle_archive_kind("b.tar.zst"), BUNDLE_TAR_ZST);
  assert_int_equal(bundle_archive_kind("b.tar.gz"), BUNDLE_TAR_GZ);
  assert_int_equal(bundle_archive_kind("b.tgz"), BUNDLE_TAR_GZ);
  assert_int_equal(bundle_archive_kind("bundle"), BUNDLE_DIR);
  assert_int_equal(bundle_archive_kind(".tar"), BUNDLE_DIR);
}

/* Reads every member of path (at most max) into names, joined by ' '. */
static int list(const char *path, size_t max, char *names, size_t cap,
                char *err, size_t errlen) {
  struct bundle_archive *a;
  int rc = bundle_archive_open(path, max, &a, err, errlen);
  if (rc < 0)
    return rc;
  names[0] = '\0';
  const char *name;
  uint64_t size;
  char buf[64];
  while ((rc = bundle_archive_next(a, &name, &size, err, errlen)) > 0) {
    snprintf(names + strlen(names), cap - strlen(names), "%s%s",
             names[0] != '\0' ? " " : "", name);
    int64_t n = bundle_archive_read(a, buf, sizeof buf - 1, err, errlen);
    assert_true(n >= 0 && (uint64_t)n == size);
  }
  bundle_archive_close(a);
  return rc;
}

static void test_pack_order(void **state) {
  put("modproxy-bundle.txt", "m\n");
  put("modproxy-bundle.sig", "s\n");
  put("a.com/x/@v/v1.0.0.zip", "z");
  put("a.com/x/@v/v1.0.0.info", "i");
  put("a.com/x/@v/v1.0.0.mod", "mod");
  put("a.com/x/@v/v1.0.0-pre.info", "p");
  put("a.com/x/@v/list", "v1.0.0\n");
  put("sumdb/db/latest", "l");
  static const enum bundle_archive_kind kinds[] = {BUNDLE_TAR, BUNDLE_TAR_ZST,
                                                   BUNDLE_TAR_GZ};
  for (size_t k = 0; k < 3; k++) {
    char dir[128], out[128], err[256] = "", names[1024];
    snprintf(dir, sizeof dir, "%s/dir", tmp);
    snprintf(out, sizeof out, "%s/b%zu", tmp, k);
    assert_int_equal(
        bundle_archive_pack(dir, out, kinds[k], 1, err, sizeof err), 0);
    assert_int_equal(list(out, 100, names, sizeof names, err, sizeof err), 0);
    assert_string_equal(names, "modproxy-bundle.txt modproxy-bundle.sig "
                               "a.com/x/@v/list a.com/x/@v/v1.0.0.info "
                               "a.com/x/@v/v1.0.0.mod a.com/x/@v/v1.0.0.zip "
                               "a.com/x/@v/v1.0.0-pre.info sumdb/db/latest");
    /* One member fewer than the archive holds: refused. */
    assert_int_equal(list(out, 7, names, sizeof names, err, sizeof err),
                     -EBADMSG);
    assert_string_equal(err,
                        "more than 7 members (the most a bundle may hold)");
  }
}

/* An archive of one member of the given name, type and header size: the
 * header alone (the writer is failed before it pads the data). */
static void one_member(const char *out, const char *name, mode_t type,
                       int64_t size, const char *link) {
  struct archive *a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0);
  assert_int_equal(archive_write_open_filename(a, out), ARCHIVE_OK);
  struct archive_entry *e = archive_entry_new();
  archive_entry_set_pathname(e, name);
  archive_entry_set_filetype(e, type);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, size);
  if (link != NULL)
    archive_entry_set_symlink(e, link);
  archive_write_header(a, e);
  archive_entry_free(e);
  if (size > 0)
    archive_write_fail(a);
  archive_write_close(a);
  archive_write_free(a);
}

static void test_refusals(void **state) {
  static const struct {
    const char *name;
    mode_t type;
    int64_t size;
    const char *link, *err;
  } cases[] = {
      {"../x", AE_IFREG, 0, NULL, "../x: not a relative path"},
      {"a/../../x", AE_IFREG, 0, NULL, "a/../../x: not a relative path"},
      {"/etc/x", AE_IFREG, 0, NULL, "/etc/x: not a relative path"},
      {"a//b", AE_IFREG, 0, NULL, "a//b: not a relative path"},
      {"a/./b", AE_IFREG, 0, NULL, "a/./b: not a relative path"},
      {"a\\b", AE_IFREG, 0, NULL, "a\\b: not a relative path"},
      {"x", AE_IFLNK, 0, "/etc/passwd", "x: a link"},
      {"x", AE_IFCHR, 0, NULL, "x: not a regular file"},
      {"x", AE_IFIFO, 0, NULL, "x: not a regular file"},
      {"x.zip", AE_IFREG, (int64_t)BUNDLE_ARCHIVE_MAX_MEMBER_BYTES + 1, NULL,
       "x.zip: 524288001 bytes, over the 500 MiB limit of a member"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char out[128], err[256] = "", names[256];
    snprintf(out, sizeof out, "%s/h%zu.tar", tmp, i);
    one_member(out, cases[i].name, cases[i].type, cases[i].size, cases[i].link);
    int rc = list(out, 100, names, sizeof names, err, sizeof err);
    if (rc != -EBADMSG || strstr(err, cases[i].err) != err)
      fail_msg("case %zu (%s): %d, \"%s\"", i, cases[i].name, rc, err);
  }
  /* The largest member allowed passes its header check ("./" cleaned). */
  char out[128], err[256] = "";
  snprintf(out, sizeof out, "%s/ok.tar", tmp);
  one_member(out, "./a/x.zip", AE_IFREG, BUNDLE_ARCHIVE_MAX_MEMBER_BYTES, NULL);
  struct bundle_archive *a;
  assert_int_equal(bundle_archive_open(out, 10, &a, err, sizeof err), 0);
  const char *name;
  uint64_t size;
  assert_int_equal(bundle_archive_next(a, &name, &size, err, sizeof err), 1);
  assert_string_equal(name, "a/x.zip");
  assert_int_equal(size, BUNDLE_ARCHIVE_MAX_MEMBER_BYTES);
  bundle_archive_close(a);
  bundle_archive_close(NULL);
}

static int setup(void **state) {
  return test_mkdtemp(tmp, sizeof tmp, "test_bundle_archive");
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kind),
      cmocka_unit_test(test_pack_order),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
