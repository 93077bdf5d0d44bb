/*
 * `modproxy export`'s writer (export.h): the bundle, from the store, once
 * everything was fetched through the proxy's subsystems. Each version's .info
 * and .mod, its zip when the closure wants it, each module's list, and for
 * each database the lookups and the planned tiles, with a manifest of
 * hashes (bundle.h). With --since, a file the old bundle's manifest holds
 * with the same hash is left out.
 *
 * The bundle appears under its name only once complete: it is written as
 * BUNDLE.partial-PID and renamed; on failure the partial directory is
 * removed. A bundle named NAME.tar, .tar.zst or .tar.gz is that directory
 * packed into one archive (bundle_archive_pack), renamed into place once
 * whole; the directory is then removed.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "modproxy/gomod.h"

/* Zip bytes copied from the store per read. */
#define EXPORT_COPY_BYTES (1u << 20)

struct writer {
  struct exporter *x;
  struct store *st;
  char dir[4096]; /* the partial bundle */
  struct bundle_manifest m;
  struct bundle_manifest old; /* --since */
  uint64_t bytes, skipped;
  size_t files;
};

/* Records a written file in the manifest, or drops it when --since has it. */
static int finish_file(struct writer *w, const char *rel, const char *full) {
  char sha[65];
  uint64_t size;
  int rc = bundle_file_sha256(full, sha, &size);
  if (rc < 0)
    return rc;
  const struct bundle_file *of = bundle_manifest_file(&w->old, rel);
  if (of != NULL && strcmp(of->sha256, sha) == 0) {
    unlink(full);
    w->skipped++;
    return 0;
  }
  w->bytes += size;
  w->files++;
  return bundle_manifest_add_file(&w->m, rel, sha, size);
}

/* Creates w->dir/rel, and the directories it needs, for writing; its path
 * goes to full. NULL: *rc says why. */
static FILE *create_file(struct writer *w, const char *rel, char *full,
                         size_t cap, int *rc) {
  snprintf(full, cap, "%s/%s", w->dir, rel);
  if ((*rc = bundle_mkdirs(full)) < 0)
    return NULL;
  FILE *f = fopen(full, "wb");
  *rc = f == NULL ? -errno : 0;
  return f;
}

static int write_bytes(struct writer *w, const char *rel, const void *data,
                       size_t len) {
  char full[8192];
  int rc;
  FILE *f = create_file(w, rel, full, sizeof full, &rc);
  if (f == NULL)
    return rc;
  size_t n = len > 0 ? fwrite(data, 1, len, f) : 0;
  rc = n == len && fclose(f) == 0 ? 0 : -EIO;
  if (rc < 0)
    return rc;
  return finish_file(w, rel, full);
}

static int write_zip(struct writer *w, const char *rel, const char *module,
                     const char *version, uint64_t size) {
  char full[8192];
  int rc;
  FILE *f = create_file(w, rel, full, sizeof full, &rc);
  if (f == NULL)
    return rc;
  char *buf = malloc(EXPORT_COPY_BYTES);
  if (buf == NULL) {
    fclose(f);
    return -ENOMEM;
  }
  uint64_t off = 0;
  while (off < size) {
    int64_t n =
        store_zip_read(w->st, module, version, off, buf, EXPORT_COPY_BYTES);
    if (n <= 0) {
      rc = n < 0 ? (int)n : -EIO;
      break;
    }
    if (fwrite(buf, 1, (size_t)n, f) != (size_t)n) {
      rc = -EIO;
      break;
    }
    off += (uint64_t)n;
  }
  free(buf);
  if (fclose(f) != 0 && rc == 0)
    rc = -EIO;
  return rc < 0 ? rc : finish_file(w, rel, full);
}

static int by_module_version(const void *a, const void *b) {
  const struct node *x = *(struct node *const *)a,
                    *y = *(struct node *const *)b;
  int c = strcmp(x->module, y->module);
  return c != 0 ? c : gomod_semver_compare(x->version, y->version);
}

