#!/usr/bin/env bash
# sigkill_ingest.sh: modproxy is killed with SIGKILL while it fetches and
# stores a large zip (64 MiB), at several points: while the zip downloads,
# while it is checked, early and late while its chunks are written to the
# database, around the commit, after it was stored and sent, and while the
# stored zip streams to a slow client (who must see a short body, not a
# complete answer). Each time, restarted on the same data directory: no
# staging file is left behind, `modproxy fsck` finds nothing damaged, no
# half-written zip is visible (every versions row with a zip_size has
# chunks that add up to it, and no chunk belongs to an unpublished zip),
# and the same request gets the real bytes (from the store if the kill came
# after the commit, else fetched again); modproxy then exits 0 on SIGTERM.
# The time-based kill points land where they do on an idle machine; the
# result rows say where each one landed (ms, WAL size).
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

M=example.com/fault/big
SIZE=$((64 << 20))
# kill point: label | trigger (ms:N = N ms after the request was sent;
# wal:N = once the WAL file holds N bytes) [| curl's --limit-rate]
POINTS=(
  "25 ms in (the zip downloading)|ms:25"
  "170 ms in (usually: the zip staged, being checked)|ms:170"
  "writing chunks, early (WAL 8 MiB)|wal:$((8 << 20))"
  "writing chunks, late (WAL 48 MiB)|wal:$((48 << 20))"
  "around the commit (WAL 64 MiB)|wal:$SIZE"
  "900 ms in (usually: the zip stored and sent)|ms:900"
  "while the stored zip streams to a slow client|ms:1500|20M"
)
mkdir -p "$T/tree"
for i in "${!POINTS[@]}"; do make_module "$T/tree" $M "v1.0.$i" "$SIZE"; done
start_upstream "$T/tree"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

for i in "${!POINTS[@]}"; do
  IFS='|' read -r label trig rate <<<"${POINTS[i]}"
  v=v1.0.$i p=/$M/@v/v1.0.$i.zip
  echo "---- SIGKILL $label ($trig)"
  n0=${#FAILS[@]}
  # A data directory per kill point (killed and restarted on it): fsck
  # checks only this zip, and the WAL holds only this ingest's writes (a
  # new database's is < 1 MiB), for the wal: triggers.
  export MODPROXY_DATA="$T/data$i"
  WAL="$MODPROXY_DATA/modproxy.db-wal"
  start_modproxy --upstream "$UPSTREAM_URL" --sumdb off
  rm -f "$T/client.body"
  t0=$(now_ms)
  curl -s -o "$T/client.body" -w '%{http_code}' --max-time 60 ${rate:+--limit-rate "$rate"} \
    "$PROXY_URL$p" >"$T/client.code" 2>/dev/null &
  client=$!
  while :; do
    case $trig in
      ms:*) (($(now_ms) - t0 >= ${trig#ms:})) && break ;;
      wal:*) (($(stat -c %s "$WAL" 2>/dev/null || echo 0) >= ${trig#wal:})) && break ;;
    esac
    if (($(now_ms) - t0 > 20000)); then
      soft_fail "$label: the trigger $trig never fired"
      break
    fi
    sleep 0.002
  done
  at=$(($(now_ms) - t0)) wal=$(stat -c %s "$WAL" 2>/dev/null || echo 0)
  kill -KILL "$MODPROXY_PID"
  wait "$MODPROXY_PID" 2>/dev/null || true
  _forget_pid "$MODPROXY_PID"
  crc=0
  wait "$client" || crc=$?
  code=$(cat "$T/client.code" 2>/dev/null || true)
  echo "  killed after $at ms, WAL $((wal >> 20)) MiB; the client: HTTP ${code:-none}, curl exit $crc"
  if ((crc == 0)) && [[ $code == 200 ]]; then
    cmp -s "$T/client.body" "$T/tree$p" || soft_fail "$label: the client got a complete 200 with the wrong bytes"
    saw="complete 200, the real bytes"
  else
    got=""
    [[ -s $T/client.body ]] && got=", $(($(stat -c %s "$T/client.body") >> 20)) MiB received"
    saw="connection dropped (curl exit $crc, HTTP ${code:-none}$got): the client sees it is incomplete"
  fi

  # Restart on the same data directory: nothing half-written.
  left=$(find "$MODPROXY_DATA/tmp" -type f | wc -l)
  ((left == 0)) || soft_fail "$label: $left staging files left in $MODPROXY_DATA/tmp"
  rc=0
  out=$("$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA" 2>&1) || rc=$?
  if ((rc != 0)) || [[ $out != *"0 damaged, 0 quarantined"* ]]; then
    soft_fail "$label: fsck after the kill: exit $rc: $(tail -3 <<<"$out")"
  fi
  echo "  fsck: $(tail -1 <<<"$out")"
  orphans=$(sql "SELECT count(*) FROM zip_chunks WHERE version_id NOT IN
                   (SELECT id FROM versions WHERE zip_size IS NOT NULL)")
  [[ $orphans == 0 ]] || soft_fail "$label: $orphans chunks of an unpublished zip are in the store"
  st=$(stored $M "$v" zip)
  [[ $st == nothing || $st == "$SIZE bytes" || $st == "$(stat -c %s "$T/tree$p") bytes" ]] ||
    soft_fail "$label: after the kill the store holds $st"
  check_store "$label" nofsck
  start_modproxy --upstream "$UPSTREAM_URL" --sumdb off
  hits=$(upstream_hits "^${p//./\\.}\$")
  expect_bytes "$label: after restart" "$p" "$T/tree$p"
  hits2=$(upstream_hits "^${p//./\\.}\$")
  if [[ $st == nothing ]]; then
    [[ $hits2 == $((hits + 1)) ]] || soft_fail "$label: not stored, but not fetched again either"
    after="not stored; fetched again: the real bytes"
  else
    [[ $hits2 == "$hits" ]] || soft_fail "$label: stored, but fetched again"
    after="stored whole ($st); served from the store: the real bytes"
  fi
  alive "$label"
  stop_modproxy
  verdict=pass
  ((${#FAILS[@]} == n0)) || verdict=fail
  result "SIGKILL, 64 MiB zip: $label (at $at ms, WAL $((wal >> 20)) MiB)" "$saw" "$after" "$verdict"
done
finish sigkill_ingest
