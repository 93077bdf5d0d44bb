/*
 * fsck: re-verifies every stored file against what was recorded when it was
 * published, and quarantines what no longer matches.
 *
 *   .mod  its go.sum h1 (mod_h1) computed again;
 *   .zip  its length (the chunk rows) against zip_size, its SHA-256 against
 *         zip_sha256 (the ETag clients hold) and its h1 against zip_h1,
 *         hashing every entry again (gozip_inspect, as at ingest);
 *   .info no hash is recorded for it: it must still be a JSON object whose
 *         "Version" is the version it is stored under.
 *
 * Versions are read in pages of FSCK_PAGE ids, each file in its own short
 * read, so fsck holds no read snapshot for long (the WAL can be
 * checkpointed meanwhile) and runs beside a serving modproxy. A bad file is
 * quarantined in one write transaction: its bytes move to the quarantine
 * table (for the operator to look at), its columns are cleared so that it
 * is never served again (the next request fetches it again), and the
 * removal is logged (manage.c) so that a running server drops its copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

/* Version rows read per query. */
#define FSCK_PAGE 256
/* Bytes hashed per blob read. */
#define FSCK_CHUNK_BYTES (256u << 10)

struct fsck_row {
  int64_t id;
  char *module, *version;
  int has_info, has_mod, has_zip;
  char mod_h1[GOMOD_H1_BYTES];
  uint64_t zip_size;
  char zip_h1[GOMOD_H1_BYTES];
  char zip_sha256[65];
};

struct fsck {
  struct store *st;
  int quarantine;
  void (*cb)(const struct store_fsck_problem *p, void *arg);
  void *arg;
  struct store_fsck_result *res;
  void *buf;
};

static void rows_free(struct fsck_row *rows, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(rows[i].module);
    free(rows[i].version);
  }
}

static void copy_text(char *dst, size_t cap, sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(dst, cap, "%s", t != NULL ? (const char *)t : "");
}

/* Reads the next page of version rows after id `after`. */
static int read_page(struct store *st, int64_t after, struct fsck_row *rows,
                     size_t *n) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  *n = 0;
  sqlite3_stmt *s = store__prepare(
      c->db, "SELECT id, module, version, info IS NOT NULL, mod IS NOT NULL,"
             " mod_h1, zip_size IS NOT NULL, zip_size, zip_h1, zip_sha256"
             " FROM versions WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, after);
  sqlite3_bind_int(s, 2, FSCK_PAGE);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    struct fsck_row *r = &rows[*n];
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, 0);
    r->module = store__column_strdup(s, 1);
    r->version = store__column_strdup(s, 2);
    (*n)++;
    if (r->module == NULL || r->version == NULL) {
      rc = -ENOMEM;
      break;
    }
    r->has_info = sqlite3_column_int(s, 3);
    r->has_mod = sqlite3_column_int(s, 4);
    copy_text(r->mod_h1, sizeof r->mod_h1, s, 5);
    r->has_zip = sqlite3_column_int(s, 6);
    r->zip_size = (uint64_t)sqlite3_column_int64(s, 7);
    copy_text(r->zip_h1, sizeof r->zip_h1, s, 8);
    copy_text(r->zip_sha256, sizeof r->zip_sha256, s, 9);
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = store__fail(c->db, "fsck: read versions");
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

/* Reads column `col` ("info" or "mod") of version id into *out. */
static int read_part(struct store *st, int64_t id, int mod,
                     struct store_bytes *out) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = store__prepare(
      c->db,
      mod ? "SELECT mod FROM versions WHERE id = ?1 AND mod IS NOT NULL"
          : "SELECT info FROM versions WHERE id = ?1 AND info IS NOT NULL");
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_int64(s, 1, id);
    int step = sqlite3_step(s);
    rc = step == SQLITE_ROW    ? store__column_bytes(s, 0, out)
         : step == SQLITE_DONE ? -ENOENT
                               : store__fail(c->db, "fsck: read part");
  }
  sqlite3_finalize(s);
  store__reader_put(st, c);
  return rc;
}

