/*
 * Module zip writer: x/mod/zip.Create in C, without I/O of its own.
 *
 * The caller hands over a list of candidate files (paths relative to the
 * module root, their kind and declared size) and reader/writer callbacks.
 * First every file goes through checkFiles' rules, in x/mod's order, each
 * path judged once (the first verdict wins):
 *
 *   not clean / absolute             -> invalid (the zip fails)
 *   vendor/ package below the top    -> omitted
 *   inside a nested module           -> omitted (a directory holding a
 *                                       regular file whose base name folds
 *                                       to "go.mod")
 *   .hg_archival.txt                 -> omitted
 *   module.CheckFilePath fails       -> invalid
 *   GO.MOD and other spellings       -> invalid
 *   case-insensitive collision       -> invalid
 *   symlink / not a regular file     -> omitted
 *   go.mod, LICENSE over 16 MiB      -> invalid; total over 500 MiB -> -E2BIG
 *
 * Then the kept files are written in input order as stored (method 0)
 * entries with a data descriptor, a fixed DOS timestamp (1980-01-01) and no
 * extra fields: the bytes depend only on the names and contents, so a
 * commit always gives the same zip. The h1 hash of the result is computed
 * on the way. Zip64 end records are added when the count or offsets need
 * them (sizes stay under 4 GiB: the total is capped at 500 MiB).
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gomod_internal.h"
#include "modproxy/gozip.h"

/* Bytes copied per read from a file into the zip. */
#define ZC_COPY_BYTES (64u << 10)
/* The classic end record counts entries in 16 bits. */
#define ZC_MAX_CLASSIC_ENTRIES 0xFFFFu
/* The classic end record and headers hold 32-bit offsets. */
#define ZC_MAX_CLASSIC_OFFSET 0xFFFFFFFFull
/* Longest file name a zip header can hold. */
#define ZC_MAX_NAME_BYTES 0xFFFFu
/* 1980-01-01 00:00, the earliest DOS date (what a zero Go time becomes). */
#define ZC_DOS_DATE 0x0021u
#define ZC_DOS_TIME 0x0000u
/* General purpose flags: bit 3 data descriptor, bit 11 UTF-8 names. */
#define ZC_FLAGS 0x0808u

/* ---- the collision checker (collisionChecker in x/mod/zip) ------------- */

struct cc_slot {
  char *path; /* heap, NUL-terminated; NULL = empty slot */
  uint32_t hash;
  int is_dir;
};

struct cc {
  struct cc_slot *slots;
  size_t nslots, count;
};

static struct cc_slot *cc_find(struct cc *c, const char *p, size_t n,
                               uint32_t hash) {
  size_t mask = c->nslots - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    struct cc_slot *s = &c->slots[i];
    if (s->path == NULL)
      return s;
    if (s->hash == hash && gomod__fold_equal(s->path, strlen(s->path), p, n))
      return s;
  }
}

static int cc_reserve(struct cc *c) {
  if (c->nslots != 0 && (c->count + 1) * 4 <= c->nslots * 3)
    return 0;
  size_t nslots = c->nslots == 0 ? 64 : c->nslots * 2;
  struct cc_slot *old = c->slots;
  size_t old_n = c->nslots;
  c->slots = calloc(nslots, sizeof *c->slots);
  if (c->slots == NULL) {
    c->slots = old;
    return -ENOMEM;
  }
  c->nslots = nslots;
  for (size_t i = 0; i < old_n; i++) {
    if (old[i].path != NULL)
      *cc_find(c, old[i].path, strlen(old[i].path), old[i].hash) = old[i];
  }
  free(old);
  return 0;
}

static void cc_dispose(struct cc *c) {
  for (size_t i = 0; i < c->nslots; i++)
    free(c->slots[i].path);
  free(c->slots);
  c->slots = NULL;
  c->nslots = c->count = 0;
}

/* collisionChecker.check(p, isDir) for p and each parent. 0, 1 with the
 * message in b, or -ENOMEM. */
