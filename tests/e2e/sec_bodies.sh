#!/usr/bin/env bash
# sec_bodies.sh: request bodies cannot stall or exhaust modproxy (issue 14,
# items 2, 7 and 9), against the loopback upstream, with curl and python3
# as clients:
#   - hostile multipart bodies for /diag/modfile (the `--b\n\nx` pattern a
#     quadratic parser took 52 s on) are refused while /healthz and a cached
#     .info keep answering within a small bound;
#   - many connections holding unfinished 4 MiB bodies: modproxy's resident
#     memory stays under the body cap plus a margin, a further body gets 503
#     before it is sent, and its memory comes back when those requests end;
#   - a body is read only once access is decided: 401 (--auth-required all)
#     and 405 (a route that takes none) come back without the body sent;
#   - an analysis whose client leaves stops fetching (the upstream's request
#     log stops growing) and frees its slot; one analysis fetches from at
#     most DIAG_ANALYSIS_MAX_MODULES modules and its report says so.
source "$(dirname "$0")/lib.sh"

# The limits under test (proxy/server.h, include/modproxy/diag.h).
BODIES_MIB=64      # PROXY_MAX_BODIES_BYTES
MAX_MODULES=1000   # DIAG_ANALYSIS_MAX_MODULES

cat >"$T/client.py" <<'EOF'
# Raw HTTP clients for what curl cannot do: send a head and hold the body.
import os, selectors, socket, sys, time

