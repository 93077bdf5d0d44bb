#!/usr/bin/env bash
# real_graph.sh: modproxy in front of the machine's real module proxy, with
# --verify-sumdb against the machine's real checksum database (reached
# through the proxy's /sumdb/ when it is not reachable directly), on the
# checked-in project tests/data/realgraph (popular libraries, a realistic
# graph). Through modproxy, compared with the same commands against the
# proxy directly:
#   1. `go mod download -json all`, empty module cache: every Sum and
#      GoModSum equal to the checked-in go.sum, no error, and every version
#      checked against the database's signed record (held in the store);
#   2. `go list -deps ./...` (every package the build loads, from the
#      module sources) and `go list -m -u all`: identical output;
#   3. the packages again with modproxy's upstream unreachable (same data
#      directory, empty client cache): served from modproxy's cache alone;
#   4. `go get -u ./...` (and an upgrade of one held-back requirement):
#      identical output, go.mod and go.sum;
#   5. the air-gap loop from modproxy's store alone (upstream and checksum
#      database unreachable): the project exported by directory without its
#      go.sum holds exactly the go.mod files the go command's go.sum names
#      (the pruned module graph Go 1.17+ loads), and the zips of its
#      requirements; exported with its go.sum, signed, as one .tar.zst; an
#      --offline modproxy fails the build before the import and, after
#      `import --trust`, serves `go list -deps ./...`, `go list -m all` and
#      `go mod verify` to an empty module cache. FIGURES: the bundle's size
#      and files, the export and import times.
# Traffic: one cold download of the graph through modproxy, the direct
# side's build and queries sharing one module cache, sequential. Fails (does
# not skip) when the machine's proxy cannot be reached.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/real_lib.bash"

t0=$SECONDS
step() { echo "real_graph: $* ($((SECONDS - t0)) s)"; }

start_modproxy --upstream "$REAL_PROXY" --sumdb "$REAL_SUMDB" --verify-sumdb
VIA_MOD="$T/via-mod" DIRECT_MOD="$T/direct-mod"
real_project "$T/via"
real_project "$T/direct"

# ---- 1. go mod download -json all, cold --------------------------------
cd "$T/via"
real_go "$PROXY_URL" "$VIA_MOD" mod download -json all >"$T/download.json" 2>"$T/download.err" ||
  fail "go mod download all through modproxy failed: $(tail -n 20 "$T/download.err")"
step "cold go mod download all through modproxy"
python3 - "$T/download.json" "$REAL_GRAPH/go.sum" >"$T/download.check" <<'PY' ||
import json, sys
text = open(sys.argv[1]).read()
dec, pos, mods = json.JSONDecoder(), 0, []
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos < len(text):
        obj, pos = dec.raw_decode(text, pos)
        mods.append(obj)
sums = {}
for line in open(sys.argv[2]):
    mod, ver, h = line.split()
    sums[(mod, ver)] = h
bad = []
for m in mods:
    if m.get("Error"):
        bad.append("%s@%s: %s" % (m["Path"], m["Version"], m["Error"]))
        continue
    for field, ver in (("Sum", m["Version"]), ("GoModSum", m["Version"] + "/go.mod")):
        want = sums.get((m["Path"], ver))
        if m.get(field) != want:
            bad.append("%s@%s: %s %s, go.sum has %s" % (m["Path"], m["Version"], field, m.get(field), want))
for b in bad:
    print(b)
print("%d modules" % len(mods), file=sys.stderr)
sys.exit(1 if bad or not mods else 0)
PY
  fail "go mod download all through modproxy disagrees with go.sum: $(head -n 10 "$T/download.check")"
nmods=$(grep -c '"Path"' "$T/download.json")
((nmods >= 100)) || fail "only $nmods modules downloaded; the graph has more"
# Each version's go.mod and zip was checked against the database before it
# was stored: its lookup (kept only once its note verified with the key) is
# in the store.
name=${REAL_SUMDB%% *}
name=${name%%+*}
lookups=$(sqlite3 "$MODPROXY_DATA/modproxy.db" "SELECT count(*) FROM sumdb_cache WHERE db = '$name' AND path LIKE 'lookup/%'")
((lookups >= nmods)) || fail "modproxy holds $lookups checked lookups of $name for $nmods downloaded modules: --verify-sumdb did not check them"
! grep -q '"status":502' "$MODPROXY_LOG" || fail "modproxy answered 502: $(grep '"status":502' "$MODPROXY_LOG" | head -n 3)"

