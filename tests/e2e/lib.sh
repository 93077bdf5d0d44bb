# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are used by the tests
# Library for the end-to-end tests: `source "$(dirname "$0")/lib.sh"`.
#
# Environment (set by CTest): TEST_MODPROXY_BIN, BUILD_DIR, SRC_DIR.
# Optional: KEEP_TMP=1 keeps the per-test temp dir; GO_CORPUS overrides the
# go command's module corpus directory; GO and GO_OLD choose the clients.
#
# Provides: $T (per-test temp dir, removed on exit; every process started
# here or with `cmd &` in the test is killed on exit), build_tools,
# make_corpus_tree, start_upstream, upstream_hits, start_modproxy,
# stop_modproxy, goenv, gocmd, scratch_module, assert_eq, assert_contains, fail.
# Do not replace the EXIT trap; use $T for all files.

set -euo pipefail
set -E # ERR trap in functions too

: "${BUILD_DIR:?BUILD_DIR must be set}"
SRC_DIR=${SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TOOLS="$BUILD_DIR/tools"
# GO: the client the tests drive, the machine's newest Go (the one most of
# our users run). GO_OLD: Debian's Go 1.19, the second, older client a team
# still has (core_gocmd runs its scenarios with both).
GO=${GO:-$(command -v /usr/local/go/bin/go || command -v go)}
GO_OLD=${GO_OLD:-/usr/lib/go-1.19/bin/go}
# Whatever runs `go` by name (modproxy diag, the tools' build) runs $GO too.
PATH="$(dirname "$GO"):$PATH"
GO_CORPUS=${GO_CORPUS:-/usr/lib/go-1.19/src/cmd/go/testdata/mod}
[[ -d $GO_CORPUS ]] || GO_CORPUS="$("$GO" env GOROOT)/src/cmd/go/testdata/mod"

T=$(mktemp -d "${TMPDIR:-/tmp}/modproxy-e2e.XXXXXX")
_PIDS=()

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

assert_eq() { # actual expected [message]
  [[ $1 == "$2" ]] || fail "${3:-assert_eq}: got '$1', want '$2'"
}

assert_contains() { # haystack needle [message]
  [[ $1 == *"$2"* ]] || fail "${3:-assert_contains}: '$2' not found in:"$'\n'"$1"
}

_alive() { # pid: running and not a zombie
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  [[ ${s:0:1} != Z ]]
}

# _stop_pid PID [TIMEOUT_S]: SIGTERM, wait up to TIMEOUT_S (then SIGKILL);
# returns the exit status (137 after SIGKILL).
_stop_pid() {
  local pid=$1 i rc=0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < ${2:-10} * 10; i++)); do
    _alive "$pid" || break
    sleep 0.1
  done
  _alive "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || rc=$?
  _forget_pid "$pid"
  return "$rc"
}

_forget_pid() {
  local p keep=()
  for p in "${_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  _PIDS=("${keep[@]}")
}

_on_err() { # rc line command
  [[ $BASHPID == "$$" ]] || return 0
  echo "ERROR: ${BASH_SOURCE[1]}:$2: '$3' exited with status $1" >&2
}

