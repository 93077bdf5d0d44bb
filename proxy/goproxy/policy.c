/*
 * Module policies (policy.h): parsing "PATTERN=ACTION", finding the rule of
 * a module (the first whose GOPRIVATE-style pattern matches a prefix of
 * its path), deciding which versions a rule refuses (semver order, so that
 * a pseudo-version sorts just below the release it builds on) and writing
 * the explanations the go command shows. Pure: no I/O, any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static int fail(char *err, size_t errlen, const char *text, const char *why) {
  snprintf(err, errlen, "policy \"%s\": %s", text, why);
  return -EINVAL;
}

static const char *skip_space(const char *p) {
  while (isspace((unsigned char)*p))
    p++;
  return p;
}

/* "deny [RANGE] REASON" after "deny": the range's operator and bound (when
 * the first word is one), then the reason. */
static int parse_deny(const char *text, const char *p, struct policy *out,
                      char *err, size_t errlen) {
  static const struct {
    const char *op;
    enum policy_range range;
  } ops[] = {{"<=", POLICY_LE},
             {">=", POLICY_GE},
             {"<", POLICY_LT},
             {">", POLICY_GT},
             {"=", POLICY_EQ}};
  size_t wlen = strcspn(p, " \t");
  char word[GOMOD_MAX_VERSION_BYTES];
  out->range = POLICY_ALL;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    size_t n = strlen(ops[i].op);
    if (strncmp(p, ops[i].op, n) == 0) {
      out->range = ops[i].range;
      p += n;
      wlen -= n;
      break;
    }
  }
  snprintf(word, sizeof word, "%.*s", (int)wlen, p);
  if (out->range == POLICY_ALL && gomod_semver_is_valid(word))
    out->range = POLICY_EQ; /* a version alone */
  if (out->range != POLICY_ALL) {
    if (!gomod_semver_is_valid(word) || wlen >= sizeof word)
      return fail(err, errlen, text,
                  "a deny range is <V, <=V, >V, >=V or =V with V a semantic "
                  "version (v1.2.3)");
    gomod_semver_canonical(word, out->version, sizeof out->version);
    p = skip_space(p + wlen);
  }
  size_t rlen = strlen(p);
  while (rlen > 0 && isspace((unsigned char)p[rlen - 1]))
    rlen--;
  if (rlen == 0)
    return fail(err, errlen, text,
                "deny needs a reason for the people it refuses (deny "
                "[RANGE] REASON)");
  if (rlen >= sizeof out->reason)
    return fail(err, errlen, text, "the reason is too long");
  memcpy(out->reason, p, rlen);
  out->reason[rlen] = '\0';
  return 0;
}

int policy_parse(const char *text, struct policy *out, char *err,
                 size_t errlen) {
  memset(out, 0, sizeof *out);
  const char *eq = strchr(text, '=');
  const char *start = skip_space(text), *end = eq;
  while (end != NULL && end > start && isspace((unsigned char)end[-1]))
    end--;
  if (eq == NULL || end == start)
    return fail(err, errlen, text,
                "expected PATTERN=ACTION (a GOPRIVATE-style pattern, then deny "
                "REASON, deny RANGE REASON, cache-only or upstream LIST)");
  out->pattern = strndup(start, (size_t)(end - start));
  out->shown = proxy_url_redact(text);
  if (out->pattern == NULL || out->shown == NULL)
    return -ENOMEM;
  if (strpbrk(out->pattern, " \t") != NULL)
    return fail(err, errlen, text,
                "the pattern has a space (separate globs with ',')");
  const char *a = skip_space(eq + 1);
  size_t alen = strcspn(a, " \t");
  const char *arg = skip_space(a + alen);
  if (alen == 4 && strncmp(a, "deny", 4) == 0) {
    out->action = POLICY_DENY;
    return parse_deny(text, arg, out, err, errlen);
  }
  if (alen == 10 && strncmp(a, "cache-only", 10) == 0) {
    out->action = POLICY_CACHE_ONLY;
    return *arg == '\0'
               ? 0
               : fail(err, errlen, text, "cache-only takes nothing after it");
  }
  if (alen == 8 && strncmp(a, "upstream", 8) == 0) {
    out->action = POLICY_UPSTREAM;
    char why[256];
    int n = *arg != '\0'
                ? proxy_upstreams_parse(arg, out->upstreams,
                                        PROXY_MAX_UPSTREAMS, why, sizeof why)
                : (snprintf(why, sizeof why,
                            "upstream needs a list (GOPROXY syntax)"),
                   -EINVAL);
    if (n < 0)
      return n == -EINVAL ? fail(err, errlen, text, why) : n;
    out->nupstreams = n;
    return 0;
  }
  return fail(err, errlen, text,
              "unknown action: expected deny REASON, deny RANGE REASON, "
              "cache-only or upstream LIST");
}

