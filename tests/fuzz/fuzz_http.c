/*
 * The HTTP request path, end to end: a real proxy_server (proxy/server.h)
 * on a libuv loop in this process, listening on 127.0.0.1, and each input
 * written to it over a fresh loopback TCP connection as the bytes a client
 * sends (one or more pipelined requests, with bodies). The client then
 * half-closes and reads until the server closes; the loop runs until the
 * server has freed the connection, so every input starts from a server
 * with no connection open.
 *
 * The server is set up once: a store in a temporary directory holding one
 * module version (example.com/fuzz@v1.0.0: .info, .mod, zip) so that hits,
 * ranges, conditional requests and /diag pages have something to show;
 * upstream "off"; an admin token ("Authorization: Bearer fuzz-admin");
 * private patterns private.example and *.corp.example (without a git
 * route: no git runs) that need credentials from an auth file (Basic
 * alice:wonderland, or Bearer fuzz-token, the token of "ci"); the
 * sum.golang.org checksum database proxied from
 * a loopback port that refuses connections (so /sumdb/ requests fail fast
 * without leaving the machine).
 *
 * FUZZ_HTTP_SHOW=1 prints what the server answered each input;
 * FUZZ_HTTP_NO_AUTH=1 runs the server without the auth file (to look past
 * a known crash in the credential checks).
 *
 * Properties checked, besides memory errors, leaks and undefined behaviour
 * in the server: whatever the server sends parses as HTTP/1.1 responses
 * (when the input has no HEAD request, whose responses have no body to
 * frame: then only the first status line is checked), so no input can
 * split or smuggle a response.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <llhttp.h>
#include <openssl/evp.h>
#include <uv.h>

#include "fuzz_util.h"
#include "modproxy/gozip.h"
#include "modproxy/store.h"
#include "modproxy/sumdb.h"
#include "server.h"

/* Responses kept for the check (a zip may be longer: the rest is counted). */
#define KEEP_BYTES (1u << 20)
/* The request head limit, a POST body and some pipelining. */
#define FUZZ_MAX_INPUT (64u << 10)

#define MODULE "example.com/fuzz"
#define VERSION "v1.0.0"
#define INFO "{\"Version\":\"v1.0.0\",\"Time\":\"2020-01-01T00:00:00Z\"}"
#define GOMOD                                                                  \
  "module example.com/fuzz\n\ngo 1.19\n\nrequire example.com/other v1.2.0\n"

static struct {
  int ready;
  uv_loop_t loop;
  struct proxy_server *s;
  struct proxy_config cfg;
  char dir[256];
  struct sockaddr_storage addr;
  int refusing_fd; /* bound, never listening: connections to it are refused */
  char sumdb[256];
  const char *sumdbs[2];
  char auth[300];
} G;

/* ---- the store's one module version --------------------------------- */

struct zfile {
  const char *name, *data;
};
static const struct zfile zfiles[] = {
    {"go.mod", GOMOD},
    {"fuzz.go", "package fuzz\n\nfunc F() int { return 1 }\n"},
    {"LICENSE", "Copyright the authors.\n"},
};
struct zio {
  int fd;
  const char *cur;
  size_t left;
};

static int z_open(void *ctx, const struct gozip_create_file *f) {
  struct zio *z = ctx;
  const struct zfile *zf = f->ctx;
  z->cur = zf->data;
  z->left = strlen(zf->data);
  return 0;
}
static int64_t z_read(void *ctx, void *buf, size_t len) {
  struct zio *z = ctx;
  size_t n = len < z->left ? len : z->left;
  memcpy(buf, z->cur, n);
  z->cur += n;
  z->left -= n;
  return (int64_t)n;
}
static void z_close(void *ctx) {}
static int z_write(void *ctx, const void *buf, size_t len) {
  struct zio *z = ctx;
  return write(z->fd, buf, len) == (ssize_t)len ? 0 : -EIO;
}

