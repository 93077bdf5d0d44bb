#!/usr/bin/env bash
# diag_modfile_golist.sh: /diag/modfile shows what `go list -m -u all`
# shows. Through modproxy, with a loopback upstream of test modules (the go
# command's corpus: newer releases, a newer pre-release, retracted versions,
# a module retracting its own latest, a deprecated module, an exclude; and
# a module without tags, whose @latest names a newer pseudo-version), the
# real go command's `go list -m -u -json all` and the report's JSON agree
# on every module of each test project: its selected version, the Update
# (the report's `latest`), Indirect, Retracted and Deprecated. The text
# report shows the same build list, the HTML report the same table with a
# link to each module's page. Also:
#   - an urlencoded POST (an HTML form's default, curl --data-urlencode)
#     gives the report a multipart one gives; `curl --data-binary @go.mod`
#     (urlencoded by curl's default, no gomod field) is still a go.mod;
#   - GET /diag/modfile from a browser is the form, whose submission is the
#     HTML report;
#   - /diag/module/<path> shows the versions the upstream lists (cached)
#     beside the stored ones, each linked to its page;
#   - drift counts only what other clients resolved: the zip the analysis
#     itself fetches (to check a go.sum line) is no other build's.
source "$(dirname "$0")/lib.sh"

make_corpus_tree "$T/tree"
# A module without tags: an empty list, two pseudo-versions, and @latest
# naming the newer, whose go.mod retracts the older and deprecates the
# module (the go command reads both from what @latest names).
python3 - "$T/tree" <<'EOF'
import json, os, sys, zipfile
mod = 'example.com/untagged'
d = os.path.join(sys.argv[1], mod, '@v')
os.makedirs(d)
old, new = 'v0.0.0-20200101000000-aaaaaaaaaaaa', 'v0.0.0-20210101000000-bbbbbbbbbbbb'
mods = {old: 'module %s\n\ngo 1.19\n' % mod,
        new: '// Deprecated: use example.com/tagged.\nmodule %s\n\ngo 1.19\n\n'
             'retract %s // too old\n' % (mod, old)}
for v, gomod in mods.items():
    info = json.dumps({'Version': v, 'Time': '%s-01-01T00:00:00Z' % v[7:11]})
    open(os.path.join(d, v + '.info'), 'w').write(info)
    open(os.path.join(d, v + '.mod'), 'w').write(gomod)
    with zipfile.ZipFile(os.path.join(d, v + '.zip'), 'w') as z:
        z.writestr('%s@%s/go.mod' % (mod, v), gomod)
        z.writestr('%s@%s/u.go' % (mod, v), 'package untagged\n')
open(os.path.join(d, 'list'), 'w').write('')
open(os.path.join(sys.argv[1], mod, '@latest'), 'w').write(info)
EOF
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL"

