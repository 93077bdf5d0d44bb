#!/usr/bin/env bash
# upstream_length.sh: an upstream that lies about a body's length (issue 14,
# item 11). libcurl reads a body up to its Content-Length and drops the
# rest, so an upstream that declares fewer bytes than it sends hands over a
# prefix; one that declares more closes early (a partial body). Neither is
# ever stored or served, whatever the prefix parses as: a go.mod cut at a
# line end and a list cut after a version parse fine, and were stored as
# the upstream's answer. For .mod, .info, .zip and list: 502 naming the
# upstream and the cause, nothing stored; without the fault, the real bytes.
# A body whose tail comes late leaves a kept-alive connection out of step:
# the next request on it reads that tail as its answer. modproxy asks again
# on a new connection, so one lie never fails the next fetch.
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

MOD=example.com/lies
Z=/$MOD/@v
make_module "$T/tree" "$MOD" v1.0.0 4096
make_module "$T/tree" "$MOD" v1.1.0 4096
make_module "$T/tree" "$MOD" v1.2.0 4096
start_faulty "$T/tree"
export MODPROXY_DATA="$T/data"
start_modproxy --upstream "$FAULTY_URL" --sumdb off
ALIVE_ROOT="$T/tree"
ALIVE_PATHS=("$Z/v1.1.0.info")

echo "---- a connection out of step: the next fetch asks again on a new one"
set_rules "^${Z//./\\.}/v1\\.2\\.0\\.info\$ desync"
expect_bytes "sound answer, connection kept ($Z/v1.2.0.info)" "$Z/v1.2.0.info" "$T/tree$Z/v1.2.0.info"
expect_bytes "next fetch on that connection ($Z/v1.2.0.mod)" "$Z/v1.2.0.mod" "$T/tree$Z/v1.2.0.mod"
grep -q "desync: GET $Z/v1.2.0.mod on the same connection" "$T/faulty1.log" ||
  soft_fail "the .mod fetch did not reuse the out-of-step connection: $(tail -3 "$T/faulty1.log")"

# The cuts leave a prefix that parses: "module example.com/lies\n\n" without
# "go 1.19\n" (8 bytes), and "v1.0.0\n" without "v1.1.0\n" (7 bytes).
SHORT="more bytes than|Content-Length"
LONG="closed|remaining|partial"
CASES=(
  "$Z/v1.0.0.mod|short-length 8|$SHORT"
  "$Z/list|short-length 7|$SHORT"
  "$Z/v1.0.0.info|short-length 5|$SHORT|json"
  "$Z/v1.0.0.zip|short-length 100|$SHORT|unusable|zip"
  "$Z/v1.1.0.mod|long-length 10|$LONG"
  "$Z/v1.1.0.zip|long-length 100|$LONG"
)
rules=()
for c in "${CASES[@]}"; do
  IFS='|' read -r p action _ <<<"$c"
  rules+=("^${p//./\\.}\$ $action")
done
set_rules "${rules[@]}"

# what_stored PATH: what the store holds for the file PATH names.
what_stored() {
  local f=${1##*/}
  if [[ $f == list ]]; then
    sql "SELECT CASE count(*) WHEN 0 THEN 'nothing' ELSE 'a list of ' || sum(length(body)) || ' bytes' END
         FROM answers WHERE module='$MOD' AND key LIKE '%list%'"
  else
    stored "$MOD" "${f%.*}" "${f##*.}"
  fi
}

echo "---- lying lengths: refused, nothing stored"
for c in "${CASES[@]}"; do
  IFS='|' read -r p action cause <<<"$c"
  expect_error "$action ($p)" "$p" 502 "$cause"
  s=$(what_stored "$p")
  [[ $s == nothing ]] || soft_fail "$action ($p): the store holds $s"
  alive "$action"
done

echo "---- faults off: the real bytes"
set_rules
for c in "${CASES[@]}"; do
  IFS='|' read -r p _ <<<"$c"
  expect_bytes "$p (fault removed)" "$p" "$T/tree$p"
done
check_store "after the faults"
stop_modproxy
finish upstream_length
