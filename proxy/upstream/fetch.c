/*
 * Upstream client on libcurl's multi-socket API.
 *
 * libcurl does the protocol work that a proxy's upstream side needs and that
 * we would otherwise write and maintain ourselves: TLS with certificate
 * verification (OpenSSL), HTTPS_PROXY/NO_PROXY, connection reuse, chunked
 * and gzip bodies, redirects with a protocol allow-list, and file:// URLs.
 * We drive it from the loop: curl tells us which sockets to watch
 * (on_curl_socket) and when to call it back (on_curl_timer).
 *
 * Credentials, as the go command sends them: user information in an
 * upstream's URL (libcurl sends it as Basic), and for https URLs the
 * ~/.netrc file, or the one $NETRC names, unless $GOAUTH leaves out
 * "netrc" (netrc_path). libcurl matches a netrc "machine" against the host
 * name without the port, and never resends credentials to another host on
 * a redirect. Nothing here logs them; upstream URLs are shown redacted
 * (proxy_url_redact).
 *
 * Timeouts: connecting (PROXY_UPSTREAM_CONNECT_TIMEOUT_MS) and a transfer
 * that moves no byte for PROXY_UPSTREAM_STALL_TIMEOUT_S, which covers both
 * the wait for the first byte and an idle body.
 */
#include "upstream.h"
#include "modproxy/buf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct proxy_fetcher {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  char *ca_file;
  char *netrc; /* the netrc file for https upstreams; NULL: none */
  upstream_close_cb on_closed;
  void *closed_arg;
};

struct sock_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  struct proxy_fetcher *fr;
};

static int errno_of(CURLcode cc, int too_big) {
  switch (cc) {
  case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
  case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return -EHOSTUNREACH;
  case CURLE_WRITE_ERROR: return too_big ? -E2BIG : -EIO;
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_TOO_MANY_REDIRECTS:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_BAD_CONTENT_ENCODING:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_WEIRD_SERVER_REPLY: return -EPROTO;
  default: return -EIO;
  }
}

static int fetch_begin(struct proxy_fetcher *fr, struct proxy_fetch *f);

/* Whether a failed attempt deserves one more on a new connection: it ran
 * on a kept-alive connection (none was opened), nothing of a body arrived,
 * and what came back was no HTTP answer. A connection can fall out of step
 * with its upstream, say after a body longer than its Content-Length
 * whose tail came late: the next request on it reads that tail as its
 * answer. Every upstream request is a GET, so asking again is safe. */
static int retry_fresh(struct proxy_fetch *f, CURLcode cc) {
  long opened = 1;
  if (f->fresh || f->len != 0 || f->too_big || f->stage_errno != 0)
    return 0;
  switch (cc) {
  case CURLE_UNSUPPORTED_PROTOCOL: /* "Received HTTP/0.9" */
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR: break;
  default: return 0;
  }
  curl_easy_getinfo(f->easy, CURLINFO_NUM_CONNECTS, &opened);
  return opened == 0;
}

static void fetch_end(struct proxy_fetcher *fr, struct proxy_fetch *f) {
  curl_multi_remove_handle(fr->multi, f->easy);
  curl_easy_cleanup(f->easy);
  f->easy = NULL;
  curl_slist_free_all(f->resolve_list);
  f->resolve_list = NULL;
}