static int write_versions(struct writer *w) {
  struct exporter *x = w->x;
  struct node **v = calloc(x->nnodes + 1, sizeof *v);
  size_t n = 0;
  if (v == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < x->nnodes; i++)
    if (x->nodes[i].failed == NULL && x->nodes[i].loaded)
      v[n++] = &x->nodes[i];
  qsort(v, n, sizeof *v, by_module_version);
  bundle_progress_phase(&x->pr, "writing", n);
  int rc = 0;
  char *list = NULL;
  size_t list_len = 0, list_cap = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    struct node *nd = v[i];
    char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2];
    char rel[GOMOD_MAX_PATH_BYTES * 2 + GOMOD_MAX_VERSION_BYTES * 2 + 16];
    gomod_escape_path(nd->module, ep, sizeof ep, NULL, 0);
    gomod_escape_version(nd->version, ev, sizeof ev, NULL, 0);
    struct store_bytes b;
    char h1[GOMOD_H1_BYTES];
    if (store_part_get(w->st, nd->module, nd->version, STORE_INFO, &b, NULL) ==
        0) {
      snprintf(rel, sizeof rel, "%s/@v/%s.info", ep, ev);
      rc = write_bytes(w, rel, b.data, b.len);
      store_bytes_free(&b);
    }
    if (rc == 0 && store_part_get(w->st, nd->module, nd->version, STORE_MOD, &b,
                                  h1) == 0) {
      snprintf(rel, sizeof rel, "%s/@v/%s.mod", ep, ev);
      rc = write_bytes(w, rel, b.data, b.len);
      store_bytes_free(&b);
      if (rc == 0)
        rc = bundle_manifest_add_sum(&w->m, nd->module, nd->version, 1, h1, 0);
    }
    struct store_zip_meta zm;
    if (rc == 0 && nd->want_zip &&
        store_zip_stat(w->st, nd->module, nd->version, &zm) == 0) {
      snprintf(rel, sizeof rel, "%s/@v/%s.zip", ep, ev);
      rc = write_zip(w, rel, nd->module, nd->version, zm.size);
      if (rc == 0)
        rc = bundle_manifest_add_sum(&w->m, nd->module, nd->version, 0, zm.h1,
                                     0);
      store_zip_meta_dispose(&zm);
    }
    /* The list, once the module's last version is written. */
    if (nd->info_ok && !gomod_is_pseudo_version(nd->version) &&
        gomod_check(nd->module, nd->version, NULL, 0) == 0) {
      size_t need = list_len + strlen(nd->version) + 2;
      if (need > list_cap) {
        list_cap = need * 2;
        char *nl = realloc(list, list_cap);
        if (nl == NULL) {
          rc = -ENOMEM;
          break;
        }
        list = nl;
      }
      list_len += (size_t)sprintf(list + list_len, "%s\n", nd->version);
    }
    if (rc == 0 && (i + 1 == n || strcmp(v[i + 1]->module, nd->module) != 0)) {
      snprintf(rel, sizeof rel, "%s/@v/list", ep);
      rc = write_bytes(w, rel, list != NULL ? list : "", list_len);
      list_len = 0;
    }
    bundle_progress_step(&x->pr, 1);
  }
  free(list);
  free(v);
  bundle_progress_end(&x->pr, NULL);
  return rc;
}

static int write_sumdb(struct writer *w, const struct sumdb_spec *spec) {
  struct exporter *x = w->x;
  const char *name = spec->key.name;
  char rel[8192];
  snprintf(rel, sizeof rel, "sumdb/%s/supported", name);
  int rc = write_bytes(w, rel, "", 0);
  /* Lookups of the bundle's versions. */
  for (size_t i = 0; rc == 0 && i < x->nnodes; i++) {
    struct node *n = &x->nodes[i];
    char ep[GOMOD_MAX_PATH_BYTES * 2], ev[GOMOD_MAX_VERSION_BYTES * 2],
        path[4200];
    if (n->failed != NULL || !n->loaded ||
        gomod_escape_path(n->module, ep, sizeof ep, NULL, 0) < 0 ||
        gomod_escape_version(n->version, ev, sizeof ev, NULL, 0) < 0)
      continue;
    snprintf(path, sizeof path, "lookup/%s@%s", ep, ev);
    struct store_bytes b;
    if (store_sumdb_get(w->st, name, path, &b, NULL) < 0)
      continue;
    snprintf(rel, sizeof rel, "sumdb/%s/%s", name, path);
    rc = write_bytes(w, rel, b.data, b.len);
    store_bytes_free(&b);
  }
  return rc;
}

/* The planned tiles, from the store: as fetched, or cut from a wider copy
 * (a partial tile its source had completed). */
static int write_tiles(struct writer *w, int which) {
  const char *name = w->x->specs[which].key.name;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < w->x->nplan[which]; i++) {
    struct sumdb_tile t = w->x->plan[which][i];
    char path[128], base[128], rel[8192];
    if (sumdb_tile_path(&t, path, sizeof path) < 0)
      continue;
    struct store_bytes b;
    size_t want = (size_t)t.w * SUMDB_HASH_BYTES;
    if (store_sumdb_get(w->st, name, path, &b, NULL) < 0) {
      t.w = 1 << t.h;
      if (sumdb_tile_path(&t, base, sizeof base) < 0 ||
          store_sumdb_tile_prefix(w->st, name, base, want, &b) < 0)
        continue;
    }
    snprintf(rel, sizeof rel, "sumdb/%s/%s", name, path);
    rc = write_bytes(w, rel, b.data, b.len);
    store_bytes_free(&b);
  }
  return rc;
}

