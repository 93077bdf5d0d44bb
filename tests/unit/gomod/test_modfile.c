/*
 * The go.mod parser (proxy/gomod/modfile*.c) against the current x/mod:
 *  - every row of the vectors (modfile_parse.tsv, written by
 *    tests/tools/modfilevec with x/mod v0.43.0): for Parse and ParseLax,
 *    the verdict, the error text, and every value parsed (module,
 *    deprecation, go, toolchain, godebug, require, exclude, replace,
 *    retract with its rationale, tool, ignore); ModulePath
 *    (modfile_modulepath.tsv, x/mod v0.7.0, whose ModulePath is unchanged);
 *  - hand-written cases (requires with // indirect, replace forms, blocks,
 *    go versions, lexer errors, the line of each entry) whose expected
 *    results, in both modes, were produced by x/mod (v0.7.0 under Go 1.19,
 *    checked again with v0.43.0);
 *  - the limits, the API's edges, and every prefix of every vector file.
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

#include "modproxy/modfile.h"
#include "testutil.h"

#include "gomod_expect.h"

/* Rows in each vector file: two (Parse, ParseLax) per input in
 * modfile_parse.tsv. */
#define PARSE_ROWS 486
#define MODULE_PATH_ROWS 27

#define ERR_BYTES 4096
#define DESCRIBE_BYTES 8192

/* ---- a parse result as one string --------------------------------------- */

struct text {
  char buf[DESCRIBE_BYTES];
  size_t len;
};

static void text_add(struct text *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->buf + t->len, sizeof t->buf - t->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof t->buf - t->len)
    fail_msg("describe: result too long");
  t->len += (size_t)n;
}

/* ",B<n>" for an entry in the block that starts on line n ("" for none;
 * static: one call per text_add). */
static const char *in_block(unsigned block_line, unsigned line) {
  static char buf[32];
  if (block_line == 0)
    return "";
  if (block_line >= line)
    fail_msg("line %u: its block starts on line %u", line, block_line);
  snprintf(buf, sizeof buf, ",B%u", block_line);
  return buf;
}

/*
 * Everything a parse returns, in the format the hand-written expectations
 * use: "module=<path>;deprecated=<text>;" (or "module=-;"), "go=<v>;" and
 * "toolchain=<v>;" when set, then each entry with its line:
 * "godebug=<key>=<value>:L<n>[,B<block line>];",
 * "require=<path>@<version>[,indirect]:L<n>;", "exclude=<path>@<v>:L<n>;",
 * "replace=<old>@<v>=><new>@<v>:L<n>;", "retract=[<lo>,<hi>]<why>:L<n>;",
 * "tool=<path>:L<n>[,B<b>];", "ignore=<path>:L<n>[,B<b>];".
 */
static const char *describe(const struct modfile *mf, struct text *t) {
  t->len = 0;
  t->buf[0] = '\0';
  if (mf->module != NULL)
    text_add(t, "module=%s;deprecated=%s;", mf->module, mf->deprecated);
  else
    text_add(t, "module=-;");
  if (mf->go != NULL)
    text_add(t, "go=%s;", mf->go);
  if (mf->toolchain != NULL)
    text_add(t, "toolchain=%s;", mf->toolchain);
  for (size_t i = 0; i < mf->ngodebug; i++)
    text_add(t, "godebug=%s=%s:L%u%s;", mf->godebug[i].key,
             mf->godebug[i].value, mf->godebug[i].line,
             in_block(mf->godebug[i].block_line, mf->godebug[i].line));
  for (size_t i = 0; i < mf->nrequire; i++) {
    const struct modfile_require *r = &mf->require[i];
    text_add(t, "require=%s@%s%s:L%u;", r->path, r->version,
             r->indirect ? ",indirect" : "", r->line);
  }
  for (size_t i = 0; i < mf->nexclude; i++) {
    const struct modfile_exclude *x = &mf->exclude[i];
    text_add(t, "exclude=%s@%s:L%u;", x->path, x->version, x->line);
  }
  for (size_t i = 0; i < mf->nreplace; i++) {
    const struct modfile_replace *r = &mf->replace[i];
    text_add(t, "replace=%s@%s=>%s@%s:L%u;", r->old_path, r->old_version,
             r->new_path, r->new_version, r->line);
  }
  for (size_t i = 0; i < mf->nretract; i++) {
    const struct modfile_retract *r = &mf->retract[i];
    text_add(t, "retract=[%s,%s]%s:L%u;", r->low, r->high, r->rationale,
             r->line);
  }
  for (size_t i = 0; i < mf->ntool; i++)
    text_add(t, "tool=%s:L%u%s;", mf->tool[i].path, mf->tool[i].line,
             in_block(mf->tool[i].block_line, mf->tool[i].line));
  for (size_t i = 0; i < mf->nignore; i++)
    text_add(t, "ignore=%s:L%u%s;", mf->ignore[i].path, mf->ignore[i].line,
             in_block(mf->ignore[i].block_line, mf->ignore[i].line));
  return t->buf;
}

/* The list columns of the vectors: each entry of one kind of mf, as
 * x/mod's describe in tests/tools/modfilevec writes it, joined by ';'. */
static const char *column(const struct modfile *mf, int col, struct text *t) {
  t->len = 0;
  t->buf[0] = '\0';
  switch (col) {
  case 0:
    for (size_t i = 0; i < mf->ngodebug; i++)
      text_add(t, "%s%s=%s", i > 0 ? ";" : "", mf->godebug[i].key,
               mf->godebug[i].value);
    break;
  case 1:
    for (size_t i = 0; i < mf->nrequire; i++)
      text_add(t, "%s%s@%s%s", i > 0 ? ";" : "", mf->require[i].path,
               mf->require[i].version,
               mf->require[i].indirect ? ",indirect" : "");
    break;
  case 2:
    for (size_t i = 0; i < mf->nexclude; i++)
      text_add(t, "%s%s@%s", i > 0 ? ";" : "", mf->exclude[i].path,
               mf->exclude[i].version);
    break;
  case 3:
    for (size_t i = 0; i < mf->nreplace; i++) {
      const struct modfile_replace *r = &mf->replace[i];
      text_add(t, "%s%s@%s=>%s@%s", i > 0 ? ";" : "", r->old_path,
               r->old_version, r->new_path, r->new_version);
    }
    break;
  case 4:
    for (size_t i = 0; i < mf->nretract; i++) {
      const struct modfile_retract *r = &mf->retract[i];
      text_add(t, "%s[%s,%s] %s", i > 0 ? ";" : "", r->low, r->high,
               r->rationale);
    }
    break;
  case 5:
    for (size_t i = 0; i < mf->ntool; i++)
      text_add(t, "%s%s", i > 0 ? ";" : "", mf->tool[i].path);
    break;
  default:
    for (size_t i = 0; i < mf->nignore; i++)
      text_add(t, "%s%s", i > 0 ? ";" : "", mf->ignore[i].path);
    break;
  }
  return t->buf;
}

