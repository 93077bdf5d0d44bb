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
#include "modproxy/sumdb.h"

#define BUNDLE_MANIFEST "modproxy-bundle.txt"
/* The signature of a signed bundle (export --sign): a signed note (the
 * checksum database's format, sumdb.h) whose text names the manifest's
 * SHA-256 and size:
 *
 *   modproxy-bundle-signature 1
 *   manifest <sha256 hex> <size>
 *
 *   — <key name> <base64(key hash || Ed25519 signature)>
 *
 * The manifest's hashes then vouch for every other file. */
#define BUNDLE_SIGNATURE "modproxy-bundle.sig"
/* A signature file larger than this is refused: a real one is one note of
 * two text lines and a signature line, under 1 KiB. */
#define BUNDLE_MAX_SIGNATURE_BYTES (64u << 10)
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
/** The same from the manifest's bytes (text[len] must be '\0'; text is
 *  changed while it is read). */
int bundle_manifest_parse(char *text, size_t len, struct bundle_manifest *m,
                          char *err, size_t errlen);
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

/* ---- signatures --------------------------------------------------------- */

/** The signature note (BUNDLE_SIGNATURE) over a manifest of `size` bytes
 *  whose SHA-256 is manifest_sha (hex), signed by s: a heap string in
 *  *note, *len bytes. 0 or a negative errno. */
int bundle_sign(const char *manifest_sha, uint64_t size,
                const struct sumdb_signer *s, char **note, size_t *len);

/**
 * Checks a signature note against the trusted keys[0..nkeys) and the
 * manifest it must name. 0 when one key's signature verifies and names
 * this manifest; otherwise a message in err and -ENOKEY (signed by none of
 * the keys), -EKEYREJECTED (a trusted key's signature does not verify) or
 * -EBADMSG (not a bundle signature, or it names another manifest).
 */
int bundle_signature_check(const char *note, size_t len,
                           const char *manifest_sha, uint64_t size,
                           const struct sumdb_key *keys, int nkeys, char *err,
                           size_t errlen);

/** The signer key in file path (from `modproxy keygen`). 0, or a negative
 *  errno with a message in err. */
int bundle_signer_load(const char *path, struct sumdb_signer *s, char *err,
                       size_t errlen);
/** A verifier key given as NAME+HASH+KEY, or as a file holding one (a
 *  .pub file from `modproxy keygen`). 0, or -EINVAL with a message. */
int bundle_key_load(const char *arg, struct sumdb_key *k, char *err,
                    size_t errlen);

/* ---- archives (bundle_archive.c, libarchive) ---------------------------- */

/* A bundle can travel as one file: a tar archive of the bundle directory,
 * plain (.tar), zstd (.tar.zst) or gzip (.tar.gz) compressed, chosen by the
 * name's suffix. Reading checks every member before its bytes are used:
 * regular files only, relative '/'-separated names without "." or ".."
 * elements, each at most BUNDLE_ARCHIVE_MAX_MEMBER_BYTES, at most the
 * caller's member count. */

/* A member larger than this is refused: the largest file of a bundle is a
 * module zip, which the go command caps at 500 MiB. */
#define BUNDLE_ARCHIVE_MAX_MEMBER_BYTES GOMOD_MAX_ZIP_BYTES
/* A member's name longer than this is refused (module paths and versions
 * escaped, with "@v/" and an extension, stay well under it). */
#define BUNDLE_ARCHIVE_MAX_NAME_BYTES 4096

enum bundle_archive_kind {
  BUNDLE_DIR,     /**< not an archive name: a directory bundle */
  BUNDLE_TAR,     /**< NAME.tar */
  BUNDLE_TAR_ZST, /**< NAME.tar.zst */
  BUNDLE_TAR_GZ,  /**< NAME.tar.gz (or .tgz) */
};

/** What the name's suffix makes of a bundle path. */
enum bundle_archive_kind bundle_archive_kind(const char *path);

/**
 * Packs the bundle directory dir into a new archive file out of the given
 * kind (not BUNDLE_DIR): the manifest and signature first, then every
 * file, those of one module version together. Member times are `mtime`.
 * 0, or a negative errno with a message in err (out is then removed).
 */
int bundle_archive_pack(const char *dir, const char *out,
                        enum bundle_archive_kind kind, int64_t mtime, char *err,
                        size_t errlen);

struct bundle_archive; /* a reader */

/** Opens the archive at path for reading, with at most max_members
 *  members. 0, or a negative errno with a message in err. */
int bundle_archive_open(const char *path, size_t max_members,
                        struct bundle_archive **out, char *err, size_t errlen);
/**
 * The next member: its cleaned name (borrowed until the next call) and size.
 * Directories are skipped. 1 for a member, 0 at the end, -EBADMSG with a
 * message in err (naming the member) for a member that breaks the rules
 * above or an archive that cannot be read.
 */
int bundle_archive_next(struct bundle_archive *a, const char **name,
                        uint64_t *size, char *err, size_t errlen);
/** Reads up to cap bytes of the current member's data: the count, 0 at its
 *  end, or -EIO with a message. */
int64_t bundle_archive_read(struct bundle_archive *a, void *buf, size_t cap,
                            char *err, size_t errlen);
/** Closes the reader; accepts NULL. */
void bundle_archive_close(struct bundle_archive *a);

/* ---- files --------------------------------------------------------------- */

/** Lower-case hex of a SHA-256 digest. */
void bundle_sha256_hex(const unsigned char digest[32], char hex[65]);
/** Hex SHA-256 of a file; its size in *size. 0 or -errno. */
int bundle_file_sha256(const char *path, char hex[65], uint64_t *size);
/* Directory depth walked: module paths have a few dozen elements at most,
 * tile paths under ten. */
#define BUNDLE_MAX_DEPTH 64

/** Calls add(ctx, rel) for each regular file under root (rel relative and
 *  '/'-separated; deeper than BUNDLE_MAX_DEPTH, links and other entries
 *  are skipped); stops at add's first negative return. 0 or a negative
 *  errno. */
int bundle_walk(const char *root, int (*add)(void *ctx, const char *rel),
                void *ctx);
/** mkdir -p of the directory part of path. */
int bundle_mkdirs(const char *path);
/** Reads a whole file of at most max bytes (NUL-terminated heap copy).
 *  -E2BIG past max. */
int bundle_read_file(const char *path, size_t max, char **data, size_t *len);

#endif
