#!/usr/bin/env bash
# The air-gapped round trip, with checksum verification on throughout:
#  1. a "connected" modproxy (upstream: the go command's module corpus; a
#     test checksum database with a key made now) serves `go mod tidy` of a
#     real project, with GOSUMDB set to that database through modproxy;
#  2. `modproxy export` writes the closure of the project's go.mod to a
#     bundle (size and time printed);
#  3. `modproxy import` fills a fresh store (twice: the second adds nothing);
#  4. a modproxy started with --offline and no upstream serves, to a go
#     command with an empty module cache and no go.sum: go mod download,
#     go build ./..., go list -m all, every module checked against the
#     checksum database through modproxy; the go.sum it writes agrees with
#     the connected one; neither the upstream nor the checksum database hear
#     from it;
#  5. the offline mirror's lists carry their snapshot time, /diag/mirror
#     says what it is, and a module it lacks is "not in this mirror" with
#     the export command; the bundle also works as GOPROXY=file://;
#  6. an incremental bundle (--since) with a module query and toolchains
#     (--toolchain, --platform) holds only what the first lacks, and
#     imports on top of it;
#  7. the offline go command's module cache imports as well.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

make_corpus_tree "$T/tree"
# golang.org/toolchain, as the go command's toolchain switching fetches it.
python3 - "$T/tree" <<'PY'
import sys, os, io, zipfile, json
root = sys.argv[1] + "/golang.org/toolchain/@v"
os.makedirs(root, exist_ok=True)
vs = []
for plat in ("linux-amd64", "darwin-arm64"):
    v = f"v0.0.1-go1.21.0.{plat}"
    vs.append(v)
    prefix = f"golang.org/toolchain@{v}/"
    open(f"{root}/{v}.info", "w").write(json.dumps({"Version": v, "Time": "2023-08-08T00:00:00Z"}))
    open(f"{root}/{v}.mod", "w").write("module golang.org/toolchain\n")
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr(prefix + "go.mod", "module golang.org/toolchain\n")
        z.writestr(prefix + "bin/go", "#!/bin/sh\necho go1.21.0 " + plat + "\n")
    open(f"{root}/{v}.zip", "wb").write(b.getvalue())
open(f"{root}/list", "w").write("".join(v + "\n" for v in sorted(vs)))
PY
start_upstream "$T/tree"
start_sumdb "$T/tree"
GOCMD_SUMDB=$SUMDB_KEY

# ---- 1. connected ----------------------------------------------------------
MODPROXY_DATA="$T/connected"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL"
project_module "$T/proj"
(cd "$T/proj" && gocmd mod tidy && gocmd build ./...) >"$T/online.out" 2>&1 ||
  fail "online go mod tidy/build: $(cat "$T/online.out")"
sort "$T/proj/go.sum" >"$T/online.sum"
[[ -s $T/online.sum ]] || fail "no go.sum online"
assert_contains "$(cat "$T/online.sum")" "rsc.io/quote v1.5.2 h1:" "online go.sum"
# modproxy proxied the checksum database and checked what it stored.
(($(sumdb_hits '^/lookup/rsc\.io/quote@v1\.5\.2$') == 1)) ||
  fail "checksum database lookups for rsc.io/quote: $(cat "$SUMDB_LOG")"
stop_modproxy

# ---- 2. export ------------------------------------------------------------------
t0=$(date +%s.%N)
"$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream "$UPSTREAM_URL" \
  --sumdb "$SUMDB_KEY $SUMDB_URL" -o "$T/bundle" "$T/proj/go.mod" \
  >"$T/export.out" 2>"$T/export.log" || fail "export: $(cat "$T/export.log")"
t1=$(date +%s.%N)
bytes=$(du -sb "$T/bundle" | cut -f1)
files=$(find "$T/bundle" -type f | wc -l)
printf 'FIGURES export: %d files, %d bytes, %.2f s\n' "$files" "$bytes" \
  "$(echo "$t1 - $t0" | bc)"
assert_contains "$(cat "$T/export.out")" "bundle $T/bundle:" "export summary"
for f in rsc.io/quote/@v/v1.5.2.zip rsc.io/sampler/@v/v1.3.0.zip \
  golang.org/x/text/@v/list rsc.io/quote/@v/list \
  "sumdb/$SUMDB_NAME/supported" "sumdb/$SUMDB_NAME/lookup/rsc.io/quote@v1.5.2"; do
  [[ -f $T/bundle/$f ]] || fail "the bundle lacks $f"
done
ls "$T/bundle/sumdb/$SUMDB_NAME/tile/8/0/" >/dev/null || fail "the bundle has no tiles"
grep -q "^sum rsc.io/quote v1.5.2 h1:" "$T/bundle/modproxy-bundle.txt" ||
  fail "the manifest lacks the zip hash of rsc.io/quote"
