#!/usr/bin/env bash
# diag_probes.sh: /diag tells a build's real misses from what is expected.
#   - The go command's path-prefix probes (for `go get a.b/c/d` it asks
#     a.b/c/d, a.b/c and a.b at once) are counted apart ("probes") and never
#     listed as most-missed modules; the longest path of an import no
#     module provides is the one real miss.
#   - Health checks, /metrics scrapes and /favicon.ico stay in the log but
#     do not enter the request ring behind /diag.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL"
scratch_module work

# diag_json EXPR: /diag?format=json, parsed as d; EXPR must hold.
diag_json() {
  curl -sS "$PROXY_URL/diag?format=json" >"$T/diag.json"
  python3 - "$T/diag.json" "$1" <<'PY' || fail "/diag: $1: $(cat "$T/diag.json")"
import json, sys
d = json.load(open(sys.argv[1]))
missed = [m['module'] for m in d.get('most_missed') or []]
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
}

# A package of a module: the go command probes golang.org/x/text/language
# and golang.org/x (misses) besides golang.org/x/text.
gocmd get golang.org/x/text/language >/dev/null 2>&1 || fail "go get golang.org/x/text/language"
# An import no module provides: the whole path is the real miss; its
# prefixes are probes.
out=$(gocmd get nosuch.example.org/a/b 2>&1) && fail "go get nosuch.example.org/a/b succeeded: $out"
assert_contains "$out" "nosuch.example.org/a/b" "the go command's error"
hits=$(upstream_hits 'golang\.org/x/@v/list|nosuch\.example\.org/a/@v/list')
((hits >= 2)) || fail "the go command did not probe the prefixes (upstream log: $(cat "$UPSTREAM_LOG"))"
sleep 2 # records reach the store's ring in batches (every 1 s)
diag_json "'golang.org/x/text/language' not in missed and 'golang.org/x' not in missed"
diag_json "'nosuch.example.org/a' not in missed and 'nosuch.example.org' not in missed"
diag_json "'nosuch.example.org/a/b' in missed"
diag_json "d.get('probes', 0) >= 3"
text=$(curl -sS "$PROXY_URL/diag")
assert_contains "$text" "expected lookups" "/diag text counts the probes apart"

# Polled endpoints: logged, not in the ring.
ring() { python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["ring"]; print(r["requests"], r["failures"])' "$T/diag.json"; }
diag_json "True"
read -r before failed_before < <(ring)
for u in /healthz /metrics /favicon.ico /healthz?x=1; do
  curl -sS -o /dev/null "$PROXY_URL$u"
done
sleep 2
diag_json "True"
read -r after failed_after < <(ring)
# /favicon.ico is a 404: in the ring it would be a failure.
((failed_after == failed_before)) || fail "/favicon.ico entered the ring as a failure: $failed_before -> $failed_after"
# The /diag requests themselves enter the ring (two since $before).
((after - before <= 2)) || fail "polled endpoints entered the ring: $before -> $after records"
grep -q '/favicon.ico' "$MODPROXY_LOG" || fail "/favicon.ico is not in the log"
grep -q '"/metrics"' "$MODPROXY_LOG" || fail "/metrics is not in the log"

echo "PASS diag_probes"
