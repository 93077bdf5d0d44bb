/*
 * Who the client is, behind a reverse proxy (--trusted-proxies). The one
 * place that reads X-Forwarded-For and Forwarded: conn.c keeps them only
 * for a connection whose peer is in the trusted ranges, and takes the
 * request's client address (proxy_conn.peer: logs, /diag, the password
 * budget) from here.
 *
 * The rule: X-Forwarded-For (every line, in order), or when there is none
 * the for= parameters of Forwarded (RFC 7239), are read from right to
 * left; addresses in the trusted ranges are proxies and skipped; the first
 * other address is the client. When every address is trusted, the
 * left-most is; an entry that is not an address ("unknown", an obfuscated
 * name) ends the walk there. A client may put anything in these headers,
 * but only on the left: each trusted proxy appends the address it saw.
 * X-Forwarded-For wins over Forwarded because more proxies maintain it;
 * a proxy that only sets Forwarded must remove X-Forwarded-For.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"

/* One entry (an X-Forwarded-For element, or a for= value) into a[16]:
 * IPv4, IPv6, "[IPv6]" or "[IPv6]:port", "IPv4:port", quoted or not. */
static int entry_addr(const char *p, size_t n, unsigned char a[16]) {
  while (n > 0 && (*p == ' ' || *p == '\t'))
    p++, n--;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
    n--;
  if (n >= 2 && p[0] == '"' && p[n - 1] == '"')
    p++, n -= 2;
  if (n > 0 && p[0] == '[') {
    const char *close = memchr(p, ']', n);
    if (close == NULL)
      return -1;
    n = (size_t)(close - p - 1);
    p++;
  } else {
    const char *colon = memchr(p, ':', n);
    if (colon != NULL &&
        memchr(colon + 1, ':', n - (size_t)(colon - p) - 1) == NULL)
      n = (size_t)(colon - p); /* IPv4:port: one colon */
  }
  char text[INET6_ADDRSTRLEN];
  if (n == 0 || n >= sizeof text)
    return -1;
  memcpy(text, p, n);
  text[n] = '\0';
  return net_addr_parse(text, a);
}

/* The for= value of one Forwarded element ("for=1.2.3.4;proto=https"):
 * sets *p and *n to it; 0, or -1 when the element has none. */
static int for_param(const char *e, size_t len, const char **p, size_t *n) {
  while (len > 0) {
    size_t k = 0;
    while (k < len && e[k] != ';')
      k++;
    const char *q = e;
    size_t m = k;
    while (m > 0 && (*q == ' ' || *q == '\t'))
      q++, m--;
    if (m > 4 && strncasecmp(q, "for=", 4) == 0) {
      *p = q + 4;
      *n = m - 4;
      return 0;
    }
    e += k < len ? k + 1 : k;
    len -= k < len ? k + 1 : k;
  }
  return -1;
}

int http__forwarded_client(const struct net_range *trusted, size_t ntrusted,
                           const char *xff, const char *fwd, char *out,
                           size_t cap) {
  const char *list = xff[0] != '\0' ? xff : fwd;
  int found = 0;
  unsigned char a[16], best[16];
  /* Elements from the right: [start, end) of the list. */
  for (size_t end = strlen(list); end > 0;) {
    size_t start = end;
    while (start > 0 && list[start - 1] != ',')
      start--;
    const char *p = list + start;
    size_t n = end - start;
    if (list == fwd && for_param(p, n, &p, &n) < 0)
      break;
    if (entry_addr(p, n, a) < 0)
      break;
    memcpy(best, a, sizeof best);
    found = 1;
    if (!net_ranges_contain(trusted, ntrusted, a))
      break;
    end = start > 0 ? start - 1 : 0;
  }
  if (!found)
    return 0;
  static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(best, v4mapped, sizeof v4mapped) == 0)
    inet_ntop(AF_INET, best + 12, out, (socklen_t)cap);
  else
    inet_ntop(AF_INET6, best, out, (socklen_t)cap);
  return 1;
}
