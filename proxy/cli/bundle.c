/*
 * Mirror bundles: the manifest (read, write, look up), file hashing and
 * progress reporting shared by export and import. See bundle.h for the
 * format. Blocking I/O: these run in the command-line tools, never on a
 * server's loop thread.
 */
#include "bundle.h"
#include "modproxy/timeutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Redraws of a progress bar at most this often. */
#define PROGRESS_REDRAW_MS 100
#define PROGRESS_BAR_WIDTH 30
/* Plain progress lines (not a terminal) at most this often. */
#define PROGRESS_LINE_MS 1000

/* ---- progress ----------------------------------------------------------- */

void bundle_progress_init(struct bundle_progress *p, const char *cmd) {
  memset(p, 0, sizeof *p);
  p->cmd = cmd;
  p->tty = isatty(STDERR_FILENO);
}

static void draw(struct bundle_progress *p) {
  if (p->total == 0) {
    fprintf(stderr, "\r%s: %-10s %" PRIu64 "\033[K", p->cmd, p->phase, p->done);
  } else {
    int fill = (int)(p->done * PROGRESS_BAR_WIDTH / p->total);
    char bar[PROGRESS_BAR_WIDTH + 1];
    for (int i = 0; i < PROGRESS_BAR_WIDTH; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[PROGRESS_BAR_WIDTH] = '\0';
    fprintf(stderr, "\r%s: %-10s [%s] %" PRIu64 "/%" PRIu64 "\033[K", p->cmd,
            p->phase, bar, p->done, p->total);
  }
  fflush(stderr);
}

void bundle_progress_phase(struct bundle_progress *p, const char *phase,
                           uint64_t total) {
  p->phase = phase;
  p->done = 0;
  p->total = total;
  p->last_pct = 0;
  p->last_ms = time_now_ms(CLOCK_MONOTONIC);
  if (p->tty)
    draw(p);
  else
    fprintf(stderr, "%s: %s: %" PRIu64 " to do\n", p->cmd, phase, total);
}

void bundle_progress_step(struct bundle_progress *p, uint64_t n) {
  p->done += n;
  if (p->phase == NULL)
    return; /* steps before the first phase (resolving queries): no frame */
  if (p->tty) {
    uint64_t now = time_now_ms(CLOCK_MONOTONIC);
    if (now - p->last_ms >= PROGRESS_REDRAW_MS || p->done == p->total) {
      p->last_ms = now;
      draw(p);
    }
    return;
  }
  if (p->total == 0)
    return;
  /* A line per tenth, at most one a second: a readable log. */
  int pct = (int)(p->done * 10 / p->total);
  uint64_t now = time_now_ms(CLOCK_MONOTONIC);
  if (pct > p->last_pct && p->done < p->total &&
      now - p->last_ms >= PROGRESS_LINE_MS) {
    p->last_pct = pct;
    p->last_ms = now;
    fprintf(stderr, "%s: %s: %" PRIu64 "/%" PRIu64 "\n", p->cmd, p->phase,
            p->done, p->total);
  }
}

void bundle_progress_end(struct bundle_progress *p, const char *summary) {
  if (p->tty)
    fprintf(stderr, "\r\033[K");
  if (summary != NULL)
    fprintf(stderr, "%s: %s: %s\n", p->cmd, p->phase, summary);
  fflush(stderr);
}

/* ---- files --------------------------------------------------------------- */

void bundle_sha256_hex(const unsigned char digest[32], char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++) {
    hex[2 * i] = digits[digest[i] >> 4];
    hex[2 * i + 1] = digits[digest[i] & 15];
  }
  hex[64] = '\0';
}

int bundle_file_sha256(const char *path, char hex[65], uint64_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  char *buf = malloc(1 << 16);
  int rc = 0;
  uint64_t total = 0;
  if (md == NULL || buf == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (;;) {
    ssize_t n = read(fd, buf, 1 << 16);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      rc = -errno;
      goto out;
    }
    if (n == 0)
      break;
    EVP_DigestUpdate(md, buf, (size_t)n);
    total += (uint64_t)n;
  }
  unsigned char d[32];
  EVP_DigestFinal_ex(md, d, NULL);
  bundle_sha256_hex(d, hex);
  *size = total;
out:
  free(buf);
  EVP_MD_CTX_free(md);
  close(fd);
  return rc;
}

