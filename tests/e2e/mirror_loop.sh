#!/usr/bin/env bash
# The air-gapped site's loop (issue 18), with checksum verification on:
#  1. a connected modproxy serves `go mod tidy` of the site's projects: an
#     app (rsc.io/quote and rsc.io/quote/v3, with a test) and a workspace
#     (go.work with two modules, one using the other);
#  2. the offline mirror holds an older bundle (rsc.io/quote alone): the
#     app's build fails there with "not in this mirror", and so does a new
#     import's `go mod tidy`; the mirror's content is past
#     --offline-stale-after: /readyz warns (and stays ready), /diag/mirror
#     and /metrics say how old it is;
#  3. `modproxy missing` lists what the builds needed, not the go command's
#     path-prefix probes; /diag/mirror shows the same list and links it;
#  4. `modproxy export --from` that list on the connected side, signed
#     with the site's key (`modproxy keygen`), as one .tar.zst file;
#     `modproxy import --trust` of the site's public key on the offline side
#     (beside the running mirror);
#  5. the same build passes offline with an empty module cache: go build,
#     go mod tidy, go test all, go mod verify; the new import's tidy too;
#     the list is now empty;
#  6. the workspace, exported by directory, builds offline;
#  7. a go.sum line that disagrees with the module fails the export before
#     anything is written, naming the line and the fix.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

corpus_with_sumdb
wsgo() { # wsgo WORKSPACE ARGS...: the go command in workspace mode
  local GOCMD_ENV=(GOWORK="$1/go.work" GOFLAGS=)
  shift
  gocmd "$@"
}
empty_modcache() { # no module (nor checksum database) cache; the build cache stays
  chmod -R u+w "$T/gopath" 2>/dev/null || true
  rm -rf "$T/gopath"
}
export_cmd() { # export with the connected store and upstream
  "$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream "$UPSTREAM_URL" \
    --sumdb "$SUMDB_KEY $SUMDB_URL" "$@"
}

# ---- 1. connected: the projects as their developers made them --------------------
MODPROXY_DATA="$T/connected"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL"
project_module "$T/old"
mkdir -p "$T/app"
cat >"$T/app/go.mod" <<'EOF'
module example.com/app

go 1.21
EOF
cat >"$T/app/main.go" <<'EOF'
package main

import (
	"fmt"

	"rsc.io/quote"
	quotev3 "rsc.io/quote/v3"
)

func main() { fmt.Println(quote.Hello(), quotev3.HelloV3()) }
EOF
cat >"$T/app/main_test.go" <<'EOF'
package main

import "testing"

func TestMain(t *testing.T) {}
EOF
mkdir -p "$T/ws/lib" "$T/ws/cmd"
printf 'go 1.21\n\nuse (\n\t./lib\n\t./cmd\n)\n' >"$T/ws/go.work"
printf 'module example.com/lib\n\ngo 1.21\n' >"$T/ws/lib/go.mod"
cat >"$T/ws/lib/lib.go" <<'EOF'
package lib

import "rsc.io/quote"

func Hello() string { return quote.Hello() }
EOF
printf 'module example.com/cmd\n\ngo 1.21\n' >"$T/ws/cmd/go.mod"
cat >"$T/ws/cmd/main.go" <<'EOF'
package main

import (
	"fmt"

	"example.com/lib"
	quotev3 "rsc.io/quote/v3"
)

func main() { fmt.Println(lib.Hello(), quotev3.HelloV3()) }
EOF
(cd "$T/old" && gocmd mod tidy) >"$T/online.out" 2>&1 || fail "online tidy: $(cat "$T/online.out")"
(cd "$T/app" && gocmd mod tidy && gocmd build ./...) >"$T/online.out" 2>&1 ||
  fail "online tidy of the app: $(cat "$T/online.out")"
