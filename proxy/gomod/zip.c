/*
 * Module zip inspection (gozip_inspect): reads a module zip through a
 * caller-supplied random-access reader, checks it against the rules of
 * golang.org/x/mod v0.7.0 zip.checkZip + zip.Unzip and computes its h1 hash
 * exactly as dirhash.HashZip does.
 *
 * How it runs:
 *  1. Cheap refusals before libzip allocates anything: the file size, and the
 *     end-of-central-directory record (found the way Go's archive/zip finds
 *     it) for the entry count and the central directory size.
 *  2. libzip opens the zip through a zip_source_function over the reader
 *     (random access; libzip keeps the central directory in memory, never
 *     the entry data).
 *  3. Pass 1 walks the central directory: declared sizes against the limits,
 *     then the name rules of checkZip in its order (prefix, path.Clean,
 *     CheckFilePath, the collision checker, go.mod placement). A broken rule
 *     is a violation for the report, not an error.
 *  4. Pass 2 decompresses every entry (directories and prefix-less entries
 *     too: HashZip hashes them all) through one fixed buffer into SHA-256,
 *     counting the bytes: more or fewer than declared, a bad CRC or bad
 *     deflate data makes the zip unreadable.
 *  5. The h1 is dirhash.Hash1 over every entry name as stored. As in
 *     HashZip, a name stored twice is hashed twice with the content of its
 *     LAST entry (HashZip keeps a name -> file map).
 *
 * Invariants: memory is the central directory (held by libzip, capped by
 * ZIP_MAX_CDIR_BYTES), one gomod_h1_file per entry, the collision table
 * (capped by ZIP_MAX_PATHS) and one ZIP_BUF_BYTES buffer; entry data is
 * never held whole. No I/O but the reader; no global state.
 *
 * Where this differs from Go (each on purpose or because libzip cannot tell):
 *  - Go reads the entries a 16-bit-truncated EOCD count hides; libzip
 *    does not (only non-zip64 writers with 65536+ entries produce that).
 *  - libzip refuses some malformed headers Go reads (an entry flagged UTF-8
 *    whose name is not valid UTF-8), and does not compare a data
 *    descriptor's CRC with the central directory's, nor notice a deflate
 *    stream that stops without its final block once all the data came out.
 *  - Entry names are C strings: a name with a NUL byte is cut there.
 *  - The 500 MiB uncompressed limit covers every entry here (x/mod counts
 *    only files with valid names): this code decompresses everything to
 *    hash it, and a zip over it in names x/mod rejects is refused anyway.
 */
#include "modproxy/gozip.h"

#include "gomod_internal.h"
#include "zip_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zip.h>

/* Decompressed data goes through one buffer of this size. */
#define ZIP_BUF_BYTES (64u << 10)
/* archive/zip looks for the end-of-central-directory record in the last
 * 65 KiB of the file (a 22-byte record plus a comment of up to 64 KiB). */
#define ZIP_EOCD_SEARCH_BYTES (65u << 10)
#define ZIP_EOCD_BYTES 22u
#define ZIP_EOCD64_LOCATOR_BYTES 20u
#define ZIP_EOCD64_BYTES 56u
/* libzip reads the whole central directory into memory. GOZIP_MAX_ENTRIES
 * entries with 200-byte names and Go's extra fields take about 55 MiB. */
#define ZIP_MAX_CDIR_BYTES (64u << 20)
/* Distinct paths (files and their parent directories) the collision check
 * tracks: the table then takes at most 48 MiB. Real modules have far fewer
 * directories than files, so this is above 4 * GOZIP_MAX_ENTRIES. */
#define ZIP_MAX_PATHS (1u << 20)
#define ZIP_PATHS_MIN_SLOTS 1024u
/* The zip format stores a name length in 16 bits. */
#define ZIP_MAX_NAME_BYTES 0xFFFFu

#define GO_MOD "go.mod"
#define LICENSE "LICENSE"

/* One slot of the collision table: a path (borrowed from an entry name,
 * without the module prefix and trailing slash) and whether it is a
 * directory. collisionChecker keys it by its case-folded form. */
struct path_slot {
  const char *p; /* NULL: empty slot */
  uint32_t len;
  uint32_t hash;
  int is_dir;
};

