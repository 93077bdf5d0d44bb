/*
 * Go module rules: pure functions with no I/O.
 *
 * Module path and version validation, '!' case-escaping, semantic versions,
 * pseudo-versions, GOPRIVATE-style prefix patterns and the h1 hash, exactly
 * as golang.org/x/mod v0.7.0 (the code vendored in Go 1.19) defines them.
 * Everything above this layer (store, diag, proxy) uses these; they use
 * nothing above them.
 *
 * Conventions: functions return 0 (or a length / a boolean as documented) on
 * success and a negative errno on failure: -EINVAL for input that breaks a
 * rule, -E2BIG when an output buffer is too small. Where a function takes
 * `err`/`errlen`, it writes the same message x/mod would produce (e.g.
 * `malformed module path "x": missing dot in first path element`) as a
 * NUL-terminated string, truncated to errlen. `err` may be NULL.
 * Strings are NUL-terminated UTF-8 and borrowed for the duration of the call.
 */
#ifndef MODPROXY_GOMOD_H
#define MODPROXY_GOMOD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The longest module path or version we accept from the network. Real module
 * paths are far shorter; the go command has no explicit limit, but URLs over
 * HTTP_MAX_URL_BYTES are refused before they get here. */
#define GOMOD_MAX_PATH_BYTES 1024
#define GOMOD_MAX_VERSION_BYTES 256

/* x/mod/zip limits (MaxZipFile, MaxGoMod, MaxLICENSE). */
#define GOMOD_MAX_ZIP_BYTES (500u << 20)
#define GOMOD_MAX_GOMOD_BYTES (16u << 20)
#define GOMOD_MAX_LICENSE_BYTES (16u << 20)

/* "h1:" + base64 of 32 bytes (44 chars) + NUL. */
#define GOMOD_H1_BYTES 48

/* ---- module paths (x/mod/module) -------------------------------------- */

/** module.CheckPath. 0 if valid, else -EINVAL and the x/mod message. */
int gomod_check_path(const char *path, char *err, size_t errlen);
/** module.CheckImportPath. */
int gomod_check_import_path(const char *path, char *err, size_t errlen);
/** module.CheckFilePath. */
int gomod_check_file_path(const char *path, char *err, size_t errlen);

/**
 * module.SplitPathVersion: on success (returns 0) *prefix_len is the length of
 * the path without its major-version suffix and *major points into `path` at
 * the suffix ("/v2", ".v1", ".v1-unstable" or "" for none). Returns -EINVAL
 * where x/mod's ok is false.
 */
int gomod_split_path_version(const char *path, size_t *prefix_len,
                             const char **major);

/** module.CheckPathMajor(v, pathMajor): 0 or -EINVAL with the x/mod message. */
int gomod_check_path_major(const char *v, const char *path_major, char *err,
                           size_t errlen);
/** module.MatchPathMajor: 1 if v matches, else 0. */
int gomod_match_path_major(const char *v, const char *path_major);

/** module.Check(path, version): 0 or -EINVAL with the x/mod message. */
int gomod_check(const char *path, const char *version, char *err,
                size_t errlen);

/** module.EscapePath: writes the escaped path to out (NUL-terminated).
 *  Returns its length, -EINVAL if the path is invalid, -E2BIG if out is short.
 */
int gomod_escape_path(const char *path, char *out, size_t outlen, char *err,
                      size_t errlen);
/** module.UnescapePath: inverse of the above; -EINVAL on bad escapes or
 *  an invalid decoded path. */
int gomod_unescape_path(const char *escaped, char *out, size_t outlen,
                        char *err, size_t errlen);
/** module.EscapeVersion / UnescapeVersion (versions may be branch names;
 *  they must be valid file-path elements without '!'). */
int gomod_escape_version(const char *v, char *out, size_t outlen, char *err,
                         size_t errlen);
int gomod_unescape_version(const char *escaped, char *out, size_t outlen,
                           char *err, size_t errlen);

/**
 * module.MatchPrefixPatterns(globs, target): 1 if any comma-separated glob
 * matches a prefix of target (per-element path.Match), else 0.
 */
