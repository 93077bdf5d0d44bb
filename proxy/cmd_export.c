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
 * Everything is fetched through a modproxy server started in this process
 * on the same store and settings as `serve` (127.0.0.1, an ephemeral port):
 * what the store lacks comes from the upstreams, verified and cached as a
 * serving modproxy would, and the bundle is then written from the store.
 * The bundle appears under its name only once complete (written as
 * BUNDLE.partial-PID and renamed).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "bundle.h"
#include "cmd.h"
#include "modproxy/diag.h"
#include "modproxy/modfile.h"
#include "route.h"
#include "settings.h"
#include "sumdb.h"

/* Requests in flight to the embedded server: enough to keep the upstream
 * busy, few enough not to look like a flood. */
#define EXPORT_PARALLEL 8
/* Versions in one closure: a large program has a few thousand. */
#define EXPORT_MAX_VERSIONS 200000
/* A transfer that moves no byte for this long fails. */
#define EXPORT_STALL_TIMEOUT_S 300
/* Zip bytes copied from the store per read. */
#define EXPORT_COPY_BYTES (1u << 20)
/* Toolchain versions and platforms given on the command line. */
#define EXPORT_MAX_LIST 64
/* Tiles planned for one database. */
#define EXPORT_MAX_TILES 100000

static const char usage[] =
    "  modproxy export [flags] -o BUNDLE ARGS...\n"
    "\n"
    "Writes BUNDLE, a directory holding everything the builds of ARGS need\n"
    "without a network: a GOPROXY file:// tree (.info, .mod, .zip, lists)\n"
    "with the checksum database's lookups and tiles, and a manifest of\n"
    "hashes. Import it with `modproxy import BUNDLE` on the offline side.\n"
    "ARGS are go.mod files (go.sum next to them is read too) or module\n"
    "queries (path@version, path@latest). What the store (--data) lacks is\n"
    "fetched from the upstreams, as `serve` would.\n"
    "\n"
    "  -o, --output BUNDLE   the bundle directory to create (must not exist)\n"
    "  --since OLD           an incremental bundle: only files OLD lacks\n"
    "  --toolchain goX.Y.Z   also golang.org/toolchain for it (repeatable)\n"
    "  --platform OS/ARCH    toolchain platforms (repeatable; default\n"
    "                        linux/amd64)\n"
    "\n"
    "Store and upstream flags are those of `modproxy serve` (see below).\n";

/* ---- the module graph -----------------------------------------------------
 */

struct req {
  char *path, *version;
};

struct node {
  char *module, *version;
  int loaded;  /* .mod fetched and parsed */
  int info_ok; /* .info fetched */
  int want_zip;
  int zip_ok;
  char *failed; /* why it could not be had (heap), or NULL */
  struct req *reqs;
  size_t nreqs;
  int mark; /* the root set that last walked it */
};

/* One root set: a go.mod (with its replacements), or the queries. */
struct replace {
  char *old_path, *old_version; /* "" old_version: every version */
  char *new_path, *new_version; /* "" new_version: new_path is a dir */
};

struct rootset {
  char *what; /* "go.mod FILE" or "queries" */
  char *dir;  /* the go.mod's directory (for local replacements) */
  struct req *reqs;
  size_t nreqs;
  struct replace *repl;
  size_t nrepl;
  int zip_roots; /* queries and toolchains: every root's zip too */
};

struct exporter {
  struct proxy_config cfg;
  struct settings st;
  /* the embedded server */
  uv_loop_t loop;
  struct proxy_server *s;
  uv_thread_t thread;
  uv_async_t stop;
  int server_rc;
  int saved_stdout;
  char base[128];
  /* the client */
  CURLM *multi;
  struct bundle_progress pr;
  /* the closure */
  struct node *nodes;
  size_t nnodes, capnodes;
  size_t *slots;
  size_t nslots;
  struct rootset *sets;
  size_t nsets;
  struct bundle_manifest gosum; /* the roots' go.sum lines */
  /* arguments */
  const char *out, *since;
  const char *toolchains[EXPORT_MAX_LIST], *platforms[EXPORT_MAX_LIST];
  int ntoolchains, nplatforms;
  struct sumdb_spec *specs; /* the --sumdb databases (copied) */
  int nspecs;
  struct sumdb_tile *plan[PROXY_SUMDB_MAX_DBS]; /* tiles to write, per db */
  size_t nplan[PROXY_SUMDB_MAX_DBS];
  int failures;
  FILE *errs; /* what went wrong, for the summary */
  char *errs_buf;
  size_t errs_len;
};

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

__attribute__((format(printf, 2, 3))) static void
problem(struct exporter *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (x->errs != NULL) {
    fputs("  ", x->errs);
    vfprintf(x->errs, fmt, ap);
    fputc('\n', x->errs);
  }
  va_end(ap);
  x->failures++;
}

/* ---- the embedded server --------------------------------------------------
 */

