#!/usr/bin/env bash
# Online verification (--verify-sumdb) failing for each reason, seen by the
# go command's user: a checksum database whose answer fails its own checks
# (a bad note signature, a key other than --sumdb's, a record for another
# version, a record outside the signed tree, a tile that does not hash to
# the tree) vouches for nothing, so the upstream's go.mod and zip are
# refused (502, the reason in the go command's "server response"), nothing
# is stored and a finding is recorded; an h1 mismatch of the go.mod is
# refused the same way (the zip's is in mirror_tamper). A database that
# does not list the version, or whose tiles cannot be had, lets it through
# unverified (and the database is then skipped for the next files). The
# go command runs with GOSUMDB=off: modproxy's check is
# the only one.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
GOOD_UPSTREAM=$UPSTREAM_URL
MV=rsc.io/sampler@v1.3.0
ZIP=rsc.io/sampler/@v/v1.3.0.zip
mkdir -p "$T/w" && printf 'module example.com/m\n\ngo 1.19\n' >"$T/w/go.mod"

stored() { # DATA: parts of $MV in the store ("mod zip" when both)
  sqlite3 -readonly "$1/modproxy.db" "SELECT trim(iif(mod IS NULL, '', 'mod') || ' ' ||
    iif(zip_size IS NULL, '', 'zip')) FROM versions WHERE module='rsc.io/sampler' AND version='v1.3.0'"
}

# against NAME TREE UPSTREAM [SUMDB FLAGS...]: a database over TREE (with
# the flags) and a fresh modproxy in front of UPSTREAM; runs `go mod
# download $MV` (output in $GO_OUT, status in $GO_RC) and fetches the zip
# with curl (status in $ZIP_CODE, body in $T/NAME.zip).
against() {
  local name=$1 tree=$2 upstream=$3
  shift 3
  start_sumdb "$tree" "$@"
  MODPROXY_DATA="$T/d-$name"
  start_modproxy --upstream "$upstream" --sumdb "$SUMDB_KEY $SUMDB_URL"
  fresh_gopath
  GO_RC=0
  GO_OUT=$(cd "$T/w" && gocmd mod download "$MV" 2>&1) || GO_RC=$?
  ZIP_CODE=$(curl -s -o "$T/$name.zip" -w '%{http_code}' "$PROXY_URL/$ZIP")
  # Another module's go.mod next: looked up unless the database was found
  # unreachable meanwhile.
  curl -s -o /dev/null "$PROXY_URL/rsc.io/quote/@v/v1.5.2.mod"
  QUOTE_LOOKUPS=$(sumdb_hits '^/lookup/rsc\.io/quote@')
  # The checksum database's errors by cause, as "unreachable bad mismatch".
  SUMDB_ERRORS=$(curl -sf "$PROXY_URL/metrics" |
    awk '/^modproxy_sumdb_errors_total/ { n[$1] = $2 }
      END { print n["modproxy_sumdb_errors_total{cause=\"unreachable\"}"] + 0,
        n["modproxy_sumdb_errors_total{cause=\"bad_answer\"}"] + 0,
        n["modproxy_sumdb_errors_total{cause=\"mismatch\"}"] + 0 }')
  stop_modproxy
  stop_sumdb
}

# refused NAME REASON: the go command failed on $MV with modproxy's REASON,
# the zip was refused too, nothing was stored and a finding was recorded.
refused() {
  local name=$1 reason=$2
  ((GO_RC != 0)) || fail "$name: go mod download succeeded: $GO_OUT"
  assert_contains "$GO_OUT" "server response:" "$name"
  assert_contains "$GO_OUT" "$reason" "$name: the go command's output"
  assert_eq "$ZIP_CODE" 502 "$name: the zip's status"
  assert_contains "$(cat "$T/$name.zip")" "$reason" "$name: the zip's body"
  assert_eq "$(stored "$T/d-$name")" "" "$name: parts stored"
  local n
  n=$(sqlite3 -readonly "$T/d-$name/modproxy.db" \
    "SELECT count(*) FROM findings WHERE module='rsc.io/sampler' AND kind LIKE 'sumdb %'")
  ((n > 0)) || fail "$name: no finding recorded"
  [[ $SUMDB_ERRORS == "0 "[1-9]*" 0" ]] ||
    fail "$name: checksum database errors (unreachable bad mismatch): $SUMDB_ERRORS"
  echo "ok   $name: refused ($reason)"
}

# passed NAME: the go command got $MV, and the store holds it.
passed() {
  ((GO_RC == 0)) || fail "$1: go mod download failed: $GO_OUT"
  assert_eq "$ZIP_CODE" 200 "$1: the zip's status"
  cmp -s "$T/$1.zip" "$T/tree/$ZIP" || fail "$1: the zip differs from the upstream's"
  assert_eq "$(stored "$T/d-$1")" "mod zip" "$1: parts stored"
  echo "ok   $1: served"
}

# A database that answers right: verified, served.
against good "$T/tree" "$GOOD_UPSTREAM"
passed good
assert_eq "$QUOTE_LOOKUPS" 1 "good: lookups of the next module"
assert_eq "$SUMDB_ERRORS" "0 0 0" "good: checksum database errors"

# Each way the database's answer can fail its checks.
against badsig "$T/tree" "$GOOD_UPSTREAM" -fault badsig
refused badsig "invalid signature for key $SUMDB_NAME+"
against wrongkey "$T/tree" "$GOOD_UPSTREAM" -fault wrongkey
refused wrongkey "note has no signature by $SUMDB_NAME+"
against otherversion "$T/tree" "$GOOD_UPSTREAM" -fault otherversion
refused otherversion "is not about $MV"
against notintree "$T/tree" "$GOOD_UPSTREAM" -fault notintree
refused notintree "is not in the signed tree"
against badtile "$T/tree" "$GOOD_UPSTREAM" -fault badtile
refused badtile "is not in the signed tree"

# An upstream whose go.mod differs from the record.
cp -R "$T/tree" "$T/bad-tree"
printf '\n// tampered\n' >>"$T/bad-tree/rsc.io/sampler/@v/v1.3.0.mod"
start_upstream "$T/bad-tree"
against badmod "$T/tree" "$UPSTREAM_URL"
((GO_RC != 0)) || fail "badmod: go mod download succeeded: $GO_OUT"
assert_contains "$GO_OUT" "checksum mismatch for $MV/go.mod" "badmod"
assert_eq "$(sqlite3 -readonly "$T/d-badmod/modproxy.db" \
  "SELECT count(*) FROM findings WHERE kind = 'sumdb mismatch (go.mod)'")" 1 "badmod: findings"
[[ $SUMDB_ERRORS == "0 0 "[1-9]* ]] || fail "badmod: checksum database errors: $SUMDB_ERRORS"
echo "ok   badmod: refused"

# Nothing to check against: served unverified.
cp -R "$T/tree" "$T/db-tree"
rm "$T/db-tree/rsc.io/sampler/@v/v1.3.0".*
against notlisted "$T/db-tree" "$GOOD_UPSTREAM"
passed notlisted
against notiles "$T/tree" "$GOOD_UPSTREAM" -fault notiles
passed notiles
assert_eq "$QUOTE_LOOKUPS" 0 "notiles: lookups once the database was found unreachable"
assert_eq "$SUMDB_ERRORS" "1 0 0" "notiles: checksum database errors"
echo "PASS mirror_verify"
