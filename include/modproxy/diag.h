/*
 * Diagnostics: explanations written for the person at the terminal.
 *
 * The go command prints a proxy's text/plain error body under "server
 * response:" only when it fits its window: at most 8 non-blank lines, 648
 * bytes counting the "\n\t" it puts between lines, printable UTF-8, and it
 * stops at the first blank line (GOPROXY-PROTOCOL.md section 3).
 */
#ifndef MODPROXY_DIAG_H
#define MODPROXY_DIAG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "modproxy/gomod.h"

/* cmd/go/internal/web: maxErrorDetailLines and maxErrorDetailBytes. */
#define DIAG_WINDOW_LINES 8
#define DIAG_WINDOW_BYTES 648

/**
 * Fits text (lines separated by '\n') into the go command's window and
 * writes it to out (NUL-terminated, each line ending in '\n'): blank lines
 * are dropped, bytes outside printable ASCII become '?', and when the
 * text is too long the middle lines are cut (the last line, which says where
 * to look next, is kept). out needs DIAG_WINDOW_BYTES + 16 bytes. Returns
 * the length written.
 */
size_t diag_text_fit(const char *text, char *out, size_t outlen);

/* ---- request records ------------------------------------------------- */

/* A request id: DIAG_ID_RANDOM_BYTES random bytes in hex (96 bits: nobody
 * guesses another request's id), and room for a client's X-Request-Id. */
#define DIAG_ID_RANDOM_BYTES 12
#define DIAG_ID_BYTES 32

/** What became of a request. */
enum diag_outcome {
  DIAG_HIT,            /**< served from the cache */
  DIAG_FETCHED,        /**< fetched from an upstream, then served */
  DIAG_NOT_FOUND,      /**< no upstream has it (404/410) */
  DIAG_INVALID,        /**< malformed request, path or version */
  DIAG_UPSTREAM_ERROR, /**< the upstreams failed (or sent unusable bytes) */
  DIAG_STALE,          /**< upstreams failed; a stale answer was served */
  DIAG_LOCAL,          /**< answered by modproxy itself (/diag, /healthz) */
  DIAG_ABORTED,        /**< the client went away first */
  DIAG_PRIVATE_ROUTE,  /**< a private module with no route to its repository */
  DIAG_GIT_ERROR,      /**< git failed for a private module */
  DIAG_STORE_ERROR,    /**< modproxy's own store failed (disk full, locked) */
  DIAG_POLICY,         /**< refused or not fetched by a module policy */
};
/* How many outcomes there are (for tables indexed by outcome). */
#define DIAG_OUTCOMES (DIAG_POLICY + 1) /* keep DIAG_POLICY the last */
const char *diag_outcome_name(enum diag_outcome o);

/**
 * The diagnostic record of one request. The strings are heap-owned by the
 * record (NULL when absent) and freed by diag_record_dispose.
 */
struct diag_record {
  char id[DIAG_ID_BYTES];        /**< modproxy's, random: the record's key */
  char client_id[DIAG_ID_BYTES]; /**< the client's X-Request-Id, or "" */
  int64_t start_ms;              /**< Unix time in ms */
  uint32_t ms;                   /**< total time */
  int status;
  enum diag_outcome outcome;
  uint64_t bytes; /**< body bytes sent */
  char *target;   /**< request target as received */
  char *client;   /**< the client's address */
  char *module, *version;
  /** JSON array of upstream attempts:
   *  [{"url":..,"status":..,"error":..,"ms":..}, ...] */
  char *attempts;
  char *explanation; /**< the text/plain error body sent, if any */
  char *user; /**< who the credentials named (never the secret), NULL: none */
  int audit;  /**< a private module's file was served: logged as "audit" */
};
void diag_record_dispose(struct diag_record *r);

/** 0 for a request that stays in the log but not in the ring behind /diag
 *  (health checks, /metrics scrapes, /favicon.ico), else 1. Pure. */
int diag_record_in_ring(const struct diag_record *r);

/** Renders r as one line of JSON (no newline) into a new heap string. */
char *diag_record_json(const struct diag_record *r);
/** Reads back a record rendered by diag_record_json (as kept in the
 *  store's ring). 0, or -EINVAL if json is not such a record. */
int diag_record_parse(const char *json, struct diag_record *out);
/** Called for each attempt of a record: what (an upstream URL or a git
 *  command), its HTTP or exit status, its error (NULL: none) and time. */
