/*
 * The go.mod parser (include/modproxy/modfile.h) and what reads its
 * results: modfile_parse in every mode, modfile_module_path, the findings
 * about a served go.mod (diag_gomod_findings), the resolver's go.mod reader
 * (vcs_modfile_*), and, for small inputs, the whole /diag/modfile analysis
 * (diag_modfile_analyze, then its text and JSON reports).
 *
 * Input: the go.mod bytes. For the analysis only, a NUL byte separates the
 * go.mod from a go.sum ("go.mod\0go.sum"); the parsers see the whole input.
 *
 * Properties checked: every string of a parsed file is there and readable;
 * whatever Parse (strict) accepts, ParseLax accepts too, with the same
 * module path and requirements; a failure leaves the struct empty.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "modproxy/diag.h"
#include "modproxy/modfile.h"
#include "vcs_internal.h"

/* Larger inputs only slow the search down: go.mod files are small. */
#define FUZZ_MAX_INPUT (256u << 10)
/* The analysis loads a go.mod per requirement: keep it cheap. */
#define MAX_ANALYSIS_INPUT 4096

static size_t touch(const char *s) {
  FUZZ_CHECK(s != NULL, "NULL string in a parsed go.mod");
  return strlen(s);
}

static void check_file(const struct modfile *mf) {
  volatile size_t sum = 0;
  if (mf->module != NULL)
    sum += touch(mf->module);
  if (mf->deprecated != NULL)
    sum += touch(mf->deprecated);
  FUZZ_CHECK(mf->module != NULL || mf->deprecated == NULL,
             "deprecated without a module line");
  if (mf->go != NULL)
    sum += touch(mf->go);
  if (mf->toolchain != NULL)
    sum += touch(mf->toolchain);
  for (size_t i = 0; i < mf->nrequire; i++) {
    sum += touch(mf->require[i].path) + touch(mf->require[i].version);
    FUZZ_CHECK(gomod_semver_is_valid(mf->require[i].version),
               "require %s has invalid version %s", mf->require[i].path,
               mf->require[i].version);
  }
  for (size_t i = 0; i < mf->nexclude; i++)
    sum += touch(mf->exclude[i].path) + touch(mf->exclude[i].version);
  for (size_t i = 0; i < mf->nreplace; i++)
    sum += touch(mf->replace[i].old_path) + touch(mf->replace[i].old_version) +
           touch(mf->replace[i].new_path) + touch(mf->replace[i].new_version);
  for (size_t i = 0; i < mf->nretract; i++)
    sum += touch(mf->retract[i].low) + touch(mf->retract[i].high) +
           touch(mf->retract[i].rationale);
  for (size_t i = 0; i < mf->ngodebug; i++)
    sum += touch(mf->godebug[i].key) + touch(mf->godebug[i].value);
  for (size_t i = 0; i < mf->ntool; i++)
    sum += touch(mf->tool[i].path);
  for (size_t i = 0; i < mf->nignore; i++)
    sum += touch(mf->ignore[i].path);
  (void)sum;
}

static void check_empty(const struct modfile *mf, unsigned flags) {
  FUZZ_CHECK(mf->module == NULL && mf->go == NULL && mf->toolchain == NULL &&
                 mf->nrequire == 0 && mf->nexclude == 0 && mf->nreplace == 0 &&
                 mf->nretract == 0 && mf->ngodebug == 0 && mf->ntool == 0 &&
                 mf->nignore == 0,
             "modfile_parse(flags %u) failed but left results behind", flags);
}

/* ---- a source for the analysis ---------------------------------------- */

struct src {
  const char *gomod;
  size_t len;
};

static int src_gomod(void *ctx, const char *path, const char *version,
                     char **data, size_t *len, char *err, size_t errlen) {
  const struct src *s = ctx;
  switch ((strlen(path) + strlen(version)) % 3) {
  case 0: /* the main go.mod again: requirements that loop back */
    *data = malloc(s->len + 1);
    if (*data == NULL)
      return -ENOMEM;
    memcpy(*data, s->gomod, s->len);
    *len = s->len;
    return 0;
  case 1:
    if (asprintf(data,
                 "module %s\n\ngo 1.99\n\n// Deprecated: use x\n"
                 "retract [v0.0.0, v9.0.0] // broken\n",
                 path) < 0)
      return -ENOMEM;
    *len = strlen(*data);
    return 0;
  default: snprintf(err, errlen, "no such version"); return -ENOENT;
  }
}

static int src_list(void *ctx, const char *path, char **data, size_t *len) {
  static const char list[] =
      "v0.1.0\nv1.0.0\nv1.2.0-pre\nv2.0.0+incompatible\nnot-a-version\n"
      "v0.0.1-go1.99.2.linux-amd64\nv0.0.1-go1.22.4.darwin-arm64\n"
      "v0.0.1-go1.21rc1.linux-386\nv0.0.1-go.x\n";
  if (strlen(path) % 4 == 3)
    return -ENOENT;
  *data = strdup(list);
  *len = sizeof list - 1;
  return *data != NULL ? 0 : -ENOMEM;
}