def connect(port):
    s = socket.create_connection(('127.0.0.1', int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def head(path, length, extra=''):
    return ('POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n'
            'Content-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n'
            % (path, length, extra)).encode()

def answer(s, wait):
    """Status, Content-Type and body text of a response, or 'none'."""
    s.settimeout(wait)
    data = b''
    try:
        while b'\r\n\r\n' not in data or len(data.split(b'\r\n\r\n', 1)[1]) < clen(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionError):
        pass
    if not data.startswith(b'HTTP/1.1 '):
        return 'none'
    hdr, _, body = data.partition(b'\r\n\r\n')
    ctype = [l.split(b':', 1)[1].strip() for l in hdr.split(b'\r\n')
             if l.lower().startswith(b'content-type:')]
    return '%s|%s|%s' % (hdr.split()[1].decode(), (ctype or [b''])[0].decode(),
                         body.decode(errors='replace').replace('\n', ' '))

def clen(data):
    for l in data.split(b'\r\n\r\n', 1)[0].split(b'\r\n'):
        if l.lower().startswith(b'content-length:'):
            return int(l.split(b':', 1)[1])
    return 1 << 30

cmd, port = sys.argv[1], sys.argv[2]
if cmd == 'head':
    # head PORT PATH LENGTH [HEADER]: sends only the head of a POST with a
    # body of LENGTH bytes; prints the answer and the seconds it took.
    s = connect(port)
    t0 = time.monotonic()
    s.sendall(head(sys.argv[3], int(sys.argv[4]),
                   sys.argv[5] + '\r\n' if len(sys.argv) > 5 else ''))
    a = answer(s, 5)
    print('%s|%.3f' % (a, time.monotonic() - t0))
elif cmd == 'hold':
    # hold PORT N SECONDS READY: N connections each send the head of a POST
    # /diag/modfile of 4 MiB and all of it but the last byte, then hold.
    # Writes READY ("sent refused") once every connection has sent all or
    # was closed by the server, then holds until SECONDS have passed.
    n, secs, ready = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    size = 4 << 20
    sel = selectors.DefaultSelector()
    left, held = {}, []  # held: closed only when this process ends
    for _ in range(n):
        s = connect(port)
        held.append(s)
        s.setblocking(False)
        left[s] = memoryview(head('/diag/modfile', size) + b'#' * (size - 1))
        sel.register(s, selectors.EVENT_WRITE)
    sent = refused = 0
    deadline = time.monotonic() + secs
    while left and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            try:
                k = s.send(left[s][:1 << 18])
                left[s] = left[s][k:]
                done = len(left[s]) == 0
            except OSError:
                refused += 1
                done = True
            else:
                sent += done
            if done:
                sel.unregister(s)
                del left[s]
    with open(ready + '.tmp', 'w') as f:
        f.write('%d %d\n' % (sent, refused))
    os.rename(ready + '.tmp', ready)
    time.sleep(max(0, deadline - time.monotonic()))
EOF
client() { python3 "$T/client.py" "$@"; }
port_of() { echo "${1##*:}"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# ms URL: the time a GET takes, in milliseconds (10000 when it fails).
ms() {
  local t
  t=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{time_total}' "$1") || t="000 10"
  [[ $t == 200\ * ]] || t="000 10"
  awk '{printf "%d\n", $2 * 1000}' <<<"$t"
}
# max_ms URL SECONDS: the slowest of the GETs made over SECONDS.
max_ms() {
  local end=$((SECONDS + $2)) worst=0 t
  while ((SECONDS < end)); do
    t=$(ms "$1")
    ((t > worst)) && worst=$t
    sleep 0.05
  done
  echo "$worst"
}

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL"
PORT=$(port_of "$PROXY_URL")
INFO="$PROXY_URL/rsc.io/quote/@v/v1.5.2.info"
curl -fsS -o /dev/null "$INFO" # cached from now on

# ---- (a) hostile multipart bodies never stall other requests -----------------
python3 - "$T/hostile" <<'EOF'
import sys
unit = b'--b\n\nx'
body = unit * ((512 << 10) // len(unit))
open(sys.argv[1], 'wb').write(body)
EOF
before_h=$(max_ms "$PROXY_URL/healthz" 1)
before_i=$(max_ms "$INFO" 1)
# Four hostile POSTs, two at a time, and the measurements while they run.
for _ in 1 2; do
  posts=()
  for k in 1 2; do
    curl -s -o "$T/hostile.out$k" -m 30 -w '%{http_code}' \
      -H 'Content-Type: multipart/form-data; boundary=b' \
      --data-binary @"$T/hostile" "$PROXY_URL/diag/modfile" >"$T/hostile.code$k" &
    posts+=($!)
  done
  during_h=$(max_ms "$PROXY_URL/healthz" 1)
  during_i=$(max_ms "$INFO" 1)
  echo "healthz: ${before_h} ms before, ${during_h} ms with hostile forms in flight"
  echo ".info (cached): ${before_i} ms before, ${during_i} ms with hostile forms in flight"
  ((during_h < 1500)) || fail "/healthz took ${during_h} ms while a hostile form was parsed"
  ((during_i < 1500)) || fail "a cached .info took ${during_i} ms while a hostile form was parsed"
  wait "${posts[@]}"
  for k in 1 2; do
    assert_eq "$(cat "$T/hostile.code$k")" 400 "hostile form: status"
    assert_contains "$(cat "$T/hostile.out$k")" "not multipart/form-data" "hostile form: answer"
  done
done

# ---- (b) unfinished bodies: a global cap, 503 past it ------------------------
rss0=$(rss_kib "$MODPROXY_PID")
python3 "$T/client.py" hold "$PORT" 60 19 "$T/held" &
HOLD=$!
for ((i = 0; i < 150; i++)); do
  [[ -s $T/held ]] && break
  sleep 0.1
done
[[ -s $T/held ]] || fail "60 clients could not send their bodies within 15 s"
rss1=$(rss_kib "$MODPROXY_PID")
read -r sent refused <"$T/held"
echo "bodies held: $sent sent all but their last byte, $refused refused; RSS ${rss0} KiB -> ${rss1} KiB"
limit=$(((BODIES_MIB + 32) * 1024))
(((rss1 - rss0) < limit)) ||
  fail "resident memory grew by $((rss1 - rss0)) KiB with 60 unfinished bodies (cap ${BODIES_MIB} MiB)"
# A further body: 503, text/plain, before any of it is sent.
got=$(client head "$PORT" /diag/modfile $((1 << 20)))
echo "a further body: $got"
[[ $got == 503\|text/plain*\|*request\ bodies* ]] || fail "a body past the cap: $got"
# A body to a route that takes none: refused before it is sent.
got=$(client head "$PORT" /healthz 1000)
[[ $got == 405\|text/plain* ]] || fail "a body for /healthz: $got"
got=$(client head "$PORT" /rsc.io/quote/@v/list 1000)
[[ $got == 405\|text/plain* ]] || fail "a body for a GOPROXY route: $got"
kill "$HOLD" 2>/dev/null || true # its hold may be over already
wait "$HOLD" 2>/dev/null || true
# Those requests ended: their memory is back for new bodies.
sleep 1
printf 'module example.com/big\n\ngo 1.19\n' >"$T/big.mod"
head -c $((3 << 20)) /dev/zero | tr '\0' '\n' >>"$T/big.mod"
code=$(curl -s -o "$T/big.out" -w '%{http_code}' -H 'Content-Type: text/plain' \
  --data-binary @"$T/big.mod" "$PROXY_URL/diag/modfile")
assert_eq "$code" 200 "a 3 MiB go.mod once the held bodies are gone: $(head -c 300 "$T/big.out")"

# ---- (b) access is decided before the body is read ---------------------------
echo 's3cret-pass' | "$TEST_MODPROXY_BIN" auth user alice >"$T/auth"
stop_modproxy
start_modproxy --upstream "$UPSTREAM_URL" --auth-file "$T/auth" --auth-required all
got=$(client head "$(port_of "$PROXY_URL")" /diag/modfile $(((4 << 20) - 1)))
echo "anonymous body with --auth-required all: $got"
[[ $got == 401\|text/plain* ]] || fail "an anonymous body was not refused before it was sent: $got"
stop_modproxy

# ---- (c) an analysis stops with its client, and fetches a bounded number ----
# 3,000 requirements no upstream knows: each costs the upstream requests.
python3 - "$T/many.mod" 3000 <<'EOF'
import sys
with open(sys.argv[1], 'w') as f:
    f.write('module example.com/many\n\ngo 1.19\n\nrequire (\n')
    for i in range(int(sys.argv[2])):
        f.write('\texample.com/unknown/m%04d v1.0.0\n' % i)
    f.write(')\n')
EOF
start_upstream "$T/tree" -delay 20ms
SLOW_LOG=$UPSTREAM_LOG
start_modproxy --upstream "$UPSTREAM_URL"
posts=()
for k in 1 2; do # both analysis slots; the clients give up after 2 s
  curl -s -o /dev/null -m 2 --data-binary @"$T/many.mod" \
    -H 'Content-Type: text/plain' "$PROXY_URL/diag/modfile" &
  posts+=($!)
done
wait "${posts[@]}" || true
sleep 1.5
n1=$(wc -l <"$SLOW_LOG")
sleep 3
n2=$(wc -l <"$SLOW_LOG")
echo "upstream requests after the clients left: $n1, 3 s later: $n2"
((n1 > 0)) || fail "the analyses fetched nothing before their clients left"
assert_eq "$n2" "$n1" "upstream requests after the analyses' clients left"
printf 'module example.com/small\n\ngo 1.19\n' >"$T/small.mod"
code=$(curl -s -o "$T/small.out" -m 10 -w '%{http_code}' --data-binary @"$T/small.mod" \
  -H 'Content-Type: text/plain' "$PROXY_URL/diag/modfile")
assert_eq "$code" 200 "an analysis after two cancelled ones: $(cat "$T/small.out")"
stop_modproxy

start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL"
curl -fsS -m 300 -o "$T/many.json" --data-binary @"$T/many.mod" \
  -H 'Content-Type: text/plain' "$PROXY_URL/diag/modfile?format=json"
modules=$(sed -n 's,^/\(example.com/unknown/m[0-9]*\)/.*,\1,p' "$UPSTREAM_LOG" | sort -u | wc -l)
echo "one analysis of 3,000 unknown modules: the upstream was asked about $modules"
((modules > 0 && modules <= MAX_MODULES)) ||
  fail "one analysis fetched from $modules modules (limit $MAX_MODULES)"
python3 - "$T/many.json" "$MAX_MODULES" <<'EOF' || fail "the report does not say what was left out"
import json, sys
r = json.load(open(sys.argv[1]))
inc = [f for f in r.get('findings') or [] if f.get('kind') == 'incomplete']
assert inc, 'no "incomplete" finding'
msg = inc[0]['message']
print(msg)
assert 'at most %s modules' % sys.argv[2] in msg and '2000 more modules' in msg, msg
EOF
echo "PASS sec_bodies"
