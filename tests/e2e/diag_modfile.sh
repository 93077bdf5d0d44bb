#!/usr/bin/env bash
# diag_modfile.sh: `modproxy diag DIR` (GOPROXY pointing at modproxy) and
# `curl -F gomod=@go.mod $PROXY_URL/diag/modfile` name the cause and the fix
# of each go.mod trap, and each trap is first shown to be real with the go
# command itself:
#   - a requirement whose dependency's go.mod declares another path
#     (example.com/badchain/a -> b -> c, c says badchain.example.com/c);
#   - a version that does not exist (nearest versions, go get fix);
#   - a retracted version (rationale, go get @latest), also the rationale
#     traps of example.com/retract/rationale (multi-line, non-printable);
#   - a deprecated module (and an undeprecated one that must not be);
#   - go.sum lines that disagree with what the proxy serves (zip and
#     go.mod hashes; also for a zip the proxy has not served yet);
#   - a dependency needing a newer Go (a module of our own with `go 1.99`):
#     an error for Go 1.26 (it refuses), a warning for Go 1.19 (it builds);
#   - a go.mod as Go 1.21+ writes it (`go 1.22.0`, toolchain, godebug): it
#     parses; a `toolchain` line newer than the client is a note with
#     GOTOOLCHAIN=local; Go 1.19 cannot read the file, and the report quotes
#     Go 1.19's own errors;
#   - a main go.mod whose go line needs a newer Go than the client: the
#     report names the line, the client's Go, the go command's own refusal,
#     GOTOOLCHAIN=go1.99.2 (the newest go1.99 in this proxy's
#     golang.org/toolchain list) or auto, and go mod edit -go=;
#   - a private module GONOSUMDB does not cover (and one without a route);
#   - indirect dependency drift: build A resolves rsc.io/sampler v1.3.0,
#     build B later v1.99.99; A's report names v1.99.99 and the go get
#     commands.
# Exit status 1 with errors, 0 for a clean go.mod; --json output parses.
#
# Checks are "soft": every failed check is collected and reported at the
# end, so that one run shows every broken finding at once.
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
expect_not_re() { # haystack ERE what (case-insensitive)
  ! grep -qiE -- "$2" <<<"$1" || soft "$3: /$2/ should not match:"$'\n'"$1"
}
finish() {
  if ((${#SOFT[@]} > 0)); then
    printf '\n==== %d failed check(s) ====\n' "${#SOFT[@]}" >&2
    printf -- '- %s\n' "${SOFT[@]}" >&2
    fail "${#SOFT[@]} check(s) failed"
  fi
  echo "PASS diag_modfile"
}

# ---- the upstream tree: the corpus plus a module that needs Go 1.99 --------
make_corpus_tree "$T/tree"
python3 - "$T/tree" <<'EOF'
import json, os, sys, zipfile
mod, ver = 'example.com/newgo', 'v1.0.0'
d = os.path.join(sys.argv[1], mod, '@v')
os.makedirs(d, exist_ok=True)
gomod = 'module %s\n\ngo 1.99\n' % mod
open(os.path.join(d, 'list'), 'w').write(ver + '\n')
open(os.path.join(d, ver + '.info'), 'w').write(
    json.dumps({'Version': ver, 'Time': '2023-01-02T03:04:05Z'}))
open(os.path.join(d, ver + '.mod'), 'w').write(gomod)
with zipfile.ZipFile(os.path.join(d, ver + '.zip'), 'w') as z:
    z.writestr('%s@%s/go.mod' % (mod, ver), gomod)
    z.writestr('%s@%s/newgo.go' % (mod, ver), 'package newgo\n\nconst V = 1\n')
# The toolchains the upstream lists (no zips: nothing here downloads one).
d = os.path.join(sys.argv[1], 'golang.org/toolchain', '@v')
os.makedirs(d, exist_ok=True)
open(os.path.join(d, 'list'), 'w').write(''.join(
    'v0.0.1-go%s.%s\n' % (v, p) for v in ('1.26.0', '1.99.1', '1.99.2')
    for p in ('linux-amd64', 'darwin-arm64')))
EOF

# ---- a private module in a git repository (file://) ---------------------------
_git() { git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main \
  -c commit.gpgsign=false -c tag.gpgsign=false "$@"; }
mkdir -p "$T/gitwork/lib" "$T/srv"
printf 'module corp.example.com/lib\n\ngo 1.19\n' >"$T/gitwork/lib/go.mod"
printf 'package lib\n\nconst L = 1\n' >"$T/gitwork/lib/lib.go"
(cd "$T/gitwork/lib" && _git init -q && _git add -A . &&
  GIT_AUTHOR_DATE=2022-01-01T00:00:00Z GIT_COMMITTER_DATE=2022-01-01T00:00:00Z \
    _git commit -q -m one && _git tag v1.0.0)
git clone -q --bare "$T/gitwork/lib" "$T/srv/lib.git"

start_upstream "$T/tree"
# corp.example.com has a route; secret.example.com is private without one.
start_modproxy --upstream "$UPSTREAM_URL" --private 'corp.example.com,secret.example.com' \
  --git-route "corp.example.com/*=file://$T/srv/{2}.git"
GOVER=$(cd "$T" && gocmd env GOVERSION)
[[ $GOVER == go1.* ]] || fail "go env GOVERSION: '$GOVER'"

# ---- machinery ---------------------------------------------------------------

# newmod NAME: $T/mods/NAME with the go.mod read from stdin; sets DIR.
newmod() {
  DIR="$T/mods/$1"
  mkdir -p "$DIR"
  cat >"$DIR/go.mod"
}

# json_check FILE PYTHON-EXPR: evaluates EXPR with r = the parsed report
# and fs = its findings; prints nothing and succeeds when EXPR is true.
json_check() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit('not JSON: %s' % e)
fs = r.get('findings') or []
def has(kind, module=None, version=None):
    return any(f.get('kind') == kind and (module is None or f.get('module') == module)
               and (version is None or f.get('version') == version) for f in fs)
if not eval(sys.argv[2]):
    sys.exit('false: %s; findings: %s' % (sys.argv[2], json.dumps(fs, indent=1)))
EOF
}

# diag WHAT [curl -F args...]: runs, in $DIR, `modproxy diag` (text, status
# in CLI_RC, output in CLI) and `modproxy diag --json` (parsed), and posts
# the go.mod (and go.sum) to /diag/modfile (text in WEB; JSON parsed).
# JSON reports are left in $T/cli.json and $T/web.json.
diag() {
  local what=$1 rc=0
  shift
  CLI=$(cd "$DIR" && goenv "$TEST_MODPROXY_BIN" diag 2>&1) || rc=$?
  CLI_RC=$rc
  echo "--- modproxy diag ($what): exit $CLI_RC"
  echo "$CLI"
  rc=0
  (cd "$DIR" && goenv "$TEST_MODPROXY_BIN" diag --json >"$T/cli.json" 2>"$T/cli.err") || rc=$?
  python3 -m json.tool "$T/cli.json" >/dev/null 2>&1 ||
    soft "$what: modproxy diag --json is not JSON: $(cat "$T/cli.json" "$T/cli.err")"
  ((rc == CLI_RC)) || soft "$what: exit status $rc with --json, $CLI_RC without"
  local f=(-F "gomod=@$DIR/go.mod")
  [[ ! -f $DIR/go.sum ]] || f+=(-F "gosum=@$DIR/go.sum")
  WEB=$(curl -sS "${f[@]}" "$@" "$PROXY_URL/diag/modfile")
  curl -sS -H 'Accept: application/json' "${f[@]}" "$@" "$PROXY_URL/diag/modfile" >"$T/web.json"
  python3 -m json.tool "$T/web.json" >/dev/null 2>&1 ||
    soft "$what: /diag/modfile with Accept: application/json is not JSON: $(cat "$T/web.json")"
  if [[ $WEB != "$CLI" ]]; then
    echo "--- /diag/modfile ($what)"
    echo "$WEB"
  fi
}

# both WHAT ERE: the text of modproxy diag and of /diag/modfile match ERE.
both() {
  expect_re "$CLI" "$2" "$1 (modproxy diag)"
  expect_re "$WEB" "$2" "$1 (/diag/modfile)"
}
# both_str WHAT STRING: both texts contain STRING.
both_str() {
  expect "$CLI" "$2" "$1 (modproxy diag)"
  expect "$WEB" "$2" "$1 (/diag/modfile)"
}
# both_json WHAT EXPR: json_check on both JSON reports.
both_json() {
  local why
  why=$(json_check "$T/cli.json" "$2" 2>&1) || soft "$1 (modproxy diag --json): $why"
  why=$(json_check "$T/web.json" "$2" 2>&1) || soft "$1 (/diag/modfile JSON): $why"
}
exit_is() { # WHAT STATUS
  [[ $CLI_RC == "$2" ]] || soft "$1: modproxy diag exit status $CLI_RC, want $2"
}

# go_in DIR ARGS...: the go command in DIR; sets GOOUT and GORC.
go_in() {
  local d=$1
  shift
  GORC=0
  GOOUT=$(cd "$d" && gocmd "$@" 2>&1) || GORC=$?
}

# ---- build A: a clean module, and its report -------------------------------
newmod buildA <<'EOF'
module example.com/builda

go 1.19

require rsc.io/quote v1.5.2
EOF
A=$DIR
printf 'package main\n\nimport "rsc.io/quote"\n\nfunc main() { println(quote.Hello()) }\n' >"$A/main.go"
go_in "$A" mod tidy
((GORC == 0)) || fail "build A: go mod tidy: $GOOUT"
go_in "$A" mod download
((GORC == 0)) || fail "build A: go mod download: $GOOUT"
grep -q 'rsc.io/sampler v1.3.0 // indirect' "$A/go.mod" || fail "build A: sampler v1.3.0 indirect expected: $(cat "$A/go.mod")"
sleep 2 # request records reach the store's ring in batches (every 1 s)
diag "clean"
exit_is "clean go.mod" 0
both "clean go.mod" "no problems|0 errors"
both_json "clean go.mod: no errors" "r.get('errors') == 0"
both_json "clean go.mod: no drift yet" "not has('indirect drift')"

# ---- build B, later: selects rsc.io/sampler v1.99.99 ---------------------------
newmod buildB <<'EOF'
module example.com/buildb

go 1.19

require rsc.io/quote v1.5.2
EOF
B=$DIR
cp "$A/main.go" "$B/"
go_in "$B" get rsc.io/sampler@v1.99.99
((GORC == 0)) || fail "build B: go get rsc.io/sampler@v1.99.99: $GOOUT"
go_in "$B" mod download
grep -q 'rsc.io/sampler v1.99.99' "$B/go.mod" || fail "build B: $(cat "$B/go.mod")"
sleep 2 # request records reach the store's ring in batches (every 1 s)

DIR=$A
diag "drift (build A)"
both "drift: A's report names the module and what others resolved" "rsc\.io/sampler.*|v1\.99\.99"
both "drift: the version other builds resolved" "v1\.99\.99"
# A's go.mod already requires sampler v1.3.0 (// indirect): pinning it
# there is a no-op, so the one fix is to move forward.
expect_not_re "$CLI" "go get rsc\.io/sampler@v1\.3\.0" "drift: no no-op pin of the version A requires (modproxy diag)"
both "drift: the move-forward command" "go get rsc\.io/sampler@v1\.99\.99"
both_json "drift: finding" "has('indirect drift', 'rsc.io/sampler', 'v1.3.0')"
exit_is "drift is a warning, A has no error" 0
DIR=$B
diag "drift (build B)"
both "drift: B's report names the version A resolved" "v1\.3\.0"
both_json "drift: finding for B" "has('indirect drift', 'rsc.io/sampler', 'v1.99.99')"
# B requires v1.99.99, the latest: no command would change anything.
both_json "drift: no no-op fix for B" "all(not f.get('fix') for f in fs if f.get('kind') == 'indirect drift')"
expect_not_re "$CLI" "go get rsc\.io/sampler@v1\.99\.99" "drift: no no-op fix for B (modproxy diag)"

# ---- path mismatch down a requirement chain ---------------------------------------
newmod badchain <<'EOF'
module example.com/usebadchain

go 1.19

require example.com/badchain/a v1.1.0
EOF
go_in "$DIR" list -m all
((GORC != 0)) || soft "badchain: the go command accepted it: $GOOUT"
expect "$GOOUT" "module declares its path as: badchain.example.com/c" "badchain: the go command's own error"
diag "badchain"
exit_is "badchain" 1
both "badchain: the declared path" "badchain\.example\.com/c"
both "badchain: the required path" "example\.com/badchain/c"
both "badchain: the fix, a version of the same path that declares it" \
  "go mod edit -replace=example\.com/badchain/c@v1\.1\.0=example\.com/badchain/c@v1\.0\.0"
both_json "badchain: finding" "has('path mismatch', 'example.com/badchain/c', 'v1.1.0')"
# The fix works when applied: the go command then builds the graph.
fix=$(python3 -c 'import json, sys
fs = json.load(open(sys.argv[1])).get("findings") or []
print(next((f.get("fix") or "" for f in fs if f.get("kind") == "path mismatch"), ""))' "$T/cli.json")
fix=${fix%% (*}
if [[ $fix == "go mod edit "* ]]; then
  read -r -a fixargs <<<"${fix#go }"
  go_in "$DIR" "${fixargs[@]}"
  ((GORC == 0)) || soft "badchain: applying the fix '$fix' failed: $GOOUT"
  go_in "$DIR" list -m all
  ((GORC == 0)) || soft "badchain: after the fix '$fix' the go command still fails: $GOOUT"
else
  soft "badchain: the fix is not a command to run: '$fix'"
fi

# ---- a version that does not exist ---------------------------------------------------
newmod missing <<'EOF'
module example.com/usemissing

go 1.19

require rsc.io/quote v1.5.9
EOF
go_in "$DIR" list -m all
((GORC != 0)) || soft "missing version: the go command accepted it: $GOOUT"
diag "missing version"
exit_is "missing version" 1
both "missing version: the cause" "v1\.5\.9.*(does not exist|no such version)"
both "missing version: the nearest versions" "nearest:.*v1\.5\.3-pre1"
both "missing version: the latest" "latest:? v1\.5\.2"
both "missing version: the fix" "go get rsc\.io/quote@v1\.5\.2"
both_json "missing version: finding" "has('missing version', 'rsc.io/quote', 'v1.5.9')"

# ---- retracted ------------------------------------------------------------------------
newmod retracted <<'EOF'
module example.com/useretracted

go 1.19

require example.com/retract v1.0.0-bad
EOF
go_in "$DIR" list -m -u -retracted example.com/retract
expect "$GOOUT" "retracted" "retracted: the go command sees the retraction"
diag "retracted"
both "retracted: the cause" "retract"
both "retracted: the rationale" "retract.*: bad"
both "retracted: the fix" "go get example\.com/retract@latest"
both_json "retracted: finding" "has('retracted', 'example.com/retract', 'v1.0.0-bad')"

# Rationale traps: the go command shows only the first line
# ("short description"), and omits a rationale with a non-printable
# character; a report for a terminal must not print a module author's
# control characters or break its own layout.
for v in v1.0.0-multiline1 v1.0.0-unprintable; do
  newmod "rationale-$v" <<EOF
module example.com/userationale

go 1.19

require example.com/retract/rationale $v
EOF
  go_in "$DIR" get "example.com/retract/rationale@$v"
  echo "--- go get example.com/retract/rationale@$v"
  echo "$GOOUT"
  diag "rationale $v"
  both_json "rationale $v: finding" "has('retracted', 'example.com/retract/rationale', '$v')"
  for out in CLI WEB; do
    # Control characters other than newline (BEL, ESC, ...) in the report.
    if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' <<<"${!out}"; then
      soft "rationale $v ($out): the report prints control characters: $(cat -A <<<"${!out}")"
    fi
    # Layout: every line is empty, the summary, a finding head or indented.
    bad=$(grep -vE '^$|^  |^(error|warning|info|note): |^no problems found$|^[a-z0-9.]+\.[a-z]+/[^ ]*: [0-9]+ modules' <<<"${!out}" || true)
    [[ -z $bad ]] || soft "rationale $v ($out): lines outside the report's layout: $(printf '%q' "$bad")"
  done
  if [[ $v == *multiline1 ]]; then
    expect "$GOOUT" "short description" "rationale: the go command shows the first line"
    both "rationale $v: the first line of the rationale" "short description"
  fi
done

# ---- deprecated ------------------------------------------------------------------------
newmod deprecated <<'EOF'
module example.com/usedeprecated

go 1.19

require (
	example.com/deprecated/a v1.0.0
	example.com/undeprecated v1.0.0
)
EOF
go_in "$DIR" list -m -u all
expect "$GOOUT" "(deprecated)" "deprecated: the go command sees the deprecation"
diag "deprecated"
both "deprecated: the cause" "deprecated"
both "deprecated: the message" "in example\.com/deprecated/a@v1\.9\.0"
both_json "deprecated: finding" "has('deprecated', 'example.com/deprecated/a')"
both_json "undeprecated (latest v1.0.1 lifts it): no finding" "not has('deprecated', 'example.com/undeprecated')"

# ---- go.sum lines that disagree with the proxy ---------------------------------------
newmod gosum <<'EOF'
module example.com/usegosum
EOF
cp "$A/go.mod" "$A/go.sum" "$A/main.go" "$DIR/"
sed -i 's#^module .*#module example.com/usegosum#' "$DIR/go.mod"
good_zip=$(awk '$1 == "rsc.io/quote" && $2 == "v1.5.2" {print $3}' "$DIR/go.sum")
good_mod=$(awk '$1 == "golang.org/x/text" && $2 ~ /go.mod$/ {print $3}' "$DIR/go.sum")
bad_zip="h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
bad_mod="h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="
sed -i -e "s#^rsc.io/quote v1.5.2 h1:.*#rsc.io/quote v1.5.2 $bad_zip#" \
  -e "s#^\(golang.org/x/text [^ ]*/go.mod\) h1:.*#\1 $bad_mod#" "$DIR/go.sum"
# The go command, with an empty module cache, refuses it.
GOCMD_ENV=(GOMODCACHE="$T/cache-gosum")
go_in "$DIR" mod download rsc.io/quote
GOCMD_ENV=()
expect "$GOOUT" "SECURITY ERROR" "go.sum: the go command refuses the tampered go.sum"
diag "go.sum"
exit_is "go.sum" 1
both_str "go.sum: the hash in go.sum (zip)" "$bad_zip"
both_str "go.sum: the hash served (zip)" "$good_zip"
both_str "go.sum: the hash in go.sum (go.mod)" "$bad_mod"
both_str "go.sum: the hash served (go.mod)" "$good_mod"
both_json "go.sum: zip finding" "has('checksum mismatch', 'rsc.io/quote', 'v1.5.2')"
both_json "go.sum: go.mod finding" "has('checksum mismatch', 'golang.org/x/text')"

# The same for a zip this proxy has not served yet: go.sum written with
# the upstream tree itself (GOPROXY=file://), then one zip hash changed.
# The go command through modproxy refuses it; the report must say so.
newmod gosum2 <<'EOF'
module example.com/usegosum2

go 1.19

require rsc.io/quote v1.5.1
EOF
cp "$A/main.go" "$DIR/"
GOCMD_PROXY="file://$T/tree" GOCMD_ENV=(GOMODCACHE="$T/cache-file")
go_in "$DIR" mod tidy
GOCMD_PROXY='' GOCMD_ENV=()
((GORC == 0)) || fail "gosum2: go mod tidy from file://: $GOOUT"
good_zip=$(awk '$1 == "rsc.io/quote" && $2 == "v1.5.1" {print $3}' "$DIR/go.sum")
sed -i "s#^rsc.io/quote v1.5.1 h1:.*#rsc.io/quote v1.5.1 $bad_zip#" "$DIR/go.sum"
diag "go.sum, zip not yet served"
GOCMD_ENV=(GOMODCACHE="$T/cache-gosum2")
go_in "$DIR" mod download rsc.io/quote
GOCMD_ENV=()
expect "$GOOUT" "SECURITY ERROR" "go.sum (zip not yet served): the go command refuses it through modproxy"
exit_is "go.sum, zip not yet served" 1
both_str "go.sum, zip not yet served: the hash in go.sum" "$bad_zip"
both_str "go.sum, zip not yet served: the hash served" "$good_zip"
both_json "go.sum, zip not yet served: finding" "has('checksum mismatch', 'rsc.io/quote', 'v1.5.1')"

# ---- a dependency that needs a newer Go ---------------------------------------------
newmod newgo <<'EOF'
module example.com/usenewgo

go 1.19

require example.com/newgo v1.0.0
EOF
# The module is served; a Go older than its go line refuses it (Go 1.21+).
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/example.com/newgo/@v/v1.0.0.zip")" 200 \
  "newgo: the module is served"
go_in "$DIR" mod download example.com/newgo
((GORC != 0)) || fail "newgo: $GOVER accepted a module that needs go 1.99"
expect "$GOOUT" "requires go >= 1.99" "newgo: the go command's own refusal"
diag "newer go" -F "go_version=$GOVER" -F gotoolchain=local
exit_is "newer go" 1
both "newer go: the Go the module needs" "1\.99"
both "newer go: the client's Go" "${GOVER//./\\.}"
both "newer go: the fix" "upgrade Go|go 1\.99|go1\.99|older example\.com/newgo"
both_json "newer go: finding" "has('newer go', 'example.com/newgo', 'v1.0.0')"
both "newer go: the client refuses it (GOTOOLCHAIN=local)" "GOTOOLCHAIN=local"
both "newer go: switching through this proxy" "GOTOOLCHAIN=go1\.99\.2"
both "newer go: or an older version of it" "go get example\.com/newgo@"
WEB_OLD=$WEB
WEB=$(curl -sS -F "gomod=@$DIR/go.mod" -F go_version=go1.99.0 "$PROXY_URL/diag/modfile")
expect_not_re "$WEB" "newer go" "newer go: no finding for a client on go1.99.0"
expect_re "$WEB_OLD" "newer go|1\.99" "newer go: the go_version field is used"
# Go 1.19 builds a dependency whose go line is newer: a warning, not an error.
GOCMD_GO=$GO_OLD go_in "$DIR" build example.com/newgo
((GORC == 0)) || fail "newer go: $GO_OLD refused example.com/newgo: $GOOUT"
curl -sS -H 'Accept: application/json' -F "gomod=@$DIR/go.mod" -F go_version=go1.19.8 \
  "$PROXY_URL/diag/modfile" >"$T/web.json"
why=$(json_check "$T/web.json" "any(f['kind'] == 'newer go' and f['severity'] == 'warning' for f in fs) and r['errors'] == 0" 2>&1) ||
  soft "newer go, Go 1.19 client: a warning, no error: $why"

# ---- go.mod as Go 1.21+ writes it ------------------------------------------------
newmod modern <<'EOF'
module example.com/modern

go 1.22.0

toolchain go1.99.1

godebug (
	default=go1.21
	panicnil=1
)
EOF
go_in "$DIR" list -m
((GORC == 0)) || fail "modern: $GOVER with GOTOOLCHAIN=local refused the go.mod: $GOOUT"
diag "modern go.mod" -F "go_version=$GOVER" -F gotoolchain=local
exit_is "modern go.mod" 0
both_json "modern go.mod: it parses" "not has('go.mod syntax') and r.get('errors') == 0"
both "modern go.mod: the toolchain line" "go\.mod:5: toolchain go1\.99\.1"
both "modern go.mod: the client's Go" "${GOVER//./\\.}"
both "modern go.mod: GOTOOLCHAIN=local ignores the line" "ignores the line"
both "modern go.mod: the fixes" "GOTOOLCHAIN=auto.*go mod edit -toolchain=none"
# Debian's Go 1.19 cannot read it; the report says so in Go 1.19's words.
GOCMD_GO=$GO_OLD go_in "$DIR" list -m
((GORC != 0)) || fail "modern: $GO_OLD read a go.mod with go 1.22.0 and toolchain"
expect "$GOOUT" "unknown directive: toolchain" "modern: $GO_OLD's refusal"
OLDGOVER=$(cd "$T" && GOCMD_GO=$GO_OLD gocmd env GOVERSION)
CLI=$(cd "$DIR" && PATH="$(dirname "$GO_OLD"):$PATH" goenv "$TEST_MODPROXY_BIN" diag 2>&1) || true
WEB=$(curl -sS -F "gomod=@$DIR/go.mod" -F "go_version=$OLDGOVER" "$PROXY_URL/diag/modfile")
echo "--- modproxy diag with $OLDGOVER"
echo "$CLI"
while read -r line; do # "/path/go.mod:3: invalid go version ..." -> "go.mod:3: ..."
  [[ $line == *go.mod:* ]] || continue
  both_str "modern go.mod, $OLDGOVER: its own error" "go.mod:${line##*go.mod:}"
done <<<"$GOOUT"
both "modern go.mod, $OLDGOVER: names the client" "${OLDGOVER//./\\.} cannot read this go\.mod"

# ---- a main go.mod that needs a newer Go than the client -----------------------------
newmod mainnew <<'EOF'
module example.com/mainnew

go 1.99
EOF
go_in "$DIR" list -m
((GORC != 0)) || fail "mainnew: $GOVER accepted go 1.99 with GOTOOLCHAIN=local"
refusal=$(grep -o 'go\.mod requires go >= 1\.99 (running go [^)]*)' <<<"$GOOUT") ||
  fail "mainnew: the go command's refusal changed: $GOOUT"
diag "main go line" -F "go_version=$GOVER" -F gotoolchain=local
exit_is "main go line" 1
both_str "main go line: the go command's own refusal" "$refusal"
both "main go line: names the line" "go\.mod:3 says go 1\.99"
both "main go line: the client's Go" "${GOVER//./\\.}"
both "main go line: switch toolchain" "GOTOOLCHAIN=go1\.99\.2 .*GOTOOLCHAIN=auto"
both "main go line: or lower it" "go mod edit -go=${GOVER#go}"
both "main go line: what lowering breaks" "breaks: code using Go 1\.99 features"
both_json "main go line: an error" "any(f['kind'] == 'newer go' and f['severity'] == 'error' for f in fs)"
# With GOTOOLCHAIN=auto the go command switches: a note, not an error.
curl -sS -H 'Accept: application/json' -F "gomod=@$DIR/go.mod" -F "go_version=$GOVER" \
  -F gotoolchain=auto "$PROXY_URL/diag/modfile" >"$T/web.json"
why=$(json_check "$T/web.json" "r['errors'] == 0 and any(f['kind'] == 'newer go' and 'switches to go1.99.2' in f['message'] for f in fs)" 2>&1) ||
  soft "main go line, GOTOOLCHAIN=auto: a note naming go1.99.2: $why"

# ---- private modules ----------------------------------------------------------------------
newmod private <<'EOF'
module example.com/useprivate

go 1.19

require corp.example.com/lib v1.0.0
EOF
# The route works: the go command gets the module through modproxy.
GOCMD_ENV=(GONOSUMDB=corp.example.com)
go_in "$DIR" mod download corp.example.com/lib
GOCMD_ENV=()
((GORC == 0)) || fail "private: corp.example.com/lib is not served: $GOOUT"
# GOSUMDB=off (goenv's default here) asks no checksum database: no leak.
diag "private, GONOSUMDB unset, GOSUMDB=off" -F gonosumdb= -F goprivate= -F gosumdb=off
exit_is "private, GOSUMDB=off" 0
both_json "private, GOSUMDB=off: no leak" "not has('private leak')"
GOCMD_SUMDB=sum.example.com
diag "private, GONOSUMDB unset" -F gonosumdb= -F goprivate=
GOCMD_SUMDB=
exit_is "private, GONOSUMDB unset" 1
both "private: names the module" "corp\.example\.com/lib"
both "private: the cause" "GONOSUMDB|checksum database"
both "private: the fix" "go env -w GONOSUMDB=[^ ]*corp\.example\.com"
both_json "private: finding" "any(f.get('module') == 'corp.example.com/lib' and 'GONOSUMDB' in (f.get('fix') or '') + (f.get('message') or '') for f in fs)"
GOCMD_ENV=('GONOSUMDB=corp.example.com,secret.example.com')
diag "private, GONOSUMDB set" -F gonosumdb=corp.example.com,secret.example.com
GOCMD_ENV=()
exit_is "private, GONOSUMDB covers it" 0
both_json "private, GONOSUMDB covers it: no error" "r.get('errors') == 0"

# A private module no --git-route covers: the report must not send the
# user hunting for typos in a path that is right; the cause is the route.
newmod noroute <<'EOF'
module example.com/usesecret

go 1.19

require secret.example.com/x v1.0.0
EOF
GOCMD_ENV=('GONOSUMDB=corp.example.com,secret.example.com')
diag "private, no route" -F gonosumdb=corp.example.com,secret.example.com
GOCMD_ENV=()
exit_is "private, no route" 1
both "private, no route: names the module" "secret\.example\.com/x"
both "private, no route: the cause is the missing route" "git-route|no route|route.*match"
if grep -q 'secret\.example\.com' "$UPSTREAM_LOG"; then
  soft "private, no route: the private path reached the public upstream"
fi

finish
