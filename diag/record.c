/*
 * Request records: what each request asked, what modproxy did about it and
 * what it answered, as JSON (the log line and /diag/req/<id>?format=json)
 * and as text for a terminal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "modproxy/buf.h"
#include "modproxy/diag.h"
#include "modproxy/timeutil.h"

int diag_record_in_ring(const struct diag_record *r) {
  /* Polled by load balancers, monitoring and browsers, not asked by
   * builds: they would push the requests worth explaining out of the ring. */
  static const char *const polled[] = {"/healthz", "/readyz", "/metrics",
                                       "/favicon.ico"};
  if (r->target == NULL)
    return 1;
  size_t n = strcspn(r->target, "?");
  for (size_t i = 0; i < sizeof polled / sizeof polled[0]; i++)
    if (strlen(polled[i]) == n && strncmp(r->target, polled[i], n) == 0)
      return 0;
  return 1;
}

const char *diag_outcome_name(enum diag_outcome o) {
  static const char *const names[] = {
      [DIAG_HIT] = "hit",
      [DIAG_FETCHED] = "fetched",
      [DIAG_NOT_FOUND] = "not found",
      [DIAG_INVALID] = "invalid request",
      [DIAG_UPSTREAM_ERROR] = "upstream error",
      [DIAG_STALE] = "stale",
      [DIAG_LOCAL] = "local",
      [DIAG_ABORTED] = "aborted",
      [DIAG_PRIVATE_ROUTE] = "private-route error",
      [DIAG_GIT_ERROR] = "git error",
      [DIAG_STORE_ERROR] = "store error",
      [DIAG_POLICY] = "policy",
  };
  return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "?";
}

void diag_record_dispose(struct diag_record *r) {
  if (r == NULL)
    return;
  free(r->target);
  free(r->client);
  free(r->module);
  free(r->version);
  free(r->attempts);
  free(r->explanation);
  free(r->user);
  r->target = r->client = r->module = r->version = r->attempts =
      r->explanation = r->user = NULL;
}

/* Length of the valid UTF-8 sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p) {
  size_t n = p[0] < 0x80                   ? 1
             : p[0] >= 0xf0 && p[0] < 0xf5 ? 4
             : p[0] >= 0xe0                ? 3
             : p[0] >= 0xc2 && p[0] < 0xe0 ? 2
                                           : 0;
  for (size_t i = 1; i < n; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

/* Where JSON text goes: a stdio stream, or a growing buffer (the request
 * records, one per request: no stdio on that path). */
struct sink {
  void (*put)(struct sink *k, const char *p, size_t n);
  FILE *f;
  char *buf;
  size_t len, cap;
  int oom;
};

static void put_file(struct sink *k, const char *p, size_t n) {
  fwrite(p, 1, n, k->f);
}

static void put_buf(struct sink *k, const char *p, size_t n) {
  if (k->oom)
    return;
  if (buf_reserve(&k->buf, &k->cap, k->len + n + 1, 512) < 0) {
    k->oom = 1;
    return;
  }
  memcpy(k->buf + k->len, p, n);
  k->len += n;
  k->buf[k->len] = '\0';
}

static void put_str(struct sink *k, const char *s) {
  k->put(k, s, strlen(s));
}

