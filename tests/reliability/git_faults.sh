#!/usr/bin/env bash
# git_faults.sh: a private git host that hangs (accepts and never answers;
# answers half a ref advertisement and stops) or floods output (a ref
# advertisement of ~45 MB, more than modproxy lets git print). modproxy
# (--git-timeout 4) answers with a clear error naming the git host and the
# cause, leaves no git process behind, stores nothing, and keeps serving
# other private and public modules meanwhile; once the host behaves, the
# same requests get the real bytes (the go command's hashes in direct mode
# match), again after a restart; fsck finds the store consistent; modproxy
# exits 0 on SIGTERM.
#
# The git host is a TCP front (python) before `git daemon`: for a
# repository named in $T/gitfaults ("NAME MODE" lines) it misbehaves,
# otherwise it forwards the connection to the daemon.
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"
# shellcheck source=../e2e/private_lib.bash
source "$(dirname "$0")/../e2e/private_lib.bash"

make_private_repos
for name in hang hangmid flood; do # small modules of their own
  w="$T/work/$name"
  mkdir -p "$w" && (cd "$w" && _git init -q)
  printf 'module github.com/corp/%s\n\ngo 1.19\n' "$name" >"$w/go.mod"
  printf 'package %s\n\nconst Name = "%s"\n' "$name" "$name" >"$w/$name.go"
  commit_at "$w" "2023-01-02T03:04:05Z" one
  (cd "$w" && _git tag v1.0.0)
  publish "$name"
done
start_git_daemon
go_git_config "$T/gitconfig-go"

FRONT_PORT=$(_free_port)
printf 'hang hang\nhangmid hangmid\nflood flood\n' >"$T/gitfaults"
python3 - "$FRONT_PORT" "$GIT_PORT" "$T/gitfaults" >"$T/gitfront.log" 2>&1 <<'PY' &
import re, socket, sys, threading, time
port, daemon, faults_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

def pkt(s):
    b = s.encode() if isinstance(s, str) else s
    return b"%04x" % (len(b) + 4) + b