/* The state of one gozip_inspect call. */
struct inspect {
  const struct gozip_reader *r;
  struct gozip_report *rep;
  uint64_t pos;     /* libzip's read position in the source */
  int io_err;       /* the reader's negative errno, once it failed */
  zip_error_t zerr; /* the source's error, for ZIP_SOURCE_ERROR */
  zip_t *za;
  char *prefix; /* "<path>@<version>/" */
  size_t prefix_len;
  int module_ok; /* 0 when path/version fail checkZip's first checks */
  struct gomod_h1_file *files;
  uint64_t nfiles;
  struct path_slot *slots;
  size_t nslots; /* a power of two, or 0 before the first path */
  size_t npaths;
  char *name_copy; /* NUL-terminated copy of a relative path */
  unsigned char *buf; /* ZIP_EOCD_SEARCH_BYTES */
  EVP_MD_CTX *md;
};

/* ---- errors and violations ------------------------------------------- */

/* Records why the zip is refused (the first reason only) and returns rc. */
static int fail(struct inspect *in, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct inspect *in, int rc, const char *fmt, ...) {
  if (in->rep->error[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->rep->error, sizeof in->rep->error, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* Like fail(-EBADMSG, ...), except that a failure of the reader wins over
 * what libzip made of it: then its errno is returned. */
static int unreadable(struct inspect *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int unreadable(struct inspect *in, const char *fmt, ...) {
  if (in->io_err < 0)
    return fail(in, in->io_err, "reading the zip: %s", strerror(-in->io_err));
  if (in->rep->error[0] == '\0') {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->rep->error, sizeof in->rep->error, fmt, ap);
    va_end(ap);
  }
  return -EBADMSG;
}

/* Starts the next violation message: counts it, and points b at its slot
 * (or at nothing past GOZIP_MAX_VIOLATIONS). */
static void violation(struct inspect *in, struct gomod__buf *b) {
  uint64_t k = in->rep->violation_count++;
  char *slot = k < GOZIP_MAX_VIOLATIONS ? in->rep->violations[k] : NULL;
  gomod__buf_init(b, slot, GOZIP_VIOLATION_BYTES);
}

/* "<entry name>: <text>": how x/mod's FileError reads. */
static void file_violation(struct inspect *in, const char *name,
                           const char *text) {
  struct gomod__buf b;
  violation(in, &b);
  gomod__buf_str(&b, name);
  gomod__buf_str(&b, ": ");
  gomod__buf_str(&b, text);
}

/* ---- the libzip source over the reader --------------------------------- */

static zip_int64_t source_read(struct inspect *in, unsigned char *data,
                               zip_uint64_t len) {
  uint64_t size = in->r->size;
  zip_uint64_t got = 0;
  if (in->pos >= size)
    return 0;
  if (len > size - in->pos)
    len = size - in->pos;
  while (got < len) {
    int64_t n = in->r->read_at(in->r->ctx, in->pos, data + got, len - got);
    if (n < 0 || (uint64_t)n > len - got) {
      in->io_err = n < 0 ? (int)n : -EIO;
      zip_error_set(&in->zerr, ZIP_ER_READ, -in->io_err);
      return -1;
    }
    if (n == 0)
      break; /* shorter than r->size: libzip sees the end of the data */
    in->pos += (uint64_t)n;
    got += (uint64_t)n;
  }
  return (zip_int64_t)got;
}

static zip_int64_t on_source(void *ud, void *data, zip_uint64_t len,
                             zip_source_cmd_t cmd) {
  struct inspect *in = ud;
  switch (cmd) {
  case ZIP_SOURCE_OPEN:
    in->pos = 0;
    return 0;
  case ZIP_SOURCE_READ:
    return source_read(in, data, len);
  case ZIP_SOURCE_CLOSE:
    return 0;
  case ZIP_SOURCE_STAT: {
    zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &in->zerr);
    if (st == NULL)
      return -1;
    zip_stat_init(st);
    st->size = in->r->size;
    st->valid |= ZIP_STAT_SIZE;
    return sizeof *st;
  }
  case ZIP_SOURCE_ERROR:
    return zip_error_to_data(&in->zerr, data, len);
  case ZIP_SOURCE_FREE:
    return 0; /* `in` belongs to gozip_inspect */
  case ZIP_SOURCE_SEEK: {
    zip_int64_t off = zip_source_seek_compute_offset(in->pos, in->r->size,
                                                     data, len, &in->zerr);
    if (off < 0)
      return -1;
    in->pos = (uint64_t)off;
    return 0;
  }
  case ZIP_SOURCE_TELL:
    return (zip_int64_t)in->pos;
  case ZIP_SOURCE_ACCEPT_EMPTY:
    return 0; /* an empty file is not a zip (archive/zip: ErrFormat) */
  case ZIP_SOURCE_SUPPORTS:
    return ZIP_SOURCE_SUPPORTS_SEEKABLE |
           ZIP_SOURCE_MAKE_COMMAND_BITMASK(ZIP_SOURCE_ACCEPT_EMPTY);
  default:
    zip_error_set(&in->zerr, ZIP_ER_OPNOTSUPP, 0);
    return -1;
  }
}

/* ---- the end of central directory -------------------------------------- */

static int read_exact(struct inspect *in, uint64_t off, void *buf,
                      size_t len) {
  size_t got = 0;
  while (got < len) {
    int64_t n = in->r->read_at(in->r->ctx, off + got, (char *)buf + got,
                               len - got);
    if (n < 0 || (uint64_t)n > len - got) {
      in->io_err = n < 0 ? (int)n : -EIO;
      return in->io_err;
    }
    if (n == 0)
      return -EBADMSG;
    got += (size_t)n;
  }
  return 0;
}

static uint16_t le16(const unsigned char *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/*
 * Finds the end-of-central-directory record as archive/zip's
 * readDirectoryEnd does (the last "PK\5\6" whose comment fits in the file,
 * with the zip64 record when the 32-bit fields are saturated) and refuses
 * the zip if its entry count or central directory size is over our limits,
 * before libzip allocates for them. libzip then does its own parsing.
 */
static int check_directory_end(struct inspect *in) {
  uint64_t size = in->r->size;
  size_t len = size < ZIP_EOCD_SEARCH_BYTES ? (size_t)size
                                            : ZIP_EOCD_SEARCH_BYTES;
  unsigned char *b = in->buf;
  int rc;

  if (len < ZIP_EOCD_BYTES)
    return fail(in, -EBADMSG, "zip: not a valid zip file");
  rc = read_exact(in, size - len, b, len);
  if (rc < 0)
    return unreadable(in, "zip: not a valid zip file");
  size_t i = len - ZIP_EOCD_BYTES;
  for (;;) {
    if (b[i] == 'P' && b[i + 1] == 'K' && b[i + 2] == 5 && b[i + 3] == 6 &&
        i + ZIP_EOCD_BYTES + le16(b + i + 20) <= len)
      break;
    if (i == 0)
      return fail(in, -EBADMSG, "zip: not a valid zip file");
    i--;
  }
  uint64_t eocd_off = size - len + i;
  uint64_t records = le16(b + i + 10);
  uint64_t cdir_bytes = le32(b + i + 12);
  uint32_t cdir_off = le32(b + i + 16);

  /* archive/zip tests the size against 0xFFFF; 0xFFFFFFFF is the real
   * zip64 marker. Either way, the zip64 record is read if it is there. */
  if ((records == 0xFFFF || cdir_bytes == 0xFFFF ||
       cdir_bytes == 0xFFFFFFFF || cdir_off == 0xFFFFFFFF) &&
      eocd_off >= ZIP_EOCD64_LOCATOR_BYTES) {
    unsigned char loc[ZIP_EOCD64_LOCATOR_BYTES];
    unsigned char end64[ZIP_EOCD64_BYTES];
    rc = read_exact(in, eocd_off - ZIP_EOCD64_LOCATOR_BYTES, loc, sizeof loc);
    if (rc < 0)
      return unreadable(in, "zip: not a valid zip file");
    if (le32(loc) == 0x07064b50 && le32(loc + 4) == 0 &&
        le32(loc + 16) == 1) {
      uint64_t p = le64(loc + 8);
      if (p > size || size - p < sizeof end64)
        return fail(in, -EBADMSG, "zip: not a valid zip file");
      rc = read_exact(in, p, end64, sizeof end64);
      if (rc < 0)
        return unreadable(in, "zip: not a valid zip file");
      if (le32(end64) != 0x06064b50)
        return fail(in, -EBADMSG, "zip: not a valid zip file");
      records = le64(end64 + 32);
      cdir_bytes = le64(end64 + 40);
    }
  }
  if (records > GOZIP_MAX_ENTRIES)
    return fail(in, -E2BIG, "zip has too many entries (%" PRIu64
                "; limit is %d)", records, GOZIP_MAX_ENTRIES);
  if (cdir_bytes > ZIP_MAX_CDIR_BYTES)
    return fail(in, -E2BIG, "zip central directory too large (%" PRIu64
                " bytes; limit is %u bytes)", cdir_bytes, ZIP_MAX_CDIR_BYTES);
  return 0;
}

/* ---- case folding and the collision checker ---------------------------- */

/* strToFold for one rune (see zip_internal.h). */
static uint32_t fold_rune(uint32_t r) {
  size_t lo = 0;
  size_t hi = sizeof zip__fold_ranges / sizeof zip__fold_ranges[0];
  if (r < 0x80)
    return r >= 'A' && r <= 'Z' ? r + ('a' - 'A') : r;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const struct zip__fold_range *f = &zip__fold_ranges[mid];
    if (r < f->lo) {
      hi = mid;
    } else if (r > f->hi) {
      lo = mid + 1;
    } else {
      if ((r - f->lo) % f->stride != 0)
        return r;
      return (uint32_t)((int32_t)r + f->delta);
    }
  }
  return r;
}

/* FNV-1a over the folded runes of s[0:n]. */
static uint32_t fold_hash(const char *s, size_t n) {
  uint32_t h = 2166136261u;
  size_t i = 0;
  while (i < n) {
    uint32_t r;
    i += gomod__utf8_decode(s + i, n - i, &r);
    r = fold_rune(r);
    for (int k = 0; k < 4; k++) {
      h ^= (r >> (8 * k)) & 0xFFu;
      h *= 16777619u;
    }
  }
  return h;
}

/* strings.EqualFold(a, b) for valid UTF-8 (what CheckFilePath lets by). */
static int fold_equal(const char *a, size_t an, const char *b, size_t bn) {
  size_t i = 0, j = 0;
  while (i < an && j < bn) {
    uint32_t ra, rb;
    i += gomod__utf8_decode(a + i, an - i, &ra);
    j += gomod__utf8_decode(b + j, bn - j, &rb);
    if (fold_rune(ra) != fold_rune(rb))
      return 0;
  }
  return i == an && j == bn;
}

/* The slot holding p's folded form, or the empty slot where it goes. */
static struct path_slot *paths_find(struct inspect *in, const char *p,
                                    size_t n, uint32_t hash) {
  size_t mask = in->nslots - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    struct path_slot *s = &in->slots[i];
    if (s->p == NULL)
      return s;
    if (s->hash == hash && fold_equal(s->p, s->len, p, n))
      return s;
  }
}

/* Makes room for one more path: doubles the table past 3/4 full. */
static int paths_reserve(struct inspect *in) {
  if (in->npaths >= ZIP_MAX_PATHS)
    return fail(in, -E2BIG, "zip has too many files and directories "
                "(limit is %u)", ZIP_MAX_PATHS);
  if (in->nslots != 0 && (in->npaths + 1) * 4 <= in->nslots * 3)
    return 0;
  size_t nslots = in->nslots == 0 ? ZIP_PATHS_MIN_SLOTS : in->nslots * 2;
  struct path_slot *old = in->slots;
  size_t old_n = in->nslots;
  in->slots = calloc(nslots, sizeof *in->slots);
  if (in->slots == NULL) {
    in->slots = old;
    return fail(in, -ENOMEM, "out of memory");
  }
  in->nslots = nslots;
  for (size_t i = 0; i < old_n; i++) {
    if (old[i].p != NULL)
      *paths_find(in, old[i].p, old[i].len, old[i].hash) = old[i];
  }
  free(old);
  return 0;
}

/*
 * collisionChecker.check(p, isDir), iteratively: p and then each parent
 * directory is looked up by its folded form; a different spelling is a
 * collision, a file/directory mismatch or a second file is an error, a
 * directory seen again is fine. As in x/mod, paths are added even when a
 * parent then fails. Returns 0, 1 after recording a violation for entry
 * `name`, or a negative errno.
 */
static int check_collisions(struct inspect *in, const char *name,
                            const char *p, size_t n, int is_dir) {
  for (;;) {
    uint32_t hash = fold_hash(p, n);
    int rc = paths_reserve(in);
    if (rc < 0)
      return rc;
    struct path_slot *s = paths_find(in, p, n, hash);
    if (s->p != NULL) {
      struct gomod__buf b;
      if (s->len != n || memcmp(s->p, p, n) != 0) {
        violation(in, &b);
        gomod__buf_str(&b, name);
        gomod__buf_str(&b, ": case-insensitive file name collision: ");
        gomod__buf_quote(&b, s->p, s->len);
        gomod__buf_str(&b, " and ");
        gomod__buf_quote(&b, p, n);
        return 1;
      }
      if (s->is_dir != is_dir) {
        violation(in, &b);
        gomod__buf_str(&b, name);
        gomod__buf_str(&b, ": entry ");
        gomod__buf_quote(&b, p, n);
        gomod__buf_str(&b, " is both a file and a directory");
        return 1;
      }
      if (!is_dir) {
        violation(in, &b);
        gomod__buf_str(&b, name);
        gomod__buf_str(&b, ": multiple entries for file ");
        gomod__buf_quote(&b, p, n);
        return 1;
      }
    } else {
      s->p = p;
      s->len = (uint32_t)n;
      s->hash = hash;
      s->is_dir = is_dir;
      in->npaths++;
    }
    /* path.Dir(p): p is clean and relative, so its parent is the text
     * before the last slash, and "." (the end) when there is none. */
    size_t k = n;
    while (k > 0 && p[k - 1] != '/')
      k--;
    if (k == 0)
      return 0;
    n = k - 1;
    is_dir = 1;
  }
}

/* ---- the name rules ---------------------------------------------------- */

/* path.Clean(s) == s, without building the cleaned path. */
static int path_is_clean(const char *s, size_t n) {
  if (n == 0)
    return 0; /* Clean("") is "." */
  if (n == 1 && (s[0] == '/' || s[0] == '.'))
    return 1;
  if (s[n - 1] == '/')
    return 0;
  int rooted = s[0] == '/';
  int leading_dotdot = !rooted; /* ".." survives only at the start */
  size_t i = rooted ? 1 : 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != '/')
      j++;
    size_t len = j - i;
    if (len == 0)
      return 0;
    if (len == 1 && s[i] == '.')
      return 0;
    if (len == 2 && s[i] == '.' && s[i + 1] == '.') {
      if (!leading_dotdot)
        return 0;
    } else {
      leading_dotdot = 0;
    }
    i = j + 1;
  }
  return 1;
}

