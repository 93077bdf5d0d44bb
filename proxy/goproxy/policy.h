/*
 * Module policies (--policy PATTERN=ACTION, policy.c): what this proxy does
 * for the modules a GOPRIVATE-style pattern matches, the first matching
 * rule winning. Actions:
 *   deny REASON              refuse every version (403)
 *   deny RANGE REASON        refuse the versions in RANGE: <V, <=V, >V, >=V,
 *                            =V or V alone (one version)
 *   cache-only               serve what is stored or imported, fetch nothing
 *   upstream LIST            fetch from LIST (GOPROXY syntax) instead of
 *                            --upstream
 * The rules are parsed once from the settings (settings.c) into a
 * policy_set that the configuration points to; a request looks its rule up
 * once (proxy_policy_for) and every step that serves, lists or fetches it
 * asks that rule. Parsing and matching are pure. Private to proxy/goproxy:
 * what the settings (proxy/cli) and the /diag pages (proxy/ops) use of
 * them is declared in goproxy.h.
 */
#ifndef PROXY_POLICY_H
#define PROXY_POLICY_H

#include <stddef.h>

#include "goproxy.h"
#include "modproxy/gomod.h"
#include "upstream.h"

/* A deny rule's reason is shown in the go command's window (648 bytes for
 * the whole message, with the module path and the fix). */
#define POLICY_MAX_REASON_BYTES 200

enum policy_action { POLICY_DENY, POLICY_CACHE_ONLY, POLICY_UPSTREAM };

/** Which versions a deny rule refuses. */
enum policy_range {
  POLICY_ALL, /**< every version */
  POLICY_LT,  /**< below version */
  POLICY_LE,  /**< below or at version */
  POLICY_GT,  /**< above version */
  POLICY_GE,  /**< at or above version */
  POLICY_EQ,  /**< version alone */
};

/** One rule, as parsed from "PATTERN=ACTION". Owns its strings. */
struct policy {
  char *shown;   /**< the rule as written, credentials in URLs masked */
  char *pattern; /**< GOPRIVATE-style globs, comma-separated */
  enum policy_action action;
  enum policy_range range;               /**< POLICY_DENY */
  char version[GOMOD_MAX_VERSION_BYTES]; /**< the range's bound, canonical */
  char reason[POLICY_MAX_REASON_BYTES];  /**< POLICY_DENY */
  /** POLICY_UPSTREAM: the list's entries (their health counted on the
   *  loop thread, as --upstream's are). */
  struct proxy_upstream upstreams[PROXY_MAX_UPSTREAMS];
  int nupstreams;
};

/** The rules in order. */
struct policy_set {
  int n;
  struct policy rules[];
};

/**
 * Parses one "PATTERN=ACTION" into *out. 0, or -EINVAL with one line in err
 * saying what is wrong and what is expected, or -ENOMEM. Dispose *out with
 * policy_dispose (after a failure too).
 */
int policy_parse(const char *text, struct policy *out, char *err,
                 size_t errlen);
/** Frees what p owns. NULL is fine. */
void policy_dispose(struct policy *p);

/** The range as written ("<v1.2.3", "=v1.0.0"), "" for every version. */
void policy_range_text(const struct policy *p, char *out, size_t cap);

/**
 * The allowed version to suggest instead of the refused one `version`:
 * from list (the module's version list, one a line; may be NULL) the lowest
 * allowed version above it, else the highest allowed one; without a list,
 * the bound of a "<V" range. "" when there is none to name.
 */
void policy_suggest(const struct policy *p, const char *version,
                    const char *list, size_t list_len, char *out, size_t cap);

/**
 * list (one version a line) without the versions p refuses, into a new
 * heap string of *out_len bytes; NULL when out of memory.
 */
char *policy_filter_list(const struct policy *p, const char *list,
                         size_t list_len, size_t *out_len);

/**
 * The explanation of a refusal of module@version (version "" for the
 * whole module) for the go command's window, into out. list as for
 * policy_suggest.
 */
void policy_refusal(const struct policy *p, const char *module,
                    const char *version, const char *list, size_t list_len,
                    char *out, size_t cap);

/** Why a cache-only module's missing file is not fetched, into out. */
void policy_cache_only_miss(const struct policy *p, const char *what,
                            const char *module, char *out, size_t cap);

#endif
