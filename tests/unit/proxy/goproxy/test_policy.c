/*
 * Module policies (proxy/goproxy/policy.c): parsing each action and its
 * errors, first-match lookup with GOPRIVATE-style patterns, deny ranges at
 * and around their bound (pseudo-versions and prereleases included), the
 * allowed version a refusal suggests, list filtering and the explanations'
 * fit in the go command's window.
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
#include "policy.h"

static struct policy *parse_ok(const char *text) {
  struct policy *p = malloc(sizeof *p);
  assert_non_null(p);
  char err[512] = "";
  int rc = policy_parse(text, p, err, sizeof err);
  if (rc != 0)
    fail_msg("policy_parse(\"%s\") = %d: %s", text, rc, err);
  return p;
}

static void free_policy(struct policy *p) {
  policy_dispose(p);
  free(p);
}

static void test_parse_actions(void **state) {
  (void)state;
  struct policy *p = parse_ok("example.com/bad=deny CVE-2099-1: use v2");
  assert_string_equal(p->pattern, "example.com/bad");
  assert_int_equal(p->action, POLICY_DENY);
  assert_int_equal(p->range, POLICY_ALL);
  assert_string_equal(p->reason, "CVE-2099-1: use v2");
  free_policy(p);

  p = parse_ok(" example.com/x,example.org/* = deny <v1.2.3 too old ");
  assert_string_equal(p->pattern, "example.com/x,example.org/*");
  assert_string_equal(p->reason, "too old");
  free_policy(p);

  static const struct {
    const char *text;
    enum policy_range range;
    const char *version;
    const char *shown;
  } ranges[] = {
      {"m=deny <v1.2.3 r", POLICY_LT, "v1.2.3", "<v1.2.3"},
      {"m=deny <=v1.2 r", POLICY_LE, "v1.2.0", "<=v1.2.0"},
      {"m=deny >v2.0.0-rc.1 r", POLICY_GT, "v2.0.0-rc.1", ">v2.0.0-rc.1"},
      {"m=deny >=v1.0.0 r", POLICY_GE, "v1.0.0", ">=v1.0.0"},
      {"m=deny =v1.0.1 r", POLICY_EQ, "v1.0.1", "=v1.0.1"},
      {"m=deny v1.0.1 r", POLICY_EQ, "v1.0.1", "=v1.0.1"},
  };
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    p = parse_ok(ranges[i].text);
    assert_int_equal(p->range, ranges[i].range);
    assert_string_equal(p->version, ranges[i].version);
    assert_string_equal(p->reason, "r");
    char text[64];
    policy_range_text(p, text, sizeof text);
    assert_string_equal(text, ranges[i].shown);
    free_policy(p);
  }

  p = parse_ok("corp.example/*=cache-only");
  assert_int_equal(p->action, POLICY_CACHE_ONLY);
  free_policy(p);

  p = parse_ok("corp.example/*=upstream http://127.0.0.1:1/a|https://u:pw@b");
  assert_int_equal(p->action, POLICY_UPSTREAM);
  assert_int_equal(p->nupstreams, 2);
  assert_string_equal(p->upstreams[0].base, "http://127.0.0.1:1/a");
  assert_true(p->upstreams[0].fall_any);
  assert_string_equal(p->upstreams[1].base, "https://u:pw@b");
  assert_null(strstr(p->shown, "pw")); /* credentials never shown */
  free_policy(p);
}

