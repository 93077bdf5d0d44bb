/*
 * multipart/form-data (RFC 7578, RFC 2046 5.1), as `curl -F` and browsers
 * send it, parsed in one pass that yields every field; and
 * application/x-www-form-urlencoded (what an HTML form sends by default,
 * and `curl --data-urlencode`), decoded in place.
 *
 * A delimiter is "--" and the boundary at the start of a line (the body's
 * start, or after a CRLF or a bare LF), followed by "--" (the end) or by
 * optional blanks and a line break (the next part). A part is headers, an
 * empty line, then its value, which ends before the line break that starts
 * the next delimiter.
 *
 * Invariant that keeps hostile bodies cheap: the scan only moves forward.
 * memchr finds each line start once, and only a line start is compared with
 * the delimiter (at most DIAG_FORM_MAX_BOUNDARY_BYTES + 2 bytes); a part's
 * headers are searched within DIAG_FORM_MAX_PART_HEAD_BYTES. So the cost is
 * linear in the body, whatever it holds. Pure: no allocation, fields point
 * into the body.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "modproxy/diag.h"

static int is_blank(char ch) {
  return ch == ' ' || ch == '\t';
}

/* The value of parameter `name` in the "; a=b; c="d"" list that follows a
 * media type or a disposition type in [p, end): 0 with the value (without
 * its quotes), -ENOENT, or -EINVAL for an unterminated quoted string. */
static int param_find(const char *p, const char *end, const char *name,
                      const char **val, size_t *vlen) {
  size_t nlen = strlen(name);
  p = memchr(p, ';', (size_t)(end - p));
  while (p != NULL) {
    p++;
    while (p < end && is_blank(*p))
      p++;
    const char *key = p;
    while (p < end && *p != '=' && *p != ';' && !is_blank(*p))
      p++;
    size_t klen = (size_t)(p - key);
    if (p < end && *p == '=') {
      const char *v = ++p;
      size_t vl;
      if (p < end && *p == '"') {
        v = ++p;
        while (p < end && *p != '"')
          p += p[0] == '\\' && p + 1 < end ? 2 : 1;
        if (p >= end)
          return -EINVAL;
        vl = (size_t)(p - v);
        p++;
      } else {
        while (p < end && *p != ';' && !is_blank(*p))
          p++;
        vl = (size_t)(p - v);
      }
      if (klen == nlen && strncasecmp(key, name, nlen) == 0) {
        *val = v;
        *vlen = vl;
        return 0;
      }
    }
    p = memchr(p, ';', (size_t)(end - p));
  }
  return -ENOENT;
}

struct delimiter {
  const char *b; /* the boundary */
  size_t blen;
};

/* The next delimiter line at or after `from` (`from` is a line start when
 * at_line_start): its position, with *next at the first byte of the part
 * it opens, or NULL when it is the closing one ("--boundary--"). Returns
 * end when there is none (a body cut short). */
static const char *delimiter_next(const struct delimiter *d, const char *from,
                                  const char *end, int at_line_start,
                                  const char **next) {
  const char *p = from;
  if (!at_line_start) {
    p = memchr(p, '\n', (size_t)(end - p));
    if (p == NULL)
      return end;
    p++;
  }
  for (;;) {
    if ((size_t)(end - p) >= d->blen + 2 && p[0] == '-' && p[1] == '-' &&
        memcmp(p + 2, d->b, d->blen) == 0) {
      const char *q = p + 2 + d->blen;
      if (end - q >= 2 && q[0] == '-' && q[1] == '-') {
        *next = NULL;
        return p;
      }
      while (q < end && is_blank(*q))
        q++;
      if (q < end && *q == '\r')
        q++;
      if (q < end && *q == '\n') {
        *next = q + 1;
        return p;
      }
      /* "--boundaryX...": a line of the value, not a delimiter. */
    }
    p = memchr(p, '\n', (size_t)(end - p));
    if (p == NULL)
      return end;
    p++;
  }
}

/* Reads the headers of the part starting at h: sets *value to the byte
 * after the empty line that ends them, and *name (NULL when the part has
 * none) from its Content-Disposition. */
static int part_head(const char *h, const char *end, const char **value,
                     const char **name, size_t *nlen) {
  static const char disposition[] = "content-disposition";
  size_t room = (size_t)(end - h);
  const char *wend = room > DIAG_FORM_MAX_PART_HEAD_BYTES
                         ? h + DIAG_FORM_MAX_PART_HEAD_BYTES
                         : end;
  *name = NULL;
  for (const char *line = h;;) {
    const char *nl = memchr(line, '\n', (size_t)(wend - line));
    if (nl == NULL)
      return room > DIAG_FORM_MAX_PART_HEAD_BYTES ? -E2BIG : -EINVAL;
    const char *le = nl > line && nl[-1] == '\r' ? nl - 1 : nl;
    if (le == line) {
      *value = nl + 1;
      return 0;
    }
    size_t dl = sizeof disposition - 1;
    const char *colon = line + dl;
    while (colon < le && is_blank(*colon))
      colon++;
    if ((size_t)(le - line) > dl && strncasecmp(line, disposition, dl) == 0 &&
        colon < le && *colon == ':') {
      int rc = param_find(colon + 1, le, "name", name, nlen);
      if (rc == -EINVAL)
        return rc;
      if (rc == 0 && *nlen > DIAG_FORM_MAX_NAME_BYTES)
        return -E2BIG;
    }
    line = nl + 1;
  }
}

