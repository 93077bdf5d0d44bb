#!/usr/bin/env bash
# core_http.sh: HTTP/1.1 behaviour of modproxy, with curl and with raw bytes
# on one TCP connection (python3): keep-alive, pipelining, HEAD, refusals
# (405/414/431/400), conditional and range requests, caching headers, the
# shape of every error answer, invalid GOPROXY paths, and graceful SIGTERM
# while a slow request is in flight.
#
# Independent checks do not stop at the first failure: every failed `check`
# is reported and the test fails at the end.
source "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 is needed for the raw HTTP checks"

make_corpus_tree "$T/tree"
# A module with a zip of several MiB.
python3 - "$T/tree" example.com/big $((3 * 1024 * 1024 + 4321)) <<'PY'
import json, os, sys, zipfile
tree, mod, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = os.path.join(tree, mod, "@v")
os.makedirs(d, exist_ok=True)
open(os.path.join(d, "list"), "w").write("v1.0.0\n")
open(os.path.join(d, "v1.0.0.info"), "w").write(json.dumps({"Version": "v1.0.0", "Time": "2020-01-02T03:04:05Z"}))
open(os.path.join(d, "v1.0.0.mod"), "w").write(f"module {mod}\n")
with zipfile.ZipFile(os.path.join(d, "v1.0.0.zip"), "w", zipfile.ZIP_STORED) as z:
    z.writestr(f"{mod}@v1.0.0/go.mod", f"module {mod}\n")
    z.writestr(f"{mod}@v1.0.0/data.bin", os.urandom(size))
PY
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL"
PORT=${PROXY_URL##*:}

FAILS=()
check() { # description command...: records a failure instead of exiting
  local d=$1
  shift
  if ! "$@"; then
    echo "CHECK FAILED: $d" >&2
    FAILS+=("$d")
  fi
}
eq() { # actual expected
  [[ $1 == "$2" ]] || {
    echo "  got '$1', want '$2'" >&2
    return 1
  }
}
has() { # haystack needle
  [[ $1 == *"$2"* ]] || {
    echo "  '$2' not in: $1" >&2
    return 1
  }
}

# ---- helpers -------------------------------------------------------------

# raw.py PORT OUTDIR [--at-once] REQFILE...: sends each request file over ONE
# connection (one by one, reading each response before sending the next; or
# all in a single write with --at-once), parses the responses (HEAD ones have
# no body) and writes OUTDIR/N.status, N.headers (lower-case names), N.body,
# and OUTDIR/conn = "closed" or "open" (whether the server closed the
# connection within 1 s after the last response).
cat >"$T/raw.py" <<'PY'
import os, socket, sys, time

def read_response(sock, buf, head_only):
    def fill():
        d = sock.recv(65536)
        if not d:
            raise EOFError
        return d
    while b"\r\n\r\n" not in buf:
        buf += fill()
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0]
    headers = []
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers.append((k.strip().lower(), v.strip()))
    h = dict(headers)
    code = int(status.split()[1])
    n = 0
    if not head_only and code not in (204, 304) and not (100 <= code < 200):
        if "content-length" in h:
            n = int(h["content-length"])
        elif h.get("transfer-encoding"):
            raise SystemExit("chunked responses not expected")
        else:  # read to EOF
            try:
                while True:
                    buf += fill()
            except EOFError:
                pass
            n = len(buf)
    while len(buf) < n:
        buf += fill()
    return status, headers, buf[:n], buf[n:]

def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    args = sys.argv[3:]
    at_once = args and args[0] == "--at-once"
    if at_once:
        args = args[1:]
    reqs = [open(a, "rb").read() for a in args]
    os.makedirs(out, exist_ok=True)
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    buf = b""
    if at_once:
        s.sendall(b"".join(reqs))
    for i, r in enumerate(reqs):
        if not at_once:
            s.sendall(r)
        try:
            status, headers, body, buf = read_response(s, buf, r.startswith(b"HEAD "))
        except EOFError:
            open(f"{out}/{i}.status", "w").write("EOF\n")
            break
        open(f"{out}/{i}.status", "w").write(status + "\n")
        open(f"{out}/{i}.headers", "w").write("".join(f"{k}: {v}\n" for k, v in headers))
        open(f"{out}/{i}.body", "wb").write(body)
    s.settimeout(1)
    state = "open"
    try:
        d = buf or s.recv(65536)
        state = "closed" if not d else "extra:" + repr(d[:200])
    except socket.timeout:
        pass
    except ConnectionResetError:
        state = "closed"
    open(f"{out}/conn", "w").write(state + "\n")

