/*
 * `modproxy export --data DIR [--upstream LIST] -o BUNDLE ARGS...`: writes
 * a bundle (bundle.h) holding everything the builds of ARGS need offline.
 *
 * ARGS are go.mod files (their go.sum next to them is read too), or module
 * queries (path@version, path@latest, path@branch). The closure is the
 * whole module graph without pruning: every version any go.mod in it
 * requires (after the main go.mod's replacements), so that whatever the go
 * command consults (go mod tidy, download, build) is there. Each version
 * gets its .info and .mod; zips go with the versions minimal version
 * selection picks for each root, the versions the roots' go.sum lists,
 * and the queried versions. With --toolchain, golang.org/toolchain for the
 * requested --platform list. For each --sumdb database, the lookups of the
 * public versions and the tiles a go command reads to check them (for
 * every tree size the lookups were signed at, with the consistency proofs
 * between them).
 *
 * Everything is fetched through the proxy's own subsystems, set up in this
 * process without a listener on the same store and settings as `serve`:
 * what the store lacks comes from the upstreams, verified and cached as a
 * serving modproxy would, and the bundle is then written from the store.
 * The bundle appears under its name only once complete (written as
 * BUNDLE.partial-PID and renamed).
 *
 * This file holds the module graph, the roots, the closure and the command;
 * the subsystems and fetching, the checksum databases and the writer have files
 * of their own (export.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "export.h"
#include "modproxy/diag.h"
#include "modproxy/modfile.h"
#include "server.h"
#include "modproxy/timeutil.h"

/* Versions in one closure: a large program has a few thousand. */
#define EXPORT_MAX_VERSIONS 200000

static const char usage[] =
    "  modproxy export [flags] -o BUNDLE ARGS...\n"
    "\n"
    "Writes BUNDLE, a directory holding everything the builds of ARGS need\n"
    "without a network: a GOPROXY file:// tree (.info, .mod, .zip, lists)\n"
    "with the checksum database's lookups and tiles, and a manifest of\n"
    "hashes. Import it with `modproxy import BUNDLE` on the offline side.\n"
    "ARGS are go.mod files (go.sum next to them is read too) or module\n"
    "queries (path@version, path@latest), or none with --toolchain. What\n"
    "the store (--data) lacks is fetched from the upstreams, as `serve`\n"
    "would.\n"
    "\n"
    "  -o, --output BUNDLE   the bundle directory to create (must not exist)\n"
    "  --since OLD           an incremental bundle: only files OLD lacks\n"
    "  --toolchain goX.Y.Z   also golang.org/toolchain for it (repeatable)\n"
    "  --platform OS/ARCH    toolchain platforms (repeatable; default\n"
    "                        linux/amd64)\n"
    "\n"
    "Store and upstream flags are those of `modproxy serve` (see below).\n";

/* ---- the module graph ---------------------------------------------------- */

/* The nodes (struct node, export.h) are indexed by module@version in
 * x->slots: open addressing, slot i + 1 holding node i. */

static uint64_t hash_str2(const char *a, const char *b) {
  uint64_t h = 1469598103934665603ull;
  for (; *a != '\0'; a++)
    h = (h ^ (unsigned char)*a) * 1099511628211ull;
  h = (h ^ '@') * 1099511628211ull;
  for (; *b != '\0'; b++)
    h = (h ^ (unsigned char)*b) * 1099511628211ull;
  return h;
}

static size_t *node_slot(struct exporter *x, const char *m, const char *v) {
  size_t i = (size_t)(hash_str2(m, v) & (x->nslots - 1));
  while (x->slots[i] != 0) {
    struct node *n = &x->nodes[x->slots[i] - 1];
    if (strcmp(n->module, m) == 0 && strcmp(n->version, v) == 0)
      break;
    i = (i + 1) & (x->nslots - 1);
  }
  return &x->slots[i];
}

