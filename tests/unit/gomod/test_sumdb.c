/*
 * The checksum database rules (proxy/gomod/sumdb_note.c, sumdb_tlog.c):
 * verifier keys and notes against x/mod's own note_test.go vectors,
 * GOSUMDB parsing, records and lookups signed with a key made here
 * (Ed25519 through OpenSSL), and the transparency log against vectors
 * computed by x/mod/sumdb/tlog (tests/data/sumdb_tlog.tsv, made by
 * tests/tools/sumdbvec): stored-hash indexes, tile paths, tree hashes,
 * the tiles the go command reads, and record and consistency proofs,
 * including tampered ones.
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
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "modproxy/sumdb.h"
#include "testutil.h"

/* x/mod sumdb/note/note_test.go */
#define PETER_KEY                                                              \
  "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define ENOCH_KEY                                                              \
  "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define PETER_TEXT                                                             \
  "If you think cryptography is the answer to your problem,\n"                 \
  "then you don't know what your problem is.\n"
#define PETER_SIG                                                              \
  "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIu"  \
  "GUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_SIG                                                              \
  "\xe2\x80\x94 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiO"  \
  "Hp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

static void test_keys(void **state) {
  struct sumdb_key k;
  char err[128];
  assert_int_equal(sumdb_key_parse(PETER_KEY, &k, err, sizeof err), 0);
  assert_string_equal(k.name, "PeterNeumann");
  assert_int_equal(k.hash, 0xc74f20a3u);
  assert_string_equal(k.text, PETER_KEY);
  static const struct {
    const char *key, *msg;
  } bad[] = {
      {"PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/"
       "LDE4izWy10TWBADKEY==",
       "malformed verifier id"},
      {"PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
       "unknown verifier algorithm"},
      {"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
       "invalid verifier hash"},
      {"PeterNeumann+c74f20a3", "malformed verifier id"},
      {"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
       "malformed verifier id"},
      {"PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
       "malformed verifier id"},
      {"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
       "malformed verifier id"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    if (sumdb_key_parse(bad[i].key, &k, err, sizeof err) != -EINVAL)
      fail_msg("%s: accepted", bad[i].key);
    if (strcmp(err, bad[i].msg) != 0)
      fail_msg("%s: error \"%s\", want \"%s\"", bad[i].key, err, bad[i].msg);
  }
  assert_int_equal(sumdb_key_parse(SUMDB_GOLANG_ORG_KEY, &k, NULL, 0), 0);
  assert_string_equal(k.name, "sum.golang.org");
}

static void test_specs(void **state) {
  struct sumdb_spec s;
  char err[128];
  assert_int_equal(sumdb_spec_parse("sum.golang.org", &s, err, sizeof err), 0);
  assert_string_equal(s.key.name, "sum.golang.org");
  assert_string_equal(s.url, "");
  assert_int_equal(
      sumdb_spec_parse("sum.golang.google.cn", &s, err, sizeof err), 0);
  assert_string_equal(s.key.name, "sum.golang.org");
  assert_string_equal(s.url, "https://sum.golang.google.cn");
  assert_int_equal(sumdb_spec_parse(PETER_KEY " http://127.0.0.1:9/db/", &s,
                                    err, sizeof err),
                   0);
  assert_string_equal(s.url, "http://127.0.0.1:9/db");
  assert_int_equal(sumdb_spec_parse("a b c", &s, err, sizeof err), -EINVAL);
  assert_string_equal(err, "invalid GOSUMDB: too many fields");
  assert_int_equal(sumdb_spec_parse("", &s, err, sizeof err), -EINVAL);
  assert_string_equal(err, "missing GOSUMDB");
  assert_int_equal(sumdb_spec_parse("example.com", &s, err, sizeof err),
                   -EINVAL);
  assert_string_equal(err, "invalid GOSUMDB: malformed verifier id");
  assert_int_equal(sumdb_spec_parse(PETER_KEY " ftp://x", &s, err, sizeof err),
                   -EINVAL);
}

static void test_notes(void **state) {
  struct sumdb_key peter, enoch;
  assert_int_equal(sumdb_key_parse(PETER_KEY, &peter, NULL, 0), 0);
  assert_int_equal(sumdb_key_parse(ENOCH_KEY, &enoch, NULL, 0), 0);
  const char *both = PETER_TEXT "\n" PETER_SIG ENOCH_SIG;
  size_t tl = 0;
  char err[128];
  assert_int_equal(
      sumdb_note_verify(both, strlen(both), &peter, &tl, err, sizeof err), 0);
  assert_int_equal(tl, strlen(PETER_TEXT));
  assert_int_equal(
      sumdb_note_verify(both, strlen(both), &enoch, &tl, err, sizeof err), 0);
  const char *only_enoch = PETER_TEXT "\n" ENOCH_SIG;
  assert_int_equal(sumdb_note_verify(only_enoch, strlen(only_enoch), &peter,
                                     &tl, err, sizeof err),
                   -ENOKEY);
  /* One changed byte of text: Peter's signature no longer verifies. */
  char *bad = strdup(both);
  bad[3] = 'X';
  assert_int_equal(
      sumdb_note_verify(bad, strlen(bad), &peter, &tl, err, sizeof err),
      -EKEYREJECTED);
  assert_string_equal(err, "invalid signature for key PeterNeumann+c74f20a3");
  free(bad);
  /* Malformed notes (x/mod TestOpen's badMsgs). */
  static const char *const malformed[] = {
      PETER_TEXT,
      PETER_TEXT "\n",
      PETER_TEXT "\n"
                 "\xe2\x80\x94 PeterNeumann "
                 "x08go/ZJkuBS9UG/"
                 "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZ"
                 "b6KE6RyyBwJnAM=",
      "\x01" PETER_TEXT "\n" PETER_SIG,
      "\xff" PETER_TEXT "\n" PETER_SIG,
      PETER_TEXT "\n"
                 "\xe2\x80\x94 Bad Name "
                 "x08go/ZJkuBS9UG/"
                 "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZ"
                 "b6KE6RyyBwJnAM=\n",
      PETER_TEXT "\n"
                 "-- PeterNeumann "
                 "x08go/ZJkuBS9UG/"
                 "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZ"
                 "b6KE6RyyBwJnAM=\n",
      PETER_TEXT "\n"
                 "\xe2\x80\x94 PeterNeumann x08go\n",
  };
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
    int rc = sumdb_note_verify(malformed[i], strlen(malformed[i]), &peter, &tl,
                               err, sizeof err);
    if (rc != -EBADMSG)
      fail_msg("malformed note %zu: %d (%s)", i, rc, err);
  }
}

