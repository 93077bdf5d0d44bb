/*
 * `modproxy export --data DIR [--upstream LIST] -o BUNDLE ARGS...`: writes
 * a bundle (bundle.h) holding everything the builds of ARGS need offline.
 *
 * ARGS are go.mod files (their go.sum next to them is read too), project
 * directories (a go.mod, or a go.work workspace with all its modules, and
 * their go.sum and go.work.sum), or module queries (path@version,
 * path@latest, path@branch); --from WANTS reads queries from a file (an
 * offline mirror's `modproxy missing`), --all takes every version the store
 * holds (--match, --used-since narrow it). The closure is the module
 * graph the go command loads for each root (after the main go.mod's
 * replacements): for a go.mod at go 1.17 or later, the pruned graph (its
 * requirements, and everything below those at go 1.16 or earlier) and
 * every version minimal version selection picks in it, so that a project
 * exported from the store that served its builds needs nothing else; for
 * the other roots (older go.mod files, workspaces, queries) every version
 * any go.mod in the graph requires, so that whatever the go command
 * consults (go mod tidy, download, get) is there. Each version gets its
 * .info and .mod; zips go with the loaded versions minimal version
 * selection picks, the versions the roots' go.sum lists, and the queried
 * versions. With --toolchain, golang.org/toolchain for the
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
 * BUNDLE.partial-PID and renamed), and only when every go.sum line read
 * agrees with what was exported: a line that does not fails the export
 * here, on the connected side, not on the offline side once the media
 * crossed.
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

#include <openssl/crypto.h>

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
    "ARGS are go.mod files, project directories (a go.mod, or a go.work\n"
    "workspace with all its modules) or module queries (path@version,\n"
    "path@latest). Every go.sum line read (go.sum, go.work.sum) must agree\n"
    "with what is exported, or nothing is written. What the store (--data)\n"
    "lacks is fetched from the upstreams, as `serve` would.\n"
    "\n"
    "  -o, --output BUNDLE   the bundle to create (must not exist): a\n"
    "                        directory, or one file when it ends in .tar,\n"
    "                        .tar.zst or .tar.gz\n"
    "  --from WANTS          also the path@version / path@query lines of\n"
    "                        WANTS (`modproxy missing` on the offline side)\n"
    "  --all                 every version the store holds, with the zips it\n"
    "                        holds\n"
    "  --match PATTERNS      with --all: only modules matching these\n"
    "                        GOPRIVATE-style globs\n"
    "  --used-since T        with --all: only versions served or stored since\n"
    "                        T (2026-01-02, 2026-01-02T15:04:05Z, or 30d ago)\n"
    "  --since OLD           an incremental bundle: only files OLD lacks\n"
    "  --toolchain goX.Y.Z   also golang.org/toolchain for it (repeatable)\n"
    "  --platform OS/ARCH    toolchain platforms (repeatable; default\n"
    "                        linux/amd64)\n"
    "  --sign KEYFILE        sign the manifest with a key from `modproxy\n"
    "                        keygen` (import --trust then checks it)\n"
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

/* One well-formed line of a go.sum file (lineno from 1). */
typedef int (*gosum_line_cb)(struct exporter *x, const char *file, int lineno,
                             const char *module, const char *version, int gomod,
                             const char *h1);

/* Calls cb for each line of the go.sum file `path` that names a valid
 * module version (with "/go.mod": gomod); stops at a nonzero result. A
 * missing file has no lines. */
static int gosum_each(struct exporter *x, const char *path, gosum_line_cb cb) {
  char *text;
  size_t len;
  if (bundle_read_file(path, BUNDLE_MAX_MANIFEST_BYTES, &text, &len) < 0)
    return 0;
  int rc = 0, lineno = 0;
  for (char *line = text, *next; rc == 0 && line != NULL && *line != '\0';
       line = next) {
    lineno++;
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
    rc = cb(x, path, lineno, m, v, gomod, h);
  }
  free(text);
  return rc;
}

/* A go.sum line: kept for the manifest, and what it names goes into the
 * bundle (a zip line: with its zip). */
