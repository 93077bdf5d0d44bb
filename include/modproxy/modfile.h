/*
 * go.mod parsing: golang.org/x/mod/modfile Parse, ParseLax and ModulePath as
 * the current x/mod (v0.43.0; Go 1.26 vendors the same rules) has them.
 * Pure: the parser takes bytes and fills in a struct; it does no I/O and
 * keeps no global state.
 *
 * What it reproduces: the lexer and block structure of read.go (comments,
 * `verb ( ... )` blocks, quoted strings, the position in every message), the
 * attachment of comments to lines, and rule.go's directives: module (with
 * its "Deprecated:" paragraph), go ("1.22", "1.22.0", "1.21rc1"), toolchain
 * (Go 1.21), godebug (Go 1.23), require (with `// indirect`), exclude,
 * replace, retract (with its rationale), tool (Go 1.24) and ignore (Go
 * 1.25), in strict (Parse) or lax (ParseLax) mode. Errors read as x/mod's,
 * e.g. "go.mod:3: unknown directive: foo", several joined by '\n' as
 * ErrorList prints them. Go 1.19 and 1.20 used older rules (x/mod v0.7.0:
 * a go version "1.22" only, none of the newer directives); diag/ tells a
 * client of those what it will refuse.
 *
 * Like the go command reading a dependency's go.mod, there is no
 * VersionFixer (fix == nil): require, exclude and replace versions are
 * canonicalized (v1.2 -> v1.2.0) or refused, retract versions are kept as
 * written (x/mod checks those only through a fixer).
 *
 * Known differences from x/mod (all on inputs no real go.mod has):
 *  - A quoted string that decodes to a NUL byte ("a\x00b") is refused as
 *    an invalid quoted string: the results are C strings. A NUL byte inside
 *    a comment cuts `deprecated` or a rationale short.
 *  - The limits below: x/mod has none but the go command's 16 MiB.
 */
#ifndef MODPROXY_MODFILE_H
#define MODPROXY_MODFILE_H

#include <stddef.h>

#include "modproxy/gomod.h"

/* The go command reads no go.mod larger than 16 MiB (x/mod/zip MaxGoMod). */
#define MODFILE_MAX_BYTES GOMOD_MAX_GOMOD_BYTES
/* Items in one file's syntax tree: words, punctuation, comments and the
 * lines and blocks they make up. It bounds the tree the parser builds (56
 * bytes an item at most, in arrays that grow by doubling: under 30 MiB);
 * a go.mod has a few items a line, so real ones stay far below it. More is
 * refused with -E2BIG. */
#define MODFILE_MAX_ITEMS (1u << 18)
/* Entries in each of the require, exclude, replace, retract, godebug, tool
 * and ignore lists: far
 * more than real go.mod files have. More is refused with -E2BIG. Only a
 * block can reach it: as many separate lines pass MODFILE_MAX_ITEMS first. */
#define MODFILE_MAX_ENTRIES (1u << 16)
/* A size for the caller's error buffer that holds the first few messages;
 * a longer ErrorList is cut off (x/mod lists every error). */
#define MODFILE_ERROR_BYTES 1024

/* Flags for modfile_parse. */
/** ParseLax instead of Parse, as the go command reads a dependency's
 *  go.mod: unknown directives and blocks are ignored, and so are the
 *  main-module-only ones (toolchain, godebug, exclude, replace, tool); a
 *  malformed retract line is skipped; a go version such as "1.21-pre" is
 *  read as "1.21". */
#define MODFILE_LAX 0x1u
/** A go.work file (x/mod ParseWork): go, toolchain, godebug, use and
 *  replace directives; any other is unknown. Not with MODFILE_LAX. */
#define MODFILE_WORK 0x2u

/* Each entry's `line` is the 1-based line its directive starts on. All
 * strings are NUL-terminated and owned by the struct modfile. */

/** A require line. */
struct modfile_require {
  const char *path;
  const char *version; /**< canonical, e.g. "v1.2.0" */
  int indirect;        /**< 1 if the line's comment is `// indirect` */
  unsigned line;
};

/** An exclude line (strict mode only). */
struct modfile_exclude {
  const char *path;
  const char *version; /**< canonical */
  unsigned line;
};

