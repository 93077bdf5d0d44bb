/*
 * --max-request-rate, per client address: how many requests each client
 * made in its current one-second window. The client is the request's
 * address as forwarded.c decided it (the peer, or behind a trusted proxy
 * the address its headers name), so that behind nginx, whose keep-alive
 * connections carry many clients, each client has its own allowance, and
 * one client on many connections has one.
 *
 * The table holds at most HTTP_RATE_CLIENTS_MAX clients, all allocated
 * when it is made; a new client past that replaces the one seen least
 * recently (which starts afresh if it comes back). Lookups go through a
 * hash of the address (chains of slot indices); the clients are kept on a
 * list from the most to the least recently seen, so that a request costs a
 * hash, a short chain walk and a move to the list's head, and no
 * allocation. Loop thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"

/* The allowance is counted per window of this length (requests per
 * second, as the setting says). */
#define HTTP_RATE_WINDOW_MS 1000
/* Hash chain heads: twice the clients, a power of two, so that chains stay
 * about one long. */
#define HTTP_RATE_HASH_SLOTS (2u * HTTP_RATE_CLIENTS_MAX)
/* "No client": the end of a chain or of the list. */
#define NONE UINT32_MAX

struct rate_client {
  unsigned char addr[16];
  uint64_t window_ms; /* start of its current window */
  uint64_t count;     /* requests in it */
  uint32_t next_in_chain;
  uint32_t newer, older; /* the recency list */
};

struct http_rate {
  uint32_t used; /* clients[0..used) are in use */
  uint32_t newest, oldest;
  uint32_t chains[HTTP_RATE_HASH_SLOTS];
  struct rate_client clients[HTTP_RATE_CLIENTS_MAX];
};

int http__rate_new(struct http_rate **out) {
  struct http_rate *t = malloc(sizeof *t);
  if (t == NULL)
    return -ENOMEM;
  t->used = 0;
  t->newest = t->oldest = NONE;
  memset(t->chains, 0xff, sizeof t->chains); /* every chain NONE */
  *out = t;
  return 0;
}

void http__rate_free(struct http_rate *t) {
  free(t);
}

static uint32_t chain_of(const unsigned char addr[16]) {
  uint64_t a, b;
  memcpy(&a, addr, 8);
  memcpy(&b, addr + 8, 8);
  uint64_t x = (a ^ (b * 0x9e3779b97f4a7c15u)) * 0xbf58476d1ce4e5b9u;
  return (uint32_t)(x >> 32) & (HTTP_RATE_HASH_SLOTS - 1);
}

static void list_unlink(struct http_rate *t, uint32_t i) {
  struct rate_client *e = &t->clients[i];
  if (e->newer != NONE)
    t->clients[e->newer].older = e->older;
  else
    t->newest = e->older;
  if (e->older != NONE)
    t->clients[e->older].newer = e->newer;
  else
    t->oldest = e->newer;
}

static void list_push(struct http_rate *t, uint32_t i) {
  struct rate_client *e = &t->clients[i];
  e->newer = NONE;
  e->older = t->newest;
  if (t->newest != NONE)
    t->clients[t->newest].newer = i;
  else
    t->oldest = i;
  t->newest = i;
}

static void chain_unlink(struct http_rate *t, uint32_t i) {
  uint32_t *p = &t->chains[chain_of(t->clients[i].addr)];
  while (*p != i)
    p = &t->clients[*p].next_in_chain;
  *p = t->clients[i].next_in_chain;
}

/* The slot for a client not in the table: a free one, or the least
 * recently seen client's. */
static uint32_t slot_take(struct http_rate *t) {
  if (t->used < HTTP_RATE_CLIENTS_MAX)
    return t->used++;
  uint32_t i = t->oldest;
  list_unlink(t, i);
  chain_unlink(t, i);
  return i;
}

int http__rate_over(struct http_rate *t, const unsigned char addr[16],
                    uint64_t now_ms, uint64_t max) {
  uint32_t *head = &t->chains[chain_of(addr)];
  uint32_t i = *head;
  while (i != NONE && memcmp(t->clients[i].addr, addr, 16) != 0)
    i = t->clients[i].next_in_chain;
  struct rate_client *e;
  if (i == NONE) {
    i = slot_take(t);
    e = &t->clients[i];
    memcpy(e->addr, addr, 16);
    e->window_ms = now_ms;
    e->count = 0;
    e->next_in_chain = *head;
    *head = i;
  } else {
    e = &t->clients[i];
    list_unlink(t, i);
  }
  list_push(t, i);
  if (now_ms - e->window_ms >= HTTP_RATE_WINDOW_MS) {
    e->window_ms = now_ms;
    e->count = 0;
  }
  return ++e->count > max;
}