typedef void (*diag_attempt_cb)(void *arg, const char *what, long status,
                                const char *error, long ms);
/** Calls cb for each attempt in a record's attempts array (JSON). */
void diag_attempts_each(const char *json, diag_attempt_cb cb, void *arg);
/** Renders r as plain text for a terminal, into a new heap string. */
char *diag_record_text(const struct diag_record *r);

/** Writes `,"key":` and then s as diag_json_write does (a member after the
 *  first of an object). */
void diag_json_field(FILE *f, const char *key, const char *s);
/** Writes s to f as a JSON string, quotes included; NULL writes null.
 *  Bytes that are not valid UTF-8 are written as U+FFFD. */
void diag_json_write(FILE *f, const char *s);

/* ---- explanations ------------------------------------------------------ */

/** Where a missing version sits among those that exist. Each field is a
 *  version or "" when there is none. */
struct diag_nearest {
  char below[GOMOD_MAX_VERSION_BYTES]; /**< highest existing version < wanted */
  char above[GOMOD_MAX_VERSION_BYTES]; /**< lowest existing version > wanted */
  char latest[GOMOD_MAX_VERSION_BYTES]; /**< highest release, else prerelease */
  /** What to suggest instead: `below` when it is a release, else `latest`. */
  char suggest[GOMOD_MAX_VERSION_BYTES];
  int count; /**< valid versions in the list */
};

/**
 * Reads a @v/list body (one version per line, extra fields ignored, invalid
 * lines skipped as the go command does) and places `wanted` among its
 * versions. Pure.
 */
void diag_nearest_versions(const char *list, size_t len, const char *wanted,
                           struct diag_nearest *out);

/** 1 if version (a v2+ semantic version) cannot be a version of module
 *  because the path lacks (or has another) major-version suffix, as in
 *  rsc.io/quote@v3.0.0; else 0. Pure. */
int diag_wrong_major(const char *module, const char *version);

/**
 * Explains a version asked for at the wrong major-version path, from the
 * module's @v/list (may be empty): the +incompatible version when the list
 * has it, else the /vN path the version belongs to, with the go get that
 * works. Pure. 0 with the text in out, or -ENOENT when diag_wrong_major is 0.
 */
int diag_explain_major(const char *module, const char *version,
                       const char *list, size_t len, char *out, size_t cap);

/* Module paths one "did you mean" scans at most: it runs for each unknown
 * module (remembered for --not-found-ttl after), and comparing one path
 * costs a few microseconds, so the scan stays within a few tens of ms. */
#define DIAG_SUGGEST_MAX_CANDIDATES 20000

/** Calls cb(module, arg) for at most max module paths this proxy has
 *  served; 0 or a negative errno. */
typedef int (*diag_modules_fn)(void *ctx, size_t max,
                               int (*cb)(const char *module, void *arg),
                               void *arg);

/**
 * "Did you mean": for an unknown module, the module paths `each` gives that
 * are close to it (another case, one path element more or less, up to two
 * typing slips), at most three, best first. Writes into out the
 * explanation `text` (len bytes) with a line naming them after its first
 * line. 0, -ENOENT when none is close, or -E2BIG when out is too small.
 * Pure apart from `each`.
 */
int diag_did_you_mean(const char *module, const char *text, size_t len,
                      diag_modules_fn each, void *ctx, char *out, size_t cap);

/* ---- minimal version selection ----------------------------------------- */

/* A build list larger than this is refused (real ones have hundreds). */
#define DIAG_MVS_MAX_MODULES 20000

/** A module at a version; strings heap-owned by whoever holds the array. */
struct diag_mod {
  char *path;
  char *version;
  char *note; /**< why it could not be loaded (failed list only), or NULL */
};
void diag_mods_free(struct diag_mod *m, size_t n);

/**
 * Loads the requirements of path@version (its go.mod's require lines) into a
 * new heap array (*out, *n; the callee allocates, the caller frees with
 * diag_mods_free). Returns 0 or a negative errno (-ENOENT: no such version).
 */
typedef int (*diag_reqs_fn)(void *ctx, const char *path, const char *version,
                            struct diag_mod **out, size_t *n);

/**
 * Minimal version selection from the main module's requirements `roots`:
 * the highest version of each module reachable through requirements. Visits
 * each module version once. On success *selected (sorted by path) holds the
 * build list without the main module. A module version that cannot be
 * loaded goes to *failed with the reason in `note` (-ENOENT: "no such
 * version") instead of stopping the walk.
 * Returns 0, or a negative errno for -E2BIG / -ENOMEM.
 */
