/*
 * `modproxy import --data DIR PATH`: fills a store (a mirror's) from a
 * bundle written by `modproxy export`, a GOPROXY file:// tree, or a
 * GOMODCACHE/cache/download directory (or GOMODCACHE itself).
 *
 * Everything is checked before anything is stored:
 *  - checksum database answers under sumdb/<name>/: each lookup's note must
 *    be signed by the --sumdb key of that name, and its record must be in
 *    the signed tree (an inclusion proof from the tiles that come with it,
 *    or that the store already holds); tiles must be whole hashes;
 *  - each version: .info must name the version, the zip must be a readable
 *    module zip (and follow the rules, with --strict-zips), and the zip's
 *    and go.mod's h1 must match every hash that comes with them: the
 *    manifest's sums and file hashes, the roots' go.sum lines, the checked
 *    checksum database records, and the module cache's .ziphash.
 * A version that fails a check is rejected whole, with the reason.
 *
 * Each version (.info, .mod and zip) is stored in one transaction and
 * marked imported (eviction keeps it); checksum answers go in batches. An
 * interrupted import leaves each version complete or absent, and a rerun
 * adds what is missing, ending with the same content.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bundle.h"
#include "cmd.h"
#include "server.h"
#include "settings.h"
#include "sumdb_proxy.h"
#include "modproxy/timeutil.h"

#include <openssl/evp.h>

/* Files one import reads. */
#define IMPORT_MAX_FILES 2000000
/* Checksum database rows stored per transaction. */
#define IMPORT_SUMDB_BATCH 256
/* Tiles held in memory while lookups are checked (8 KiB each at most). */
#define IMPORT_MAX_TILES 200000
/* Rejections listed in full; the rest are counted. */
#define IMPORT_MAX_LISTED 50
/* An archive's checksum database answers, manifest and signature are held
 * in memory from the first pass to the import; past this the archive is
 * refused (a build's closure needs a few MiB of them). */
#define IMPORT_MAX_HELD_BYTES (1024u << 20)
/* Bytes read from an archive member per call. */
#define IMPORT_READ_BYTES (1u << 16)

static const char usage[] =
    "  modproxy import [flags] PATH\n"
    "\n"
    "Imports into the store (--data) a bundle from `modproxy export`, a\n"
    "GOPROXY file:// tree, or a GOMODCACHE/cache/download directory. Every\n"
    "file is checked first (zip rules, h1 hashes against the manifest, the\n"
    "go.sum lines and the checksum database records that come with it);\n"
    "what fails is rejected with the reason. Each version is stored in one\n"
    "transaction: an interrupted import can simply be run again. With\n"
    "--trust, a bundle that is unsigned, signed by another key or whose\n"
    "files differ from its signed manifest is refused whole.\n"
    "\n"
    "  --pause-ms N   wait N ms after each version (to share the store with\n"
    "                 a busy server)\n"

    "\n"
    "Exit status: 0 all imported or present, 1 something was rejected,\n"
    "2 the import could not run.\n";

enum part { P_INFO, P_MOD, P_ZIP, P_ZIPHASH, P_COUNT };

/* One file of the bundle (or tree). */
struct member {
  char *rel;       /* its relative path */
  char sha256[65]; /* "" until hashed */
  uint64_t size;   /* once hashed */
  /* archives only */
  size_t ordinal;   /* its place in the archive */
  char *data;       /* its bytes while held (NUL-terminated), or NULL */
  size_t len;       /* of data */
  int fd;           /* a zip spooled to an unlinked temporary file, or -1 */
  struct ventry *v; /* the version it is a part of, or NULL */
};

struct ventry {
  char *module, *version;
  struct member *part[P_COUNT]; /* its files, or NULL */
  int nparts, loaded;           /* archives: parts, and parts read */
};

struct tile_file {
  int db;
  struct sumdb_tile t;
  char *path; /* the tile path ("tile/8/0/000") */
  char *data;
  size_t len;
};

struct record {
  char *module, *version;
  int db;
  int64_t id;
  char zip_h1[GOMOD_H1_BYTES], mod_h1[GOMOD_H1_BYTES];
};

struct importer {
  struct settings st;
  struct proxy_config cfg;
  struct store *store;
  struct sumdb_spec specs[PROXY_SUMDB_MAX_DBS];
  int nspecs;
  char root[4096];
  const char *shown; /* PATH as given */
  int archive;       /* PATH is an archive (bundle_archive_kind) */
  uint64_t held;     /* bytes of archive members held in memory */
  struct bundle_manifest m;
  int bundle;                                /* a manifest came with it */
  struct sumdb_key trust[SETTINGS_MAX_LIST]; /* --trust */
  int ntrust;
  int pause_ms;
  struct bundle_progress pr;
  /* found */
  struct member *files;
  size_t nfiles, capfiles;
  struct ventry *vs;
  size_t nvs;
  struct tile_file *tiles;
  size_t ntiles;
  struct record *recs;
  size_t nrecs;
  /* counts */
  uint64_t v_added, v_present, v_rejected, v_unverified, lists;
  uint64_t s_added, s_present, s_rejected, ignored;
  FILE *rejects;
  char *rejects_buf;
  size_t rejects_len;
  uint64_t listed;
};

__attribute__((format(printf, 3, 4))) static void
reject(struct importer *im, const char *what, const char *fmt, ...) {
  if (im->listed++ < IMPORT_MAX_LISTED && im->rejects != NULL) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(im->rejects, "  rejected %s: ", what);
    vfprintf(im->rejects, fmt, ap);
    fputc('\n', im->rejects);
    va_end(ap);
  }
}

/* ---- walking the tree ---------------------------------------------------- */

static int add_file(void *ctx, const char *rel) {
  struct importer *im = ctx;
  if (im->nfiles == IMPORT_MAX_FILES)
    return -E2BIG;
  if (im->nfiles == im->capfiles) {
    size_t cap = im->capfiles == 0 ? 1024 : im->capfiles * 2;
    struct member *f = realloc(im->files, cap * sizeof *f);
    if (f == NULL)
      return -ENOMEM;
    im->files = f;
    im->capfiles = cap;
  }
  struct member *f = &im->files[im->nfiles];
  memset(f, 0, sizeof *f);
  f->fd = -1;
  f->ordinal = im->nfiles;
  if ((f->rel = strdup(rel)) == NULL)
    return -ENOMEM;
  im->nfiles++;
  return 0;
}

