#!/usr/bin/env bash
# Reload (`systemctl reload modproxy`): the shipped unit's ExecReload line,
# read from deploy/systemd/modproxy.service, is run against a modproxy
# started with a config file. The process lives and logs what changed; a
# new token in the auth file replaces the old one at once; a module made
# private in the config file comes from its git route (with credentials)
# or is refused as private (without); a new list-ttl applies; a broken
# config file or auth file keeps the running settings (and says which file
# is wrong); a new TLS certificate, at a new path, reaches new clients.
source "$(dirname "$0")/lib.sh"
# shellcheck source=private_lib.bash
source "$(dirname "$0")/private_lib.bash"

UNIT=$SRC_DIR/deploy/systemd/modproxy.service
RELOAD=$(sed -n 's/^ExecReload=//p' "$UNIT")
[[ $RELOAD == *'$MAINPID'* ]] || fail "no ExecReload line with \$MAINPID in $UNIT"

# reload: runs the unit's ExecReload as systemd would ($MAINPID: the
# server), then waits for the server's SIGHUP line; fails if it died.
reload() {
  local before i
  before=$(grep -c 'SIGHUP: ' "$MODPROXY_LOG" || true)
  MAINPID=$MODPROXY_PID eval "$RELOAD"
  for ((i = 0; i < 50; i++)); do
    (($(grep -c 'SIGHUP: ' "$MODPROXY_LOG" || true) > before)) && break
    _alive "$MODPROXY_PID" || fail "modproxy died on reload: $(tail -n 3 "$MODPROXY_LOG")"
    sleep 0.1
  done
  _alive "$MODPROXY_PID" || fail "modproxy died on reload: $(tail -n 3 "$MODPROXY_LOG")"
  LAST_RELOAD=$(grep 'SIGHUP: ' "$MODPROXY_LOG" | tail -n +"$((before + 1))")
  [[ -n $LAST_RELOAD ]] || fail "no SIGHUP line in the log after the reload"
}
code() { # URL [curl args]: the HTTP status
  curl -s -o /dev/null -w '%{http_code}' "${@:2}" "$1"
}

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
# A private repository, served by a file:// git route once configured.
make_team_lib
PRIV=git.corp.example/team/lib

OLD_TOKEN=$("$TEST_MODPROXY_BIN" auth token ci 2>&1 >"$T/auth" | tail -n 1)
CONF="$T/modproxy.conf"
cat >"$CONF" <<EOF
upstream = $UPSTREAM_URL
sumdb = off
auth-file = $T/auth
list-ttl = 300
EOF
start_modproxy --config "$CONF"

# ---- the unit's ExecReload: the process lives and says so ----------------------
reload
assert_contains "$LAST_RELOAD" "SIGHUP: reloaded; no setting changed; auth file read again"
assert_eq "$(curl -s "$PROXY_URL/healthz")" "ok" "/healthz after the reload"

# Before: git.corp.example is public (the upstream does not have it: a
# 404 anyone may see, remembered for not-found-ttl), a list stays fresh for
# list-ttl.
assert_eq "$(code "$PROXY_URL/git.corp.example/team/other/@v/list")" 404 "a public module the upstream lacks"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list")" 404 "the module while public"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list")" 404 "the module while public, again"
priv_hits=$(upstream_hits "$PRIV")
assert_eq "$priv_hits" 1 "the public 404 remembered"
assert_eq "$(code "$PROXY_URL/rsc.io/quote/@v/list")" 200 "a public list"
hits=$(upstream_hits 'rsc.io/quote/@v/list')
assert_eq "$(code "$PROXY_URL/rsc.io/quote/@v/list")" 200 "a public list again"
assert_eq "$(upstream_hits 'rsc.io/quote/@v/list')" "$hits" "the list is fresh for list-ttl 300"

