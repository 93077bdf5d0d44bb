/*
 * Bare git mirrors and their coalesced refresh (vcs_repo.c). Private to the
 * vcs files of proxy/.
 */
#ifndef PROXY_VCS_REPO_H
#define PROXY_VCS_REPO_H

#include <stdint.h>

#include <uv.h>

#include "git.h"
#include "vcs.h"
#include "vcs_internal.h"

/* Local git commands (log, cat-file, merge-base) in a mirror. */
#define VCS_LOCAL_TIMEOUT_MS 60000
/* ls-remote and fetch: a large repository over a slow link takes a
 * while, a dead host must not hold a request for ever. */
#define VCS_NET_TIMEOUT_MS 120000

enum vcs_repo_state {
  VCS_REPO_IDLE,
  VCS_REPO_INIT,
  VCS_REPO_LISTING,
  VCS_REPO_FETCHING,
};

struct vcs_repo_waiter;
typedef void (*vcs_repo_cb)(struct vcs_repo_waiter *w, int status,
                            const char *why);

/** A request waiting for a refresh; embedded by the caller. cb runs once:
 *  status 200, or 404/502/504 with why (credentials removed). */
struct vcs_repo_waiter {
  struct vcs_repo_waiter *next;
  vcs_repo_cb cb;
};

struct vcs_repos;

/** One mirror. */
struct vcs_repo {
  struct vcs_repo *next;
  struct vcs_repos *table;
  uv_loop_t *loop;
  char url[VCS_MAX_URL_BYTES]; /* may hold credentials: never shown */
  char shown[VCS_MAX_URL_BYTES];
  char dir[1024];
  char template_arg[1100];
  /** A repository a client or a go-get page chose (a public module without
   *  a --git-route): git runs without the proxy's credentials and
   *  configuration (vcs_repos.anon_env), http redirects are not followed,
   *  git's messages are not quoted, and the mirror is its own. */
  int anonymous;
  char pin[1024]; /* "host:port:addrs" for http.curloptResolve, or "" */
  char pin_arg[1100];
  enum vcs_repo_state state;
  int inited;               /* git init ran in this process */
  int fetched;              /* the mirror holds r->refs' objects */
  struct vcs_refs *refs;    /* last good snapshot, or NULL */
  struct vcs_refs *pending; /* listed, being fetched */
  uint64_t refreshed_ms;    /* uv_now of the last good refresh */
  int status;               /* of the last refresh */
  char error[1024];
  char attempts[2048]; /* the last refresh's commands, scrubbed */
  struct git_cmd cmd;
  struct vcs_repo_waiter *waiters;
};

struct vcs_repos {
  struct vcs_repo *head;
  struct git_runner *git;
  char dir[1024];
  char template_dir[1024];
  uint64_t net_timeout_ms;
  char *const *anon_env;           /* for anonymous mirrors (borrowed) */
  uint64_t errors[VCS_GIT_ERRORS]; /* failed network git commands, by cause */
};

int vcs_repos_init(struct vcs_repos *t, struct git_runner *git, const char *dir,
                   const char *template_dir, uint64_t net_timeout_ms,
                   char *const *anon_env);
/** Frees every mirror's state (no refresh may be in flight). */
void vcs_repos_dispose(struct vcs_repos *t);
/** The mirror for loc->url, anonymous or not (created on first use; the two
 *  never share a directory), or NULL (no memory). */
struct vcs_repo *vcs_repo_get(struct vcs_repos *t,
                              const struct vcs_location *loc, int anonymous);
/** The addresses the next refresh connects to over http(s) (a
 *  vcs_check's pin; "" for none). */
void vcs_repo_pin(struct vcs_repo *r, const char *pin);
/** Joins or starts a refresh; w->cb runs when it ends. */
void vcs_repo_refresh(struct vcs_repo *r, uv_loop_t *loop,
                      struct vcs_repo_waiter *w);

/** Removes "user:password@" after each "://" in text, in place. */
void vcs_scrub(char *text);
/** The last non-empty line of git's stderr, scrubbed. */
void vcs_last_line(const char *err, char *out, size_t cap);

#endif
