/*
 * The one parser of every command's settings and flags (proxy/cli/settings.c):
 * sizes with suffixes, a config file holding other commands' keys, unknown
 * keys, flags and MODPROXY_* variables named with the nearest real one, own
 * flags (switches, values, short names, repeats) and positional arguments;
 * the reload of serve's settings (what changed, what waits for a restart).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy.h"
#include "settings.h"

static void test_size_parse(void **state) {
  static const struct {
    const char *text;
    int64_t bytes; /* -1: refused */
  } cases[] = {
      {"0", 0},
      {"1048576", 1048576},
      {"64K", 64 << 10},
      {"64k", 64 << 10},
      {"512M", 512ll << 20},
      {"512MiB", 512ll << 20},
      {"100G", 100ll << 30},
      {"2GB", 2ll << 30},
      {"1T", 1ll << 40},
      {"", -1},
      {"G", -1},
      {"-1", -1},
      {"5X", -1},
      {"5 G", -1},
      {"1GiBs", -1},
      {"99999999999T", -1}, /* overflows */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = -1;
    int rc = settings_size_parse(cases[i].text, INT64_MAX, &got);
    if (cases[i].bytes < 0) {
      assert_int_equal(rc, -EINVAL);
    } else {
      assert_int_equal(rc, 0);
      assert_int_equal(got, cases[i].bytes);
    }
  }
  int64_t got;
  assert_int_equal(settings_size_parse("2K", 2047, &got), -EINVAL); /* max */
}

/* Writes text to a temporary config file; its path in path. */
static void write_conf(const char *text, char *path, size_t cap) {
  snprintf(path, cap, "/tmp/test_settings.%d.conf", (int)getpid());
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* settings_load on a NULL-terminated argument list. */
static int load(struct settings *st, const struct settings_cmd *cmd,
                char **argv, char *err, size_t errlen) {
  int argc = 0;
  while (argv[argc] != NULL)
    argc++;
  return settings_load(st, cmd, argc, argv, err, errlen);
}

/* Durations (--offline-stale-after) and times (--since, --used-since). */
static void test_duration_time_parse(void **state) {
  static const struct {
    const char *text;
    int64_t secs; /* -1: refused */
  } cases[] = {
      {"0", 0},       {"45", 45},           {"45s", 45},     {"90m", 5400},
      {"12h", 43200}, {"30d", 2592000},     {"2w", 1209600}, {"", -1},
      {"d", -1},      {"-1d", -1},          {"3x", -1},      {"3dd", -1},
      {"1 d", -1},    {"99999999999w", -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int64_t got = -1;
    int rc = settings_duration_parse(cases[i].text, &got);
    if (cases[i].secs < 0) {
      if (rc != -EINVAL)
        fail_msg("\"%s\": want -EINVAL, got %d", cases[i].text, rc);
    } else if (rc != 0 || got != cases[i].secs) {
      fail_msg("\"%s\": want %lld, got rc %d, %lld", cases[i].text,
               (long long)cases[i].secs, rc, (long long)got);
    }
  }
  int64_t t = 0, now = 1800000000;
  assert_int_equal(settings_time_parse("7d", now, &t), 0);
  assert_int_equal(t, now - 7 * 86400);
  assert_int_equal(settings_time_parse("2026-01-02", now, &t), 0);
  assert_int_equal(t, 1767312000);
  assert_int_equal(settings_time_parse("2026-01-02T03:04:05Z", now, &t), 0);
  assert_int_equal(t, 1767312000 + 3 * 3600 + 4 * 60 + 5);
  assert_int_equal(settings_time_parse("2026-01-02T03:04", now, &t), -EINVAL);
  assert_int_equal(settings_time_parse("yesterday", now, &t), -EINVAL);
}

static void test_config_of_other_commands(void **state) {
  char path[64], err[512] = "";
  write_conf("listen = 127.0.0.1:1\ndata = /srv/d\nmax-cache-bytes = 100G\n"
             "git-route = a.example/*=https://a.example/{2}.git\n",
             path, sizeof path);
  const struct settings_cmd cmd = {"backup", "", 1u << S_DATA, NULL};
  struct settings st;
  char *argv[] = {"backup", "--config", path, "out.db", NULL};
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), 0);
  assert_string_equal(settings_text(&st, S_DATA), "/srv/d");
  assert_null(settings_text(&st, S_LISTEN)); /* serve's: skipped */
  assert_int_equal(st.nargs, 1);
  assert_string_equal(st.args[0], "out.db");
  settings_dispose(&st);
  /* A key of no command stays an error, naming the nearest one. */
  write_conf("data = /srv/d\nmax-cache-byte = 1G\n", path, sizeof path);
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, ":2: unknown key \"max-cache-byte\" (did you "
                              "mean \"max-cache-bytes\"?)"));
  settings_dispose(&st);
  unlink(path);
}

