/*
 * multipart/form-data fields (RFC 7578), as `curl -F` and browsers send
 * them: parts separated by "--boundary" lines, each with headers (a
 * Content-Disposition naming the field), a blank line and the value.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "modproxy/diag.h"

/* The boundary parameter of a multipart content type, unquoted. */
static int boundary_of(const char *ct, char *out, size_t cap) {
  if (strncasecmp(ct, "multipart/form-data", 19) != 0)
    return -EINVAL;
  const char *b = strcasestr(ct, "boundary=");
  if (b == NULL)
    return -EINVAL;
  b += 9;
  size_t n;
  if (*b == '"') {
    b++;
    n = strcspn(b, "\"");
  } else {
    n = strcspn(b, "; \t");
  }
  if (n == 0 || n + 1 > cap)
    return -EINVAL;
  memcpy(out, b, n);
  out[n] = '\0';
  return 0;
}

static const char *find(const char *hay, size_t hlen, const char *needle,
                        size_t nlen) {
  return memmem(hay, hlen, needle, nlen);
}

int diag_form_field(const char *body, size_t len, const char *content_type,
                    const char *name, const char **val, size_t *vlen) {
  char boundary[200], delim[210];
  if (body == NULL || boundary_of(content_type, boundary, sizeof boundary) < 0)
    return -EINVAL;
  size_t dlen = (size_t)snprintf(delim, sizeof delim, "--%s", boundary);
  const char *end = body + len;
  const char *p = find(body, len, delim, dlen);
  if (p == NULL)
    return -EINVAL;
  while (p != NULL) {
    p += dlen;
    if (end - p >= 2 && p[0] == '-' && p[1] == '-')
      return -ENOENT; /* closing delimiter */
    const char *head_end = find(p, (size_t)(end - p), "\r\n\r\n", 4);
    size_t sep = 4;
    if (head_end == NULL) {
      head_end = find(p, (size_t)(end - p), "\n\n", 2);
      sep = 2;
    }
    if (head_end == NULL)
      return -EINVAL;
    const char *value = head_end + sep;
    const char *next = find(value, (size_t)(end - value), delim, dlen);
    if (next == NULL)
      return -EINVAL;
    /* The value ends before the line break that precedes the delimiter. */
    const char *vend = next;
    if (vend > value && vend[-1] == '\n')
      vend--;
    if (vend > value && vend[-1] == '\r')
      vend--;
    char want[160];
    int wl = snprintf(want, sizeof want, "name=\"%s\"", name);
    if (find(p, (size_t)(head_end - p), want, (size_t)wl) != NULL) {
      *val = value;
      *vlen = (size_t)(vend - value);
      return 0;
    }
    p = next;
  }
  return -ENOENT;
}
