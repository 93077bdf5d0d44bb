/*
 * The git process runner (see git.h).
 *
 *   git_cmd_start
 *        |  a slot is free                  no free slot
 *        +------------------+    +--------------------------+
 *                           v    v                          |
 *                       RUNNING  QUEUED --(a slot frees)----+
 *                           |
 *                           | exit reaped, both pipes closed, timer closed
 *                           v
 *                         DONE  -> on_exit
 *
 * Each child is its own session and process-group leader (setsid through
 * UV_PROCESS_DETACHED, without uv_unref), so a timeout or an over-long
 * output kills git and every helper it started (ssh, git-remote-http,
 * credential helpers) with one kill(-pid). The child never sees a
 * terminal: stdin is /dev/null, it has no controlling terminal after
 * setsid, and the environment forbids prompts (GIT_TERMINAL_PROMPT=0, SSH
 * BatchMode); the host's credential helpers, keys and .netrc still work.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "git.h"

extern char **environ;

/* Environment entries the runner adds or replaces. */
#define GIT_MAX_EXTRA_ENV 16
/* Bytes read from a pipe at a time. */
#define GIT_READ_BYTES (64u << 10)

struct git_runner {
  uv_loop_t *loop;
  char **env; /* NULL-terminated, heap */
  int running;
  struct git_cmd *queue_head, *queue_tail;
  struct git_cmd *active; /* running, linked through next */
  int closing;
};

static void cmd_state(struct git_cmd *c, enum git_cmd_state to) {
  static const unsigned allowed[] = {
      [GIT_CMD_IDLE] = 1u << GIT_CMD_QUEUED | 1u << GIT_CMD_RUNNING,
      [GIT_CMD_QUEUED] = 1u << GIT_CMD_RUNNING | 1u << GIT_CMD_DONE,
      [GIT_CMD_RUNNING] = 1u << GIT_CMD_DONE,
      [GIT_CMD_DONE] = 0,
  };
  if ((allowed[c->state] & (1u << to)) == 0) {
    fprintf(stderr, "git: illegal transition %d -> %d\n", c->state, to);
    abort();
  }
  c->state = to;
}

char **git_env_new(const char *const *extra) {
  size_t n = 0, k = 0;
  while (environ[n] != NULL)
    n++;
  while (extra != NULL && extra[k] != NULL && k < GIT_MAX_EXTRA_ENV)
    k++;
  char **env = calloc(n + k + 1, sizeof *env);
  if (env == NULL)
    return NULL;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    int replaced = 0;
    for (size_t j = 0; j < k && !replaced; j++) {
      size_t name = strcspn(extra[j], "=");
      replaced = strncmp(environ[i], extra[j], name + 1) == 0;
    }
    if (!replaced)
      env[m++] = strdup(environ[i]);
  }
  for (size_t j = 0; j < k; j++)
    env[m++] = strdup(extra[j]);
  for (size_t i = 0; i < m; i++) {
    if (env[i] == NULL) {
      for (size_t x = 0; x < m; x++)
        free(env[x]);
      free(env);
      return NULL;
    }
  }
  return env;
}

int git_runner_new(uv_loop_t *loop, const char *const *extra_env,
                   struct git_runner **out) {
  struct git_runner *r = calloc(1, sizeof *r);
  if (r == NULL)
    return -ENOMEM;
  r->loop = loop;
  r->env = git_env_new(extra_env);
  if (r->env == NULL) {
    free(r);
    return -ENOMEM;
  }
  *out = r;
  return 0;
}

static void kill_group(struct git_cmd *c) {
  if (c->proc.pid > 0 && !c->exited)
    kill(-c->proc.pid, SIGKILL);
}

void git_runner_free(struct git_runner *r) {
  if (r == NULL)
    return;
  r->closing = 1;
  r->queue_head = r->queue_tail = NULL;
  for (struct git_cmd *c = r->active; c != NULL; c = c->next)
    kill_group(c);
  /* SIGKILL cannot be ignored: each exit arrives promptly. */
  while (r->active != NULL)
    uv_run(r->loop, UV_RUN_ONCE);
  git_env_free(r->env);
  free(r);
}

