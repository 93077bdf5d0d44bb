/*
 * What a mirror needs from the versions table: the versions of a module it
 * holds (offline lists and @latest), and importing a whole version (.info,
 * .mod and zip) in one transaction, so that an interrupted import leaves
 * every version either complete as imported or untouched, and a rerun
 * finds what the first run committed.
 *
 * The import publishes rows exactly as versions.c does (the same columns,
 * chunks of STORE_ZIP_CHUNK_BYTES, the h1 and SHA-256), and marks them
 * imported so that eviction keeps them. Stored bytes never change: a part
 * already present is left as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "internal.h"

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    store__fail(db, "prepare");
    sqlite3_finalize(s);
    return NULL;
  }
  return s;
}

int store_modules_each(struct store *st, size_t max,
                       int (*cb)(const char *module, void *arg), void *arg) {
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  sqlite3_stmt *s = prepare(c->db, "SELECT module FROM versions UNION"
                                   " SELECT module FROM answers WHERE"
                                   " status = 200 LIMIT ?1");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_int64(s, 1, (sqlite3_int64)max);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW)
    if (cb((const char *)sqlite3_column_text(s, 0), arg) != 0)
      break;
  if (step != SQLITE_ROW && step != SQLITE_DONE)
    rc = store__fail(c->db, "list modules");
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

int store_versions_of(struct store *st, const char *module,
                      struct store_bytes *out) {
  memset(out, 0, sizeof *out);
  struct store_conn *c = store__reader_get(st);
  int rc = 0;
  size_t cap = 0;
  sqlite3_stmt *s = prepare(c->db, "SELECT version, created FROM versions"
                                   " WHERE module = ?1 AND info IS NOT NULL");
  if (s == NULL) {
    rc = -EIO;
    goto out;
  }
  sqlite3_bind_text(s, 1, module, -1, SQLITE_STATIC);
  int step;
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    const char *v = (const char *)sqlite3_column_text(s, 0);
    size_t n = strlen(v);
    if (out->len + n + 2 > cap) {
      size_t ncap = cap == 0 ? 1024 : cap * 2;
      while (ncap < out->len + n + 2)
        ncap *= 2;
      char *d = realloc(out->data, ncap);
      if (d == NULL) {
        rc = -ENOMEM;
        break;
      }
      out->data = d;
      cap = ncap;
    }
    memcpy(out->data + out->len, v, n);
    out->len += n;
    out->data[out->len++] = '\n';
    out->data[out->len] = '\0';
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = store__fail(c->db, "list versions");
  if (rc == 0 && out->len == 0)
    rc = -ENOENT;
  if (rc < 0)
    store_bytes_free(out);
  sqlite3_finalize(s);
out:
  store__reader_put(st, c);
  return rc;
}

int store_versions_newest(struct store *st, int64_t *created) {
  struct store_conn *c = store__reader_get(st);
  int rc = -ENOENT;
  sqlite3_stmt *s = prepare(c->db, "SELECT max(created) FROM versions");
  if (s == NULL) {
    rc = -EIO;
  } else {
    if (sqlite3_step(s) == SQLITE_ROW &&
        sqlite3_column_type(s, 0) != SQLITE_NULL) {
      *created = sqlite3_column_int64(s, 0);
      rc = 0;
    }
    sqlite3_finalize(s);
  }
  store__reader_put(st, c);
  return rc;
}

/* ---- import -------------------------------------------------------------- */

/* Copies the zip into chunk rows of version `id`, hashing it on the way. */
static int copy_zip(sqlite3 *db, int64_t id, int fd, uint64_t size,
                    char sha[65]) {
  sqlite3_stmt *s = prepare(db, "INSERT INTO zip_chunks (version_id, seq, data)"
                                " VALUES (?1, ?2, ?3)");
  void *buf = malloc(STORE_ZIP_CHUNK_BYTES);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = 0;
  if (s == NULL || buf == NULL || md == NULL) {
    rc = s == NULL ? -EIO : -ENOMEM;
    goto out;
  }
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (uint64_t off = 0, seq = 0; off < size; seq++) {
    size_t want = size - off < STORE_ZIP_CHUNK_BYTES ? (size_t)(size - off)
                                                     : STORE_ZIP_CHUNK_BYTES;
    int64_t n = store_fd_read_at(&fd, off, buf, want);
    if (n != (int64_t)want) {
      rc = n < 0 ? (int)n : -EIO;
      goto out;
    }
    EVP_DigestUpdate(md, buf, want);
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
    sqlite3_bind_blob(s, 3, buf, (int)want, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
      rc = store__fail(db, "zip chunk write");
      goto out;
    }
    off += want;
  }
  unsigned char d[32];
  EVP_DigestFinal_ex(md, d, NULL);
  for (int i = 0; i < 32; i++)
    snprintf(sha + 2 * i, 3, "%02x", d[i]);
out:
  EVP_MD_CTX_free(md);
  free(buf);
  sqlite3_finalize(s);
  return rc;
}

