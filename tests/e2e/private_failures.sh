#!/usr/bin/env bash
# private_failures.sh: when git cannot answer, modproxy says why in a short
# text/plain body, distinct per cause, with credentials removed: unknown
# revision, repository not found, authentication refused, host
# unreachable, git timeout. A private module never falls back to the
# public upstream.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

make_private_repos
start_git_daemon
# An HTTP git host that refuses every request (401), and a TCP port that
# accepts connections and never answers.
AUTH_PORT=$(_free_port)
SLOW_PORT=$(_free_port)
python3 - "$AUTH_PORT" >"$T/auth.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
_PIDS+=($!)
python3 - "$SLOW_PORT" >"$T/slow.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
PY
_PIDS+=($!)
sleep 0.5
make_corpus_tree "$T/tree"
start_upstream "$T/tree"
MODPROXY_GIT_TIMEOUT=2 start_modproxy --upstream "$UPSTREAM_URL" \
  --private 'github.com/corp,github.com/auth,github.com/down,github.com/slow,nowhere.example' \
  --git-route "github.com/corp/*=git://127.0.0.1:$GIT_PORT/{3}.git" \
  --git-route "github.com/auth/*=http://alice:s3cret@127.0.0.1:$AUTH_PORT/{3}.git" \
  --git-route "github.com/down/*=git://127.0.0.1:1/{3}.git" \
  --git-route "github.com/slow/*=git://127.0.0.1:$SLOW_PORT/{3}.git"

get() { # path -> "status|body"
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/$1")
  printf '%s|%s' "$code" "$(cat "$T/body")"
}

check() { # name path want_status want_text
  local r
  r=$(get "$2")
  [[ ${r%%|*} == "$3" ]] || fail "$1: status ${r%%|*}, want $3: ${r#*|}"
  assert_contains "${r#*|}" "$4" "$1"
  [[ ${r#*|} != *s3cret* ]] || fail "$1: the body shows the password"
  (($(wc -l <<<"${r#*|}") <= 6)) || fail "$1: explanation too long"
  echo "ok   $1 -> ${r%%|*}: $(head -1 <<<"${r#*|}")"
}

check "unknown revision" github.com/corp/plain/@v/nosuch.info 404 "unknown revision nosuch"
check "unknown version" github.com/corp/plain/@v/v7.0.0.info 404 "unknown revision v7.0.0"
check "repository not found" github.com/corp/missing/@v/list 404 "not found"
check "authentication refused" github.com/auth/repo/@v/list 502 "refused modproxy's credentials"
check "host unreachable" github.com/down/repo/@v/list 502 "cannot reach the git host"
check "git timeout" github.com/slow/repo/@v/list 504 "git timed out"
check "no route" nowhere.example/x/@v/list 404 "no --git-route matches"
grep -v "^+ modproxy serve" "$MODPROXY_LOG" | grep -q s3cret && fail "the password reached modproxy's log"
# /metrics counts each failed git command by its cause.
metrics=$(curl -sf "$PROXY_URL/metrics")
for cause in no_repository auth unreachable timeout; do
  grep -qE "^modproxy_git_errors_total\{cause=\"$cause\"\} [1-9]" <<<"$metrics" ||
    fail "git errors by cause: none counted as $cause:"$'\n'"$(grep git_errors <<<"$metrics")"
done
assert_contains "$metrics" 'modproxy_git_errors_total{cause="too_much_output"} 0'

# The go command prints the reason.
scratch_module
GOCMD_ENV=(GIT_CONFIG_GLOBAL=/dev/null GONOSUMDB=github.com/corp)
out=$(gocmd mod download github.com/corp/plain@nosuch 2>&1) && fail "download of an unknown revision worked"
GOCMD_ENV=()
assert_contains "$out" "unknown revision nosuch" "go command output"
echo "ok   go command shows: $(grep -m1 'unknown revision' <<<"$out")"

if grep -iE 'corp/|auth/|down/|slow/|nowhere' "$UPSTREAM_LOG"; then
  fail "a private module path reached the upstream"
fi
