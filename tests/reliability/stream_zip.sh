#!/usr/bin/env bash
# stream_zip.sh: a zip of 1 MiB or more that is not cached reaches its
# clients while modproxy downloads it (issue 7: a cold miss's first byte
# close to the upstream's), and streaming never hands out a zip modproxy
# refuses (issue 8):
#  - a slow upstream (it pauses 2 s after the first MiB): the first byte
#    reaches the client long before the pause ends; a second client that
#    joins mid-download gets the same stream; one upstream request; both get
#    the real bytes; the zip is stored; the go command downloads a streamed
#    zip and its sum is the one GOPROXY=file:// gives;
#  - a 3 MiB body that is not a zip (its upstream pausing just before the
#    end): the clients get a 200 head and then less than its Content-Length
#    (never its last 4096 bytes), the request's record explains the
#    refusal, nothing is stored;
#  - the upstream resets after 2 MB: the client is cut off, the record says
#    why; without the fault the same request gets the real bytes;
#  - the store is consistent throughout (fsck).
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

MOD=example.com/big
Z=/$MOD/@v
for v in v1.0.0 v1.0.1 v1.0.2 v1.0.3; do make_module "$T/tree" "$MOD" "$v" $((3 << 20)); done
# v1.0.1's zip is 3 MiB of bytes that are not a zip at all.
head -c $((3 << 20)) /dev/urandom >"$T/tree/$MOD/@v/v1.0.1.zip"
start_faulty "$T/tree"
export MODPROXY_DATA="$T/data"
start_modproxy --upstream "$FAULTY_URL" --sumdb off

# timed_get KEY PATH: GET in the background; $T/KEY.{body,hdrs,out} with
# "status bytes first-byte-s total-s curl-exit" in .out.
timed_get() {
  (
    rc=0
    w=$(curl -s -D "$T/$1.hdrs" -o "$T/$1.body" --max-time 60 \
      -w '%{http_code} %{size_download} %{time_starttransfer} %{time_total}' "$PROXY_URL$2") || rc=$?
    echo "$w $rc" >"$T/$1.out"
  ) &
  TIMED[$1]=$!
}
declare -A TIMED=()
# record_of KEY: the JSON record of that response (its X-Request-Id).
record_of() {
  local id
  id=$(grep -i '^x-request-id:' "$T/$1.hdrs" | tr -d '\r' | cut -d' ' -f2)
  curl -s -H 'Accept: application/json' "$PROXY_URL/diag/req/$id"
}
upstream_gets() { grep -c "^$Z/$1\$" "$FAULTY_LOG" || true; }

echo "---- a slow upstream: the zip streams"
set_rules "v1\\.0\\.0\\.zip pause 1048576"
timed_get first "$Z/v1.0.0.zip"
sleep 0.7
timed_get second "$Z/v1.0.0.zip"
wait "${TIMED[first]}" "${TIMED[second]}"
for k in first second; do
  read -r code size ttfb total rc <"$T/$k.out"
  echo "  $k client: status $code, $size bytes, first byte after ${ttfb}s, last after ${total}s"
  [[ $code == 200 && $rc == 0 ]] || soft_fail "streamed zip, $k client: status $code, curl exit $rc"
  cmp -s "$T/$k.body" "$T/tree$Z/v1.0.0.zip" || soft_fail "streamed zip, $k client: not the real bytes"
  # The upstream holds the rest back for 2 s: a first byte within 1.2 s of
  # the request came while the download was still going on.
  awk -v t="$ttfb" 'BEGIN { exit !(t < 1.2) }' ||
    soft_fail "streamed zip, $k client: first byte after ${ttfb}s: not streamed while downloading"
  [[ $(record_of "$k") == *'"outcome":"fetched"'* ]] ||
    soft_fail "streamed zip, $k client: record is not 'fetched': $(record_of "$k")"