/* 1 if body is a .info that names version: one JSON object whose Version
 * is it, read as the go command reads it (gomod_info_version). */
static int info_names(const char *body, size_t len, const char *version) {
  char v[GOMOD_MAX_VERSION_BYTES + 1];
  return gomod_info_version(body, len, v, sizeof v) == 0 &&
         strcmp(v, version) == 0;
}

/* ---- zips ---------------------------------------------------------------- */

/* Reads the stored zip through store_zip_read, chunk row by chunk row. */
struct zip_src {
  struct store *st;
  const struct fsck_row *r;
};

static int64_t zip_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  struct zip_src *z = ctx;
  return store_zip_read(z->st, z->r->module, z->r->version, off, buf, len);
}

/* The count and total length of the version's chunk rows. */
static int chunk_totals(struct store *st, int64_t id, uint64_t *rows,
                        uint64_t *bytes) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = store__prepare(
      c->db, "SELECT count(*), coalesce(sum(length(data)), 0) FROM zip_chunks"
             " WHERE version_id = ?1");
  if (s == NULL) {
    rc = -EIO;
  } else {
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) == SQLITE_ROW) {
      *rows = (uint64_t)sqlite3_column_int64(s, 0);
      *bytes = (uint64_t)sqlite3_column_int64(s, 1);
    } else {
      rc = store__fail(c->db, "fsck: zip chunks");
    }
  }
  sqlite3_finalize(s);
  store__reader_put(st, c);
  return rc;
}

static int zip_sha256(struct zip_src *z, uint64_t size, void *buf,
                      char hex[65]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = 0;
  if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    rc = -ENOMEM;
    goto out;
  }
  for (uint64_t off = 0; off < size;) {
    int64_t n = zip_read_at(z, off, buf, FSCK_CHUNK_BYTES);
    if (n <= 0) {
      rc = n < 0 ? (int)n : -EIO;
      goto out;
    }
    EVP_DigestUpdate(md, buf, (size_t)n);
    off += (uint64_t)n;
  }
  unsigned char d[32];
  EVP_DigestFinal_ex(md, d, NULL);
  for (int i = 0; i < 32; i++)
    snprintf(hex + 2 * i, 3, "%02x", d[i]);
out:
  EVP_MD_CTX_free(md);
  return rc;
}

/* Checks the zip of row r; fills why[] and returns 1 when it is bad, 0 when
 * good (or gone since the page was read: evicted meanwhile), or a negative
 * errno when it could not be read. */
static int check_zip(struct fsck *f, const struct fsck_row *r, char *why,
                     size_t whylen, uint64_t *bytes) {
  uint64_t rows = 0, stored = 0;
  int rc = chunk_totals(f->st, r->id, &rows, &stored);
  if (rc < 0)
    return rc;
  *bytes = stored;
  if (rows !=
          (r->zip_size + STORE_ZIP_CHUNK_BYTES - 1) / STORE_ZIP_CHUNK_BYTES ||
      stored != r->zip_size) {
    snprintf(why, whylen, "zip is %llu bytes in %llu chunks, %llu recorded",
             (unsigned long long)stored, (unsigned long long)rows,
             (unsigned long long)r->zip_size);
    return 1;
  }
  struct zip_src z = {.st = f->st, .r = r};
  char sha[65];
  rc = zip_sha256(&z, r->zip_size, f->buf, sha);
  if (rc < 0)
    return rc == -ENOENT ? 0 : rc;
  if (strcmp(sha, r->zip_sha256) != 0) {
    snprintf(why, whylen, "zip SHA-256 is %s, %s recorded", sha, r->zip_sha256);
    return 1;
  }
  struct gozip_reader zr = {
      .size = r->zip_size, .read_at = zip_read_at, .ctx = &z};
  struct gozip_report *rep = malloc(sizeof *rep);
  if (rep == NULL)
    return -ENOMEM;
  int irc = gozip_inspect(&zr, r->module, r->version, rep);
  if (irc == -EBADMSG || irc == -E2BIG) {
    snprintf(why, whylen, "zip is unreadable: %s", rep->error);
    rc = 1;
  } else if (irc < 0) {
    rc = irc == -ENOENT ? 0 : irc;
  } else if (strcmp(rep->h1, r->zip_h1) != 0) {
    snprintf(why, whylen, "zip h1 is %s, %s recorded", rep->h1, r->zip_h1);
    rc = 1;
  }
  free(rep);
  return rc;
}

