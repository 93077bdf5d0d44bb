#!/usr/bin/env bash
# sec_direct.sh: "direct" in --upstream lets any client name a public
# module path, hence the host of its go-get page and, through the page, any
# repository. modproxy must not serve a private repository under a public
# path (the "stealer": a page naming the repository a private --git-route
# reaches), must not run git for it with its own configuration, must keep
# public and private mirrors apart, and must not be a way into the network
# it sits on (SSRF): addresses in --direct-deny (loopback, private,
# link-local... by default) are refused unless --direct-allow says
# otherwise, plain http and git:// only for --direct-insecure paths, go-get
# page redirects only on the page's own host, and error bodies quote
# nothing the pages said.
#
# Pages are served over https by tests/tools/goimport through its CONNECT
# proxy; git by a git daemon on 127.0.0.1. The direct-mode settings are
# given as MODPROXY_* variables so that a modproxy without them runs the
# same scenario (and fails it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

# ---- repositories: a private one, a public one, one both kinds name ---------
mkdir -p "$T/work" "$T/srv/team"
repo() { # name module tag: a repository with one commit and one tag
  local w="$T/work/$1"
  mkdir -p "$w" && (cd "$w" && _git init -q)
  printf 'module %s\n\ngo 1.19\n' "$2" >"$w/go.mod"
  printf 'package p\n\nconst Secret = "SOURCE-OF-%s"\n' "$1" >"$w/p.go"
  commit_at "$w" "2024-01-02T03:04:05Z" one
  (cd "$w" && _git tag "$3")
  publish "$1"
}
repo secretproj git.corp.example/team/secretproj v1.1.0
mv "$T/srv/secretproj.git" "$T/srv/team/"
repo open 127.0.0.1/open v1.0.0
repo lib corp.example/lib v1.2.0
start_git_daemon open
GIT="git://127.0.0.1:$GIT_PORT"

# ---- go-get pages -------------------------------------------------------------
P="$T/pages"
page() { # host/path tag-content
  mkdir -p "$P/$1"
  printf '<html><head><meta name="go-import" content="%s"></head></html>\n' "$2" >"$P/$1/go-get.html"
}
page 127.0.0.1/stealer "127.0.0.1/stealer git $GIT/team/secretproj"
page 127.0.0.1/stealer2 "127.0.0.1/stealer2 git git://127.1:$GIT_PORT/team//./secretproj.git"
page 127.0.0.1/viaconfig "127.0.0.1/viaconfig git https://127.0.0.1:9/secretproj"
page 127.0.0.1/open "127.0.0.1/open git $GIT/open.git"
page 127.0.0.1/lib "127.0.0.1/lib git $GIT/lib.git"
page corp.example/lib "corp.example/lib git $GIT/lib.git"
page 127.0.0.1/leak "127.0.0.1/leak git https://[::1]:1/SECRET-IN-PAGE"
page 127.0.0.1/nomatch "ADMIN-TOKEN-IN-PAGE git https://example.com/x"
page other.example/x "127.0.0.1/redir git $GIT/open.git"
mkdir -p "$P/127.0.0.1/redir"
echo "https://other.example/x?go-get=1" >"$P/127.0.0.1/redir/redirect"
start_goimport "$P" "corp.example,other.example"

# The operator's own git configuration: a rewrite that reaches the private
# repository. Public modules' git must not use it.
cat >"$T/opgitconfig" <<EOF
[url "$GIT/team/"]
	insteadOf = https://127.0.0.1:9/
EOF