static int by_rel(const void *a, const void *b) {
  return strcmp(((const struct member *)a)->rel,
                ((const struct member *)b)->rel);
}

/* The file at rel, or NULL (files are sorted once classified). */
static struct member *member_of(struct importer *im, const char *rel) {
  struct member key = {.rel = (char *)rel};
  return im->nfiles == 0
             ? NULL
             : bsearch(&key, im->files, im->nfiles, sizeof key, by_rel);
}

/* The database a "sumdb/<name>/..." path belongs to (its index), with the
 * rest of the path; -1 when none of --sumdb has that name. */
static int sumdb_of(struct importer *im, const char *rel, const char **rest) {
  for (int i = 0; i < im->nspecs; i++) {
    size_t n = strlen(im->specs[i].key.name);
    if (strncmp(rel + 6, im->specs[i].key.name, n) == 0 && rel[6 + n] == '/') {
      *rest = rel + 6 + n + 1;
      return i;
    }
  }
  return -1;
}

/* Groups "<escaped path>/@v/<escaped version>.<ext>" files by version. */
static int classify(struct importer *im) {
  qsort(im->files, im->nfiles, sizeof *im->files, by_rel);
  im->vs = calloc(im->nfiles + 1, sizeof *im->vs);
  if (im->vs == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < im->nfiles; i++) {
    const char *rel = im->files[i].rel;
    if (strncmp(rel, "sumdb/", 6) == 0 || strcmp(rel, BUNDLE_MANIFEST) == 0)
      continue;
    const char *at = strstr(rel, "/@v/");
    if (at == NULL) {
      im->ignored++; /* @latest files, locks */
      continue;
    }
    const char *file = at + 4;
    if (strchr(file, '/') != NULL) {
      im->ignored++;
      continue;
    }
    if (strcmp(file, "list") == 0) {
      im->lists++;
      continue;
    }
    static const char *const exts[P_COUNT] = {".info", ".mod", ".zip",
                                              ".ziphash"};
    int part = -1;
    size_t fl = strlen(file), el = 0;
    for (int k = 0; k < P_COUNT; k++) {
      el = strlen(exts[k]);
      if (fl > el && strcmp(file + fl - el, exts[k]) == 0) {
        part = k;
        break;
      }
    }
    if (part < 0) {
      im->ignored++; /* .lock, .partial, .tmp */
      continue;
    }
    char esc_mod[GOMOD_MAX_PATH_BYTES * 2],
        esc_ver[GOMOD_MAX_VERSION_BYTES * 2];
    char module[GOMOD_MAX_PATH_BYTES], version[GOMOD_MAX_VERSION_BYTES];
    size_t ml = (size_t)(at - rel);
    if (ml >= sizeof esc_mod || fl - el >= sizeof esc_ver) {
      reject(im, rel, "path too long");
      im->v_rejected++;
      continue;
    }
    memcpy(esc_mod, rel, ml);
    esc_mod[ml] = '\0';
    memcpy(esc_ver, file, fl - el);
    esc_ver[fl - el] = '\0';
    if (gomod_unescape_path(esc_mod, module, sizeof module, NULL, 0) < 0 ||
        gomod_unescape_version(esc_ver, version, sizeof version, NULL, 0) < 0) {
      reject(im, rel,
             "not a module path and version in the download-cache "
             "layout");
      im->v_rejected++;
      continue;
    }
    struct ventry *v = im->nvs > 0 ? &im->vs[im->nvs - 1] : NULL;
    if (v == NULL || strcmp(v->module, module) != 0 ||
        strcmp(v->version, version) != 0) {
      /* Files are sorted: a version's files are adjacent unless another
       * version's name sorts between them ("v1.0.0.info" < "v1.0.0-x"). */
      v = NULL;
      for (size_t k = im->nvs; k-- > 0;) {
        if (strcmp(im->vs[k].module, module) != 0)
          break;
        if (strcmp(im->vs[k].version, version) == 0) {
          v = &im->vs[k];
          break;
        }
      }
    }
    if (v == NULL) {
      v = &im->vs[im->nvs++];
      v->module = strdup(module);
      v->version = strdup(version);
      if (v->module == NULL || v->version == NULL)
        return -ENOMEM;
    }
    if (v->part[part] == NULL)
      v->nparts++;
    v->part[part] = &im->files[i];
    im->files[i].v = v;
  }
  return 0;
}

/* ---- checks -------------------------------------------------------------- */

/* Hashes a file of a directory once (an archive's members are hashed as
 * they are read). */
static int hash_member(struct importer *im, struct member *f) {
  if (f->sha256[0] != '\0')
    return 0;
  char full[8192];
  snprintf(full, sizeof full, "%s/%s", im->root, f->rel);
  int rc = bundle_file_sha256(full, f->sha256, &f->size);
  if (rc < 0)
    f->sha256[0] = '\0';
  return rc;
}

/* The file's manifest entry agrees with its bytes (bundles only; hashed
 * once). 0, or -EBADMSG with the reason in why. */
static int check_manifest(struct importer *im, struct member *f, char *why,
                          size_t cap) {
  if (!im->bundle)
    return 0;
  const struct bundle_file *mf = bundle_manifest_file(&im->m, f->rel);
  if (mf == NULL) {
    snprintf(why, cap, "%s is not in the bundle's manifest", f->rel);
    return -EBADMSG;
  }
  int rc = hash_member(im, f);
  if (rc < 0) {
    snprintf(why, cap, "%s: %s", f->rel, strerror(-rc));
    return rc;
  }
  if (f->size != mf->size || strcmp(f->sha256, mf->sha256) != 0) {
    snprintf(why, cap,
             "%s differs from the manifest: sha256 %.16s... (%" PRIu64
             " bytes), the manifest says %.16s... (%" PRIu64 " bytes)",
             f->rel, f->sha256, f->size, mf->sha256, mf->size);
    return -EBADMSG;
  }
  return 0;
}

/* The bytes of a file of at most max bytes (heap, NUL-terminated, the
 * caller's): an archive member's held bytes (given away), or a
 * directory's file. -E2BIG past max. */
static int read_member(struct importer *im, struct member *f, size_t max,
                       char **data, size_t *len) {
  if (!im->archive) {
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", im->root, f->rel);
    return bundle_read_file(full, max, data, len);
  }
  if (f->data == NULL || f->len > max)
    return f->size > max ? -E2BIG : -ENOENT;
  *data = f->data;
  *len = f->len;
  f->data = NULL;
  return 0;
}

