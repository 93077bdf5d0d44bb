#!/usr/bin/env bash
# ops_cache.sh: cache management. Last uses are recorded in memory and
# written in batches (not per request); `modproxy pin` keeps versions;
# `modproxy gc --dry-run` lists exactly the least recently used public
# versions that bring the cache down to --max-cache-bytes, oldest first,
# skipping pinned (a version, a whole module), private and recently used
# ones, and changes nothing; `modproxy gc` frees exactly those bytes; a
# serving modproxy with --max-cache-bytes evicts the next ones by itself and
# counts them in /metrics; an evicted version is fetched again by the go
# command; `modproxy stats` reports it all.
source "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 command is needed"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
export MODPROXY_DATA="$T/data"
DB=$MODPROXY_DATA/modproxy.db
sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "$DB" "$@"; }
mp() { "$TEST_MODPROXY_BIN" "$1" --data "$MODPROXY_DATA" "${@:2}"; }
fetch() { # module version: its .info, .mod and .zip through modproxy
  local ext
  for ext in info mod zip; do
    curl -sf -o /dev/null "$PROXY_URL/$1/@v/$2.$ext" || fail "GET $1@$2.$ext"
  done
}
# wait_sql QUERY WANT [SECONDS]: polls until QUERY prints WANT.
wait_sql() {
  local i got
  for ((i = 0; i < ${3:-15} * 10; i++)); do
    got=$(sql "$1")
    [[ $got == "$2" ]] && return 0
    sleep 0.1
  done
  fail "$1: got '$got', want '$2'"
}

# Versions in the order of their (made-up) last use, oldest first.
ALL=(
  rsc.io/quote@v1.2.0 rsc.io/sampler@v1.0.0 rsc.io/quote@v1.0.0
  rsc.io/quote@v1.1.0 rsc.io/quote@v1.4.0 rsc.io/sampler@v1.2.0
  rsc.io/quote@v1.3.0 rsc.io/quote@v1.5.1 corp.example/secret@v1.0.0
  rsc.io/quote@v1.2.1 rsc.io/sampler@v1.3.0 rsc.io/quote@v1.5.0
  rsc.io/quote@v1.5.2 rsc.io/sampler@v1.3.1
)
PINNED=(rsc.io/quote@v1.1.0)         # a version, by `modproxy pin`
PINNED_MODULE=rsc.io/sampler         # every version of a module
RECENT=(rsc.io/quote@v1.2.0 rsc.io/quote@v1.3.0) # used again just now
# corp.example/secret is private (--private), so never evicted either.
mkdir -p "$T/tree/corp.example/secret/@v"
cp "$T/tree/rsc.io/quote/@v/v1.0.0.info" "$T/tree/corp.example/secret/@v/v1.0.0.info"
printf 'module corp.example/secret\n' >"$T/tree/corp.example/secret/@v/v1.0.0.mod"
# A zip for the private module (its content does not matter to the cache).
python3 - "$T/tree/corp.example/secret/@v/v1.0.0.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("corp.example/secret@v1.0.0/go.mod", "module corp.example/secret\n")
    z.writestr("corp.example/secret@v1.0.0/s.go", "package secret\n")
PY

# ---- last uses are batched --------------------------------------------------
# The private module is served from the test upstream here (no git route):
# --private only has to say "never evict" for this test, so it is given to gc.
start_modproxy --upstream "$UPSTREAM_URL"
t0=$SECONDS
fetch rsc.io/quote v1.2.0
if ((SECONDS - t0 < 3)); then
  # The first batch is written 5 s after start: no write for this request yet.
  assert_eq "$(sql "SELECT count(*) FROM versions WHERE accessed IS NULL")" 1 \
    "last use written per request"
fi
for mv in "${ALL[@]}"; do fetch "${mv%@*}" "${mv#*@}"; done
wait_sql "SELECT count(*) FROM versions WHERE accessed IS NULL" 0
assert_eq "$(sql "SELECT count(*) FROM versions")" "${#ALL[@]}" "versions stored"
stop_modproxy

# ---- an old cache -------------------------------------------------------------
now=$(date +%s)
rank=0
for mv in "${ALL[@]}"; do
  sql "UPDATE versions SET accessed = $((now - 86400 + rank * 60)), created = $((now - 90000))
       WHERE module = '${mv%@*}' AND version = '${mv#*@}'"
  rank=$((rank + 1))
done
out=$(mp pin "${PINNED[@]}" "$PINNED_MODULE")
assert_contains "$out" "pinned rsc.io/quote@v1.1.0"
assert_contains "$out" "pinned rsc.io/sampler (every version)"
out=$(mp pin --list)
assert_contains "$out" "rsc.io/quote@v1.1.0"
assert_contains "$out" "rsc.io/sampler (all versions)"
rc=0
mp pin rsc.io/quote@latest 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "pin of a non-version"
rc=0
mp pin --remove rsc.io/quote@v1.9.9 2>"$T/err" || rc=$?
assert_eq "$rc" 1 "unpin of what is not pinned"
assert_contains "$(cat "$T/err")" "is not pinned"

# Used again now: through the server, written at its shutdown.
start_modproxy --upstream "$UPSTREAM_URL"
for mv in "${RECENT[@]}"; do
  curl -sf -o /dev/null "$PROXY_URL/${mv%@*}/@v/${mv#*@}.zip" || fail "GET $mv"
done
stop_modproxy
for mv in "${RECENT[@]}"; do
  used=$(sql "SELECT accessed FROM versions WHERE module = '${mv%@*}' AND version = '${mv#*@}'")
  ((used >= now)) || fail "$mv: last use $used not recorded at shutdown (now $now)"
done