/* A failed parse leaves nothing behind. */
static void want_empty(int line, const struct modfile *mf) {
  if (mf->module != NULL || mf->deprecated != NULL || mf->go != NULL ||
      mf->toolchain != NULL || mf->go_line != 0 || mf->toolchain_line != 0 ||
      mf->godebug != NULL || mf->ngodebug != 0 || mf->require != NULL ||
      mf->nrequire != 0 || mf->exclude != NULL || mf->nexclude != 0 ||
      mf->replace != NULL || mf->nreplace != 0 || mf->retract != NULL ||
      mf->nretract != 0 || mf->tool != NULL || mf->ntool != 0 ||
      mf->ignore != NULL || mf->nignore != 0 || mf->mem_ != NULL)
    fail_msg("line %d: a failed parse left results behind", line);
}

/*
 * Parses data[0:len] with `flags` and compares with `want`: an x/mod error
 * text (it starts with "go.mod") means -EINVAL with that message, anything
 * else is the describe() of a successful parse.
 */
static void want_parse(int line, const char *what, const char *data, size_t len,
                       unsigned flags, const char *want) {
  struct modfile mf;
  struct text t;
  char err[ERR_BYTES];
  char label[160];

  snprintf(label, sizeof label, "%s (flags %u)", what, flags);
  modfile_init(&mf);
  int rc = modfile_parse(&mf, data, len, flags, err, sizeof err);
  if (strncmp(want, "go.mod", 6) == 0) {
    if (rc == 0)
      fail_msg("line %d: %s: parsed as \"%s\", want error \"%s\"", line, label,
               describe(&mf, &t), want);
    want_int(line, label, rc, -EINVAL);
    want_str(line, label, err, want);
    want_empty(line, &mf);
  } else {
    if (rc != 0)
      fail_msg("line %d: %s: failed (%d) with \"%s\", want \"%s\"", line, label,
               rc, err, want);
    want_str(line, label, describe(&mf, &t), want);
    want_str(line, label, err, "");
  }
  modfile_dispose(&mf);
}

/* ---- the vectors -------------------------------------------------------- */

/* The columns of modfile_parse.tsv. */
enum {
  COL_NAME,
  COL_GOMOD,
  COL_MODE,
  COL_VERDICT,
  COL_ERROR,
  COL_MODULE,
  COL_DEPRECATED,
  COL_GO,
  COL_TOOLCHAIN,
  COL_GODEBUG, /* then require, exclude, replace, retract, tool, ignore */
  COLS = COL_GODEBUG + 7
};

/* file_or_table  gomod_bytes  mode  verdict  error  module  deprecated  go
 * toolchain  godebug  require  exclude  replace  retract  tool  ignore */
static void on_parse_row(const struct tsv_row *row, void *arg) {
  static const char *const names[7] = {
      "godebug", "require", "exclude", "replace", "retract", "tool", "ignore"};
  struct modfile mf;
  struct text t;
  char err[ERR_BYTES];
  char label[96];
  int line = row->lineno;

  want_fields(row, COLS);
  const char *mode = row->field[COL_MODE];
  int lax = strcmp(mode, "ParseLax") == 0;
  if (!lax && strcmp(mode, "Parse") != 0)
    fail_msg("line %d: bad mode \"%s\"", line, mode);
  modfile_init(&mf);
  int rc = modfile_parse(&mf, row->field[COL_GOMOD], row->len[COL_GOMOD],
                         lax ? MODFILE_LAX : 0, err, sizeof err);
  want_verdict(line, mode, rc == 0, row->field[COL_VERDICT]);
  snprintf(label, sizeof label, "%s error", mode);
  want_str(line, label, err, row->field[COL_ERROR]);
  if (rc < 0) {
    want_int(line, mode, rc, -EINVAL);
    want_empty(line, &mf);
  }
  snprintf(label, sizeof label, "%s module", mode);
  want_str(line, label, mf.module != NULL ? mf.module : "",
           row->field[COL_MODULE]);
  snprintf(label, sizeof label, "%s deprecated", mode);
  want_str(line, label, mf.deprecated != NULL ? mf.deprecated : "",
           row->field[COL_DEPRECATED]);
  snprintf(label, sizeof label, "%s go", mode);
  want_str(line, label, mf.go != NULL ? mf.go : "", row->field[COL_GO]);
  snprintf(label, sizeof label, "%s toolchain", mode);
  want_str(line, label, mf.toolchain != NULL ? mf.toolchain : "",
           row->field[COL_TOOLCHAIN]);
  for (int k = 0; k < 7; k++) {
    snprintf(label, sizeof label, "%s %s", mode, names[k]);
    want_str(line, label, column(&mf, k, &t), row->field[COL_GODEBUG + k]);
  }
  modfile_dispose(&mf);
  (*(int *)arg)++;
}

static void test_parse_vectors(void **state) {
  int checked = 0;
  int rows = tsv_each("modfile_parse.tsv", 1, on_parse_row, &checked);
  want_int(0, "modfile_parse.tsv rows", rows, PARSE_ROWS);
  want_int(0, "rows checked", checked, PARSE_ROWS);
  print_message("modfile_parse.tsv: %d rows (Parse and ParseLax)\n", checked);
}