static void on_stop_async(uv_async_t *a) {
  uv_close((uv_handle_t *)a, NULL);
  proxy_server_stop(a->data);
}

static void server_thread(void *arg) {
  struct exporter *x = arg;
  x->server_rc = proxy_server_run(x->s);
}

static int server_start(struct exporter *x) {
  /* Only this process talks to it: plain HTTP on loopback, no
   * credentials, no limits, no eviction while the bundle is made. */
  x->cfg.listen = "127.0.0.1:0";
  x->cfg.tls_cert = x->cfg.tls_key = NULL;
  x->cfg.auth_file = NULL;
  x->cfg.auth_all = 0;
  x->cfg.admin_token = NULL;
  x->cfg.max_connections = 0;
  x->cfg.max_request_rate = 0;
  x->cfg.max_cache_bytes = 0;
  x->s = calloc(1, sizeof *x->s);
  if (x->s == NULL)
    return -ENOMEM;
  int rc = uv_loop_init(&x->loop);
  if (rc < 0) {
    free(x->s);
    x->s = NULL;
    return rc;
  }
  /* The server's request log (stdout) is of no use here. */
  fflush(stdout);
  x->saved_stdout = dup(STDOUT_FILENO);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    close(null);
  }
  rc = proxy_server_init(x->s, &x->loop, &x->cfg);
  if (rc < 0) {
    fflush(stdout);
    dup2(x->saved_stdout, STDOUT_FILENO);
    close(x->saved_stdout);
    x->saved_stdout = -1;
    /* A failed init released what it acquired and left no handle. */
    free(x->s);
    x->s = NULL;
    uv_loop_close(&x->loop);
    return rc;
  }
  uv_async_init(&x->loop, &x->stop, on_stop_async);
  x->stop.data = x->s;
  snprintf(x->base, sizeof x->base, "%s", x->s->self_url);
  return uv_thread_create(&x->thread, server_thread, x);
}

static void server_stop(struct exporter *x) {
  uv_async_send(&x->stop);
  uv_thread_join(&x->thread);
  free(x->s);
  x->s = NULL;
  uv_loop_close(&x->loop);
  fflush(stdout);
  if (x->saved_stdout >= 0) {
    dup2(x->saved_stdout, STDOUT_FILENO);
    close(x->saved_stdout);
    x->saved_stdout = -1;
  }
}

/* ---- fetching through it ---------------------------------------------------
 */

struct xfer {
  char url[PROXY_MAX_URL_BYTES + 256];
  int discard; /* a zip: only the status matters */
  long status;
  int rc; /* 0, or a curl error */
  char *body;
  size_t len, cap;
  char err[CURL_ERROR_SIZE];
  CURL *easy;
  void *ctx; /* the caller's */
  int kind;  /* the caller's */
};

/* Of a discarded body (a zip), the start of an error answer is kept. */
#define EXPORT_ERROR_BODY_BYTES 1024

static size_t on_data(char *p, size_t size, size_t n, void *userp) {
  struct xfer *t = userp;
  size_t add = size * n, all = add;
  if (t->discard) {
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200 || t->len >= EXPORT_ERROR_BODY_BYTES)
      return all;
    if (add > EXPORT_ERROR_BODY_BYTES - t->len)
      add = EXPORT_ERROR_BODY_BYTES - t->len;
  }
  if (t->len + add > PROXY_MAX_SMALL_BODY_BYTES)
    return 0;
  if (t->len + add + 1 > t->cap) {
    size_t cap = t->cap == 0 ? 4096 : t->cap;
    while (cap < t->len + add + 1)
      cap *= 2;
    char *b = realloc(t->body, cap);
    if (b == NULL)
      return 0;
    t->body = b;
    t->cap = cap;
  }
  memcpy(t->body + t->len, p, add);
  t->len += add;
  t->body[t->len] = '\0';
  return all;
}

static int xfer_start(struct exporter *x, struct xfer *t) {
  t->easy = curl_easy_init();
  if (t->easy == NULL)
    return -ENOMEM;
  curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->err);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME,
                   (long)EXPORT_STALL_TIMEOUT_S);
  curl_easy_setopt(t->easy, CURLOPT_USERAGENT,
                   "modproxy-export/" MODPROXY_VERSION);
  return curl_multi_add_handle(x->multi, t->easy) == CURLM_OK ? 0 : -ENOMEM;
}

/* Runs every transfer, EXPORT_PARALLEL at a time; one progress step each. */
static void fetch_all(struct exporter *x, struct xfer **v, size_t n) {
  size_t next = 0, running = 0;
  while (next < n || running > 0) {
    while (running < EXPORT_PARALLEL && next < n) {
      struct xfer *t = v[next++];
      if (xfer_start(x, t) < 0) {
        t->rc = CURLE_OUT_OF_MEMORY;
        bundle_progress_step(&x->pr, 1);
        continue;
      }
      running++;
    }
    int still = 0;
    curl_multi_perform(x->multi, &still);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(x->multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE)
        continue;
      struct xfer *t;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
      t->rc = (int)m->data.result;
      curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
      curl_multi_remove_handle(x->multi, t->easy);
      curl_easy_cleanup(t->easy);
      t->easy = NULL;
      running--;
      bundle_progress_step(&x->pr, 1);
    }
    if (running > 0)
      curl_multi_poll(x->multi, NULL, 0, 1000, NULL);
  }
}

