/*
 * Module zip inspection (gozip_inspect): reads a module zip through a
 * caller-supplied random-access reader, checks it against the rules of
 * golang.org/x/mod v0.7.0 zip.checkZip + zip.Unzip, and computes its h1
 * exactly as dirhash.HashZip does. The go command reads zips with Go 1.19's
 * archive/zip, so "readable" means readable by archive/zip.
 *
 * How it runs:
 *  1. The structure is parsed here, as archive/zip parses it (end record and
 *     zip64 end record, base offset, central directory headers up to the
 *     first bad one and the 16-bit count check, zip64 extra fields), with
 *     the limits applied while parsing. libzip's own parser is stricter in
 *     places (disk numbers, encryption and UTF-8 flags, sizes of the
 *     directory) and laxer in others (local headers of empty entries, data
 *     descriptors), so it never sees the real zip.
 *  2. checkZip's rules run over the entry names in directory order (prefix,
 *     path.Clean, CheckFilePath, the collision checker, go.mod placement).
 *     A broken rule is a violation in the report, not an error.
 *  3. Every entry HashZip reads (all but the earlier copies of a repeated
 *     name: its name -> file map keeps the last) is read as File.Open does:
 *     local header, then the data. libzip decompresses it and checks its
 *     CRC, through a one-entry zip made up on the fly around the real data
 *     (struct vzip); the bytes go through one ZIP_BUF_BYTES buffer into
 *     SHA-256 and are counted against the declared size. A data descriptor
 *     is checked as archive/zip checks it.
 *  4. The h1 is dirhash.Hash1 over every entry name as stored; a repeated
 *     name is hashed each time with its last entry's content.
 *
 * Memory: the entry table and names (capped by GOZIP_MAX_ENTRIES and
 * ZIP_MAX_CDIR_BYTES), the collision table (ZIP_MAX_PATHS) and fixed
 * buffers; entry data is never held whole. No I/O but the reader, no
 * global state.
 *
 * Known differences from Go:
 *  - A deflate stream that stops without its end-of-block code once all of
 *    its data is out: archive/zip reports an unexpected EOF; libzip stops
 *    quietly when its input ends. The made-up zip puts ZIP_PAD_BYTES of
 *    0xFF after the data, which turns that into an error or extra output,
 *    except for a dynamic Huffman block whose end code is all ones.
 *  - A name with a NUL byte is refused as unreadable: gomod_h1 takes C
 *    strings (archive/zip reads it and x/mod reports the invalid char).
 *  - The 500 MiB uncompressed limit covers every entry here (x/mod counts
 *    only files with valid names): everything is decompressed to be
 *    hashed, and a zip over it in names x/mod rejects is refused anyway.
 */
#include "modproxy/buf.h"
#include "modproxy/gozip.h"

#include "gomod_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zip.h>

/* archive/zip looks for the end record in the last 65 KiB of the file (a
 * 22-byte record and up to 64 KiB of comment); the same buffer then holds
 * central directory reads and decompressed data. */
#define ZIP_BUF_BYTES (65u << 10)
/* Central directory bytes read (headers, names, extra fields, comments);
 * only names are kept. GOZIP_MAX_ENTRIES entries with 200-byte names and
 * Go's extra fields take about 50 MiB. */
#define ZIP_MAX_CDIR_BYTES (64u << 20)
/* Distinct paths (files and their parent directories) the collision check
 * tracks: the table then takes at most 48 MiB. Real modules have far fewer
 * directories than files, so this is above 4 * GOZIP_MAX_ENTRIES. */
#define ZIP_MAX_PATHS (1u << 20)
#define ZIP_PATHS_MIN_SLOTS 1024u
/* The zip format stores name and extra field lengths in 16 bits. */
#define ZIP_MAX_FIELD_BYTES 0xFFFFu
/* 0xFF bytes after deflate data in the made-up zip (see above). */
#define ZIP_PAD_BYTES 8u

/* Record sizes and signatures (APPNOTE 4.3). */
#define END_BYTES 22u
#define END64_LOCATOR_BYTES 20u
#define END64_BYTES 56u
#define CDIR_HEADER_BYTES 46u
#define LOCAL_HEADER_BYTES 30u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_END64_LOCATOR 0x07064b50u
#define SIG_CDIR 0x02014b50u
#define SIG_LOCAL 0x04034b50u
#define SIG_DESCRIPTOR 0x08074b50u
#define FLAG_DESCRIPTOR 0x8u
#define ZIP64_EXTRA_ID 0x0001u

/* The made-up one-entry zip: local header and name "x", data, pad,
 * central header and name, end record. */
#define VZIP_HEAD_BYTES (LOCAL_HEADER_BYTES + 1)
#define VZIP_TAIL_BYTES (CDIR_HEADER_BYTES + 1 + END_BYTES)

#define GO_MOD "go.mod"
#define LICENSE "LICENSE"
#define NOT_A_ZIP "zip: not a valid zip file"

/* One central directory entry, as archive/zip's File holds it. */
struct zentry {
  size_t name_off; /* into inspect.names, NUL-terminated */
  uint32_t name_len;
  uint16_t flags;
  uint16_t method;
  uint32_t crc;
  uint64_t csize;
  uint64_t usize;
  int64_t header_off; /* base offset included */
  size_t last;        /* the last entry with the same name (maybe itself) */
};