int diag_mvs(const struct diag_mod *roots, size_t nroots, diag_reqs_fn reqs,
             void *ctx, struct diag_mod **selected, size_t *nselected,
             struct diag_mod **failed, size_t *nfailed);

/* ---- go.mod analysis (POST /diag/modfile, modproxy diag) --------------- */

/* Findings kept per report; more are counted but not listed. */
#define DIAG_MAX_FINDINGS 500
/* Modules one analysis may fetch anything of (go.mod files, lists, zips):
 * large projects have a few hundred in their build list. Past it, the rest
 * is left out, and the report says which. It bounds what one request makes
 * the proxy and its upstreams do. */
#define DIAG_ANALYSIS_MAX_MODULES 1000
/* A go env value sent for an analysis (GOPRIVATE and the like are a few
 * hundred bytes): matching a longer one against every module would cost
 * more than the analysis. */
#define DIAG_CLIENT_MAX_SETTING_BYTES 4096

/** Where the analysis gets what it needs; every function blocks and is
 *  called from the analysing thread. Buffers returned through `data` are
 *  heap-allocated and freed by the caller. */
struct diag_source {
  /** The .mod of path@version as served: 0, -ENOENT (no such version), or
   *  another negative errno with a reason in err. */
  int (*gomod)(void *ctx, const char *path, const char *version, char **data,
               size_t *len, char *err, size_t errlen);
  /** The @v/list body: 0, -ENOENT (unknown module) or an error. */
  int (*list)(void *ctx, const char *path, char **data, size_t *len);
  /** The version @latest names (what the go command asks of a module
   *  without tagged versions) into out: 0 or a negative errno. May be
   *  NULL (never asked). */
  int (*latest)(void *ctx, const char *path, char out[GOMOD_MAX_VERSION_BYTES]);
  /** The zip's h1 if the proxy holds the zip (never fetches), else -ENOENT. */
  int (*zip_h1)(void *ctx, const char *path, const char *version,
                char h1[GOMOD_H1_BYTES]);
  /** Versions of path other builds through the proxy resolved recently:
   *  lines "version count", most used first. 0 or -ENOENT. */
  int (*recent)(void *ctx, const char *path, char **data, size_t *len);
  void *ctx;
};

/** The client's settings, as `go env` reports them (any may be NULL). */
struct diag_client {
  const char *go_version;  /**< "go1.19.8", "1.19" */
  const char *gotoolchain; /**< GOTOOLCHAIN: "local", "auto", "go1.27.3+auto" */
  const char *goproxy, *gonoproxy, *gonosumdb, *goprivate;
  const char *gosumdb;       /**< GOSUMDB: "off" asks no checksum database */
  const char *proxy_base;    /**< this proxy's URL, as clients reach it */
  const char *proxy_private; /**< this proxy's --private patterns */
};

/** The tagged versions of a @v/list body as the go command reads them
 *  (valid semantic versions, pseudo-versions left out), sorted oldest
 *  first: *out points into *text; the caller frees both. 0 or -ENOMEM. */
int diag_list_versions(const char *list, size_t len, char **text, char ***out,
                       size_t *n);

/** What a version query may pick (latest.c): each predicate blocks and is
 *  called from the analysing thread. */
struct diag_query_fns {
  /** 1 if the query may pick version (not excluded, not retracted), else
   *  0; NULL allows every version. */
  int (*allowed)(void *ctx, const char *version);
  /** 1 if version has a go.mod of its own (not one the go command makes
   *  up for a module without one), else 0. */
  int (*has_gomod)(void *ctx, const char *version);
  void *ctx;
};

/**
 * The go command's "latest" query (current NULL) or "upgrade" query (from
 * current) over a @v/list body, as queryProxy runs it: among the tagged
 * versions (pseudo-versions left out) that fns allows and that are not
 * below current, the newest release, else the newest pre-release; the
 * +incompatible ones only while the newest compatible version before them
 * has no go.mod. Writes it to out, and to pre the newest pre-release
 * allowed when it is newer still ("" if none). 0, -ENOENT when no version
 * qualifies (out is ""), or -ENOMEM.
 */
int diag_query_latest(const char *list, size_t len, const char *current,
                      const struct diag_query_fns *fns,
                      char out[GOMOD_MAX_VERSION_BYTES],
                      char pre[GOMOD_MAX_VERSION_BYTES]);

