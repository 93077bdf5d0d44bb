/*
 * Refcounted response bodies: one copy of a cached answer is shared by the
 * hot cache and every connection writing it. A body has a NUL after its
 * bytes, so that text bodies can be used as C strings.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"

struct proxy_body *proxy_body_new(const void *data, size_t len) {
  struct proxy_body *b = malloc(sizeof *b + len + 1);
  if (b == NULL)
    return NULL;
  b->refs = 1;
  b->len = len;
  if (len > 0 && data != NULL)
    memcpy(b->data, data, len);
  b->data[len] = '\0';
  return b;
}

struct proxy_body *proxy_body_ref(struct proxy_body *b) {
  if (b != NULL)
    b->refs++;
  return b;
}

void proxy_body_unref(struct proxy_body *b) {
  if (b != NULL && --b->refs == 0)
    free(b);
}
