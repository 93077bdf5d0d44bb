#!/usr/bin/env bash
# ops_docs.sh: the documented deployment, as written. Every command line of
# README.md (fenced sh blocks, and inline `modproxy ...` spans), of the
# systemd unit (Exec lines and the install commands in its comments), of the
# Dockerfile's comments, and every config line of deploy/modproxy.conf (the
# commented samples too) is read from the files at test time and run against
# the built binary on loopback. System paths (/etc/modproxy,
# /var/lib/modproxy, /var/backups, /media) are moved under $T, the port 3000
# and https://goproxy.example.com become a free loopback port, and
# `sudo -u modproxy` is dropped (the test has no such user). A line that
# cannot run here (packages, root, systemd, Docker, the network) is listed
# in SKIP with the reason; its modproxy part is still run where it has one.
# Any other line runs as written and must exit 0 (or as EXPECT_RC says), so
# a new line in the docs is tested or listed here: the test follows the docs.
# (deploy/nginx/modproxy.conf runs with Debian's nginx in ops_nginx.sh.)
#
# Then the breaks of issue 16 one by one: the shipped config read by every
# command; MODPROXY_GIT_ROUTES and unknown MODPROXY_* variables; the sample
# git-route building the right URL (the go command fetches through it);
# sizes with suffixes; `serve --help` naming commands that exist; --upstream
# off with --private fetching nothing; query strings on the ops endpoints.
source "$(dirname "$0")/lib.sh"
# shellcheck source=private_lib.bash
source "$(dirname "$0")/private_lib.bash"

README=$SRC_DIR/README.md
CONF=$SRC_DIR/deploy/modproxy.conf
UNIT=$SRC_DIR/deploy/systemd/modproxy.service
DOCKERFILE=$SRC_DIR/deploy/Dockerfile

# `modproxy` on PATH is the built binary (as after `install`).
mkdir -p "$T/bin" "$T/work" "$T/etc/modproxy" "$T/var/lib/modproxy" \
  "$T/var/backups/modproxy" "$T/media"
ln -s "$TEST_MODPROXY_BIN" "$T/bin/modproxy"
PATH="$T/bin:$PATH"
PORT=$(_free_port)
PORT2=$(_free_port)
export GOSUMDB=off # the README's "$GOSUMDB": no checksum database here
export MODPROXY_ADMIN_TOKEN=docs-token # what the README's refresh sends

# subst: a documented line or config file, moved onto this test's paths.
subst() {
  sed -e "s#/etc/modproxy#$T/etc/modproxy#g" \
    -e "s#/var/lib/modproxy#$T/var/lib/modproxy#g" \
    -e "s#/var/backups#$T/var/backups#g" \
    -e "s#/media/#$T/media/#g" \
    -e "s#127\.0\.0\.1:3000#127.0.0.1:$PORT#g" \
    -e "s#https://goproxy\.example\.com#http://127.0.0.1:$PORT#g" \
    -e "s#/usr/local/bin/modproxy#modproxy#g" \
    -e "s#build/modproxy#modproxy#g" \
    -e "s#^sudo -u modproxy ##"
}

