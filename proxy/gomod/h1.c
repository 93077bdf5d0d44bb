/*
 * The "h1:" hash of go.sum and the checksum database (dirhash.Hash1): the
 * SHA-256 of the lines "<hex sha256 of content>  <name>\n" for every file,
 * names sorted bytewise, as "h1:" + standard base64. The caller supplies
 * each file's digest, so this does no I/O; file names may not contain a
 * newline, which would make the list ambiguous.
 */
#include "modproxy/gomod.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define SHA256_BYTES 32

/*
 * Bytewise by name, as Go's sort.Strings. Equal names (which a valid
 * module zip never has) fall back to the digest, so that the result does
 * not depend on the input order.
 */
static int compare_files(const void *a, const void *b) {
  const struct gomod_h1_file *fa = a, *fb = b;
  int c = strcmp(fa->name, fb->name);
  if (c != 0)
    return c;
  return memcmp(fa->sha256, fb->sha256, SHA256_BYTES);
}

/* One summary line into the running hash: "<64 hex>  <name>\n". */
static int hash_line(EVP_MD_CTX *ctx, const struct gomod_h1_file *f) {
  static const char hex[] = "0123456789abcdef";
  char digest_hex[2 * SHA256_BYTES + 2];

  for (size_t i = 0; i < SHA256_BYTES; i++) {
    digest_hex[2 * i] = hex[f->sha256[i] >> 4];
    digest_hex[2 * i + 1] = hex[f->sha256[i] & 0xF];
  }
  digest_hex[2 * SHA256_BYTES] = ' ';
  digest_hex[2 * SHA256_BYTES + 1] = ' ';
  if (EVP_DigestUpdate(ctx, digest_hex, sizeof digest_hex) != 1 ||
      EVP_DigestUpdate(ctx, f->name, strlen(f->name)) != 1 ||
      EVP_DigestUpdate(ctx, "\n", 1) != 1)
    return -EIO;
  return 0;
}

int gomod_h1(struct gomod_h1_file *files, size_t n, char out[GOMOD_H1_BYTES]) {
  unsigned char sum[SHA256_BYTES];
  EVP_MD_CTX *ctx = NULL;
  int rc = 0;

  out[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    if (strchr(files[i].name, '\n') != NULL)
      return -EINVAL;
  }
  if (n > 0)
    qsort(files, n, sizeof files[0], compare_files);
  ctx = EVP_MD_CTX_new();
  if (ctx == NULL)
    return -ENOMEM;
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
    rc = -EIO;
    goto out;
  }
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = hash_line(ctx, &files[i]);
  if (rc == 0 && EVP_DigestFinal_ex(ctx, sum, NULL) != 1)
    rc = -EIO;
  if (rc < 0)
    goto out;
  memcpy(out, "h1:", 3);
  EVP_EncodeBlock((unsigned char *)out + 3, sum, SHA256_BYTES);
out:
  EVP_MD_CTX_free(ctx);
  return rc;
}

int gomod_h1_gomod(const void *data, size_t len, char out[GOMOD_H1_BYTES]) {
  struct gomod_h1_file f = {.name = "go.mod"};

  out[0] = '\0';
  if (EVP_Digest(data, len, f.sha256, NULL, EVP_sha256(), NULL) != 1)
    return -EIO;
  return gomod_h1(&f, 1, out);
}
