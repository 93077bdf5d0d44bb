#!/usr/bin/env bash
# ops_fsck.sh: `modproxy fsck` finds files damaged on purpose in the
# database (32 bytes of garbage written into a zip's bytes with the sqlite3
# command, a .mod replaced) while modproxy serves; --dry-run reports them
# and exits 4; fsck quarantines them and exits 1; the serving modproxy
# forgets its in-memory copy within seconds, so the next request fetches
# the zip again and the go command gets the original bytes (its hashes
# match those of the first download); a second fsck finds nothing.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 command is needed"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
export MODPROXY_DATA="$T/data"
DB=$MODPROXY_DATA/modproxy.db
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "$@"; }
ZIP=rsc.io/quote/@v/v1.5.2.zip
start_modproxy --upstream "$UPSTREAM_URL"

scratch_module
gocmd mod download -json rsc.io/quote@v1.5.2 rsc.io/sampler@v1.3.0 >"$T/first.json"
sum_of() { # module: its "Sum" in a go mod download -json output
  python3 -c 'import json,sys
dec = json.JSONDecoder(); s = open(sys.argv[1]).read(); i = 0
while i < len(s):
    while i < len(s) and s[i].isspace(): i += 1
    if i >= len(s): break
    o, i = dec.raw_decode(s, i)
    if o["Path"] == sys.argv[2]: print(o["Sum"], o["GoModSum"])' "$1" "$2"
}
want=$(sum_of "$T/first.json" rsc.io/quote)
[[ $want == h1:* ]] || fail "go mod download printed no Sum"
out=$("$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA")
assert_contains "$out" "0 damaged, 0 quarantined"

# ---- damage ------------------------------------------------------------------
id=$(sql "SELECT id FROM versions WHERE module = 'rsc.io/quote' AND version = 'v1.5.2'")
sql "SELECT writefile('$T/chunk', data) FROM zip_chunks WHERE version_id = $id AND seq = 0" >/dev/null
head -c 32 /dev/urandom | dd of="$T/chunk" bs=1 seek=600 conv=notrunc status=none
sql "UPDATE zip_chunks SET data = readfile('$T/chunk') WHERE version_id = $id AND seq = 0"
sql "UPDATE versions SET mod = CAST('module evil.example/sampler' AS BLOB)
     WHERE module = 'rsc.io/sampler' AND version = 'v1.3.0'"
# A restarted server (nothing in memory) now serves the damage: that is
# what fsck is for.
stop_modproxy
start_modproxy --upstream "$UPSTREAM_URL"
curl -sf -o "$T/bad.zip" "$PROXY_URL/$ZIP"
cmp -s "$T/bad.zip" "$T/tree/$ZIP" && fail "the damaged zip is served unchanged?"
assert_eq "$(stat -c %s "$T/bad.zip")" "$(stat -c %s "$T/tree/$ZIP")" "damage keeps the size"

rc=0
out=$("$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA" --dry-run) || rc=$?
echo "$out"
assert_eq "$rc" 4 "fsck --dry-run exit status with damage"
assert_contains "$out" "DAMAGED rsc.io/quote@v1.5.2 zip: zip SHA-256 is "
assert_contains "$out" "DAMAGED rsc.io/sampler@v1.3.0 mod: go.mod h1 is "
assert_contains "$out" "2 damaged, 0 quarantined"
assert_eq "$(sql "SELECT count(*) FROM quarantine")" 0 "--dry-run quarantined"

hits=$(upstream_hits "/$ZIP")
rc=0
out=$("$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA") || rc=$?
echo "$out"
assert_eq "$rc" 1 "fsck exit status after quarantining"
assert_contains "$out" "(quarantined)"
assert_contains "$out" "2 damaged, 2 quarantined"
assert_eq "$(sql "SELECT group_concat(part || ' ' || module, ', ') FROM quarantine ORDER BY id")" \
  "zip rsc.io/quote, mod rsc.io/sampler" "quarantine table"
assert_eq "$(sql "SELECT count(*) FROM zip_chunks WHERE version_id = $id")" 0 "damaged zip still stored"
sql "SELECT writefile('$T/kept', data) FROM quarantine_chunks" >/dev/null
cmp -s "$T/kept" "$T/bad.zip" || fail "the quarantine does not hold the damaged bytes"

# The server held the damaged zip in memory; it forgets it within seconds
# (the removal log), and the next request fetches it again.
for ((i = 0; i < 100; i++)); do
  curl -sf -o "$T/again.zip" "$PROXY_URL/$ZIP"
  cmp -s "$T/again.zip" "$T/tree/$ZIP" && break
  sleep 0.1
done
cmp -s "$T/again.zip" "$T/tree/$ZIP" || fail "the damaged zip is still served 10 s after fsck"
assert_eq "$(upstream_hits "/$ZIP")" $((hits + 1)) "the zip fetched again once"

# The go command, from an empty module cache, gets what it got at first.
chmod -R u+w "$T/gopath" && rm -rf "$T/gopath/pkg/mod"
gocmd mod download -json rsc.io/quote@v1.5.2 rsc.io/sampler@v1.3.0 >"$T/second.json"
assert_eq "$(sum_of "$T/second.json" rsc.io/quote)" "$want" "hashes after repair"
assert_eq "$(sum_of "$T/second.json" rsc.io/sampler)" "$(sum_of "$T/first.json" rsc.io/sampler)" \
  "go.mod hash after repair"
out=$("$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA")
assert_contains "$out" "0 damaged, 0 quarantined"
out=$("$TEST_MODPROXY_BIN" stats --data "$MODPROXY_DATA")
assert_contains "$out" "quarantined     2 files"
stop_modproxy
echo "PASS ops_fsck"