/* ---- quarantine ---------------------------------------------------------- */

static const char sql_keep_zip[] =
    "INSERT INTO quarantine (module, version, part, reason, origin, found)"
    " SELECT module, version, 'zip', ?2, zip_origin, ?3 FROM versions"
    " WHERE id = ?1 AND zip_size IS NOT NULL";
/* ?2 is the quarantine row just made. */
static const char sql_keep_chunks[] =
    "INSERT INTO quarantine_chunks (quarantine_id, seq, data)"
    " SELECT ?2, seq, data FROM zip_chunks WHERE version_id = ?1";
static const char sql_keep_mod[] =
    "INSERT INTO quarantine (module, version, part, reason, data, origin, "
    "found)"
    " SELECT module, version, 'mod', ?2, mod, mod_origin, ?3 FROM versions"
    " WHERE id = ?1 AND mod IS NOT NULL";
static const char sql_keep_info[] =
    "INSERT INTO quarantine (module, version, part, reason, data, origin, "
    "found)"
    " SELECT module, version, 'info', ?2, info, info_origin, ?3 FROM versions"
    " WHERE id = ?1 AND info IS NOT NULL";
static const char sql_clear_zip[] =
    "UPDATE versions SET zip_size = NULL, zip_h1 = NULL, zip_sha256 = NULL,"
    " zip_violation_count = NULL, zip_violations = NULL, zip_origin = NULL"
    " WHERE id = ?1";
static const char sql_clear_mod[] =
    "UPDATE versions SET mod = NULL, mod_h1 = NULL, mod_origin = NULL"
    " WHERE id = ?1";
static const char sql_clear_info[] =
    "UPDATE versions SET info = NULL, info_origin = NULL WHERE id = ?1";

static int run_id(struct store_conn *c, const char *sql, int64_t id,
                  const char *reason, const char *what) {
  sqlite3_stmt *s = store__prepare(c->db, sql);
  if (s == NULL)
    return -EIO;
  sqlite3_bind_int64(s, 1, id);
  if (reason != NULL) {
    sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, store__now());
  }
  int rc = sqlite3_step(s) == SQLITE_DONE ? sqlite3_changes(c->db)
                                          : store__fail(c->db, what);
  sqlite3_finalize(s);
  return rc;
}

/* Moves part ("info", "mod", "zip") of row r into the quarantine. */
static int quarantine(struct fsck *f, const struct fsck_row *r,
                      const char *part, const char *reason) {
  struct store_conn *c;
  int rc = store__write_begin(f->st, &c);
  if (rc < 0)
    return rc;
  int zip = strcmp(part, "zip") == 0, mod = strcmp(part, "mod") == 0;
  rc = run_id(c,
              zip   ? sql_keep_zip
              : mod ? sql_keep_mod
                    : sql_keep_info,
              r->id, reason, "quarantine");
  /* 0 rows: the part went (evicted, quarantined) since it was read. */
  if (rc > 0 && zip) {
    sqlite3_stmt *s = store__prepare(c->db, sql_keep_chunks);
    if (s == NULL) {
      rc = -EIO;
    } else {
      sqlite3_bind_int64(s, 1, r->id);
      sqlite3_bind_int64(s, 2, sqlite3_last_insert_rowid(c->db));
      if (sqlite3_step(s) != SQLITE_DONE)
        rc = store__fail(c->db, "quarantine chunks");
      sqlite3_finalize(s);
    }
    if (rc >= 0)
      rc = run_id(c, "DELETE FROM zip_chunks WHERE version_id = ?1", r->id,
                  NULL, "quarantine zip");
  }
  if (rc >= 0)
    rc = run_id(c,
                zip   ? sql_clear_zip
                : mod ? sql_clear_mod
                      : sql_clear_info,
                r->id, NULL, "quarantine clear");
  if (rc >= 0)
    rc = store__removal_log(c, r->module, r->version, "quarantined");
  return store__write_end(f->st, c, rc < 0 ? rc : 0);
}

