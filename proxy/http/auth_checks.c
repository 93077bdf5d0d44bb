/*
 * Password checks on a thread of their own, within a budget.
 *
 * A password check is a PBKDF2 derivation, slow on purpose (about 80 ms).
 * On libuv's worker threads, a client sending wrong passwords on many
 * connections held every worker, and store and fetch work waited seconds
 * behind the derivations. Here they run one at a time on the password
 * thread, at the lowest priority (nice 19: a login may wait, a download
 * may not), so that guessing costs one core at most, and only what the rest
 * leaves. Two bounds keep the queue short:
 *  - overall, AUTH_CHECKS_WAITING_MAX checks wait or run; past that a check
 *    is refused (503) rather than queued behind a flood;
 *  - per client address, AUTH_CLIENT_BURST checks, then one more every
 *    AUTH_CLIENT_REFILL_MS (429 past it), so that one address cannot take
 *    the whole queue. A check that finds a user is given back: only
 *    refusals count, so that the people behind one address (a NAT, a
 *    reverse proxy) can all log in.
 * Only headers that need a derivation come here: no header, tokens and
 * remembered outcomes are settled on the loop thread (proxy_auth_cached),
 * so a logged-in user never waits behind guesses.
 *
 * Threads: proxy_auth_check_queue, the buckets and the delivery of results
 * are on the loop thread; the password thread takes the queue's head under
 * `lock` and hands results back on an eventfd (not uv_async_send: see
 * record_writer.c, the same reasons hold for a nice-19 sender).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "auth.h"

/* Checks queued or running at once: about 1.3 s of derivations, the
 * longest a login waits behind others. */
#define AUTH_CHECKS_WAITING_MAX 16
/* Checks one client address may start at once, and how often it earns
 * another: enough for a person retyping a password or a NAT of build
 * machines logging in (each is remembered afterwards), too few to guess. */
#define AUTH_CLIENT_BURST 10
#define AUTH_CLIENT_REFILL_MS 1000
/* Client addresses tracked; two that share a slot share a budget until one
 * replaces the other. */
#define AUTH_CLIENT_SLOTS 1024

struct bucket {
  uint64_t client; /* hash of the address, 0: unused */
  uint64_t at_ms;  /* when `tokens` was last topped up */
  unsigned tokens;
};

struct proxy_auth_checks {
  uv_loop_t *loop;
  uv_thread_t thread;
  uv_mutex_t lock;
  uv_cond_t wake;
  int efd;
  uv_poll_t poll;
  /* Under lock. */
  struct proxy_auth_check *queue, **queue_tail, *done;
  int stop;
  /* Loop thread. */
  size_t waiting; /* queued, running or done but not delivered */
  struct bucket buckets[AUTH_CLIENT_SLOTS];
};

/* The password thread finishes the check it runs, and ends. */
static void checker_stop(struct proxy_auth_checks *k) {
  uv_mutex_lock(&k->lock);
  k->stop = 1;
  uv_cond_signal(&k->wake);
  uv_mutex_unlock(&k->lock);
  uv_thread_join(&k->thread);
}

static void checker_main(void *arg) {
  struct proxy_auth_checks *k = arg;
  /* Lowering one's own priority needs no privilege. */
  setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
  uv_mutex_lock(&k->lock);
  for (;;) {
    while (k->queue == NULL && !k->stop)
      uv_cond_wait(&k->wake, &k->lock);
    if (k->stop)
      break;
    struct proxy_auth_check *chk = k->queue;
    k->queue = chk->next;
    if (k->queue == NULL)
      k->queue_tail = &k->queue;
    uv_mutex_unlock(&k->lock);
    proxy_auth_verify(chk->auth, chk->header, chk->user, sizeof chk->user);
    uv_mutex_lock(&k->lock);
    chk->next = k->done;
    k->done = chk;
    uv_mutex_unlock(&k->lock);
    uint64_t one = 1;
    while (write(k->efd, &one, sizeof one) < 0 && errno == EINTR)
      ;
    uv_mutex_lock(&k->lock);
  }
  uv_mutex_unlock(&k->lock);
}

/* The budget of the client whose address hashes to `client`. */
static struct bucket *bucket_of(struct proxy_auth_checks *k, uint64_t client) {
  return &k->buckets[client % AUTH_CLIENT_SLOTS];
}

/* Hands finished checks to their owners; `remember`: their outcome is a
 * real one (not a refusal at shutdown). */
