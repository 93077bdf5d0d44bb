/*
 * go.mod analysis: what would go wrong building this module, and why.
 *
 * The main go.mod is parsed strictly; every dependency's go.mod leniently,
 * as the go command does. Minimal version selection walks the requirement
 * graph through the caller's source (the proxy, which fetches what it
 * lacks), remembering for each module version loaded the module path its
 * go.mod declares, its go version and the go.sum hash of its bytes. The
 * findings are then made per module of the build list. Pure apart from the
 * source's functions: no network, store or clock of its own.
 *
 * Fetches (go.mod files, lists, zips) are made for at most
 * DIAG_ANALYSIS_MAX_MODULES module paths; a module past that is left out
 * (MVS goes on as if it required nothing, and it gets no checks), and one
 * "incomplete" finding, made when that first happens so that it is always
 * listed, names what was left out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"
#include "modproxy/modfile.h"

/* What was learnt from one loaded go.mod. */
struct loaded {
  char *key;      /* "path@version" as required */
  char *declared; /* its module line, or NULL */
  char *go;       /* its go directive, or NULL */
  char h1[GOMOD_H1_BYTES];
};

struct analysis {
  const struct diag_source *src;
  const struct diag_client *client;
  struct modfile main;
  char *toolchains; /* golang.org/toolchain's @v/list, once asked for */
  size_t ntoolchains;
  int toolchains_asked;
  struct diag_report *out;
  struct loaded *loaded;
  size_t nloaded, cap;
  char **fetched; /* module paths fetched from, sorted */
  size_t nfetched;
  int left_out;      /* a module was left out */
  size_t incomplete; /* index + 1 of the "incomplete" finding, or 0 */
  int oom;
};

void diag_report_dispose(struct diag_report *r) {
  if (r == NULL)
    return;
  free(r->main_module);
  for (size_t i = 0; r->info != NULL && i < r->nbuild; i++) {
    free(r->info[i].latest);
    free(r->info[i].prerelease);
    free(r->info[i].retracted);
    free(r->info[i].deprecated);
  }
  free(r->info);
  diag_mods_free(r->build, r->nbuild);
  for (size_t i = 0; i < r->nfindings; i++) {
    struct diag_finding *f = &r->findings[i];
    free(f->kind);
    free(f->module);
    free(f->version);
    free(f->message);
    free(f->fix);
  }
  free(r->findings);
  memset(r, 0, sizeof *r);
}

__attribute__((format(printf, 6, 7))) static void
finding(struct analysis *a, enum diag_severity sev, const char *kind,
        const char *module, const char *version, const char *fmt, ...) {
  struct diag_report *r = a->out;
  if (sev == DIAG_SEV_ERROR)
    r->errors++;
  else if (sev == DIAG_SEV_WARNING)
    r->warnings++;
  if (r->nfindings == DIAG_MAX_FINDINGS) {
    r->dropped++;
    return;
  }
  if (r->findings == NULL) {
    r->findings = calloc(DIAG_MAX_FINDINGS, sizeof *r->findings);
    if (r->findings == NULL) {
      a->oom = 1;
      return;
    }
  }
  /* The text is the message, then optionally "\nfix: " and the fix. */
  char *text = NULL;
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0) {
    a->oom = 1;
    return;
  }
  struct diag_finding *f = &r->findings[r->nfindings++];
  char *nl = strstr(text, "\nfix: ");
  f->severity = sev;
  f->kind = strdup(kind);
  f->module = module != NULL ? strdup(module) : NULL;
  f->version = version != NULL && version[0] != '\0' ? strdup(version) : NULL;
  f->fix = nl != NULL ? strdup(nl + 6) : NULL;
  if (nl != NULL)
    *nl = '\0';
  f->message = text;
}

/* Where path is (1) or would go (0) in the sorted fetched paths. */
static int fetched_find(const struct analysis *a, const char *path,
                        size_t *at) {
  size_t lo = 0, hi = a->nfetched;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(path, a->fetched[mid]);
    if (c == 0) {
      *at = mid;
      return 1;
    }
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  *at = lo;
  return 0;
}

/* 1 if the analysis may fetch what it needs of path: a path fetched from
 * before, or one more while there are fewer than the limit. */
static int may_fetch(struct analysis *a, const char *path) {
  size_t at;
  if (fetched_find(a, path, &at))
    return 1;
  if (a->nfetched == DIAG_ANALYSIS_MAX_MODULES) {
    if (!a->left_out) {
      size_t listed = a->out->nfindings;
      a->left_out = 1;
      finding(a, DIAG_SEV_WARNING, "incomplete", path, NULL,
              "this analysis fetches from at most %d modules; %s and the "
              "modules after it were left out\nfix: analyse a smaller "
              "module, or one with fewer requirements",
              DIAG_ANALYSIS_MAX_MODULES, path);
      if (a->out->nfindings > listed)
        a->incomplete = a->out->nfindings;
    }
    return 0;
  }
  if (a->fetched == NULL)
    a->fetched = calloc(DIAG_ANALYSIS_MAX_MODULES, sizeof *a->fetched);
  char *p = a->fetched != NULL ? strdup(path) : NULL;
  if (p == NULL) {
    a->oom = 1;
    return 0;
  }
  memmove(&a->fetched[at + 1], &a->fetched[at],
          (a->nfetched - at) * sizeof *a->fetched);
  a->fetched[at] = p;
  a->nfetched++;
  return 1;
}

/* Says in the "incomplete" finding how many modules of the build list were
 * left out, and which. */
static void note_left_out(struct analysis *a) {
  const struct diag_report *r = a->out;
  char names[400] = "";
  size_t n = 0, o = 0, at;
  for (size_t i = 0; i < r->nbuild; i++) {
    if (fetched_find(a, r->build[i].path, &at))
      continue;
    if (n++ < 3 && o < sizeof names)
      o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
                            o > 0 ? ", " : "", r->build[i].path);
  }
  struct diag_finding *f = &r->findings[a->incomplete - 1];
  char *text = NULL;
  if (n == 0 ||
      asprintf(&text,
               "this analysis fetches from at most %d modules; %zu more "
               "modules of the build list were left out (their requirements "
               "and checks): %s%s",
               DIAG_ANALYSIS_MAX_MODULES, n, names, n > 3 ? ", ..." : "") < 0)
    return;
  free(f->message);
  f->message = text;
}

