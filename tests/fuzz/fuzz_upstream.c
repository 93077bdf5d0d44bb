/*
 * What modproxy reads from upstreams and other untrusted text, each fed the
 * same input:
 *  - .info and @latest bodies (gomod_info_version), @v/list bodies
 *    (diag_nearest_versions);
 *  - checksum database answers: signed notes, tree heads, records, /lookup
 *    bodies, go.sum lines of a record, tile paths and tile data
 *    (include/modproxy/sumdb.h);
 *  - error bodies fitted into the go command's window (diag_text_fit),
 *    retraction and deprecation messages (diag_short_message), request
 *    records read back from the store (diag_record_parse), multipart form
 *    fields (diag_form_parse), Go release versions (diag_gover_compare).
 *
 * Input: a first line P, then the body B ("P\nB"; without a newline the
 * whole input is B and P is ""). P is the parameter: the wanted version
 * for a list, the Content-Type of a form, a verifier key for notes (so
 * seeds signed with a test key get past the signature check), a tile
 * path, a GOSUMDB value, a Go version.
 *
 * Properties checked: a version found is NUL-terminated in its buffer;
 * nearest versions sit on the right side of the wanted one; fitted text
 * fits the window (at most 8 lines, 648 bytes counting the "\n\t" between
 * lines, printable ASCII only, no blank line) and its buffer; a record
 * rendered and read back settles on one rendering (the first reading may
 * lose characters: \ufffd reads back as '?'); a form value
 * lies inside the body; a verified note's text is a prefix of it.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "modproxy/diag.h"
#include "modproxy/gomod.h"
#include "modproxy/sumdb.h"
#include "route.h"

#define FUZZ_MAX_INPUT (1u << 20)

static void info(const char *b, size_t n) {
  char v[GOMOD_MAX_VERSION_BYTES];
  if (gomod_info_version(b, n, v, sizeof v) == 0)
    FUZZ_CHECK(memchr(v, '\0', sizeof v) != NULL, "version not terminated");
  char tiny[4];
  if (gomod_info_version(b, n, tiny, sizeof tiny) == 0)
    FUZZ_CHECK(memchr(tiny, '\0', sizeof tiny) != NULL, "version overflows");
}

static void nearest(const char *b, size_t n, const char *wanted) {
  struct diag_nearest out;
  diag_nearest_versions(b, n, wanted, &out);
  FUZZ_CHECK(out.count >= 0, "negative count");
  if (out.below[0] != '\0')
    FUZZ_CHECK(gomod_semver_compare(out.below, wanted) < 0,
               "below %s is not below %s", out.below, wanted);
  if (out.above[0] != '\0')
    FUZZ_CHECK(gomod_semver_compare(out.above, wanted) > 0,
               "above %s is not above %s", out.above, wanted);
  if (out.latest[0] != '\0')
    FUZZ_CHECK(gomod_semver_is_valid(out.latest), "latest %s invalid",
               out.latest);
  FUZZ_CHECK(strcmp(out.suggest, out.below) == 0 ||
                 strcmp(out.suggest, out.latest) == 0,
             "suggest %s is neither below nor latest", out.suggest);
  if (out.count == 0)
    FUZZ_CHECK(out.latest[0] == '\0' && out.below[0] == '\0' &&
                   out.above[0] == '\0',
               "versions found in an empty list");
}

/* What the go command would show of an error body (formatErrorDetail). */
static void check_window(const char *out, size_t w) {
  FUZZ_CHECK(strlen(out) == w, "diag_text_fit: length %zu, said %zu",
             strlen(out), w);
  size_t lines = 0, shown = 0;
  for (const char *p = out; *p != '\0';) {
    const char *e = strchr(p, '\n');
    FUZZ_CHECK(e != NULL, "diag_text_fit: last line has no newline");
    size_t len = (size_t)(e - p);
    FUZZ_CHECK(len > 0, "diag_text_fit: blank line in the output");
    for (size_t i = 0; i < len; i++)
      FUZZ_CHECK(p[i] >= 0x20 && p[i] < 0x7f,
                 "diag_text_fit: byte 0x%02x in the output",
                 (unsigned char)p[i]);
    int blank = 1;
    for (size_t i = 0; i < len && blank; i++)
      blank = p[i] == ' ';
    FUZZ_CHECK(!blank, "diag_text_fit: a line of spaces would hide the rest");
    shown += (lines > 0 ? 2 : 0) + len;
    lines++;
    p = e + 1;
  }
  FUZZ_CHECK(lines <= DIAG_WINDOW_LINES, "diag_text_fit: %zu lines", lines);
  FUZZ_CHECK(shown <= DIAG_WINDOW_BYTES, "diag_text_fit: %zu bytes shown",
             shown);
}