static void xfer_free(struct xfer *t) {
  if (t == NULL)
    return;
  free(t->body);
  free(t);
}

/* Why a transfer failed, in a few words (the body's first line). */
static void xfer_why(const struct xfer *t, char *out, size_t cap) {
  if (t->rc != 0)
    snprintf(out, cap, "%s", t->err[0] != '\0' ? t->err : "transfer failed");
  else
    snprintf(out, cap, "HTTP %ld: %.*s", t->status,
             t->body != NULL ? (int)strcspn(t->body, "\n") : 0,
             t->body != NULL ? t->body : "");
}

static struct xfer *xfer_new(struct exporter *x, const char *module,
                             const char *suffix_fmt, const char *version) {
  struct xfer *t = calloc(1, sizeof *t);
  char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2] = "";
  if (t == NULL || gomod_escape_path(module, ep, sizeof ep, NULL, 0) < 0 ||
      (version != NULL &&
       gomod_escape_version(version, ev, sizeof ev, NULL, 0) < 0)) {
    free(t);
    return NULL;
  }
  char suffix[GOMOD_MAX_VERSION_BYTES * 2 + 16];
  snprintf(suffix, sizeof suffix, suffix_fmt, ev);
  snprintf(t->url, sizeof t->url, "%s/%s/%s", x->base, ep, suffix);
  return t;
}

