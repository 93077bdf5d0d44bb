/*
 * The phases of a request once its head is complete, in order:
 *  1. credentials: who the Authorization header names (auth.c), settled on
 *     the loop thread when that is quick, else on the password thread
 *     (auth_checks.c), after which the phases run again;
 *  2. access: the one hook the owner registered (http_config.access);
 *  3. the handler registered for the target (http_server_handle).
 * The connection code never names a handler: it finds the registration
 * when the head is complete (to know whether a POST body is expected) and
 * dispatch calls it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "http_internal.h"

int http_server_handle(struct http_server *h, const char *pattern,
                       enum http_match match, unsigned flags,
                       http_handler_cb cb, void *arg) {
  if (h->nhandlers == HTTP_MAX_HANDLERS)
    return -E2BIG;
  h->handlers[h->nhandlers++] = (struct http_handler){
      .pattern = pattern,
      .len = strlen(pattern),
      .match = match,
      .flags = flags,
      .cb = cb,
      .arg = arg,
  };
  return 0;
}

static int matches(const struct http_handler *k, const char *target) {
  if (strncmp(target, k->pattern, k->len) != 0)
    return 0;
  char next = target[k->len];
  switch (k->match) {
  case HTTP_MATCH_EXACT: return next == '\0';
  case HTTP_MATCH_QUERY: return next == '\0' || next == '?';
  case HTTP_MATCH_TREE: return next == '\0' || next == '?' || next == '/';
  case HTTP_MATCH_PREFIX: return 1;
  }
  return 0;
}

const struct http_handler *http__handler_find(const struct http_server *h,
                                              const char *target) {
  for (int i = 0; i < h->nhandlers; i++)
    if (matches(&h->handlers[i], target))
      return &h->handlers[i];
  return NULL;
}

struct auth_job {
  struct proxy_auth_check check;
  struct proxy_conn *conn;
};

static void on_auth_checked(struct proxy_auth_check *chk) {
  struct auth_job *a = (struct auth_job *)chk; /* check is the first member */
  struct proxy_conn *c = a->conn;
  if (!proxy_conn_gone(c)) {
    snprintf(c->user, sizeof c->user, "%s", chk->user);
    c->auth_done = 1;
    http__dispatch(c);
  }
  proxy_conn_release(c);
  free(a);
}

/* Settles who the client is before the access phase; 0 when a password
 * check must run first (dispatch runs again once it is known) or was
 * refused for the budget (answered here). */
static int settle_user(struct proxy_conn *c) {
  struct http_server *h = c->http;
  if (h->auth == NULL || c->auth_done)
    return 1;
  if (proxy_auth_cached(h->auth, c->req->authorization, c->user,
                        sizeof c->user)) {
    c->auth_done = 1;
    return 1;
  }
  struct auth_job *a = calloc(1, sizeof *a);
  if (a == NULL) {
    proxy_conn_send_text(c, 503, "modproxy is out of memory; retry", NULL);
    return 0;
  }
  a->conn = c;
  memcpy(a->check.header, c->req->authorization, sizeof a->check.header);
  a->check.on_done = on_auth_checked;
  int rc = proxy_auth_check_queue(h->auth_checks, h->auth, c->peer, &a->check);
  if (rc == 0) {
    proxy_conn_hold(c);
    return 0;
  }
  free(a);
  c->req->keep_alive = 0;
  proxy_conn_outcome(c, DIAG_INVALID);
  if (rc == -EBUSY)
    proxy_conn_send_text(c, 429,
                         "too many wrong passwords from your address; wait "
                         "a few seconds, and check the password in ~/.netrc",
                         NULL);
  else
    proxy_conn_send_text(c, 503,
                         "modproxy is busy checking passwords; retry in a few "
                         "seconds",
                         NULL);
  return 0;
}

void http__dispatch(struct proxy_conn *c) {
  struct http_server *h = c->http;
  if (!settle_user(c))
    return;
  if (h->cfg.access != NULL && !h->cfg.access(c, h->cfg.arg))
    return;
  if (c->handler == NULL) {
    proxy_conn_outcome(c, DIAG_INVALID);
    proxy_conn_send_text(c, 404, "not found", NULL);
    return;
  }
  c->handler->cb(c, c->handler->arg);
}