static void test_env(void **state) {
  const struct settings_cmd cmd = {"config", "", SETTINGS_SERVE, NULL};
  char err[512] = "";
  struct settings st;
  char *argv[] = {"config", NULL};
  setenv("MODPROXY_GIT_ROUTES",
         "a.example/*=https://a.example/{2}.git "
         "b.example/*=https://b.example/{2}.git",
         1);
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), 0);
  assert_int_equal(st.v[S_GIT_ROUTE].nlist, 2);
  settings_dispose(&st);
  unsetenv("MODPROXY_GIT_ROUTES");
  setenv("MODPROXY_GIT_ROUTE", "x", 1);
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), -EINVAL);
  assert_string_equal(err, "unknown variable MODPROXY_GIT_ROUTE (did you mean "
                           "MODPROXY_GIT_ROUTES?)");
  settings_dispose(&st);
  unsetenv("MODPROXY_GIT_ROUTE");
  /* A variable of a setting the command does not take is skipped. */
  const struct settings_cmd stats = {"stats", "", 1u << S_DATA, NULL};
  setenv("MODPROXY_LISTEN", "127.0.0.1:1", 1);
  assert_int_equal(load(&st, &stats, argv, err, sizeof err), 0);
  settings_dispose(&st);
  unsetenv("MODPROXY_LISTEN");
}

static void test_own_flags(void **state) {
  static const struct settings_flag flags[] = {{"output", 'o', "DIR"},
                                               {"toolchain", 0, "V"},
                                               {"dry-run", 0, NULL},
                                               {NULL, 0, NULL}};
  const struct settings_cmd cmd = {"export", "",
                                   1u << S_DATA | 1u << S_MEMORY_CACHE, flags};
  char err[512] = "";
  struct settings st;
  char *argv[] = {"export",
                  "-o",
                  "b",
                  "x@v1.0.0",
                  "--toolchain=go1.21.0",
                  "--toolchain",
                  "go1.22.0",
                  "--memory-cache",
                  "512M",
                  NULL};
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), 0);
  assert_string_equal(settings_flag(&st, 0), "b");
  assert_int_equal(st.flag[1].n, 2);
  assert_string_equal(st.flag[1].list[0], "go1.21.0");
  assert_null(settings_flag(&st, 2));
  assert_int_equal(settings_count(&st, S_MEMORY_CACHE), 512ll << 20);
  assert_int_equal(st.nargs, 1);
  assert_string_equal(st.args[0], "x@v1.0.0");
  settings_dispose(&st);
  char *typo[] = {"export", "--dry-rn", NULL};
  assert_int_equal(load(&st, &cmd, typo, err, sizeof err), -EINVAL);
  assert_non_null(
      strstr(err, "unknown flag --dry-rn (did you mean --dry-run?"));
  settings_dispose(&st);
  /* A plain --memory-cache number is MiB, as before sizes took suffixes. */
  char *plain[] = {"export", "--memory-cache", "64", NULL};
  assert_int_equal(load(&st, &cmd, plain, err, sizeof err), 0);
  assert_int_equal(settings_count(&st, S_MEMORY_CACHE), 64ll << 20);
  settings_dispose(&st);
}

/* SIGHUP: a new configuration from the same sources, the changed settings
 * named, those that need a restart named and kept, errors refused. */
