#!/usr/bin/env bash
# core_gocmd.sh: the real go command through modproxy behaves exactly like the
# same command reading the upstream tree directly (GOPROXY=file://TREE):
# same stdout/stderr (proxy URL and temp paths normalised), same exit status,
# same go.mod/go.sum, for both clients a team has at once: the newest Go
# ($GO) and Debian's Go 1.19 ($GO_OLD). Then, with the upstream stopped, the
# same scenarios still work from modproxy's cache (lists served stale), also
# after a restart of modproxy on the same data directory.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
FILE_URL="file://$T/tree"
start_upstream "$T/tree"
# --list-ttl 1: lists go stale quickly, so the offline phases exercise the
# stale path. --not-found-ttl 600: remembered not-founds (the go command's
# prefix lookups such as /rsc.io/@v/list) stay fresh for the whole test.
PROXY_FLAGS=(--upstream "$UPSTREAM_URL" --list-ttl 1 --not-found-ttl 600)
start_modproxy "${PROXY_FLAGS[@]}"

# ---- scenarios -------------------------------------------------------------
# Each runs in a fresh directory holding the same go.mod, with a fresh
# GOPATH/module cache; `run` records every command's output and status.

SCENARIOS=(download_json get_version get_latest get_u list_versions list_u
  retract deprecated case_encoded gopkg_in incompatible queries)

sc_download_json() {
  run mod download -json rsc.io/quote@v1.5.2 golang.org/x/text@v0.0.0-20170915032832-14c0d48ead0c
}
sc_get_version() { run get rsc.io/quote@v1.5.2; }
sc_get_latest() { run get rsc.io/quote@latest; }
sc_get_u() {
  # A module with an older dependency; -u upgrades quote's own dependencies.
  cat >>go.mod <<'EOF'

require rsc.io/quote v1.5.1
EOF
  printf 'package main\n\nimport "rsc.io/quote"\n\nfunc main() { println(quote.Hello()) }\n' >main.go
  run get -u rsc.io/quote
  run list -m all
}
sc_list_versions() {
  run list -m -versions rsc.io/quote rsc.io/sampler example.com/retract rsc.io/breaker
}
sc_list_u() {
  run get rsc.io/quote@v1.5.1
  run list -m -u all
}
sc_retract() {
  run get example.com/retract@v1.0.0-bad
  run get example.com/retract/rationale@v1.0.0-block
  run list -m -u all
  run list -m -versions -retracted example.com/retract
}
sc_deprecated() {
  run get example.com/deprecated/a@v1.0.0
  run list -m -u all
}
sc_case_encoded() {
  run get rsc.io/QUOTE@v1.5.2
  run mod download -json rsc.io/QUOTE@v1.5.3-PRE
  run list -m -versions rsc.io/QUOTE
}
sc_gopkg_in() {
  run get gopkg.in/dummy.v2-unstable@v2.0.0
  run list -m -versions gopkg.in/dummy.v2-unstable
}
sc_incompatible() {
  run get rsc.io/breaker@v2.0.0+incompatible
  run list -m -versions rsc.io/breaker example.com/incompatiblewithsub
  run get example.com/incompatiblewithsub@latest
  run list -m all
}

sc_queries() {
  run get rsc.io/quote@v1.3       # prefix query (list)
  run get 'rsc.io/sampler@<v1.3.0' # range query (list)
  run get rsc.io/quote@v1.5.3-pre1 # prerelease
  run get example.com/notags@latest # empty list: @latest answers
  run list -m -json example.com/notags@latest
  run list -m all
}

# ---- machinery -------------------------------------------------------------

normalise() { # file: proxy URLs and temp paths replaced by placeholders
  local f=$1
  sed -i -e "s#$FILE_URL#<PROXY>#g" -e "s#$PROXY_URL#<PROXY>#g" \
    -e "s#$SIDE_DIR#<DIR>#g" "$f"
}

run() { # go ARGS...: appends "$ go ARGS", stdout, sorted stderr, exit status
  local rc=0 o="$SIDE_DIR/cmd"
  printf '$ go %s\n' "$*" >>"$SIDE_OUT"
  gocmd "$@" >"$o.stdout" 2>"$o.stderr" || rc=$?
  cat "$o.stdout" >>"$SIDE_OUT"
  # Parallel downloads print "go: downloading" lines in any order.
  echo "--- stderr" >>"$SIDE_OUT"
  LC_ALL=C sort "$o.stderr" >>"$SIDE_OUT"
  echo "--- exit=$rc" >>"$SIDE_OUT"
}