/* x/mod note_test.go TestNewSigner and TestSign: Peter's private key signs
 * his text into the note above (Ed25519 signatures are deterministic). */
#define PETER_SKEY                                                             \
  "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+"                \
  "Y7hfZx09iUvxdXHKDFz"

static void test_signer(void **state) {
  struct sumdb_signer s;
  char err[128];
  assert_int_equal(sumdb_signer_parse(PETER_SKEY, &s, err, sizeof err), 0);
  assert_string_equal(s.name, "PeterNeumann");
  assert_int_equal(s.hash, 0xc74f20a3u);
  char *note;
  size_t len;
  assert_int_equal(
      sumdb_note_sign(PETER_TEXT, strlen(PETER_TEXT), &s, &note, &len), 0);
  assert_string_equal(note, PETER_TEXT "\n" PETER_SIG);
  free(note);
  assert_int_equal(sumdb_note_sign("no newline", 10, &s, &note, &len), -EINVAL);
  /* The key pair its seed makes is Peter's. */
  char skey[SUMDB_MAX_SIGNER_BYTES], vkey[SUMDB_MAX_KEY_BYTES];
  assert_int_equal(sumdb_key_generate("PeterNeumann", s.seed, skey, sizeof skey,
                                      vkey, sizeof vkey),
                   0);
  assert_string_equal(skey, PETER_SKEY);
  assert_string_equal(vkey, PETER_KEY);
  assert_int_equal(sumdb_key_generate("Peter Neumann", s.seed, skey,
                                      sizeof skey, vkey, sizeof vkey),
                   -EINVAL);
  /* A changed hash or a verifier key given as a signer key. */
  char bad[] = PETER_SKEY;
  bad[sizeof "PRIVATE+KEY+PeterNeumann+c74f20a" - 1] = '4';
  assert_int_equal(sumdb_signer_parse(bad, &s, err, sizeof err), -EINVAL);
  assert_string_equal(err, "invalid signer key hash");
  assert_int_equal(sumdb_signer_parse(PETER_KEY, &s, err, sizeof err), -EINVAL);
  assert_string_equal(err, "malformed signer key");
}

