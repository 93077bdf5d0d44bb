/*
 * What modproxy reads from git (private modules, proxy/vcs_*.c): the
 * `git ls-remote` listing (vcs_refs_parse), and every answer the resolver
 * replays from its memo, `git log --format=%H %ct %D` lines, `git
 * for-each-ref` listings, `git cat-file blob` go.mod and LICENSE files and
 * `git merge-base` statuses, through the public vcs_resolve_* functions,
 * exactly as vcs.c drives them; plus git's stderr (vcs_last_line).
 *
 * Input, NUL-separated:
 *   "<repository root> <GOPROXY request target>\n<ls-remote output>"
 *   "\0<exit status>\n<stdout of the first git command the resolver asks>"
 *   "\0<exit status>\n<stdout of the second>" ...
 * The target goes through gp_parse, as a request would (so the module path
 * and version are valid ones); its endpoint picks the resolver function
 * (list, @latest, .info, .mod, .zip). A status may be a negative errno (-110
 * timed out, -7 output too large), as the git runner reports them. Once the
 * answers run out, every further command fails with status 128 (and, with
 * FUZZ_GIT_TRACE set, is printed to stderr as "NEED\t<args>": that is how
 * tests/fuzz/mkseeds records real git answers for the seeds).
 *
 * Properties checked: the refs are sorted and each can be looked up; the
 * resolver ends (success or failure, never a loop) within its step limit;
 * a failure has a status and a reason; a success gives well-formed results
 * (a valid version, when git's log lines look like git's: a hash of 40 hex
 * digits and a time).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "route.h"
#include "vcs_internal.h"
#include "vcs_repo.h"

#define FUZZ_MAX_INPUT (1u << 20)

struct answers {
  const uint8_t *p, *end;
};

/* The next answer as a memo entry (heap strings). */
static void next_answer(struct answers *a, const char *key,
                        struct vcs_memo_entry *e) {
  e->key = strdup(key);
  if (a->p >= a->end) {
    /* For tests/fuzz/mkseeds, which answers with a real git. */
    if (getenv("FUZZ_GIT_TRACE") != NULL)
      fprintf(stderr, "NEED\t%s\n", key);
    e->status = 128;
    e->out = strdup("");
    e->len = 0;
    e->err = strdup("fatal: no more answers\n");
  } else {
    const uint8_t *z = memchr(a->p, 0, (size_t)(a->end - a->p));
    const uint8_t *stop = z != NULL ? z : a->end;
    const uint8_t *nl = memchr(a->p, '\n', (size_t)(stop - a->p));
    const uint8_t *out = nl != NULL ? nl + 1 : stop;
    char status[16] = "";
    size_t sl = (size_t)((nl != NULL ? nl : stop) - a->p);
    memcpy(status, a->p, sl < sizeof status - 1 ? sl : sizeof status - 1);
    e->status = atoi(status);
    e->len = (size_t)(stop - out);
    e->out = fuzz_strndup(out, e->len);
    /* The same bytes as stderr: what git complains with. */
    e->err =
        strndup((const char *)out,
                e->len < GIT_STDERR_BYTES - 1 ? e->len : GIT_STDERR_BYTES - 1);
    a->p = z != NULL ? z + 1 : a->end;
  }
  if (e->key == NULL || e->out == NULL || e->err == NULL)
    abort();
  char line[512];
  vcs_last_line(e->err, line, sizeof line);
  FUZZ_CHECK(memchr(line, '\0', sizeof line) != NULL, "last line overflow");
}

static void check_refs(const struct vcs_refs *r) {
  for (size_t i = 0; i < r->n; i++) {
    FUZZ_CHECK(strlen(r->v[i].hash) == 40, "ref %s: hash %s", r->v[i].name,
               r->v[i].hash);
    if (i > 0)
      FUZZ_CHECK(strcmp(r->v[i - 1].name, r->v[i].name) <= 0, "refs unsorted");
    FUZZ_CHECK(vcs_refs_get(r, r->v[i].name) != NULL, "ref %s not found",
               r->v[i].name);
  }
  FUZZ_CHECK(r->head[0] == '\0' || strlen(r->head) == 40, "HEAD %s", r->head);
  FUZZ_CHECK(vcs_refs_same(r, r), "refs differ from themselves");
}

/* Whether every `git log --format=%H %ct %D` answer starts as git's do:
 * 40 lowercase hex digits, a space, decimal digits. */
static int git_log_well_formed(const struct vcs_memo *m) {
  for (size_t i = 0; i < m->n; i++) {
    const struct vcs_memo_entry *e = &m->v[i];
    if (strstr(e->key, "--format=format:%H %ct %D") == NULL || e->status != 0)
      continue;
    const char *o = e->out;
    size_t h = strspn(o, "0123456789abcdef");
    if (h != 40 || o[40] != ' ' || strspn(o + 41, "0123456789") == 0)
      return 0;
  }
  return 1;
}

