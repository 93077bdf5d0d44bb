# shellcheck shell=bash
# Helpers for the private_*.sh tests, sourced after lib.sh (named .bash so
# that CTest, which runs tests/e2e/*.sh, does not take it for a test).
#
# make_private_repos: builds the test repositories under $T/work (working
#   trees) and publishes them as bare repositories in $T/srv/<name>.git.
# start_git_daemon [REPO]: serves $T/srv on 127.0.0.1 (git://), ready once
#   REPO (default plain) answers; sets GIT_PORT; each request is logged in
#   $T/gitdaemon.log ("... upload-pack for '/NAME.git'").
# start_goimport PAGES HOSTS: serves go-get pages from PAGES for the
#   comma-separated HOSTS over https (tests/tools/goimport); sets
#   CONNECT_PROXY (for HTTPS_PROXY) and writes its CA to $T/ca.pem and its
#   requests to $T/goimport.log.
# go_git_config FILE: git config for the go command's direct mode that
#   points https://github.com/corp/ at the git daemon and
#   https://github.com/corpfile/ at file://$T/srv/.
# ref_and_proxy MOD QUERY: `go mod download -json MOD@QUERY` in direct mode
#   and through $PROXY_URL, each with an empty module cache; fails unless
#   Version, Sum and GoModSum agree (or both fail).

PRIV_PATTERNS='github.com/corp,github.com/corpfile'

_git() { git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main \
  -c commit.gpgsign=false -c tag.gpgsign=false "$@"; }

# commit_at DIR DATE MESSAGE: commits everything in DIR with a fixed date.
commit_at() {
  (cd "$1" && git add -A . &&
    GIT_AUTHOR_DATE="$2" GIT_COMMITTER_DATE="$2" _git commit -q -m "$3")
}

# make_team_lib: git.corp.example/team/lib v1.0.0, as the shipped sample's
# git-route expects it, in the bare repository $T/srv/team/lib.git.
make_team_lib() {
  local w="$T/gitwork/lib"
  mkdir -p "$w" "$T/srv/team"
  (cd "$w" && _git init -q)
  printf 'module git.corp.example/team/lib\n\ngo 1.19\n' >"$w/go.mod"
  printf 'package lib\n\nconst V = 1\n' >"$w/lib.go"
  commit_at "$w" "2021-01-02T03:04:05Z" one
  (cd "$w" && _git tag v1.0.0)
  git clone -q --bare "$w" "$T/srv/team/lib.git"
}

publish() { # name: bare copy of $T/work/name in $T/srv/name.git
  rm -rf "$T/srv/$1.git"
  git clone -q --bare "$T/work/$1" "$T/srv/$1.git"
  touch "$T/srv/$1.git/git-daemon-export-ok"
}

