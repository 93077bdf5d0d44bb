/*
 * Access control: the one place that decides what a client may see.
 *
 * With --auth-file, a client without valid credentials ("anonymous") may
 * not see private modules (--private), nor anything at all with
 * --auth-required all. The decision is made on the request target, before
 * any handler runs (proxy_access_check), and the same rule filters what
 * other pages show about earlier requests (proxy_access_may_see): a record
 * is about a private module when its module is private or when its target
 * names one, parsed or not (a malformed version of a private path, a
 * /diag/module view, a checksum database lookup).
 *
 * A target names a module as follows (the "subject"):
 *   /diag/module/<path>[@<version>]        <path>
 *   /sumdb/<name>/lookup/<path>@<version>  <path>
 *   /diag..., /sumdb/..., /admin/..., /metrics, /healthz, /readyz, /
 *                                          nothing
 *   anything else (GOPROXY)                the whole path
 * decoded leniently ('%XX', then '!x' as 'X'), cut at the query or the
 * first '@', without leading or trailing '/', and matched against the
 * private patterns both as decoded and in lower case: a target that cannot
 * be parsed is judged by what it could mean, so that it errs on the
 * private side. The patterns match leading path elements,
 * so "<module>/@v/<anything>" matches whatever "<module>" matches.
 *
 * Answers that needed credentials are marked (needs_credentials) so that
 * the connection never lets a shared cache keep them (conn.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "vcs.h"

#include "modproxy/gomod.h"

/* The part of target that names a module, or NULL (see the top). */
static const char *subject_of(const char *target) {
  if (strncmp(target, "/diag/module/", 13) == 0)
    return target + 13;
  if (strncmp(target, "/sumdb/", 7) == 0) {
    const char *l = strstr(target + 7, "/lookup/");
    return l != NULL ? l + 8 : NULL;
  }
  static const char *const none[] = {"/diag", "/admin/", "/metrics", "/healthz",
                                     "/readyz"};
  for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
    size_t n = strlen(none[i]);
    if (strncmp(target, none[i], n) == 0 &&
        (none[i][n - 1] == '/' || strchr("/?", target[n]) != NULL))
      return NULL;
  }
  return target[0] == '/' && target[1] != '\0' && target[1] != '?' ? target + 1
                                                                   : NULL;
}

/* Decodes the subject of target into out: '%XX', then '!x' as 'X', up to
 * the query or the first '@'; no leading or trailing '/'. "" when it names
 * nothing. */
static void subject_decode(const char *target, char *out, size_t cap) {
  const char *p = subject_of(target);
  size_t w = 0;
  for (; p != NULL && *p != '\0' && *p != '?' && *p != '#' && w + 1 < cap;
       p++) {
    int ch = (unsigned char)*p;
    if (ch == '%' && gomod_hex_digit(p[1]) >= 0 && gomod_hex_digit(p[2]) >= 0) {
      ch = gomod_hex_digit(p[1]) * 16 + gomod_hex_digit(p[2]);
      p += 2;
    }
    if (ch == '@' || ch == '\0')
      break;
    out[w++] = (char)ch;
  }
  out[w] = '\0';
  size_t r = 0, i = 0;
  while (out[i] == '/')
    i++;
  for (; i < w; i++) {
    if (out[i] == '!' && islower((unsigned char)out[i + 1]))
      out[r++] = (char)toupper((unsigned char)out[++i]);
    else
      out[r++] = out[i];
  }
  while (r > 0 && out[r - 1] == '/')
    r--;
  out[r] = '\0';
}

/* 1 when target names a private module (see the top). */
static int target_private(const struct proxy_server *s, const char *target,
                          char *subject, size_t cap) {
  subject_decode(target, subject, cap);
  if (subject[0] == '\0')
    return 0;
  if (proxy_vcs_private(s->vcs, subject))
    return 1;
  char lower[HTTP_MAX_URL_BYTES + 1];
  size_t i = 0;
  for (; subject[i] != '\0' && i + 1 < sizeof lower; i++)
    lower[i] = (char)tolower((unsigned char)subject[i]);
  lower[i] = '\0';
  return proxy_vcs_private(s->vcs, lower);
}

int proxy_access_may_see(const struct proxy_server *s, const char *user,
                         const char *module, const char *target) {
  if (s->cfg->auth_file == NULL || user[0] != '\0')
    return 1;
  if (s->cfg->auth_all)
    return 0;
  char subject[HTTP_MAX_URL_BYTES + 1];
  return (module == NULL || !proxy_vcs_private(s->vcs, module)) &&
         (target == NULL ||
          !target_private(s, target, subject, sizeof subject));
}

int proxy_access_check(struct proxy_conn *c, void *arg) {
  const struct proxy_server *s = arg;
  const char *url = proxy_conn_target(c);
  proxy_conn_set_needs_credentials(c, 0);
  /* Health checks are for load balancers; /admin/ has its own token. */
  size_t path_len = strcspn(url, "?");
  if (s->cfg->auth_file == NULL ||
      (path_len == 8 && strncmp(url, "/healthz", 8) == 0) ||
      (path_len == 7 && strncmp(url, "/readyz", 7) == 0) ||
      strncmp(url, "/admin/", 7) == 0)
    return 1;
  char subject[HTTP_MAX_URL_BYTES + 1];
  int priv = target_private(s, url, subject, sizeof subject);
  int needs = s->cfg->auth_all || priv;
  proxy_conn_set_needs_credentials(c, needs);
  if (!needs || proxy_conn_user(c)[0] != '\0')
    return 1;
  char what[HTTP_MAX_URL_BYTES + 32];
  snprintf(what, sizeof what, "the private module %s", subject);
  proxy_conn_send_unauthorized(c, priv ? what : "everything on this proxy");
  return 0;
}

int proxy_access_audited(const struct proxy_server *s,
                         const struct diag_record *rec) {
  if (s->cfg->private_patterns == NULL || rec->module == NULL ||
      (rec->status != 200 && rec->status != 206) || rec->target == NULL ||
      strncmp(rec->target, "/sumdb/", 7) == 0 ||
      strncmp(rec->target, "/diag", 5) == 0)
    return 0;
  return proxy_vcs_private(s->vcs, rec->module);
}