/* s as a JSON string (NULL: null), invalid UTF-8 replaced. */
static void put_json(struct sink *k, const char *s) {
  if (s == NULL) {
    put_str(k, "null");
    return;
  }
  put_str(k, "\"");
  /* Runs of bytes that need no escaping go out in one write. */
  const unsigned char *run = (const unsigned char *)s;
  for (const unsigned char *p = run; *p != '\0';) {
    size_t n = utf8_len(p);
    int plain = n > 1 ||
                (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\');
    if (plain) {
      p += n;
      continue;
    }
    k->put(k, (const char *)run, (size_t)(p - run));
    char esc[8];
    if (n == 0)
      snprintf(esc, sizeof esc, "\\ufffd");
    else if (*p == '"' || *p == '\\')
      snprintf(esc, sizeof esc, "\\%c", *p);
    else if (*p == '\n')
      snprintf(esc, sizeof esc, "\\n");
    else
      snprintf(esc, sizeof esc, "\\u%04x", *p);
    put_str(k, esc);
    run = ++p;
  }
  put_str(k, (const char *)run);
  put_str(k, "\"");
}

void diag_json_write(FILE *f, const char *s) {
  struct sink k = {.put = put_file, .f = f};
  put_json(&k, s);
}

/* ms as "2006-01-02T15:04:05.000Z" into buf (at least 25 bytes). The
 * seconds are formatted once per second and thread (a record per request
 * is written on the loop thread). */
static void iso_time(int64_t ms, char *buf, size_t len) {
  static _Thread_local int64_t cached_s = -1;
  static _Thread_local char cached[TIME_RFC3339_BYTES];
  int64_t sec = ms / 1000;
  if (sec != cached_s) {
    time_rfc3339(sec, cached, sizeof cached);
    cached_s = sec;
  }
  int frac = (int)(ms % 1000);
  size_t n = strlen(cached);
  if (n == 0 || len < n + 5) {
    buf[0] = '\0';
    return;
  }
  n--; /* without its 'Z' */
  memcpy(buf, cached, n);
  buf[n] = '.';
  buf[n + 1] = (char)('0' + frac / 100);
  buf[n + 2] = (char)('0' + frac / 10 % 10);
  buf[n + 3] = (char)('0' + frac % 10);
  memcpy(buf + n + 4, "Z", 2);
}

/* `,"key":` and s as a JSON string. */
static void put_field(struct sink *k, const char *key, const char *s) {
  put_str(k, ",\"");
  put_str(k, key);
  put_str(k, "\":");
  put_json(k, s);
}

/* `,"key":` and v in decimal. */
static void put_number(struct sink *k, const char *key, uint64_t v) {
  char num[24], *p = num + sizeof num;
  *--p = '\0';
  do
    *--p = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  put_str(k, ",\"");
  put_str(k, key);
  put_str(k, "\":");
  put_str(k, p);
}

void diag_json_field(FILE *f, const char *key, const char *s) {
  struct sink k = {.put = put_file, .f = f};
  put_field(&k, key, s);
}

char *diag_record_json(const struct diag_record *r) {
  struct sink k = {.put = put_buf};
  char when[40];
  iso_time(r->start_ms, when, sizeof when);
  /* The log level of the line: what an operator should look at; "audit"
   * for a private module's file served (who, what, when, from where). */
  put_str(&k, r->status >= 500   ? "{\"level\":\"error\""
              : r->status >= 400 ? "{\"level\":\"warn\""
              : r->audit         ? "{\"level\":\"audit\""
                                 : "{\"level\":\"info\"");
  put_field(&k, "id", r->id);
  if (r->client_id[0] != '\0')
    put_field(&k, "client_request_id", r->client_id);
  put_field(&k, "time", when);
  put_field(&k, "target", r->target);
  put_field(&k, "client", r->client);
  if (r->user != NULL)
    put_field(&k, "user", r->user);
  put_field(&k, "module", r->module);
  put_field(&k, "version", r->version);
  put_field(&k, "outcome", diag_outcome_name(r->outcome));
  put_number(&k, "status", (uint64_t)(r->status > 0 ? r->status : 0));
  put_number(&k, "bytes", r->bytes);
  put_number(&k, "ms", r->ms);
  put_str(&k, ",\"attempts\":");
  put_str(&k, r->attempts != NULL ? r->attempts : "[]");
  put_field(&k, "explanation", r->explanation);
  put_str(&k, "}");
  if (k.oom) {
    free(k.buf);
    return NULL;
  }
  return k.buf;
}

static const char *value_of(const char *json, const char *key);
static char *json_string(const char *p);

void diag_attempts_each(const char *json, diag_attempt_cb cb, void *arg) {
  /* Our own records hold objects {"url","status","error","ms"} in that
   * order, or, for private modules, git steps {"cmd","status","ms",...}. */
  for (const char *p = strchr(json, '{'); p != NULL; p = strchr(p + 1, '{')) {
    const char *end = strchr(p, '}');
    if (end == NULL)
      break;
    char *obj = strndup(p, (size_t)(end - p + 1));
    if (obj == NULL)
      return;
    char *what = json_string(value_of(obj, "url"));
    if (what == NULL)
      what = json_string(value_of(obj, "cmd"));
    char *err = json_string(value_of(obj, "error"));
    const char *st = value_of(obj, "status");
    const char *ms = value_of(obj, "ms");
    cb(arg, what != NULL ? what : "?", st != NULL ? strtol(st, NULL, 10) : 0L,
       err, ms != NULL ? strtol(ms, NULL, 10) : 0L);
    free(what);
    free(err);
    free(obj);
    p = end;
  }
}

/* One line of the attempts: "url: HTTP status (ms)" or the error. */
static void write_attempt(void *arg, const char *what, long status,
                          const char *error, long ms) {
  if (error != NULL)
    fprintf(arg, "  %s: %s (%ld ms)\n", what, error, ms);
  else
    fprintf(arg, "  %s: HTTP %ld (%ld ms)\n", what, status, ms);
}

char *diag_record_text(const struct diag_record *r) {
  char *out = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&out, &len);
  if (f == NULL)
    return NULL;
  char when[40];
  iso_time(r->start_ms, when, sizeof when);
  fprintf(f, "request %s at %s from %s%s%s\n  %s\n", r->id, when,
          r->client != NULL ? r->client : "?", r->user != NULL ? " as " : "",
          r->user != NULL ? r->user : "", r->target != NULL ? r->target : "");
  if (r->client_id[0] != '\0')
    fprintf(f, "  the client's X-Request-Id: %s\n", r->client_id);
  if (r->module != NULL)
    fprintf(f, "  module %s%s%s\n", r->module, r->version != NULL ? "@" : "",
            r->version != NULL ? r->version : "");
  fprintf(f, "outcome: %s, HTTP %d, %" PRIu64 " bytes, %" PRIu32 " ms\n",
          diag_outcome_name(r->outcome), r->status, r->bytes, r->ms);
  if (r->attempts != NULL && strcmp(r->attempts, "[]") != 0) {
    fprintf(f, "attempts:\n");
    diag_attempts_each(r->attempts, write_attempt, f);
  }
  if (r->explanation != NULL)
    fprintf(f, "explanation sent:\n%s", r->explanation);
  fclose(f);
  return out;
}

