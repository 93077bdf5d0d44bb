/*
 * Bundles as one file (bundle.h): a tar archive, plain, zstd or gzip
 * compressed, written and read through libarchive. Writing packs a finished
 * bundle directory; reading streams the members one at a time and checks
 * each header before the caller sees its bytes, so a hostile archive (a
 * path out of the bundle, a link, a device, a member of gigabytes, millions
 * of members) is refused by name. Blocking I/O: command-line tools only.
 */
#include "bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

/* Bytes copied per read while packing. */
#define ARCHIVE_COPY_BYTES (1u << 20)

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n > k && strcmp(s + n - k, suffix) == 0;
}

enum bundle_archive_kind bundle_archive_kind(const char *path) {
  if (has_suffix(path, ".tar"))
    return BUNDLE_TAR;
  if (has_suffix(path, ".tar.zst"))
    return BUNDLE_TAR_ZST;
  if (has_suffix(path, ".tar.gz") || has_suffix(path, ".tgz"))
    return BUNDLE_TAR_GZ;
  return BUNDLE_DIR;
}

/* ---- packing ---------------------------------------------------------------- */

struct pack_list {
  char **v;
  size_t n, cap;
};

static int list_add(void *ctx, const char *rel) {
  struct pack_list *l = ctx;
  if (l->n == l->cap) {
    size_t cap = l->cap == 0 ? 256 : l->cap * 2;
    char **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return -ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  if ((l->v[l->n] = strdup(rel)) == NULL)
    return -ENOMEM;
  l->n++;
  return 0;
}

/* The manifest and signature first; then by name without the extension, so
 * that a version's .info, .mod and .zip are neighbours, then by name. */
static int pack_rank(const char *p) {
  return strcmp(p, BUNDLE_MANIFEST) == 0    ? 0
         : strcmp(p, BUNDLE_SIGNATURE) == 0 ? 1
                                            : 2;
}

static int pack_order(const void *a, const void *b) {
  const char *x = *(char *const *)a, *y = *(char *const *)b;
  int rx = pack_rank(x), ry = pack_rank(y);
  if (rx != ry)
    return rx - ry;
  const char *dx = strrchr(x, '.'), *dy = strrchr(y, '.');
  size_t sx =
      dx != NULL && strchr(dx, '/') == NULL ? (size_t)(dx - x) : strlen(x);
  size_t sy =
      dy != NULL && strchr(dy, '/') == NULL ? (size_t)(dy - y) : strlen(y);
  int c = strncmp(x, y, sx < sy ? sx : sy);
  if (c != 0)
    return c;
  if (sx != sy)
    return sx < sy ? -1 : 1;
  return strcmp(x, y);
}

static int pack_file(struct archive *a, struct archive_entry *e,
                     const char *dir, const char *rel, int64_t mtime, char *buf,
                     char *err, size_t errlen) {
  char full[8192];
  snprintf(full, sizeof full, "%s/%s", dir, rel);
  int fd = open(full, O_RDONLY | O_CLOEXEC);
  struct stat sb;
  if (fd < 0 || fstat(fd, &sb) < 0) {
    int rc = -errno;
    snprintf(err, errlen, "%s: %s", full, strerror(errno));
    if (fd >= 0)
      close(fd);
    return rc;
  }
  archive_entry_clear(e);
  archive_entry_set_pathname(e, rel);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, sb.st_size);
  archive_entry_set_mtime(e, (time_t)mtime, 0);
  int rc = 0;
  if (archive_write_header(a, e) != ARCHIVE_OK) {
    rc = -EIO;
    goto out;
  }
  for (;;) {
    ssize_t n = read(fd, buf, ARCHIVE_COPY_BYTES);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : 0;
      break;
    }
    if (archive_write_data(a, buf, (size_t)n) != n) {
      rc = -EIO;
      break;
    }
  }
out:
  if (rc == -EIO)
    snprintf(err, errlen, "%s: %s", rel, archive_error_string(a));
  else if (rc < 0)
    snprintf(err, errlen, "%s: %s", full, strerror(-rc));
  close(fd);
  return rc;
}