static void deliver(struct proxy_auth_checks *k, struct proxy_auth_check *chk,
                    int remember) {
  while (chk != NULL) {
    struct proxy_auth_check *next = chk->next;
    struct bucket *b = bucket_of(k, chk->client);
    if (chk->user[0] != '\0' && b->client == chk->client &&
        b->tokens < AUTH_CLIENT_BURST)
      b->tokens++;
    if (remember)
      proxy_auth_remember(chk->auth, chk->header, chk->user);
    proxy_auth_release(chk->auth);
    chk->auth = NULL;
    if (--k->waiting == 0)
      uv_unref((uv_handle_t *)&k->poll);
    chk->on_done(chk); /* may free chk */
    chk = next;
  }
}

static void on_checked(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  struct proxy_auth_checks *k = p->data;
  uint64_t n;
  while (read(k->efd, &n, sizeof n) < 0 && errno == EINTR)
    ;
  uv_mutex_lock(&k->lock);
  struct proxy_auth_check *done = k->done;
  k->done = NULL;
  uv_mutex_unlock(&k->lock);
  deliver(k, done, 1);
}

int proxy_auth_checks_start(uv_loop_t *loop, struct proxy_auth_checks **out) {
  struct proxy_auth_checks *k = calloc(1, sizeof *k);
  if (k == NULL)
    return -ENOMEM;
  k->loop = loop;
  k->queue_tail = &k->queue;
  int rc = uv_mutex_init(&k->lock);
  if (rc < 0) {
    free(k);
    return rc;
  }
  if ((rc = uv_cond_init(&k->wake)) < 0)
    goto fail_lock;
  k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (k->efd < 0) {
    rc = -errno;
    goto fail_cond;
  }
  if ((rc = uv_thread_create(&k->thread, checker_main, k)) < 0)
    goto fail_efd;
  if ((rc = uv_poll_init(loop, &k->poll, k->efd)) < 0) {
    checker_stop(k);
    goto fail_efd;
  }
  k->poll.data = k;
  uv_poll_start(&k->poll, UV_READABLE, on_checked);
  /* Referenced only while a check is out, as a uv_queue_work would be. */
  uv_unref((uv_handle_t *)&k->poll);
  *out = k;
  return 0;
fail_efd:
  close(k->efd);
fail_cond:
  uv_cond_destroy(&k->wake);
fail_lock:
  uv_mutex_destroy(&k->lock);
  free(k);
  return rc;
}

static void on_poll_closed(uv_handle_t *h) {
  struct proxy_auth_checks *k = h->data;
  close(k->efd);
  uv_cond_destroy(&k->wake);
  uv_mutex_destroy(&k->lock);
  free(k);
}

void proxy_auth_checks_stop(struct proxy_auth_checks *k) {
  if (k == NULL)
    return;
  checker_stop(k);
  deliver(k, k->done, 1);
  k->done = NULL;
  for (struct proxy_auth_check *c = k->queue; c != NULL; c = c->next)
    c->user[0] = '\0';
  deliver(k, k->queue, 0);
  k->queue = NULL;
  uv_close((uv_handle_t *)&k->poll, on_poll_closed);
}

/* Takes one of the client's checks, if it has one left. */
static int client_takes_check(struct proxy_auth_checks *k, uint64_t h) {
  struct bucket *b = bucket_of(k, h);
  uint64_t now = uv_now(k->loop);
  if (b->client != h) {
    b->client = h;
    b->tokens = AUTH_CLIENT_BURST;
    b->at_ms = now;
  }
  uint64_t earned = (now - b->at_ms) / AUTH_CLIENT_REFILL_MS;
  if (earned > 0) {
    b->tokens = b->tokens + earned >= AUTH_CLIENT_BURST
                    ? AUTH_CLIENT_BURST
                    : b->tokens + (unsigned)earned;
    b->at_ms += earned * AUTH_CLIENT_REFILL_MS;
  }
  if (b->tokens == 0)
    return 0;
  b->tokens--;
  return 1;
}

int proxy_auth_check_queue(struct proxy_auth_checks *k, struct proxy_auth *a,
                           const char *peer, struct proxy_auth_check *chk) {
  if (k->waiting >= AUTH_CHECKS_WAITING_MAX)
    return -EAGAIN;
  uint64_t h = 14695981039346656037u; /* FNV-1a of the address */
  for (const char *p = peer; *p != '\0'; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  chk->client = h | 1; /* 0 marks an unused bucket */
  if (!client_takes_check(k, chk->client))
    return -EBUSY;
  if (k->waiting++ == 0)
    uv_ref((uv_handle_t *)&k->poll);
  chk->user[0] = '\0';
  chk->next = NULL;
  chk->auth = proxy_auth_hold(a);
  uv_mutex_lock(&k->lock);
  *k->queue_tail = chk;
  k->queue_tail = &chk->next;
  uv_cond_signal(&k->wake);
  uv_mutex_unlock(&k->lock);
  return 0;
}
