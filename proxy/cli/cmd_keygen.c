/*
 * `modproxy keygen NAME -o PREFIX`: a new Ed25519 key pair for signing
 * bundles, in the checksum database's note key format (sumdb.h):
 * PREFIX.key holds the signer key "PRIVATE+KEY+NAME+HASH+BASE64" (mode
 * 0600, for `export --sign`), PREFIX.pub the verifier key "NAME+HASH+BASE64"
 * (for `import --trust`, and printed). Neither file may exist yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "cmd.h"
#include "modproxy/sumdb.h"
#include "settings.h"

static const char usage[] =
    "  modproxy keygen NAME -o PREFIX\n"
    "\n"
    "Makes a key pair to sign bundles with: PREFIX.key, the private key\n"
    "for `modproxy export --sign PREFIX.key` (mode 0600: keep it on the\n"
    "connected side), and PREFIX.pub, the public key NAME+HASH+KEY for\n"
    "`modproxy import --trust` on the offline side (printed as well).\n"
    "NAME says whose key it is (no spaces or '+'); the format is the go\n"
    "checksum database's note key.\n"
    "\n"
    "  -o, --output PREFIX   where to write PREFIX.key and PREFIX.pub\n";

static const struct settings_flag keygen_flags[] = {{"output", 'o', "PREFIX"},
                                                    {NULL, 0, NULL}};

/* Writes text and a newline to a new file of the given mode. */
static int write_new(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0)
    return -errno;
  size_t len = strlen(text);
  int rc = write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1
               ? 0
               : -EIO;
  if (fsync(fd) < 0 && rc == 0)
    rc = -errno;
  close(fd);
  if (rc < 0)
    unlink(path);
  return rc;
}

static int keygen(const char *name, const char *prefix) {
  uint8_t seed[32];
  char skey[SUMDB_MAX_SIGNER_BYTES], vkey[SUMDB_MAX_KEY_BYTES];
  char kpath[4096], ppath[4096];
  int status = 1;
  if (RAND_bytes(seed, sizeof seed) != 1) {
    fprintf(stderr, "modproxy keygen: no randomness available\n");
    return 1;
  }
  int rc = sumdb_key_generate(name, seed, skey, sizeof skey, vkey, sizeof vkey);
  if (rc < 0) {
    fprintf(stderr,
            "modproxy keygen: \"%s\" cannot name a key (no spaces, no '+', at "
            "most %d bytes)\n",
            name, SUMDB_MAX_NAME_BYTES - 1);
    status = CMD_EXIT_USAGE;
    goto out;
  }
  snprintf(kpath, sizeof kpath, "%s.key", prefix);
  snprintf(ppath, sizeof ppath, "%s.pub", prefix);
  if ((rc = write_new(kpath, skey, 0600)) < 0) {
    fprintf(stderr, "modproxy keygen: %s: %s\n", kpath, strerror(-rc));
    goto out;
  }
  if ((rc = write_new(ppath, vkey, 0644)) < 0) {
    fprintf(stderr, "modproxy keygen: %s: %s\n", ppath, strerror(-rc));
    unlink(kpath);
    goto out;
  }
  printf("%s\n", vkey);
  fprintf(stderr,
          "modproxy keygen: private key in %s (sign with export --sign %s), "
          "public key in %s (import --trust %s)\n",
          kpath, kpath, ppath, ppath);
  status = 0;
out:
  OPENSSL_cleanse(seed, sizeof seed);
  OPENSSL_cleanse(skey, sizeof skey);
  return status;
}

int cmd_keygen(int argc, char **argv) {
  static const struct settings_cmd cmd = {"keygen", usage, 0, keygen_flags};
  struct settings st;
  int rc = cmd_load(&st, &cmd, argc, argv);
  const char *prefix = settings_flag(&st, 0);
  if (rc == 0 && (st.nargs != 1 || prefix == NULL)) {
    fprintf(stderr, "modproxy keygen: want NAME and -o PREFIX (see modproxy "
                    "keygen --help)\n");
    rc = -EINVAL;
  }
  if (rc == 0)
    rc = keygen(st.args[0], prefix);
  else
    rc = rc > 0 ? 0 : CMD_EXIT_USAGE;
  settings_dispose(&st);
  return rc;
}