# ---- the lines, from the files -------------------------------------------------
LINES=() # "SOURCE<TAB>LINE"
add_block_lines() { # file: fenced sh/bash blocks, continuation lines joined
  awk -v f="${1#"$SRC_DIR"/}" '
    /^[ \t]*```(sh|bash)[ \t]*$/ { inb = 1; next }
    /^[ \t]*```/ { inb = 0; next }
    inb {
      line = $0; sub(/^[ \t]+/, "", line)
      if (cont != "") { line = cont " " line; cont = "" }
      if (line ~ /\\$/) { sub(/[ \t]*\\$/, "", line); cont = line; next }
      if (line == "" || line ~ /^#/) next
      print f ":" NR "\t" line
    }' "$1"
}
add_inline_lines() { # README: inline `modproxy ...` spans that are whole commands
  grep -noE '`(sudo -u modproxy )?modproxy [^`]*`' "$README" | sed -E 's/^([0-9]+):`(.*)`$/README.md:\1\t\2/' |
    grep -vE $'\t''.*([A-Z]{2,}|\[|\.\.\.)' || true
}
add_comment_lines() { # file: commands in "#   cmd ..." comments (unit, Dockerfile)
  awk -v f="${1#"$SRC_DIR"/}" '
    /^#   +[a-z]/ {
      line = $0; sub(/^#[ \t]+/, "", line)
      if (cont != "") { line = cont " " line; cont = "" }
      if (line ~ /\\$/) { sub(/[ \t]*\\$/, "", line); cont = line; next }
      split(line, w, " ")
      if (w[1] ~ /=/) next # a commented unit setting, not a command
      print f ":" NR "\t" line
    }' "$1"
}
mapfile -t LINES < <(add_block_lines "$README"; add_inline_lines
  add_comment_lines "$UNIT"; add_comment_lines "$DOCKERFILE"
  grep -nE '^Exec[A-Za-z]*=' "$UNIT" | sed -E "s/^([0-9]+):Exec[A-Za-z]*=/deploy\/systemd\/modproxy.service:\1\t/")
((${#LINES[@]} > 20)) || fail "too few documented lines found (${#LINES[@]}): the extraction broke"

# SKIP: lines that cannot run in a test, as regexes on the line, with why.
# Their modproxy part (what follows `&&`, or the command of `docker`) runs.
SKIP=(
  '^deploy/deps\.sh'$'\t''installs Debian packages (root, the network)'
  '^cmake '$'\t''builds modproxy; the test runs the build it belongs to'
  '^ctest '$'\t''runs the whole suite, this test included'
  '^install '$'\t''installs files as root; the test uses the files where they are'
  '^useradd '$'\t''creates a system user (root); the commands run as the test user'
  '^systemctl '$'\t''needs systemd as PID 1; the unit'"'"'s ExecStart runs instead'
  '^docker build '$'\t''needs Docker; the image'"'"'s command runs instead'
  '^modproxy export .*golang\.org/x/tools'$'\t''needs x/tools and go1.21.0 from the network; flags checked with --help'
  '^modproxy import .*/media/bundle'$'\t''imports the bundle of the line above; flags checked with --help'
  '^modproxy export -o B --toolchain'$'\t''fetches a toolchain from the network; flags checked with --help'
)
skip_reason() { # line -> reason (empty: run it)
  local s
  for s in "${SKIP[@]}"; do
    [[ $1 =~ ${s%%$'\t'*} ]] && { echo "${s#*$'\t'}"; return; }
  done
  return 0
}

# The image's environment (Dockerfile ENV), for docker run/exec lines.
mapfile -t DOCKER_ENV < <(awk '/^ENV /{e=1} e{print} e&&!/\\$/{e=0}' "$DOCKERFILE" |
  grep -oE 'MODPROXY_[A-Z_]+=[^ \\]+' |
  sed -e "s#=:3000#=127.0.0.1:$PORT2#" -e "s#/var/lib/modproxy#$T/var/lib/modproxy#")

# serve_briefly ENV... -- CMD...: runs a serve line until /healthz answers.
serve_briefly() {
  local envs=() pid i
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  (cd "$T/work" && exec env MODPROXY_LISTEN="127.0.0.1:$PORT2" "${envs[@]}" "$@") >"$T/serve2.log" 2>&1 &
  pid=$!
  _PIDS+=("$pid")
  for ((i = 0; i < 100; i++)); do
    _http_answers "$PORT2" && break
    _alive "$pid" || fail "'$*' exited: $(cat "$T/serve2.log")"
    sleep 0.1
  done
  _http_answers "$PORT2" || fail "'$*' did not answer"
  _stop_pid "$pid" 10 || fail "'$*' did not stop cleanly"
}

# run_line SOURCE LINE: runs one documented command line.
run_line() {
  local src=$1 line reason part rc out
  line=$(subst <<<"$2")
  if [[ $line == *' && '* ]]; then # each part of a chain
    local rest=$line
    while [[ -n $rest ]]; do
      part=${rest%% && *}
      [[ $part == "$rest" ]] && rest= || rest=${rest#* && }
      run_line "$src" "$part"
    done
    return
  fi
  reason=$(skip_reason "$line")
  if [[ -n $reason ]]; then
    echo "skip $src: $line ($reason)"
    case $line in
      modproxy\ export* | modproxy\ import*)
        out=$(cd "$T/work" && eval "$line --help" 2>&1) || fail "$src: '$line --help': $out"
        ;;
    esac
    return
  fi
  echo "run  $src: $line"
  case $line in
    docker\ run*)
      local envs=() w
      for w in $line; do [[ $w == MODPROXY_*=* ]] && envs+=("$w"); done
      # CMD ["serve"], or the command given after the image
      part=serve
      [[ $line == *' modproxy serve'* ]] && part="serve${line##* modproxy serve}"
      # shellcheck disable=SC2086 # the documented words
      serve_briefly "${DOCKER_ENV[@]}" "${envs[@]}" -- modproxy $part
      ;;
    docker\ exec*)
      part=${line#docker exec modproxy }
      out=$(env "${DOCKER_ENV[@]}" bash -c "$part" 2>&1) || fail "$src: '$part': $out"
      ;;
    *'$MAINPID'*) # ExecReload: the service reloads, lives and says so
      local i
      out=$(MAINPID=$SERVICE_PID eval "$line" 2>&1) || fail "$src: '$line': $out"
      for ((i = 0; i < 50; i++)); do
        grep -q 'SIGHUP: reloaded' "$T/service.log" && break
        sleep 0.1
      done
      _alive "$SERVICE_PID" || fail "$src: the service died on reload: $(tail -n 3 "$T/service.log")"
      grep -q 'SIGHUP: reloaded' "$T/service.log" || fail "$src: no reload in the log: $(tail -n 3 "$T/service.log")"
      _http_answers "$PORT" || fail "$src: the service does not answer after the reload"
      ;;
    *'modproxy serve'*--help*) out=$(modproxy serve --help) ;;
    *'modproxy serve'*)
      if [[ $src == *modproxy.service* ]]; then # ExecStart: the service itself
        eval "exec $line" >"$T/service.log" 2>&1 &
        SERVICE_PID=$!
        _PIDS+=("$SERVICE_PID")
        local i
        for ((i = 0; i < 100; i++)); do
          _http_answers "$PORT" && break
          _alive "$SERVICE_PID" || fail "$src: the service exited: $(cat "$T/service.log")"
          sleep 0.1
        done
        _http_answers "$PORT" || fail "$src: the service did not answer"
      else
        # shellcheck disable=SC2086 # the documented words, as the shell splits them
        eval "set -- ${line#*modproxy }"
        serve_briefly -- modproxy "$@"
      fi
      ;;
    go\ env*) out=$(eval "goenv ${GO} ${line#go }" 2>&1) || fail "$src: $out" ;;
    *)
      rc=0
      out=$(cd "$T/work" && eval "$line" 2>&1) || rc=$?
      ((rc == ${EXPECT_RC[$line]:-0})) || fail "$src: '$line' exited $rc: $out"
      ;;
  esac
}