(cd "$T/ws/lib" && gocmd mod tidy) >"$T/online.out" 2>&1 || fail "online tidy of lib: $(cat "$T/online.out")"
# The workspace's other module requires lib through the workspace: the go
# command records its checksums in go.work.sum.
(cd "$T/ws/cmd" && wsgo "$T/ws" get rsc.io/quote/v3@v3.0.0 &&
  cd "$T/ws" && wsgo "$T/ws" build ./lib/... ./cmd/...) >"$T/online.out" 2>&1 ||
  fail "online workspace: $(cat "$T/online.out")"
stop_modproxy
# A connected modproxy keeps no miss list: its misses went to the upstream.
assert_eq "$(sqlite3 -readonly "$T/connected/modproxy.db" 'SELECT count(*) FROM misses')" 0 \
  "misses recorded by the connected modproxy"

# ---- 2. offline: an older bundle, a build that needs more -------------------------
export_cmd -o "$T/b1" "$T/old" >"$T/b1.out" 2>&1 || fail "first export: $(cat "$T/b1.out")"
"$TEST_MODPROXY_BIN" import --data "$T/mirror" --sumdb "$SUMDB_KEY" "$T/b1" >"$T/i1.out" 2>&1 ||
  fail "first import: $(cat "$T/i1.out")"