main()
PY

# req METHOD TARGET [EXTRA_HEADER_LINES...]: writes a request file, prints its name
req() {
  local m=$1 t=$2 f
  shift 2
  f=$(mktemp "$T/req.XXXXXX")
  {
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n' "$m" "$t" "$PORT"
    local h
    for h in "$@"; do printf '%s\r\n' "$h"; done
    printf '\r\n'
  } >"$f"
  echo "$f"
}
NRAW=0
raw() { # [--at-once] REQFILE...: sets R to the output dir
  NRAW=$((NRAW + 1))
  R="$T/raw.$NRAW"
  python3 "$T/raw.py" "$PORT" "$R" "$@" || echo "raw.py failed (status $?)" >&2
  [[ -f $R/conn ]] || echo "no answer" >"$R/conn"
}
status_of() { cut -d' ' -f2 "$R/$1.status" 2>/dev/null || echo missing; } # N
hdr_of() { sed -n "s/^$2: //p" "$R/$1.headers" 2>/dev/null || true; }        # N NAME (lower case)

# curl_get PATH [curl args...]: sets CODE; body $T/body, headers $T/hdrs
curl_get() {
  local p=$1
  shift
  rm -f "$T/body" "$T/hdrs"
  CODE=$(curl -s -D "$T/hdrs" -o "$T/body" -w '%{http_code}' --max-time 30 "$@" "$PROXY_URL$p")
  if ((CODE >= 400)); then error_shape "$CODE $p" "$T/hdrs" "$T/body"; fi
}
hdr() { { grep -i "^$1:" "$T/hdrs" || true; } | head -n1 | cut -d: -f2- | sed 's/^ //' | tr -d '\r'; }

# error_shape WHAT HEADERS BODY: the go command shows error bodies only when
# they are text/plain; charset=utf-8 (or no charset), <= 8 lines, <= 648
# bytes, printable, first line non-blank (GOPROXY-PROTOCOL.md section 3).
error_shape() {
  local what=$1 h=$2 b=$3 ct lines bytes
  if [[ ! -f $h || ! -f $b ]]; then
    check "$what: an error response was received" false
    return 0
  fi
  ct=$(grep -i '^content-type:' "$h" | head -n1 | cut -d: -f2- | sed 's/^ //' | tr -d '\r')
  check "$what: error Content-Type" eq "$ct" "text/plain; charset=utf-8"
  lines=$(wc -l <"$b") bytes=$(wc -c <"$b")
  check "$what: error body <= 8 lines ($lines)" test "$lines" -le 8
  check "$what: error body <= 648 bytes ($bytes)" test "$bytes" -le 648
  check "$what: error body not empty" test "$bytes" -gt 0
  check "$what: no blank line in the error body" bash -c '! grep -q "^[[:space:]]*$" "$1"' _ "$b"
  check "$what: error body is printable" bash -c '! LC_ALL=C grep -q "[^[:print:][:space:]]" "$1"' _ "$b"
}

ZIP=/rsc.io/quote/@v/v1.5.2.zip
INFO=/rsc.io/quote/@v/v1.5.2.info
MOD=/rsc.io/quote/@v/v1.5.2.mod
LIST=/rsc.io/quote/@v/list
ZIPSIZE=$(wc -c <"$T/tree$ZIP")

# ---- keep-alive: two requests, one connection ----------------------------
raw "$(req GET "$INFO")" "$(req GET "$MOD")"
check "keep-alive: 1st status" eq "$(status_of 0)" 200
check "keep-alive: 2nd status" eq "$(status_of 1)" 200
check "keep-alive: 1st body" cmp -s "$R/0.body" "$T/tree$INFO"
check "keep-alive: 2nd body" cmp -s "$R/1.body" "$T/tree$MOD"
check "keep-alive: connection stays open" eq "$(cat "$R/conn")" open