# Commands documented as failing when run as written, with why.
declare -A EXPECT_RC=(
  ['modproxy gc']=2     # "no limit to collect to": the README says to set max-cache-bytes
  ['modproxy export']=2 # the command's name in prose: "need -o BUNDLE and ..."
  ['modproxy export --toolchain']=2 # the flag's name in prose: "missing value"
  ['modproxy missing']=2 # the command's name in prose: "say where to write the list"
)

# The installed config: the shipped file, on this test's paths (the
# README's `install ... deploy/modproxy.conf /etc/modproxy/modproxy.conf`),
# and the auth file the README's auth lines append to.
subst <"$CONF" >"$T/etc/modproxy/modproxy.conf"
: >"$T/etc/modproxy/auth"
# A store for the commands run in ./ (./modproxy-data, the default --data).
(cd "$T/work" && printf 'module example.com/docs\n\ngo 1.19\n' >go.mod)
serve_briefly -- modproxy serve --sumdb off

# The service first (the unit's ExecStart), so that the commands documented
# beside it run beside it.
for entry in "${LINES[@]}"; do
  [[ $entry == deploy/systemd/modproxy.service:*$'\t'*"modproxy serve"* ]] && run_line "${entry%%$'\t'*}" "${entry#*$'\t'}"
done
[[ -n ${SERVICE_PID:-} ]] || fail "no ExecStart line with modproxy serve in $UNIT"
PROXY_URL=http://127.0.0.1:$PORT
for entry in "${LINES[@]}"; do
  [[ $entry == deploy/systemd/modproxy.service:*$'\t'*"modproxy serve"* ]] && continue
  run_line "${entry%%$'\t'*}" "${entry#*$'\t'}"