static void fill_store(const char *dir) {
  struct store *st = NULL;
  if (store_open(dir, &st) != 0)
    fuzz_fail("cannot open a store in %s", dir);
  int rc = store_part_put(st, MODULE, VERSION, STORE_INFO, INFO, strlen(INFO),
                          "fuzz");
  if (rc == 0)
    rc = store_part_put(st, MODULE, VERSION, STORE_MOD, GOMOD, strlen(GOMOD),
                        "fuzz");
  if (rc == 0)
    rc = store_answer_put(st, MODULE, "@v/list", 200, "v1.0.0\n", 7,
                          (int64_t)time(NULL), "fuzz");
  struct gozip_create_file files[3];
  for (int i = 0; i < 3; i++)
    files[i] = (struct gozip_create_file){.path = zfiles[i].name,
                                          .kind = GOZIP_FILE_REGULAR,
                                          .size = strlen(zfiles[i].data),
                                          .ctx = (void *)&zfiles[i]};
  struct zio z = {.fd = memfd_create("zip", 0)};
  struct gozip_create_io io = {z_open, z_read, z_close, z_write, &z};
  struct gozip_create_report crep;
  if (rc == 0)
    rc = gozip_create(MODULE, VERSION, files, 3, &io, &crep);
  struct gozip_report rep;
  if (rc == 0)
    rc = store_zip_put_fd(st, MODULE, VERSION, z.fd, "fuzz", 1, NULL, &rep);
  if (rc != 0)
    fuzz_fail("cannot fill the store: %d", rc);
  close(z.fd);
  store_close(st);
}

/* Credentials: user alice (password "wonderland", with 1 PBKDF2 iteration
 * so that checking one costs nothing) and token ci ("fuzz-token"). */
