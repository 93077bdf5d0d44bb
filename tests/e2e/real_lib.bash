# shellcheck shell=bash
# Shared by the tests and benchmark that run against the machine's real
# module proxy (tests/e2e/real_*.sh, tests/bench/realgraph); source it after
# lib.sh. The proxy and its checksum database are read from the machine's
# `go env` at run time, never written down here.
#
# Sets REAL_PROXY (the first entry of the machine's GOPROXY), REAL_SUMDB
# (its GOSUMDB), REAL_GRAPH (tests/data/realgraph). Fails, in one line,
# when the proxy cannot be reached.

REAL_GRAPH="$SRC_DIR/tests/data/realgraph"
REAL_PROXY=$("$GO" env GOPROXY)
REAL_PROXY=${REAL_PROXY%%[,|]*}
REAL_SUMDB=$("$GO" env GOSUMDB)
case $REAL_PROXY in
  http://* | https://*) ;;
  *) fail "the machine's GOPROXY starts with \"$REAL_PROXY\", not a module proxy: the real-upstream tests need one" ;;
esac
[[ $REAL_SUMDB != off ]] || fail "the machine's GOSUMDB is off: the real-upstream tests need its checksum database"
# One small request, with the netrc credentials the go command would send.
curl -fsS --netrc-optional --max-time 30 -o /dev/null "$REAL_PROXY/golang.org/x/sync/@v/list" 2>"$T/reach.err" ||
  fail "the machine's module proxy ($REAL_PROXY) cannot be reached: $(head -c 200 "$T/reach.err")"

# real_go PROXY MODCACHE ARGS...: the go command through PROXY with its own
# module cache MODCACHE, the machine's checksum database, and a build cache
# shared by every run (compiling the graph is the slow part, and the same
# whichever proxy the sources came through: -trimpath keeps each module
# cache's own directory out of the build cache's keys).
real_go() {
  local GOCMD_PROXY=$1 GOCMD_SUMDB=$REAL_SUMDB
  local -a GOCMD_ENV=(GOMODCACHE="$2" GOCACHE="$BUILD_DIR/realgraph-gocache" GOFLAGS="${REAL_GOFLAGS--mod=readonly -trimpath}")
  shift 2
  gocmd "$@"
}

# real_project DIR: a copy of the checked-in project.
real_project() {
  rm -rf "$1"
  mkdir -p "$1"
  cp "$REAL_GRAPH"/go.mod "$REAL_GRAPH"/go.sum "$REAL_GRAPH"/main.go "$1"/
}