static int take_gosum_line(struct exporter *x, const char *file, int lineno,
                           const char *m, const char *v, int gomod,
                           const char *h1) {
  bundle_manifest_add_sum(&x->gosum, m, v, gomod, h1, 1);
  struct node *n = node_get(x, m, v);
  if (n != NULL && !gomod)
    n->want_zip = 1;
  return 0;
}

/* Reads the go.sum (or go.work.sum) at path, and keeps its name for the
 * check before writing (check_gosums). */
static int read_gosum(struct exporter *x, const char *path) {
  if (x->ngosum_files == EXPORT_MAX_LIST) {
    fprintf(stderr, "modproxy export: more than %d go.sum files\n",
            EXPORT_MAX_LIST);
    return -E2BIG;
  }
  char *copy = strdup(path);
  if (copy == NULL)
    return -ENOMEM;
  x->gosum_files[x->ngosum_files++] = copy;
  return gosum_each(x, path, take_gosum_line);
}

/* A go.sum line that disagrees with the store (what was exported, checked
 * against the checksum database as it was fetched): said with the fix. */
static int check_gosum_line(struct exporter *x, const char *file, int lineno,
                            const char *m, const char *v, int gomod,
                            const char *h1) {
  struct node *n = node_find(x, m, v);
  char have[GOMOD_H1_BYTES] = "";
  if (n == NULL || n->failed != NULL)
    return 0; /* not exported: said among the problems */
  if (gomod) {
    struct store_bytes b;
    if (store_part_get(x->s->store, m, v, STORE_MOD, &b, have) < 0)
      return 0;
    store_bytes_free(&b);
  } else {
    struct store_zip_meta zm;
    if (store_zip_stat(x->s->store, m, v, &zm) < 0)
      return 0;
    snprintf(have, sizeof have, "%s", zm.h1);
    store_zip_meta_dispose(&zm);
  }
  if (strcmp(have, h1) == 0)
    return 0;
  fprintf(stderr,
          "modproxy export: %s:%d: %s %s%s has %s, but the module exported "
          "has %s\n",
          file, lineno, m, v, gomod ? "/go.mod" : "", h1, have);
  x->gosum_bad++;
  return 0;
}

/* Every go.sum line read agrees with what is exported? 0, or -EBADMSG
 * after saying which lines do not and what to do. */
static int check_gosums(struct exporter *x) {
  for (int i = 0; i < x->ngosum_files; i++)
    gosum_each(x, x->gosum_files[i], check_gosum_line);
  if (x->gosum_bad == 0)
    return 0;
  fprintf(stderr,
          "modproxy export: nothing was written: %d go.sum line%s disagree%s "
          "with the modules (as the upstream and checksum database serve "
          "them). If go.sum was edited by hand or a merge, delete the line "
          "and run `go mod tidy` here; else the module changed after go.sum "
          "recorded it: find out why before using it.\n",
          x->gosum_bad, x->gosum_bad == 1 ? "" : "s",
          x->gosum_bad == 1 ? "s" : "");
  return -EBADMSG;
}

/* Whether a go.mod with this go line prunes its module graph (Go 1.17). */
static int go_prunes(const char *go) {
  return go != NULL && diag_gover_compare(go, "1.17") >= 0;
}

/* Reads and parses the go.mod (or, with MODFILE_WORK, go.work) at file;
 * says what is wrong on stderr. */
static int parse_file(const char *file, unsigned flags, struct modfile *mf) {
  char *text;
  size_t len;
  int rc = bundle_read_file(file, MODFILE_MAX_BYTES, &text, &len);
  if (rc < 0) {
    fprintf(stderr, "modproxy export: %s: %s\n", file, strerror(-rc));
    return rc;
  }
  char err[MODFILE_ERROR_BYTES];
  rc = modfile_parse(mf, text, len, flags, err, sizeof err);
  free(text);
  if (rc < 0)
    fprintf(stderr, "modproxy export: %s: %s\n", file, err);
  return rc;
}

/* Adds replacement p to r; a directory relative to rel (the go.mod's
 * directory, relative to r->dir; NULL: r->dir) is made relative to r->dir. */
