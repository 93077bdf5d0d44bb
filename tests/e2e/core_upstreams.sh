#!/usr/bin/env bash
# core_upstreams.sh: --upstream fallback semantics (GOPROXY syntax), "off",
# https upstreams with --upstream-ca, and remembered not-found answers.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
mkdir -p "$T/empty"

INFO=/rsc.io/quote/@v/v1.5.2.info
ZIP=/rsc.io/quote/@v/v1.5.2.zip

# get PATH: sets CODE; body in $T/body, headers in $T/hdrs. Every error
# answer must be shown by the go command (GOPROXY-PROTOCOL.md section 3):
# text/plain; charset=utf-8, at most 8 lines and 648 bytes, no blank line.
get() {
  CODE=$(curl -s -D "$T/hdrs" -o "$T/body" -w '%{http_code}' --max-time 30 "$PROXY_URL$1")
  if ((CODE >= 400)); then
    assert_eq "$(ctype)" "text/plain; charset=utf-8" "content type of $CODE for $1"
    local lines bytes
    lines=$(wc -l <"$T/body") bytes=$(wc -c <"$T/body")
    ((lines <= 8 && bytes <= 648)) ||
      fail "$CODE for $1: error body has $lines lines, $bytes bytes:"$'\n'"$(body)"
    ! grep -q '^[[:space:]]*$' "$T/body" || fail "$CODE for $1: blank line in the body:"$'\n'"$(body)"
  fi
  echo "GET $1 -> $CODE" >>"$T/responses.log"
  { body; echo; } >>"$T/responses.log"
}
body() { cat "$T/body"; }
ctype() { grep -i '^content-type:' "$T/hdrs" | tr -d '\r' | cut -d' ' -f2-; }
hits() { upstream_hits "^${1//./\\.}\$" "$2"; } # PATH LOG

# fresh_proxy NAME FLAGS...: a modproxy with its own, empty data directory
fresh_proxy() {
  local name=$1
  shift
  [[ -z ${MODPROXY_PID:-} ]] || stop_modproxy
  MODPROXY_DATA="$T/data-$name"
  start_modproxy "$@"
}

# ---- "A,B": A answers 404, B has the module -> served from B ---------------
start_upstream "$T/empty"
A_URL=$UPSTREAM_URL A_LOG=$UPSTREAM_LOG
start_upstream "$T/tree"
B_URL=$UPSTREAM_URL B_LOG=$UPSTREAM_LOG
fresh_proxy comma404 --upstream "$A_URL,$B_URL"
get "$INFO"
assert_eq "$CODE" 200 "A,B with A 404: status"
cmp -s "$T/body" "$T/tree$INFO" || fail "A,B with A 404: body differs from B's: $(body)"
assert_eq "$(hits "$INFO" "$A_LOG")" 1 "A,B with A 404: requests to A"
assert_eq "$(hits "$INFO" "$B_LOG")" 1 "A,B with A 404: requests to B"
get "$ZIP"
assert_eq "$CODE" 200 "A,B with A 404: zip status"
cmp -s "$T/body" "$T/tree$ZIP" || fail "A,B with A 404: zip differs from B's"
# Nobody has it: 404 (both asked), the text names the module.
get /rsc.io/nonexistent/@v/list
assert_eq "$CODE" 404 "A,B both 404: status"
assert_eq "$(hits /rsc.io/nonexistent/@v/list "$A_LOG")" 1 "A,B both 404: requests to A"
assert_eq "$(hits /rsc.io/nonexistent/@v/list "$B_LOG")" 1 "A,B both 404: requests to B"
assert_contains "$(body)" "rsc.io/nonexistent" "A,B both 404: body"

# ---- "A,B": A fails with 500 -> 502 naming A, B never asked ----------------
start_upstream "$T/tree" -fail-every 1 -fail-status 500
F_URL=$UPSTREAM_URL F_LOG=$UPSTREAM_LOG
start_upstream "$T/tree"
B2_URL=$UPSTREAM_URL B2_LOG=$UPSTREAM_LOG
fresh_proxy comma500 --upstream "$F_URL,$B2_URL"
get "$INFO"
assert_eq "$CODE" 502 "A,B with A 500: status (body: $(body))"
assert_contains "$(ctype)" "text/plain" "A,B with A 500: content type"
assert_contains "$(body)" "${F_URL#http://}" "A,B with A 500: the body names A"
assert_contains "$(body)" "500" "A,B with A 500: the body gives A's status"
assert_eq "$(hits "$INFO" "$F_LOG")" 1 "A,B with A 500: requests to A"
assert_eq "$(wc -l <"$B2_LOG")" 0 "A,B with A 500: requests to B"
# The failure is not remembered as an answer: A is asked again next time.
get "$INFO"
assert_eq "$CODE" 502 "A,B with A 500: second status"
assert_eq "$(hits "$INFO" "$F_LOG")" 2 "A,B with A 500: requests to A after a retry"
# /metrics counts A's two failures by cause, and nothing against B.
metrics=$(curl -sf "$PROXY_URL/metrics")
assert_contains "$metrics" "modproxy_upstream_errors_total{upstream=\"$F_URL\",cause=\"http_5xx\"} 2"
assert_contains "$metrics" "modproxy_upstream_errors_total{upstream=\"$B2_URL\",cause=\"http_5xx\"} 0"