/* One slot of the collision table: a path (borrowed from an entry name,
 * without prefix and trailing slash) and whether it is a directory.
 * collisionChecker keys it by its case-folded form. */
struct path_slot {
  const char *p; /* NULL: empty slot */
  uint32_t len;
  uint32_t hash;
  int is_dir;
};

/* The made-up zip libzip reads one entry through. */
struct vzip {
  unsigned char head[VZIP_HEAD_BYTES];
  unsigned char tail[VZIP_TAIL_BYTES];
  uint64_t data_off; /* where the data is in the real zip */
  uint64_t data_len; /* how much of it the real zip has */
  uint64_t pad_len;
  uint64_t size;
  uint64_t pos;
  int opening; /* data reads give zeros while libzip looks for the end */
  zip_error_t err;
};

/* The state of one gozip_inspect call. */
struct inspect {
  const struct gozip_reader *r;
  struct gozip_report *rep;
  int io_err; /* the reader's negative errno, once it failed */
  unsigned char *buf;
  char *scratch; /* ZIP_MAX_FIELD_BYTES + 1: extra fields, relative paths */
  /* central directory reading */
  uint64_t seq_pos; /* file offset of buf[seq_len] */
  size_t seq_off, seq_len;
  uint64_t cdir_bytes;
  /* entries */
  struct zentry *ents;
  size_t nents, ents_cap;
  char *names;
  size_t names_len, names_cap;
  struct gomod_h1_file *files;
  /* rules */
  char *prefix; /* "<path>@<version>/" */
  size_t prefix_len;
  int module_ok; /* 0 when path/version fail checkZip's first checks */
  struct path_slot *slots;
  size_t nslots; /* a power of two, or 0 before the first path */
  size_t npaths;
  /* data */
  struct vzip v;
  EVP_MD_CTX *md;
};

/* ---- errors and violations ------------------------------------------- */

static void set_error(struct inspect *in, const char *fmt, va_list ap) {
  if (in->rep->error[0] == '\0')
    vsnprintf(in->rep->error, sizeof in->rep->error, fmt, ap);
}

/* Records why the zip is refused (the first reason only) and returns rc. */
static int fail(struct inspect *in, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct inspect *in, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_error(in, fmt, ap);
  va_end(ap);
  return rc;
}

/* fail(-EBADMSG, ...), unless the reader failed: then its errno, since
 * what we made of the missing bytes says nothing about the zip. */
