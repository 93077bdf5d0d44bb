/*
 * Access control (--auth-file): who may see private modules (or, with
 * --auth-required all, anything).
 *
 * The auth file holds one credential per line; blank lines and '#' comments
 * are ignored:
 *   user NAME pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX
 *   token NAME SHA256_HEX_OF_THE_TOKEN
 * Users authenticate with HTTP Basic (so the go command's ~/.netrc works
 * unchanged); tokens with "Authorization: Bearer TOKEN" or as the Basic
 * password. Only hashes are stored; `modproxy auth user` and `modproxy
 * auth token` make the lines.
 * Tokens are checked on the loop thread (one SHA-256). A password check
 * (PBKDF2) is deliberately slow: it runs on the password thread, within its
 * budget (auth_checks.c), and its outcome for a given Authorization header
 * is remembered for AUTH_CACHE_SECONDS, keyed by an HMAC of the header with
 * a key made at start (a copy of the cache reveals no password hash that is
 * cheap to attack). A remembered refusal never takes the place of a
 * remembered login, so that guesses cannot make users pay for theirs again.
 * A user name that is not in the file costs one derivation too, so that
 * the time of a refusal does not tell which names exist.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "auth.h"

/* Credentials in one auth file. */
#define AUTH_MAX_ENTRIES 4096
/* Remembered outcomes of recent Authorization headers. */
#define AUTH_CACHE_SLOTS 256
#define AUTH_CACHE_SECONDS 300
/* PBKDF2 iterations for new hashes (about 50 ms here: slow to guess, and
 * paid once per client per AUTH_CACHE_SECONDS). */
#define AUTH_PBKDF2_ITERATIONS 200000
#define AUTH_MAX_LINE 1024

struct entry {
  int is_token;
  char name[64];
  unsigned iterations;
  unsigned char salt[32];
  size_t salt_len;
  unsigned char hash[32];
};

struct cached {
  unsigned char key[32]; /* HMAC-SHA256 of the Authorization header */
  int64_t until;
  char user[64]; /* "" when refused */
};

struct proxy_auth {
  int refs; /* loop thread */
  struct entry *entries;
  size_t n;
  /* What a user name that is not in the file is checked against: a user
   * entry with random bytes, as costly as the file's first user. */
  struct entry nobody;
  unsigned char cache_key[32];
  struct cached cache[AUTH_CACHE_SLOTS];
};

static int unhex(const char *s, unsigned char *out, size_t cap, size_t *len) {
  size_t n = strlen(s);
  if (n % 2 != 0 || n / 2 > cap)
    return -EINVAL;
  for (size_t i = 0; i < n / 2; i++) {
    unsigned v;
    if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
        !isxdigit((unsigned char)s[2 * i]) ||
        !isxdigit((unsigned char)s[2 * i + 1]))
      return -EINVAL;
    out[i] = (unsigned char)v;
  }
  *len = n / 2;
  return 0;
}

static int parse_line(char *line, struct entry *e, char *err, size_t errlen) {
  char kind[16], name[64], secret[AUTH_MAX_LINE];
  if (sscanf(line, "%15s %63s %1023s", kind, name, secret) != 3) {
    snprintf(err, errlen,
             "expected \"user NAME HASH\" or \"token NAME SHA256\"");
    return -EINVAL;
  }
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  size_t len;
  if (strcmp(kind, "token") == 0) {
    e->is_token = 1;
    if (unhex(secret, e->hash, sizeof e->hash, &len) < 0 || len != 32) {
      snprintf(err, errlen,
               "a token line needs the 64-hex-digit SHA-256 of the token");
      return -EINVAL;
    }
    return 0;
  }
  if (strcmp(kind, "user") != 0) {
    snprintf(err, errlen, "unknown kind \"%s\" (user or token)", kind);
    return -EINVAL;
  }
  char *p = secret;
  if (strncmp(p, "pbkdf2-sha256$", 14) != 0) {
    snprintf(err, errlen,
             "a user line needs a pbkdf2-sha256$... hash "
             "(make one with: modproxy auth user NAME)");
    return -EINVAL;
  }
  p += 14;
  char *d1 = strchr(p, '$'), *d2 = d1 != NULL ? strchr(d1 + 1, '$') : NULL;
  if (d1 == NULL || d2 == NULL) {
    snprintf(err, errlen, "malformed pbkdf2-sha256 hash");
    return -EINVAL;
  }
  *d1 = *d2 = '\0';
  e->iterations = (unsigned)strtoul(p, NULL, 10);
  if (e->iterations == 0 ||
      unhex(d1 + 1, e->salt, sizeof e->salt, &e->salt_len) < 0 ||
      unhex(d2 + 1, e->hash, sizeof e->hash, &len) < 0 || len != 32) {
    snprintf(err, errlen, "malformed pbkdf2-sha256 hash");
    return -EINVAL;
  }
  return 0;
}

