#!/usr/bin/env bash
# ops_refresh.sh: POST /admin/refresh, as a git host's push webhook calls
# it. A tag pushed upstream stays invisible while the version list is fresh
# in modproxy (store and memory) and a remembered 404 hides the new version;
# after the refresh the go command sees the new tag at once (list, @latest
# and the version itself). Without the token: 401; wrong method: 405; no or
# bad module: 400; no token configured: 404. The token comes from the
# config file and `modproxy config` never prints it.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
M=example.com/pushed
mkver() { # version: publishes M@version in the upstream tree
  local d="$T/tree/$M/@v"
  mkdir -p "$d"
  printf '{"Version":"%s","Time":"2023-01-02T03:04:05Z"}' "$1" >"$d/$1.info"
  printf 'module %s\n' "$M" >"$d/$1.mod"
  python3 - "$d/$1.zip" "$M@$1" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr(sys.argv[2] + "/go.mod", "module example.com/pushed\n")
    z.writestr(sys.argv[2] + "/p.go", "package pushed\n")
PY
  echo "$1" >>"$d/list"
}
mkver v1.0.0
start_upstream "$T/tree"
TOKEN=hook-$RANDOM$RANDOM$RANDOM
printf '# modproxy for the refresh test\nadmin-token = %s\n' "$TOKEN" >"$T/modproxy.conf"
out=$("$TEST_MODPROXY_BIN" config --config "$T/modproxy.conf")
assert_contains "$out" "admin-token"
assert_contains "$out" "(set, not shown)"
[[ $out != *"$TOKEN"* ]] || fail "modproxy config prints the admin token"
start_modproxy --upstream "$UPSTREAM_URL" --config "$T/modproxy.conf"

scratch_module
assert_eq "$(gocmd list -m -versions "$M")" "$M v1.0.0" "versions before the push"
# A build asking for the next version too early: remembered as not found.
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/$M/@v/v1.1.0.info")
assert_eq "$code" 404 "v1.1.0 before it exists"

mkver v1.1.0 # the push
assert_eq "$(gocmd list -m -versions "$M")" "$M v1.0.0" "the list is cached (--list-ttl)"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/$M/@v/v1.1.0.info")" 404 \
  "the not-found answer is remembered"

# ---- refusals ------------------------------------------------------------------
refresh() { # curl args...: prints "<status> <body>"
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' "$@")
  echo "$code $(cat "$T/body")"
}
out=$(refresh -X POST "$PROXY_URL/admin/refresh?module=$M")
assert_contains "$out" "401 " "no token"
hdrs=$(curl -s -D - -o /dev/null -X POST "$PROXY_URL/admin/refresh?module=$M")
assert_contains "$hdrs" "WWW-Authenticate: Bearer"
out=$(refresh -X POST -H "Authorization: Bearer wrong$TOKEN" "$PROXY_URL/admin/refresh?module=$M")
assert_contains "$out" "401 " "wrong token"
out=$(refresh -X POST -H "Authorization: Bearer ${TOKEN%?}" "$PROXY_URL/admin/refresh?module=$M")
assert_contains "$out" "401 " "token prefix"
out=$(refresh -H "Authorization: Bearer $TOKEN" "$PROXY_URL/admin/refresh?module=$M")
assert_contains "$out" "405 " "GET"
out=$(refresh -X POST -H "Authorization: Bearer $TOKEN" "$PROXY_URL/admin/refresh")
assert_contains "$out" "400 " "no module"
out=$(refresh -X POST -H "Authorization: Bearer $TOKEN" "$PROXY_URL/admin/refresh?module=..%2Fx")
assert_contains "$out" "400 " "bad module path"
out=$(refresh -X POST -H "Authorization: Bearer $TOKEN" "$PROXY_URL/admin/nothing")
assert_contains "$out" "404 " "unknown admin endpoint"
assert_eq "$(gocmd list -m -versions "$M")" "$M v1.0.0" "refused refreshes changed nothing"

# ---- the webhook ------------------------------------------------------------------
out=$(refresh -X POST -H "Authorization: Bearer $TOKEN" "$PROXY_URL/admin/refresh?module=$M")
echo "$out"
assert_contains "$out" "200 refreshed $M: "
assert_eq "$(gocmd list -m -versions "$M")" "$M v1.0.0 v1.1.0" "versions right after the refresh"
assert_eq "$(gocmd list -m "$M@latest")" "$M v1.1.0" "@latest right after the refresh"
gocmd mod download "$M@v1.1.0" || fail "go mod download of the new tag"
# The form body works too (a webhook that cannot set a query).
mkver v1.2.0
out=$(refresh -X POST -H "Authorization: Bearer $TOKEN" --data-urlencode "module=$M" "$PROXY_URL/admin/refresh")
assert_contains "$out" "200 refreshed $M: "
assert_eq "$(gocmd list -m "$M@latest")" "$M v1.2.0" "@latest after a form refresh"
assert_contains "$(curl -sf "$PROXY_URL/metrics")" "modproxy_admin_refreshes_total 2"
stop_modproxy

# ---- no token, no admin endpoints -------------------------------------------------
start_modproxy --upstream "$UPSTREAM_URL"
out=$(refresh -X POST -H "Authorization: Bearer $TOKEN" "$PROXY_URL/admin/refresh?module=$M")
assert_contains "$out" "404 " "admin endpoints without a token"
assert_contains "$out" "admin-token"
stop_modproxy
echo "PASS ops_refresh"
