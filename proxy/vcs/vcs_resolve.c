/*
 * Module versions from a git repository, exactly as the go command's direct
 * mode computes them (cmd/go/internal/modfetch/coderepo.go and
 * codehost/git.go in Go 1.19): tags to versions, +incompatible, the
 * version list, Stat of any revision, pseudo-versions and their
 * validation, the module's directory and go.mod at a revision.
 *
 * The resolver is pure and synchronous, yet git runs asynchronously. It
 * is written as a replay: whenever it needs a git command whose answer is
 * not in the request's memo, it describes the command in ctx->need and
 * returns -EAGAIN all the way up; the caller runs git (uv_spawn), adds the
 * answer to the memo and calls the resolver again, which starts over and
 * this time finds the answer. Each call is cheap CPU, a request needs a
 * handful of commands (VCS_MAX_STEPS bounds them), and the code reads like
 * the Go it reproduces. Every call path therefore propagates -EAGAIN, even
 * where Go ignores an error.
 *
 * The mirror holds every branch and tag of the remote (vcs_repo.c fetches
 * them all), so the go command's shallow-fetch shortcuts do not apply: the
 * answers are those of a complete fetch, which is what the go command ends
 * up with too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vcs_internal.h"
#include "modproxy/timeutil.h"

/* codehost.minHashDigits */
#define MIN_HASH_DIGITS 7

__attribute__((format(printf, 4, 5))) static int
fail(struct vcs_ctx *c, int rc, int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, sizeof c->err, fmt, ap);
  va_end(ap);
  c->status = status;
  return rc;
}

static int all_hex(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s != '\0'; s++) {
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
          (*s >= 'A' && *s <= 'F')))
      return 0;
  }
  return 1;
}

