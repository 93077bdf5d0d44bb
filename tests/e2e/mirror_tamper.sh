#!/usr/bin/env bash
# Tampered content is refused with a clear reason, and never served:
#  - in a bundle: a zip changed after export (the manifest's hash gives it
#    away); the same zip with the manifest "fixed" to match (the checksum
#    database's signed record gives it away); a lookup record changed (its
#    inclusion proof fails); a go.sum line of the project that disagrees
#    with a zip the rest of the bundle vouches for. Everything else in the bundle is imported.
#  - from the upstream: a zip that differs from the checksum database's
#    record is refused before it is stored (--verify-sumdb, on by default),
#    the go command's user sees why, and a finding is recorded.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

corpus_with_sumdb
SAMPLER=rsc.io/sampler/@v/v1.3.0.zip

import_into() { # DATA BUNDLE: runs import; sets IMPORT_OUT and IMPORT_RC
  IMPORT_RC=0
  IMPORT_OUT=$("$TEST_MODPROXY_BIN" import --data "$1" --sumdb "$SUMDB_KEY" "$2" 2>/dev/null) ||
    IMPORT_RC=$?
}

zip_stored() { # DATA MODULE VERSION: 1 if the store holds the zip
  sqlite3 -readonly "$1/modproxy.db" \
    "SELECT count(*) FROM versions WHERE module='$2' AND version='$3' AND zip_size IS NOT NULL"
}

# ---- a bundle to tamper with -------------------------------------------------
project_module "$T/proj"
"$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream "$UPSTREAM_URL" \
  --sumdb "$SUMDB_KEY $SUMDB_URL" -o "$T/bundle" "$T/proj/go.mod" \
  >"$T/export.out" 2>"$T/export.log" || fail "export: $(cat "$T/export.log")"
[[ -f $T/bundle/$SAMPLER ]] || fail "the bundle lacks $SAMPLER"

# 1. The zip changed, the manifest not: its hash differs.
cp -R "$T/bundle" "$T/b1"
tamper_zip "$T/b1/$SAMPLER" Hello Pwned
import_into "$T/d1" "$T/b1"
assert_eq "$IMPORT_RC" 1 "import of a bundle with a tampered zip: exit status"
assert_contains "$IMPORT_OUT" "versions: 2 added, 0 already present, 1 rejected"
assert_contains "$IMPORT_OUT" "rejected rsc.io/sampler@v1.3.0: $SAMPLER differs from the manifest"
assert_eq "$(zip_stored "$T/d1" rsc.io/sampler v1.3.0)" 0 "tampered zip stored"
assert_eq "$(zip_stored "$T/d1" rsc.io/quote v1.5.2)" 1 "untampered zip stored"

# 1b. The go.mod changed, its size not: its SHA-256 gives it away.
cp -R "$T/bundle" "$T/b1m"
sed -i 's/sampler/sAmpler/' "$T/b1m/rsc.io/sampler/@v/v1.3.0.mod"
import_into "$T/d1m" "$T/b1m"
assert_eq "$IMPORT_RC" 1 "import of a bundle with a same-size tampered go.mod: exit status"
assert_contains "$IMPORT_OUT" "rejected rsc.io/sampler@v1.3.0: rsc.io/sampler/@v/v1.3.0.mod differs from the manifest"

# 2. The zip and the manifest changed together: the signed record disagrees.
cp -R "$T/bundle" "$T/b2"
tamper_zip "$T/b2/$SAMPLER" Hello Pwned
fix_manifest "$T/b2" "$SAMPLER"
import_into "$T/d2" "$T/b2"
assert_eq "$IMPORT_RC" 1 "import with a tampered zip and manifest: exit status"
assert_contains "$IMPORT_OUT" "rejected rsc.io/sampler@v1.3.0: its zip hashes to h1:"
assert_contains "$IMPORT_OUT" "the checksum database $SUMDB_NAME says h1:"
assert_eq "$(zip_stored "$T/d2" rsc.io/sampler v1.3.0)" 0 "tampered zip stored (manifest fixed)"