# compare NAME: go list -m -u -json all in $T/NAME against the report on
# its go.mod and go.sum (JSON in $T/NAME.report.json).
compare() {
  local d="$T/$1"
  (cd "$d" && gocmd mod download all) || fail "$1: go mod download all"
  (cd "$d" && gocmd list -m -u -json all) >"$T/$1.golist.json" ||
    fail "$1: go list -m -u -json all"
  curl -sS -f -H 'Accept: application/json' -F "gomod=@$d/go.mod" -F "gosum=@$d/go.sum" \
    "$PROXY_URL/diag/modfile" >"$T/$1.report.json" || fail "$1: /diag/modfile"
  python3 - "$1" "$T/$1.golist.json" "$T/$1.report.json" <<'EOF' || fail "$1: the report disagrees with go list -m -u"
import json, sys
name, golist, report = sys.argv[1:]
text, dec, i, mods = open(golist).read(), json.JSONDecoder(), 0, []
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i == len(text):
        break
    m, i = dec.raw_decode(text, i)
    if not m.get('Main'):
        mods.append(m)
ours = {m['path']: m for m in json.load(open(report))['build_list']}
bad = []
if sorted(ours) != sorted(m['Path'] for m in mods):
    bad.append('build list: go list %s, report %s' % (sorted(m['Path'] for m in mods), sorted(ours)))
for g in mods:
    o = ours.get(g['Path'])
    if o is None:
        continue
    want = {
        'version': g['Version'],
        'latest': (g.get('Update') or {}).get('Version', g['Version']),
        'indirect': bool(g.get('Indirect')),
        'retracted': (g.get('Retracted') or [None])[0],
        'deprecated': g.get('Deprecated'),
        'gosum': 'ok',
    }
    got = {k: o.get(k) for k in want}
    if got != want:
        bad.append('%s: go list says %s, the report %s' % (g['Path'], want, got))
    print('%-36s %-38s latest %-12s indirect=%-5s retracted=%s deprecated=%s' % (
        g['Path'], g['Version'], want['latest'], want['indirect'], want['retracted'], want['deprecated']))
if bad:
    sys.exit('\n'.join(bad))
print('PASS %s: %d modules agree' % (name, len(mods)))
EOF
  # The text report lists the same modules, a newer version in brackets.
  local txt
  txt=$(curl -sS -F "gomod=@$d/go.mod" -F "gosum=@$d/go.sum" "$PROXY_URL/diag/modfile")
  echo "$txt"
  python3 - "$T/$1.report.json" "$txt" <<'EOF' || fail "$1: the text report lacks a module's row"
import json, re, sys
for m in json.load(open(sys.argv[1]))['build_list']:
    row = r'^  %s +(in)?direct +%s' % (re.escape(m['path']), re.escape(m['version']))
    if m['latest'] != m['version']:
        row += r' \[%s\]' % re.escape(m['latest'])
    if not re.search(row, sys.argv[2], re.M):
        sys.exit('no row /%s/ in the text report' % row)
EOF
}

# 1. Newer releases (deprecated/a, undeprecated, sampler, x/text from a
# pseudo-version), a newer pre-release only (quote), a retracted version
# (retract), a deprecated module (deprecated/a), indirect ones.
mkdir -p "$T/mixed"
cat >"$T/mixed/go.mod" <<'EOF'
module example.com/mixed

go 1.19

require (
	example.com/deprecated/a v1.0.0
	example.com/retract v1.0.0-bad
	example.com/undeprecated v1.0.0
	golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c // indirect
	rsc.io/quote v1.5.2
)
EOF
compare mixed

# 2. A selected pre-release (no update), a module whose latest retracts
# itself (the update skips it), one whose only version is retracted (no
# update), an excluded newer version (no update past it).
mkdir -p "$T/retracts"
cat >"$T/retracts/go.mod" <<'EOF'
module example.com/retracts

go 1.19

require (
	example.com/retract v1.0.0-good
	example.com/retract/self/all v1.9.0
	example.com/retract/self/prev v1.0.0-bad
	rsc.io/quote v1.5.3-pre1
	rsc.io/sampler v1.99.99 // indirect
)

exclude example.com/retract v1.1.0
EOF
compare retracts

# 3. A module without tags, at an older pseudo-version: the go command asks
# @latest, for the update and for the go.mod that retracts and deprecates.
mkdir -p "$T/untagged"
cat >"$T/untagged/go.mod" <<'EOF'
module example.com/useuntagged

go 1.19

require example.com/untagged v0.0.0-20200101000000-aaaaaaaaaaaa
EOF
compare untagged

# ---- urlencoded POST: the same report as multipart ---------------------------
d="$T/mixed"
curl -sS -f -H 'Accept: application/json' -F "gomod=@$d/go.mod" -F "gosum=@$d/go.sum" \
  -F go_version=go1.26.0 "$PROXY_URL/diag/modfile" >"$T/multi.json"