static int ascii_equal_fold(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int ca = (unsigned char)a[i], cb = (unsigned char)b[i];
    if (ca >= 'A' && ca <= 'Z')
      ca += 'a' - 'A';
    if (cb >= 'A' && cb <= 'Z')
      cb += 'a' - 'A';
    if (ca != cb)
      return 0;
  }
  return 1;
}

/*
 * checkZip's loop body for one entry (sizes are checked by the caller, for
 * every entry): records at most one violation. Returns 0 or a negative
 * errno (a limit of the collision table).
 */
static int check_name(struct inspect *in, const char *name) {
  size_t nlen = strlen(name);
  struct gomod__buf b;
  char msg[GOZIP_VIOLATION_BYTES];

  if (nlen < in->prefix_len || memcmp(name, in->prefix, in->prefix_len) != 0) {
    /* The go command's own check (modfetch.downloadZip) runs before
     * x/mod's and is what users see: report it in its words. */
    violation(in, &b);
    gomod__buf_str(&b, "zip for ");
    gomod__buf_add(&b, in->prefix, in->prefix_len - 1);
    gomod__buf_str(&b, " has unexpected file ");
    gomod__buf_str(&b, name);
    return 0;
  }
  const char *rel = name + in->prefix_len;
  size_t n = nlen - in->prefix_len;
  if (n == 0)
    return 0;
  int is_dir = rel[n - 1] == '/';
  if (is_dir)
    n--;
  if (!path_is_clean(rel, n)) {
    file_violation(in, name, "file path is not clean");
    return 0;
  }
  memcpy(in->name_copy, rel, n);
  in->name_copy[n] = '\0';
  if (gomod_check_file_path(in->name_copy, msg, sizeof msg) < 0) {
    file_violation(in, name, msg);
    return 0;
  }
  int rc = check_collisions(in, name, rel, n, is_dir);
  if (rc != 0)
    return rc < 0 ? rc : 0;
  if (is_dir)
    return 0;
  /* path.Base(rel) equal to "go.mod" under strings.EqualFold: no rune
   * outside ASCII folds to one of "go.mod"'s letters, so ASCII folding is
   * exact here. */
  size_t base = n;
  while (base > 0 && rel[base - 1] != '/')
    base--;
  if (n - base == strlen(GO_MOD) && ascii_equal_fold(rel + base, GO_MOD, n - base)) {
    if (base != 0)
      file_violation(in, name, "go.mod file not in module root directory");
    else if (memcmp(rel, GO_MOD, n) != 0)
      file_violation(in, name, "go.mod files must have lowercase names");
  }
  return 0;
}