static void check_done(struct proxy_fetcher *fr) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(fr->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE)
      continue;
    struct proxy_fetch *f = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
    CURLcode cc = m->data.result;
    if (retry_fresh(f, cc)) {
      fetch_end(fr, f);
      f->fresh = 1;
      if (fetch_begin(fr, f) == 0)
        continue;
      f->rc = -ENOMEM;
      snprintf(f->error, sizeof f->error, "modproxy is out of memory");
      f->on_done(f);
      continue;
    }
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &f->status);
    curl_easy_getinfo(f->easy, CURLINFO_TOTAL_TIME, &f->seconds);
    const char *ct = NULL;
    curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
    snprintf(f->content_type, sizeof f->content_type, "%s",
             ct != NULL ? ct : "");
    const char *loc = NULL;
    if (f->no_redirect)
      curl_easy_getinfo(f->easy, CURLINFO_REDIRECT_URL, &loc);
    snprintf(f->location, sizeof f->location, "%s", loc != NULL ? loc : "");
    int is_file = strncmp(f->url, "file:", 5) == 0;
    if (cc == CURLE_OK && f->excess) {
      f->rc = -EPROTO;
      snprintf(f->error, sizeof f->error,
               "the upstream sent more bytes than its Content-Length "
               "declared: the body is not the file");
    } else if (cc == CURLE_OK) {
      f->rc = 0;
      if (is_file)
        f->status = 200;
    } else if (is_file && cc == CURLE_FILE_COULDNT_READ_FILE) {
      f->rc = 0; /* a missing file is a not-found, as for the go command */
      f->status = 404;
    } else if (f->stage_errno != 0) {
      /* Our disk, not the upstream: say so. */
      f->rc = -f->stage_errno;
      snprintf(f->error, sizeof f->error,
               "modproxy cannot stage the download on its own disk: %s",
               strerror(f->stage_errno));
    } else {
      f->rc = errno_of(cc, f->too_big);
      snprintf(f->error, sizeof f->error, "%s",
               f->too_big             ? "response body over the size limit"
               : f->errbuf[0] != '\0' ? f->errbuf
                                      : curl_easy_strerror(cc));
    }
    if (f->rc == 0 && f->fd < 0 && f->body == NULL &&
        (f->body = calloc(1, 1)) == NULL) {
      /* An empty body is "" for every reader, never NULL. */
      f->rc = -ENOMEM;
      snprintf(f->error, sizeof f->error, "modproxy is out of memory");
    }
    fetch_end(fr, f);
    f->on_done(f);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  struct sock_ctx *sc = p->data;
  int flags = 0;
  /* An error on the socket (a reset): let curl read it, so that it reports
   * what happened ("Connection reset by peer") rather than a poll error. */
  if (status < 0)
    flags = CURL_CSELECT_IN | CURL_CSELECT_OUT;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(sc->fr->multi, sc->fd, flags, &running);
  check_done(sc->fr);
}

static void on_poll_closed(uv_handle_t *h) {
  free(h->data);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp,
                          void *socketp) {
  struct proxy_fetcher *fr = userp;
  struct sock_ctx *sc = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (sc != NULL) {
      uv_poll_stop(&sc->poll);
      uv_close((uv_handle_t *)&sc->poll, on_poll_closed);
      curl_multi_assign(fr->multi, s, NULL);
    }
    return 0;
  }
  if (sc == NULL) {
    sc = calloc(1, sizeof *sc);
    if (sc == NULL)
      return -1;
    sc->fd = s;
    sc->fr = fr;
    if (uv_poll_init_socket(fr->loop, &sc->poll, s) < 0) {
      free(sc);
      return -1;
    }
    sc->poll.data = sc;
    curl_multi_assign(fr->multi, s, sc);
  }
  int events = 0;
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  uv_poll_start(&sc->poll, events, on_poll);
  return 0;
}