/* ---- a signer made here -------------------------------------------------- */

struct signer {
  struct sumdb_signer sk;
  struct sumdb_key key;
};

/* A key pair of a random seed, through sumdb_key_generate. */
static void signer_new(struct signer *s, const char *name) {
  uint8_t seed[32];
  assert_int_equal(RAND_bytes(seed, sizeof seed), 1);
  char skey[SUMDB_MAX_SIGNER_BYTES], vkey[SUMDB_MAX_KEY_BYTES], err[128];
  assert_int_equal(
      sumdb_key_generate(name, seed, skey, sizeof skey, vkey, sizeof vkey), 0);
  if (sumdb_key_parse(vkey, &s->key, err, sizeof err) != 0)
    fail_msg("own key %s: %s", vkey, err);
  if (sumdb_signer_parse(skey, &s->sk, err, sizeof err) != 0)
    fail_msg("own signer key: %s", err);
}

/* Signs text (ending in '\n') into a heap note. */
static char *sign_note(const struct signer *s, const char *text) {
  char *note;
  size_t len;
  assert_int_equal(sumdb_note_sign(text, strlen(text), &s->sk, &note, &len), 0);
  assert_int_equal(strlen(note), len);
  return note;
}

/* ---- a log built here, checked against x/mod's tree hashes --------------- */

#define LOG_RECORDS 700

struct log {
  struct sumdb_hash *h; /* stored hashes, in StoredHashIndex order */
  size_t n;
};

static void log_build(struct log *l, int64_t records) {
  l->h = calloc((size_t)records * 3, sizeof *l->h);
  l->n = 0;
  for (int64_t i = 0; i < records; i++) {
    char rec[64];
    snprintf(rec, sizeof rec, "record %lld\n", (long long)i);
    struct sumdb_hash h;
    sumdb_record_hash(rec, strlen(rec), &h);
    assert_int_equal(sumdb_stored_hash_index(0, i), (int64_t)l->n);
    l->h[l->n++] = h;
    int m = __builtin_ctzll((unsigned long long)(i + 1));
    for (int k = 0; k < m; k++) {
      sumdb_node_hash(&l->h[sumdb_stored_hash_index(k, (i >> k) - 1)], &h, &h);
      l->h[l->n++] = h;
    }
  }
}

/* Tile data as a server would serve it. */
static size_t tile_data(const struct log *l, const struct sumdb_tile *t,
                        uint8_t *out) {
  int64_t start = t->n << t->h;
  for (int i = 0; i < t->w; i++)
    memcpy(out + (size_t)i * SUMDB_HASH_BYTES,
           l->h[sumdb_stored_hash_index(t->h * t->l, start + i)].b,
           SUMDB_HASH_BYTES);
  return (size_t)t->w * SUMDB_HASH_BYTES;
}