static int walk_dir(const char *root, const char *rel, int depth,
                    int (*add)(void *ctx, const char *rel), void *ctx) {
  if (depth > BUNDLE_MAX_DEPTH)
    return 0;
  char dir[8192];
  snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] != '\0' ? "/" : "", rel);
  DIR *d = opendir(dir);
  if (d == NULL)
    return -errno;
  int rc = 0;
  struct dirent *e;
  while (rc >= 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char sub[8192], full[8192 + 4096];
    snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] != '\0' ? "/" : "",
             e->d_name);
    snprintf(full, sizeof full, "%s/%s", root, sub);
    struct stat sb;
    if (lstat(full, &sb) < 0)
      continue;
    if (S_ISDIR(sb.st_mode))
      rc = walk_dir(root, sub, depth + 1, add, ctx);
    else if (S_ISREG(sb.st_mode))
      rc = add(ctx, sub);
  }
  closedir(d);
  return rc < 0 ? rc : 0;
}

int bundle_walk(const char *root, int (*add)(void *ctx, const char *rel),
                void *ctx) {
  return walk_dir(root, "", 0, add, ctx);
}

int bundle_mkdirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  char *slash = strrchr(tmp, '/');
  if (slash == NULL)
    return 0;
  *slash = '\0';
  for (char *p = tmp + 1; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
    return -errno;
  return 0;
}

int bundle_read_file(const char *path, size_t max, char **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -errno;
  struct stat sb;
  if (fstat(fileno(f), &sb) < 0 || (uint64_t)sb.st_size > max) {
    fclose(f);
    return -E2BIG;
  }
  char *buf = malloc((size_t)sb.st_size + 1);
  if (buf == NULL) {
    fclose(f);
    return -ENOMEM;
  }
  size_t n = fread(buf, 1, (size_t)sb.st_size, f);
  fclose(f);
  if (n != (size_t)sb.st_size) {
    free(buf);
    return -EIO;
  }
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}

/* ---- the manifest -------------------------------------------------------- */

void bundle_manifest_dispose(struct bundle_manifest *m) {
  if (m == NULL)
    return;
  for (size_t i = 0; i < m->nfiles; i++)
    free(m->files[i].path);
  for (size_t i = 0; i < m->nsums; i++) {
    free(m->sums[i].module);
    free(m->sums[i].version);
  }
  free(m->files);
  free(m->sums);
  memset(m, 0, sizeof *m);
}

int bundle_manifest_add_file(struct bundle_manifest *m, const char *path,
                             const char *sha256, uint64_t size) {
  if (m->nfiles == m->capfiles) {
    size_t cap = m->capfiles == 0 ? 256 : m->capfiles * 2;
    struct bundle_file *f = realloc(m->files, cap * sizeof *f);
    if (f == NULL)
      return -ENOMEM;
    m->files = f;
    m->capfiles = cap;
  }
  struct bundle_file *f = &m->files[m->nfiles];
  if ((f->path = strdup(path)) == NULL)
    return -ENOMEM;
  snprintf(f->sha256, sizeof f->sha256, "%s", sha256);
  f->size = size;
  m->nfiles++;
  return 0;
}

int bundle_manifest_add_sum(struct bundle_manifest *m, const char *module,
                            const char *version, int gomod, const char *h1,
                            int from_gosum) {
  if (m->nsums == m->capsums) {
    size_t cap = m->capsums == 0 ? 256 : m->capsums * 2;
    struct bundle_sum *s = realloc(m->sums, cap * sizeof *s);
    if (s == NULL)
      return -ENOMEM;
    m->sums = s;
    m->capsums = cap;
  }
  struct bundle_sum *s = &m->sums[m->nsums];
  s->module = strdup(module);
  s->version = strdup(version);
  if (s->module == NULL || s->version == NULL) {
    free(s->module);
    free(s->version);
    return -ENOMEM;
  }
  s->gomod = gomod;
  s->from_gosum = from_gosum;
  snprintf(s->h1, sizeof s->h1, "%s", h1);
  m->nsums++;
  return 0;
}

static int by_path(const void *a, const void *b) {
  return strcmp(((const struct bundle_file *)a)->path,
                ((const struct bundle_file *)b)->path);
}

const struct bundle_file *bundle_manifest_file(const struct bundle_manifest *m,
                                               const char *path) {
  if (m == NULL || m->nfiles == 0)
    return NULL;
  struct bundle_file key = {.path = (char *)path};
  return bsearch(&key, m->files, m->nfiles, sizeof key, by_path);
}

static int by_sum(const void *a, const void *b) {
  const struct bundle_sum *x = a, *y = b;
  int c = strcmp(x->module, y->module);
  if (c == 0)
    c = strcmp(x->version, y->version);
  if (c == 0)
    c = x->gomod - y->gomod;
  return c != 0 ? c : x->from_gosum - y->from_gosum;
}

const char *bundle_manifest_sum(const struct bundle_manifest *m,
                                const char *module, const char *version,
                                int gomod, int from_gosum) {
  if (m == NULL || m->nsums == 0)
    return NULL;
  struct bundle_sum key = {.module = (char *)module,
                           .version = (char *)version,
                           .gomod = gomod,
                           .from_gosum = from_gosum};
  const struct bundle_sum *s =
      bsearch(&key, m->sums, m->nsums, sizeof key, by_sum);
  return s != NULL ? s->h1 : NULL;
}