/* gomod_bytes  ModulePath  want */
static void on_module_path_row(const struct tsv_row *row, void *arg) {
  char out[1024];
  int line = row->lineno;

  want_fields(row, 3);
  int rc = modfile_module_path(row->field[0], row->len[0], out, sizeof out);
  want_str(line, "ModulePath", out, row->field[1]);
  /* x/mod's "" is "none found" in every row of the table. */
  want_int(line, "ModulePath rc", rc,
           row->len[1] > 0 ? (long long)row->len[1] : -ENOENT);
  (*(int *)arg)++;
}

static void test_module_path_vectors(void **state) {
  int checked = 0;
  int rows =
      tsv_each("modfile_modulepath.tsv", 1, on_module_path_row, &checked);
  want_int(0, "modfile_modulepath.tsv rows", rows, MODULE_PATH_ROWS);
  want_int(0, "rows checked", checked, MODULE_PATH_ROWS);
  print_message("modfile_modulepath.tsv: %d rows\n", checked);
}

/* ---- hand-written cases, expected results from x/mod v0.43.0 ------------- */

struct oracle_case {
  const char *name;
  const char *input;
  const char *parse;     /* Parse's result (describe()) or error */
  const char *parse_lax; /* ParseLax's */
};

static const struct oracle_case oracle_cases[] = {
    /* require */
    {"indirect", "module m\n\nrequire a.com/b v1.2.3 // indirect\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L3;",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L3;"},
    {"indirect without space", "module m\nrequire a.com/b v1.2.3 //indirect\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L2;"},
    {"indirect with a note",
     "module m\nrequire a.com/b v1.2.3 // indirect; needed by x\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L2;"},
    {"indirect glued to a word",
     "module m\nrequire a.com/b v1.2.3 //indirect;x\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;"},
    {"indirect; alone", "module m\nrequire a.com/b v1.2.3 // indirect;\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;"},
    {"indirect right after the version",
     "module m\nrequire a.com/b v1.2.3// indirect\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3,indirect:L2;"},
    {"indirect then words",
     "module m\nrequire a.com/b v1.2.3 // indirect dependency\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;"},
    {"indirect in capitals", "module m\nrequire a.com/b v1.2.3 // INDIRECT\n",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;",
     "module=m;deprecated=;require=a.com/b@v1.2.3:L2;"},
    {"indirect in a block",
     "module m\n\nrequire (\n\t// indirect\n\ta.com/a v1.0.0\n\ta.com/b v1.1 "
     "// indirect\n\t\"a.com/c\" \"v1.2.0\" //\tindirect\t\n)\n",
     "module=m;deprecated=;require=a.com/a@v1.0.0:L5;require=a.com/"
     "b@v1.1.0,indirect:L6;require=a.com/c@v1.2.0,indirect:L7;",
     "module=m;deprecated=;require=a.com/a@v1.0.0:L5;require=a.com/"
     "b@v1.1.0,indirect:L6;require=a.com/c@v1.2.0,indirect:L7;"},
    {"indirect after the paren",
     "module m\nrequire ( // indirect\n\ta.com/a v1.0.0\n)\n",
     "module=m;deprecated=;require=a.com/a@v1.0.0:L3;",
     "module=m;deprecated=;require=a.com/a@v1.0.0:L3;"},
    {"indirect after CRLF",
     "module m\r\n\r\nrequire a.com/b v1.0.0 // indirect\r\n",
     "module=m;deprecated=;require=a.com/b@v1.0.0,indirect:L3;",
     "module=m;deprecated=;require=a.com/b@v1.0.0,indirect:L3;"},
    {"canonical versions",
     "module m\nrequire (\n\tx.org/a v1\n\tx.org/b "
     "v2.0.0+incompatible\n\tx.org/c v1.0.0+build\n\tx.org/d/v2 "
     "v2.1\n\tgopkg.in/yaml.v2 v2.4.0\n\tgopkg.in/e.v1 "
     "v0.0.0-20190101000000-abcdefabcdef\n)\n",
     "module=m;deprecated=;require=x.org/a@v1.0.0:L3;require=x.org/"
     "b@v2.0.0+incompatible:L4;require=x.org/c@v1.0.0:L5;require=x.org/d/"
     "v2@v2.1.0:L6;require=gopkg.in/yaml.v2@v2.4.0:L7;require=gopkg.in/"
     "e.v1@v0.0.0-20190101000000-abcdefabcdef:L8;",
     "module=m;deprecated=;require=x.org/a@v1.0.0:L3;require=x.org/"
     "b@v2.0.0+incompatible:L4;require=x.org/c@v1.0.0:L5;require=x.org/d/"
     "v2@v2.1.0:L6;require=gopkg.in/yaml.v2@v2.4.0:L7;require=gopkg.in/"
     "e.v1@v0.0.0-20190101000000-abcdefabcdef:L8;"},
    {"major version mismatch", "module m\nrequire x.org/a/v2 v1.0.0\n",
     "go.mod:2: require x.org/a/v2: version \"v1.0.0\" invalid: should be v2, "
     "not v1",
     "go.mod:2: require x.org/a/v2: version \"v1.0.0\" invalid: should be v2, "
     "not v1"},
    {"gopkg.in mismatch", "module m\nrequire gopkg.in/yaml.v2 v3.0.0\n",
     "go.mod:2: require gopkg.in/yaml.v2: version \"v3.0.0\" invalid: should "
     "be v2, not v3",
     "go.mod:2: require gopkg.in/yaml.v2: version \"v3.0.0\" invalid: should "
     "be v2, not v3"},
    {"missing version", "module m\nrequire x.org/a\n",
     "go.mod:2: usage: require module/path v1.2.3",
     "go.mod:2: usage: require module/path v1.2.3"},
    {"bad version, indented", "module m\n\trequire x.org/a latest\n",
     "go.mod:2:2: require x.org/a: version \"latest\" invalid: must be of the "
     "form v1.2.3",
     "go.mod:2:2: require x.org/a: version \"latest\" invalid: must be of the "
     "form v1.2.3"},
    {"quote inside a word", "module m\nrequire x'a v1.0.0\n",
     "go.mod:2: invalid quoted string: unquoted string cannot contain quote",
     "go.mod:2: invalid quoted string: unquoted string cannot contain quote"},
    {"bad escape", "module m\nrequire x.org/a \"v1\\q\"\n",
     "go.mod:2: require x.org/a: version \"\\\"v1\\\\q\\\"\" invalid: invalid "
     "syntax",
     "go.mod:2: require x.org/a: version \"\\\"v1\\\\q\\\"\" invalid: invalid "
     "syntax"},
    {"invalid module path", "module m\nrequire x.org/a/v2.0 v2.0.0\n",
     "go.mod:2: invalid module path", "go.mod:2: invalid module path"},
    {"empty path", "module m\nrequire \"\" v1.0.0\n",
     "module=m;deprecated=;require=@v1.0.0:L2;",
     "module=m;deprecated=;require=@v1.0.0:L2;"},
    {"exclude",
     "module m\nexclude x.org/a v1.0.0\nexclude (\n\tx.org/b v1.1\n)\n",
     "module=m;deprecated=;exclude=x.org/a@v1.0.0:L2;exclude=x.org/"
     "b@v1.1.0:L4;",
     "module=m;deprecated=;"},
    {"exclude errors", "module m\nexclude x.org/a\nexclude x.org/b/v3 v1.0.0\n",
     "go.mod:2: usage: exclude module/path v1.2.3\ngo.mod:3: exclude "
     "x.org/b/v3: version \"v1.0.0\" invalid: should be v3, not v1",
     "module=m;deprecated=;"},
    /* replace */
    {"forms",
     "module m\n\nreplace x.org/a => ../a\nreplace x.org/b v1.0.0 => x.org/b2 "
     "v1.1\nreplace (\n\tx.org/c => y.org/c v1.0.0\n\t\"x.org/d\" v1.0.0 => "
     "\"/tmp/my dir\"\n\tx.org/f => C:/f\n)\n",
     "module=m;deprecated=;replace=x.org/a@=>../a@:L3;replace=x.org/"
     "b@v1.0.0=>x.org/b2@v1.1.0:L4;replace=x.org/c@=>y.org/"
     "c@v1.0.0:L6;replace=x.org/d@v1.0.0=>/tmp/my "
     "dir@:L7;replace=x.org/f@=>C:/f@:L8;",
     "module=m;deprecated=;"},
    {"path@version", "module m\nreplace x.org/a => x.org/b@v1.0.0\n",
     "go.mod:2: replacement module must match format 'path version', not "
     "'path@version'",
     "module=m;deprecated=;"},
    {"module without version", "module m\nreplace x.org/a => x.org/b\n",
     "go.mod:2: replacement module without version must be directory path "
     "(rooted or starting with . or ..)",
     "module=m;deprecated=;"},
    {"windows path", "module m\nreplace x.org/a => ..\\b\\c\n",
     "go.mod:2: replacement directory appears to be Windows path (on a "
     "non-windows system)",
     "module=m;deprecated=;"},
    {"directory with version", "module m\nreplace x.org/a => ./b v1.0.0\n",
     "go.mod:2: replacement module directory path \"./b\" cannot have version",
     "module=m;deprecated=;"},
    {"no arrow", "module m\nreplace x.org/a v1.0.0\n",
     "go.mod:2: usage: replace module/path [v1.2.3] => other/module v1.4\n\t "
     "or replace module/path [v1.2.3] => ../local/directory",
     "module=m;deprecated=;"},
    {"too many words",
     "module m\nreplace x.org/a v1.0.0 => x.org/b v1.0.0 extra\n",
     "go.mod:2: usage: replace module/path [v1.2.3] => other/module v1.4\n\t "
     "or replace module/path [v1.2.3] => ../local/directory",
     "module=m;deprecated=;"},
    {"old major mismatch", "module m\nreplace x.org/a/v2 v1.0.0 => ./a\n",
     "go.mod:2: replace x.org/a/v2: version \"v1.0.0\" invalid: should be v2, "
     "not v1",
     "module=m;deprecated=;"},
    {"bad old version", "module m\nreplace x.org/a latest => ./a\n",
     "go.mod:2: replace x.org/a: version \"latest\" invalid: must be of the "
     "form v1.2.3",
     "module=m;deprecated=;"},
    {"bad new version", "module m\nreplace x.org/a => x.org/b latest\n",
     "go.mod:2: replace x.org/b: version \"latest\" invalid: must be of the "
     "form v1.2.3",
     "module=m;deprecated=;"},
    {"invalid module path", "module m\nreplace x.org/a/v1.0 => ./a\n",
     "go.mod:2: replace x.org/a/v1.0: invalid module path",
     "module=m;deprecated=;"},
    /* block */
    {"empty blocks", "module m\nrequire ()\nrequire (\n)\nexclude ( )\n",
     "module=m;deprecated=;", "module=m;deprecated=;"},
    {"parens inside a line",
     "module m\nrequire x.org/a ( ) v1.0.0\nrequire x.org/b ( v1.0.0\n",
     "go.mod:2: usage: require module/path v1.2.3\ngo.mod:3: usage: require "
     "module/path v1.2.3",
     "go.mod:2: usage: require module/path v1.2.3\ngo.mod:3: usage: require "
     "module/path v1.2.3"},
    {"unterminated", "module m\nrequire (\n\tx.org/a v1.0.0\n",
     "go.mod:4: syntax error (unterminated block started at go.mod:2:1)",
     "go.mod:4: syntax error (unterminated block started at go.mod:2:1)"},
    {"text after the closing paren",
     "module m\nrequire (\n\tx.org/a v1.0.0\n) x\n",
     "go.mod:4:4: syntax error (expected newline after closing paren)",
     "go.mod:4:4: syntax error (expected newline after closing paren)"},
    {"a paren on a line inside", "module m\nrequire (\n\tfoo (\n\t)\n)\n",
     "go.mod:3:2: require foo: version \"(\" invalid: must be of the form "
     "v1.2.3\ngo.mod:5: unknown directive: )",
     "go.mod:3:2: require foo: version \"(\" invalid: must be of the form "
     "v1.2.3"},
    {"unknown block", "module m\nfoo (\n\tbar\n)\ngo 1.19\n",
     "go.mod:2: unknown block type: foo", "module=m;deprecated=;go=1.19;"},
    {"words before the paren", "module m\nrequire x.org/a (\n\tv1.0.0\n)\n",
     "go.mod:2: unknown block type: require x.org/a", "module=m;deprecated=;"},
    {"go block", "module m\ngo (\n\t1.19\n)\n",
     "go.mod:2: unknown block type: go", "module=m;deprecated=;"},
    {"blank line before module", "// Deprecated: old\n\nmodule m\n",
     "module=m;deprecated=;", "module=m;deprecated=;"},
    {"module comment in a block", "module (\n\t// Deprecated: inner\n\tm\n)\n",
     "module=m;deprecated=inner;", "module=m;deprecated=inner;"},
    {"retract rationale",
     "module m\n\n// block comment\nretract (\n\tv1.0.0 // "
     "suffix\n\n\tv1.1.0\n\t// above\n\t// more\n\t[v1.2.0, v1.3.0]\n)\n",
     "module=m;deprecated=;retract=[v1.0.0,v1.0.0]suffix:L5;retract=[v1.1.0,v1."
     "1.0]:L7;retract=[v1.2.0,v1.3.0]above\nmore:L10;",
     "module=m;deprecated=;retract=[v1.0.0,v1.0.0]suffix:L5;retract=[v1.1.0,v1."
     "1.0]:L7;retract=[v1.2.0,v1.3.0]above\nmore:L10;"},
    {"unexpected token after a retraction",
     "module m\nretract [v1.0.0, v1.1.0] // range\nretract v1.2.0 extra\n",
     "go.mod:3: unexpected token after version: \"extra\"",
     "module=m;deprecated=;retract=[v1.0.0,v1.1.0]range:L2;retract=[v1.2.0,v1."
     "2.0]:L3;"},
    {"retract intervals",
     "module m\nretract\nretract [\nretract [v1.0.0\nretract [v1.0.0 "
     "v1.1.0]\nretract [v1.0.0,\nretract [v1.0.0, v1.1.0\nretract ( v1.0.0 "
     ")\nretract \"v1\\q\"\n",
     "go.mod:2: expected '[' or version\ngo.mod:3: expected version after "
     "'['\ngo.mod:4: expected ',' after version\ngo.mod:5: expected ',' after "
     "version\ngo.mod:6: expected version after ','\ngo.mod:7: expected ']' "
     "after version\ngo.mod:8: expected '[' or version\ngo.mod:9: retract: "
     "version \"\\\"v1\\\\q\\\"\" invalid: invalid syntax",
     "module=m;deprecated=;"},
    {"retract versions as written",
     "module m\nretract [latest, v1]\nretract \"v1.0.0\"\n",
     "module=m;deprecated=;retract=[latest,v1]:L2;retract=[v1.0.0,v1.0.0]:L3;",
     "module=m;deprecated=;retract=[latest,v1]:L2;retract=[v1.0.0,v1.0.0]:L3;"},
    {"comment after a block", "module m\nretract (\n\tv1.0.0\n) // after\n",
     "module=m;deprecated=;retract=[v1.0.0,v1.0.0]:L3;",
     "module=m;deprecated=;retract=[v1.0.0,v1.0.0]:L3;"},
    {"comment after a multi-line string",
     "module m\nrequire a.com/b v1.0.0\nretract \"v1\\\n\" // indirect\n",
     "go.mod:3: retract: version \"\\\"v1\\\\\\n\\\"\" invalid: invalid syntax",
     "module=m;deprecated=;require=a.com/b@v1.0.0,indirect:L2;"},
    {"comment block before a multi-line string",
     "module m\nrequire a.com/b v1.0.0\n// cb\n\nretract \"v1\\\n\" // "
     "indirect\n",
     "go.mod:5: retract: version \"\\\"v1\\\\\\n\\\"\" invalid: invalid syntax",
     "module=m;deprecated=;require=a.com/b@v1.0.0:L2;"},
    {"rationale starting blank", "module m\n//\n// a\nretract v1.0.0\n",
     "module=m;deprecated=;retract=[v1.0.0,v1.0.0]\na:L4;",
     "module=m;deprecated=;retract=[v1.0.0,v1.0.0]\na:L4;"},
    {"retract without a module", "retract v1.0.0 // bad\n",
     "module=-;retract=[v1.0.0,v1.0.0]bad:L1;",
     "module=-;retract=[v1.0.0,v1.0.0]bad:L1;"},
    {"several errors", "module m\nfoo\nmodule n\ngo 1.19\ngo 1.20\nrequire x\n",
     "go.mod:2: unknown directive: foo\ngo.mod:3: repeated module "
     "statement\ngo.mod:5: repeated go statement\ngo.mod:6: usage: require "
     "module/path v1.2.3",
     "go.mod:3: repeated module statement\ngo.mod:5: repeated go "
     "statement\ngo.mod:6: usage: require module/path v1.2.3"},
    /* go */
    {"three-part version", "module m\ngo 1.21.0\n",
     "module=m;deprecated=;go=1.21.0;", "module=m;deprecated=;go=1.21.0;"},
    {"prerelease version", "module m\ngo 1.18beta1\n",
     "module=m;deprecated=;go=1.18beta1;",
     "module=m;deprecated=;go=1.18beta1;"},
    {"v prefix", "module m\ngo v1.19x\n",
     "go.mod:2: invalid go version 'v1.19x': must match format 1.23.0",
     "module=m;deprecated=;go=1.19;"},
    {"leading zero", "module m\ngo 01.2\n",
     "go.mod:2: invalid go version '01.2': must match format 1.23.0",
     "go.mod:2: invalid go version '01.2': must match format 1.23.0"},
    {"two arguments", "module m\ngo 1.19 1.20\n",
     "go.mod:2: go directive expects exactly one argument",
     "go.mod:2: go directive expects exactly one argument"},
    {"toolchain", "module m\ngo 1.21\ntoolchain go1.21.0\n",
     "module=m;deprecated=;go=1.21;toolchain=go1.21.0;",
     "module=m;deprecated=;go=1.21;"},
    /* what Go 1.23 to 1.25 added, with the line of each entry */
    {"godebug, tool, ignore",
     "module m\ngo 1.25.0\n\ngodebug (\n\tdefault=go1.21\n\tpanicnil=1\n)\n"
     "tool example.com/a/cmd/x\nignore (\n\t./web\n\t\"./b c\"\n)\n",
     "module=m;deprecated=;go=1.25.0;godebug=default=go1.21:L5,B4;godebug="
     "panicnil=1:L6,B4;tool=example.com/a/cmd/x:L8;ignore=./web:L10,B9;"
     "ignore=./b c:L11,B9;",
     "module=m;deprecated=;go=1.25.0;ignore=./web:L10,B9;ignore=./b "
     "c:L11,B9;"},
    {"ignore is read in lax mode too", "module m\nignore a b\n",
     "go.mod:2: ignore directive expects exactly one argument",
     "go.mod:2: ignore directive expects exactly one argument"},
    /* lexer */
    {"block comment", "/* c */\nmodule m\n",
     "go.mod:1: mod files must use // comments (not /* */ comments)",
     "go.mod:1: mod files must use // comments (not /* */ comments)"},
    {"block comment in a line", "module m /* x */\n",
     "go.mod:1:10: mod files must use // comments (not /* */ comments)",
     "go.mod:1:10: mod files must use // comments (not /* */ comments)"},
    {"byte order mark", "\xef\xbb\xbfmodule m\n",
     "go.mod:1: unexpected input character '\\ufeff'",
     "go.mod:1: unexpected input character '\\ufeff'"},
    {"no-break space", "module\xc2\xa0m\n",
     "go.mod:1:7: unexpected input character '\\u00a0'",
     "go.mod:1:7: unexpected input character '\\u00a0'"},
    {"vertical tab", "module m\x0bx\n",
     "go.mod:1:9: unexpected input character '\\v'",
     "go.mod:1:9: unexpected input character '\\v'"},
    {"newline in a string", "module \"m\n\"\n",
     "go.mod:1:10: unexpected newline in string",
     "go.mod:1:10: unexpected newline in string"},
    {"EOF in a string", "module m\nrequire \"x.org/a",
     "go.mod:2:9: unexpected EOF in string",
     "go.mod:2:9: unexpected EOF in string"},
    {"EOF in a raw string", "module `m", "go.mod:1:8: unexpected EOF in string",
     "go.mod:1:8: unexpected EOF in string"},
    {"escaped newline in a string",
     "module m\nrequire \"x.org/a\\\nb\" v1.0.0\n",
     "go.mod:2: invalid quoted string: invalid syntax",
     "go.mod:2: invalid quoted string: invalid syntax"},
    {"backquoted path", "module `m`\n",
     "go.mod:1: invalid quoted string: unquoted string cannot contain quote",
     "go.mod:1: invalid quoted string: unquoted string cannot contain quote"},
    {"non-ASCII word", "module \xc3\xa9.com\n",
     "module=\xc3\xa9.com;deprecated=;", "module=\xc3\xa9.com;deprecated=;"},
    {"invalid UTF-8 word", "module \xff\xfe\nrequire a\xff v1.0.0\n",
     "module=\xff\xfe;deprecated=;require=a\xff@v1.0.0:L2;",
     "module=\xff\xfe;deprecated=;require=a\xff@v1.0.0:L2;"},
    {"escapes in a string", "module \"a\\u00e9\\x41\\101\\t\"\n",
     "module=a\xc3\xa9"
     "AA\t;deprecated=;",
     "module=a\xc3\xa9"
     "AA\t;deprecated=;"},
    {"indented unknown directive", "module m\n  foo bar\n",
     "go.mod:2:3: unknown directive: foo", "module=m;deprecated=;"},
    {"comment after an empty file", "// just a comment", "module=-;",
     "module=-;"},
};

static void test_oracle_cases(void **state) {
  size_t n = sizeof oracle_cases / sizeof oracle_cases[0];
  for (size_t i = 0; i < n; i++) {
    const struct oracle_case *c = &oracle_cases[i];
    want_parse((int)i, c->name, c->input, strlen(c->input), 0, c->parse);
    want_parse((int)i, c->name, c->input, strlen(c->input), MODFILE_LAX,
               c->parse_lax);
  }
  print_message("%zu hand-written cases, Parse and ParseLax each\n", n);
}

/* Where we differ from x/mod on purpose (see modfile.h): a NUL byte. */
static void test_nul_bytes(void **state) {
  static const char quoted[] = "module \"a\\x00b\"\n";
  static const char in_comment[] = "// Deprecated: a\0b\nmodule m\n";

  want_parse(1, "NUL in a path", quoted, strlen(quoted), 0,
             "go.mod:1: invalid quoted string: string contains a NUL byte");
  want_parse(2, "NUL in a version", "module m\nrequire x.org/a \"v1\\000\"\n",
             strlen("module m\nrequire x.org/a \"v1\\000\"\n"), 0,
             "go.mod:2: require x.org/a: version \"\\\"v1\\\\000\\\"\" "
             "invalid: string contains a NUL byte");
  /* A raw NUL is no word character, as in x/mod. */
  want_parse(3, "raw NUL", "module m\0", 9, 0,
             "go.mod:1:9: unexpected input character '\\x00'");
  /* In a comment it cuts the message short. */
  want_parse(4, "NUL in a comment", in_comment, sizeof in_comment - 1, 0,
             "module=m;deprecated=a;");
}

/* ---- ModulePath beyond the vectors -------------------------------------- */

static void test_module_path(void **state) {
  static const struct {
    const char *input;
    int rc;
    const char *want;
  } cases[] = {
      {"// module x\nmodule y\n", 1, "y"},
      {"module x // module y\n", 1, "x"},
      {"modulex y\nmodule z\n", 1, "z"},
      {"module \"unterminated\nmodule y\n", -ENOENT, ""},
      {"module\xc2\xa0"
       "a\n",
       1, "a"}, /* U+00A0 is a Unicode space */
      {"module\xef\xbb\xbf"
       "a\n",
       -ENOENT, ""},                      /* U+FEFF is not */
      {"  module   `a\rb`  \n", 2, "ab"}, /* raw strings drop \r */
      {"module \"a\\u00e9\"\n", 3, "a\xc3\xa9"},
      {"module \"\\377\"\n", 1, "\xff"}, /* octal, up to \377 */
      {"module \"\\400\"\n", -ENOENT, ""},
      {"module\xe2\x80\x8a"
       "a\n",
       1, "a"},                           /* U+200A, a space too */
      {"module \"a//b\"\n", -ENOENT, ""}, /* the // starts a comment */
      {"module \"\"\n", 0, ""},
      {"require x v1.0.0\n", -ENOENT, ""},
      {"", -ENOENT, ""},
  };
  char out[64];

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int rc = modfile_module_path(cases[i].input, strlen(cases[i].input), out,
                                 sizeof out);
    want_int((int)i, "module_path rc", rc, cases[i].rc);
    want_str((int)i, "module_path", out, cases[i].want);
  }

  /* A decoded NUL is returned, and counted. */
  int rc = modfile_module_path("module \"a\\x00b\"", 15, out, sizeof out);
  want_int(0, "NUL rc", rc, 3);
  if (memcmp(out, "a\0b", 4) != 0)
    fail_msg("NUL: got \"%s\"", out);

  /* Too small: the path plus its NUL must fit. */
  want_int(0, "cap 5", modfile_module_path("module abcde", 12, out, 5), -E2BIG);
  want_str(0, "cap 5 out", out, "");
  want_int(0, "cap 6", modfile_module_path("module abcde", 12, out, 6), 5);
  want_str(0, "cap 6 out", out, "abcde");
}

