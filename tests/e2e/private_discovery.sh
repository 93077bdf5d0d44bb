#!/usr/bin/env bash
# private_discovery.sh: a private module that no --git-route and no
# well-known host rule covers is found the way the go command finds it in
# direct mode: GET https://<path>?go-get=1, the go-import meta tag whose
# root prefixes the path, the root's own page re-checked when the root is
# not the path. The pages are served over HTTPS (a test CA, trusted by
# modproxy through --upstream-ca and by the go command through
# SSL_CERT_FILE) for the made-up host discover.example, reached through
# the goimport tool's CONNECT proxy (HTTPS_PROXY); the tags point at a git
# daemon on 127.0.0.1. modproxy must give the same Version, Sum and
# GoModSum as the go command in direct mode, explain each way discovery
# fails in one short line, and never send a private path upstream.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

PRIV_PATTERNS='discover.example,nowhere.invalid'
H=discover.example

# ---- repositories ---------------------------------------------------------
mkdir -p "$T/work" "$T/srv"
w="$T/work/plain"
mkdir -p "$w" && (cd "$w" && _git init -q)
printf 'module %s/plain\n\ngo 1.19\n' "$H" >"$w/go.mod"
printf 'package plain\n\nconst V = 1\n' >"$w/plain.go"
commit_at "$w" "2023-01-02T03:04:05Z" one
(cd "$w" && _git tag v1.0.0)
printf 'package plain\n\nconst W = 2\n' >"$w/w.go"
commit_at "$w" "2023-02-03T04:05:06Z" two
(cd "$w" && _git tag v1.1.0 && _git checkout -q -b dev)
printf 'package plain\n\nconst X = 3\n' >"$w/x.go"
commit_at "$w" "2023-03-04T05:06:07Z" dev
(cd "$w" && _git checkout -q main)
publish plain
# mono: the module is in a subdirectory; its page names the repository
# root discover.example/mono, whose own page must agree.
w="$T/work/mono"
mkdir -p "$w/sub" && (cd "$w" && _git init -q)
printf 'module %s/mono/sub\n\ngo 1.19\n' "$H" >"$w/sub/go.mod"
printf 'package sub\n' >"$w/sub/sub.go"
printf 'BSD\n' >"$w/LICENSE"
commit_at "$w" "2023-04-01T00:00:00Z" one
(cd "$w" && _git tag sub/v1.0.0)
publish mono
start_git_daemon
GIT="git://127.0.0.1:$GIT_PORT"

# ---- go-get pages -----------------------------------------------------------
P="$T/pages/$H"
page() { # path html
  mkdir -p "$P/$1"
  printf '%s\n' "$2" >"$P/$1/go-get.html"
}
tag() { printf '<meta name="go-import" content="%s">' "$*"; }
page plain "<!DOCTYPE html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<title>$H/plain</title>
<!-- $(tag "$H/plain git https://wrong.example/commented-out") -->
<meta name=\"go-source\" content=\"$H/plain https://src.example/plain https://src.example/plain/tree{/dir}\">
$(tag "$H/other git $GIT/none.git")
$(tag "$H/plain git $GIT/plain.git")
</head>
<body>$(tag "$H/plain git https://wrong.example/after-body")</body>
</html>"
page mono/sub "<html><head>$(tag "$H/mono git $GIT/mono.git")</head></html>"
page mono "<html><head><meta name=go-import content=\"$H/mono git $GIT/mono.git\"/></head></html>"
page notag "<html><head><title>nothing here</title></head><body>hello</body></html>"
page mismatch "<html><head>$(tag "other.example/x git $GIT/plain.git")</head></html>"
page liar/sub "<html><head>$(tag "$H/liar git $GIT/plain.git")</head></html>"
page liar "<html><head>$(tag "$H/liar git $GIT/mono.git")</head></html>"
page hg "<html><head>$(tag "$H/hg hg https://hg.example/repo")</head></html>"
page filerepo "<html><head>$(tag "$H/filerepo git file://$T/srv/plain.git")</head></html>"
page afterbody "<html><head></head><body>$(tag "$H/afterbody git $GIT/plain.git")</body></html>"
page twice "<html><head>$(tag "$H/twice git $GIT/plain.git")$(tag "$H/twice git $GIT/mono.git")</head></html>"
page script "<html><head><script>if (a < b) {}</script>$(tag "$H/script git $GIT/plain.git")</head></html>"

start_goimport "$T/pages" "$H"