void git_env_free(char **env) {
  for (char **e = env; e != NULL && *e != NULL; e++)
    free(*e);
  free(env);
}

static void start_next(struct git_runner *r);

static void unlink_active(struct git_runner *r, struct git_cmd *c) {
  for (struct git_cmd **p = &r->active; *p != NULL; p = &(*p)->next) {
    if (*p == c) {
      *p = c->next;
      break;
    }
  }
  c->next = NULL;
}

static void on_handle_closed(uv_handle_t *h) {
  struct git_cmd *c = h->data;
  if (--c->open_handles > 0)
    return;
  struct git_runner *r = c->runner;
  unlink_active(r, c);
  r->running--;
  cmd_state(c, GIT_CMD_DONE);
  if (!r->closing) {
    c->on_exit(c);
    start_next(r);
  }
}

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h))
    uv_close(h, on_handle_closed);
}

/* Ends the run once the process exited and both pipes hit EOF. */
static void maybe_finish(struct git_cmd *c) {
  if (!c->exited || !uv_is_closing((uv_handle_t *)&c->err_pipe) ||
      (c->out_fd < 0 && !uv_is_closing((uv_handle_t *)&c->out_pipe)))
    return;
  close_handle((uv_handle_t *)&c->timer);
  close_handle((uv_handle_t *)&c->proc);
}

static void fail_and_kill(struct git_cmd *c, int rc) {
  if (c->rc == 0)
    c->rc = rc;
  kill_group(c);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  struct git_cmd *c = p->data;
  c->exited = 1;
  c->exit_status = status;
  c->term_signal = sig;
  c->ms = uv_now(c->runner->loop) - c->start_ms;
  /* Helpers left in the group (a stuck ssh) would hold the pipes open. */
  kill(-p->pid, SIGKILL);
  maybe_finish(c);
}

static void on_timeout(uv_timer_t *t) {
  struct git_cmd *c = t->data;
  fail_and_kill(c, -ETIMEDOUT);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  struct git_cmd *c = h->data;
  if ((uv_pipe_t *)h == &c->err_pipe) {
    static char scratch[GIT_STDERR_BYTES];
    buf->base = scratch;
    buf->len = sizeof scratch;
    return;
  }
  if (c->out_cap - c->out_len < GIT_READ_BYTES / 4) {
    size_t cap = c->out_cap == 0 ? GIT_READ_BYTES : c->out_cap * 2;
    if (cap > c->max_out + GIT_READ_BYTES)
      cap = c->max_out + GIT_READ_BYTES;
    char *p = cap > c->out_cap ? realloc(c->out, cap + 1) : NULL;
    if (p != NULL) {
      c->out = p;
      c->out_cap = cap;
    }
  }
  buf->base = c->out != NULL ? c->out + c->out_len : NULL;
  buf->len = c->out != NULL ? c->out_cap - c->out_len : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  struct git_cmd *c = s->data;
  if (n == 0)
    return;
  if (n < 0) {
    if (n == UV_ENOBUFS && c->rc == 0) /* no buffer: out of memory */
      fail_and_kill(c, -ENOMEM);
    uv_read_stop(s);
    close_handle((uv_handle_t *)s);
    maybe_finish(c);
    return;
  }
  if ((uv_pipe_t *)s == &c->err_pipe) {
    /* Keep the tail: git's last lines say what failed. */
    size_t room = sizeof c->err - 1;
    size_t take = (size_t)n > room ? room : (size_t)n;
    const char *src = buf->base + (size_t)n - take;
    if (c->err_len + take > room) {
      size_t drop = c->err_len + take - room;
      memmove(c->err, c->err + drop, c->err_len - drop);
      c->err_len -= drop;
    }
    memcpy(c->err + c->err_len, src, take);
    c->err_len += take;
    c->err[c->err_len] = '\0';
    return;
  }
  c->out_len += (size_t)n;
  c->out[c->out_len] = '\0';
  if (c->out_len > c->max_out)
    fail_and_kill(c, -E2BIG);
}