SHA = "8a5a5e1b2d3c4f5061728394a5b6c7d8e9f00112"
def flood_bytes(n=700000):
    caps = "multi_ack thin-pack side-band side-band-64k ofs-delta shallow no-progress include-tag agent=git/2.39.2"
    parts = [pkt("%s HEAD\0%s\n" % (SHA, caps))]
    parts += [pkt("%s refs/tags/v0.%d.%d\n" % (SHA, i // 1000, i % 1000)) for i in range(n)]
    parts.append(b"0000")
    return b"".join(parts)
FLOOD = flood_bytes()  # made before listening: no delay when it is sent

def faults():
    try:
        return dict(l.split() for l in open(faults_file) if l.strip())
    except OSError:
        return {}

def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass

def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            break
        b += d
    return b

def serve(c):
    # The request is one pkt-line: "git-upload-pack /NAME.git\0host=...\0..."
    head = recv_exact(c, 4)
    try:
        first = head + recv_exact(c, int(head, 16) - 4)
    except ValueError:
        first = head
    m = re.search(rb"git-upload-pack /([^\0]*?)(?:\.git)?\0", first)
    name = m.group(1).decode() if m else ""
    mode = faults().get(name)
    print("connection for %r: %s" % (name, mode or "forward"), flush=True)
    if mode == "hang":
        time.sleep(3600)
    elif mode == "hangmid":
        c.sendall(pkt("%s HEAD\0multi_ack side-band-64k ofs-delta agent=git/2.39.2\n" % SHA)
                  + pkt("%s refs/heads/main\n" % SHA)[:20])
        time.sleep(3600)
    elif mode == "flood":
        try:
            c.sendall(FLOOD)
            c.recv(65536)
        except OSError:
            pass
        c.close()
    else:
        d = socket.create_connection(("127.0.0.1", daemon))
        d.sendall(first)
        threading.Thread(target=pipe, args=(d, c), daemon=True).start()
        pipe(c, d)

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
_PIDS+=($!)
for ((i = 0; i < 150; i++)); do
  git ls-remote "git://127.0.0.1:$FRONT_PORT/plain.git" >/dev/null 2>&1 && break
  sleep 0.1
done
git ls-remote "git://127.0.0.1:$FRONT_PORT/plain.git" | grep -q refs/tags/v1.0.0 ||
  fail "the git front does not forward to the daemon"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
export MODPROXY_DATA="$T/data"
SERVE=(--upstream "$UPSTREAM_URL" --sumdb off --private github.com/corp
  --git-route "github.com/corp/*=git://127.0.0.1:$FRONT_PORT/{3}.git" --git-timeout 4)
start_modproxy "${SERVE[@]}"
EXPECT_NAMED="127.0.0.1:$FRONT_PORT"
ALIVE_ROOT="$T/tree"
ALIVE_PATHS=(/rsc.io/quote/@v/v1.5.2.info /rsc.io/quote/@v/v1.5.2.zip /rsc.io/sampler/@v/v1.3.0.mod)

git_children() { # git processes modproxy started that still run
  local pids
  pids=$(pgrep -d' ' -f "git.*127\.0\.0\.1:$FRONT_PORT/(hang|hangmid|flood)" || true)
  [[ -z $pids ]] || ps -o pid=,args= -p "${pids// /,}" 2>/dev/null || true
}

P=github.com/corp
echo "---- faults on"
t0=$SECONDS
bg_fetch hang "/$P/hang/@v/list"
bg_fetch hangmid "/$P/hangmid/@v/v1.0.0.info"
sleep 0.5
# Other private and public modules are answered while git hangs.
n0=${#FAILS[@]}
fetch "/$P/plain/@v/v1.1.0.mod"
[[ $CODE == 200 ]] || soft_fail "a private module while git hangs: $CODE $(body_text)"
alive "while git hangs"
((SECONDS - t0 < 4)) || soft_fail "other requests waited for the hanging git ($((SECONDS - t0)) s)"
other_verdict=pass
((${#FAILS[@]} == n0)) || other_verdict=fail

declare -A SAWS STORED VERDICT
n0=${#FAILS[@]}
# (Under heavy load git may not get through the flood in time: a timeout
# is a clear answer too.)
expect_error "git floods output (ls-remote)" "/$P/flood/@v/list" '502|504' \
  "output|printed|too much|too large|too many|over .*limit|timed out"
SAWS[flood]=$SAW
alive "after the flood"
[[ $(ps -o rss= -p "$MODPROXY_PID") -lt 300000 ]] || soft_fail "modproxy's RSS after the flood: $(ps -o rss= -p "$MODPROXY_PID") KiB"
((${#FAILS[@]} == n0)) || VERDICT[flood]=fail

for k in hang hangmid; do
  n0=${#FAILS[@]}
  bg_collect "$k"
  case $k in
    hang) judge_error "git host accepts and never answers" "/$P/hang/@v/list" 504 "timed out|timeout" ;;
    hangmid) judge_error "git host stops midway" "/$P/hangmid/@v/v1.0.0.info" 504 "timed out|timeout" ;;
  esac
  SAWS[$k]=$SAW
  ((${#FAILS[@]} == n0)) || VERDICT[$k]=fail
done
((SECONDS - t0 < 15)) || soft_fail "the git timeouts took $((SECONDS - t0)) s (--git-timeout 4)"
sleep 0.5
left=$(git_children)
[[ -z $left ]] || soft_fail "git processes left behind after the timeouts: $left"
for k in hang hangmid flood; do
  STORED[$k]="$(sql "SELECT count(*) FROM versions WHERE module = '$P/$k'") versions, $(sql "SELECT count(*) FROM answers WHERE module = '$P/$k'") answers"
  [[ ${STORED[$k]} == "0 versions, 0 answers" ]] || {
    soft_fail "$k: the store holds ${STORED[$k]} after the failure"
    VERDICT[$k]=fail
  }
  [[ ${STORED[$k]} == "0 versions, 0 answers" ]] && STORED[$k]=nothing
done

echo "---- faults off: the same requests get the real bytes"
: >"$T/gitfaults"
for k in hang hangmid flood; do
  n0=${#FAILS[@]}
  fetch "/$P/$k/@v/list"
  [[ $CODE == 200 && $(cat "$T/body") == v1.0.0 ]] || soft_fail "$k: list after the fault: $CODE $(body_text)"
  expect_bytes "$k: go.mod after the fault" "/$P/$k/@v/v1.0.0.mod" "$T/work/$k/go.mod"
  fetch "/$P/$k/@v/v1.0.0.zip"
  cp "$T/body" "$T/$k.zip"
  ref_and_proxy "$P/$k" v1.0.0 # the go command: direct vs modproxy hashes
  ((${#FAILS[@]} == n0)) || VERDICT[$k]=fail
done
check_store "after the git faults"

echo "---- restart: answered from the store"
stop_modproxy
start_modproxy "${SERVE[@]}"
for k in hang hangmid flood; do
  n0=${#FAILS[@]}
  expect_bytes "$k: zip after restart" "/$P/$k/@v/v1.0.0.zip" "$T/$k.zip"
  expect_bytes "$k: go.mod after restart" "/$P/$k/@v/v1.0.0.mod" "$T/work/$k/go.mod"
  ((${#FAILS[@]} == n0)) || VERDICT[$k]=fail
done
check_store "after the restart"
stop_modproxy

result "git host accepts and never answers (ls-remote)" "${SAWS[hang]}" "${STORED[hang]}" "${VERDICT[hang]:-pass}"
result "git host sends half a ref advertisement, then hangs" "${SAWS[hangmid]}" "${STORED[hangmid]}" "${VERDICT[hangmid]:-pass}"
result "git host floods output (700k refs, ~45 MB from ls-remote)" "${SAWS[flood]}" "${STORED[flood]}" "${VERDICT[flood]:-pass}"
result "other modules while git hangs" "200 at once (private via git, public via upstream)" "-" "$other_verdict"
finish git_faults