/* The id: SHA-256 over the sorted "file" lines. */
static void manifest_id(struct bundle_manifest *m) {
  qsort(m->files, m->nfiles, sizeof *m->files, by_path);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (size_t i = 0; i < m->nfiles; i++) {
    char line[4200];
    int n = snprintf(line, sizeof line, "file %s %" PRIu64 " %s\n",
                     m->files[i].sha256, m->files[i].size, m->files[i].path);
    EVP_DigestUpdate(md, line, (size_t)n);
  }
  unsigned char d[32];
  EVP_DigestFinal_ex(md, d, NULL);
  EVP_MD_CTX_free(md);
  bundle_sha256_hex(d, m->id);
}

int bundle_manifest_write(struct bundle_manifest *m, const char *path,
                          const char *extra) {
  manifest_id(m);
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -errno;
  char when[TIME_RFC3339_BYTES];
  time_rfc3339(m->created, when, sizeof when);
  fprintf(f, "modproxy-bundle %d\ncreated %s %" PRId64 "\n", BUNDLE_FORMAT,
          when, m->created);
  if (m->since[0] != '\0')
    fprintf(f, "since %s\n", m->since);
  if (extra != NULL)
    fputs(extra, f);
  for (size_t i = 0; i < m->nfiles; i++)
    fprintf(f, "file %s %" PRIu64 " %s\n", m->files[i].sha256, m->files[i].size,
            m->files[i].path);
  for (size_t i = 0; i < m->nsums; i++)
    fprintf(f, "%s %s %s%s %s\n", m->sums[i].from_gosum ? "gosum" : "sum",
            m->sums[i].module, m->sums[i].version,
            m->sums[i].gomod ? "/go.mod" : "", m->sums[i].h1);
  fprintf(f, "id %s\n", m->id);
  int rc = ferror(f) ? -EIO : 0;
  if (fclose(f) != 0 && rc == 0)
    rc = -errno;
  return rc;
}

static int bad(char *err, size_t errlen, int line, const char *what) {
  snprintf(err, errlen, "%s line %d: %s", BUNDLE_MANIFEST, line, what);
  return -EBADMSG;
}

int bundle_manifest_read(const char *dir, struct bundle_manifest *m, char *err,
                         size_t errlen) {
  memset(m, 0, sizeof *m);
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, BUNDLE_MANIFEST);
  char *text;
  size_t len;
  int rc = bundle_read_file(path, BUNDLE_MAX_MANIFEST_BYTES, &text, &len);
  if (rc == -ENOENT)
    return rc;
  if (rc < 0) {
    snprintf(err, errlen, "%s: %s", path, strerror(-rc));
    return rc == -E2BIG ? -EBADMSG : rc;
  }
  rc = bundle_manifest_parse(text, len, m, err, errlen);
  free(text);
  return rc;
}

int bundle_manifest_parse(char *text, size_t len, struct bundle_manifest *m,
                          char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  int rc = 0, lineno = 0, have_header = 0;
  if (len > BUNDLE_MAX_MANIFEST_BYTES || strlen(text) != len)
    return bad(err, errlen, 0, "too large, or not text");
  char stated_id[65] = "";
  for (char *line = text, *next; line != NULL && *line != '\0'; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next != NULL)
      *next++ = '\0';
    char f1[16], f2[GOMOD_MAX_PATH_BYTES], f3[GOMOD_MAX_VERSION_BYTES + 8],
        f4[4096];
    int n = sscanf(line, "%15s %1023s %263s %4095s", f1, f2, f3, f4);
    if (n < 1)
      continue;
    if (!have_header) {
      if (strcmp(f1, "modproxy-bundle") != 0 || n < 2) {
        rc = bad(err, errlen, lineno, "not a modproxy bundle manifest");
        goto out;
      }
      if (atoi(f2) != BUNDLE_FORMAT) {
        rc =
            bad(err, errlen, lineno, "unknown bundle format (newer modproxy?)");
        goto out;
      }
      have_header = 1;
    } else if (strcmp(f1, "created") == 0 && n >= 3) {
      m->created = strtoll(f3, NULL, 10);
    } else if (strcmp(f1, "since") == 0 && n >= 2) {
      snprintf(m->since, sizeof m->since, "%s", f2);
    } else if (strcmp(f1, "id") == 0 && n >= 2) {
      snprintf(stated_id, sizeof stated_id, "%s", f2);
    } else if (strcmp(f1, "file") == 0) {
      if (n != 4 || strlen(f2) != 64) {
        rc = bad(err, errlen, lineno, "malformed file line");
        goto out;
      }
      if ((rc = bundle_manifest_add_file(m, f4, f2, strtoull(f3, NULL, 10))) <
          0)
        goto out;
    } else if (strcmp(f1, "sum") == 0 || strcmp(f1, "gosum") == 0) {
      if (n != 4) {
        rc = bad(err, errlen, lineno, "malformed sum line");
        goto out;
      }
      size_t vl = strlen(f3);
      int gomod = vl > 7 && strcmp(f3 + vl - 7, "/go.mod") == 0;
      if (gomod)
        f3[vl - 7] = '\0';
      if ((rc = bundle_manifest_add_sum(m, f2, f3, gomod, f4, f1[0] == 'g')) <
          0)
        goto out;
    }
    /* root, sumdb and unknown lines are informational. */
  }
  if (!have_header) {
    rc = bad(err, errlen, 1, "empty manifest");
    goto out;
  }
  manifest_id(m);
  if (m->nsums > 0)
    qsort(m->sums, m->nsums, sizeof *m->sums, by_sum);
  if (stated_id[0] != '\0' && strcmp(stated_id, m->id) != 0) {
    rc = bad(err, errlen, lineno,
             "its id does not match its file lines (edited or truncated)");
    goto out;
  }
  rc = 0;
