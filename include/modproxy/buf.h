/*
 * Growing a heap buffer: the one place for the doubling that every
 * append-to-a-buffer in modproxy needs (request records, fetched bodies,
 * zip entry names), and for a body read from a peer, a buffer with a ceiling
 * and the one libcurl write callback that fills it. Header-only and
 * dependency-free (the callback needs no libcurl header), so any layer may
 * use it.
 */
#ifndef MODPROXY_BUF_H
#define MODPROXY_BUF_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/**
 * Makes *buf (of *cap bytes, NULL when 0) hold at least `need` bytes: its
 * capacity doubles, from `first` when it has none, until `need` fits. 0, or
 * -ENOMEM with *buf and *cap unchanged.
 */
static inline int buf_reserve(char **buf, size_t *cap, size_t need,
                              size_t first) {
  if (need <= *cap)
    return 0;
  size_t c = *cap == 0 ? first : *cap;
  while (c < need)
    c = c > SIZE_MAX / 2 ? need : c * 2;
  char *b = realloc(*buf, c);
  if (b == NULL)
    return -ENOMEM;
  *buf = b;
  *cap = c;
  return 0;
}

/**
 * A byte buffer that grows up to a ceiling fixed when it is made, for bodies
 * read from a peer. data is NUL-terminated once anything was appended (NULL
 * before); the caller frees it.
 */
struct buf {
  char *data;
  size_t len, cap;
  size_t max;   /**< ceiling in bytes */
  int truncate; /**< past max: keep the first max bytes, drop the rest */
};

/** Appends n bytes. 0; -E2BIG past the ceiling (nothing appended, unless
 *  truncate, which keeps what fits and returns 0); -ENOMEM. */
static inline int buf_append(struct buf *b, const void *p, size_t n) {
  if (n > b->max - b->len) {
    if (!b->truncate)
      return -E2BIG;
    n = b->max - b->len;
  }
  if (n == 0)
    return 0;
  if (buf_reserve(&b->data, &b->cap, b->len + n + 1, 4096) < 0)
    return -ENOMEM;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

/** A libcurl CURLOPT_WRITEFUNCTION that appends to the struct buf given as
 *  CURLOPT_WRITEDATA: the transfer fails past the buffer's ceiling (unless
 *  it truncates) or when memory runs out. */
static inline size_t buf_curl_write(char *p, size_t size, size_t n,
                                    void *userp) {
  return buf_append(userp, p, size * n) == 0 ? size * n : 0;
}

#endif