# ---- new token, new private pattern and git route, new list-ttl ------------------
NEW_TOKEN=$("$TEST_MODPROXY_BIN" auth token ci 2>&1 >"$T/auth" | tail -n 1)
cat >"$CONF" <<EOF
upstream = $UPSTREAM_URL
sumdb = off
auth-file = $T/auth
list-ttl = 0
private = git.corp.example
git-route = git.corp.example/*/*=file://$T/srv/{2}/{3}.git
listen = 127.0.0.1:1
EOF
reload
assert_contains "$LAST_RELOAD" "SIGHUP: reloaded; changed: list-ttl, private, git-route; auth file read again"
# listen is given on the command line too (start_modproxy), which wins:
# only a change the file can make is named.
[[ $LAST_RELOAD == *"only applied by a restart"* ]] && fail "a setting the flags fix was named: $LAST_RELOAD"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list" -H "Authorization: Bearer $OLD_TOKEN")" 401 "the old token"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list")" 401 "the now private module, anonymous"
assert_eq "$(code "$PROXY_URL/git.corp.example/team/other/@v/list")" 401 "refused as private now"
# The public 404 remembered before the reload is not served: the module's
# route changed, and git has it.
assert_contains "$(curl -s -H "Authorization: Bearer $NEW_TOKEN" "$PROXY_URL/$PRIV/@v/list")" "v1.0.0" "the new token"
assert_eq "$(upstream_hits "$PRIV")" "$priv_hits" "the private module asked of the upstream"
# list-ttl 0: every list asks the upstream again.
hits=$(upstream_hits 'rsc.io/quote/@v/list')
assert_eq "$(code "$PROXY_URL/rsc.io/quote/@v/list")" 200 "a public list after the reload"
assert_eq "$(upstream_hits 'rsc.io/quote/@v/list')" "$((hits + 1))" "list-ttl 0 applies"

# A setting that needs a restart is named, and kept.
sed -i '/^listen = /d' "$CONF"
echo "memory-cache = 128" >>"$CONF"
reload
assert_contains "$LAST_RELOAD" "SIGHUP: changed, but only applied by a restart: memory-cache"

# ---- a broken config file, then a broken auth file: the running settings stay -----
good_conf=$(cat "$CONF")
echo "list-tll = 5" >>"$CONF"
reload
assert_contains "$LAST_RELOAD" "modproxy.conf:$(grep -c '' "$CONF"): unknown key \"list-tll\" (did you mean \"list-ttl\"?); still serving with the previous settings"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list" -H "Authorization: Bearer $NEW_TOKEN")" 200 "served after a broken config file"
printf '%s\n' "$good_conf" >"$CONF"
cp "$T/auth" "$T/auth.good"
echo "token broken nothex" >>"$T/auth"
reload
assert_contains "$LAST_RELOAD" "--auth-file $T/auth:2:"
assert_contains "$LAST_RELOAD" "still serving with the previous settings"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list" -H "Authorization: Bearer $NEW_TOKEN")" 200 "the token after a broken auth file"
assert_eq "$(code "$PROXY_URL/$PRIV/@v/list")" 401 "still private after a broken auth file"
stop_modproxy
cp "$T/auth.good" "$T/auth"

# ---- TLS: a new certificate at a new path reaches new clients --------------------
# Restarted with https, without the private pattern; the reload brings a
# new certificate (at a new path) and the private pattern, and the go
# command, trusting only the new certificate and with the token in
# ~/.netrc (sent over https only), gets the private module from git.
make_cert() { # NAME SERIAL: a self-signed certificate for 127.0.0.1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$1" -set_serial "$2" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T/$1.key" -out "$T/$1.crt" 2>/dev/null
}
serial() { # the serial of the certificate the server presents now
  openssl s_client -connect "127.0.0.1:${PROXY_URL##*:}" </dev/null 2>/dev/null |
    openssl x509 -noout -serial
}
make_cert one 4096
make_cert two 8192
printf 'upstream = %s\nsumdb = off\nauth-file = %s\ntls-cert = %s\ntls-key = %s\n' \
  "$UPSTREAM_URL" "$T/auth" "$T/one.crt" "$T/one.key" >"$CONF"
port=$(_free_port) # start_modproxy waits for plain http
"$TEST_MODPROXY_BIN" serve --listen "127.0.0.1:$port" --data "$T/data" --config "$CONF" >>"$MODPROXY_LOG" 2>&1 &
MODPROXY_PID=$!
_PIDS+=("$MODPROXY_PID")
PROXY_URL="https://127.0.0.1:$port"
for ((i = 0; i < 100; i++)); do
  curl -sf --cacert "$T/one.crt" "$PROXY_URL/healthz" >/dev/null && break
  sleep 0.1
done
assert_eq "$(serial)" "serial=1000" "the first certificate"
printf 'upstream = %s\nsumdb = off\nauth-file = %s\ntls-cert = %s\ntls-key = %s\n%s\n%s\n' \
  "$UPSTREAM_URL" "$T/auth" "$T/two.crt" "$T/two.key" "private = git.corp.example" \
  "git-route = git.corp.example/*/*=file://$T/srv/{2}/{3}.git" >"$CONF"
reload
assert_contains "$LAST_RELOAD" "changed: private, git-route, tls-cert, tls-key; TLS certificate and key read again; auth file read again"
assert_eq "$(serial)" "serial=2000" "the new certificate after the reload"
mkdir -p "$T/home"
printf 'machine 127.0.0.1:%s login ci password %s\nmachine 127.0.0.1 login ci password %s\n' \
  "$port" "$NEW_TOKEN" "$NEW_TOKEN" >"$T/home/.netrc"
scratch_module
GOCMD_PROXY=$PROXY_URL
GOCMD_ENV=(SSL_CERT_FILE="$T/two.crt" GONOSUMDB=git.corp.example)
out=$(gocmd mod download -json "$PRIV@v1.0.0" 2>&1) || fail "go mod download of the now private module: $out"
assert_contains "$out" '"Version": "v1.0.0"'
assert_eq "$(upstream_hits "$PRIV")" "$priv_hits" "the private module asked of the upstream"
stop_modproxy
echo "PASS ops_reload"
