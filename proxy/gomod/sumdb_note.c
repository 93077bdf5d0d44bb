/*
 * Checksum database notes, keys and records (x/mod sumdb/note and
 * sumdb/tlog/note.go; cmd/go's GOSUMDB parsing).
 *
 * A signed note is UTF-8 text ending in '\n', a blank line, then lines
 * "— <name> <base64(4-byte key hash || signature)>". Only Ed25519 keys
 * (algorithm 1) exist; signatures are checked through OpenSSL's EVP
 * interface. Pure: the functions take bytes and return results.
 */
#include "modproxy/sumdb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "gomod_internal.h"

/* note.algEd25519 */
#define KEY_ALG_ED25519 1
#define ED25519_SIG_BYTES 64

static int set_err(char *err, size_t errlen, int rc, const char *msg) {
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", msg);
  return rc;
}

/* ---- base64 (encoding/base64.StdEncoding) -------------------------------- */

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int sumdb_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap) {
  if (len % 4 != 0)
    return -EINVAL;
  size_t n = 0;
  for (size_t i = 0; i < len; i += 4) {
    int v[4], pad = 0;
    for (int k = 0; k < 4; k++) {
      unsigned char c = (unsigned char)in[i + k];
      if (c == '=' && i + 4 == len && k >= 2) {
        v[k] = 0;
        pad++;
        continue;
      }
      if (pad > 0)
        return -EINVAL; /* data after padding */
      v[k] = b64_value(c);
      if (v[k] < 0)
        return -EINVAL;
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    int bytes = 3 - pad;
    if (n + (size_t)bytes > cap)
      return -EINVAL;
    out[n++] = (uint8_t)(w >> 16);
    if (bytes > 1)
      out[n++] = (uint8_t)(w >> 8);
    if (bytes > 2)
      out[n++] = (uint8_t)w;
  }
  return (int)n;
}

int sumdb_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t need = (len + 2) / 3 * 4;
  if (need >= cap)
    return -E2BIG;
  size_t n = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t w = (uint32_t)in[i] << 16;
    if (i + 1 < len)
      w |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < len)
      w |= in[i + 2];
    out[n++] = abc[w >> 18 & 63];
    out[n++] = abc[w >> 12 & 63];
    out[n++] = i + 1 < len ? abc[w >> 6 & 63] : '=';
    out[n++] = i + 2 < len ? abc[w & 63] : '=';
  }
  out[n] = '\0';
  return (int)n;
}

/* ---- keys ---------------------------------------------------------------- */

/* note.isValidName: non-empty UTF-8 without Unicode spaces or '+'. The
 * spaces checked are the ASCII ones and U+0085, U+00A0 (the others are
 * multi-byte sequences starting with 0xE1-0xE3, refused as well). */
static int valid_name(const char *s, size_t n) {
  if (n == 0 || !gomod__utf8_valid(s, n))
    return 0;
  for (size_t i = 0; i < n;) {
    uint32_t r;
    size_t w = gomod__utf8_decode(s + i, n - i, &r);
    if (r == '+' || r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 ||
        r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) ||
        r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000)
      return 0;
    i += w;
  }
  return 1;
}

static uint32_t key_hash(const char *name, size_t nlen, const uint8_t *key,
                         size_t klen) {
  unsigned char d[32];
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md == NULL)
    return 0;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  EVP_DigestUpdate(md, name, nlen);
  EVP_DigestUpdate(md, "\n", 1);
  EVP_DigestUpdate(md, key, klen);
  EVP_DigestFinal_ex(md, d, NULL);
  EVP_MD_CTX_free(md);
  return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 |
         (uint32_t)d[3];
}

/* "<name>+<8 hex>+<base64>": the name's length, the hash and the decoded
 * key (algorithm byte first) in key[0..*klen). -EINVAL unless well formed
 * (the hash is not checked here). */
static int split_key(const char *text, size_t *nlen, uint32_t *hash,
                     uint8_t key[64], int *klen) {
  const char *p1 = strchr(text, '+');
  const char *p2 = p1 != NULL ? strchr(p1 + 1, '+') : NULL;
  if (p1 == NULL || p2 == NULL || p2 - p1 != 9)
    return -EINVAL;
  *nlen = (size_t)(p1 - text);
  *hash = 0;
  for (const char *h = p1 + 1; h < p2; h++) {
    int d = gomod_hex_digit((unsigned char)*h);
    if (d < 0)
      return -EINVAL;
    *hash = *hash << 4 | (uint32_t)d;
  }
  *klen = sumdb_base64_decode(p2 + 1, strlen(p2 + 1), key, 64);
  if (*klen <= 0 || !valid_name(text, *nlen) || *nlen >= SUMDB_MAX_NAME_BYTES)
    return -EINVAL;
  return 0;
}