# ---- what gc must evict, computed here --------------------------------------
bytes_of() { # module@version: .info + .mod + zip bytes
  sql "SELECT coalesce(zip_size, 0) + coalesce(length(info), 0) + coalesce(length(mod), 0)
       FROM versions WHERE module = '${1%@*}' AND version = '${1#*@}'"
}
total=$(sql "SELECT sum(coalesce(zip_size, 0) + coalesce(length(info), 0) + coalesce(length(mod), 0)) FROM versions")
CANDIDATES=()
for mv in "${ALL[@]}"; do
  case " ${PINNED[*]} ${RECENT[*]} " in *" $mv "*) continue ;; esac
  [[ ${mv%@*} == "$PINNED_MODULE" || ${mv%@*} == corp.example/* ]] && continue
  CANDIDATES+=("$mv")
done
assert_eq "${CANDIDATES[*]}" \
  "rsc.io/quote@v1.0.0 rsc.io/quote@v1.4.0 rsc.io/quote@v1.5.1 rsc.io/quote@v1.2.1 rsc.io/quote@v1.5.0 rsc.io/quote@v1.5.2" \
  "test set-up: candidates"
free3=$(($(bytes_of "${CANDIDATES[0]}") + $(bytes_of "${CANDIDATES[1]}") + $(bytes_of "${CANDIDATES[2]}")))
limit=$((total - free3))

rc=0
mp gc 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "gc without a limit"
assert_contains "$(cat "$T/err")" "max-cache-bytes"

before=$(sql "SELECT group_concat(module || '@' || version, ' ') FROM versions")
out=$(mp gc --private 'corp.example' --max-cache-bytes "$limit" --dry-run)
echo "$out"
assert_eq "$(grep -c '^would evict .*@' <<<"$out")" 3 "gc --dry-run: versions listed"
for i in 0 1 2; do
  line=$(grep '^would evict .*@' <<<"$out" | sed -n "$((i + 1))p")
  assert_contains "$line" "would evict ${CANDIDATES[i]} $(bytes_of "${CANDIDATES[i]}") bytes" \
    "gc --dry-run: victim $i, oldest first"
done
assert_contains "$out" "would evict 3 versions, "
assert_contains "$out" "($free3 bytes)"
assert_eq "$(sql "SELECT group_concat(module || '@' || version, ' ') FROM versions")" "$before" \
  "gc --dry-run changed the store"

out=$(MODPROXY_PRIVATE=corp.example mp gc --max-cache-bytes "$limit")
echo "$out"
assert_contains "$out" "evicted 3 versions, "
assert_contains "$out" "($free3 bytes)"
for mv in "${ALL[@]}"; do
  n=$(sql "SELECT count(*) FROM versions WHERE module = '${mv%@*}' AND version = '${mv#*@}'")
  case " ${CANDIDATES[*]:0:3} " in
    *" $mv "*) assert_eq "$n" 0 "$mv evicted" ;;
    *) assert_eq "$n" 1 "$mv kept" ;;
  esac
done
assert_eq "$(sql "SELECT count(*) FROM zip_chunks c WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.id = c.version_id)")" 0 \
  "zip bytes left behind"
out=$(mp stats --max-cache-bytes "$limit")
echo "$out"
assert_contains "$out" "cache bytes     "
assert_contains "$out" "($limit bytes)"
assert_contains "$out" "100.0% used"
assert_contains "$out" "pins            2"
out=$(MODPROXY_PRIVATE=corp.example mp gc --max-cache-bytes "$limit")
assert_contains "$out" "nothing to evict"

# ---- the server evicts by itself ------------------------------------------------
free2=$(($(bytes_of "${CANDIDATES[3]}") + $(bytes_of "${CANDIDATES[4]}")))
limit2=$((limit - free2))
start_modproxy --upstream "$UPSTREAM_URL" --private corp.example --max-cache-bytes "$limit2"
for ((i = 0; i < 150; i++)); do
  grep -q "evicted 2 least recently used versions" "$MODPROXY_LOG" && break
  sleep 0.1
done
grep -q "evicted 2 least recently used versions, $free2 bytes" "$MODPROXY_LOG" ||
  fail "the server did not evict the next two versions ($free2 bytes)"
metrics=$(curl -sf "$PROXY_URL/metrics")
assert_contains "$metrics" "modproxy_evictions_total 2"
assert_contains "$metrics" "modproxy_evicted_bytes_total $free2"
assert_contains "$metrics" "modproxy_cache_bytes $limit2"
assert_contains "$metrics" "modproxy_cache_max_bytes $limit2"
assert_contains "$metrics" "modproxy_store_rows{table=\"versions\"} $((${#ALL[@]} - 5))"
assert_contains "$metrics" "modproxy_store_rows{table=\"pins\"} 2"
for mv in "${CANDIDATES[@]:3:2}"; do
  assert_eq "$(sql "SELECT count(*) FROM versions WHERE module = '${mv%@*}' AND version = '${mv#*@}'")" 0 \
    "$mv evicted by the server"
done
assert_eq "$(sql "SELECT count(*) FROM versions WHERE module = '${CANDIDATES[5]%@*}' AND version = '${CANDIDATES[5]#*@}'")" 1 \
  "${CANDIDATES[5]} kept: the cache is within its limit"

# ---- an evicted version comes back ---------------------------------------------
gone=${CANDIDATES[0]}
hits=$(upstream_hits "/${gone%@*}/@v/${gone#*@}.zip")
scratch_module
gocmd mod download -json "$gone" >"$T/dl.json"
assert_contains "$(cat "$T/dl.json")" '"Zip"'
assert_eq "$(upstream_hits "/${gone%@*}/@v/${gone#*@}.zip")" $((hits + 1)) \
  "the evicted zip fetched again"
stop_modproxy
echo "PASS ops_cache"