static int src_zip_h1(void *ctx, const char *path, const char *version,
                      char h1[GOMOD_H1_BYTES]) {
  if (strlen(version) % 2 == 0)
    return -ENOENT;
  snprintf(h1, GOMOD_H1_BYTES,
           "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  return 0;
}

static int src_recent(void *ctx, const char *path, char **data, size_t *len) {
  *data = strdup("v1.0.0 3\nv0.1.0 1\ngarbage\n");
  *len = *data != NULL ? strlen(*data) : 0;
  return *data != NULL ? 0 : -ENOMEM;
}

static void analyze(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, 0, size);
  size_t mlen = nul != NULL ? (size_t)(nul - data) : size;
  char *gomod = fuzz_strndup(data, mlen);
  char *gosum = nul != NULL ? fuzz_strndup(nul + 1, size - mlen - 1) : NULL;
  struct src s = {gomod, mlen};
  struct diag_source src = {.gomod = src_gomod,
                            .list = src_list,
                            .zip_h1 = src_zip_h1,
                            .recent = src_recent,
                            .ctx = &s};
  /* Clients on both sides of Go 1.21, refusing and switching. */
  static const char *const clients[3][2] = {
      {"go1.19.8", ""}, {"go1.26.8", "local"}, {"go1.22.5", "auto"}};
  struct diag_client client = {.go_version = clients[size % 3][0],
                               .gotoolchain = clients[size % 3][1],
                               .goproxy = "https://proxy.example",
                               .gonosumdb = "private.example",
                               .proxy_base = "http://modproxy.example",
                               .proxy_private =
                                   "*.corp.example,private.example"};
  struct diag_report rep;
  int rc = diag_modfile_analyze(gomod, mlen, gosum,
                                gosum != NULL ? size - mlen - 1 : 0, &client,
                                &src, &rep);
  if (rc == 0) {
    free(diag_report_text(&rep, 0));
    free(diag_report_text(&rep, 1));
    free(diag_report_json(&rep));
  }
  diag_report_dispose(&rep);
  free(gomod);
  free(gosum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_MAX_INPUT)
    return 0;
  /* A copy of exactly the input's size: no NUL after it to lean on. */
  char *buf = malloc(size > 0 ? size : 1);
  if (buf == NULL)
    abort();
  memcpy(buf, data, size);

  static const unsigned modes[] = {0, MODFILE_LAX};
  struct modfile got[2];
  char err[MODFILE_ERROR_BYTES];
  int rcs[2];
  for (int i = 0; i < 2; i++) {
    modfile_init(&got[i]);
    rcs[i] = modfile_parse(&got[i], buf, size, modes[i], err, sizeof err);
    FUZZ_CHECK(rcs[i] == 0 || rcs[i] == -EINVAL || rcs[i] == -E2BIG ||
                   rcs[i] == -ENOMEM,
               "modfile_parse returned %d", rcs[i]);
    FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL, "error not terminated");
    if (rcs[i] == 0) {
      FUZZ_CHECK(err[0] == '\0', "success with an error message: %s", err);
      check_file(&got[i]);
    } else {
      check_empty(&got[i], modes[i]);
    }
  }
  /* Strict success implies lax success, with the same module and
   * requirements (lax drops the main-module-only directives). */
  const struct modfile *st = &got[0], *lax = &got[1];
  if (rcs[0] == 0) {
    FUZZ_CHECK(rcs[1] == 0, "Parse accepts, ParseLax refuses: %s", err);
    FUZZ_CHECK((st->module == NULL) == (lax->module == NULL) &&
                   (st->module == NULL || strcmp(st->module, lax->module) == 0),
               "strict and lax disagree on the module path");
    FUZZ_CHECK(st->nrequire == lax->nrequire,
               "strict has %zu requirements, lax %zu", st->nrequire,
               lax->nrequire);
    for (size_t k = 0; k < st->nrequire; k++)
      FUZZ_CHECK(strcmp(st->require[k].path, lax->require[k].path) == 0 &&
                     strcmp(st->require[k].version, lax->require[k].version) ==
                         0,
                 "strict and lax disagree on requirement %zu", k);
    FUZZ_CHECK(st->nignore == lax->nignore,
               "strict and lax disagree on ignore");
  }
  for (int i = 0; i < 2; i++) {
    modfile_dispose(&got[i]);
    modfile_dispose(&got[i]); /* disposing twice is allowed */
  }
  /* A too-small error buffer, and none at all. */
  struct modfile mf;
  modfile_init(&mf);
  modfile_parse(&mf, buf, size, 0, err, 1);
  modfile_parse(&mf, buf, size, MODFILE_LAX, NULL, 0); /* frees the first */
  modfile_dispose(&mf);

  char path[GOMOD_MAX_PATH_BYTES * 2];
  int n = modfile_module_path(buf, size, path, sizeof path);
  FUZZ_CHECK(n >= -E2BIG, "modfile_module_path returned %d", n);
  if (n >= 0)
    FUZZ_CHECK((size_t)n < sizeof path, "module path length %d", n);
  char small[8];
  modfile_module_path(buf, size, small, sizeof small);

  struct diag_gomod_finding findings[DIAG_GOMOD_FINDINGS];
  int nf = diag_gomod_findings("example.com/m", "v1.2.3", buf, size, "1.19",
                               findings, DIAG_GOMOD_FINDINGS);
  FUZZ_CHECK(nf >= 0 && nf <= DIAG_GOMOD_FINDINGS, "%d findings", nf);
  for (int i = 0; i < nf; i++) {
    touch(findings[i].kind);
    FUZZ_CHECK(memchr(findings[i].message, '\0', sizeof findings[i].message),
               "finding message not terminated");
  }
  diag_gomod_findings("example.com/m", "v1.2.3", buf, size, "", findings, 1);

  char *text = fuzz_strndup(data, size);
  vcs_modfile_module_path(text, size, path, sizeof path);
  struct vcs_retract *r = malloc(16 * sizeof *r);
  if (r == NULL)
    abort();
  size_t nr = vcs_modfile_retractions(text, size, r, 16);
  FUZZ_CHECK(nr <= 16, "%zu retractions in 16 slots", nr);
  free(r);
  free(text);

  if (size <= MAX_ANALYSIS_INPUT)
    analyze(data, size);
  free(buf);
  return 0;
}