static int add_replace(struct rootset *r, const struct modfile_replace *p,
                       const char *rel) {
  struct replace *nr = realloc(r->repl, (r->nrepl + 1) * sizeof *nr);
  if (nr == NULL)
    return -ENOMEM;
  r->repl = nr;
  char dir[4200];
  if (p->new_version[0] == '\0' && rel != NULL && p->new_path[0] != '/')
    snprintf(dir, sizeof dir, "%s/%s", rel, p->new_path);
  else
    snprintf(dir, sizeof dir, "%s", p->new_path);
  nr[r->nrepl++] = (struct replace){strdup(p->old_path), strdup(p->old_version),
                                    strdup(dir), strdup(p->new_version)};
  return 0;
}

/* Adds a go.mod's requirements and replacements to r (rel: as for
 * add_replace). */
static int add_modfile(struct rootset *r, const struct modfile *mf,
                       const char *rel) {
  int rc = 0;
  for (size_t i = 0; i < mf->nrequire && rc == 0; i++)
    rc = add_req(&r->reqs, &r->nreqs, mf->require[i].path,
                 mf->require[i].version);
  for (size_t i = 0; i < mf->nreplace && rc == 0; i++)
    rc = add_replace(r, &mf->replace[i], rel);
  return rc;
}

/* The directory part of file ("." for none) into dir. */
static void dir_of(const char *file, char *dir, size_t cap) {
  snprintf(dir, cap, "%s", file);
  char *slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = '\0';
  else
    snprintf(dir, cap, ".");
}

static int add_gomod_root(struct exporter *x, const char *file) {
  struct modfile mf;
  modfile_init(&mf);
  int rc = parse_file(file, 0, &mf);
  if (rc < 0)
    return rc;
  char what[4200], dir[4096];
  snprintf(what, sizeof what, "go.mod %s (%s)", file,
           mf.module != NULL ? mf.module : "no module line");
  dir_of(file, dir, sizeof dir);
  struct rootset *r = new_set(x, what, dir);
  rc = r != NULL ? add_modfile(r, &mf, NULL) : -ENOMEM;
  if (r != NULL)
    r->pruned = go_prunes(mf.go);
  modfile_dispose(&mf);
  char sum[4200];
  snprintf(sum, sizeof sum, "%s/go.sum", dir);
  if (rc == 0)
    rc = read_gosum(x, sum);
  return rc;
}

/* A go.work workspace: one root set of all its modules, as the go command
 * builds them together; each module's path is replaced by its directory,
 * so that the modules requiring each other need nothing fetched. The
 * go.work's replacements come first and win. */
static int add_work_root(struct exporter *x, const char *file) {
  struct modfile wf;
  modfile_init(&wf);
  int rc = parse_file(file, MODFILE_WORK, &wf);
  if (rc < 0)
    return rc;
  char what[4200], dir[4096], path[8400];
  snprintf(what, sizeof what, "go.work %s (%zu modules)", file, wf.nuse);
  dir_of(file, dir, sizeof dir);
  struct rootset *r = new_set(x, what, dir);
  if (r == NULL)
    rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < wf.nreplace; i++)
    rc = add_replace(r, &wf.replace[i], NULL);
  for (size_t i = 0; rc == 0 && i < wf.nuse; i++) {
    const char *use = wf.use[i].path;
    if (use[0] == '/')
      snprintf(path, sizeof path, "%s/go.mod", use);
    else
      snprintf(path, sizeof path, "%s/%s/go.mod", dir, use);
    struct modfile mf;
    modfile_init(&mf);
    if ((rc = parse_file(path, 0, &mf)) < 0)
      break;
    if (mf.module == NULL) {
      fprintf(stderr, "modproxy export: %s: no module line\n", path);
      rc = -EINVAL;
    }
    struct modfile_replace self = {mf.module, "", use, "", 0};
    if (rc == 0)
      rc = add_replace(r, &self, NULL);
    if (rc == 0)
      rc = add_modfile(r, &mf, use);
    modfile_dispose(&mf);
    path[strlen(path) - strlen("go.mod")] = '\0';
    strcat(path, "go.sum");
    if (rc == 0)
      rc = read_gosum(x, path);
  }
  modfile_dispose(&wf);
  snprintf(path, sizeof path, "%s/go.work.sum", dir);
  if (rc == 0)
    rc = read_gosum(x, path);
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
    if (r->repl[i].old_version[0] == '\0' && any == NULL)
      any = &r->repl[i]; /* the first: a go.work's come first and win */
  }
  return any;
}