/* ---- limits ------------------------------------------------------------- */

static void test_limit_bytes(void **state) {
  size_t len = MODFILE_MAX_BYTES + 1;
  char *data = malloc(len);
  struct modfile mf;
  char err[ERR_BYTES];

  assert_non_null(data);
  memset(data, '\n', len);
  memcpy(data, "module m", 8);
  modfile_init(&mf);
  want_int(0, "16 MiB + 1", modfile_parse(&mf, data, len, 0, err, sizeof err),
           -E2BIG);
  want_str(0, "16 MiB + 1", err,
           "go.mod: file too large (max size is 16777216 bytes)");
  want_empty(0, &mf);
  want_int(0, "ModulePath 16 MiB + 1",
           modfile_module_path(data, len, err, sizeof err), -E2BIG);

  want_int(0, "16 MiB", modfile_parse(&mf, data, len - 1, 0, err, sizeof err),
           0);
  want_str(0, "16 MiB module", mf.module, "m");
  modfile_dispose(&mf);
  free(data);
}

/* A line of n words "x x x ...": n tokens and one node. */
static char *words(size_t n, size_t *len) {
  char *s = malloc(2 * n);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = 'x';
    s[2 * i + 1] = ' ';
  }
  s[2 * n - 1] = '\n';
  *len = 2 * n;
  return s;
}