/* The report's violations joined with newlines (heap), or NULL. */
static char *join_violations(const struct gozip_report *rep) {
  uint64_t n = rep->violation_count < GOZIP_MAX_VIOLATIONS
                   ? rep->violation_count
                   : GOZIP_MAX_VIOLATIONS;
  if (n == 0)
    return NULL;
  char *out = malloc(n * (GOZIP_VIOLATION_BYTES + 1) + 1);
  if (out == NULL)
    return NULL;
  size_t len = 0;
  for (uint64_t i = 0; i < n; i++)
    len += (size_t)sprintf(out + len, "%s%s", i > 0 ? "\n" : "",
                           rep->violations[i]);
  return out;
}

static int import_parts(sqlite3 *db, const struct store_import *v, int *added) {
  int rc = 0;
  char h1[GOMOD_H1_BYTES] = "";
  if (v->mod != NULL && gomod_h1_gomod(v->mod, v->mod_len, h1) < 0)
    return -EINVAL;
  sqlite3_stmt *s = prepare(
      db, "INSERT INTO versions (module, version, created) VALUES (?1, ?2, ?3)"
          " ON CONFLICT (module, version) DO UPDATE SET module = module"
          " RETURNING id, info IS NOT NULL, mod IS NOT NULL,"
          " zip_size IS NOT NULL");
  if (s == NULL)
    return -EIO;
  sqlite3_bind_text(s, 1, v->module, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, v->version, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, v->created > 0 ? v->created : store__now());
  if (sqlite3_step(s) != SQLITE_ROW) {
    rc = store__fail(db, "version row");
    sqlite3_finalize(s);
    return rc;
  }
  int64_t id = sqlite3_column_int64(s, 0);
  int has_info = sqlite3_column_int(s, 1), has_mod = sqlite3_column_int(s, 2),
      has_zip = sqlite3_column_int(s, 3);
  sqlite3_step(s);
  sqlite3_finalize(s);
  if (v->info != NULL && !has_info) {
    s = prepare(
        db, "UPDATE versions SET info = ?2, info_origin = ?3 WHERE id = ?1");
    if (s == NULL)
      return -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_blob(s, 2, v->info, (int)v->info_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, v->origin, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store__fail(db, "import .info");
    sqlite3_finalize(s);
    if (rc < 0)
      return rc;
    *added |= 1 << STORE_INFO;
  }
  if (v->mod != NULL && !has_mod) {
    s = prepare(db, "UPDATE versions SET mod = ?2, mod_origin = ?3, mod_h1 = ?4"
                    " WHERE id = ?1");
    if (s == NULL)
      return -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_blob(s, 2, v->mod, (int)v->mod_len, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, v->origin, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, h1, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store__fail(db, "import .mod");
    sqlite3_finalize(s);
    if (rc < 0)
      return rc;
    *added |= 1 << STORE_MOD;
  }
  if (v->zip_fd >= 0 && v->zip_report != NULL && !has_zip) {
    struct stat sb;
    if (fstat(v->zip_fd, &sb) < 0)
      return -errno;
    char sha[65];
    rc = copy_zip(db, id, v->zip_fd, (uint64_t)sb.st_size, sha);
    if (rc < 0)
      return rc;
    char *violations = join_violations(v->zip_report);
    s = prepare(db, "UPDATE versions SET zip_size = ?2, zip_h1 = ?3,"
                    " zip_sha256 = ?4, zip_violation_count = ?5,"
                    " zip_violations = ?6, zip_origin = ?7 WHERE id = ?1");
    if (s == NULL) {
      free(violations);
      return -EIO;
    }
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)sb.st_size);
    sqlite3_bind_text(s, 3, v->zip_report->h1, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)v->zip_report->violation_count);
    sqlite3_bind_text(s, 6, violations, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 7, v->origin, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store__fail(db, "import zip");
    sqlite3_finalize(s);
    free(violations);
    if (rc < 0)
      return rc;
    *added |= 1 << STORE_ZIP;
  }
  if (v->mark_imported) {
    /* Eviction keeps what a mirror was given (versions.imported). */
    s = prepare(db, "UPDATE versions SET imported = 1 WHERE id = ?1");
    if (s == NULL)
      return -EIO;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s) == SQLITE_DONE ? 0 : store__fail(db, "mark imported");
    sqlite3_finalize(s);
  }
  return rc;
}

int store_version_import(struct store *st, const struct store_import *v,
                         int *added) {
  *added = 0;
  struct store_conn *c;
  int rc = store__write_begin(st, &c);
  if (rc < 0)
    return rc;
  rc = import_parts(c->db, v, added);
  rc = store__write_end(st, c, rc);
  if (rc < 0)
    *added = 0;
  return rc;
}