static void text_fit(const char *text) {
  char *out = malloc(DIAG_WINDOW_BYTES + 16);
  if (out == NULL)
    abort();
  size_t w = diag_text_fit(text, out, DIAG_WINDOW_BYTES + 16);
  FUZZ_CHECK(w < DIAG_WINDOW_BYTES + 16, "diag_text_fit wrote %zu", w);
  check_window(out, w);
  free(out);
  /* Smaller buffers than it asks for: cut, never overrun. */
  static const size_t sizes[] = {0, 1, 15, 16, 17, 40, 200};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *o = malloc(sizes[i] > 0 ? sizes[i] : 1);
    if (o == NULL)
      abort();
    size_t k = diag_text_fit(text, o, sizes[i]);
    if (sizes[i] > 0)
      FUZZ_CHECK(k < sizes[i] && o[k] == '\0',
                 "diag_text_fit(%zu bytes) wrote %zu", sizes[i], k);
    free(o);
  }
}

static void record(const char *json) {
  struct diag_record r;
  memset(&r, 0, sizeof r);
  if (diag_record_parse(json, &r) == 0) {
    char *a = diag_record_json(&r);
    char *t = diag_record_text(&r);
    FUZZ_CHECK(a != NULL && t != NULL, "rendering a parsed record failed");
    /* Reading is lossy in one way (an escape above ASCII, such as the
     * writer's \ufffd for invalid UTF-8, reads back as '?'), so the
     * rendering must be stable from the second round on. */
    char *b = NULL, *c = NULL;
    for (int round = 0; round < 2; round++) {
      struct diag_record r2;
      memset(&r2, 0, sizeof r2);
      const char *in = round == 0 ? a : b;
      FUZZ_CHECK(diag_record_parse(in, &r2) == 0,
                 "a rendered record does not parse: %s", in);
      *(round == 0 ? &b : &c) = diag_record_json(&r2);
      diag_record_dispose(&r2);
    }
    FUZZ_CHECK(b != NULL && c != NULL && strcmp(b, c) == 0,
               "record JSON not stable:\n%s\n%s", b != NULL ? b : "(null)",
               c != NULL ? c : "(null)");
    free(a);
    free(b);
    free(c);
    free(t);
  }
  diag_record_dispose(&r);
}

static void form(const char *b, size_t n, const char *content_type) {
  struct diag_form f;
  if (diag_form_parse(b, n, content_type, &f) < 0)
    return;
  for (size_t i = 0; i < f.n; i++) {
    const struct diag_form_field *x = &f.field[i];
    FUZZ_CHECK(x->value >= b && x->value_len <= (size_t)(b + n - x->value) &&
                   x->name >= b && x->name_len <= (size_t)(b + n - x->name),
               "form field %zu outside the body", i);
  }
}

static void short_message(const char *in) {
  char out[DIAG_MSG_BYTES], tiny[8];
  diag_short_message(in, out, sizeof out);
  FUZZ_CHECK(memchr(out, '\0', sizeof out) != NULL, "short message overflow");
  diag_short_message(in, tiny, sizeof tiny);
}

static void gover(const char *a, const char *b) {
  int ab = diag_gover_compare(a, b), ba = diag_gover_compare(b, a);
  FUZZ_CHECK(ab >= -1 && ab <= 1 && ab == -ba,
             "gover_compare(\"%s\", \"%s\") = %d, reversed %d", a, b, ab, ba);
  FUZZ_CHECK(diag_gover_compare(a, a) == 0, "gover_compare(\"%s\", itself)", a);
}