static void test_limit_items(void **state) {
  struct modfile mf;
  char err[ERR_BYTES];
  size_t len;
  char *s;

  /* MODFILE_MAX_ITEMS - 1 words and their line fit (lax mode ignores the
   * unknown directive); one word more does not. */
  modfile_init(&mf);
  s = words(MODFILE_MAX_ITEMS - 1, &len);
  want_int(0, "items - 1",
           modfile_parse(&mf, s, len, MODFILE_LAX, err, sizeof err), 0);
  free(s);
  s = words(MODFILE_MAX_ITEMS, &len);
  want_int(0, "items", modfile_parse(&mf, s, len, MODFILE_LAX, err, sizeof err),
           -E2BIG);
  want_str(0, "items error", err,
           "go.mod:2: too many words and comments (more than 262144)");
  want_empty(0, &mf);
  free(s);
}

/* A block of n lines "x.org/a<i> v1.0.0" for `verb`. (As many separate
 * lines would pass MODFILE_MAX_ITEMS first: each costs 4 items.) */
static char *entry_block(const char *verb, size_t n, size_t *len) {
  size_t cap = n * 32 + 32;
  char *s = malloc(cap);
  assert_non_null(s);
  *len = (size_t)snprintf(s, cap, "%s (\n", verb);
  for (size_t i = 0; i < n; i++)
    *len += (size_t)snprintf(s + *len, cap - *len, "\tx.org/a%zu v1.0.0\n", i);
  *len += (size_t)snprintf(s + *len, cap - *len, ")\n");
  return s;
}