# A second export of the same closure into an existing directory is refused.
rc=0
"$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream off -o "$T/bundle" \
  "$T/proj/go.mod" >/dev/null 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "export onto an existing bundle"
assert_contains "$(cat "$T/err")" "already exists"

# ---- 3. import into a fresh store ----------------------------------------------
t0=$(date +%s.%N)
"$TEST_MODPROXY_BIN" import --data "$T/mirror" --sumdb "$SUMDB_KEY" "$T/bundle" \
  >"$T/import.out" 2>"$T/import.log" || fail "import: $(cat "$T/import.out" "$T/import.log")"
t1=$(date +%s.%N)
printf 'FIGURES import: %.2f s\n' "$(echo "$t1 - $t0" | bc)"
assert_contains "$(cat "$T/import.out")" "versions: 4 added, 0 already present, 0 rejected"
"$TEST_MODPROXY_BIN" import --data "$T/mirror" --sumdb "$SUMDB_KEY" "$T/bundle" \
  >"$T/import2.out" 2>&1 || fail "second import: $(cat "$T/import2.out")"
assert_contains "$(cat "$T/import2.out")" "versions: 0 added, 4 already present, 0 rejected"
assert_contains "$(cat "$T/import2.out")" "0 added, 5 already present, 0 rejected" \
  "checksum answers on the second import"

# ---- 4. offline -------------------------------------------------------------------
up_before=$(wc -l <"$UPSTREAM_LOG") db_before=$(wc -l <"$SUMDB_LOG")
MODPROXY_DATA="$T/mirror"
start_modproxy --offline --sumdb "$SUMDB_KEY"
fresh_gopath
mkdir -p "$T/off"
cp "$T/proj/go.mod" "$T/proj/hello.go" "$T/off/"
cd "$T/off"
gocmd mod download >"$T/off.out" 2>&1 || fail "offline go mod download: $(cat "$T/off.out")"
gocmd build ./... >>"$T/off.out" 2>&1 || fail "offline go build: $(cat "$T/off.out")"
list=$(gocmd list -m all 2>&1) || fail "offline go list -m all: $list"
assert_contains "$list" "rsc.io/quote v1.5.2"
assert_contains "$list" "rsc.io/sampler v1.3.0"
assert_contains "$list" "golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c"
gocmd mod verify >"$T/verify.out" 2>&1 || fail "go mod verify: $(cat "$T/verify.out")"
sort go.sum >"$T/offline.sum"
# The same hashes as online (go mod download leaves out the zip hash of a
# test-only dependency that tidy recorded).
extra=$(comm -13 "$T/online.sum" "$T/offline.sum")
[[ -z $extra ]] || fail "offline go.sum has lines the connected one lacks: $extra"
for m in "rsc.io/quote v1.5.2" "rsc.io/sampler v1.3.0" \
  "golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c"; do
  grep -q "^$m h1:" "$T/offline.sum" || fail "offline go.sum lacks $m"
done
cd "$T"
# The go command checked every module against the database, through the
# offline mirror, which answered from what it imported.
n=$(grep -c '"target":"/sumdb/'"$SUMDB_NAME"'/lookup/' "$MODPROXY_LOG" || true)
((n >= 3)) || fail "the offline mirror served $n checksum lookups"
assert_eq "$(wc -l <"$UPSTREAM_LOG")" "$up_before" "requests to the upstream from the offline mirror"
assert_eq "$(wc -l <"$SUMDB_LOG")" "$db_before" "requests to the checksum database from the offline mirror"

# ---- 5. what the mirror says about itself ------------------------------------------
hdr=$(curl -s -D - -o /dev/null "$PROXY_URL/rsc.io/quote/@v/list")
[[ $hdr == *"X-Modproxy-Snapshot: 20"* ]] || fail "no snapshot header on a list: $hdr"
assert_eq "$(curl -s "$PROXY_URL/rsc.io/quote/@v/list")" "v1.5.2" "offline list"
assert_contains "$(curl -s "$PROXY_URL/rsc.io/quote/@latest")" '"Version":"v1.5.2"' "offline @latest"
# golang.org/x/text is there only as a pseudo-version: @latest gives it, a
# list never holds one (as for the go command's proxies).
assert_eq "$(curl -s "$PROXY_URL/golang.org/x/text/@v/list")" "" "offline list of a module with only a pseudo-version"
assert_contains "$(curl -s "$PROXY_URL/golang.org/x/text/@latest")" \
  '"Version":"v0.0.0-20170915032832-14c0d48ead0c"' "offline @latest of a module with only a pseudo-version"