enum diag_severity { DIAG_SEV_ERROR, DIAG_SEV_WARNING, DIAG_SEV_INFO };

struct diag_finding {
  enum diag_severity severity;
  char *kind; /**< "path mismatch", "missing version", ... */
  char *module;
  char *version;
  char *message; /**< what is wrong, one or two sentences */
  char *fix;     /**< the command or change that fixes it, or NULL */
};

/** The go.sum verdict on one module of the build list. */
enum diag_sum {
  DIAG_SUM_UNCHECKED, /**< no go.sum sent, or the module is replaced */
  DIAG_SUM_OK,        /**< its go.mod line (and zip line, if any) match */
  DIAG_SUM_MISSING,   /**< no line for its go.mod: the go command stops */
  DIAG_SUM_MISMATCH,  /**< a line disagrees with what this proxy serves */
};
const char *diag_sum_name(enum diag_sum s);

/** What `go list -m -u all` shows of a module of the build list, and
 *  more. Strings heap-owned by the report (NULL when absent). */
struct diag_module_info {
  /** go list -u's Update: the version the "upgrade" query picks, which is
   *  the selected version when nothing newer is allowed; NULL when the
   *  module's versions could not be listed. */
  char *latest;
  char *prerelease; /**< the newest pre-release, when newer than latest */
  char *retracted;  /**< the first rationale as the go command shows it
                         ("retracted by module author" without one) */
  char *deprecated; /**< the latest go.mod's Deprecated: message */
  int indirect;     /**< not required by go.mod, or with // indirect */
  enum diag_sum sum;
};

struct diag_report {
  char *main_module;
  struct diag_mod *build;        /**< the build list MVS selected */
  struct diag_module_info *info; /**< one per module of the build list */
  size_t nbuild;
  struct diag_finding *findings;
  size_t nfindings, dropped;
  int errors, warnings;
};
void diag_report_dispose(struct diag_report *r);

/**
 * Analyses a go.mod (and its go.sum, may be empty) as the given client would
 * build it: MVS over the go.mod files the source serves, then per module:
 * path mismatches, versions that do not exist, retracted and deprecated
 * requirements, go.sum lines that disagree with what the proxy serves, go
 * versions above the client's, private modules the client's settings would
 * send to a public proxy or checksum database, and indirect dependency
 * drift. Returns 0 (the report may hold errors) or -ENOMEM/-E2BIG.
 */
int diag_modfile_analyze(const char *gomod, size_t gomod_len, const char *gosum,
                         size_t gosum_len, const struct diag_client *client,
                         const struct diag_source *src,
                         struct diag_report *out);

/** Renders a report for a terminal (ANSI colour when color is set), or as
 *  JSON, into a new heap string. */
char *diag_report_text(const struct diag_report *r, int color);
char *diag_report_json(const struct diag_report *r);

/* ---- forms (POST /diag/modfile) ----------------------------------------- */

/* Parts one multipart form may have: /diag/modfile reads eight fields, and
 * a browser or a script may add a few of its own. */
#define DIAG_FORM_MAX_PARTS 16
/* The headers of one part: curl and browsers send about 150 bytes
 * (Content-Disposition, Content-Type). The bound keeps the search for their
 * end short whatever the body holds. */
#define DIAG_FORM_MAX_PART_HEAD_BYTES 1024
/* A field name; ours have at most 10 bytes. */
#define DIAG_FORM_MAX_NAME_BYTES 64
/* RFC 2046 5.1.1: a boundary has 1 to 70 characters. */
#define DIAG_FORM_MAX_BOUNDARY_BYTES 70

/** One field of a parsed form: views into the body. */
struct diag_form_field {
  const char *name, *value;
  size_t name_len, value_len;
};

/** The named parts of a form, in order. */
struct diag_form {
  struct diag_form_field field[DIAG_FORM_MAX_PARTS];
  size_t n;
};

/**
 * Parses a multipart/form-data body (content_type gives the boundary) in one
 * pass, in time linear in len; the fields point into body (which need not
 * be NUL-terminated). Values are bounded only by len: the caller bounds the
 * body. Pure. Returns 0; -EINVAL when the body is not such a form or is cut
 * short; -E2BIG past DIAG_FORM_MAX_PARTS parts, a part's headers past
 * DIAG_FORM_MAX_PART_HEAD_BYTES or a name past DIAG_FORM_MAX_NAME_BYTES.
 */
int diag_form_parse(const char *body, size_t len, const char *content_type,
                    struct diag_form *out);
