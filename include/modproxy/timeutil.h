/*
 * The clock read in milliseconds, and times written as RFC 3339 (the form
 * of a .info's Time, a bundle's manifest and request records). Header-only
 * and dependency-free, so any layer may use it.
 */
#ifndef MODPROXY_TIMEUTIL_H
#define MODPROXY_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* "2006-01-02T15:04:05Z" and its NUL. */
#define TIME_RFC3339_BYTES 21

/** Milliseconds on clock id: CLOCK_REALTIME for Unix time (records),
 *  CLOCK_MONOTONIC for intervals. */
static inline int64_t time_now_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** Unix time unix_s in UTC as "2006-01-02T15:04:05Z" (Go's time.RFC3339 of
 *  a UTC time) into out, truncated to cap (TIME_RFC3339_BYTES fits). */
static inline void time_rfc3339(int64_t unix_s, char *out, size_t cap) {
  time_t t = (time_t)unix_s;
  struct tm tm;
  if (cap == 0)
    return;
  out[0] = '\0';
  if (gmtime_r(&t, &tm) != NULL)
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#endif
