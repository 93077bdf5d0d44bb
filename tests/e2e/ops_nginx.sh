#!/usr/bin/env bash
# ops_nginx.sh: the nginx tier of deploy/nginx/modproxy.conf, for real.
# Debian's nginx runs the shipped configuration (only addresses, paths and
# the certificate replaced) in front of modproxy, terminating TLS. The go
# command builds a program through it over https; a second build from an
# empty module cache is served entirely by nginx's cache: modproxy counts
# no new GOPROXY request and nginx logs a HIT for every file. Version lists
# are never cached by nginx: each one reaches modproxy. With --auth-file,
# what needed credentials (a private module) is marked private by modproxy
# and never stored by nginx: after an authorised download, an anonymous
# request through nginx gets 401, not the cached file; nor is the answer to
# any request with credentials stored, public or not. Who the client is:
# without --trusted-proxies modproxy logs nginx's address and ignores
# X-Forwarded-For; with --trusted-proxies 127.0.0.1/32 it logs and shows in
# /diag the address nginx saw (a client on 127.0.0.2), and a spoofed
# header changes nothing, through nginx or sent directly. An authorised
# private download leaves an audit line (user, module@version, file, time,
# client address), and the token never reaches the log.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

command -v nginx >/dev/null || fail "nginx is needed (apt-get install nginx)"
command -v openssl >/dev/null || fail "the openssl command is needed"

make_private_repos
start_git_daemon
proxy_routes
make_corpus_tree "$T/tree"
start_upstream "$T/tree"
TOKEN=$("$TEST_MODPROXY_BIN" auth token ci 2>&1 >"$T/auth" | tail -n 1)
start_modproxy --upstream "$UPSTREAM_URL" --private "$PRIV_PATTERNS" "${PROXY_ROUTES[@]}" \
  --auth-file "$T/auth"