static void test_limit_entries(void **state) {
  struct modfile mf;
  char err[ERR_BYTES];
  size_t len;
  char *s;

  modfile_init(&mf);
  s = entry_block("require", MODFILE_MAX_ENTRIES, &len);
  want_int(0, "entries", modfile_parse(&mf, s, len, 0, err, sizeof err), 0);
  want_int(0, "nrequire", (long long)mf.nrequire, MODFILE_MAX_ENTRIES);
  want_str(0, "last path", mf.require[MODFILE_MAX_ENTRIES - 1].path,
           "x.org/a65535");
  want_int(0, "last line", mf.require[MODFILE_MAX_ENTRIES - 1].line,
           MODFILE_MAX_ENTRIES + 1);
  free(s);

  s = entry_block("require", MODFILE_MAX_ENTRIES + 1, &len);
  want_int(0, "entries + 1", modfile_parse(&mf, s, len, 0, err, sizeof err),
           -E2BIG);
  want_str(0, "entries + 1 error", err,
           "go.mod: too many require lines (more than 65536)");
  want_empty(0, &mf);
  free(s);

  /* Lax mode keeps no exclude lines, so it does not count them. */
  s = entry_block("exclude", MODFILE_MAX_ENTRIES + 1, &len);
  want_int(0, "excludes", modfile_parse(&mf, s, len, 0, err, sizeof err),
           -E2BIG);
  want_str(0, "excludes error", err,
           "go.mod: too many exclude lines (more than 65536)");
  want_int(0, "lax excludes",
           modfile_parse(&mf, s, len, MODFILE_LAX, err, sizeof err), 0);
  want_int(0, "lax nexclude", (long long)mf.nexclude, 0);
  modfile_dispose(&mf);
  free(s);
}