static void on_timer(uv_timer_t *t) {
  struct proxy_fetcher *fr = t->data;
  int running;
  curl_multi_socket_action(fr->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(fr);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp) {
  struct proxy_fetcher *fr = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&fr->timer);
  else
    uv_timer_start(&fr->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* Whether a GOAUTH value lists the "netrc" command (commands are separated
 * by ';'). */
static int goauth_has_netrc(const char *goauth) {
  for (const char *p = goauth; *p != '\0'; p += *p == ';') {
    size_t n = strcspn(p, ";");
    const char *s = p, *e = p + n;
    while (s < e && isspace((unsigned char)*s))
      s++;
    while (e > s && isspace((unsigned char)e[-1]))
      e--;
    if (e - s == 5 && strncmp(s, "netrc", 5) == 0)
      return 1;
    p += n;
  }
  return 0;
}

/* The netrc file the go command reads (cmd/go/internal/auth): $NETRC, else
 * ~/.netrc; none when $GOAUTH is set without "netrc". A missing file is no
 * error (libcurl then sends nothing). 0 and *out (NULL: none), or -ENOMEM. */
static int netrc_path(char **out) {
  const char *goauth = getenv("GOAUTH"), *env = getenv("NETRC"),
             *home = getenv("HOME");
  *out = NULL;
  if (goauth != NULL && goauth[0] != '\0' && !goauth_has_netrc(goauth))
    return 0;
  if (env != NULL && env[0] != '\0')
    *out = strdup(env);
  else if (home != NULL && home[0] != '\0') {
    if (asprintf(out, "%s/.netrc", home) < 0)
      *out = NULL;
  } else
    return 0;
  return *out != NULL ? 0 : -ENOMEM;
}

int proxy_fetcher_new(uv_loop_t *loop, const char *ca_file,
                      struct proxy_fetcher **out) {
  struct proxy_fetcher *fr = calloc(1, sizeof *fr);
  if (fr == NULL)
    return -ENOMEM;
  fr->loop = loop;
  if ((ca_file != NULL && (fr->ca_file = strdup(ca_file)) == NULL) ||
      netrc_path(&fr->netrc) < 0 || (fr->multi = curl_multi_init()) == NULL) {
    free(fr->ca_file);
    free(fr->netrc);
    free(fr);
    return -ENOMEM;
  }
  uv_timer_init(loop, &fr->timer);
  fr->timer.data = fr;
  curl_multi_setopt(fr->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(fr->multi, CURLMOPT_SOCKETDATA, fr);
  curl_multi_setopt(fr->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(fr->multi, CURLMOPT_TIMERDATA, fr);
  *out = fr;
  return 0;
}

static void on_fetcher_closed(uv_handle_t *h) {
  struct proxy_fetcher *fr = h->data;
  upstream_close_cb cb = fr->on_closed;
  void *arg = fr->closed_arg;
  free(fr->ca_file);
  free(fr->netrc);
  free(fr);
  if (cb != NULL)
    cb(arg);
}

void proxy_fetcher_close(struct proxy_fetcher *fr, upstream_close_cb cb,
                         void *arg) {
  if (fr == NULL)
    return;
  fr->on_closed = cb;
  fr->closed_arg = arg;
  curl_multi_cleanup(fr->multi);
  uv_close((uv_handle_t *)&fr->timer, on_fetcher_closed);
}

/* What the final response (after redirects) says of its body's length:
 * its headers are all in by the first piece of the body. */
static int64_t expected_length(const struct proxy_fetch *f) {
  CURL *e = f->easy;
  long status = 0;
  curl_off_t cl = -1;
  struct curl_header *h;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  if (strncmp(f->url, "file:", 5) == 0)
    status = 200; /* a file has no status; a missing one has no body */
  if (status != 200 || cl < 0 ||
      curl_easy_header(e, "Content-Encoding", 0, CURLH_HEADER, -1, &h) ==
          CURLHE_OK)
    return -1; /* a decoded body's length is not the declared one */
  return (int64_t)cl;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
  struct proxy_fetch *f = userp;
  size_t len = size * n;
  if (f->len == 0 && f->fd >= 0 && f->on_data != NULL)
    f->expected = expected_length(f);
  if (f->len + len > f->max_bytes) {
    f->too_big = 1;
    return 0;
  }
  if (f->fd >= 0) {
    for (size_t done = 0; done < len;) {
      /* Staging writes land in the page cache; the loop does not wait on
       * the disk here. */
      ssize_t w = write(f->fd, data + done, len - done);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        f->stage_errno = errno;
        return 0;
      }
      done += (size_t)w;
    }
  } else {
    if (buf_reserve(&f->body, &f->cap, f->len + len + 1, 4096) < 0)
      return 0;
    memcpy(f->body + f->len, data, len);
    f->body[f->len + len] = '\0';
  }
  f->len += len;
  if (f->fd >= 0 && f->on_data != NULL)
    f->on_data(f);
  return len;
}

/* libcurl reads a body up to its Content-Length (or its last chunk) and
 * drops whatever follows, saying so only in its verbose trace. An upstream
 * that sent more than it declared lied about the length: what was read is a
 * prefix, perhaps one that still parses, never a file to store. The trace
 * is the one place libcurl reports it, hence this callback. */
static int on_trace(CURL *e, curl_infotype type, char *data, size_t size,
                    void *userp) {
  (void)e;
  struct proxy_fetch *f = userp;
  static const char *const excess[] = {"Excess found",
                                       "Leftovers after chunking"};
  if (type != CURLINFO_TEXT)
    return 0;
  for (size_t i = 0; i < sizeof excess / sizeof excess[0]; i++)
    if (size >= strlen(excess[i]) &&
        memcmp(data, excess[i], strlen(excess[i])) == 0)
      f->excess = 1;
  return 0;
}

int proxy_fetch_start(struct proxy_fetcher *fr, struct proxy_fetch *f) {
  f->fresh = 0;
  return fetch_begin(fr, f);
}

static int fetch_begin(struct proxy_fetcher *fr, struct proxy_fetch *f) {
  f->easy = curl_easy_init();
  if (f->easy == NULL)
    return -ENOMEM;
  CURL *e = f->easy;
  f->rc = 0;
  f->status = 0;
  f->stage_errno = 0;
  f->excess = 0;
  f->expected = -1;
  f->errbuf[0] = '\0';
  f->error[0] = '\0';
  curl_easy_setopt(e, CURLOPT_URL, f->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, f);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_trace);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, f);
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
  /* Follow redirects (unless asked not to), never from https down to
   * http. */
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, f->no_redirect ? 0L : 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)PROXY_UPSTREAM_MAX_REDIRECTS);
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
                   strncmp(f->url, "https:", 6) == 0 ? "https" : "http,https");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)PROXY_UPSTREAM_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                   (long)PROXY_UPSTREAM_STALL_TIMEOUT_S);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "modproxy/" MODPROXY_VERSION);
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, (long)f->fresh);
  if (fr->ca_file != NULL)
    curl_easy_setopt(e, CURLOPT_CAINFO, fr->ca_file);
  f->resolve_list = NULL;
  if (f->resolve != NULL && f->resolve[0] != '\0') {
    /* "+": the entry expires from the shared DNS cache like a lookup. */
    char entry[sizeof f->location + 2];
    snprintf(entry, sizeof entry, "+%s", f->resolve);
    f->resolve_list = curl_slist_append(NULL, entry);
    if (f->resolve_list == NULL) {
      curl_easy_cleanup(e);
      f->easy = NULL;
      return -ENOMEM;
    }
    curl_easy_setopt(e, CURLOPT_RESOLVE, f->resolve_list);
  }
  if (fr->netrc != NULL && strncmp(f->url, "https:", 6) == 0) {
    /* As the go command: over https only; a URL's own user wins. */
    curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
    curl_easy_setopt(e, CURLOPT_NETRC_FILE, fr->netrc);
  }
  if (curl_multi_add_handle(fr->multi, e) != CURLM_OK) {
    curl_easy_cleanup(e);
    f->easy = NULL;
    curl_slist_free_all(f->resolve_list);
    f->resolve_list = NULL;
    return -ENOMEM;
  }
  return 0;
}

void proxy_fetch_dispose(struct proxy_fetch *f) {
  free(f->body);
  f->body = NULL;
  f->len = f->cap = 0;
}
