#!/usr/bin/env bash
# disk_full.sh: modproxy's --data on a 3 MiB tmpfs that fills up: a zip
# larger than the whole disk (the download cannot be staged), a zip that
# can be staged but not stored (SQLite runs out of room mid-ingest), and a
# full disk (a small .info cannot be stored, a small zip cannot be staged).
# Each time the client gets a clear error naming the lack of space, nothing
# half-written is stored, the staging space is given back, files already
# stored are still served; once there is room again the same requests get
# the real bytes, again after a restart; fsck finds the store consistent;
# modproxy exits 0 on SIGTERM.
# Needs root (mount); runs in a private mount namespace so that the tmpfs
# goes away with the test whatever happens.
if [[ -z ${_REL_IN_NS:-} ]]; then
  if [[ $(id -u) != 0 ]] || ! command -v unshare >/dev/null; then
    echo "SKIP disk_full: needs root and unshare (to mount a small tmpfs)"
    exit 77
  fi
  _REL_IN_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

SMALL="$T/small"
mkdir -p "$SMALL"
mount -t tmpfs -o size=3m tmpfs "$SMALL" || fail "cannot mount a tmpfs on $SMALL"
free_kib() { df --output=avail -k "$SMALL" | tail -1 | tr -d ' '; }
# fill_to KIB: a filler file leaving about KIB free (0: as full as it gets).
fill_to() {
  rm -f "$SMALL/filler"
  local avail
  avail=$(free_kib)
  if (($1 == 0)); then
    dd if=/dev/zero of="$SMALL/filler" bs=4k status=none 2>/dev/null || true
  elif ((avail > $1)); then
    dd if=/dev/zero of="$SMALL/filler" bs=1k count=$((avail - $1)) status=none
  fi
}

make_corpus_tree "$T/tree"
make_module "$T/tree" example.com/fault/huge v1.0.0 $((4 << 20))  # > the disk
make_module "$T/tree" example.com/fault/big v1.0.0 $((500 << 10)) # fits, once
start_upstream "$T/tree"
export MODPROXY_DATA="$SMALL/data"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off --memory-cache 1
EXPECT_NAMED=""
NOSPACE="no space|disk (is )?full|out of (disk )?space|ENOSPC"
ALIVE_ROOT="$T/tree"
ALIVE_PATHS=(/rsc.io/sampler/@v/v1.3.0.info /rsc.io/sampler/@v/v1.3.0.mod /rsc.io/sampler/@v/v1.3.0.zip)
for p in "${ALIVE_PATHS[@]}"; do expect_bytes "stored before the disk fills" "$p" "$T/tree$p"; done
echo "  data directory: $(du -sk "$MODPROXY_DATA" | cut -f1) KiB used, $(free_kib) KiB free"

declare -A SAWS STORED VERDICT
# Free space plus the WAL's size: SQLite keeps a grown WAL file for reuse,
# so only this sum shows whether a failed fetch gave its staging space back.
room_kib() { echo $(($(free_kib) + $(stat -c %s "$MODPROXY_DATA/modproxy.db-wal" 2>/dev/null || echo 0) / 1024)); }

