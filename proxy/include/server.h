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
/**
 * Makes SIGHUP reload the configuration: load(running, report, arg) makes a
 * new one, the server re-reads the files it names (TLS certificate and
 * key, auth file), applies it to the subsystems that keep state made from
 * settings, then swaps it in whole; on any error the running configuration
 * stays, untouched. One log line either way, and one more for the settings
 * that need a restart. A subsystem that keeps state made from a setting
 * takes the new configuration in server.c's apply step; every other
 * setting applies by being read from s->cfg when used.
 */
void proxy_server_on_reload(struct proxy_server *s, proxy_reload_cb load,
                            void *arg);
/** Runs until stopped, then releases what init acquired (the store and the
 *  record batches only if the drain finished in time: after a forced stop,
 *  worker threads may still use them); returns the process exit code. */
int proxy_server_run(struct proxy_server *s);
/** Stops accepting, lets in-flight requests finish (bounded), exits run. */
void proxy_server_stop(struct proxy_server *s);

#endif
