/*
 * Module versions: .info, .mod and zip, each published on its own once
 * complete and hashed. Stored bytes never change: a put for a part that is
 * already there succeeds and keeps the first copy, since the go command
 * authenticates them by hash.
 *
 * Zips go in and out in STORE_ZIP_CHUNK_BYTES pieces, one row of the
 * zip_chunks table each, written inside the same transaction that publishes
 * the version's zip columns, so a reader sees either no zip or all of it,
 * and reading at any offset costs one index lookup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

static const char sql_version_row[] =
    "INSERT INTO versions (module, version, created) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (module, version) DO UPDATE SET module = module"
    " RETURNING id, info IS NOT NULL, mod IS NOT NULL, zip_size IS NOT NULL";

/* Finds or creates the version row inside a write transaction; has[] tells
 * which parts are already stored. */
static int version_row(struct store_conn *c, const char *module,
                       const char *version, int64_t *id, int has[3]) {
  sqlite3_stmt *s = store__stmt(c, sql_version_row);
  if (s == NULL)
    return -EIO;
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, store__now());
  if (sqlite3_step(s) != SQLITE_ROW)
    return store__fail(c->db, "version row");
  *id = sqlite3_column_int64(s, 0);
  for (int i = 0; i < 3; i++)
    has[i] = sqlite3_column_int(s, 1 + i);
  sqlite3_step(s); /* finish the RETURNING statement */
  sqlite3_reset(s);
  return 0;
}

static const char sql_get_info[] =
    "SELECT info FROM versions WHERE module = ?1 AND version = ?2"
    " AND info IS NOT NULL";
static const char sql_get_mod[] =
    "SELECT mod, mod_h1 FROM versions WHERE module = ?1 AND version = ?2"
    " AND mod IS NOT NULL";

int store_part_get(struct store *st, const char *module, const char *version,
                   enum store_part part, struct store_bytes *out,
                   char h1[GOMOD_H1_BYTES]) {
  if (part == STORE_ZIP)
    return -EINVAL;
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s =
      store__stmt(c, part == STORE_INFO ? sql_get_info : sql_get_mod);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE) {
    rc = -ENOENT;
  } else if (step != SQLITE_ROW) {
    rc = store__fail(c->db, "read part");
  } else {
    rc = store__column_bytes(s, 0, out);
    if (rc == 0 && part == STORE_MOD && h1 != NULL)
      snprintf(h1, GOMOD_H1_BYTES, "%s",
               (const char *)sqlite3_column_text(s, 1));
  }
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return rc;
}

static const char sql_put_info[] =
    "UPDATE versions SET info = ?2, info_origin = ?3 WHERE id = ?1";
static const char sql_put_mod[] =
    "UPDATE versions SET mod = ?2, mod_origin = ?3, mod_h1 = ?4 WHERE id = ?1";

int store_part_put(struct store *st, const char *module, const char *version,
                   enum store_part part, const void *data, size_t len,
                   const char *origin) {
  if (part == STORE_ZIP)
    return -EINVAL;
  char h1[GOMOD_H1_BYTES] = "";
  if (part == STORE_MOD && gomod_h1_gomod(data, len, h1) < 0)
    return -EINVAL;
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  int64_t id;
  int has[3];
  rc = version_row(c, module, version, &id, has);
  if (rc < 0 || has[part])
    goto out;
  sqlite3_stmt *s =
      store__stmt(c, part == STORE_INFO ? sql_put_info : sql_put_mod);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_blob(s, 2, data, (int)len, SQLITE_STATIC);
  sqlite3_bind_text(s, 3, origin, -1, SQLITE_STATIC);
  if (part == STORE_MOD)
    sqlite3_bind_text(s, 4, h1, -1, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE)
    rc = store__fail(c->db, "store part");
  sqlite3_reset(s);
out:
  return store__write_end(st, c, rc);
}

void store_zip_meta_dispose(struct store_zip_meta *m) {
  if (m == NULL)
    return;
  free(m->violations);
  m->violations = NULL;
}

static const char sql_zip_stat[] =
    "SELECT zip_size, zip_h1, zip_sha256, zip_violation_count, zip_violations"
    " FROM versions WHERE module = ?1 AND version = ?2"
    " AND zip_size IS NOT NULL";

