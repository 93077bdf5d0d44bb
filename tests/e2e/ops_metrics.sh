#!/usr/bin/env bash
# ops_metrics.sh: GET /metrics after some traffic. The client latency
# histogram counts each request under its endpoint class and outcome (a
# fetch, a hit, a not-found, an invalid request, a health check), failures
# are counted by /diag's causes, the build and the process are described
# (resident memory, descriptors, start time, threads, read from /proc), and
# the cache's oldest use is a timestamp named as one. Then the shipped
# Grafana dashboard (deploy/grafana/modproxy.json): every metric name its
# queries use is exported by this running modproxy.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL" --sumdb off

code() { curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL$1"; }
assert_eq "$(code /rsc.io/quote/@v/v1.5.2.info)" 200 "a cold .info"
assert_eq "$(code /rsc.io/quote/@v/v1.5.2.info)" 200 "the same .info, hot"
assert_eq "$(code /rsc.io/quote/@v/v1.5.2.zip)" 200 "a cold zip"
assert_eq "$(code /rsc.io/quote/@v/v9.9.9.info)" 404 "a missing version"
assert_eq "$(code /rsc.io/quote/@v/v1.5.2.infox)" 404 "an invalid request"
assert_eq "$(code /healthz)" 200 "a health check"
metrics=$(curl -sf "$PROXY_URL/metrics")
sample() { # NAME{LABELS}: the value of one sample, or "none"
  awk -v k="$1 " 'index($0, k) == 1 { v = $NF } END { print (v == "" ? "none" : v) }' <<<"$metrics"
}
H=modproxy_request_duration_seconds
assert_eq "$(sample "${H}_count{endpoint=\"info\",outcome=\"fetched\"}")" 1 "cold .info requests"
hot=$(sample "${H}_count{endpoint=\"info\",outcome=\"hit\"}")
((hot >= 1)) || fail "hot .info requests: $hot"
assert_eq "$(sample "${H}_count{endpoint=\"zip\",outcome=\"fetched\"}")" 1 "cold zips"
assert_eq "$(sample "${H}_count{endpoint=\"info\",outcome=\"not found\"}")" 1 "missing versions"
ops=$(sample "${H}_count{endpoint=\"ops\",outcome=\"local\"}")
((ops >= 1)) || fail "health checks (start_modproxy's and ours): $ops"
# Buckets are cumulative and end with +Inf, equal to the count.
assert_eq "$(sample "${H}_bucket{endpoint=\"info\",outcome=\"hit\",le=\"+Inf\"}")" "$hot" "+Inf bucket"
awk -v p="${H}_bucket{endpoint=\"info\",outcome=\"hit\"," 'index($0, p) == 1 {
    if ($NF < last) { print "not cumulative: " $0; exit 1 } last = $NF }' <<<"$metrics" ||
  fail "the histogram's buckets are not cumulative"
assert_eq "$(sample 'modproxy_failures_total{cause="not found"}')" 1 "failures: not found"
assert_eq "$(sample 'modproxy_failures_total{cause="invalid request"}')" 1 "failures: invalid"
assert_eq "$(sample 'modproxy_failures_total{cause="upstream error"}')" 0 "failures: upstream"
assert_eq "$(sample 'modproxy_failures_total{cause="hit"}')" 0 "failures: hits are none"
assert_eq "$(sample 'modproxy_failures_total{cause="local"}')" 0 "failures: health checks are none"
assert_eq "$(sample "modproxy_build_info{version=\"$("$TEST_MODPROXY_BIN" --version | awk '{print $NF}')\"}")" 1 \
  "build info"
# The process, as /proc says.
rss=$(sample process_resident_memory_bytes)
want=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$MODPROXY_PID/status")
((rss > want / 2 && rss < want * 2)) || fail "resident memory $rss, /proc says $want"
assert_eq "$(sample process_threads)" "$(awk '/^Threads:/ { print $2 }' "/proc/$MODPROXY_PID/status")" "threads"
fds=$(sample process_open_fds)
have=$(ls "/proc/$MODPROXY_PID/fd" | wc -l)
((fds >= have - 2 && fds <= have + 2)) || fail "open fds $fds, /proc lists $have"
start=$(sample process_start_time_seconds)
now=$(date +%s)
awk -v s="$start" -v n="$now" 'BEGIN { exit !(s > n - 600 && s <= n + 1) }' ||
  fail "start time $start, now $now"
oldest=$(sample modproxy_cache_oldest_use_timestamp_seconds)
((oldest > now - 600 && oldest <= now + 1)) || fail "oldest use $oldest is not a recent timestamp"
assert_contains "$metrics" "# TYPE modproxy_upstream_errors_total counter"
[[ $metrics != *modproxy_cache_oldest_use_seconds* ]] || fail "the old, misnamed metric is still there"

# ---- the Grafana dashboard uses only what is exported --------------------------
scratch_module
gocmd mod download rsc.io/quote@v1.5.2 rsc.io/sampler@v1.3.0 >/dev/null
metrics=$(curl -sf "$PROXY_URL/metrics")
exported=$(awk '!/^#/ { sub(/[{ ].*/, "", $1); print $1 }' <<<"$metrics" | sort -u)
used=$(python3 - "$SRC_DIR/deploy/grafana/modproxy.json" <<'PY'
import json, re, sys
# PromQL words that are not metric names.
words = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
         "and", "or", "unless", "offset", "inf", "nan", "le"}
names = set()
def walk(v, key=None):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(x, k)
    elif isinstance(v, list):
        for x in v:
            walk(x, key)
    elif isinstance(v, str) and key in ("expr", "query") and "_" in v:
        q = re.sub(r'"(?:[^"\\]|\\.)*"', '""', v)      # string literals
        q = re.sub(r"\{[^}]*\}", "", q)                   # label matchers
        q = re.sub(r"label_values\(([^,()]*),\s*\w+\)", r"\1", q)  # Grafana's
        q = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", q)
        q = re.sub(r"\[[^\]]*\]", "", q)                  # ranges
        q = re.sub(r"\$\w+", "", q)                       # dashboard variables
        for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?", q):
            name = m.group(0)
            if name.endswith("(") or name.rstrip().lower() in words:
                continue
            names.add(name)
walk(json.load(open(sys.argv[1])))
print("\n".join(sorted(names)))
PY
)
n=0
while read -r name; do
  [[ -n $name ]] || continue
  n=$((n + 1))
  grep -qxF "$name" <<<"$exported" || fail "the dashboard uses $name, which /metrics does not export"
done <<<"$used"
((n >= 20)) || fail "only $n metric names found in the dashboard: $used"
echo "ok   the dashboard's $n metric names are exported"
echo "PASS ops_metrics"
