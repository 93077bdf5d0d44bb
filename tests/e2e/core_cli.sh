#!/usr/bin/env bash
# core_cli.sh: the command line. Help and version exit 0 with useful text;
# every usage error prints exactly one line on stderr (nothing on stdout) and
# exits 2 without serving; MODPROXY_* environment variables configure serve
# and a flag wins over its variable.
source "$(dirname "$0")/lib.sh"

BIN=$TEST_MODPROXY_BIN
cd "$T" # a stray default ./modproxy-data must land in the temp dir

# run_cli ARGS...: runs modproxy (5 s at most); sets RC, OUT, ERR
run_cli() {
  RC=0
  timeout 5 "$BIN" "$@" >"$T/out" 2>"$T/err" </dev/null || RC=$?
  OUT=$(cat "$T/out") ERR=$(cat "$T/err")
}

# ---- help and version ---------------------------------------------------------
run_cli --help
assert_eq "$RC" 0 "modproxy --help: exit status"
assert_contains "$OUT" "serve" "modproxy --help"
assert_contains "$OUT" "version" "modproxy --help"
assert_eq "$ERR" "" "modproxy --help: stderr"
main_help=$OUT
run_cli help
assert_eq "$RC" 0 "modproxy help: exit status"
assert_eq "$OUT" "$main_help" "modproxy help equals --help"

run_cli serve --help
assert_eq "$RC" 0 "modproxy serve --help: exit status"
assert_eq "$ERR" "" "modproxy serve --help: stderr"
for flag in --listen --data --upstream --upstream-ca --list-ttl --not-found-ttl \
  MODPROXY_LISTEN MODPROXY_UPSTREAM; do
  assert_contains "$OUT" "$flag" "modproxy serve --help mentions $flag"
done
serve_help=$OUT
run_cli serve -h
assert_eq "$RC" 0 "modproxy serve -h: exit status"
assert_eq "$OUT" "$serve_help" "serve -h equals serve --help"
run_cli help serve
assert_eq "$RC" 0 "modproxy help serve: exit status"
assert_eq "$OUT" "$serve_help" "help serve equals serve --help"

run_cli version
assert_eq "$RC" 0 "modproxy version: exit status"
[[ $OUT =~ ^modproxy\ v?[0-9]+\.[0-9]+\.[0-9]+ ]] || fail "modproxy version printed '$OUT'"
assert_eq "$(wc -l <"$T/out")" 1 "modproxy version: one line"
assert_eq "$ERR" "" "modproxy version: stderr"

# ---- usage errors: one line on stderr, exit 2 ------------------------------
# usage_error NEEDLE ARGS...: exit 2, nothing on stdout, one stderr line
# containing NEEDLE (the offending flag or value).
usage_error() {
  local needle=$1
  shift
  run_cli "$@"
  assert_eq "$RC" 2 "modproxy $*: exit status (stderr: $ERR)"
  assert_eq "$OUT" "" "modproxy $*: stdout"
  assert_eq "$(wc -l <"$T/err")" 1 "modproxy $*: stderr lines ($ERR)"
  assert_contains "$ERR" "$needle" "modproxy $*: the message names the problem"
}
D=(--data "$T/cli-data" --listen 127.0.0.1:0) # never the default port, should a bad value be accepted
usage_error frobnicate frobnicate
usage_error --bogus serve "${D[@]}" --bogus
usage_error -x serve "${D[@]}" -x
usage_error extra serve "${D[@]}" extra
usage_error abc serve "${D[@]}" --list-ttl abc
usage_error -1 serve "${D[@]}" --list-ttl -1
usage_error 5s serve "${D[@]}" --list-ttl 5s
usage_error --list-ttl serve "${D[@]}" --list-ttl
usage_error 1e3 serve "${D[@]}" --not-found-ttl 1e3
usage_error ftp://x serve "${D[@]}" --upstream ftp://x
usage_error ftp://x serve "${D[@]}" --upstream "http://127.0.0.1:1,ftp://x"
usage_error nonsense serve "${D[@]}" --listen nonsense
usage_error 99999 serve "${D[@]}" --listen 127.0.0.1:99999
# A bad value in the environment is a usage error too.
MODPROXY_LIST_TTL=soon usage_error soon serve "${D[@]}"
MODPROXY_UPSTREAM=gopher://x usage_error gopher://x serve "${D[@]}"
make_corpus_tree "$T/tree"
start_upstream "$T/tree"
CORPUS_URL=$UPSTREAM_URL

