#!/usr/bin/env bash
# upstream_http.sh: an HTTP upstream that resets mid-body, stalls (no first
# byte; body stops midway), lies about Content-Length (shorter, longer),
# sends garbage (not HTTP; broken chunked body; a .info that is not JSON; a
# zip that is not a zip; a truncated zip) or redirects in a loop. Each time
# the client gets a clear error (status and a short text/plain body naming
# the upstream and the cause) or the right bytes; nothing is stored from a
# failed fetch; once the fault is gone the same request gets the real bytes,
# again after a restart (from the store); fsck finds the store consistent;
# modproxy answers other requests throughout and exits 0 on SIGTERM.
# The two stalls wait out modproxy's 30 s upstream stall timeout, in the
# background while the other faults run.
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

make_corpus_tree "$T/tree"
start_faulty "$T/tree"
export MODPROXY_DATA="$T/data"
start_modproxy --upstream "$FAULTY_URL" --sumdb off
ALIVE_ROOT="$T/tree"
ALIVE_PATHS=(/rsc.io/sampler/@v/v1.0.0.info /rsc.io/sampler/@v/v1.0.0.zip /rsc.io/sampler/@v/v1.2.0.mod
  /rsc.io/sampler/@v/v1.2.0.zip /rsc.io/sampler/@v/v1.2.1.info /rsc.io/sampler/@v/v1.3.0.zip)

