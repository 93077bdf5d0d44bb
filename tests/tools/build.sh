#!/usr/bin/env bash
# Builds the Go test tools (mkproxy, mktoolchain, upstream, fetchmany, sumdb,
# faulty, goimport, pwflood) into "$BUILD_DIR/tools/".
# Go in GOPATH mode, standard library + golang.org/x/mod from /usr/share/gocode,
# no network. Idempotent: a tool is rebuilt only if a source file or this
# script is newer than its binary. Safe to run concurrently (flock).
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BUILD_DIR:?BUILD_DIR must be set}"
out="$BUILD_DIR/tools"
mkdir -p "$out"

tools=(mkproxy mktoolchain upstream fetchmany sumdb faulty goimport pwflood)

up_to_date() { # tool
  local bin="$out/$1"
  [[ -x $bin ]] || return 1
  [[ -z $(find "$src/$1" "$src/build.sh" -newer "$bin" -print -quit) ]]
}

stale=()
for t in "${tools[@]}"; do up_to_date "$t" || stale+=("$t"); done
((${#stale[@]} == 0)) && exit 0

exec 9>"$out/.build.lock"
flock 9
unset GOROOT
export GO111MODULE=off GOFLAGS='' CGO_ENABLED=0 GOTOOLCHAIN=local \
  GOPATH="/usr/share/gocode:$out/gopath" \
  GOCACHE="${TOOLS_GOCACHE:-$out/gocache}"
for t in "${stale[@]}"; do
  up_to_date "$t" && continue # built by a concurrent run meanwhile
  (cd "$src/$t" && go build -o "$out/.$t.tmp" .)
  mv -f "$out/.$t.tmp" "$out/$t"
done