int sumdb_key_parse(const char *vkey, struct sumdb_key *out, char *err,
                    size_t errlen) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(vkey), nlen;
  uint8_t key[64];
  int klen;
  uint32_t hash;
  if (len >= sizeof out->text || split_key(vkey, &nlen, &hash, key, &klen) < 0)
    return set_err(err, errlen, -EINVAL, "malformed verifier id");
  if (hash != key_hash(vkey, nlen, key, (size_t)klen))
    return set_err(err, errlen, -EINVAL, "invalid verifier hash");
  if (key[0] != KEY_ALG_ED25519)
    return set_err(err, errlen, -EINVAL, "unknown verifier algorithm");
  if (klen != 33)
    return set_err(err, errlen, -EINVAL, "malformed verifier id");
  memcpy(out->name, vkey, nlen);
  out->name[nlen] = '\0';
  out->hash = hash;
  memcpy(out->pub, key + 1, 32);
  memcpy(out->text, vkey, len + 1);
  return 0;
}

/* The Ed25519 public key of a 32-byte private key (seed). */
static int ed25519_public(const uint8_t seed[32], uint8_t pub[32]) {
  EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
  size_t n = 32;
  int ok =
      pk != NULL && EVP_PKEY_get_raw_public_key(pk, pub, &n) == 1 && n == 32;
  EVP_PKEY_free(pk);
  return ok ? 0 : -EIO;
}

int sumdb_signer_parse(const char *skey, struct sumdb_signer *out, char *err,
                       size_t errlen) {
  static const char prefix[] = "PRIVATE+KEY+";
  memset(out, 0, sizeof *out);
  size_t plen = sizeof prefix - 1, nlen;
  uint8_t key[64], pub[33];
  int klen;
  uint32_t hash;
  if (strncmp(skey, prefix, plen) != 0 ||
      split_key(skey + plen, &nlen, &hash, key, &klen) < 0)
    return set_err(err, errlen, -EINVAL, "malformed signer key");
  if (key[0] != KEY_ALG_ED25519 || klen != 33)
    return set_err(err, errlen, -EINVAL, "unknown signer algorithm");
  pub[0] = KEY_ALG_ED25519;
  if (ed25519_public(key + 1, pub + 1) < 0)
    return set_err(err, errlen, -EINVAL, "malformed signer key");
  if (hash != key_hash(skey + plen, nlen, pub, sizeof pub))
    return set_err(err, errlen, -EINVAL, "invalid signer key hash");
  memcpy(out->name, skey + plen, nlen);
  out->name[nlen] = '\0';
  out->hash = hash;
  memcpy(out->seed, key + 1, 32);
  return 0;
}

int sumdb_key_generate(const char *name, const uint8_t seed[32], char *skey,
                       size_t scap, char *vkey, size_t vcap) {
  size_t nlen = strlen(name);
  uint8_t pub[33], priv[33];
  char b64[64];
  if (!valid_name(name, nlen) || nlen >= SUMDB_MAX_NAME_BYTES)
    return -EINVAL;
  pub[0] = priv[0] = KEY_ALG_ED25519;
  memcpy(priv + 1, seed, 32);
  if (ed25519_public(seed, pub + 1) < 0)
    return -EIO;
  uint32_t hash = key_hash(name, nlen, pub, sizeof pub);
  sumdb_base64_encode(pub, sizeof pub, b64, sizeof b64);
  if ((size_t)snprintf(vkey, vcap, "%s+%08x+%s", name, hash, b64) >= vcap)
    return -E2BIG;
  sumdb_base64_encode(priv, sizeof priv, b64, sizeof b64);
  if ((size_t)snprintf(skey, scap, "PRIVATE+KEY+%s+%08x+%s", name, hash, b64) >=
      scap)
    return -E2BIG;
  return 0;
}

/* A database name must be a host[/path] ("No funny business in the
 * database name", modfetch.dbDial): what url.Parse("https://" + name)
 * gives back unchanged. */
static int valid_db_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || name[0] == '/' || name[n - 1] == '/' || strstr(name, "//"))
    return 0;
  for (const char *p = name; *p != '\0'; p++) {
    unsigned char c = (unsigned char)*p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
          c == '~' || c == '/' || c == ':'))
      return 0;
  }
  return 1;
}