curl -sS -f -H 'Accept: application/json' --data-urlencode "gomod@$d/go.mod" \
  --data-urlencode "gosum@$d/go.sum" --data-urlencode go_version=go1.26.0 \
  "$PROXY_URL/diag/modfile" >"$T/urlenc.json" || fail "urlencoded POST refused"
curl -sS -f -H 'Accept: application/json' --data-binary "@$d/go.mod" \
  "$PROXY_URL/diag/modfile" >"$T/raw.json" || fail "curl --data-binary @go.mod refused"
python3 - "$T/multi.json" "$T/urlenc.json" "$T/raw.json" <<'EOF' || fail "urlencoded: another report"
import json, sys
want, urlenc, raw = (json.load(open(f)) for f in sys.argv[1:])
assert urlenc == want, 'urlencoded form: %s\nmultipart: %s' % (urlenc, want)
# Without go.sum the verdicts are unchecked; the rest is the same.
for m in raw['build_list']:
    assert m.pop('gosum') == 'unchecked', m
for m in want['build_list']:
    m.pop('gosum')
assert raw['build_list'] == want['build_list'], 'raw go.mod: %s' % raw
assert urlenc['findings'], 'no findings: %s' % urlenc
print('PASS urlencoded: %d modules, the same report' % len(want['build_list']))
EOF

