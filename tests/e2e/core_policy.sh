#!/usr/bin/env bash
# core_policy.sh: module policies (--policy PATTERN=ACTION, README "Module
# policies") with the real go command, each action on its own module:
#   rsc.io/fortune=deny REASON          go get shows the reason, even for a
#                                       version modproxy holds
#   rsc.io/quote=deny >=v1.5.2 REASON   @latest picks v1.5.1; v1.5.2 fails
#                                       naming v1.5.1; lists leave it out
#   rsc.io/sampler=deny <v1.3.0 REASON  v1.2.0 fails naming v1.3.0
#   example.com/version=cache-only      a stored version is served, another
#                                       refused, the upstream never asked
#   rsc.io/breaker=upstream B           fetched from B, never from A
# and /diag/config, /diag/module, the request records and /diag/modfile (an
# in-process client) all see the same rules.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
A_URL=$UPSTREAM_URL A_LOG=$UPSTREAM_LOG
start_upstream "$T/tree"
B_URL=$UPSTREAM_URL B_LOG=$UPSTREAM_LOG

# get PATH: sets CODE, the body in $T/body.
get() {
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 "$PROXY_URL$1")
}
# go_fails WHAT ARGS...: runs the go command, which must fail; its output in OUT.
go_fails() {
  local what=$1
  shift
  if OUT=$(gocmd "$@" 2>&1); then
    fail "$what: go $* succeeded:"$'\n'"$OUT"
  fi
}
# go_ok WHAT ARGS...: runs the go command, which must succeed; output in OUT.
go_ok() {
  local what=$1
  shift
  OUT=$(gocmd "$@" 2>&1) || fail "$what: go $* failed:"$'\n'"$OUT"
}

# ---- before the policies: modproxy stores a few versions -------------------
start_modproxy --upstream "$A_URL"
for f in rsc.io/fortune/@v/v1.0.0.info example.com/version/@v/v1.0.1.info \
  example.com/version/@v/v1.0.1.mod example.com/version/@v/v1.0.1.zip \
  rsc.io/quote/@v/v1.5.2.info; do
  get "/$f"
  assert_eq "$CODE" 200 "before the policies: $f"
done
stop_modproxy

DENY_REASON="banned by the security team (SEC-42): use rsc.io/quote"
start_modproxy --upstream "$A_URL" \
  --policy "rsc.io/fortune=deny $DENY_REASON" \
  --policy "rsc.io/quote=deny >=v1.5.2 v1.5.2 breaks our builds" \
  --policy "rsc.io/sampler=deny <v1.3.0 too old" \
  --policy "example.com/version=cache-only" \
  --policy "rsc.io/breaker=upstream $B_URL"
: >"$A_LOG"

# ---- deny REASON -----------------------------------------------------------
scratch_module deny
go_fails "deny" get rsc.io/fortune@v1.0.0
assert_contains "$OUT" "403 Forbidden" "deny: status"
assert_contains "$OUT" "Reason: $DENY_REASON" "deny: the reason in go get's output"
assert_contains "$OUT" "rsc.io/fortune=deny" "deny: the policy in go get's output"
go_fails "deny @latest" get rsc.io/fortune@latest
assert_contains "$OUT" "Reason: $DENY_REASON" "deny @latest: the reason"
# The stored version is refused as well, and nothing was asked upstream.
get /rsc.io/fortune/@v/v1.0.0.info
assert_eq "$CODE" 403 "deny: a stored version"
assert_eq "$(upstream_hits '^/rsc\.io/fortune/' "$A_LOG")" 0 "deny: requests upstream"

