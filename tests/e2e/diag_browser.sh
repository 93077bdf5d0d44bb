#!/usr/bin/env bash
# diag_browser.sh: the /diag dashboard in a real browser. Headless Chromium
# (Debian's chromium, driven through chromedriver by diag_browser.py with
# W3C WebDriver over HTTP) opens /diag, types a module path prefix into the
# search box, picks a status filter, follows a link to a request and from
# it to its module, asserting on the DOM at each step; then every page
# (/diag, a request, a module, /diag/config, /diag/mirror, the go.mod form)
# at 1280 px and 390 px wide must not scroll sideways. Then a go.mod and its
# go.sum (rsc.io/quote v1.5.1, whose latest release is v1.5.2) are typed
# into /diag/modfile's form with the client's Go version; the report's
# table must list the module at v1.5.1 with v1.5.2 as latest and go.sum
# ok, must not scroll sideways at 390 px, and the module's link must lead
# to its page. Screenshots are kept in
# BUILD_DIR/artifacts/diag_browser/. Needs chromium and chromium-driver
# (deploy/deps.sh test).
source "$(dirname "$0")/lib.sh"

CHROMIUM=$(command -v chromium || true)
DRIVER=$(command -v chromedriver || true)
[[ -n $CHROMIUM && -n $DRIVER ]] ||
  fail "chromium and chromedriver are needed (Debian: deploy/deps.sh test installs chromium chromium-driver)"
SHOTS="$BUILD_DIR/artifacts/diag_browser"
rm -rf "$SHOTS"
mkdir -p "$SHOTS"

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_modproxy --upstream "$UPSTREAM_URL"

# Traffic to show: fetched and hit answers, a version that does not exist,
# a module no upstream has, a malformed request.
for u in /rsc.io/quote/@v/list /rsc.io/quote/@v/v1.5.2.info /rsc.io/quote/@v/v1.5.2.info \
  /rsc.io/quote/@v/v1.5.2.mod /rsc.io/quote/@v/v1.5.9.info /rsc.io/sampler/@v/list \
  /nosuch.example.org/x/@v/list /golang.org/x/text/@v/list '/Bad%20Path/@v/list'; do
  curl -sS -o /dev/null "$PROXY_URL$u"
done
# A project for the go.mod form; its go.sum from the real go command.
mkdir -p "$T/project"
cat >"$T/project/go.mod" <<'EOF'
module example.com/browser

go 1.19

require rsc.io/quote v1.5.1

require (
    golang.org/x/text v0.0.0-20170915032832-14c0d48ead0c // indirect
    rsc.io/sampler v1.3.0 // indirect
)
EOF
(cd "$T/project" && gocmd mod download all) || fail "go mod download all (the form's project)"
[[ -s $T/project/go.sum ]] || fail "go mod download all wrote no go.sum"
sleep 1.5 # records reach the store's ring in batches (every 1 s)

port=$(_free_port)
"$DRIVER" --port="$port" >"$T/chromedriver.log" 2>&1 &
_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do
  curl -sf "http://127.0.0.1:$port/status" | grep -q '"ready": *true' && break
  sleep 0.1
done
CHROMIUM=$CHROMIUM timeout 120 python3 "$SRC_DIR/tests/e2e/diag_browser.py" \
  "$PROXY_URL" "http://127.0.0.1:$port" "$SHOTS" rsc.io/quote \
  "$T/project" "$(gocmd env GOVERSION)" ||
  fail "the dashboard in the browser (screenshots in $SHOTS; chromedriver log: $(tail -n 5 "$T/chromedriver.log"))"
rm -rf "$SHOTS/profile"
echo "PASS diag_browser"
