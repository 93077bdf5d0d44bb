/*
 * `modproxy diag [DIR]`: sends DIR/go.mod and go.sum, with the local go
 * command's settings (`go env`, when a go command is installed), to a
 * modproxy's /diag/modfile and prints its report. Exit status: 0 when the
 * report has no error, 1 when it has, 2 for bad usage or when the proxy
 * cannot be asked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cmd.h"
#include "modproxy/buf.h"
#include "settings.h"

/* The go.mod and go.sum sent (the proxy refuses bodies past its own limit). */
#define DIAG_MAX_FILE_BYTES (4u << 20)
/* The proxy's report on a go.mod is a few KiB; an answer past this is not
 * one, and is refused rather than held. */
#define DIAG_MAX_REPORT_BYTES (16u << 20)

static const char usage[] =
    "  modproxy diag [--proxy URL] [--json] [DIR]\n"
    "\n"
    "Checks the module in DIR (default .) against a modproxy: the build list\n"
    "its go.mod resolves to, versions that do not exist, module path\n"
    "mismatches, retracted and deprecated dependencies, go.sum lines that\n"
    "disagree with the proxy, dependencies needing a newer Go, private "
    "modules\n"
    "your settings would leak, and indirect dependencies other builds "
    "resolved\n"
    "differently. Each finding comes with the command that fixes it.\n"
    "\n"
    "  --proxy URL   the modproxy to ask (default: the first http(s) entry of\n"
    "                GOPROXY, from the environment or `go env`)\n"
    "  --json        print the report as JSON\n"
    "\n"
    "Exit status: 0 no errors, 1 errors found, 2 the check could not run.\n";