int gomod_match_prefix_patterns(const char *globs, const char *target);
/**
 * Whether module is private under GOPRIVATE-style patterns (--private): 1
 * when they match a prefix of it, 0 when not or when patterns is NULL or "".
 * Private modules are fetched from their own repositories, never from an
 * upstream proxy, and are never checked against a checksum database.
 */
int gomod_private(const char *patterns, const char *module);

/* ---- on the wire (GOPROXY-PROTOCOL.md 1.1) ------------------------------ */

/**
 * Percent-decodes src[0..len) (a request path as the go command sends it)
 * into dst, NUL-terminated. -EINVAL on a bad escape or an encoded NUL or
 * '/': the go command never encodes '/' (it turns url.PathEscape's %2F back
 * into '/'), and an encoded one must not smuggle a path element past the
 * checks. -E2BIG when dst is too small.
 */
int gomod_pct_decode(const char *src, size_t len, char *dst, size_t cap);
/** The value of hex digit c (either case), or -1. */
int gomod_hex_digit(int c);

/** Reads the "Version" string of a .info or @latest JSON body into out.
 *  -EINVAL when the body is not one complete JSON object with a plain
 *  Version string (keys match case-insensitively, as in encoding/json), or
 *  when out is too small. */
int gomod_info_version(const char *body, size_t len, char *out, size_t cap);

/* ---- semantic versions (x/mod/semver) ---------------------------------- */

/** semver.IsValid: 1 or 0. */
int gomod_semver_is_valid(const char *v);
/** semver.Canonical into out ("" for invalid). Returns length or -E2BIG. */
int gomod_semver_canonical(const char *v, char *out, size_t outlen);
/** module.CanonicalVersion: like Canonical but keeps "+incompatible". */
int gomod_canonical_version(const char *v, char *out, size_t outlen);
/** 1 if v is valid and equal to its module.CanonicalVersion. */
int gomod_is_canonical_version(const char *v);
/** semver.Compare: -1, 0 or 1 (invalid versions sort below valid ones and
 *  equal to each other). */
int gomod_semver_compare(const char *a, const char *b);
/** semver.Major / MajorMinor / Prerelease / Build into out ("" when none or
 *  invalid). Return length or -E2BIG. */
int gomod_semver_major(const char *v, char *out, size_t outlen);
int gomod_semver_major_minor(const char *v, char *out, size_t outlen);
int gomod_semver_prerelease(const char *v, char *out, size_t outlen);
int gomod_semver_build(const char *v, char *out, size_t outlen);

/* ---- pseudo-versions (x/mod/module/pseudo.go) -------------------------- */

/** module.IsPseudoVersion: 1 or 0. */
int gomod_is_pseudo_version(const char *v);
/** module.PseudoVersionBase into out (may be ""); -EINVAL if not pseudo. */
int gomod_pseudo_version_base(const char *v, char *out, size_t outlen);
/** module.PseudoVersionRev into out; -EINVAL if not pseudo. */
int gomod_pseudo_version_rev(const char *v, char *out, size_t outlen);
/** module.PseudoVersionTime as seconds since the epoch (UTC); -EINVAL. */
int gomod_pseudo_version_time(const char *v, time_t *t);
/**
 * module.PseudoVersion(major, older, t, rev): major is "" or "vN", older the
 * base version or "". Writes the pseudo-version; returns its length.
 */
int gomod_pseudo_version_make(const char *major, const char *older, time_t t,
                              const char *rev, char *out, size_t outlen);

/* ---- h1 hash (x/mod/sumdb/dirhash.Hash1) ------------------------------- */

/** One file of a hashed set: its name and the SHA-256 of its content. */
struct gomod_h1_file {
  const char *name;
  uint8_t sha256[32];
};

/**
 * dirhash.Hash1 over `n` files (any order; sorted internally, the array is
 * reordered). Writes "h1:<base64>" to out[GOMOD_H1_BYTES]. -EINVAL if a name
 * contains '\n'.
 */
int gomod_h1(struct gomod_h1_file *files, size_t n, char out[GOMOD_H1_BYTES]);
/** The go.sum "/go.mod" hash: Hash1 over one file named "go.mod". */
int gomod_h1_gomod(const void *data, size_t len, char out[GOMOD_H1_BYTES]);

#endif
