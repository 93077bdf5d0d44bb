/*
 * Credentials from --auth-file (auth.c) and their password thread
 * (auth_checks.c). Private to proxy/http.
 */
#ifndef PROXY_AUTH_H
#define PROXY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "http.h"

struct proxy_auth;

/** Loads an auth file, with one reference. -EINVAL with "FILE:LINE: why"
 *  in err. */
int proxy_auth_load(const char *path, struct proxy_auth **out, char *err,
                    size_t errlen);
/** Takes a reference (loop thread): a reload replaces the server's
 *  credentials while checks against the old ones still run. */
struct proxy_auth *proxy_auth_hold(struct proxy_auth *a);
/** Drops a reference, freeing a at the last (loop thread). Accepts NULL. */
void proxy_auth_release(struct proxy_auth *a);

/** Who an Authorization header names, when that is quick to tell (loop
 *  thread): 1 and the user ("" for anonymous or refused) for no header, a
 *  token, a malformed header or a remembered outcome; 0 when a password
 *  must be checked first (proxy_auth_check_queue). */
int proxy_auth_cached(struct proxy_auth *a, const char *header, char *user,
                      size_t cap);
/** Checks a header's password (slow: the password thread; reads only). An
 *  unknown user name costs what a wrong password costs. */
void proxy_auth_verify(const struct proxy_auth *a, const char *header,
                       char *user, size_t cap);
/** Remembers a verified outcome (loop thread). */
void proxy_auth_remember(struct proxy_auth *a, const char *header,
                         const char *user);

/** A password check, embedded by its caller (auth_checks.c). */
struct proxy_auth_check {
  char header[256]; /**< in: the Authorization header */
  char user[64];    /**< out: who it names, "" refused */
  /** Runs once on the loop thread with the outcome (already remembered). */
  void (*on_done)(struct proxy_auth_check *chk);
  /* private */
  struct proxy_auth_check *next;
  struct proxy_auth *auth; /* checked against these (held until on_done) */
  uint64_t client;         /* hash of the client's address */
};
struct proxy_auth_checks;

/** Starts the password thread. */
int proxy_auth_checks_start(uv_loop_t *loop, struct proxy_auth_checks **out);
/** Stops it: checks not run yet end refused. Accepts NULL. Loop thread. */
void proxy_auth_checks_stop(struct proxy_auth_checks *k);
/** Queues chk (borrowed until on_done), a check against the credentials a
 *  (held until then), for the client at address peer.
 *  0, or -EBUSY: that client used its share of checks (429), -EAGAIN: too
 *  many checks wait already (503); on_done then never runs. Loop thread. */
int proxy_auth_check_queue(struct proxy_auth_checks *k, struct proxy_auth *a,
                           const char *peer, struct proxy_auth_check *chk);

#endif
