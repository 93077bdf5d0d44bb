#!/usr/bin/env bash
# sec_matrix.sh: every access-controlled route, with every method (GET,
# HEAD, POST and one modproxy does not support), anonymous, with wrong
# credentials and with the right ones, in both --auth-required modes: the
# status of each, and that no answer to a client without the right
# credentials names a private module it did not name itself or carries
# anything of one (a version, a hash, a commit, the git host, the id of a
# private request), in its body or its headers (no ETag, no length of a
# private file). An anonymous HEAD or GET of a private module never starts a
# fetch from its git host. Then /diag/modfile: an anonymous analysis sees
# what an anonymous client could fetch, nothing more (no h1 of a private
# zip stored for someone else, no private versions other builds resolved).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"
source "$(dirname "$0")/mirror_lib.bash"

make_private_repos
start_git_daemon
proxy_routes
make_corpus_tree "$T/tree"
start_upstream "$T/tree"
start_sumdb "$T/tree"

TOKEN=$("$TEST_MODPROXY_BIN" auth token ci 2>&1 >"$T/auth" | tail -n 1)
ADMIN=admin-$RANDOM$RANDOM$RANDOM
P=github.com/corp/plain # private, fetched by an authorised client
Q=github.com/corp/major # private, never fetched by an authorised client
U=rsc.io/quote          # public
DB=$SUMDB_NAME

serve() { # mode: modproxy with --auth-required mode, on the same store
  start_modproxy --upstream "$UPSTREAM_URL" --sumdb "$SUMDB_KEY $SUMDB_URL" \
    --private "$PRIV_PATTERNS" "${PROXY_ROUTES[@]}" --auth-file "$T/auth" \
    --auth-required "$1" --admin-token "$ADMIN"
}

# req NAME METHOD PATH CURL-ARGS...: headers in $T/NAME.head, body in
# $T/NAME.body; prints the status.
req() {
  local name=$1 method=$2 path=$3
  shift 3
  local how=(-X "$method")
  case $method in
    HEAD) how=(-I) ;;
    POST) [[ $path == /diag/modfile* ]] &&
      how=(--data-binary "@$T/gomod" -H 'Content-Type: text/plain') ;;
  esac
  curl -s --max-time 30 "${how[@]}" -D "$T/$name.head" -o "$T/$name.body" \
    -w '%{http_code}' "$@" "$PROXY_URL$path"
}
id_of() { # NAME: the X-Request-Id of that response
  awk 'tolower($1) == "x-request-id:" {print $2}' "$T/$1.head" | tr -d '\r'
}

# ---- what there is to leak: an authorised client's traffic -------------------------
serve private
RIGHT=(-H "Authorization: Bearer $TOKEN")
printf 'module example.com/m\n\ngo 1.19\n\nrequire %s v1.5.2\n' "$U" >"$T/gomod"
SECRET_IDS=()
for p in "/$P/@v/list" "/$P/@latest" "/$P/@v/v1.1.0.info" "/$P/@v/v1.1.0.mod" \
  "/$P/@v/v1.1.0.zip" "/$P/@v/v9.9.9.info" "/$P/@v/v9.9.9.info" "/$P/@v/main.mod" \
  "/diag/module/$P" "/sumdb/$DB/lookup/$P@v1.1.0"; do
  req warm GET "$p" "${RIGHT[@]}" >/dev/null
  SECRET_IDS+=("$(id_of warm)")
