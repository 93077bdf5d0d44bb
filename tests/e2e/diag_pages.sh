#!/usr/bin/env bash
# diag_pages.sh: /diag, /diag/config and /diag/req/<id> in their three forms:
#   - plain text for curl (the default), with what each page is for;
#   - JSON for ?format=json and for Accept: application/json (both parse);
#   - HTML for a browser (Accept: text/html): a complete page, escaped,
#     with no external assets (no http(s) URL in src/href/... other than
#     links back to the proxy), which headless Chromium renders into a
#     screenshot that is not blank.
# /diag/config's `go env -w` lines are run with the go command, which must
# accept them. Chromium: Debian package "chromium"; installed here with
# apt-get when missing and possible, else that part is skipped (with a
# message). DIAG_SCREENSHOT_DIR=DIR keeps the screenshots.
#
# Checks are "soft": every failed check is collected and reported at the
# end, so that one run shows every problem at once.
source "$(dirname "$0")/lib.sh"

SOFT=()
soft() { # message: records a failed check and goes on
  SOFT+=("$1")
  echo "CHECK FAILED: $1" >&2
}
expect() { # haystack needle what
  [[ $1 == *"$2"* ]] || soft "$3: '$2' not found in:"$'\n'"$1"
}
finish() {
  if ((${#SOFT[@]} > 0)); then
    printf '\n==== %d failed check(s) ====\n' "${#SOFT[@]}" >&2
    printf -- '- %s\n' "${SOFT[@]}" >&2
    fail "${#SOFT[@]} check(s) failed"
  fi
  echo "PASS diag_pages"
}

# get NAME URL [curl args...]: body in $T/NAME.body, headers in
# $T/NAME.head; sets CODE and CTYPE (lower case, no parameters kept out).
get() {
  local name=$1 url=$2
  shift 2
  CODE=$(curl -sS -D "$T/$name.head" -o "$T/$name.body" -w '%{http_code}' "$@" "$url")
  CTYPE=$(awk -F': *' 'tolower($1) == "content-type" {print tolower($2)}' "$T/$name.head" | tr -d '\r')
}
header() { # NAME HEADER: a response header's value
  awk -F': *' -v h="${2,,}" 'tolower($1) == h {sub(/^[^:]*: */, ""); print}' "$T/$1.head" | tr -d '\r'
}

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL" --private 'corp.example.com'

# ---- traffic to show ---------------------------------------------------------------
mkdir -p "$T/work"
printf 'module example.com/e2e\n\ngo 1.19\n' >"$T/work/go.mod"
(cd "$T/work" && gocmd get rsc.io/quote@v1.5.2 >/dev/null 2>&1) || fail "go get rsc.io/quote@v1.5.2 through modproxy"
(cd "$T/work" && gocmd get rsc.io/quote@v1.5.2 >/dev/null 2>&1) || true # hits
# The go command's failing request (the one that asked the upstream); its
# id from the "see" line of the go command's output.
out=$(cd "$T/work" && gocmd get rsc.io/quote@v1.5.9 2>&1) && fail "go get rsc.io/quote@v1.5.9 succeeded"
NF_ID=$(sed -nE 's#^\tsee .*/diag/req/([^ ]+)$#\1#p' <<<"$out" | head -n 1)
[[ -n $NF_ID ]] || fail "no 'see .../diag/req/<id>' in the go command's output: $out"
get nf "$PROXY_URL/rsc.io/quote/@v/v1.5.9.info"
[[ -n $(header nf X-Request-Id) ]] || soft "no X-Request-Id on a 404"
get priv "$PROXY_URL/corp.example.com/x/@v/v1.0.0.info"
# A request whose record holds markup: the HTML must show it, not run it.
get xss "$PROXY_URL/ex<b>x</b>.com/@v/list" --path-as-is
XSS_ID=$(header xss X-Request-Id)
[[ -n $XSS_ID ]] || fail "no X-Request-Id on a 400"
# A client's own request id is kept beside modproxy's, never as the key of
# the record: naming another request's id must not replace its record.
get own "$PROXY_URL/rsc.io/quote/@v/list" -H "X-Request-Id: $NF_ID"
OWN_ID=$(header own X-Request-Id)
[[ -n $OWN_ID && $OWN_ID != "$NF_ID" ]] ||
  soft "a client's X-Request-Id became the record's key: '$OWN_ID'"
sleep 1.2 # records reach the store in batches (1 s)
get rec "$PROXY_URL/diag/req/$NF_ID?format=json"
expect "$(cat "$T/rec.body")" "v1.5.9" "the record behind the go command's link is still its own"
get rec "$PROXY_URL/diag/req/$OWN_ID?format=json"
expect "$(cat "$T/rec.body")" "\"client_request_id\":\"$NF_ID\"" "the client's X-Request-Id in the record"

PAGES=(/diag /diag/config "/diag/req/$NF_ID")

# ---- text -----------------------------------------------------------------------------
for p in "${PAGES[@]}"; do
  get text "$PROXY_URL$p"
  [[ $CODE == 200 ]] || soft "GET $p (curl): status $CODE"
  [[ $CTYPE == text/plain* ]] || soft "GET $p (curl): Content-Type '$CTYPE', want text/plain"
  vary=$(header text Vary)
  [[ ${vary,,} == *accept* ]] || soft "GET $p: no 'Vary: Accept' on a negotiated page (Vary: '$vary')"
  body=$(cat "$T/text.body")
  echo "--- GET $p (text)"
  echo "$body"
  case $p in
    /diag)
      expect "$body" "$UPSTREAM_URL" "/diag text: upstream health names the upstream"
      expect "$body" "$NF_ID" "/diag text: the latest failures link to their records"
      expect "$body" "rsc.io/quote" "/diag text: most-missed modules"
      grep -qiE 'hit ratio|hit rate' <<<"$body" || soft "/diag text: no cache hit ratio"
      grep -qiE 'cache' <<<"$body" || soft "/diag text: no cache size"
      grep -qiE 'not found' <<<"$body" || soft "/diag text: failures grouped by cause"
      ;;
    /diag/config)
      expect "$body" "GOPROXY=$PROXY_URL" "/diag/config text: GOPROXY"
      expect "$body" "GONOSUMDB=corp.example.com" "/diag/config text: GONOSUMDB for the private modules"
      # The go env -w lines, run as they are, are accepted by the go command.
      mkdir -p "$T/cfg"
      cfg_env=(env -u GOPROXY -u GONOSUMDB -u GONOPROXY -u GOPRIVATE -u GOFLAGS -u GOSUMDB
        -u GOROOT GOTOOLCHAIN=local HOME="$T/cfg" GOENV="$T/cfg/go.env"
        GOPATH="$T/gopath" GOCACHE="$T/gocache")
      n=0
      while IFS= read -r line; do
        [[ $line =~ ^go\ env\ -w\ ([A-Z]+=.*)$ ]] || continue
        n=$((n + 1))
        out=$("${cfg_env[@]}" "$GO" env -w "${BASH_REMATCH[1]}" 2>&1) ||
          soft "/diag/config: the go command refuses '$line': $out"
      done <<<"$body"
      ((n > 0)) || soft "/diag/config text: no 'go env -w' line"
      v=$("${cfg_env[@]}" "$GO" env GOPROXY)
      [[ $v == "$PROXY_URL" ]] || soft "/diag/config: after its go env -w lines, GOPROXY is '$v'"
      v=$("${cfg_env[@]}" "$GO" env GONOSUMDB)
      [[ $v == *corp.example.com* ]] || soft "/diag/config: after its go env -w lines, GONOSUMDB is '$v'"
      ;;
    /diag/req/*)
      expect "$body" "$NF_ID" "/diag/req text: the id"
      expect "$body" "rsc.io/quote" "/diag/req text: the module"
      grep -qiE 'outcome.*not found' <<<"$body" || soft "/diag/req text: the outcome"
      expect "$body" "$UPSTREAM_URL/rsc.io/quote/@v/v1.5.9.info" "/diag/req text: the upstream attempt"
      ;;
  esac
done

# ---- JSON -----------------------------------------------------------------------------
json_has() { # FILE PYTHON-EXPR (r = the parsed body, s = its JSON text)
  python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit('not JSON: %s: %r' % (e, open(sys.argv[1]).read()[:300]))
s = json.dumps(r)
if not eval(sys.argv[2]):
    sys.exit('false: %s in %s' % (sys.argv[2], s[:1500]))
EOF
}
for p in "${PAGES[@]}"; do
  for how in query accept; do
    if [[ $how == query ]]; then
      get json "$PROXY_URL$p?format=json"
    else
      get json "$PROXY_URL$p" -H 'Accept: application/json'
    fi
    [[ $CODE == 200 ]] || soft "GET $p ($how JSON): status $CODE"
    [[ $CTYPE == application/json* ]] || soft "GET $p ($how JSON): Content-Type '$CTYPE'"
    why=$(python3 -m json.tool "$T/json.body" 2>&1 >/dev/null) || {
      soft "GET $p ($how JSON): not valid JSON ($why): $(head -c 300 "$T/json.body")"
      continue
    }
    case $p in
      /diag) expr="'$UPSTREAM_URL' in s and '$NF_ID' in s and 'rsc.io/quote' in s" ;;
      /diag/config) expr="r.get('GOPROXY') == '$PROXY_URL' and 'corp.example.com' in (r.get('GONOSUMDB') or '')" ;;
      *) expr="r.get('id') == '$NF_ID' and 'rsc.io/quote' in s" ;;
    esac
    why=$(json_has "$T/json.body" "$expr" 2>&1) || soft "GET $p ($how JSON): $why"
  done
done
# ?format=json wins over a browser's Accept.
get json "$PROXY_URL/diag?format=json" -H 'Accept: text/html'
[[ $CTYPE == application/json* ]] || soft "/diag?format=json with Accept: text/html: Content-Type '$CTYPE'"

# ---- HTML -----------------------------------------------------------------------------
# html_check FILE PROXY_URL: a complete, balanced page; no external assets.
html_check() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
from html.parser import HTMLParser
src = open(sys.argv[1], encoding='utf-8').read()
proxy = sys.argv[2]
VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta',
        'source', 'track', 'wbr'}
# Elements whose end tag HTML lets one omit.
OPTIONAL_END = {'p', 'li', 'dt', 'dd', 'tr', 'td', 'th', 'thead', 'tbody', 'tfoot',
                'option', 'colgroup', 'caption', 'rt', 'rp', 'optgroup'}
errs = []
class P(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.seen, self.doctype, self.title = [], set(), False, ''
    def handle_decl(self, d):
        if d.lower().startswith('doctype html'):
            self.doctype = True
    def handle_starttag(self, tag, attrs):
        self.seen.add(tag)
        for k, v in attrs:
            v = (v or '').strip()
            if k in ('src', 'href', 'action', 'poster', 'data', 'srcset', 'background', 'formaction'):
                for u in re.split(r'[\s,]+', v):
                    if re.match(r'(?i)^(https?:)?//', u) and not u.startswith(proxy + '/') and u != proxy:
                        errs.append('external asset: <%s %s="%s">' % (tag, k, v))
            if k == 'style' and re.search(r'(?i)url\(\s*[\'"]?(https?:)?//', v):
                errs.append('external asset in style attribute: %s' % v)
        if tag == 'script' and any(k == 'src' for k, _ in attrs):
            errs.append('<script src>')
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()
    def handle_endtag(self, tag):
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1] != tag:
            errs.append('unbalanced </%s> (open: %s)' % (tag, '/'.join(self.stack)))
            return
        self.stack.pop()
    def handle_data(self, d):
        if self.stack and self.stack[-1] == 'title':
            self.title += d
        if self.stack and self.stack[-1] == 'style':
            if re.search(r'(?i)(@import|url\()\s*[\'"]?(https?:)?//', d):
                errs.append('external asset in <style>: %s' % d[:200])
p = P()
p.feed(src)
p.close()
if not p.doctype:
    errs.append('no <!doctype html>')
for t in ('html', 'head', 'title', 'body'):
    if t not in p.seen:
        errs.append('no <%s>' % t)
if not p.title.strip():
    errs.append('empty <title>')
if [t for t in p.stack if t not in OPTIONAL_END]:
    errs.append('unclosed at the end: %s' % '/'.join(p.stack))
if not re.search(r'(?i)<meta[^>]+charset', src):
    errs.append('no <meta charset>')
if errs:
    sys.exit('; '.join(errs))
EOF
}
# html_text FILE: the page's text as a browser shows it (entities decoded).
html_text() {
  python3 -c '
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    out = []
    def handle_data(self, d): self.out.append(d)
p = P(convert_charrefs=True); p.feed(open(sys.argv[1], encoding="utf-8").read()); print("".join(p.out))
' "$1"
}
BROWSER_ACCEPT='text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
for p in "${PAGES[@]}" "/diag/req/$XSS_ID"; do
  for acc in 'text/html' "$BROWSER_ACCEPT"; do
    get html "$PROXY_URL$p" -H "Accept: $acc"
    [[ $CODE == 200 ]] || soft "GET $p (HTML, Accept: $acc): status $CODE"
    [[ $CTYPE == text/html* ]] || soft "GET $p (Accept: $acc): Content-Type '$CTYPE', want text/html"
  done
  why=$(html_check "$T/html.body" "$PROXY_URL" 2>&1) || soft "GET $p (HTML): $why"
  text=$(html_text "$T/html.body")
  case $p in
    /diag)
      expect "$text" "$UPSTREAM_URL" "/diag HTML: upstream health"
      expect "$text" "$NF_ID" "/diag HTML: the latest failures"
      expect "$text" "rsc.io/quote" "/diag HTML: most-missed modules"
      ;;
    /diag/config)
      expect "$text" "GOPROXY=$PROXY_URL" "/diag/config HTML: GOPROXY"
      expect "$text" "GONOSUMDB=corp.example.com" "/diag/config HTML: GONOSUMDB"
      ;;
    "/diag/req/$XSS_ID")
      if grep -q '<b>x</b>' "$T/html.body"; then
        soft "/diag/req/$XSS_ID HTML: the request's markup is not escaped"
      fi
      expect "$text" 'ex<b>x</b>.com' "/diag/req HTML: the request's text shown as text"
      ;;
    *)
      expect "$text" "$NF_ID" "/diag/req HTML: the id"
      expect "$text" "$UPSTREAM_URL/rsc.io/quote/@v/v1.5.9.info" "/diag/req HTML: the upstream attempt"
      ;;
  esac
done

# ---- the pages in a browser -------------------------------------------------------------
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $CHROMIUM && $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "chromium is missing; installing the Debian package 'chromium'"
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q chromium >"$T/apt.log" 2>&1 ||
    { apt-get update -q >>"$T/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q chromium >>"$T/apt.log" 2>&1; } || true
  CHROMIUM=$(command -v chromium || true)
fi
if [[ -z $CHROMIUM ]]; then
  echo "SKIP: screenshot checks: chromium is not installed and could not be installed (Debian package 'chromium')"
  finish
  exit 0
fi

# png_check FILE: prints "WxH colours=N ink=F"; fails unless the image is
# 1200x900 and shows more than one colour with enough ink for text.
png_check() {
  python3 - "$1" <<'EOF'
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
if data[:8] != b'\x89PNG\r\n\x1a\n':
    sys.exit('not a PNG')
pos, idat, ihdr = 8, b'', None
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR':
        ihdr = struct.unpack('>IIBBBBB', body)
    elif kind == b'IDAT':
        idat += body
    elif kind == b'IEND':
        break
    pos += 12 + n
if ihdr is None:
    sys.exit('no IHDR')
w, h, depth, ctype, _, _, interlace = ihdr
if (w, h) != (1200, 900):
    sys.exit('size %dx%d, want 1200x900' % (w, h))
if depth != 8 or interlace != 0 or ctype not in (0, 2, 4, 6):
    sys.exit('unexpected PNG format: depth %d, colour type %d, interlace %d' % (depth, ctype, interlace))
bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
raw = zlib.decompress(idat)
stride = w * bpp
if len(raw) != h * (stride + 1):
    sys.exit('IDAT holds %d bytes, want %d' % (len(raw), h * (stride + 1)))
prev = bytearray(stride)
counts = {}
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1:
            line[i] = (line[i] + a) & 255
        elif f == 2:
            line[i] = (line[i] + b) & 255
        elif f == 3:
            line[i] = (line[i] + ((a + b) >> 1)) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif f != 0:
            sys.exit('bad filter %d' % f)
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + bpp])
        counts[px] = counts.get(px, 0) + 1
    prev = line
bg, nbg = max(counts.items(), key=lambda kv: kv[1])
ink = 1 - nbg / (w * h)
print('%dx%d colours=%d ink=%.3f' % (w, h, len(counts), ink))
if len(counts) < 3:
    sys.exit('blank: %d colour(s)' % len(counts))
if ink < 0.01:
    sys.exit('almost blank: %.4f of the pixels differ from the background' % ink)
EOF
}

shot() { # NAME PATH: screenshot of $PROXY_URL$PATH into $T/NAME.png
  rm -f "$T/$1.png"
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$T/chr" \
    --screenshot="$T/$1.png" --window-size=1200,900 "$PROXY_URL$2" >"$T/chromium.$1.out" 2>&1 || true
  if [[ ! -f $T/$1.png ]]; then
    soft "screenshot of $2: no PNG written: $(tail -n 5 "$T/chromium.$1.out")"
    return 0
  fi
  local size
  size=$(stat -c %s "$T/$1.png")
  ((size > 10240)) || soft "screenshot of $2: $size bytes, want > 10 KB"
  local why
  why=$(png_check "$T/$1.png" 2>&1) || soft "screenshot of $2: $why"
  echo "screenshot of $2: $size bytes, $why"
  if [[ -n ${DIAG_SCREENSHOT_DIR:-} ]]; then
    mkdir -p "$DIAG_SCREENSHOT_DIR" && cp "$T/$1.png" "$DIAG_SCREENSHOT_DIR/"
  fi
}
shot diag /diag
shot req "/diag/req/$NF_ID"
shot config /diag/config

# A browser looking at /diag is not a failure of the proxy: its requests
# (e.g. /favicon.ico) must not show up among the failures it reports.
sleep 1.2
if grep -q '"target":"/favicon.ico".*"status":4' "$MODPROXY_LOG"; then
  get diag "$PROXY_URL/diag"
  if grep -q 'favicon' "$T/diag.body" || grep -q "$(grep '"target":"/favicon.ico"' "$MODPROXY_LOG" | tail -n 1 |
    sed -E 's/.*"id":"([^"]+)".*/\1/')" "$T/diag.body"; then
    soft "viewing /diag in a browser adds a failure (GET /favicon.ico -> 404) to /diag's own failure list"
  fi
fi

finish