# ---- "A|B": A fails with 500 -> served from B -----------------------------
fresh_proxy pipe500 --upstream "$F_URL|$B2_URL"
get "$INFO"
assert_eq "$CODE" 200 "A|B with A 500: status (body: $(body))"
cmp -s "$T/body" "$T/tree$INFO" || fail "A|B with A 500: body differs from B's"
assert_eq "$(hits "$INFO" "$F_LOG")" 3 "A|B with A 500: requests to A (2 before)"
assert_eq "$(hits "$INFO" "$B2_LOG")" 1 "A|B with A 500: requests to B"
get "$ZIP"
assert_eq "$CODE" 200 "A|B with A 500: zip status"
cmp -s "$T/body" "$T/tree$ZIP" || fail "A|B with A 500: zip differs from B's"

# ---- 410 is a not-found too: "A,B" with A answering 410 -> B -------------
start_upstream "$T/tree" -fail-every 1 -fail-status 410
G_URL=$UPSTREAM_URL G_LOG=$UPSTREAM_LOG
start_upstream "$T/tree"
B3_URL=$UPSTREAM_URL B3_LOG=$UPSTREAM_LOG
fresh_proxy comma410 --upstream "$G_URL,$B3_URL"
get "$INFO"
assert_eq "$CODE" 200 "A,B with A 410: status (body: $(body))"
cmp -s "$T/body" "$T/tree$INFO" || fail "A,B with A 410: body differs from B's"
assert_eq "$(hits "$INFO" "$G_LOG")" 1 "A,B with A 410: requests to A"
assert_eq "$(hits "$INFO" "$B3_LOG")" 1 "A,B with A 410: requests to B"
# Only A, answering 410 for the version and for its list: the module is
# unknown (not "no tagged versions"), and the 410 passes through.
fresh_proxy only410 --upstream "$G_URL"
get /rsc.io/sampler/@v/v1.99.0.info
assert_eq "$CODE" 410 "A alone answering 410: status (body: $(body))"
assert_contains "$(body)" "no upstream knows the module rsc.io/sampler" "A alone answering 410"

# ---- A refuses connections: "A,B" -> 502 naming A; "A|B" -> B -------------
DEAD_URL="http://127.0.0.1:$(_free_port)"
fresh_proxy commadead --upstream "$DEAD_URL,$B3_URL"
get /rsc.io/sampler/@v/v1.3.0.info
assert_eq "$CODE" 502 "A,B with A down: status (body: $(body))"
assert_contains "$(body)" "${DEAD_URL#http://}" "A,B with A down: the body names A"
assert_eq "$(hits /rsc.io/sampler/@v/v1.3.0.info "$B3_LOG")" 0 "A,B with A down: requests to B"
assert_contains "$(curl -sf "$PROXY_URL/metrics")" \
  "modproxy_upstream_errors_total{upstream=\"$DEAD_URL\",cause=\"connect\"} 1"
fresh_proxy pipedead --upstream "$DEAD_URL|$B3_URL"
get /rsc.io/sampler/@v/v1.3.0.info
assert_eq "$CODE" 200 "A|B with A down: status (body: $(body))"
cmp -s "$T/body" "$T/tree/rsc.io/sampler/@v/v1.3.0.info" || fail "A|B with A down: body differs"
assert_eq "$(hits /rsc.io/sampler/@v/v1.3.0.info "$B3_LOG")" 1 "A|B with A down: requests to B"

# ---- "off": only what the store holds ------------------------------------
MODPROXY_DATA="$T/data-pipe500"
# Same data dir as the A|B proxy, which cached $INFO and $ZIP.
stop_modproxy
start_modproxy --upstream off
before_b=$(wc -l <"$B2_LOG") before_f=$(wc -l <"$F_LOG")
get "$INFO"
assert_eq "$CODE" 200 "off: cached .info status"
cmp -s "$T/body" "$T/tree$INFO" || fail "off: cached .info differs"
get "$ZIP"
assert_eq "$CODE" 200 "off: cached .zip status"
cmp -s "$T/body" "$T/tree$ZIP" || fail "off: cached .zip differs"
get /rsc.io/sampler/@v/v1.3.0.info
assert_eq "$CODE" 404 "off: uncached .info status (body: $(body))"
assert_contains "$(ctype)" "text/plain" "off: uncached content type"
get /rsc.io/sampler/@v/list
assert_eq "$CODE" 404 "off: uncached list status (body: $(body))"
assert_eq "$(wc -l <"$B2_LOG")" "$before_b" "off: requests to the old upstream B"
assert_eq "$(wc -l <"$F_LOG")" "$before_f" "off: requests to the old upstream A"

