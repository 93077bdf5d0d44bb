/*
 * Access control: credentials from --auth-file (auth.c). Private to proxy/.
 */
#ifndef PROXY_AUTH_H
#define PROXY_AUTH_H

#include <stddef.h>

struct proxy_auth;

/** Loads an auth file. -EINVAL with "FILE:LINE: why" in err. */
int proxy_auth_load(const char *path, struct proxy_auth **out, char *err,
                    size_t errlen);
void proxy_auth_free(struct proxy_auth *a);

/** The remembered outcome for an Authorization header (loop thread): 1 and
 *  the user ("" for anonymous or refused) when known, 0 when it must be
 *  verified first. */
int proxy_auth_cached(struct proxy_auth *a, const char *header, char *user,
                      size_t cap);
/** Verifies a header (slow: a worker thread; reads only). */
void proxy_auth_verify(const struct proxy_auth *a, const char *header,
                       char *user, size_t cap);
/** Remembers a verified outcome (loop thread). */
void proxy_auth_remember(struct proxy_auth *a, const char *header,
                         const char *user);

/** Makes an auth-file line: kind "user" (PBKDF2 of the password) or
 *  "token" (SHA-256 of the token). Returns its length or a negative errno. */
int proxy_auth_hash_line(const char *kind, const char *name, const char *secret,
                         char *out, size_t cap);

#endif
