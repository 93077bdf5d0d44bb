/*
 * The go.mod analysis (diag/analyze.c) on go and toolchain lines the
 * client's Go is too old for: which finding, at which severity, for which
 * client (Go 1.19 builds what Go 1.21+ refuses; GOTOOLCHAIN=local refuses
 * what auto switches to), and what the text names. The source is a table
 * in memory: the dependency example.com/dep needs go 1.99, and the proxy's
 * golang.org/toolchain list has go1.99.1 and go1.99.2.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/diag.h"
#include "testutil.h"

#include "gomod_expect.h"

static int src_gomod(void *ctx, const char *path, const char *version,
                     char **data, size_t *len, char *err, size_t errlen) {
  if (strcmp(path, "example.com/dep") != 0) {
    snprintf(err, errlen, "no such version");
    return -ENOENT;
  }
  *data = strdup("module example.com/dep\n\ngo 1.99\n");
  *len = strlen(*data);
  return 0;
}

static int src_list(void *ctx, const char *path, char **data, size_t *len) {
  const char *list = strcmp(path, "golang.org/toolchain") == 0
                         ? "v0.0.1-go1.99.1.linux-amd64\n"
                           "v0.0.1-go1.99.2.linux-amd64\n"
                         : "v1.0.0\n";
  *data = strdup(list);
  *len = strlen(list);
  return 0;
}

static int src_zip_h1(void *ctx, const char *path, const char *version,
                      char h1[GOMOD_H1_BYTES]) {
  return -ENOENT;
}

static int src_recent(void *ctx, const char *path, char **data, size_t *len) {
  return -ENOENT;
}

struct want {
  const char *name;
  const char *gomod;
  const char *go_version, *gotoolchain;
  const char *kind;     /* the finding expected, NULL for none of these */
  int severity;         /* enum diag_severity */
  const char *contains; /* in "message\nfix: fix" */
};

static const struct want cases[] = {
    {"main go line, local", "module m\n\ngo 1.99\n", "go1.26.8", "local",
     "newer go", DIAG_SEV_ERROR,
     "go.mod:3 says go 1.99, newer than the client's go1.26.8, and "
     "GOTOOLCHAIN=local forbids switching: \"go: go.mod requires go >= 1.99 "
     "(running go 1.26.8; GOTOOLCHAIN=local)\"\nfix: switch toolchain: "
     "GOTOOLCHAIN=go1.99.2"},
    {"main go line, lowering", "module m\n\ngo 1.99\n", "go1.26.8", "local",
     "newer go", DIAG_SEV_ERROR, "or lower the line: go mod edit -go=1.26.8"},
    {"main go line, a fixed toolchain", "module m\n\ngo 1.99\n", "go1.26.8",
     "go1.26.8", "newer go", DIAG_SEV_ERROR, "GOTOOLCHAIN=go1.26.8)"},
    {"main go line, auto", "module m\n\ngo 1.99\n", "go1.26.8", "auto",
     "newer go", DIAG_SEV_INFO, "the go command switches to go1.99.2"},
    {"main go line, no toolchain served", "module m\n\ngo 1.98\n", "go1.26.8",
     "local+auto", "newer go", DIAG_SEV_ERROR, "serves no go1.98 toolchain"},
    {"main go line, Go 1.19", "module m\n\ngo 1.99\n", "go1.19.8", "",
     "newer go", DIAG_SEV_WARNING, "go mod edit -go=1.19 "},
    {"Go 1.19 and go 1.22.0", "module m\n\ngo 1.22.0\n", "go1.19.8", "",
     "go.mod too new", DIAG_SEV_ERROR,
     "go1.19.8 cannot read this go.mod: go.mod:3: invalid go version "
     "'1.22.0': must match format 1.23\nfix: upgrade the client to Go 1.21"},
    {"Go 1.22 and a godebug block",
     "module m\n\ngo 1.21\n\ngodebug (\n\ta=1\n\tb=2\n)\ntool x.org/t\n",
     "go1.22.5", "local", "go.mod too new", DIAG_SEV_ERROR,
     "go1.22.5 cannot read this go.mod: go.mod:5: unknown block type: "
     "godebug; go.mod:9: unknown directive: tool\nfix: upgrade the client "
     "to Go 1.24"},
    {"Go 1.26 reads them all",
     "module m\n\ngo 1.25.0\n\ngodebug a=1\ntool x.org/t\nignore ./web\n",
     "go1.26.8", "local", NULL, 0, NULL},
    {"toolchain, local", "module m\n\ngo 1.22\n\ntoolchain go1.99.1\n",
     "go1.26.8", "local", "newer toolchain", DIAG_SEV_INFO,
     "go.mod:5: toolchain go1.99.1 is newer than the client's go1.26.8; with "
     "GOTOOLCHAIN=local the go command ignores the line"},
    {"toolchain, auto, served", "module m\n\ngo 1.22\n\ntoolchain go1.99.1\n",
     "go1.26.8", "auto", "newer toolchain", DIAG_SEV_INFO,
     "switches to it, downloaded through this proxy"},
    {"toolchain, auto, not served",
     "module m\n\ngo 1.22\n\ntoolchain go1.99.3\n", "go1.26.8", "auto",
     "newer toolchain", DIAG_SEV_ERROR, "this proxy does not serve it"},
    {"toolchain, Go 1.19", "module m\n\ngo 1.19\n\ntoolchain go1.99.1\n",
     "go1.19.8", "", "go.mod too new", DIAG_SEV_ERROR,
     "go.mod:5: unknown directive: toolchain"},
    {"dependency, local",
     "module m\n\ngo 1.22\n\nrequire example.com/dep v1.0.0\n", "go1.26.8",
     "local", "newer go", DIAG_SEV_ERROR,
     "\"go: example.com/dep@v1.0.0 requires go >= 1.99 (running go 1.26.8; "
     "GOTOOLCHAIN=local)\"\nfix: switch toolchain: GOTOOLCHAIN=go1.99.2 (the "
     "newest go1.99 this proxy serves; or GOTOOLCHAIN=auto), downloaded "
     "through this proxy; or require an older example.com/dep"},
    {"dependency, Go 1.19",
     "module m\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n", "go1.19.8", "",
     "newer go", DIAG_SEV_WARNING, "Go before 1.21 builds it anyway"},
};

