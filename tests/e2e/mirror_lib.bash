# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are used by the tests
# Helpers for the mirror_*.sh tests (air-gapped mirror, checksum database),
# on top of lib.sh: `source "$(dirname "$0")/lib.sh"; source
# "$(dirname "$0")/mirror_lib.bash"`.
#
# Provides: start_sumdb, stop_sumdb, corpus_with_sumdb, sumdb_hits,
# store_digest, project_module, go_offline_env, tamper_zip, fix_manifest.

SUMDB_NAME=sumdb.example.test

# start_sumdb ROOT [FLAGS...]: serves a test checksum database
# (tests/tools/sumdb) that records every version of the GOPROXY tree ROOT,
# with a key generated now; FLAGS go to the tool (-fault NAME).
# Sets SUMDB_URL, SUMDB_KEY (name+hash+key, for GOSUMDB), SUMDB_LOG (request
# URIs) and SUMDB_PID.
start_sumdb() {
  local root=$1 i
  shift
  build_tools
  _SUMDB_N=$((${_SUMDB_N:-0} + 1))
  local addr_file="$T/sumdb$_SUMDB_N.addr" key_file="$T/sumdb$_SUMDB_N.key"
  SUMDB_LOG="$T/sumdb$_SUMDB_N.requests"
  "$TOOLS/sumdb" -root "$root" -name "$SUMDB_NAME" -listen 127.0.0.1:0 \
    -addr-file "$addr_file" -key-file "$key_file" -log "$SUMDB_LOG" "$@" \
    >"$T/sumdb$_SUMDB_N.log" 2>&1 &
  SUMDB_PID=$!
  _PIDS+=("$SUMDB_PID")
  for ((i = 0; i < 200; i++)); do
    [[ -s $addr_file && -s $key_file ]] && break
    _alive "$SUMDB_PID" || fail "sumdb exited: $(cat "$T/sumdb$_SUMDB_N.log")"
    sleep 0.1
  done
  [[ -s $addr_file ]] || fail "sumdb did not start within 20 s"
  SUMDB_URL="http://$(<"$addr_file")"
  SUMDB_KEY=$(<"$key_file")
  touch "$SUMDB_LOG"
}

# corpus_with_sumdb: the go command's corpus as a GOPROXY tree ($T/tree),
# served by an upstream and a checksum database that the go commands of
# the test use (GOCMD_SUMDB).
corpus_with_sumdb() {
  make_corpus_tree "$T/tree"
  start_upstream "$T/tree"
  start_sumdb "$T/tree"
  GOCMD_SUMDB=$SUMDB_KEY
}

# stop_sumdb: stops the database start_sumdb started last.
stop_sumdb() {
  _stop_pid "$SUMDB_PID" 10 || true
}

# sumdb_hits [REGEX]: requests the test checksum database received.
sumdb_hits() {
  grep -cE -- "${1:-.}" "$SUMDB_LOG" || true
}

# store_digest DATA_DIR: one line per stored thing, without times: every
# version's parts and hashes, every zip's bytes (by chunk hash) and every
# checksum database answer. Two stores with the same content print the
# same text.
store_digest() {
  sqlite3 -readonly "$1/modproxy.db" <<'SQL'
SELECT 'v', module, version, coalesce(hex(sha3(info)), '-'), coalesce(mod_h1, '-'),
       coalesce(zip_size, '-'), coalesce(zip_h1, '-'), coalesce(zip_sha256, '-'),
       imported
  FROM versions ORDER BY module, version;
SELECT 'c', v.module, v.version, c.seq, hex(sha3(c.data))
  FROM zip_chunks c JOIN versions v ON v.id = c.version_id
  ORDER BY v.module, v.version, c.seq;
SELECT 's', db, path, hex(sha3(body)) FROM sumdb_cache ORDER BY db, path;
SQL
}

# project_module DIR: a small real project: a main package using
# rsc.io/quote (and through it rsc.io/sampler and golang.org/x/text).
project_module() {
  mkdir -p "$1"
  cat >"$1/go.mod" <<'EOF'
module example.com/hello

go 1.19

require rsc.io/quote v1.5.2
EOF
  cat >"$1/hello.go" <<'EOF'
package main

import (
	"fmt"

	"rsc.io/quote"
)

func main() { fmt.Println(quote.Hello()) }
EOF
}

# fresh_gopath: an empty module cache (and checksum database cache) for the
# next go commands.
fresh_gopath() {
  chmod -R u+w "$T/gopath" 2>/dev/null || true
  rm -rf "$T/gopath" "$T/gocache"
}

# tamper_zip FILE FROM TO: rewrites the files of a module zip whose name
# ends in .go, FROM replaced by TO (still a valid zip).
tamper_zip() {
  python3 - "$1" "$2" "$3" <<'EOF'
import sys, zipfile, io
path, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
src = zipfile.ZipFile(path)
out = io.BytesIO()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.endswith(".go"):
            data = data.replace(old, new)
        dst.writestr(info.filename, data)
open(path, "wb").write(out.getvalue())
EOF
}

# fix_manifest BUNDLE REL: makes the manifest agree with the (tampered)
# file REL: its file line, its zip's h1 sum line and the manifest id.
fix_manifest() {
  python3 - "$1" "$2" <<'EOF'
import sys, hashlib, base64, zipfile
bundle, rel = sys.argv[1], sys.argv[2]
data = open(f"{bundle}/{rel}", "rb").read()
sha, size = hashlib.sha256(data).hexdigest(), len(data)
lines = []
if rel.endswith(".zip"):
    z = zipfile.ZipFile(f"{bundle}/{rel}")
    summary = "".join(f"{hashlib.sha256(z.read(n)).hexdigest()}  {n}\n"
                      for n in sorted(z.namelist()))
    h1 = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    mod, ver = rel[:-4].split("/@v/")
man = open(f"{bundle}/modproxy-bundle.txt").read().splitlines()
out = []
for l in man:
    f = l.split(" ")
    if f[0] == "file" and f[3] == rel:
        l = f"file {sha} {size} {rel}"
    if rel.endswith(".zip") and f[0] == "sum" and f[1] == mod and f[2] == ver:
        l = f"sum {mod} {ver} {h1}"
    if f[0] != "id":
        out.append(l)
files = sorted((l for l in out if l.startswith("file ")), key=lambda l: l.split(" ", 3)[3])
idh = hashlib.sha256("".join(l + "\n" for l in files).encode()).hexdigest()
out.append(f"id {idh}")
open(f"{bundle}/modproxy-bundle.txt", "w").write("\n".join(out) + "\n")
EOF
}