/* ---- roots -----------------------------------------------------------------
 */

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
  rc = modfile_parse(&mf, text, len, MODFILE_GO121, err, sizeof err);
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
  fetch_all(x, &t, 1);
  int rc = -ENOENT;
  if (t->rc == 0 && t->status == 200 &&
      gp_info_version(t->body, t->len, version, GOMOD_MAX_VERSION_BYTES) == 0 &&
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

/* ---- the closure
 * ------------------------------------------------------------- */

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
  int rc = modfile_parse(&mf, text, len, MODFILE_LAX | MODFILE_GO121, NULL, 0);
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
  if (modfile_parse(&mf, t->body, t->len, MODFILE_LAX | MODFILE_GO121, err,
                    sizeof err) < 0) {
    problem(x, "%s@%s: its go.mod does not parse: %s", n->module, n->version,
            err);
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
  fetch_all(x, ts, nt);
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
      problem(x, "%s@%s: %s", nd->module, nd->version, why);
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
        problem(x, "%s@%s: too many versions (over %d)", p, v,
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
  fetch_all(x, ts, nt);
  for (size_t i = 0; i < nt; i++) {
    struct node *n = ts[i]->ctx;
    if (ts[i]->rc == 0 && ts[i]->status == 200) {
      n->zip_ok = 1;
    } else {
      char why[256];
      xfer_why(ts[i], why, sizeof why);
      problem(x, "%s@%s: zip: %s", n->module, n->version, why);
    }
    xfer_free(ts[i]);
  }
  free(ts);
  char sum[64];
  snprintf(sum, sizeof sum, "%zu zips", nt);
  bundle_progress_end(&x->pr, sum);
}

/* ---- checksum databases
 * ------------------------------------------------------ */

/* A set of tiles with a hash index (export plans thousands). */
struct tile_set {
  struct sumdb_tile *v;
  size_t n, cap;
  size_t *slots;
  size_t nslots;
};

static size_t tile_hash(const struct sumdb_tile *t) {
  uint64_t h = (uint64_t)t->n * 0x9E3779B97F4A7C15ull;
  h ^= (uint64_t)(t->l + 2) << 40 ^ (uint64_t)t->w << 20 ^ (uint64_t)t->h;
  return (size_t)(h ^ h >> 29);
}

static size_t *tile_slot(struct tile_set *s, const struct sumdb_tile *t) {
  size_t i = tile_hash(t) & (s->nslots - 1);
  while (s->slots[i] != 0) {
    const struct sumdb_tile *o = &s->v[s->slots[i] - 1];
    if (o->h == t->h && o->l == t->l && o->n == t->n && o->w == t->w)
      break;
    i = (i + 1) & (s->nslots - 1);
  }
  return &s->slots[i];
}

static int tile_set_add(struct tile_set *s, const struct sumdb_tile *t) {
  if ((s->n + 1) * 2 > s->nslots) {
    size_t ns = s->nslots == 0 ? 1024 : s->nslots * 2;
    size_t *slots = calloc(ns, sizeof *slots);
    if (slots == NULL)
      return -ENOMEM;
    free(s->slots);
    s->slots = slots;
    s->nslots = ns;
    for (size_t i = 0; i < s->n; i++)
      *tile_slot(s, &s->v[i]) = i + 1;
  }
  size_t *slot = tile_slot(s, t);
  if (*slot != 0)
    return 0;
  if (s->n == s->cap)
    return -E2BIG;
  s->v[s->n] = *t;
  *slot = ++s->n;
  return 0;
}

/* The tiles the go command reads for `indexes` of a tree of size n. */
static int plan_tiles(struct tile_set *s, int64_t n, const int64_t *indexes,
                      size_t count) {
  struct sumdb_tile tmp[4 * SUMDB_MAX_PROOF_HASHES];
  size_t nt = 0;
  int rc = sumdb_tiles_for_hashes(n, indexes, count, tmp, &nt,
                                  sizeof tmp / sizeof tmp[0]);
  for (size_t i = 0; rc == 0 && i < nt; i++)
    rc = tile_set_add(s, &tmp[i]);
  return rc;
}

struct record {
  struct node *n;
  int64_t id;
  struct sumdb_tree tree;
};

static int by_tree(const void *a, const void *b) {
  const struct sumdb_tree *x = a, *y = b;
  return x->n < y->n ? -1 : x->n > y->n;
}

static int private_module(struct exporter *x, const char *module) {
  return x->cfg.private_patterns != NULL &&
         gomod_match_prefix_patterns(x->cfg.private_patterns, module);
}

/* The lookups of every public version and the tiles to check them. */
static void export_db(struct exporter *x, int which) {
  const struct sumdb_spec *spec = &x->specs[which];
  const char *name = spec->key.name;
  struct xfer **ts = calloc(x->nnodes + 1, sizeof *ts);
  struct record *recs = calloc(x->nnodes + 1, sizeof *recs);
  struct sumdb_tile *tiles = calloc(EXPORT_MAX_TILES, sizeof *tiles);
  struct sumdb_tree *trees = calloc(x->nnodes + 1, sizeof *trees);
  size_t nt = 0, nrec = 0, ntiles = 0, ntrees = 0, not_listed = 0;
  if (ts == NULL || recs == NULL || tiles == NULL || trees == NULL)
    goto out;
  for (size_t i = 0; i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    if (n->failed != NULL || !n->loaded || private_module(x, n->module))
      continue;
    char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2];
    struct xfer *t = calloc(1, sizeof *t);
    if (t == NULL || gomod_escape_path(n->module, ep, sizeof ep, NULL, 0) < 0 ||
        gomod_escape_version(n->version, ev, sizeof ev, NULL, 0) < 0) {
      free(t);
      continue;
    }
    snprintf(t->url, sizeof t->url, "%s/sumdb/%s/lookup/%s@%s", x->base, name,
             ep, ev);
    t->ctx = n;
    ts[nt++] = t;
  }
  bundle_progress_phase(&x->pr, "lookups", nt);
  fetch_all(x, ts, nt);
  int unreachable = 0;
  for (size_t i = 0; i < nt; i++) {
    struct node *n = ts[i]->ctx;
    struct sumdb_lookup l;
    char err[256] = "";
    if (ts[i]->rc == 0 && ts[i]->status == 200 &&
        sumdb_lookup_parse(ts[i]->body, ts[i]->len, &spec->key, &l, err,
                           sizeof err) == 0) {
      recs[nrec++] = (struct record){n, l.id, l.tree};
      size_t k = 0;
      while (k < ntrees &&
             (trees[k].n != l.tree.n ||
              memcmp(trees[k].hash.b, l.tree.hash.b, SUMDB_HASH_BYTES) != 0))
        k++;
      if (k == ntrees)
        trees[ntrees++] = l.tree;
    } else if (ts[i]->rc == 0 &&
               (ts[i]->status == 404 || ts[i]->status == 410)) {
      not_listed++;
      fprintf(x->errs,
              "  note: %s does not list %s@%s: offline clients need "
              "GONOSUMDB for it\n",
              name, n->module, n->version);
    } else {
      char why[256];
      xfer_why(ts[i], why, sizeof why);
      if (ts[i]->rc == 0 && ts[i]->status == 200)
        snprintf(why, sizeof why, "its answer does not verify: %s", err);
      if (ts[i]->status >= 500 || ts[i]->rc != 0)
        unreachable++;
      problem(x, "%s: lookup %s@%s: %s", name, n->module, n->version, why);
    }
  }
  char sum[160];
  snprintf(sum, sizeof sum, "%zu records, %zu not listed, %d failed", nrec,
           not_listed, unreachable);
  bundle_progress_end(&x->pr, sum);
  /* The tiles a client reads: for each tree size seen, each record below
   * it and the consistency proof from each smaller tree; planned one
   * record or proof at a time (a superset of planning them together) into
   * a hashed set. */
  qsort(trees, ntrees, sizeof *trees, by_tree);
  struct tile_set set = {tiles, 0, EXPORT_MAX_TILES, NULL, 0};
  int64_t idx[SUMDB_MAX_PROOF_HASHES];
  int full = 0;
  for (size_t k = 0; k < ntrees && !full; k++) {
    for (size_t i = 0; i < nrec && !full; i++) {
      if (recs[i].id >= trees[k].n)
        continue;
      idx[0] = sumdb_stored_hash_index(0, recs[i].id);
      full = plan_tiles(&set, trees[k].n, idx, 1) < 0;
    }
    for (size_t j = 0; j < k && !full; j++) {
      int c = sumdb_tree_proof_indexes(trees[k].n, trees[j].n, idx,
                                       SUMDB_MAX_PROOF_HASHES);
      if (c > 0)
        full = plan_tiles(&set, trees[k].n, idx, (size_t)c) < 0;
    }
  }
  /* And the tiles of each record's own proof (modproxy's verification). */
  for (size_t i = 0; i < nrec && !full; i++) {
    int c = sumdb_record_proof_indexes(recs[i].tree.n, recs[i].id, idx,
                                       SUMDB_MAX_PROOF_HASHES);
    for (int k = 0; k < c && !full; k++) {
      struct sumdb_tile t = sumdb_tile_for_index(SUMDB_TILE_HEIGHT, idx[k]), p;
      if (sumdb_tile_parent(&t, 0, recs[i].tree.n, &p) == 0)
        full = tile_set_add(&set, &p) < 0;
    }
  }
  if (full)
    problem(x, "%s: more than %d tiles to plan", name, EXPORT_MAX_TILES);
  ntiles = set.n;
  free(set.slots);
  for (size_t i = 0; i < nt; i++)
    xfer_free(ts[i]);
  free(ts);
  ts = calloc(ntiles + 1, sizeof *ts);
  nt = 0;
  for (size_t i = 0; ts != NULL && i < ntiles; i++) {
    struct xfer *t = calloc(1, sizeof *t);
    char path[128];
    if (t == NULL || sumdb_tile_path(&tiles[i], path, sizeof path) < 0) {
      free(t);
      continue;
    }
    snprintf(t->url, sizeof t->url, "%s/sumdb/%s/%s", x->base, name, path);
    t->discard = 1;
    ts[nt++] = t;
  }
  bundle_progress_phase(&x->pr, "tiles", nt);
  fetch_all(x, ts, nt);
  size_t bad = 0;
  for (size_t i = 0; i < nt; i++) {
    if (ts[i]->rc != 0 || ts[i]->status != 200) {
      bad++;
      problem(x, "%s: %s: HTTP %ld", name, ts[i]->url, ts[i]->status);
    }
  }
  snprintf(sum, sizeof sum, "%zu tiles for %zu tree sizes", nt - bad, ntrees);
  bundle_progress_end(&x->pr, sum);
  x->plan[which] = tiles;
  x->nplan[which] = ntiles;
  tiles = NULL;
out:
  for (size_t i = 0; ts != NULL && i < nt; i++)
    xfer_free(ts[i]);
  free(ts);
  free(recs);
  free(tiles);
  free(trees);
}

/* ---- writing the bundle (from the store)
 * ------------------------------------- */

struct writer {
  struct exporter *x;
  struct store *st;
  char dir[4096]; /* the partial bundle */
  struct bundle_manifest m;
  struct bundle_manifest old; /* --since */
  uint64_t bytes, skipped;
  size_t files;
};

/* Records a written file in the manifest, or drops it when --since has it. */
static int finish_file(struct writer *w, const char *rel, const char *full) {
  char sha[65];
  uint64_t size;
  int rc = bundle_file_sha256(full, sha, &size);
  if (rc < 0)
    return rc;
  const struct bundle_file *of = bundle_manifest_file(&w->old, rel);
  if (of != NULL && strcmp(of->sha256, sha) == 0) {
    unlink(full);
    w->skipped++;
    return 0;
  }
  w->bytes += size;
  w->files++;
  return bundle_manifest_add_file(&w->m, rel, sha, size);
}

static int write_bytes(struct writer *w, const char *rel, const void *data,
                       size_t len) {
  char full[8192];
  snprintf(full, sizeof full, "%s/%s", w->dir, rel);
  int rc = bundle_mkdirs(full);
  if (rc < 0)
    return rc;
  FILE *f = fopen(full, "wb");
  if (f == NULL)
    return -errno;
  size_t n = len > 0 ? fwrite(data, 1, len, f) : 0;
  rc = n == len && fclose(f) == 0 ? 0 : -EIO;
  if (rc < 0)
    return rc;
  return finish_file(w, rel, full);
}

static int write_zip(struct writer *w, const char *rel, const char *module,
                     const char *version, uint64_t size) {
  char full[8192];
  snprintf(full, sizeof full, "%s/%s", w->dir, rel);
  int rc = bundle_mkdirs(full);
  if (rc < 0)
    return rc;
  FILE *f = fopen(full, "wb");
  char *buf = malloc(EXPORT_COPY_BYTES);
  if (f == NULL || buf == NULL) {
    if (f != NULL)
      fclose(f);
    free(buf);
    return -ENOMEM;
  }
  uint64_t off = 0;
  while (off < size) {
    int64_t n =
        store_zip_read(w->st, module, version, off, buf, EXPORT_COPY_BYTES);
    if (n <= 0) {
      rc = n < 0 ? (int)n : -EIO;
      break;
    }
    if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
      rc = -EIO;
      break;
    }
    off += (uint64_t)n;
  }
  free(buf);
  if (fclose(f) != 0 && rc == 0)
    rc = -EIO;
  return rc < 0 ? rc : finish_file(w, rel, full);
}