/*
 * checkZip's first checks: the version is canonical, and module.Check.
 * When they fail, x/mod looks at no file; neither do we.
 */
static int check_module(struct inspect *in, const char *path,
                        const char *version) {
  size_t vlen = strlen(version);
  /* Canonical adds at most ".0.0" to what it keeps of v. */
  char *canon = malloc(vlen + 8);
  struct gomod__buf b;
  int rc;

  if (canon == NULL)
    return fail(in, -ENOMEM, "out of memory");
  rc = gomod_canonical_version(version, canon, vlen + 8);
  if (rc < 0 || strcmp(canon, version) != 0) {
    violation(in, &b);
    gomod__buf_str(&b, "version ");
    gomod__buf_quote(&b, version, vlen);
    gomod__buf_str(&b, " is not canonical (should be ");
    gomod__buf_quote(&b, canon, rc < 0 ? 0 : strlen(canon));
    gomod__buf_str(&b, ")");
    in->module_ok = 0;
  } else {
    char msg[GOZIP_VIOLATION_BYTES];
    if (gomod_check(path, version, msg, sizeof msg) < 0) {
      violation(in, &b);
      gomod__buf_str(&b, msg);
      in->module_ok = 0;
    }
  }
  free(canon);
  return 0;
}

/* ---- pass 1: the central directory ------------------------------------- */