/* A local directory replacement's requirements (its go.mod, read now);
 * none when as_root and its go.mod prunes the graph below it. */
static int local_reqs(const struct rootset *r, const char *dir, int as_root,
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
  if (rc == 0 && as_root && go_prunes(mf.go))
    mf.nrequire = 0;
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
  n->prunes = go_prunes(mf.go);
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
    char why[256];
    if (t->rc == 0 && t->status == 200) {
      if (t->kind == 0)
        parse_mod(x, nd, t);
      else
        nd->info_ok = 1;
    } else if (t->kind == 1) {
      xfer_why(t, why, sizeof why); /* a problem if needed (check_infos) */
      free(nd->info_why);
      nd->info_why = strdup(why);
    } else if (nd->failed == NULL) {
      xfer_why(t, why, sizeof why);
      export_problem(x, "%s@%s: %s", nd->module, nd->version, why);
      nd->failed = strdup(why);
    }
    xfer_free(t);
  }
  free(ts);
}

/* Walks root set r breadth first, loading each level in parallel. In a
 * pruned set (r->pruned), as the go command loads a pruned module graph:
 * the roots' go.mod files are loaded, and the requirements of a root are
 * followed only when its own go.mod does not prune (go 1.16 or earlier);
 * below that, everything is followed. */