int sumdb_spec_parse(const char *gosumdb, struct sumdb_spec *out, char *err,
                     size_t errlen) {
  memset(out, 0, sizeof *out);
  char fields[3][SUMDB_MAX_URL_BYTES];
  int nf = 0;
  const char *p = gosumdb;
  if (strcmp(gosumdb, "sum.golang.google.cn") == 0)
    p = "sum.golang.org https://sum.golang.google.cn";
  while (*p != '\0') {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      p++;
    if (*p == '\0')
      break;
    size_t w = strcspn(p, " \t\n\r");
    if (nf == 3 || w >= sizeof fields[0])
      return set_err(err, errlen, -EINVAL, "invalid GOSUMDB: too many fields");
    memcpy(fields[nf], p, w);
    fields[nf++][w] = '\0';
    p += w;
  }
  if (nf == 0)
    return set_err(err, errlen, -EINVAL, "missing GOSUMDB");
  if (nf > 2)
    return set_err(err, errlen, -EINVAL, "invalid GOSUMDB: too many fields");
  const char *vkey = fields[0];
  if (strcmp(vkey, "sum.golang.org") == 0)
    vkey = SUMDB_GOLANG_ORG_KEY;
  char kerr[64];
  if (sumdb_key_parse(vkey, &out->key, kerr, sizeof kerr) < 0) {
    if (err != NULL)
      snprintf(err, errlen, "invalid GOSUMDB: %s", kerr);
    return -EINVAL;
  }
  if (!valid_db_name(out->key.name)) {
    if (err != NULL)
      snprintf(err, errlen, "invalid sumdb name (must be host[/path]): %s",
               out->key.name);
    return -EINVAL;
  }
  if (nf == 2) {
    const char *u = fields[1];
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0 &&
        strncmp(u, "file:///", 8) != 0)
      return set_err(err, errlen, -EINVAL,
                     "invalid GOSUMDB URL: the scheme must be https, http or "
                     "file");
    size_t ul = strlen(u);
    while (ul > 0 && u[ul - 1] == '/')
      ul--;
    memcpy(out->url, u, ul);
    out->url[ul] = '\0';
  }
  return 0;
}

/* ---- notes --------------------------------------------------------------- */

static int ed25519_verify(const uint8_t pub[32], const char *msg, size_t len,
                          const uint8_t *sig, size_t siglen) {
  if (siglen != ED25519_SIG_BYTES)
    return 0;
  EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok =
      pk != NULL && md != NULL &&
      EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) == 1 &&
      EVP_DigestVerify(md, sig, siglen, (const unsigned char *)msg, len) == 1;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pk);
  return ok;
}