static int cc_check(struct cc *c, const char *p, size_t n, int is_dir,
                    struct gomod__buf *b) {
  for (;;) {
    uint32_t hash = gomod__fold_hash(p, n);
    if (cc_reserve(c) < 0)
      return -ENOMEM;
    struct cc_slot *s = cc_find(c, p, n, hash);
    if (s->path != NULL) {
      if (strlen(s->path) != n || memcmp(s->path, p, n) != 0) {
        gomod__buf_str(b, "case-insensitive file name collision: ");
        gomod__buf_quote(b, s->path, strlen(s->path));
        gomod__buf_str(b, " and ");
        gomod__buf_quote(b, p, n);
        return 1;
      }
      if (s->is_dir != is_dir) {
        gomod__buf_str(b, "entry ");
        gomod__buf_quote(b, p, n);
        gomod__buf_str(b, " is both a file and a directory");
        return 1;
      }
      if (!is_dir) {
        gomod__buf_str(b, "multiple entries for file ");
        gomod__buf_quote(b, p, n);
        return 1;
      }
    } else {
      s->path = strndup(p, n);
      if (s->path == NULL)
        return -ENOMEM;
      s->hash = hash;
      s->is_dir = is_dir;
      c->count++;
    }
    size_t k = n;
    while (k > 0 && p[k - 1] != '/')
      k--;
    if (k == 0)
      return 0;
    n = k - 1;
    is_dir = 1;
  }
}

/* ---- the path rules ----------------------------------------------------- */

/* path.Clean(p) == p. */
static int path_is_clean(const char *p) {
  size_t n = strlen(p);
  if (n == 0)
    return 0;
  if (n == 1 && p[0] == '.')
    return 1;
  if (p[n - 1] == '/' && n > 1)
    return 0;
  const char *e = p;
  if (*e == '/')
    e++;
  for (;;) {
    size_t len = strcspn(e, "/");
    if (len == 0 && e[0] == '/')
      return 0; /* "//" */
    if ((len == 1 && e[0] == '.') || (len == 2 && e[0] == '.' && e[1] == '.'))
      return 0;
    if (e[len] == '\0')
      return 1;
    e += len + 1;
  }
}

/* zip.isVendoredPackage, quirk included: for "/vendor/" inside the path
 * x/mod skips len("/vendor/") bytes from the start of the name, not from
 * the match, so "a/vendor/x.go" counts as vendored ("/vendor/x.go" still
 * holds a slash). The go command omits such files; so do we. */
static int is_vendored(const char *name) {
  const char *rest;
  if (strncmp(name, "vendor/", 7) == 0) {
    rest = name + 7;
  } else {
    if (strstr(name, "/vendor/") == NULL)
      return 0;
    rest = name + 8;
  }
  return strchr(rest, '/') != NULL;
}

static int ascii_equal_fold(const char *a, const char *b) {
  for (; *a != '\0' && *b != '\0'; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? *a + 32 : *a;
    char y = *b >= 'A' && *b <= 'Z' ? *b + 32 : *b;
    if (x != y)
      return 0;
  }
  return *a == *b;
}

/* strings.EqualFold(base, "go.mod"): the only non-ASCII runes that fold to
 * ASCII letters are U+017F (s) and U+212A (k), neither in "go.mod". */
static int base_is_gomod(const char *p) {
  const char *slash = strrchr(p, '/');
  return ascii_equal_fold(slash != NULL ? slash + 1 : p, "go.mod");
}

/* Directories (with their trailing '/') that hold a regular go.mod. */
struct dirset {
  char **dirs;
  size_t n;
};

static int dirset_has(const struct dirset *d, const char *p, size_t n) {
  for (size_t i = 0; i < d->n; i++) {
    if (strlen(d->dirs[i]) == n && memcmp(d->dirs[i], p, n) == 0)
      return 1;
  }
  return 0;
}

/* inSubmodule(p): some parent directory (not the root) has a go.mod. */
static int in_submodule(const struct dirset *d, const char *p) {
  size_t n = strlen(p);
  for (;;) {
    size_t k = n;
    while (k > 0 && p[k - 1] != '/')
      k--;
    if (k == 0)
      return 0;
    if (dirset_has(d, p, k))
      return 1;
    n = k - 1;
  }
}

/* ---- writing ------------------------------------------------------------ */

static uint32_t crc_table[256];

static void crc_init(void) {
  if (crc_table[1] != 0)
    return;
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

struct entry {
  uint64_t offset;
  uint32_t crc;
  uint32_t size;
  size_t name_len;
};

struct writer {
  const struct gozip_create_io *io;
  uint64_t written;
  struct gozip_create_report *rep;
};

static int put(struct writer *w, const void *p, size_t n) {
  int rc = w->io->write(w->io->ctx, p, n);
  if (rc < 0)
    return rc;
  w->written += n;
  return 0;
}

static void le16(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v) {
  le16(p, v & 0xFFFFu);
  le16(p + 2, v >> 16);
}

static void le64(unsigned char *p, uint64_t v) {
  le32(p, (uint32_t)v);
  le32(p + 4, (uint32_t)(v >> 32));
}

__attribute__((format(printf, 2, 3))) static int
failf(struct gozip_create_report *rep, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rep->error, sizeof rep->error, fmt, ap);
  va_end(ap);
  return 0;
}