/* ---- --trust: a signed bundle, whole, before anything is stored ---------- */

/* Checks the bundle's signature against the --trust keys, then that its
 * files are exactly the signed manifest's (every one hashed). 0, or
 * -EBADMSG with the reason (naming the first bad file) in why. */
static int check_trust(struct importer *im, char *why, size_t cap) {
  char err[512];
  struct member *sig = member_of(im, BUNDLE_SIGNATURE),
                *man = member_of(im, BUNDLE_MANIFEST);
  if (!im->bundle || man == NULL) {
    snprintf(why, cap, "it has no %s: not a bundle of modproxy export",
             BUNDLE_MANIFEST);
    return -EBADMSG;
  }
  char *note = NULL;
  size_t len = 0;
  int rc = sig == NULL
               ? -ENOENT
               : read_member(im, sig, BUNDLE_MAX_SIGNATURE_BYTES, &note, &len);
  if (rc < 0) {
    snprintf(why, cap,
             "it is not signed (%s: %s); export it with --sign KEYFILE",
             BUNDLE_SIGNATURE, rc == -E2BIG ? "too large" : strerror(-rc));
    return -EBADMSG;
  }
  rc = hash_member(im, man);
  if (rc == 0)
    rc = bundle_signature_check(note, len, man->sha256, man->size, im->trust,
                                im->ntrust, err, sizeof err);
  else
    snprintf(err, sizeof err, "%s: %s", BUNDLE_MANIFEST, strerror(-rc));
  free(note);
  if (rc < 0) {
    snprintf(why, cap, "%s", err);
    return -EBADMSG;
  }
  for (size_t i = 0; i < im->nfiles; i++) {
    struct member *f = &im->files[i];
    if (strcmp(f->rel, BUNDLE_MANIFEST) == 0 ||
        strcmp(f->rel, BUNDLE_SIGNATURE) == 0)
      continue;
    if (check_manifest(im, f, err, sizeof err) < 0) {
      snprintf(why, cap, "%s (the manifest is signed)", err);
      return -EBADMSG;
    }
  }
  for (size_t i = 0; i < im->m.nfiles; i++) {
    if (member_of(im, im->m.files[i].path) == NULL) {
      snprintf(why, cap, "%s is in the signed manifest but not in the bundle",
               im->m.files[i].path);
      return -EBADMSG;
    }
  }
  return 0;
}

/* A tile's data (in the bundle or the store) that holds stored hash idx of
 * a tree of size n. */
static int hash_at(struct importer *im, int db, int64_t n, int64_t idx,
                   struct sumdb_hash *out, char *missing, size_t cap) {
  struct sumdb_tile t = sumdb_tile_for_index(SUMDB_TILE_HEIGHT, idx), p;
  if (sumdb_tile_parent(&t, 0, n, &p) < 0)
    return -EINVAL;
  for (size_t i = 0; i < im->ntiles; i++) {
    const struct tile_file *f = &im->tiles[i];
    if (f->db == db && f->t.l == p.l && f->t.n == p.n && f->t.w >= p.w &&
        sumdb_hash_from_tile(&p, (const uint8_t *)f->data, f->len, idx, out) ==
            0)
      return 0;
  }
  char path[128], base[128];
  sumdb_tile_path(&p, path, sizeof path);
  struct sumdb_tile full = p;
  full.w = 1 << full.h;
  sumdb_tile_path(&full, base, sizeof base);
  struct store_bytes b;
  int rc = store_sumdb_tile_prefix(im->store, im->specs[db].key.name, base,
                                   (size_t)p.w * SUMDB_HASH_BYTES, &b);
  if (rc == 0) {
    rc = sumdb_hash_from_tile(&p, (const uint8_t *)b.data, b.len, idx, out);
    store_bytes_free(&b);
  }
  if (rc < 0)
    snprintf(missing, cap, "%s", path);
  return rc;
}