out:
  if (rc < 0)
    bundle_manifest_dispose(m);
  return rc;
}

/* ---- signatures ----------------------------------------------------------- */

/* The first line of a key file, into out. */
static int key_file(const char *path, char *out, size_t cap) {
  char *text;
  size_t len;
  int rc = bundle_read_file(path, SUMDB_MAX_SIGNER_BYTES + 2, &text, &len);
  if (rc < 0)
    return rc;
  snprintf(out, cap, "%.*s", (int)strcspn(text, "\r\n"), text);
  OPENSSL_cleanse(text, len);
  free(text);
  return 0;
}

int bundle_signer_load(const char *path, struct sumdb_signer *s, char *err,
                       size_t errlen) {
  char text[SUMDB_MAX_SIGNER_BYTES + 2], why[64];
  int rc = key_file(path, text, sizeof text);
  if (rc < 0) {
    snprintf(err, errlen, "%s: %s", path,
             rc == -E2BIG ? "not a key file" : strerror(-rc));
    return rc;
  }
  rc = sumdb_signer_parse(text, s, why, sizeof why);
  OPENSSL_cleanse(text, sizeof text);
  if (rc < 0)
    snprintf(err, errlen, "%s: %s (want the .key file of modproxy keygen)",
             path, why);
  return rc;
}

int bundle_key_load(const char *arg, struct sumdb_key *k, char *err,
                    size_t errlen) {
  char text[SUMDB_MAX_SIGNER_BYTES + 2], why[64];
  if (sumdb_key_parse(arg, k, why, sizeof why) == 0)
    return 0;
  if (key_file(arg, text, sizeof text) < 0) {
    snprintf(err, errlen,
             "%s: neither a key (NAME+HASH+KEY) nor a readable file: %s", arg,
             why);
    return -EINVAL;
  }
  if (sumdb_key_parse(text, k, why, sizeof why) < 0) {
    snprintf(err, errlen, "%s: %s (want the .pub file of modproxy keygen)", arg,
             why);
    return -EINVAL;
  }
  return 0;
}

/* The signed text: what the signature says of the manifest. */
static size_t signed_text(char out[256], const char *manifest_sha,
                          uint64_t size) {
  return (size_t)snprintf(
      out, 256, "modproxy-bundle-signature 1\nmanifest %.64s %" PRIu64 "\n",
      manifest_sha, size);
}

int bundle_sign(const char *manifest_sha, uint64_t size,
                const struct sumdb_signer *s, char **note, size_t *len) {
  char text[256];
  size_t n = signed_text(text, manifest_sha, size);
  return sumdb_note_sign(text, n, s, note, len);
}

int bundle_signature_check(const char *note, size_t len,
                           const char *manifest_sha, uint64_t size,
                           const struct sumdb_key *keys, int nkeys, char *err,
                           size_t errlen) {
  int rc = -ENOKEY;
  size_t tlen = 0;
  for (int i = 0; i < nkeys && rc == -ENOKEY; i++)
    rc = sumdb_note_verify(note, len, &keys[i], &tlen, err, errlen);
  if (rc == -ENOKEY)
    snprintf(err, errlen, "%s is signed by none of the trusted keys (--trust)",
             BUNDLE_SIGNATURE);
  if (rc < 0)
    return rc;
  char want[256];
  size_t n = signed_text(want, manifest_sha, size);
  if (tlen != n || memcmp(note, want, tlen) != 0) {
    snprintf(err, errlen,
             "%s does not match its signature (%s): it was changed after "
             "the bundle was signed",
             BUNDLE_MANIFEST, BUNDLE_SIGNATURE);
    return -EBADMSG;
  }
  return 0;
}
