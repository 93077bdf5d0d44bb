#!/usr/bin/env bash
# The checksum database proxy (/sumdb/<name>/...) against a real test
# database: lookups of private modules never leave modproxy; lookups and
# tiles are cached (one request to the database however many clients ask);
# a partial tile is cut from a wider cached copy; `latest` is refreshed
# after --list-ttl and served stale when the database is down; answers can
# come through an upstream proxy's /sumdb/; an unreachable database does not
# block modules (verification is skipped, and /diag/mirror says so);
# --sumdb off turns it all off.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_sumdb "$T/tree"
DB="/sumdb/$SUMDB_NAME"
get() { # PATH: sets CODE and $T/body, $T/head
  CODE=$(curl -s -D "$T/head" -o "$T/body" -w '%{http_code}' "$PROXY_URL$1")
}

MODPROXY_DATA="$T/data"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL" \
  --private 'corp.example.com/*' --list-ttl 2

get "$DB/supported"
assert_eq "$CODE" 200 "supported"

# Private lookups: 404 with the reason, never forwarded.
get "$DB/lookup/corp.example.com/secret@v1.0.0"
assert_eq "$CODE" 404 "lookup of a private module"
assert_contains "$(cat "$T/body")" "private module here (--private)"
assert_contains "$(cat "$T/body")" "GONOSUMDB=corp.example.com/secret"
assert_eq "$(sumdb_hits corp)" 0 "private path sent to the database"

# Unknown database, bad paths.
get "/sumdb/sum.example.org/supported"
assert_eq "$CODE" 404 "an unknown database"
assert_contains "$(cat "$T/body")" "Databases proxied here: $SUMDB_NAME"
get "$DB/lookup/rsc.io/quote"
assert_eq "$CODE" 400 "lookup without a version"
get "$DB/tile/8/0/0001"
assert_eq "$CODE" 400 "non-canonical tile path"

# Concurrent lookups: one request to the database, cached afterwards.
pids=()
for i in $(seq 10); do
  curl -s -o "$T/l$i" "$PROXY_URL$DB/lookup/rsc.io/%21q%21u%21o%21t%21e@v1.5.2" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in $(seq 10); do cmp -s "$T/l1" "$T/l$i" || fail "lookup answers differ"; done
assert_contains "$(cat "$T/l1")" "rsc.io/QUOTE v1.5.2 h1:"
assert_eq "$(sumdb_hits '^/lookup/rsc\.io/!q!u!o!t!e@v1\.5\.2$')" 1 "database requests for 10 lookups"
get "$DB/lookup/rsc.io/!q!u!o!t!e@v1.5.2"
assert_eq "$CODE" 200
grep -qi '^Cache-Control: public, max-age=31536000, immutable' "$T/head" ||
  fail "a lookup is not immutable: $(cat "$T/head")"
# A version the database does not know: its 404 passes through.
get "$DB/lookup/rsc.io/quote@v1.99.0"
assert_eq "$CODE" 404 "lookup of an unknown version"
assert_contains "$(cat "$T/body")" "the checksum database does not have it"
assert_contains "$(cat "$T/body")" "GONOSUMDB"

# Tiles: the one the lookup's tree needs, then a narrower cut from it.
n=$(awk 'f==1{print; exit} /^go.sum database tree$/{f=1}' "$T/l1")
((n > 5 && n < 256)) || fail "tree size $n: the corpus should make one partial tile"
get "$DB/tile/8/0/000.p/$n"
assert_eq "$CODE" 200 "the tree's tile"
assert_eq "$(wc -c <"$T/body")" $((n * 32)) "tile size"
cp "$T/body" "$T/tile"
before=$(wc -l <"$SUMDB_LOG")
get "$DB/tile/8/0/000.p/5"
assert_eq "$CODE" 200 "a narrower partial tile"
cmp -s "$T/body" <(head -c 160 "$T/tile") || fail "the narrower tile is not a prefix"
assert_eq "$(wc -l <"$SUMDB_LOG")" "$before" "database requests for a tile cut from the cache"

# latest: fetched, cached for --list-ttl, then refreshed; stale when down.
get "$DB/latest"
assert_eq "$CODE" 200 "latest"
assert_contains "$(cat "$T/body")" "go.sum database tree"
get "$DB/latest"
assert_eq "$(sumdb_hits '^/latest$')" 1 "database requests for latest within --list-ttl"
sleep 2.1
get "$DB/latest"
assert_eq "$(sumdb_hits '^/latest$')" 2 "database requests for latest after --list-ttl"
kill -TERM "$SUMDB_PID" && wait "$SUMDB_PID" 2>/dev/null || true
_forget_pid "$SUMDB_PID"
sleep 2.1
get "$DB/latest"
assert_eq "$CODE" 200 "latest with the database down"
grep -qi '^X-Modproxy-Stale: 1' "$T/head" || fail "stale latest not marked: $(cat "$T/head")"
# With the database down, a new zip is served unverified, and verification
# then skips the database for a while (no wait per file).
get "/rsc.io/sampler/@v/v1.3.0.zip"
assert_eq "$CODE" 200 "a zip while the database is down"
assert_contains "$(curl -s "$PROXY_URL/diag/mirror")" "unreachable now"
stop_modproxy

# Through an upstream proxy's /sumdb/ (no URL in --sumdb): the test database
# answers /sumdb/<name>/ paths as a proxy would.
start_sumdb "$T/tree"
MODPROXY_DATA="$T/data2"
start_modproxy --upstream "$SUMDB_URL,$UPSTREAM_URL" --sumdb "$SUMDB_KEY"
get "$DB/lookup/rsc.io/sampler@v1.3.0"
assert_eq "$CODE" 200 "a lookup through an upstream proxy"
assert_eq "$(sumdb_hits "^$DB/lookup/rsc\.io/sampler@v1\.3\.0\$")" 1 "requests to the upstream's /sumdb/"
# The go command verifies through it.
fresh_gopath
mkdir -p "$T/w" && cd "$T/w" && printf 'module example.com/m\n\ngo 1.19\n' >go.mod
GOCMD_SUMDB=$SUMDB_KEY gocmd mod download rsc.io/quote@v1.5.2 >"$T/go.out" 2>&1 ||
  fail "go mod download with GOSUMDB through modproxy: $(cat "$T/go.out")"
cd "$T"
stop_modproxy

# --sumdb off: no database is proxied.
MODPROXY_DATA="$T/data3"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off
get "$DB/supported"
assert_eq "$CODE" 404 "--sumdb off"
stop_modproxy
echo "PASS mirror_sumdb"
