/*
 * Bare mirrors, one per repository URL and kind (anonymous or with the
 * proxy's credentials), under <data>/git/<sha256(kind, url)>.git,
 * and the refresh that brings one up to date with its remote:
 *
 *         vcs_repo_refresh (nothing in flight)
 *   IDLE --------------------------------------> INIT (git init --bare,
 *    ^                                             |  first time only)
 *    |                                             v
 *    |          refs unchanged                  LISTING (git ls-remote)
 *    +<-------------------------------------------+|
 *    |                                             v  refs changed
 *    +<---------------------------------------- FETCHING (git fetch --prune
 *                 every waiter is answered          heads and tags)
 *
 * One refresh per repository at a time: requests that ask while one is in
 * flight wait for it (coalescing). The refs snapshot the resolver works on
 * is what ls-remote listed (HEAD, refs/heads/.., refs/tags/.., annotated
 * tags peeled), exactly what the go command reads; the fetch brings the
 * mirror's objects and refs to the same state. The URL is passed on the
 * command line, never stored in the mirror's config, so credentials in it
 * stay out of the data directory; in messages it is always redacted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "vcs_internal.h"
#include "vcs_repo.h"

static void repo_state(struct vcs_repo *r, enum vcs_repo_state to) {
  static const unsigned allowed[] = {
      [VCS_REPO_IDLE] = 1u << VCS_REPO_INIT | 1u << VCS_REPO_LISTING,
      [VCS_REPO_INIT] = 1u << VCS_REPO_LISTING | 1u << VCS_REPO_IDLE,
      [VCS_REPO_LISTING] = 1u << VCS_REPO_FETCHING | 1u << VCS_REPO_IDLE,
      [VCS_REPO_FETCHING] = 1u << VCS_REPO_IDLE,
  };
  if ((allowed[r->state] & (1u << to)) == 0) {
    fprintf(stderr, "vcs: repository %s: illegal transition %d -> %d\n",
            r->shown, r->state, to);
    abort();
  }
  r->state = to;
}

/* ---- refs --------------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
  return strcmp(((const struct vcs_ref *)a)->name,
                ((const struct vcs_ref *)b)->name);
}

int vcs_refs_parse(const char *text, size_t len, struct vcs_refs **out) {
  struct vcs_refs *r = calloc(1, sizeof *r);
  if (r == NULL)
    return -ENOMEM;
  r->refs = 1;
  size_t cap = 0;
  int rc = 0;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
    const char *line = p;
    p = nl != NULL ? nl + 1 : end;
    if (n < 42 || line[40] != '\t')
      continue;
    char name[1024];
    size_t nl2 = n - 41;
    if (nl2 >= sizeof name)
      continue;
    memcpy(name, line + 41, nl2);
    name[nl2] = '\0';
    if (strcmp(name, "HEAD") == 0) {
      memcpy(r->head, line, 40);
      r->head[40] = '\0';
      continue;
    }
    if (strncmp(name, "refs/heads/", 11) != 0 &&
        strncmp(name, "refs/tags/", 10) != 0)
      continue;
    int peeled = nl2 > 3 && strcmp(name + nl2 - 3, "^{}") == 0;
    if (peeled)
      name[nl2 - 3] = '\0';
    /* A peeled line follows its tag: replace the tag object's hash. */
    if (peeled && r->n > 0 && strcmp(r->v[r->n - 1].name, name) == 0) {
      memcpy(r->v[r->n - 1].hash, line, 40);
      continue;
    }
    if (r->n >= VCS_MAX_REFS) {
      rc = -E2BIG;
      break;
    }
    if (r->n == cap) {
      cap = cap == 0 ? 64 : cap * 2;
      struct vcs_ref *v = realloc(r->v, cap * sizeof *v);
      if (v == NULL) {
        rc = -ENOMEM;
        break;
      }
      r->v = v;
    }
    r->v[r->n].name = strdup(name);
    if (r->v[r->n].name == NULL) {
      rc = -ENOMEM;
      break;
    }
    memcpy(r->v[r->n].hash, line, 40);
    r->v[r->n].hash[40] = '\0';
    r->n++;
  }
  if (rc < 0) {
    vcs_refs_unref(r);
    return rc;
  }
  if (r->n > 0)
    qsort(r->v, r->n, sizeof *r->v, by_name);
  *out = r;
  return 0;
}