# 3. A record changed (and the manifest fixed): its inclusion proof fails.
cp -R "$T/bundle" "$T/b3"
L="sumdb/$SUMDB_NAME/lookup/rsc.io/sampler@v1.3.0"
sed -i '2s/h1:./h1:X/' "$T/b3/$L"
fix_manifest "$T/b3" "$L"
import_into "$T/d3" "$T/b3"
assert_eq "$IMPORT_RC" 1 "import with a tampered record: exit status"
assert_contains "$IMPORT_OUT" "rejected $L: record"
assert_contains "$IMPORT_OUT" "is not in the tree of"

# 4. The project's go.sum (the manifest's "gosum" lines) disagrees with a zip
# that the manifest and the checksum database agree on: the user's go.sum
# wins, the zip is refused.
cp -R "$T/bundle" "$T/b4"
echo "gosum rsc.io/sampler v1.3.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" \
  >>"$T/b4/modproxy-bundle.txt"
import_into "$T/d4" "$T/b4"
assert_eq "$IMPORT_RC" 1 "import with a go.sum line that disagrees: exit status"
assert_contains "$IMPORT_OUT" "rejected rsc.io/sampler@v1.3.0: its zip hashes to h1:"
assert_contains "$IMPORT_OUT" "go.sum says h1:AAAA"
assert_eq "$(zip_stored "$T/d4" rsc.io/sampler v1.3.0)" 0 "zip stored against the go.sum"

# The good bundle imports whole, and the offline mirror never serves what
# was refused: the d1 mirror answers 404 for the tampered zip.
import_into "$T/d0" "$T/bundle"
assert_eq "$IMPORT_RC" 0 "import of the untouched bundle (output: $IMPORT_OUT)"
MODPROXY_DATA="$T/d1"
start_modproxy --offline --sumdb "$SUMDB_KEY"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/$SAMPLER")
assert_eq "$code" 404 "the rejected zip from the offline mirror"
stop_modproxy

# ---- a tampered zip from the upstream -------------------------------------------
cp -R "$T/tree" "$T/bad-tree"
tamper_zip "$T/bad-tree/$SAMPLER" Hello Pwned
start_upstream "$T/bad-tree"
MODPROXY_DATA="$T/verify"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/$SAMPLER")
assert_eq "$code" 502 "a zip that differs from the checksum database"
assert_contains "$(cat "$T/body")" "checksum mismatch for rsc.io/sampler@v1.3.0"
assert_contains "$(cat "$T/body")" "$SUMDB_NAME: h1:"
assert_eq "$(zip_stored "$T/verify" rsc.io/sampler v1.3.0)" 0 "refused zip stored"
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/$SAMPLER")
assert_eq "$code" 502 "the refused zip, asked again"
# Untampered files of the same upstream are checked and served.
code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/rsc.io/sampler/@v/v1.3.0.mod")
assert_eq "$code" 200 "the go.mod, which matches the database"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/rsc.io/quote/@v/v1.5.2.zip")
assert_eq "$code" 200 "a zip that matches the database"
# The go command's user sees modproxy's reason.
fresh_gopath
mkdir -p "$T/w" && cd "$T/w" && printf 'module example.com/m\n\ngo 1.19\n' >go.mod
err=$(gocmd mod download rsc.io/sampler@v1.3.0 2>&1) && fail "go mod download of a tampered zip succeeded"
assert_contains "$err" "server response:"
assert_contains "$err" "checksum mismatch"
cd "$T"
# ... and the finding is recorded for /diag.
n=$(sqlite3 -readonly "$T/verify/modproxy.db" \
  "SELECT count(*) FROM findings WHERE module='rsc.io/sampler' AND kind LIKE 'sumdb mismatch%'")
assert_eq "$n" 1 "findings recorded"
assert_contains "$(curl -s "$PROXY_URL/diag/module/rsc.io/sampler@v1.3.0")" "sumdb mismatch"
stop_modproxy

# Without verification the upstream's zip is stored as published (the go
# command's own check is then the only one).
MODPROXY_DATA="$T/noverify"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL" --verify-sumdb=false
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/$SAMPLER")
assert_eq "$code" 200 "--verify-sumdb=false"
stop_modproxy
echo "PASS mirror_tamper"
