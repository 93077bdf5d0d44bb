#!/usr/bin/env bash
# diag_gocmd.sh: what the go command itself prints (its "server response:"
# lines) when a build fails through modproxy names the cause and the fix,
# fits the go command's window whole (no "[Truncated"), and ends with
# "see <proxy>/diag/req/<id>", whose record (text and JSON) has the outcome
# and the upstream attempts. Causes: a version that does not exist, an
# unknown module (by version and by @latest; with the paths this proxy has
# served that are close to it: "did you mean"), a v2+ version asked for at a
# path without its /vN (and a +incompatible one), a private module without a
# git route, an unreachable upstream, and long explanations (long module
# path, several long upstream URLs) that must still fit.
#
# Checks are "soft": every failed check is collected and reported at the
# end, so that one run shows every broken explanation at once.
source "$(dirname "$0")/lib.sh"

SOFT=()
soft() { # message: records a failed check and goes on
  SOFT+=("$1")
  echo "CHECK FAILED: $1" >&2
}
expect() { # haystack needle what
  [[ $1 == *"$2"* ]] || soft "$3: '$2' not found in:"$'\n'"$1"
}
expect_re() { # haystack ERE what (case-insensitive)
  grep -qiE -- "$2" <<<"$1" || soft "$3: /$2/ not found in:"$'\n'"$1"
}
expect_not() { # haystack needle what
  [[ $1 != *"$2"* ]] || soft "$3: '$2' should not appear in:"$'\n'"$1"
}
finish() {
  if ((${#SOFT[@]} > 0)); then
    printf '\n==== %d failed check(s) ====\n' "${#SOFT[@]}" >&2
    printf -- '- %s\n' "${SOFT[@]}" >&2
    fail "${#SOFT[@]} check(s) failed"
  fi
  echo "PASS diag_gocmd"
}

# window_ok FILE: the body obeys the go command's error-detail rules
# (cmd/go/internal/web: valid UTF-8, only graphic or space characters, at
# most 8 lines, at most 648 bytes counting "\n\t" between lines, no blank
# line before the end), so that the go command shows all of it.
window_ok() {
  python3 - "$1" <<'EOF'
import sys, unicodedata
b = open(sys.argv[1], 'rb').read()
try:
    s = b.decode('utf-8')
except UnicodeDecodeError as e:
    sys.exit('not UTF-8: %s' % e)
for ch in s:
    cat = unicodedata.category(ch)
    if not (ch.isspace() or cat[0] in 'LMNPS' or cat == 'Zs'):
        sys.exit('non-printable character %r' % ch)
lines = s.split('\n')
if lines and lines[-1] == '':
    lines.pop()
for i, l in enumerate(lines):
    if l.strip() == '':
        sys.exit('blank line at line %d (the go command stops there)' % (i + 1))
if len(lines) > 8:
    sys.exit('%d lines > 8' % len(lines))
n = sum(len(l.encode()) for l in lines) + 2 * (len(lines) - 1)
if n > 648:
    sys.exit('%d bytes as the go command counts them > 648' % n)
EOF
}

# go_fail WHAT ARGS...: `go ARGS` in $T/work must fail and show modproxy's
# whole explanation. Sets GOERR (all output), RESP (the server response
# lines, tab removed), SEE (the "see" URL) and REQ_ID.
go_fail() {
  local what=$1 rc=0
  shift
  GOERR=$(cd "$T/work" && gocmd "$@" 2>&1) || rc=$?
  RESP='' SEE='' REQ_ID=''
  echo "--- go $* (exit $rc)"
  echo "$GOERR"
  if ((rc == 0)); then
    soft "$what: go $* succeeded"
    return 0
  fi
  expect "$GOERR" "server response:" "$what: modproxy's explanation reaches the go command"
  expect_not "$GOERR" "[Truncated" "$what: explanation fits the go command's window"
  RESP=$(awk '/^\tserver response:$/ {on = 1; next}
    on && /^\t/ {sub(/^\t/, ""); print; next}
    on {exit}' <<<"$GOERR")
  local last
  last=$(tail -n 1 <<<"$RESP")
  if [[ $last =~ ^see\ (${PROXY_URL//./\\.}/diag/req/([^ ]+))$ ]]; then
    SEE=${BASH_REMATCH[1]}
    REQ_ID=${BASH_REMATCH[2]}
  else
    soft "$what: the explanation's last line is not 'see $PROXY_URL/diag/req/<id>': '$last'"
  fi
}

# body_ok WHAT URL STATUS: a fresh GET of the failing URL answers STATUS
# with a text/plain; charset=utf-8 body that fits the window.
body_ok() {
  local what=$1 url=$2 want=$3 code ct
  code=$(curl -sS -D "$T/body.h" -o "$T/body" -w '%{http_code}' "$url")
  [[ $code == "$want" ]] || soft "$what: GET $url: status $code, want $want"
  ct=$(awk -F': *' 'tolower($1) == "content-type" {print $2}' "$T/body.h" | tr -d '\r')
  [[ ${ct,,} == "text/plain; charset=utf-8" ]] || soft "$what: Content-Type '$ct', want text/plain; charset=utf-8"
  local why
  why=$(window_ok "$T/body" 2>&1) || soft "$what: body does not fit the go command's window: $why"$'\n'"$(cat "$T/body")"
}

# record_ok WHAT OUTCOME ATTEMPT_RE: the "see" URL gives the record: text
# (with the id, the outcome and, if ATTEMPT_RE is not empty, an upstream
# attempt matching it), ?format=json (valid JSON, same id and outcome,
# attempts matching ATTEMPT_RE) and Accept: application/json (valid JSON).
record_ok() {
  local what=$1 outcome=$2 attempt_re=$3 text json
  [[ -n $SEE ]] || return 0
  text=$(curl -sS "$SEE") || { soft "$what: GET $SEE failed"; return 0; }
  echo "--- record $REQ_ID (text)"
  echo "$text"
  expect "$text" "$REQ_ID" "$what: text record names its id"
  expect_re "$text" "outcome: *$outcome" "$what: text record outcome"
  [[ -z $attempt_re ]] || expect_re "$text" "$attempt_re" "$what: text record shows the upstream attempt"
  json=$(curl -sS "$SEE?format=json")
  if ! python3 -m json.tool <<<"$json" >/dev/null 2>&1; then
    soft "$what: $SEE?format=json is not valid JSON: $json"
  else
    local why
    printf '%s' "$json" >"$T/record.json"
    why=$(python3 - "$REQ_ID" "$outcome" "$attempt_re" "$T/record.json" 2>&1 <<'EOF'
import json, re, sys
rid, outcome, attempt_re, path = sys.argv[1:5]
r = json.load(open(path))
errs = []
if r.get('id') != rid:
    errs.append('id %r, want %r' % (r.get('id'), rid))
if not re.fullmatch(outcome, str(r.get('outcome')), re.I):
    errs.append('outcome %r, want /%s/' % (r.get('outcome'), outcome))
if attempt_re:
    att = r.get('attempts') or []
    if not any(re.search(attempt_re, json.dumps(a), re.I) for a in att):
        errs.append('no attempt matching /%s/ in %s' % (attempt_re, json.dumps(att)))
if errs:
    sys.exit('; '.join(errs))
EOF
    ) || soft "$what: JSON record: $why"$'\n'"$json"
  fi
  json=$(curl -sS -H 'Accept: application/json' "$SEE")
  python3 -m json.tool <<<"$json" >/dev/null 2>&1 ||
    soft "$what: $SEE with Accept: application/json is not valid JSON: $json"
}

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
UP1=$UPSTREAM_URL
# git.example.com is routed to bare repositories under $T/srv (none yet).
mkdir -p "$T/srv"
start_modproxy --upstream "$UPSTREAM_URL" --private 'corp.example.com/*,git.example.com/*' \
  --git-route "git.example.com/*=file://$T/srv/{2}.git"
mkdir -p "$T/work"
printf 'module example.com/e2e\n\ngo 1.19\n' >"$T/work/go.mod"
GOCMD_ENV=(GONOSUMDB='corp.example.com/*,git.example.com/*')

# ---- a version that does not exist -----------------------------------------
go_fail "missing version" get rsc.io/quote@v1.5.9
expect "$RESP" "rsc.io/quote@v1.5.9" "missing version: names the module and version"
expect_re "$RESP" "no such version" "missing version: the cause"
expect_re "$RESP" "nearest:.*v1\.5\.3-pre1" "missing version: the nearest existing version"
expect "$RESP" "latest: v1.5.2" "missing version: the latest version"
expect "$RESP" "go get rsc.io/quote@v1.5.2" "missing version: the fix"
expect "$RESP" "$UP1" "missing version: the upstream asked"
body_ok "missing version" "$PROXY_URL/rsc.io/quote/@v/v1.5.9.info" 404
record_ok "missing version" "not found" "rsc\.io/quote/@v/v1\.5\.9\.info.*404|404.*rsc\.io/quote/@v/v1\.5\.9\.info"

# Between two versions: both neighbours are named.
go_fail "missing version between two" get rsc.io/quote@v1.4.5
expect_re "$RESP" "nearest:.*v1\.4\.0" "missing version between two: the version below"
expect_re "$RESP" "nearest:.*v1\.5\.0" "missing version between two: the version above"
expect_re "$RESP" "go get rsc\.io/quote@v1\.(4\.0|5\.0|5\.2)" "missing version between two: the fix"

# ---- a v2+ version at the path without its /vN -------------------------------
# v3.0.0 is a version of rsc.io/quote/v3; the fix given must work.
go_fail "wrong major" get rsc.io/quote@v3.0.0
expect_re "$RESP" "major version is part of the module path" "wrong major: the cause"
expect "$RESP" "go get rsc.io/quote/v3@v3.0.0" "wrong major: the fix"
body_ok "wrong major" "$PROXY_URL/rsc.io/quote/@v/v3.0.0.info" 404
(cd "$T/work" && gocmd get rsc.io/quote/v3@v3.0.0 >/dev/null 2>&1) ||
  soft "wrong major: the fix 'go get rsc.io/quote/v3@v3.0.0' fails"
# A v2 tag without a go.mod is v2.0.0+incompatible of the unsuffixed path.
go_fail "+incompatible" get example.com/incompatiblewithsub@v2.0.0
expect_re "$RESP" "\+incompatible" "+incompatible: the cause"
expect "$RESP" "go get example.com/incompatiblewithsub@v2.0.0+incompatible" "+incompatible: the fix"
expect_not "$RESP" "incompatiblewithsub/v2" "+incompatible: no /v2 path that does not exist"
(cd "$T/work" && gocmd get example.com/incompatiblewithsub@v2.0.0+incompatible >/dev/null 2>&1) ||
  soft "+incompatible: the fix 'go get example.com/incompatiblewithsub@v2.0.0+incompatible' fails"

# ---- an unknown module ------------------------------------------------------
go_fail "unknown module" get nosuch.example.org/mod@v1.0.0
expect "$RESP" "nosuch.example.org/mod" "unknown module: names the module"
expect_re "$RESP" "no upstream knows|unknown module" "unknown module: the cause"
expect "$RESP" "$UP1" "unknown module: which upstream was asked"
expect_re "$RESP" "404" "unknown module: what the upstream answered"
body_ok "unknown module" "$PROXY_URL/nosuch.example.org/mod/@v/v1.0.0.info" 404
record_ok "unknown module" "not found" "nosuch\.example\.org/mod/@v/v1\.0\.0\.info"

# `go get MODULE` with no version (an @latest query, so a list request)
# is the commonest way to meet an unknown module: the same cause.
go_fail "unknown module @latest" get rsc.io/nosuchmod
expect "$RESP" "rsc.io/nosuchmod" "unknown module @latest: names the module"
expect_re "$RESP" "no upstream knows|unknown module" "unknown module @latest: the cause"
expect "$RESP" "$UP1" "unknown module @latest: which upstream was asked"
expect_re "$RESP" "404" "unknown module @latest: what the upstream answered"
record_ok "unknown module @latest" "not found" "rsc\.io/nosuchmod/@v/list"

# ---- did you mean: an unknown path close to one this proxy has served ------------
# (rsc.io/quote was served above.) A slip of the fingers, and another case.
go_fail "did you mean: typo" get rsc.io/qoute@v1.5.2
expect_re "$RESP" "no upstream knows" "did you mean: typo: the cause"
expect_re "$RESP" "did you mean rsc\.io/quote[,?]" "did you mean: typo: the candidate"
go_fail "did you mean: case" get rsc.io/Quote
expect_re "$RESP" "did you mean rsc\.io/quote[,?]" "did you mean: case: the candidate"
body_ok "did you mean: typo" "$PROXY_URL/rsc.io/qoute/@v/v1.5.2.info" 404

# ---- a private module without a route -----------------------------------------
go_fail "private, no route" get corp.example.com/x@v1.0.0
expect "$RESP" "corp.example.com/x" "private, no route: names the module"
expect_re "$RESP" "private" "private, no route: says the module is private"
expect_re "$RESP" "no (--git-)?route|route.*match" "private, no route: says no route matches"
expect_re "$RESP" "--git-route" "private, no route: the fix (a --git-route for it)"
expect_not "$RESP" "$UP1" "private, no route: no upstream was asked"
body_ok "private, no route" "$PROXY_URL/corp.example.com/x/@v/v1.0.0.info" 404
# The issue's outcome classes have "private-route error" for this.
record_ok "private, no route" "private[- ]route error" ""
if grep -q 'corp\.example\.com/[^@]' "$UPSTREAM_LOG"; then
  soft "private, no route: the private path reached the public upstream: $(grep 'corp\.example\.com/[^@]' "$UPSTREAM_LOG")"
fi

# ---- a private repository that does not exist (a typo under a route) -----------
# git says "does not appear to be a git repository", then "Could not read
# from remote repository ... and the repository exists.": not found, 404.
go_fail "private, no such repository" get git.example.com/nosuch@v1.0.0
expect "$GOERR" "404 Not Found" "private, no such repository: status 404"
expect "$RESP" "no such repository" "private, no such repository: the cause"
expect "$RESP" "git.example.com/nosuch" "private, no such repository: names the module"
expect_not "$RESP" "cannot reach" "private, no such repository: not an unreachable host"
expect_not "$RESP" "the repository exists" "private, no such repository: not git's advice line"

# ---- the upstream unreachable ---------------------------------------------------
kill -TERM "$UPSTREAM_PID"
wait "$UPSTREAM_PID" 2>/dev/null || true
_forget_pid "$UPSTREAM_PID"
! curl -s -o /dev/null --max-time 2 "$UP1/" || fail "upstream still answers after SIGTERM"
go_fail "upstream unreachable" mod download rsc.io/fortune@v1.0.0
expect "$GOERR" "502 Bad Gateway" "upstream unreachable: status 502"
expect "$RESP" "rsc.io/fortune@v1.0.0" "upstream unreachable: names the module"
expect "$RESP" "$UP1" "upstream unreachable: names the upstream"
expect_re "$RESP" "could not|unreachable|refused|connect" "upstream unreachable: the cause"
body_ok "upstream unreachable" "$PROXY_URL/rsc.io/fortune/@v/v1.0.0.info" 502
record_ok "upstream unreachable" "upstream error" "127\.0\.0\.1:${UP1##*:}.*\"error\": *\"[^\"]+\"|connect"

# ---- long explanations still fit ---------------------------------------------
# Several upstreams with long URLs that cannot be reached, then a live one
# ("|": fall through on any error), and a long module path.
stop_modproxy
start_upstream "$T/tree"
dead1=$(_free_port)
dead2=$(_free_port)
long_up1="http://127.0.0.1:$dead1/a/rather/long/path/prefix/for/an/upstream/that/is/not/there/at/all/today"
long_up2="http://127.0.0.1:$dead2/another/long/upstream/prefix/which/also/refuses/every/connection/attempt"
MODPROXY_DATA="$T/data2"
start_modproxy --upstream "$long_up1|$long_up2|$UPSTREAM_URL"
long_mod="example.com/$(printf 'abcdefghij%.0s' {1..20})/x"
go_fail "long: missing version, three upstreams" mod download rsc.io/quote@v1.5.9
expect "$RESP" "rsc.io/quote@v1.5.9" "long: names the module"
body_ok "long: missing version, three upstreams" "$PROXY_URL/rsc.io/quote/@v/v1.5.9.info" 502
go_fail "long: long module path, three upstreams" mod download "$long_mod@v1.0.0"
body_ok "long: long module path, three upstreams" "$PROXY_URL/$long_mod/@v/v1.0.0.info" 502
long_mod2="example.com/$(printf 'abcdefghij%.0s' {1..45})/x"
go_fail "long: very long module path" mod download "$long_mod2@v1.0.0"
body_ok "long: very long module path" "$PROXY_URL/$long_mod2/@v/v1.0.0.info" 502
record_ok "long: very long module path" "upstream error" "127\.0\.0\.1:$dead1"

finish