static struct node *node_find(struct exporter *x, const char *m,
                              const char *v) {
  if (x->nslots == 0)
    return NULL;
  size_t s = *node_slot(x, m, v);
  return s == 0 ? NULL : &x->nodes[s - 1];
}

/* Finds or adds module@version; NULL when out of memory or over the limit. */
static struct node *node_get(struct exporter *x, const char *m, const char *v) {
  struct node *n = node_find(x, m, v);
  if (n != NULL)
    return n;
  if (x->nnodes == EXPORT_MAX_VERSIONS)
    return NULL;
  if ((x->nnodes + 1) * 2 > x->nslots) {
    size_t ns = x->nslots == 0 ? 1024 : x->nslots * 2;
    size_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL)
      return NULL;
    free(x->slots);
    x->slots = slots;
    x->nslots = ns;
    for (size_t i = 0; i < x->nnodes; i++)
      *node_slot(x, x->nodes[i].module, x->nodes[i].version) = i + 1;
  }
  if (x->nnodes == x->capnodes) {
    size_t cap = x->capnodes == 0 ? 256 : x->capnodes * 2;
    struct node *nv = realloc(x->nodes, cap * sizeof *nv);
    if (nv == NULL)
      return NULL;
    x->nodes = nv;
    x->capnodes = cap;
  }
  n = &x->nodes[x->nnodes];
  memset(n, 0, sizeof *n);
  n->module = strdup(m);
  n->version = strdup(v);
  if (n->module == NULL || n->version == NULL) {
    free(n->module);
    free(n->version);
    return NULL;
  }
  *node_slot(x, m, v) = ++x->nnodes;
  return n;
}

void export_problem(struct exporter *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("  ", x->errs);
  vfprintf(x->errs, fmt, ap);
  fputc('\n', x->errs);
  va_end(ap);
  x->failures++;
}

/* ---- roots --------------------------------------------------------------- */

static int add_req(struct req **v, size_t *n, const char *path,
                   const char *version) {
  struct req *nv = realloc(*v, (*n + 1) * sizeof *nv);
  if (nv == NULL)
    return -ENOMEM;
  *v = nv;
  nv[*n].path = strdup(path);
  nv[*n].version = strdup(version);
  if (nv[*n].path == NULL || nv[*n].version == NULL)
    return -ENOMEM;
  (*n)++;
  return 0;
}

static struct rootset *new_set(struct exporter *x, const char *what,
                               const char *dir) {
  struct rootset *ns = realloc(x->sets, (x->nsets + 1) * sizeof *ns);
  if (ns == NULL)
    return NULL;
  x->sets = ns;
  struct rootset *r = &ns[x->nsets++];
  memset(r, 0, sizeof *r);
  r->what = strdup(what);
  r->dir = dir != NULL ? strdup(dir) : NULL;
  return r;
}

/* go.sum lines next to a go.mod: kept for the manifest, and what they name
 * goes into the bundle (a zip line: with its zip). */
static void read_gosum(struct exporter *x, const char *path) {
  char *text;
  size_t len;
  if (bundle_read_file(path, BUNDLE_MAX_MANIFEST_BYTES, &text, &len) < 0)
    return;
  for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    char m[GOMOD_MAX_PATH_BYTES], v[GOMOD_MAX_VERSION_BYTES + 8], h[128];
    if (sscanf(line, "%1023s %263s %127s", m, v, h) != 3)
      continue;
    size_t vl = strlen(v);
    int gomod = vl > 7 && strcmp(v + vl - 7, "/go.mod") == 0;
    if (gomod)
      v[vl - 7] = '\0';
    if (!gomod_is_canonical_version(v) || gomod_check(m, v, NULL, 0) < 0)
      continue;
    bundle_manifest_add_sum(&x->gosum, m, v, gomod, h, 1);
    struct node *n = node_get(x, m, v);
    if (n != NULL && !gomod)
      n->want_zip = 1;
  }
  free(text);
}

