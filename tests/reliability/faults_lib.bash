# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are used by the tests
# Helpers for the tests/reliability/*.sh fault tests (named .bash so that
# CTest, which runs tests/reliability/*.sh, does not take it for a test).
# Sources tests/e2e/lib.sh (start_modproxy, make_corpus_tree, asserts, $T).
#
# start_faulty ROOT [faulty flags...]: the fault-injecting upstream
#   (tests/tools/faulty) on 127.0.0.1; sets FAULTY_URL, FAULTY_LOG,
#   FAULTY_RULES (its rules file, re-read on change), FAULTY_PID and
#   EXPECT_NAMED (its host:port).
# set_rules LINE...: replaces the rules of the last faulty upstream (none:
#   no faults).
# fetch PATH: GET through modproxy; CODE, body in $T/body, headers in $T/hdrs.
# expect_error NAME PATH STATUS_ERE CAUSE_ERE: a clear error: the status,
#   a short text/plain body (the go command's rules) matching CAUSE_ERE
#   (case-insensitive) and naming $EXPECT_NAMED (empty: not checked).
#   judge_error: the same for the answer already in CODE and $T/body.
# expect_bytes NAME PATH FILE: 200 and exactly FILE's bytes.
# expect_bytes_or_error NAME PATH FILE STATUS_ERE CAUSE_ERE: either.
# bg_fetch KEY PATH / bg_collect KEY: a fetch in the background (stalls).
# stored MODULE VERSION info|mod|zip: what the store holds of that file:
#   "nothing", "N bytes" (zip: chunks summing to zip_size) or "BROKEN ...".
# alive: modproxy still runs, answers /healthz and serves the next of
#   ALIVE_PATHS (files under ALIVE_ROOT) right.
# check_store LABEL [nofsck]: every stored zip's chunks add up to its
#   zip_size and `modproxy fsck --dry-run` finds nothing damaged (modproxy
#   may be running).
# make_module ROOT MODULE VERSION BYTES: a module with a large zip.
# result FAULT SAW STORED VERDICT: one row of the summary table (stdout and
#   $REL_RESULTS when set).
# Failed checks are collected (soft_fail); finish NAME exits 1 if any
# failed, so that one misbehaviour does not hide the others.

# shellcheck source=../e2e/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../e2e" && pwd)/lib.sh"

command -v sqlite3 >/dev/null || fail "the sqlite3 command is needed"

FAILS=()
soft_fail() {
  echo "FAIL: $*" >&2
  FAILS+=("$*")
}