# ---- 2. go list -deps ./... and go list -m -u all, through modproxy and direct
# (not go build: compiling the graph, minutes of CPU, would check the
# compiler; the packages' sources, checked against go.sum, are what a proxy
# serves)
# compare WHAT CMD...: the command's status and output, via then direct
# (without "go: downloading" lines: the two module caches hold different
# things at first).
compare() {
  local what=$1 rc_via=0 rc_direct=0
  shift
  (cd "$T/via" && real_go "$PROXY_URL" "$VIA_MOD" "$@") 2>&1 | grep -v '^go: downloading ' >"$T/$what.via" || rc_via=${PIPESTATUS[0]}
  (cd "$T/direct" && real_go "$REAL_PROXY" "$DIRECT_MOD" "$@") 2>&1 | grep -v '^go: downloading ' >"$T/$what.direct" || rc_direct=${PIPESTATUS[0]}
  assert_eq "$rc_via" "$rc_direct" "$what: exit status through modproxy vs direct (via: $(tail -n 5 "$T/$what.via"))"
  COMPARE_RC=$rc_via
  diff -u "$T/$what.direct" "$T/$what.via" >"$T/$what.diff" ||
    fail "$what: output through modproxy differs from direct: $(head -n 20 "$T/$what.diff")"
}
compare deps list -deps ./...
assert_eq "$COMPARE_RC" 0 "go list -deps ./...: exit status"
(($(grep -c '\.' "$T/deps.via") >= 200)) || fail "go list -deps ./...: $(wc -l <"$T/deps.via") packages"
step "go list -deps ./... through modproxy and direct ($(wc -l <"$T/deps.via") packages)"
compare list-u list -m -u all
assert_eq "$COMPARE_RC" 0 "go list -m -u all: exit status"
(($(wc -l <"$T/list-u.via") >= 100)) || fail "go list -m -u all: $(wc -l <"$T/list-u.via") lines"
step "go list -m -u all through modproxy and direct"

# ---- 3. the packages from modproxy's cache, its upstream unreachable -----
stop_modproxy
dead="http://127.0.0.1:$(_free_port)"
start_modproxy --upstream "$dead" --sumdb "$REAL_SUMDB" --verify-sumdb
(cd "$T/via" && real_go "$PROXY_URL" "$T/cached-mod" list -deps ./...) >"$T/cached.out" 2>"$T/cached.err" ||
  fail "go list -deps ./... from modproxy's cache (upstream unreachable) failed: $(tail -n 20 "$T/cached.err")"
diff -u "$T/deps.via" "$T/cached.out" || fail "go list -deps ./... from the cache: output differs"
step "go list -deps ./... from modproxy's cache, upstream unreachable"
stop_modproxy

# ---- 4. go get -u ./... through modproxy and direct ----------------------
start_modproxy --upstream "$REAL_PROXY" --sumdb "$REAL_SUMDB" --verify-sumdb
# go get -u ./... may fail alike on both sides (an upgrade whose go line
# needs a newer Go than this one, with GOTOOLCHAIN=local): what matters is
# that modproxy changes nothing. Then one requirement, held back on both
# sides by an edit, is upgraded, which must work.
REAL_GOFLAGS= compare get-u get -u ./...
for d in via direct; do (cd "$T/$d" && "$GO" mod edit -require=github.com/google/uuid@v1.5.0); done
REAL_GOFLAGS= compare get-uuid get github.com/google/uuid@latest
assert_eq "$COMPARE_RC" 0 "go get github.com/google/uuid@latest: exit status"
grep -q 'github.com/google/uuid v1.5.0' "$T/via/go.mod" &&
  fail "go get github.com/google/uuid@latest: not upgraded from v1.5.0"
diff -u "$T/direct/go.mod" "$T/via/go.mod" || fail "go get -u ./...: go.mod through modproxy differs from direct"
diff -u "$T/direct/go.sum" "$T/via/go.sum" || fail "go get -u ./...: go.sum through modproxy differs from direct"
step "go get -u ./... through modproxy and direct ($(diff "$REAL_GRAPH/go.mod" "$T/via/go.mod" | grep -c '^>') go.mod lines changed)"