/* The signature-line prefix: U+2014 EM DASH and a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";

int sumdb_note_sign(const char *text, size_t len, const struct sumdb_signer *s,
                    char **note, size_t *note_len) {
  *note = NULL;
  if (len == 0 || text[len - 1] != '\n' || len > SUMDB_MAX_NOTE_BYTES)
    return -EINVAL;
  uint8_t sig[4 + ED25519_SIG_BYTES];
  sig[0] = (uint8_t)(s->hash >> 24);
  sig[1] = (uint8_t)(s->hash >> 16);
  sig[2] = (uint8_t)(s->hash >> 8);
  sig[3] = (uint8_t)s->hash;
  size_t siglen = ED25519_SIG_BYTES;
  EVP_PKEY *pk =
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, s->seed, 32);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int ok = pk != NULL && md != NULL &&
           EVP_DigestSignInit(md, NULL, NULL, NULL, pk) == 1 &&
           EVP_DigestSign(md, sig + 4, &siglen, (const unsigned char *)text,
                          len) == 1 &&
           siglen == ED25519_SIG_BYTES;
  EVP_MD_CTX_free(md);
  EVP_PKEY_free(pk);
  if (!ok)
    return -EIO;
  char b64[128];
  sumdb_base64_encode(sig, sizeof sig, b64, sizeof b64);
  size_t cap = len + strlen(s->name) + strlen(b64) + 16;
  char *out = malloc(cap);
  if (out == NULL)
    return -ENOMEM;
  int n = snprintf(out, cap, "%.*s\n%s%s %s\n", (int)len, text, sig_prefix,
                   s->name, b64);
  *note = out;
  *note_len = (size_t)n;
  return 0;
}

int sumdb_note_verify(const char *msg, size_t len, const struct sumdb_key *key,
                      size_t *text_len, char *err, size_t errlen) {
  if (len > SUMDB_MAX_NOTE_BYTES || !gomod__utf8_valid(msg, len))
    return set_err(err, errlen, -EBADMSG, "malformed note");
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)msg[i] < 0x20 && msg[i] != '\n')
      return set_err(err, errlen, -EBADMSG, "malformed note");
  /* The last blank line separates the text from the signatures. */
  size_t split = len;
  for (size_t i = len; i >= 2; i--) {
    if (msg[i - 2] == '\n' && msg[i - 1] == '\n') {
      split = i - 2;
      break;
    }
  }
  if (split == len)
    return set_err(err, errlen, -EBADMSG, "malformed note");
  size_t tlen = split + 1;
  const char *sigs = msg + split + 2, *end = msg + len;
  if (sigs == end || end[-1] != '\n')
    return set_err(err, errlen, -EBADMSG, "malformed note");
  int verified = 0, count = 0;
  size_t plen = sizeof sig_prefix - 1;
  while (sigs < end) {
    const char *nl = memchr(sigs, '\n', (size_t)(end - sigs));
    const char *line = sigs;
    size_t llen = (size_t)(nl - sigs);
    sigs = nl + 1;
    if (llen < plen || memcmp(line, sig_prefix, plen) != 0)
      return set_err(err, errlen, -EBADMSG, "malformed note");
    line += plen;
    llen -= plen;
    const char *sp = memchr(line, ' ', llen);
    size_t nlen = sp != NULL ? (size_t)(sp - line) : llen;
    const char *b64 = sp != NULL ? sp + 1 : line + llen;
    size_t blen = llen - nlen - (sp != NULL ? 1 : 0);
    uint8_t sig[128];
    int slen =
        blen > 0 ? sumdb_base64_decode(b64, blen, sig, sizeof sig) : -EINVAL;
    if (slen < 5 || !valid_name(line, nlen))
      return set_err(err, errlen, -EBADMSG, "malformed note");
    if (++count > SUMDB_MAX_SIGNATURES)
      return set_err(err, errlen, -EBADMSG, "malformed note");
    uint32_t hash = (uint32_t)sig[0] << 24 | (uint32_t)sig[1] << 16 |
                    (uint32_t)sig[2] << 8 | (uint32_t)sig[3];
    if (nlen != strlen(key->name) || memcmp(line, key->name, nlen) != 0 ||
        hash != key->hash)
      continue; /* another verifier's signature */
    if (verified)
      continue; /* repeated signatures by one verifier are dropped */
    if (!ed25519_verify(key->pub, msg, tlen, sig + 4, (size_t)slen - 4)) {
      if (err != NULL)
        snprintf(err, errlen, "invalid signature for key %s+%08x", key->name,
                 key->hash);
      return -EKEYREJECTED;
    }
    verified = 1;
  }
  if (!verified) {
    if (err != NULL)
      snprintf(err, errlen, "note has no signature by %s+%08x", key->name,
               key->hash);
    return -ENOKEY;
  }
  *text_len = tlen;
  return 0;
}

/* ---- tree heads and records ---------------------------------------------- */

static const char tree_prefix[] = "go.sum database tree\n";

int sumdb_tree_parse(const char *text, size_t len, struct sumdb_tree *out) {
  size_t plen = sizeof tree_prefix - 1;
  if (len < plen || len > 1000000 || memcmp(text, tree_prefix, plen) != 0)
    return -EBADMSG;
  const char *p = text + plen, *end = text + len;
  const char *nl1 = memchr(p, '\n', (size_t)(end - p));
  if (nl1 == NULL)
    return -EBADMSG;
  const char *nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1));
  if (nl2 == NULL)
    return -EBADMSG;
  /* The size: canonical decimal (strconv.FormatInt round trip). */
  size_t dlen = (size_t)(nl1 - p);
  if (dlen == 0 || dlen > 19 || (p[0] == '0' && dlen > 1))
    return -EBADMSG;
  int64_t n = 0;
  for (size_t i = 0; i < dlen; i++) {
    if (p[i] < '0' || p[i] > '9')
      return -EBADMSG;
    if (n > (INT64_MAX - (p[i] - '0')) / 10)
      return -EBADMSG;
    n = n * 10 + (p[i] - '0');
  }
  uint8_t h[SUMDB_HASH_BYTES + 3];
  int hl = sumdb_base64_decode(nl1 + 1, (size_t)(nl2 - nl1 - 1), h, sizeof h);
  if (hl != SUMDB_HASH_BYTES)
    return -EBADMSG;
  out->n = n;
  memcpy(out->hash.b, h, SUMDB_HASH_BYTES);
  return 0;
}