int store_zip_stat(struct store *st, const char *module, const char *version,
                   struct store_zip_meta *out) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *s = store__stmt(c, sql_zip_stat);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
  int step = sqlite3_step(s);
  if (step == SQLITE_DONE) {
    rc = -ENOENT;
  } else if (step != SQLITE_ROW) {
    rc = store__fail(c->db, "zip stat");
  } else {
    out->size = (uint64_t)sqlite3_column_int64(s, 0);
    snprintf(out->h1, sizeof out->h1, "%s", sqlite3_column_text(s, 1));
    snprintf(out->sha256, sizeof out->sha256, "%s", sqlite3_column_text(s, 2));
    out->violation_count = (uint64_t)sqlite3_column_int64(s, 3);
    out->violations = store__column_strdup(s, 4);
  }
  sqlite3_reset(s);
out:
  store__reader_put(st, c);
  return rc;
}

static const char sql_zip_chunk[] =
    "SELECT c.rowid FROM versions v JOIN zip_chunks c ON c.version_id = v.id"
    " WHERE v.module = ?1 AND v.version = ?2 AND v.zip_size IS NOT NULL"
    " AND c.seq = ?3";

/* Each chunk is read with incremental blob I/O, straight from its pages
 * into buf: sqlite3_column_blob would first assemble the whole chunk in a
 * buffer of SQLite's (a 256 KiB allocation and one more copy per chunk).
 * The statement that found the chunk's rowid stays on its row while the
 * blob is read, so both see the same snapshot: a chunk evicted, and its
 * rowid reused, in between cannot be read in its place. */
int64_t store_zip_read(struct store *st, const char *module,
                       const char *version, uint64_t off, void *buf,
                       size_t len) {
  struct store_conn *c = store__reader_get(st);
  int64_t done = 0;
  sqlite3_blob *blob = NULL;
  sqlite3_stmt *s = store__stmt(c, sql_zip_chunk);
  if (s == NULL) {
    store__reader_put(st, c);
    return -EIO;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, version, -1, SQLITE_STATIC);
  /* One chunk row per step: a read may span several. */
  while ((size_t)done < len) {
    uint64_t at = off + (uint64_t)done;
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)(at / STORE_ZIP_CHUNK_BYTES));
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
      /* Past the last chunk: the end of the zip, or no zip at all. */
      if (done == 0) {
        sqlite3_reset(s);
        sqlite3_blob_close(blob);
        store__reader_put(st, c);
        struct store_zip_meta m;
        int rc = store_zip_stat(st, module, version, &m);
        store_zip_meta_dispose(&m);
        return rc < 0 ? rc : 0;
      }
      break;
    }
    if (step != SQLITE_ROW) {
      done = store__fail(c->db, "zip read");
      break;
    }
    sqlite3_int64 rowid = sqlite3_column_int64(s, 0);
    int brc = blob == NULL ? sqlite3_blob_open(c->db, "main", "zip_chunks",
                                               "data", rowid, 0, &blob)
                           : sqlite3_blob_reopen(blob, rowid);
    if (brc != SQLITE_OK) {
      done = store__fail(c->db, "zip read");
      break;
    }
    size_t n = (size_t)sqlite3_blob_bytes(blob);
    size_t in = (size_t)(at % STORE_ZIP_CHUNK_BYTES);
    if (in >= n)
      break;
    size_t take = n - in < len - (size_t)done ? n - in : len - (size_t)done;
    if (sqlite3_blob_read(blob, (char *)buf + done, (int)take, (int)in) !=
        SQLITE_OK) {
      done = store__fail(c->db, "zip read");
      break;
    }
    done += (int64_t)take;
  }
  sqlite3_reset(s);
  sqlite3_blob_close(blob);
  store__reader_put(st, c);
  return done;
}

int64_t store_fd_read_at(void *ctx, uint64_t off, void *buf, size_t len) {
  int fd = *(int *)ctx;
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      break;
    done += (size_t)n;
  }
  return (int64_t)done;
}