# Connection: close and HTTP/1.0 are honoured.
printf 'GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' "$INFO" >"$T/close.req"
raw "$T/close.req"
check "Connection: close: status" eq "$(status_of 0)" 200
check "Connection: close: closed after the response" eq "$(cat "$R/conn")" closed
printf 'GET %s HTTP/1.0\r\n\r\n' "$INFO" >"$T/http10.req"
raw "$T/http10.req"
check "HTTP/1.0: status" eq "$(status_of 0)" 200
check "HTTP/1.0: body" cmp -s "$R/0.body" "$T/tree$INFO"
check "HTTP/1.0: closed after the response" eq "$(cat "$R/conn")" closed

# ---- pipelining: three requests in one write, answers in order -----------
# The first needs an upstream fetch (uncached), the second is cached, the
# third is a not-found: a server answering when ready would reorder them.
raw --at-once "$(req GET /rsc.io/sampler/@v/v1.3.0.zip)" "$(req GET "$INFO")" \
  "$(req GET /rsc.io/quote/@v/v1.99.0.info)" "$(req GET "$MOD")"
check "pipelining: 1st status" eq "$(status_of 0)" 200
check "pipelining: 1st body (zip)" cmp -s "$R/0.body" "$T/tree/rsc.io/sampler/@v/v1.3.0.zip"
check "pipelining: 2nd status" eq "$(status_of 1)" 200
check "pipelining: 2nd body (info)" cmp -s "$R/1.body" "$T/tree$INFO"
check "pipelining: 3rd status" eq "$(status_of 2)" 404
check "pipelining: 3rd body names the version" has "$(cat "$R/2.body" 2>/dev/null)" "v1.99.0"
check "pipelining: 4th (after a 404) status" eq "$(status_of 3)" 200
check "pipelining: 4th body (mod)" cmp -s "$R/3.body" "$T/tree$MOD"
check "pipelining: connection open" eq "$(cat "$R/conn")" open

# 60 pipelined requests in one write (more than one read buffer's worth of
# small requests), alternating bodies so that any reordering shows.
files=()
for i in $(seq 1 30); do files+=("$(req GET "$INFO" "X-N: $i")" "$(req GET "$LIST" "X-N: $i")"); done
raw --at-once "${files[@]}"
ok=1
for i in $(seq 0 59); do
  want=$INFO
  ((i % 2 == 1)) && want=$LIST
  if ! cmp -s "$R/$i.body" "$T/tree$want" 2>/dev/null; then
    ok=0
    echo "  response $i: $(cat "$R/$i.status" 2>/dev/null || echo missing)" >&2
    break
  fi
done
check "60 pipelined requests: 60 answers in order" test "$ok" = 1

# The same requests trickled a few bytes at a time.
cat "$(req GET "$INFO")" "$(req GET "$MOD")" >"$T/trickle.req"
python3 - "$PORT" "$T/trickle.req" "$T/trickle.out" <<'PY'
import socket, sys, time
data = open(sys.argv[2], "rb").read()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
for i in range(0, len(data), 7):
    s.sendall(data[i:i + 7])
    time.sleep(0.005)
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
open(sys.argv[3], "wb").write(out)
PY
check "trickled requests: two 200s" eq "$(grep -ac '^HTTP/1.1 200' "$T/trickle.out")" 2
check "trickled requests: the .mod body last" bash -c 'tail -c "$(wc -c <"$2")" "$1" | cmp -s - "$2"' _ "$T/trickle.out" "$T/tree$MOD"

