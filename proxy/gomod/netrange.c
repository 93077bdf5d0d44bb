/*
 * IP address ranges (see modproxy/netrange.h): parsing with inet_pton,
 * matching by prefix bits.
 */
#include "modproxy/netrange.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_addr_map_v4(const struct in_addr *a, unsigned char out[16]) {
  memset(out, 0, 10);
  out[10] = out[11] = 0xff;
  memcpy(out + 12, &a->s_addr, 4);
}

int net_addr_parse(const char *s, unsigned char out[16]) {
  struct in_addr a4;
  if (inet_pton(AF_INET, s, &a4) == 1) {
    net_addr_map_v4(&a4, out);
    return 0;
  }
  return inet_pton(AF_INET6, s, out) == 1 ? 0 : -EINVAL;
}

static int range_parse(const char *s, struct net_range *out) {
  char ip[64];
  const char *slash = strchr(s, '/');
  size_t n = slash != NULL ? (size_t)(slash - s) : strlen(s);
  if (n == 0 || n >= sizeof ip)
    return -EINVAL;
  memcpy(ip, s, n);
  ip[n] = '\0';
  if (net_addr_parse(ip, out->addr) < 0)
    return -EINVAL;
  int max = strchr(ip, ':') == NULL ? 32 : 128;
  int bits = max;
  if (slash != NULL) {
    char *end;
    long b = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end != '\0' || b < 0 || b > max)
      return -EINVAL;
    bits = (int)b;
  }
  out->bits = max == 32 ? bits + 96 : bits;
  return 0;
}

int net_ranges_parse(const char *text, struct net_range *out, size_t cap,
                     size_t *n, char *err, size_t errlen) {
  *n = 0;
  if (text == NULL || strcmp(text, "none") == 0)
    return 0;
  for (const char *p = text; *p != '\0';) {
    size_t len = strcspn(p, ", \t\n");
    if (len > 0) {
      char one[80];
      snprintf(one, sizeof one, "%.*s", (int)len, p);
      if (len >= sizeof one || range_parse(one, &out[*n]) < 0) {
        snprintf(err, errlen, "\"%.*s\" is not an address range (CIDR)",
                 (int)(len < 64 ? len : 64), p);
        return -EINVAL;
      }
      if (++*n == cap && p[len] != '\0') {
        snprintf(err, errlen, "more than %zu address ranges", cap);
        return -EINVAL;
      }
    }
    p += len;
    p += strspn(p, ", \t\n");
  }
  return 0;
}

static int in_range(const struct net_range *r, const unsigned char a[16]) {
  int full = r->bits / 8, rest = r->bits % 8;
  if (memcmp(r->addr, a, (size_t)full) != 0)
    return 0;
  if (rest == 0)
    return 1;
  unsigned char mask = (unsigned char)(0xff << (8 - rest));
  return (r->addr[full] & mask) == (a[full] & mask);
}

int net_ranges_contain(const struct net_range *r, size_t n,
                       const unsigned char addr[16]) {
  for (size_t i = 0; i < n; i++)
    if (in_range(&r[i], addr))
      return 1;
  return 0;
}
