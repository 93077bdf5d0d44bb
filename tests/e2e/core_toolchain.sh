#!/usr/bin/env bash
# Toolchain switching through modproxy: the real go command with
# GOTOOLCHAIN=go1.27.3 downloads the module golang.org/toolchain (a
# synthetic toolchain made by tests/tools/mktoolchain, whose bin/go prints
# its version), checks it against a test checksum database through
# modproxy's /sumdb/, and runs it:
#  1. with an empty module cache: the switched toolchain runs; the zip went
#     through modproxy once, modproxy and the go command both consulted the
#     checksum database; a second empty module cache is served from the
#     store (no second upstream request);
#  2. a toolchain zip the upstream altered after the database recorded it
#     is refused (by modproxy before storing it, and by the go command when
#     modproxy does not verify, in 0.);
#  3. a Go release that does not exist, one for another platform only, and
#     a language version (go1.27) are explained in the go command's own
#     output: what is wrong, the newest release for the platform, the
#     GOTOOLCHAIN value to use; also when the upstream answers 403 (the
#     module proxy's "not available" for a Go release it lacks, in 0.);
#  4. `modproxy export --toolchain go1.27.3` writes an offline bundle;
#  5. with the upstream and the database gone, the switch works from
#     modproxy's cache;
#  6. and from an offline mirror made from the bundle (`modproxy import`,
#     `serve --offline`), which explains a toolchain it lacks with the
#     export command that adds it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