Q=/rsc.io/quote/@v
# name | path | faulty action | want: error STATUS CAUSE, or "either" (the
# real bytes or such an error)
CASES=(
  "reset mid-body (.zip)|$Q/v1.0.0.zip|reset 400|error|502|reset|recv"
  "reset mid-body (.info)|$Q/v1.0.0.info|reset 20|error|502|reset|recv"
  "body stops midway, connection closed (.zip)|$Q/v1.1.0.zip|close 400|error|502|closed|remaining|partial"
  "stall: first byte never comes (.info)|$Q/v1.2.0.info|stall|error|504|too slow|timed? ?out|timeout"
  "stall: body stops midway (.zip)|$Q/v1.2.0.zip|stall-body 400|error|504|too slow|timed? ?out|timeout"
  "Content-Length shorter than the body (.zip)|$Q/v1.2.1.zip|short-length 300|error|502|more bytes than"
  "Content-Length shorter than the body (.info)|$Q/v1.2.1.info|short-length 10|error|502|more bytes than"
  "Content-Length shorter than the body (.mod)|$Q/v1.2.1.mod|short-length 5|error|502|more bytes than"
  "Content-Length longer than the body (.zip)|$Q/v1.3.0.zip|long-length 100|error|502|closed|remaining|partial|incomplete"
  "Content-Length longer than the body (.mod)|$Q/v1.3.0.mod|long-length 100|error|502|closed|remaining|partial|incomplete"
  "garbage: not HTTP (.zip)|$Q/v1.4.0.zip|garbage|error|502|HTTP/0\\.9|not HTTP|weird|malformed|invalid (http|response)"
  "garbage: not HTTP (.info)|$Q/v1.4.0.info|garbage|error|502|HTTP/0\\.9|not HTTP|weird|malformed|invalid (http|response)"
  "garbage: broken chunked body (.zip)|$Q/v1.5.0.zip|bad-chunked|error|502|chunk"
  "garbage: 200 .info that is not JSON|$Q/v1.5.0.info|body <html><body>Welcome to nginx!</body></html>|error|502|\\.info|json"
  "garbage: 200 .info naming another version|$Q/v1.5.1.info|body {\"Version\":\"v9.9.9\",\"Time\":\"2018-02-14T15:44:20Z\"}|error|502|v9\\.9\\.9"
  "garbage: a zip that is not a zip|$Q/v1.5.1.zip|body PK this is not a zip archive at all|error|502|unusable|invalid|not a (valid )?zip|corrupt"
  "garbage: a truncated zip (consistent headers)|$Q/v1.5.2.zip|truncate 700|error|502|unusable|invalid|not a (valid )?zip|truncat|corrupt"
  "redirect loop (.info)|$Q/v1.5.2.info|redirect-loop|error|502|redirect"
  "redirect loop (@v/list)|$Q/list|redirect-loop|error|502|redirect"
)
field() { # case index n
  local IFS='|' f
  read -r -a f <<<"${CASES[$1]}"
  if (($2 == 5)); then # the cause: the rest, '|' kept (an ERE)
    local rest=("${f[@]:5}")
    echo "${rest[*]}"
  else
    echo "${f[$2]}"
  fi
}
# shellcheck disable=SC2001,SC2016 # sed is clearer here; the $ is sed's
re_escape() { sed 's/[.[\*^$()+?{}|]/\\&/g' <<<"$1"; }
mod_ver_ext() { # path -> "module version ext"
  local p=${1#/} m v
  m=${p%%/@v/*}
  v=${p##*/}
  [[ $v == list ]] && { echo "$m - list"; return; }
  echo "$m ${v%.*} ${v##*.}"
}

rules=()
for i in "${!CASES[@]}"; do
  rules+=("^$(re_escape "$(field "$i" 1)")\$ $(field "$i" 2)")
done
set_rules "${rules[@]}"

declare -A SAWS STORED VERDICT
mark() { # case-index fails-before
  ((${#FAILS[@]} == $2)) || VERDICT[$1]=fail
}

# Stalls last modproxy's 30 s stall timeout: they run in the background.
is_stall() { [[ $(field "$1" 2) == stall* ]]; }
echo "---- faults on: every fault, stalls in the background"
for i in "${!CASES[@]}"; do
  if is_stall "$i"; then bg_fetch "case$i" "$(field "$i" 1)"; fi
done
for i in "${!CASES[@]}"; do
  is_stall "$i" && continue
  n0=${#FAILS[@]}
  name=$(field "$i" 0) p=$(field "$i" 1)
  if [[ $(field "$i" 3) == either ]]; then
    expect_bytes_or_error "$name" "$p" "$T/tree$p" "$(field "$i" 4)" "$(field "$i" 5)"
  else
    expect_error "$name" "$p" "$(field "$i" 4)" "$(field "$i" 5)"
  fi
  saw
  SAWS[$i]=$SAW
  read -r m v ext <<<"$(mod_ver_ext "$p")"
  if [[ $ext == list ]]; then
    STORED[$i]=$(sql "SELECT CASE count(*) WHEN 0 THEN 'nothing' ELSE 'list of ' || sum(length(body)) || ' bytes' END
                      FROM answers WHERE module='$m' AND key LIKE '%list%'")
  else
    STORED[$i]=$(stored "$m" "$v" "$ext")
  fi
  if [[ $CODE != 200 && ${STORED[$i]} != nothing ]]; then
    soft_fail "$name: the fetch failed but the store holds ${STORED[$i]}"
  fi
  if [[ $CODE == 200 && ${STORED[$i]} != "$(stat -c %s "$T/tree$p") bytes" ]]; then
    soft_fail "$name: served 200 but the store holds ${STORED[$i]}"
  fi
  alive "$name"
  mark "$i" "$n0"
done

# The go command shows modproxy's explanation (a truncated zip).
set_rules "${rules[@]}" '^/rsc\.io/sampler/@v/v1\.3\.1\.zip$ truncate 900'
scratch_module work
out=$(gocmd mod download rsc.io/sampler@v1.3.1 2>&1) && soft_fail "go mod download of a truncated zip worked"
cd "$T" || fail "cd $T"
if grep -qiE 'unusable|invalid|not a valid zip|corrupt' <<<"$out"; then
  echo "  go command: $(grep -m1 -iE 'unusable|invalid|corrupt' <<<"$out" | sed 's/^[[:space:]]*//')"
else
  soft_fail "go mod download of a truncated zip does not show why: $out"
fi

for k in "${!CASES[@]}"; do
  is_stall "$k" || continue
  n0=${#FAILS[@]}
  bg_collect "case$k"
  judge_error "$(field "$k" 0)" "$(field "$k" 1)" "$(field "$k" 4)" "$(field "$k" 5)"
  SAWS[$k]=$SAW
  read -r m v ext <<<"$(mod_ver_ext "$(field "$k" 1)")"
  STORED[$k]=$(stored "$m" "$v" "$ext")
  [[ $CODE == 200 || ${STORED[$k]} == nothing ]] ||
    soft_fail "$(field "$k" 0): the fetch failed but the store holds ${STORED[$k]}"
  mark "$k" "$n0"
done
alive "after the stalls"

echo "---- faults off: the same requests get the real bytes"
set_rules
for i in "${!CASES[@]}"; do
  n0=${#FAILS[@]}
  p=$(field "$i" 1)
  expect_bytes "$(field "$i" 0) (fault removed)" "$p" "$T/tree$p"
  mark "$i" "$n0"
done
expect_bytes "truncated zip via the go command (fault removed)" /rsc.io/sampler/@v/v1.3.1.zip \
  "$T/tree/rsc.io/sampler/@v/v1.3.1.zip"
check_store "after the faults"

echo "---- restart: the same requests answered from the store"
stop_modproxy
start_modproxy --upstream "$FAULTY_URL" --sumdb off
hits_before=$(wc -l <"$FAULTY_LOG")
for i in "${!CASES[@]}"; do
  n0=${#FAILS[@]}
  p=$(field "$i" 1)
  expect_bytes "$(field "$i" 0) (after restart)" "$p" "$T/tree$p"
  mark "$i" "$n0"
done
refetched=$(tail -n +"$((hits_before + 1))" "$FAULTY_LOG" | grep -vE '/@v/list$' || true)
[[ -z $refetched ]] || soft_fail "after a restart, stored files were fetched again: $refetched"
check_store "after the restart"
alive "after the restart"
stop_modproxy

# "A|B": a fault at A (any error) falls through to B, which has the file.
echo "---- A|B: a faulty A falls through to a good B"
start_upstream "$T/tree"
MODPROXY_DATA="$T/data-pipe"
start_modproxy --upstream "$FAULTY_URL|$UPSTREAM_URL" --sumdb off
set_rules '^/rsc\.io/quote/@v/v1\.0\.0\.zip$ reset 400' '^/rsc\.io/quote/@v/v1\.0\.0\.info$ garbage'
n0=${#FAILS[@]}
expect_bytes "reset at A, B good" $Q/v1.0.0.zip "$T/tree$Q/v1.0.0.zip"
expect_bytes "garbage at A, B good" $Q/v1.0.0.info "$T/tree$Q/v1.0.0.info"
(($(upstream_hits "^$Q/v1\.0\.0\.zip\$") == 1)) || soft_fail "A|B: B was not asked for the zip"
pipe_verdict=pass
((${#FAILS[@]} == n0)) || pipe_verdict=fail
pipe_stored=$(stored rsc.io/quote v1.0.0 zip)
stop_modproxy

for i in "${!CASES[@]}"; do
  result "$(field "$i" 0) [${rules[i]#* }]" "${SAWS[$i]}" "${STORED[$i]}" "${VERDICT[$i]:-pass}"
done
result "reset mid-body at A, --upstream 'A|B'" "200, the real bytes from B" "$pipe_stored (B's)" "$pipe_verdict"
finish upstream_http
