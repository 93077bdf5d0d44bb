#!/usr/bin/env bash
# mirror_pruned.sh: `modproxy export DIR` takes the module graph the go
# command loads for the project, no more: for a go.mod at go 1.17 or later
# the pruned graph (Go 1.17's module graph pruning) and the .info and .mod
# of every version it selects, for an older one the whole graph. The oracle
# is the go command itself: the go.mod files it fetches from the same
# GOPROXY tree (file://) for `go mod tidy` and `go list -m all`, starting
# from an empty module cache, are exactly the go.mod files in the bundle.
# The graph:
#
#   app -> a => ./a (go 1.21) -> c v1.0.0 -> h    c v1.0.0 and h: below a
#                             -> g v1.0.0        pruned module, unselected
#       -> c v1.1.0 (go 1.21) -> g v0.9.0        g v0.9.0: below c, ditto
#                                                g v1.0.0: selected, so
#                                                loaded for go list -m all
#       -> d v1.0.0 (no go line) -> e v0.9.0 -> f    d prunes nothing: e
#       -> e v1.0.0 (go 1.21) -> f                    v0.9.0 and f load
#
# e v0.9.0 is loaded but not selected: the go command reads its .mod, never
# its .info, which the tree lacks for the pruned case.
# Then the bundle alone (as a file:// GOPROXY) serves `go build`, `go mod
# tidy` and `go list -m all` of the project.
source "$(dirname "$0")/lib.sh"
build_tools

# module PATH VERSION GOMOD: a corpus file for mkproxy, with one package.
module() {
  local name=${1//\//_}_$2.txt pkg=${1##*/}
  {
    printf -- '-- .mod --\n%s\n-- .info --\n{"Version":"%s"}\n' "$3" "$2"
    printf -- '-- go.mod --\n%s\n-- %s.go --\npackage %s\n\nconst Name = "%s"\n' "$3" "$pkg" "$pkg" "$1"
  } >"$T/corpus/$name"
}
mkdir -p "$T/corpus"
module example.com/c v1.0.0 $'module example.com/c\n\ngo 1.21\n\nrequire example.com/h v1.0.0'
module example.com/c v1.1.0 $'module example.com/c\n\ngo 1.21\n\nrequire example.com/g v0.9.0'
module example.com/d v1.0.0 $'module example.com/d\n\nrequire example.com/e v0.9.0'
module example.com/e v0.9.0 $'module example.com/e\n\ngo 1.21\n\nrequire example.com/f v1.0.0'
module example.com/e v1.0.0 $'module example.com/e\n\ngo 1.21\n\nrequire example.com/f v1.0.0'
module example.com/f v1.0.0 $'module example.com/f\n\ngo 1.21'
module example.com/g v0.9.0 $'module example.com/g\n\ngo 1.21'
module example.com/g v1.0.0 $'module example.com/g\n\ngo 1.21'
module example.com/h v1.0.0 $'module example.com/h\n\ngo 1.21'
"$TOOLS/mkproxy" -corpus "$T/corpus" -out "$T/tree" 2>"$T/mkproxy.log" || fail "mkproxy: $(cat "$T/mkproxy.log")"
start_upstream "$T/tree"

# project DIR GO: the project at go GO, with module a in a directory.
project() {
  mkdir -p "$1/a"
  printf 'module example.com/a\n\ngo 1.21\n\nrequire (\n\texample.com/c v1.0.0\n\texample.com/g v1.0.0\n)\n' >"$1/a/go.mod"
  printf 'package a\n\nconst Name = "a"\n' >"$1/a/a.go"
  printf 'module example.com/app\n\ngo %s\n\nrequire (\n' "$2" >"$1/go.mod"
  printf '\t%s\n' 'example.com/a v1.0.0' 'example.com/c v1.1.0' 'example.com/d v1.0.0' 'example.com/e v1.0.0' >>"$1/go.mod"
  printf ')\n\nreplace example.com/a => ./a\n' >>"$1/go.mod"
  printf 'package main\n\nimport (\n\t"example.com/a"\n\t"example.com/c"\n\t"example.com/d"\n\t"example.com/e"\n)\n\nfunc main() { println(a.Name, c.Name, d.Name, e.Name) }\n' >"$1/main.go"
}

# mods DIR: the module@version of every .mod file under DIR, sorted.
mods() {
  (cd "$1" && find . -path ./sumdb -prune -o -name '*.mod' -print) |
    sed -E 's|^\./||; s|/@v/|@|; s|\.mod$||' | sort
}

fresh_cache() {
  chmod -R u+w "$T/gopath" 2>/dev/null || true
  rm -rf "$T/gopath"
}

# go_commands DIR PROXY: what an offline developer runs, in a copy of DIR,
# from an empty module cache.
go_commands() {
  rm -rf "$1.run"
  cp -R "$1" "$1.run"
  fresh_cache
  (cd "$1.run" && GOCMD_PROXY=$2 gocmd mod tidy && GOCMD_PROXY=$2 gocmd list -m all &&
    GOCMD_PROXY=$2 gocmd build -o /dev/null .)
}

check() { # GO EXPECTED...: the bundle's go.mod files for the project at go GO
  local go=$1 dir="$T/app$1"
  shift
  project "$dir" "$go"
  go_commands "$dir" "file://$T/tree" >"$T/oracle$go.out" 2>&1 ||
    fail "go $go: the go commands from the tree: $(cat "$T/oracle$go.out")"
  mods "$T/gopath/pkg/mod/cache/download" >"$T/go$go.mods"
  assert_eq "$(cat "$T/go$go.mods")" "$(printf '%s\n' "$@")" "go $go: the go.mod files the go command loads"
  "$TEST_MODPROXY_BIN" export --data "$T/data$go" --upstream "$UPSTREAM_URL" --sumdb off \
    -o "$T/bundle$go" "$dir" >"$T/export$go.out" 2>&1 || fail "go $go: export: $(cat "$T/export$go.out")"
  mods "$T/bundle$go" >"$T/bundle$go.mods"
  diff -u "$T/go$go.mods" "$T/bundle$go.mods" >"$T/diff$go" ||
    fail "go $go: the bundle's go.mod files differ from what the go command loads: $(cat "$T/diff$go")"
  go_commands "$dir" "file://$T/bundle$go" >"$T/offline$go.out" 2>&1 ||
    fail "go $go: the go commands from the bundle alone: $(cat "$T/offline$go.out")"
}

# Pruned: c v1.0.0 and h sit below a, g v0.9.0 below c, whose go.mod files
# prune; g v1.0.0 is selected.
mv "$T/tree/example.com/e/@v/v0.9.0.info" "$T/e-v0.9.0.info"
check 1.21 example.com/c@v1.1.0 example.com/d@v1.0.0 \
  example.com/e@v0.9.0 example.com/e@v1.0.0 example.com/f@v1.0.0 example.com/g@v1.0.0
mv "$T/e-v0.9.0.info" "$T/tree/example.com/e/@v/v0.9.0.info"
# Unpruned: the whole graph.
check 1.16 example.com/c@v1.0.0 example.com/c@v1.1.0 example.com/d@v1.0.0 \
  example.com/e@v0.9.0 example.com/e@v1.0.0 example.com/f@v1.0.0 example.com/g@v0.9.0 example.com/g@v1.0.0 example.com/h@v1.0.0
echo PASS