static int add_gomod_root(struct exporter *x, const char *file) {
  char *text;
  size_t len;
  int rc = bundle_read_file(file, MODFILE_MAX_BYTES, &text, &len);
  if (rc < 0) {
    fprintf(stderr, "modproxy export: %s: %s\n", file, strerror(-rc));
    return rc;
  }
  struct modfile mf;
  modfile_init(&mf);
  char err[MODFILE_ERROR_BYTES];
  rc = modfile_parse(&mf, text, len, 0, err, sizeof err);
  free(text);
  if (rc < 0) {
    fprintf(stderr, "modproxy export: %s: %s\n", file, err);
    return rc;
  }
  char what[4200], dir[4096];
  snprintf(what, sizeof what, "go.mod %s (%s)", file,
           mf.module != NULL ? mf.module : "no module line");
  snprintf(dir, sizeof dir, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  struct rootset *r = new_set(x, what, dir);
  if (r == NULL) {
    modfile_dispose(&mf);
    return -ENOMEM;
  }
  for (size_t i = 0; i < mf.nrequire && rc == 0; i++)
    rc =
        add_req(&r->reqs, &r->nreqs, mf.require[i].path, mf.require[i].version);
  for (size_t i = 0; i < mf.nreplace && rc == 0; i++) {
    struct replace *nr = realloc(r->repl, (r->nrepl + 1) * sizeof *nr);
    if (nr == NULL) {
      rc = -ENOMEM;
      break;
    }
    r->repl = nr;
    const struct modfile_replace *p = &mf.replace[i];
    nr[r->nrepl++] =
        (struct replace){strdup(p->old_path), strdup(p->old_version),
                         strdup(p->new_path), strdup(p->new_version)};
  }
  modfile_dispose(&mf);
  char sum[4200];
  snprintf(sum, sizeof sum, "%s/go.sum", dir);
  read_gosum(x, sum);
  return rc;
}

/* Resolves path@query through the server. */
static int resolve_query(struct exporter *x, const char *arg, char *module,
                         char *version) {
  const char *at = strrchr(arg, '@');
  if (at == NULL || at == arg || at[1] == '\0')
    return -EINVAL;
  snprintf(module, GOMOD_MAX_PATH_BYTES, "%.*s", (int)(at - arg), arg);
  const char *q = at + 1;
  if (gomod_check_path(module, NULL, 0) < 0)
    return -EINVAL;
  if (gomod_is_canonical_version(q) && gomod_check(module, q, NULL, 0) == 0) {
    snprintf(version, GOMOD_MAX_VERSION_BYTES, "%s", q);
    return 0;
  }
  struct xfer *t = strcmp(q, "latest") == 0
                       ? xfer_new(x, module, "@latest", NULL)
                       : xfer_new(x, module, "@v/%s.info", q);
  if (t == NULL)
    return -EINVAL;
  export_fetch_all(x, &t, 1);
  int rc = -ENOENT;
  if (t->rc == 0 && t->status == 200 &&
      gomod_info_version(t->body.data, t->body.len, version,
                         GOMOD_MAX_VERSION_BYTES) == 0 &&
      gomod_is_canonical_version(version))
    rc = 0;
  else {
    char why[256];
    xfer_why(t, why, sizeof why);
    fprintf(stderr, "modproxy export: %s: %s\n", arg, why);
  }
  xfer_free(t);
  return rc;
}

/* ---- the closure --------------------------------------------------------- */

/* The replacement of path@version in r, or NULL. */
static const struct replace *replaced(const struct rootset *r, const char *path,
                                      const char *version) {
  const struct replace *any = NULL;
  for (size_t i = 0; r != NULL && i < r->nrepl; i++) {
    if (strcmp(r->repl[i].old_path, path) != 0)
      continue;
    if (strcmp(r->repl[i].old_version, version) == 0)
      return &r->repl[i];
    if (r->repl[i].old_version[0] == '\0')
      any = &r->repl[i];
  }
  return any;
}

/* A local directory replacement's requirements (its go.mod, read now). */
static int local_reqs(const struct rootset *r, const char *dir,
                      struct req **out, size_t *n) {
  char path[8192];
  if (dir[0] == '/')
    snprintf(path, sizeof path, "%s/go.mod", dir);
  else
    snprintf(path, sizeof path, "%s/%s/go.mod", r->dir, dir);
  char *text;
  size_t len;
  if (bundle_read_file(path, MODFILE_MAX_BYTES, &text, &len) < 0)
    return 0; /* no go.mod there: no requirements */
  struct modfile mf;
  modfile_init(&mf);
  int rc = modfile_parse(&mf, text, len, MODFILE_LAX, NULL, 0);
  free(text);
  for (size_t i = 0; rc == 0 && i < mf.nrequire; i++)
    rc = add_req(out, n, mf.require[i].path, mf.require[i].version);
  modfile_dispose(&mf);
  return rc;
}

static void parse_mod(struct exporter *x, struct node *n, struct xfer *t) {
  struct modfile mf;
  modfile_init(&mf);
  char err[MODFILE_ERROR_BYTES];
  if (modfile_parse(&mf, t->body.data, t->body.len, MODFILE_LAX, err,
                    sizeof err) < 0) {
    export_problem(x, "%s@%s: its go.mod does not parse: %s", n->module,
                   n->version, err);
    n->failed = strdup("go.mod does not parse");
    return;
  }
  for (size_t i = 0; i < mf.nrequire; i++)
    add_req(&n->reqs, &n->nreqs, mf.require[i].path, mf.require[i].version);
  modfile_dispose(&mf);
  n->loaded = 1;
}

/* Fetches .mod and .info of every node in v[0..n). */
static void load_nodes(struct exporter *x, struct node **v, size_t n) {
  struct xfer **ts = calloc(2 * n + 1, sizeof *ts);
  size_t nt = 0;
  for (size_t i = 0; ts != NULL && i < n; i++) {
    struct xfer *mod = xfer_new(x, v[i]->module, "@v/%s.mod", v[i]->version);
    struct xfer *info = xfer_new(x, v[i]->module, "@v/%s.info", v[i]->version);
    if (mod == NULL || info == NULL) {
      xfer_free(mod);
      xfer_free(info);
      v[i]->failed = strdup("invalid module path or version");
      continue;
    }
    mod->ctx = info->ctx = v[i];
    mod->kind = 0;
    info->kind = 1;
    ts[nt++] = mod;
    ts[nt++] = info;
  }
  if (ts == NULL)
    return;
  x->pr.total += nt;
  export_fetch_all(x, ts, nt);
  for (size_t i = 0; i < nt; i++) {
    struct xfer *t = ts[i];
    struct node *nd = t->ctx;
    if (t->rc == 0 && t->status == 200) {
      if (t->kind == 0)
        parse_mod(x, nd, t);
      else
        nd->info_ok = 1;
    } else if (nd->failed == NULL) {
      char why[256];
      xfer_why(t, why, sizeof why);
      export_problem(x, "%s@%s: %s", nd->module, nd->version, why);
      nd->failed = strdup(why);
    }
    xfer_free(t);
  }
  free(ts);
}

/* Walks root set r breadth first, loading each level in parallel. */
static int walk(struct exporter *x, int mark, struct rootset *r) {
  struct req *frontier = NULL, *next = NULL;
  size_t nf = 0, nn = 0;
  int rc = 0;
  for (size_t i = 0; i < r->nreqs && rc == 0; i++)
    rc = add_req(&frontier, &nf, r->reqs[i].path, r->reqs[i].version);
  while (rc == 0 && nf > 0) {
    struct node **level = calloc(nf, sizeof *level);
    size_t nl = 0;
    if (level == NULL)
      return -ENOMEM;
    for (size_t i = 0; i < nf; i++) {
      const char *p = frontier[i].path, *v = frontier[i].version;
      const struct replace *rp = replaced(r, p, v);
      if (rp != NULL && rp->new_version[0] == '\0') {
        local_reqs(r, rp->new_path, &next, &nn);
        continue;
      }
      if (rp != NULL) {
        p = rp->new_path;
        v = rp->new_version;
      }
      struct node *n = node_get(x, p, v);
      if (n == NULL) {
        export_problem(x, "%s@%s: too many versions (over %d)", p, v,
                       EXPORT_MAX_VERSIONS);
        continue;
      }
      if (n->mark == mark)
        continue;
      n->mark = mark;
      level[nl++] = n;
    }
    size_t load = 0;
    for (size_t i = 0; i < nl; i++)
      if (!level[i]->loaded && level[i]->failed == NULL)
        level[load++] = level[i];
    /* level[load..nl) are loaded already: their requirements follow too. */
    load_nodes(x, level, load);
    for (size_t i = 0; i < nf; i++) {
      free(frontier[i].path);
      free(frontier[i].version);
    }
    free(frontier);
    frontier = NULL;
    nf = 0;
    for (size_t i = 0; i < nl; i++) {
      struct node *n = level[i];
      for (size_t k = 0; k < n->nreqs && rc == 0; k++)
        rc = add_req(&next, &nn, n->reqs[k].path, n->reqs[k].version);
    }
    /* Nodes walked in an earlier level of this set were skipped above by
     * their mark, so every node's requirements are added once. */
    free(level);
    frontier = next;
    nf = nn;
    next = NULL;
    nn = 0;
  }
  for (size_t i = 0; i < nf; i++) {
    free(frontier[i].path);
    free(frontier[i].version);
  }
  free(frontier);
  return rc;
}

struct mvs_ctx {
  struct exporter *x;
  struct rootset *r;
};

static int mvs_reqs(void *arg, const char *path, const char *version,
                    struct diag_mod **out, size_t *n) {
  struct mvs_ctx *c = arg;
  const struct replace *rp = replaced(c->r, path, version);
  struct req *local = NULL;
  size_t nlocal = 0;
  const struct req *reqs;
  size_t nreqs;
  if (rp != NULL && rp->new_version[0] == '\0') {
    local_reqs(c->r, rp->new_path, &local, &nlocal);
    reqs = local;
    nreqs = nlocal;
  } else {
    struct node *nd = rp != NULL
                          ? node_find(c->x, rp->new_path, rp->new_version)
                          : node_find(c->x, path, version);
    if (nd == NULL || !nd->loaded)
      return -ENOENT;
    reqs = nd->reqs;
    nreqs = nd->nreqs;
  }
  *out = calloc(nreqs + 1, sizeof **out);
  if (*out == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < nreqs; i++) {
    (*out)[i].path = strdup(reqs[i].path);
    (*out)[i].version = strdup(reqs[i].version);
  }
  *n = nreqs;
  for (size_t i = 0; i < nlocal; i++) {
    free(local[i].path);
    free(local[i].version);
  }
  free(local);
  return 0;
}

/* Marks the zips of the build list minimal version selection picks. */
static int select_zips(struct exporter *x, struct rootset *r) {
  struct diag_mod *roots = calloc(r->nreqs + 1, sizeof *roots);
  if (roots == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < r->nreqs; i++) {
    roots[i].path = r->reqs[i].path;
    roots[i].version = r->reqs[i].version;
  }
  struct mvs_ctx c = {x, r};
  struct diag_mod *sel = NULL, *failed = NULL;
  size_t nsel = 0, nfailed = 0;
  int rc =
      diag_mvs(roots, r->nreqs, mvs_reqs, &c, &sel, &nsel, &failed, &nfailed);
  free(roots);
  for (size_t i = 0; rc == 0 && i < nsel; i++) {
    const struct replace *rp = replaced(r, sel[i].path, sel[i].version);
    if (rp != NULL && rp->new_version[0] == '\0')
      continue;
    struct node *n = rp != NULL ? node_get(x, rp->new_path, rp->new_version)
                                : node_get(x, sel[i].path, sel[i].version);
    if (n != NULL)
      n->want_zip = 1;
  }
  diag_mods_free(sel, nsel);
  diag_mods_free(failed, nfailed);
  /* Two queries (or toolchains) of one module: both, not the higher. */
  for (size_t i = 0; rc == 0 && r->zip_roots && i < r->nreqs; i++) {
    struct node *n = node_get(x, r->reqs[i].path, r->reqs[i].version);
    if (n != NULL)
      n->want_zip = 1;
  }
  return rc;
}

static void fetch_zips(struct exporter *x) {
  struct xfer **ts = calloc(x->nnodes + 1, sizeof *ts);
  size_t nt = 0;
  for (size_t i = 0; ts != NULL && i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    if (!n->want_zip || n->failed != NULL)
      continue;
    struct xfer *t = xfer_new(x, n->module, "@v/%s.zip", n->version);
    if (t == NULL)
      continue;
    t->discard = 1;
    t->ctx = n;
    ts[nt++] = t;
  }
  if (ts == NULL)
    return;
  bundle_progress_phase(&x->pr, "zips", nt);
  export_fetch_all(x, ts, nt);
  for (size_t i = 0; i < nt; i++) {
    struct node *n = ts[i]->ctx;
    if (ts[i]->rc == 0 && ts[i]->status == 200) {
      n->zip_ok = 1;
    } else {
      char why[256];
      xfer_why(ts[i], why, sizeof why);
      export_problem(x, "%s@%s: zip: %s", n->module, n->version, why);
    }
    xfer_free(ts[i]);
  }
  free(ts);
  char sum[64];
  snprintf(sum, sizeof sum, "%zu zips", nt);
  bundle_progress_end(&x->pr, sum);
}

/* ---- the command --------------------------------------------------------- */

/* Export's own flags, in settings_flag order. */
enum { F_OUTPUT, F_SINCE, F_TOOLCHAIN, F_PLATFORM };
static const struct settings_flag export_flags[] = {
    [F_OUTPUT] = {"output", 'o', "BUNDLE"},
    [F_SINCE] = {"since", 0, "MANIFEST"},
    [F_TOOLCHAIN] = {"toolchain", 0, "VERSION"},
    [F_PLATFORM] = {"platform", 0, "GOOS/GOARCH"},
    {NULL, 0, NULL},
};
_Static_assert(EXPORT_MAX_LIST >= SETTINGS_MAX_LIST,
               "a repeated flag's values must fit the exporter's lists");

/* Copies export's own flags from the loaded settings into x. */
static void take_flags(struct exporter *x) {
  x->out = settings_flag(&x->st, F_OUTPUT);
  x->since = settings_flag(&x->st, F_SINCE);
  for (int i = 0; i < x->st.flag[F_TOOLCHAIN].n; i++)
    x->toolchains[x->ntoolchains++] = x->st.flag[F_TOOLCHAIN].list[i];
  for (int i = 0; i < x->st.flag[F_PLATFORM].n; i++)
    x->platforms[x->nplatforms++] = x->st.flag[F_PLATFORM].list[i];
}

/* golang.org/toolchain versions for --toolchain x --platform. */
static int add_toolchains(struct exporter *x) {
  if (x->ntoolchains == 0)
    return 0;
  struct rootset *r = new_set(x, "toolchains", NULL);
  if (r == NULL)
    return -ENOMEM;
  r->zip_roots = 1;
  if (x->nplatforms == 0)
    x->platforms[x->nplatforms++] = "linux/amd64";
  for (int i = 0; i < x->ntoolchains; i++) {
    const char *t = x->toolchains[i];
    for (int k = 0; k < x->nplatforms; k++) {
      char plat[64], v[GOMOD_MAX_VERSION_BYTES];
      snprintf(plat, sizeof plat, "%s", x->platforms[k]);
      char *slash = strchr(plat, '/');
      if (slash == NULL) {
        fprintf(stderr, "modproxy export: --platform %s: want OS/ARCH\n", plat);
        return -EINVAL;
      }
      *slash = '-';
      snprintf(v, sizeof v, "v0.0.1-%s%s.%s",
               strncmp(t, "go", 2) == 0 ? "" : "go", t, plat);
      if (gomod_check("golang.org/toolchain", v, NULL, 0) < 0) {
        fprintf(stderr,
                "modproxy export: --toolchain %s: %s is not a valid "
                "version\n",
                t, v);
        return -EINVAL;
      }
      int rc = add_req(&r->reqs, &r->nreqs, "golang.org/toolchain", v);
      if (rc < 0)
        return rc;
    }
  }
  return 0;
}

static int add_arg(struct exporter *x, const char *arg,
                   struct rootset **queries) {
  struct stat sb;
  char file[4200];
  snprintf(file, sizeof file, "%s", arg);
  if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode))
    snprintf(file, sizeof file, "%s/go.mod", arg);
  if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
    return add_gomod_root(x, file);
  if (strchr(arg, '@') == NULL) {
    fprintf(stderr,
            "modproxy export: %s: neither a go.mod file nor "
            "module@version\n",
            arg);
    return -EINVAL;
  }
  char m[GOMOD_MAX_PATH_BYTES], v[GOMOD_MAX_VERSION_BYTES];
  int rc = resolve_query(x, arg, m, v);
  if (rc < 0) {
    if (rc == -EINVAL)
      fprintf(stderr, "modproxy export: %s: not a valid module@version\n", arg);
    return rc;
  }
  if (*queries == NULL && (*queries = new_set(x, "queries", NULL)) == NULL)
    return -ENOMEM;
  (*queries)->zip_roots = 1;
  char what[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 16];
  snprintf(what, sizeof what, " %s@%s", m, v);
  size_t wl = strlen((*queries)->what) + strlen(what) + 1;
  char *nw = realloc((*queries)->what, wl);
  if (nw != NULL) {
    strcat(nw, what);
    (*queries)->what = nw;
  }
  return add_req(&(*queries)->reqs, &(*queries)->nreqs, m, v);
}