# The direct-mode reference: the go command reaches discover.example
# through the CONNECT proxy and trusts the test CA. (Overrides
# private_lib.bash's side_env; no git insteadOf is needed, the tags name
# the git daemon.)
: >"$T/gitconfig-go"
side_env() {
  if [[ $1 == direct ]]; then
    GOCMD_PROXY=direct
    GOCMD_ENV=(GIT_CONFIG_GLOBAL="$T/gitconfig-go" GOMODCACHE="$2" GOPRIVATE="$PRIV_PATTERNS"
      HTTPS_PROXY="$CONNECT_PROXY" NO_PROXY=127.0.0.1,localhost SSL_CERT_FILE="$T/ca.pem")
  else
    GOCMD_PROXY=
    GOCMD_ENV=(GIT_CONFIG_GLOBAL=/dev/null GOMODCACHE="$2" GONOSUMDB="$PRIV_PATTERNS")
  fi
}

make_corpus_tree "$T/tree"
start_upstream "$T/tree"
# No --git-route: discovery only. The CA reaches modproxy only through
# --upstream-ca.
HTTPS_PROXY="$CONNECT_PROXY" NO_PROXY=127.0.0.1,localhost,nowhere.invalid \
  start_modproxy --upstream "$UPSTREAM_URL" --private "$PRIV_PATTERNS" \
  --upstream-ca "$T/ca.pem" --list-ttl 0

DEV=$(git -C "$T/srv/plain.git" rev-parse dev)
queries=(
  "$H/plain v1.0.0" "$H/plain v1.1.0" "$H/plain latest" "$H/plain dev" "$H/plain ${DEV:0:10}"
  "$H/plain main" "$H/plain v9.9.9"
  "$H/mono/sub v1.0.0" "$H/mono/sub latest"
)
for q in "${queries[@]}"; do
  # shellcheck disable=SC2086
  ref_and_proxy $q
done
a=$(versions_of direct "$H/plain")
b=$(versions_of proxy "$H/plain")
assert_eq "$b" "$a" "go list -m -versions $H/plain"
echo "ok   versions $a"

# The repository came from the meta tag: provenance and the .info Origin.
info=$(curl -fsS "$PROXY_URL/$H/plain/@v/v1.1.0.info")
assert_contains "$info" "$GIT/plain.git" ".info Origin URL"
echo "ok   origin $(jq -c .Origin <<<"$info")"
grep -q "^$H /mono?go-get=1$" "$T/goimport.log" || fail "the root page of mono was not checked"
echo "ok   root page re-checked for $H/mono/sub"

# ---- failures: distinct, short explanations --------------------------------
get() { # path -> "status|body"
  local code
  code=$(curl -s -o "$T/body" -w '%{http_code}' "$PROXY_URL/$1")
  printf '%s|%s' "$code" "$(cat "$T/body")"
}
check() { # name path want_status want_text
  local r
  r=$(get "$2")
  [[ ${r%%|*} == "$3" ]] || fail "$1: status ${r%%|*}, want $3: ${r#*|}"
  assert_contains "${r#*|}" "$4" "$1"
  (($(wc -l <<<"${r#*|}") <= 4)) || fail "$1: explanation too long: ${r#*|}"
  echo "ok   $1 -> ${r%%|*}: $(head -1 <<<"${r#*|}")"
}
check "no meta tag" "$H/notag/@v/list" 404 "no go-import meta tag at https://$H/notag?go-get=1"
check "no page" "$H/missing/@v/list" 404 "no go-import meta tag at https://$H/missing?go-get=1 (HTTP status 404)"
check "tag for another root" "$H/mismatch/@v/list" 404 "meta tag other.example/x did not match import path $H/mismatch"
check "root page disagrees" "$H/liar/sub/@v/list" 404 "disagree about go-import for $H/liar"
check "not git" "$H/hg/@v/list" 404 "vcs \"hg\""
check "file scheme" "$H/filerepo/@v/list" 404 "file scheme disallowed"
check "tag after body" "$H/afterbody/@v/list" 404 "no go-import meta tag at"
check "two tags" "$H/twice/@v/list" 404 "multiple meta tags match import path"
check "unreadable page" "$H/script/@v/list" 404 "XML syntax error on line 1"
check "no host" "nowhere.invalid/x/@v/list" 404 "no --git-route matches it"
# The go command says the same kinds of things in direct mode.
for m in notag mismatch liar/sub afterbody twice; do
  out=$(cd "$T" && dl_json direct "$H/$m@latest" | jq -r '.Error // ""')
  [[ -n $out ]] || fail "direct mode accepts $H/$m"
done
echo "ok   direct mode fails for the same pages"

# Without the CA, the page cannot be trusted: a TLS failure, not a 404.
stop_modproxy
MODPROXY_DATA="$T/data2" HTTPS_PROXY="$CONNECT_PROXY" NO_PROXY=127.0.0.1,localhost \
  start_modproxy --upstream "$UPSTREAM_URL" --private "$PRIV_PATTERNS"
check "untrusted certificate" "$H/plain/@v/list" 502 "cannot fetch https://$H/plain?go-get=1"

if grep -iE "$H|nowhere" "$UPSTREAM_LOG"; then
  fail "a private module path reached the upstream"
fi
echo "ok   no private path reached the upstream"
echo "PASS private_discovery"
