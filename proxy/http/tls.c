/*
 * The TLS listener (--tls-cert, --tls-key): OpenSSL on memory BIOs, so that
 * libuv keeps doing all socket I/O and conn.c only swaps plaintext for
 * ciphertext on the way in and out. A reload (http_server_configure)
 * replaces the context for new connections; connections already open keep
 * the context they started with (each SSL holds a reference to it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http_internal.h"

/* "what FILE: OpenSSL's reason" into err. */
static void ssl_error(char *err, size_t errlen, const char *what,
                      const char *file) {
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, buf, sizeof buf);
  snprintf(err, errlen, "%s%s%s: %s", what, file != NULL ? " " : "",
           file != NULL ? file : "", e != 0 ? buf : "unknown error");
  ERR_clear_error();
}

int http__tls_load(const struct http_config *cfg, SSL_CTX **out, char *err,
                   size_t errlen) {
  *out = NULL;
  if (cfg->tls_cert == NULL && cfg->tls_key == NULL)
    return 0;
  if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
    snprintf(err, errlen, "--tls-cert and --tls-key go together");
    return -EINVAL;
  }
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    ssl_error(err, errlen, "cannot set up TLS", NULL);
    return -EINVAL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
    ssl_error(err, errlen,
              "--tls-cert: cannot read a PEM certificate chain from",
              cfg->tls_cert);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    ssl_error(err, errlen,
              "--tls-key: not a PEM key, or it does not match --tls-cert:",
              cfg->tls_key);
    goto fail;
  }
  *out = ctx;
  return 0;
fail:
  SSL_CTX_free(ctx);
  return -EINVAL;
}

SSL *http__tls_session(struct http_server *s) {
  if (s->tls == NULL)
    return NULL;
  SSL *ssl = SSL_new(s->tls);
  BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
  if (ssl == NULL || rbio == NULL || wbio == NULL) {
    SSL_free(ssl);
    BIO_free(rbio);
    BIO_free(wbio);
    return NULL;
  }
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_accept_state(ssl);
  return ssl;
}