/* ---- the API's edges ---------------------------------------------------- */

static void test_api(void **state) {
  static const char good[] = "module a\nrequire x.org/b v1.0.0\n";
  struct modfile mf;
  char err[ERR_BYTES];
  char input[64];

  modfile_dispose(NULL);
  modfile_init(&mf);
  modfile_dispose(&mf);
  modfile_dispose(&mf);

  /* Results do not point into the input. */
  memcpy(input, good, sizeof good);
  want_int(0, "good",
           modfile_parse(&mf, input, strlen(input), 0, err, sizeof err), 0);
  memset(input, 'X', sizeof input);
  want_str(0, "module after", mf.module, "a");
  want_str(0, "path after", mf.require[0].path, "x.org/b");
  want_str(0, "version after", mf.require[0].version, "v1.0.0");

  /* A parse replaces what the struct held; a failed one empties it. */
  want_int(0, "bad", modfile_parse(&mf, "foo\n", 4, 0, err, sizeof err),
           -EINVAL);
  want_empty(0, &mf);
  want_int(0, "again",
           modfile_parse(&mf, good, strlen(good), 0, err, sizeof err), 0);
  want_int(0, "again nrequire", (long long)mf.nrequire, 1);

  /* No error buffer, a short one, an empty one. */
  want_int(0, "err NULL", modfile_parse(&mf, "foo\n", 4, 0, NULL, 0), -EINVAL);
  want_int(0, "err 8", modfile_parse(&mf, "foo\n", 4, 0, err, 8), -EINVAL);
  want_str(0, "err 8", err, "go.mod:");
  err[0] = 'Z';
  want_int(0, "err 0", modfile_parse(&mf, "foo\n", 4, 0, err, 0), -EINVAL);
  want_int(0, "err 0 untouched", err[0], 'Z');

  /* Nothing at all is a valid, empty go.mod. */
  want_int(0, "empty", modfile_parse(&mf, NULL, 0, 0, err, sizeof err), 0);
  if (mf.module != NULL || mf.go != NULL || mf.nrequire != 0)
    fail_msg("empty input: not an empty result");
  want_str(0, "empty err", err, "");

  want_int(0, "flags",
           modfile_parse(&mf, good, strlen(good), 0x80, err, sizeof err),
           -EINVAL);
  want_str(0, "flags", err, "modfile: unknown flags");
  modfile_dispose(&mf);
}