MP_PORT=${PROXY_URL##*:}

# ---- nginx with the shipped configuration -------------------------------------
N=$T/nginx
mkdir -p "$N/tmp" "$N/cache"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -keyout "$N/key.pem" -out "$N/cert.pem" -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
NG_PORT=$(_free_port)
NG_HTTP_PORT=$(_free_port)
sed -e "s|/var/cache/nginx/modproxy|$N/cache|" \
  -e "s|server 127.0.0.1:3000 |server 127.0.0.1:$MP_PORT |" \
  -e "s|listen 443 ssl http2;|listen 127.0.0.1:$NG_PORT ssl http2;|" \
  -e "s|listen 80;|listen 127.0.0.1:$NG_HTTP_PORT;|" \
  -e '/listen \[::\]/d' \
  -e "s|/etc/ssl/certs/goproxy.example.com.pem|$N/cert.pem|" \
  -e "s|/etc/ssl/private/goproxy.example.com.key|$N/key.pem|" \
  -e "s|/var/log/nginx/|$N/|" \
  "$SRC_DIR/deploy/nginx/modproxy.conf" >"$N/modproxy.conf"
grep -v '^ *#' "$N/modproxy.conf" | grep -n '/var/\|/etc/\|:3000\|listen 443\|listen 80' &&
  fail "the test did not adapt every path and port of deploy/nginx/modproxy.conf"
{
  [[ $(id -u) == 0 ]] && echo "user root;" # workers must reach \$T
  cat <<EOF
worker_processes 1;
daemon off;
pid $N/nginx.pid;
error_log $N/error.log info;
events { worker_connections 256; }
http {
  client_body_temp_path $N/tmp/body;
  proxy_temp_path $N/tmp/proxy;
  fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi;
  scgi_temp_path $N/tmp/scgi;
  access_log off;
  include $N/modproxy.conf;
}
EOF
} >"$N/nginx.conf"
nginx -t -p "$N" -e "$N/error.log" -c "$N/nginx.conf" 2>"$N/t.log" ||
  fail "nginx -t: $(cat "$N/t.log")"
nginx -p "$N" -e "$N/error.log" -c "$N/nginx.conf" >"$T/nginx.log" 2>&1 &
_PIDS+=($!)
NGINX_URL=https://127.0.0.1:$NG_PORT
for ((i = 0; i < 100; i++)); do
  curl -sf --cacert "$N/cert.pem" -o /dev/null "$NGINX_URL/healthz" && break
  sleep 0.1
done
curl -sf --cacert "$N/cert.pem" -o /dev/null "$NGINX_URL/healthz" ||
  fail "nginx does not answer: $(tail -5 "$N/error.log")"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$NG_HTTP_PORT/x")
assert_contains "$code" "308 https://127.0.0.1/x" "plain http redirects to https"

# GOPROXY requests modproxy answered, from its own /metrics (not through
# nginx).
goproxy_requests() {
  curl -sf "$PROXY_URL/metrics" |
    awk '/^modproxy_requests_total\{endpoint="(list|latest|info|mod|zip)"/ { n += $2 } END { print n + 0 }'
}

# ---- first build: through nginx to modproxy -----------------------------------
GOCMD_PROXY=$NGINX_URL
GOCMD_ENV=(SSL_CERT_FILE="$N/cert.pem")
scratch_module
cat >go.mod <<'EOF'
module example.com/e2e

go 1.19

require rsc.io/quote v1.5.2
EOF
cat >main.go <<'EOF'
package main

import (
	"fmt"

	"rsc.io/quote"
)

func main() { fmt.Println(quote.Hello()) }
EOF
gocmd build -o "$T/hello" . || fail "first build through nginx"
assert_eq "$("$T/hello")" "Hello, world." "the program built through nginx"
first=$(goproxy_requests)
((first >= 6)) || fail "modproxy answered only $first GOPROXY requests for the first build"
grep -q 'cache=MISS upstream=127.0.0.1:'"$MP_PORT" "$N/modproxy.access.log" ||
  fail "nginx logged no miss sent to modproxy"

# ---- second build, empty module and build caches: nginx alone -----------------
: >"$N/modproxy.access.log"
chmod -R u+w "$T/gopath" && rm -rf "$T/gopath/pkg/mod"
GOCMD_ENV+=(GOCACHE="$T/gocache2")
gocmd build -o "$T/hello2" . || fail "second build through nginx"
assert_eq "$("$T/hello2")" "Hello, world." "the program of the second build"
assert_eq "$(goproxy_requests)" "$first" "GOPROXY requests reaching modproxy in the second build"
served=$(grep -c '"GET /' "$N/modproxy.access.log" || true)
hits=$(grep -c 'cache=HIT' "$N/modproxy.access.log" || true)
echo "second build: $served files from nginx, $hits cache hits; modproxy answered $first requests in all"
((served >= 6)) || fail "the second build fetched only $served files"
assert_eq "$hits" "$served" "every file of the second build a cache hit: $(cat "$N/modproxy.access.log")"

# ---- lists always reach modproxy ---------------------------------------------------
before=$(goproxy_requests)
for i in 1 2; do
  hdrs=$(curl -sf --cacert "$N/cert.pem" -D - -o /dev/null "$NGINX_URL/rsc.io/quote/@v/list" | tr A-Z a-z)
  [[ $hdrs != *"x-cache-status: hit"* ]] || fail "nginx served a version list from its cache"
done
assert_eq "$(goproxy_requests)" $((before + 2)) "list requests reaching modproxy"
# Immutable files carry what nginx relies on.
hdrs=$(curl -sf --cacert "$N/cert.pem" -D - -o /dev/null "$NGINX_URL/rsc.io/quote/@v/v1.5.2.zip" | tr A-Z a-z)
assert_contains "$hdrs" "immutable"
assert_contains "$hdrs" "x-cache-status: hit" # HTTP/2: names in lower case

# ---- credentials: nothing they opened is kept for anyone else ------------------
through() { # PATH [curl args...]: "status cache-status cache-control" via nginx
  local path=$1
  shift
  curl -s --cacert "$N/cert.pem" -D "$T/through.head" -o "$T/through.body" "$@" "$NGINX_URL$path" >/dev/null
  awk -F': *' 'NR == 1 {s = $0; sub(/^[^ ]* /, "", s); sub(/ .*/, "", s)}
    tolower($1) == "x-cache-status" {x = $2} tolower($1) == "cache-control" {c = $2}
    END {print s, (x == "" ? "-" : x), (c == "" ? "-" : c)}' "$T/through.head" | tr -d '\r'
}
PRIV=github.com/corp/plain
for f in v1.1.0.info v1.1.0.mod v1.1.0.zip; do
  out=$(through "/$PRIV/@v/$f" -H "Authorization: Bearer $TOKEN")
  assert_contains "$out" "200 BYPASS private," "an authorised $f through nginx"
  for i in 1 2; do
    out=$(through "/$PRIV/@v/$f")
    [[ $out == 401\ * ]] || fail "anonymous $f through nginx after an authorised download: $out"
  done
done
# A public file first asked for with credentials: not stored either.
out=$(through /rsc.io/quote/@v/v1.0.0.mod -H "Authorization: Bearer $TOKEN")
assert_contains "$out" "200 BYPASS public," "a public file asked for with credentials"
out=$(through /rsc.io/quote/@v/v1.0.0.mod)
assert_contains "$out" "200 MISS" "the same file, anonymous: nginx did not store the first answer"

# ---- who the client is ---------------------------------------------------------
# The last log line whose target is $1 (a unique query string marks each).
logged() {
  for ((i = 0; i < 30; i++)); do
    grep -F "\"target\":\"$1\"" "$MODPROXY_LOG" | tail -n 1 | grep . && return 0
    sleep 0.1
  done
  fail "no log line for $1"
}
SPOOF=(-H "X-Forwarded-For: 198.51.100.9")
# Without --trusted-proxies: nginx's own address; the header is ignored.
curl -sf --cacert "$N/cert.pem" --interface 127.0.0.2 "${SPOOF[@]}" -o /dev/null \
  "$NGINX_URL/healthz?who=untrusted"
assert_contains "$(logged '/healthz?who=untrusted')" '"client":"127.0.0.1"' \
  "without --trusted-proxies, the client is nginx"
stop_modproxy
# The same modproxy with --trusted-proxies, on the port nginx sends to.
"$TEST_MODPROXY_BIN" serve --listen "127.0.0.1:$MP_PORT" --data "$MODPROXY_DATA" \
  --upstream "$UPSTREAM_URL" --private "$PRIV_PATTERNS" "${PROXY_ROUTES[@]}" \
  --auth-file "$T/auth" --trusted-proxies 127.0.0.1/32 >>"$MODPROXY_LOG" 2>&1 &
MODPROXY_PID=$!
_PIDS+=("$MODPROXY_PID")
for ((i = 0; i < 100; i++)); do
  _http_answers "$MP_PORT" && break
  sleep 0.1
done
curl -sf --cacert "$N/cert.pem" --interface 127.0.0.2 "${SPOOF[@]}" -o /dev/null \
  "$NGINX_URL/healthz?who=trusted"
assert_contains "$(logged '/healthz?who=trusted')" '"client":"127.0.0.2"' \
  "through nginx, the address nginx saw (the spoofed header's left of it)"
curl -sf --interface 127.0.0.3 "${SPOOF[@]}" -o /dev/null "$PROXY_URL/healthz?who=direct"
assert_contains "$(logged '/healthz?who=direct')" '"client":"127.0.0.3"' \
  "a direct client's X-Forwarded-For is ignored"
# /diag shows the same address.
id=$(curl -sf --cacert "$N/cert.pem" --interface 127.0.0.2 -D - -o /dev/null \
  "$NGINX_URL/rsc.io/quote/@v/list" | tr -d '\r' | awk -F': ' 'tolower($1) == "x-request-id" {print $2}')
[[ -n $id ]] || fail "no X-Request-Id through nginx"
for ((i = 0; i < 30; i++)); do
  page=$(curl -s "$PROXY_URL/diag/req/$id")
  [[ $page == *"from 127.0.0.2"* ]] && break
  sleep 0.1
done
assert_contains "$page" "from 127.0.0.2" "/diag/req/<id> names the client nginx saw"
# An authorised private download: an audit line (who, what, when, where).
curl -sf --cacert "$N/cert.pem" --interface 127.0.0.2 -H "Authorization: Bearer $TOKEN" \
  -o /dev/null "$NGINX_URL/$PRIV/@v/v1.1.0.zip?who=audit"
line=$(logged "/$PRIV/@v/v1.1.0.zip?who=audit")
for want in '"level":"audit"' '"client":"127.0.0.2"' '"user":"ci"' "\"module\":\"$PRIV\"" \
  '"version":"v1.1.0"' '"time":"20' '"status":200'; do
  assert_contains "$line" "$want" "the audit line of a private download"
done
# Every request line names the user; a public one is no audit line.
curl -sf -H "Authorization: Bearer $TOKEN" -o /dev/null "$PROXY_URL/rsc.io/quote/@v/v1.0.0.mod?who=user"
line=$(logged '/rsc.io/quote/@v/v1.0.0.mod?who=user')
assert_contains "$line" '"level":"info"' "a public download's line"
assert_contains "$line" '"user":"ci"' "a public download's line"
grep -qF "$TOKEN" "$MODPROXY_LOG" && fail "the token reached modproxy's log"
stop_modproxy
echo "PASS ops_nginx"
