#!/usr/bin/env bash
# private_git.sh: private modules served straight from git repositories
# (git daemon on 127.0.0.1 and file://) give exactly what the go command
# gets in direct mode: the same Version, Sum and GoModSum for every query
# (tags, prefixed tags, /v2 in a subdirectory and at the root,
# +incompatible, branches, commit prefixes, pseudo-versions, latest) and
# the same `go list -m -versions`; and no private path ever reaches the
# public upstream.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

make_private_repos
start_git_daemon
go_git_config "$T/gitconfig-go"
proxy_routes
make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL" --private "$PRIV_PATTERNS" "${PROXY_ROUTES[@]}" \
  --list-ttl 0

# The first zip, timed from a cold mirror.
t0=$(date +%s%N)
curl -fsS "$PROXY_URL/github.com/corp/plain/@v/v1.1.0.zip" -o "$T/first.zip"
t1=$(date +%s%N)
echo "first zip from a cold mirror: $(((t1 - t0) / 1000000)) ms"
curl -fsS "$PROXY_URL/github.com/corp/plain/@v/v1.0.0.zip" -o /dev/null
t2=$(date +%s%N)
echo "second zip, warm mirror: $(((t2 - t1) / 1000000)) ms"
unzip -l "$T/first.zip" | awk 'NR>3 {print $4}' | sort >"$T/first.list"
grep -qx 'github.com/corp/plain@v1.1.0/ignored.txt' "$T/first.list" || fail "export-ignore honoured"
grep -q 'vendor/modules.txt' "$T/first.list" || fail "vendor/modules.txt dropped"
grep -q 'vendor/example.com' "$T/first.list" && fail "vendored package kept"
# x/mod's vendor quirk: a/vendor/x.go counts as vendored too.
grep -q 'internal/vendor/keep.go' "$T/first.list" && fail "internal/vendor/keep.go kept"
grep -q 'nested/' "$T/first.list" && fail "nested module kept"
grep -q 'link.go' "$T/first.list" && fail "symlink kept"
# Deterministic: the same commit gives the same bytes, also from a new data dir.
curl -fsS "$PROXY_URL/github.com/corp/plain/@v/v1.1.0.zip" -o "$T/again.zip"
cmp -s "$T/first.zip" "$T/again.zip" || fail "zip bytes differ between requests"

HEAD_PLAIN=$(git -C "$T/srv/plain.git" rev-parse main)
DEV2=$(git -C "$T/srv/plain.git" rev-parse dev)
DEV1=$(git -C "$T/srv/plain.git" rev-parse dev~1)
V110=$(git -C "$T/srv/plain.git" rev-parse v1.1.0)

queries=(
  "github.com/corp/plain v1.0.0" "github.com/corp/plain v1.0.1" "github.com/corp/plain v1.1.0"
  "github.com/corp/plain v1.2.0-pre" "github.com/corp/plain latest" "github.com/corp/plain main"
  "github.com/corp/plain dev" "github.com/corp/plain ${DEV1:0:9}" "github.com/corp/plain $HEAD_PLAIN"
  "github.com/corp/plain ${V110:0:7}" "github.com/corp/plain v1.3.0" "github.com/corp/plain nosuchbranch"
  "github.com/corp/plain v1.1"
  "github.com/corpfile/mono/sub v1.0.0" "github.com/corpfile/mono/sub latest" "github.com/corpfile/mono/sub main"
  "github.com/corp/major v1.0.0" "github.com/corp/major/v2 v2.0.0" "github.com/corp/major/v2 latest"
  "github.com/corp/major v2.0.0+incompatible"
  "github.com/corp/rootv2/v2 v2.0.0" "github.com/corp/rootv2/v2 latest" "github.com/corp/rootv2/v2 main"
  "github.com/corp/incompat v2.0.0+incompatible" "github.com/corp/incompat v3.1.0+incompatible"
  "github.com/corp/incompat latest" "github.com/corp/incompat v1.0.0" "github.com/corp/incompat main"
  "github.com/corp/Upper v0.1.0" "github.com/corp/Upper latest"
)
for q in "${queries[@]}"; do
  # shellcheck disable=SC2086
  ref_and_proxy $q