static void exporter_dispose(struct exporter *x) {
  for (size_t i = 0; i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    for (size_t k = 0; k < n->nreqs; k++) {
      free(n->reqs[k].path);
      free(n->reqs[k].version);
    }
    free(n->reqs);
    free(n->module);
    free(n->version);
    free(n->failed);
  }
  free(x->nodes);
  free(x->slots);
  for (size_t i = 0; i < x->nsets; i++) {
    struct rootset *r = &x->sets[i];
    for (size_t k = 0; k < r->nreqs; k++) {
      free(r->reqs[k].path);
      free(r->reqs[k].version);
    }
    for (size_t k = 0; k < r->nrepl; k++) {
      free(r->repl[k].old_path);
      free(r->repl[k].old_version);
      free(r->repl[k].new_path);
      free(r->repl[k].new_version);
    }
    free(r->reqs);
    free(r->repl);
    free(r->what);
    free(r->dir);
  }
  free(x->sets);
  for (int i = 0; i < PROXY_SUMDB_MAX_DBS; i++)
    free(x->plan[i]);
  free(x->specs);
  bundle_manifest_dispose(&x->gosum);
  if (x->errs != NULL)
    fclose(x->errs);
  free(x->errs_buf);
  settings_dispose(&x->st);
}

int cmd_export(int argc, char **argv) {
  struct exporter *x = calloc(1, sizeof *x);
  if (x == NULL)
    return 1;
  int status = CMD_EXIT_USAGE;
  const struct settings_cmd cmd = {
      "export", usage, SETTINGS_SERVE & ~(1u << S_LISTEN), export_flags};
  int rc = cmd_load(&x->st, &cmd, argc, argv);
  if (rc != 0) {
    status = rc > 0 ? 0 : CMD_EXIT_USAGE;
    goto done;
  }
  take_flags(x);
  if (x->out == NULL || (x->st.nargs == 0 && x->ntoolchains == 0)) {
    fprintf(stderr,
            "modproxy export: need -o BUNDLE and at least one go.mod, "
            "module@version or --toolchain (see modproxy export --help)\n");
    goto done;
  }
  struct stat sb;
  if (stat(x->out, &sb) == 0) {
    fprintf(stderr,
            "modproxy export: %s already exists; remove it or choose "
            "another -o\n",
            x->out);
    goto done;
  }
  settings_to_config(&x->st, &x->cfg);
  if ((x->errs = open_memstream(&x->errs_buf, &x->errs_len)) == NULL) {
    fprintf(stderr, "modproxy export: out of memory\n");
    status = 1;
    goto done;
  }
  signal(SIGPIPE, SIG_IGN);
  setenv("UV_THREADPOOL_SIZE", "16", 0);
  uint64_t t0 = time_now_ms(CLOCK_MONOTONIC);
  if (export_server_start(x) < 0) {
    fprintf(stderr, "modproxy export: cannot start the fetching server\n");
    status = 1;
    goto done;
  }
  /* The databases, as the server parsed them. */
  int ndbs = proxy_sumdb_count(x->s->sumdb);
  if (ndbs > 0) {
    x->specs = calloc((size_t)ndbs, sizeof *x->specs);
    for (int i = 0; x->specs != NULL && i < ndbs; i++)
      x->specs[x->nspecs++] = proxy_sumdb_at(x->s->sumdb, i)->spec;
  }
  bundle_progress_init(&x->pr, "export");
  struct rootset *queries = NULL;
  rc = 0;
  for (int i = 0; rc == 0 && i < x->st.nargs; i++)
    rc = add_arg(x, x->st.args[i], &queries);
  if (rc == 0)
    rc = add_toolchains(x);
  if (rc < 0) {
    export_server_stop(x);
    status = 1;
    goto done;
  }
  /* The graph. */
  bundle_progress_phase(&x->pr, "graph", 0);
  for (size_t i = 0; rc == 0 && i < x->nsets; i++)
    rc = walk(x, (int)i + 1, &x->sets[i]);
  {
    /* Versions only the go.sum files name. */
    struct node **v = calloc(x->nnodes + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v != NULL && i < x->nnodes; i++)
      if (!x->nodes[i].loaded && x->nodes[i].failed == NULL)
        v[n++] = &x->nodes[i];
    if (v != NULL)
      load_nodes(x, v, n);
    free(v);
  }
  char sum[128];
  snprintf(sum, sizeof sum, "%zu module versions", x->nnodes);
  bundle_progress_end(&x->pr, sum);
  for (size_t i = 0; rc == 0 && i < x->nsets; i++)
    rc = select_zips(x, &x->sets[i]);
  if (rc == 0)
    fetch_zips(x);
  for (int i = 0; rc == 0 && i < x->nspecs; i++)
    export_db(x, i);
  export_server_stop(x);
  double secs = (double)(time_now_ms(CLOCK_MONOTONIC) - t0) / 1000.0;
  if (rc == 0)
    rc = export_write_bundle(x, secs);
  fflush(x->errs);
  if (x->errs_len > 0)
    fprintf(stderr, "modproxy export: %d problem%s:\n%s", x->failures,
            x->failures == 1 ? "" : "s", x->errs_buf);
  status = rc < 0 ? 1 : x->failures > 0 ? 1 : 0;
  if (rc == 0 && x->failures > 0)
    fprintf(stderr, "modproxy export: the bundle was written without what "
                    "failed above; builds that need it will fail offline\n");
done:
  exporter_dispose(x);
  free(x);
  return status;
}