# ---- HEAD: same headers as GET, no body ----------------------------------
for p in "$ZIP" "$INFO" "$LIST"; do
  raw --at-once "$(req HEAD "$p")" "$(req GET "$p")"
  check "HEAD $p: status" eq "$(status_of 0)" 200
  check "HEAD $p: no body (next response parsed fine)" eq "$(status_of 1)" 200
  check "HEAD $p: empty body" test ! -s "$R/0.body"
  check "HEAD $p: Content-Length equals GET's" eq "$(hdr_of 0 content-length)" "$(hdr_of 1 content-length)"
  check "HEAD $p: Content-Length is the size" eq "$(hdr_of 1 content-length)" "$(wc -c <"$T/tree$p")"
  check "HEAD $p: Content-Type equals GET's" eq "$(hdr_of 0 content-type)" "$(hdr_of 1 content-type)"
  check "HEAD $p: ETag equals GET's" eq "$(hdr_of 0 etag)" "$(hdr_of 1 etag)"
done
# HEAD of an uncached zip (fetched for the HEAD): the size, no body; the
# ETag stays the same once cached.
U=/rsc.io/sampler/@v/v1.99.99.zip
raw --at-once "$(req HEAD "$U")" "$(req GET "$U")" "$(req GET "$U")"
check "HEAD uncached zip: status" eq "$(status_of 0)" 200
check "HEAD uncached zip: Content-Length" eq "$(hdr_of 0 content-length)" "$(wc -c <"$T/tree$U")"
check "HEAD uncached zip: no body (the next GET's body is intact)" cmp -s "$R/1.body" "$T/tree$U"
check "ETag of the fetching response = ETag once cached" eq "$(hdr_of 0 etag)" "$(hdr_of 2 etag)"
# HEAD of a not-found: 404, no body.
raw --at-once "$(req HEAD /rsc.io/quote/@v/v1.98.0.info)" "$(req GET "$MOD")"
check "HEAD 404: status" eq "$(status_of 0)" 404
check "HEAD 404: no body" eq "$(status_of 1)" 200

# ---- refusals --------------------------------------------------------------
curl_get "$INFO" -X POST -d 'x=1'
check "POST: 405" eq "$CODE" 405
check "POST 405: Allow header lists GET and HEAD (RFC 9110 15.5.6 MUST)" \
  has "$(hdr Allow)" "GET"
check "POST 405: the body says what is allowed" has "$(cat "$T/body")" "GET"
raw "$(req DELETE "$INFO")"
check "DELETE: 405" eq "$(status_of 0)" 405
error_shape "DELETE 405" "$R/0.headers" "$R/0.body"

long="/example.com/$(head -c 5000 /dev/zero | tr '\0' a)/@v/list"
curl_get "$long"
check "5000-byte URL: 414" eq "$CODE" 414
check "414: the body gives the reason" has "$(cat "$T/body")" "too long"
raw "$(req GET "$long")"
check "5000-byte URL (raw): 414" eq "$(status_of 0)" 414

big="X-Big: $(head -c 20000 /dev/zero | tr '\0' b)"
raw "$(req GET "$INFO" "$big")"
check "20 kB header: 431" eq "$(status_of 0)" 431
check "431: the body gives the reason" has "$(cat "$R/0.body")" "too large"
error_shape "431" "$R/0.headers" "$R/0.body"
many=()
for i in $(seq 1 200); do many+=("X-H$i: v"); done
raw "$(req GET "$INFO" "${many[@]}")"
check "200 headers: 431" eq "$(status_of 0)" 431

printf 'GARBAGE\r\n\r\n' >"$T/garbage.req"
raw "$T/garbage.req"
check "garbage: 400" eq "$(status_of 0)" 400
check "garbage: connection closed" eq "$(cat "$R/conn")" closed
error_shape "garbage 400" "$R/0.headers" "$R/0.body"
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n' >"$T/tls.req"
raw "$T/tls.req"
check "TLS hello on the plain port: 400" eq "$(status_of 0)" 400
# A body on GET is refused (request smuggling), connection closed.
printf 'GET %s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' "$INFO" >"$T/getbody.req"
raw "$T/getbody.req"
check "GET with a body: 400" eq "$(status_of 0)" 400
check "GET with a body: closed" eq "$(cat "$R/conn")" closed
check "GET with a body: the body gives the reason" has "$(cat "$R/0.body")" "body"

