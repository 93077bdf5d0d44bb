/*
 * From `git archive --format=zip --prefix=prefix/` output to the module
 * zip, as codeRepo.Zip does it (runs on a worker thread: it reads and
 * writes files):
 *
 *  - every entry must sit under the one top-level "prefix/";
 *  - entries outside the module's directory are skipped, the directory
 *    prefix is removed, directory entries are skipped;
 *  - a module in a subdirectory without a LICENSE gets the repository
 *    root's LICENSE (read by the resolver), appended last;
 *  - zip.Create's rules then apply (gozip_create): symlinks (stored by git
 *    as such), vendor/ packages and nested modules are omitted.
 *
 * The archive is read with libzip; file kinds come from the Unix mode git
 * writes in each entry's external attributes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zip.h>

#include "modproxy/gozip.h"
#include "vcs_internal.h"

struct source {
  zip_t *za;
  zip_file_t *open;
  const struct vcs_zip_plan *plan;
  size_t license_off;
  int reading_license;
  int out_fd;
};

/* ctx of a file: its archive index + 1, or 0 for the LICENSE copy. */

static int src_open(void *ctx, const struct gozip_create_file *f) {
  struct source *s = ctx;
  uintptr_t idx = (uintptr_t)f->ctx;
  if (idx == 0) {
    s->reading_license = 1;
    s->license_off = 0;
    return 0;
  }
  s->reading_license = 0;
  s->open = zip_fopen_index(s->za, (zip_uint64_t)(idx - 1), 0);
  return s->open != NULL ? 0 : -EIO;
}

static int64_t src_read(void *ctx, void *buf, size_t len) {
  struct source *s = ctx;
  if (s->reading_license) {
    size_t left = s->plan->license_len - s->license_off;
    size_t n = left < len ? left : len;
    memcpy(buf, s->plan->license + s->license_off, n);
    s->license_off += n;
    return (int64_t)n;
  }
  zip_int64_t n = zip_fread(s->open, buf, len);
  return n < 0 ? -EIO : (int64_t)n;
}

static void src_close(void *ctx) {
  struct source *s = ctx;
  if (s->open != NULL)
    zip_fclose(s->open);
  s->open = NULL;
  s->reading_license = 0;
}

static int out_write(void *ctx, const void *buf, size_t len) {
  struct source *s = ctx;
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(s->out_fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int vcs_zip_build(int archive_fd, const char *module, const char *version,
                  const struct vcs_zip_plan *plan, int out_fd, char *err,
                  size_t errlen) {
  struct stat st;
  if (fstat(archive_fd, &st) < 0) {
    snprintf(err, errlen, "cannot read git's archive: %s", strerror(errno));
    return -errno;
  }
  if ((uint64_t)st.st_size > GOMOD_MAX_ZIP_BYTES) {
    snprintf(err, errlen, "downloaded zip file too large");
    return -E2BIG;
  }
  int fd = dup(archive_fd);
  if (fd < 0 || lseek(fd, 0, SEEK_SET) < 0) {
    snprintf(err, errlen, "cannot read git's archive: %s", strerror(errno));
    if (fd >= 0)
      close(fd);
    return -EIO;
  }
  int zerr = 0;
  zip_t *za = zip_fdopen(fd, ZIP_RDONLY, &zerr);
  if (za == NULL) {
    close(fd);
    snprintf(err, errlen, "git's archive is not a readable zip");
    return -EBADMSG;
  }
  zip_int64_t n = zip_get_num_entries(za, 0);
  struct gozip_create_file *files = calloc((size_t)n + 2, sizeof *files);
  char **names = calloc((size_t)n + 2, sizeof *names);
  int rc = 0;
  size_t count = 0;
  if (files == NULL || names == NULL) {
    rc = -ENOMEM;
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  char subdir[GOMOD_MAX_PATH_BYTES + 1] = "";
  if (plan->subdir[0] != '\0')
    snprintf(subdir, sizeof subdir, "%s/", plan->subdir);
  char top[256] = "";
  int have_license = 0;
  for (zip_int64_t i = 0; i < n; i++) {
    const char *name = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
    if (name == NULL)
      continue;
    if (top[0] == '\0') {
      const char *slash = strchr(name, '/');
      if (slash == NULL || (size_t)(slash - name) + 1 >= sizeof top) {
        rc = -EBADMSG;
        snprintf(err, errlen, "missing top-level directory prefix");
        goto out;
      }
      snprintf(top, sizeof top, "%.*s", (int)(slash - name) + 1, name);
    }
    if (strncmp(name, top, strlen(top)) != 0) {
      rc = -EBADMSG;
      snprintf(err, errlen,
               "zip file contains more than one top-level "
               "directory");
      goto out;
    }
    const char *rel = name + strlen(top);
    if (strncmp(rel, subdir, strlen(subdir)) != 0)
      continue;
    rel += strlen(subdir);
    size_t rl = strlen(rel);
    if (rl == 0 || rel[rl - 1] == '/')
      continue;
    zip_stat_t zs;
    zip_uint8_t opsys;
    zip_uint32_t attr;
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &zs) < 0 ||
        zip_file_get_external_attributes(za, (zip_uint64_t)i, 0, &opsys,
                                         &attr) < 0) {
      rc = -EBADMSG;
      snprintf(err, errlen, "git's archive is not a readable zip");
      goto out;
    }
    enum gozip_file_kind kind = GOZIP_FILE_REGULAR;
    if (opsys == ZIP_OPSYS_UNIX) {
      mode_t mode = (mode_t)(attr >> 16);
      if (S_ISLNK(mode))
        kind = GOZIP_FILE_SYMLINK;
      else if (S_ISDIR(mode))
        kind = GOZIP_FILE_DIR;
      else if (!S_ISREG(mode) && (mode & S_IFMT) != 0)
        kind = GOZIP_FILE_OTHER;
    }
    names[count] = strdup(rel);
    if (names[count] == NULL) {
      rc = -ENOMEM;
      snprintf(err, errlen, "out of memory");
      goto out;
    }
    files[count].path = names[count];
    files[count].kind = kind;
    files[count].size = zs.size;
    files[count].ctx = (void *)(uintptr_t)(i + 1);
    if (strcmp(rel, "LICENSE") == 0)
      have_license = 1;
    count++;
  }
  if (!have_license && subdir[0] != '\0' && plan->license != NULL) {
    files[count].path = "LICENSE";
    files[count].kind = GOZIP_FILE_REGULAR;
    files[count].size = plan->license_len;
    files[count].ctx = (void *)(uintptr_t)0;
    count++;
  }
  struct source src = {.za = za, .plan = plan, .out_fd = out_fd};
  struct gozip_create_io io = {
      .open = src_open,
      .read = src_read,
      .close = src_close,
      .write = out_write,
      .ctx = &src,
  };
  struct gozip_create_report rep;
  if (ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot write the zip: %s", strerror(errno));
    goto out;
  }
  rc = gozip_create(module, version, files, count, &io, &rep);
  if (rc < 0) {
    snprintf(err, errlen, "create zip: %s", rep.error);
    goto out;
  }
out:
  if (names != NULL) {
    for (size_t i = 0; i < (size_t)n + 2; i++)
      free(names[i]);
  }
  free(names);
  free(files);
  zip_discard(za);
  return rc;
}