static void test_parse_errors(void **state) {
  (void)state;
  static const struct {
    const char *text;
    const char *says;
  } bad[] = {
      {"example.com/x", "PATTERN=ACTION"},
      {"=deny r", "PATTERN=ACTION"},
      {"example.com/x=deny", "needs a reason"},
      {"example.com/x=deny <v1.2.3", "needs a reason"},
      {"example.com/x=deny v1.0.0", "needs a reason"},
      {"example.com/x=deny <1.2.3 r", "semantic version"},
      {"example.com/x=deny >= r", "semantic version"},
      {"example.com/x=cache-only please", "nothing after"},
      {"example.com/x=upstream", "needs a list"},
      {"example.com/x=upstream ftp://x", "scheme"},
      {"example.com/x=allow", "unknown action"},
      {"example.com/x y=deny r", "space"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[512] = "";
    int rc = policy_check(bad[i].text, err, sizeof err);
    if (rc != -EINVAL || strstr(err, bad[i].says) == NULL)
      fail_msg("%s: rc %d, err \"%s\" (want \"%s\")", bad[i].text, rc, err,
               bad[i].says);
  }
  char reason[POLICY_MAX_REASON_BYTES + 16];
  snprintf(reason, sizeof reason, "m=deny ");
  memset(reason + 7, 'r', sizeof reason - 8);
  reason[sizeof reason - 1] = '\0';
  char err[512];
  assert_int_equal(policy_check(reason, err, sizeof err), -EINVAL);
}

static void test_find_first_match(void **state) {
  (void)state;
  const char *const texts[] = {
      "example.com/bad=deny banned",
      "example.com/*=cache-only",
      "example.com/bad/sub=upstream http://127.0.0.1:9",
      NULL,
  };
  struct policy_set *ps;
  char err[256];
  assert_int_equal(policy_set_new(texts, &ps, err, sizeof err), 0);
  assert_int_equal(ps->n, 3);
  /* Patterns match leading path elements; the first rule wins. */
  assert_ptr_equal(policy_find(ps, "example.com/bad"), &ps->rules[0]);
  assert_ptr_equal(policy_find(ps, "example.com/bad/sub"), &ps->rules[0]);
  assert_ptr_equal(policy_find(ps, "example.com/bad/v2"), &ps->rules[0]);
  assert_ptr_equal(policy_find(ps, "example.com/other"), &ps->rules[1]);
  assert_null(policy_find(ps, "example.com"));
  assert_null(policy_find(ps, "example.org/bad"));
  assert_ptr_equal(policy_find(ps, "example.com/badder"), &ps->rules[1]);
  assert_null(policy_find(NULL, "example.com/bad"));
  policy_set_free(ps);

  const char *const none[] = {NULL};
  assert_int_equal(policy_set_new(none, &ps, err, sizeof err), 0);
  assert_null(ps);
  policy_set_free(NULL);
  const char *const broken[] = {"a=deny r", "b=nope", NULL};
  assert_int_equal(policy_set_new(broken, &ps, err, sizeof err), -EINVAL);
  assert_null(ps);
  assert_non_null(strstr(err, "b=nope"));
}

/* Each range at, just below and just above its bound. */
static void test_ranges_at_the_bound(void **state) {
  (void)state;
  static const struct {
    const char *rule;
    const char *version;
    int denied;
  } cases[] = {
      {"m=deny <v1.2.3 r", "v1.2.2", 1},
      {"m=deny <v1.2.3 r", "v1.2.3", 0},
      {"m=deny <v1.2.3 r", "v1.2.4", 0},
      {"m=deny <v1.2.3 r", "v1.2.3-pre", 1},
      {"m=deny <v1.2.3 r", "v1.2.3-0.20200101000000-0123456789ab", 1},
      {"m=deny <v1.2.3 r", "v1.2.3+meta", 0},
      {"m=deny <=v1.2.3 r", "v1.2.3", 1},
      {"m=deny <=v1.2.3 r", "v1.2.4-0.20200101000000-0123456789ab", 0},
      {"m=deny <=v1.2.3 r", "v1.2.4", 0},
      {"m=deny >v1.2.3 r", "v1.2.3", 0},
      {"m=deny >v1.2.3 r", "v1.2.4-0.20200101000000-0123456789ab", 1},
      {"m=deny >v1.2.3 r", "v1.2.4", 1},
      {"m=deny >=v1.2.3 r", "v1.2.3", 1},
      {"m=deny >=v1.2.3 r", "v1.2.2", 0},
      {"m=deny >=v1.2.3 r", "v1.2.3-rc.1", 0},
      {"m=deny v1.2.3 r", "v1.2.3", 1},
      {"m=deny v1.2.3 r", "v1.2.2", 0},
      {"m=deny v1.2.3 r", "v1.2.4", 0},
      {"m=deny <v1.2.3 r", "master", 0}, /* a query: judged by its answer */
      {"m=deny <v1.2.3 r", "", 0},
      {"m=deny r", "", 1},
      {"m=deny r", "v9.9.9", 1},
      {"m=cache-only", "v1.0.0", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct policy *p = parse_ok(cases[i].rule);
    if (policy_denies(p, cases[i].version) != cases[i].denied)
      fail_msg("%s: %s should be %s", cases[i].rule, cases[i].version,
               cases[i].denied ? "denied" : "allowed");
    free_policy(p);
  }
  assert_int_equal(policy_denies(NULL, "v1.0.0"), 0);
}

static void test_suggest_and_filter(void **state) {
  (void)state;
  static const char list[] = "v1.0.0\nv1.1.0\nv1.2.0\nv1.3.0\nv1.3.1-pre\n";
  char out[64];
  struct policy *p = parse_ok("m=deny <v1.2.0 old");
  policy_suggest(p, "v1.0.0", list, strlen(list), out, sizeof out);
  assert_string_equal(out, "v1.2.0"); /* the lowest allowed */
  policy_suggest(p, "v1.0.0", NULL, 0, out, sizeof out);
  assert_string_equal(out, "v1.2.0"); /* the bound, without a list */
  size_t len;
  char *f = policy_filter_list(p, list, strlen(list), &len);
  assert_string_equal(f, "v1.2.0\nv1.3.0\nv1.3.1-pre\n");
  assert_int_equal(len, strlen(f));
  free(f);
  free_policy(p);

  p = parse_ok("m=deny >=v1.3.0 bad");
  policy_suggest(p, "v1.3.0", list, strlen(list), out, sizeof out);
  assert_string_equal(out, "v1.2.0"); /* none above: the highest allowed */
  policy_suggest(p, "v1.3.0", NULL, 0, out, sizeof out);
  assert_string_equal(out, "");
  f = policy_filter_list(p, "v1.0.0\nv1.3.0", 13, &len); /* no last '\n' */
  assert_string_equal(f, "v1.0.0\n");
  free(f);
  f = policy_filter_list(p, "", 0, &len);
  assert_string_equal(f, "");
  assert_int_equal(len, 0);
  free(f);
  free_policy(p);

  p = parse_ok("m=deny v1.1.0 broken");
  policy_suggest(p, "v1.1.0", list, strlen(list), out, sizeof out);
  assert_string_equal(out, "v1.2.0");
  free_policy(p);
}

/* What the go command shows: the module, the policy, the reason, the fix,
 * within its window. */
static void test_explanations(void **state) {
  (void)state;
  char text[DIAG_WINDOW_BYTES * 2], fit[DIAG_WINDOW_BYTES + 16];
  struct policy *p = parse_ok("example.com/bad=deny CVE-2099-1234 (security)");
  policy_refusal(p, "example.com/bad", "v1.0.0", NULL, 0, text, sizeof text);
  assert_non_null(strstr(text, "example.com/bad:"));
  assert_non_null(strstr(text, "\"example.com/bad=deny CVE-2099-1234"));
  assert_non_null(strstr(text, "Reason: CVE-2099-1234 (security)\n"));
  assert_int_equal(diag_text_fit(text, fit, sizeof fit), strlen(text));
  free_policy(p);

  p = parse_ok("example.com/old=deny <v1.2.0 too old");
  policy_refusal(p, "example.com/old", "v1.0.0", NULL, 0, text, sizeof text);
  assert_non_null(strstr(text, "example.com/old@v1.0.0: refused"));
  assert_non_null(strstr(text, "versions <v1.2.0 are denied"));
  assert_non_null(strstr(text, "go get example.com/old@v1.2.0\n"));
  assert_int_equal(diag_text_fit(text, fit, sizeof fit), strlen(text));
  free_policy(p);

  p = parse_ok("example.com/old=deny >=v1.2.0 broken");
  policy_refusal(p, "example.com/old", "v1.2.0", NULL, 0, text, sizeof text);
  assert_non_null(strstr(text, "go list -m -versions example.com/old"));
  free_policy(p);

  p = parse_ok("example.com/*=cache-only");
  policy_cache_only_miss(p, "example.com/x@v1.0.0", "example.com/x", text,
                         sizeof text);
  assert_non_null(strstr(text, "example.com/x@v1.0.0: not in this proxy's"));
  assert_non_null(strstr(text, "cache only"));
  assert_int_equal(diag_text_fit(text, fit, sizeof fit), strlen(text));
  free_policy(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_actions),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_find_first_match),
      cmocka_unit_test(test_ranges_at_the_bound),
      cmocka_unit_test(test_suggest_and_filter),
      cmocka_unit_test(test_explanations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