/* The hashes at `idx` of a tree of size n, read through its tiles. */
static void read_via_tiles(const struct log *l, int64_t n, const int64_t *idx,
                           int count, struct sumdb_hash *out) {
  static uint8_t data[SUMDB_TILE_WIDTH * SUMDB_HASH_BYTES];
  for (int i = 0; i < count; i++) {
    struct sumdb_tile t = sumdb_tile_for_index(SUMDB_TILE_HEIGHT, idx[i]), p;
    assert_int_equal(sumdb_tile_parent(&t, 0, n, &p), 0);
    size_t len = tile_data(l, &p, data);
    assert_int_equal(sumdb_hash_from_tile(&p, data, len, idx[i], &out[i]), 0);
  }
}

static void tree_of(const struct log *l, int64_t n, struct sumdb_tree *t) {
  int64_t idx[SUMDB_MAX_PROOF_HASHES];
  struct sumdb_hash hs[SUMDB_MAX_PROOF_HASHES];
  int c = sumdb_tree_hash_indexes(n, idx, SUMDB_MAX_PROOF_HASHES);
  assert_true(c >= 0);
  read_via_tiles(l, n, idx, c, hs);
  t->n = n;
  assert_int_equal(sumdb_tree_hash(n, hs, (size_t)c, &t->hash), 0);
}

static struct log the_log;

static void on_vector(const struct tsv_row *r, void *arg) {
  const char *kind = r->field[0];
  char got[128];
  if (strcmp(kind, "stored") == 0) {
    int64_t idx =
        sumdb_stored_hash_index(atoi(r->field[1]), atoll(r->field[2]));
    if (idx != atoll(r->field[3]))
      fail_msg("line %d: StoredHashIndex %lld", r->lineno, (long long)idx);
    int level;
    int64_t n;
    sumdb_split_stored_hash_index(idx, &level, &n);
    if (level != atoi(r->field[1]) || n != atoll(r->field[2]))
      fail_msg("line %d: SplitStoredHashIndex %d %lld", r->lineno, level,
               (long long)n);
  } else if (strcmp(kind, "tile") == 0) {
    struct sumdb_tile t = sumdb_tile_for_index(8, atoll(r->field[1]));
    sumdb_tile_path(&t, got, sizeof got);
    if (strcmp(got, r->field[2]) != 0)
      fail_msg("line %d: TileForIndex %s", r->lineno, got);
  } else if (strcmp(kind, "path") == 0) {
    struct sumdb_tile t;
    int rc = sumdb_tile_parse(r->field[1], &t);
    if (strcmp(r->field[2], "bad") == 0) {
      if (rc == 0)
        fail_msg("line %d: %s accepted", r->lineno, r->field[1]);
      return;
    }
    if (rc != 0 || t.h != atoi(r->field[2]) || t.l != atoi(r->field[3]) ||
        t.n != atoll(r->field[4]) || t.w != atoi(r->field[5]))
      fail_msg("line %d: ParseTilePath(%s) %d: %d %d %lld %d", r->lineno,
               r->field[1], rc, t.h, t.l, (long long)t.n, t.w);
  } else if (strcmp(kind, "tree") == 0) {
    struct sumdb_tree t;
    tree_of(&the_log, atoll(r->field[1]), &t);
    EVP_EncodeBlock((unsigned char *)got, t.hash.b, SUMDB_HASH_BYTES);
    if (strcmp(got, r->field[2]) != 0)
      fail_msg("line %d: TreeHash(%s) = %s", r->lineno, r->field[1], got);
  } else if (strcmp(kind, "tiles") == 0) {
    struct sumdb_tile tiles[64];
    size_t n = 0;
    int64_t idx = atoll(r->field[2]);
    assert_int_equal(
        sumdb_tiles_for_hashes(atoll(r->field[1]), &idx, 1, tiles, &n, 64), 0);
    /* Compare as sets: every listed path is planned, and no other. */
    size_t listed = 0;
    for (char *p = r->field[3]; *p != '\0'; listed++) {
      size_t len = strcspn(p, ",");
      int found = 0;
      for (size_t i = 0; i < n; i++) {
        sumdb_tile_path(&tiles[i], got, sizeof got);
        if (strlen(got) == len && memcmp(got, p, len) == 0)
          found = 1;
      }
      if (!found)
        fail_msg("line %d: %.*s not planned", r->lineno, (int)len, p);
      p += len + (p[len] == ',');
    }
    if (listed != n)
      fail_msg("line %d: %zu tiles planned, want %zu", r->lineno, n, listed);
  } else {
    fail_msg("line %d: unknown row %s", r->lineno, kind);
  }
}

