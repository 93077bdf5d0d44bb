#!/usr/bin/env bash
# sqlite_busy.sh: another process holds a write lock on modproxy.db (the
# sqlite3 command in BEGIN EXCLUSIVE). Held for 2 s (less than modproxy's
# 5 s busy timeout), a new file is stored once the lock goes: the right
# bytes. Held for 12 s, new files cannot be stored: within about one busy
# timeout, a clear error that says the database is busy (or the right
# bytes), nothing stored; files already stored are still served, promptly,
# even with several stores waiting on the lock. Once the lock is gone the same requests get the real bytes,
# again after a restart; fsck finds the store consistent; modproxy exits 0
# on SIGTERM.
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
export MODPROXY_DATA="$T/data"
DB="$MODPROXY_DATA/modproxy.db"
# --memory-cache 1: stored files are read from the database, not memory.
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off --memory-cache 1
EXPECT_NAMED=""
BUSY="database.*(busy|locked)|(busy|locked).*database|sqlite"
ALIVE_ROOT="$T/tree"
ALIVE_PATHS=(/rsc.io/sampler/@v/v1.3.0.info /rsc.io/sampler/@v/v1.3.0.mod /rsc.io/sampler/@v/v1.3.0.zip)
for p in "${ALIVE_PATHS[@]}"; do expect_bytes "stored before the lock" "$p" "$T/tree$p"; done

# lock_db: the sqlite3 command takes the write lock and keeps it until
# "COMMIT;" is written to fd 7; returns once the lock is held.
lock_db() {
  rm -f "$T/sqlin" "$T/locked"
  mkfifo "$T/sqlin"
  sqlite3 "$DB" <"$T/sqlin" >"$T/sqlite3.out" 2>&1 &
  LOCK_PID=$!
  exec 7>"$T/sqlin"
  # .timeout: modproxy itself may be writing at this moment.
  printf '.bail on\n.timeout 10000\nBEGIN EXCLUSIVE;\n.shell touch %s\n' "$T/locked" >&7
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -e $T/locked ]] && return 0
    _alive "$LOCK_PID" || break
    sleep 0.05
  done
  fail "the sqlite3 command did not get the write lock: $(cat "$T/sqlite3.out")"
}

declare -A SAWS STORED VERDICT

echo "---- locked for 2 s (less than the busy timeout)"
n0=${#FAILS[@]}
lock_db
(sleep 2 && echo "COMMIT;" >&7) &
expect_bytes "locked 2 s: a new .info" /rsc.io/quote/@v/v1.5.2.info "$T/tree/rsc.io/quote/@v/v1.5.2.info"
SAWS[short]=$SAW
wait $! || true
exec 7>&-
wait "$LOCK_PID" || true
STORED[short]=$(stored rsc.io/quote v1.5.2 info)
[[ $CODE != 200 || ${STORED[short]} == "$(stat -c %s "$T/tree/rsc.io/quote/@v/v1.5.2.info") bytes" ]] ||
  soft_fail "locked 2 s: the store holds ${STORED[short]}"
((${#FAILS[@]} == n0)) || VERDICT[short]=fail

echo "---- locked for 12 s"
NEW=(/rsc.io/quote/@v/v1.5.2.zip /rsc.io/quote/@v/v1.5.1.info /rsc.io/quote/@v/v1.5.1.mod
  /rsc.io/quote/@v/v1.5.1.zip /rsc.io/quote/@v/v1.5.0.info /rsc.io/quote/@v/v1.5.0.zip)
lock_db
(sleep 12 && echo "COMMIT;" >&7) &
UNLOCKER=$!
for i in "${!NEW[@]}"; do bg_fetch "new$i" "${NEW[i]}"; done
sleep 0.5
# Stored files while the new ones wait on the lock.
n0=${#FAILS[@]}
slowest=0
for p in "${ALIVE_PATHS[@]}" "${ALIVE_PATHS[@]}"; do
  t0=$(date +%s%N)
  expect_bytes "locked: a stored file" "$p" "$T/tree$p"
  ms=$((($(date +%s%N) - t0) / 1000000))
  ((ms > slowest)) && slowest=$ms
done
((slowest < 2000)) || soft_fail "locked: stored files took up to $slowest ms (stores waiting on the lock hold them up)"
alive "locked"
SAWS[stored]="200, the real bytes, slowest $slowest ms"
((${#FAILS[@]} == n0)) || VERDICT[stored]=fail

n0=${#FAILS[@]}
for i in "${!NEW[@]}"; do
  bg_collect "new$i"
  p=${NEW[i]}
  if [[ $CODE == 200 ]]; then
    expect_bytes_or_error "locked 12 s: ${p##*/}" "$p" "$T/tree$p" '50[0-9]' "$BUSY" # judged again, unlocked or not
  else
    judge_error "locked 12 s: ${p##*/}" "$p" '50[0-9]' "$BUSY"
  fi
  [[ -z ${SAWS[long]:-} ]] && SAWS[long]=$SAW
  echo "    answered after $BG_SECONDS s"
  # One busy timeout (5 s) and a margin; not one per write queued before it.
  [[ ${BG_SECONDS%.*} -lt 8 ]] || soft_fail "locked 12 s: $p answered only after $BG_SECONDS s"
  slow_answers="${slow_answers:+$slow_answers, }${BG_SECONDS%.*} s"
  v=${p##*/} && v=${v%.*}
  s=$(stored rsc.io/quote "$v" "${p##*.}")
  [[ $CODE == 200 || $s == nothing ]] || soft_fail "locked 12 s: $p failed but the store holds $s"
  STORED[long]="${STORED[long]:+${STORED[long]}, }${p##*/}: $s"
done
wait "$UNLOCKER" || true
exec 7>&-
wait "$LOCK_PID" || soft_fail "sqlite3 holding the lock: $(cat "$T/sqlite3.out")"
SAWS[long]="${SAWS[long]} (answers after $slow_answers)"
((${#FAILS[@]} == n0)) || VERDICT[long]=fail

echo "---- unlocked: the same requests get the real bytes"
n0=${#FAILS[@]}
for p in "${NEW[@]}"; do expect_bytes "unlocked" "$p" "$T/tree$p"; done
check_store "after the lock"
stop_modproxy
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off --memory-cache 1
hits_before=$(wc -l <"$UPSTREAM_LOG")
for p in /rsc.io/quote/@v/v1.5.2.info "${NEW[@]}" "${ALIVE_PATHS[@]}"; do
  expect_bytes "after restart" "$p" "$T/tree$p"
done
assert_eq "$(wc -l <"$UPSTREAM_LOG")" "$hits_before" "upstream requests after the restart"
check_store "after the restart"
stop_modproxy
((${#FAILS[@]} == n0)) || VERDICT[long]=fail

result "SQLite busy: write lock held 2 s (< 5 s busy timeout)" "${SAWS[short]}" "${STORED[short]}" "${VERDICT[short]:-pass}"
result "SQLite busy: write lock held 12 s, 6 new files requested at once" "${SAWS[long]}" "${STORED[long]}" "${VERDICT[long]:-pass}"
result "SQLite busy: stored files while 6 stores wait on the lock" "${SAWS[stored]}" "unchanged" "${VERDICT[stored]:-pass}"
finish sqlite_busy
