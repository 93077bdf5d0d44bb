#!/usr/bin/env python3
"""diag_browser.py PROXY_URL DRIVER_URL SHOTS_DIR MODULE PROJECT GOVERSION

Drives headless Chromium through chromedriver (W3C WebDriver over HTTP,
standard library only) through /diag as a person would: types a module
path prefix into the search box, applies a status filter, follows a link
to a request and from it to its module; asserts on the DOM at each step,
saves a screenshot of each page, and checks that no page scrolls
sideways at 1280 px and at 390 px wide. Then types PROJECT's go.mod and
go.sum (MODULE at an older release) and the client's GOVERSION into
/diag/modfile's form and submits it: the report's table must list MODULE
at its required and latest versions, and its link lead to the module's
page. Exits non-zero with the failed check's message."""
import base64
import json
import os
import sys
import time
import urllib.parse
import urllib.request

PROXY, DRIVER, SHOTS, MODULE, PROJECT, GOVERSION = sys.argv[1:7]
REPORT_WAIT = 15  # seconds for the go.mod report: the analysis asks upstream
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element key


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(DRIVER + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)["value"]
    except urllib.error.HTTPError as e:
        sys.exit("webdriver %s %s: %s" % (method, path, e.read().decode()[:500]))


def check(ok, what):
    if not ok:
        sys.exit("FAIL: " + what)
    print("ok: " + what)


caps = {"capabilities": {"alwaysMatch": {
    "browserName": "chrome",
    "goog:chromeOptions": {
        "binary": os.environ.get("CHROMIUM", "/usr/bin/chromium"),
        # The flags headless Chromium needs on these machines: no sandbox
        # as root, and none of its own network traffic (closed network).
        "args": ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage",
                 "--user-data-dir=" + os.path.join(SHOTS, "profile")],
    }}}}
sid = call("POST", "/session", caps)["sessionId"]
S = "/session/" + sid


def go(url):
    call("POST", S + "/url", {"url": url})


def find(css, many=False):
    v = call("POST", S + ("/elements" if many else "/element"),
             {"using": "css selector", "value": css})
    return [e[ELEMENT] for e in v] if many else v[ELEMENT]


def text(el):
    return call("GET", S + "/element/%s/text" % el)


def attr(el, name):
    return call("GET", S + "/element/%s/attribute/%s" % (el, name))


def click(el):
    call("POST", S + "/element/%s/click" % el, {})


def js(script):
    return call("POST", S + "/execute/sync", {"script": script, "args": []})


def url():
    return call("GET", S + "/url")


def typein(el, keys):
    call("POST", S + "/element/%s/value" % el, {"text": keys})


def width(px):
    call("POST", S + "/window/rect", {"width": px, "height": 900})


def not_sideways(what, px):
    w = js("return [document.documentElement.scrollWidth,"
           " document.documentElement.clientWidth]")
    check(w[0] <= w[1], "%s at %d px: page %d px wide, viewport %d" %
          (what, px, w[0], w[1]))


def shot(name):
    png = base64.b64decode(call("GET", S + "/screenshot"))
    check(png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000,
          "screenshot %s (%d bytes)" % (name, len(png)))
    with open(os.path.join(SHOTS, name + ".png"), "wb") as f:
        f.write(png)