# run_side SIDE SCENARIO PROXY: runs the scenario with ${GOCMD_GO:-$GO};
# output in $T/out/SIDE/SCENARIO
run_side() {
  local side=$1 sc=$2
  SIDE_DIR="$T/run/$side/$sc"
  SIDE_OUT="$T/out/$side/$sc"
  mkdir -p "$SIDE_DIR/work" "$T/out/$side"
  : >"$SIDE_OUT"
  GOCMD_PROXY=$3
  GOCMD_ENV=(GOPATH="$SIDE_DIR/gopath" GOMODCACHE="$SIDE_DIR/gopath/pkg/mod"
    GOCACHE="$SIDE_DIR/gocache")
  (
    cd "$SIDE_DIR/work"
    printf 'module example.com/e2e\n\ngo 1.19\n' >go.mod
    "sc_$sc"
    for f in go.mod go.sum; do
      echo "=== $f" >>"$SIDE_OUT"
      if [[ -f $f ]]; then cat "$f" >>"$SIDE_OUT"; fi
    done
  )
  normalise "$SIDE_OUT"
  chmod -R u+w "$SIDE_DIR" # the module cache is read-only; free disk early
  rm -rf "$SIDE_DIR"
}

# compare SIDE [REF]: every scenario's output equals the file:// reference
# (REF, default file).
compare() {
  local side=$1 ref=${2:-file} sc bad=0
  for sc in "${SCENARIOS[@]}"; do
    if ! diff -u "$T/out/$ref/$sc" "$T/out/$side/$sc" >"$T/diff.$side.$sc"; then
      echo "scenario $sc ($side) differs from GOPROXY=file:// ($ref):" >&2
      cat "$T/diff.$side.$sc" >&2
      bad=1
    fi
  done
  ((bad == 0)) || fail "$side: go command output through modproxy differs from file://"
}

# ---- the reference: GOPROXY=file://TREE --------------------------------------

# (In the background, while the first pass through modproxy runs.) The
# older client's references and runs are "file-old" and "online-old".
(
  for sc in "${SCENARIOS[@]}"; do run_side file "$sc" "$FILE_URL"; done
  for sc in "${SCENARIOS[@]}"; do GOCMD_GO=$GO_OLD run_side file-old "$sc" "$FILE_URL"; done
) &
ref_pid=$!
for sc in "${SCENARIOS[@]}"; do run_side online "$sc" "$PROXY_URL"; done
for sc in "${SCENARIOS[@]}"; do GOCMD_GO=$GO_OLD run_side online-old "$sc" "$PROXY_URL"; done
wait "$ref_pid" || fail "the GOPROXY=file:// reference run failed"

# Sanity of the reference itself, so that an equal-but-broken result cannot
# pass: every command but the deliberately failing ones succeeded, and the
# warnings this test is about are really there.
ref() { cat "$T/out/file/$1"; }
for sc in "${SCENARIOS[@]}"; do
  for r in file file-old; do
    n_bad=$(grep -c '^--- exit=[1-9]' "$T/out/$r/$sc" || true)
    assert_eq "$n_bad" 0 "reference scenario $sc ($r) has a failing command"
  done
done
# The two clients really are two.
assert_contains "$(goenv "$GO" version)" "go1." "newest client"
assert_contains "$(goenv "$GO_OLD" version)" "go1.19" "older client"
assert_contains "$(ref download_json)" '"Version": "v1.5.2"'
assert_contains "$(ref get_version)" 'rsc.io/quote v1.5.2'
assert_contains "$(ref get_u)" 'rsc.io/sampler v1.99.99'
assert_contains "$(ref list_versions)" 'rsc.io/quote v1.0.0 v1.1.0'
assert_contains "$(ref list_u)" 'rsc.io/quote v1.5.1 [v1.5.2]'
assert_contains "$(ref retract)" 'retracted by module author'
assert_contains "$(ref retract)" '(retracted)'
assert_contains "$(ref deprecated)" 'is deprecated'
assert_contains "$(ref case_encoded)" 'rsc.io/QUOTE v1.5.2'
assert_contains "$(ref case_encoded)" '"Version": "v1.5.3-PRE"'
assert_contains "$(ref gopkg_in)" 'gopkg.in/dummy.v2-unstable v2.0.0'
assert_contains "$(ref incompatible)" 'rsc.io/breaker v2.0.0+incompatible'
assert_contains "$(ref queries)" 'example.com/notags v0.0.0-20190507143103-cc8cbe209b64'
assert_contains "$(ref queries)" 'rsc.io/quote v1.5.3-pre1'

