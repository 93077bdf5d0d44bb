/*
 * IP address ranges (CIDR): --direct-deny and --direct-allow (which
 * addresses a public module's repository may be on) and --trusted-proxies
 * (which peers may say who their client is). Parsed once, matched on
 * 16-byte addresses, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d). Pure.
 */
#ifndef MODPROXY_NETRANGE_H
#define MODPROXY_NETRANGE_H

#include <stddef.h>

#include <netinet/in.h>

/* Ranges one setting may list (--direct-deny's default has 15). */
#define NET_MAX_RANGES 64

/** An address range; IPv4 is kept as IPv4-mapped IPv6. */
struct net_range {
  unsigned char addr[16];
  int bits;
};

/** An IPv4 address as IPv4-mapped IPv6. */
void net_addr_map_v4(const struct in_addr *a, unsigned char out[16]);
/** An address literal (IPv4 dotted quad or IPv6, no brackets, no port)
 *  into out. 0, or -EINVAL. */
int net_addr_parse(const char *s, unsigned char out[16]);
/** Parses a list of CIDR ranges (comma or space separated; "none" or ""
 *  for none; an address alone is a range of one) into out[0..cap), *n of
 *  them. 0, or -EINVAL with err naming the bad entry. */
int net_ranges_parse(const char *text, struct net_range *out, size_t cap,
                     size_t *n, char *err, size_t errlen);
/** 1 if addr (16 bytes) is in one of the n ranges. */
int net_ranges_contain(const struct net_range *r, size_t n,
                       const unsigned char addr[16]);

#endif