static int by_module_version(const void *a, const void *b) {
  const struct node *x = *(struct node *const *)a,
                    *y = *(struct node *const *)b;
  int c = strcmp(x->module, y->module);
  return c != 0 ? c : gomod_semver_compare(x->version, y->version);
}

static int write_versions(struct writer *w) {
  struct exporter *x = w->x;
  struct node **v = calloc(x->nnodes + 1, sizeof *v);
  size_t n = 0;
  if (v == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < x->nnodes; i++)
    if (x->nodes[i].failed == NULL && x->nodes[i].loaded)
      v[n++] = &x->nodes[i];
  qsort(v, n, sizeof *v, by_module_version);
  bundle_progress_phase(&x->pr, "writing", n);
  int rc = 0;
  char *list = NULL;
  size_t list_len = 0, list_cap = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    struct node *nd = v[i];
    char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2];
    char rel[GOMOD_MAX_PATH_BYTES * 2 + GOMOD_MAX_VERSION_BYTES * 2 + 16];
    gomod_escape_path(nd->module, ep, sizeof ep, NULL, 0);
    gomod_escape_version(nd->version, ev, sizeof ev, NULL, 0);
    struct store_bytes b;
    char h1[GOMOD_H1_BYTES];
    if (store_part_get(w->st, nd->module, nd->version, STORE_INFO, &b, NULL) ==
        0) {
      snprintf(rel, sizeof rel, "%s/@v/%s.info", ep, ev);
      rc = write_bytes(w, rel, b.data, b.len);
      store_bytes_free(&b);
    }
    if (rc == 0 && store_part_get(w->st, nd->module, nd->version, STORE_MOD, &b,
                                  h1) == 0) {
      snprintf(rel, sizeof rel, "%s/@v/%s.mod", ep, ev);
      rc = write_bytes(w, rel, b.data, b.len);
      store_bytes_free(&b);
      if (rc == 0)
        rc = bundle_manifest_add_sum(&w->m, nd->module, nd->version, 1, h1, 0);
    }
    struct store_zip_meta zm;
    if (rc == 0 && nd->want_zip &&
        store_zip_stat(w->st, nd->module, nd->version, &zm) == 0) {
      snprintf(rel, sizeof rel, "%s/@v/%s.zip", ep, ev);
      rc = write_zip(w, rel, nd->module, nd->version, zm.size);
      if (rc == 0)
        rc = bundle_manifest_add_sum(&w->m, nd->module, nd->version, 0, zm.h1,
                                     0);
      store_zip_meta_dispose(&zm);
    }
    /* The list, once the module's last version is written. */
    if (nd->info_ok && !gomod_is_pseudo_version(nd->version) &&
        gomod_check(nd->module, nd->version, NULL, 0) == 0) {
      size_t need = list_len + strlen(nd->version) + 2;
      if (need > list_cap) {
        list_cap = need * 2;
        char *nl = realloc(list, list_cap);
        if (nl == NULL) {
          rc = -ENOMEM;
          break;
        }
        list = nl;
      }
      list_len += (size_t)sprintf(list + list_len, "%s\n", nd->version);
    }
    if (rc == 0 && (i + 1 == n || strcmp(v[i + 1]->module, nd->module) != 0)) {
      snprintf(rel, sizeof rel, "%s/@v/list", ep);
      rc = write_bytes(w, rel, list != NULL ? list : "", list_len);
      list_len = 0;
    }
    bundle_progress_step(&x->pr, 1);
  }
  free(list);
  free(v);
  bundle_progress_end(&x->pr, NULL);
  return rc;
}

