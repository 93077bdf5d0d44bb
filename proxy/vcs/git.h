/*
 * Running the system git without blocking the loop: uv_spawn with an exit
 * callback, a timeout that kills the whole process group, bounded output
 * capture, never interactive, and at most GIT_MAX_PROCS processes at once
 * (the rest wait in a FIFO queue). Private to proxy/.
 */
#ifndef PROXY_GIT_H
#define PROXY_GIT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Concurrent git processes: each fetch holds a connection to a git host
 * and some CPU; more than this queue. */
#define GIT_MAX_PROCS 8
/* Arguments of one git command, "git" included. */
#define GIT_MAX_ARGS 24
/* Standard error kept per command: enough for git's last few lines, which
 * say what went wrong. */
#define GIT_STDERR_BYTES 4096

struct git_runner;
struct git_cmd;
typedef void (*git_cmd_cb)(struct git_cmd *c);

enum git_cmd_state {
  GIT_CMD_IDLE,    /* not started */
  GIT_CMD_QUEUED,  /* waiting for a process slot */
  GIT_CMD_RUNNING, /* spawned; waiting for exit and the pipes to close */
  GIT_CMD_DONE,    /* reaped, handles closed, on_exit ran or runs now */
};

/** One git command. The caller owns and embeds it; it stays put until
 *  on_exit runs (exactly once, on the loop thread, never from inside
 *  git_cmd_start). */
struct git_cmd {
  /* in */
  const char *cwd; /**< borrowed until on_exit; NULL: inherit */
  const char *argv[GIT_MAX_ARGS + 1]; /**< borrowed, NULL-terminated,
                                          argv[0] == "git" */
  int out_fd;          /**< >= 0: stdout goes to this file; else captured */
  size_t max_out;      /**< captured stdout past this: killed, -E2BIG */
  uint64_t timeout_ms; /**< whole run; past it the group is killed */
  /** NULL: the runner's environment; else the whole environment of this
   *  command (from git_env_new), borrowed until on_exit. */
  char *const *env;
  git_cmd_cb on_exit;
  void *data;
  /* out */
  int rc;              /**< 0: it ran (see exit_status); -ETIMEDOUT,
                            -E2BIG, -ECANCELED, or a spawn error */
  int64_t exit_status; /**< git's exit code (valid when rc == 0) */
  int term_signal;
  char *out; /**< heap, NUL-terminated captured stdout, or NULL */
  size_t out_len;
  char err[GIT_STDERR_BYTES]; /**< the last bytes of stderr, NUL-terminated */
  size_t err_len;
  uint64_t ms; /**< wall time from spawn to exit */
  /* private */
  enum git_cmd_state state;
  struct git_runner *runner;
  struct git_cmd *next;
  uv_process_t proc;
  uv_pipe_t out_pipe, err_pipe;
  uv_timer_t timer;
  int open_handles;
  int exited;
  size_t out_cap;
  uint64_t start_ms;
};

/** The inherited environment with extra "NAME=value" entries replacing
 *  those of the same name (copied). Heap, or NULL when out of memory. */
char **git_env_new(const char *const *extra);
/** Frees what git_env_new made. Accepts NULL. */
void git_env_free(char **env);
/** Creates a runner on loop; extra_env are "NAME=value" strings added to
 *  the inherited environment (copied). 0 or a negative errno. */
int git_runner_new(uv_loop_t *loop, const char *const *extra_env,
                   struct git_runner **out);
/** Kills every running command's process group and waits until each is
 *  reaped; queued commands are dropped. Their on_exit callbacks do not run
 *  (the server is going away). Frees the runner. Accepts NULL. */
void git_runner_free(struct git_runner *r);

/** Starts (or queues) c. 0, or a negative errno (on_exit will not run). */
int git_cmd_start(struct git_runner *r, struct git_cmd *c);
/** Frees c's captured output. Accepts a command that never started. */
void git_cmd_dispose(struct git_cmd *c);
/** The command line for messages and records: "git a b c" into out. */
void git_cmd_describe(const struct git_cmd *c, char *out, size_t cap);

#endif
