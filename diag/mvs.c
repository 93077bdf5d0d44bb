/*
 * Minimal version selection (the go command's MVS, without graph pruning):
 * walk the requirement graph from the main module's requirements, loading
 * each module version's requirements once, and select for every module the
 * highest version any reached go.mod requires. Pure: requirements come from
 * the caller's function, so tests give small graphs with known answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"

void diag_mods_free(struct diag_mod *m, size_t n) {
  for (size_t i = 0; m != NULL && i < n; i++) {
    free(m[i].path);
    free(m[i].version);
    free(m[i].note);
  }
  free(m);
}

/* A growable array of modules with a path index (open addressing). */
struct modset {
  struct diag_mod *v;
  size_t n, cap;
  size_t *slots; /* index + 1, 0 = empty */
  size_t nslots;
};

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

/* Finds the slot for key (path, or path+"@"+version when by_version). */
static size_t *slot_of(struct modset *m, const char *path,
                       const char *version) {
  uint32_t h = hash_str(path);
  if (version != NULL)
    h = h * 31u + hash_str(version);
  for (size_t i = h & (m->nslots - 1);; i = (i + 1) & (m->nslots - 1)) {
    size_t *s = &m->slots[i];
    if (*s == 0)
      return s;
    const struct diag_mod *e = &m->v[*s - 1];
    if (strcmp(e->path, path) == 0 &&
        (version == NULL || strcmp(e->version, version) == 0))
      return s;
  }
}

static int grow(struct modset *m, int by_version) {
  if (m->n < m->cap && m->n * 2 < m->nslots)
    return 0;
  if (m->n >= DIAG_MVS_MAX_MODULES)
    return -E2BIG;
  size_t cap = m->cap == 0 ? 64 : m->cap * 2;
  struct diag_mod *v = realloc(m->v, cap * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  m->v = v;
  m->cap = cap;
  size_t nslots = cap * 2;
  size_t *slots = calloc(nslots, sizeof *slots);
  if (slots == NULL)
    return -ENOMEM;
  free(m->slots);
  m->slots = slots;
  m->nslots = nslots;
  for (size_t i = 0; i < m->n; i++)
    *slot_of(m, m->v[i].path, by_version ? m->v[i].version : NULL) = i + 1;
  return 0;
}

static int add(struct modset *m, const char *path, const char *version,
               const char *note, int by_version) {
  int rc = grow(m, by_version);
  if (rc < 0)
    return rc;
  struct diag_mod *e = &m->v[m->n];
  e->path = strdup(path);
  e->version = strdup(version);
  e->note = note != NULL ? strdup(note) : NULL;
  if (e->path == NULL || e->version == NULL ||
      (note != NULL && e->note == NULL)) {
    free(e->path);
    free(e->version);
    free(e->note);
    return -ENOMEM;
  }
  *slot_of(m, path, by_version ? version : NULL) = ++m->n;
  return 0;
}

static void set_free(struct modset *m) {
  diag_mods_free(m->v, m->n);
  free(m->slots);
  memset(m, 0, sizeof *m);
}

static int by_path(const void *a, const void *b) {
  return strcmp(((const struct diag_mod *)a)->path,
                ((const struct diag_mod *)b)->path);
}

int diag_mvs(const struct diag_mod *roots, size_t nroots, diag_reqs_fn reqs,
             void *ctx, struct diag_mod **selected, size_t *nselected,
             struct diag_mod **failed, size_t *nfailed) {
  struct modset sel = {0}, seen = {0}, bad = {0}, queue = {0};
  size_t head = 0;
  int rc = 0;
  for (size_t i = 0; i < nroots && rc == 0; i++)
    rc = add(&queue, roots[i].path, roots[i].version, NULL, 1);
  while (rc == 0 && head < queue.n) {
    const char *path = queue.v[head].path, *version = queue.v[head].version;
    head++;
    if (seen.nslots != 0 && *slot_of(&seen, path, version) != 0)
      continue;
    if ((rc = add(&seen, path, version, NULL, 1)) < 0)
      break;
    size_t *s = sel.nslots != 0 ? slot_of(&sel, path, NULL) : NULL;
    if (s == NULL || *s == 0) {
      rc = add(&sel, path, version, NULL, 0);
    } else if (gomod_semver_compare(version, sel.v[*s - 1].version) > 0) {
      char *v = strdup(version);
      if (v == NULL) {
        rc = -ENOMEM;
        break;
      }
      free(sel.v[*s - 1].version);
      sel.v[*s - 1].version = v;
    }
    if (rc < 0)
      break;
    struct diag_mod *deps = NULL;
    size_t ndeps = 0;
    int lr = reqs(ctx, path, version, &deps, &ndeps);
    if (lr < 0) {
      rc = add(&bad, path, version,
               lr == -ENOENT ? "no such version" : strerror(-lr), 1);
      continue;
    }
    for (size_t i = 0; i < ndeps && rc == 0; i++)
      if (*slot_of(&seen, deps[i].path, deps[i].version) == 0)
        rc = add(&queue, deps[i].path, deps[i].version, NULL, 1);
    diag_mods_free(deps, ndeps);
  }
  set_free(&queue);
  set_free(&seen);
  if (rc < 0) {
    set_free(&sel);
    set_free(&bad);
    return rc;
  }
  if (sel.n > 0)
    qsort(sel.v, sel.n, sizeof *sel.v, by_path);
  free(sel.slots);
  free(bad.slots);
  *selected = sel.v;
  *nselected = sel.n;
  *failed = bad.v;
  *nfailed = bad.n;
  return 0;
}
