#!/usr/bin/env bash
# "direct" in --upstream: public modules the proxies do not have come from
# their own repositories through the same git machinery as private ones,
# exactly as the go command's direct mode resolves them; and "direct" ends
# the list (nothing after it is asked).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/private_lib.bash"

make_private_repos
start_git_daemon
go_git_config "$T/gitconfig-go"
proxy_routes
make_corpus_tree "$T/tree"
start_upstream "$T/tree"
# No --private: github.com/corp/* is public here, and the corpus upstream
# does not have it, so it falls through to direct.
start_modproxy --upstream "$UPSTREAM_URL,direct,https://127.0.0.1:1" "${PROXY_ROUTES[@]}"

for q in v1.0.0 v1.1.0 latest main; do
  ref_and_proxy github.com/corp/plain "$q"
done
# The upstream was asked first (a public module), then git answered.
[[ $(upstream_hits '^/github.com/corp/plain/') -gt 0 ]] || fail "the upstream before direct was not asked"
# A module the upstream has never reaches git.
curl -fsS "$PROXY_URL/rsc.io/quote/@v/v1.5.2.info" >/dev/null
# A public module nobody has: a not-found that says what git found.
out=$(curl -s "$PROXY_URL/github.com/corp/nosuchrepo/@v/list")
assert_contains "$out" "module github.com/corp/nosuchrepo"
[[ $out == *"private module"* ]] && fail "a public module is called private: $out"
# The entry after "direct" (an unreachable https upstream) is never used.
[[ $out == *"127.0.0.1:1"* ]] && fail "the list went on past direct: $out"
stop_modproxy
echo "PASS private_direct"
