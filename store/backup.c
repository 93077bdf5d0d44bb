/*
 * Online backup: SQLite's backup API copies the database page by page from
 * one read snapshot, so a serving modproxy carries on reading and writing
 * (in WAL mode readers and the writer do not block each other) and the copy
 * is the store exactly as it was at one instant.
 *
 * The copy goes to FILE.tmp, is switched to a rollback journal (so that the
 * backup is one self-contained file: no -wal beside it), checked with
 * PRAGMA quick_check, synced, and only then renamed to FILE; a backup that
 * fails half way never leaves a FILE that looks complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* How long to retry when the source cannot be read for a moment (a
 * checkpoint holding a lock), between tries. */
#define BACKUP_RETRY_MS 100

static int check_copy(sqlite3 *db) {
  sqlite3_stmt *s = store__prepare(db, "PRAGMA quick_check");
  if (s == NULL)
    return -EIO;
  int rc = 0;
  if (sqlite3_step(s) != SQLITE_ROW) {
    rc = store__fail(db, "backup check");
  } else if (strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
    fprintf(stderr, "store: backup check: %s\n", sqlite3_column_text(s, 0));
    rc = -EBADMSG;
  }
  sqlite3_finalize(s);
  return rc;
}

/* fsync of the directory holding path, so that the rename is durable. */
static void sync_dir(const char *path) {
  char *copy = strdup(path);
  if (copy == NULL)
    return;
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  free(copy);
}

int store_backup(struct store *st, const char *path, uint64_t *bytes) {
  size_t n = strlen(path) + sizeof ".tmp";
  char *tmp = malloc(n);
  if (tmp == NULL)
    return -ENOMEM;
  snprintf(tmp, n, "%s.tmp", path);
  unlink(tmp);
  sqlite3 *dst = NULL;
  sqlite3_backup *b = NULL;
  struct store_conn *c = NULL;
  int rc = 0;
  if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK) {
    rc = store__fail(dst, tmp);
    goto out;
  }
  c = store__reader_get(st);
  b = sqlite3_backup_init(dst, "main", c->db, "main");
  if (b == NULL) {
    rc = store__fail(dst, "backup");
    goto out;
  }
  /* All pages in one step: one read snapshot, so a write by the server
   * meanwhile never restarts the copy. */
  int step;
  for (int waited = 0;; waited += BACKUP_RETRY_MS) {
    step = sqlite3_backup_step(b, -1);
    if ((step != SQLITE_BUSY && step != SQLITE_LOCKED) ||
        waited >= STORE_BUSY_TIMEOUT_MS)
      break;
    sqlite3_sleep(BACKUP_RETRY_MS);
  }
  sqlite3_backup_finish(b);
  b = NULL;
  store__reader_put(st, c);
  c = NULL;
  if (step != SQLITE_DONE) {
    fprintf(stderr, "store: backup to %s: %s\n", tmp, sqlite3_errstr(step));
    rc = step == SQLITE_FULL ? -ENOSPC : step == SQLITE_BUSY ? -EBUSY : -EIO;
    goto out;
  }
  if (sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) !=
      SQLITE_OK) {
    rc = store__fail(dst, "backup journal mode");
    goto out;
  }
  rc = check_copy(dst);
  if (rc < 0)
    goto out;
  if (sqlite3_close(dst) != SQLITE_OK) {
    rc = store__fail(dst, "backup close");
    goto out;
  }
  dst = NULL;
  int fd = open(tmp, O_RDONLY);
  if (fd < 0 || fsync(fd) < 0) {
    rc = -errno;
    fprintf(stderr, "store: backup sync %s: %s\n", tmp, strerror(errno));
    if (fd >= 0)
      close(fd);
    goto out;
  }
  struct stat sb;
  if (fstat(fd, &sb) == 0)
    *bytes = (uint64_t)sb.st_size;
  close(fd);
  if (rename(tmp, path) < 0) {
    rc = -errno;
    fprintf(stderr, "store: backup rename to %s: %s\n", path, strerror(errno));
    goto out;
  }
  sync_dir(path);
out:
  if (b != NULL)
    sqlite3_backup_finish(b);
  if (c != NULL)
    store__reader_put(st, c);
  if (dst != NULL)
    sqlite3_close(dst);
  if (rc < 0)
    unlink(tmp);
  free(tmp);
  return rc;
}