static int has_prefix(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

static int has_suffix(const char *s, const char *p) {
  size_t a = strlen(s), b = strlen(p);
  return a >= b && strcmp(s + a - b, p) == 0;
}

/* path.Join(a, b) for clean relative parts. */
static void join(char *out, size_t cap, const char *a, const char *b) {
  if (a[0] == '\0')
    snprintf(out, cap, "%s", b);
  else if (b[0] == '\0')
    snprintf(out, cap, "%s", a);
  else
    snprintf(out, cap, "%s/%s", a, b);
}

static void major_of(const char *v, char *out, size_t cap) {
  if (gomod_semver_major(v, out, cap) < 0)
    out[0] = '\0';
}

static void canonical(const char *v, char *out, size_t cap) {
  if (gomod_semver_canonical(v, out, cap) < 0)
    out[0] = '\0';
}

/* module.PathMajorPrefix */
static void path_major_prefix(const char *path_major, char *out, size_t cap) {
  out[0] = '\0';
  if (path_major[0] == '\0')
    return;
  size_t n = strlen(path_major);
  if (has_prefix(path_major, ".v") && has_suffix(path_major, "-unstable"))
    n -= strlen("-unstable");
  snprintf(out, cap, "%.*s", (int)(n - 1), path_major + 1);
}

/* ---- the memo ----------------------------------------------------------- */

void vcs_memo_dispose(struct vcs_memo *m) {
  for (size_t i = 0; i < m->n; i++) {
    free(m->v[i].key);
    free(m->v[i].out);
    free(m->v[i].err);
  }
  m->n = 0;
}

/* The answer of `git args...` (NULL-terminated), or -EAGAIN with the
 * command in c->need. */
static int git(struct vcs_ctx *c, size_t max_out,
               const struct vcs_memo_entry **e, ...) {
  struct vcs_need *nd = &c->need;
  va_list ap;
  size_t used = 0, klen = 0;
  int argc = 0;
  nd->argv[argc++] = "git";
  nd->key[0] = '\0';
  va_start(ap, e);
  for (const char *a = va_arg(ap, const char *); a != NULL;
       a = va_arg(ap, const char *)) {
    size_t n = strlen(a);
    if (argc >= GIT_MAX_ARGS || used + n + 1 > sizeof nd->buf ||
        klen + n + 2 > sizeof nd->key) {
      va_end(ap);
      return fail(c, -E2BIG, 502, "git command too long");
    }
    memcpy(nd->buf + used, a, n + 1);
    nd->argv[argc++] = nd->buf + used;
    used += n + 1;
    if (klen > 0)
      nd->key[klen++] = '\x1f';
    memcpy(nd->key + klen, a, n + 1);
    klen += n;
  }
  va_end(ap);
  nd->argv[argc] = NULL;
  nd->max_out = max_out;
  for (size_t i = 0; i < c->memo->n; i++) {
    if (strcmp(c->memo->v[i].key, nd->key) == 0) {
      *e = &c->memo->v[i];
      return 0;
    }
  }
  if (c->memo->n >= VCS_MAX_STEPS)
    return fail(c, -E2BIG, 502, "resolving needed more than %d git commands",
                VCS_MAX_STEPS);
  return -EAGAIN;
}

/* A local git command that could not run at all. */
static int git_broke(struct vcs_ctx *c, const struct vcs_memo_entry *e) {
  const char *why = e->status == -ETIMEDOUT ? "timed out"
                    : e->status == -E2BIG   ? "printed too much"
                                            : strerror(-e->status);
  return fail(c, e->status == -ETIMEDOUT ? -ETIMEDOUT : -EIO,
              e->status == -ETIMEDOUT ? 504 : 502, "git %s in the mirror of %s",
              why, c->code_root);
}

/* ---- refs --------------------------------------------------------------- */

/* Tags(prefix): tag names (without refs/tags/) starting with prefix, in
 * ascending byte order. *out is heap (pointers into c->refs). */
static int tags(struct vcs_ctx *c, const char *prefix, const char ***out,
                size_t *n) {
  const struct vcs_refs *r = c->refs;
  const char **v = calloc(r->n + 1, sizeof *v);
  if (v == NULL)
    return fail(c, -ENOMEM, 502, "out of memory");
  size_t k = 0;
  for (size_t i = 0; i < r->n; i++) {
    const char *name = r->v[i].name;
    if (has_prefix(name, "refs/tags/") && has_prefix(name + 10, prefix))
      v[k++] = name + 10;
  }
  *out = v;
  *n = k;
  return 0;
}

/* ---- codehost: Stat, ReadFile, RecentTag, DescendsFrom ------------------ */

static int cmp_str(const void *a, const void *b) {
  return strcmp(a, b);
}

/* statLocal(version, rev) */
static int stat_local(struct vcs_ctx *c, const char *version, const char *rev,
                      struct vcs_rev *out) {
  const struct vcs_memo_entry *e;
  int rc =
      git(c, VCS_MAX_LIST_BYTES, &e, "-c", "log.showsignature=false", "log",
          "--no-decorate", "-n1", "--format=format:%H %ct %D", rev, "--", NULL);
  if (rc < 0)
    return rc;
  if (e->status < 0)
    return git_broke(c, e);
  if (e->status != 0)
    return fail(c, -ENOENT, 404, "unknown revision %s", rev);
  memset(out, 0, sizeof *out);
  char hash[64] = "";
  long long t = 0;
  int used = 0;
  if (sscanf(e->out, "%63s %lld %n", hash, &t, &used) < 2 ||
      strlen(hash) != 40 || !all_hex(hash))
    return fail(c, -EIO, 502, "unexpected response from git log: %.60s",
                e->out);
  snprintf(out->name, sizeof out->name, "%s", hash);
  snprintf(out->short_, sizeof out->short_, "%.12s", hash);
  out->time = (time_t)t;
  snprintf(out->version, sizeof out->version, "%s", hash);
  /* Decorations: "HEAD -> main, tag: v1.0.0, tag: v1.0.1, main". */
  const char *p = e->out + used;
  while (*p != '\0') {
    while (*p == ' ' || *p == '\n')
      p++;
    size_t n = strcspn(p, " \n");
    if (n == 4 && memcmp(p, "tag:", 4) == 0) {
      p += n;
      while (*p == ' ')
        p++;
      size_t m = strcspn(p, " \n");
      size_t keep = m > 0 && p[m - 1] == ',' ? m - 1 : m;
      if (out->ntags < (int)(sizeof out->tags / sizeof out->tags[0]) &&
          keep < sizeof out->tags[0]) {
        memcpy(out->tags[out->ntags], p, keep);
        out->tags[out->ntags][keep] = '\0';
        out->ntags++;
      }
      p += m;
    } else {
      p += n;
    }
  }
  qsort(out->tags, (size_t)out->ntags, sizeof out->tags[0], cmp_str);
  const char *v = has_prefix(hash, version) ? hash : version;
  for (int i = 0; i < out->ntags; i++) {
    if (strcmp(v, out->tags[i]) == 0)
      snprintf(out->version, sizeof out->version, "%s", v);
  }
  return 0;
}

/* gitRepo.stat(rev) over a complete mirror. */
static int code_stat(struct vcs_ctx *c, const char *rev, struct vcs_rev *out) {
  const struct vcs_refs *r = c->refs;
  size_t len = strlen(rev);
  char name[GOMOD_MAX_VERSION_BYTES + 16];
  char ref[sizeof name] = "", hash[41] = "", use[GOMOD_MAX_VERSION_BYTES];
  int rc;
  if (len >= MIN_HASH_DIGITS && len <= 40 && all_hex(rev)) {
    rc = stat_local(c, rev, rev, out);
    if (rc != -ENOENT)
      return rc;
  }
  snprintf(use, sizeof use, "%s", rev);
  snprintf(name, sizeof name, "refs/tags/%s", rev);
  const char *h = vcs_refs_get(r, name);
  if (h != NULL) {
    rc = stat_local(c, rev, name, out);
    if (rc == 0)
      snprintf(out->ref, sizeof out->ref, "%s", name);
    return rc;
  }
  snprintf(name, sizeof name, "refs/heads/%s", rev);
  if ((h = vcs_refs_get(r, name)) != NULL) {
    snprintf(ref, sizeof ref, "%s", name);
    snprintf(hash, sizeof hash, "%s", h);
    snprintf(use, sizeof use, "%s", h);
  } else if (strcmp(rev, "HEAD") == 0 && r->head[0] != '\0') {
    snprintf(ref, sizeof ref, "HEAD");
    snprintf(hash, sizeof hash, "%s", r->head);
    snprintf(use, sizeof use, "%s", r->head);
  } else if (len >= MIN_HASH_DIGITS && len <= 40 && all_hex(rev)) {
    for (size_t i = 0; i < r->n; i++) {
      if (!has_prefix(r->v[i].hash, rev))
        continue;
      if (hash[0] != '\0' && strcmp(hash, r->v[i].hash) != 0)
        return fail(c, -ENOENT, 404, "ambiguous revision %s", rev);
      if (ref[0] == '\0' || strcmp(ref, r->v[i].name) > 0)
        snprintf(ref, sizeof ref, "%s", r->v[i].name);
      snprintf(hash, sizeof hash, "%s", r->v[i].hash);
      snprintf(use, sizeof use, "%s", r->v[i].hash);
    }
    if (r->head[0] != '\0' && has_prefix(r->head, rev)) {
      if (hash[0] != '\0' && strcmp(hash, r->head) != 0)
        return fail(c, -ENOENT, 404, "ambiguous revision %s", rev);
      if (ref[0] == '\0' || strcmp(ref, "HEAD") > 0)
        snprintf(ref, sizeof ref, "HEAD");
      snprintf(hash, sizeof hash, "%s", r->head);
      snprintf(use, sizeof use, "%s", r->head);
    }
    if (hash[0] == '\0')
      return fail(c, -ENOENT, 404, "unknown revision %s", rev);
  } else {
    return fail(c, -ENOENT, 404, "unknown revision %s", rev);
  }
  rc = stat_local(c, use, hash, out);
  if (rc == 0 && strcmp(ref, out->name) != 0)
    snprintf(out->ref, sizeof out->ref, "%s", ref);
  return rc;
}

/* ReadFile(rev, file): 0 with *data borrowed from the memo, -ENOENT when
 * the file (or the revision) does not exist, or another error. */
static int read_file(struct vcs_ctx *c, const char *rev, const char *file,
                     const char **data, size_t *len) {
  struct vcs_rev info;
  int rc = code_stat(c, rev, &info);
  if (rc < 0)
    return rc;
  char spec[GOMOD_MAX_PATH_BYTES + 64];
  snprintf(spec, sizeof spec, "%s:%s", info.name, file);
  const struct vcs_memo_entry *e;
  rc = git(c, GOMOD_MAX_GOMOD_BYTES, &e, "cat-file", "blob", spec, NULL);
  if (rc < 0)
    return rc;
  if (e->status == -E2BIG)
    return fail(c, -E2BIG, 410, "%s at revision %s is larger than %u bytes",
                file, rev, GOMOD_MAX_GOMOD_BYTES);
  if (e->status < 0)
    return git_broke(c, e);
  if (e->status != 0)
    return -ENOENT;
  *data = e->out;
  *len = e->len;
  return 0;
}

/* The error is "not exist" (os.IsNotExist): leaves the resolver running. */
static int not_exist(int rc) {
  return rc == -ENOENT;
}

/* DescendsFrom(rev, tag) */
static int descends_from(struct vcs_ctx *c, const char *rev, const char *tag,
                         int *yes) {
  const struct vcs_memo_entry *e;
  char full[GOMOD_MAX_VERSION_BYTES + 16];
  snprintf(full, sizeof full, "refs/tags/%s", tag);
  int rc =
      git(c, 4096, &e, "merge-base", "--is-ancestor", "--", full, rev, NULL);
  if (rc < 0)
    return rc;
  if (e->status < 0)
    return git_broke(c, e);
  if (e->status > 1)
    return fail(c, -EIO, 502, "git merge-base failed: %.200s", e->err);
  *yes = e->status == 0;
  return 0;
}

/* ---- codeRepo ----------------------------------------------------------- */

int vcs_ctx_init(struct vcs_ctx *c, const char *module, const char *root,
                 const struct vcs_refs *refs, struct vcs_memo *memo) {
  memset(c, 0, sizeof *c);
  c->module = module;
  c->code_root = root;
  c->refs = refs;
  c->memo = memo;
  size_t plen, rlen = strlen(root);
  const char *major;
  if (strncmp(module, root, rlen) != 0 ||
      (module[rlen] != '\0' && module[rlen] != '/'))
    return fail(c, -EINVAL, 404, "mismatched repo: found %s for %s", root,
                module);
  if (gomod_split_path_version(module, &plen, &major) < 0)
    return fail(c, -EINVAL, 404, "invalid module path %s", module);
  snprintf(c->path_major, sizeof c->path_major, "%s", major);
  if (strcmp(root, module) == 0)
    plen = strlen(module);
  snprintf(c->path_prefix, sizeof c->path_prefix, "%.*s", (int)plen, module);
  path_major_prefix(c->path_major, c->pseudo_major, sizeof c->pseudo_major);
  if (strcmp(root, module) != 0) {
    if (strncmp(c->path_prefix, root, rlen) != 0 ||
        (c->path_prefix[rlen] != '\0' && c->path_prefix[rlen] != '/'))
      return fail(c, -EINVAL, 404,
                  "repository rooted at %s cannot contain module %s", root,
                  module);
    const char *d = c->path_prefix + rlen;
    while (*d == '/')
      d++;
    snprintf(c->code_dir, sizeof c->code_dir, "%s", d);
    size_t n = strlen(c->code_dir);
    while (n > 0 && c->code_dir[n - 1] == '/')
      c->code_dir[--n] = '\0';
  }
  return 0;
}

static int by_semver(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  int r = gomod_semver_compare(x, y);
  return r != 0 ? r : strcmp(x, y);
}

/* A growing list of version strings (heap copies). */
struct vlist {
  char **v;
  size_t n, cap;
};

static int vlist_add(struct vlist *l, const char *s) {
  if (l->n == l->cap) {
    size_t cap = l->cap == 0 ? 16 : l->cap * 2;
    char **p = realloc(l->v, cap * sizeof *p);
    if (p == NULL)
      return -ENOMEM;
    l->v = p;
    l->cap = cap;
  }
  l->v[l->n] = strdup(s);
  if (l->v[l->n] == NULL)
    return -ENOMEM;
  l->n++;
  return 0;
}

static void vlist_free(struct vlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

/* versionHasGoMod(v): ReadFile(v, "go.mod") succeeds. */
static int version_has_gomod(struct vcs_ctx *c, const char *v, int *yes) {
  const char *d;
  size_t n;
  int rc = read_file(c, v, "go.mod", &d, &n);
  if (rc < 0 && !not_exist(rc))
    return rc;
  *yes = rc == 0;
  return 0;
}

/* Versions(""): the sorted list (incompatible ones appended). */
static int versions(struct vcs_ctx *c, struct vlist *out) {
  char p[GOMOD_MAX_PATH_BYTES + 1] = "";
  if (c->code_dir[0] != '\0')
    snprintf(p, sizeof p, "%s/", c->code_dir);
  if (has_prefix(c->module, "gopkg.in/") && has_suffix(c->module, "-unstable"))
    return 0;
  const char **t;
  size_t nt;
  int rc = tags(c, p, &t, &nt);
  if (rc < 0)
    return rc;
  struct vlist list = {0}, incompatible = {0};
  for (size_t i = 0; i < nt && rc == 0; i++) {
    const char *v = t[i] + strlen(p);
    char canon[GOMOD_MAX_VERSION_BYTES], major[32];
    canonical(v, canon, sizeof canon);
    if (v[0] == '\0' || strcmp(v, canon) != 0 || gomod_is_pseudo_version(v))
      continue;
    if (gomod_check_path_major(v, c->path_major, NULL, 0) < 0) {
      major_of(v, major, sizeof major);
      if (c->code_dir[0] == '\0' && c->path_major[0] == '\0' &&
          strcmp(major, "v1") > 0)
        rc = vlist_add(&incompatible, v);
      continue;
    }
    rc = vlist_add(&list, v);
  }
  free(t);
  if (rc < 0)
    goto out;
  if (list.n > 0)
    qsort(list.v, list.n, sizeof *list.v, by_semver);
  if (incompatible.n > 0)
    qsort(incompatible.v, incompatible.n, sizeof *incompatible.v, by_semver);
  /* appendIncompatibleVersions */
  if (incompatible.n > 0 && c->path_major[0] == '\0') {
    int ok = 0;
    if (list.n > 0) {
      rc = version_has_gomod(c, list.v[list.n - 1], &ok);
      if (rc < 0)
        goto out;
    }
    if (!ok) {
      char last_major[32] = "";
      int last_has = 0;
      for (size_t i = 0; i < incompatible.n; i++) {
        char major[32];
        major_of(incompatible.v[i], major, sizeof major);
        if (strcmp(major, last_major) != 0) {
          size_t j = i;
          char mj[32];
          for (; j + 1 < incompatible.n; j++) {
            major_of(incompatible.v[j + 1], mj, sizeof mj);
            if (strcmp(mj, major) != 0)
              break;
          }
          snprintf(last_major, sizeof last_major, "%s", major);
          rc = version_has_gomod(c, incompatible.v[j], &last_has);
          if (rc < 0)
            goto out;
        }
        if (last_has)
          continue;
        char v[GOMOD_MAX_VERSION_BYTES + 16];
        snprintf(v, sizeof v, "%s+incompatible", incompatible.v[i]);
        rc = vlist_add(&list, v);
        if (rc < 0)
          goto out;
      }
    }
  }
  *out = list;
  memset(&list, 0, sizeof list);
out:
  if (rc == -ENOMEM)
    fail(c, rc, 502, "out of memory");
  vlist_free(&list);
  vlist_free(&incompatible);
  return rc;
}

int vcs_resolve_list(struct vcs_ctx *c, char **out, size_t *len) {
  struct vlist l = {0};
  int rc = versions(c, &l);
  if (rc < 0)
    return rc;
  size_t total = 0;
  for (size_t i = 0; i < l.n; i++)
    total += strlen(l.v[i]) + 1;
  char *s = malloc(total + 1);
  if (s == NULL) {
    vlist_free(&l);
    return fail(c, -ENOMEM, 502, "out of memory");
  }
  size_t k = 0;
  for (size_t i = 0; i < l.n; i++)
    k += (size_t)sprintf(s + k, "%s\n", l.v[i]);
  s[k] = '\0';
  vlist_free(&l);
  *out = s;
  *len = k;
  return 0;
}

/* isMajor(mpath, pathMajor) */
static int is_major(const char *mpath, const char *path_major) {
  if (mpath[0] == '\0')
    return 0;
  size_t plen;
  const char *mm;
  if (gomod_split_path_version(mpath, &plen, &mm) < 0)
    return 0;
  if (path_major[0] == '\0') {
    char pre[32];
    path_major_prefix(mm, pre, sizeof pre);
    return pre[0] == '\0' || strcmp(pre, "v0") == 0 || strcmp(pre, "v1") == 0;
  }
  if (mm[0] == '\0')
    return 0;
  return strcmp(path_major + 1, mm + 1) == 0;
}

/* revToRev(rev) */
static void rev_to_rev(struct vcs_ctx *c, const char *rev, char *out,
                       size_t cap) {
  if (!gomod_semver_is_valid(rev)) {
    snprintf(out, cap, "%s", rev);
    return;
  }
  if (gomod_is_pseudo_version(rev)) {
    if (gomod_pseudo_version_rev(rev, out, cap) < 0)
      out[0] = '\0';
    return;
  }
  char v[GOMOD_MAX_VERSION_BYTES];
  snprintf(v, sizeof v, "%s", rev);
  char build[GOMOD_MAX_VERSION_BYTES];
  if (gomod_semver_build(v, build, sizeof build) >= 0 &&
      strcmp(build, "+incompatible") == 0)
    v[strlen(v) - strlen("+incompatible")] = '\0';
  if (c->code_dir[0] == '\0')
    snprintf(out, cap, "%s", v);
  else
    snprintf(out, cap, "%s/%s", c->code_dir, v);
}

/* findDir(version): the revision and the module's directory in it, and
 * its go.mod (borrowed, or NULL). */
static int find_dir(struct vcs_ctx *c, const char *version, char *rev,
                    size_t revcap, char *dir, size_t dircap, const char **gomod,
                    size_t *gomod_len) {
  if (!gomod_semver_is_valid(version))
    return fail(c, -ENOENT, 404, "%s: invalid version: syntax error", version);
  rev_to_rev(c, version, rev, revcap);
  char file1[GOMOD_MAX_PATH_BYTES + 8], file2[GOMOD_MAX_PATH_BYTES + 40] = "";
  char dir2[GOMOD_MAX_PATH_BYTES + 32] = "";
  char mpath1[GOMOD_MAX_PATH_BYTES], mpath2[GOMOD_MAX_PATH_BYTES];
  join(file1, sizeof file1, c->code_dir, "go.mod");
  const char *g1 = NULL, *g2 = NULL;
  size_t l1 = 0, l2 = 0;
  int rc1 = read_file(c, rev, file1, &g1, &l1);
  if (rc1 < 0 && !not_exist(rc1)) {
    if (rc1 == -EAGAIN)
      return rc1;
    char why[sizeof c->err];
    snprintf(why, sizeof why, "%s", c->err);
    return fail(c, rc1, c->status, "reading %s/%s at revision %s: %s",
                c->code_root, file1, rev, why);
  }
  mpath1[0] = '\0';
  if (rc1 == 0)
    vcs_modfile_module_path(g1, l1, mpath1, sizeof mpath1);
  int found1 = rc1 == 0 &&
               (is_major(mpath1, c->path_major) ||
                (c->path_major[0] == '\0' && has_prefix(mpath1, "gopkg.in/")));
  if (c->path_major[0] != '\0' && strcmp(c->code_root, c->module) != 0 &&
      c->path_major[0] != '.') {
    join(dir2, sizeof dir2, c->code_dir, c->path_major + 1);
    join(file2, sizeof file2, dir2, "go.mod");
    int rc2 = read_file(c, rev, file2, &g2, &l2);
    if (rc2 < 0 && !not_exist(rc2)) {
      if (rc2 == -EAGAIN)
        return rc2;
      char why[sizeof c->err];
      snprintf(why, sizeof why, "%s", c->err);
      return fail(c, rc2, c->status, "reading %s/%s at revision %s: %s",
                  c->code_root, file2, rev, why);
    }
    mpath2[0] = '\0';
    if (rc2 == 0)
      vcs_modfile_module_path(g2, l2, mpath2, sizeof mpath2);
    int found2 = rc2 == 0 && is_major(mpath2, c->path_major);
    if (found1 && found2)
      return fail(c, -ENOENT, 404,
                  "%s/%s and ...%s/go.mod both have ...%s module paths at "
                  "revision %s",
                  c->path_prefix, file1, c->path_major, c->path_major, rev);
    if (found2) {
      snprintf(dir, dircap, "%s", dir2);
      *gomod = g2;
      *gomod_len = l2;
      return 0;
    }
    if (rc2 == 0) {
      if (mpath2[0] == '\0')
        return fail(c, -ENOENT, 404,
                    "%s/%s is missing module path at revision %s", c->code_root,
                    file2, rev);
      return fail(c, -ENOENT, 404,
                  "%s/%s has non-...%s module path \"%s\" at revision %s",
                  c->code_root, file2, c->path_major, mpath2, rev);
    }
  }
  if (found1) {
    snprintf(dir, dircap, "%s", c->code_dir);
    *gomod = g1;
    *gomod_len = l1;
    return 0;
  }
  if (rc1 == 0) {
    char suffix[64] = "";
    if (file2[0] != '\0')
      snprintf(suffix, sizeof suffix, " (and ...%s/go.mod does not exist)",
               c->path_major);
    if (mpath1[0] == '\0')
      return fail(c, -ENOENT, 404, "%s is missing module path%s at revision %s",
                  file1, suffix, rev);
    if (c->path_major[0] != '\0')
      return fail(c, -ENOENT, 404,
                  "%s has non-...%s module path \"%s\"%s at revision %s", file1,
                  c->path_major, mpath1, suffix, rev);
    size_t pl;
    const char *mm;
    if (gomod_split_path_version(mpath1, &pl, &mm) < 0)
      return fail(c, -ENOENT, 404,
                  "%s has malformed module path \"%s\"%s at revision %s", file1,
                  mpath1, suffix, rev);
    char major[32];
    major_of(version, major, sizeof major);
    return fail(c, -ENOENT, 404,
                "%s has post-%s module path \"%s\"%s at revision %s", file1,
                major, mpath1, suffix, rev);
  }
  if (c->code_dir[0] == '\0' &&
      (c->path_major[0] == '\0' || c->path_major[0] == '.')) {
    dir[0] = '\0';
    *gomod = NULL;
    *gomod_len = 0;
    return 0;
  }
  if (file2[0] != '\0')
    return fail(c, -ENOENT, 404,
                "missing %s/go.mod and ...%s/go.mod at revision %s",
                c->path_prefix, c->path_major, rev);
  return fail(c, -ENOENT, 404, "missing %s/go.mod at revision %s",
              c->path_prefix, rev);
}

/* GoMod(version) without the pseudo-version Stat (the caller did it). */
static int gomod_at(struct vcs_ctx *c, const char *version, const char **data,
                    size_t *len, int *legacy) {
  char rev[GOMOD_MAX_VERSION_BYTES + GOMOD_MAX_PATH_BYTES];
  char dir[GOMOD_MAX_PATH_BYTES + 32];
  const char *g = NULL;
  size_t gl = 0;
  int rc = find_dir(c, version, rev, sizeof rev, dir, sizeof dir, &g, &gl);
  if (rc < 0)
    return rc;
  *legacy = 0;
  if (g != NULL) {
    *data = g;
    *len = gl;
    return 0;
  }
  char file[GOMOD_MAX_PATH_BYTES + 40];
  join(file, sizeof file, dir, "go.mod");
  rc = read_file(c, rev, file, data, len);
  if (not_exist(rc)) {
    *legacy = 1;
    return 0;
  }
  return rc;
}

/* retractedVersions(): the intervals from the latest release's go.mod.
 * Errors other than -EAGAIN mean "nothing retracted", as in Go. */
static int retractions(struct vcs_ctx *c, struct vcs_retract *out, size_t cap,
                       size_t *n) {
  *n = 0;
  struct vlist l = {0};
  int rc = versions(c, &l);
  if (rc < 0)
    return rc == -EAGAIN ? rc : 0;
  size_t count = l.n;
  for (size_t i = 0; i < l.n; i++) {
    if (has_suffix(l.v[i], "+incompatible")) {
      count = i;
      break;
    }
  }
  if (count == 0) {
    vlist_free(&l);
    return 0;
  }
  const char *highest = NULL;
  for (size_t i = count; i-- > 0;) {
    char pre[GOMOD_MAX_VERSION_BYTES];
    gomod_semver_prerelease(l.v[i], pre, sizeof pre);
    if (pre[0] == '\0') {
      highest = l.v[i];
      break;
    }
  }
  if (highest == NULL)
    highest = l.v[count - 1];
  const char *data;
  size_t len;
  int legacy;
  rc = gomod_at(c, highest, &data, &len, &legacy);
  if (rc == 0 && !legacy)
    *n = vcs_modfile_retractions(data, len, out, cap);
  vlist_free(&l);
  return rc == -EAGAIN ? rc : 0;
}

/* Retract intervals one go.mod may list that the resolver considers. */
#define MAX_RETRACT 256

struct retracted {
  int loaded;
  struct vcs_retract v[MAX_RETRACT];
  size_t n;
};

static int is_retracted(struct vcs_ctx *c, struct retracted *r, const char *v,
                        int *yes) {
  if (!r->loaded) {
    int rc = retractions(c, r->v, MAX_RETRACT, &r->n);
    if (rc < 0)
      return rc;
    r->loaded = 1;
  }
  *yes = 0;
  for (size_t i = 0; i < r->n; i++) {
    if (gomod_semver_compare(r->v[i].low, v) <= 0 &&
        gomod_semver_compare(v, r->v[i].high) <= 0)
      *yes = 1;
  }
  return 0;
}

/* The state of one convert() call (Go's closures). */
struct convert {
  const struct vcs_rev *info;
  const char *stat_vers;
  int inc_root_known, inc_root_ok;
  struct {
    char major[32];
    int ok;
  } inc_major[8];
  int ninc;
  struct retracted *retracted;
  char tag_prefix[GOMOD_MAX_PATH_BYTES + 1];
};

/* canUseIncompatible(v) */
static int can_use_incompatible(struct vcs_ctx *c, struct convert *cv,
                                const char *v, int *ok) {
  *ok = 0;
  if (c->code_dir[0] != '\0' || c->path_major[0] != '\0')
    return 0;
  const char *d;
  size_t n;
  int rc;
  if (!cv->inc_root_known) {
    rc = read_file(c, cv->info->name, "go.mod", &d, &n);
    if (rc == -EAGAIN)
      return rc;
    cv->inc_root_ok = rc != 0;
    cv->inc_root_known = 1;
  }
  if (!cv->inc_root_ok)
    return 0;
  if (v[0] != '\0' && !has_suffix(cv->stat_vers, "+incompatible")) {
    char major[32];
    major_of(v, major, sizeof major);
    int i;
    for (i = 0; i < cv->ninc; i++) {
      if (strcmp(cv->inc_major[i].major, major) == 0)
        break;
    }
    int sub_ok;
    if (i < cv->ninc) {
      sub_ok = cv->inc_major[i].ok;
    } else {
      char file[48];
      snprintf(file, sizeof file, "%s/go.mod", major);
      rc = read_file(c, cv->info->name, file, &d, &n);
      if (rc == -EAGAIN)
        return rc;
      sub_ok = rc != 0;
      if (cv->ninc < 8) {
        snprintf(cv->inc_major[cv->ninc].major, sizeof major, "%s", major);
        cv->inc_major[cv->ninc++].ok = sub_ok;
      }
    }
    if (!sub_ok)
      return 0;
  }
  *ok = 1;
  return 0;
}

/* checkCanonical(v) */
static int check_canonical(struct vcs_ctx *c, struct convert *cv,
                           const char *v_in, struct vcs_info *out) {
  char v[GOMOD_MAX_VERSION_BYTES + 16];
  snprintf(v, sizeof v, "%s", v_in);
  char rev[GOMOD_MAX_VERSION_BYTES + GOMOD_MAX_PATH_BYTES];
  char dir[GOMOD_MAX_PATH_BYTES + 32];
  const char *g;
  size_t gl;
  int rc = find_dir(c, v, rev, sizeof rev, dir, sizeof dir, &g, &gl);
  if (rc < 0) {
    if (rc == -EAGAIN)
      return rc;
    char why[sizeof c->err];
    snprintf(why, sizeof why, "%s", c->err);
    return fail(c, rc, c->status, "%s@%s: invalid version: %s", c->module, v,
                why);
  }
  const char *sv = cv->stat_vers;
  char sv_base[GOMOD_MAX_VERSION_BYTES];
  snprintf(sv_base, sizeof sv_base, "%s", sv);
  if (has_suffix(sv_base, "+incompatible"))
    sv_base[strlen(sv_base) - strlen("+incompatible")] = '\0';
  if (strcmp(v, sv_base) == 0)
    snprintf(v, sizeof v, "%s", sv);
  char base[GOMOD_MAX_VERSION_BYTES];
  snprintf(base, sizeof base, "%s", v);
  if (has_suffix(base, "+incompatible"))
    base[strlen(base) - strlen("+incompatible")] = '\0';
  char err_inc[512] = "";
  if (!gomod_match_path_major(base, c->path_major)) {
    int ok;
    rc = can_use_incompatible(c, cv, base, &ok);
    if (rc < 0)
      return rc;
    if (ok) {
      snprintf(v, sizeof v, "%s+incompatible", base);
    } else if (c->path_major[0] != '\0') {
      snprintf(err_inc, sizeof err_inc,
               "%s@%s: invalid version: module path includes a major "
               "version suffix, so major version must match",
               c->module, v);
    } else {
      char major[32];
      major_of(v, major, sizeof major);
      snprintf(err_inc, sizeof err_inc,
               "%s@%s: invalid version: module contains a go.mod file, so "
               "module path must match major version (\"%s/%s\")",
               c->module, v, c->path_prefix, major);
    }
  } else if (has_suffix(v, "+incompatible")) {
    char major[32];
    major_of(v, major, sizeof major);
    snprintf(err_inc, sizeof err_inc,
             "%s@%s: invalid version: +incompatible suffix not allowed: "
             "major version %s is compatible",
             c->module, v, major);
  }
  char canon[GOMOD_MAX_VERSION_BYTES];
  if (sv[0] != '\0' && gomod_canonical_version(sv, canon, sizeof canon) >= 0 &&
      strcmp(canon, sv) == 0 && strcmp(sv_base, base) != 0)
    return fail(c, -ENOENT, 404,
                "%s@%s: invalid version: resolves to version %s (%s is not "
                "a tag)",
                c->module, sv, v, sv_base);
  if (err_inc[0] != '\0')
    return fail(c, -ENOENT, 404, "%s", err_inc);
  memset(out, 0, sizeof *out);
  snprintf(out->version, sizeof out->version, "%s", v);
  out->time = cv->info->time;
  snprintf(out->hash, sizeof out->hash, "%s", cv->info->name);
  snprintf(out->ref, sizeof out->ref, "%s", cv->info->ref);
  return 0;
}

/* tagToVersion(tag) */
static int tag_to_version(struct convert *cv, const char *tag, char *v,
                          size_t cap) {
  v[0] = '\0';
  if (!has_prefix(tag, cv->tag_prefix))
    return 0;
  const char *trimmed = tag + strlen(cv->tag_prefix);
  if (gomod_is_pseudo_version(tag))
    return 0;
  canonical(trimmed, v, cap);
  if (v[0] == '\0' || !has_prefix(trimmed, v)) {
    v[0] = '\0';
    return 0;
  }
  return strcmp(v, trimmed) == 0;
}

/* tagAllowed for RecentTag */
static int tag_allowed(struct vcs_ctx *c, struct convert *cv, const char *tag,
                       int *ok) {
  char v[GOMOD_MAX_VERSION_BYTES];
  *ok = 0;
  tag_to_version(cv, tag, v, sizeof v);
  if (v[0] == '\0')
    return 0;
  if (!gomod_match_path_major(v, c->path_major)) {
    int inc;
    int rc = can_use_incompatible(c, cv, v, &inc);
    if (rc < 0)
      return rc;
    if (!inc)
      return 0;
  }
  int r;
  int rc = is_retracted(c, cv->retracted, v, &r);
  if (rc < 0)
    return rc;
  *ok = !r;
  return 0;
}

/* RecentTag(rev, prefix, allowed) */
static int recent_tag(struct vcs_ctx *c, struct convert *cv, char *tag,
                      size_t cap) {
  const struct vcs_memo_entry *e;
  tag[0] = '\0';
  int rc = git(c, VCS_MAX_LIST_BYTES, &e, "for-each-ref", "--format",
               "%(refname)", "refs/tags", "--merged", cv->info->name, NULL);
  if (rc < 0)
    return rc;
  if (e->status != 0)
    return 0; /* Go ignores the error here */
  char highest[GOMOD_MAX_VERSION_BYTES] = "";
  const char *p = e->out;
  while (*p != '\0') {
    size_t n = strcspn(p, "\n");
    char line[GOMOD_MAX_PATH_BYTES + 32];
    if (n < sizeof line) {
      memcpy(line, p, n);
      line[n] = '\0';
      if (has_prefix(line, "refs/tags/") &&
          has_prefix(line + 10, cv->tag_prefix)) {
        const char *t = line + 10;
        int ok;
        rc = tag_allowed(c, cv, t, &ok);
        if (rc < 0)
          return rc;
        const char *semtag = t + strlen(cv->tag_prefix);
        if (ok && gomod_semver_compare(semtag, highest) > 0)
          snprintf(highest, sizeof highest, "%s", semtag);
      }
    }
    p += n;
    if (*p == '\n')
      p++;
  }
  if (highest[0] != '\0')
    snprintf(tag, cap, "%s%s", cv->tag_prefix, highest);
  return 0;
}

/* validatePseudoVersion(info, version) */
static int validate_pseudo(struct vcs_ctx *c, const struct vcs_rev *info,
                           const char *version) {
  char rev[64], base[GOMOD_MAX_VERSION_BYTES], trimmed[GOMOD_MAX_VERSION_BYTES];
  const char *m = c->module;
  if (gomod_pseudo_version_rev(version, rev, sizeof rev) < 0)
    return fail(c, -ENOENT, 404, "%s@%s: invalid pseudo-version", m, version);
  if (strcmp(rev, info->short_) != 0) {
    const char *why = has_prefix(rev, info->short_)
                          ? "revision is longer than canonical"
                      : has_prefix(info->short_, rev)
                          ? "revision is shorter than canonical"
                          : "does not match short name of revision";
    return fail(c, -ENOENT, 404,
                "%s@%s: invalid pseudo-version: %s (expected %s)", m, version,
                why, info->short_);
  }
  time_t t;
  if (gomod_pseudo_version_time(version, &t) < 0)
    return fail(c, -ENOENT, 404, "%s@%s: invalid pseudo-version", m, version);
  if (t != info->time) {
    struct tm tm;
    char ts[32];
    gmtime_r(&info->time, &tm);
    strftime(ts, sizeof ts, "%Y%m%d%H%M%S", &tm);
    return fail(c, -ENOENT, 404,
                "%s@%s: invalid pseudo-version: does not match "
                "version-control timestamp (expected %s)",
                m, version, ts);
  }
  char tag_prefix[GOMOD_MAX_PATH_BYTES + 1] = "";
  if (c->code_dir[0] != '\0')
    snprintf(tag_prefix, sizeof tag_prefix, "%s/", c->code_dir);
  snprintf(trimmed, sizeof trimmed, "%s", version);
  if (has_suffix(trimmed, "+incompatible"))
    trimmed[strlen(trimmed) - strlen("+incompatible")] = '\0';
  if (gomod_pseudo_version_base(trimmed, base, sizeof base) < 0)
    return fail(c, -ENOENT, 404, "%s@%s: invalid pseudo-version", m, version);
  if (base[0] == '\0') {
    char major[32];
    major_of(version, major, sizeof major);
    if (c->pseudo_major[0] == '\0' && strcmp(major, "v1") == 0)
      return fail(c, -ENOENT, 404,
                  "%s@%s: invalid pseudo-version: major version without "
                  "preceding tag must be v0, not v1",
                  m, version);
    return 0;
  }
  for (int i = 0; i < info->ntags; i++) {
    const char *vo = info->tags[i];
    if (has_prefix(vo, tag_prefix))
      vo += strlen(tag_prefix);
    if (strcmp(vo, base) == 0)
      return fail(c, -ENOENT, 404,
                  "%s@%s: invalid pseudo-version: tag (%s) found on revision "
                  "%s is already canonical, so should not be replaced with a "
                  "pseudo-version derived from that tag",
                  m, version, info->tags[i], rev);
  }
  char tp[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES];
  snprintf(tp, sizeof tp, "%s%s", tag_prefix, base);
  const char **tl;
  size_t nt;
  int rc = tags(c, tp, &tl, &nt);
  if (rc < 0)
    return rc;
  const char *last = NULL;
  int found = 0;
  for (size_t i = 0; i < nt && !found; i++) {
    const char *vo = tl[i] + strlen(tag_prefix);
    if (gomod_semver_compare(vo, base) == 0) {
      last = tl[i];
      rc = descends_from(c, info->name, tl[i], &found);
      if (rc < 0) {
        free(tl);
        return rc;
      }
    }
  }
  char last_tag[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES] = "";
  if (last != NULL)
    snprintf(last_tag, sizeof last_tag, "%s", last);
  free(tl);
  if (last_tag[0] == '\0')
    return fail(c, -ENOENT, 404,
                "%s@%s: invalid pseudo-version: preceding tag (%s) not found",
                m, version, base);
  if (!found)
    return fail(c, -ENOENT, 404,
                "%s@%s: invalid pseudo-version: revision %s is not a "
                "descendent of preceding tag (%s)",
                m, version, rev, last_tag);
  return 0;
}

/* convert(info, statVers) */
static int convert(struct vcs_ctx *c, const struct vcs_rev *info,
                   const char *stat_vers, struct vcs_info *out) {
  struct retracted *ret = calloc(1, sizeof *ret);
  if (ret == NULL)
    return fail(c, -ENOMEM, 502, "out of memory");
  struct convert cv = {.info = info, .stat_vers = stat_vers, .retracted = ret};
  int rc;
  if (c->code_dir[0] != '\0')
    snprintf(cv.tag_prefix, sizeof cv.tag_prefix, "%s/", c->code_dir);
  if (gomod_is_pseudo_version(stat_vers)) {
    rc = validate_pseudo(c, info, stat_vers);
    if (rc == 0)
      rc = check_canonical(c, &cv, stat_vers, out);
    goto out;
  }
  char v[GOMOD_MAX_VERSION_BYTES];
  if (tag_to_version(&cv, info->version, v, sizeof v)) {
    rc = check_canonical(c, &cv, v, out);
    if (rc == 0 || rc == -EAGAIN)
      goto out;
    c->err[0] = '\0';
  }
  char highest[GOMOD_MAX_VERSION_BYTES] = "",
       pseudo_base[GOMOD_MAX_VERSION_BYTES] = "";
  for (int i = 0; i < info->ntags; i++) {
    int canon_tag = tag_to_version(&cv, info->tags[i], v, sizeof v);
    if (stat_vers[0] != '\0' && gomod_semver_compare(v, stat_vers) == 0) {
      if (canon_tag) {
        rc = check_canonical(c, &cv, v, out);
        goto out;
      }
      snprintf(pseudo_base, sizeof pseudo_base, "%s", v);
    }
    if (canon_tag && gomod_semver_compare(highest, v) < 0) {
      int r;
      rc = is_retracted(c, ret, v, &r);
      if (rc < 0)
        goto out;
      if (r)
        continue;
      int ok = gomod_match_path_major(v, c->path_major);
      if (!ok) {
        rc = can_use_incompatible(c, &cv, v, &ok);
        if (rc < 0)
          goto out;
      }
      if (ok)
        snprintf(highest, sizeof highest, "%s", v);
    }
  }
  if (highest[0] != '\0') {
    rc = check_canonical(c, &cv, highest, out);
    goto out;
  }
  if (pseudo_base[0] == '\0') {
    char tag[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES];
    rc = recent_tag(c, &cv, tag, sizeof tag);
    if (rc < 0)
      goto out;
    if (tag[0] != '\0')
      tag_to_version(&cv, tag, pseudo_base, sizeof pseudo_base);
  }
  char pv[GOMOD_MAX_VERSION_BYTES];
  if (gomod_pseudo_version_make(c->pseudo_major, pseudo_base, info->time,
                                info->short_, pv, sizeof pv) < 0) {
    rc = fail(c, -EIO, 502, "cannot build a pseudo-version");
    goto out;
  }
  rc = check_canonical(c, &cv, pv, out);
out:
  free(ret);
  return rc;
}

int vcs_resolve_stat(struct vcs_ctx *c, const char *query,
                     struct vcs_info *out) {
  struct vcs_rev info;
  int rc;
  if (strcmp(query, "latest") == 0) {
    if (c->refs->head[0] == '\0')
      return fail(c, -ENOENT, 404, "%s@latest: no commits", c->module);
    rc = code_stat(c, c->refs->head, &info);
    if (rc < 0)
      return rc;
    snprintf(info.ref, sizeof info.ref, "HEAD");
    return convert(c, &info, "", out);
  }
  char code_rev[GOMOD_MAX_VERSION_BYTES + GOMOD_MAX_PATH_BYTES];
  rev_to_rev(c, query, code_rev, sizeof code_rev);
  rc = code_stat(c, code_rev, &info);
  if (rc < 0) {
    if (rc == -EAGAIN || c->status != 404)
      return rc;
    char why[sizeof c->err];
    snprintf(why, sizeof why, "%s", c->err);
    return fail(c, rc, 404, "%s@%s: invalid version: %s", c->module, query,
                why);
  }
  return convert(c, &info, query, out);
}

int vcs_resolve_latest(struct vcs_ctx *c, struct vcs_info *out) {
  struct vlist l = {0};
  int rc = versions(c, &l);
  if (rc < 0)
    return rc;
  const char *pick = NULL;
  for (size_t i = l.n; i-- > 0 && pick == NULL;) {
    char pre[GOMOD_MAX_VERSION_BYTES];
    gomod_semver_prerelease(l.v[i], pre, sizeof pre);
    if (pre[0] == '\0')
      pick = l.v[i];
  }
  if (pick == NULL && l.n > 0)
    pick = l.v[l.n - 1];
  char v[GOMOD_MAX_VERSION_BYTES];
  snprintf(v, sizeof v, "%s", pick != NULL ? pick : "latest");
  vlist_free(&l);
  return vcs_resolve_stat(c, v, out);
}

/* The version must stat to itself before its go.mod or zip is served. */
static int stat_exact(struct vcs_ctx *c, const char *version) {
  struct vcs_info info;
  int rc = vcs_resolve_stat(c, version, &info);
  if (rc < 0)
    return rc;
  if (strcmp(info.version, version) != 0)
    return fail(c, -ENOENT, 404,
                "%s@%s: invalid version: resolves to version %s", c->module,
                version, info.version);
  return 0;
}

int vcs_resolve_gomod(struct vcs_ctx *c, const char *version, char **out,
                      size_t *len) {
  int rc = stat_exact(c, version);
  if (rc < 0)
    return rc;
  const char *data;
  size_t n;
  int legacy;
  rc = gomod_at(c, version, &data, &n, &legacy);
  if (rc < 0)
    return rc;
  char buf[GOMOD_MAX_PATH_BYTES + 16];
  if (legacy) {
    n = vcs_modfile_legacy(c->module, buf, sizeof buf);
    data = buf;
  }
  *out = malloc(n + 1);
  if (*out == NULL)
    return fail(c, -ENOMEM, 502, "out of memory");
  memcpy(*out, data, n);
  (*out)[n] = '\0';
  *len = n;
  return 0;
}

int vcs_resolve_zip(struct vcs_ctx *c, const char *version,
                    struct vcs_zip_plan *out) {
  memset(out, 0, sizeof *out);
  int rc = stat_exact(c, version);
  if (rc < 0)
    return rc;
  char rev[GOMOD_MAX_VERSION_BYTES + GOMOD_MAX_PATH_BYTES];
  const char *g;
  size_t gl;
  rc = find_dir(c, version, rev, sizeof rev, out->subdir, sizeof out->subdir,
                &g, &gl);
  if (rc < 0)
    return rc;
  struct vcs_rev info;
  rc = code_stat(c, rev, &info);
  if (rc < 0)
    return rc;
  snprintf(out->hash, sizeof out->hash, "%s", info.name);
  if (out->subdir[0] != '\0') {
    const char *lic;
    size_t ll;
    rc = read_file(c, rev, "LICENSE", &lic, &ll);
    if (rc < 0 && !not_exist(rc))
      return rc;
    if (rc == 0 && ll <= GOMOD_MAX_LICENSE_BYTES) {
      out->license = malloc(ll + 1);
      if (out->license == NULL)
        return fail(c, -ENOMEM, 502, "out of memory");
      memcpy(out->license, lic, ll);
      out->license_len = ll;
    }
  }
  return 0;
}

/* ---- .info JSON --------------------------------------------------------- */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s != '\0'; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch == '<' || ch == '>' || ch == '&')
      fprintf(f, "\\u%04x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

char *vcs_info_json(const struct vcs_info *info, const char *url,
                    const char *subdir, size_t *len) {
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  if (f == NULL)
    return NULL;
  char ts[TIME_RFC3339_BYTES];
  time_rfc3339(info->time, ts, sizeof ts);
  fputs("{\"Version\":", f);
  json_str(f, info->version);
  fprintf(f, ",\"Time\":\"%s\",\"Origin\":{\"VCS\":\"git\",\"URL\":", ts);
  json_str(f, url);
  if (subdir != NULL && subdir[0] != '\0') {
    fputs(",\"Subdir\":", f);
    json_str(f, subdir);
  }
  if (info->ref[0] != '\0') {
    fputs(",\"Ref\":", f);
    json_str(f, info->ref);
  }
  fputs(",\"Hash\":", f);
  json_str(f, info->hash);
  fputs("}}", f);
  if (fclose(f) != 0) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}