int bundle_archive_pack(const char *dir, const char *out,
                        enum bundle_archive_kind kind, int64_t mtime, char *err,
                        size_t errlen) {
  struct pack_list l = {0};
  struct archive *a = archive_write_new();
  struct archive_entry *e = archive_entry_new();
  char *buf = malloc(ARCHIVE_COPY_BYTES);
  int rc = 0;
  if (a == NULL || e == NULL || buf == NULL) {
    rc = -ENOMEM;
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  if ((rc = bundle_walk(dir, list_add, &l)) < 0) {
    snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
    goto out;
  }
  qsort(l.v, l.n, sizeof *l.v, pack_order);
  int ok = archive_write_set_format_pax_restricted(a) == ARCHIVE_OK &&
           (kind == BUNDLE_TAR ||
            (kind == BUNDLE_TAR_ZST &&
             archive_write_add_filter_zstd(a) == ARCHIVE_OK) ||
            (kind == BUNDLE_TAR_GZ &&
             archive_write_add_filter_gzip(a) == ARCHIVE_OK)) &&
           archive_write_open_filename(a, out) == ARCHIVE_OK;
  if (!ok) {
    rc = -EIO;
    snprintf(err, errlen, "%s: %s", out,
             archive_error_string(a) != NULL ? archive_error_string(a)
                                             : "not an archive kind");
    goto out;
  }
  for (size_t i = 0; rc == 0 && i < l.n; i++)
    rc = pack_file(a, e, dir, l.v[i], mtime, buf, err, errlen);
  if (archive_write_close(a) != ARCHIVE_OK && rc == 0) {
    rc = -EIO;
    snprintf(err, errlen, "%s: %s", out, archive_error_string(a));
  }
out:
  if (rc < 0)
    unlink(out);
  for (size_t i = 0; i < l.n; i++)
    free(l.v[i]);
  free(l.v);
  free(buf);
  archive_entry_free(e);
  archive_write_free(a);
  return rc;
}

/* ---- reading ---------------------------------------------------------------- */

struct bundle_archive {
  struct archive *a;
  size_t members, max_members;
  char name[BUNDLE_ARCHIVE_MAX_NAME_BYTES];
};

int bundle_archive_open(const char *path, size_t max_members,
                        struct bundle_archive **out, char *err, size_t errlen) {
  *out = NULL;
  struct bundle_archive *r = calloc(1, sizeof *r);
  if (r == NULL)
    return -ENOMEM;
  r->max_members = max_members;
  r->a = archive_read_new();
  /* tar (ustar, pax, GNU) only, compressed with zstd or gzip or not. */
  if (r->a == NULL || archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
      archive_read_support_filter_zstd(r->a) != ARCHIVE_OK ||
      archive_read_support_filter_gzip(r->a) != ARCHIVE_OK ||
      archive_read_open_filename(r->a, path, 1 << 16) != ARCHIVE_OK) {
    snprintf(err, errlen, "%s: %s", path,
             r->a != NULL && archive_error_string(r->a) != NULL
                 ? archive_error_string(r->a)
                 : "cannot be read");
    bundle_archive_close(r);
    return -EIO;
  }
  *out = r;
  return 0;
}

/* A member name the bundle may hold: relative, '/'-separated, printable,
 * no empty, "." or ".." element (an absolute name's first element is
 * empty). Cleans a leading "./" into out. */
static int clean_name(const char *name, char *out, size_t cap) {
  while (strncmp(name, "./", 2) == 0)
    name += 2;
  size_t n = strlen(name);
  if (n == 0 || n >= cap)
    return -EINVAL;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == '\\' || name[i] == 0x7f)
      return -EINVAL;
  for (const char *p = name; *p != '\0';) {
    size_t k = strcspn(p, "/");
    if (k == 0 || (k == 1 && p[0] == '.') ||
        (k == 2 && p[0] == '.' && p[1] == '.'))
      return -EINVAL;
    p += k;
    if (*p == '/')
      p++;
  }
  memcpy(out, name, n + 1);
  return 0;
}

int bundle_archive_next(struct bundle_archive *r, const char **name,
                        uint64_t *size, char *err, size_t errlen) {
  for (;;) {
    struct archive_entry *e;
    int rc = archive_read_next_header(r->a, &e);
    if (rc == ARCHIVE_EOF)
      return 0;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
      snprintf(err, errlen, "after %zu members: %s", r->members,
               archive_error_string(r->a));
      return -EBADMSG;
    }
    const char *raw = archive_entry_pathname(e);
    if (raw == NULL)
      raw = "";
    if (++r->members > r->max_members) {
      snprintf(err, errlen,
               "more than %zu members (the most a bundle may hold)",
               r->max_members);
      return -EBADMSG;
    }
    mode_t type = archive_entry_filetype(e);
    if (type == AE_IFDIR)
      continue;
    if (archive_entry_hardlink(e) != NULL || type == AE_IFLNK) {
      snprintf(err, errlen, "%.200s: a link (bundles hold regular files only)",
               raw);
      return -EBADMSG;
    }
    if (type != AE_IFREG) {
      snprintf(err, errlen,
               "%.200s: not a regular file (bundles hold regular files only)",
               raw);
      return -EBADMSG;
    }
    if (clean_name(raw, r->name, sizeof r->name) < 0) {
      snprintf(err, errlen,
               "%.200s: not a relative path inside the bundle (absolute, "
               "\"..\", or odd bytes)",
               raw);
      return -EBADMSG;
    }
    if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 ||
        (uint64_t)archive_entry_size(e) > BUNDLE_ARCHIVE_MAX_MEMBER_BYTES) {
      snprintf(err, errlen,
               "%.200s: %lld bytes, over the %u MiB limit of a "
               "member",
               r->name, (long long)archive_entry_size(e),
               BUNDLE_ARCHIVE_MAX_MEMBER_BYTES >> 20);
      return -EBADMSG;
    }
    *name = r->name;
    *size = (uint64_t)archive_entry_size(e);
    return 1;
  }
}

int64_t bundle_archive_read(struct bundle_archive *r, void *buf, size_t cap,
                            char *err, size_t errlen) {
  la_ssize_t n = archive_read_data(r->a, buf, cap);
  if (n < 0) {
    snprintf(err, errlen, "%s: %s", r->name, archive_error_string(r->a));
    return -EIO;
  }
  return (int64_t)n;
}

void bundle_archive_close(struct bundle_archive *r) {
  if (r == NULL)
    return;
  archive_read_free(r->a);
  free(r);
}
