#!/usr/bin/env bash
# core_query_info.sh: a query's answer is stored as that query's answer only
# (issue 14, item 13). The upstream answers @v/master.info and @latest with
# an .info that names a canonical version but differs from that version's
# own .info (a branch in its Origin); afterwards the version's .info is what
# the upstream serves for the version itself, fetched for it, and the query
# still gets its own answer.
source "$(dirname "$0")/lib.sh"

M=example.com/query
V=$T/tree/$M/@v
mkdir -p "$V"
printf 'v1.0.0\nv1.1.0\n' >"$V/list"
for v in v1.0.0 v1.1.0; do
  printf '{"Version":"%s","Time":"2023-01-02T03:04:05Z"}' "$v" >"$V/$v.info"
  printf 'module %s\n' "$M" >"$V/$v.mod"
done
branch() { # version ref: a query's .info, with the ref it resolved
  printf '{"Version":"%s","Time":"2023-01-02T03:04:05Z","Origin":{"VCS":"git","URL":"https://%s","Ref":"%s","Hash":"%s"}}' \
    "$1" "$M" "$2" 0123456789abcdef0123456789abcdef01234567
}
branch v1.0.0 refs/heads/master >"$V/master.info"
branch v1.1.0 refs/tags/v1.1.0 >"$T/tree/$M/@latest"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off

get() { # path: the body to $T/body, the status to CODE
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$PROXY_URL$1")
}
FAILED=0
expect() { # description path file
  get "$2"
  if [[ $CODE != 200 ]] || ! cmp -s "$T/body" "$3"; then
    echo "FAIL: $1: GET $2 -> $CODE: $(head -c 300 "$T/body")" >&2
    echo "  want: $(cat "$3")" >&2
    FAILED=1
  else
    echo "ok: $1"
  fi
}
hits() { upstream_hits "^${1//./\\.}\$"; }

expect "the query's answer" "/$M/@v/master.info" "$V/master.info"
expect "@latest's answer" "/$M/@latest" "$T/tree/$M/@latest"
expect "v1.0.0's own .info after a query named it" "/$M/@v/v1.0.0.info" "$V/v1.0.0.info"
expect "v1.1.0's own .info after @latest named it" "/$M/@v/v1.1.0.info" "$V/v1.1.0.info"
for v in v1.0.0 v1.1.0; do
  n=$(hits "/$M/@v/$v.info")
  [[ $n == 1 ]] || { echo "FAIL: $v.info: $n upstream requests, want 1 (its own)" >&2; FAILED=1; }
done
# Both stay what they are, from the store.
expect "the query's answer again" "/$M/@v/master.info" "$V/master.info"
expect "v1.0.0's .info again" "/$M/@v/v1.0.0.info" "$V/v1.0.0.info"
n=$(hits "/$M/@v/master.info")
[[ $n == 1 ]] || { echo "FAIL: master.info: $n upstream requests, want 1" >&2; FAILED=1; }
# The go command resolves the branch and then downloads the version.
scratch_module q
out=$(gocmd list -m -json "$M@master" 2>&1) || fail "go list -m $M@master: $out"
assert_contains "$out" '"Version": "v1.0.0"' "go list -m $M@master"
stop_modproxy
((FAILED == 0)) || fail "a query's answer was stored as a version's .info"
echo "PASS core_query_info"