_cleanup() {
  local rc=$? pid f
  set +e
  trap - ERR
  for pid in "${_PIDS[@]}" $(jobs -p); do
    _alive "$pid" && _stop_pid "$pid" 5 >/dev/null 2>&1
  done
  if ((rc != 0)); then
    for f in "$T"/*.log "$T"/*.requests; do
      [[ -f $f ]] || continue
      echo "----- tail of ${f#"$T"/} -----" >&2
      tail -n 40 "$f" >&2
    done
  fi
  if [[ -n ${KEEP_TMP:-} ]]; then
    echo "temp dir kept: $T" >&2
  else
    chmod -R u+w "$T" 2>/dev/null # the module cache is read-only
    rm -rf "$T"
  fi
  exit "$rc"
}
trap _cleanup EXIT
trap '_on_err $? $LINENO "$BASH_COMMAND"' ERR

# build_tools: builds mkproxy, upstream and fetchmany into $TOOLS (quick if up to date).
build_tools() {
  [[ -n ${_TOOLS_BUILT:-} ]] && return 0
  bash "$SRC_DIR/tests/tools/build.sh"
  _TOOLS_BUILT=1
}

# make_corpus_tree DIR: fills DIR with a GOPROXY tree made from the go
# command's test corpus (built once into $BUILD_DIR/corpus-tree, then copied,
# so tests may modify their copy).
make_corpus_tree() {
  local dest=$1 cache="$BUILD_DIR/corpus-tree"
  build_tools
  mkdir -p "$dest"
  (
    flock 9
    if [[ ! -f $cache.stamp || $TOOLS/mkproxy -nt $cache.stamp ]]; then
      rm -rf "$cache" "$cache.tmp" "$cache.stamp"
      "$TOOLS/mkproxy" -corpus "$GO_CORPUS" -out "$cache.tmp" >&2
      mv "$cache.tmp" "$cache"
      touch "$cache.stamp"
    fi
    cp -R "$cache/." "$dest/"
  ) 9>"$cache.lock"
}

# start_upstream ROOT [upstream flags...]: serves ROOT on 127.0.0.1; sets
# UPSTREAM_URL, UPSTREAM_LOG (request URIs, one per line), UPSTREAM_PID and,
# with -tls-cert-out F, UPSTREAM_CERT=F (https). Each call starts a new one.
start_upstream() {
  local root=$1 scheme=http i
  shift
  build_tools
  _UPSTREAM_N=$((${_UPSTREAM_N:-0} + 1))
  local addr_file="$T/upstream$_UPSTREAM_N.addr"
  UPSTREAM_LOG="$T/upstream$_UPSTREAM_N.requests"
  UPSTREAM_CERT=
  local args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
      -tls-cert-out | --tls-cert-out) UPSTREAM_CERT=${args[i + 1]:-} scheme=https ;;
      -tls-cert-out=* | --tls-cert-out=*) UPSTREAM_CERT=${args[i]#*=} scheme=https ;;
    esac
  done
  "$TOOLS/upstream" -root "$root" -listen 127.0.0.1:0 -addr-file "$addr_file" \
    -log "$UPSTREAM_LOG" "$@" >"$T/upstream$_UPSTREAM_N.log" 2>&1 &
  UPSTREAM_PID=$!
  _PIDS+=("$UPSTREAM_PID")
  for ((i = 0; i < 100; i++)); do
    [[ -s $addr_file ]] && break
    _alive "$UPSTREAM_PID" || fail "upstream exited: $(cat "$T/upstream$_UPSTREAM_N.log")"
    sleep 0.1
  done
  [[ -s $addr_file ]] || fail "upstream did not start within 10 s"
  UPSTREAM_URL="$scheme://$(<"$addr_file")"
}

# upstream_hits REGEX [LOG]: number of logged upstream requests matching REGEX.
upstream_hits() {
  grep -cE -- "$1" "${2:-$UPSTREAM_LOG}" || true
}

_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    return
  fi
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  fail "no free port found"
}

_http_answers() { # port: true once a GET /healthz gets any HTTP response
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$1" >&3
    IFS= read -r -t 2 line <&3 && [[ $line == HTTP/* ]]
  ) 2>/dev/null
}

# start_modproxy [flags...]: runs "$TEST_MODPROXY_BIN" serve on a free 127.0.0.1
# port with --data "$MODPROXY_DATA" (default $T/data, kept across restarts);
# sets PROXY_URL, MODPROXY_PID, MODPROXY_LOG; waits up to 10 s for it to answer.
start_modproxy() {
  : "${TEST_MODPROXY_BIN:?TEST_MODPROXY_BIN must be set}"
  MODPROXY_DATA=${MODPROXY_DATA:-$T/data}
  MODPROXY_LOG="$T/modproxy.log"
  mkdir -p "$MODPROXY_DATA"
  local port i
  for _ in 1 2 3; do
    port=$(_free_port)
    echo "+ modproxy serve --listen 127.0.0.1:$port --data $MODPROXY_DATA $*" >>"$MODPROXY_LOG"
    "$TEST_MODPROXY_BIN" serve --listen "127.0.0.1:$port" --data "$MODPROXY_DATA" "$@" >>"$MODPROXY_LOG" 2>&1 &
    MODPROXY_PID=$!
    _PIDS+=("$MODPROXY_PID")
    PROXY_URL="http://127.0.0.1:$port"
    for ((i = 0; i < 100; i++)); do
      _http_answers "$port" && return 0
      _alive "$MODPROXY_PID" || break
      sleep 0.1
    done
    if _alive "$MODPROXY_PID"; then
      fail "modproxy did not answer on $PROXY_URL within 10 s"
    fi
    local rc=0
    wait "$MODPROXY_PID" || rc=$?
    _forget_pid "$MODPROXY_PID"
    MODPROXY_PID=
    # Retry only if we lost a race for the port.
    tail -n 5 "$MODPROXY_LOG" | grep -qi 'in use' ||
      fail "modproxy exited with status $rc during startup"
  done
  fail "modproxy could not bind a port after 3 attempts"
}

# stop_modproxy: SIGTERM, wait (10 s), and require exit status 0.
stop_modproxy() {
  [[ -n ${MODPROXY_PID:-} ]] || fail "stop_modproxy: modproxy is not running"
  local rc=0
  _stop_pid "$MODPROXY_PID" 10 || rc=$?
  MODPROXY_PID=
  ((rc == 0)) || fail "modproxy exited with status $rc after SIGTERM"
}

# goenv CMD...: runs CMD in the environment the tests give the go command:
# everything under $T, GOPROXY=${GOCMD_PROXY:-$PROXY_URL},
# GOSUMDB=${GOCMD_SUMDB:-off}, GOFLAGS=-mod=mod,
# GOTOOLCHAIN=${GOCMD_TOOLCHAIN:-local} (no switching unless a test asks).
# Extra VAR=value settings: GOCMD_ENV=(VAR=value ...).
goenv() {
  mkdir -p "$T/home" "$T/gopath"
  env -u GOROOT -u GOENV -u XDG_CONFIG_HOME -u XDG_CACHE_HOME \
    HOME="$T/home" GOENV="$T/home/go.env" \
    GOPATH="$T/gopath" GOMODCACHE="$T/gopath/pkg/mod" GOCACHE="$T/gocache" \
    GO111MODULE=on GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN="${GOCMD_TOOLCHAIN:-local}" \
    GOPROXY="${GOCMD_PROXY:-${PROXY_URL:?PROXY_URL/GOCMD_PROXY not set}}" \
    GOSUMDB="${GOCMD_SUMDB:-off}" GONOSUMDB= GOPRIVATE= GONOPROXY= GOINSECURE= \
    "${GOCMD_ENV[@]}" "$@"
}

# gocmd ARGS...: runs `$GO ARGS...` (or ${GOCMD_GO} ARGS...) under goenv.
gocmd() { goenv "${GOCMD_GO:-$GO}" "$@"; }
GOCMD_ENV=()

# scratch_module [NAME]: creates $T/NAME (default "work") holding a go.mod for
# module example.com/e2e and cd's into it.
scratch_module() {
  mkdir -p "$T/${1:-work}"
  cd "$T/${1:-work}"
  printf 'module example.com/e2e\n\ngo 1.19\n' >go.mod
}
