#!/usr/bin/env bash
# The TLS listener: the go command fetches through https with modproxy's
# certificate; SIGHUP swaps in a new certificate for new connections
# without dropping the server; bad key material is refused at start.
source "$(dirname "$0")/lib.sh"

# make_cert NAME: a self-signed certificate for 127.0.0.1 in $T/NAME.{crt,key}
make_cert() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$T/$1.key" -out "$T/$1.crt" 2>/dev/null
}
fingerprint() { # the certificate the server presents now
  openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256
}

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
make_cert one
make_cert two
cp "$T/one.crt" "$T/server.crt"
cp "$T/one.key" "$T/server.key"

PORT=$(_free_port)
"$TEST_MODPROXY_BIN" serve --listen "127.0.0.1:$PORT" --data "$T/data" \
  --upstream "$UPSTREAM_URL" --tls-cert "$T/server.crt" --tls-key "$T/server.key" \
  >"$T/modproxy.log" 2>&1 &
PID=$!
_PIDS+=("$PID")
for ((i = 0; i < 100; i++)); do
  curl -sf --cacert "$T/one.crt" "https://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.1
done
assert_eq "$(curl -s --cacert "$T/one.crt" "https://127.0.0.1:$PORT/healthz")" "ok" "https /healthz"
# Plain HTTP on the TLS port is not served.
if curl -s --max-time 3 "http://127.0.0.1:$PORT/healthz" | grep -q '^ok$'; then
  fail "plain http answered on the TLS listener"
fi

# The go command through https, trusting modproxy's certificate.
GOCMD_PROXY="https://127.0.0.1:$PORT"
GOCMD_ENV=(SSL_CERT_FILE="$T/one.crt")
scratch_module
out=$(gocmd mod download -json rsc.io/quote@v1.5.2)
assert_contains "$out" '"Sum": "h1:'
assert_contains "$out" '"Version": "v1.5.2"'
# Error bodies still reach the user through TLS.
out=$(gocmd get rsc.io/quote@v1.5.9 2>&1 || true)
assert_contains "$out" "no such version"
assert_contains "$out" "see https://127.0.0.1:$PORT/diag/req/"

# Keep-alive and pipelining over TLS: three requests in one stream.
resp=$(printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /rsc.io/quote/@v/list HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
  openssl s_client -quiet -connect "127.0.0.1:$PORT" 2>/dev/null)
assert_eq "$(grep -c '^HTTP/1.1 200' <<<"$resp")" 3 "pipelined responses over TLS"
assert_contains "$resp" "v1.5.2"

# SIGHUP: the new certificate for new connections, the server stays up.
before=$(fingerprint)
cp "$T/two.crt" "$T/server.crt"
cp "$T/two.key" "$T/server.key"
kill -HUP "$PID"
for ((i = 0; i < 50; i++)); do
  [[ $(fingerprint) != "$before" ]] && break
  sleep 0.1
done
after=$(fingerprint)
[[ -n $after && $after != "$before" ]] || fail "SIGHUP did not switch the certificate"
assert_eq "$(curl -s --cacert "$T/two.crt" "https://127.0.0.1:$PORT/healthz")" "ok" "after reload"
# A broken pair on SIGHUP keeps the working one.
echo garbage >"$T/server.key"
kill -HUP "$PID"
sleep 0.5
assert_eq "$(curl -s --cacert "$T/two.crt" "https://127.0.0.1:$PORT/healthz")" "ok" "bad reload kept the old certificate"
assert_contains "$(cat "$T/modproxy.log")" "not a PEM key, or it does not match --tls-cert: $T/server.key"
assert_contains "$(cat "$T/modproxy.log")" "still serving with the previous settings"
_stop_pid "$PID" 10 || fail "modproxy did not exit 0 after SIGTERM"

# Refused at start: a key that does not match, or only one of the two.
rc=0
"$TEST_MODPROXY_BIN" serve --listen 127.0.0.1:0 --data "$T/d2" --tls-cert "$T/one.crt" \
  --tls-key "$T/two.key" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "mismatched key: exit status"
assert_contains "$(cat "$T/err")" "does not match"
rc=0
"$TEST_MODPROXY_BIN" serve --listen 127.0.0.1:0 --data "$T/d3" --tls-cert "$T/one.crt" 2>"$T/err" || rc=$?
assert_eq "$rc" 2 "cert without key: exit status"
assert_contains "$(cat "$T/err")" "go together"
echo "PASS ops_tls"