/* --sign: the signature of the manifest just written at mpath. */
static int write_signature(struct writer *w, const char *mpath) {
  char sha[65], path[8192];
  uint64_t size;
  int rc = bundle_file_sha256(mpath, sha, &size);
  char *note = NULL;
  size_t len = 0;
  if (rc == 0)
    rc = bundle_sign(sha, size, &w->x->signer, &note, &len);
  if (rc < 0)
    return rc;
  snprintf(path, sizeof path, "%s/%s", w->dir, BUNDLE_SIGNATURE);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    rc = -errno;
  } else {
    rc = fwrite(note, 1, len, f) == len ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
      rc = -EIO;
  }
  free(note);
  return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  return remove(path);
}

int export_write_bundle(struct exporter *x, double secs_fetch) {
  struct writer w = {.x = x};
  int rc = store_open(x->cfg.data_dir, &w.st);
  if (rc < 0)
    return rc;
  char err[256];
  if (x->since != NULL &&
      bundle_manifest_read(x->since, &w.old, err, sizeof err) < 0) {
    fprintf(stderr, "modproxy export: --since %s: %s\n", x->since,
            err[0] != '\0' ? err : "no manifest there");
    store_close(w.st);
    return -EINVAL;
  }
  snprintf(w.dir, sizeof w.dir, "%s.partial-%d", x->out, (int)getpid());
  if (mkdir(w.dir, 0755) < 0) {
    rc = -errno;
    fprintf(stderr, "modproxy export: cannot create %s: %s\n", w.dir,
            strerror(errno));
    goto out;
  }
  w.m.created = (int64_t)time(NULL);
  if (x->since != NULL)
    snprintf(w.m.since, sizeof w.m.since, "%s", w.old.id);
  rc = write_versions(&w);
  for (int i = 0; rc == 0 && i < x->nspecs; i++) {
    rc = write_sumdb(&w, &x->specs[i]);
    if (rc == 0)
      rc = write_tiles(&w, i);
  }
  for (size_t i = 0; rc == 0 && i < x->gosum.nsums; i++) {
    const struct bundle_sum *s = &x->gosum.sums[i];
    rc = bundle_manifest_add_sum(&w.m, s->module, s->version, s->gomod, s->h1,
                                 1);
  }
  if (rc == 0) {
    char *extra = NULL;
    size_t elen = 0;
    FILE *e = open_memstream(&extra, &elen);
    if (e != NULL) {
      for (size_t i = 0; i < x->nsets; i++)
        fprintf(e, "root %s\n", x->sets[i].what);
      for (int i = 0; i < x->nspecs; i++)
        fprintf(e, "sumdb %s\n", x->specs[i].key.text);
      fprintf(e, "tool modproxy %s\n", MODPROXY_VERSION);
      fclose(e);
    }
    char mpath[8192];
    snprintf(mpath, sizeof mpath, "%s/%s", w.dir, BUNDLE_MANIFEST);
    rc = bundle_manifest_write(&w.m, mpath, extra);
    free(extra);
    if (rc == 0 && x->sign)
      rc = write_signature(&w, mpath);
  }
  enum bundle_archive_kind kind = bundle_archive_kind(x->out);
  int archive = kind != BUNDLE_DIR;
  char packed[8192];
  snprintf(packed, sizeof packed, "%s.partial-%d.pack", x->out, (int)getpid());
  if (rc == 0 && archive &&
      (rc = bundle_archive_pack(w.dir, packed, kind, w.m.created, err,
                                sizeof err)) < 0)
    fprintf(stderr, "modproxy export: packing %s: %s\n", x->out, err);
  const char *done = archive ? packed : w.dir;
  if (rc == 0 && rename(done, x->out) < 0) {
    rc = -errno;
    fprintf(stderr, "modproxy export: cannot rename %s to %s: %s\n", done,
            x->out, strerror(errno));
  }
  if (rc < 0 || archive) /* no half bundle; an archive's staging directory */
    nftw(w.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (rc < 0 && archive)
    unlink(packed);
  if (rc == 0) {
    FILE *out = stdout;
    fprintf(out,
            "bundle %s: %zu files, %" PRIu64 " bytes (%" PRIu64
            " files already in %s); %zu versions; fetched in %.1f s\n",
            x->out, w.files, w.bytes, w.skipped,
            x->since != NULL ? x->since : "-", x->nnodes, secs_fetch);
    struct stat sb;
    if (archive && stat(x->out, &sb) == 0)
      fprintf(out, "archive %s: %lld bytes\n", x->out, (long long)sb.st_size);
    fprintf(out, "id %s\n", w.m.id);
    if (x->sign)
      fprintf(out, "signed by %s+%08x (%s)\n", x->signer.name, x->signer.hash,
              BUNDLE_SIGNATURE);
  } else if (rc != -EINVAL) {
    fprintf(stderr, "modproxy export: writing the bundle: %s\n", strerror(-rc));
  }
out:
  bundle_manifest_dispose(&w.m);
  bundle_manifest_dispose(&w.old);
  store_close(w.st);
  return rc;
}