/** A replace line (strict mode only). */
struct modfile_replace {
  const char *old_path;
  const char *old_version; /**< "" when every version is replaced */
  const char *new_path;    /**< a module path or a directory */
  const char *new_version; /**< "" when new_path is a directory */
  unsigned line;
};

/** A godebug line: `godebug key=value` (strict mode only). */
struct modfile_godebug {
  const char *key;
  const char *value; /**< after the first '=', may be "" */
  unsigned line;
  unsigned block_line; /**< the `godebug (` line it is in; 0 if none */
};

/** A tool line (strict mode only) or an ignore line: one path. */
struct modfile_path {
  const char *path;
  unsigned line;
  unsigned block_line; /**< the `tool (` or `ignore (` line; 0 if none */
};

/** A retract line: the closed interval [low, high] (low == high for a
 *  single version), as written, with the rationale from its comments. */
struct modfile_retract {
  const char *low;
  const char *high;
  const char *rationale; /**< "" when none */
  unsigned line;
};

struct modfile__chunk;

/**
 * A parsed go.mod. Everything it points to lives in memory it owns, freed
 * at once by modfile_dispose. Embed it or put it on the stack; fill it with
 * modfile_init, then modfile_parse.
 */
struct modfile {
  const char *module;     /**< the module path; NULL without a module line */
  const char *deprecated; /**< "" if not deprecated; NULL if module is */
  const char *go;         /**< the go version ("1.19"); NULL if none */
  const char *toolchain;  /**< "go1.22.4" or "default"; NULL if none */
  unsigned go_line;       /**< where go and toolchain are; 0 if absent */
  unsigned toolchain_line;
  struct modfile_godebug *godebug;
  size_t ngodebug;
  struct modfile_require *require;
  size_t nrequire;
  struct modfile_exclude *exclude;
  size_t nexclude;
  struct modfile_replace *replace;
  size_t nreplace;
  struct modfile_retract *retract;
  size_t nretract;
  struct modfile_path *tool;
  size_t ntool;
  struct modfile_path *ignore;
  size_t nignore;
  struct modfile_path *use; /**< go.work (MODFILE_WORK): module directories */
  size_t nuse;
  struct modfile__chunk *mem_; /* private: the memory all of the above use */
};

/** An empty result (module and go NULL, no entries). */
void modfile_init(struct modfile *mf);

/**
 * Parses the go.mod in data[0:len] (borrowed for the call only; nothing
 * keeps pointers into it) into *mf, which must have been initialized with
 * modfile_init; whatever it held before is freed first. `flags` is 0
 * (Parse) or MODFILE_LAX (ParseLax). Reentrant:
 * any thread may call it, on its own struct modfile.
 *
 * Returns 0 on success. On failure *mf is left empty (as after
 * modfile_init) and, where there is a message, `err` (if not NULL) holds it
 * NUL-terminated, cut to errlen bytes:
 *  -EINVAL  the file breaks the go.mod syntax or a directive's rules; err
 *           holds x/mod's message(s) (unknown flags also give -EINVAL);
 *  -E2BIG   len > MODFILE_MAX_BYTES, or the file has more than
 *           MODFILE_MAX_ITEMS items or MODFILE_MAX_ENTRIES of one kind;
 *  -ENOMEM  out of memory.
 * On success err is "".
 */
int modfile_parse(struct modfile *mf, const void *data, size_t len,
                  unsigned flags, char *err, size_t errlen);

/** Frees everything *mf owns and empties it. Accepts NULL and an empty or
 *  already disposed struct. */
void modfile_dispose(struct modfile *mf);

/**
 * x/mod ModulePath: the module path of the first line that reads
 * `module <path>` (quoted or not, comments ignored), even in a file that
 * does not otherwise parse. Writes it NUL-terminated to out[0:cap].
 *
 * Returns its length (0 for `module ""`); -ENOENT if no line names a module
 * or the first one that tries is malformed (x/mod returns "" for both);
 * -E2BIG if cap is too small or len > MODFILE_MAX_BYTES. On error out is
 * "" (when cap > 0). A quoted path may decode to bytes with a NUL; the
 * returned length counts them.
 */
int modfile_module_path(const void *data, size_t len, char *out, size_t cap);

#endif