/* Writes one file: local header, the bytes (hashed and CRC'd on the way),
 * data descriptor. */
static int write_file(struct writer *w, const struct gozip_create_file *f,
                      const char *name, size_t name_len, struct entry *e,
                      uint8_t sha[32], unsigned char *buf) {
  const struct gozip_create_io *io = w->io;
  unsigned char h[30];
  e->offset = w->written;
  e->name_len = name_len;
  le32(h, 0x04034b50u);
  le16(h + 4, 20);
  le16(h + 6, ZC_FLAGS);
  le16(h + 8, 0); /* stored */
  le16(h + 10, ZC_DOS_TIME);
  le16(h + 12, ZC_DOS_DATE);
  le32(h + 14, 0); /* crc and sizes follow in the data descriptor */
  le32(h + 18, 0);
  le32(h + 22, 0);
  le16(h + 26, (uint32_t)name_len);
  le16(h + 28, 0);
  int rc = put(w, h, sizeof h);
  if (rc == 0)
    rc = put(w, name, name_len);
  if (rc < 0)
    return rc;
  rc = io->open(io->ctx, f);
  if (rc < 0) {
    failf(w->rep, "%s: cannot read: %s", f->path, strerror(-rc));
    return rc;
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    io->close(io->ctx);
    EVP_MD_CTX_free(md);
    return -ENOMEM;
  }
  uint64_t total = 0;
  uint32_t crc = 0;
  for (;;) {
    int64_t got = io->read(io->ctx, buf, ZC_COPY_BYTES);
    if (got < 0) {
      rc = (int)got;
      failf(w->rep, "%s: cannot read: %s", f->path, strerror(-rc));
      break;
    }
    if (got == 0)
      break;
    total += (uint64_t)got;
    if (total > f->size) {
      rc = -EINVAL;
      failf(w->rep, "file \"%s\" is larger than declared size", f->path);
      break;
    }
    crc = crc_update(crc, buf, (size_t)got);
    EVP_DigestUpdate(md, buf, (size_t)got);
    rc = put(w, buf, (size_t)got);
    if (rc < 0)
      break;
  }
  io->close(io->ctx);
  if (rc == 0 && total != f->size) {
    rc = -EINVAL;
    failf(w->rep, "file \"%s\" is shorter than declared size", f->path);
  }
  unsigned int mdlen = 32;
  EVP_DigestFinal_ex(md, sha, &mdlen);
  EVP_MD_CTX_free(md);
  if (rc < 0)
    return rc;
  e->crc = crc;
  e->size = (uint32_t)total;
  unsigned char d[16];
  le32(d, 0x08074b50u);
  le32(d + 4, crc);
  le32(d + 8, e->size);
  le32(d + 12, e->size);
  return put(w, d, sizeof d);
}

static int write_central(struct writer *w, const struct entry *e,
                         const char *name) {
  unsigned char h[46];
  int zip64 = e->offset > ZC_MAX_CLASSIC_OFFSET;
  unsigned char extra[12];
  le32(h, 0x02014b50u);
  le16(h + 4, 3u << 8 | (zip64 ? 45 : 20)); /* made by unix */
  le16(h + 6, zip64 ? 45 : 20);
  le16(h + 8, ZC_FLAGS);
  le16(h + 10, 0);
  le16(h + 12, ZC_DOS_TIME);
  le16(h + 14, ZC_DOS_DATE);
  le32(h + 16, e->crc);
  le32(h + 20, e->size);
  le32(h + 24, e->size);
  le16(h + 28, (uint32_t)e->name_len);
  le16(h + 30, zip64 ? sizeof extra : 0);
  le16(h + 32, 0);
  le16(h + 34, 0);
  le16(h + 36, 0);
  le32(h + 38, 0100644u << 16); /* -rw-r--r-- */
  le32(h + 42, zip64 ? 0xFFFFFFFFu : (uint32_t)e->offset);
  int rc = put(w, h, sizeof h);
  if (rc == 0)
    rc = put(w, name, e->name_len);
  if (rc == 0 && zip64) {
    le16(extra, 0x0001);
    le16(extra + 2, 8);
    le64(extra + 4, e->offset);
    rc = put(w, extra, sizeof extra);
  }
  return rc;
}