# ---- the browser's form, and the HTML report it leads to ----------------------
form=$(curl -sS -f -D "$T/form.head" -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8' \
  "$PROXY_URL/diag/modfile") || fail "GET /diag/modfile from a browser"
grep -qi '^content-type: text/html' "$T/form.head" || fail "the form is not HTML: $(cat "$T/form.head")"
for want in '<form method="post" action="/diag/modfile" enctype="multipart/form-data">' \
  '<textarea id="gomod" name="gomod"' '<input type="file" name="gomod">' \
  '<textarea id="gosum" name="gosum"' '<input type="file" name="gosum">' 'name="go_version"'; do
  assert_contains "$form" "$want" "the form"
done
code=$(curl -sS -o /dev/null -w '%{http_code}' "$PROXY_URL/diag/modfile")
assert_eq "$code" 405 "GET /diag/modfile from curl (text) is still refused"
# What a browser sends: the pasted go.mod (CRLF line ends, as a textarea
# gives it) beside an empty file field, the uploaded go.sum beside an
# empty textarea, the settings; Accept: text/html.
python3 - "$d/go.mod" "$d/go.sum" >"$T/browser.form" <<'EOF'
import sys
gomod = open(sys.argv[1]).read().replace('\n', '\r\n')
gosum = open(sys.argv[2]).read()
parts = [('gomod', 'go.mod', ''), ('gomod', None, gomod), ('gosum', 'go.sum', gosum),
         ('gosum', None, ''), ('go_version', None, 'go1.26.0'), ('gotoolchain', None, 'auto')]
out = ''
for name, filename, value in parts:
    out += '--B\r\nContent-Disposition: form-data; name="%s"' % name
    if filename is not None:
        out += '; filename="%s"\r\nContent-Type: application/octet-stream' % filename
    out += '\r\n\r\n%s\r\n' % value
sys.stdout.write(out + '--B--\r\n')
EOF
curl -sS -f -H 'Accept: text/html' -H 'Content-Type: multipart/form-data; boundary=B' \
  --data-binary "@$T/browser.form" "$PROXY_URL/diag/modfile" >"$T/report.html" ||
  fail "the form's submission"
python3 - "$T/mixed.report.json" "$T/report.html" <<'EOF' || fail "the HTML report disagrees with the JSON one"
import html.parser, json, sys
want = json.load(open(sys.argv[1]))['build_list']
class Rows(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.links = [], None, []
    def handle_starttag(self, tag, attrs):
        if tag == 'tr':
            self.rows.append([])
        elif tag == 'td':
            self.cell = ''
        elif tag == 'a':
            self.links.append(dict(attrs).get('href'))
    def handle_endtag(self, tag):
        if tag == 'td':
            self.rows[-1].append(self.cell.strip())
            self.cell = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
p = Rows()
p.feed(open(sys.argv[2]).read())
rows = {r[0]: r for r in p.rows if r}
assert len(rows) == len(want), 'rows %s, want %d modules' % (list(rows), len(want))
for m in want:
    r = rows[m['path']]
    latest = 'up to date' if m['latest'] == m['version'] else m['latest']
    assert r[1] == m['version'] and r[2] == latest, (r, m)
    assert r[3] == (m['prerelease'] or ''), (r, m)
    assert r[4] == ('indirect' if m['indirect'] else 'direct'), (r, m)
    assert r[6] == m['gosum'], (r, m)
    assert ('retracted' in r[5]) == bool(m['retracted']), (r, m)
    assert ('deprecated' in r[5]) == bool(m['deprecated']), (r, m)
    for href in ('/diag/module/' + m['path'], '/diag/module/%s@%s' % (m['path'], m['version'])):
        assert href in p.links, 'no link to %s' % href
print('PASS HTML report: %d rows agree, each module linked' % len(rows))
EOF

# ---- /diag/module/<path>: the upstream's versions beside the stored ---------
page=$(curl -sS -f "$PROXY_URL/diag/module/rsc.io/quote")
echo "$page"
assert_contains "$page" "versions the upstream lists (10, cached" "module page: the cached list"
grep -qE '^  v1\.5\.2 +stored +/diag/module/rsc\.io/quote@v1\.5\.2$' <<<"$page" ||
  fail "module page: v1.5.2, stored, with its page"
grep -qE '^  v1\.5\.1 +/diag/module/rsc\.io/quote@v1\.5\.1$' <<<"$page" ||
  fail "module page: v1.5.1, listed, not stored, with its page"
curl -sS -f -H 'Accept: text/html' "$PROXY_URL/diag/module/rsc.io/quote" >"$T/module.html"
grep -q '<a href="/diag/module/rsc.io/quote@v1.5.1">' "$T/module.html" ||
  fail "module page (HTML): no link to v1.5.1's page"
curl -sS -f "$PROXY_URL/diag/module/rsc.io/quote?format=json" >"$T/module.json"
python3 - "$T/module.json" <<'EOF' || fail "module page (JSON): upstream_list"
import json, sys
l = json.load(open(sys.argv[1]))['upstream_list']['versions']
assert l[0] == {'version': 'v1.5.3-pre1', 'stored': True}, l
assert {'version': 'v1.5.1', 'stored': False} in l and len(l) == 10, l
EOF

# ---- drift: the analysis's own fetches are no other build's ----------------------
# A go.sum line for golang.org/x/text v0.3.0, which no client fetched: the
# analysis fetches its zip to check the line.
mkdir -p "$T/drift"
cp "$d/go.mod" "$T/drift/"
printf 'golang.org/x/text v0.3.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' >"$T/drift/go.sum"
for round in 1 2; do
  curl -sS -f -H 'Accept: application/json' -F "gomod=@$T/drift/go.mod" \
    -F "gosum=@$T/drift/go.sum" "$PROXY_URL/diag/modfile" >"$T/drift$round.json"
  sleep 2 # request records reach the store's ring in batches (every 1 s)
done
(($(upstream_hits '^/golang\.org/x/text/@v/v0\.3\.0\.zip$') == 1)) ||
  fail "drift: the analysis did not fetch x/text v0.3.0's zip (the test proves nothing)"
python3 - "$T/drift2.json" <<'EOF' || fail "drift: the proxy's own fetch counted as another build's"
import json, sys
fs = json.load(open(sys.argv[1]))['findings']
drift = [f for f in fs if f['kind'] == 'indirect drift' and f['module'] == 'golang.org/x/text']
assert not drift, drift
assert any(f['kind'] == 'checksum mismatch' and f['module'] == 'golang.org/x/text' for f in fs), fs
EOF

echo "PASS diag_modfile_golist"
