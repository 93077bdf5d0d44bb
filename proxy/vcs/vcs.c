/*
 * Private modules from git: one job per vcs_get (an ask for one answer).
 *
 *   proxy_vcs_start: route (module path -> repository), then on the next
 *   loop turn (without a route: DISCOVER first, the go command's ?go-get=1
 *   meta tags, vcs_discover.c, remembered for VCS_DISCOVER_TTL_MS), and
 *   for a public module's repository that no route gives, CHECK (the
 *   repository rule, check_location) before anything below:
 *
 *            snapshot stale or missing             snapshot usable
 *   START -------------------------> REFRESH       (canonical version)
 *     |                                | mirror up to date        |
 *     |                                v                          |
 *     +-----------------------------> RESOLVE <-------------------+
 *                                     |  ^  resolver needs git: run it
 *                                     |  +--(GIT: local command in the
 *                                     |       mirror, answer memoised)
 *            404 on an old snapshot   |
 *     REFRESH <-----------------------+ (once per request)
 *                                     | zip
 *                                     +----> ARCHIVE (git archive to a
 *                                     |        temporary file)
 *                                     |          |
 *                                     |          v
 *                                     |       BUILD (worker: module zip)
 *                                     v          |
 *                                  RECORD <------+ (worker: provenance)
 *                                     |
 *                                     v
 *                                   DONE -> on_done, then the job is freed
 *                                           once its timer handle closed
 *
 * Failures anywhere go straight to DONE with a status and a short text
 * for the person at the terminal (credentials removed). The git side is
 * in git.c (processes), vcs_repo.c (mirrors), vcs_resolve.c (versions),
 * vcs_zip.c (zips).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "modproxy/diag.h"
#include "modproxy/gomod.h"
#include "modproxy/store.h"
#include "vcs.h"
#include "vcs_discover.h"
#include "vcs_internal.h"
#include "vcs_policy.h"
#include "vcs_repo.h"

/* A refs snapshot younger than this answers lists, @latest and queries
 * without asking the git host again: the go command's requests for one
 * `go get` arrive within it, and each would otherwise pay a round trip. */
#define VCS_REFS_FRESH_MS 5000
/* git archive of one commit: the whole tree of a large repository. */
#define VCS_ARCHIVE_TIMEOUT_MS 300000
/* A discovered repository location is reused this long (the go command's
 * requests for one `go get` come within it), for this many module paths. */
#define VCS_DISCOVER_TTL_MS 60000
#define VCS_DISCOVER_CACHE_MAX 256

enum vcs_job_state {
  VJ_START,
  VJ_DISCOVER,
  VJ_CHECK,
  VJ_REFRESH,
  VJ_RESOLVE,
  VJ_GIT,
  VJ_ARCHIVE,
  VJ_BUILD,
  VJ_RECORD,
  VJ_DONE,
};

struct vcs_job {
  struct vcs_job *next;
  struct proxy_vcs *v;
  struct vcs_get *r;
  enum vcs_job_state state;
  struct vcs_location loc;
  int discovering; /* no route: ask the ?go-get=1 pages */
  struct vcs_discovery disc;
  struct vcs_check check;
  struct vcs_repo *repo;
  struct vcs_refs *refs; /* the snapshot being resolved against */
  struct vcs_repo_waiter waiter;
  int refreshed; /* a refresh ran for this request */
  uint64_t step_start_ms;
  struct vcs_memo memo;
  struct vcs_ctx ctx;
  struct git_cmd cmd;
  uv_timer_t defer;
  uv_work_t work;
  struct vcs_zip_plan plan;
  int archive_fd;
  struct vcs_info info;
  char version[GOMOD_MAX_VERSION_BYTES]; /* resolved, for provenance */
  char err[1024];
  int work_rc;
  FILE *json;
  char *json_buf;
  size_t json_len;
  int json_count;
};

/* A location found by discovery. */
struct disc_entry {
  struct disc_entry *next;
  char *module;
  struct vcs_location loc;
  uint64_t expires_ms;
};

struct proxy_vcs {
  uv_loop_t *loop;
  struct vcs_config cfg;
  struct store *store;           /* provenance of git's answers */
  struct proxy_fetcher *fetcher; /* discovery's go-get pages */
  struct disc_entry *discovered; /* newest first */
  struct git_runner *git;
  char **anon_env; /* git's environment for anonymous mirrors */
  struct vcs_policy policy;
  struct vcs_repos repos;
  struct vcs_job *jobs;
  char dir[1024];
  char tmp_dir[1024]; /* git archives are staged here */
};

