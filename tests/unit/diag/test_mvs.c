/* diag_mvs on small requirement graphs with known build lists, and
 * diag_nearest_versions on version lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "modproxy/diag.h"

/* A graph as text: "path@version: dep@v dep@v" per edge list; a node not
 * listed has no requirements; "path@version: !" cannot be loaded. */
struct graph {
  const char *const *lines;
  int loads;
};

static int reqs(void *ctx, const char *path, const char *version,
                struct diag_mod **out, size_t *n) {
  struct graph *g = ctx;
  char key[256];
  snprintf(key, sizeof key, "%s@%s:", path, version);
  g->loads++;
  *out = NULL;
  *n = 0;
  for (const char *const *l = g->lines; *l != NULL; l++) {
    if (strncmp(*l, key, strlen(key)) != 0)
      continue;
    const char *p = *l + strlen(key);
    if (strstr(p, "!") != NULL)
      return -ENOENT;
    *out = calloc(16, sizeof **out);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *save, *t = strtok_r(buf, " ", &save); t != NULL;
         t = strtok_r(NULL, " ", &save)) {
      char *at = strchr(t, '@');
      (*out)[*n].path = strndup(t, (size_t)(at - t));
      (*out)[*n].version = strdup(at + 1);
      (*n)++;
    }
  }
  return 0;
}

static char *build_list(const char *const *lines, const char *roots_text,
                        int *loads, char *failed_text, size_t flen) {
  struct graph g = {.lines = lines};
  struct diag_mod roots[8];
  size_t nroots = 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", roots_text);
  for (char *save, *t = strtok_r(buf, " ", &save); t != NULL;
       t = strtok_r(NULL, " ", &save)) {
    char *at = strchr(t, '@');
    *at = '\0';
    roots[nroots].path = t;
    roots[nroots].version = at + 1;
    nroots++;
  }
  struct diag_mod *sel, *bad;
  size_t nsel, nbad;
  assert_int_equal(diag_mvs(roots, nroots, reqs, &g, &sel, &nsel, &bad, &nbad),
                   0);
  char *out = calloc(1, 4096);
  for (size_t i = 0; i < nsel; i++)
    snprintf(out + strlen(out), 4096 - strlen(out), "%s%s@%s", i ? " " : "",
             sel[i].path, sel[i].version);
  if (failed_text != NULL) {
    failed_text[0] = '\0';
    for (size_t i = 0; i < nbad; i++)
      snprintf(failed_text + strlen(failed_text), flen - strlen(failed_text),
               "%s%s@%s: %s", i ? " " : "", bad[i].path, bad[i].version,
               bad[i].note);
  }
  diag_mods_free(sel, nsel);
  diag_mods_free(bad, nbad);
  if (loads != NULL)
    *loads = g.loads;
  return out;
}

/* The example of the MVS paper: the highest required version wins, and a
 * version only required by an unselected version still counts (classic
 * MVS without pruning). */
static void test_selects_highest(void **state) {
  static const char *const g[] = {
      "b@v1.2.0: d@v1.3.0",
      "c@v1.2.0: d@v1.4.0",
      "d@v1.3.0: e@v1.2.0",
      "d@v1.4.0: e@v1.2.0",
      NULL,
  };
  int loads;
  char *got = build_list(g, "b@v1.2.0 c@v1.2.0", &loads, NULL, 0);
  assert_string_equal(got, "b@v1.2.0 c@v1.2.0 d@v1.4.0 e@v1.2.0");
  assert_int_equal(loads, 5); /* each module version loaded once */
  free(got);
}

static void test_cycles_and_prerelease(void **state) {
  static const char *const g[] = {
      "a@v1.0.0: b@v1.0.0-pre",
      "b@v1.0.0-pre: a@v1.1.0",
      "a@v1.1.0: b@v0.9.0",
      NULL,
  };
  char *got = build_list(g, "a@v1.0.0", NULL, NULL, 0);
  assert_string_equal(got, "a@v1.1.0 b@v1.0.0-pre");
  free(got);
}

static void test_missing_versions_reported(void **state) {
  static const char *const g[] = {
      "a@v1.0.0: b@v1.5.9 c@v1.0.0",
      "b@v1.5.9: !",
      NULL,
  };
  char failed[256];
  char *got = build_list(g, "a@v1.0.0", NULL, failed, sizeof failed);
  assert_string_equal(got, "a@v1.0.0 b@v1.5.9 c@v1.0.0");
  assert_string_equal(failed, "b@v1.5.9: no such version");
  free(got);
}

static void test_nearest(void **state) {
  const char *list = "v1.0.0\nv1.2.0 2019-01-01T00:00:00Z\nbad\n  v1.5.2\r\n"
                     "v1.5.3-pre1\nv2.0.0+incompatible\n";
  struct diag_nearest n;
  diag_nearest_versions(list, strlen(list), "v1.5.0", &n);
  assert_int_equal(n.count, 5);
  assert_string_equal(n.below, "v1.2.0");
  assert_string_equal(n.above, "v1.5.2");
  assert_string_equal(n.latest, "v2.0.0+incompatible");
  assert_string_equal(n.suggest, "v1.2.0");
  diag_nearest_versions("v0.1.0-pre\n", 11, "v9.0.0", &n);
  assert_string_equal(n.below, "v0.1.0-pre");
  assert_string_equal(n.above, "");
  assert_string_equal(n.latest, "v0.1.0-pre");
  assert_string_equal(n.suggest, "v0.1.0-pre");
  diag_nearest_versions("v1.0.0\nv1.1.0-rc1\n", 18, "v1.2.0", &n);
  assert_string_equal(n.below, "v1.1.0-rc1");
  assert_string_equal(n.suggest, "v1.0.0");
  diag_nearest_versions("", 0, "v1.0.0", &n);
  assert_int_equal(n.count, 0);
  assert_string_equal(n.latest, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_selects_highest),
      cmocka_unit_test(test_cycles_and_prerelease),
      cmocka_unit_test(test_missing_versions_reported),
      cmocka_unit_test(test_nearest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