static int unreadable(struct inspect *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int unreadable(struct inspect *in, const char *fmt, ...) {
  va_list ap;
  if (in->io_err < 0)
    return fail(in, in->io_err, "reading the zip: %s", strerror(-in->io_err));
  va_start(ap, fmt);
  set_error(in, fmt, ap);
  va_end(ap);
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

/* ---- reading ------------------------------------------------------------ */

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

static void put16(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v) {
  put16(p, v);
  put16(p + 2, v >> 16);
}

/* Go's int64 arithmetic on offsets, which wraps. */
static int64_t to_int64(uint64_t v) {
  int64_t s;
  memcpy(&s, &v, sizeof s);
  return s;
}

/*
 * Reads what the zip has of [off, off + len): returns that count (short
 * only at r->size), or the reader's negative errno. A reader that returns
 * nothing before r->size broke its contract: -EIO.
 */
static int64_t read_at(struct inspect *in, uint64_t off, void *buf,
                       size_t len) {
  uint64_t size = in->r->size;
  size_t got = 0;
  if (off >= size)
    return 0;
  if (len > size - off)
    len = (size_t)(size - off);
  while (got < len) {
    int64_t n =
        in->r->read_at(in->r->ctx, off + got, (char *)buf + got, len - got);
    if (n < 0 || n == 0 || (uint64_t)n > len - got) {
      in->io_err = n < 0 ? (int)n : -EIO;
      return in->io_err;
    }
    got += (size_t)n;
  }
  return (int64_t)got;
}

/* io.ReadFull's three outcomes, plus the reader's errors (< 0). */
enum { READ_OK = 0, READ_EOF = 1, READ_SHORT = 2 };

/* ReaderAt.ReadAt of exactly len bytes at a Go int64 offset. */
static int read_exact(struct inspect *in, int64_t off, void *buf, size_t len) {
  if (off < 0)
    return READ_SHORT; /* os.File.ReadAt: "negative offset" */
  int64_t n = read_at(in, (uint64_t)off, buf, len);
  if (n < 0)
    return (int)n;
  return (size_t)n == len ? READ_OK : READ_SHORT;
}

/* The central directory is read front to back through buf (the bufio
 * reader archive/zip uses). */
static void seq_start(struct inspect *in, uint64_t off) {
  in->seq_pos = off;
  in->seq_off = 0;
  in->seq_len = 0;
}

/* Reads up to n bytes of the directory into dst (NULL skips them); *got
 * is short only at the end of the file. Returns 0 or a negative errno. */
static int seq_read(struct inspect *in, void *dst, size_t n, size_t *got) {
  *got = 0;
  while (*got < n) {
    if (in->seq_off == in->seq_len) {
      int64_t k = read_at(in, in->seq_pos, in->buf, ZIP_BUF_BYTES);
      if (k < 0)
        return (int)k;
      if (k == 0)
        break;
      in->seq_pos += (uint64_t)k;
      in->seq_off = 0;
      in->seq_len = (size_t)k;
    }
    size_t k = in->seq_len - in->seq_off;
    if (k > n - *got)
      k = n - *got;
    if (dst != NULL)
      memcpy((char *)dst + *got, in->buf + in->seq_off, k);
    in->seq_off += k;
    *got += k;
  }
  in->cdir_bytes += *got;
  return 0;
}

/* What io.ReadFull returns after getting `got` of `want` bytes. */
static int full_read(size_t got, size_t want) {
  if (got == want)
    return READ_OK;
  return got == 0 ? READ_EOF : READ_SHORT;
}

/* ---- the end of central directory -------------------------------------- */

struct dir_end {
  uint64_t records;
  uint64_t offset;
  int64_t base;
};

/*
 * archive/zip's readDirectoryEnd: the last "PK\5\6" in the last 65 KiB
 * whose comment fits in the file; the zip64 end record when a field is
 * saturated (archive/zip tests the directory size against 0xFFFF, and so
 * do we); the base offset of data prepended to the zip.
 */
static int read_directory_end(struct inspect *in, struct dir_end *d) {
  uint64_t size = in->r->size;
  size_t len = size < ZIP_BUF_BYTES ? (size_t)size : ZIP_BUF_BYTES;
  unsigned char *b = in->buf;
  int64_t n;
  int rc;

  if (len < END_BYTES)
    return unreadable(in, NOT_A_ZIP);
  n = read_at(in, size - len, b, len);
  if (n < 0)
    return unreadable(in, NOT_A_ZIP);
  size_t i = len - END_BYTES;
  while (!(le32(b + i) == SIG_END && i + END_BYTES + le16(b + i + 20) <= len)) {
    if (i == 0)
      return unreadable(in, NOT_A_ZIP);
    i--;
  }
  uint64_t end_off = size - len + i;
  uint64_t dir_size = le32(b + i + 12);
  d->records = le16(b + i + 10);
  d->offset = le32(b + i + 16);

  if ((d->records == 0xFFFF || dir_size == 0xFFFF || d->offset == 0xFFFFFFFF) &&
      end_off >= END64_LOCATOR_BYTES) {
    unsigned char loc[END64_LOCATOR_BYTES], end64[END64_BYTES];
    rc = read_exact(in, (int64_t)(end_off - sizeof loc), loc, sizeof loc);
    if (rc != READ_OK)
      return unreadable(in, "zip: zip64 end locator: unexpected EOF");
    int64_t p = to_int64(le64(loc + 8));
    if (le32(loc) == SIG_END64_LOCATOR && le32(loc + 4) == 0 &&
        le32(loc + 16) == 1 && p >= 0) {
      rc = read_exact(in, p, end64, sizeof end64);
      if (rc != READ_OK)
        return unreadable(in, "zip: zip64 end record: unexpected EOF");
      if (le32(end64) != SIG_END64)
        return unreadable(in, NOT_A_ZIP);
      end_off = (uint64_t)p;
      d->records = le64(end64 + 32);
      dir_size = le64(end64 + 40);
      d->offset = le64(end64 + 48);
    }
  }
  d->base = to_int64(end_off - dir_size - d->offset);
  int64_t o = to_int64((uint64_t)d->base + d->offset);
  if (o < 0 || (uint64_t)o >= size)
    return unreadable(in, NOT_A_ZIP);
  return 0;
}

/* ---- the central directory --------------------------------------------- */

/* Outcome of one header besides 0 and the errnos: archive/zip's ErrFormat
 * (which ends the directory, like a short read). */
enum { HEADER_FORMAT = 3 };

static int add_name(struct inspect *in, size_t n, size_t *off) {
  if (buf_reserve(&in->names, &in->names_cap, in->names_len + n + 1, 4096) < 0)
    return fail(in, -ENOMEM, "out of memory");
  *off = in->names_len;
  in->names_len += n + 1;
  return 0;
}

/* The zip64 extra field, as readDirectoryHeader reads it: only for the
 * fields saturated in the header, in order. */
static int read_zip64_extra(struct zentry *e, const unsigned char *x, size_t n,
                            int need_u, int need_c, int need_h) {
  while (n >= 4) {
    uint16_t tag = le16(x);
    size_t len = le16(x + 2);
    x += 4;
    n -= 4;
    if (n < len)
      break;
    if (tag == ZIP64_EXTRA_ID) {
      const unsigned char *f = x;
      size_t left = len;
      if (need_u) {
        need_u = 0;
        if (left < 8)
          return HEADER_FORMAT;
        e->usize = le64(f);
        f += 8;
        left -= 8;
      }
      if (need_c) {
        need_c = 0;
        if (left < 8)
          return HEADER_FORMAT;
        e->csize = le64(f);
        f += 8;
        left -= 8;
      }
      if (need_h) {
        need_h = 0;
        if (left < 8)
          return HEADER_FORMAT;
        e->header_off = to_int64(le64(f));
      }
    }
    x += len;
    n -= len;
  }
  return need_c || need_h ? HEADER_FORMAT : 0;
}

/* readDirectoryHeader: READ_OK with *e filled in (name stored), READ_EOF,
 * READ_SHORT, HEADER_FORMAT, or a negative errno. */
static int read_header(struct inspect *in, struct zentry *e) {
  unsigned char h[CDIR_HEADER_BYTES];
  size_t got = 0, got2 = 0, got3 = 0, off = 0;
  int rc = seq_read(in, h, sizeof h, &got);
  if (rc < 0)
    return rc;
  if (got < sizeof h)
    return full_read(got, sizeof h);
  if (le32(h) != SIG_CDIR)
    return HEADER_FORMAT;
  memset(e, 0, sizeof *e);
  e->flags = le16(h + 8);
  e->method = le16(h + 10);
  e->crc = le32(h + 16);
  e->csize = le32(h + 20);
  e->usize = le32(h + 24);
  size_t name_len = le16(h + 28), extra_len = le16(h + 30);
  size_t comment_len = le16(h + 32);
  e->header_off = le32(h + 42);
  if (in->cdir_bytes + name_len + extra_len + comment_len > ZIP_MAX_CDIR_BYTES)
    return fail(in, -E2BIG,
                "zip central directory too large (limit is %u bytes)",
                ZIP_MAX_CDIR_BYTES);

  /* archive/zip reads name, extra and comment with one io.ReadFull. */
  rc = add_name(in, name_len, &off);
  if (rc < 0)
    return rc;
  rc = seq_read(in, in->names + off, name_len, &got);
  if (rc == 0)
    rc = seq_read(in, in->scratch, extra_len, &got2);
  if (rc == 0)
    rc = seq_read(in, NULL, comment_len, &got3);
  if (rc == 0)
    rc = full_read(got + got2 + got3, name_len + extra_len + comment_len);
  if (rc == READ_OK)
    rc = read_zip64_extra(e, (const unsigned char *)in->scratch, extra_len,
                          e->usize == 0xFFFFFFFF, e->csize == 0xFFFFFFFF,
                          e->header_off == 0xFFFFFFFF);
  if (rc != READ_OK) {
    in->names_len = off;
    return rc;
  }
  in->names[off + name_len] = '\0';
  e->name_off = off;
  e->name_len = (uint32_t)name_len;
  return READ_OK;
}

/*
 * archive/zip's Reader.init: headers from the directory offset until one
 * fails to read; if the very first fails and there was a base offset, once
 * more without it; then the count must match the end record's, modulo
 * 65536.
 */
static int read_directory(struct inspect *in, const struct dir_end *d) {
  int64_t base = d->base;
  int rc;

  seq_start(in, (uint64_t)base + d->offset);
  for (;;) {
    struct zentry e;
    rc = read_header(in, &e);
    if (rc == HEADER_FORMAT && base != 0 && in->nents == 0) {
      base = 0;
      seq_start(in, d->offset);
      continue;
    }
    if (rc == HEADER_FORMAT || rc == READ_SHORT)
      break;
    if (rc == READ_EOF)
      return unreadable(in, "zip: central directory: EOF");
    if (rc < 0)
      return rc;
    if (in->nents == GOZIP_MAX_ENTRIES)
      return fail(in, -E2BIG, "zip has too many entries (limit is %d)",
                  GOZIP_MAX_ENTRIES);
    if (in->nents == in->ents_cap) {
      size_t cap = in->ents_cap == 0 ? 64 : in->ents_cap * 2;
      struct zentry *p = realloc(in->ents, cap * sizeof *p);
      if (p == NULL)
        return fail(in, -ENOMEM, "out of memory");
      in->ents = p;
      in->ents_cap = cap;
    }
    e.header_off = to_int64((uint64_t)e.header_off + (uint64_t)base);
    in->ents[in->nents++] = e;
  }
  if ((uint16_t)in->nents != (uint16_t)d->records)
    return unreadable(in, "%s",
                      rc == READ_SHORT ? "unexpected EOF" : NOT_A_ZIP);
  return 0;
}

/* ---- repeated names ---------------------------------------------------- */

static const char *name_of(const struct inspect *in, const struct zentry *e) {
  return in->names + e->name_off;
}

/* A name and where its entry is, for sorting. */
struct name_ref {
  const char *name;
  size_t index;
};

static int by_name_then_index(const void *a, const void *b) {
  const struct name_ref *ra = a, *rb = b;
  int c = strcmp(ra->name, rb->name);
  if (c != 0)
    return c;
  return ra->index < rb->index ? -1 : ra->index > rb->index;
}

/*
 * Points every entry at the last entry with its name: HashZip opens names
 * through a map filled in directory order, so only that one is read and
 * its content hashed for each copy.
 */
static int find_last_copies(struct inspect *in) {
  size_t n = in->nents;
  if (n == 0)
    return 0;
  struct name_ref *order = malloc(n * sizeof *order);
  if (order == NULL)
    return fail(in, -ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    order[i] = (struct name_ref){name_of(in, &in->ents[i]), i};
  qsort(order, n, sizeof *order, by_name_then_index);
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && strcmp(order[i].name, order[j].name) == 0)
      j++;
    for (size_t k = i; k < j; k++)
      in->ents[order[k].index].last = order[j - 1].index;
    i = j;
  }
  free(order);
  return 0;
}

/* ---- case folding and the collision checker ---------------------------- */

/* The slot holding p's folded form, or the empty slot where it goes. */
static struct path_slot *paths_find(struct inspect *in, const char *p, size_t n,
                                    uint32_t hash) {
  size_t mask = in->nslots - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    struct path_slot *s = &in->slots[i];
    if (s->p == NULL)
      return s;
    if (s->hash == hash && gomod__fold_equal(s->p, s->len, p, n))
      return s;
  }
}