static int write_end(struct writer *w, uint64_t count, uint64_t cd_start,
                     uint64_t cd_size) {
  int rc;
  if (count >= ZC_MAX_CLASSIC_ENTRIES || cd_start >= ZC_MAX_CLASSIC_OFFSET ||
      cd_size >= ZC_MAX_CLASSIC_OFFSET) {
    unsigned char z[56], loc[20];
    uint64_t z_at = w->written;
    le32(z, 0x06064b50u);
    le64(z + 4, sizeof z - 12);
    le16(z + 12, 3u << 8 | 45);
    le16(z + 14, 45);
    le32(z + 16, 0);
    le32(z + 20, 0);
    le64(z + 24, count);
    le64(z + 32, count);
    le64(z + 40, cd_size);
    le64(z + 48, cd_start);
    le32(loc, 0x07064b50u);
    le32(loc + 4, 0);
    le64(loc + 8, z_at);
    le32(loc + 16, 1);
    if ((rc = put(w, z, sizeof z)) < 0 || (rc = put(w, loc, sizeof loc)) < 0)
      return rc;
  }
  unsigned char e[22];
  uint32_t n16 = count >= ZC_MAX_CLASSIC_ENTRIES ? 0xFFFFu : (uint32_t)count;
  le32(e, 0x06054b50u);
  le16(e + 4, 0);
  le16(e + 6, 0);
  le16(e + 8, n16);
  le16(e + 10, n16);
  le32(e + 12,
       cd_size >= ZC_MAX_CLASSIC_OFFSET ? 0xFFFFFFFFu : (uint32_t)cd_size);
  le32(e + 16,
       cd_start >= ZC_MAX_CLASSIC_OFFSET ? 0xFFFFFFFFu : (uint32_t)cd_start);
  le16(e + 20, 0);
  return put(w, e, sizeof e);
}

/* ---- zip.Create ------------------------------------------------------- */

/* checkFiles: marks keep[i] for the files to write; fills rep->error and
 * returns -EINVAL/-E2BIG for the first invalid file or size error. */
static int check_files(const struct gozip_create_file *files, size_t n,
                       unsigned char *keep, struct gozip_create_report *rep) {
  struct dirset gomods = {0};
  struct cc cc = {0};
  int rc = 0;
  char first_invalid[GOZIP_VIOLATION_BYTES] = "";
  int size_error = 0;
  uint64_t max_size = GOMOD_MAX_ZIP_BYTES;
  gomods.dirs = calloc(n + 1, sizeof *gomods.dirs);
  if (gomods.dirs == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *p = files[i].path;
    if (base_is_gomod(p) && files[i].kind == GOZIP_FILE_REGULAR) {
      const char *slash = strrchr(p, '/');
      size_t dl = slash != NULL ? (size_t)(slash - p) + 1 : 0;
      if (!dirset_has(&gomods, p, dl)) {
        gomods.dirs[gomods.n] = strndup(p, dl);
        if (gomods.dirs[gomods.n] == NULL) {
          rc = -ENOMEM;
          goto out;
        }
        gomods.n++;
      }
    }
  }
  for (size_t i = 0; i < n; i++) {
    const struct gozip_create_file *f = &files[i];
    const char *p = f->path;
    char msg[GOZIP_VIOLATION_BYTES] = "";
    int omitted = 0;
    keep[i] = 0;
    if (!path_is_clean(p)) {
      snprintf(msg, sizeof msg, "file path is not clean");
    } else if (p[0] == '/') {
      snprintf(msg, sizeof msg, "file path is not relative");
    } else if (is_vendored(p)) {
      omitted = 1;
    } else if (in_submodule(&gomods, p)) {
      omitted = 1;
    } else if (strcmp(p, ".hg_archival.txt") == 0) {
      omitted = 1;
    } else {
      char err[GOZIP_VIOLATION_BYTES];
      struct gomod__buf b;
      gomod__buf_init(&b, msg, sizeof msg);
      if (gomod_check_file_path(p, err, sizeof err) < 0) {
        gomod__buf_str(&b, err);
      } else if (ascii_equal_fold(p, "go.mod") && strcmp(p, "go.mod") != 0) {
        gomod__buf_str(&b, "go.mod files must have lowercase names");
      } else {
        int c = cc_check(&cc, p, strlen(p), f->kind == GOZIP_FILE_DIR, &b);
        if (c < 0) {
          rc = c;
          goto out;
        }
        if (c == 0) {
          if (f->kind != GOZIP_FILE_REGULAR) { /* symlink or irregular */
            omitted = 1;
          } else {
            if (f->size <= max_size)
              max_size -= f->size;
            else
              size_error = 1;
            if (strcmp(p, "go.mod") == 0 && f->size > GOMOD_MAX_GOMOD_BYTES)
              snprintf(msg, sizeof msg,
                       "go.mod file too large (max size is %u bytes)",
                       GOMOD_MAX_GOMOD_BYTES);
            else if (strcmp(p, "LICENSE") == 0 &&
                     f->size > GOMOD_MAX_LICENSE_BYTES)
              snprintf(msg, sizeof msg,
                       "LICENSE file too large (max size is %u bytes)",
                       GOMOD_MAX_LICENSE_BYTES);
            else
              keep[i] = 1;
          }
        }
      }
    }
    if (omitted)
      rep->omitted++;
    if (msg[0] != '\0' && first_invalid[0] == '\0')
      snprintf(first_invalid, sizeof first_invalid, "%s: %s", p, msg);
  }
  if (size_error) {
    snprintf(rep->error, sizeof rep->error,
             "module source tree too large (max size is %u bytes)",
             GOMOD_MAX_ZIP_BYTES);
    rc = -E2BIG;
  } else if (first_invalid[0] != '\0') {
    snprintf(rep->error, sizeof rep->error, "%s", first_invalid);
    rc = -EINVAL;
  }
out:
  for (size_t i = 0; i < gomods.n; i++)
    free(gomods.dirs[i]);
  free(gomods.dirs);
  cc_dispose(&cc);
  return rc;
}

