/*
 * The server process (proxy/, the root): it makes each folder's part,
 * registers their handlers with proxy/http, runs and stops. The one header
 * of the root; cli and main.c above it include it.
 */
#ifndef PROXY_SERVER_H
#define PROXY_SERVER_H

#include "goproxy.h"
#include "ops.h"

/* On SIGTERM, requests in flight get this long to finish. */
#define PROXY_DRAIN_TIMEOUT_MS 10000

/** Opens the store, binds (unless cfg->listen is NULL), installs signal
 *  handlers. Returns 0 or a negative
 *  errno after printing one line to stderr; on failure everything acquired
 *  has been released and every handle it opened closed (their close
 *  callbacks have run), so the caller may close the loop and free s. */
int proxy_server_init(struct proxy_server *s, uv_loop_t *loop,
                      const struct proxy_config *cfg);
/** Runs until stopped, then releases what init acquired (the store and the
 *  record batches only if the drain finished in time: after a forced stop,
 *  worker threads may still use them); returns the process exit code. */
int proxy_server_run(struct proxy_server *s);
/** Stops accepting, lets in-flight requests finish (bounded), exits run. */
void proxy_server_stop(struct proxy_server *s);

#endif