struct vcs_refs *vcs_refs_ref(struct vcs_refs *r) {
  if (r != NULL)
    r->refs++;
  return r;
}

void vcs_refs_unref(struct vcs_refs *r) {
  if (r == NULL || --r->refs > 0)
    return;
  for (size_t i = 0; i < r->n; i++)
    free(r->v[i].name);
  free(r->v);
  free(r);
}

const char *vcs_refs_get(const struct vcs_refs *r, const char *name) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->v[mid].name, name);
    if (c == 0)
      return r->v[mid].hash;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

int vcs_refs_same(const struct vcs_refs *a, const struct vcs_refs *b) {
  if (a == NULL || b == NULL || a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++) {
    if (strcmp(a->v[i].name, b->v[i].name) != 0 ||
        strcmp(a->v[i].hash, b->v[i].hash) != 0)
      return 0;
  }
  return 1;
}

/* ---- git's complaints, for people --------------------------------------- */

/* Removes "user:password@" after every "://" in text (in place). */
void vcs_scrub(char *text) {
  for (char *p = strstr(text, "://"); p != NULL; p = strstr(p + 3, "://")) {
    char *host = p + 3;
    size_t n = strcspn(host, "/ \t\n'\"");
    char *at = NULL;
    for (size_t i = 0; i < n; i++) {
      if (host[i] == '@')
        at = host + i;
    }
    if (at != NULL)
      memmove(host, at + 1, strlen(at + 1) + 1);
  }
}