done
# The nightly backup line wrote its file, a SQLite database.
ls "$T"/var/backups/modproxy/modproxy-*.db >/dev/null || fail "the README's backup line wrote no file"
assert_eq "$(head -c 15 "$T"/var/backups/modproxy/modproxy-*.db)" "SQLite format 3" "the nightly backup"
# The auth lines added one user and one token.
assert_eq "$(grep -c '' "$T/etc/modproxy/auth")" 2 "lines the README's auth commands wrote"

# ---- every config line of deploy/modproxy.conf, the commented samples too ---
unset MODPROXY_ADMIN_TOKEN # the service has it; the file's lines come next
n=0
while IFS= read -r l; do
  kv=$(sed -E 's/^#[ \t]*//' <<<"$l")
  printf '%s\n' "$kv" | subst >"$T/one.conf"
  out=$(modproxy config --config "$T/one.conf" 2>&1) || fail "deploy/modproxy.conf: '$kv': $out"
  assert_contains "$out" "config $T/one.conf:1" "deploy/modproxy.conf: '$kv' is read"
  n=$((n + 1))
done < <(grep -E '^#?[ \t]*[a-z-]+[ \t]*=' "$CONF")
((n >= 10)) || fail "only $n config lines found in deploy/modproxy.conf"
echo "$n config lines of deploy/modproxy.conf read"

# ---- every store command reads the shipped file ----------------------------------
for c in stats fsck "pin --list" "gc --dry-run" config; do
  # shellcheck disable=SC2086
  out=$(modproxy $c --config "$T/etc/modproxy/modproxy.conf" 2>&1) || fail "modproxy $c --config (shipped file): $out"
done
for c in export import diag auth; do
  out=$(modproxy $c --config "$T/etc/modproxy/modproxy.conf" --help 2>&1) || fail "modproxy $c --config --help: $out"
done
printf 'listen = 127.0.0.1:1\nmax-cache-byte = 1G\n' >"$T/typo.conf"
rc=0
out=$(modproxy stats --config "$T/typo.conf" 2>&1) || rc=$?
assert_eq "$rc" 2 "a key no command knows"
assert_contains "$out" 'typo.conf:2: unknown key "max-cache-byte" (did you mean "max-cache-bytes"?)'

# ---- MODPROXY_* variables: the README's names, and no unknown one ------------
help=$(modproxy serve --help)
for v in $(grep -oE '^\| `--[a-z-]+[^|]*\| `MODPROXY_[A-Z_]+' "$README" | grep -oE 'MODPROXY_[A-Z_]+'); do
  assert_contains "$help" "[$v" "serve --help names the README's $v"
done
rc=0
out=$(MODPROXY_GIT_ROUTE=x modproxy stats --data "$T/work/modproxy-data" 2>&1) || rc=$?
assert_eq "$rc" 2 "an unknown MODPROXY_ variable"
assert_contains "$out" "unknown variable MODPROXY_GIT_ROUTE (did you mean MODPROXY_GIT_ROUTES?)"
out=$(MODPROXY_GIT_ROUTES='a.example/*=https://a.example/{2}.git b.example/*=https://b.example/{2}.git' modproxy config)
assert_contains "$out" "# MODPROXY_GIT_ROUTES" "MODPROXY_GIT_ROUTES is read"
assert_eq "$(grep -c '^git-route .*MODPROXY_GIT_ROUTES' <<<"$out")" 2 "both routes of MODPROXY_GIT_ROUTES"

