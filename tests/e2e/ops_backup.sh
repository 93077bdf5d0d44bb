#!/usr/bin/env bash
# ops_backup.sh: `modproxy backup FILE` while modproxy serves load (a curl
# loop over cached and new versions, and a go mod download loop), then:
# the backup passes SQLite's integrity check; every version and zip byte it
# holds is identical to the live store's; it holds every version stored
# before it began; restored into a new data directory and served with no
# upstream, it gives the go command the same modules (same hashes). A
# second backup taken at rest is identical to the live store, table by
# table and row by row.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 command is needed"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
export MODPROXY_DATA="$T/data"
DB=$MODPROXY_DATA/modproxy.db
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$@"; }
start_modproxy --upstream "$UPSTREAM_URL"

# ---- a warm store --------------------------------------------------------------
scratch_module
MODS=(rsc.io/quote@v1.5.2 rsc.io/sampler@v1.3.1 golang.org/x/text@v0.3.0 rsc.io/quote/v3@v3.0.0)
gocmd mod download -json "${MODS[@]}" >"$T/first.json"
grep -o '"Sum": "[^"]*"' "$T/first.json" | sort >"$T/first.sums"
assert_eq "$(wc -l <"$T/first.sums")" "${#MODS[@]}" "sums of the first download"
before=$(sql "$DB" "SELECT count(*) FROM versions")

# ---- load: new versions keep arriving, cached ones keep being read ------------
mapfile -t NEW < <(cd "$T/tree" && find example.com -name '*.zip' | sort)
(
  i=0
  while :; do
    z=${NEW[i % ${#NEW[@]}]}
    curl -s -o /dev/null "$PROXY_URL/$z" || true
    curl -s -o /dev/null "$PROXY_URL/${z%.zip}.mod" || true
    curl -s -o /dev/null "$PROXY_URL/rsc.io/quote/@v/v1.5.2.zip" || true
    i=$((i + 1))
  done
) &
LOAD1=$!
(
  n=0
  while :; do
    env GOMODCACHE="$T/loadcache$n" GOFLAGS=-modcacherw HOME="$T/home" \
      GOPROXY="$PROXY_URL" GOSUMDB=off GOPATH="$T/gopath" GOCACHE="$T/gocache" \
      go mod download rsc.io/quote@v1.5.2 >/dev/null 2>&1 || true
    rm -rf "$T/loadcache$n"
    n=$((n + 1))
  done
) &
LOAD2=$!
sleep 2
during_start=$(sql "$DB" "SELECT count(*) FROM versions")
((during_start > before)) || fail "the load stores nothing new ($before versions)"
sql "$DB" "SELECT module || '@' || version FROM versions ORDER BY 1" >"$T/pre.list"
out=$("$TEST_MODPROXY_BIN" backup --data "$MODPROXY_DATA" "$T/backup.db")
echo "$out"
assert_contains "$out" "backed up $MODPROXY_DATA/modproxy.db"
sleep 2
requests_during=$(sql "$DB" "SELECT count(*) FROM requests")
kill "$LOAD1" "$LOAD2"
wait "$LOAD1" "$LOAD2" 2>/dev/null || true
after=$(sql "$DB" "SELECT count(*) FROM versions")
echo "versions: $before before the load, $during_start when the backup began, $after after"
((requests_during > 20)) || fail "the load was too light: $requests_during requests"

# ---- the backup is sound, consistent and identical where it overlaps ----------
assert_eq "$(sql "$T/backup.db" "PRAGMA integrity_check")" ok "integrity of the backup"
[[ ! -e $T/backup.db-wal ]] || fail "the backup needs a -wal file"
in_backup=$(sql "$T/backup.db" "SELECT count(*) FROM versions")
((in_backup >= during_start && in_backup <= after)) ||
  fail "backup has $in_backup versions, not between $during_start and $after"
assert_eq "$(sql "$DB" "ATTACH '$T/backup.db' AS b;
  SELECT count(*) FROM b.versions bv LEFT JOIN main.versions v USING (module, version)
  WHERE v.id IS NULL
     OR (bv.info IS NOT NULL AND v.info IS NOT bv.info)
     OR (bv.mod IS NOT NULL AND (v.mod IS NOT bv.mod OR v.mod_h1 IS NOT bv.mod_h1))
     OR (bv.zip_size IS NOT NULL AND (v.zip_size IS NOT bv.zip_size
         OR v.zip_h1 IS NOT bv.zip_h1 OR v.zip_sha256 IS NOT bv.zip_sha256))")" 0 \
  "parts in the backup that differ from the live store (each part of a version is published on its own)"
assert_eq "$(sql "$DB" "ATTACH '$T/backup.db' AS b;
  SELECT count(*) FROM b.zip_chunks bc JOIN b.versions bv ON bv.id = bc.version_id
  JOIN main.versions v USING (module, version)
  LEFT JOIN main.zip_chunks c ON c.version_id = v.id AND c.seq = bc.seq
  WHERE c.data IS NOT bc.data")" 0 "zip bytes in the backup that differ"
assert_eq "$(sql "$DB" "ATTACH '$T/backup.db' AS b;
  SELECT count(*) FROM b.versions bv WHERE bv.zip_size IS NOT NULL AND bv.zip_size IS NOT
  (SELECT sum(length(data)) FROM b.zip_chunks WHERE version_id = bv.id)")" 0 \
  "half-stored zips in the backup"
sql "$T/backup.db" "SELECT module || '@' || version FROM versions ORDER BY 1" >"$T/backup.list"
missing=$(comm -23 "$T/pre.list" "$T/backup.list")
[[ -z $missing ]] || fail "versions stored before the backup began are missing from it: $missing"
"$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA" >/dev/null || fail "fsck of the live store"
stop_modproxy

# ---- restored, it serves the same modules with no upstream --------------------
mkdir -p "$T/restored"
cp "$T/backup.db" "$T/restored/modproxy.db"
out=$("$TEST_MODPROXY_BIN" fsck --data "$T/restored")
assert_contains "$out" "0 damaged"
MODPROXY_DATA="$T/restored" start_modproxy --upstream off
chmod -R u+w "$T/gopath" && rm -rf "$T/gopath/pkg/mod"
gocmd mod download -json "${MODS[@]}" >"$T/restored.json"
grep -o '"Sum": "[^"]*"' "$T/restored.json" | sort >"$T/restored.sums"
assert_eq "$(cat "$T/restored.sums")" "$(cat "$T/first.sums")" "sums from the restored store"
stop_modproxy

# ---- at rest, a backup is the store, row for row ------------------------------
"$TEST_MODPROXY_BIN" backup --data "$MODPROXY_DATA" "$T/rest.db" >/dev/null
dump() {
  local t
  for t in $(sql "$1" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"); do
    echo "== $t"
    sql "$1" "SELECT * FROM \"$t\"" | LC_ALL=C sort | sha256sum
  done
}
dump "$DB" >"$T/live.dump"
dump "$T/rest.db" >"$T/rest.dump"
assert_eq "$(grep -c '^==' "$T/live.dump")" "$(sql "$DB" "SELECT count(*) FROM sqlite_master WHERE type = 'table'")" \
  "tables dumped"
diff "$T/live.dump" "$T/rest.dump" || fail "the backup at rest differs from the store"
# Zip bytes compared as bytes, not as text.
assert_eq "$(sql "$DB" "ATTACH '$T/rest.db' AS b;
  SELECT count(*) FROM main.zip_chunks c FULL JOIN b.zip_chunks bc USING (version_id, seq)
  WHERE c.data IS NOT bc.data")" 0 "zip chunks at rest"
echo "PASS ops_backup"
