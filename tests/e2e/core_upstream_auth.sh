#!/usr/bin/env bash
# core_upstream_auth.sh: an upstream that needs credentials (HTTP Basic over
# https), as the go command would authenticate to it: a netrc file ($NETRC),
# GOAUTH without "netrc" turning it off, and user information in the
# --upstream URL. The secret shows in no log line, /diag page, error body or
# `modproxy config` output.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
SECRET="s3cr3t-$RANDOM$RANDOM"
start_upstream "$T/tree" -tls-cert-out "$T/upstream.pem" -basic-auth "ci:$SECRET"
HOSTPORT=${UPSTREAM_URL#https://}
printf 'machine 127.0.0.1 login ci password %s\n' "$SECRET" >"$T/netrc"
printf 'machine 127.0.0.1 login ci password wrong\n' >"$T/netrc-wrong"
INFO=/rsc.io/quote/@v/v1.5.2.info

# proxy NAME [VAR=value...]: a fresh modproxy on that upstream, with only
# the credentials the settings give (HOME has no .netrc). The upstream URL
# goes in MODPROXY_UPSTREAM: as a flag it would show in lib.sh's own
# "+ modproxy serve" line of the log.
proxy() {
  local name=$1
  shift
  [[ -z ${MODPROXY_PID:-} ]] || stop_modproxy
  MODPROXY_DATA="$T/data-$name"
  mkdir -p "$T/home-$name"
  local -a vars=(HOME="$T/home-$name" NETRC= GOAUTH= MODPROXY_UPSTREAM="$UPSTREAM_URL" "$@")
  local v
  for v in "${vars[@]}"; do export "${v%%=*}=${v#*=}"; done
  start_modproxy --upstream-ca "$UPSTREAM_CERT" --sumdb off
  for v in "${vars[@]}"; do unset "${v%%=*}"; done
  export HOME="$REAL_HOME"
}
REAL_HOME=$HOME

# get PATH: sets CODE, body in $T/body.
get() {
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$PROXY_URL$1")
  cat "$T/body" >>"$T/bodies"
}

# ---- netrc ($NETRC): served, and the upstream saw the credentials ------
proxy netrc NETRC="$T/netrc"
get "$INFO"
assert_eq "$CODE" 200 "netrc: status (body: $(cat "$T/body"))"
cmp -s "$T/body" "$T/tree$INFO" || fail "netrc: body differs from the upstream's"
assert_eq "$(upstream_hits "^$INFO\$")" 1 "netrc: authenticated requests for $INFO"
# The go command through it, zips and all.
scratch_module mod
gocmd get rsc.io/quote@v1.5.2 >"$T/go-netrc.log" 2>&1 || fail "netrc: go get failed: $(cat "$T/go-netrc.log")"
anonymous=$(upstream_hits '\(anonymous\)|\(wrong credentials\)')
assert_eq "$anonymous" 0 "netrc: requests without the right credentials"

# ---- no credentials, or wrong ones: the 401 is explained, nothing stored -
proxy none
get /rsc.io/sampler/@v/v1.3.0.info
assert_eq "$CODE" 502 "no credentials: status (body: $(cat "$T/body"))"
assert_contains "$(cat "$T/body")" "401" "no credentials: the body gives the upstream's status"
assert_contains "$(cat "$T/body")" "netrc" "no credentials: the body says where credentials go"
assert_eq "$(upstream_hits '^/rsc.io/sampler/@v/v1.3.0.info \(anonymous\)$')" 1 "no credentials: anonymous request"
proxy goauth-off NETRC="$T/netrc" GOAUTH=off
get /rsc.io/sampler/@v/v1.3.0.info
assert_eq "$CODE" 502 "GOAUTH=off: status (body: $(cat "$T/body"))"
assert_eq "$(upstream_hits '^/rsc.io/sampler/@v/v1.3.0.info \(anonymous\)$')" 2 "GOAUTH=off: anonymous request"
proxy goauth-netrc NETRC="$T/netrc" GOAUTH="git $T; netrc"
get /rsc.io/sampler/@v/v1.3.0.info
assert_eq "$CODE" 200 "GOAUTH listing netrc: status (body: $(cat "$T/body"))"

# ---- user information in the upstream URL --------------------------------
proxy userinfo MODPROXY_UPSTREAM="https://ci:$SECRET@$HOSTPORT"
get /rsc.io/sampler/@v/v1.3.0.mod
assert_eq "$CODE" 200 "URL credentials: status (body: $(cat "$T/body"))"
proxy userinfo-wrong MODPROXY_UPSTREAM="https://ci:$SECRET-not@$HOSTPORT"
get /rsc.io/sampler/@v/v1.3.0.mod
assert_eq "$CODE" 502 "wrong URL credentials: status (body: $(cat "$T/body"))"
assert_contains "$(cat "$T/body")" "https://xxxxx@$HOSTPORT" "wrong URL credentials: the body names the upstream, redacted"
assert_eq "$(upstream_hits '^/rsc.io/sampler/@v/v1.3.0.mod \(wrong credentials\)$')" 1 "wrong URL credentials: the upstream saw them"
id=$(sed -n 's|.*/diag/req/\([^ ]*\)$|\1|p' "$T/body" | tail -n 1)
[[ -n $id ]] || fail "wrong URL credentials: no request id in the body"
curl -fsS "$PROXY_URL/diag/req/$id?format=json" >>"$T/bodies"
curl -fsS "$PROXY_URL/diag/req/$id" >>"$T/bodies"
curl -fsS "$PROXY_URL/diag?format=json" >>"$T/bodies"
curl -fsS "$PROXY_URL/diag" >>"$T/bodies"
curl -fsS "$PROXY_URL/diag/config" >>"$T/bodies"
assert_contains "$(cat "$T/bodies")" "xxxxx@$HOSTPORT" "/diag names the upstream, redacted"
MODPROXY_UPSTREAM="https://ci:$SECRET@$HOSTPORT" "$TEST_MODPROXY_BIN" config >"$T/config.out" 2>&1
assert_contains "$(cat "$T/config.out")" "https://xxxxx@$HOSTPORT" "modproxy config shows the upstream, redacted"
"$TEST_MODPROXY_BIN" config --upstream "https://ci:$SECRET@$HOSTPORT,https://$SECRET@$HOSTPORT"   --sumdb "sum.golang.org https://ci:$SECRET@$HOSTPORT" >>"$T/config.out" 2>&1
stop_modproxy

# ---- the secret is nowhere ------------------------------------------------
for f in "$MODPROXY_LOG" "$T/bodies" "$T/config.out" "$T"/go-*.log; do
  ! grep -q -- "$SECRET" "$f" || fail "the secret shows in ${f#"$T"/}: $(grep -- "$SECRET" "$f" | head -n 3)"
done
echo "PASS"