static int write_sumdb(struct writer *w, const struct sumdb_spec *spec) {
  struct exporter *x = w->x;
  const char *name = spec->key.name;
  char rel[8192];
  snprintf(rel, sizeof rel, "sumdb/%s/supported", name);
  int rc = write_bytes(w, rel, "", 0);
  /* Lookups of the bundle's versions. */
  for (size_t i = 0; rc == 0 && i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2],
        path[4200];
    if (n->failed != NULL || !n->loaded ||
        gomod_escape_path(n->module, ep, sizeof ep, NULL, 0) < 0 ||
        gomod_escape_version(n->version, ev, sizeof ev, NULL, 0) < 0)
      continue;
    snprintf(path, sizeof path, "lookup/%s@%s", ep, ev);
    struct store_bytes b;
    if (store_sumdb_get(w->st, name, path, &b, NULL) < 0)
      continue;
    snprintf(rel, sizeof rel, "sumdb/%s/%s", name, path);
    rc = write_bytes(w, rel, b.data, b.len);
    store_bytes_free(&b);
  }
  return rc;
}

/* The planned tiles, from the store: as fetched, or cut from a wider copy
 * (a partial tile its source had completed). */
static int write_tiles(struct writer *w, int which) {
  const char *name = w->x->specs[which].key.name;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < w->x->nplan[which]; i++) {
    struct sumdb_tile t = w->x->plan[which][i];
    char path[128], base[128], wider[128], rel[8192];
    if (sumdb_tile_path(&t, path, sizeof path) < 0)
      continue;
    struct store_bytes b;
    size_t want = (size_t)t.w * SUMDB_HASH_BYTES;
    if (store_sumdb_get(w->st, name, path, &b, NULL) < 0) {
      t.w = 1 << t.h;
      if (sumdb_tile_path(&t, base, sizeof base) < 0 ||
          store_sumdb_widest_tile(w->st, name, base, &b, wider, sizeof wider) <
              0)
        continue;
      if (b.len < want) {
        store_bytes_free(&b);
        continue;
      }
      b.len = want;
    }
    snprintf(rel, sizeof rel, "sumdb/%s/%s", name, path);
    rc = write_bytes(w, rel, b.data, b.len);
    store_bytes_free(&b);
  }
  return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  return remove(path);
}