diag=$(curl -s "$PROXY_URL/diag/mirror")
assert_contains "$diag" "mirror: offline"
assert_contains "$diag" "content taken: 20"
assert_contains "$diag" "4 imported"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/rsc.io/fortune/@v/v1.0.0.info")
assert_eq "$code" 404 "a module the mirror lacks"
assert_contains "$(cat "$T/body")" "not in this mirror"
assert_contains "$(cat "$T/body")" "modproxy export -o BUNDLE rsc.io/fortune@v1.0.0"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/sumdb/$SUMDB_NAME/lookup/rsc.io/fortune@v1.0.0")
assert_eq "$code" 404 "a lookup the mirror lacks"
assert_contains "$(cat "$T/body")" "not in this mirror"
# The go command's error for a missing module shows the explanation.
mkdir -p "$T/miss" && cd "$T/miss" && printf 'module example.com/m\n\ngo 1.19\n' >go.mod
err=$(gocmd get rsc.io/fortune@v1.0.0 2>&1) && fail "go get of a missing module succeeded"
assert_contains "$err" "not in this mirror"
cd "$T"
assert_eq "$(wc -l <"$UPSTREAM_LOG")" "$up_before" "requests to the upstream from the offline mirror"
stop_modproxy

# ---- the bundle is a GOPROXY tree too ---------------------------------------------------
fresh_gopath
mkdir -p "$T/file" && cp "$T/proj/go.mod" "$T/proj/hello.go" "$T/file/" && cd "$T/file"
GOCMD_PROXY="file://$T/bundle" gocmd build ./... >"$T/file.out" 2>&1 ||
  fail "GOPROXY=file:// of the bundle: $(cat "$T/file.out")"

# ---- 6. an incremental bundle, with a query and toolchains -----------------------
"$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream "$UPSTREAM_URL" \
  --sumdb "$SUMDB_KEY $SUMDB_URL" --since "$T/bundle" --toolchain go1.21.0 \
  --platform linux/amd64 --platform darwin/arm64 -o "$T/inc" \
  "$T/proj/go.mod" rsc.io/quote@v1.5.1 rsc.io/quote@v1.5.3-pre1 >"$T/inc.out" 2>"$T/inc.log" ||
  fail "incremental export: $(cat "$T/inc.log")"
for f in rsc.io/quote/@v/v1.5.1.zip rsc.io/quote/@v/list \
  golang.org/toolchain/@v/v0.0.1-go1.21.0.linux-amd64.zip \
  golang.org/toolchain/@v/v0.0.1-go1.21.0.darwin-arm64.zip \
  "sumdb/$SUMDB_NAME/lookup/rsc.io/quote@v1.5.1"; do
  [[ -f $T/inc/$f ]] || fail "the incremental bundle lacks $f"
done
[[ ! -e $T/inc/rsc.io/sampler/@v/v1.3.0.zip ]] || fail "the incremental bundle repeats a zip"
base_id=$(awk '$1 == "id" {print $2}' "$T/bundle/modproxy-bundle.txt")
grep -q "^since $base_id\$" "$T/inc/modproxy-bundle.txt" ||
  fail "the incremental manifest does not name its base"
assert_eq "$(cat "$T/inc/rsc.io/quote/@v/list")" $'v1.5.1\nv1.5.2\nv1.5.3-pre1' "incremental list"
"$TEST_MODPROXY_BIN" import --data "$T/mirror" --sumdb "$SUMDB_KEY" "$T/inc" \
  >"$T/inc-import.out" 2>&1 || fail "incremental import: $(cat "$T/inc-import.out")"
assert_contains "$(cat "$T/inc-import.out")" "versions: 4 added, 0 already present, 0 rejected"
MODPROXY_DATA="$T/mirror"
start_modproxy --offline --sumdb "$SUMDB_KEY"
assert_eq "$(curl -s "$PROXY_URL/rsc.io/quote/@v/list")" $'v1.5.1\nv1.5.2\nv1.5.3-pre1' \
  "list after the incremental import"
# A newer pre-release does not make @latest: the latest release does.
assert_contains "$(curl -s "$PROXY_URL/rsc.io/quote/@latest")" '"Version":"v1.5.2"' \
  "offline @latest with a newer pre-release"
assert_eq "$(curl -s "$PROXY_URL/golang.org/toolchain/@v/list")" \
  $'v0.0.1-go1.21.0.darwin-arm64\nv0.0.1-go1.21.0.linux-amd64' "toolchain list"
stop_modproxy

# ---- 7. the offline go command's module cache ----------------------------------------
"$TEST_MODPROXY_BIN" import --data "$T/fromcache" --sumdb "$SUMDB_KEY" "$T/gopath/pkg/mod" \
  >"$T/cache-import.out" 2>&1 || fail "module cache import: $(cat "$T/cache-import.out")"
assert_contains "$(cat "$T/cache-import.out")" "(tree): versions: 3 added, 0 already present, 0 rejected"
grep -q "answers: 0 added" "$T/cache-import.out" &&
  fail "no checksum database answers from the module cache: $(cat "$T/cache-import.out")"
echo "PASS mirror_roundtrip"
