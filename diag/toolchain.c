/*
 * Explanations for golang.org/toolchain, the module the go command's
 * toolchain switching downloads (GOTOOLCHAIN=go1.X.Y, or a go.mod's
 * toolchain line): Go release go1.X.Y for GOOS/GOARCH is its version
 * v0.0.1-go1.X.Y.GOOS-GOARCH. Pure functions over a version and the
 * module's @v/list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modproxy/diag.h"

#define VERSION_PREFIX "v0.0.1-"

int diag_toolchain_parse(const char *version, char *go, char *platform,
                         size_t cap) {
  size_t pl = strlen(VERSION_PREFIX);
  if (strncmp(version, VERSION_PREFIX, pl) != 0 ||
      strncmp(version + pl, "go1", 3) != 0)
    return -EINVAL;
  const char *dot = strrchr(version + pl, '.');
  if (dot == NULL || dot[1] == '\0' || strchr(dot, '-') == NULL ||
      (size_t)(dot - version - pl) >= cap || strlen(dot + 1) >= cap)
    return -EINVAL;
  snprintf(go, cap, "%.*s", (int)(dot - version - pl), version + pl);
  snprintf(platform, cap, "%s", dot + 1);
  return 0;
}

/* go1.N with N >= 21: from Go 1.21 on a language version names no release
 * (the first release of 1.N is go1.N.0), as the go command's gover says. */
static int is_language_version(const char *go) {
  const char *p = go + 3; /* after "go1" */
  if (*p != '.')
    return 0;
  char *end;
  long minor = strtol(p + 1, &end, 10);
  return end != p + 1 && *end == '\0' && minor >= 21;
}

static int is_release(const char *go) {
  return strstr(go, "rc") == NULL && strstr(go, "beta") == NULL;
}

/* What the list says about go (for platform): the newest release for the
 * platform (of the family go1.N when family is set), and another platform
 * that has go itself. */
struct seen {
  char newest[GOMOD_MAX_VERSION_BYTES];
  char family_newest[GOMOD_MAX_VERSION_BYTES];
  char other_platform[GOMOD_MAX_VERSION_BYTES];
};

static void scan_list(const char *go, const char *platform, const char *list,
                      size_t len, struct seen *s) {
  char family[GOMOD_MAX_VERSION_BYTES];
  size_t flen = (size_t)snprintf(family, sizeof family, "%s.", go);
  memset(s, 0, sizeof *s);
  for (size_t i = 0; i < len;) {
    size_t end = i;
    while (end < len && list[end] != '\n')
      end++;
    char v[GOMOD_MAX_VERSION_BYTES], g[GOMOD_MAX_VERSION_BYTES],
        p[GOMOD_MAX_VERSION_BYTES];
    int ok = end - i < sizeof v;
    if (ok) {
      memcpy(v, list + i, end - i);
      v[end - i] = '\0';
      v[strcspn(v, " \t\r")] = '\0';
      ok = diag_toolchain_parse(v, g, p, sizeof g) == 0;
    }
    i = end + 1;
    if (!ok)
      continue;
    if (strcmp(p, platform) != 0) {
      if (strcmp(g, go) == 0 && s->other_platform[0] == '\0')
        snprintf(s->other_platform, sizeof s->other_platform, "%s", p);
      continue;
    }
    if (!is_release(g))
      continue;
    if (s->newest[0] == '\0' || diag_gover_compare(g, s->newest) > 0)
      snprintf(s->newest, sizeof s->newest, "%s", g);
    if (strncmp(g, family, flen) == 0 &&
        (s->family_newest[0] == '\0' ||
         diag_gover_compare(g, s->family_newest) > 0))
      snprintf(s->family_newest, sizeof s->family_newest, "%s", g);
  }
}

int diag_toolchain_missing(const char *version, const char *list, size_t len,
                           char *out, size_t cap) {
  char go[GOMOD_MAX_VERSION_BYTES], platform[GOMOD_MAX_VERSION_BYTES];
  if (diag_toolchain_parse(version, go, platform, sizeof go) < 0)
    return -EINVAL;
  struct seen s;
  scan_list(go, platform, list, len, &s);
  char head[512], label[GOMOD_MAX_VERSION_BYTES + 8] = "Go";
  const char *use = s.newest;
  if (is_language_version(go)) {
    snprintf(head, sizeof head,
             "%s is a Go language version, not a release: Go 1.%s's "
             "releases are %s.0, %s.1, ...\n",
             go, go + 4, go, go);
    if (s.family_newest[0] != '\0') {
      use = s.family_newest;
      snprintf(label, sizeof label, "Go 1.%s", go + 4);
    }
  } else if (s.other_platform[0] != '\0') {
    snprintf(head, sizeof head,
             "Go release %s has no toolchain for %s (it has one for %s).\n", go,
             platform, s.other_platform);
  } else {
    snprintf(head, sizeof head,
             "%s: no such Go release (golang.org/toolchain has no %s).\n", go,
             version);
  }
  if (use[0] == '\0') {
    snprintf(out, cap,
             "%sNo Go release for %s is published as a toolchain module.\n"
             "Install Go by hand and set GOTOOLCHAIN=local.\n",
             head, platform);
    return 0;
  }
  snprintf(out, cap,
           "%sThe newest %s release for %s is %s.\n"
           "Use GOTOOLCHAIN=%s, or in go.mod: go mod edit -toolchain=%s\n",
           head, label, platform, use, use, use);
  return 0;
}