# ---- conditional requests -------------------------------------------------
for p in "$ZIP" "$INFO" "$MOD" "$LIST"; do
  curl_get "$p"
  etag=$(hdr ETag)
  check "ETag on $p" test -n "$etag"
  curl_get "$p" -H "If-None-Match: $etag"
  check "If-None-Match $p: 304" eq "$CODE" 304
  check "If-None-Match $p: no body" test ! -s "$T/body"
  check "If-None-Match $p: ETag repeated" eq "$(hdr ETag)" "$etag"
  cl=$(hdr Content-Length)
  # RFC 9110 8.6: a 304 MUST NOT carry a Content-Length other than the
  # 200 response's length.
  check "304 $p: Content-Length absent or the full size (got '$cl')" \
    bash -c '[[ -z $1 || $1 == "$2" ]]' _ "$cl" "$(wc -c <"$T/tree$p")"
  curl_get "$p" -H 'If-None-Match: "0000", W/"1111"'
  check "If-None-Match other tags $p: 200" eq "$CODE" 200
  check "If-None-Match other tags $p: body" cmp -s "$T/body" "$T/tree$p"
  curl_get "$p" -H "If-None-Match: \"zz\", W/$etag"
  check "If-None-Match weak match in a list $p: 304" eq "$CODE" 304
done

# ---- ranges on a zip --------------------------------------------------------
curl_get "$ZIP"
zetag=$(hdr ETag)
check "zip: Accept-Ranges" eq "$(hdr Accept-Ranges)" bytes
curl_get "$ZIP" -H 'Range: bytes=10-99'
check "Range 10-99: 206" eq "$CODE" 206
check "Range 10-99: Content-Range" eq "$(hdr Content-Range)" "bytes 10-99/$ZIPSIZE"
check "Range 10-99: Content-Length" eq "$(hdr Content-Length)" 90
check "Range 10-99: bytes" cmp -s "$T/body" <(tail -c +11 "$T/tree$ZIP" | head -c 90)
curl_get "$ZIP" -H 'Range: bytes=-100'
check "Range -100: 206" eq "$CODE" 206
check "Range -100: Content-Range" eq "$(hdr Content-Range)" "bytes $((ZIPSIZE - 100))-$((ZIPSIZE - 1))/$ZIPSIZE"
check "Range -100: bytes" cmp -s "$T/body" <(tail -c 100 "$T/tree$ZIP")
curl_get "$ZIP" -H 'Range: bytes=1000-'
check "Range 1000-: 206" eq "$CODE" 206
check "Range 1000-: Content-Range" eq "$(hdr Content-Range)" "bytes 1000-$((ZIPSIZE - 1))/$ZIPSIZE"
check "Range 1000-: bytes" cmp -s "$T/body" <(tail -c +1001 "$T/tree$ZIP")
curl_get "$ZIP" -H "Range: bytes=0-$((ZIPSIZE + 5000))"
check "Range past the end: 206" eq "$CODE" 206
check "Range past the end: whole file" cmp -s "$T/body" "$T/tree$ZIP"
curl_get "$ZIP" -H "Range: bytes=$ZIPSIZE-"
check "Range from the size: 416" eq "$CODE" 416
# RFC 9110 15.5.17: a 416 to a byte range request SHOULD say the size.
check "416: Content-Range bytes */SIZE" eq "$(hdr Content-Range)" "bytes */$ZIPSIZE"
curl_get "$ZIP" -H 'Range: bytes=-0'
check "Range -0: 416" eq "$CODE" 416
# The last byte at the file's last byte, and one past it: the same 206.
for last in $((ZIPSIZE - 1)) "$ZIPSIZE"; do
  curl_get "$ZIP" -H "Range: bytes=1-$last"
  check "Range 1-$last: 206" eq "$CODE" 206
  check "Range 1-$last: Content-Range" eq "$(hdr Content-Range)" "bytes 1-$((ZIPSIZE - 1))/$ZIPSIZE"
  check "Range 1-$last: Content-Length" eq "$(hdr Content-Length)" $((ZIPSIZE - 1))
  check "Range 1-$last: bytes" cmp -s "$T/body" <(tail -c +2 "$T/tree$ZIP")