make_private_repos() {
  mkdir -p "$T/work" "$T/srv"
  local w
  # plain: tags, a retraction, a prerelease, a branch, a vendor directory,
  # a nested module, a symlink, export-ignore, a deleted tag.
  w="$T/work/plain"
  mkdir -p "$w" && (cd "$w" && _git init -q)
  printf 'module github.com/corp/plain\n\ngo 1.19\n' >"$w/go.mod"
  printf 'package plain\n\nconst V = 1\n' >"$w/plain.go"
  printf 'MIT\n' >"$w/LICENSE"
  commit_at "$w" "2021-01-02T03:04:05Z" one
  (cd "$w" && _git tag v1.0.0 && _git tag v1.0.1)
  mkdir -p "$w/vendor/example.com/dep" "$w/nested" "$w/internal/vendor"
  printf 'package dep\n' >"$w/vendor/example.com/dep/dep.go"
  printf '# example.com/dep v1.0.0\n' >"$w/vendor/modules.txt"
  printf 'package v\n' >"$w/internal/vendor/keep.go"
  printf 'module github.com/corp/plain/nested\n' >"$w/nested/go.mod"
  printf 'package nested\n' >"$w/nested/n.go"
  ln -s plain.go "$w/link.go"
  printf 'ignored.txt export-ignore\n*.txt text eol=lf\n' >"$w/.gitattributes"
  printf 'kept by the go command\n' >"$w/ignored.txt"
  printf 'module github.com/corp/plain\n\ngo 1.19\n\nretract v1.0.1 // broken\n' >"$w/go.mod"
  commit_at "$w" "2021-02-03T04:05:06Z" two
  (cd "$w" && _git tag v1.1.0 && _git tag -a v1.2.0-pre -m pre && _git tag v1.3.0 && _git tag -d v1.3.0 >/dev/null)
  (cd "$w" && _git checkout -q -b dev)
  printf 'package plain\n\nconst W = 2\n' >"$w/dev.go"
  commit_at "$w" "2021-03-04T05:06:07Z" dev
  printf 'package plain\n\nconst X = 3\n' >"$w/dev2.go"
  commit_at "$w" "2021-03-05T05:06:07Z" dev2
  (cd "$w" && _git checkout -q main)
  printf 'package plain\n\nconst M = 4\n' >"$w/main2.go"
  commit_at "$w" "2021-04-05T06:07:08Z" main-tip
  publish plain

  # mono: a module in a subdirectory with prefixed tags, LICENSE at the root.
  w="$T/work/mono"
  mkdir -p "$w/sub" && (cd "$w" && _git init -q)
  printf 'module github.com/corpfile/mono/sub\n\ngo 1.19\n' >"$w/sub/go.mod"
  printf 'package sub\n' >"$w/sub/sub.go"
  printf 'Apache\n' >"$w/LICENSE"
  printf 'root\n' >"$w/README"
  commit_at "$w" "2022-01-01T00:00:00Z" one
  (cd "$w" && _git tag sub/v1.0.0 && _git tag v9.0.0)
  printf 'package sub\n\nconst Y = 1\n' >"$w/sub/y.go"
  commit_at "$w" "2022-01-02T00:00:00Z" two
  publish mono

  # major: /v2 in a v2/ subdirectory; rootv2: /v2 at the root.
  w="$T/work/major"
  mkdir -p "$w/v2" && (cd "$w" && _git init -q)
  printf 'module github.com/corp/major\n' >"$w/go.mod"
  printf 'package major\n' >"$w/m.go"
  printf 'module github.com/corp/major/v2\n' >"$w/v2/go.mod"
  printf 'package major\n' >"$w/v2/m.go"
  commit_at "$w" "2022-02-01T00:00:00Z" one
  (cd "$w" && _git tag v1.0.0 && _git tag v2.0.0)
  publish major
  w="$T/work/rootv2"
  mkdir -p "$w" && (cd "$w" && _git init -q)
  printf 'module github.com/corp/rootv2/v2\n' >"$w/go.mod"
  printf 'package rootv2\n' >"$w/r.go"
  commit_at "$w" "2022-03-01T00:00:00Z" one
  (cd "$w" && _git tag v2.0.0)
  printf 'package rootv2\n\nconst Z = 1\n' >"$w/z.go"
  commit_at "$w" "2022-03-02T00:00:00Z" two
  (cd "$w" && _git tag v2.1.0)
  publish rootv2

  # incompat: no go.mod, v2+ tags.
  w="$T/work/incompat"
  mkdir -p "$w" && (cd "$w" && _git init -q)
  printf 'package incompat\n' >"$w/i.go"
  commit_at "$w" "2022-04-01T00:00:00Z" one
  (cd "$w" && _git tag v1.0.0 && _git tag v2.0.0 && _git tag v3.1.0 && _git tag v3.1 && _git tag junk)
  publish incompat

  # Upper: upper-case letters in the module path.
  w="$T/work/Upper"
  mkdir -p "$w" && (cd "$w" && _git init -q)
  printf 'module github.com/corp/Upper\n' >"$w/go.mod"
  printf 'package upper\n\nfunc Name() string { return "Upper" }\n' >"$w/u.go"
  commit_at "$w" "2022-05-01T00:00:00Z" one
  (cd "$w" && _git tag v0.1.0)
  publish Upper
}