static int problem(struct fsck *f, const struct fsck_row *r, const char *part,
                   const char *reason) {
  f->res->bad++;
  int done = 0;
  if (f->quarantine) {
    int rc = quarantine(f, r, part, reason);
    if (rc < 0)
      return rc;
    done = 1;
    f->res->quarantined++;
  }
  if (f->cb != NULL) {
    struct store_fsck_problem p = {.module = r->module,
                                   .version = r->version,
                                   .part = part,
                                   .reason = reason,
                                   .quarantined = done};
    f->cb(&p, f->arg);
  }
  return 0;
}

static int check_row(struct fsck *f, const struct fsck_row *r) {
  char why[512];
  int rc = 0;
  struct store_bytes b = {0};
  if (r->has_info) {
    rc = read_part(f->st, r->id, 0, &b);
    if (rc == 0) {
      f->res->files++;
      f->res->bytes += b.len;
      if (!info_names(b.data, b.len, r->version))
        rc = problem(f, r, "info",
                     "the .info is not a JSON object naming "
                     "this version");
    }
    store_bytes_free(&b);
    if (rc < 0 && rc != -ENOENT)
      return rc;
  }
  if (r->has_mod) {
    rc = read_part(f->st, r->id, 1, &b);
    if (rc == 0) {
      char h1[GOMOD_H1_BYTES] = "";
      f->res->files++;
      f->res->bytes += b.len;
      if (gomod_h1_gomod(b.data, b.len, h1) < 0 || strcmp(h1, r->mod_h1) != 0) {
        snprintf(why, sizeof why, "go.mod h1 is %s, %s recorded", h1,
                 r->mod_h1);
        rc = problem(f, r, "mod", why);
      }
    }
    store_bytes_free(&b);
    if (rc < 0 && rc != -ENOENT)
      return rc;
  }
  if (r->has_zip) {
    uint64_t bytes = 0;
    rc = check_zip(f, r, why, sizeof why, &bytes);
    f->res->files++;
    f->res->bytes += bytes;
    if (rc == 1)
      rc = problem(f, r, "zip", why);
    if (rc < 0)
      return rc;
  }
  return 0;
}

int store_fsck(struct store *st, int quarantine_bad,
               void (*cb)(const struct store_fsck_problem *p, void *arg),
               void *arg, struct store_fsck_result *out) {
  memset(out, 0, sizeof *out);
  struct fsck f = {
      .st = st, .quarantine = quarantine_bad, .cb = cb, .arg = arg, .res = out};
  struct fsck_row *rows = calloc(FSCK_PAGE, sizeof *rows);
  f.buf = malloc(FSCK_CHUNK_BYTES);
  int rc = 0;
  if (rows == NULL || f.buf == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  int64_t after = 0;
  for (;;) {
    size_t n;
    rc = read_page(st, after, rows, &n);
    for (size_t i = 0; i < n && rc == 0; i++) {
      out->versions++;
      rc = check_row(&f, &rows[i]);
    }
    if (n > 0)
      after = rows[n - 1].id;
    rows_free(rows, n);
    if (rc < 0 || n < FSCK_PAGE)
      break;
  }
out:
  free(f.buf);
  free(rows);
  return rc;
}