done
read -r _ _ _ total _ <"$T/first.out"
awk -v t="$total" 'BEGIN { exit !(t >= 1.9) }' ||
  soft_fail "streamed zip: the first client finished after ${total}s, before the upstream's pause ended"
assert_eq "$(upstream_gets v1.0.0.zip)" 1 "upstream requests for the streamed zip"
assert_eq "$(stored "$MOD" v1.0.0 zip)" "$(wc -c <"$T/tree$Z/v1.0.0.zip") bytes" "stored streamed zip"
expect_bytes "streamed zip, from the store" "$Z/v1.0.0.zip" "$T/tree$Z/v1.0.0.zip"

echo "---- the go command downloads a zip as it streams"
set_rules "v1\\.0\\.3\\.zip pause 1048576"
got=$(gocmd mod download -json "$MOD@v1.0.3" | jq -r .Sum)
want=$(GOCMD_PROXY="file://$T/tree" gocmd mod download -json "$MOD@v1.0.3" | jq -r .Sum)
echo "  go mod download: $got (file:// gives $want)"
[[ -n $got && $got == "$want" ]] || soft_fail "go mod download of a streamed zip: sum '$got', want '$want'"
assert_eq "$(upstream_gets v1.0.3.zip)" 1 "upstream requests for the go command's zip"

echo "---- a body that is not a zip: clients are cut off, never handed its end"
# The upstream pauses 100 bytes before the end: meanwhile a client has all
# it will ever get before the refusal, which must stop short of the last
# 4096 bytes (JOB_STREAM_HOLD_BYTES, held back until the zip is checked).
set_rules "v1\\.0\\.1\\.zip pause $(((3 << 20) - 100))"
for try in 1 2; do
  timed_get "refused$try" "$Z/v1.0.1.zip"
  wait "${TIMED[refused$try]}"
  read -r code size _ _ rc <"$T/refused$try.out"
  length=$(grep -i '^content-length:' "$T/refused$try.hdrs" | tr -d '\r' | cut -d' ' -f2)
  echo "  try $try: status $code, Content-Length $length, $size bytes received, curl exit $rc"
  [[ $code == 200 && $length == $((3 << 20)) ]] ||
    soft_fail "refused zip, try $try: status $code, Content-Length '$length', want a streamed 200 of $((3 << 20))"
  ((size <= length - 4096)) ||
    soft_fail "refused zip, try $try: the client got $size bytes, into the last 4096 of a zip modproxy refuses"
  ((rc == 18)) || soft_fail "refused zip, try $try: curl exit $rc, want 18 (body cut short)"
  rec=$(record_of "refused$try")
  [[ $rec == *'"outcome":"upstream error"'* && $rec == *unusable* ]] ||
    soft_fail "refused zip, try $try: the record does not explain the refusal: $rec"
done
echo "  record: $(jq -r .explanation <<<"$rec" | head -2 | tr '\n' ' ')"
assert_eq "$(stored "$MOD" v1.0.1 zip)" nothing "stored refused zip"
set_rules

echo "---- the upstream resets mid-body"
set_rules "v1\\.0\\.2\\.zip reset 2000000"
timed_get reset "$Z/v1.0.2.zip"
wait "${TIMED[reset]}"
read -r code size _ _ rc <"$T/reset.out"
echo "  status $code, $size bytes received, curl exit $rc"
((size < (3 << 20) && rc != 0)) || soft_fail "reset mid-body: the client got $size bytes, curl exit $rc"
rec=$(record_of reset)
[[ $rec == *'"outcome":"upstream error"'* && $rec == *"download failed"* ]] ||
  soft_fail "reset mid-body: the record does not say the download failed: $rec"
assert_eq "$(stored "$MOD" v1.0.2 zip)" nothing "stored zip after a reset"
set_rules
expect_bytes "reset mid-body, fault gone" "$Z/v1.0.2.zip" "$T/tree$Z/v1.0.2.zip"

check_store "after streaming"
stop_modproxy
finish stream_zip
