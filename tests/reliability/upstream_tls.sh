#!/usr/bin/env bash
# upstream_tls.sh: an https upstream presenting a bad certificate: issued
# for another host name, expired, or self-signed and not trusted (modproxy
# trusts the test CA through --upstream-ca). Each time the client gets a
# 502 whose text/plain body names the upstream and the certificate problem,
# nothing is stored, and modproxy keeps answering; restarted on the same
# data directory with an upstream whose certificate is good, the same
# requests get the real bytes. modproxy exits 0 on SIGTERM.
# shellcheck source=faults_lib.bash
source "$(dirname "$0")/faults_lib.bash"

make_corpus_tree "$T/tree"
build_tools
"$TOOLS/faulty" -gen-certs "$T/certs"
CA="$T/certs/ca.crt"

# The control: the CA and the tool are right, a good certificate works.
start_faulty "$T/tree" -tls-cert "$T/certs/good.crt" -tls-key "$T/certs/good.key"
GOOD_URL=$FAULTY_URL
[[ $GOOD_URL == https://* ]] || fail "faulty with -tls-cert serves $GOOD_URL"

INFO=/rsc.io/quote/@v/v1.5.2.info
ZIP=/rsc.io/quote/@v/v1.5.2.zip
# kind | cause (ERE)
KINDS=(
  "wronghost|certificate.*(name|host)|(name|host).*certificate"
  "expired|expired"
  "selfsigned|self.?signed"
)
declare -A LABEL=([wronghost]="certificate for another host name (wrong.example)"
  [expired]="certificate expired yesterday (CA-signed)"
  [selfsigned]="self-signed certificate, not trusted")

for k in "${KINDS[@]}"; do
  kind=${k%%|*} cause=${k#*|}
  echo "---- $kind"
  n0=${#FAILS[@]}
  start_faulty "$T/tree" -tls-cert "$T/certs/$kind.crt" -tls-key "$T/certs/$kind.key"
  MODPROXY_DATA="$T/data-$kind"
  start_modproxy --upstream "$FAULTY_URL" --upstream-ca "$CA" --sumdb off
  expect_error "$kind: .info" "$INFO" 502 "$cause"
  saw_info=$SAW
  expect_error "$kind: .zip" "$ZIP" 502 "$cause"
  grep -qi certificate "$T/body" || soft_fail "$kind: the body does not say 'certificate': $(body_text)"
  st="info: $(stored rsc.io/quote v1.5.2 info), zip: $(stored rsc.io/quote v1.5.2 zip)"
  [[ $st == "info: nothing, zip: nothing" ]] || soft_fail "$kind: the store holds $st"
  alive "$kind"
  [[ $(wc -l <"$FAULTY_LOG") == 0 ]] || soft_fail "$kind: requests reached the upstream's HTTP layer"
  stop_modproxy

  # The fault removed: same data directory, an upstream with a good certificate.
  start_modproxy --upstream "$GOOD_URL" --upstream-ca "$CA" --sumdb off
  expect_bytes "$kind: .info, good certificate" "$INFO" "$T/tree$INFO"
  expect_bytes "$kind: .zip, good certificate" "$ZIP" "$T/tree$ZIP"
  check_store "$kind"
  stop_modproxy
  verdict=pass
  ((${#FAILS[@]} == n0)) || verdict=fail
  result "https upstream: ${LABEL[$kind]}" "$saw_info" "$st" "$verdict"
done
finish upstream_tls