static void test_tlog_vectors(void **state) {
  log_build(&the_log, LOG_RECORDS);
  assert_true(tsv_each("sumdb_tlog.tsv", 0, on_vector, NULL) > 30);
}

static void test_record_proofs(void **state) {
  static const int64_t sizes[] = {1, 2, 3, 8, 255, 256, 257, 300, 513, 700};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    struct sumdb_tree tree;
    tree_of(&the_log, sizes[s], &tree);
    for (int64_t leaf = 0; leaf < tree.n; leaf += 1 + tree.n / 17) {
      int64_t idx[SUMDB_MAX_PROOF_HASHES];
      struct sumdb_hash hs[SUMDB_MAX_PROOF_HASHES];
      int c =
          sumdb_record_proof_indexes(tree.n, leaf, idx, SUMDB_MAX_PROOF_HASHES);
      assert_true(c >= 0);
      read_via_tiles(&the_log, tree.n, idx, c, hs);
      char rec[64];
      snprintf(rec, sizeof rec, "record %lld\n", (long long)leaf);
      struct sumdb_hash lh;
      sumdb_record_hash(rec, strlen(rec), &lh);
      if (sumdb_record_check(&tree, leaf, &lh, hs, (size_t)c) != 0)
        fail_msg("tree %lld leaf %lld: proof fails", (long long)tree.n,
                 (long long)leaf);
      /* A different record, or one wrong proof hash, fails. */
      snprintf(rec, sizeof rec, "record %lld!\n", (long long)leaf);
      sumdb_record_hash(rec, strlen(rec), &lh);
      assert_int_equal(sumdb_record_check(&tree, leaf, &lh, hs, (size_t)c),
                       -EBADMSG);
      if (c > 0) {
        snprintf(rec, sizeof rec, "record %lld\n", (long long)leaf);
        sumdb_record_hash(rec, strlen(rec), &lh);
        hs[c / 2].b[7] ^= 1;
        assert_int_equal(sumdb_record_check(&tree, leaf, &lh, hs, (size_t)c),
                         -EBADMSG);
        assert_int_equal(
            sumdb_record_check(&tree, leaf, &lh, hs, (size_t)c - 1), -EBADMSG);
      }
    }
  }
  struct sumdb_tree t = {.n = 5};
  assert_int_equal(sumdb_record_check(&t, 5, &t.hash, NULL, 0), -EINVAL);
}

static void test_tree_proofs(void **state) {
  static const int64_t sizes[] = {1, 2, 7, 8, 256, 257, 300, 513, 700};
  size_t ns = sizeof sizes / sizeof sizes[0];
  for (size_t a = 0; a < ns; a++) {
    for (size_t b = a; b < ns; b++) {
      struct sumdb_tree older, newer;
      tree_of(&the_log, sizes[a], &older);
      tree_of(&the_log, sizes[b], &newer);
      int64_t idx[SUMDB_MAX_PROOF_HASHES];
      struct sumdb_hash hs[SUMDB_MAX_PROOF_HASHES];
      int c = sumdb_tree_proof_indexes(newer.n, older.n, idx,
                                       SUMDB_MAX_PROOF_HASHES);
      assert_true(c >= 0);
      read_via_tiles(&the_log, newer.n, idx, c, hs);
      if (sumdb_tree_check(&newer, &older, hs, (size_t)c) != 0)
        fail_msg("%lld -> %lld: consistency proof fails", (long long)older.n,
                 (long long)newer.n);
      older.hash.b[0] ^= 1; /* a forked older tree is caught */
      assert_int_equal(sumdb_tree_check(&newer, &older, hs, (size_t)c),
                       -EBADMSG);
    }
  }
}