/* Finds "key": at the top level of one of our own records and returns a
 * pointer to its value, or NULL. Our records never put a key's text inside
 * a string value before the key itself (keys come first, in fixed order,
 * and string values are escaped), so a forward scan from the last match is
 * enough. */
static const char *value_of(const char *json, const char *key) {
  char pat[40];
  snprintf(pat, sizeof pat, ",\"%s\":", key);
  const char *p = strstr(json, pat);
  if (p == NULL) {
    snprintf(pat, sizeof pat, "{\"%s\":", key);
    p = strncmp(json, pat, strlen(pat)) == 0 ? json : NULL;
  }
  return p != NULL ? p + strlen(pat) : NULL;
}

/* Decodes the JSON string at p (our own escapes) into a heap string. */
static char *json_string(const char *p) {
  if (p == NULL || *p != '"')
    return NULL;
  char *out = malloc(strlen(p));
  if (out == NULL)
    return NULL;
  size_t w = 0;
  for (p++; *p != '\0' && *p != '"'; p++) {
    if (*p != '\\') {
      out[w++] = *p;
      continue;
    }
    p++;
    if (*p == 'n') {
      out[w++] = '\n';
    } else if (*p == 'u' && strlen(p) >= 5) {
      unsigned v =
          (unsigned)strtoul((char[5]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
      out[w++] = v < 0x80 ? (char)v : '?';
      p += 4;
    } else if (*p != '\0') {
      out[w++] = *p;
    } else {
      break;
    }
  }
  out[w] = '\0';
  return out;
}

/* Copies the JSON array at p (balanced brackets, strings skipped). */
static char *json_array(const char *p) {
  if (p == NULL || *p != '[')
    return NULL;
  int depth = 0, in_str = 0;
  const char *q = p;
  for (; *q != '\0'; q++) {
    if (in_str) {
      if (*q == '\\' && q[1] != '\0')
        q++;
      else if (*q == '"')
        in_str = 0;
    } else if (*q == '"') {
      in_str = 1;
    } else if (*q == '[') {
      depth++;
    } else if (*q == ']' && --depth == 0) {
      break;
    }
  }
  return *q == ']' ? strndup(p, (size_t)(q - p + 1)) : NULL;
}

int diag_record_parse(const char *json, struct diag_record *out) {
  memset(out, 0, sizeof *out);
  char *id = json_string(value_of(json, "id"));
  const char *st = value_of(json, "status");
  if (id == NULL || st == NULL) {
    free(id);
    return -EINVAL;
  }
  snprintf(out->id, sizeof out->id, "%s", id);
  free(id);
  char *client_id = json_string(value_of(json, "client_request_id"));
  if (client_id != NULL)
    snprintf(out->client_id, sizeof out->client_id, "%s", client_id);
  free(client_id);
  out->status = atoi(st);
  const char *v = value_of(json, "bytes");
  out->bytes = v != NULL ? strtoull(v, NULL, 10) : 0;
  v = value_of(json, "ms");
  out->ms = v != NULL ? (uint32_t)strtoul(v, NULL, 10) : 0;
  char *when = json_string(value_of(json, "time"));
  if (when != NULL) {
    struct tm tm = {0};
    const char *rest = strptime(when, "%Y-%m-%dT%H:%M:%S", &tm);
    out->start_ms = (int64_t)timegm(&tm) * 1000 +
                    (rest != NULL && *rest == '.' ? atoi(rest + 1) : 0);
    free(when);
  }
  char *outcome = json_string(value_of(json, "outcome"));
  for (int o = DIAG_HIT; outcome != NULL && o <= DIAG_POLICY; o++)
    if (strcmp(outcome, diag_outcome_name((enum diag_outcome)o)) == 0)
      out->outcome = (enum diag_outcome)o;
  free(outcome);
  out->target = json_string(value_of(json, "target"));
  out->client = json_string(value_of(json, "client"));
  out->user = json_string(value_of(json, "user"));
  out->audit = strncmp(json, "{\"level\":\"audit\"", 17) == 0;
  out->module = json_string(value_of(json, "module"));
  out->version = json_string(value_of(json, "version"));
  out->attempts = json_array(value_of(json, "attempts"));
  out->explanation = json_string(value_of(json, "explanation"));
  return 0;
}