try:
    width(1280)
    # 1. /diag: the search box, a filter, the tables.
    go(PROXY + "/diag")
    check("modproxy diagnostics" in text(find("h1")), "/diag has its heading")
    for table in ("#reqtable", "#causes", "#traffic", "#upstreams", "#cache"):
        find(table)
    check(len(find("#causes svg", many=True)) > 0, "a chart per cause")
    shot("diag")
    box = find("#q")
    typein(box, MODULE[:-2])
    click(find("select[name=status] option[value=all]"))
    click(find("#filters button[type=submit]"))
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url()).query)
    check(q.get("q") == [MODULE[:-2]] and q.get("status") == ["all"],
          "the filters are the query of a shareable link: %s" % url())
    rows = find("#reqtable tr", many=True)[1:]
    check(len(rows) > 0, "requests matching the prefix are listed")
    for r in rows:
        module = text(call("POST", S + "/element/%s/element" % r,
                           {"using": "css selector",
                            "value": "td:nth-child(5)"})[ELEMENT])
        check(module.startswith(MODULE[:-2]),
              "a listed request's module %r starts with the prefix" % module)
    check(find("#q") and attr(find("#q"), "value") == MODULE[:-2],
          "the search box keeps what was typed")
    shot("diag-filtered")
    # 2. A request, then its module.
    link = find("#reqtable a[href^='/diag/req/']")
    rid = text(link)
    click(link)
    check(url().endswith("/diag/req/" + rid), "followed the link to request " + rid)
    check(rid in text(find("#record")), "the request page shows its id")
    shot("request")
    click(find("#module a"))
    check("/diag/module/" + MODULE in url(), "followed the link to the module")
    check(MODULE in text(find("h1")), "the module page names the module")
    find("#modrequests")
    check(len(find("#versions a", many=True)) > 0, "the module page lists versions")
    shot("module")
    module_url = url()
    req_url = PROXY + "/diag/req/" + rid
    # 3. Every page at two widths: nothing scrolls sideways.
    pages = [PROXY + "/diag?status=all&range=week", req_url, module_url,
             PROXY + "/diag/config", PROXY + "/diag/mirror",
             PROXY + "/diag/modfile"]
    for px in (1280, 390):
        width(px)
        for p in pages:
            go(p)
            find("nav")
            not_sideways(p[len(PROXY):], px)
            name = urllib.parse.urlparse(p).path.strip("/").split("/")
            shot("%s-%d" % ("-".join(name[:2]), px))
    # 4. The go.mod form: type a project in, submit, read the report.
    width(1280)
    go(PROXY + "/diag/modfile")
    for name in ("gomod", "gosum"):
        typed = open(os.path.join(PROJECT, name[:2] + "." + name[2:])).read()
        box = find("textarea#" + name)
        typein(box, typed)
        check(js("return document.getElementById('%s').value" % name) == typed,
              "the %s textarea holds what was typed" % name)
    typein(find("input[name=go_version]"), GOVERSION)
    click(find("form button[type=submit]"))
    deadline = time.monotonic() + REPORT_WAIT
    while ("go.mod report" not in js("return document.title") and
           time.monotonic() < deadline):
        time.sleep(0.1)
    check("go.mod report" in js("return document.title"),
          "the report within %d s (at %s)" % (REPORT_WAIT, url()))
    rows = {r[0]: r for r in js(
        "return Array.from(document.querySelectorAll('#buildlist tr:has(td)'),"
        " r => Array.from(r.cells, c => c.innerText.trim()))")}
    check(sorted(rows) == ["golang.org/x/text", MODULE, "rsc.io/sampler"],
          "the report's table lists the build list: %s" % sorted(rows))
    r = rows[MODULE]
    check(r[1:3] == ["v1.5.1", "v1.5.2"] and r[4] == "direct",
          "%s: selected v1.5.1, latest v1.5.2, direct: %s" % (MODULE, r))
    check(r[6] == "ok", "%s: the typed go.sum checks out: %s" % (MODULE, r))
    check("example.com/browser" in text(find("main")),
          "the report names the typed go.mod's module")
    shot("modfile-report")
    width(390)
    not_sideways("the go.mod report", 390)
    shot("modfile-report-390")
    width(1280)
    click(find("#buildlist a[href='/diag/module/%s']" % MODULE))
    check(url() == PROXY + "/diag/module/" + MODULE,
          "followed the report's link to the module: %s" % url())
    check(MODULE in text(find("h1")) and find("#versions"),
          "the module page loads from the report")
finally:
    call("DELETE", S)
print("PASS diag_browser.py")
