/*
 * Module zip inspection: reads a zip through a caller-supplied reader (no
 * file or network I/O of its own), checks it against the module zip rules of
 * x/mod/zip (checkZip + Unzip) and computes its h1 hash (dirhash.HashZip).
 *
 * Used at ingest: a zip that cannot be read is refused; a readable zip that
 * breaks a rule is reported (the store records the violations, and serves
 * the zip unchanged unless --strict-zips is set).
 */
#ifndef MODPROXY_GOZIP_H
#define MODPROXY_GOZIP_H

#include <stddef.h>
#include <stdint.h>

#include "modproxy/gomod.h"

/* How many rule violations a report keeps (the first ones found); the count
 * goes on past it. */
#define GOZIP_MAX_VIOLATIONS 8
#define GOZIP_VIOLATION_BYTES 256
/* The most entries we read from one zip; more is refused with -E2BIG
 * (x/mod has no count limit, but the 500 MiB size limits bound real zips
 * well below this). */
#define GOZIP_MAX_ENTRIES 200000

/** Random-access source of the zip bytes. */
struct gozip_reader {
  uint64_t size;
  /** Reads len bytes at off into buf; returns bytes read (len unless at the
   *  end) or a negative errno. */
  int64_t (*read_at)(void *ctx, uint64_t off, void *buf, size_t len);
  void *ctx;
};

struct gozip_report {
  /** h1 of every entry (HashZip: all entries as stored, directories too). */
  char h1[GOMOD_H1_BYTES];
  uint64_t entries;            /**< entries in the central directory */
  uint64_t uncompressed_bytes; /**< sum of declared uncompressed sizes */
  int has_gomod;               /**< 1 if <prefix>go.mod is present */
  uint64_t violation_count;    /**< all violations found */
  /** The first GOZIP_MAX_VIOLATIONS messages, in directory order: an entry
   *  outside <path>@<version>/ in the go command's words ("zip for
   *  m@v1.0.0 has unexpected file x/y.go", its check runs before x/mod's),
   *  any other in x/mod's ("<entry name>: case-insensitive file name
   *  collision: ..."), and a bad path or version alone, as x/mod's error
   *  (x/mod then checks no file). Truncated to GOZIP_VIOLATION_BYTES. */
  char violations[GOZIP_MAX_VIOLATIONS][GOZIP_VIOLATION_BYTES];
  /** Why gozip_inspect failed, when it returns an error. */
  char error[GOZIP_VIOLATION_BYTES];
};

/**
 * Reads the whole zip, decompressing every entry to hash it, and checks the
 * module zip rules for module `path` at `version` (unescaped).
 *
 * Returns 0 when the zip is readable (rep->h1 is set; rep->violation_count
 * says whether it follows the rules), -EBADMSG when it is not a readable zip
 * (bad structure, bad CRC, truncated, an entry that does not decompress to
 * its declared size), -E2BIG when it is over the x/mod size limits
 * (GOMOD_MAX_ZIP_BYTES for the file or the sum of uncompressed sizes,
 * GOMOD_MAX_GOMOD_BYTES/GOMOD_MAX_LICENSE_BYTES) or over the memory limits
 * of this reader (GOZIP_MAX_ENTRIES; directory bytes and distinct paths,
 * see zip.c), with rep->error set.
 * "Readable" is what Go 1.19's archive/zip reads, as the go command does.
 * Also returns the reader's negative errno when a read fails (and -EIO
 * when it gives fewer bytes than r->size promised), -ENOMEM, or -EINVAL
 * for a NULL argument. On any error only rep->error is meaningful.
 * Entry data goes through a fixed buffer, whatever the zip's size; the
 * central directory (names) is held in memory, up to 64 MiB.
 * Thread-safe: no shared state; `r` and `rep` are borrowed for the call.
 */
int gozip_inspect(const struct gozip_reader *r, const char *path,
                  const char *version, struct gozip_report *rep);

/* ---- writing a module zip (x/mod/zip.Create) ---------------------------- */

/** What a file handed to gozip_create is, as its Lstat would say. */
enum gozip_file_kind {
  GOZIP_FILE_REGULAR,
  GOZIP_FILE_DIR,
  GOZIP_FILE_SYMLINK,
  GOZIP_FILE_OTHER, /**< anything else that is not regular (omitted) */
};

/** One candidate file: its slash-separated path relative to the module root
 *  (borrowed), kind and declared size. `ctx` is the caller's, passed back
 *  to the reader. */
struct gozip_create_file {
  const char *path;
  enum gozip_file_kind kind;
  uint64_t size;
  void *ctx;
};

/** Where the bytes come from and go. The writer calls open/read/close for
 *  one file at a time, reading it start to end, in input order. */
struct gozip_create_io {
  /** Prepares to read f; 0 or a negative errno. */
  int (*open)(void *ctx, const struct gozip_create_file *f);
  /** Reads up to len bytes of the open file: the count, 0 at its end, or a
   *  negative errno. */
  int64_t (*read)(void *ctx, void *buf, size_t len);
  void (*close)(void *ctx);
  /** Appends len bytes to the zip; 0 or a negative errno. */
  int (*write)(void *ctx, const void *buf, size_t len);
  void *ctx;
};

/** What gozip_create did. */
struct gozip_create_report {
  uint64_t files;          /**< entries written */
  uint64_t omitted;        /**< files left out (vendor, nested module, symlink,
                                not regular), as x/mod omits them */
  uint64_t zip_bytes;      /**< bytes written */
  char h1[GOMOD_H1_BYTES]; /**< dirhash h1 of what was written */
  /** Why the zip could not be created (gozip_create < 0), in x/mod's words
   *  ("LICENSE: LICENSE file too large ..."). */
  char error[GOZIP_VIOLATION_BYTES];
};

/**
 * zip.Create: checks the files with x/mod's checkFiles rules (clean relative
 * paths, module.CheckFilePath, vendor/ packages and nested modules omitted,
 * symlinks and irregular files omitted, ".hg_archival.txt" omitted, go.mod
 * case, case-insensitive collisions, the go.mod/LICENSE/total size limits)
 * and writes the kept files, in input order, under "<module>@<version>/"
 * through io->write. Deterministic: entries are stored (method 0) with a
 * fixed timestamp and no extra fields, so the same files always give the
 * same bytes. A file that reads more or fewer bytes than declared fails the
 * whole zip. No I/O of its own.
 *
 * Returns 0; -EINVAL when a file breaks a rule (rep->error says which) or
 * the module path/version is invalid; -E2BIG over a size limit; or the
 * reader's/writer's negative errno.
 */
int gozip_create(const char *module, const char *version,
                 const struct gozip_create_file *files, size_t n,
                 const struct gozip_create_io *io,
                 struct gozip_create_report *rep);

#endif