echo 's3cret-pass' | "$TEST_MODPROXY_BIN" auth user alice >"$T/auth"
PRIV=git.corp.example/team/secretproj
serve() { # data-dir: modproxy in direct mode (settings also from the caller's variables)
  [[ -n ${MODPROXY_PID:-} ]] && stop_modproxy
  MODPROXY_DATA="$T/$1" HTTPS_PROXY="$CONNECT_PROXY" NO_PROXY= GIT_CONFIG_GLOBAL="$T/opgitconfig" \
    start_modproxy --upstream direct --private "git.corp.example/*,corp.example" \
    --git-route "git.corp.example/*/*=$GIT/{2}/{3}" \
    --auth-file "$T/auth" --upstream-ca "$T/ca.pem"
}
get() { # path [curl args...] -> "status|body"
  local p=$1 code
  shift
  code=$(curl -s -o "$T/body" -w '%{http_code}' "$@" "$PROXY_URL/$p")
  printf '%s|%s' "$code" "$(cat "$T/body")"
}
refused() { # name path status text: refused with a short text naming the rule
  local r
  r=$(get "$2")
  [[ ${r%%|*} == "$3" ]] || fail "$1: status ${r%%|*}, want $3: ${r#*|}"
  assert_contains "${r#*|}" "$4" "$1"
  (($(wc -l <<<"${r#*|}") <= 8 && ${#r} <= 660)) || fail "$1: explanation too long: ${r#*|}"
  echo "ok   $1 -> ${r%%|*}: $(head -1 <<<"${r#*|}")"
}
no_request() { # name pattern: goimport was never asked for it
  if grep -q "$2" "$T/goimport.log"; then
    fail "$1: modproxy fetched $(grep "$2" "$T/goimport.log" | head -1)"
  fi
}
nsecret() { # how many answers of this run carried the private repository
  grep -c 'SOURCE-OF-secretproj\|v1\.1\.0' "$T/leaks" || true
}

# ---- 1. the defaults: nothing on loopback for public paths ------------------
serve d1
: >"$T/leaks"
for p in stealer admin; do
  get "127.0.0.1/$p/@v/list" >>"$T/leaks"
  echo >>"$T/leaks"
done
[[ $(nsecret) == 0 ]] || fail "the private repository's tags reached an anonymous client: $(cat "$T/leaks")"
refused "page on loopback" 127.0.0.1/stealer/@v/list 403 "--direct-allow"
no_request "page on loopback" '^127.0.0.1 /stealer\|^127.0.0.1 /admin'
echo "ok   no go-get page was fetched from a denied address"
# The private path itself: 401 anonymously, the bytes with credentials.
[[ $(get "$PRIV/@v/list") == 401* ]] || fail "anonymous private list is not 401"
assert_contains "$(get "$PRIV/@v/list" -u alice:s3cret-pass)" "v1.1.0" "authorised private list"
echo "ok   private path: 401 anonymous, listed for alice"

# ---- 2. loopback allowed, no insecure schemes --------------------------------
MODPROXY_DIRECT_ALLOW=127.0.0.1/32 serve d2
refused "git:// for a public path" 127.0.0.1/open/@v/list 403 "--direct-insecure"
refused "redirect to another host" 127.0.0.1/redir/@v/list 404 "redirects to another host"
no_request "redirect to another host" '^other.example '
refused "meta tag naming a denied address" 127.0.0.1/leak/@v/list 403 "--direct-deny"
r=$(get 127.0.0.1/leak/@v/list)
[[ $r == *SECRET-IN-PAGE* ]] && fail "the page's content was echoed: $r"
r=$(get 127.0.0.1/nomatch/@v/list)
[[ $r == *ADMIN-TOKEN-IN-PAGE* ]] && fail "the page's content was echoed: $r"
assert_contains "$r" "does not name a git repository modproxy can use" "page without a usable tag"
echo "ok   error bodies quote nothing the pages said"

# ---- 3. loopback and git:// allowed: the repository rule ---------------------
MODPROXY_DIRECT_ALLOW=127.0.0.1/32 MODPROXY_DIRECT_INSECURE=127.0.0.1 serve d3
assert_contains "$(get 127.0.0.1/open/@v/list)" "200|v1.0.0" "a public repository allowed by the operator"
echo "ok   public module over git:// with --direct-insecure"
: >"$T/leaks"
for q in stealer/@v/list stealer/@v/v1.1.0.zip stealer/@v/v1.1.0.info stealer2/@v/list viaconfig/@v/list; do
  get "127.0.0.1/$q" >>"$T/leaks"
  echo >>"$T/leaks"
done
[[ $(nsecret) == 0 ]] || fail "the private repository reached an anonymous client: $(cat "$T/leaks")"
refused "stealer" 127.0.0.1/stealer/@v/list 403 "--git-route"
refused "stealer, another spelling" 127.0.0.1/stealer2/@v/list 403 "--git-route"
r=$(get 127.0.0.1/viaconfig/@v/list)
[[ $r == 502* ]] || fail "git used the proxy's own configuration for a public module: $r"
echo "ok   public paths get nothing of the private repository"
assert_contains "$(get "$PRIV/@v/list" -u alice:s3cret-pass)" "v1.1.0" "authorised private list"
zip=$(curl -s -u alice:s3cret-pass -o "$T/priv.zip" -w '%{http_code}' "$PROXY_URL/$PRIV/@v/v1.1.0.zip")
assert_eq "$zip" 200 "authorised private zip"
unzip -p "$T/priv.zip" | grep -q SOURCE-OF-secretproj || fail "the private zip lacks its source"
echo "ok   the private path still works for alice"

# One repository that a private path (corp.example/lib, through its page)
# and a public one (127.0.0.1/lib) both name: two mirrors.
mirrors() { find "$T/d3/git" -maxdepth 1 -name '*.git' | wc -l; }
assert_contains "$(get corp.example/lib/@v/list -u alice:s3cret-pass)" "v1.2.0" "private lib"
n=$(mirrors)
assert_contains "$(get 127.0.0.1/lib/@v/list)" "v1.2.0" "public lib"
assert_eq "$(mirrors)" "$((n + 1))" "mirrors after the public path named the private path's repository"
echo "ok   public and private mirrors of one repository are apart"
stop_modproxy
echo "PASS sec_direct"