static int is_exact(struct inspect *in, const char *name, size_t nlen,
                    const char *file) {
  size_t flen = strlen(file);
  return nlen == in->prefix_len + flen &&
         memcmp(name, in->prefix, in->prefix_len) == 0 &&
         memcmp(name + in->prefix_len, file, flen) == 0;
}

static int scan_directory(struct inspect *in) {
  uint64_t total = 0;
  for (uint64_t i = 0; i < in->nfiles; i++) {
    zip_stat_t st;
    const char *name = zip_get_name(in->za, i, ZIP_FL_ENC_RAW);
    if (name == NULL || zip_stat_index(in->za, i, ZIP_FL_ENC_RAW, &st) < 0)
      return unreadable(in, "zip: entry %" PRIu64 ": %s", i,
                        zip_strerror(in->za));
    if ((st.valid & ZIP_STAT_SIZE) == 0)
      return fail(in, -EBADMSG, "%s: zip: entry without a size", name);
    in->files[i].name = name;
    size_t nlen = strlen(name);
    if (memchr(name, '\n', nlen) != NULL)
      return fail(in, -EBADMSG,
                  "dirhash: filenames with newlines are not supported");

    /* Limits: checkZip's on the sum of sizes and on go.mod and LICENSE,
     * with declared sizes (pass 2 makes sure the data matches them). */
    if (st.size > GOMOD_MAX_ZIP_BYTES - total)
      return fail(in, -E2BIG, "total uncompressed size of module contents "
                  "too large (max size is %u bytes)", GOMOD_MAX_ZIP_BYTES);
    total += st.size;
    if (is_exact(in, name, nlen, GO_MOD)) {
      in->rep->has_gomod = 1;
      if (st.size > GOMOD_MAX_GOMOD_BYTES)
        return fail(in, -E2BIG, "%s: go.mod file too large (max size is "
                    "%u bytes)", name, GOMOD_MAX_GOMOD_BYTES);
    }
    if (is_exact(in, name, nlen, LICENSE) && st.size > GOMOD_MAX_LICENSE_BYTES)
      return fail(in, -E2BIG, "%s: LICENSE file too large (max size is "
                  "%u bytes)", name, GOMOD_MAX_LICENSE_BYTES);
    in->rep->uncompressed_bytes = total;

    if (in->module_ok) {
      int rc = check_name(in, name);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

/* ---- pass 2: the data -------------------------------------------------- */

/* x/mod Unzip's wording for data longer than declared, and its mirror. */
static int size_mismatch(struct inspect *in, const char *name, int larger,
                         uint64_t want) {
  return unreadable(in, "uncompressed size of file %s is %s than declared "
                    "size (%" PRIu64 " bytes)", name,
                    larger ? "larger" : "smaller", want);
}

/*
 * Decompresses entry i into SHA-256, counting bytes against its declared
 * size. archive/zip reads only stored and deflated entries, stored data
 * must be exactly as long as declared, and an empty deflate stream is
 * invalid; libzip would let those by, so they are checked first.
 */
static int hash_entry(struct inspect *in, uint64_t i) {
  struct gomod_h1_file *f = &in->files[i];
  const zip_uint64_t need = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE |
                            ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC;
  zip_file_t *zf = NULL;
  zip_stat_t st;
  uint64_t count = 0;
  int rc = 0;

  if (zip_stat_index(in->za, i, ZIP_FL_ENC_RAW, &st) < 0 ||
      (st.valid & need) != need)
    return unreadable(in, "%s: %s", f->name, zip_strerror(in->za));
  if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
    return fail(in, -EBADMSG, "%s: zip: unsupported compression algorithm",
                f->name);
  if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) &&
      st.encryption_method != ZIP_EM_NONE)
    return fail(in, -EBADMSG, "%s: zip: encrypted entry", f->name);
  if (st.comp_method == ZIP_CM_STORE && st.comp_size != st.size)
    return size_mismatch(in, f->name, st.comp_size > st.size, st.size);
  if (st.comp_method == ZIP_CM_DEFLATE && st.comp_size == 0)
    return fail(in, -EBADMSG, "%s: unexpected EOF", f->name);

  zf = zip_fopen_index(in->za, i, 0);
  if (zf == NULL)
    return unreadable(in, "%s: %s", f->name, zip_strerror(in->za));
  if (EVP_DigestInit_ex(in->md, EVP_sha256(), NULL) != 1) {
    rc = fail(in, -ENOMEM, "SHA-256 unavailable");
    goto out;
  }
  for (;;) {
    zip_int64_t n = zip_fread(zf, in->buf, ZIP_BUF_BYTES);
    if (n < 0) {
      zip_error_t *ze = zip_file_get_error(zf);
      int code = zip_error_code_zip(ze);
      /* archive/zip skips the CRC check when the header's CRC is 0 (and
       * there is no data descriptor, which libzip does not tell us). */
      if (code == ZIP_ER_CRC && st.crc == 0 && count == st.size)
        break;
      if (code == ZIP_ER_CRC)
        rc = unreadable(in, "%s: zip: checksum error", f->name);
      else if (code == ZIP_ER_INCONS && count != st.size)
        rc = size_mismatch(in, f->name, count > st.size, st.size);
      else
        rc = unreadable(in, "%s: %s", f->name, zip_error_strerror(ze));
      goto out;
    }
    if (n == 0)
      break;
    if ((uint64_t)n > st.size - count) {
      rc = size_mismatch(in, f->name, 1, st.size);
      goto out;
    }
    count += (uint64_t)n;
    if (EVP_DigestUpdate(in->md, in->buf, (size_t)n) != 1) {
      rc = fail(in, -ENOMEM, "SHA-256 failed");
      goto out;
    }
  }
  if (count != st.size) {
    rc = size_mismatch(in, f->name, 0, st.size);
    goto out;
  }
  if (EVP_DigestFinal_ex(in->md, f->sha256, NULL) != 1)
    rc = fail(in, -ENOMEM, "SHA-256 failed");
out:
  zip_fclose(zf);
  return rc;
}

/* ---- the h1 ------------------------------------------------------------ */

static int by_name_then_position(const void *a, const void *b) {
  const struct gomod_h1_file *fa = *(const struct gomod_h1_file *const *)a;
  const struct gomod_h1_file *fb = *(const struct gomod_h1_file *const *)b;
  int c = strcmp(fa->name, fb->name);
  if (c != 0)
    return c;
  return fa < fb ? -1 : fa > fb;
}

/*
 * HashZip opens each name through a map filled in directory order, so a
 * name stored more than once is hashed, every time, with the content of
 * its last entry.
 */
static int use_last_duplicates(struct inspect *in) {
  uint64_t n = in->nfiles;
  if (n < 2)
    return 0;
  struct gomod_h1_file **order = malloc(n * sizeof *order);
  if (order == NULL)
    return fail(in, -ENOMEM, "out of memory");
  for (uint64_t i = 0; i < n; i++)
    order[i] = &in->files[i];
  qsort(order, n, sizeof *order, by_name_then_position);
  for (uint64_t i = 0; i < n;) {
    uint64_t j = i + 1;
    while (j < n && strcmp(order[i]->name, order[j]->name) == 0)
      j++;
    for (uint64_t k = i; k + 1 < j; k++)
      memcpy(order[k]->sha256, order[j - 1]->sha256, sizeof order[k]->sha256);
    i = j;
  }
  free(order);
  return 0;
}

/* ---- gozip_inspect ----------------------------------------------------- */

static int inspect_open(struct inspect *in) {
  zip_error_t ze;
  zip_source_t *src;

  zip_error_init(&ze);
  src = zip_source_function_create(on_source, in, &ze);
  if (src == NULL) {
    zip_error_fini(&ze);
    return fail(in, -ENOMEM, "out of memory");
  }
  in->za = zip_open_from_source(src, ZIP_RDONLY, &ze);
  if (in->za == NULL) {
    int rc = unreadable(in, "zip: not a valid zip file (%s)",
                        zip_error_strerror(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    return rc;
  }
  zip_error_fini(&ze);
  return 0;
}

int gozip_inspect(const struct gozip_reader *r, const char *path,
                  const char *version, struct gozip_report *rep) {
  struct inspect in = {.r = r, .rep = rep, .module_ok = 1};
  int rc;

  if (rep == NULL)
    return -EINVAL;
  memset(rep, 0, sizeof *rep);
  if (r == NULL || r->read_at == NULL || path == NULL || version == NULL)
    return fail(&in, -EINVAL, "invalid argument");
  zip_error_init(&in.zerr);

  /* checkZip refuses a file over MaxZipFile before reading it. */
  if (r->size > GOMOD_MAX_ZIP_BYTES) {
    rc = fail(&in, -E2BIG, "module zip file is too large (%" PRIu64
              " bytes; limit is %u bytes)", r->size, GOMOD_MAX_ZIP_BYTES);
    goto out;
  }
  size_t plen = strlen(path), vlen = strlen(version);
  in.prefix = malloc(plen + vlen + 3);
  in.name_copy = malloc(ZIP_MAX_NAME_BYTES + 1);
  in.buf = malloc(ZIP_EOCD_SEARCH_BYTES);
  in.md = EVP_MD_CTX_new();
  if (in.prefix == NULL || in.name_copy == NULL || in.buf == NULL ||
      in.md == NULL) {
    rc = fail(&in, -ENOMEM, "out of memory");
    goto out;
  }
  in.prefix_len = (size_t)snprintf(in.prefix, plen + vlen + 3, "%s@%s/",
                                   path, version);

  rc = check_directory_end(&in);
  if (rc < 0)
    goto out;
  rc = inspect_open(&in);
  if (rc < 0)
    goto out;
  zip_int64_t n = zip_get_num_entries(in.za, 0);
  if (n < 0 || (uint64_t)n > GOZIP_MAX_ENTRIES) {
    rc = fail(&in, n < 0 ? -EBADMSG : -E2BIG, "zip has too many entries "
              "(%" PRId64 "; limit is %d)", (int64_t)n, GOZIP_MAX_ENTRIES);
    goto out;
  }
  in.nfiles = (uint64_t)n;
  rep->entries = in.nfiles;
  in.files = calloc(in.nfiles > 0 ? in.nfiles : 1, sizeof *in.files);
  if (in.files == NULL) {
    rc = fail(&in, -ENOMEM, "out of memory");
    goto out;
  }

  rc = check_module(&in, path, version);
  if (rc < 0)
    goto out;
  rc = scan_directory(&in);
  if (rc < 0)
    goto out;
  for (uint64_t i = 0; i < in.nfiles; i++) {
    rc = hash_entry(&in, i);
    if (rc < 0)
      goto out;
  }
  rc = use_last_duplicates(&in);
  if (rc < 0)
    goto out;
  rc = gomod_h1(in.files, (size_t)in.nfiles, rep->h1);
  if (rc < 0) {
    rc = fail(&in, -EBADMSG, "dirhash: cannot hash the zip");
    goto out;
  }
  rc = 0;

out:
  if (rc < 0) {
    /* On failure only `error` means anything: no half-filled h1. */
    rep->h1[0] = '\0';
  }
  if (in.za != NULL)
    zip_discard(in.za);
  zip_error_fini(&in.zerr);
  EVP_MD_CTX_free(in.md);
  free(in.slots);
  free(in.files);
  free(in.buf);
  free(in.name_copy);
  free(in.prefix);
  return rc;
}
