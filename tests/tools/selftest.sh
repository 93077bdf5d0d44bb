#!/usr/bin/env bash
# Self-test of the e2e test tools (no modproxy needed):
#   BUILD_DIR=/path/to/build bash tests/tools/selftest.sh
# Builds the tools, makes the corpus tree, serves it over HTTP and HTTPS and
# checks that the real go command sees the same thing as with GOPROXY=file://.
# shellcheck source=../e2e/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../e2e" && pwd)/lib.sh"

make_corpus_tree "$T/tree"
[[ -f $T/tree/rsc.io/quote/@v/v1.5.2.zip ]] || fail "corpus tree incomplete"

# go mod download / go list -m -versions, HTTP upstream vs file://.
run() { # label goproxy
  GOCMD_PROXY=$2 gocmd mod download -json rsc.io/quote@v1.5.2 rsc.io/QUOTE@v1.5.2 |
    grep -E '"(Path|Version|Sum|GoModSum)"' >"$T/$1.download"
  GOCMD_PROXY=$2 gocmd list -m -versions rsc.io/quote rsc.io/QUOTE >"$T/$1.list"
  GOCMD_PROXY=$2 gocmd list -m example.com/notags@latest >>"$T/$1.list"
  chmod -R u+w "$T/gopath" && rm -rf "$T/gopath" # fresh module cache for the next run
}
scratch_module work
start_upstream "$T/tree"
run http "$UPSTREAM_URL"
run file "file://$T/tree"
assert_eq "$(cat "$T/http.download")" "$(cat "$T/file.download")" "download http vs file"
assert_eq "$(cat "$T/http.list")" "$(cat "$T/file.list")" "list http vs file"
assert_contains "$(cat "$T/http.list")" "rsc.io/quote v1.0.0 v1.1.0 v1.2.0 v1.2.1 v1.3.0 v1.4.0 v1.5.0 v1.5.1 v1.5.2 v1.5.3-pre1"
assert_contains "$(cat "$UPSTREAM_LOG")" "/rsc.io/%21q%21u%21o%21t%21e/@v/v1.5.2.zip"
assert_eq "$(upstream_hits '^/rsc\.io/quote/@v/v1\.5\.2\.zip$')" 1

# Error handling: a zip with a file outside the module prefix.
out=$(GOCMD_PROXY=$UPSTREAM_URL gocmd mod download rsc.io/badzip@v1.0.0 2>&1) && fail "badzip accepted"
assert_contains "$out" "has unexpected file rsc.io/badzip@v1.0.0.txt"

# HTTPS with a generated certificate, trusted through SSL_CERT_FILE.
start_upstream "$T/tree" -tls-cert-out "$T/cert.pem" -delay 50ms
assert_contains "$UPSTREAM_URL" "https://127.0.0.1:"
out=$(GOCMD_PROXY=$UPSTREAM_URL gocmd list -m -versions rsc.io/quote 2>&1) && fail "untrusted cert accepted"
assert_contains "$out" "x509"
GOCMD_ENV=(SSL_CERT_FILE="$UPSTREAM_CERT")
GOCMD_PROXY=$UPSTREAM_URL gocmd mod download -json rsc.io/quote@v1.5.2 |
  grep -E '"(Path|Version|Sum|GoModSum)"' >"$T/https.download"
# shellcheck disable=SC2034
GOCMD_ENV=()
assert_eq "$(grep -A3 '"rsc.io/quote"' "$T/https.download")" "$(grep -A3 '"rsc.io/quote"' "$T/file.download")" "https vs file"

# fetchmany: identical bodies, and failure injection is detected.
out=$(SSL_CERT_FILE=$UPSTREAM_CERT "$TOOLS/fetchmany" -n 50 -url "$UPSTREAM_URL/rsc.io/quote/@v/v1.5.2.zip")
assert_contains "$out" "status_200=50"
assert_contains "$out" "sha256=$(sha256sum <"$T/tree/rsc.io/quote/@v/v1.5.2.zip" | cut -d' ' -f1)"
start_upstream "$T/tree" -fail-every 5 -fail-status 503
out=$("$TOOLS/fetchmany" -n 20 -url "$UPSTREAM_URL/rsc.io/quote/@v/list") && fail "fetchmany missed failures"
assert_contains "$out" "status_503=4"

echo "selftest: OK"
