/*
 * Checksum database rules: pure functions with no I/O.
 *
 * What golang.org/x/mod v0.7.0 (the code Go 1.19 vendors) defines for the
 * go.sum database: verifier keys and GOSUMDB values (sumdb/note,
 * cmd/go/internal/modfetch/sumdb.go), signed notes checked with Ed25519
 * (through OpenSSL's EVP interface), tree heads and records
 * (sumdb/tlog/note.go), and the transparency log's hashes, tiles and
 * proofs (sumdb/tlog/tlog.go, tile.go).
 *
 * Conventions as in gomod.h: 0 (or a count) on success, a negative errno
 * on failure; `err`/`errlen` receive a message and may be NULL. Inputs are
 * borrowed for the call; nothing keeps state. Thread-safe.
 */
#ifndef MODPROXY_SUMDB_H
#define MODPROXY_SUMDB_H

#include <stddef.h>
#include <stdint.h>

#include "modproxy/gomod.h"

/* tlog.HashSize. */
#define SUMDB_HASH_BYTES 32
/* The tile height the go command's client uses (sumdb.Client default). */
#define SUMDB_TILE_HEIGHT 8
/* Hashes in a full tile of SUMDB_TILE_HEIGHT. */
#define SUMDB_TILE_WIDTH (1 << SUMDB_TILE_HEIGHT)
/* A database name is a host[/path]; longer ones are refused (URLs built
 * from it must fit the proxy's URL limit). */
#define SUMDB_MAX_NAME_BYTES 256
/* A note larger than this is refused (tlog.ParseTree's own limit is 1e6;
 * real tree notes are a few hundred bytes). */
#define SUMDB_MAX_NOTE_BYTES (1u << 20)
/* note.Open reads at most this many signature lines. */
#define SUMDB_MAX_SIGNATURES 100
/* Hash indexes of one proof: a tree of 2^63 leaves needs under 2 * 63. */
#define SUMDB_MAX_PROOF_HASHES 130
/* A verifier key as text: name + "+" + 8 hex + "+" + base64 of 33 bytes. */
#define SUMDB_MAX_KEY_BYTES (SUMDB_MAX_NAME_BYTES + 64)
/* A GOSUMDB URL (the part after the key). */
#define SUMDB_MAX_URL_BYTES 1024

/** The public key of sum.golang.org (cmd/go/internal/modfetch/key.go). */
#define SUMDB_GOLANG_ORG_KEY                                                   \
  "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

struct sumdb_hash {
  uint8_t b[SUMDB_HASH_BYTES];
};

/** A note verifier key: "<name>+<8 hex key hash>+<base64(0x01 || key)>". */
struct sumdb_key {
  char name[SUMDB_MAX_NAME_BYTES];
  uint32_t hash;                  /**< first 4 bytes of SHA-256(name\n key) */
  uint8_t pub[32];                /**< the Ed25519 public key */
  char text[SUMDB_MAX_KEY_BYTES]; /**< the key as written */
};

/**
 * note.NewVerifier: parses and checks an encoded verifier key (the key hash
 * must match). -EINVAL with "malformed verifier id", "unknown verifier
 * algorithm" or "invalid verifier hash".
 */
int sumdb_key_parse(const char *vkey, struct sumdb_key *out, char *err,
                    size_t errlen);

/** A note signer: the private half of a key pair (note.NewSigner). */
struct sumdb_signer {
  char name[SUMDB_MAX_NAME_BYTES];
  uint32_t hash;    /**< the verifier key's hash */
  uint8_t seed[32]; /**< the Ed25519 private key */
};

/* A signer key as text: "PRIVATE+KEY+" and a verifier key's fields. */
#define SUMDB_MAX_SIGNER_BYTES (SUMDB_MAX_KEY_BYTES + 16)

/**
 * note.NewSigner: parses "PRIVATE+KEY+<name>+<hash>+<base64(0x01 ||
 * seed)>" and checks that the hash is the matching verifier key's. -EINVAL
 * with "malformed signer key", "unknown signer algorithm" or "invalid
 * signer key hash".
 */
int sumdb_signer_parse(const char *skey, struct sumdb_signer *out, char *err,
                       size_t errlen);

