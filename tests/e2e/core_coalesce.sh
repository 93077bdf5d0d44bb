#!/usr/bin/env bash
# core_coalesce.sh: 100 concurrent requests for one uncached object reach the
# (slow) upstream exactly once, and all 100 clients get the same, correct
# bytes. Checked for a .zip, a .mod and a @v/list.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
start_upstream "$T/tree" -delay 500ms
start_modproxy --upstream "$UPSTREAM_URL"

N=100

# coalesce PATH: PATH is uncached; N concurrent GETs -> one upstream request.
coalesce() {
  local p=$1 out="$T/fetch.out" rc=0
  assert_eq "$(upstream_hits "^${p//./\\.}\$")" 0 "$p requested upstream before the test"
  "$TOOLS/fetchmany" -n "$N" -url "$PROXY_URL$p" -o "$T/body" >"$out" 2>"$T/fetch.err" || rc=$?
  ((rc == 0)) || fail "fetchmany $p failed ($rc):"$'\n'"$(cat "$out" "$T/fetch.err")"
  grep -qx "status_200=$N" "$out" || fail "$p: not $N x 200:"$'\n'"$(cat "$out")"
  grep -qx "distinct_bodies=1" "$out" || fail "$p: bodies differ:"$'\n'"$(cat "$out")"
  # The one body is the upstream's.
  local want
  want=$(sha256sum <"$T/tree$p" | cut -d' ' -f1)
  grep -qx "sha256=$want" "$out" || fail "$p: body is not the upstream's:"$'\n'"$(cat "$out")"
  cmp -s "$T/body" "$T/tree$p" || fail "$p: body differs from the upstream file"
  local hits
  hits=$(upstream_hits "^${p//./\\.}\$")
  assert_eq "$hits" 1 "upstream requests for $p after $N concurrent GETs"
}

# Distinct modules, so that one fetch cannot warm the cache for another.
coalesce /rsc.io/quote/@v/v1.5.2.zip
coalesce /rsc.io/sampler/@v/v1.3.0.mod
coalesce /golang.org/x/text/@v/list

# A big zip (several MiB, more than the memory cache takes per entry and
# more than one write chunk): one upstream request, identical bodies.
make_big_module() { # TREE MODULE SIZE_BYTES: a module v1.0.0 with one big random file
  python3 - "$@" <<'PY'
import json, os, sys, zipfile
tree, mod, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = os.path.join(tree, mod, "@v")
os.makedirs(d, exist_ok=True)
open(os.path.join(d, "list"), "w").write("v1.0.0\n")
open(os.path.join(d, "v1.0.0.info"), "w").write(json.dumps({"Version": "v1.0.0", "Time": "2020-01-02T03:04:05Z"}))
open(os.path.join(d, "v1.0.0.mod"), "w").write(f"module {mod}\n")
with zipfile.ZipFile(os.path.join(d, "v1.0.0.zip"), "w", zipfile.ZIP_STORED) as z:
    z.writestr(f"{mod}@v1.0.0/go.mod", f"module {mod}\n")
    z.writestr(f"{mod}@v1.0.0/data.bin", os.urandom(size))
PY
}
make_big_module "$T/tree" example.com/big $((3 * 1024 * 1024 + 12345))
N=30 coalesce /example.com/big/@v/v1.0.0.zip

# Spellings of one object are one object: the go command's %21 encoding and
# a literal "!" arrive together, the upstream is asked once.
p1=/rsc.io/%21q%21u%21o%21t%21e/@v/v1.5.2.zip
p2='/rsc.io/!q!u!o!t!e/@v/v1.5.2.zip'
"$TOOLS/fetchmany" -n 50 -url "$PROXY_URL$p1" >"$T/enc1.out" 2>&1 &
f1=$!
"$TOOLS/fetchmany" -n 50 -url "$PROXY_URL$p2" >"$T/enc2.out" 2>&1 &
f2=$!
wait "$f1" || fail "fetchmany $p1: $(cat "$T/enc1.out")"
wait "$f2" || fail "fetchmany $p2: $(cat "$T/enc2.out")"
assert_eq "$(grep '^sha256=' "$T/enc1.out")" "$(grep '^sha256=' "$T/enc2.out")" "bodies of both spellings"
assert_eq "$(upstream_hits '!q!u!o!t!e/@v/v1\.5\.2\.zip$')" 1 "upstream requests for both spellings of one zip"

# Not-found answers coalesce too (bodies differ: each names its request id).
NF=/example.com/nothing/here/@v/list
"$TOOLS/fetchmany" -n "$N" -status 404 -url "$PROXY_URL$NF" >"$T/nf.out" 2>"$T/nf.err" || true
grep -qx "status_404=$N" "$T/nf.out" || fail "$NF: not $N x 404:"$'\n'"$(cat "$T/nf.out")"
assert_eq "$(upstream_hits "^${NF//./\\.}\$")" 1 "upstream requests for $N concurrent not-found requests"

# Once cached, another burst does not reach the upstream at all.
before=$(wc -l <"$UPSTREAM_LOG")
"$TOOLS/fetchmany" -n "$N" -url "$PROXY_URL/rsc.io/quote/@v/v1.5.2.zip" >"$T/again.out" ||
  fail "cached burst failed: $(cat "$T/again.out")"
assert_eq "$(wc -l <"$UPSTREAM_LOG")" "$before" "upstream requests for a cached zip"

# The client that caused the fetch goes away: the others still get the
# object, and it is fetched once.
Z=/rsc.io/sampler/@v/v1.2.0.zip
curl -s -o /dev/null --max-time 0.2 "$PROXY_URL$Z" || true # gives up during the 500 ms delay
frc=0
"$TOOLS/fetchmany" -n 20 -url "$PROXY_URL$Z" -o "$T/body" >"$T/abort.out" 2>&1 || frc=$?
sleep 0.2
if ! _alive "$MODPROXY_PID"; then
  rc=0
  wait "$MODPROXY_PID" || rc=$?
  fail "modproxy died (exit status $rc) after the client that caused a fetch went away"
fi
((frc == 0)) || fail "after the first client went away: $(cat "$T/abort.out")"
cmp -s "$T/body" "$T/tree$Z" || fail "after the first client went away: body differs"
assert_eq "$(upstream_hits "^${Z//./\\.}\$")" 1 "upstream requests after the first client went away"

stop_modproxy
echo "PASS core_coalesce"