build_tools
PLAT="$("$GO" env GOOS)-$("$GO" env GOARCH)"
PLAT_SLASH=${PLAT/-//}
TC=golang.org/toolchain
"$TOOLS/mktoolchain" -out "$T/tree" "go1.27.2/$PLAT" "go1.27.3/$PLAT"
"$TOOLS/mktoolchain" -out "$T/tree" -list-only go1.28.0/plan9-arm
# An upstream that answers 403 for what it lacks, as the module proxy does
# for a Go release it does not have.
start_upstream "$T/tree" -missing-status 403 -missing-body "This module version is not available."
UPSTREAM_403=$UPSTREAM_URL
start_upstream "$T/tree"
start_sumdb "$T/tree"
# The database recorded go1.27.2 as it was; now the upstream serves other
# bytes for it.
"$TOOLS/mktoolchain" -out "$T/tree" -pad-bytes 64 "go1.27.2/$PLAT"
GOCMD_SUMDB=$SUMDB_KEY
mkdir -p "$T/w" && cd "$T/w"

switch_to() { # GOVERSION OUT: go version with GOTOOLCHAIN=GOVERSION, empty module cache
  fresh_gopath
  GOCMD_TOOLCHAIN=$1 gocmd version >"$2" 2>&1
}
explained() { # GOTOOLCHAIN LINE...: the go command fails, showing each LINE
  local want=$1 line
  shift
  if switch_to "$want" "$T/missing.out"; then
    fail "GOTOOLCHAIN=$want succeeded: $(cat "$T/missing.out")"
  fi
  assert_contains "$(cat "$T/missing.out")" "server response:" "GOTOOLCHAIN=$want shows modproxy's explanation"
  for line in "$@"; do
    assert_contains "$(cat "$T/missing.out")" "	$line" "GOTOOLCHAIN=$want"
  done
}

# ---- 0. the go command's own checks, on other modproxies ---------------------
# A tampered zip that modproxy does not check: the go command refuses it.
MODPROXY_DATA="$T/noverify"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL" --verify-sumdb=false
if switch_to go1.27.2 "$T/tampered2.out"; then
  fail "the go command ran a tampered toolchain: $(cat "$T/tampered2.out")"
fi
assert_contains "$(cat "$T/tampered2.out")" "SECURITY ERROR" "the go command's own check"
stop_modproxy
# An upstream's 403 for a toolchain is a missing Go release, explained.
MODPROXY_DATA="$T/up403"
start_modproxy --upstream "$UPSTREAM_403" --sumdb "$SUMDB_KEY $SUMDB_URL"
explained go1.99.0 "go1.99.0: no such Go release" "Use GOTOOLCHAIN=go1.27.3"
assert_contains "$(cat "$T/missing.out")" ": HTTP 403" \
  "the upstream's answer, quoted"
stop_modproxy

MODPROXY_DATA="$T/data"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL"

# ---- 1. online, with the checksum database ---------------------------------
switch_to go1.27.3 "$T/online.out" || fail "GOTOOLCHAIN=go1.27.3: $(cat "$T/online.out")"
assert_contains "$(cat "$T/online.out")" "go version go1.27.3 $PLAT_SLASH" "the switched toolchain"
zip="/$TC/@v/v0.0.1-go1.27.3.$PLAT.zip"
assert_eq "$(upstream_hits "^$zip\$")" 1 "upstream requests for the toolchain zip"
assert_eq "$(sumdb_hits "^/lookup/$TC@v0.0.1-go1.27.3.$PLAT\$")" 1 \
  "checksum database lookups (modproxy's check and the go command's, one request)"
lookup="\"target\":\"/sumdb/$SUMDB_NAME/lookup/$TC@v0.0.1-go1.27.3.$PLAT\""
for ((i = 0; i < 50; i++)); do # the request log is written as requests end
  grep -q "$lookup" "$MODPROXY_LOG" && break
  sleep 0.1
done
grep -q "$lookup" "$MODPROXY_LOG" ||
  fail "the go command did not look the toolchain up through modproxy's /sumdb/"
switch_to go1.27.3 "$T/again.out" || fail "GOTOOLCHAIN=go1.27.3 again: $(cat "$T/again.out")"
assert_contains "$(cat "$T/again.out")" "go version go1.27.3 $PLAT_SLASH"
assert_eq "$(upstream_hits "^$zip\$")" 1 "upstream requests after a second empty module cache"

# ---- 2. a tampered toolchain zip ---------------------------------------------
if switch_to go1.27.2 "$T/tampered.out"; then
  fail "a tampered toolchain was run: $(cat "$T/tampered.out")"
fi
assert_contains "$(cat "$T/tampered.out")" "502 Bad Gateway" "the go command's error"
assert_contains "$(cat "$T/tampered.out")" "checksum database" "the explanation"
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/$TC/@v/v0.0.1-go1.27.2.$PLAT.zip")
assert_eq "$code" 502 "the tampered zip is not stored"

# ---- 3. toolchains that do not exist, explained ------------------------------
explained go1.99.0 \
  "go1.99.0: no such Go release (golang.org/toolchain has no v0.0.1-go1.99.0.$PLAT)." \
  "The newest Go release for $PLAT is go1.27.3." \
  "Use GOTOOLCHAIN=go1.27.3, or in go.mod: go mod edit -toolchain=go1.27.3"
explained go1.28.0 "Go release go1.28.0 has no toolchain for $PLAT (it has one for plan9-arm)." \
  "Use GOTOOLCHAIN=go1.27.3"
explained go1.27 \
  "go1.27 is a Go language version, not a release: Go 1.27's releases are go1.27.0, go1.27.1, ..." \
  "The newest Go 1.27 release for $PLAT is go1.27.3." "Use GOTOOLCHAIN=go1.27.3"
body=$(curl -s "$PROXY_URL/$TC/@v/v0.0.1-go1.99.0.$PLAT.info")
(($(wc -l <<<"$body") <= 8 && ${#body} <= 648)) || fail "the explanation does not fit: $body"

# ---- 4. an offline bundle with the toolchain ----------------------------------
"$TEST_MODPROXY_BIN" export --data "$T/data" --upstream "$UPSTREAM_URL" \
  --sumdb "$SUMDB_KEY $SUMDB_URL" --toolchain go1.27.3 --platform "$PLAT_SLASH" \
  -o "$T/bundle" >"$T/export.out" 2>&1 || fail "export --toolchain: $(cat "$T/export.out")"
[[ -f $T/bundle$zip ]] || fail "the bundle lacks $zip: $(find "$T/bundle" -type f)"
assert_eq "$(upstream_hits "^$zip\$")" 1 "upstream requests for the zip after the export"

# ---- 5. from modproxy's cache, the upstream and the database gone --------------
_stop_pid "$UPSTREAM_PID"
_stop_pid "$SUMDB_PID"
switch_to go1.27.3 "$T/cached.out" || fail "GOTOOLCHAIN=go1.27.3 from the cache: $(cat "$T/cached.out")"
assert_contains "$(cat "$T/cached.out")" "go version go1.27.3 $PLAT_SLASH" "from the cache"
stop_modproxy

# ---- 6. from an offline mirror -------------------------------------------------
"$TEST_MODPROXY_BIN" import --data "$T/mirror" --sumdb "$SUMDB_KEY" "$T/bundle" \
  >"$T/import.out" 2>&1 || fail "import: $(cat "$T/import.out")"
MODPROXY_DATA="$T/mirror"
start_modproxy --offline --sumdb "$SUMDB_KEY"
switch_to go1.27.3 "$T/offline.out" || fail "GOTOOLCHAIN=go1.27.3 offline: $(cat "$T/offline.out")"
assert_contains "$(cat "$T/offline.out")" "go version go1.27.3 $PLAT_SLASH" "from the offline mirror"
explained go1.27.2 "$TC@v0.0.1-go1.27.2.$PLAT: not in this mirror" \
  "To add it, on a connected machine: modproxy export -o BUNDLE --toolchain go1.27.2 --platform $PLAT_SLASH"
stop_modproxy
echo "PASS core_toolchain"