/* Checks the sumdb/ files; stores the good ones in batches. */
static int import_sumdb(struct importer *im) {
  struct store_sumdb_row *rows = calloc(IMPORT_SUMDB_BATCH, sizeof *rows);
  char **bodies = calloc(IMPORT_SUMDB_BATCH, sizeof *bodies);
  size_t nrows = 0, total = 0;
  int rc = 0;
  if (rows == NULL || bodies == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  im->tiles = calloc(IMPORT_MAX_TILES, sizeof *im->tiles);
  im->recs = calloc(im->nfiles + 1, sizeof *im->recs);
  if (im->tiles == NULL || im->recs == NULL) {
    rc = -ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < im->nfiles; i++)
    total += strncmp(im->files[i].rel, "sumdb/", 6) == 0;
  if (total == 0)
    goto out;
  bundle_progress_phase(&im->pr, "sumdb", total);
  /* Tiles first: the lookups' proofs read them. */
  for (int pass = 0; pass < 2 && rc >= 0; pass++) {
    for (size_t i = 0; i < im->nfiles && rc >= 0; i++) {
      const char *rel = im->files[i].rel, *rest;
      if (strncmp(rel, "sumdb/", 6) != 0)
        continue;
      int db = sumdb_of(im, rel, &rest);
      int is_tile = db >= 0 && strncmp(rest, "tile/", 5) == 0;
      if (is_tile != (pass == 0))
        continue;
      bundle_progress_step(&im->pr, 1);
      if (db < 0) {
        if (pass == 1) {
          im->s_rejected++;
          reject(im, rel,
                 "no --sumdb key for this checksum database (give "
                 "--sumdb NAME+HASH+KEY to import its answers)");
        }
        continue;
      }
      if (strcmp(rest, "supported") == 0)
        continue;
      char why[512] = "", *data = NULL;
      size_t len = 0;
      if (check_manifest(im, &im->files[i], why, sizeof why) < 0 ||
          read_member(im, &im->files[i], BUNDLE_MAX_SMALL_FILE_BYTES, &data,
                      &len) < 0) {
        im->s_rejected++;
        reject(im, rel, "%s", why[0] != '\0' ? why : "unreadable");
        free(data);
        continue;
      }
      const struct sumdb_key *key = &im->specs[db].key;
      char err[256] = "";
      int ok = 0, replace = 0;
      if (is_tile) {
        struct sumdb_tile t;
        if (sumdb_tile_parse(rest, &t) < 0 ||
            (t.l >= 0 && len != (size_t)t.w * SUMDB_HASH_BYTES) || len == 0) {
          snprintf(err, sizeof err, "not a well-formed tile");
        } else if (t.l >= 0 && im->ntiles < IMPORT_MAX_TILES) {
          im->tiles[im->ntiles++] =
              (struct tile_file){db, t, strdup(rest), data, len};
          data = NULL; /* kept for the proofs; stored below from there */
          ok = 1;
        } else {
          ok = 1;
        }
      } else if (strcmp(rest, "latest") == 0) {
        size_t tl;
        struct sumdb_tree tree, have;
        struct store_bytes b;
        if (sumdb_note_verify(data, len, key, &tl, err, sizeof err) == 0 &&
            sumdb_tree_parse(data, tl, &tree) == 0) {
          ok = 1;
          replace = 1;
          /* Keep a newer stored tree. */
          if (store_sumdb_get(im->store, key->name, "latest", &b, NULL) == 0) {
            size_t hl;
            if (sumdb_note_verify(b.data, b.len, key, &hl, NULL, 0) == 0 &&
                sumdb_tree_parse(b.data, hl, &have) == 0 && have.n >= tree.n)
              replace = 0, ok = 2;
            store_bytes_free(&b);
          }
        }
      } else if (strncmp(rest, "lookup/", 7) == 0) {
        struct sumdb_lookup l;
        struct record *r = &im->recs[im->nrecs];
        char esc[GOMOD_MAX_PATH_BYTES * 2], module[GOMOD_MAX_PATH_BYTES],
            version[GOMOD_MAX_VERSION_BYTES];
        const char *atp = strrchr(rest + 7, '@');
        size_t el = atp != NULL ? (size_t)(atp - rest - 7) : 0;
        if (atp == NULL || el >= sizeof esc) {
          snprintf(err, sizeof err, "not a lookup path");
        } else {
          memcpy(esc, rest + 7, el);
          esc[el] = '\0';
          if (gomod_unescape_path(esc, module, sizeof module, NULL, 0) < 0 ||
              gomod_unescape_version(atp + 1, version, sizeof version, NULL,
                                     0) < 0)
            snprintf(err, sizeof err, "not a lookup path");
          else if (sumdb_lookup_parse(data, len, key, &l, err, sizeof err) ==
                       0 &&
                   sumdb_record_hashes(l.text, l.text_len, module, version,
                                       r->zip_h1, r->mod_h1) < 0)
            snprintf(err, sizeof err, "the record is not about %s@%s", module,
                     version);
          else if (err[0] == '\0') {
            /* Inclusion in the signed tree, from the tiles. */
            int64_t idx[SUMDB_MAX_PROOF_HASHES];
            struct sumdb_hash hs[SUMDB_MAX_PROOF_HASHES];
            int c = sumdb_record_proof_indexes(l.tree.n, l.id, idx,
                                               SUMDB_MAX_PROOF_HASHES);
            char missing[128] = "";
            int k = 0;
            for (; k < c; k++)
              if (hash_at(im, db, l.tree.n, idx[k], &hs[k], missing,
                          sizeof missing) < 0)
                break;
            struct sumdb_hash leaf;
            sumdb_record_hash(l.text, l.text_len, &leaf);
            if (c < 0 || k < c)
              snprintf(err, sizeof err,
                       "cannot check that record %" PRId64 " is in the signed "
                       "tree: tile %s is missing%s",
                       l.id, missing[0] != '\0' ? missing : "?",
                       im->m.since[0] != '\0'
                           ? " (an incremental bundle: import its base first)"
                           : "");
            else if (sumdb_record_check(&l.tree, l.id, &leaf, hs, (size_t)c) <
                     0)
              snprintf(err, sizeof err,
                       "record %" PRId64 " is not in the tree of %" PRId64
                       " records its note signs (tampered record or tiles)",
                       l.id, l.tree.n);
            else {
              r->module = strdup(module);
              r->version = strdup(version);
              r->db = db;
              r->id = l.id;
              im->nrecs++;
              ok = 1;
            }
          }
        }
      } else {
        snprintf(err, sizeof err, "not a checksum database path");
      }
      if (!ok) {
        im->s_rejected++;
        reject(im, rel, "%s", err);
        free(data);
        continue;
      }
      if (ok == 2) { /* the store has a newer latest */
        im->s_present++;
        free(data);
        continue;
      }
      if (is_tile && data != NULL) { /* a record data tile: not needed */
        im->ignored++;
        free(data);
        continue;
      }
      char *body = data;
      size_t blen = len;
      if (is_tile) { /* the copy kept for the proofs */
        body = malloc(im->tiles[im->ntiles - 1].len);
        if (body == NULL) {
          rc = -ENOMEM;
          break;
        }
        memcpy(body, im->tiles[im->ntiles - 1].data,
               im->tiles[im->ntiles - 1].len);
        blen = im->tiles[im->ntiles - 1].len;
      }
      bodies[nrows] = body;
      rows[nrows] = (struct store_sumdb_row){
          .db = key->name,
          .path = rest,
          .body = body,
          .len = blen,
          .fetched = (int64_t)time(NULL),
          .origin = im->shown,
          .replace = replace,
      };
      if (++nrows == IMPORT_SUMDB_BATCH) {
        int added = store_sumdb_put(im->store, rows, nrows);
        if (added < 0) {
          rc = added;
          break;
        }
        im->s_added += (uint64_t)added;
        im->s_present += nrows - (uint64_t)added;
        for (size_t k = 0; k < nrows; k++)
          free(bodies[k]);
        nrows = 0;
      }
    }
  }
  if (rc >= 0 && nrows > 0) {
    int added = store_sumdb_put(im->store, rows, nrows);
    if (added < 0) {
      rc = added;
    } else {
      im->s_added += (uint64_t)added;
      im->s_present += nrows - (uint64_t)added;
    }
  }
  for (size_t k = 0; k < nrows; k++)
    free(bodies[k]);
  char sum[160];
  snprintf(sum, sizeof sum,
           "%" PRIu64 " added, %" PRIu64 " present, %" PRIu64 " rejected",
           im->s_added, im->s_present, im->s_rejected);
  bundle_progress_end(&im->pr, sum);
out:
  free(rows);
  free(bodies);
  return rc;
}

static int by_record(const void *a, const void *b) {
  const struct record *x = a, *y = b;
  int c = strcmp(x->module, y->module);
  return c != 0 ? c : strcmp(x->version, y->version);
}

/* The checked record of module@version (recs are sorted once the
 * checksum answers are in), or NULL. */
static const struct record *record_of(struct importer *im, const char *module,
                                      const char *version) {
  struct record key = {.module = (char *)module, .version = (char *)version};
  return im->nrecs == 0
             ? NULL
             : bsearch(&key, im->recs, im->nrecs, sizeof key, by_record);
}

/* The h1 `got` against every hash that comes with the version. */
static int check_h1(struct importer *im, const struct ventry *v, int gomod,
                    const char *got, const char *ziphash, char *why,
                    size_t cap) {
  const char *what = gomod ? "its go.mod" : "its zip";
  const char *m = bundle_manifest_sum(&im->m, v->module, v->version, gomod, 0);
  if (m != NULL && strcmp(m, got) != 0) {
    snprintf(why, cap, "%s hashes to %s, the manifest says %s", what, got, m);
    return -EBADMSG;
  }
  const char *g = bundle_manifest_sum(&im->m, v->module, v->version, gomod, 1);
  if (g != NULL && strcmp(g, got) != 0) {
    snprintf(why, cap, "%s hashes to %s, go.sum says %s", what, got, g);
    return -EBADMSG;
  }
  const struct record *r = record_of(im, v->module, v->version);
  const char *s = r == NULL ? NULL : gomod ? r->mod_h1 : r->zip_h1;
  if (s != NULL && s[0] != '\0' && strcmp(s, got) != 0) {
    snprintf(why, cap,
             "%s hashes to %s, the checksum database %s says %s (record "
             "%" PRId64 ")",
             what, got, im->specs[r->db].key.name, s, r->id);
    return -EBADMSG;
  }
  if (ziphash != NULL && strcmp(ziphash, got) != 0) {
    snprintf(why, cap, "%s hashes to %s, its .ziphash says %s", what, got,
             ziphash);
    return -EBADMSG;
  }
  return 0;
}

/* Checks and stores one version. 0, 1 when rejected, or a negative errno
 * (the store failed: the import stops). */
static int import_version(struct importer *im, const struct ventry *v) {
  char what[GOMOD_MAX_PATH_BYTES + GOMOD_MAX_VERSION_BYTES + 2], why[1024] = "";
  snprintf(what, sizeof what, "%s@%s", v->module, v->version);
  char *info = NULL, *mod = NULL, *zh = NULL;
  size_t info_len = 0, mod_len = 0, zh_len = 0;
  int fd = -1, rc = 1;
  struct gozip_report *rep = NULL;
  if (!gomod_is_canonical_version(v->version) ||
      gomod_check(v->module, v->version, why, sizeof why) < 0) {
    if (why[0] == '\0')
      snprintf(why, sizeof why, "%s is not a canonical version", v->version);
    goto out;
  }
  for (int p = 0; p < P_COUNT; p++)
    if (v->part[p] != NULL &&
        check_manifest(im, v->part[p], why, sizeof why) < 0)
      goto out;
  if (v->part[P_INFO] != NULL) {
    char ver[GOMOD_MAX_VERSION_BYTES];
    if (read_member(im, v->part[P_INFO], BUNDLE_MAX_SMALL_FILE_BYTES, &info,
                    &info_len) < 0 ||
        gomod_info_version(info, info_len, ver, sizeof ver) < 0) {
      snprintf(why, sizeof why,
               "its .info is not a JSON object with a Version");
      goto out;
    }
    if (strcmp(ver, v->version) != 0) {
      snprintf(why, sizeof why, "its .info names version %s", ver);
      goto out;
    }
  }
  if (v->part[P_MOD] != NULL) {
    char h1[GOMOD_H1_BYTES];
    if (read_member(im, v->part[P_MOD], BUNDLE_MAX_SMALL_FILE_BYTES, &mod,
                    &mod_len) < 0 ||
        gomod_h1_gomod(mod, mod_len, h1) < 0) {
      snprintf(why, sizeof why, "its .mod cannot be read");
      goto out;
    }
    if (check_h1(im, v, 1, h1, NULL, why, sizeof why) < 0)
      goto out;
  }
  if (v->part[P_ZIPHASH] != NULL &&
      read_member(im, v->part[P_ZIPHASH], BUNDLE_MAX_SMALL_FILE_BYTES, &zh,
                  &zh_len) == 0)
    zh[strcspn(zh, "\r\n")] = '\0';
  if (v->part[P_ZIP] != NULL) {
    char full[8192];
    snprintf(full, sizeof full, "%s/%s", im->root, v->part[P_ZIP]->rel);
    if (im->archive) { /* spooled by the second pass */
      fd = v->part[P_ZIP]->fd;
      v->part[P_ZIP]->fd = -1;
      errno = ENOENT;
    } else {
      fd = open(full, O_RDONLY | O_CLOEXEC);
    }
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
      snprintf(why, sizeof why, "its zip cannot be read: %s", strerror(errno));
      goto out;
    }
    if ((uint64_t)sb.st_size > GOMOD_MAX_ZIP_BYTES) {
      snprintf(why, sizeof why,
               "its zip is over the go command's 500 MiB limit");
      goto out;
    }
    rep = calloc(1, sizeof *rep);
    if (rep == NULL) {
      rc = -ENOMEM;
      goto out;
    }
    struct gozip_reader r = {
        .size = (uint64_t)sb.st_size, .read_at = store_fd_read_at, .ctx = &fd};
    if (gozip_inspect(&r, v->module, v->version, rep) < 0) {
      snprintf(why, sizeof why, "its zip is unusable: %s", rep->error);
      goto out;
    }
    if (im->cfg.strict_zips && rep->violation_count > 0) {
      snprintf(why, sizeof why,
               "its zip breaks the module zip rules "
               "(--strict-zips): %s",
               rep->violations[0]);
      goto out;
    }
    if (check_h1(im, v, 0, rep->h1, zh, why, sizeof why) < 0)
      goto out;
  }
  if (info == NULL && mod == NULL && fd < 0) {
    snprintf(why, sizeof why, "no .info, .mod or .zip");
    goto out;
  }
  if (im->nspecs > 0 && record_of(im, v->module, v->version) == NULL &&
      !gomod_private(im->cfg.private_patterns, v->module))
    im->v_unverified++;
  struct store_import in = {
      .module = v->module,
      .version = v->version,
      .info = info,
      .info_len = info_len,
      .mod = mod,
      .mod_len = mod_len,
      .zip_fd = fd,
      .zip_report = rep,
      .origin = im->shown,
      .mark_imported = 1,
  };
  int added = 0;
  rc = store_version_import(im->store, &in, &added);
  if (rc == 0) {
    if (added != 0)
      im->v_added++;
    else
      im->v_present++;
  }
out:
  if (rc == 1) {
    im->v_rejected++;
    reject(im, what, "%s", why);
  }
  if (fd >= 0)
    close(fd);
  free(rep);
  free(info);
  free(mod);
  free(zh);
  return rc;
}