static struct loaded *find_loaded(struct analysis *a, const char *path,
                                  const char *version) {
  for (size_t i = 0; i < a->nloaded; i++) {
    const char *k = a->loaded[i].key;
    size_t n = strlen(path);
    if (strncmp(k, path, n) == 0 && k[n] == '@' &&
        strcmp(k + n + 1, version) == 0)
      return &a->loaded[i];
  }
  return NULL;
}

/* The main go.mod's replacement for path@version, or NULL. */
static const struct modfile_replace *
replacement(const struct analysis *a, const char *path, const char *version) {
  const struct modfile_replace *best = NULL;
  for (size_t i = 0; i < a->main.nreplace; i++) {
    const struct modfile_replace *r = &a->main.replace[i];
    if (strcmp(r->old_path, path) != 0)
      continue;
    if (strcmp(r->old_version, version) == 0)
      return r;
    if (r->old_version[0] == '\0')
      best = r;
  }
  return best;
}

static int is_excluded(const struct analysis *a, const char *path,
                       const char *version) {
  for (size_t i = 0; i < a->main.nexclude; i++)
    if (strcmp(a->main.exclude[i].path, path) == 0 &&
        strcmp(a->main.exclude[i].version, version) == 0)
      return 1;
  return 0;
}

/* MVS's requirement loader: fetch, parse leniently, remember, answer. */
static int load_reqs(void *ctx, const char *path, const char *version,
                     struct diag_mod **out, size_t *n) {
  struct analysis *a = ctx;
  *out = NULL;
  *n = 0;
  const struct modfile_replace *rep = replacement(a, path, version);
  if (rep != NULL && rep->new_version[0] == '\0')
    return 0; /* replaced by a directory: nothing to fetch or check */
  const char *lpath = rep != NULL ? rep->new_path : path;
  const char *lver = rep != NULL ? rep->new_version : version;
  if (!may_fetch(a, lpath))
    return 0; /* left out: as if it required nothing */
  char *data = NULL, err[256] = "";
  size_t len = 0;
  int rc =
      a->src->gomod(a->src->ctx, lpath, lver, &data, &len, err, sizeof err);
  if (rc < 0)
    return rc;
  if (a->nloaded == a->cap) {
    size_t cap = a->cap == 0 ? 64 : a->cap * 2;
    struct loaded *l = realloc(a->loaded, cap * sizeof *l);
    if (l == NULL) {
      free(data);
      return -ENOMEM;
    }
    a->loaded = l;
    a->cap = cap;
  }
  struct loaded *l = &a->loaded[a->nloaded];
  memset(l, 0, sizeof *l);
  if (asprintf(&l->key, "%s@%s", path, version) < 0) {
    free(data);
    return -ENOMEM;
  }
  a->nloaded++;
  gomod_h1_gomod(data, len, l->h1);
  struct modfile mf;
  modfile_init(&mf);
  rc = modfile_parse(&mf, data, len, MODFILE_LAX, NULL, 0);
  free(data);
  if (rc < 0)
    return 0; /* the go command would fail on it too; MVS goes on without */
  l->declared = mf.module != NULL ? strdup(mf.module) : NULL;
  l->go = mf.go != NULL ? strdup(mf.go) : NULL;
  if (mf.nrequire > 0) {
    *out = calloc(mf.nrequire, sizeof **out);
    if (*out == NULL) {
      modfile_dispose(&mf);
      return -ENOMEM;
    }
    for (size_t i = 0; i < mf.nrequire; i++) {
      if (is_excluded(a, mf.require[i].path, mf.require[i].version))
        continue;
      (*out)[*n].path = strdup(mf.require[i].path);
      (*out)[*n].version = strdup(mf.require[i].version);
      (*n)++;
    }
  }
  modfile_dispose(&mf);
  return 0;
}

static void check_missing(struct analysis *a, const struct diag_mod *m) {
  char *list = NULL;
  size_t len = 0;
  if (!may_fetch(a, m->path))
    return;
  int rc = a->src->list(a->src->ctx, m->path, &list, &len);
  if (rc == -ENOENT && gomod_private(a->client->proxy_private, m->path)) {
    finding(a, DIAG_SEV_ERROR, "private route", m->path, m->version,
            "%s is private to this proxy (--private), and the proxy found no "
            "repository for it (required at %s)\nfix: the proxy's operators "
            "add --git-route 'PATTERN=URL' for it; check the module path too",
            m->path, m->version);
    return;
  }
  if (rc == -ENOENT) {
    finding(a, DIAG_SEV_ERROR, "unknown module", m->path, m->version,
            "no upstream knows the module %s (required at %s); check the path "
            "for typos, or whether the module moved\nfix: go mod edit "
            "-droprequire=%s, then go get <correct path>@latest",
            m->path, m->version, m->path);
    return;
  }
  struct diag_nearest n = {0};
  if (rc == 0)
    diag_nearest_versions(list, len, m->version, &n);
  free(list);
  if (strcmp(m->note, "no such version") != 0) {
    finding(a, DIAG_SEV_ERROR, "unavailable", m->path, m->version,
            "%s@%s could not be fetched: %s", m->path, m->version, m->note);
  } else if (n.count == 0) {
    finding(a, DIAG_SEV_ERROR, "missing version", m->path, m->version,
            "%s@%s does not exist, and %s has no tagged versions\nfix: go get "
            "%s@<commit or branch>",
            m->path, m->version, m->path, m->path);
  } else {
    finding(a, DIAG_SEV_ERROR, "missing version", m->path, m->version,
            "%s does not exist; nearest: %s%s%s; latest: %s\nfix: go get %s@%s",
            m->version, n.below[0] != '\0' ? n.below : n.above,
            n.below[0] != '\0' && n.above[0] != '\0' ? ", " : "",
            n.below[0] != '\0' ? n.above : "", n.latest, m->path, n.suggest);
  }
}