/*
 * Every prefix of every vector file, in both modes: a result or -EINVAL
 * with a message, nothing left behind on failure, and what Parse accepts
 * ParseLax accepts too. (Run it under the sanitizers for memory errors.)
 */
static void on_prefixes(const struct tsv_row *row, void *arg) {
  struct modfile mf;
  char err[ERR_BYTES];
  int line = row->lineno;

  modfile_init(&mf);
  for (size_t n = 0; n <= row->len[1]; n++) {
    int ok[2];
    for (int lax = 0; lax <= 1; lax++) {
      int rc = modfile_parse(&mf, row->field[1], n, lax ? MODFILE_LAX : 0, err,
                             sizeof err);
      ok[lax] = rc == 0;
      if (rc == 0 && err[0] != '\0')
        fail_msg("line %d, %zu bytes: success with \"%s\"", line, n, err);
      if (rc != 0) {
        want_int(line, "prefix rc", rc, -EINVAL);
        if (strncmp(err, "go.mod:", 7) != 0)
          fail_msg("line %d, %zu bytes: message \"%s\"", line, n, err);
        want_empty(line, &mf);
      }
      modfile_dispose(&mf);
    }
    if (ok[0] && !ok[1])
      fail_msg("line %d, %zu bytes: Parse accepts, ParseLax does not", line, n);
    (*(size_t *)arg)++;
  }
}

/* go.work files (MODFILE_WORK): use and replace, and only a go.work's
 * directives; a go.mod has no use. */
static void test_work(void **state) {
  static const char work[] = "go 1.22\n"
                             "use ./a\n"
                             "use (\n\t./b\n\t\"./c d\"\n)\n"
                             "replace x.org/y => ../y\n";
  struct modfile mf;
  char err[ERR_BYTES];
  modfile_init(&mf);
  want_int(
      0, "work",
      modfile_parse(&mf, work, strlen(work), MODFILE_WORK, err, sizeof err), 0);
  want_int(0, "nuse", (long long)mf.nuse, 3);
  want_str(0, "use 0", mf.use[0].path, "./a");
  want_str(0, "use 2", mf.use[2].path, "./c d");
  want_str(0, "go", mf.go, "1.22");
  want_int(0, "nreplace", (long long)mf.nreplace, 1);
  want_str(0, "replace", mf.replace[0].new_path, "../y");
  static const char req[] = "go 1.22\nrequire x.org/y v1.0.0\n";
  want_int(0, "require in go.work",
           modfile_parse(&mf, req, strlen(req), MODFILE_WORK, err, sizeof err),
           -EINVAL);
  want_str(0, "require err", err, "go.mod:2: unknown directive: require");
  static const char mod[] = "module m\nuse ./a\n";
  want_int(0, "use in go.mod",
           modfile_parse(&mf, mod, strlen(mod), 0, err, sizeof err), -EINVAL);
  want_int(0, "work and lax",
           modfile_parse(&mf, work, strlen(work), MODFILE_WORK | MODFILE_LAX,
                         err, sizeof err),
           -EINVAL);
  modfile_dispose(&mf);
}

static void test_prefixes(void **state) {
  size_t n = 0;
  tsv_each("modfile_parse.tsv", 1, on_prefixes, &n);
  print_message("%zu prefixes, Parse and ParseLax each\n", n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_vectors),
      cmocka_unit_test(test_module_path_vectors),
      cmocka_unit_test(test_oracle_cases),
      cmocka_unit_test(test_nul_bytes),
      cmocka_unit_test(test_module_path),
      cmocka_unit_test(test_limit_bytes),
      cmocka_unit_test(test_limit_items),
      cmocka_unit_test(test_limit_entries),
      cmocka_unit_test(test_api),
      cmocka_unit_test(test_prefixes),
      cmocka_unit_test(test_work),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