static void test_lookups(void **state) {
  struct signer s;
  signer_new(&s, "sumdb.example.test");
  struct sumdb_tree tree;
  tree_of(&the_log, 300, &tree);
  char b64[64], text[256];
  EVP_EncodeBlock((unsigned char *)b64, tree.hash.b, SUMDB_HASH_BYTES);
  snprintf(text, sizeof text, "go.sum database tree\n300\n%s\n", b64);
  char *note = sign_note(&s, text);
  const char *record = "17\nrsc.io/quote v1.5.2 "
                       "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=\n"
                       "rsc.io/quote v1.5.2/go.mod "
                       "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=\n\n";
  char body[1024];
  snprintf(body, sizeof body, "%s%s", record, note);
  struct sumdb_lookup l;
  char err[128];
  int lrc = sumdb_lookup_parse(body, strlen(body), &s.key, &l, err, sizeof err);
  if (lrc != 0)
    fail_msg("lookup: %d %s\n%s", lrc, err, body);
  assert_int_equal(l.id, 17);
  assert_int_equal(l.tree.n, 300);
  assert_memory_equal(l.tree.hash.b, tree.hash.b, SUMDB_HASH_BYTES);
  char zip[GOMOD_H1_BYTES], mod[GOMOD_H1_BYTES];
  assert_int_equal(sumdb_record_hashes(l.text, l.text_len, "rsc.io/quote",
                                       "v1.5.2", zip, mod),
                   0);
  assert_string_equal(zip, "h1:w5fcysjrx7yqtD/aO+QwRjYZOKnaM9Uh2b40tElTs3Y=");
  assert_string_equal(mod, "h1:LzX7hefJvL54yjefDEDHNONDjII0t9xZLPXsUe+TKr0=");
  assert_int_equal(sumdb_record_hashes(l.text, l.text_len, "rsc.io/quote",
                                       "v1.5.1", zip, mod),
                   -ENOENT);
  assert_int_equal(sumdb_record_hashes(l.text, l.text_len, "rsc.io/quot",
                                       "v1.5.2", zip, mod),
                   -ENOENT);
  /* A version that only starts like the one asked for is another one. */
  static const char longer[] = "rsc.io/quote v1.5.20 h1:X=\n";
  assert_int_equal(sumdb_record_hashes(longer, strlen(longer), "rsc.io/quote",
                                       "v1.5.2", zip, mod),
                   -ENOENT);
  /* Signed by another key. */
  struct signer other;
  signer_new(&other, "sumdb.example.test");
  assert_int_equal(
      sumdb_lookup_parse(body, strlen(body), &other.key, &l, err, sizeof err),
      -ENOKEY);
  /* The tree says 300 records; id 300 is not in it. */
  snprintf(body, sizeof body, "300\nx v1.0.0 h1:a\n\n%s", note);
  assert_int_equal(
      sumdb_lookup_parse(body, strlen(body), &s.key, &l, err, sizeof err),
      -EBADMSG);
  /* A control byte inside the record, and no blank line at all. */
  snprintf(body, sizeof body, "3\nx\tv1.0.0 h1:a\n\n%s", note);
  assert_int_equal(
      sumdb_lookup_parse(body, strlen(body), &s.key, &l, err, sizeof err),
      -EBADMSG);
  assert_int_equal(
      sumdb_lookup_parse("3\nx v1.0.0 h1:a\n", 16, &s.key, &l, err, sizeof err),
      -EBADMSG);
  /* The tree text must be exactly a tree head. */
  struct sumdb_tree t;
  assert_int_equal(sumdb_tree_parse("go.sum database tree\n01\nAAAA\n", 29, &t),
                   -EBADMSG);
  const char *ok =
      "go.sum database "
      "tree\n0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nextra\n";
  assert_int_equal(sumdb_tree_parse(ok, strlen(ok), &t), 0);
  assert_int_equal(t.n, 0);
  free(note);
}