static void job_state(struct vcs_job *j, enum vcs_job_state to) {
  static const unsigned allowed[] = {
      [VJ_START] = 1u << VJ_DISCOVER | 1u << VJ_CHECK | 1u << VJ_REFRESH |
                   1u << VJ_RESOLVE | 1u << VJ_DONE,
      [VJ_DISCOVER] =
          1u << VJ_CHECK | 1u << VJ_REFRESH | 1u << VJ_RESOLVE | 1u << VJ_DONE,
      [VJ_CHECK] = 1u << VJ_REFRESH | 1u << VJ_RESOLVE | 1u << VJ_DONE,
      [VJ_REFRESH] = 1u << VJ_RESOLVE | 1u << VJ_DONE,
      [VJ_RESOLVE] = 1u << VJ_GIT | 1u << VJ_REFRESH | 1u << VJ_ARCHIVE |
                     1u << VJ_RECORD | 1u << VJ_DONE,
      [VJ_GIT] = 1u << VJ_RESOLVE | 1u << VJ_DONE,
      [VJ_ARCHIVE] = 1u << VJ_BUILD | 1u << VJ_DONE,
      [VJ_BUILD] = 1u << VJ_RECORD | 1u << VJ_DONE,
      [VJ_RECORD] = 1u << VJ_DONE,
      [VJ_DONE] = 0,
  };
  if ((allowed[j->state] & (1u << to)) == 0) {
    fprintf(stderr, "vcs: illegal transition %d -> %d\n", j->state, to);
    abort();
  }
  j->state = to;
}

/* ---- setup -------------------------------------------------------------- */