done

# A pseudo-version from direct mode, asked for by name through modproxy.
pv=$(cd "$T" && dl_json direct "github.com/corp/plain@$DEV2" | jq -r .Version)
[[ $pv == v1.2.0-pre.0.* ]] || fail "unexpected pseudo-version $pv"
ref_and_proxy github.com/corp/plain "$pv"
bad=${pv%-*}-000000000000
ref_and_proxy github.com/corp/plain "$bad"
# The right commit, a timestamp one second off: refused as in direct mode.
pre=${pv%-*} ts=${pv%-*}
ts=${ts##*.}
ts=$(date -u -d "@$(($(date -u -d "${ts:0:8} ${ts:8:2}:${ts:10:2}:${ts:12:2}" +%s) + 1))" +%Y%m%d%H%M%S)
badtime=${pre%.*}.$ts-${pv##*-}
[[ $badtime != "$pv" && ${#badtime} == "${#pv}" ]] || fail "bad timestamp pseudo-version $badtime from $pv"
ref_and_proxy github.com/corp/plain "$badtime"
# The right commit and time, its hash one character short or long: refused
# as in direct mode (not the canonical short hash).
ref_and_proxy github.com/corp/plain "${pv%-*}-${DEV2:0:11}"
ref_and_proxy github.com/corp/plain "${pv%-*}-${DEV2:0:13}"
# A pseudo-version of a commit tagged v1.1.0, derived from that very tag:
# refused as in direct mode (the tag is the version's canonical name).
ts110=$(date -u -d "@$(git -C "$T/srv/plain.git" log -1 --format=%ct v1.1.0)" +%Y%m%d%H%M%S)
ref_and_proxy github.com/corp/plain "v1.1.1-0.$ts110-${V110:0:12}"

for m in github.com/corp/plain github.com/corpfile/mono/sub github.com/corp/major github.com/corp/major/v2 \
  github.com/corp/rootv2/v2 github.com/corp/incompat github.com/corp/Upper; do
  a=$(versions_of direct "$m")
  b=$(versions_of proxy "$m")
  assert_eq "$b" "$a" "go list -m -versions $m"
  echo "ok   versions $a"
done

# Provenance of a private version is in the store.
prov=$(sqlite3 "$MODPROXY_DATA/modproxy.db" \
  "SELECT url||' '||ifnull(ref,'-')||' '||commit_hash FROM provenance WHERE module='github.com/corp/plain' AND version='v1.1.0'")
assert_eq "$prov" "git://127.0.0.1:$GIT_PORT/plain.git refs/tags/v1.1.0 $V110" "provenance"

# A program importing a public and a private module builds through
# modproxy alone (GONOSUMDB for the private ones, no GOPRIVATE).
mkdir -p "$T/prog" && cd "$T/prog"
printf 'module example.com/prog\n\ngo 1.19\n' >go.mod
cat >main.go <<'EOF2'
package main

import (
	"fmt"

	"github.com/corp/Upper"
	"rsc.io/quote"
)

func main() { fmt.Println(upper.Name(), quote.Hello()) }
EOF2
GOCMD_ENV=(GIT_CONFIG_GLOBAL=/dev/null GONOSUMDB="$PRIV_PATTERNS")
gocmd get github.com/corp/Upper@v0.1.0 rsc.io/quote@v1.5.2 >/dev/null 2>&1 || fail "go get through modproxy"
out=$(gocmd run .)
GOCMD_ENV=()
assert_contains "$out" "Upper" "program output"
echo "ok   program with public and private imports: $out"

# Nothing private reached the public upstream.
if grep -iE 'corp(file)?/' "$UPSTREAM_LOG"; then
  fail "a private module path reached the upstream"
fi
echo "upstream saw $(wc -l <"$UPSTREAM_LOG") requests, none private"