done
# A malformed range is ignored (RFC 9110 14.2): 200 and the whole file.
for bad in 'bytes=--5' 'bytes=-+5' 'bytes=0--5' 'bytes=+1-5'; do
  curl_get "$ZIP" -H "Range: $bad"
  check "Range $bad: 200" eq "$CODE" 200
  check "Range $bad: no Content-Range" eq "$(hdr Content-Range)" ""
  check "Range $bad: whole file" cmp -s "$T/body" "$T/tree$ZIP"
done
curl_get "$ZIP" -H 'Range: bytes=5-10' -H "If-Range: $zetag"
check "If-Range matching: 206" eq "$CODE" 206
check "If-Range matching: bytes" cmp -s "$T/body" <(tail -c +6 "$T/tree$ZIP" | head -c 6)
curl_get "$ZIP" -H 'Range: bytes=5-10' -H 'If-Range: "not-the-etag"'
check "If-Range wrong ETag: 200" eq "$CODE" 200
check "If-Range wrong ETag: whole file" cmp -s "$T/body" "$T/tree$ZIP"
check "If-Range wrong ETag: no Content-Range" eq "$(hdr Content-Range)" ""
curl_get "$ZIP" -H 'Range: bytes=5-10' -H 'If-Range: Wed, 21 Oct 2015 07:28:00 GMT'
check "If-Range with a date: 200 whole" eq "$CODE" 200
# A range on a zip that is fetched by this very request.
curl_get /rsc.io/sampler/@v/v1.2.0.zip -H 'Range: bytes=3-7'
check "Range on an uncached zip: 206" eq "$CODE" 206
check "Range on an uncached zip: bytes" cmp -s "$T/body" <(tail -c +4 "$T/tree/rsc.io/sampler/@v/v1.2.0.zip" | head -c 5)
# Pipelined range + whole, the range must not disturb the next response.
raw --at-once "$(req GET "$ZIP" 'Range: bytes=0-9')" "$(req GET "$ZIP")"
check "pipelined range: 206" eq "$(status_of 0)" 206
check "pipelined range: 10 bytes" eq "$(wc -c <"$R/0.body")" 10
check "pipelined whole after range" cmp -s "$R/1.body" "$T/tree$ZIP"

