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
# any request with credentials stored, public or not.
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
stop_modproxy
echo "PASS ops_nginx"