# ---- environment variables ---------------------------------------------------
# bg_serve NAME PORT ARGS...: starts `modproxy serve ARGS` in the background
# (environment from the caller) and waits until PORT answers.
bg_serve() {
  local name=$1 port=$2 i
  shift 2
  "$BIN" serve "$@" >"$T/$name.log" 2>&1 &
  BG_PID=$!
  for ((i = 0; i < 100; i++)); do
    _http_answers "$port" && return 0
    _alive "$BG_PID" || fail "$name: modproxy exited: $(cat "$T/$name.log")"
    sleep 0.1
  done
  fail "$name: modproxy did not answer on port $port"
}
bg_stop() {
  local rc=0
  _stop_pid "$BG_PID" 10 || rc=$?
  assert_eq "$rc" 0 "exit status after SIGTERM"
}
INFO=/rsc.io/quote/@v/v1.5.2.info

# MODPROXY_LISTEN, MODPROXY_UPSTREAM and MODPROXY_DATA alone configure serve.
P1=$(_free_port)
MODPROXY_LISTEN=127.0.0.1:$P1 MODPROXY_UPSTREAM=$UPSTREAM_URL MODPROXY_DATA=$T/env-data \
  bg_serve env "$P1" --list-ttl 30
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$P1$INFO")
assert_eq "$code" 200 "env-configured modproxy: status"
cmp -s "$T/body" "$T/tree$INFO" || fail "env-configured modproxy: body differs"
assert_eq "$(upstream_hits "^${INFO//./\\.}\$")" 1 "env-configured modproxy asked MODPROXY_UPSTREAM"
[[ -e $T/env-data/modproxy.db ]] || fail "MODPROXY_DATA not used: no $T/env-data/modproxy.db ($(ls "$T/env-data" 2>&1))"
bg_stop

# Flags win: --listen over MODPROXY_LISTEN, --upstream over MODPROXY_UPSTREAM,
# --data over MODPROXY_DATA.
mkdir -p "$T/empty"
start_upstream "$T/empty"
EMPTY_LOG=$UPSTREAM_LOG EMPTY_URL=$UPSTREAM_URL
P2=$(_free_port)
P3=$(_free_port)
while [[ $P3 == "$P2" ]]; do P3=$(_free_port); done
MODPROXY_LISTEN=127.0.0.1:$P2 MODPROXY_UPSTREAM=$EMPTY_URL MODPROXY_DATA=$T/env-data2 \
  bg_serve flags "$P3" --listen "127.0.0.1:$P3" --upstream "$CORPUS_URL" \
  --data "$T/flag-data"
_http_answers "$P2" && fail "modproxy also answers on MODPROXY_LISTEN's port although --listen was given"
code=$(curl -s -o "$T/body" -w '%{http_code}' "http://127.0.0.1:$P3/rsc.io/sampler/@v/v1.3.0.info")
assert_eq "$code" 200 "flag-configured modproxy: status (--upstream wins)"
cmp -s "$T/body" "$T/tree/rsc.io/sampler/@v/v1.3.0.info" || fail "flag-configured modproxy: body differs"
assert_eq "$(wc -l <"$EMPTY_LOG")" 0 "requests to MODPROXY_UPSTREAM although --upstream was given"
[[ -e $T/flag-data/modproxy.db ]] || fail "--data not used: no $T/flag-data/modproxy.db"
[[ ! -e $T/env-data2 ]] || fail "MODPROXY_DATA used although --data was given"
bg_stop

# ---- an unusable --upstream-ca is a configuration error, found at startup --
usage_error /nonexistent/ca.pem serve "${D[@]}" --listen "127.0.0.1:$(_free_port)" \
  --upstream https://127.0.0.1:1 --upstream-ca /nonexistent/ca.pem

# ---- a config file at its size limit (SETTINGS_MAX_FILE_BYTES, 1 MiB) and one
# byte past it: read whole (the setting on its last line counts), then refused.
config_of_size() { # FILE BYTES: comment lines, then an admin-token line
  python3 - "$@" <<'PY'
import sys
path, size = sys.argv[1], int(sys.argv[2])
last = "admin-token = edge-of-the-file\n"
pad = size - len(last)
lines = []
while pad > 0:
    n = min(pad, 80)
    lines.append("#" * (n - 1) + "\n" if n > 1 else "\n")
    pad -= n
open(path, "w").write("".join(lines) + last)
PY
}
config_of_size "$T/edge.conf" $((1 << 20))
assert_eq "$(wc -c <"$T/edge.conf")" $((1 << 20)) "size of the config file at the limit"
out=$("$TEST_MODPROXY_BIN" config --config "$T/edge.conf" 2>&1) || fail "a config file of 1 MiB: $out"
assert_contains "$out" "(set, not shown)" "a config file of 1 MiB: its last line"
config_of_size "$T/past.conf" $(((1 << 20) + 1))
rc=0
out=$("$TEST_MODPROXY_BIN" config --config "$T/past.conf" 2>&1) || rc=$?
((rc != 0)) || fail "a config file of 1 MiB + 1 byte was taken: $out"
assert_contains "$out" "larger than $((1 << 20)) bytes" "a config file of 1 MiB + 1 byte"

echo "PASS core_cli"