static int write_bundle(struct exporter *x, double secs_fetch) {
  struct writer w = {.x = x};
  int rc = store_open(x->cfg.data_dir, &w.st);
  if (rc < 0)
    return rc;
  char err[256];
  if (x->since != NULL &&
      bundle_manifest_read(x->since, &w.old, err, sizeof err) < 0) {
    fprintf(stderr, "modproxy export: --since %s: %s\n", x->since,
            err[0] != '\0' ? err : "no manifest there");
    store_close(w.st);
    return -EINVAL;
  }
  snprintf(w.dir, sizeof w.dir, "%s.partial-%d", x->out, (int)getpid());
  if (mkdir(w.dir, 0755) < 0) {
    rc = -errno;
    fprintf(stderr, "modproxy export: cannot create %s: %s\n", w.dir,
            strerror(errno));
    goto out;
  }
  w.m.created = (int64_t)time(NULL);
  if (x->since != NULL)
    snprintf(w.m.since, sizeof w.m.since, "%s", w.old.id);
  rc = write_versions(&w);
  for (int i = 0; rc == 0 && i < x->nspecs; i++) {
    rc = write_sumdb(&w, &x->specs[i]);
    if (rc == 0)
      rc = write_tiles(&w, i);
  }
  for (size_t i = 0; rc == 0 && i < x->gosum.nsums; i++) {
    const struct bundle_sum *s = &x->gosum.sums[i];
    rc = bundle_manifest_add_sum(&w.m, s->module, s->version, s->gomod, s->h1,
                                 1);
  }
  if (rc == 0) {
    char *extra = NULL;
    size_t elen = 0;
    FILE *e = open_memstream(&extra, &elen);
    if (e != NULL) {
      for (size_t i = 0; i < x->nsets; i++)
        fprintf(e, "root %s\n", x->sets[i].what);
      for (int i = 0; i < x->nspecs; i++)
        fprintf(e, "sumdb %s\n", x->specs[i].key.text);
      fprintf(e, "tool modproxy %s\n", MODPROXY_VERSION);
      fclose(e);
    }
    char mpath[8192];
    snprintf(mpath, sizeof mpath, "%s/%s", w.dir, BUNDLE_MANIFEST);
    rc = bundle_manifest_write(&w.m, mpath, extra);
    free(extra);
  }
  if (rc == 0 && rename(w.dir, x->out) < 0) {
    rc = -errno;
    fprintf(stderr, "modproxy export: cannot rename %s to %s: %s\n", w.dir,
            x->out, strerror(errno));
  }
  if (rc < 0)
    nftw(w.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* no half bundle */
  if (rc == 0) {
    FILE *out = stdout;
    fprintf(out,
            "bundle %s: %zu files, %" PRIu64 " bytes (%" PRIu64
            " files already in %s); %zu versions; fetched in %.1f s\n",
            x->out, w.files, w.bytes, w.skipped,
            x->since != NULL ? x->since : "-", x->nnodes, secs_fetch);
    fprintf(out, "id %s\n", w.m.id);
  } else if (rc != -EINVAL) {
    fprintf(stderr, "modproxy export: writing the bundle: %s\n", strerror(-rc));
  }
out:
  bundle_manifest_dispose(&w.m);
  bundle_manifest_dispose(&w.old);
  store_close(w.st);
  return rc;
}

/* ---- the command ------------------------------------------------------------
 */

/* Takes export's own flags out of argv (the rest goes to settings_load).
 * Returns 0, 1 for --help, or -EINVAL. */
static int own_flags(struct exporter *x, int *argc, char **argv) {
  int w = 1;
  for (int i = 1; i < *argc; i++) {
    const char *a = argv[i], *val = NULL;
    const char *names[] = {"-o", "--output", "--since", "--toolchain",
                           "--platform"};
    int which = -1;
    for (int k = 0; k < 5; k++) {
      size_t n = strlen(names[k]);
      if (strcmp(a, names[k]) == 0) {
        if (i + 1 == *argc) {
          fprintf(stderr, "modproxy export: missing value for %s\n", a);
          return -EINVAL;
        }
        which = k;
        val = argv[++i];
      } else if (strncmp(a, names[k], n) == 0 && a[n] == '=' && k > 0) {
        which = k;
        val = a + n + 1;
      }
      if (which >= 0)
        break;
    }
    if (strcmp(a, "--") == 0) {
      while (i < *argc)
        argv[w++] = argv[i++];
      break;
    }
    switch (which) {
    case 0:
    case 1: x->out = val; break;
    case 2: x->since = val; break;
    case 3:
    case 4:
      if ((which == 3 ? x->ntoolchains : x->nplatforms) == EXPORT_MAX_LIST) {
        fprintf(stderr, "modproxy export: too many %s values\n", a);
        return -EINVAL;
      }
      if (which == 3)
        x->toolchains[x->ntoolchains++] = val;
      else
        x->platforms[x->nplatforms++] = val;
      break;
    default: argv[w++] = argv[i];
    }
  }
  *argc = w;
  argv[w] = NULL;
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
  x->saved_stdout = -1;
  char **args = calloc((size_t)argc + 1, sizeof *args);
  if (args == NULL) {
    free(x);
    return 1;
  }
  memcpy(args, argv, (size_t)argc * sizeof *args);
  int nargs = argc, status = CMD_EXIT_USAGE;
  char err[512];
  int rc = own_flags(x, &nargs, args);
  if (rc == 0)
    rc = settings_load(&x->st, "export", usage,
                       SETTINGS_SERVE & ~(1u << S_LISTEN), nargs, args, err,
                       sizeof err);
  if (rc != 0) {
    if (rc < 0 && err[0] != '\0' && rc != -EINVAL)
      fprintf(stderr, "modproxy export: %s\n", err);
    else if (rc == -EINVAL && err[0] != '\0')
      fprintf(stderr, "modproxy export: %s\n", err);
    status = rc > 0 ? 0 : CMD_EXIT_USAGE;
    goto done;
  }
  if (x->out == NULL || x->st.nargs == 0) {
    fprintf(stderr,
            "modproxy export: need -o BUNDLE and at least one go.mod or "
            "module@version (see modproxy export --help)\n");
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
  x->errs = open_memstream(&x->errs_buf, &x->errs_len);
  signal(SIGPIPE, SIG_IGN);
  setenv("UV_THREADPOOL_SIZE", "16", 0);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  uint64_t t0 = bundle_now_ms();
  if (server_start(x) < 0) {
    fprintf(stderr, "modproxy export: cannot start the fetching server\n");
    status = 1;
    goto done_curl;
  }
  /* The databases, as the server parsed them. */
  if (x->s->sumdb != NULL && x->s->sumdb->ndbs > 0) {
    x->specs = calloc((size_t)x->s->sumdb->ndbs, sizeof *x->specs);
    for (int i = 0; x->specs != NULL && i < x->s->sumdb->ndbs; i++)
      x->specs[x->nspecs++] = x->s->sumdb->dbs[i].spec;
  }
  x->multi = curl_multi_init();
  bundle_progress_init(&x->pr, "export");
  struct rootset *queries = NULL;
  rc = 0;
  for (int i = 0; rc == 0 && i < x->st.nargs; i++)
    rc = add_arg(x, x->st.args[i], &queries);
  if (rc == 0)
    rc = add_toolchains(x);
  if (rc < 0) {
    server_stop(x);
    goto done_multi;
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
  server_stop(x);
  double secs = (double)(bundle_now_ms() - t0) / 1000.0;
  if (rc == 0)
    rc = write_bundle(x, secs);
  fflush(x->errs);
  if (x->errs_len > 0)
    fprintf(stderr, "modproxy export: %d problem%s:\n%s", x->failures,
            x->failures == 1 ? "" : "s", x->errs_buf);
  status = rc < 0 ? 1 : x->failures > 0 ? 1 : 0;
  if (rc == 0 && x->failures > 0)
    fprintf(stderr, "modproxy export: the bundle was written without what "
                    "failed above; builds that need it will fail offline\n");
done_multi:
  if (x->multi != NULL)
    curl_multi_cleanup(x->multi);
done_curl:
  curl_global_cleanup();
done:
  if (status == CMD_EXIT_USAGE && rc < 0 && x->s == NULL && x->multi != NULL)
    status = 1;
  exporter_dispose(x);
  free(args);
  free(x);
  return status;
}