done
req warm GET "/$U/@v/v1.5.2.info" "${RIGHT[@]}" >/dev/null
PUB_ID=$(id_of warm)
assert_eq "$(req view GET "/diag/module/$P?format=json" "${RIGHT[@]}")" 200 "authorised module view"
ZIP_H1=$(jq -r '.versions[] | select(.version == "v1.1.0") | .zip_h1' "$T/view.body")
MOD_H1=$(jq -r '.versions[] | select(.version == "v1.1.0") | .gomod_h1' "$T/view.body")
req info GET "/$P/@v/v1.1.0.info" "${RIGHT[@]}" >/dev/null
COMMIT=$(jq -r '.Origin.Hash' "$T/info.body")
[[ $ZIP_H1 == h1:* && $MOD_H1 == h1:* && ${#COMMIT} == 40 ]] ||
  fail "no private hashes to look for: zip $ZIP_H1, mod $MOD_H1, commit $COMMIT"
# Never in an answer to a client without the right credentials.
SECRETS=("$ZIP_H1" "$MOD_H1" "$COMMIT" "127.0.0.1:$GIT_PORT" v1.2.0-pre "${SECRET_IDS[@]}")
sleep 1.2 # records reach the store in batches

# ---- the matrix ---------------------------------------------------------------------
# Each cell: the statuses for anonymous, wrong and right credentials with
# --auth-required private, then the same with --auth-required all ("x":
# not asked, so that nothing fetches that module).
PRIV=401:401:200:401:401:200     # about a private module
PUB=200:200:200:401:401:200      # public
OPEN=200:200:200:200:200:200     # health checks
NOPE=405:405:405:405:405:405     # a method the route does not take
HIDDEN=404:404:200:401:401:200   # the record of a private request
UNFETCHED=401:401:x:401:401:x    # private, not asked for with credentials
BADPRIV=401:401:404:401:401:404  # a version of a private module that cannot exist
LOOKUP=401:401:404:401:401:404   # a private module is never looked up
ADMIN_GET=401:401:405:401:401:405 # the admin token, but not POST
MODFILE_GET=405:405:405:401:401:405
ADMIN_NONE=404:404:404:404:404:404  # no such admin endpoint, whoever asks
# A tile of the database's signed tree (partial while it has < 256 records).
SIZE=$(curl -s "${RIGHT[@]}" "$PROXY_URL/sumdb/$DB/latest" | sed -n 2p)
[[ $SIZE =~ ^[0-9]+$ ]] || fail "no tree size from /sumdb/$DB/latest: '$SIZE'"
TILE=tile/8/0/000
((SIZE >= 256)) || TILE+=.p/$SIZE
TABLE="
# target                           GET          HEAD         POST       other
/$P/@v/list                        PRIV         PRIV         NOPE       NOPE
/$P/@latest                        PRIV         PRIV         NOPE       NOPE
/$P/@v/v1.1.0.info                 PRIV         PRIV         NOPE       NOPE
/$P/@v/v1.1.0.mod                  PRIV         PRIV         NOPE       NOPE
/$P/@v/v1.1.0.zip                  PRIV         PRIV         NOPE       NOPE
/$P/@v/main.mod                    BADPRIV      BADPRIV      NOPE       NOPE
/github.com/corp/%70lain/@v/list   PRIV         PRIV         NOPE       NOPE
/github.com/c%6Frp/plain/@v/list   PRIV         PRIV         NOPE       NOPE
//$P/@v/list                       UNFETCHED    UNFETCHED    NOPE       NOPE
/github.com/!corp/plain/@v/list    UNFETCHED    UNFETCHED    NOPE       NOPE
/$Q/@v/list                        UNFETCHED    UNFETCHED    NOPE       NOPE
/$Q/@v/v1.0.0.info                 UNFETCHED    UNFETCHED    NOPE       NOPE
/$Q/@v/v1.0.0.zip                  UNFETCHED    UNFETCHED    NOPE       NOPE
/$Q/@latest                        UNFETCHED    UNFETCHED    NOPE       NOPE
/$U/@v/list                        PUB          PUB          NOPE       NOPE
/$U/@latest                        PUB          PUB          NOPE       NOPE
/$U/@v/v1.5.2.info                 PUB          PUB          NOPE       NOPE
/$U/@v/v1.5.2.mod                  PUB          PUB          NOPE       NOPE
/$U/@v/v1.5.2.zip                  PUB          PUB          NOPE       NOPE
/                                  PUB          PUB          NOPE       NOPE
/diag                              PUB          PUB          NOPE       NOPE
/diag?format=json                  PUB          PUB          NOPE       NOPE
/diag/config                       PUB          PUB          NOPE       NOPE
/diag/mirror                       PUB          PUB          NOPE       NOPE
/diag/req/$PUB_ID                  PUB          PUB          NOPE       NOPE
/diag/module/$U                    PUB          PUB          NOPE       NOPE
/diag/module/$P                    PRIV         PRIV         NOPE       NOPE
/diag/module/$Q                    UNFETCHED    UNFETCHED    NOPE       NOPE
/diag/module/$U@v1.5.2             PUB          PUB          NOPE       NOPE
/diag/module/$P@v1.1.0             PRIV         PRIV         NOPE       NOPE
/diag/module/$Q@v1.0.0             UNFETCHED    UNFETCHED    NOPE       NOPE
/diag/                             PUB          PUB          NOPE       NOPE
/diag/config?format=json           PUB          PUB          NOPE       NOPE
/diag/mirror?format=json           PUB          PUB          NOPE       NOPE
/diag/modfile?format=json          MODFILE_GET  MODFILE_GET  PUB        NOPE
/diag/modfile                      MODFILE_GET  MODFILE_GET  PUB        NOPE
/sumdb/$DB/supported               PUB          PUB          NOPE       NOPE
/sumdb/$DB/latest                  PUB          PUB          NOPE       NOPE
/sumdb/$DB/lookup/$U@v1.5.2        PUB          PUB          NOPE       NOPE
/sumdb/$DB/lookup/$P@v1.1.0        LOOKUP       LOOKUP       NOPE       NOPE
/sumdb/$DB/lookup/$Q@v1.0.0        LOOKUP       LOOKUP       NOPE       NOPE
/sumdb/$DB/$TILE                   PUB          PUB          NOPE       NOPE
/metrics                           PUB          PUB          NOPE       NOPE
/healthz                           OPEN         OPEN         NOPE       NOPE
/readyz                            OPEN         OPEN         NOPE       NOPE
/admin/refresh?module=$U           ADMIN_GET    ADMIN_GET    PRIV       NOPE
/admin/nothing                     ADMIN_NONE   ADMIN_NONE   ADMIN_NONE NOPE
"
for id in "${SECRET_IDS[@]}"; do
  TABLE+="/diag/req/$id HIDDEN HIDDEN NOPE NOPE"$'\n'
done

FAILS=()
# run_matrix MODE: every row, method and credential, in one curl process
# (a config of requests separated by "next"); then the statuses, and the
# answers to clients without the right credentials searched for secrets.
run_matrix() {
  local mode=$1 target cells i j n=0 off=0 dir want
  dir=$T/$mode
  local creds=(anonymous wrong right) methods=(GET HEAD POST DELETE)
  local -a wants=() whats=() secret_files=() name_files=() etag_files=() right_files=()
  [[ $mode == all ]] && off=3
  mkdir -p "$dir"
  printf '%s\n' "${SECRETS[@]}" >"$T/secrets"
  : >"$dir/curl.cfg"
  while read -r target cells; do
    [[ -z $target || $target == \#* ]] && continue
    read -r -a cells <<<"$cells"
    for i in 0 1 2 3; do
      IFS=: read -r -a col <<<"${!cells[i]}"
      for j in 0 1 2; do
        want=${col[j + off]}
        [[ $want == x ]] && continue
        n=$((n + 1))
        wants[n]=$want
        whats[n]="$mode: ${methods[i]} $target (${creds[j]})"
        {
          echo "url = \"$PROXY_URL$target\""
          echo "dump-header = \"$dir/$n.head\""
          echo "output = \"$dir/$n.body\""
          echo 'write-out = "%{http_code}\n"'
          echo "max-time = 30"
          case ${methods[i]} in
            HEAD) echo "head" ;;
            POST) echo 'request = "POST"'
              [[ $target == /diag/modfile* ]] &&
                echo "data-binary = \"@$T/gomod\"" && echo 'header = "Content-Type: text/plain"' ;;
            *) echo "request = \"${methods[i]}\"" ;;
          esac
          if [[ $target == /admin/* ]]; then # the admin token is its credential
            [[ $j == 1 ]] && echo "header = \"Authorization: Bearer $TOKEN\"" # a user's
            [[ $j == 2 ]] && echo "header = \"Authorization: Bearer $ADMIN\""
          else
            [[ $j == 1 ]] && echo 'user = "ci:not-the-token"'
            [[ $j == 2 ]] && echo "header = \"Authorization: Bearer $TOKEN\""
          fi
          echo "next"
        } >>"$dir/curl.cfg"
        [[ $j == 2 ]] && right_files+=("$dir/$n.body") && continue
        secret_files+=("$dir/$n.head" "$dir/$n.body")
        # A private module's name, unless the client named it itself.
        [[ $(printf '%b' "${target//%/\\x}") == *corp/* ]] ||
          name_files+=("$dir/$n.head" "$dir/$n.body")
        [[ $want == 40? ]] && etag_files+=("$dir/$n.head")
      done
    done
  done <<<"$TABLE"
  sed -i '$d' "$dir/curl.cfg" # no "next" after the last request
  curl -s -K "$dir/curl.cfg" >"$dir/codes" || true
  mapfile -t codes <"$dir/codes"
  for ((i = 1; i <= n; i++)); do
    [[ ${codes[i - 1]:-none} == "${wants[i]}" ]] ||
      FAILS+=("${whats[i]}: status ${codes[i - 1]:-none}, want ${wants[i]}")
  done
  # The search finds what there is to find: the right credentials see it.
  grep -qawF -f "$T/secrets" -- "${right_files[@]}" ||
    fail "$mode: no answer holds a private hash, even with the right credentials"
  local f
  for f in $(grep -alwF -f "$T/secrets" -- "${secret_files[@]}" || true); do
    i=$(basename "${f%.*}")
    FAILS+=("${whats[i]}: the answer holds $(grep -aowF -f "$T/secrets" -- "$f" | head -n 1)")
  done
  for f in $(grep -al 'corp/' -- "${name_files[@]}" || true); do
    i=$(basename "${f%.*}")
    FAILS+=("${whats[i]}: the answer names a private module: $(grep -ao 'corp/[[:alnum:]._-]*' -- "$f" | head -n 1)")
  done
  for f in $(grep -ail '^etag:' -- "${etag_files[@]}" || true); do
    i=$(basename "${f%.*}")
    FAILS+=("${whats[i]}: an ETag on a ${codes[i - 1]}")
  done
  echo "$mode: $n requests checked"
}

run_matrix private

# ---- /diag/modfile: the analysis sees what its client could fetch -----------------
# A go.sum line for the private zip an authorised client fetched: the
# anonymous analysis must not compare it with the stored one.
cat >"$T/gomod" <<EOF
module example.com/m

go 1.19

require $P v1.1.0
EOF
printf '%s v1.1.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' "$P" >"$T/gosum"
modfile() { # NAME CURL-ARGS...
  local name=$1
  shift
  curl -s -o "$T/$name" -F "gomod=@$T/gomod" -F "gosum=@$T/gosum" -w '%{http_code}' \
    "$@" "$PROXY_URL/diag/modfile"
}
assert_eq "$(modfile gosum-anon)" 200 "anonymous analysis with a go.sum"
assert_eq "$(modfile gosum-right "${RIGHT[@]}")" 200 "authorised analysis with a go.sum"
assert_contains "$(cat "$T/gosum-right")" "$ZIP_H1" "the authorised analysis compares the go.sum"
[[ $(cat "$T/gosum-anon") != *"$ZIP_H1"* ]] ||
  FAILS+=("anonymous /diag/modfile: a private zip's h1 in: $(cat "$T/gosum-anon")")
# An indirect private requirement replaced by a directory: what other builds
# resolved for it (v1.1.0) is not the anonymous client's to know.
mkdir -p "$T/x"
cat >"$T/gomod" <<EOF
module example.com/m

go 1.19

require $P v1.0.0 // indirect

replace $P => ./x
EOF
: >"$T/gosum"
assert_eq "$(modfile drift-anon)" 200 "anonymous analysis with a replaced private module"
assert_eq "$(modfile drift-right "${RIGHT[@]}")" 200 "authorised analysis with a replaced private module"
assert_contains "$(cat "$T/drift-right")" "v1.1.0" "the authorised analysis shows the drift"
[[ $(cat "$T/drift-anon") != *v1.1.0* ]] ||
  FAILS+=("anonymous /diag/modfile: private versions in: $(cat "$T/drift-anon")")
printf 'module example.com/m\n\ngo 1.19\n\nrequire %s v1.5.2\n' "$U" >"$T/gomod"

stop_modproxy
serve all
run_matrix all
stop_modproxy

# Nothing asked the git host for the module only anonymous clients asked for.
grep -q "/major.git" "$T/gitdaemon.log" &&
  FAILS+=("an anonymous request made modproxy fetch $Q from its git host")
grep -q "/plain.git" "$T/gitdaemon.log" || fail "the git host log shows no fetch at all"

if ((${#FAILS[@]} > 0)); then
  printf -- '- %s\n' "${FAILS[@]}" >&2
  fail "${#FAILS[@]} access check(s) failed"
fi
echo "PASS sec_matrix"