sleep 2 # the content is then older than --offline-stale-after 1s
MODPROXY_DATA="$T/mirror"
start_modproxy --offline --sumdb "$SUMDB_KEY" --offline-stale-after 1s
empty_modcache
mkdir -p "$T/off/app" "$T/off/new"
cp "$T/app/go.mod" "$T/app/go.sum" "$T/app"/*.go "$T/off/app/"
err=$(cd "$T/off/app" && gocmd build ./... 2>&1) && fail "the offline build passed without rsc.io/quote/v3"
assert_contains "$err" "not in this mirror"
# A developer adds an import and runs tidy: the go command also asks for the
# path's prefix (example.com), which is no module.
printf 'module example.com/new\n\ngo 1.21\n' >"$T/off/new/go.mod"
printf 'package new\n\nimport _ "example.com/version"\n' >"$T/off/new/new.go"
err=$(cd "$T/off/new" && gocmd mod tidy 2>&1) && fail "offline tidy passed without example.com/version"
code=$(curl -s -o "$T/ready" -w '%{http_code}' "$PROXY_URL/readyz")
assert_eq "$code" 200 "/readyz of a stale mirror"
assert_contains "$(cat "$T/ready")" "warning: the mirror's content was taken"
assert_contains "$(curl -s "$PROXY_URL/readyz?format=json")" '"warnings":["the mirror'
assert_contains "$(curl -s "$PROXY_URL/diag/mirror")" "over --offline-stale-after"
metrics=$(curl -s "$PROXY_URL/metrics")
grep -q '^modproxy_mirror_content_age_seconds [1-9]' <<<"$metrics" ||
  fail "no content age metric: $(grep mirror <<<"$metrics")"

# ---- 3. what the builds needed ------------------------------------------------------
wants_of() { grep -v '^#' "$1" | cut -d' ' -f1 | sort; }
for ((i = 0; i < 50; i++)); do # the records reach the store within a second
  "$TEST_MODPROXY_BIN" missing --data "$T/mirror" -o "$T/wants.txt" 2>/dev/null
  grep -q '^example.com/version@' "$T/wants.txt" && break
  sleep 0.2
done
# (The request log is written once a second too.)
grep -q '"target":"/example.com/@v/list"' "$MODPROXY_LOG" ||
  fail "the go command asked for no prefix of example.com/version: $(grep -o '"target":"[^"]*"' "$MODPROXY_LOG")"
assert_eq "$(wants_of "$T/wants.txt")" $'example.com/version@latest\nrsc.io/quote/v3@v3.0.0' "modproxy missing"
grep -q '^rsc.io/quote/v3@v3.0.0 # asked [0-9]* times\?, first 20' "$T/wants.txt" ||
  fail "no counts and times: $(cat "$T/wants.txt")"
"$TEST_MODPROXY_BIN" missing --data "$T/mirror" --since 1h -o - >"$T/since.txt"
assert_eq "$(wants_of "$T/since.txt")" "$(wants_of "$T/wants.txt")" "missing --since 1h"
"$TEST_MODPROXY_BIN" missing --data "$T/mirror" --since 2099-01-01 -o - >"$T/since.txt"
assert_eq "$(wants_of "$T/since.txt")" "" "missing --since a future date"
diag=$(curl -s "$PROXY_URL/diag/mirror")
assert_contains "$diag" "download: /diag/mirror/missing.txt"
assert_contains "$diag" "rsc.io/quote/v3@v3.0.0 # asked"
curl -s "$PROXY_URL/diag/mirror/missing.txt" >"$T/served.txt"
assert_eq "$(wants_of "$T/served.txt")" "$(wants_of "$T/wants.txt")" "/diag/mirror/missing.txt"
assert_contains "$(curl -s "$PROXY_URL/diag/mirror?format=json")" '"missing":[{"want":"example.com/version@latest"'

# ---- 4. the list goes out, a signed bundle in one file comes back -------------------------
"$TEST_MODPROXY_BIN" keygen site -o "$T/site" >"$T/keygen.out" 2>&1 || fail "keygen: $(cat "$T/keygen.out")"
t0=$(date +%s.%N)
export_cmd --from "$T/wants.txt" --sign "$T/site.key" -o "$T/b2.tar.zst" >"$T/b2.out" 2>"$T/b2.log" ||
  fail "export --from: $(cat "$T/b2.log")"
t1=$(date +%s.%N)
assert_contains "$(cat "$T/b2.out")" "signed by site+"
tar --zstd -tf "$T/b2.tar.zst" >"$T/b2.members" || fail "tar cannot list the bundle"
printf 'FIGURES export --from: %d files, %d bytes, %.2f s\n' "$(wc -l <"$T/b2.members")" \
  "$(stat -c %s "$T/b2.tar.zst")" "$(echo "$t1 - $t0" | bc)"
for f in modproxy-bundle.sig rsc.io/quote/v3/@v/v3.0.0.zip example.com/version/@v/v1.1.0.zip \
  rsc.io/sampler/@v/v1.3.0.mod; do
  grep -qx "$f" "$T/b2.members" || fail "the bundle of the wants lacks $f"
done
t0=$(date +%s.%N)
"$TEST_MODPROXY_BIN" import --data "$T/mirror" --sumdb "$SUMDB_KEY" --trust "$T/site.pub" \
  "$T/b2.tar.zst" >"$T/i2.out" 2>&1 || fail "import --trust: $(cat "$T/i2.out")"
t1=$(date +%s.%N)
printf 'FIGURES import: %.2f s\n' "$(echo "$t1 - $t0" | bc)"

# ---- 5. the same builds pass offline -------------------------------------------------------
empty_modcache
# go test all, without the standard library's own tests (minutes of
# runtime tests, and no module to fetch): every other package of all.
(cd "$T/off/app" && gocmd build ./... && gocmd mod tidy &&
  gocmd test $(gocmd list -f '{{if not .Standard}}{{.ImportPath}}{{end}}' all) &&
  gocmd mod verify) >"$T/off.out" 2>&1 || fail "offline app after the import: $(cat "$T/off.out")"
grep -qE "^ok[[:space:]]+rsc\.io/quote[[:space:]]" "$T/off.out" || fail "the tests of rsc.io/quote did not run offline: $(cat "$T/off.out")"
assert_contains "$(cat "$T/off.out")" "all modules verified"
cmp -s "$T/app/go.sum" "$T/off/app/go.sum" || fail "offline tidy changed go.sum: $(diff "$T/app/go.sum" "$T/off/app/go.sum")"
(cd "$T/off/new" && gocmd mod tidy && gocmd build ./...) >"$T/off.out" 2>&1 ||
  fail "offline tidy of the new import: $(cat "$T/off.out")"
"$TEST_MODPROXY_BIN" missing --data "$T/mirror" -o "$T/wants2.txt" 2>/dev/null
assert_eq "$(wants_of "$T/wants2.txt")" "" "missing after the import"

# ---- 6. a workspace, by directory ------------------------------------------------------
export_cmd -o "$T/b3" "$T/ws" >"$T/b3.out" 2>"$T/b3.log" || fail "export of the workspace: $(cat "$T/b3.log")"
grep -q "^root go.work $T/ws/go.work (2 modules)" "$T/b3/modproxy-bundle.txt" ||
  fail "the manifest names no workspace: $(grep '^root' "$T/b3/modproxy-bundle.txt")"
stop_modproxy
# A mirror that has only the workspace's bundle.
"$TEST_MODPROXY_BIN" import --data "$T/wsmirror" --sumdb "$SUMDB_KEY" "$T/b3" >"$T/i3.out" 2>&1 ||
  fail "import of the workspace bundle: $(cat "$T/i3.out")"
MODPROXY_DATA="$T/wsmirror"
start_modproxy --offline --sumdb "$SUMDB_KEY"
# Without --offline-stale-after, no warning however old the content.
assert_eq "$(curl -s "$PROXY_URL/readyz")" $'ready\nstore: writable' "/readyz without --offline-stale-after"
empty_modcache
cp -R "$T/ws" "$T/off/ws"
(cd "$T/off/ws" && wsgo "$T/off/ws" build ./lib/... ./cmd/... &&
  wsgo "$T/off/ws" mod verify) >"$T/off.out" 2>&1 ||
  fail "offline workspace build: $(cat "$T/off.out")"
stop_modproxy

# ---- 7. a go.sum line that disagrees ---------------------------------------------------------
mkdir -p "$T/bad" && cp "$T/app/go.mod" "$T/app/go.sum" "$T/app"/*.go "$T/bad/"
line=$(grep -n '^rsc.io/quote/v3 v3.0.0 h1:' "$T/bad/go.sum" | cut -d: -f1)
sed -i 's|^rsc.io/quote/v3 v3.0.0 h1:.*|rsc.io/quote/v3 v3.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=|' "$T/bad/go.sum"
rc=0
export_cmd -o "$T/b4" "$T/bad" >"$T/b4.out" 2>"$T/b4.log" || rc=$?
assert_eq "$rc" 1 "export with a go.sum line that disagrees"
assert_contains "$(cat "$T/b4.log")" "$T/bad/go.sum:$line: rsc.io/quote/v3 v3.0.0 has h1:AAAA"
assert_contains "$(cat "$T/b4.log")" "nothing was written"
assert_contains "$(cat "$T/b4.log")" "go mod tidy"
[[ ! -e $T/b4 ]] || fail "a bundle was written"
compgen -G "$T/b4.partial-*" >/dev/null && fail "a partial bundle was left"

# ---- 8. everything the connected store holds, narrowed --------------------------------
export_cmd --all --match rsc.io/quote -o "$T/b5" >"$T/b5.out" 2>"$T/b5.log" || fail "export --all: $(cat "$T/b5.log")"
for f in rsc.io/quote/@v/v1.5.2.zip rsc.io/quote/v3/@v/v3.0.0.zip rsc.io/sampler/@v/v1.3.0.mod; do
  [[ -f $T/b5/$f ]] || fail "export --all --match rsc.io/quote lacks $f"
done
[[ ! -e $T/b5/example.com ]] || fail "export --all --match rsc.io/quote has example.com/version"
rc=0
export_cmd --all --used-since 2099-01-01 -o "$T/b6" >"$T/b6.out" 2>"$T/b6.log" || rc=$?
assert_eq "$rc" 1 "export --all of nothing"
assert_contains "$(cat "$T/b6.log")" "the store holds no version that matches"
echo "PASS mirror_loop"