# ---- 5. the air-gap loop, from modproxy's store alone --------------------
stop_modproxy
connected=$MODPROXY_DATA
offline_export() { # OUT DIR: export DIR from the store alone
  "$TEST_MODPROXY_BIN" export --data "$connected" --upstream "$dead" --sumdb "${REAL_SUMDB%% *} $dead" \
    "${@:3}" -o "$1" "$2" >"$1.out" 2>"$1.log" ||
    fail "export of $2 from modproxy's store: $(tail -n 20 "$1.out" "$1.log")"
}
# The pruned graph: what the export walks from go.mod alone is what the go
# command loaded (its go.sum's /go.mod lines), not the ~4,900 versions the
# whole graph names.
real_project "$T/nosum"
rm "$T/nosum/go.sum"
offline_export "$T/nosum.bundle" "$T/nosum"
python3 - "$T/nosum.bundle/modproxy-bundle.txt" "$REAL_GRAPH/go.sum" "$REAL_GRAPH/go.mod" >"$T/nosum.check" <<'PY' ||
import re, sys
got = {tuple(l.split()[1:3]) for l in open(sys.argv[1]) if l.startswith("sum ")}
want = {tuple(l.split()[:2]) for l in open(sys.argv[2])}
reqs = set(re.findall(r"^\t(\S+) (v\S+)", open(sys.argv[3]).read(), re.M))
mods = lambda s: {k for k in s if k[1].endswith("/go.mod")}
for k in sorted(mods(want) - mods(got)):
    print("missing %s %s" % k)
for k in sorted(mods(got) - mods(want)):
    print("extra %s %s" % k)
for k in sorted(reqs - got):
    print("missing the zip of requirement %s %s" % k)
print("%d go.mod files, %d zips" % (len(mods(got)), len(got - mods(got))))
sys.exit(1 if (mods(want) ^ mods(got)) or (reqs - got) or len(reqs) < 50 else 0)
PY
  fail "the export of go.mod alone is not the go command's pruned graph: $(head -n 10 "$T/nosum.check")"
step "export by directory without go.sum: $(tail -n 1 "$T/nosum.check"), as the go command's go.sum"

real_project "$T/air"
"$TEST_MODPROXY_BIN" keygen site -o "$T/site" >"$T/keygen.out" 2>&1 || fail "keygen: $(cat "$T/keygen.out")"
s0=$(date +%s.%N)
offline_export "$T/air.tar.zst" "$T/air" --sign "$T/site.key"
s1=$(date +%s.%N)
MODPROXY_DATA="$T/air-data"
start_modproxy --offline --sumdb "$REAL_SUMDB"
(cd "$T/air" && real_go "$PROXY_URL" "$T/air-mod0" list -deps ./...) >"$T/air0.out" 2>&1 &&
  fail "the offline go list -deps passed before the import"
assert_contains "$(cat "$T/air0.out")" "not in this mirror"
s2=$(date +%s.%N)
"$TEST_MODPROXY_BIN" import --data "$T/air-data" --sumdb "$REAL_SUMDB" --trust "$T/site.pub" \
  "$T/air.tar.zst" >"$T/import.out" 2>&1 || fail "import --trust: $(tail -n 20 "$T/import.out")"
s3=$(date +%s.%N)
(cd "$T/air" && real_go "$PROXY_URL" "$T/air-mod" list -deps ./... >"$T/air.deps" &&
  real_go "$PROXY_URL" "$T/air-mod" list -m all >"$T/air.list" &&
  real_go "$PROXY_URL" "$T/air-mod" mod verify) >"$T/air.out" 2>&1 ||
  fail "offline go list -deps ./..., go list -m all and go mod verify after the import: $(tail -n 20 "$T/air.out")"
diff -u "$T/deps.via" "$T/air.deps" || fail "offline go list -deps ./...: output differs from online"
assert_contains "$(cat "$T/air.out")" "all modules verified"
assert_eq "$(cat "$T/air.list")" "$(awk '{print $1 ($2 == "" ? "" : " " $2)}' "$T/list-u.via")" \
  "offline go list -m all against the online build list"
printf 'FIGURES real graph .tar.zst: %d bytes, %d files, export %.1f s, import %.1f s\n' \
  "$(stat -c %s "$T/air.tar.zst")" "$(tar --zstd -tf "$T/air.tar.zst" | wc -l)" \
  "$(echo "$s1 - $s0" | bc)" "$(echo "$s3 - $s2" | bc)"
step "the air-gap loop: export from the store, import --trust, offline packages, list and verify"
echo "PASS ($((SECONDS - t0)) s)"
