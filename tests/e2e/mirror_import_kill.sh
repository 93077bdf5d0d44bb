#!/usr/bin/env bash
# An import killed midway (SIGKILL) leaves only whole versions, and running
# it again ends with exactly the store a clean import makes: the go
# command's module corpus as a GOPROXY tree (167 versions, some with zips
# that break the rules or do not read), plus the checksum database answers
# of an exported bundle.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_sumdb "$T/tree"
project_module "$T/proj"
"$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream "$UPSTREAM_URL" \
  --sumdb "$SUMDB_KEY $SUMDB_URL" -o "$T/bundle" "$T/proj/go.mod" \
  >"$T/export.out" 2>"$T/export.log" || fail "export: $(cat "$T/export.log")"
# The source: the corpus tree with the bundle's checksum database answers.
cp -R "$T/tree" "$T/src"
cp -R "$T/bundle/sumdb" "$T/src/"
total=$(find "$T/src" -name '*.mod' -path '*/@v/*' | wc -l)

run_import() { # DATA [flags]: import of $T/src; prints the exit status
  local data=$1 rc=0
  shift
  "$TEST_MODPROXY_BIN" import --data "$data" --sumdb "$SUMDB_KEY" "$@" "$T/src" \
    >>"$T/import-$(basename "$data").out" 2>&1 || rc=$?
  echo "$rc"
}

# The reference: one uninterrupted import.
ref_rc=$(run_import "$T/ref")
((ref_rc <= 1)) || fail "reference import: status $ref_rc: $(cat "$T/import-ref.out")"
store_digest "$T/ref" >"$T/ref.digest"
n_ref=$(grep -c '^v|' "$T/ref.digest")
((n_ref > 100)) || fail "the reference import holds $n_ref versions of $total"
grep -q "^s|$SUMDB_NAME|lookup/rsc.io/quote@v1.5.2|" "$T/ref.digest" ||
  fail "the reference import has no checksum database answers"

# Killed midway.
"$TEST_MODPROXY_BIN" import --data "$T/killed" --sumdb "$SUMDB_KEY" --pause-ms 20 "$T/src" \
  >"$T/import-killed-1.out" 2>&1 &
pid=$!
_PIDS+=("$pid")
for ((i = 0; i < 300; i++)); do
  n=$(sqlite3 -readonly "$T/killed/modproxy.db" "SELECT count(*) FROM versions" 2>/dev/null || echo 0)
  ((n >= 30)) && break
  sleep 0.05
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
_forget_pid "$pid"
store_digest "$T/killed" >"$T/killed.digest"
n_killed=$(grep -c '^v|' "$T/killed.digest")
((n_killed >= 30 && n_killed < n_ref)) ||
  fail "the import was killed after $n_killed of $n_ref versions (not midway)"
# Nothing half-visible: each version there is as the full import has it.
grep '^v|' "$T/killed.digest" | sort >"$T/killed.v"
grep '^v|' "$T/ref.digest" | sort >"$T/ref.v"
half=$(comm -23 "$T/killed.v" "$T/ref.v")
[[ -z $half ]] || fail "versions differing from a whole import after the kill:"$'\n'"$half"
grep '^c|' "$T/killed.digest" | sort >"$T/killed.c"
grep '^c|' "$T/ref.digest" | sort >"$T/ref.c"
[[ -z $(comm -23 "$T/killed.c" "$T/ref.c") ]] || fail "zip chunks differ after the kill"

# Run again: the same content as the clean import.
rc=$(run_import "$T/killed")
assert_eq "$rc" "$ref_rc" "exit status of the rerun"
tail -n 20 "$T/import-killed.out" | grep -q "already present" || fail "rerun summary: $(cat "$T/import-killed.out")"
store_digest "$T/killed" >"$T/rerun.digest"
diff "$T/ref.digest" "$T/rerun.digest" >"$T/digest.diff" ||
  fail "store after the rerun differs from a clean import:"$'\n'"$(head -20 "$T/digest.diff")"
printf 'FIGURES killed after %d of %d versions; rerun matches (%d digest lines)\n' \
  "$n_killed" "$n_ref" "$(wc -l <"$T/ref.digest")"
echo "PASS mirror_import_kill"