void policy_dispose(struct policy *p) {
  if (p == NULL)
    return;
  free(p->shown);
  free(p->pattern);
  proxy_upstreams_free(p->upstreams, p->nupstreams);
  p->shown = p->pattern = NULL;
  p->nupstreams = 0;
}

int policy_check(const char *text, char *err, size_t errlen) {
  struct policy p;
  int rc = policy_parse(text, &p, err, errlen);
  policy_dispose(&p);
  return rc;
}

int policy_set_new(const char *const *texts, struct policy_set **out, char *err,
                   size_t errlen) {
  *out = NULL;
  int n = 0;
  while (texts != NULL && texts[n] != NULL)
    n++;
  if (n == 0)
    return 0;
  struct policy_set *ps = calloc(1, sizeof *ps + (size_t)n * sizeof *ps->rules);
  if (ps == NULL)
    return -ENOMEM;
  for (; ps->n < n; ps->n++) {
    int rc = policy_parse(texts[ps->n], &ps->rules[ps->n], err, errlen);
    if (rc < 0) {
      policy_dispose(&ps->rules[ps->n]);
      policy_set_free(ps);
      return rc;
    }
  }
  *out = ps;
  return 0;
}

void policy_set_free(struct policy_set *ps) {
  if (ps == NULL)
    return;
  for (int i = 0; i < ps->n; i++)
    policy_dispose(&ps->rules[i]);
  free(ps);
}

struct policy *policy_find(struct policy_set *ps, const char *module) {
  for (int i = 0; ps != NULL && i < ps->n; i++)
    if (gomod_match_prefix_patterns(ps->rules[i].pattern, module))
      return &ps->rules[i];
  return NULL;
}

int policy_set_count(const struct policy_set *ps) {
  return ps != NULL ? ps->n : 0;
}

const struct policy *policy_set_at(const struct policy_set *ps, int i) {
  return &ps->rules[i];
}

const char *policy_shown(const struct policy *p) {
  return p->shown;
}

int policy_denies(const struct policy *p, const char *version) {
  if (p == NULL || p->action != POLICY_DENY)
    return 0;
  if (p->range == POLICY_ALL)
    return 1;
  if (!gomod_semver_is_valid(version))
    return 0; /* a query: its answer's version is what is judged */
  int c = gomod_semver_compare(version, p->version);
  switch (p->range) {
  case POLICY_LT: return c < 0;
  case POLICY_LE: return c <= 0;
  case POLICY_GT: return c > 0;
  case POLICY_GE: return c >= 0;
  default: return c == 0;
  }
}

void policy_range_text(const struct policy *p, char *out, size_t cap) {
  static const char *const ops[] = {
      [POLICY_ALL] = "", [POLICY_LT] = "<",  [POLICY_LE] = "<=",
      [POLICY_GT] = ">", [POLICY_GE] = ">=", [POLICY_EQ] = "="};
  snprintf(out, cap, "%s%s", ops[p->range],
           p->range != POLICY_ALL ? p->version : "");
}