static int walk(struct exporter *x, int mark, struct rootset *r) {
  struct req *frontier = NULL, *next = NULL;
  size_t nf = 0, nn = 0;
  int rc = 0;
  int as_roots = r->pruned; /* the first level of a pruned set */
  for (size_t i = 0; i < r->nreqs && rc == 0; i++)
    rc = add_req(&frontier, &nf, r->reqs[i].path, r->reqs[i].version);
  while (rc == 0 && nf > 0) {
    struct node **level = calloc(nf, sizeof *level);
    size_t *at = calloc(nf, sizeof *at);
    size_t nl = 0;
    if (level == NULL || at == NULL) {
      free(level);
      free(at);
      return -ENOMEM;
    }
    for (size_t i = 0; i < nf; i++) {
      const char *p = frontier[i].path, *v = frontier[i].version;
      const struct replace *rp = replaced(r, p, v);
      if (rp != NULL && rp->new_version[0] == '\0') {
        local_reqs(r, rp->new_path, as_roots, &next, &nn);
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
      /* A pruned root is walked again when reached below a root that
       * does not prune: then its requirements are followed. */
      int *seen = as_roots ? &n->root_mark : &n->mark;
      if (*seen == mark)
        continue;
      *seen = mark;
      n->need_info |= !r->pruned;
      at[nl++] = (size_t)(n - x->nodes);
    }
    /* Pointers only now: node_get may move the nodes as they grow. */
    for (size_t i = 0; i < nl; i++)
      level[i] = &x->nodes[at[i]];
    free(at);
    size_t load = 0;
    for (size_t i = 0; i < nl; i++) {
      if (!level[i]->loaded && level[i]->failed == NULL) {
        struct node *t = level[load];
        level[load++] = level[i];
        level[i] = t;
      }
    }
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
      if (as_roots && n->prunes)
        continue;
      for (size_t k = 0; k < n->nreqs && rc == 0; k++)
        rc = add_req(&next, &nn, n->reqs[k].path, n->reqs[k].version);
    }
    /* Nodes walked in an earlier level of this set were skipped above by
     * their mark, so every node's requirements are added once. */
    free(level);
    as_roots = 0;
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
    local_reqs(c->r, rp->new_path, 0, &local, &nlocal);
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

/* Marks the zips of the build list minimal version selection picks, of the
 * versions whose go.mod the walk loaded: in a pruned set, the versions
 * below the roots that prune are there for selection alone, and the go
 * command takes no package from them. Those it selects still get a node,
 * loaded later with the rest: `go list -m all` reads their .info and .mod. */
static int select_zips(struct exporter *x, struct rootset *r) {
  if (r->stored_zips)
    return 0; /* marked as they were added */
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
      n->need_info = 1;
    if (n != NULL && n->loaded)
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

/* A problem for each version whose .info is needed and could not be had. */
static void check_infos(struct exporter *x) {
  for (size_t i = 0; i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    if (n->failed == NULL && !n->info_ok && (n->need_info || n->want_zip))
      export_problem(x, "%s@%s: .info: %s", n->module, n->version,
                     n->info_why != NULL ? n->info_why : "not fetched");
  }
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
enum {
  F_OUTPUT,
  F_SINCE,
  F_TOOLCHAIN,
  F_PLATFORM,
  F_FROM,
  F_ALL,
  F_MATCH,
  F_USED_SINCE,
  F_SIGN
};
static const struct settings_flag export_flags[] = {
    [F_OUTPUT] = {"output", 'o', "BUNDLE"},
    [F_SINCE] = {"since", 0, "MANIFEST"},
    [F_TOOLCHAIN] = {"toolchain", 0, "VERSION"},
    [F_PLATFORM] = {"platform", 0, "GOOS/GOARCH"},
    [F_FROM] = {"from", 0, "WANTS"},
    [F_ALL] = {"all", 0, NULL},
    [F_MATCH] = {"match", 0, "PATTERNS"},
    [F_USED_SINCE] = {"used-since", 0, "T"},
    [F_SIGN] = {"sign", 0, "KEYFILE"},
    {NULL, 0, NULL},
};
_Static_assert(EXPORT_MAX_LIST >= SETTINGS_MAX_LIST,
               "a repeated flag's values must fit the exporter's lists");

/* Copies export's own flags from the loaded settings into x. */
static void take_flags(struct exporter *x) {
  x->out = settings_flag(&x->st, F_OUTPUT);
  x->since = settings_flag(&x->st, F_SINCE);
  for (int i = 0; i < x->st.flag[F_FROM].n; i++)
    x->from[x->nfrom++] = x->st.flag[F_FROM].list[i];
  x->all = settings_flag(&x->st, F_ALL) != NULL;
  x->match = settings_flag(&x->st, F_MATCH);
  x->used_since = settings_flag(&x->st, F_USED_SINCE);
  for (int i = 0; i < x->st.flag[F_TOOLCHAIN].n; i++)
    x->toolchains[x->ntoolchains++] = x->st.flag[F_TOOLCHAIN].list[i];
  for (int i = 0; i < x->st.flag[F_PLATFORM].n; i++)
    x->platforms[x->nplatforms++] = x->st.flag[F_PLATFORM].list[i];
}

/* --sign KEYFILE: the signer, read before anything is fetched. */
static int take_signer(struct exporter *x) {
  const char *path = settings_flag(&x->st, F_SIGN);
  if (path == NULL)
    return 0;
  char err[512];
  if (bundle_signer_load(path, &x->signer, err, sizeof err) < 0) {
    fprintf(stderr, "modproxy export: --sign %s\n", err);
    return -EINVAL;
  }
  x->sign = 1;
  return 0;
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

/* Adds the query path@query (resolved now) to the queries' root set. */
static int add_query(struct exporter *x, const char *arg,
                     struct rootset **queries) {
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

static int add_arg(struct exporter *x, const char *arg,
                   struct rootset **queries) {
  struct stat sb;
  char file[4200];
  int dir = stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode);
  snprintf(file, sizeof file, "%s/go.work", arg);
  if (dir && stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
    return add_work_root(x, file);
  size_t n = strlen(arg);
  if (!dir && n >= 7 && strcmp(arg + n - 7, "go.work") == 0)
    return add_work_root(x, arg);
  snprintf(file, sizeof file, dir ? "%s/go.mod" : "%s", arg);
  if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
    return add_gomod_root(x, file);
  if (strchr(arg, '@') == NULL) {
    fprintf(stderr,
            "modproxy export: %s: neither a go.mod or go.work file, a "
            "project directory, nor module@version\n",
            arg);
    return -EINVAL;
  }
  return add_query(x, arg, queries);
}

/* --from WANTS: a path@version or path@query per line; '#' starts a
 * comment. A line that cannot be had is a problem (said at the end, the
 * bundle written without it), not the end of the export: a site's list may
 * hold what no upstream has. */
static int add_wants(struct exporter *x, const char *file,
                     struct rootset **queries) {
  char *text;
  size_t len;
  int rc = bundle_read_file(file, BUNDLE_MAX_MANIFEST_BYTES, &text, &len);
  if (rc < 0) {
    fprintf(stderr, "modproxy export: --from %s: %s\n", file, strerror(-rc));
    return rc;
  }
  int lineno = 0;
  rc = 0;
  for (char *line = text, *next; rc == 0 && line != NULL && *line != '\0';
       line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    line[strcspn(line, "#")] = '\0';
    char want[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 2];
    if (sscanf(line, "%1279s", want) != 1)
      continue;
    if (strchr(want, '@') == NULL) {
      fprintf(stderr, "modproxy export: %s:%d: %s: want path@version\n", file,
              lineno, want);
      rc = -EINVAL;
      break;
    }
    int qrc = add_query(x, want, queries);
    if (qrc == -ENOENT || qrc == -EINVAL)
      export_problem(x, "%s:%d: %s: not exported", file, lineno, want);
    else
      rc = qrc;
  }
  free(text);
  return rc;
}

/* --all: what the store holds. */
struct all_ctx {
  struct exporter *x;
  struct rootset *r;
  int rc;
};

static int add_stored(void *arg, const char *module, const char *version) {
  struct all_ctx *a = arg;
  if (a->x->match != NULL && !gomod_match_prefix_patterns(a->x->match, module))
    return 0;
  struct node *n = node_get(a->x, module, version);
  struct store_zip_meta zm;
  if (n != NULL && store_zip_stat(a->x->s->store, module, version, &zm) == 0) {
    n->want_zip = 1; /* the zips it holds: not a zip more */
    store_zip_meta_dispose(&zm);
  }
  a->rc =
      n != NULL ? add_req(&a->r->reqs, &a->r->nreqs, module, version) : -ENOMEM;
  return a->rc;
}

static int add_all(struct exporter *x) {
  int64_t used_since = 0;
  if (x->used_since != NULL &&
      settings_time_parse(x->used_since, (int64_t)time(NULL), &used_since) <
          0) {
    fprintf(stderr,
            "modproxy export: --used-since %s: not a date, time or duration "
            "(2026-01-02, 2026-01-02T15:04:05Z, 30d)\n",
            x->used_since);
    return -EINVAL;
  }
  struct all_ctx a = {x, new_set(x, "the store", NULL), 0};
  if (a.r == NULL)
    return -ENOMEM;
  a.r->stored_zips = 1;
  int rc = store_versions_each(x->s->store, used_since, add_stored, &a);
  if (rc == 0 && a.r->nreqs == 0) {
    fprintf(stderr, "modproxy export: --all: the store holds no version%s\n",
            x->match != NULL || x->used_since != NULL ? " that matches" : "");
    rc = -ENOENT;
  }
  return rc < 0 ? rc : a.rc;
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
    free(n->info_why);
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
  for (int i = 0; i < x->ngosum_files; i++)
    free(x->gosum_files[i]);
  OPENSSL_cleanse(&x->signer, sizeof x->signer);
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
  if (x->out == NULL ||
      (x->st.nargs == 0 && x->ntoolchains == 0 && x->nfrom == 0 && !x->all)) {
    fprintf(stderr, "modproxy export: need -o BUNDLE and at least one go.mod, "
                    "project directory, module@version, --from, --all or "
                    "--toolchain (see modproxy export --help)\n");
    goto done;
  }
  if (!x->all && (x->match != NULL || x->used_since != NULL)) {
    fprintf(stderr, "modproxy export: --match and --used-since narrow --all; "
                    "add --all\n");
    goto done;
  }
  if (take_signer(x) < 0)
    goto done;
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
  for (int i = 0; rc == 0 && i < x->nfrom; i++)
    rc = add_wants(x, x->from[i], &queries);
  if (rc == 0 && x->all)
    rc = add_all(x);
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
  for (size_t i = 0; rc == 0 && i < x->nsets; i++)
    rc = select_zips(x, &x->sets[i]);
  {
    /* Versions only the go.sum files or the build lists name. */
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
  check_infos(x);
  if (rc == 0)
    fetch_zips(x);
  for (int i = 0; rc == 0 && i < x->nspecs; i++)
    export_db(x, i);
  if (rc == 0)
    rc = check_gosums(x);
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