static int mkdir_p(const char *path) {
  if (mkdir(path, 0750) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

/* The template every mirror is created from: info/attributes turns off
 * export-ignore and export-subst, as the go command does before git
 * archive (so .gitattributes cannot hide files from the zip). */
static int write_template(const char *dir) {
  char path[1200];
  int rc;
  snprintf(path, sizeof path, "%s/template", dir);
  if ((rc = mkdir_p(path)) < 0)
    return rc;
  snprintf(path, sizeof path, "%s/template/info", dir);
  if ((rc = mkdir_p(path)) < 0)
    return rc;
  snprintf(path, sizeof path, "%s/template/info/attributes", dir);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -errno;
  fputs("\n* -export-subst -export-ignore\n", f);
  return fclose(f) == 0 ? 0 : -EIO;
}

/* The direct-mode policy from the settings (vcs_policy.h). */
static int policy_init(struct vcs_policy *p, const struct vcs_config *cfg) {
  char err[256];
  const char *deny =
      cfg->direct_deny != NULL ? cfg->direct_deny : VCS_POLICY_DEFAULT_DENY;
  if (net_ranges_parse(deny, p->deny, NET_MAX_RANGES, &p->ndeny, err,
                       sizeof err) < 0 ||
      net_ranges_parse(cfg->direct_allow, p->allow, NET_MAX_RANGES, &p->nallow,
                       err, sizeof err) < 0) {
    fprintf(stderr, "modproxy: --direct-deny/--direct-allow: %s\n", err);
    return -EINVAL;
  }
  p->insecure = cfg->direct_insecure;
  p->routes = cfg->git_routes;
  return 0;
}

/* git's environment for repositories a client or a page chose: none of the
 * proxy's git configuration (credential helpers, http.extraHeader,
 * insteadOf), no ~/.netrc or ~/.git-credentials (home is an empty
 * directory), no SSH agent or keys, no http redirects, no transports but
 * the four the policy allows. */
static char **anonymous_env(const char *home) {
  char h[1200], x[1200];
  snprintf(h, sizeof h, "HOME=%s", home);
  snprintf(x, sizeof x, "XDG_CONFIG_HOME=%s", home);
  const char *const env[] = {
      h,
      x,
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_CONFIG_PARAMETERS=",
      "GIT_CONFIG_COUNT=1",
      "GIT_CONFIG_KEY_0=http.followRedirects",
      "GIT_CONFIG_VALUE_0=false",
      "GIT_ALLOW_PROTOCOL=https:ssh:http:git",
      "GIT_ASKPASS=",
      "SSH_ASKPASS=",
      "SSH_AUTH_SOCK=",
      "GIT_SSH_COMMAND=ssh -F /dev/null -o IdentitiesOnly=yes -o "
      "IdentityFile=/dev/null -o BatchMode=yes -o ControlMaster=no",
      "GIT_TERMINAL_PROMPT=0",
      "GCM_INTERACTIVE=never",
      "LC_ALL=C",
      NULL,
  };
  return git_env_new(env);
}

int proxy_vcs_routes_check(const char *const *routes, char *err,
                           size_t errlen) {
  for (size_t i = 0; routes != NULL && routes[i] != NULL; i++)
    if (vcs_route_check(routes[i], err, errlen) < 0)
      return -EINVAL;
  return 0;
}

void proxy_vcs_configure(struct proxy_vcs *v, const char *private_patterns,
                         const char *const *git_routes) {
  v->cfg.private_patterns = private_patterns;
  v->cfg.git_routes = git_routes;
  v->policy.routes = git_routes;
}

int proxy_vcs_new(uv_loop_t *loop, const struct vcs_config *cfg,
                  struct store *store, struct proxy_fetcher *fetcher,
                  struct proxy_vcs **out) {
  char err[512];
  if (proxy_vcs_routes_check(cfg->git_routes, err, sizeof err) < 0) {
    fprintf(stderr, "modproxy: %s\n", err);
    return -EINVAL;
  }
  struct proxy_vcs *v = calloc(1, sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  v->loop = loop;
  v->cfg = *cfg;
  v->store = store;
  v->fetcher = fetcher;
  snprintf(v->tmp_dir, sizeof v->tmp_dir, "%s", cfg->tmp_dir);
  if (policy_init(&v->policy, cfg) < 0) {
    free(v);
    return -EINVAL;
  }
  snprintf(v->dir, sizeof v->dir, "%s/git", cfg->data_dir);
  char home[1100];
  snprintf(home, sizeof home, "%s/anonymous-home", v->dir);
  int rc = mkdir_p(v->dir);
  if (rc == 0)
    rc = write_template(v->dir);
  if (rc == 0)
    rc = mkdir_p(home);
  if (rc < 0) {
    fprintf(stderr, "modproxy: cannot prepare %s for git mirrors: %s\n", v->dir,
            strerror(-rc));
    free(v);
    return rc;
  }
  /* Never interactive: no terminal prompts, no SSH passphrase or host key
   * questions; messages in English so failures can be classified. */
  const char *env[8];
  int k = 0;
  env[k++] = "GIT_TERMINAL_PROMPT=0";
  env[k++] = "GCM_INTERACTIVE=never";
  env[k++] = "LC_ALL=C";
  if (getenv("GIT_SSH") == NULL && getenv("GIT_SSH_COMMAND") == NULL)
    env[k++] = "GIT_SSH_COMMAND=ssh -o ControlMaster=no -o BatchMode=yes";
  env[k] = NULL;
  rc = git_runner_new(loop, env, &v->git);
  if (rc < 0) {
    free(v);
    return rc;
  }
  if ((v->anon_env = anonymous_env(home)) == NULL) {
    git_runner_free(v->git);
    free(v);
    return -ENOMEM;
  }
  uint64_t net_ms = cfg->git_timeout_s > 0 ? (uint64_t)cfg->git_timeout_s * 1000
                                           : VCS_NET_TIMEOUT_MS;
  char tmpl[1100];
  snprintf(tmpl, sizeof tmpl, "%s/template", v->dir);
  vcs_repos_init(&v->repos, v->git, v->dir, tmpl, net_ms, v->anon_env);
  *out = v;
  return 0;
}

void proxy_vcs_free(struct proxy_vcs *v) {
  if (v == NULL)
    return;
  git_runner_free(v->git);
  v->git = NULL;
  for (struct vcs_job *j = v->jobs; j != NULL; j = j->next)
    j->v = NULL; /* freed by their timer's close callback, if ever */
  vcs_repos_dispose(&v->repos);
  git_env_free(v->anon_env);
  while (v->discovered != NULL) {
    struct disc_entry *e = v->discovered;
    v->discovered = e->next;
    free(e->module);
    free(e);
  }
  free(v);
}

/* How messages name the module: private, or public in direct mode. */
static const char *kind_of(const struct vcs_get *r) {
  return r->direct ? "module" : "private module";
}

int proxy_vcs_private(const struct proxy_vcs *v, const char *module) {
  return gomod_private(v->cfg.private_patterns, module);
}

const char *proxy_vcs_git_error_name(enum vcs_git_error e) {
  static const char *const names[VCS_GIT_ERRORS] = {
      [VCS_GIT_TIMEOUT] = "timeout",
      [VCS_GIT_OUTPUT] = "too_much_output",
      [VCS_GIT_SPAWN] = "spawn",
      [VCS_GIT_AUTH] = "auth",
      [VCS_GIT_NO_REPOSITORY] = "no_repository",
      [VCS_GIT_UNREACHABLE] = "unreachable",
      [VCS_GIT_OTHER] = "other",
  };
  return (unsigned)e < VCS_GIT_ERRORS ? names[e] : "other";
}

const uint64_t *proxy_vcs_git_errors(const struct proxy_vcs *v) {
  static const uint64_t none[VCS_GIT_ERRORS];
  return v != NULL ? v->repos.errors : none;
}

/* ---- the repository rule ------------------------------------------------ */

static void job_fail(struct vcs_job *j, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void begin(struct vcs_job *j);

/* The location passed: its mirror (pinned to the addresses checked, if
 * any), then on. */
static void use_location(struct vcs_job *j, int anonymous, const char *pin) {
  j->repo = vcs_repo_get(&j->v->repos, &j->loc, anonymous);
  if (j->repo == NULL) {
    job_fail(j, 503, "modproxy ran out of memory\n");
    return;
  }
  if (anonymous)
    vcs_repo_pin(j->repo, pin);
  begin(j);
}

static void on_checked(struct vcs_check *c) {
  struct vcs_job *j = c->data;
  if (j->v == NULL)
    return; /* shutting down */
  if (c->status != 0) {
    job_fail(j, c->status, "module %s: %s\n", j->r->module, c->err);
    return;
  }
  use_location(j, 1, c->pin);
}

/*
 * Which repository may answer for which module path; with
 * proxy_vcs_private (which paths are private) and proxy_access_may_see (who
 * sees private paths), the whole of access control for git.
 *
 * A private module's repository, and any repository a --git-route gives,
 * is the operator's word: git runs with the proxy's credentials. A public
 * module's repository that no route gives was chosen by a client (the
 * path) or a go-get page: its mirror is anonymous (git without the
 * proxy's credentials or configuration, in a directory of its own), and it
 * must pass vcs_policy_repo (secure scheme unless --direct-insecure, not
 * under a --git-route URL) and the address check (--direct-deny,
 * --direct-allow) before git runs. So a repository reached with the
 * proxy's credentials or through a route is served only under the paths
 * its route or --private gives, to the clients allowed to see them.
 */
static void check_location(struct vcs_job *j) {
  const char *m = j->r->module;
  if (!j->r->direct || j->loc.routed) {
    use_location(j, 0, NULL);
    return;
  }
  struct vcs_url u;
  char err[512];
  if (vcs_url_parse(j->loc.url, &u) < 0) {
    job_fail(j, 403, "module %s: its repository URL cannot be read\n", m);
    return;
  }
  if (vcs_policy_repo(&j->v->policy, m, &u, NULL, 0, err, sizeof err) < 0) {
    job_fail(j, 403, "module %s: %s\n", m, err);
    return;
  }
  job_state(j, VJ_CHECK);
  j->check = (struct vcs_check){.loop = j->v->loop,
                                .policy = &j->v->policy,
                                .url = j->loc.url,
                                .module = m,
                                .on_done = on_checked,
                                .data = j};
  int rc = vcs_check_start(&j->check);
  if (rc < 0)
    job_fail(j, 502, "module %s: cannot check its repository's host: %s\n", m,
             strerror(-rc));
}

void proxy_vcs_dispose(struct vcs_get *r) {
  free(r->body);
  free(r->attempts);
  r->body = r->attempts = NULL;
}

/* ---- finishing ---------------------------------------------------------- */

static void on_job_closed(uv_handle_t *h) {
  struct vcs_job *j = h->data;
  vcs_memo_dispose(&j->memo);
  vcs_refs_unref(j->refs);
  vcs_discover_dispose(&j->disc);
  free(j->plan.license);
  if (j->archive_fd >= 0)
    close(j->archive_fd);
  if (j->json != NULL)
    fclose(j->json);
  free(j->json_buf);
  free(j);
}

static void attempt(struct vcs_job *j, const char *cmd, long status,
                    uint64_t ms, const char *detail) {
  if (j->json == NULL)
    return;
  fprintf(j->json, "%s{\"cmd\":", j->json_count++ > 0 ? "," : "");
  diag_json_write(j->json, cmd);
  fprintf(j->json, ",\"status\":%ld,\"ms\":%llu", status,
          (unsigned long long)ms);
  if (detail != NULL && detail[0] != '\0') {
    fputs(",\"detail\":", j->json);
    diag_json_write(j->json, detail);
  }
  fputc('}', j->json);
}

/* Answers the request and schedules the job's end. */
static void job_done(struct vcs_job *j) {
  job_state(j, VJ_DONE);
  struct vcs_get *r = j->r;
  if (j->json != NULL) {
    fputc(']', j->json);
    fclose(j->json);
    j->json = NULL;
    r->attempts = j->json_buf;
    j->json_buf = NULL;
  }
  struct proxy_vcs *v = j->v;
  for (struct vcs_job **p = &v->jobs; *p != NULL; p = &(*p)->next) {
    if (*p == j) {
      *p = j->next;
      break;
    }
  }
  uv_close((uv_handle_t *)&j->defer, on_job_closed);
  r->on_done(r);
}

/* Fails the request with a short text (one or two lines). */
static void job_fail(struct vcs_job *j, int status, const char *fmt, ...) {
  struct vcs_get *r = j->r;
  char text[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  vcs_scrub(text);
  r->status = status;
  free(r->body);
  r->body = strdup(text);
  r->len = r->body != NULL ? strlen(r->body) : 0;
  job_done(j);
}

static void set_origin(struct vcs_job *j, const char *ref, const char *hash) {
  snprintf(j->r->origin, sizeof j->r->origin, "%s %s %s", j->loc.shown,
           ref != NULL && ref[0] != '\0' ? ref : "-", hash);
}

static void on_recorded(uv_work_t *w, int status) {
  struct vcs_job *j = w->data;
  job_done(j);
}

static void on_record(uv_work_t *w) {
  struct vcs_job *j = w->data;
  store_provenance_put(j->v->store, j->r->module, j->version, j->loc.shown,
                       j->info.ref, j->info.hash);
}

/* A 200 answer: record where the version came from, then answer. */
static void succeed(struct vcs_job *j) {
  j->r->status = 200;
  if (j->version[0] == '\0' || j->info.hash[0] == '\0') {
    job_done(j);
    return;
  }
  job_state(j, VJ_RECORD);
  j->work.data = j;
  if (uv_queue_work(j->v->loop, &j->work, on_record, on_recorded) < 0)
    job_done(j);
}

/* ---- zips --------------------------------------------------------------- */

static void on_built(uv_work_t *w, int status) {
  struct vcs_job *j = w->data;
  if (j->work_rc < 0) {
    job_fail(j, j->work_rc == -E2BIG ? 410 : 502,
             "%s@%s: %s (from %s at %.12s)\n", j->r->module, j->r->version,
             j->err, j->loc.shown, j->plan.hash);
    return;
  }
  succeed(j);
}

static void on_build(uv_work_t *w) {
  struct vcs_job *j = w->data;
  j->work_rc = vcs_zip_build(j->archive_fd, j->r->module, j->r->version,
                             &j->plan, j->r->fd, j->err, sizeof j->err);
}

static void on_archived(struct git_cmd *c) {
  struct vcs_job *j = c->data;
  char cmd[256];
  snprintf(cmd, sizeof cmd, "git archive --format=zip %.12s%s%s", j->plan.hash,
           j->plan.subdir[0] != '\0' ? " -- " : "", j->plan.subdir);
  attempt(j, cmd, c->rc < 0 ? c->rc : (long)c->exit_status, c->ms, NULL);
  if (c->rc < 0 || c->exit_status != 0) {
    char line[512];
    vcs_last_line(c->err, line, sizeof line);
    int nf = strstr(c->err, "did not match any files") != NULL;
    git_cmd_dispose(c);
    job_fail(j,
             nf                    ? 404
             : c->rc == -ETIMEDOUT ? 504
                                   : 502,
             "%s@%s: git archive failed in the mirror of %s: %s\n",
             j->r->module, j->r->version, j->loc.shown,
             c->rc == -ETIMEDOUT ? "timed out" : line);
    return;
  }
  git_cmd_dispose(c);
  job_state(j, VJ_BUILD);
  j->work.data = j;
  if (uv_queue_work(j->v->loop, &j->work, on_build, on_built) < 0)
    job_fail(j, 503, "modproxy could not queue the zip build; retry\n");
}

static void start_archive(struct vcs_job *j) {
  char path[sizeof j->v->tmp_dir + 32];
  snprintf(path, sizeof path, "%s/archive-XXXXXX", j->v->tmp_dir);
  j->archive_fd = mkstemp(path);
  if (j->archive_fd < 0) {
    job_fail(j, 503, "modproxy cannot stage a git archive: %s\n",
             strerror(errno));
    return;
  }
  unlink(path);
  job_state(j, VJ_ARCHIVE);
  memset(&j->cmd, 0, sizeof j->cmd);
  const char **a = j->cmd.argv;
  int k = 0;
  a[k++] = "git";
  a[k++] = "-c";
  a[k++] = "core.autocrlf=input";
  a[k++] = "-c";
  a[k++] = "core.eol=lf";
  a[k++] = "archive";
  a[k++] = "--format=zip";
  a[k++] = "--prefix=prefix/";
  a[k++] = j->plan.hash;
  if (j->plan.subdir[0] != '\0') {
    a[k++] = "--";
    a[k++] = j->plan.subdir;
  }
  a[k] = NULL;
  j->cmd.cwd = j->repo->dir;
  j->cmd.out_fd = j->archive_fd;
  j->cmd.timeout_ms = VCS_ARCHIVE_TIMEOUT_MS;
  j->cmd.on_exit = on_archived;
  j->cmd.data = j;
  if (git_cmd_start(j->v->git, &j->cmd) < 0)
    job_fail(j, 502, "modproxy could not start git archive\n");
}

/* ---- resolving ---------------------------------------------------------- */

static void resolve(struct vcs_job *j);
static void refresh(struct vcs_job *j);

static void on_git(struct git_cmd *c) {
  struct vcs_job *j = c->data;
  struct vcs_memo *m = &j->memo;
  char cmd[512];
  git_cmd_describe(c, cmd, sizeof cmd);
  attempt(j, cmd, c->rc < 0 ? c->rc : (long)c->exit_status, c->ms, NULL);
  struct vcs_memo_entry *e = &m->v[m->n];
  e->key = strdup(j->ctx.need.key);
  e->status = c->rc < 0 ? c->rc : (int)c->exit_status;
  e->out = c->out != NULL ? c->out : strdup("");
  e->len = c->out != NULL ? c->out_len : 0;
  e->err = strdup(c->err);
  c->out = NULL;
  if (e->key == NULL || e->out == NULL || e->err == NULL) {
    free(e->key);
    free(e->out);
    free(e->err);
    job_fail(j, 503, "modproxy ran out of memory\n");
    return;
  }
  m->n++;
  job_state(j, VJ_RESOLVE);
  resolve(j);
}

static void run_need(struct vcs_job *j) {
  job_state(j, VJ_GIT);
  memset(&j->cmd, 0, sizeof j->cmd);
  for (int i = 0; i <= GIT_MAX_ARGS; i++) {
    j->cmd.argv[i] = j->ctx.need.argv[i];
    if (j->ctx.need.argv[i] == NULL)
      break;
  }
  j->cmd.cwd = j->repo->dir;
  j->cmd.out_fd = -1;
  j->cmd.max_out = j->ctx.need.max_out;
  j->cmd.timeout_ms = VCS_LOCAL_TIMEOUT_MS;
  j->cmd.on_exit = on_git;
  j->cmd.data = j;
  if (git_cmd_start(j->v->git, &j->cmd) < 0)
    job_fail(j, 502, "modproxy could not start git\n");
}

/* The resolver's answer becomes the request's body. */
static int answer(struct vcs_job *j, char *body, size_t len) {
  if (body == NULL) {
    job_fail(j, 503, "modproxy ran out of memory\n");
    return -1;
  }
  free(j->r->body);
  j->r->body = body;
  j->r->len = len;
  return 0;
}

static void resolve(struct vcs_job *j) {
  struct vcs_get *r = j->r;
  struct vcs_ctx *c = &j->ctx;
  int rc = vcs_ctx_init(c, r->module, j->loc.root, j->refs, &j->memo);
  char *body = NULL;
  size_t len = 0;
  if (rc == 0) {
    switch (r->what) {
    case VCS_LIST: rc = vcs_resolve_list(c, &body, &len); break;
    case VCS_LATEST: rc = vcs_resolve_latest(c, &j->info); break;
    case VCS_INFO: rc = vcs_resolve_stat(c, r->version, &j->info); break;
    case VCS_MOD: rc = vcs_resolve_gomod(c, r->version, &body, &len); break;
    case VCS_ZIP:
      free(j->plan.license);
      memset(&j->plan, 0, sizeof j->plan);
      rc = vcs_resolve_zip(c, r->version, &j->plan);
      break;
    }
  }
  if (rc == -EAGAIN) {
    run_need(j);
    return;
  }
  if (rc < 0) {
    free(body);
    /* Not found on a snapshot that is not fresh: ask the host once. */
    if (c->status == 404 && !j->refreshed) {
      refresh(j);
      return;
    }
    job_fail(j, c->status != 0 ? c->status : 502,
             "%s\nmodproxy resolved %s from the git repository %s\n", c->err,
             r->module, j->loc.shown);
    return;
  }
  switch (r->what) {
  case VCS_LIST:
    if (answer(j, body, len) == 0) {
      set_origin(j, "", "-");
      succeed(j);
    }
    return;
  case VCS_LATEST:
  case VCS_INFO:
    body = vcs_info_json(&j->info, j->loc.shown, c->code_dir, &len);
    if (answer(j, body, len) == 0) {
      snprintf(j->version, sizeof j->version, "%s", j->info.version);
      set_origin(j, j->info.ref, j->info.hash);
      succeed(j);
    }
    return;
  case VCS_MOD:
    if (answer(j, body, len) == 0) {
      /* The .info of the version says which commit (memoised). */
      struct vcs_info info;
      if (vcs_resolve_stat(c, r->version, &info) == 0)
        j->info = info;
      snprintf(j->version, sizeof j->version, "%s", r->version);
      set_origin(j, j->info.ref, j->info.hash[0] != '\0' ? j->info.hash : "-");
      succeed(j);
    }
    return;
  case VCS_ZIP: {
    struct vcs_info info;
    if (vcs_resolve_stat(c, r->version, &info) == 0)
      j->info = info;
    snprintf(j->version, sizeof j->version, "%s", r->version);
    set_origin(j, j->info.ref, j->plan.hash);
    start_archive(j);
    return;
  }
  }
}

static void on_refreshed(struct vcs_repo_waiter *w, int status,
                         const char *why) {
  struct vcs_job *j =
      (struct vcs_job *)((char *)w - offsetof(struct vcs_job, waiter));
  attempt(j, "refresh mirror (git ls-remote, git fetch)", status,
          uv_now(j->v->loop) - j->step_start_ms, j->repo->attempts);
  if (status != 200) {
    const char *m = j->r->module;
    job_fail(j, status, "%s %s: %s\n%s", kind_of(j->r), m, why,
             status == 404 ? "Check the module path, and modproxy's "
                             "--git-route for it.\n"
                           : "");
    return;
  }
  vcs_refs_unref(j->refs);
  j->refs = vcs_refs_ref(j->repo->refs);
  /* Answers computed on the old snapshot may be stale. */
  vcs_memo_dispose(&j->memo);
  job_state(j, VJ_RESOLVE);
  resolve(j);
}

static void refresh(struct vcs_job *j) {
  job_state(j, VJ_REFRESH);
  j->refreshed = 1;
  j->step_start_ms = uv_now(j->v->loop);
  j->waiter.cb = on_refreshed;
  vcs_repo_refresh(j->repo, j->v->loop, &j->waiter);
}

/* The location is known (j->repo): resolve, refreshing first if needed. */
static void begin(struct vcs_job *j) {
  const struct vcs_get *r = j->r;
  struct vcs_repo *repo = j->repo;
  int fresh = repo->refs != NULL && repo->fetched &&
              uv_now(j->v->loop) - repo->refreshed_ms < VCS_REFS_FRESH_MS;
  int versioned = r->canonical && r->what != VCS_LIST && r->what != VCS_LATEST;
  if (fresh || (versioned && repo->refs != NULL && repo->fetched)) {
    /* Mark fresh snapshots as refreshed: a 404 there is final. */
    j->refreshed = fresh;
    j->refs = vcs_refs_ref(repo->refs);
    job_state(j, VJ_RESOLVE);
    resolve(j);
    return;
  }
  refresh(j);
}

/* ---- discovery ---------------------------------------------------------- */

static const struct vcs_location *disc_lookup(struct proxy_vcs *v,
                                              const char *module) {
  uint64_t now = uv_now(v->loop);
  for (struct disc_entry **p = &v->discovered; *p != NULL;) {
    struct disc_entry *e = *p;
    if (e->expires_ms <= now) { /* expired: drop it */
      *p = e->next;
      free(e->module);
      free(e);
      continue;
    }
    if (strcmp(e->module, module) == 0)
      return &e->loc;
    p = &e->next;
  }
  return NULL;
}

static void disc_remember(struct proxy_vcs *v, const char *module,
                          const struct vcs_location *loc) {
  struct disc_entry *e = calloc(1, sizeof *e);
  if (e == NULL || (e->module = strdup(module)) == NULL) {
    free(e);
    return;
  }
  e->loc = *loc;
  e->expires_ms = uv_now(v->loop) + VCS_DISCOVER_TTL_MS;
  e->next = v->discovered;
  v->discovered = e;
  size_t n = 0;
  for (struct disc_entry **p = &v->discovered; *p != NULL; p = &(*p)->next) {
    if (++n == VCS_DISCOVER_CACHE_MAX) { /* drop the oldest */
      struct disc_entry *old = (*p)->next;
      (*p)->next = NULL;
      while (old != NULL) {
        struct disc_entry *x = old->next;
        free(old->module);
        free(old);
        old = x;
      }
      break;
    }
  }
}

static void on_discovered(struct vcs_discovery *d) {
  struct vcs_job *j = d->data;
  if (j->v == NULL)
    return; /* shutting down */
  for (int i = 0; i < d->nsteps; i++) {
    char cmd[VCS_MAX_URL_BYTES + 8];
    snprintf(cmd, sizeof cmd, "GET %s", d->steps[i].url);
    attempt(j, cmd, d->steps[i].status, d->steps[i].ms, NULL);
  }
  const char *m = j->r->module;
  if (d->status != 0) {
    j->r->no_route = 1;
    job_fail(j, d->status,
             "%s %s: no --git-route matches it, and discovery "
             "failed: %s\nThe proxy's operators can add --git-route "
             "'PATTERN=URL' for it.\n",
             kind_of(j->r), m, d->err);
    return;
  }
  j->loc = d->loc;
  disc_remember(j->v, m, &j->loc);
  check_location(j);
}

/* The next loop turn after proxy_vcs_start. */
static void on_start(uv_timer_t *t) {
  struct vcs_job *j = t->data;
  if (j->r->status != 0) { /* failed while starting */
    job_done(j);
    return;
  }
  if (j->discovering) {
    job_state(j, VJ_DISCOVER);
    j->disc.fetcher = j->v->fetcher;
    j->disc.loop = j->v->loop;
    j->disc.module = j->r->module;
    j->disc.policy = j->r->direct ? &j->v->policy : NULL;
    j->disc.on_done = on_discovered;
    j->disc.data = j;
    int rc = vcs_discover_start(&j->disc);
    if (rc < 0) {
      j->r->no_route = 1;
      job_fail(j, 502,
               "%s %s: no --git-route matches it, and modproxy "
               "could not start discovery: %s\n",
               kind_of(j->r), j->r->module, strerror(-rc));
    }
    return;
  }
  check_location(j);
}

int proxy_vcs_start(struct proxy_vcs *v, struct vcs_get *r) {
  if (v == NULL)
    return -ECANCELED;
  struct vcs_job *j = calloc(1, sizeof *j);
  if (j == NULL)
    return -ENOMEM;
  j->v = v;
  j->r = r;
  j->archive_fd = -1;
  r->status = 0;
  r->body = NULL;
  r->len = 0;
  r->attempts = NULL;
  r->origin[0] = '\0';
  j->json = open_memstream(&j->json_buf, &j->json_len);
  if (j->json != NULL)
    fputc('[', j->json);
  char err[512];
  int rc = vcs_route(v->cfg.git_routes, r->module, &j->loc, err, sizeof err);
  if (rc == -ENOENT) {
    /* No route: the go command's discovery, unless the path cannot have
     * a go-get page (no host name first). */
    char url[VCS_MAX_URL_BYTES];
    const struct vcs_location *known = disc_lookup(v, r->module);
    if (known != NULL) {
      j->loc = *known;
      rc = 0;
    } else if (vcs_discover_url(r->module, url, sizeof url) == 0) {
      j->discovering = 1;
      rc = 0;
    }
  }
  if (rc < 0) {
    char text[1024];
    snprintf(text, sizeof text,
             "%s %s: %s\nThe proxy's operators can add "
             "--git-route 'PATTERN=URL' for it.\n",
             kind_of(r), r->module, err);
    r->status = rc == -ENOENT ? 404 : 502;
    r->no_route = rc == -ENOENT;
    r->body = strdup(text);
    r->len = r->body != NULL ? strlen(r->body) : 0;
  }
  uv_timer_init(v->loop, &j->defer);
  j->defer.data = j;
  uv_timer_start(&j->defer, on_start, 0, 0);
  j->next = v->jobs;
  v->jobs = j;
  return 0;
}