/* The line at l (before end, without its '\n') into v, cut to cap; returns
 * its length. */
static size_t next_line(const char *l, const char *end, char *v, size_t cap) {
  const char *nl = memchr(l, '\n', (size_t)(end - l));
  size_t n = (size_t)((nl != NULL ? nl : end) - l);
  snprintf(v, cap, "%.*s", (int)n, l);
  return n;
}

void policy_suggest(const struct policy *p, const char *version,
                    const char *list, size_t list_len, char *out, size_t cap) {
  char above[GOMOD_MAX_VERSION_BYTES] = "", best[GOMOD_MAX_VERSION_BYTES] = "";
  const char *end = list != NULL ? list + list_len : NULL;
  char v[GOMOD_MAX_VERSION_BYTES];
  for (const char *l = list; l != NULL && l < end;) {
    l += next_line(l, end, v, sizeof v) + 1;
    if (!gomod_semver_is_valid(v) || policy_denies(p, v))
      continue;
    if (gomod_semver_compare(v, version) > 0 &&
        (above[0] == '\0' || gomod_semver_compare(v, above) < 0))
      snprintf(above, sizeof above, "%s", v);
    if (best[0] == '\0' || gomod_semver_compare(v, best) > 0)
      snprintf(best, sizeof best, "%s", v);
  }
  if (list == NULL && p->range == POLICY_LT)
    snprintf(above, sizeof above, "%s", p->version); /* allowed: the bound */
  snprintf(out, cap, "%s", above[0] != '\0' ? above : best);
}

char *policy_filter_list(const struct policy *p, const char *list,
                         size_t list_len, size_t *out_len) {
  char *out = malloc(list_len + 1);
  if (out == NULL)
    return NULL;
  size_t w = 0;
  char v[GOMOD_MAX_VERSION_BYTES];
  for (const char *l = list, *end = list + list_len; l < end;) {
    size_t n = next_line(l, end, v, sizeof v);
    if (n > 0 && !policy_denies(p, v)) {
      memcpy(out + w, l, n);
      w += n;
      out[w++] = '\n';
    }
    l += n + 1;
  }
  out[w] = '\0';
  *out_len = w;
  return out;
}

void policy_refusal(const struct policy *p, const char *module,
                    const char *version, const char *list, size_t list_len,
                    char *out, size_t cap) {
  if (p->range == POLICY_ALL) {
    snprintf(out, cap,
             "%s: refused by this proxy's module policy \"%s\".\n"
             "Reason: %s\n"
             "Remove the dependency on %s, or ask the proxy's operators "
             "about the policy.\n",
             module, p->shown, p->reason, module);
    return;
  }
  char range[GOMOD_MAX_VERSION_BYTES + 4], fix[GOMOD_MAX_VERSION_BYTES];
  policy_range_text(p, range, sizeof range);
  policy_suggest(p, version, list, list_len, fix, sizeof fix);
  int n = snprintf(out, cap,
                   "%s@%s: refused by this proxy's module policy \"%s\" "
                   "(versions %s are denied).\nReason: %s\n",
                   module, version, p->shown, range, p->reason);
  if (n < 0 || (size_t)n >= cap)
    return;
  if (fix[0] != '\0')
    snprintf(out + n, cap - (size_t)n, "Use an allowed version: go get %s@%s\n",
             module, fix);
  else
    snprintf(out + n, cap - (size_t)n,
             "Use a version outside %s: go list -m -versions %s lists the "
             "allowed ones.\n",
             range, module);
}

void policy_cache_only_miss(const struct policy *p, const char *what,
                            const char *module, char *out, size_t cap) {
  snprintf(out, cap,
           "%s: not in this proxy's cache, and its module policy \"%s\" "
           "serves %s from the cache only (a frozen set): modproxy fetches "
           "nothing for it.\nUse a version the proxy holds (go list -m "
           "-versions %s), or ask its operators to import this one.\n",
           what, p->shown, module, module);
}