# ---- through modproxy, upstream up (run above) ---------------------------

compare online
compare online-old file-old
hits_online=$(wc -l <"$UPSTREAM_LOG")
((hits_online > 0)) || fail "modproxy never asked the upstream"
# Cache an @latest answer too (the scenarios do not need one).
code=$(curl -s -o /dev/null -w '%{http_code}' "$PROXY_URL/rsc.io/quote/@latest")
assert_eq "$code" 200 "@latest with the upstream up"

# modproxy's error explanations reach the go command's user (text/plain,
# short enough, printable: the go command shows them as "server response").
# go_error WHAT ARGS...: the command fails; sets GOERR to its stderr.
go_error() {
  local what=$1 rc=0
  shift
  mkdir -p "$T/err-work"
  GOCMD_PROXY=$PROXY_URL
  GOCMD_ENV=(GOPATH="$T/err-gopath" GOMODCACHE="$T/err-gopath/pkg/mod" GOCACHE="$T/err-gocache")
  GOERR=$(cd "$T/err-work" && printf 'module example.com/e2e\n\ngo 1.19\n' >go.mod &&
    gocmd "$@" 2>&1) || rc=$?
  ((rc != 0)) || fail "$what: go $* succeeded"
  assert_contains "$GOERR" "server response:" "$what: modproxy's explanation is shown"
  [[ $GOERR != *"[Truncated"* ]] || fail "$what: the go command truncated the explanation:"$'\n'"$GOERR"
}
go_error "unknown version" get rsc.io/quote@v1.99.0
assert_contains "$GOERR" "v1.99.0" "unknown version: explanation"


kill -TERM "$UPSTREAM_PID"
wait "$UPSTREAM_PID" || true
upstream_gone() { ! curl -s -o /dev/null --max-time 2 "$UPSTREAM_URL/"; }
upstream_gone || fail "upstream still answers after SIGTERM"

# check_stale_list: a list whose --list-ttl expired is served from the cache,
# marked stale, byte-identical to the upstream's.
check_stale_list() {
  sleep 1.2 # > --list-ttl
  local hdr="$T/stale.h" body="$T/stale.b" code
  code=$(curl -s -D "$hdr" -o "$body" -w '%{http_code}' "$PROXY_URL/rsc.io/quote/@v/list")
  assert_eq "$code" 200 "stale list status ($1)"
  grep -qi '^X-Modproxy-Stale: 1' "$hdr" ||
    fail "$1: no X-Modproxy-Stale: 1 on an expired list; headers:"$'\n'"$(cat "$hdr")"
  cmp -s "$body" "$T/tree/rsc.io/quote/@v/list" || fail "$1: stale list body differs from upstream"
  code=$(curl -s -D "$hdr" -o "$body" -w '%{http_code}' "$PROXY_URL/rsc.io/quote/@latest")
  assert_eq "$code" 200 "stale @latest status ($1)"
  grep -qi '^X-Modproxy-Stale: 1' "$hdr" || fail "$1: no X-Modproxy-Stale: 1 on an expired @latest"
  cmp -s "$body" "$T/tree/rsc.io/quote/@latest" || fail "$1: stale @latest body differs from upstream"
  # A never-cached module cannot be served: an error, not a 200.
  code=$(curl -s -o "$body" -w '%{http_code}' "$PROXY_URL/rsc.io/fortune/@v/list")
  [[ $code == 5* ]] || fail "$1: uncached list with upstream down: status $code, want 5xx"
}

check_stale_list "upstream down"
go_error "uncached module, upstream down" mod download rsc.io/fortune@v1.0.0
assert_contains "$GOERR" "${UPSTREAM_URL#http://}" "upstream down: the explanation names the upstream"
for sc in "${SCENARIOS[@]}"; do run_side offline "$sc" "$PROXY_URL"; done
compare offline
check_stale_list "upstream down, after the scenarios"

# ---- restart modproxy on the same data directory, upstream still down -----

stop_modproxy
start_modproxy "${PROXY_FLAGS[@]}"
check_stale_list "after restart"
for sc in "${SCENARIOS[@]}"; do run_side restarted "$sc" "$PROXY_URL"; done
compare restarted
stop_modproxy
echo "PASS core_gocmd"