/**
 * note.GenerateKey from a random 32-byte seed the caller drew: the signer
 * key text into skey (SUMDB_MAX_SIGNER_BYTES) and the verifier key text
 * into vkey (SUMDB_MAX_KEY_BYTES). -EINVAL for a name a note cannot carry
 * (empty, spaces, '+'), -E2BIG when a buffer is too small.
 */
int sumdb_key_generate(const char *name, const uint8_t seed[32], char *skey,
                       size_t scap, char *vkey, size_t vcap);

/**
 * note.Sign with one signer: text (len bytes, ending in '\n', at most
 * SUMDB_MAX_NOTE_BYTES), a blank line and the signature line, in a
 * heap string (*note, *note_len; free it). -EINVAL for such a text, -EIO
 * when OpenSSL fails, -ENOMEM.
 */
int sumdb_note_sign(const char *text, size_t len, const struct sumdb_signer *s,
                    char **note, size_t *note_len);

/** One checksum database as GOSUMDB names it. */
struct sumdb_spec {
  struct sumdb_key key;
  /** The URL given after the key ("" when none: then https://<name>, or
   *  a proxy that supports it). No trailing '/'. */
  char url[SUMDB_MAX_URL_BYTES];
};

/**
 * Parses a GOSUMDB value as the go command does (modfetch.dbDial): `name`
 * for a known database (sum.golang.org, and its alias
 * sum.golang.google.cn), `name+hash+key`, either followed by a URL; the
 * name must be a host[/path]. -EINVAL with the go command's message.
 */
int sumdb_spec_parse(const char *gosumdb, struct sumdb_spec *out, char *err,
                     size_t errlen);

/**
 * note.Open with one known verifier: checks that msg is a well-formed note
 * (UTF-8, no control bytes but '\n', a blank line before the signature
 * block, "— name base64" lines) signed by key. On success *text_len is the
 * length of the signed text (msg[0:*text_len], ending in '\n').
 * Returns 0; -EBADMSG for a malformed note; -ENOKEY when no signature is
 * by key; -EKEYREJECTED when key's signature does not verify.
 */
int sumdb_note_verify(const char *msg, size_t len, const struct sumdb_key *key,
                      size_t *text_len, char *err, size_t errlen);

/** A signed tree head: the log's size and root hash. */
struct sumdb_tree {
  int64_t n;
  struct sumdb_hash hash;
};

/** tlog.ParseTree: "go.sum database tree\nN\nHASH\n..." -> 0 or -EBADMSG. */
int sumdb_tree_parse(const char *text, size_t len, struct sumdb_tree *out);

/** tlog.ParseRecord: "<id>\n<text>\n" at the start of msg. On success
 *  points *text (borrowed, *text_len bytes, ending in '\n') into msg and
 *  returns the offset of the rest. -EBADMSG when malformed. */
int sumdb_record_parse(const char *msg, size_t len, int64_t *id,
                       const char **text, size_t *text_len);

/** A parsed /lookup answer; pointers borrow from the body. */
struct sumdb_lookup {
  int64_t id;
  const char *text; /**< the record: go.sum lines */
  size_t text_len;
  const char *note; /**< the signed tree note after the record */
  size_t note_len;
  struct sumdb_tree tree;
};

/**
 * Parses a /lookup answer (record, then a note signed by key holding a
 * tree head) and checks the note's signature and that the record id is in
 * the tree. Does not check that the record is included in the tree (that
 * needs tiles: see sumdb_record_check). 0, or -EBADMSG/-ENOKEY/
 * -EKEYREJECTED with a message.
 */
int sumdb_lookup_parse(const char *body, size_t len,
                       const struct sumdb_key *key, struct sumdb_lookup *out,
                       char *err, size_t errlen);

/**
 * Finds the go.sum hashes of module@version in a record: zip_h1 from
 * "<module> <version> h1:..." and mod_h1 from "<module> <version>/go.mod
 * h1:..."; either may be "" when absent. -ENOENT when the record has no
 * line for module@version at all; -EBADMSG for a malformed line.
 */
int sumdb_record_hashes(const char *text, size_t len, const char *module,
                        const char *version, char zip_h1[GOMOD_H1_BYTES],
                        char mod_h1[GOMOD_H1_BYTES]);

/* ---- the transparency log (tlog) ---------------------------------------- */