finish() { # name
  if ((${#FAILS[@]} > 0)); then
    echo "----- ${#FAILS[@]} failed check(s) in $1 -----" >&2
    printf '  %s\n' "${FAILS[@]}" >&2
    exit 1
  fi
  echo "PASS $1"
}

start_faulty() {
  local root=$1 i
  shift
  build_tools
  _FAULTY_N=$((${_FAULTY_N:-0} + 1))
  local addr_file="$T/faulty$_FAULTY_N.addr" scheme=http a
  FAULTY_LOG="$T/faulty$_FAULTY_N.requests"
  FAULTY_RULES="$T/faulty$_FAULTY_N.rules"
  : >"$FAULTY_RULES"
  for a in "$@"; do [[ $a == -tls-cert* ]] && scheme=https; done
  "$TOOLS/faulty" -root "$root" -listen 127.0.0.1:0 -addr-file "$addr_file" \
    -log "$FAULTY_LOG" -rules "$FAULTY_RULES" "$@" >"$T/faulty$_FAULTY_N.log" 2>&1 &
  FAULTY_PID=$!
  _PIDS+=("$FAULTY_PID")
  for ((i = 0; i < 100; i++)); do
    [[ -s $addr_file ]] && break
    _alive "$FAULTY_PID" || fail "faulty exited: $(cat "$T/faulty$_FAULTY_N.log")"
    sleep 0.1
  done
  [[ -s $addr_file ]] || fail "faulty did not start within 10 s"
  FAULTY_URL="$scheme://$(<"$addr_file")"
  EXPECT_NAMED=${FAULTY_URL#*://}
}

set_rules() { # LINE...: written atomically (faulty notices the new inode)
  printf '%s\n' "$@" >"$FAULTY_RULES.tmp"
  mv -f "$FAULTY_RULES.tmp" "$FAULTY_RULES"
}

fetch() { # path [curl args...]
  local p=$1
  shift
  CODE=$(curl -s -D "$T/hdrs" -o "$T/body" -w '%{http_code}' --max-time 90 "$@" "$PROXY_URL$p") || true
  if [[ $CODE == 200 ]]; then
    echo "GET $p -> $CODE ($(wc -c <"$T/body") bytes)" >>"$T/responses.log"
  else
    { echo "GET $p -> $CODE"; head -c 1000 "$T/body"; echo; } >>"$T/responses.log"
  fi
}
body_text() { head -c 2000 "$T/body"; }
ctype() { grep -i '^content-type:' "$T/hdrs" | tr -d '\r' | cut -d' ' -f2- || true; }

# error_shape NAME: the error body follows the go command's rules for what
# it shows (GOPROXY-PROTOCOL.md section 3), as tests/e2e/core_upstreams.sh.
error_shape() {
  local ct lines bytes
  ct=$(ctype)
  [[ $ct == "text/plain; charset=utf-8" ]] || soft_fail "$1: content type '$ct', want text/plain; charset=utf-8"
  lines=$(wc -l <"$T/body") bytes=$(wc -c <"$T/body")
  ((lines <= 8 && bytes <= 648)) || soft_fail "$1: error body has $lines lines, $bytes bytes"
  ! grep -q '^[[:space:]]*$' "$T/body" || soft_fail "$1: blank line in the error body"
}

# SAW: a one-line summary of the last answer, for the table.
saw() {
  if [[ $CODE == 200 ]]; then
    SAW="200, $(wc -c <"$T/body") bytes"
  else
    SAW="$CODE: $({ grep -m1 -ivE '^(modproxy (could not fetch|refused)|this is a problem)' "$T/body" || true; } |
      sed 's/^ *//' | cut -c1-160)"
    [[ $(wc -l <"$T/body") -gt 0 ]] || SAW="$CODE (empty body)"
  fi
}

expect_error() { # name path status_ere cause_ere
  fetch "$2"
  judge_error "$@"
}

# judge_error NAME PATH STATUS_ERE CAUSE_ERE: expect_error on the answer
# already in CODE, $T/body, $T/hdrs.
judge_error() {
  saw
  if ! [[ $CODE =~ ^($3)$ ]]; then
    soft_fail "$1: GET $2: status $CODE, want $3; body: $(body_text)"
  fi
  if [[ $CODE != 200 ]]; then
    error_shape "$1"
    if ! grep -qiE -- "$4" "$T/body"; then
      soft_fail "$1: the error body does not explain the cause (/$4/): $(body_text)"
    fi
    if [[ -n ${EXPECT_NAMED:-} ]] && ! grep -qF -- "$EXPECT_NAMED" "$T/body"; then
      soft_fail "$1: the error body does not name $EXPECT_NAMED: $(body_text)"
    fi
  fi
  echo "  $1: GET $2 -> $SAW"
  return 0
}

# bg_fetch KEY PATH: fetch in the background (for answers that take long);
# bg_collect KEY waits for it and makes it the last answer (CODE, $T/body;
# BG_SECONDS: how long it took).
declare -A _BG_PID
bg_fetch() {
  curl -s -D "$T/bg-$1.hdrs" -o "$T/bg-$1.body" -w '%{http_code} %{time_total}' --max-time 90 \
    "$PROXY_URL$2" >"$T/bg-$1.code" 2>/dev/null &
  _BG_PID[$1]=$!
}
bg_collect() {
  wait "${_BG_PID[$1]}" || true
  read -r CODE BG_SECONDS <"$T/bg-$1.code" || true
  cp "$T/bg-$1.body" "$T/body"
  cp "$T/bg-$1.hdrs" "$T/hdrs"
}

expect_bytes() { # name path file
  fetch "$2"
  saw
  if [[ $CODE != 200 ]]; then
    soft_fail "$1: GET $2: status $CODE, want 200 with the real bytes; body: $(body_text)"
    return 0
  fi
  if ! cmp -s "$T/body" "$3"; then
    soft_fail "$1: GET $2: 200 but not the real bytes ($(wc -c <"$T/body") bytes, want $(wc -c <"$3"))"
    return 0
  fi
  echo "  $1: GET $2 -> 200, the real bytes"
}

# expect_bytes_or_error NAME PATH FILE STATUS_ERE CAUSE_ERE
expect_bytes_or_error() {
  fetch "$2"
  if [[ $CODE == 200 ]]; then
    expect_bytes "$1" "$2" "$3"
  else
    expect_error "$1" "$2" "$4" "$5"
  fi
}

sql() { sqlite3 -batch -noheader -cmd '.timeout 5000' "${DB:-$MODPROXY_DATA/modproxy.db}" "$@"; }

stored() { # module version info|mod|zip
  local m=$1 v=$2 part=$3 q r
  case $part in
    info | mod) q="SELECT length($part) FROM versions WHERE module='$m' AND version='$v' AND $part IS NOT NULL" ;;
    zip) q="SELECT zip_size || ' ' || (SELECT coalesce(sum(length(data)),0) FROM zip_chunks WHERE version_id = v.id)
            FROM versions v WHERE module='$m' AND version='$v' AND zip_size IS NOT NULL" ;;
  esac
  r=$(sql "$q")
  if [[ -z $r ]]; then
    echo nothing
  elif [[ $part != zip ]]; then
    echo "$r bytes"
  elif [[ ${r% *} == "${r#* }" ]]; then
    echo "${r% *} bytes"
  else
    echo "BROKEN zip_size ${r% *} but chunks hold ${r#* }"
  fi
}

# ALIVE_PATHS: good files fetched in turn by alive (set by the test; their
# bytes are under ALIVE_ROOT).
ALIVE_N=0
ALIVE_PATHS=()
ALIVE_ROOT=
alive() { # [label]
  local h
  h=$(curl -s --max-time 10 "$PROXY_URL/healthz" || true)
  [[ $h == ok ]] || soft_fail "${1:-alive}: /healthz answered '$h'"
  _alive "$MODPROXY_PID" || fail "${1:-alive}: modproxy is not running any more"
  if ((${#ALIVE_PATHS[@]} > 0)); then
    local p=${ALIVE_PATHS[ALIVE_N % ${#ALIVE_PATHS[@]}]}
    ALIVE_N=$((ALIVE_N + 1))
    fetch "$p"
    if [[ $CODE != 200 ]] || ! cmp -s "$T/body" "$ALIVE_ROOT$p"; then
      soft_fail "${1:-alive}: a good request ($p) got $CODE: $(body_text)"
    fi
  fi
}

check_store() { # label [nofsck]
  local bad out rc=0
  bad=$(sql "SELECT module || '@' || version || ': zip_size ' || zip_size || ', chunks ' ||
               (SELECT coalesce(sum(length(data)),0) FROM zip_chunks WHERE version_id = v.id)
             FROM versions v WHERE zip_size IS NOT NULL AND zip_size !=
               (SELECT coalesce(sum(length(data)),0) FROM zip_chunks WHERE version_id = v.id)")
  [[ -z $bad ]] || soft_fail "$1: half-written zips in the store: $bad"
  bad=$(sql "SELECT count(*) FROM zip_chunks WHERE version_id NOT IN (SELECT id FROM versions WHERE zip_size IS NOT NULL)")
  [[ $bad == 0 ]] || echo "  $1: note: $bad zip chunks belong to no published zip" >&2
  [[ ${2:-} == nofsck ]] && return 0
  out=$("$TEST_MODPROXY_BIN" fsck --data "$MODPROXY_DATA" --dry-run 2>&1) || rc=$?
  if ((rc != 0)) || [[ $out != *"0 damaged"* ]]; then
    soft_fail "$1: modproxy fsck --dry-run exit $rc: $(tail -5 <<<"$out")"
  else
    echo "  $1: store consistent; fsck: $(tail -1 <<<"$out")"
  fi
}

result() { # fault saw stored verdict
  local row="| $1 | $2 | $3 | $4 |"
  echo "RESULT $row"
  [[ -z ${REL_RESULTS:-} ]] || echo "$row" >>"$REL_RESULTS"
}

# make_module ROOT MODULE VERSION BYTES: adds MODULE@VERSION to the GOPROXY
# tree ROOT (.info, .mod, list and a valid module zip holding about BYTES of
# incompressible data, stored uncompressed, in files of at most 8 MiB).
make_module() {
  python3 - "$@" <<'PY'
import json, os, sys, zipfile
root, mod, ver, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
d = os.path.join(root, mod, "@v")  # lower-case paths only: no escaping
os.makedirs(d, exist_ok=True)
gomod = "module %s\n\ngo 1.19\n" % mod
with open(os.path.join(d, ver + ".info"), "w") as f:
    json.dump({"Version": ver, "Time": "2023-01-02T03:04:05Z"}, f)
with open(os.path.join(d, ver + ".mod"), "w") as f:
    f.write(gomod)
with open(os.path.join(d, "list"), "a") as f:
    f.write(ver + "\n")
tmp = os.path.join(d, ver + ".zip.tmp")
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
    pre = "%s@%s/" % (mod, ver)
    z.writestr(pre + "go.mod", gomod)
    z.writestr(pre + "doc.go", "// Package %s is test data.\npackage %s\n" % (mod.split("/")[-1], mod.split("/")[-1]))
    i = 0
    while size > 0:
        n = min(size, 8 << 20)
        z.writestr(pre + "data/blob%03d.bin" % i, os.urandom(n))
        size -= n
        i += 1
os.rename(tmp, os.path.join(d, ver + ".zip"))
PY
}