start_git_daemon() {
  GIT_PORT=$(_free_port)
  git daemon --listen=127.0.0.1 --port="$GIT_PORT" --base-path="$T/srv" \
    --reuseaddr --verbose "$T/srv" >"$T/gitdaemon.log" 2>&1 &
  _PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    git ls-remote "git://127.0.0.1:$GIT_PORT/${1:-plain}.git" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "git daemon did not start"
}

start_goimport() {
  build_tools
  "$TOOLS/goimport" -pages "$1" -hosts "$2" -addr-file "$T/goimport.addr" \
    -ca-out "$T/ca.pem" -log "$T/goimport.log" >"$T/goimport.out" 2>&1 &
  _PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $T/goimport.addr ]] && break
    sleep 0.1
  done
  [[ -s $T/goimport.addr ]] || fail "goimport did not start: $(cat "$T/goimport.out")"
  CONNECT_PROXY="http://$(sed -n 's/.*proxy=\([^ ]*\).*/\1/p' "$T/goimport.addr")"
  echo "go-get pages for $2 through $CONNECT_PROXY"
}

go_git_config() {
  cat >"$1" <<EOF
[url "git://127.0.0.1:$GIT_PORT/"]
	insteadOf = https://github.com/corp/
[url "file://$T/srv/"]
	insteadOf = https://github.com/corpfile/
[protocol "file"]
	allow = always
EOF
}

# The routes modproxy serves the same repositories through.
proxy_routes() {
  PROXY_ROUTES=(--git-route "github.com/corp/*=git://127.0.0.1:$GIT_PORT/{3}.git"
    --git-route "github.com/corpfile/*=file://$T/srv/{3}.git")
}

# side_env direct|proxy CACHE: the go command's settings for one side.
side_env() {
  if [[ $1 == direct ]]; then
    GOCMD_PROXY=direct
    GOCMD_ENV=(GIT_CONFIG_GLOBAL="$T/gitconfig-go" GOMODCACHE="$2" GOPRIVATE="$PRIV_PATTERNS")
  else
    GOCMD_PROXY=
    GOCMD_ENV=(GIT_CONFIG_GLOBAL=/dev/null GOMODCACHE="$2" GONOSUMDB="$PRIV_PATTERNS")
  fi
}

dl_json() { # side module@query -> JSON on stdout (empty on failure)
  local side=$1 mq=$2
  local n
  n=$(mktemp -u XXXXXX)
  local cache="$T/cache-$side-$n"
  side_env "$side" "$cache"
  gocmd mod download -json "$mq" 2>"$T/err-$side-$n" || true
  GOCMD_ENV=() GOCMD_PROXY=
}

ref_and_proxy() { # module query
  local mq="$1@$2" a b fa fb
  a=$(cd "$T" && dl_json direct "$mq")
  b=$(cd "$T" && dl_json proxy "$mq")
  fa=$(jq -r '[.Version, .Sum, .GoModSum, (.Error // "")] | join(" ")' <<<"$a")
  fb=$(jq -r '[.Version, .Sum, .GoModSum, (.Error // "")] | join(" ")' <<<"$b")
  if [[ -z $(jq -r '.Error // ""' <<<"$a") ]]; then
    assert_eq "$fb" "$fa" "$mq through modproxy vs direct"
    echo "ok   $mq -> $fa"
  else
    [[ -n $(jq -r '.Error // ""' <<<"$b") ]] || fail "$mq: direct fails ($fa) but modproxy answers ($fb)"
    echo "ok   $mq fails both ways"
  fi
}

versions_of() { # side module -> `go list -m -versions`
  local side=$1 m=$2 cache="$T/cache-list-$1-$RANDOM"
  mkdir -p "$T/lst" && cd "$T/lst" && printf 'module example.com/lst\n' >go.mod
  side_env "$side" "$cache"
  gocmd list -m -versions "$m"
  GOCMD_ENV=() GOCMD_PROXY=
}
