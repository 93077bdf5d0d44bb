#!/usr/bin/env bash
# Access control: with --auth-file, private modules (and their diagnostics)
# need credentials, sent as HTTP Basic from the go command's ~/.netrc or as
# a bearer token; an anonymous client learns nothing about them; secrets
# never reach the logs; --auth-required all closes everything but health.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

make_private_repos
start_git_daemon
proxy_routes
make_corpus_tree "$T/tree"
start_upstream "$T/tree"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
echo 's3cret-pass' | "$TEST_MODPROXY_BIN" auth user alice >"$T/auth"
TOKEN=$("$TEST_MODPROXY_BIN" auth token ci 2>&1 >>"$T/auth" | tail -n 1)
[[ ${#TOKEN} == 48 ]] || fail "auth token printed no token: $TOKEN"
grep -q "s3cret-pass\|$TOKEN" "$T/auth" && fail "the auth file holds a secret in clear"

PORT=$(_free_port)
"$TEST_MODPROXY_BIN" serve --listen "127.0.0.1:$PORT" --data "$T/data" --upstream "$UPSTREAM_URL" \
  --private "$PRIV_PATTERNS" "${PROXY_ROUTES[@]}" --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" \
  --auth-file "$T/auth" >"$T/modproxy.log" 2>&1 &
PID=$!
_PIDS+=("$PID")
BASE="https://127.0.0.1:$PORT"
for ((i = 0; i < 100; i++)); do
  curl -sf --cacert "$T/tls.crt" "$BASE/healthz" >/dev/null && break
  sleep 0.1
done
C=(curl -s --cacert "$T/tls.crt")
PRIV=github.com/corp/plain

# Anonymous: 401 with the .netrc hint for a private module; public ones open.
out=$("${C[@]}" -i "$BASE/$PRIV/@v/list")
assert_contains "$out" "HTTP/1.1 401"
assert_contains "$out" 'WWW-Authenticate: Basic realm="modproxy"'
assert_contains "$out" "machine 127.0.0.1:$PORT login USER password PASSWORD-OR-TOKEN (Go 1.24+)"
assert_contains "$out" "machine 127.0.0.1 login USER password PASSWORD-OR-TOKEN (older Go)"
[[ $out == *v1.1.0* ]] && fail "an anonymous client saw a private version"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/rsc.io/quote/@v/list")" 200 "public list, anonymous"

# With credentials: a bearer token, Basic with a password, Basic with the token.
assert_contains "$("${C[@]}" -H "Authorization: Bearer $TOKEN" "$BASE/$PRIV/@v/list")" "v1.1.0"
assert_contains "$("${C[@]}" -u alice:s3cret-pass "$BASE/$PRIV/@v/list")" "v1.1.0"
assert_contains "$("${C[@]}" -u ci:"$TOKEN" "$BASE/$PRIV/@v/list")" "v1.1.0"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' -u alice:wrong "$BASE/$PRIV/@v/list")" 401 "wrong password"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$BASE/$PRIV/@v/list")" 401 "wrong token"

# The go command with ~/.netrc, over https, as the 401's hint says: the
# newest Go with the host:port line, Go 1.19 with the host-only one.
mkdir -p "$T/home"
GOCMD_PROXY=$BASE
GOCMD_ENV=(SSL_CERT_FILE="$T/tls.crt" GONOSUMDB=github.com/corp)
scratch_module
for client in "$GO_OLD 127.0.0.1" "$GO 127.0.0.1:$PORT"; do
  printf 'machine %s login ci password %s\n' "${client#* }" "$TOKEN" >"$T/home/.netrc"
  chmod 600 "$T/home/.netrc"
  chmod -R u+w "$T/gopath" && rm -rf "$T/gopath/pkg/mod"
  out=$(GOCMD_GO=${client% *} gocmd mod download -json "$PRIV@v1.1.0")
  assert_contains "$out" '"Sum": "h1:' "$client"
done
rm "$T/home/.netrc"
chmod -R u+w "$T/gopath" && rm -rf "$T/gopath/pkg/mod"
out=$(gocmd mod download -json "$PRIV@v1.0.0" 2>&1 || true)
assert_contains "$out" "401 Unauthorized"
assert_contains "$out" "needs credentials for the private module $PRIV"

# Diagnostics: nothing private for an anonymous client.
id=$("${C[@]}" -sI -u alice:s3cret-pass "$BASE/$PRIV/@v/v1.1.0.info" | tr -d '\r' | awk 'tolower($1)=="x-request-id:"{print $2}')
sleep 1.2 # records reach the store in batches
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/diag/req/$id")" 404 "anonymous record of a private request"
assert_contains "$("${C[@]}" -u alice:s3cret-pass "$BASE/diag/req/$id")" "$PRIV"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/diag/module/$PRIV")" 401 "anonymous module page"
assert_contains "$("${C[@]}" -u alice:s3cret-pass "$BASE/diag/module/$PRIV")" "v1.1.0"
for fmt in text json; do
  page=$("${C[@]}" "$BASE/diag?format=$fmt")
  [[ $page == *github.com/corp* ]] && fail "anonymous /diag ($fmt) shows a private module"
done
assert_contains "$("${C[@]}" -u alice:s3cret-pass "$BASE/diag?format=json")" "github.com/corp"

# No secret in the logs, no private path upstream.
grep -q "s3cret-pass\|$TOKEN" "$T/modproxy.log" && fail "a secret reached the log"
[[ $(upstream_hits 'github.com/corp') == 0 ]] || fail "a private path reached the public upstream"
_stop_pid "$PID" 10 || fail "modproxy did not exit 0"

# --auth-required all: everything but health needs credentials.
"$TEST_MODPROXY_BIN" serve --listen "127.0.0.1:$PORT" --data "$T/data" --upstream "$UPSTREAM_URL" \
  --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" --auth-file "$T/auth" --auth-required all \
  >"$T/modproxy2.log" 2>&1 &
PID=$!
_PIDS+=("$PID")
for ((i = 0; i < 100; i++)); do
  curl -sf --cacert "$T/tls.crt" "$BASE/healthz" >/dev/null && break
  sleep 0.1
done
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/rsc.io/quote/@v/list")" 401 "all: public, anonymous"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/diag")" 401 "all: /diag, anonymous"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' -u ci:"$TOKEN" "$BASE/rsc.io/quote/@v/list")" 200 "all: with a token"
assert_eq "$("${C[@]}" -o /dev/null -w '%{http_code}' "$BASE/healthz")" 200 "all: health stays open"
# A bad auth file or choice is refused at start.
rc=0
printf 'user bob plain-password\n' >"$T/bad-auth"
"$TEST_MODPROXY_BIN" serve --listen 127.0.0.1:0 --data "$T/d2" --auth-file "$T/bad-auth" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "bad auth file"
assert_contains "$(cat "$T/err")" "bad-auth:1"
rc=0
"$TEST_MODPROXY_BIN" serve --listen 127.0.0.1:0 --data "$T/d2" --auth-required some 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "bad --auth-required"
echo "PASS sec_auth"