/* Hex SHA-256 of the first size bytes of fd. */
static int fd_sha256(int fd, uint64_t size, char hex[65], void *buf,
                     size_t buflen) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = 0;
  if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    rc = -ENOMEM;
    goto out;
  }
  for (uint64_t off = 0; off < size;) {
    size_t want = size - off < buflen ? (size_t)(size - off) : buflen;
    int64_t n = store_fd_read_at(&fd, off, buf, want);
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

/* The report's violations joined with newlines, or NULL when there are none. */
static char *join_violations(const struct gozip_report *rep) {
  uint64_t n = rep->violation_count < GOZIP_MAX_VIOLATIONS
                   ? rep->violation_count
                   : GOZIP_MAX_VIOLATIONS;
  if (n == 0)
    return NULL;
  char *out = malloc(n * GOZIP_VIOLATION_BYTES + 1);
  if (out == NULL)
    return NULL;
  size_t len = 0;
  for (uint64_t i = 0; i < n; i++)
    len += (size_t)sprintf(out + len, "%s%s", i > 0 ? "\n" : "",
                           rep->violations[i]);
  return out;
}

static const char sql_zip_insert[] =
    "INSERT INTO zip_chunks (version_id, seq, data) VALUES (?1, ?2, ?3)";
static const char sql_zip_publish[] =
    "UPDATE versions SET zip_size = ?2, zip_h1 = ?3, zip_sha256 = ?4,"
    " zip_violation_count = ?5, zip_violations = ?6, zip_origin = ?7"
    " WHERE id = ?1";

/* Copies the file into zip_chunks rows of version id. */
static int copy_into_chunks(struct store_conn *c, int64_t id, int fd,
                            uint64_t size, void *buf) {
  sqlite3_stmt *s = store__stmt(c, sql_zip_insert);
  if (s == NULL)
    return -EIO;
  int rc = 0;
  for (uint64_t off = 0, seq = 0; off < size && rc == 0; seq++) {
    size_t want = size - off < STORE_ZIP_CHUNK_BYTES ? (size_t)(size - off)
                                                     : STORE_ZIP_CHUNK_BYTES;
    int64_t n = store_fd_read_at(&fd, off, buf, want);
    if (n != (int64_t)want) {
      rc = n < 0 ? (int)n : -EIO; /* the file shrank under us */
      break;
    }
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    sqlite3_bind_blob(s, 3, buf, (int)n, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
      rc = store__fail(c->db, "zip chunk write");
    off += want;
  }
  sqlite3_reset(s);
  return rc;
}

int store_zip_put_fd(struct store *st, const char *module, const char *version,
                     int fd, const char *origin, int strict,
                     const char *want_h1, struct gozip_report *rep) {
  memset(rep, 0, sizeof *rep);
  struct stat sb;
  if (fstat(fd, &sb) < 0)
    return -errno;
  uint64_t size = (uint64_t)sb.st_size;
  if (size > GOMOD_MAX_ZIP_BYTES) {
    snprintf(rep->error, sizeof rep->error,
             "zip is %llu bytes, over the go command's 500 MiB limit",
             (unsigned long long)size);
    return -E2BIG;
  }
  struct gozip_reader r = {
      .size = size, .read_at = store_fd_read_at, .ctx = &fd};
  int rc = gozip_inspect(&r, module, version, rep);
  if (rc < 0)
    return rc;
  if (strict && rep->violation_count > 0)
    return -EPERM;
  if (want_h1 != NULL && strcmp(rep->h1, want_h1) != 0)
    return -EILSEQ;
  void *buf = malloc(STORE_ZIP_CHUNK_BYTES);
  if (buf == NULL)
    return -ENOMEM;
  char sha[65];
  char *violations = NULL;
  struct store_conn *c = NULL;
  rc = fd_sha256(fd, size, sha, buf, STORE_ZIP_CHUNK_BYTES);
  if (rc < 0)
    goto out;
  violations = join_violations(rep);
  rc = store__write_begin(st, &c);
  if (rc < 0) {
    c = NULL;
    goto out;
  }
  int64_t id;
  int has[3];
  rc = version_row(c, module, version, &id, has);
  if (rc < 0 || has[STORE_ZIP])
    goto out;
  rc = copy_into_chunks(c, id, fd, size, buf);
  if (rc < 0)
    goto out;
  sqlite3_stmt *s = store__stmt(c, sql_zip_publish);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
  sqlite3_bind_text(s, 3, rep->h1, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 4, sha, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)rep->violation_count);
  sqlite3_bind_text(s, 6, violations, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 7, origin, -1, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE)
    rc = store__fail(c->db, "zip publish");
  sqlite3_reset(s);
out:
  if (c != NULL)
    rc = store__write_end(st, c, rc);
  free(violations);
  free(buf);
  return rc;
}

static const char sql_versions[] =
    "SELECT module, version FROM versions WHERE mod IS NOT NULL"
    " AND coalesce(accessed, created) >= ?1 ORDER BY module, version";

int store_versions_each(struct store *st, int64_t used_since,
                        int (*cb)(void *arg, const char *module,
                                  const char *version),
                        void *arg) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0, step = SQLITE_DONE;
  sqlite3_stmt *s = store__prepare(c->db, sql_versions);
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, used_since);
  while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW)
    rc = cb(arg, (const char *)sqlite3_column_text(s, 0),
            (const char *)sqlite3_column_text(s, 1));
  if (rc == 0 && step != SQLITE_ROW && step != SQLITE_DONE)
    rc = store__fail(c->db, "versions");
out:
  sqlite3_finalize(s);
  store__reader_put(st, c);
  return rc;
}