static void test_go_lines(void **state) {
  struct diag_source src = {.gomod = src_gomod,
                            .list = src_list,
                            .zip_h1 = src_zip_h1,
                            .recent = src_recent};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct want *w = &cases[i];
    struct diag_client client = {.go_version = w->go_version,
                                 .gotoolchain = w->gotoolchain};
    struct diag_report r;
    want_int((int)i, w->name,
             diag_modfile_analyze(w->gomod, strlen(w->gomod), NULL, 0, &client,
                                  &src, &r),
             0);
    const struct diag_finding *f = NULL;
    for (size_t k = 0; k < r.nfindings; k++) {
      const char *kind = r.findings[k].kind;
      if (strcmp(kind, "newer go") == 0 ||
          strcmp(kind, "newer toolchain") == 0 ||
          strcmp(kind, "go.mod too new") == 0 ||
          strcmp(kind, "go.mod syntax") == 0) {
        if (f != NULL)
          fail_msg("%s: two findings: %s, %s", w->name, f->kind, kind);
        f = &r.findings[k];
      }
    }
    if (w->kind == NULL) {
      if (f != NULL)
        fail_msg("%s: unexpected %s: %s", w->name, f->kind, f->message);
    } else {
      if (f == NULL)
        fail_msg("%s: no %s finding", w->name, w->kind);
      want_str((int)i, w->name, f->kind, w->kind);
      want_int((int)i, w->name, f->severity, w->severity);
      char text[2048];
      snprintf(text, sizeof text, "%s\nfix: %s", f->message,
               f->fix != NULL ? f->fix : "");
      if (strstr(text, w->contains) == NULL)
        fail_msg("%s: \"%s\" not in:\n%s", w->name, w->contains, text);
    }
    diag_report_dispose(&r);
  }
}

/* ---- each module's row: indirect, latest, the go.sum verdict ---------- */

static int row_gomod(void *ctx, const char *path, const char *version,
                     char **data, size_t *len, char *err, size_t errlen) {
  if (asprintf(data, "module %s\n", path) < 0)
    return -ENOMEM;
  *len = strlen(*data);
  return 0;
}

static int row_list(void *ctx, const char *path, char **data, size_t *len) {
  *data = strdup("v1.0.0\nv1.1.0\nv1.2.0-rc.1\n");
  *len = strlen(*data);
  return 0;
}

/* a: its go.mod line matches; b (indirect): no line; c: replaced by a
 * directory; d: its go.mod line disagrees. */
static void test_module_rows(void **state) {
  static const char gomod[] = "module m\n\ngo 1.22\n\nrequire (\n"
                              "\texample.com/a v1.0.0\n"
                              "\texample.com/b v1.1.0 // indirect\n"
                              "\texample.com/c v1.0.0\n"
                              "\texample.com/d v1.0.0\n)\n\n"
                              "replace example.com/c => ./c\n";
  char h1[GOMOD_H1_BYTES], gosum[512];
  const char *a = "module example.com/a\n";
  assert_int_equal(gomod_h1_gomod(a, strlen(a), h1), 0);
  snprintf(gosum, sizeof gosum,
           "example.com/a v1.0.0/go.mod %s\n"
           "example.com/d v1.0.0/go.mod "
           "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
           h1);
  struct diag_source src = {.gomod = row_gomod,
                            .list = row_list,
                            .zip_h1 = src_zip_h1,
                            .recent = src_recent};
  struct diag_client client = {0};
  struct diag_report r;
  assert_int_equal(diag_modfile_analyze(gomod, strlen(gomod), gosum,
                                        strlen(gosum), &client, &src, &r),
                   0);
  assert_int_equal(r.nbuild, 4);
  static const struct {
    const char *path, *latest, *pre;
    int indirect;
    enum diag_sum sum;
  } want[] = {
      {"example.com/a", "v1.1.0", "v1.2.0-rc.1", 0, DIAG_SUM_OK},
      {"example.com/b", "v1.1.0", "v1.2.0-rc.1", 1, DIAG_SUM_MISSING},
      {"example.com/c", "v1.1.0", "v1.2.0-rc.1", 0, DIAG_SUM_UNCHECKED},
      {"example.com/d", "v1.1.0", "v1.2.0-rc.1", 0, DIAG_SUM_MISMATCH},
  };
  for (size_t i = 0; i < 4; i++) {
    assert_string_equal(r.build[i].path, want[i].path);
    assert_string_equal(r.info[i].latest, want[i].latest);
    assert_string_equal(r.info[i].prerelease, want[i].pre);
    assert_int_equal(r.info[i].indirect, want[i].indirect);
    assert_int_equal(r.info[i].sum, want[i].sum);
  }
  char *text = diag_report_text(&r, 0);
  assert_non_null(strstr(text, "  example.com/b  indirect  v1.1.0  "
                               "pre-release v1.2.0-rc.1; go.sum missing\n"));
  assert_non_null(strstr(text, "  example.com/a  direct    v1.0.0 [v1.1.0]"));
  free(text);
  diag_report_dispose(&r);
  diag_report_dispose(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_go_lines),
      cmocka_unit_test(test_module_rows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