int gozip_create(const char *module, const char *version,
                 const struct gozip_create_file *files, size_t n,
                 const struct gozip_create_io *io,
                 struct gozip_create_report *rep) {
  memset(rep, 0, sizeof *rep);
  crc_init();
  char canon[GOMOD_MAX_VERSION_BYTES];
  if (gomod_canonical_version(version, canon, sizeof canon) < 0 ||
      strcmp(canon, version) != 0) {
    snprintf(rep->error, sizeof rep->error,
             "version \"%s\" is not canonical (should be \"%s\")", version,
             canon);
    return -EINVAL;
  }
  if (gomod_check(module, version, rep->error, sizeof rep->error) < 0)
    return -EINVAL;
  unsigned char *keep = calloc(n + 1, 1);
  struct entry *entries = calloc(n + 1, sizeof *entries);
  struct gomod_h1_file *hashes = calloc(n + 1, sizeof *hashes);
  char **names = calloc(n + 1, sizeof *names);
  unsigned char *buf = malloc(ZC_COPY_BYTES);
  size_t count = 0;
  int rc = 0;
  if (keep == NULL || entries == NULL || hashes == NULL || names == NULL ||
      buf == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  rc = check_files(files, n, keep, rep);
  if (rc < 0)
    goto out;
  struct writer w = {.io = io, .rep = rep};
  for (size_t i = 0; i < n; i++) {
    if (!keep[i])
      continue;
    size_t len =
        strlen(module) + 1 + strlen(version) + 1 + strlen(files[i].path);
    if (len > ZC_MAX_NAME_BYTES) {
      snprintf(rep->error, sizeof rep->error, "%s: file name too long",
               files[i].path);
      rc = -E2BIG;
      goto out;
    }
    names[count] = malloc(len + 1);
    if (names[count] == NULL) {
      rc = -ENOMEM;
      goto out;
    }
    snprintf(names[count], len + 1, "%s@%s/%s", module, version, files[i].path);
    rc = write_file(&w, &files[i], names[count], len, &entries[count],
                    hashes[count].sha256, buf);
    if (rc < 0)
      goto out;
    hashes[count].name = names[count];
    count++;
  }
  uint64_t cd_start = w.written;
  for (size_t i = 0; i < count; i++) {
    rc = write_central(&w, &entries[i], names[i]);
    if (rc < 0)
      goto out;
  }
  rc = write_end(&w, count, cd_start, w.written - cd_start);
  if (rc < 0)
    goto out;
  if (w.written > GOMOD_MAX_ZIP_BYTES) {
    snprintf(rep->error, sizeof rep->error,
             "module zip file is too large (%llu bytes; limit is %u bytes)",
             (unsigned long long)w.written, GOMOD_MAX_ZIP_BYTES);
    rc = -E2BIG;
    goto out;
  }
  rep->files = count;
  rep->zip_bytes = w.written;
  rc = gomod_h1(hashes, count, rep->h1);
out:
  for (size_t i = 0; names != NULL && i < count + 1 && i <= n; i++)
    free(names[i]);
  free(names);
  free(hashes);
  free(entries);
  free(keep);
  free(buf);
  return rc;
}