/* Makes room for one more path: doubles the table past 3/4 full. */
static int paths_reserve(struct inspect *in) {
  if (in->npaths >= ZIP_MAX_PATHS)
    return fail(in, -E2BIG,
                "zip has too many files and directories (limit is %u)",
                ZIP_MAX_PATHS);
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
 * directory seen again is fine. As in x/mod, paths stay added when a
 * parent then fails. Returns 0, 1 after recording a violation for entry
 * `name`, or a negative errno.
 */
static int check_collisions(struct inspect *in, const char *name, const char *p,
                            size_t n, int is_dir) {
  for (;;) {
    uint32_t hash = gomod__fold_hash(p, n);
    int rc = paths_reserve(in);
    if (rc < 0)
      return rc;
    struct path_slot *s = paths_find(in, p, n, hash);
    struct gomod__buf b;
    if (s->p == NULL) {
      *s = (struct path_slot){p, (uint32_t)n, hash, is_dir};
      in->npaths++;
    } else if (s->len != n || memcmp(s->p, p, n) != 0) {
      violation(in, &b);
      gomod__buf_str(&b, name);
      gomod__buf_str(&b, ": case-insensitive file name collision: ");
      gomod__buf_quote(&b, s->p, s->len);
      gomod__buf_str(&b, " and ");
      gomod__buf_quote(&b, p, n);
      return 1;
    } else if (s->is_dir != is_dir) {
      violation(in, &b);
      gomod__buf_str(&b, name);
      gomod__buf_str(&b, ": entry ");
      gomod__buf_quote(&b, p, n);
      gomod__buf_str(&b, " is both a file and a directory");
      return 1;
    } else if (!is_dir) {
      violation(in, &b);
      gomod__buf_str(&b, name);
      gomod__buf_str(&b, ": multiple entries for file ");
      gomod__buf_quote(&b, p, n);
      return 1;
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
    if (len == 0 || (len == 1 && s[i] == '.'))
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
 * errno (the collision table's limit).
 */
static int check_name(struct inspect *in, const char *name, size_t nlen) {
  char msg[GOZIP_VIOLATION_BYTES];
  struct gomod__buf b;

  if (nlen < in->prefix_len || memcmp(name, in->prefix, in->prefix_len) != 0) {
    /* The go command's own check (modfetch.downloadZip) runs before
     * x/mod's and is what users see: it is reported in its words. */
    violation(in, &b);
    gomod__buf_str(&b, "zip for ");
    gomod__buf_add(&b, in->prefix, in->prefix_len - 1);
    gomod__buf_str(&b, " has unexpected file ");
    gomod__buf_add(&b, name, nlen);
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
  memcpy(in->scratch, rel, n);
  in->scratch[n] = '\0';
  if (gomod_check_file_path(in->scratch, msg, sizeof msg) < 0) {
    file_violation(in, name, msg);
    return 0;
  }
  int rc = check_collisions(in, name, rel, n, is_dir);
  if (rc != 0 || is_dir)
    return rc < 0 ? rc : 0;
  /* path.Base(rel) equal to "go.mod" under strings.EqualFold: no rune
   * outside ASCII folds to a letter of "go.mod", so ASCII folding is exact
   * here. */
  size_t base = n;
  while (base > 0 && rel[base - 1] != '/')
    base--;
  if (n - base == strlen(GO_MOD) &&
      ascii_equal_fold(rel + base, GO_MOD, n - base)) {
    if (base != 0)
      file_violation(in, name, "go.mod file not in module root directory");
    else if (memcmp(rel, GO_MOD, n) != 0)
      file_violation(in, name, "go.mod files must have lowercase names");
  }
  return 0;
}

/*
 * checkZip's first checks: the version is canonical, then module.Check.
 * When they fail, x/mod looks at no file name; neither do we.
 */
static int check_module(struct inspect *in, const char *path,
                        const char *version) {
  size_t vlen = strlen(version);
  /* Canonical adds at most ".0.0" to what it keeps of the version. */
  size_t cap = vlen + sizeof ".0.0";
  char *canon = malloc(cap);
  char msg[GOZIP_VIOLATION_BYTES];
  struct gomod__buf b;

  if (canon == NULL)
    return fail(in, -ENOMEM, "out of memory");
  int n = gomod_canonical_version(version, canon, cap);
  if (n < 0 || strcmp(canon, version) != 0) {
    violation(in, &b);
    gomod__buf_str(&b, "version ");
    gomod__buf_quote(&b, version, vlen);
    gomod__buf_str(&b, " is not canonical (should be ");
    gomod__buf_quote(&b, canon, n < 0 ? 0 : (size_t)n);
    gomod__buf_str(&b, ")");
    in->module_ok = 0;
  } else if (gomod_check(path, version, msg, sizeof msg) < 0) {
    violation(in, &b);
    gomod__buf_str(&b, msg);
    in->module_ok = 0;
  }
  free(canon);
  return 0;
}

static int is_root_file(const struct inspect *in, const char *name, size_t nlen,
                        const char *file) {
  size_t flen = strlen(file);
  return nlen == in->prefix_len + flen &&
         memcmp(name, in->prefix, in->prefix_len) == 0 &&
         memcmp(name + in->prefix_len, file, flen) == 0;
}

/*
 * Over the directory in order: names that cannot be hashed, the limits on
 * declared sizes (checkZip's, on every entry; the data is held to them
 * later), then the name rules.
 */
static int check_entries(struct inspect *in) {
  uint64_t total = 0;
  for (size_t i = 0; i < in->nents; i++) {
    const struct zentry *e = &in->ents[i];
    const char *name = name_of(in, e);
    if (strlen(name) != e->name_len)
      return unreadable(in, "zip: file name with a NUL byte");
    if (memchr(name, '\n', e->name_len) != NULL)
      return unreadable(in,
                        "dirhash: filenames with newlines are not supported");
    if (e->usize > GOMOD_MAX_ZIP_BYTES - total)
      return fail(in, -E2BIG,
                  "total uncompressed size of module contents too large "
                  "(max size is %u bytes)",
                  GOMOD_MAX_ZIP_BYTES);
    total += e->usize;
    in->rep->uncompressed_bytes = total;
    if (is_root_file(in, name, e->name_len, GO_MOD)) {
      in->rep->has_gomod = 1;
      if (e->usize > GOMOD_MAX_GOMOD_BYTES)
        return fail(in, -E2BIG,
                    "%s: go.mod file too large (max size is %u bytes)", name,
                    GOMOD_MAX_GOMOD_BYTES);
    }
    if (is_root_file(in, name, e->name_len, LICENSE) &&
        e->usize > GOMOD_MAX_LICENSE_BYTES)
      return fail(in, -E2BIG,
                  "%s: LICENSE file too large (max size is %u bytes)", name,
                  GOMOD_MAX_LICENSE_BYTES);
    if (in->module_ok) {
      int rc = check_name(in, name, e->name_len);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

/* ---- the made-up zip libzip decompresses one entry from ---------------- */

static zip_int64_t vzip_read(struct inspect *in, unsigned char *out,
                             zip_uint64_t len) {
  struct vzip *v = &in->v;
  uint64_t data_end = VZIP_HEAD_BYTES + v->data_len;
  uint64_t pad_end = data_end + v->pad_len;
  zip_uint64_t done = 0;

  if (len > v->size - v->pos)
    len = v->size - v->pos;
  while (done < len) {
    uint64_t pos = v->pos, n;
    if (pos < VZIP_HEAD_BYTES) {
      n = VZIP_HEAD_BYTES - pos;
      n = n < len - done ? n : len - done;
      memcpy(out + done, v->head + pos, n);
    } else if (pos < data_end) {
      n = data_end - pos;
      n = n < len - done ? n : len - done;
      if (v->opening) {
        memset(out + done, 0, n);
      } else {
        int64_t k = read_at(in, v->data_off + (pos - VZIP_HEAD_BYTES),
                            out + done, (size_t)n);
        if (k < 0 || (uint64_t)k != n) {
          if (in->io_err == 0)
            in->io_err = -EIO; /* r->size covered these bytes before */
          zip_error_set(&v->err, ZIP_ER_READ, -in->io_err);
          return -1;
        }
      }
    } else if (pos < pad_end) {
      n = pad_end - pos;
      n = n < len - done ? n : len - done;
      memset(out + done, 0xFF, n);
    } else {
      n = v->size - pos;
      n = n < len - done ? n : len - done;
      memcpy(out + done, v->tail + (pos - pad_end), n);
    }
    v->pos += n;
    done += n;
  }
  return (zip_int64_t)done;
}

static zip_int64_t on_vzip(void *ud, void *data, zip_uint64_t len,
                           zip_source_cmd_t cmd) {
  struct inspect *in = ud;
  struct vzip *v = &in->v;
  switch (cmd) {
  case ZIP_SOURCE_OPEN: v->pos = 0; return 0;
  case ZIP_SOURCE_READ: return vzip_read(in, data, len);
  case ZIP_SOURCE_CLOSE: return 0;
  case ZIP_SOURCE_STAT: {
    zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &v->err);
    if (st == NULL)
      return -1;
    zip_stat_init(st);
    st->size = v->size;
    st->valid |= ZIP_STAT_SIZE;
    return sizeof *st;
  }
  case ZIP_SOURCE_ERROR: return zip_error_to_data(&v->err, data, len);
  case ZIP_SOURCE_FREE: return 0; /* the state belongs to gozip_inspect */
  case ZIP_SOURCE_SEEK: {
    zip_int64_t off =
        zip_source_seek_compute_offset(v->pos, v->size, data, len, &v->err);
    if (off < 0)
      return -1;
    v->pos = (uint64_t)off;
    return 0;
  }
  case ZIP_SOURCE_TELL: return (zip_int64_t)v->pos;
  case ZIP_SOURCE_SUPPORTS: return ZIP_SOURCE_SUPPORTS_SEEKABLE;
  default: zip_error_set(&v->err, ZIP_ER_OPNOTSUPP, 0); return -1;
  }
}

/*
 * Lays out the one-entry zip for e, whose data starts at `body` in the real
 * zip and runs for data_len bytes there (the compressed size, cut at the end
 * of the file as archive/zip's SectionReader cuts it). Sizes fit in 32 bits:
 * check_entries bounds usize, and data_len is within the file.
 */
static void vzip_init(struct inspect *in, const struct zentry *e, uint64_t body,
                      uint64_t data_len) {
  struct vzip *v = &in->v;
  uint32_t csize;
  unsigned char *c = v->tail, *end = v->tail + CDIR_HEADER_BYTES + 1;

  v->data_off = body;
  v->data_len = data_len;
  v->pad_len = e->method == ZIP_CM_DEFLATE ? ZIP_PAD_BYTES : 0;
  v->size = VZIP_HEAD_BYTES + data_len + v->pad_len + VZIP_TAIL_BYTES;
  v->pos = 0;
  csize = (uint32_t)(data_len + v->pad_len);

  memset(v->head, 0, sizeof v->head);
  put32(v->head, SIG_LOCAL);
  put16(v->head + 4, 20);
  put16(v->head + 8, e->method);
  put32(v->head + 14, e->crc);
  put32(v->head + 18, csize);
  put32(v->head + 22, (uint32_t)e->usize);
  put16(v->head + 26, 1);
  v->head[30] = 'x';

  memset(v->tail, 0, sizeof v->tail);
  put32(c, SIG_CDIR);
  put16(c + 4, 20);
  put16(c + 6, 20);
  put16(c + 10, e->method);
  put32(c + 16, e->crc);
  put32(c + 20, csize);
  put32(c + 24, (uint32_t)e->usize);
  put16(c + 28, 1);
  c[CDIR_HEADER_BYTES] = 'x';
  put32(end, SIG_END);
  put16(end + 8, 1);
  put16(end + 10, 1);
  put32(end + 12, CDIR_HEADER_BYTES + 1);
  put32(end + 16, (uint32_t)(v->size - VZIP_TAIL_BYTES));
}

/* ---- reading an entry -------------------------------------------------- */

/* x/mod Unzip's wording for data longer than declared, and its mirror. */
static int size_mismatch(struct inspect *in, const char *name, int larger,
                         uint64_t want) {
  return unreadable(in,
                    "uncompressed size of file %s is %s than declared "
                    "size (%" PRIu64 " bytes)",
                    name, larger ? "larger" : "smaller", want);
}

/*
 * The data descriptor after an entry's data, as readDataDescriptor reads
 * it (with or without its signature): its CRC must be the directory's.
 */
static int check_descriptor(struct inspect *in, const struct zentry *e,
                            uint64_t body) {
  unsigned char d[16];
  const char *name = name_of(in, e);
  int64_t off = to_int64(body + e->csize);
  int rc = read_exact(in, off, d, 4);
  int sig = rc == READ_OK && le32(d) == SIG_DESCRIPTOR;
  if (rc == READ_OK)
    rc = read_exact(in, off, d, sig ? 16 : 12); /* CRC and two sizes */
  if (rc != READ_OK)
    return unreadable(in, "%s: data descriptor: unexpected EOF", name);
  if (le32(sig ? d + 4 : d) != e->crc)
    return unreadable(in, "%s: zip: checksum error", name);
  return 0;
}

/*
 * Reads the data of za's only entry (inflated, or stored) into SHA-256,
 * counting it against e's declared size. Returns 0 or a negative errno.
 */
static int hash_data(struct inspect *in, zip_t *za, const struct zentry *e,
                     unsigned char sha256[32]) {
  const char *name = name_of(in, e);
  uint64_t count = 0;
  int rc = 0;
  zip_file_t *zf = zip_fopen_index(za, 0, 0);

  if (zf == NULL)
    return unreadable(in, "%s: %s", name, zip_strerror(za));
  if (EVP_DigestInit_ex(in->md, EVP_sha256(), NULL) != 1) {
    rc = fail(in, -ENOMEM, "SHA-256 unavailable");
    goto out;
  }
  for (;;) {
    zip_int64_t n = zip_fread(zf, in->buf, ZIP_BUF_BYTES);
    if (n < 0) {
      zip_error_t *ze = zip_file_get_error(zf);
      int code = zip_error_code_zip(ze);
      /* archive/zip skips the CRC check when the header's CRC is 0 and no
       * data descriptor follows. */
      if (code == ZIP_ER_CRC && e->crc == 0 &&
          (e->flags & FLAG_DESCRIPTOR) == 0 && count == e->usize)
        break;
      if (count != e->usize && (code == ZIP_ER_CRC || code == ZIP_ER_INCONS))
        rc = size_mismatch(in, name, count > e->usize, e->usize);
      else if (code == ZIP_ER_CRC)
        rc = unreadable(in, "%s: zip: checksum error", name);
      else
        rc = unreadable(in, "%s: %s", name, zip_error_strerror(ze));
      goto out;
    }
    if (n == 0)
      break;
    if ((uint64_t)n > e->usize - count) {
      rc = size_mismatch(in, name, 1, e->usize);
      goto out;
    }
    count += (uint64_t)n;
    if (EVP_DigestUpdate(in->md, in->buf, (size_t)n) != 1) {
      rc = fail(in, -ENOMEM, "SHA-256 failed");
      goto out;
    }
  }
  if (count != e->usize)
    rc = size_mismatch(in, name, 0, e->usize);
  else if (EVP_DigestFinal_ex(in->md, sha256, NULL) != 1)
    rc = fail(in, -ENOMEM, "SHA-256 failed");
out:
  zip_fclose(zf);
  return rc;
}

/*
 * File.Open and a full read, as HashZip does them: the local header
 * (signature; its name and extra lengths locate the data), the method
 * (store or deflate), the data through libzip, then the data descriptor.
 */
static int hash_entry(struct inspect *in, const struct zentry *e,
                      unsigned char sha256[32]) {
  const char *name = name_of(in, e);
  unsigned char h[LOCAL_HEADER_BYTES];
  zip_error_t ze;
  int rc = read_exact(in, e->header_off, h, sizeof h);

  if (rc != READ_OK)
    return unreadable(in, "%s: local header: unexpected EOF", name);
  if (le32(h) != SIG_LOCAL)
    return unreadable(in, "%s: %s", name, NOT_A_ZIP);
  if (e->method != ZIP_CM_STORE && e->method != ZIP_CM_DEFLATE)
    return unreadable(in, "%s: zip: unsupported compression algorithm", name);
  uint64_t body = (uint64_t)e->header_off + LOCAL_HEADER_BYTES + le16(h + 26) +
                  le16(h + 28);
  /* io.NewSectionReader(zipr, body, int64(csize)): nothing when the int64
   * limit is negative, and no further than the end of the file. */
  uint64_t size = in->r->size, data_len = 0;
  if (body < size && e->csize <= (uint64_t)INT64_MAX - body)
    data_len = e->csize < size - body ? e->csize : size - body;

  /* libzip neither reads nor checks a stored entry of size 0: archive/zip
   * finds data there too long, and a CRC other than 0 wrong. */
  if (e->method == ZIP_CM_STORE && e->usize == 0) {
    if (data_len > 0)
      return size_mismatch(in, name, 1, 0);
    if (e->crc != 0)
      return unreadable(in, "%s: zip: checksum error", name);
    if (EVP_Digest("", 0, sha256, NULL, EVP_sha256(), NULL) != 1)
      return fail(in, -ENOMEM, "SHA-256 failed");
    return (e->flags & FLAG_DESCRIPTOR) != 0 ? check_descriptor(in, e, body)
                                             : 0;
  }

  vzip_init(in, e, body, data_len);
  zip_error_init(&ze);
  zip_source_t *src = zip_source_function_create(on_vzip, in, &ze);
  if (src == NULL) {
    zip_error_fini(&ze);
    return fail(in, -ENOMEM, "out of memory");
  }
  in->v.opening = 1;
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
  in->v.opening = 0;
  if (za == NULL) {
    rc = unreadable(in, "%s: %s", name, zip_error_strerror(&ze));
    zip_source_free(src);
    zip_error_fini(&ze);
    return rc;
  }
  zip_error_fini(&ze);
  rc = hash_data(in, za, e, sha256);
  zip_discard(za);
  if (rc == 0 && (e->flags & FLAG_DESCRIPTOR) != 0)
    rc = check_descriptor(in, e, body);
  return rc;
}

/* ---- gozip_inspect ----------------------------------------------------- */

static int inspect_zip(struct inspect *in, const char *path,
                       const char *version) {
  struct dir_end d = {0};
  int rc;

  /* checkZip refuses a file over MaxZipFile before reading it. */
  if (in->r->size > GOMOD_MAX_ZIP_BYTES)
    return fail(in, -E2BIG,
                "module zip file is too large (%" PRIu64
                " bytes; limit is %u bytes)",
                in->r->size, GOMOD_MAX_ZIP_BYTES);
  rc = read_directory_end(in, &d);
  if (rc < 0)
    return rc;
  rc = read_directory(in, &d);
  if (rc < 0)
    return rc;
  in->rep->entries = in->nents;
  rc = find_last_copies(in);
  if (rc < 0)
    return rc;
  rc = check_module(in, path, version);
  if (rc < 0)
    return rc;
  rc = check_entries(in);
  if (rc < 0)
    return rc;

  in->files = calloc(in->nents > 0 ? in->nents : 1, sizeof *in->files);
  if (in->files == NULL)
    return fail(in, -ENOMEM, "out of memory");
  for (size_t i = 0; i < in->nents; i++) {
    const struct zentry *e = &in->ents[i];
    in->files[i].name = name_of(in, e);
    if (e->last != i)
      continue; /* HashZip reads only the last entry of a name */
    rc = hash_entry(in, e, in->files[i].sha256);
    if (rc < 0)
      return rc;
  }
  for (size_t i = 0; i < in->nents; i++) {
    size_t last = in->ents[i].last;
    memcpy(in->files[i].sha256, in->files[last].sha256,
           sizeof in->files[i].sha256);
  }
  rc = gomod_h1(in->files, in->nents, in->rep->h1);
  if (rc < 0)
    return fail(in, -EBADMSG, "dirhash: cannot hash the zip");
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

  size_t plen = strlen(path), vlen = strlen(version);
  in.prefix = malloc(plen + vlen + 3);
  in.buf = malloc(ZIP_BUF_BYTES);
  in.scratch = malloc(ZIP_MAX_FIELD_BYTES + 1);
  in.md = EVP_MD_CTX_new();
  zip_error_init(&in.v.err);
  if (in.prefix == NULL || in.buf == NULL || in.scratch == NULL ||
      in.md == NULL) {
    rc = fail(&in, -ENOMEM, "out of memory");
  } else {
    in.prefix_len =
        (size_t)snprintf(in.prefix, plen + vlen + 3, "%s@%s/", path, version);
    rc = inspect_zip(&in, path, version);
  }
  if (rc < 0)
    rep->h1[0] = '\0'; /* on failure only `error` means anything */
  zip_error_fini(&in.v.err);
  EVP_MD_CTX_free(in.md);
  free(in.files);
  free(in.slots);
  free(in.names);
  free(in.ents);
  free(in.scratch);
  free(in.buf);
  free(in.prefix);
  return rc;
}
