/*
 * Mirror bundles, shared by `modproxy export` and `modproxy import`.
 *
 * A bundle is a directory that is also a GOPROXY file:// tree in the
 * download-cache layout (<escaped path>/@v/list, .info, .mod, .zip, and
 * sumdb/<name>/supported, lookup/..., tile/...), plus a manifest,
 * BUNDLE_MANIFEST, of text lines:
 *
 *   modproxy-bundle 1
 *   created <RFC 3339 time> <Unix seconds>
 *   since <id of the bundle this one adds to>      (incremental bundles)
 *   root <what it was made from>                     (informational)
 *   sumdb <verifier key>                             (informational)
 *   file <sha256 hex> <size> <path>                  (every file)
 *   sum <module> <version>[/go.mod] <h1>             (go.sum lines)
 *   gosum <module> <version>[/go.mod] <h1>           (the roots' go.sum)
 *   id <sha256 hex of the file lines>
 *
 * Progress goes to stderr: a bar redrawn in place on a terminal, plain
 * lines otherwise. Private to proxy/cli.
 */
#ifndef PROXY_BUNDLE_H
#define PROXY_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modproxy/gomod.h"

#define BUNDLE_MANIFEST "modproxy-bundle.txt"
#define BUNDLE_FORMAT 1
/* A manifest larger than this is refused (a line per file: a million
 * files is far beyond any build's closure). */
#define BUNDLE_MAX_MANIFEST_BYTES (256u << 20)
/* .info, .mod, lookups and tiles are read whole; larger ones are refused
 * (the go command caps go.mod at 16 MiB). */
#define BUNDLE_MAX_SMALL_FILE_BYTES (16u << 20)

/* ---- progress --------------------------------------------------------- */

struct bundle_progress {
  const char *cmd; /* "export", "import" */
  const char *phase;
  uint64_t done, total;
  int tty;
  int last_pct;     /* plain mode: last tenth printed */
  uint64_t last_ms; /* tty mode: last redraw */
};

void bundle_progress_init(struct bundle_progress *p, const char *cmd);
/** Starts a phase of `total` steps (0: unknown). */
void bundle_progress_phase(struct bundle_progress *p, const char *phase,
                           uint64_t total);
void bundle_progress_step(struct bundle_progress *p, uint64_t n);
/** Ends the phase with a summary line (may be NULL). */
void bundle_progress_end(struct bundle_progress *p, const char *summary);

/* ---- the manifest ------------------------------------------------------- */

struct bundle_file {
  char *path; /**< relative, '/'-separated (heap) */
  char sha256[65];
  uint64_t size;
};

struct bundle_sum {
  char *module, *version; /**< heap */
  int gomod;              /**< 1: the "/go.mod" line */
  char h1[GOMOD_H1_BYTES];
  int from_gosum; /**< 1: a "gosum" line */
};

struct bundle_manifest {
  int64_t created; /**< Unix seconds */
  char id[65];
  char since[65]; /**< "" for a full bundle */
  struct bundle_file *files;
  size_t nfiles, capfiles;
  struct bundle_sum *sums;
  size_t nsums, capsums;
};

void bundle_manifest_dispose(struct bundle_manifest *m);
/** Reads DIR/BUNDLE_MANIFEST. -ENOENT when there is none, -EBADMSG (with a
 *  message in err) when it is malformed. Files are sorted by path. */
int bundle_manifest_read(const char *dir, struct bundle_manifest *m, char *err,
                         size_t errlen);
/** The manifest entry for path, or NULL. */
const struct bundle_file *bundle_manifest_file(const struct bundle_manifest *m,
                                               const char *path);
/** The h1 the manifest's sum (or gosum) lines give module@version (gomod:
 *  its go.mod); NULL when none. Only for a manifest bundle_manifest_read
 *  filled (its sums are sorted). */
const char *bundle_manifest_sum(const struct bundle_manifest *m,
                                const char *module, const char *version,
                                int gomod, int from_gosum);
/** Adds a file or a sum line (strings copied). */
int bundle_manifest_add_file(struct bundle_manifest *m, const char *path,
                             const char *sha256, uint64_t size);
int bundle_manifest_add_sum(struct bundle_manifest *m, const char *module,
                            const char *version, int gomod, const char *h1,
                            int from_gosum);
/** Writes the manifest (computing its id) to `path`. extra: lines written
 *  after the header ("root ...\n", may be NULL). */
int bundle_manifest_write(struct bundle_manifest *m, const char *path,
                          const char *extra);

/* ---- files --------------------------------------------------------------- */

/** Hex SHA-256 of a file; its size in *size. 0 or -errno. */
int bundle_file_sha256(const char *path, char hex[65], uint64_t *size);
/** mkdir -p of the directory part of path. */
int bundle_mkdirs(const char *path);
/** Reads a whole file of at most max bytes (NUL-terminated heap copy).
 *  -E2BIG past max. */
int bundle_read_file(const char *path, size_t max, char **data, size_t *len);

#endif