static void sumdb(const char *param, const char *b, size_t n) {
  char err[512];
  struct sumdb_key *keys = calloc(2, sizeof *keys);
  struct sumdb_spec *spec = calloc(1, sizeof *spec);
  if (keys == NULL || spec == NULL)
    abort();
  int have =
      sumdb_key_parse(SUMDB_GOLANG_ORG_KEY, &keys[0], err, sizeof err) == 0;
  FUZZ_CHECK(have, "the sum.golang.org key does not parse: %s", err);
  int nkeys = 1 + (sumdb_key_parse(param, &keys[1], err, sizeof err) == 0);
  sumdb_spec_parse(param, spec, err, sizeof err);
  for (int k = 0; k < nkeys; k++) {
    size_t text_len = 0;
    if (sumdb_note_verify(b, n, &keys[k], &text_len, err, sizeof err) == 0)
      FUZZ_CHECK(text_len <= n && text_len > 0 && b[text_len - 1] == '\n',
                 "verified note text length %zu of %zu", text_len, n);
    struct sumdb_lookup lk;
    if (sumdb_lookup_parse(b, n, &keys[k], &lk, err, sizeof err) == 0) {
      FUZZ_CHECK(lk.text >= b && lk.text + lk.text_len <= b + n &&
                     lk.note >= b && lk.note + lk.note_len <= b + n,
                 "lookup parts outside the body");
      FUZZ_CHECK(lk.id >= 0 && lk.id < lk.tree.n,
                 "record %lld outside tree %lld", (long long)lk.id,
                 (long long)lk.tree.n);
    }
  }
  struct sumdb_tree tree;
  sumdb_tree_parse(b, n, &tree);
  int64_t id;
  const char *text;
  size_t text_len;
  int off = sumdb_record_parse(b, n, &id, &text, &text_len);
  if (off >= 0)
    FUZZ_CHECK((size_t)off <= n && text >= b && text + text_len <= b + n,
               "record parse offsets outside the message");
  char zip_h1[GOMOD_H1_BYTES], mod_h1[GOMOD_H1_BYTES];
  sumdb_record_hashes(b, n, "golang.org/x/text", "v0.3.0", zip_h1, mod_h1);
  sumdb_record_hashes(b, n, param, "v1.0.0", zip_h1, mod_h1);
  struct sumdb_tile t;
  if (sumdb_tile_parse(param, &t) == 0) {
    char path[256];
    int pl = sumdb_tile_path(&t, path, sizeof path);
    FUZZ_CHECK(pl > 0 && strcmp(path, param) == 0,
               "tile path %s parses but prints as %s", param, path);
    /* The tile's data: the body. Indexes in and around the tile (for a
     * level-0 tile of a plausible size), and a few fixed ones. */
    int64_t idx[6] = {0, 1, 255, 256, 1000, 0};
    if (t.l == 0 && t.h >= 1 && t.h <= 30 && t.n >= 0 &&
        t.n < (INT64_C(1) << 30))
      idx[5] = sumdb_stored_hash_index(0, (t.n << t.h) + t.w - 1);
    struct sumdb_hash h;
    for (int i = 0; i < 6; i++)
      sumdb_hash_from_tile(&t, (const uint8_t *)b, n, idx[i], &h);
  }
  sumdb_tile_parse(b, &t);
  uint8_t *dec = malloc(n / 4 * 3 + 3);
  if (dec == NULL)
    abort();
  int dl = sumdb_base64_decode(b, n, dec, n / 4 * 3 + 3);
  FUZZ_CHECK(dl <= (int)(n / 4 * 3 + 3), "base64 decoded %d bytes", dl);
  uint8_t small[4];
  sumdb_base64_decode(b, n, small, sizeof small);
  free(dec);
  free(keys);
  free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > FUZZ_MAX_INPUT)
    return 0;
  const uint8_t *nl = memchr(data, '\n', size);
  size_t plen = nl != NULL ? (size_t)(nl - data) : 0;
  const uint8_t *body = nl != NULL ? nl + 1 : data;
  size_t n = size - (size_t)(body - data);
  char *param = fuzz_strndup(data, plen);
  /* Exactly the body's bytes (plus a NUL for the functions that read C
   * strings, and which must not read past it either). */
  char *b = fuzz_strndup(body, n);

  info(b, n);
  nearest(b, n, param);
  nearest(b, n, "v1.5.0");
  text_fit(b);
  record(b);
  form(b, n, param);
  form(b, n, "multipart/form-data; boundary=X");
  short_message(b);
  gover(param, b);
  sumdb(param, b, n);

  free(param);
  free(b);
  return 0;
}