static void resolve(const struct gp_req *gp, const char *root,
                    const struct vcs_refs *refs, struct answers *a) {
  struct vcs_memo *memo = calloc(1, sizeof *memo);
  struct vcs_ctx *c = malloc(sizeof *c);
  struct vcs_info *info = malloc(sizeof *info);
  struct vcs_zip_plan plan;
  memset(&plan, 0, sizeof plan);
  if (memo == NULL || c == NULL || info == NULL)
    abort();
  char *body = NULL;
  size_t len = 0;
  int rc, steps = 0;
  for (;;) {
    rc = vcs_ctx_init(c, gp->module, root, refs, memo);
    if (rc < 0)
      break;
    switch (gp->kind) {
    case GP_LIST: rc = vcs_resolve_list(c, &body, &len); break;
    case GP_LATEST: rc = vcs_resolve_latest(c, info); break;
    case GP_INFO: rc = vcs_resolve_stat(c, gp->version, info); break;
    case GP_MOD: rc = vcs_resolve_gomod(c, gp->version, &body, &len); break;
    case GP_ZIP:
      free(plan.license);
      memset(&plan, 0, sizeof plan);
      rc = vcs_resolve_zip(c, gp->version, &plan);
      break;
    default:
      rc = -EINVAL;
      c->status = 400;
      snprintf(c->err, sizeof c->err, "not a module request");
    }
    if (rc != -EAGAIN)
      break;
    FUZZ_CHECK(memo->n < VCS_MAX_STEPS, "the resolver asked past its limit");
    FUZZ_CHECK(++steps <= VCS_MAX_STEPS, "the resolver does not end");
    FUZZ_CHECK(c->need.argv[0] != NULL && strcmp(c->need.argv[0], "git") == 0,
               "the resolver needs a command that is not git");
    next_answer(a, c->need.key, &memo->v[memo->n]);
    memo->n++;
  }
  if (getenv("FUZZ_GIT_TRACE") != NULL)
    fprintf(stderr, "RESULT\t%d\t%d\t%s\n", rc, rc < 0 ? c->status : 200,
            rc < 0 ? c->err : "");
  if (rc < 0) {
    FUZZ_CHECK(c->status >= 400 && c->status < 600,
               "resolver failed (%d) with status %d", rc, c->status);
    FUZZ_CHECK(c->err[0] != '\0' && memchr(c->err, '\0', sizeof c->err),
               "resolver failed (%d) without a reason", rc);
    FUZZ_CHECK(body == NULL || gp->kind == GP_LIST || gp->kind == GP_MOD,
               "a body after a failure");
  } else if (gp->kind == GP_LIST || gp->kind == GP_MOD) {
    FUZZ_CHECK(body != NULL && strlen(body) <= len, "no body");
    if (gp->kind == GP_LIST) {
      /* One valid version per line. */
      for (char *save = NULL, *l = strtok_r(body, "\n", &save); l != NULL;
           l = strtok_r(NULL, "\n", &save))
        FUZZ_CHECK(gomod_semver_is_valid(l), "list has \"%s\"", l);
    }
  } else if (gp->kind == GP_LATEST || gp->kind == GP_INFO) {
    /* A pseudo-version is made of a commit's hash and time: it is valid
     * when git printed them as git does. */
    if (git_log_well_formed(memo))
      FUZZ_CHECK(gomod_semver_is_valid(info->version), "resolved to \"%s\"",
                 info->version);
    FUZZ_CHECK(strlen(info->hash) == 40, "resolved hash \"%s\"", info->hash);
    size_t jl = 0;
    char *json =
        vcs_info_json(info, "https://git.example/r.git", c->code_dir, &jl);
    FUZZ_CHECK(json != NULL, "vcs_info_json failed");
    char v[GOMOD_MAX_VERSION_BYTES];
    FUZZ_CHECK(gomod_info_version(json, jl, v, sizeof v) == 0 &&
                   strcmp(v, info->version) == 0,
               "the .info we write does not read back: %s", json);
    free(json);
  } else if (gp->kind == GP_ZIP) {
    FUZZ_CHECK(strlen(plan.hash) == 40, "zip plan hash \"%s\"", plan.hash);
  }
  free(body);
  free(plan.license);
  vcs_memo_dispose(memo);
  free(memo);
  free(c);
  free(info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_MAX_INPUT)
    return 0;
  const uint8_t *z = memchr(data, 0, size);
  size_t head = z != NULL ? (size_t)(z - data) : size;
  const uint8_t *nl = memchr(data, '\n', head);
  size_t l1 = nl != NULL ? (size_t)(nl - data) : head;
  char *line = fuzz_strndup(data, l1);
  const uint8_t *ls = nl != NULL ? nl + 1 : data + head;
  size_t lslen = (size_t)(data + head - ls);
  char *lsout = fuzz_strndup(ls, lslen);

  struct vcs_refs *refs = NULL;
  int rc = vcs_refs_parse(lsout, lslen, &refs);
  FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -ENOMEM, "refs_parse %d", rc);
  if (rc == 0) {
    check_refs(refs);
    char *sp = strchr(line, ' ');
    struct gp_req *gp = malloc(sizeof *gp);
    char err[512];
    if (gp == NULL)
      abort();
    if (sp != NULL) {
      *sp = '\0';
      if (gp_parse(sp + 1, gp, err, sizeof err) == 0) {
        struct answers a = {z != NULL ? z + 1 : data + size, data + size};
        resolve(gp, line, refs, &a);
      }
    }
    free(gp);
    vcs_refs_unref(refs);
  }
  /* git's complaints, which may carry credentials in URLs. */
  char *all = fuzz_strndup(data, size);
  char out[256];
  vcs_last_line(all, out, sizeof out);
  vcs_scrub(all);
  vcs_url_redact(line, out, sizeof out);
  free(all);
  free(line);
  free(lsout);
  return 0;
}