# ---- deny RANGE REASON ------------------------------------------------------
scratch_module range
go_ok "range @latest" get rsc.io/quote@latest
assert_contains "$(cat go.mod)" "rsc.io/quote v1.5.1" "range: @latest picks the highest allowed"
go_fails "range v1.5.2" get rsc.io/quote@v1.5.2
assert_contains "$OUT" "v1.5.2 breaks our builds" "range: the reason"
assert_contains "$OUT" "go get rsc.io/quote@v1.5.1" "range: the fix names the allowed version"
go_ok "range list" list -m -versions rsc.io/quote
assert_contains "$OUT" "v1.5.1" "range: the list keeps allowed versions"
[[ $OUT != *v1.5.2* && $OUT != *v1.5.3-pre1* ]] || fail "range: the list shows denied versions: $OUT"
go_fails "range below" get rsc.io/sampler@v1.2.0
assert_contains "$OUT" "too old" "range below: the reason"
assert_contains "$OUT" "go get rsc.io/sampler@v1.3.0" "range below: the fix names the lowest allowed"
# Exactly at the bound: allowed.
go_ok "range at the bound" get rsc.io/sampler@v1.3.0
# A stored denied version is not served from the store.
get /rsc.io/quote/@v/v1.5.2.info
assert_eq "$CODE" 403 "range: a stored denied version"

# ---- cache-only -------------------------------------------------------------
scratch_module cacheonly
go_ok "cache-only stored" get example.com/version@v1.0.1
assert_contains "$(cat go.mod)" "example.com/version v1.0.1" "cache-only: the stored version"
go_fails "cache-only unstored" get example.com/version@v1.1.0
assert_contains "$OUT" "cache only" "cache-only: the refusal says why"
go_ok "cache-only list" list -m -versions example.com/version
assert_eq "$OUT" "example.com/version v1.0.1" "cache-only: the list is what is stored"
assert_eq "$(upstream_hits '^/example\.com/version/' "$A_LOG")" 0 "cache-only: requests upstream"

# ---- upstream LIST ----------------------------------------------------------
scratch_module routed
go_ok "upstream" get rsc.io/breaker@v1.0.0
(($(upstream_hits '^/rsc\.io/breaker/' "$B_LOG") > 0)) || fail "upstream: B was not asked"
assert_eq "$(upstream_hits '^/rsc\.io/breaker/' "$A_LOG")" 0 "upstream: requests to A"
(($(upstream_hits '^/rsc\.io/quote/' "$A_LOG") > 0)) || fail "upstream: other modules stopped using A"

# ---- what the diagnostics pages show ----------------------------------------
CONFIG=$(curl -sS "$PROXY_URL/diag/config")
assert_contains "$CONFIG" "rsc.io/quote=deny >=v1.5.2" "/diag/config: the policies"
assert_contains "$(curl -sS -H 'Accept: application/json' "$PROXY_URL/diag/config")" \
  '"policies":["rsc.io/fortune=deny' "/diag/config JSON: the policies"
MODULE=$(curl -sS "$PROXY_URL/diag/module/rsc.io/fortune")
assert_contains "$MODULE" "policy: rsc.io/fortune=deny $DENY_REASON" "/diag/module: the policy"
assert_contains "$MODULE" "403 policy" "/diag/module: the refused request"
assert_contains "$(curl -sS "$PROXY_URL/diag/module/rsc.io/breaker")" "policy: rsc.io/breaker=upstream" \
  "/diag/module: an upstream policy"
assert_contains "$(curl -sS "$PROXY_URL/diag/module/rsc.io/quote@v1.5.2")" \
  "policy: rsc.io/quote=deny >=v1.5.2 v1.5.2 breaks our builds (refuses this version)" \
  "/diag/module: a refused version"
assert_contains "$(curl -sS "$PROXY_URL/diag/module/rsc.io/quote@v1.5.1")" \
  "policy: rsc.io/quote=deny >=v1.5.2 v1.5.2 breaks our builds"$'\n' "/diag/module: an allowed version"
assert_contains "$(curl -sS "$PROXY_URL/diag/module/golang.org/x/text")" "policy: none" \
  "/diag/module: no policy"
# The in-process client (/diag/modfile) is refused the same way, though
# rsc.io/fortune@v1.0.0 is stored.
printf 'module example.com/m\n\ngo 1.19\n\nrequire rsc.io/fortune v1.0.0\n' >"$T/go.mod"
MODFILE=$(curl -sS -F "gomod=@$T/go.mod" "$PROXY_URL/diag/modfile")
assert_contains "$MODFILE" "rsc.io/fortune@v1.0.0 could not be fetched: Permission denied" \
  "/diag/modfile: the policy"

stop_modproxy
echo PASS
