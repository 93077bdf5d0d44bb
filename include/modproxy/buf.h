/*
 * Growing a heap buffer: the one place for the doubling that every
 * append-to-a-buffer in modproxy needs (request records, fetched bodies,
 * zip entry names). Header-only and dependency-free, so any layer may use
 * it.
 */
#ifndef MODPROXY_BUF_H
#define MODPROXY_BUF_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

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

#endif