/**
 * Parses an application/x-www-form-urlencoded body ("a=1&b=x+y%21"),
 * decoding each name and value in place (body is overwritten; the fields
 * point into it), in time linear in len. Returns 0; -EINVAL for a '%' not
 * followed by two hex digits; -E2BIG past DIAG_FORM_MAX_PARTS fields or a
 * name past DIAG_FORM_MAX_NAME_BYTES. Pure.
 */
int diag_form_parse_urlencoded(char *body, size_t len, struct diag_form *out);
/** The first field called `name` that is not empty, else the first one
 *  (a browser form may send both a pasted text and an upload, one of them
 *  empty, under one name): 0 with *val and *vlen, or -ENOENT. */
int diag_form_get(const struct diag_form *f, const char *name, const char **val,
                  size_t *vlen);

/* ---- findings about what is served ------------------------------------- */

/** Compares Go versions ("1.19", "1.21.0", "go1.19.8", "1.21rc1") as the
 *  go command does (gover.Compare): -1, 0 or 1. "1.21" (the language) <
 *  "1.21rc1" < "1.21.0"; "1.20" == "1.20.0"; anything invalid sorts first. */
int diag_gover_compare(const char *x, const char *y);
/** The language version of a Go version ("go1.27.3" -> "1.27") into out;
 *  "" if x is no Go version. */
void diag_gover_lang(const char *x, char *out, size_t cap);
/**
 * The newest Go release in a golang.org/toolchain @v/list body (versions
 * "v0.0.1-go1.27.3.linux-amd64", any platform) that has the language
 * version of `need` and is not older than it: "go1.27.3" into out.
 * Returns 0, or -ENOENT if the list has none.
 */
int diag_toolchain_newest(const char *list, size_t len, const char *need,
                          char *out, size_t cap);

/* Room for one finding's text ("message\nfix: command"). */
#define DIAG_MSG_BYTES 640

/** A retraction rationale or deprecation message as the go command shows
 *  it (modload.ShortMessage): the first line, trimmed; "(message omitted:
 *  too long)" past 500 bytes; "(message omitted: contains non-printable
 *  characters)" for a control character or invalid UTF-8. */
void diag_short_message(const char *in, char *out, size_t cap);

/** The explanation of a module whose go.mod declares another path, with
 *  `fix` (a fix that was checked to work, or what to do for lack of one). */
void diag_msg_path_mismatch(char *out, size_t cap, const char *module,
                            const char *version, const char *declared,
                            const char *fix);

#define DIAG_GOMOD_FINDINGS 8

/** A fact worth knowing about a module version's go.mod. */
struct diag_gomod_finding {
  const char
      *kind; /**< "path mismatch", "newer go", "retracted", "deprecated" */
  /** The version it is about ("" for the module as a whole): the go.mod's
   *  own version, or for a retraction the first version retracted. */
  char version[GOMOD_MAX_VERSION_BYTES];
  char message[DIAG_MSG_BYTES];
};

/**
 * What the go.mod of module@version says that will trip its users: a module
 * line naming another path (with the fix), a go directive newer than
 * go_release (the oldest Go release the team builds with; "" to skip),
 * retractions (with their rationale) and a deprecation. Pure. Returns the
 * number of findings written (at most max).
 */
int diag_gomod_findings(const char *module, const char *version,
                        const char *gomod, size_t len, const char *go_release,
                        struct diag_gomod_finding *out, int max);

/* ---- golang.org/toolchain (toolchain.c) -------------------------------- */

/** The module the go command's toolchain switching downloads. */
#define DIAG_TOOLCHAIN_MODULE "golang.org/toolchain"

/** Splits a golang.org/toolchain version ("v0.0.1-go1.27.3.linux-amd64")
 *  into the Go release ("go1.27.3") and the platform ("linux-amd64"), each
 *  into a buffer of cap bytes. 0, or -EINVAL when it is not one. */
int diag_toolchain_parse(const char *version, char *go, char *platform,
                         size_t cap);

/**
 * Explains a golang.org/toolchain version no upstream has, from the
 * module's @v/list (may be empty): no such Go release (or a Go language
 * version such as go1.27, whose releases are go1.27.0 and up), or none for
 * this platform; the newest release for the same platform; the GOTOOLCHAIN
 * value to use. Pure. 0, or -EINVAL when version is not a toolchain's.
 */
int diag_toolchain_missing(const char *version, const char *list, size_t len,
                           char *out, size_t cap);

#endif