static void write_auth_file(void) {
  unsigned char h[32];
  char hex[65], line[512];
  snprintf(G.auth, sizeof G.auth, "%s/auth", G.dir);
  FILE *f = fopen(G.auth, "w");
  if (f == NULL ||
      PKCS5_PBKDF2_HMAC("wonderland", 10, (const unsigned char *)"salt", 4, 1,
                        EVP_sha256(), sizeof h, h) != 1)
    fuzz_fail("cannot write %s", G.auth);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", h[i]);
  snprintf(line, sizeof line, "user alice pbkdf2-sha256$1$73616c74$%s\n", hex);
  fputs("# fuzz_http credentials\n", f);
  fputs(line, f);
  EVP_Digest("fuzz-token", 10, h, NULL, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", h[i]);
  fprintf(f, "token ci %s\n", hex);
  fclose(f);
  G.cfg.auth_file = G.auth;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  return remove(path);
}

static void cleanup(void) {
  if (G.dir[0] != '\0')
    nftw(G.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void) {
  signal(SIGPIPE, SIG_IGN);
  /* The request log (one JSON line per request) goes to stdout. */
  int null = open("/dev/null", O_WRONLY);
  if (null >= 0) {
    dup2(null, STDOUT_FILENO);
    close(null);
  }
  const char *tmp = getenv("TMPDIR");
  snprintf(G.dir, sizeof G.dir, "%s/fuzz_http.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(G.dir) == NULL)
    fuzz_fail("mkdtemp %s: %s", G.dir, strerror(errno));
  atexit(cleanup);
  fill_store(G.dir);

  if (getenv("FUZZ_HTTP_NO_AUTH") == NULL)
    write_auth_file();

  /* A port that refuses connections, for the checksum database. */
  G.refusing_fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (G.refusing_fd < 0 ||
      bind(G.refusing_fd, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(G.refusing_fd, (struct sockaddr *)&a, &al) < 0)
    fuzz_fail("cannot reserve a port: %s", strerror(errno));
  snprintf(G.sumdb, sizeof G.sumdb, "%s http://127.0.0.1:%d",
           SUMDB_GOLANG_ORG_KEY, ntohs(a.sin_port));
  G.sumdbs[0] = G.sumdb;
  G.sumdbs[1] = NULL;

  G.cfg.listen = "127.0.0.1:0";
  G.cfg.data_dir = G.dir;
  G.cfg.upstream = "off";
  G.cfg.list_ttl_s = 300;
  G.cfg.not_found_ttl_s = 60;
  G.cfg.hot_cache_bytes = 1u << 20;
  G.cfg.records_keep = 1000;
  G.cfg.admin_token = "fuzz-admin";
  G.cfg.private_patterns = "private.example,*.corp.example";
  G.cfg.git_timeout_s = 5;
  G.cfg.go_release = "1.19";
  G.cfg.sumdbs = G.sumdbs;
  G.s = calloc(1, sizeof *G.s);
  if (G.s == NULL || uv_loop_init(&G.loop) != 0)
    abort();
  int rc = proxy_server_init(G.s, &G.loop, &G.cfg);
  if (rc != 0)
    fuzz_fail("proxy_server_init: %d", rc);
  if (http_server_sockname(G.s->http, &G.addr) != 0)
    abort();
  G.ready = 1;
}

/* ---- one client connection --------------------------------------------- */

struct client {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  uv_shutdown_t shutdown;
  uv_buf_t out;
  char *in;
  size_t in_len, total;
  int closed;
};

static void on_closed(uv_handle_t *h) {
  ((struct client *)h->data)->closed = 1;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char b[64 << 10];
  buf->base = b;
  buf->len = sizeof b;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  struct client *c = st->data;
  if (n > 0) {
    size_t keep = c->in_len + (size_t)n <= KEEP_BYTES ? (size_t)n
                                                      : KEEP_BYTES - c->in_len;
    memcpy(c->in + c->in_len, buf->base, keep);
    c->in_len += keep;
    c->total += (size_t)n;
  } else if (n < 0 && !uv_is_closing((uv_handle_t *)&c->tcp)) {
    uv_close((uv_handle_t *)&c->tcp, on_closed);
  }
}

static void on_shutdown(uv_shutdown_t *r, int status) {}

static void on_written(uv_write_t *w, int status) {
  struct client *c = w->data;
  if (status == 0 && !uv_is_closing((uv_handle_t *)&c->tcp))
    uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown);
}

static void on_connect(uv_connect_t *r, int status) {
  struct client *c = r->data;
  if (status < 0)
    fuzz_fail("cannot connect to the server: %s", uv_strerror(status));
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  c->write.data = c;
  if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &c->out, 1, on_written) < 0)
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* ---- the response check ------------------------------------------------ */

static int resp_messages;
static int count_message(llhttp_t *p) {
  resp_messages++;
  return 0;
}

static void check_responses(const struct client *c, const uint8_t *req,
                            size_t req_len) {
  if (c->in_len == 0)
    return;
  FUZZ_CHECK(c->in_len >= 9 && memcmp(c->in, "HTTP/1.1 ", 9) == 0,
             "the server's reply does not start with HTTP/1.1: %.40s", c->in);
  if (memmem(req, req_len, "HEAD", 4) != NULL || c->total > c->in_len)
    return;
  llhttp_settings_t settings;
  llhttp_settings_init(&settings);
  settings.on_message_complete = count_message;
  llhttp_t p;
  llhttp_init(&p, HTTP_RESPONSE, &settings);
  resp_messages = 0;
  llhttp_errno_t err = llhttp_execute(&p, c->in, c->in_len);
  FUZZ_CHECK(err == HPE_OK,
             "the server's replies do not parse (%s: %s) at "
             "byte %zu of %zu:\n%.*s",
             llhttp_errno_name(err), llhttp_get_error_reason(&p),
             (size_t)(llhttp_get_error_pos(&p) - c->in), c->in_len,
             (int)(c->in_len < 4096 ? c->in_len : 4096), c->in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0 || size > FUZZ_MAX_INPUT)
    return 0;
  if (!G.ready)
    setup();
  struct client *c = calloc(1, sizeof *c);
  char *copy = malloc(size);
  if (c == NULL || copy == NULL)
    abort();
  c->in = malloc(KEEP_BYTES);
  if (c->in == NULL)
    abort();
  memcpy(copy, data, size);
  c->out = uv_buf_init(copy, (unsigned)size);
  c->tcp.data = c->connect.data = c;
  uv_tcp_init(&G.loop, &c->tcp);
  if (uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&G.addr,
                     on_connect) < 0)
    abort();
  while (!c->closed)
    uv_run(&G.loop, UV_RUN_ONCE);
  /* Until the server has let go of the connection. */
  while (http_server_connections(G.s->http) > 0)
    uv_run(&G.loop, UV_RUN_ONCE);
  if (getenv("FUZZ_HTTP_SHOW") != NULL) /* to see what an input gets */
    fprintf(stderr, "---- %zu bytes back:\n%.*s\n----\n", c->total,
            (int)c->in_len, c->in);
  check_responses(c, data, size);
  free(c->in);
  free(c);
  free(copy);
  return 0;
}