/* 1 if version falls in one of the retract intervals; sets *why to the
 * first rationale given (NULL if none is), as CheckRetractions does. */
static int retracted(const struct modfile *mf, const char *version,
                     const char **why) {
  int in = 0;
  *why = NULL;
  for (size_t i = 0; i < mf->nretract; i++) {
    const struct modfile_retract *r = &mf->retract[i];
    if (gomod_semver_compare(r->low, version) > 0 ||
        gomod_semver_compare(version, r->high) > 0)
      continue;
    in = 1;
    if (*why == NULL && r->rationale != NULL && r->rationale[0] != '\0')
      *why = r->rationale;
  }
  return in;
}

/* ---- what go list -m -u shows: latest, retracted, deprecated ----------- */

/* The versions of one module being queried (diag_query_fns' ctx). */
struct query_ctx {
  struct analysis *a;
  const char *path;
  const struct modfile *latest; /* its retractions, or NULL */
};

/* CheckAllowed: not excluded by the main go.mod, not retracted. */
static int query_allowed(void *ctx, const char *version) {
  const struct query_ctx *q = ctx;
  const char *why;
  if (is_excluded(q->a, q->path, version))
    return 0;
  return q->latest == NULL || !retracted(q->latest, version, &why);
}

/* versionHasGoMod: the go.mod served is not the one the go command makes
 * up for a version without one (modfetch.LegacyGoMod). One that cannot be
 * fetched counts as a go.mod: +incompatible versions stay out. */
static int query_has_gomod(void *ctx, const char *version) {
  const struct query_ctx *q = ctx;
  char *data = NULL, err[128], legacy[GOMOD_MAX_PATH_BYTES + 16];
  size_t len = 0;
  if (q->a->src->gomod(q->a->src->ctx, q->path, version, &data, &len, err,
                       sizeof err) < 0)
    return 1;
  int n = snprintf(legacy, sizeof legacy, "module %s\n", q->path);
  int has = len != (size_t)n || memcmp(data, legacy, len) != 0;
  free(data);
  return has;
}

/* What @latest names for path (the go command's repo.Latest, asked when
 * no tagged version qualifies), into out: 0 or a negative errno. */
static int source_latest(struct analysis *a, const char *path,
                         char out[GOMOD_MAX_VERSION_BYTES]) {
  if (a->src->latest == NULL)
    return -ENOENT;
  return a->src->latest(a->src->ctx, path, out);
}

/* The retraction and deprecation the latest go.mod states, as findings and
 * in info. */
static void latest_says(struct analysis *a, const struct diag_mod *m,
                        const struct modfile *mf,
                        struct diag_module_info *info) {
  const char *why = NULL;
  char shown[DIAG_MSG_BYTES];
  if (retracted(mf, m->version, &why)) {
    diag_short_message(why != NULL ? why : "", shown, sizeof shown);
    info->retracted =
        strdup(shown[0] != '\0' ? shown : "retracted by module author");
    a->oom |= info->retracted == NULL;
    finding(a, DIAG_SEV_WARNING, "retracted", m->path, m->version,
            "%s@%s is retracted by its author%s%s\nfix: go get %s@latest",
            m->path, m->version, shown[0] != '\0' ? ": " : "", shown, m->path);
  }
  if (mf->deprecated != NULL && mf->deprecated[0] != '\0') {
    info->deprecated = strdup(mf->deprecated);
    a->oom |= info->deprecated == NULL;
    diag_short_message(mf->deprecated, shown, sizeof shown);
    finding(a, DIAG_SEV_WARNING, "deprecated", m->path, NULL,
            "module %s is deprecated: %s\nfix: move to the replacement the "
            "message names (go get <it>@latest), then go mod tidy",
            m->path, shown);
  }
}

/* As go list -m -u: the latest version ignoring retractions, whose go.mod
 * says what is retracted and deprecated (not for a module replaced as a
 * whole), then the "upgrade" query among the versions allowed. The latest
 * version into `latest` ("" when the versions cannot be listed). */
static void check_latest(struct analysis *a, const struct diag_mod *m,
                         struct diag_module_info *info,
                         char latest[GOMOD_MAX_VERSION_BYTES]) {
  latest[0] = '\0';
  char *list = NULL;
  size_t len = 0;
  if (!may_fetch(a, m->path) ||
      a->src->list(a->src->ctx, m->path, &list, &len) < 0)
    return;
  struct query_ctx q = {.a = a, .path = m->path};
  struct diag_query_fns fns = {.has_gomod = query_has_gomod, .ctx = &q};
  char newest[GOMOD_MAX_VERSION_BYTES], pre[GOMOD_MAX_VERSION_BYTES];
  /* Without tagged versions the go command asks @latest. */
  if (diag_query_latest(list, len, NULL, &fns, newest, pre) < 0 &&
      source_latest(a, m->path, newest) < 0)
    snprintf(newest, sizeof newest, "%s", m->version);
  struct modfile mf;
  modfile_init(&mf);
  char *data = NULL, err[128];
  size_t dlen = 0;
  if (replacement(a, m->path, "") == NULL &&
      a->src->gomod(a->src->ctx, m->path, newest, &data, &dlen, err,
                    sizeof err) == 0 &&
      modfile_parse(&mf, data, dlen, MODFILE_LAX, NULL, 0) == 0) {
    q.latest = &mf;
    latest_says(a, m, &mf, info);
  }
  free(data);
  fns.allowed = query_allowed;
  int rc = diag_query_latest(list, len, m->version, &fns, latest, pre);
  a->oom |= rc == -ENOMEM;
  /* From a pseudo-version the upgrade query may also take what @latest
   * names, when it is allowed and not below the selected version. */
  if (rc == -ENOENT && gomod_is_pseudo_version(m->version) &&
      source_latest(a, m->path, latest) == 0 &&
      gomod_semver_compare(latest, m->version) >= 0 &&
      query_allowed(&q, latest))
    rc = 0;
  if (rc < 0)
    snprintf(latest, GOMOD_MAX_VERSION_BYTES, "%s", m->version);
  info->latest = strdup(latest);
  info->prerelease = pre[0] != '\0' ? strdup(pre) : NULL;
  a->oom |= info->latest == NULL || (pre[0] != '\0' && !info->prerelease);
  modfile_dispose(&mf);
  free(list);
}