# ---- https upstream with a self-signed certificate ------------------------
start_upstream "$T/tree" -tls-cert-out "$T/upstream-cert.pem"
S_URL=$UPSTREAM_URL S_LOG=$UPSTREAM_LOG S_CERT=$UPSTREAM_CERT
[[ $S_URL == https://* ]] || fail "https upstream URL is $S_URL"
fresh_proxy https-ca --upstream "$S_URL" --upstream-ca "$S_CERT"
get "$INFO"
assert_eq "$CODE" 200 "https with --upstream-ca: status (body: $(body))"
cmp -s "$T/body" "$T/tree$INFO" || fail "https with --upstream-ca: body differs"
assert_eq "$(hits "$INFO" "$S_LOG")" 1 "https with --upstream-ca: requests to the https upstream"
get "$ZIP"
assert_eq "$CODE" 200 "https with --upstream-ca: zip status"
cmp -s "$T/body" "$T/tree$ZIP" || fail "https with --upstream-ca: zip differs"

# Without the CA: an error (not a not-found) that explains the certificate.
fresh_proxy https-noca --upstream "$S_URL"
get "$INFO"
[[ $CODE == 5* ]] || fail "https without --upstream-ca: status $CODE, want 5xx (body: $(body))"
assert_contains "$(ctype)" "text/plain" "https without CA: content type"
body | grep -qi 'certificate' ||
  fail "https without --upstream-ca: the body does not mention the certificate:"$'\n'"$(body)"
assert_contains "$(body)" "${S_URL#https://}" "https without CA: the body names the upstream"
assert_contains "$(curl -sf "$PROXY_URL/metrics")" \
  "modproxy_upstream_errors_total{upstream=\"$S_URL\",cause=\"protocol\"} 1"

# ---- file:// upstreams and upstream URLs with a path prefix ----------------
mkdir -p "$T/prefixed/some/prefix"
cp -R "$T/tree/rsc.io" "$T/prefixed/some/prefix/"
start_upstream "$T/prefixed"
P_URL=$UPSTREAM_URL P_LOG=$UPSTREAM_LOG
fresh_proxy prefix --upstream "$P_URL/some/prefix/"
get "$INFO"
assert_eq "$CODE" 200 "upstream with a path prefix: status (body: $(body))"
cmp -s "$T/body" "$T/tree$INFO" || fail "upstream with a path prefix: body differs"
assert_eq "$(hits "/some/prefix$INFO" "$P_LOG")" 1 "upstream with a path prefix: request path"
get '/rsc.io/!q!u!o!t!e/@v/v1.5.2.zip'
assert_eq "$CODE" 200 "upstream with a path prefix: case-encoded zip"
cmp -s "$T/body" "$T/tree/rsc.io/!q!u!o!t!e/@v/v1.5.2.zip" || fail "prefix: case-encoded zip differs"

# file:// first (it lacks the module: not found, fall through), then http.
fresh_proxy file --upstream "file://$T/empty,file://$T/tree"
get "$INFO"
assert_eq "$CODE" 200 "file:// upstreams: status (body: $(body))"
cmp -s "$T/body" "$T/tree$INFO" || fail "file:// upstream: body differs"
get "$ZIP"
assert_eq "$CODE" 200 "file:// upstream: zip status"
cmp -s "$T/body" "$T/tree$ZIP" || fail "file:// upstream: zip differs"
get /rsc.io/quote/@v/list
assert_eq "$CODE" 200 "file:// upstream: list status"
cmp -s "$T/body" "$T/tree/rsc.io/quote/@v/list" || fail "file:// upstream: list differs"
get '/rsc.io/!q!u!o!t!e/@v/v1.5.3-!p!r!e.info'
assert_eq "$CODE" 200 "file:// upstream: case-encoded version"
cmp -s "$T/body" "$T/tree/rsc.io/!q!u!o!t!e/@v/v1.5.3-!p!r!e.info" || fail "file:// upstream: case-encoded .info differs"
get /rsc.io/quote/@v/v1.77.0.info
assert_eq "$CODE" 404 "file:// upstream: missing version"

# ---- a list whose --list-ttl expired is fetched again ----------------------
start_upstream "$T/tree"
L_LOG=$UPSTREAM_LOG
# --list-ttl 2, not 1: answers keep whole seconds, so a 1 s TTL can end
# milliseconds after the fetch when the two requests straddle a second.
fresh_proxy listttl --upstream "$UPSTREAM_URL" --list-ttl 2
L=/rsc.io/sampler/@v/list
get "$L"
assert_eq "$CODE" 200 "list: status"
etag1=$(grep -i '^etag:' "$T/hdrs" | tr -d '\r')
get "$L"
assert_eq "$(hits "$L" "$L_LOG")" 1 "list requests within --list-ttl"
cp "$T/tree$L" "$T/list.orig"
printf 'v1.99.100\n' >>"$T/tree$L" # a new tag upstream
sleep 2.5
get "$L"
assert_eq "$CODE" 200 "list after --list-ttl: status"
assert_eq "$(hits "$L" "$L_LOG")" 2 "list requests after --list-ttl"
cmp -s "$T/body" "$T/tree$L" || fail "list after --list-ttl: not the new list:"$'\n'"$(body)"
etag2=$(grep -i '^etag:' "$T/hdrs" | tr -d '\r')
[[ $etag1 != "$etag2" ]] || fail "list changed but its ETag did not ($etag1)"
cp "$T/list.orig" "$T/tree$L"
# A missing version is explained with the list asked again, not with the
# cached one once --list-ttl has passed (it may lack the newest tags).
sleep 2.5 # > --list-ttl
get /rsc.io/sampler/@v/v1.88.0.info
assert_eq "$CODE" 404 "missing version after --list-ttl: status"
assert_eq "$(hits "$L" "$L_LOG")" 3 "list requests to explain a missing version after --list-ttl"
# The list fetched to explain a missing version is kept like any other
# answer: once the upstream is down it is served stale, not lost.
get /rsc.io/quote/@v/v1.99.0.info
assert_eq "$CODE" 404 "missing version: status"
assert_eq "$(hits /rsc.io/quote/@v/list "$L_LOG")" 1 "missing version: the list fetched to explain it"
kill -TERM "$UPSTREAM_PID"
sleep 2.5 # > --list-ttl
get /rsc.io/quote/@v/list
assert_eq "$CODE" 200 "explanation's list, upstream down: status (body: $(body))"
grep -qi '^X-Modproxy-Stale: 1' "$T/hdrs" || fail "explanation's list, upstream down: not marked stale"
cmp -s "$T/body" "$T/tree/rsc.io/quote/@v/list" || fail "explanation's list, upstream down: body differs"

# ---- not-found answers are remembered for --not-found-ttl ----------------
start_upstream "$T/tree"
N_LOG=$UPSTREAM_LOG
# --not-found-ttl 3: answers keep whole seconds, so the window is 2-3 s,
# wide enough for two requests on a loaded machine.
fresh_proxy notfound --upstream "$UPSTREAM_URL" --not-found-ttl 3
NF=/example.com/no/such/module/@v/list
NFV=/rsc.io/quote/@v/v1.99.9.info
get /rsc.io/quote/@v/list # cached and fresh (--list-ttl default 300 s)
assert_eq "$CODE" 200 "list of rsc.io/quote"
for p in "$NF" "$NFV"; do
  get "$p"
  assert_eq "$CODE" 404 "not-found $p: first status"
  assert_eq "$(hits "$p" "$N_LOG")" 1 "not-found $p: first upstream requests"
  get "$p"
  assert_eq "$CODE" 404 "not-found $p: second status"
  assert_eq "$(hits "$p" "$N_LOG")" 1 "not-found $p: upstream requests within --not-found-ttl"
done
sleep 3.5 # > --not-found-ttl
for p in "$NF" "$NFV"; do
  get "$p"
  assert_eq "$CODE" 404 "not-found $p: status after expiry"
  assert_eq "$(hits "$p" "$N_LOG")" 2 "not-found $p: upstream requests after --not-found-ttl"
done
# The module appears upstream: once the not-found expired, it is served.
mkdir -p "$T/tree/example.com/no/such/module/@v"
printf 'v1.0.0\n' >"$T/tree/example.com/no/such/module/@v/list"
get "$NF"
assert_eq "$CODE" 404 "not-found: still remembered right after the 3rd request"
sleep 3.5
get "$NF"
assert_eq "$CODE" 200 "not-found: served once the module exists and the answer expired"
assert_eq "$(body)" "v1.0.0" "not-found: the new list"

# The explanation of the not-found .info above ("nearest versions") may use
# the version list, but that list was cached and fresh: it must not have
# been fetched again (last, so that the checks above run regardless).
assert_eq "$(hits /rsc.io/quote/@v/list "$N_LOG")" 1 \
  "upstream requests for a fresh cached list while answering not-found .info requests"

stop_modproxy
echo "PASS core_upstreams"