/* ---- archives: two streaming passes ------------------------------------- */

/* Reads the current member to its end, hashing it into f (sha256, size),
 * its bytes into data[0..cap) when data is not NULL, or into fd when fd >= 0.
 * 0, or a negative errno with a message. */
static int read_data(struct bundle_archive *a, struct member *f, uint64_t want,
                     char *data, int fd, char *err, size_t errlen) {
  char *buf = malloc(IMPORT_READ_BYTES);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = 0;
  uint64_t total = 0;
  if (buf == NULL || md == NULL) {
    rc = -ENOMEM;
    snprintf(err, errlen, "out of memory");
    goto out;
  }
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  for (;;) {
    int64_t n = bundle_archive_read(a, buf, IMPORT_READ_BYTES, err, errlen);
    if (n <= 0) {
      rc = (int)n;
      break;
    }
    if (total + (uint64_t)n > want) {
      snprintf(err, errlen, "%s: more bytes than its header says", f->rel);
      rc = -EBADMSG;
      break;
    }
    EVP_DigestUpdate(md, buf, (size_t)n);
    if (data != NULL)
      memcpy(data + total, buf, (size_t)n);
    if (fd >= 0 && write(fd, buf, (size_t)n) != (ssize_t)n) {
      rc = -errno;
      snprintf(err, errlen, "spooling %s: %s", f->rel, strerror(errno));
      break;
    }
    total += (uint64_t)n;
  }
  if (rc == 0 && total != want) {
    snprintf(err, errlen, "%s: truncated (%" PRIu64 " of %" PRIu64 " bytes)",
             f->rel, total, want);
    rc = -EBADMSG;
  }
  if (rc == 0) {
    unsigned char d[32];
    EVP_DigestFinal_ex(md, d, NULL);
    bundle_sha256_hex(d, f->sha256);
    f->size = total;
  }
out:
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

/* Gives f a heap copy of the current member (want bytes). */
static int hold_data(struct importer *im, struct bundle_archive *a,
                     struct member *f, uint64_t want, char *err,
                     size_t errlen) {
  if ((f->data = malloc((size_t)want + 1)) == NULL) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  int rc = read_data(a, f, want, f->data, -1, err, errlen);
  if (rc < 0) {
    free(f->data);
    f->data = NULL;
    return rc;
  }
  f->data[want] = '\0';
  f->len = (size_t)want;
  im->held += want;
  return 0;
}

/* The first pass: every member's header checked (bundle_archive_next) and
 * its bytes hashed; the manifest, the signature and the checksum database
 * answers held. Nothing is stored. 0, or -EBADMSG with the reason. */
static int scan_archive(struct importer *im, char *err, size_t errlen) {
  struct bundle_archive *a;
  int rc = bundle_archive_open(im->shown, IMPORT_MAX_FILES, &a, err, errlen);
  if (rc < 0)
    return rc;
  bundle_progress_phase(&im->pr, "reading", 0);
  const char *name;
  uint64_t size;
  while ((rc = bundle_archive_next(a, &name, &size, err, errlen)) > 0) {
    if ((rc = add_file(im, name)) < 0) {
      snprintf(err, errlen, "%s", strerror(-rc));
      break;
    }
    struct member *f = &im->files[im->nfiles - 1];
    uint64_t hold =
        strcmp(name, BUNDLE_MANIFEST) == 0    ? BUNDLE_MAX_MANIFEST_BYTES
        : strcmp(name, BUNDLE_SIGNATURE) == 0 ? BUNDLE_MAX_SIGNATURE_BYTES
        : strncmp(name, "sumdb/", 6) == 0     ? BUNDLE_MAX_SMALL_FILE_BYTES
                                              : 0;
    if (size <= hold && im->held + size > IMPORT_MAX_HELD_BYTES) {
      snprintf(err, errlen, "%s: the checksum database answers are over %u MiB",
               name, IMPORT_MAX_HELD_BYTES >> 20);
      rc = -EBADMSG;
      break;
    }
    rc = size <= hold ? hold_data(im, a, f, size, err, errlen)
                      : read_data(a, f, size, NULL, -1, err, errlen);
    if (rc < 0)
      break;
    bundle_progress_step(&im->pr, 1);
  }
  bundle_archive_close(a);
  bundle_progress_end(&im->pr, NULL);
  return rc < 0 ? rc : 0;
}

/* After the first pass: no name twice, the manifest read, and each version's
 * members one run, as export writes them (the second pass then holds one
 * version at a time). 0, or -EBADMSG with the reason. */
static int check_archive(struct importer *im, char *err, size_t errlen) {
  for (size_t i = 1; i < im->nfiles; i++) {
    if (strcmp(im->files[i - 1].rel, im->files[i].rel) == 0) {
      snprintf(err, errlen, "%s: in the archive twice", im->files[i].rel);
      return -EBADMSG;
    }
  }
  struct member *man = member_of(im, BUNDLE_MANIFEST);
  if (man != NULL) {
    if (man->data == NULL ||
        bundle_manifest_parse(man->data, man->len, &im->m, err, errlen) < 0) {
      if (man->data == NULL)
        snprintf(err, errlen, "%s: too large", BUNDLE_MANIFEST);
      return -EBADMSG;
    }
    im->bundle = 1;
  }
  size_t *first = calloc(im->nvs + 1, sizeof *first);
  if (first == NULL)
    return -ENOMEM;
  /* Walking members in archive order, a version seen again after another
   * one started is out of its run. */
  size_t *order = calloc(im->nfiles + 1, sizeof *order);
  int rc = 0;
  if (order == NULL) {
    free(first);
    return -ENOMEM;
  }
  for (size_t i = 0; i < im->nfiles; i++)
    order[im->files[i].ordinal] = i;
  const struct ventry *cur = NULL;
  for (size_t k = 0; k < im->nfiles && rc == 0; k++) {
    const struct member *f = &im->files[order[k]];
    if (f->v == NULL || f->v == cur)
      continue;
    size_t vi = (size_t)(f->v - im->vs);
    if (first[vi] != 0) {
      snprintf(err, errlen,
               "%s: the files of %s@%s are not together (not an archive of "
               "modproxy export?)",
               f->rel, f->v->module, f->v->version);
      rc = -EBADMSG;
    }
    first[vi] = k + 1;
    cur = f->v;
  }
  free(order);
  free(first);
  return rc;
}

/* Imports one version and reports the step; a negative errno when the
 * store failed (the import stops). */
static int version_step(struct importer *im, struct ventry *v) {
  int rc = import_version(im, v);
  if (rc < 0) {
    fprintf(stderr, "\nmodproxy import: storing %s@%s: %s\n", v->module,
            v->version, strerror(-rc));
    return rc;
  }
  bundle_progress_step(&im->pr, 1);
  if (im->pause_ms > 0)
    usleep((useconds_t)im->pause_ms * 1000);
  return 0;
}

/* What the second pass read of a version and its import left. */
static void release_parts(struct ventry *v) {
  for (int p = 0; p < P_COUNT; p++) {
    struct member *f = v->part[p];
    if (f == NULL)
      continue;
    free(f->data);
    f->data = NULL;
    if (f->fd >= 0)
      close(f->fd);
    f->fd = -1;
  }
}

/* An unlinked temporary file for one zip. */
static int spool_fd(void) {
  const char *dir = getenv("TMPDIR");
  if (dir == NULL || dir[0] == '\0')
    dir = "/tmp";
  return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

/* The second pass: each version's members read again (small ones into
 * memory, the zip into a temporary file) and the version imported as soon
 * as its last member is in. A member whose bytes changed since the first
 * pass keeps its new hash, which the manifest then refuses. */
static int stream_versions(struct importer *im) {
  char err[512] = "";
  struct bundle_archive *a;
  int rc =
      bundle_archive_open(im->shown, IMPORT_MAX_FILES, &a, err, sizeof err);
  const char *name;
  uint64_t size;
  while (rc == 0 &&
         (rc = bundle_archive_next(a, &name, &size, err, sizeof err)) > 0) {
    struct member *f = member_of(im, name);
    rc = 0;
    if (f == NULL || f->v == NULL)
      continue;
    if (f == f->v->part[P_ZIP]) {
      if ((f->fd = spool_fd()) < 0) {
        rc = -errno;
        snprintf(err, sizeof err, "a temporary file for %s: %s", name,
                 strerror(errno));
      } else {
        rc = read_data(a, f, size, NULL, f->fd, err, sizeof err);
      }
    } else if (size <= BUNDLE_MAX_SMALL_FILE_BYTES) {
      rc = hold_data(im, a, f, size, err, sizeof err);
    }
    if (rc == 0 && ++f->v->loaded == f->v->nparts) {
      rc = version_step(im, f->v);
      release_parts(f->v);
    }
  }
  if (rc < 0 && err[0] != '\0')
    fprintf(stderr, "\nmodproxy import: reading %s again: %s\n", im->shown,
            err);
  bundle_archive_close(a);
  return rc < 0 ? rc : 0;
}

/* ---- the command --------------------------------------------------------- */

static void importer_dispose(struct importer *im) {
  for (size_t i = 0; i < im->nfiles; i++) {
    free(im->files[i].rel);
    free(im->files[i].data);
    if (im->files[i].fd >= 0)
      close(im->files[i].fd);
  }
  free(im->files);
  for (size_t i = 0; i < im->nvs; i++) {
    free(im->vs[i].module);
    free(im->vs[i].version);
  }
  free(im->vs);
  for (size_t i = 0; i < im->ntiles; i++) {
    free(im->tiles[i].path);
    free(im->tiles[i].data);
  }
  free(im->tiles);
  for (size_t i = 0; i < im->nrecs; i++) {
    free(im->recs[i].module);
    free(im->recs[i].version);
  }
  free(im->recs);
  bundle_manifest_dispose(&im->m);
  if (im->rejects != NULL)
    fclose(im->rejects);
  free(im->rejects_buf);
  store_close(im->store);
  settings_dispose(&im->st);
}

/* Import's own flag: --pause-ms N between transactions. */
static const struct settings_flag import_flags[] = {{"pause-ms", 0, "MS"},
                                                    {NULL, 0, NULL}};

static int take_pause(struct importer *im) {
  const char *val = settings_flag(&im->st, 0);
  if (val == NULL)
    return 0;
  char *end;
  long ms = strtol(val, &end, 10);
  if (end == val || *end != '\0' || ms < 0 || ms > 60000) {
    fprintf(stderr, "modproxy import: --pause-ms %s: want 0 to 60000\n", val);
    return -EINVAL;
  }
  im->pause_ms = (int)ms;
  return 0;
}

int cmd_import(int argc, char **argv) {
  struct importer *im = calloc(1, sizeof *im);
  if (im == NULL)
    return CMD_EXIT_USAGE;
  int status = CMD_EXIT_USAGE;
  char err[512] = "";
  const struct settings_cmd cmd = {"import", usage,
                                   1u << S_DATA | 1u << S_SUMDB |
                                       1u << S_STRICT_ZIPS | 1u << S_PRIVATE |
                                       1u << S_TRUST,
                                   import_flags};
  int rc = cmd_load(&im->st, &cmd, argc, argv);
  if (rc != 0 || take_pause(im) < 0) {
    status = rc > 0 ? 0 : CMD_EXIT_USAGE;
    goto done;
  }
  if (im->st.nargs != 1) {
    fprintf(stderr,
            "modproxy import: want one PATH (a bundle, a GOPROXY tree or "
            "a module cache); see modproxy import --help\n");
    goto done;
  }
  settings_to_config(&im->st, &im->cfg);
  im->nspecs = proxy_sumdb_specs(im->cfg.sumdbs, im->specs, PROXY_SUMDB_MAX_DBS,
                                 err, sizeof err);
  if (im->nspecs < 0) {
    fprintf(stderr, "modproxy import: --sumdb %s\n", err);
    im->nspecs = 0;
    goto done;
  }
  for (int i = 0; i < im->st.v[S_TRUST].nlist; i++) {
    if (bundle_key_load(im->st.v[S_TRUST].list[i], &im->trust[im->ntrust++],
                        err, sizeof err) < 0) {
      fprintf(stderr, "modproxy import: --trust %s\n", err);
      goto done;
    }
  }
  im->shown = im->st.args[0];
  snprintf(im->root, sizeof im->root, "%s", im->shown);
  struct stat sb;
  char probe[4200];
  snprintf(probe, sizeof probe, "%s/cache/download", im->root);
  im->archive = bundle_archive_kind(im->shown) != BUNDLE_DIR &&
                stat(im->shown, &sb) == 0 && S_ISREG(sb.st_mode);
  if (!im->archive && stat(probe, &sb) == 0 && S_ISDIR(sb.st_mode))
    snprintf(im->root, sizeof im->root, "%s", probe); /* GOMODCACHE itself */
  if (!im->archive && (stat(im->root, &sb) < 0 || !S_ISDIR(sb.st_mode))) {
    fprintf(stderr,
            "modproxy import: %s is neither a directory nor a .tar, .tar.zst "
            "or .tar.gz file\n",
            im->shown);
    goto done;
  }
  rc = im->archive ? -ENOENT
                   : bundle_manifest_read(im->root, &im->m, err, sizeof err);
  if (rc < 0 && rc != -ENOENT) {
    fprintf(stderr, "modproxy import: %s\n", err);
    status = 1;
    goto done;
  }
  im->bundle = rc == 0;
  status = 1;
  rc = store_open(im->cfg.data_dir, &im->store);
  if (rc < 0) {
    fprintf(stderr, "modproxy import: cannot open the store in %s: %s\n",
            im->cfg.data_dir, strerror(-rc));
    goto done;
  }
  im->rejects = open_memstream(&im->rejects_buf, &im->rejects_len);
  bundle_progress_init(&im->pr, "import");
  uint64_t t0 = time_now_ms(CLOCK_MONOTONIC);
  if (im->archive) {
    /* Every member checked, and (--trust) the signature, before anything is
     * stored. */
    if ((rc = scan_archive(im, err, sizeof err)) < 0 ||
        (rc = classify(im)) < 0 ||
        (rc = check_archive(im, err, sizeof err)) < 0) {
      fprintf(stderr, "modproxy import: %s refused, nothing imported: %s\n",
              im->shown, err[0] != '\0' ? err : strerror(-rc));
      goto done;
    }
  } else if ((rc = bundle_walk(im->root, add_file, im)) < 0 ||
             (rc = classify(im)) < 0) {
    fprintf(stderr, "modproxy import: reading %s: %s\n", im->shown,
            strerror(-rc));
    goto done;
  }
  if (im->ntrust > 0 && check_trust(im, err, sizeof err) < 0) {
    fprintf(stderr, "modproxy import: %s refused, nothing imported: %s\n",
            im->shown, err);
    goto done;
  }
  /* Files the manifest lists that are not there. */
  for (size_t i = 0; im->bundle && i < im->m.nfiles; i++) {
    const char *p = im->m.files[i].path;
    if (member_of(im, p) == NULL)
      reject(im, p, "listed in the manifest but missing from the bundle");
  }
  if ((rc = import_sumdb(im)) < 0) {
    fprintf(stderr, "modproxy import: storing checksum database answers: %s\n",
            strerror(-rc));
    goto done;
  }
  if (im->nrecs > 0)
    qsort(im->recs, im->nrecs, sizeof *im->recs, by_record);
  bundle_progress_phase(&im->pr, "versions", im->nvs);
  if (im->archive && stream_versions(im) < 0)
    goto done;
  for (size_t i = 0; !im->archive && i < im->nvs; i++)
    if (version_step(im, &im->vs[i]) < 0)
      goto done;
  char sum[256];
  snprintf(sum, sizeof sum,
           "%" PRIu64 " added, %" PRIu64 " present, %" PRIu64 " rejected",
           im->v_added, im->v_present, im->v_rejected);
  bundle_progress_end(&im->pr, sum);
  /* When the mirror's content was taken: the newest bundle's creation. */
  int64_t taken =
      im->bundle && im->m.created > 0 ? im->m.created : (int64_t)time(NULL);
  char have[64], when[32], now[32];
  if (store_meta_get(im->store, "snapshot", have, sizeof have) == 0 &&
      strtoll(have, NULL, 10) > taken)
    taken = strtoll(have, NULL, 10);
  snprintf(have, sizeof have, "%" PRId64, taken);
  store_meta_put(im->store, "snapshot", have);
  time_rfc3339(taken, when, sizeof when);
  time_rfc3339((int64_t)time(NULL), now, sizeof now);
  char line[1024];
  snprintf(line, sizeof line,
           "%s from %s: %" PRIu64 " versions added, %" PRIu64
           " present, %" PRIu64 " rejected",
           now, im->shown, im->v_added, im->v_present, im->v_rejected);
  store_meta_put(im->store, "last_import", line);
  fflush(im->rejects);
  printf("import %s (%s): versions: %" PRIu64 " added, %" PRIu64
         " already present, %" PRIu64 " rejected\n",
         im->shown, im->bundle ? "bundle" : "tree", im->v_added, im->v_present,
         im->v_rejected);
  printf("checksum database answers: %" PRIu64 " added, %" PRIu64
         " already present, %" PRIu64 " rejected\n",
         im->s_added, im->s_present, im->s_rejected);
  if (im->v_unverified > 0)
    printf("%" PRIu64
           " public versions came without a checksum database record "
           "(offline clients need GONOSUMDB for them)\n",
           im->v_unverified);
  printf("content taken %s; lists are computed from the versions held (%" PRIu64
         " list files not needed); %.1f s\n",
         when, im->lists, (double)(time_now_ms(CLOCK_MONOTONIC) - t0) / 1000.0);
  if (im->rejects_len > 0) {
    fputs(im->rejects_buf, stdout);
    if (im->listed > IMPORT_MAX_LISTED)
      printf("  ... and %" PRIu64 " more\n", im->listed - IMPORT_MAX_LISTED);
  }
  status = im->listed > 0 ? 1 : 0;
done:
  fflush(stdout);
  importer_dispose(im);
  free(im);
  return status;
}