/* The last non-empty line of git's stderr ("fatal: ..."), scrubbed. */
void vcs_last_line(const char *err, char *out, size_t cap) {
  char buf[GIT_STDERR_BYTES];
  snprintf(buf, sizeof buf, "%s", err);
  size_t n = strlen(buf);
  while (n > 0 &&
         (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    buf[--n] = '\0';
  char *line = strrchr(buf, '\n');
  line = line != NULL ? line + 1 : buf;
  vcs_scrub(line);
  snprintf(out, cap, "%s", line);
}

static int contains(const char *hay, const char *needle) {
  return strcasestr(hay, needle) != NULL;
}

/* The line of git's stderr that says what failed: the first "fatal:" line
 * (git follows it with advice, such as "Please make sure you have the
 * correct access rights\nand the repository exists."), else the last. */
static void cause_line(const char *err, char *out, size_t cap) {
  const char *f = strstr(err, "fatal:");
  while (f != NULL && f != err && f[-1] != '\n')
    f = strstr(f + 1, "fatal:");
  if (f == NULL) {
    vcs_last_line(err, out, cap);
    return;
  }
  char line[GIT_STDERR_BYTES];
  snprintf(line, sizeof line, "%.*s", (int)strcspn(f, "\r\n"), f);
  vcs_last_line(line, out, cap);
}

/* Classifies a failed network git command: status and a short reason. A
 * repository that does not exist is told apart before "Could not read from
 * remote repository", which git prints for it too (file://, ssh). */
static void classify(const struct vcs_repo *r, const struct git_cmd *c,
                     int *status, char *out, size_t cap) {
  /* git's line saying what failed, in parentheses; not for an anonymous
   * repository, whose host (chosen by a client) may say anything. */
  char line[512], why[520] = "";
  cause_line(c->err, line, sizeof line);
  if (!r->anonymous && line[0] != '\0')
    snprintf(why, sizeof why, " (%s)", line);
  const char *e = c->err;
  enum vcs_git_error cause = VCS_GIT_OTHER;
  if (c->rc == -ETIMEDOUT) {
    cause = VCS_GIT_TIMEOUT;
    *status = 504;
    snprintf(out, cap,
             "git timed out after %llu s talking to %s; the git host is "
             "slow or unreachable",
             (unsigned long long)(c->timeout_ms / 1000), r->shown);
  } else if (c->rc == -E2BIG) {
    cause = VCS_GIT_OUTPUT;
    *status = 502;
    snprintf(out, cap,
             "git printed more than modproxy reads for %s (too many refs, or "
             "a misbehaving host); it was stopped",
             r->shown);
  } else if (c->rc < 0) {
    cause = VCS_GIT_SPAWN;
    *status = 502;
    snprintf(out, cap, "could not run git for %s: %s", r->shown,
             strerror(-c->rc));
  } else if (contains(e, "could not read Username") ||
             contains(e, "could not read Password") ||
             contains(e, "Authentication failed") ||
             contains(e, "Permission denied") ||
             contains(e, "HTTP Basic: Access denied") ||
             contains(e, "returned error: 401") ||
             contains(e, "returned error: 403") ||
             contains(e, "Host key verification failed")) {
    cause = VCS_GIT_AUTH;
    *status = 502;
    snprintf(out, cap,
             "the git host refused modproxy's credentials for %s%s; the "
             "proxy's operators must set up access",
             r->shown, why);
  } else if (contains(e, "not found") || contains(e, "does not exist") ||
             contains(e, "does not appear to be a git repository") ||
             contains(e, "not exported") ||
             contains(e, "returned error: 404") ||
             contains(e, "No such file or directory")) {
    cause = VCS_GIT_NO_REPOSITORY;
    *status = 404;
    snprintf(out, cap, "no such repository: git repository %s not found%s",
             r->shown, why);
  } else if (contains(e, "Could not resolve host") ||
             contains(e, "Connection refused") ||
             contains(e, "unable to connect") ||
             contains(e, "Failed to connect") ||
             contains(e, "Network is unreachable") ||
             contains(e, "No route to host") ||
             contains(e, "Connection timed out") ||
             contains(e, "unable to look up") ||
             contains(e, "Could not read from remote repository")) {
    cause = VCS_GIT_UNREACHABLE;
    *status = 502;
    snprintf(out, cap, "cannot reach the git host of %s%s", r->shown, why);
  } else {
    *status = 502;
    snprintf(out, cap, "git failed for %s%s", r->shown, why);
  }
  r->table->errors[cause]++;
}

/* ---- the table of mirrors ----------------------------------------------- */

int vcs_repos_init(struct vcs_repos *t, struct git_runner *git, const char *dir,
                   const char *template_dir, uint64_t net_timeout_ms,
                   char *const *anon_env) {
  memset(t, 0, sizeof *t);
  t->anon_env = anon_env;
  t->git = git;
  t->net_timeout_ms = net_timeout_ms;
  snprintf(t->dir, sizeof t->dir, "%s", dir);
  snprintf(t->template_dir, sizeof t->template_dir, "%s", template_dir);
  return 0;
}

void vcs_repos_dispose(struct vcs_repos *t) {
  for (struct vcs_repo *r = t->head, *next; r != NULL; r = next) {
    next = r->next;
    git_cmd_dispose(&r->cmd);
    vcs_refs_unref(r->refs);
    free(r);
  }
  t->head = NULL;
}

struct vcs_repo *vcs_repo_get(struct vcs_repos *t,
                              const struct vcs_location *loc, int anonymous) {
  for (struct vcs_repo *r = t->head; r != NULL; r = r->next) {
    if (strcmp(r->url, loc->url) == 0 && r->anonymous == anonymous)
      return r;
  }
  struct vcs_repo *r = calloc(1, sizeof *r);
  if (r == NULL)
    return NULL;
  r->table = t;
  r->anonymous = anonymous;
  snprintf(r->url, sizeof r->url, "%s", loc->url);
  snprintf(r->shown, sizeof r->shown, "%s", loc->shown);
  /* Mirrors made with the proxy's credentials keep their old names. */
  char key[VCS_MAX_URL_BYTES + 16];
  snprintf(key, sizeof key, "%s%s", anonymous ? "anonymous " : "", loc->shown);
  unsigned char md[32];
  unsigned int mdlen = sizeof md;
  EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
  char hex[33];
  for (int i = 0; i < 16; i++)
    sprintf(hex + 2 * i, "%02x", md[i]);
  snprintf(r->dir, sizeof r->dir, "%s/%s.git", t->dir, hex);
  r->next = t->head;
  t->head = r;
  return r;
}

void vcs_repo_pin(struct vcs_repo *r, const char *pin) {
  snprintf(r->pin, sizeof r->pin, "%s", pin);
}

/* The start of a network git command's argv: git, and for an anonymous
 * repository with pinned addresses, the pin. Returns the next index. */
static int net_argv(struct vcs_repo *r) {
  memset(&r->cmd, 0, sizeof r->cmd);
  int k = 0;
  r->cmd.argv[k++] = "git";
  if (r->anonymous && r->pin[0] != '\0') {
    snprintf(r->pin_arg, sizeof r->pin_arg, "http.curloptResolve=%s", r->pin);
    r->cmd.argv[k++] = "-c";
    r->cmd.argv[k++] = r->pin_arg;
  }
  if (r->anonymous)
    r->cmd.env = r->table->anon_env;
  return k;
}

static void finish(struct vcs_repo *r, int status, const char *why) {
  repo_state(r, VCS_REPO_IDLE);
  struct vcs_repo_waiter *w = r->waiters;
  r->waiters = NULL;
  r->status = status;
  snprintf(r->error, sizeof r->error, "%s", why);
  if (status == 200)
    r->refreshed_ms = uv_now(r->loop);
  while (w != NULL) {
    struct vcs_repo_waiter *next = w->next;
    w->next = NULL;
    w->cb(w, status, why);
    w = next;
  }
}

static void note_cmd(struct vcs_repo *r, const struct git_cmd *c) {
  char cmd[512];
  git_cmd_describe(c, cmd, sizeof cmd);
  vcs_scrub(cmd);
  size_t n = strlen(r->attempts);
  snprintf(r->attempts + n, sizeof r->attempts - n, "%s%s => %s%lld (%llu ms)",
           n > 0 ? "\n" : "", cmd, c->rc < 0 ? "error " : "exit ",
           c->rc < 0 ? (long long)c->rc : (long long)c->exit_status,
           (unsigned long long)c->ms);
}

static void start_list(struct vcs_repo *r);

static void on_fetched(struct git_cmd *c) {
  struct vcs_repo *r = c->data;
  note_cmd(r, c);
  if (c->rc < 0 || c->exit_status != 0) {
    int status;
    char why[1024];
    classify(r, c, &status, why, sizeof why);
    vcs_refs_unref(r->pending);
    r->pending = NULL;
    git_cmd_dispose(c);
    finish(r, status, why);
    return;
  }
  git_cmd_dispose(c);
  vcs_refs_unref(r->refs);
  r->refs = r->pending;
  r->pending = NULL;
  r->fetched = 1;
  finish(r, 200, "");
}

static void on_listed(struct git_cmd *c) {
  struct vcs_repo *r = c->data;
  note_cmd(r, c);
  if (c->rc < 0 || c->exit_status != 0) {
    int status;
    char why[1024];
    classify(r, c, &status, why, sizeof why);
    git_cmd_dispose(c);
    finish(r, status, why);
    return;
  }
  struct vcs_refs *refs;
  int rc = vcs_refs_parse(c->out != NULL ? c->out : "", c->out_len, &refs);
  git_cmd_dispose(c);
  if (rc < 0) {
    finish(r, 502, "cannot read the refs git listed");
    return;
  }
  if ((r->fetched && vcs_refs_same(refs, r->refs)) || refs->n == 0) {
    /* Nothing to fetch; HEAD may still have moved. */
    vcs_refs_unref(r->refs);
    r->refs = refs;
    if (refs->n == 0)
      r->fetched = 0;
    finish(r, 200, "");
    return;
  }
  r->pending = refs;
  repo_state(r, VCS_REPO_FETCHING);
  const char **a = r->cmd.argv;
  int k = net_argv(r);
  a[k++] = "fetch";
  a[k++] = "-q";
  a[k++] = "-f";
  a[k++] = "--prune";
  a[k++] = "--no-tags";
  a[k++] = r->url;
  a[k++] = "refs/heads/*:refs/heads/*";
  a[k++] = "refs/tags/*:refs/tags/*";
  a[k] = NULL;
  r->cmd.cwd = r->dir;
  r->cmd.out_fd = -1;
  r->cmd.max_out = 1u << 16;
  r->cmd.timeout_ms = r->table->net_timeout_ms;
  r->cmd.on_exit = on_fetched;
  r->cmd.data = r;
  rc = git_cmd_start(r->table->git, &r->cmd);
  if (rc < 0) {
    vcs_refs_unref(r->pending);
    r->pending = NULL;
    finish(r, 502, "cannot start git fetch");
  }
}

static void start_list(struct vcs_repo *r) {
  repo_state(r, VCS_REPO_LISTING);
  int k = net_argv(r);
  r->cmd.argv[k++] = "ls-remote";
  r->cmd.argv[k++] = "-q";
  r->cmd.argv[k++] = r->url;
  r->cmd.argv[k] = NULL;
  r->cmd.cwd = r->dir;
  r->cmd.out_fd = -1;
  r->cmd.max_out = VCS_MAX_LIST_BYTES;
  r->cmd.timeout_ms = r->table->net_timeout_ms;
  r->cmd.on_exit = on_listed;
  r->cmd.data = r;
  if (git_cmd_start(r->table->git, &r->cmd) < 0)
    finish(r, 502, "cannot start git ls-remote");
}

static void on_init(struct git_cmd *c) {
  struct vcs_repo *r = c->data;
  note_cmd(r, c);
  if (c->rc < 0 || c->exit_status != 0) {
    char line[512];
    vcs_last_line(c->err, line, sizeof line);
    fprintf(stderr, "vcs: cannot create the mirror %s: %s\n", r->dir, line);
    git_cmd_dispose(c);
    finish(r, 502, "modproxy cannot create its git mirror; see its log");
    return;
  }
  git_cmd_dispose(c);
  r->inited = 1;
  start_list(r);
}

void vcs_repo_refresh(struct vcs_repo *r, uv_loop_t *loop,
                      struct vcs_repo_waiter *w) {
  r->loop = loop;
  w->next = r->waiters;
  r->waiters = w;
  if (r->state != VCS_REPO_IDLE)
    return; /* coalesced into the refresh in flight */
  r->attempts[0] = '\0';
  if (r->inited) {
    start_list(r);
    return;
  }
  repo_state(r, VCS_REPO_INIT);
  memset(&r->cmd, 0, sizeof r->cmd);
  snprintf(r->template_arg, sizeof r->template_arg, "--template=%s",
           r->table->template_dir);
  const char **a = r->cmd.argv;
  a[0] = "git";
  a[1] = "init";
  a[2] = "--bare";
  a[3] = "-q";
  a[4] = r->template_arg;
  a[5] = r->dir;
  a[6] = NULL;
  r->cmd.out_fd = -1;
  r->cmd.max_out = 1u << 16;
  r->cmd.timeout_ms = VCS_LOCAL_TIMEOUT_MS;
  r->cmd.on_exit = on_init;
  r->cmd.data = r;
  if (git_cmd_start(r->table->git, &r->cmd) < 0)
    finish(r, 502, "cannot start git init");
}