static int is_direct(const struct analysis *a, const char *path) {
  for (size_t i = 0; i < a->main.nrequire; i++)
    if (strcmp(a->main.require[i].path, path) == 0)
      return !a->main.require[i].indirect;
  return 0;
}

/* 1 if the main go.mod already requires path at version (directly or with
 * // indirect): `go get path@version` would change nothing. */
static int is_required_at(const struct analysis *a, const char *path,
                          const char *version) {
  for (size_t i = 0; i < a->main.nrequire; i++)
    if (strcmp(a->main.require[i].path, path) == 0 &&
        strcmp(a->main.require[i].version, version) == 0)
      return 1;
  return 0;
}

/* What other builds through this proxy resolved for an indirect module.
 * The fixes offered are those that change something: pinning the selected
 * version when go.mod does not already require it, and moving to the
 * latest when that is another version. */
static void check_drift(struct analysis *a, const struct diag_mod *m,
                        const char *latest) {
  if (is_direct(a, m->path))
    return;
  char *recent = NULL;
  size_t len = 0;
  if (a->src->recent(a->src->ctx, m->path, &recent, &len) < 0)
    return;
  char others[512] = "";
  size_t o = 0;
  int count = 0;
  for (char *save = NULL, *line = strtok_r(recent, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    char v[GOMOD_MAX_VERSION_BYTES];
    unsigned long times = 0;
    if (sscanf(line, "%255s %lu", v, &times) < 1 || strcmp(v, m->version) == 0)
      continue;
    if (o < sizeof others - 64)
      o += (size_t)snprintf(others + o, sizeof others - o, "%s%s (%lu)",
                            count > 0 ? ", " : "", v, times);
    count++;
  }
  free(recent);
  if (count == 0)
    return;
  const char *lv = latest[0] != '\0' ? latest : m->version;
  int pin = !is_required_at(a, m->path, m->version);
  int forward = strcmp(lv, m->version) != 0;
  char fix[DIAG_MSG_BYTES] = "";
  if (pin && forward)
    snprintf(fix, sizeof fix,
             "\nfix: pin it: go get %s@%s (or move everyone forward: go get "
             "%s@%s)",
             m->path, m->version, m->path, lv);
  else if (pin)
    snprintf(fix, sizeof fix, "\nfix: pin it: go get %s@%s", m->path,
             m->version);
  else if (forward)
    snprintf(fix, sizeof fix, "\nfix: move everyone forward: go get %s@%s",
             m->path, lv);
  finding(a, DIAG_SEV_WARNING, "indirect drift", m->path, m->version,
          "indirect dependency %s: this build selects %s, latest is %s; other "
          "builds through this proxy resolved %s%s",
          m->path, m->version, lv, others, fix);
}

/* ---- go and toolchain lines the client's Go is too old for ------------- */

/* How the client's go command meets a go line newer than itself. */
enum switching {
  SWITCH_NONE,  /* Go before 1.21: builds anyway, cannot switch */
  SWITCH_LOCAL, /* GOTOOLCHAIN=local or a fixed goX.Y.Z: refuses */
  SWITCH_AUTO,  /* GOTOOLCHAIN=auto (Go's default), path, or <name>+auto */
};

/* The client's Go version ("go1.26.8"), or NULL if it sent none. */
static const char *client_go(const struct analysis *a) {
  const char *v = a->client->go_version;
  return v != NULL && diag_gover_compare(v, "1") >= 0 ? v : NULL;
}

/* A Go version without its "go" prefix, as the go command prints it. */
static const char *bare(const char *v) {
  return strncmp(v, "go", 2) == 0 ? v + 2 : v;
}

static enum switching client_switching(const struct analysis *a) {
  const char *t = a->client->gotoolchain;
  if (diag_gover_compare(client_go(a), "1.21") < 0)
    return SWITCH_NONE;
  if (t == NULL || t[0] == '\0' || strcmp(t, "auto") == 0 ||
      strcmp(t, "path") == 0)
    return SWITCH_AUTO;
  size_t n = strlen(t);
  if ((n > 5 && strcmp(t + n - 5, "+auto") == 0) ||
      (n > 5 && strcmp(t + n - 5, "+path") == 0))
    return SWITCH_AUTO;
  return SWITCH_LOCAL;
}

/* The GOTOOLCHAIN value the go command's refusal names. */
static const char *client_gotoolchain(const struct analysis *a) {
  const char *t = a->client->gotoolchain;
  return t != NULL && t[0] != '\0' ? t : "local";
}

/* The newest release of need's line that this proxy serves as the
 * golang.org/toolchain module ("go1.27.3" into out), or -ENOENT. */
static int newest_toolchain(struct analysis *a, const char *need, char *out,
                            size_t cap) {
  if (!a->toolchains_asked) {
    a->toolchains_asked = 1;
    if (a->src->list(a->src->ctx, "golang.org/toolchain", &a->toolchains,
                     &a->ntoolchains) < 0) {
      free(a->toolchains);
      a->toolchains = NULL;
      a->ntoolchains = 0;
    }
  }
  return diag_toolchain_newest(a->toolchains, a->ntoolchains, need, out, cap);
}

/* The go version to lower a go line to: the client's release, or for Go
 * before 1.21 (which reads no patch) its language version. */
static void lowered(const struct analysis *a, char *out, size_t cap) {
  const char *have = client_go(a);
  if (diag_gover_compare(have, "1.21") < 0)
    diag_gover_lang(have, out, cap);
  else
    snprintf(out, cap, "%s", bare(have));
}

/* The two ways out of "needs go >= need": switch toolchain through this
 * proxy, or lower the main go.mod's go line (module NULL), or require an
 * older version of the dependency `module`. Into out. */
static void fixes_for(struct analysis *a, const char *module, const char *need,
                      char *out, size_t cap) {
  char tc[GOMOD_MAX_VERSION_BYTES], lang[32], low[32], toolchain[160];
  char other[DIAG_MSG_BYTES];
  diag_gover_lang(need, lang, sizeof lang);
  lowered(a, low, sizeof low);
  if (newest_toolchain(a, need, tc, sizeof tc) == 0)
    snprintf(toolchain, sizeof toolchain,
             "GOTOOLCHAIN=%s (the newest go%s this proxy serves; or "
             "GOTOOLCHAIN=auto), downloaded through this proxy",
             tc, lang);
  else
    snprintf(toolchain, sizeof toolchain,
             "GOTOOLCHAIN=auto, once this proxy serves a go%s toolchain (its "
             "golang.org/toolchain list has none)",
             lang);
  if (module != NULL)
    snprintf(other, sizeof other,
             "or require an older %s whose go line is at most %s: go get "
             "%s@<version> (breaks: what you need from the newer version)",
             module, low, module);
  else
    snprintf(other, sizeof other,
             "or lower the line: go mod edit -go=%s (breaks: code using Go %s "
             "features stops compiling, language semantics and GODEBUG "
             "defaults follow the go line, and go mod tidy raises it again "
             "while a dependency needs go %s)",
             low, lang, need);
  snprintf(out, cap, "switch toolchain: %s; %s", toolchain, other);
}

/* A go line (the main module's, what = "go.mod", or a dependency's,
 * what = "path@version") newer than the client's Go. */
static void newer_go(struct analysis *a, const char *module,
                     const char *version, const char *what, const char *where,
                     const char *need) {
  const char *have = client_go(a);
  char fix[DIAG_MSG_BYTES], tc[GOMOD_MAX_VERSION_BYTES];
  fixes_for(a, version != NULL ? module : NULL, need, fix, sizeof fix);
  switch (client_switching(a)) {
  case SWITCH_NONE:
    finding(a, DIAG_SEV_WARNING, "newer go", module, version,
            "%s says go %s, newer than the client's %s; Go before 1.21 "
            "builds it anyway and only adds \"note: module requires Go %s\" "
            "to compile errors\nfix: upgrade the client to Go 1.21 or later "
            "and %s",
            where, need, have, need, fix);
    break;
  case SWITCH_LOCAL:
    finding(a, DIAG_SEV_ERROR, "newer go", module, version,
            "%s says go %s, newer than the client's %s, and GOTOOLCHAIN=%s "
            "forbids switching: \"go: %s requires go >= %s (running go %s; "
            "GOTOOLCHAIN=%s)\"\nfix: %s",
            where, need, have, client_gotoolchain(a), what, need, bare(have),
            client_gotoolchain(a), fix);
    break;
  case SWITCH_AUTO:
    if (newest_toolchain(a, need, tc, sizeof tc) == 0)
      finding(a, DIAG_SEV_INFO, "newer go", module, version,
              "%s says go %s, newer than the client's %s: the go command "
              "switches to %s, downloaded through this proxy (with "
              "GOTOOLCHAIN=local it stops: \"go: %s requires go >= %s\")"
              "\nfix: %s",
              where, need, have, tc, what, need, fix);
    else
      finding(a, DIAG_SEV_ERROR, "newer go", module, version,
              "%s says go %s, newer than the client's %s, and this proxy "
              "serves no go%s toolchain to switch to\nfix: %s",
              where, need, have, need, fix);
    break;
  }
}

/* A dependency's go line newer than the client: Go 1.21+ refuses to build
 * it, Go 1.19 and 1.20 build it. */
static void check_dependency_go(struct analysis *a, const struct diag_mod *m,
                                const char *go) {
  char what[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 2];
  if (client_go(a) == NULL || diag_gover_compare(go, client_go(a)) <= 0)
    return;
  snprintf(what, sizeof what, "%s@%s", m->path, m->version);
  newer_go(a, m->path, m->version, what, what, go);
}

/* Go 1.19's GoVersionRE: "1.19", no patch, no prerelease. */
static int is_lang_only(const char *v) {
  const char *dot = strchr(v, '.');
  return dot != NULL && strchr(dot + 1, '.') == NULL &&
         strspn(v, "0123456789.") == strlen(v);
}

/* Refused lines listed in one finding; a go.mod has a handful. */
#define REFUSED_MAX_LINES 16

/* A line of the main go.mod an older go command refuses, and the Go
 * release that first reads it. */
struct refused {
  unsigned line;
  const char *verb;
  int block; /* "unknown block type" rather than "unknown directive" */
  const char *since;
};

static int by_line(const void *x, const void *y) {
  const struct refused *a = x, *b = y;
  return a->line < b->line ? -1 : a->line > b->line;
}

/* Adds the directive on `line` (in the block starting on block_line, if
 * not 0) if the client's Go predates `since`; a block once. */
static void refuse(const struct analysis *a, struct refused *r, size_t *n,
                   const char *verb, const char *since, unsigned line,
                   unsigned block_line) {
  if (diag_gover_compare(client_go(a), since) >= 0 || *n == REFUSED_MAX_LINES)
    return;
  if (block_line != 0 && *n > 0 && r[*n - 1].line == block_line)
    return;
  r[(*n)++] = (struct refused){block_line != 0 ? block_line : line, verb,
                               block_line != 0, since};
}

/* The lines of the main go.mod the client's Go cannot parse, in its own
 * words and in file order: a go version with a patch or a prerelease
 * before Go 1.21, the directives it predates. '; '-joined into out (empty
 * if none); *since is the Go release that reads them all (NULL if none). */
static void unreadable_lines(const struct analysis *a, char *out, size_t cap,
                             const char **since) {
  const struct modfile *mf = &a->main;
  struct refused r[REFUSED_MAX_LINES];
  size_t n = 0, o = 0;
  if (mf->go != NULL && !is_lang_only(mf->go))
    refuse(a, r, &n, "go", "1.21", mf->go_line, 0);
  if (mf->toolchain != NULL)
    refuse(a, r, &n, "toolchain", "1.21", mf->toolchain_line, 0);
  for (size_t i = 0; i < mf->ngodebug; i++)
    refuse(a, r, &n, "godebug", "1.23", mf->godebug[i].line,
           mf->godebug[i].block_line);
  for (size_t i = 0; i < mf->ntool; i++)
    refuse(a, r, &n, "tool", "1.24", mf->tool[i].line, mf->tool[i].block_line);
  for (size_t i = 0; i < mf->nignore; i++)
    refuse(a, r, &n, "ignore", "1.25", mf->ignore[i].line,
           mf->ignore[i].block_line);
  qsort(r, n, sizeof *r, by_line);
  out[0] = '\0';
  *since = NULL;
  for (size_t i = 0; i < n && o < cap; i++) {
    const char *sep = i > 0 ? "; " : "";
    if (strcmp(r[i].verb, "go") == 0)
      o += (size_t)snprintf(out + o, cap - o,
                            "%sgo.mod:%u: invalid go version '%s': must match "
                            "format 1.23",
                            sep, r[i].line, mf->go);
    else
      o += (size_t)snprintf(out + o, cap - o, "%sgo.mod:%u: unknown %s: %s",
                            sep, r[i].line,
                            r[i].block ? "block type" : "directive", r[i].verb);
    if (*since == NULL || diag_gover_compare(r[i].since, *since) > 0)
      *since = r[i].since;
  }
}

/* The main go.mod's go and toolchain lines against the client's Go. */
static void check_main_go(struct analysis *a) {
  const struct modfile *mf = &a->main;
  const char *have = client_go(a);
  char where[64];
  if (have == NULL)
    return;
  int too_new = mf->go != NULL && diag_gover_compare(mf->go, have) > 0;
  char lines[DIAG_MSG_BYTES], low[32];
  const char *since;
  unreadable_lines(a, lines, sizeof lines, &since);
  lowered(a, low, sizeof low);
  /* Go 1.21+ reports a go line it is too old for before any parse error;
   * older Go reports the parse errors, or builds. */
  if (too_new && (client_switching(a) != SWITCH_NONE || since == NULL)) {
    snprintf(where, sizeof where, "go.mod:%u", mf->go_line);
    newer_go(a, a->out->main_module, NULL, "go.mod", where, mf->go);
  } else if (since != NULL) {
    finding(a, DIAG_SEV_ERROR, "go.mod too new", a->out->main_module, NULL,
            "%s cannot read this go.mod: %s\nfix: upgrade the client to Go "
            "%s or later; or, with a newer go command, rewrite it for %s: go "
            "mod edit -go=%s -toolchain=none, and remove the godebug, tool "
            "and ignore lines (which loses what they set)",
            have, lines, since, have, low);
  }
  if (mf->toolchain == NULL || strcmp(mf->toolchain, "default") == 0 ||
      diag_gover_compare(mf->toolchain, have) <= 0 ||
      client_switching(a) == SWITCH_NONE)
    return;
  /* GOTOOLCHAIN=auto switches to exactly the release the line names. */
  char tc[GOMOD_MAX_VERSION_BYTES], listed[GOMOD_MAX_VERSION_BYTES];
  int n = snprintf(listed, sizeof listed, "v0.0.1-%s.", mf->toolchain);
  int served = newest_toolchain(a, mf->toolchain + 2, tc, sizeof tc) == 0 &&
               memmem(a->toolchains, a->ntoolchains, listed, (size_t)n) != NULL;
  const char *drop = "or drop it: go mod edit -toolchain=none (breaks: "
                     "builds no longer agree on one Go release)";
  if (client_switching(a) == SWITCH_LOCAL)
    finding(a, DIAG_SEV_INFO, "newer toolchain", a->out->main_module, NULL,
            "go.mod:%u: toolchain %s is newer than the client's %s; with "
            "GOTOOLCHAIN=%s the go command ignores the line and builds with "
            "%s\nfix: to use it, GOTOOLCHAIN=auto (%s); %s",
            mf->toolchain_line, mf->toolchain, have, client_gotoolchain(a),
            have,
            served ? "downloaded through this proxy"
                   : "but this proxy does not serve it",
            drop);
  else if (served)
    finding(a, DIAG_SEV_INFO, "newer toolchain", a->out->main_module, NULL,
            "go.mod:%u: toolchain %s is newer than the client's %s: the go "
            "command switches to it, downloaded through this proxy\nfix: "
            "nothing to do; to build with %s, GOTOOLCHAIN=local; %s",
            mf->toolchain_line, mf->toolchain, have, have, drop);
  else
    finding(a, DIAG_SEV_ERROR, "newer toolchain", a->out->main_module, NULL,
            "go.mod:%u: toolchain %s is newer than the client's %s, and this "
            "proxy does not serve it (golang.org/toolchain): the go command's "
            "switch to it fails\nfix: GOTOOLCHAIN=local to build with %s; %s",
            mf->toolchain_line, mf->toolchain, have, have, drop);
}

/* ---- a fix for a go.mod that declares another path --------------------- */

/* Versions of a module whose go.mod declares another path that are tried
 * for one declaring its own path: each costs a go.mod fetch, and the
 * nearest to the required version are the likeliest to work in its place. */
#define DIAG_MISMATCH_MAX_PROBES 8

/* 1 if the proxy serves path@version with a go.mod that declares path. */
static int declares_own_path(struct analysis *a, const char *path,
                             const char *version) {
  char *data = NULL, err[128];
  size_t len = 0;
  if (a->src->gomod(a->src->ctx, path, version, &data, &len, err, sizeof err) <
      0)
    return 0;
  struct modfile mf;
  modfile_init(&mf);
  int ok = modfile_parse(&mf, data, len, MODFILE_LAX, NULL, 0) == 0 &&
           mf.module != NULL && strcmp(mf.module, path) == 0;
  modfile_dispose(&mf);
  free(data);
  return ok;
}

/* The version of path nearest to `from` (below first, walking down, then
 * above, walking up) that declares its own path, into out; 0, or -ENOENT
 * when none of the DIAG_MISMATCH_MAX_PROBES nearest does. */
static int nearest_own_path(struct analysis *a, const char *path,
                            const char *from, char *out) {
  char *list = NULL;
  size_t len = 0;
  if (a->src->list(a->src->ctx, path, &list, &len) < 0)
    return -ENOENT;
  int probes = 0, rc = -ENOENT;
  for (int up = 0; up < 2 && rc < 0; up++) {
    char at[GOMOD_MAX_VERSION_BYTES];
    snprintf(at, sizeof at, "%s", from);
    while (rc < 0 && probes < DIAG_MISMATCH_MAX_PROBES) {
      struct diag_nearest n;
      diag_nearest_versions(list, len, at, &n);
      const char *next = up ? n.above : n.below;
      if (next[0] == '\0')
        break;
      snprintf(at, sizeof at, "%s", next);
      probes++;
      if (declares_own_path(a, path, at)) {
        snprintf(out, GOMOD_MAX_VERSION_BYTES, "%s", at);
        rc = 0;
      }
    }
  }
  free(list);
  return rc;
}

/* The latest version of `declared` when the proxy serves it and its go.mod
 * says so, into out; 0 or -ENOENT. */
static int declared_latest(struct analysis *a, const char *declared,
                           char *out) {
  char *list = NULL;
  size_t len = 0;
  if (!may_fetch(a, declared) ||
      a->src->list(a->src->ctx, declared, &list, &len) < 0)
    return -ENOENT;
  struct diag_nearest n;
  diag_nearest_versions(list, len, "v0.0.0", &n);
  free(list);
  if (n.latest[0] == '\0' || !declares_own_path(a, declared, n.latest))
    return -ENOENT;
  snprintf(out, GOMOD_MAX_VERSION_BYTES, "%s", n.latest);
  return 0;
}

/* A path mismatch, with only the fixes that work: each was checked against
 * what the proxy serves (a replacement the go command would reject in turn
 * is no fix). */
static void path_mismatch(struct analysis *a, const struct diag_mod *m,
                          const char *declared) {
  char own[GOMOD_MAX_VERSION_BYTES], other[GOMOD_MAX_VERSION_BYTES];
  char fix[DIAG_MSG_BYTES], msg[DIAG_MSG_BYTES];
  int has_own = nearest_own_path(a, m->path, m->version, own) == 0;
  int has_declared = declared_latest(a, declared, other) == 0;
  if (has_own && has_declared)
    snprintf(fix, sizeof fix,
             "go mod edit -replace=%s@%s=%s@%s (the nearest version that "
             "declares its own path; or import and require %s %s instead)",
             m->path, m->version, m->path, own, declared, other);
  else if (has_own)
    snprintf(fix, sizeof fix,
             "go mod edit -replace=%s@%s=%s@%s (the nearest version that "
             "declares its own path)",
             m->path, m->version, m->path, own);
  else if (has_declared)
    snprintf(fix, sizeof fix,
             "import and require %s %s instead (or go mod edit -replace=%s@%s="
             "%s@%s)",
             declared, other, m->path, m->version, declared, other);
  else
    snprintf(fix, sizeof fix,
             "none this proxy serves: no nearby version of %s declares its "
             "own path, and %s is unknown; ask %s's authors",
             m->path, declared, m->path);
  diag_msg_path_mismatch(msg, sizeof msg, m->path, m->version, declared, fix);
  finding(a, DIAG_SEV_ERROR, "path mismatch", m->path, m->version, "%s", msg);
}

static void check_module(struct analysis *a, const struct diag_mod *m,
                         struct diag_module_info *info) {
  const struct loaded *l = find_loaded(a, m->path, m->version);
  const struct modfile_replace *rep = replacement(a, m->path, m->version);
  if (l != NULL && l->declared != NULL && rep == NULL &&
      strcmp(l->declared, m->path) != 0)
    path_mismatch(a, m, l->declared);
  if (l != NULL && l->go != NULL)
    check_dependency_go(a, m, l->go);
  char latest[GOMOD_MAX_VERSION_BYTES];
  check_latest(a, m, info, latest);
  check_drift(a, m, latest);
}

/* The index of path@version in the build list (sorted by path), or -1. */
static long build_index(const struct diag_report *r, const char *path,
                        const char *version) {
  size_t lo = 0, hi = r->nbuild;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(path, r->build[mid].path);
    if (c == 0)
      return strcmp(version, r->build[mid].version) == 0 ? (long)mid : -1;
    if (c < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  return -1;
}

/* go.sum lines against what is served, with each build list module's
 * verdict: a line that disagrees, else its go.mod line (which the go
 * command needs for every module of the graph) there or not. */
static void check_gosum(struct analysis *a, const char *gosum, size_t len) {
  struct diag_report *r = a->out;
  char *copy = strndup(gosum, len);
  if (copy == NULL) {
    a->oom = 1;
    return;
  }
  for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    char path[GOMOD_MAX_PATH_BYTES], ver[GOMOD_MAX_VERSION_BYTES], sum[128];
    if (sscanf(line, "%1023s %255s %127s", path, ver, sum) != 3)
      continue;
    size_t vl = strlen(ver);
    int is_mod = vl > 7 && strcmp(ver + vl - 7, "/go.mod") == 0;
    if (is_mod)
      ver[vl - 7] = '\0';
    char served[GOMOD_H1_BYTES] = "";
    if (is_mod) {
      const struct loaded *l = find_loaded(a, path, ver);
      if (l == NULL || replacement(a, path, ver) != NULL)
        continue;
      memcpy(served, l->h1, sizeof served);
    } else if (!may_fetch(a, path) ||
               a->src->zip_h1(a->src->ctx, path, ver, served) < 0) {
      continue;
    }
    long at = build_index(r, path, ver);
    struct diag_module_info *info = at >= 0 ? &r->info[at] : NULL;
    if (strcmp(served, sum) != 0) {
      if (info != NULL)
        info->sum = DIAG_SUM_MISMATCH;
      finding(a, DIAG_SEV_ERROR, "checksum mismatch", path, ver,
              "go.sum has %s for %s@%s%s, but this proxy serves %s; the go "
              "command will refuse it (SECURITY ERROR)\nfix: if go.sum is "
              "wrong, delete that line and run go mod download %s; if not, "
              "tell the proxy's operators",
              sum, path, ver, is_mod ? "/go.mod" : "", served, path);
    } else if (info != NULL && is_mod && info->sum != DIAG_SUM_MISMATCH) {
      info->sum = DIAG_SUM_OK;
    }
  }
  free(copy);
  /* The modules whose go.mod was loaded from the proxy and has no line. */
  for (size_t i = 0; i < r->nbuild; i++) {
    const struct diag_mod *m = &r->build[i];
    if (r->info[i].sum == DIAG_SUM_UNCHECKED &&
        find_loaded(a, m->path, m->version) != NULL &&
        replacement(a, m->path, m->version) == NULL)
      r->info[i].sum = DIAG_SUM_MISSING;
  }
}

const char *diag_sum_name(enum diag_sum s) {
  static const char *const names[] = {"unchecked", "ok", "missing", "mismatch"};
  return names[s];
}

/* The effective GONOSUMDB/GONOPROXY: the variable, else GOPRIVATE. */
static const char *or_private(const char *v, const struct diag_client *c) {
  return v != NULL && v[0] != '\0' ? v : c->goprivate;
}

static void check_private(struct analysis *a, const char *path) {
  const struct diag_client *c = a->client;
  if (!gomod_private(c->proxy_private, path))
    return;
  const char *nosumdb = or_private(c->gonosumdb, c);
  const char *noproxy = or_private(c->gonoproxy, c);
  int sumdb_off = c->gosumdb != NULL && strcmp(c->gosumdb, "off") == 0;
  if (!sumdb_off && !gomod_private(nosumdb, path))
    finding(a, DIAG_SEV_ERROR, "private leak", path, NULL,
            "the go command would ask the public checksum database about the "
            "private module %s (GONOSUMDB does not cover it)\nfix: go env -w "
            "GONOSUMDB=%s",
            path, c->proxy_private);
  if (gomod_private(noproxy, path))
    finding(a, DIAG_SEV_INFO, "bypasses proxy", path, NULL,
            "GONOPROXY/GOPRIVATE make the go command fetch %s straight from "
            "its repository, not through this proxy\nfix: go env -w "
            "GONOPROXY=none",
            path);
  if (c->goproxy != NULL && c->goproxy[0] != '\0' && c->proxy_base != NULL &&
      strncmp(c->goproxy, c->proxy_base, strlen(c->proxy_base)) != 0)
    finding(a, DIAG_SEV_WARNING, "private via other proxy", path, NULL,
            "GOPROXY=%s asks another proxy first, which would see the "
            "private path %s\nfix: go env -w GOPROXY=%s",
            c->goproxy, path, c->proxy_base);
}

int diag_modfile_analyze(const char *gomod, size_t gomod_len, const char *gosum,
                         size_t gosum_len, const struct diag_client *client,
                         const struct diag_source *src,
                         struct diag_report *out) {
  struct analysis a = {.src = src, .client = client, .out = out};
  memset(out, 0, sizeof *out);
  modfile_init(&a.main);
  char err[MODFILE_ERROR_BYTES];
  int rc = modfile_parse(&a.main, gomod, gomod_len, 0, err, sizeof err);
  if (rc == -ENOMEM)
    return rc;
  if (rc < 0) {
    finding(&a, DIAG_SEV_ERROR, "go.mod syntax", NULL, NULL,
            "the go.mod does not parse: %s", err);
    return a.oom ? -ENOMEM : 0;
  }
  out->main_module = strdup(a.main.module != NULL ? a.main.module : "");
  check_main_go(&a);
  struct diag_mod *roots = calloc(a.main.nrequire + 1, sizeof *roots);
  struct diag_mod *failed = NULL;
  size_t nfailed = 0;
  rc = roots != NULL ? 0 : -ENOMEM;
  for (size_t i = 0; rc == 0 && i < a.main.nrequire; i++) {
    roots[i].path = (char *)a.main.require[i].path;
    roots[i].version = (char *)a.main.require[i].version;
  }
  if (rc == 0)
    rc = diag_mvs(roots, a.main.nrequire, load_reqs, &a, &out->build,
                  &out->nbuild, &failed, &nfailed);
  free(roots);
  for (size_t i = 0; rc == 0 && i < nfailed; i++)
    check_missing(&a, &failed[i]);
  if (rc == 0 && out->nbuild > 0) {
    out->info = calloc(out->nbuild, sizeof *out->info);
    rc = out->info != NULL ? 0 : -ENOMEM;
  }
  for (size_t i = 0; rc == 0 && i < out->nbuild; i++) {
    int broken = 0;
    for (size_t k = 0; k < nfailed && !broken; k++)
      broken = strcmp(failed[k].path, out->build[i].path) == 0;
    out->info[i].indirect = !is_direct(&a, out->build[i].path);
    if (!broken)
      check_module(&a, &out->build[i], &out->info[i]);
    check_private(&a, out->build[i].path);
  }
  diag_mods_free(failed, nfailed);
  if (rc == 0 && gosum != NULL && gosum_len > 0)
    check_gosum(&a, gosum, gosum_len);
  if (a.incomplete > 0)
    note_left_out(&a);
  for (size_t i = 0; i < a.nloaded; i++) {
    free(a.loaded[i].key);
    free(a.loaded[i].declared);
    free(a.loaded[i].go);
  }
  free(a.loaded);
  for (size_t i = 0; i < a.nfetched; i++)
    free(a.fetched[i]);
  free(a.fetched);
  free(a.toolchains);
  modfile_dispose(&a.main);
  if (rc == 0 && a.oom)
    rc = -ENOMEM;
  return rc;
}