echo "---- a zip larger than the whole disk"
n0=${#FAILS[@]}
before=$(room_kib)
expect_error "zip larger than the disk" /example.com/fault/huge/@v/v1.0.0.zip '50[0-9]' "$NOSPACE"
SAWS[huge]=$SAW
STORED[huge]=$(stored example.com/fault/huge v1.0.0 zip)
[[ ${STORED[huge]} == nothing ]] || soft_fail "zip larger than the disk: the store holds ${STORED[huge]}"
sleep 0.5
after=$(room_kib)
((after + 64 >= before)) || soft_fail "zip larger than the disk: free space (+WAL) $before KiB before, $after KiB after (staging space not given back)"
alive "after a zip larger than the disk"
((${#FAILS[@]} == n0)) || VERDICT[huge]=fail

echo "---- a zip that can be staged but not stored"
n0=${#FAILS[@]}
fill_to 650
before=$(room_kib)
echo "  $(free_kib) KiB free for a $(($(stat -c %s "$T/tree/example.com/fault/big/@v/v1.0.0.zip") / 1024)) KiB zip"
expect_bytes_or_error "zip staged, disk full while storing it" /example.com/fault/big/@v/v1.0.0.zip \
  "$T/tree/example.com/fault/big/@v/v1.0.0.zip" '50[0-9]' "$NOSPACE"
SAWS[big]=$SAW
STORED[big]=$(stored example.com/fault/big v1.0.0 zip)
if [[ $CODE != 200 && ${STORED[big]} != nothing ]]; then
  soft_fail "zip staged, disk full while storing it: the store holds ${STORED[big]}"
fi
sleep 0.5
after=$(room_kib)
((after + 64 >= before)) || soft_fail "zip staged, then disk full: free space (+WAL) $before KiB before, $after KiB after"
alive "after a zip that could not be stored"
((${#FAILS[@]} == n0)) || VERDICT[big]=fail

echo "---- the disk is full"
fill_to 0
echo "  $(free_kib) KiB free"
n0=${#FAILS[@]}
# A small write may still fit in the room SQLite's WAL file already has.
expect_bytes_or_error "disk full: a new .info" /rsc.io/quote/@v/v1.5.2.info \
  "$T/tree/rsc.io/quote/@v/v1.5.2.info" '50[0-9]' "$NOSPACE"
SAWS[info]=$SAW
STORED[info]=$(stored rsc.io/quote v1.5.2 info)
if [[ $CODE == 200 ]]; then
  [[ ${STORED[info]} == "$(stat -c %s "$T/tree/rsc.io/quote/@v/v1.5.2.info") bytes" ]] ||
    soft_fail "disk full: served a .info, the store holds ${STORED[info]}"
else
  [[ ${STORED[info]} == nothing ]] || soft_fail "disk full: the store holds a .info of ${STORED[info]}"
fi
((${#FAILS[@]} == n0)) || VERDICT[info]=fail
n0=${#FAILS[@]}
expect_error "disk full: a new small zip" /rsc.io/quote/@v/v1.5.2.zip '50[0-9]' "$NOSPACE"
SAWS[zip]=$SAW
STORED[zip]=$(stored rsc.io/quote v1.5.2 zip)
[[ ${STORED[zip]} == nothing ]] || soft_fail "disk full: the store holds a zip of ${STORED[zip]}"
((${#FAILS[@]} == n0)) || VERDICT[zip]=fail
n0=${#FAILS[@]}
for p in "${ALIVE_PATHS[@]}"; do
  expect_bytes "disk full: a stored file is still served" "$p" "$T/tree$p"
done
alive "disk full"
((${#FAILS[@]} == n0)) || VERDICT[stored]=fail

echo "---- room again: the same requests get the real bytes"
rm -f "$SMALL/filler"
n0=${#FAILS[@]}
expect_bytes "room again: .info" /rsc.io/quote/@v/v1.5.2.info "$T/tree/rsc.io/quote/@v/v1.5.2.info"
((${#FAILS[@]} == n0)) || VERDICT[info]=fail
n0=${#FAILS[@]}
expect_bytes "room again: small zip" /rsc.io/quote/@v/v1.5.2.zip "$T/tree/rsc.io/quote/@v/v1.5.2.zip"
((${#FAILS[@]} == n0)) || VERDICT[zip]=fail
n0=${#FAILS[@]}
expect_bytes "room again: the zip that could not be stored" /example.com/fault/big/@v/v1.0.0.zip \
  "$T/tree/example.com/fault/big/@v/v1.0.0.zip"
((${#FAILS[@]} == n0)) || VERDICT[big]=fail
n0=${#FAILS[@]}
# Still larger than the disk: an error again, never part of it.
expect_error "zip larger than the disk, again" /example.com/fault/huge/@v/v1.0.0.zip '50[0-9]' "$NOSPACE"
((${#FAILS[@]} == n0)) || VERDICT[huge]=fail
check_store "after the disk filled"

echo "---- restart on the same data directory"
stop_modproxy
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off --memory-cache 1
for p in /rsc.io/quote/@v/v1.5.2.info /rsc.io/quote/@v/v1.5.2.zip /example.com/fault/big/@v/v1.0.0.zip "${ALIVE_PATHS[@]}"; do
  expect_bytes "after restart" "$p" "$T/tree$p"
done
check_store "after the restart"
stop_modproxy

result "disk full: zip larger than the whole disk (4 MiB on 3 MiB)" "${SAWS[huge]}" "${STORED[huge]}" "${VERDICT[huge]:-pass}"
result "disk full: zip staged, no room to store it (500 KiB zip, 650 KiB free)" "${SAWS[big]}" "${STORED[big]}" "${VERDICT[big]:-pass}"
result "disk full: new .info on a full disk" "${SAWS[info]}" "${STORED[info]}" "${VERDICT[info]:-pass}"
result "disk full: new small zip on a full disk" "${SAWS[zip]}" "${STORED[zip]}" "${VERDICT[zip]:-pass}"
result "disk full: files stored before are served" "200, the real bytes" "unchanged" "${VERDICT[stored]:-pass}"
umount -l "$SMALL" 2>/dev/null || true
finish disk_full