int proxy_auth_load(const char *path, struct proxy_auth **out, char *err,
                    size_t errlen) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "--auth-file %s: %s", path, strerror(errno));
    return -EINVAL;
  }
  struct proxy_auth *a = calloc(1, sizeof *a);
  if (a != NULL)
    a->entries = calloc(AUTH_MAX_ENTRIES, sizeof *a->entries);
  if (a == NULL || a->entries == NULL) {
    fclose(f);
    proxy_auth_release(a);
    return -ENOMEM;
  }
  char line[AUTH_MAX_LINE + 64];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
    lineno++;
    char *p = line;
    while (isspace((unsigned char)*p))
      p++;
    if (*p == '\0' || *p == '#')
      continue;
    char why[160];
    if (a->n == AUTH_MAX_ENTRIES) {
      snprintf(err, errlen, "--auth-file %s: more than %d entries", path,
               AUTH_MAX_ENTRIES);
      rc = -EINVAL;
    } else if (parse_line(p, &a->entries[a->n], why, sizeof why) < 0) {
      snprintf(err, errlen, "--auth-file %s:%d: %s", path, lineno, why);
      rc = -EINVAL;
    } else {
      a->n++;
    }
  }
  fclose(f);
  a->nobody.iterations = AUTH_PBKDF2_ITERATIONS;
  for (size_t i = 0; i < a->n; i++)
    if (!a->entries[i].is_token) {
      a->nobody.iterations = a->entries[i].iterations;
      break;
    }
  a->nobody.salt_len = 16;
  if (rc == 0 && (RAND_bytes(a->nobody.salt, (int)a->nobody.salt_len) != 1 ||
                  RAND_bytes(a->nobody.hash, sizeof a->nobody.hash) != 1 ||
                  RAND_bytes(a->cache_key, sizeof a->cache_key) != 1)) {
    snprintf(err, errlen, "--auth-file %s: no randomness available", path);
    rc = -EINVAL;
  }
  if (rc < 0) {
    proxy_auth_release(a);
    return rc;
  }
  a->refs = 1;
  *out = a;
  return 0;
}

struct proxy_auth *proxy_auth_hold(struct proxy_auth *a) {
  a->refs++;
  return a;
}

void proxy_auth_release(struct proxy_auth *a) {
  if (a == NULL || --a->refs > 0)
    return;
  OPENSSL_cleanse(a->entries, AUTH_MAX_ENTRIES * sizeof *a->entries);
  free(a->entries);
  OPENSSL_cleanse(a, sizeof *a);
  free(a);
}

static int b64_decode(const char *in, char *out, size_t cap) {
  size_t n = strlen(in);
  if (n == 0 || n % 4 != 0 || (n / 4) * 3 + 1 > cap)
    return -EINVAL;
  int got =
      EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
  if (got < 0)
    return -EINVAL;
  while (n > 0 && in[n - 1] == '=' && got > 0) {
    got--;
    n--;
  }
  out[got] = '\0';
  return got;
}

/* Checks a password against a user entry: PBKDF2 (slow on purpose), then
 * a comparison in constant time. */
static int password_matches(const struct entry *e, const char *password) {
  unsigned char h[32];
  if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), e->salt,
                        (int)e->salt_len, (int)e->iterations, EVP_sha256(),
                        sizeof h, h) != 1)
    return 0;
  return CRYPTO_memcmp(h, e->hash, sizeof h) == 0;
}

/* The credentials in an Authorization header, decoded into buf: Bearer
 * TOKEN (*name NULL) or Basic base64(NAME:SECRET). -EINVAL for anything
 * else, or an empty secret. */
static int parse_header(const char *header, char *buf, size_t cap,
                        const char **name, const char **secret) {
  *name = NULL;
  if (strncasecmp(header, "Bearer ", 7) == 0) {
    *secret = header + 7;
  } else if (strncasecmp(header, "Basic ", 6) == 0 &&
             b64_decode(header + 6, buf, cap) > 0 && strchr(buf, ':') != NULL) {
    char *colon = strchr(buf, ':');
    *colon = '\0';
    *name = buf;
    *secret = colon + 1;
  } else {
    return -EINVAL;
  }
  return (*secret)[0] != '\0' ? 0 : -EINVAL;
}