/* tlog.isValidRecordText. */
static int valid_record_text(const char *t, size_t n) {
  if (n == 0 || t[n - 1] != '\n' || !gomod__utf8_valid(t, n))
    return 0;
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)t[i] < 0x20 && t[i] != '\n')
      return 0;
    if (i > 0 && t[i] == '\n' && t[i - 1] == '\n')
      return 0;
  }
  return 1;
}

int sumdb_record_parse(const char *msg, size_t len, int64_t *id,
                       const char **text, size_t *text_len) {
  const char *nl = memchr(msg, '\n', len);
  if (nl == NULL || nl == msg)
    return -EBADMSG;
  /* strconv.ParseInt(s, 10, 64): an optional sign, then digits. */
  const char *p = msg;
  int neg = 0;
  if (*p == '+' || *p == '-') {
    neg = *p == '-';
    p++;
  }
  if (p == nl)
    return -EBADMSG;
  uint64_t v = 0;
  for (; p < nl; p++) {
    if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
      return -EBADMSG;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
    return -EBADMSG;
  const char *body = nl + 1, *end = msg + len;
  const char *blank = NULL;
  for (const char *q = body; q + 1 < end; q++) {
    if (q[0] == '\n' && q[1] == '\n') {
      blank = q;
      break;
    }
  }
  if (blank == NULL)
    return -EBADMSG;
  size_t tl = (size_t)(blank + 1 - body);
  if (!valid_record_text(body, tl))
    return -EBADMSG;
  *id = neg ? (int64_t)(0 - v) : (int64_t)v;
  *text = body;
  *text_len = tl;
  return (int)(blank + 2 - msg);
}

int sumdb_lookup_parse(const char *body, size_t len,
                       const struct sumdb_key *key, struct sumdb_lookup *out,
                       char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int rest =
      sumdb_record_parse(body, len, &out->id, &out->text, &out->text_len);
  if (rest < 0)
    return set_err(err, errlen, -EBADMSG, "malformed record data");
  out->note = body + rest;
  out->note_len = len - (size_t)rest;
  size_t tlen;
  int rc = sumdb_note_verify(out->note, out->note_len, key, &tlen, err, errlen);
  if (rc < 0)
    return rc;
  if (sumdb_tree_parse(out->note, tlen, &out->tree) < 0)
    return set_err(err, errlen, -EBADMSG, "malformed tree note");
  if (out->id < 0 || out->id >= out->tree.n)
    return set_err(err, errlen, -EBADMSG,
                   "record id is not in the signed tree");
  return 0;
}

int sumdb_record_hashes(const char *text, size_t len, const char *module,
                        const char *version, char zip_h1[GOMOD_H1_BYTES],
                        char mod_h1[GOMOD_H1_BYTES]) {
  zip_h1[0] = mod_h1[0] = '\0';
  size_t ml = strlen(module), vl = strlen(version);
  int found = 0;
  for (const char *p = text, *end = text + len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
      nl = end;
    const char *line = p;
    size_t ll = (size_t)(nl - p);
    p = nl + 1;
    if (ll == 0)
      continue;
    /* "<module> <version>[/go.mod] <hash>" */
    const char *s1 = memchr(line, ' ', ll);
    const char *s2 =
        s1 != NULL ? memchr(s1 + 1, ' ', (size_t)(line + ll - s1 - 1)) : NULL;
    if (s1 == NULL || s2 == NULL ||
        memchr(s2 + 1, ' ', (size_t)(line + ll - s2 - 1)) != NULL)
      return -EBADMSG;
    if ((size_t)(s1 - line) != ml || memcmp(line, module, ml) != 0)
      continue;
    const char *v = s1 + 1;
    size_t vlen = (size_t)(s2 - v);
    const char *h = s2 + 1;
    size_t hl = (size_t)(line + ll - h);
    if (hl >= GOMOD_H1_BYTES)
      return -EBADMSG;
    if (vlen == vl && memcmp(v, version, vl) == 0) {
      memcpy(zip_h1, h, hl);
      zip_h1[hl] = '\0';
      found = 1;
    } else if (vlen == vl + 7 && memcmp(v, version, vl) == 0 &&
               memcmp(v + vl, "/go.mod", 7) == 0) {
      memcpy(mod_h1, h, hl);
      mod_h1[hl] = '\0';
      found = 1;
    }
  }
  return found ? 0 : -ENOENT;
}
