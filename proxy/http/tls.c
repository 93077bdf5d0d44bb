/*
 * The TLS listener (--tls-cert, --tls-key): OpenSSL on memory BIOs, so that
 * libuv keeps doing all socket I/O and conn.c only swaps plaintext for
 * ciphertext on the way in and out. SIGHUP reloads the certificate and key;
 * connections already open keep the context they started with (each SSL
 * holds a reference to it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "http_internal.h"

struct proxy_tls {
  SSL_CTX *ctx;
  uv_signal_t sighup;
  void (*done)(struct http_server *h); /* http__tls_close */
};

static void log_ssl_error(const char *what, const char *file) {
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, buf, sizeof buf);
  fprintf(stderr, "modproxy: %s%s%s: %s\n", what, file != NULL ? " " : "",
          file != NULL ? file : "", e != 0 ? buf : "unknown error");
  ERR_clear_error();
}

/* A server context from the configured certificate chain and key. */
static SSL_CTX *load_ctx(const struct http_config *cfg) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == NULL) {
    log_ssl_error("cannot set up TLS", NULL);
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
    log_ssl_error("--tls-cert: cannot read a PEM certificate chain from",
                  cfg->tls_cert);
    goto fail;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    log_ssl_error("--tls-key: not a PEM key, or it does not match --tls-cert:",
                  cfg->tls_key);
    goto fail;
  }
  return ctx;
fail:
  SSL_CTX_free(ctx);
  return NULL;
}

static void on_sighup(uv_signal_t *h, int signum) {
  struct http_server *s = h->data;
  SSL_CTX *ctx = load_ctx(&s->cfg);
  if (ctx == NULL) {
    fprintf(stderr, "modproxy: SIGHUP: keeping the current certificate\n");
    return;
  }
  SSL_CTX_free(s->tls->ctx);
  s->tls->ctx = ctx;
  fprintf(stderr, "modproxy: SIGHUP: reloaded %s\n", s->cfg.tls_cert);
}

int http__tls_init(struct http_server *s) {
  const struct http_config *cfg = &s->cfg;
  if (cfg->tls_cert == NULL && cfg->tls_key == NULL)
    return 0;
  if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
    fprintf(stderr, "modproxy: --tls-cert and --tls-key go together\n");
    return -EINVAL;
  }
  struct proxy_tls *t = calloc(1, sizeof *t);
  if (t == NULL)
    return -ENOMEM;
  t->ctx = load_ctx(cfg);
  if (t->ctx == NULL) {
    free(t);
    return -EINVAL;
  }
  uv_signal_init(s->loop, &t->sighup);
  t->sighup.data = s;
  uv_signal_start(&t->sighup, on_sighup, SIGHUP);
  /* Reloading must not keep the loop (and shutdown) waiting. */
  uv_unref((uv_handle_t *)&t->sighup);
  s->tls = t;
  return 0;
}

static void on_tls_closed(uv_handle_t *h) {
  struct http_server *s = h->data;
  struct proxy_tls *t = s->tls;
  s->tls = NULL;
  SSL_CTX_free(t->ctx);
  t->done(s);
  free(t);
}

int http__tls_close(struct http_server *s, void (*done)(struct http_server *)) {
  if (s->tls == NULL)
    return 0;
  s->tls->done = done;
  uv_close((uv_handle_t *)&s->tls->sighup, on_tls_closed);
  return 1;
}

SSL *http__tls_session(struct http_server *s) {
  if (s->tls == NULL)
    return NULL;
  SSL *ssl = SSL_new(s->tls->ctx);
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