/** tlog.RecordHash: SHA-256(0x00 || data). */
void sumdb_record_hash(const void *data, size_t len, struct sumdb_hash *out);
/** tlog.NodeHash: SHA-256(0x01 || left || right). */
void sumdb_node_hash(const struct sumdb_hash *left,
                     const struct sumdb_hash *right, struct sumdb_hash *out);
/** tlog.StoredHashIndex / SplitStoredHashIndex. */
int64_t sumdb_stored_hash_index(int level, int64_t n);
void sumdb_split_stored_hash_index(int64_t index, int *level, int64_t *n);

/** A tile: W hashes at level H*L starting at N*2^H (L = -1: record data). */
struct sumdb_tile {
  int h, l;
  int64_t n;
  int w;
};

/** Tile.Path ("tile/8/0/x001/234.p/5") into out; its length or -E2BIG. */
int sumdb_tile_path(const struct sumdb_tile *t, char *out, size_t cap);
/** tlog.ParseTilePath: 0, or -EINVAL unless path is a tile's canonical
 *  path. */
int sumdb_tile_parse(const char *path, struct sumdb_tile *out);
/** tlog.TileForIndex: the tile of height h and least width holding the
 *  stored hash `index`. */
struct sumdb_tile sumdb_tile_for_index(int h, int64_t index);
/** tileParent(t, k, n): t's k-th parent among the tiles of a tree of size
 *  n (k = 0: t at the width that tree gives it). -ENOENT when there is no
 *  such tile. */
int sumdb_tile_parent(const struct sumdb_tile *t, int k, int64_t n,
                      struct sumdb_tile *out);
/** tlog.HashFromTile: the stored hash `index` from tile t's data (len
 *  bytes; t must be TileForIndex(index) or wider). 0 or -EINVAL. */
int sumdb_hash_from_tile(const struct sumdb_tile *t, const uint8_t *data,
                         size_t len, int64_t index, struct sumdb_hash *out);

/** The stored hash indexes a record proof for leaf n in a tree of size t
 *  needs (tlog.leafProofIndex), in order; returns the count (at most
 *  SUMDB_MAX_PROOF_HASHES) or -EINVAL. */
int sumdb_record_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap);
/**
 * ProveRecord + CheckRecord: given the hashes at the indexes above (same
 * order), checks that leaf n with hash `leaf` is in the tree. 0, or
 * -EBADMSG when the proof does not lead to tree->hash.
 */
int sumdb_record_check(const struct sumdb_tree *tree, int64_t n,
                       const struct sumdb_hash *leaf,
                       const struct sumdb_hash *hashes, size_t count);
/** The indexes a consistency proof from a tree of size n to one of size t
 *  needs (tlog.treeProofIndex); count or -EINVAL. */
int sumdb_tree_proof_indexes(int64_t t, int64_t n, int64_t *out, size_t cap);
/** ProveTree + CheckTree: 0 when older is a prefix of newer, -EBADMSG. */
int sumdb_tree_check(const struct sumdb_tree *newer,
                     const struct sumdb_tree *older,
                     const struct sumdb_hash *hashes, size_t count);
/** The indexes of the tree hash of a tree of size n (subTreeIndex(0, n));
 *  count or -EINVAL. */
int sumdb_tree_hash_indexes(int64_t n, int64_t *out, size_t cap);
/** tlog.TreeHash from the hashes at those indexes. */
int sumdb_tree_hash(int64_t n, const struct sumdb_hash *hashes, size_t count,
                    struct sumdb_hash *out);

/**
 * The tiles the go command's client reads to get the stored hashes
 * `indexes` of a tree of size tree_n (tlog.TileHashReader.ReadHashes: the
 * tiles of the tree hash, the tiles holding the indexes and the parents
 * that authenticate them), without duplicates, appended to out[*n..cap).
 * Tiles already in out[0..*n) are not added again. 0, -E2BIG when cap is
 * too small, -EINVAL for an index outside the tree.
 */
int sumdb_tiles_for_hashes(int64_t tree_n, const int64_t *indexes, size_t count,
                           struct sumdb_tile *out, size_t *n, size_t cap);

/** Standard base64 (with padding), as Go's StdEncoding: the decoded length
 *  or -EINVAL. */
int sumdb_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/** Standard base64 (with padding) of in[0..len) into out, NUL-terminated:
 *  the text's length, or -E2BIG when cap is too small. */
int sumdb_base64_encode(const uint8_t *in, size_t len, char *out, size_t cap);

#endif