static void test_reload(void **state) {
  static const struct settings_cmd cmd = {"serve", "", SETTINGS_SERVE, NULL};
  char path[64], err[512] = "";
  write_conf("listen = 127.0.0.1:1\nlist-ttl = 300\n", path, sizeof path);
  char *argv[] = {"serve", "--config", path, "--data", "/srv/d", NULL};
  struct settings st;
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), 0);
  struct proxy_config *boot = settings_config_new(&st);
  assert_non_null(boot);
  assert_int_equal(boot->list_ttl_s, 300);
  struct settings_source src = {&cmd, 5, argv};
  struct proxy_reload r = {.err = ""};
  /* Nothing changed. */
  struct proxy_config *same = settings_reload(boot, &r, &src);
  assert_non_null(same);
  assert_string_equal(r.changed, "");
  assert_string_equal(r.restart, "");
  /* A live setting, a list, one that needs a restart, and the flag that
   * wins over the file (data: not a change). */
  write_conf("listen = 127.0.0.1:2\nlist-ttl = 5\ndata = /srv/other\n"
             "git-route = a.example/*=https://a.example/{2}.git\n",
             path, sizeof path);
  struct proxy_config *next = settings_reload(same, &r, &src);
  assert_non_null(next);
  assert_string_equal(r.changed, "list-ttl, git-route");
  assert_string_equal(r.restart, "listen");
  assert_int_equal(next->list_ttl_s, 5);
  assert_string_equal(next->git_routes[0],
                      "a.example/*=https://a.example/{2}.git");
  assert_string_equal(next->listen, "127.0.0.1:1"); /* kept */
  assert_string_equal(next->data_dir, "/srv/d");
  /* The kept value is next's own: it outlives the configurations before. */
  proxy_config_release(boot);
  proxy_config_release(same);
  assert_string_equal(next->listen, "127.0.0.1:1");
  /* A bad file: no configuration, the file and line named. */
  write_conf("list-ttl = 5\nlist-tll = 6\n", path, sizeof path);
  memset(&r, 0, sizeof r);
  assert_null(settings_reload(next, &r, &src));
  assert_non_null(strstr(r.err, ":2: unknown key \"list-tll\""));
  proxy_config_release(next);
  unlink(path);
}

/* --policy: repeatable in the file, the variable (one a line) and flags;
 * each value checked where it was given; the rules built once, in order,
 * for the configuration. */
static void test_policy(void **state) {
  char path[64], err[512] = "";
  write_conf("policy = example.com/bad=deny banned by security\n"
             "policy = example.com/old=deny <v1.2.0 too old\n",
             path, sizeof path);
  const struct settings_cmd cmd = {"serve", "", SETTINGS_SERVE, NULL};
  struct settings st;
  char *argv[] = {"serve", "--config", path, NULL};
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), 0);
  assert_non_null(st.policies);
  assert_int_equal(st.policies->n, 2);
  assert_string_equal(st.policies->rules[1].reason, "too old");
  struct proxy_config cfg = {0};
  settings_to_config(&st, &cfg);
  assert_ptr_equal(cfg.policies, st.policies);
  settings_dispose(&st);
  /* Flags replace the file's values: the list ends with them. */
  char *flags[] = {
      "serve", "--config", path, "--policy", "corp.example/*=cache-only", NULL};
  assert_int_equal(load(&st, &cmd, flags, err, sizeof err), 0);
  assert_int_equal(st.policies->n, 1);
  assert_int_equal(st.policies->rules[0].action, POLICY_CACHE_ONLY);
  settings_dispose(&st);
  /* The variable: one rule a line (a reason has spaces). */
  char *bare[] = {"serve", NULL};
  setenv("MODPROXY_POLICY",
         "example.com/bad=deny banned by security\n"
         "example.com/*=upstream http://127.0.0.1:1,off\n",
         1);
  assert_int_equal(load(&st, &cmd, bare, err, sizeof err), 0);
  assert_int_equal(st.policies->n, 2);
  assert_string_equal(st.policies->rules[0].reason, "banned by security");
  assert_int_equal(st.policies->rules[1].nupstreams, 2);
  settings_dispose(&st);
  unsetenv("MODPROXY_POLICY");
  /* A bad rule names its file and line. */
  write_conf("data = /srv/d\npolicy = example.com/x=deny <1.0 r\n", path,
             sizeof path);
  assert_int_equal(load(&st, &cmd, argv, err, sizeof err), -EINVAL);
  assert_non_null(strstr(err, ":2: policy: policy \"example.com/x=deny <1.0 "
                              "r\": a deny range is"));
  assert_null(st.policies);
  settings_dispose(&st);
  /* A command without the setting skips the key. */
  const struct settings_cmd stats = {"stats", "", 1u << S_DATA, NULL};
  assert_int_equal(load(&st, &stats, argv, err, sizeof err), 0);
  assert_null(st.policies);
  settings_dispose(&st);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_size_parse),
      cmocka_unit_test(test_duration_time_parse),
      cmocka_unit_test(test_config_of_other_commands),
      cmocka_unit_test(test_env),
      cmocka_unit_test(test_own_flags),
      cmocka_unit_test(test_reload),
      cmocka_unit_test(test_policy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