/* diag_form_parse, which clears out on failure. */
static int form_parse(const char *body, size_t len, const char *content_type,
                      struct diag_form *out) {
  static const char type[] = "multipart/form-data";
  size_t tl = sizeof type - 1;
  if (body == NULL || content_type == NULL ||
      strncasecmp(content_type, type, tl) != 0 ||
      (content_type[tl] != ';' && !is_blank(content_type[tl])))
    return -EINVAL;
  struct delimiter d;
  const char *ct_end = content_type + strlen(content_type);
  if (param_find(content_type + tl, ct_end, "boundary", &d.b, &d.blen) < 0 ||
      d.blen == 0 || d.blen > DIAG_FORM_MAX_BOUNDARY_BYTES)
    return -EINVAL;
  const char *end = body + len, *part;
  /* The first delimiter, after an optional preamble. */
  const char *p = delimiter_next(&d, body, end, 1, &part);
  size_t parts = 0;
  while (p != end && part != NULL) {
    if (++parts > DIAG_FORM_MAX_PARTS)
      return -E2BIG;
    const char *value, *name;
    size_t nlen = 0;
    int rc = part_head(part, end, &value, &name, &nlen);
    if (rc < 0)
      return rc;
    /* The value's last byte is the '\n' ending the headers: the search
     * starts on a line start. */
    p = delimiter_next(&d, value, end, 1, &part);
    if (p == end)
      break;
    const char *vend = p;
    if (vend > value)
      vend--; /* the LF before the delimiter */
    if (vend > value && vend[-1] == '\r')
      vend--;
    if (name != NULL) {
      struct diag_form_field *f = &out->field[out->n++];
      f->name = name;
      f->name_len = nlen;
      f->value = value;
      f->value_len = (size_t)(vend - value);
    }
  }
  /* No closing delimiter: not a form, or cut short. */
  return p == end ? -EINVAL : 0;
}

int diag_form_parse(const char *body, size_t len, const char *content_type,
                    struct diag_form *out) {
  out->n = 0;
  int rc = form_parse(body, len, content_type, out);
  if (rc < 0)
    out->n = 0;
  return rc;
}

int diag_form_get(const struct diag_form *f, const char *name, const char **val,
                  size_t *vlen) {
  size_t n = strlen(name);
  int rc = -ENOENT;
  for (size_t i = 0; i < f->n; i++) {
    if (f->field[i].name_len != n || memcmp(f->field[i].name, name, n) != 0 ||
        (rc == 0 && f->field[i].value_len == 0))
      continue;
    *val = f->field[i].value;
    *vlen = f->field[i].value_len;
    rc = 0;
    if (*vlen > 0)
      break;
  }
  return rc;
}

/* Decodes one urlencoded name or value of n bytes in place ('+' is a
 * space, %XX a byte): the decoded length, or -EINVAL for a '%' without two
 * hex digits after it. */
static long url_decode(char *p, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    char c = p[i];
    if (c == '+') {
      c = ' ';
    } else if (c == '%') {
      int hi = i + 2 < n ? gomod_hex_digit(p[i + 1]) : -1;
      int lo = hi >= 0 ? gomod_hex_digit(p[i + 2]) : -1;
      if (lo < 0)
        return -EINVAL;
      c = (char)(hi << 4 | lo);
      i += 2;
    }
    p[o++] = c;
  }
  return (long)o;
}

int diag_form_parse_urlencoded(char *body, size_t len, struct diag_form *out) {
  out->n = 0;
  int rc = 0;
  for (char *p = body, *end = body + len; p < end && rc == 0;) {
    char *amp = memchr(p, '&', (size_t)(end - p));
    char *pend = amp != NULL ? amp : end;
    char *eq = memchr(p, '=', (size_t)(pend - p));
    char *nend = eq != NULL ? eq : pend;
    char *v = eq != NULL ? eq + 1 : pend;
    if (pend > p && out->n == DIAG_FORM_MAX_PARTS) {
      rc = -E2BIG;
    } else if (pend > p) {
      long nl = url_decode(p, (size_t)(nend - p));
      long vl = url_decode(v, (size_t)(pend - v));
      rc = nl < 0 || vl < 0                ? -EINVAL
           : nl > DIAG_FORM_MAX_NAME_BYTES ? -E2BIG
                                           : 0;
      struct diag_form_field *f = &out->field[out->n++];
      *f = (struct diag_form_field){p, v, (size_t)nl, (size_t)vl};
    }
    p = pend + 1;
  }
  if (rc < 0)
    out->n = 0;
  return rc;
}