# Ranges on a zip of several MiB (streamed from the store in chunks).
BIG=/example.com/big/@v/v1.0.0.zip
BIGSIZE=$(wc -c <"$T/tree$BIG")
curl_get "$BIG"
check "big zip: 200" eq "$CODE" 200
check "big zip: bytes" cmp -s "$T/body" "$T/tree$BIG"
for r in 0-0 1-524288 524287-1572865 1000000-2500000 "$((BIGSIZE - 3))-"; do
  a=${r%-*} b=${r#*-}
  [[ -n $b ]] || b=$((BIGSIZE - 1))
  curl_get "$BIG" -H "Range: bytes=$r"
  check "big zip range $r: 206" eq "$CODE" 206
  check "big zip range $r: Content-Range" eq "$(hdr Content-Range)" "bytes $a-$b/$BIGSIZE"
  check "big zip range $r: bytes" cmp -s "$T/body" <(tail -c +$((a + 1)) "$T/tree$BIG" | head -c $((b - a + 1)))
done
raw --at-once "$(req HEAD "$BIG")" "$(req GET "$BIG" 'Range: bytes=2000000-2000099')" "$(req GET "$INFO")"
check "big zip HEAD: Content-Length" eq "$(hdr_of 0 content-length)" "$BIGSIZE"
check "big zip pipelined range: 206" eq "$(status_of 1)" 206
check "big zip pipelined range: bytes" cmp -s "$R/1.body" <(tail -c +2000001 "$T/tree$BIG" | head -c 100)
check "big zip pipelined range: next response" cmp -s "$R/2.body" "$T/tree$INFO"

# ---- caching headers -------------------------------------------------------
for p in "$ZIP" "$INFO" "$MOD" /rsc.io/QUOTE/@v/v1.5.3-PRE.info; do
  curl_get "$(printf '%s' "$p" | sed 's/QUOTE/!q!u!o!t!e/; s/PRE/!p!r!e/')"
  check "$p: 200" eq "$CODE" 200
  cc=$(hdr Cache-Control)
  check "$p: Cache-Control immutable" has "$cc" immutable
  check "$p: Cache-Control long max-age" bash -c '[[ $1 =~ max-age=([0-9]+) ]] && ((BASH_REMATCH[1] >= 86400))' _ "$cc"
done
for p in "$LIST" /rsc.io/quote/@latest; do
  curl_get "$p"
  check "$p: 200" eq "$CODE" 200
  cc=$(hdr Cache-Control)
  check "$p: no immutable" bash -c '[[ $1 != *immutable* ]]' _ "$cc"
  check "$p: short max-age (1..3600) in '$cc'" bash -c '[[ $1 =~ max-age=([0-9]+) ]] && ((BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 3600))' _ "$cc"
done
curl_get "$INFO"
check ".info Content-Type" eq "$(hdr Content-Type)" application/json
curl_get "$ZIP"
check ".zip Content-Type" eq "$(hdr Content-Type)" application/zip

# ---- invalid GOPROXY paths: 400/404 with a reason, never forwarded --------
before=$(wc -l <"$UPSTREAM_LOG")
bad_path() { # PATH NEEDLE: 400 or 404 whose body contains NEEDLE
  local p=$1 needle=$2
  curl_get "$p" --path-as-is
  check "$p: 400 or 404 (got $CODE)" bash -c '[[ $1 == 400 || $1 == 404 ]]' _ "$CODE"
  check "$p: reason mentions '$needle'" has "$(cat "$T/body")" "$needle"
}
bad_path /Example.com/m/@v/list "Example.com"
bad_path /example.com/m/@v/v1.0.0%ZZ.zip "encod"
bad_path /example.com/m/@v/v1.0.0%2.zip "encod"
bad_path '/example.com/m/@v/v1.0.0!!.zip' "v1.0.0!!"
bad_path '/example.com/!!m/@v/list' "!!m"
bad_path /rsc.io/quote/@v/V1.5.2.info "V1.5.2"
bad_path /example.com/m/@v/v1.0.0.tar "endpoint"
bad_path /example.com/m/@v/latest.zip "canonical"
bad_path /example.com/m/v1/@v/list "example.com/m/v1"
bad_path /example.com/m/@v/v2.0.0.mod "v2"
bad_path /example.com/m "endpoint"
bad_path '/example.com/m/../../etc/passwd/@v/list' ".."
bad_path /example.com/m%00x/@v/list "encod"
bad_path '/-x.example.com/@v/list' "-x.example.com"
bad_path /example.com/com1/@v/list "com1"
bad_path /gopkg.in/yaml.v2/@v/v3.0.0.mod "v3"
check "invalid requests reach the upstream" eq "$(wc -l <"$UPSTREAM_LOG")" "$before"
# A query version (branch name) is fine for .info only.
curl_get /rsc.io/quote/@v/master.zip
check "non-canonical .zip: 404" eq "$CODE" 404

# ---- every error so far had the right shape -------------------------------
# (error_shape ran for each one; also check a 404 from the upstream path.)
curl_get /example.com/definitely/not/here/@v/list
check "unknown module list: 404" eq "$CODE" 404

# ---- clients that go away do not hurt the server --------------------------
# gone_client PATH...: for each, connect, send the request, close at once.
gone_client() {
  python3 - "$PORT" "$@" <<'PY'
import socket, sys
for p in sys.argv[2:]:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.sendall(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.close()
PY
}
alive_or_record() { # WHAT: records a failure (and forgets modproxy) if it died
  _alive "$MODPROXY_PID" && return 0
  local rc=0
  _stop_pid "$MODPROXY_PID" 1 || rc=$?
  MODPROXY_PID=
  check "modproxy survives $1 (it died, exit status $rc)" false
  return 1
}
gone_client "$INFO" /rsc.io/quote/@v/v1.99.0.info || true
sleep 0.5
alive_or_record "clients closing right after sending a request for .info" || start_modproxy --upstream "$UPSTREAM_URL"
PORT=${PROXY_URL##*:}
gone_client "$ZIP" "$ZIP" "$ZIP" "$ZIP" "$ZIP" || true
sleep 0.5
alive_or_record "a client closing right after sending GET $ZIP" || start_modproxy --upstream "$UPSTREAM_URL"
PORT=${PROXY_URL##*:}
# The big zip: read a little, then go away mid-body.
python3 - "$PORT" "$BIG" <<'PY' || true
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(f"GET {sys.argv[2]} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
s.recv(1000)
s.close()
PY
sleep 0.5
if alive_or_record "a client going away in the middle of a big zip"; then
  curl_get "$INFO"
  check "after clients went away: still serving" eq "$CODE" 200
  stop_modproxy
fi

# ---- SIGTERM while a slow request is in flight ----------------------------
start_upstream "$T/tree" -delay 2s
start_modproxy --upstream "$UPSTREAM_URL"
PORT=${PROXY_URL##*:}
# An idle keep-alive connection must not hold up the shutdown.
python3 - "$PORT" "$T/idle.ready" <<'PY' &
import socket, sys, time
a = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
a.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
a.recv(4096)
time.sleep(0.2)
open(sys.argv[2], "w").write("ready\n")
time.sleep(15)
PY
idle_pid=$!
for ((i = 0; i < 50; i++)); do
  [[ -s $T/idle.ready ]] && break
  sleep 0.1
done
check "idle keep-alive connection set up" test -s "$T/idle.ready"
curl -s -D "$T/slow.hdrs" -o "$T/slow.body" -w '%{http_code}' --max-time 20 "$PROXY_URL/rsc.io/sampler/@v/v1.3.1.zip" >"$T/slow.code" &
curl -s -o "$T/slow.body" -w '%{http_code}' --max-time 20 "$PROXY_URL/rsc.io/sampler/@v/v1.3.1.zip" >"$T/slow.code" &
curl_pid=$!
for ((i = 0; i < 50; i++)); do # wait until the request reached the upstream
  [[ -s $UPSTREAM_LOG ]] && break
  sleep 0.1
done
check "slow request reached the upstream" test -s "$UPSTREAM_LOG"
t0=$(date +%s%N)
kill -TERM "$MODPROXY_PID"
sleep 0.3
check "modproxy still running while the request is in flight" _alive "$MODPROXY_PID"
# New connections are no longer accepted (or at least not served).
new_code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$PROXY_URL/healthz" || true)
check "no new requests served after SIGTERM (got $new_code)" bash -c '[[ $1 != 200 ]]' _ "$new_code"
rc=0
wait "$curl_pid" || rc=$?
check "slow request: curl exit status" eq "$rc" 0
check "slow request: 200" eq "$(cat "$T/slow.code")" 200
check "slow request: body" cmp -s "$T/slow.body" "$T/tree/rsc.io/sampler/@v/v1.3.1.zip"
check "slow request answered with Connection: close" grep -qi '^Connection: close' "$T/slow.hdrs"
# Wait for the exit without signalling again (a second SIGTERM may rightly
# mean "stop now").
for ((i = 0; i < 150; i++)); do
  _alive "$MODPROXY_PID" || break
  sleep 0.1
done
t1=$(date +%s%N)
ms_rc=0
if _alive "$MODPROXY_PID"; then
  ms_rc="still running after 15 s"
  _stop_pid "$MODPROXY_PID" 1 || true
else
  _stop_pid "$MODPROXY_PID" 1 || ms_rc=$?
fi
MODPROXY_PID=
check "modproxy exit status after SIGTERM ($ms_rc)" eq "$ms_rc" 0
check "modproxy stopped promptly (took $(((t1 - t0) / 1000000)) ms; the request needed ~2000)" test $(((t1 - t0) / 1000000)) -lt 5000
kill "$idle_pid" 2>/dev/null || true

if ((${#FAILS[@]} > 0)); then
  printf '  - %s\n' "${FAILS[@]}" >&2
  fail "${#FAILS[@]} check(s) failed"
fi
echo "PASS core_http"