static int spawn(struct git_cmd *c) {
  struct git_runner *r = c->runner;
  uv_loop_t *loop = r->loop;
  uv_stdio_container_t stdio[3];
  c->open_handles = 0;
  uv_pipe_init(loop, &c->err_pipe, 0);
  c->err_pipe.data = c;
  c->open_handles++;
  stdio[0].flags = UV_IGNORE;
  if (c->out_fd >= 0) {
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = c->out_fd;
  } else {
    uv_pipe_init(loop, &c->out_pipe, 0);
    c->out_pipe.data = c;
    c->open_handles++;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&c->out_pipe;
  }
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&c->err_pipe;
  uv_process_options_t o = {
      .exit_cb = on_exit_cb,
      .file = c->argv[0],
      .args = (char **)c->argv,
      .env = c->env != NULL ? (char **)c->env : r->env,
      .cwd = c->cwd,
      .flags = UV_PROCESS_DETACHED,
      .stdio_count = 3,
      .stdio = stdio,
  };
  c->proc.data = c;
  c->start_ms = uv_now(loop);
  int rc = uv_spawn(loop, &c->proc, &o);
  if (rc < 0) {
    /* The process handle must be closed even when spawn fails. */
    c->exited = 1;
    c->rc = rc;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles += 2;
    close_handle((uv_handle_t *)&c->proc);
    close_handle((uv_handle_t *)&c->timer);
    close_handle((uv_handle_t *)&c->err_pipe);
    if (c->out_fd < 0)
      close_handle((uv_handle_t *)&c->out_pipe);
    return 0; /* on_exit reports it */
  }
  c->open_handles++;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->open_handles++;
  uv_timer_start(&c->timer, on_timeout, c->timeout_ms, 0);
  uv_read_start((uv_stream_t *)&c->err_pipe, on_alloc, on_read);
  if (c->out_fd < 0)
    uv_read_start((uv_stream_t *)&c->out_pipe, on_alloc, on_read);
  return 0;
}

static void run(struct git_runner *r, struct git_cmd *c) {
  cmd_state(c, GIT_CMD_RUNNING);
  r->running++;
  c->next = r->active;
  r->active = c;
  spawn(c);
}

static void start_next(struct git_runner *r) {
  while (r->running < GIT_MAX_PROCS && r->queue_head != NULL) {
    struct git_cmd *c = r->queue_head;
    r->queue_head = c->next;
    if (r->queue_head == NULL)
      r->queue_tail = NULL;
    c->next = NULL;
    run(r, c);
  }
}

int git_cmd_start(struct git_runner *r, struct git_cmd *c) {
  if (r->closing)
    return -ECANCELED;
  if (c->argv[0] == NULL || c->on_exit == NULL)
    return -EINVAL;
  c->runner = r;
  c->rc = 0;
  c->exited = 0;
  c->exit_status = -1;
  c->term_signal = 0;
  c->out = NULL;
  c->out_len = c->out_cap = 0;
  c->err[0] = '\0';
  c->err_len = 0;
  c->state = GIT_CMD_IDLE;
  c->next = NULL;
  if (r->running < GIT_MAX_PROCS) {
    run(r, c);
    return 0;
  }
  cmd_state(c, GIT_CMD_QUEUED);
  if (r->queue_tail != NULL)
    r->queue_tail->next = c;
  else
    r->queue_head = c;
  r->queue_tail = c;
  return 0;
}

void git_cmd_dispose(struct git_cmd *c) {
  free(c->out);
  c->out = NULL;
  c->out_len = c->out_cap = 0;
}

void git_cmd_describe(const struct git_cmd *c, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < GIT_MAX_ARGS && c->argv[i] != NULL && len + 1 < cap;
       i++) {
    int n =
        snprintf(out + len, cap - len, "%s%s", i > 0 ? " " : "", c->argv[i]);
    if (n < 0)
      break;
    len += (size_t)n;
  }
}
