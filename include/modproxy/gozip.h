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
/* The most entries we read from one zip; more is refused as unreadable
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
  /** The first GOZIP_MAX_VIOLATIONS messages, in x/mod's wording, e.g.
   *  "zip for m@v1.0.0 has unexpected file x/y.go". */
  char violations[GOZIP_MAX_VIOLATIONS][GOZIP_VIOLATION_BYTES];
  /** Why the zip is unreadable when gozip_inspect returns -EBADMSG/-E2BIG. */
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
 * GOMOD_MAX_GOMOD_BYTES/GOMOD_MAX_LICENSE_BYTES), with rep->error set.
 * Memory use is bounded by a fixed buffer, whatever the zip's size.
 */
int gozip_inspect(const struct gozip_reader *r, const char *path,
                  const char *version, struct gozip_report *rep);

#endif