/* The token whose hash is the secret's, or NULL. A token is accepted
 * whatever login name comes with it. */
static const struct entry *token_of(const struct proxy_auth *a,
                                    const char *secret) {
  unsigned char h[32];
  const struct entry *found = NULL;
  EVP_Digest(secret, strlen(secret), h, NULL, EVP_sha256(), NULL);
  for (size_t i = 0; i < a->n && found == NULL; i++)
    if (a->entries[i].is_token &&
        CRYPTO_memcmp(h, a->entries[i].hash, sizeof h) == 0)
      found = &a->entries[i];
  return found;
}

static struct cached *cache_slot(struct proxy_auth *a, const char *header,
                                 unsigned char key[32]) {
  unsigned len = 32;
  HMAC(EVP_sha256(), a->cache_key, sizeof a->cache_key,
       (const unsigned char *)header, strlen(header), key, &len);
  return &a->cache[key[0] % AUTH_CACHE_SLOTS];
}

int proxy_auth_cached(struct proxy_auth *a, const char *header, char *user,
                      size_t cap) {
  user[0] = '\0';
  if (header == NULL || header[0] == '\0')
    return 1; /* anonymous */
  char buf[AUTH_MAX_LINE];
  const char *name, *secret;
  int settled = 1;
  if (parse_header(header, buf, sizeof buf, &name, &secret) == 0) {
    const struct entry *t = token_of(a, secret);
    if (t != NULL) {
      snprintf(user, cap, "%s", t->name);
    } else if (name != NULL) {
      unsigned char key[32];
      const struct cached *slot = cache_slot(a, header, key);
      settled = slot->until > (int64_t)time(NULL) &&
                CRYPTO_memcmp(slot->key, key, sizeof key) == 0;
      if (settled)
        snprintf(user, cap, "%s", slot->user);
    }
  }
  OPENSSL_cleanse(buf, sizeof buf);
  return settled;
}

void proxy_auth_verify(const struct proxy_auth *a, const char *header,
                       char *user, size_t cap) {
  user[0] = '\0';
  char buf[AUTH_MAX_LINE];
  const char *name, *secret;
  if (parse_header(header, buf, sizeof buf, &name, &secret) == 0 &&
      name != NULL) {
    const struct entry *e = NULL;
    for (size_t i = 0; i < a->n && e == NULL; i++)
      if (!a->entries[i].is_token && strcmp(name, a->entries[i].name) == 0)
        e = &a->entries[i];
    /* Unknown or not, the same derivation. */
    if (password_matches(e != NULL ? e : &a->nobody, secret) && e != NULL)
      snprintf(user, cap, "%s", e->name);
  }
  OPENSSL_cleanse(buf, sizeof buf);
}

void proxy_auth_remember(struct proxy_auth *a, const char *header,
                         const char *user) {
  unsigned char key[32];
  struct cached *slot = cache_slot(a, header, key);
  int64_t now = (int64_t)time(NULL);
  if (user[0] == '\0' && slot->user[0] != '\0' && slot->until > now &&
      CRYPTO_memcmp(slot->key, key, sizeof key) != 0)
    return; /* a refusal never displaces a login */
  memcpy(slot->key, key, sizeof key);
  slot->until = now + AUTH_CACHE_SECONDS;
  snprintf(slot->user, sizeof slot->user, "%s", user);
}

int proxy_auth_hash_line(const char *kind, const char *name, const char *secret,
                         char *out, size_t cap) {
  unsigned char h[32], salt[16];
  char hex[65], salt_hex[33];
  if (strcmp(kind, "token") == 0) {
    EVP_Digest(secret, strlen(secret), h, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
      snprintf(hex + 2 * i, 3, "%02x", h[i]);
    return snprintf(out, cap, "token %s %s", name, hex);
  }
  FILE *r = fopen("/dev/urandom", "rb");
  size_t got = r != NULL ? fread(salt, 1, sizeof salt, r) : 0;
  if (r != NULL)
    fclose(r);
  if (got != sizeof salt ||
      PKCS5_PBKDF2_HMAC(secret, (int)strlen(secret), salt, sizeof salt,
                        AUTH_PBKDF2_ITERATIONS, EVP_sha256(), sizeof h, h) != 1)
    return -EIO;
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", h[i]);
  for (int i = 0; i < 16; i++)
    snprintf(salt_hex + 2 * i, 3, "%02x", salt[i]);
  return snprintf(out, cap, "user %s pbkdf2-sha256$%d$%s$%s", name,
                  AUTH_PBKDF2_ITERATIONS, salt_hex, hex);
}