/* A tile narrower than the hash needs is refused, never read past its
 * end: hash 5 of level 0 needs 6 hashes of tile 0, not 4 or 5. */
/* A note of exactly SUMDB_MAX_NOTE_BYTES verifies; one byte more is
 * malformed, whatever its signature. */
static void test_note_size_limit(void **state) {
  struct signer s;
  signer_new(&s, "sumdb.example.test");
  char *probe = sign_note(&s, "x\n");
  size_t sig_len = strlen(probe) - 2; /* the blank line and the signature */
  free(probe);
  for (size_t extra = 0; extra <= 1; extra++) {
    size_t tlen = SUMDB_MAX_NOTE_BYTES + extra - sig_len;
    char *text = malloc(tlen + 1);
    assert_non_null(text);
    for (size_t i = 0; i < tlen; i++)
      text[i] = i % 64 == 63 || i == tlen - 1 ? '\n' : 'x';
    text[tlen] = '\0';
    char *note = sign_note(&s, text);
    assert_int_equal(strlen(note), SUMDB_MAX_NOTE_BYTES + extra);
    size_t tl = 0;
    char err[128] = "";
    int rc =
        sumdb_note_verify(note, strlen(note), &s.key, &tl, err, sizeof err);
    if (rc != (extra == 0 ? 0 : -EBADMSG))
      fail_msg("a note of SUMDB_MAX_NOTE_BYTES + %zu: %d (%s)", extra, rc, err);
    free(note);
    free(text);
  }
}

static void test_tile_too_narrow(void **state) {
  uint8_t data[6 * SUMDB_HASH_BYTES] = {0};
  struct sumdb_hash out;
  int64_t index = sumdb_stored_hash_index(0, 5);
  for (int w = 4; w <= 6; w++) {
    struct sumdb_tile t = {.h = 8, .l = 0, .n = 0, .w = w};
    assert_int_equal(sumdb_hash_from_tile(
                         &t, data, (size_t)w * SUMDB_HASH_BYTES, index, &out),
                     w < 6 ? -EINVAL : 0);
  }
}

static void test_base64(void **state) {
  uint8_t out[8];
  assert_int_equal(sumdb_base64_decode("aGk=", 4, out, sizeof out), 2);
  assert_memory_equal(out, "hi", 2);
  assert_int_equal(sumdb_base64_decode("aGk", 3, out, sizeof out), -EINVAL);
  assert_int_equal(sumdb_base64_decode("a=Gk", 4, out, sizeof out), -EINVAL);
  assert_int_equal(sumdb_base64_decode("aG!=", 4, out, sizeof out), -EINVAL);
  assert_int_equal(sumdb_base64_decode("", 0, out, sizeof out), 0);
  char text[8];
  assert_int_equal(
      sumdb_base64_encode((const uint8_t *)"hi", 2, text, sizeof text), 4);
  assert_string_equal(text, "aGk=");
  assert_int_equal(
      sumdb_base64_encode((const uint8_t *)"h", 1, text, sizeof text), 4);
  assert_string_equal(text, "aA==");
  assert_int_equal(
      sumdb_base64_encode((const uint8_t *)"abcdef", 6, text, sizeof text),
      -E2BIG);
}

static int teardown(void **state) {
  free(the_log.h);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys),
      cmocka_unit_test(test_specs),
      cmocka_unit_test(test_notes),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_tlog_vectors),
      cmocka_unit_test(test_record_proofs),
      cmocka_unit_test(test_tree_proofs),
      cmocka_unit_test(test_lookups),
      cmocka_unit_test(test_tile_too_narrow),
      cmocka_unit_test(test_note_size_limit),
      cmocka_unit_test(test_signer),
  };
  return cmocka_run_group_tests(tests, NULL, teardown);
}