# ---- sizes take suffixes --------------------------------------------------------
for s in 100G 512M 64K 1048576 2GiB; do
  out=$(modproxy config --max-cache-bytes "$s" --memory-cache "$s" 2>&1) || fail "size $s: $out"
done
rc=0
out=$(modproxy config --max-cache-bytes 5X 2>&1) || rc=$?
assert_eq "$rc" 2 "a size with a bad suffix"
out=$(modproxy stats --data "$T/work/modproxy-data" --max-cache-bytes 512M)
assert_contains "$out" "536870912 bytes" "512M is 512 MiB"
out=$(modproxy stats --data "$T/work/modproxy-data" --max-cache-bytes 64K)
assert_contains "$out" "65536 bytes" "64K is 64 KiB"

# ---- help names commands that exist ----------------------------------------------
# Every `modproxy CMD` a help names is a command; every `modproxy auth
# WORD`, one of auth's.
helps=$(for c in $(modproxy --help | awk '$1 == "modproxy" {print $2}'); do modproxy "$c" --help; done)
for c in $(grep -oE '`modproxy [a-z]+' <<<"$helps" | awk '{print $2}' | sort -u); do
  modproxy "$c" --help >/dev/null || fail "a help names 'modproxy $c', which is no command"
done
auth_help=$(modproxy auth --help)
for w in $(grep -oE 'modproxy auth [a-z]+' <<<"$helps" | awk '{print $3}' | sort -u); do
  assert_contains "$auth_help" "modproxy auth $w " "a help names 'modproxy auth $w'"
done

# ---- ops endpoints with query strings -------------------------------------------
for p in '/healthz?probe=1' '/readyz?format=json' '/metrics?x=1'; do
  code=$(curl -s -o "$T/ops.out" -w '%{http_code}' "$PROXY_URL$p")
  assert_eq "$code" 200 "GET $p"
done
json=$(curl -fsS "$PROXY_URL/readyz?format=json")
assert_eq "$(jq -r .ready <<<"$json")" true "/readyz?format=json"
assert_eq "$(jq -r .store <<<"$json")" writable "/readyz?format=json: the store"
_stop_pid "$SERVICE_PID" 10 || fail "the service did not stop cleanly"

# ---- the sample git-route, with the go command ----------------------------------
# The sample's private and git-route lines, with the git host's https://
# base replaced by a file:// directory holding team/lib.git.
make_team_lib
grep -E '^#[ \t]*(private|git-route)[ \t]*=' "$CONF" | sed -E 's/^#[ \t]*//' |
  sed -e "s#=https://git\.corp\.example/#=file://$T/srv/#" >"$T/route.conf"
assert_eq "$(grep -c '' "$T/route.conf")" 2 "the sample's private and git-route lines"
start_modproxy --config "$T/route.conf" --upstream "http://127.0.0.1:1" --sumdb off
scratch_module route
GOCMD_ENV=(GONOSUMDB='git.corp.example/*')
out=$(gocmd mod download -json git.corp.example/team/lib@v1.0.0 2>&1) ||
  fail "the sample git-route: go mod download: $out"
assert_contains "$out" '"Version": "v1.0.0"' "the sample git-route"
stop_modproxy

# ---- --upstream off with --private fetches nothing, git included -----------------
# The README: `--offline` fetches nothing, "same as --upstream off".
rm -rf "$T/data"
start_modproxy --config "$T/route.conf" --upstream off --sumdb off
scratch_module off
GOCMD_ENV=(GONOSUMDB='git.corp.example/*' GOMODCACHE="$T/modcache-off")
rc=0
out=$(gocmd mod download -json git.corp.example/team/lib@v1.0.0 2>&1) || rc=$?
((rc != 0)) || fail "--upstream off fetched a private module from git: $out"
assert_contains "$out" "offline" "--upstream off: the go command is told why"
mirrors=$(find "$MODPROXY_DATA/git" -name HEAD -not -path '*/template/*' 2>/dev/null)
assert_eq "$mirrors" "" "git mirrors made under --upstream off"
stop_modproxy
echo "PASS"