/* Reads a whole small file; NULL (errno set) if missing or too large. */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  char *buf = malloc(DIAG_MAX_FILE_BYTES + 1);
  size_t n = buf != NULL ? fread(buf, 1, DIAG_MAX_FILE_BYTES + 1, f) : 0;
  fclose(f);
  if (buf == NULL || n > DIAG_MAX_FILE_BYTES) {
    free(buf);
    errno = E2BIG;
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* `go env NAME` (empty when no go command is installed). */
static void go_env(const char *name, char *out, size_t cap) {
  out[0] = '\0';
  const char *env = getenv(name);
  if (env != NULL && env[0] != '\0') {
    snprintf(out, cap, "%s", env);
    return;
  }
  char cmd[64];
  snprintf(cmd, sizeof cmd, "go env %s 2>/dev/null", name);
  FILE *p = popen(cmd, "r");
  if (p == NULL)
    return;
  if (fgets(out, (int)cap, p) == NULL)
    out[0] = '\0';
  out[strcspn(out, "\n")] = '\0';
  pclose(p);
}

/* The first http(s) entry of a GOPROXY list, into out. */
static int first_http_proxy(const char *list, char *out, size_t cap) {
  for (const char *p = list; *p != '\0';) {
    size_t n = strcspn(p, ",|");
    if ((n > 7 && strncmp(p, "http://", 7) == 0) ||
        (n > 8 && strncmp(p, "https://", 8) == 0)) {
      snprintf(out, cap, "%.*s", (int)n, p);
      return 0;
    }
    p += n + (p[n] != '\0');
  }
  return -ENOENT;
}

/* Sends DIR's go.mod and go.sum to proxy (NULL: from GOPROXY) and prints
 * the report; the exit status. */
static int diag_run(const char *proxy, int json, const char *dir) {
  char path[4096], base[1024];
  snprintf(path, sizeof path, "%s/go.mod", dir);
  size_t mod_len = 0, sum_len = 0;
  char *gomod = read_file(path, &mod_len);
  if (gomod == NULL) {
    fprintf(stderr, "modproxy diag: cannot read %s: %s\n", path,
            strerror(errno));
    return CMD_EXIT_USAGE;
  }
  snprintf(path, sizeof path, "%s/go.sum", dir);
  char *gosum = read_file(path, &sum_len);
  /* The client's settings, as `go env` names them and as the form does;
   * GOPROXY first. */
  static const char *const names[][2] = {
      {"GOPROXY", "goproxy"},     {"GOVERSION", "go_version"},
      {"GONOPROXY", "gonoproxy"}, {"GONOSUMDB", "gonosumdb"},
      {"GOPRIVATE", "goprivate"}, {"GOTOOLCHAIN", "gotoolchain"},
      {"GOSUMDB", "gosumdb"}};
  enum { NENV = sizeof names / sizeof names[0] };
  char env[NENV][1024];
  for (int i = 0; i < NENV; i++)
    go_env(names[i][0], env[i], sizeof env[i]);
  if (proxy == NULL) {
    if (first_http_proxy(env[0], base, sizeof base) < 0) {
      fprintf(stderr,
              "modproxy diag: no http(s) proxy in GOPROXY=\"%s\"; "
              "name one with --proxy URL\n",
              env[0]);
      free(gomod);
      free(gosum);
      return CMD_EXIT_USAGE;
    }
    proxy = base;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *curl = curl_easy_init();
  curl_mime *form = curl_mime_init(curl);
  curl_mimepart *part = curl_mime_addpart(form);
  curl_mime_name(part, "gomod");
  curl_mime_data(part, gomod, mod_len);
  if (gosum != NULL) {
    part = curl_mime_addpart(form);
    curl_mime_name(part, "gosum");
    curl_mime_data(part, gosum, sum_len);
  }
  for (int i = 0; i < NENV; i++) {
    part = curl_mime_addpart(form);
    curl_mime_name(part, names[i][1]);
    curl_mime_data(part, env[i], CURL_ZERO_TERMINATED);
  }
  char url[1200];
  snprintf(url, sizeof url, "%s/diag/modfile%s", proxy,
           json ? "?format=json" : "");
  struct buf g = {.max = DIAG_MAX_REPORT_BYTES};
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, form);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, buf_curl_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &g);
  curl_easy_setopt(curl, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
  CURLcode cc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  int rc;
  if (cc != CURLE_OK || status != 200) {
    fprintf(stderr, "modproxy diag: %s: %s\n", url,
            cc != CURLE_OK   ? curl_easy_strerror(cc)
            : g.data != NULL ? g.data
                             : "no answer");
    rc = CMD_EXIT_USAGE;
  } else {
    int tty = isatty(STDOUT_FILENO) && !json;
    /* The proxy renders plain text; on a terminal, colour the severities. */
    for (char *line = g.data, *next; tty && line != NULL && *line != '\0';
         line = next) {
      next = strchr(line, '\n');
      if (next != NULL)
        *next++ = '\0';
      const char *color = strncmp(line, "error:", 6) == 0     ? "\033[1;31m"
                          : strncmp(line, "warning:", 8) == 0 ? "\033[1;33m"
                          : strncmp(line, "note:", 5) == 0    ? "\033[1;36m"
                                                              : NULL;
      if (color != NULL)
        printf("%s%.*s\033[0m%s\n", color, (int)strcspn(line, ":"), line,
               line + strcspn(line, ":"));
      else
        printf("%s\n", line);
    }
    if (!tty)
      fputs(g.data != NULL ? g.data : "", stdout);
    rc = g.data != NULL && (strstr(g.data, "\nerror: ") != NULL ||
                            strstr(g.data, "\"severity\":\"error\"") != NULL)
             ? 1
             : 0;
  }
  free(g.data);
  curl_mime_free(form);
  curl_easy_cleanup(curl);
  curl_global_cleanup();
  free(gomod);
  free(gosum);
  return rc;
}

int cmd_diag(int argc, char **argv) {
  static const struct settings_flag flags[] = {
      {"proxy", 0, "URL"}, {"json", 0, NULL}, {NULL, 0, NULL}};
  static const struct settings_cmd cmd = {"diag", usage, 0, flags};
  struct settings st;
  int rc = cmd_load(&st, &cmd, argc, argv);
  if (rc == 0 && st.nargs > 1) {
    fprintf(stderr, "modproxy diag: one directory at most (see --help)\n");
    rc = -EINVAL;
  }
  if (rc == 0)
    rc = diag_run(settings_flag(&st, 0), settings_flag(&st, 1) != NULL,
                  st.nargs == 1 ? st.args[0] : ".");
  else
    rc = rc > 0 ? 0 : CMD_EXIT_USAGE;
  settings_dispose(&st);
  return rc;
}
