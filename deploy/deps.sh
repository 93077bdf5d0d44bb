#!/bin/sh
# Installs the Debian 12 packages modproxy needs (as root): `deploy/deps.sh`
# for building and running, `deploy/deps.sh test` for the tests as well.
# The one list of what modproxy depends on; the README says why each is here.
set -eu
run="build-essential cmake pkg-config git ca-certificates \
  libuv1-dev node-llhttp libsqlite3-dev libssl-dev libcurl4-openssl-dev libzip-dev \
  libarchive-dev"
test="libcmocka-dev golang-go golang-1.19-src golang-golang-x-mod-dev \
  curl python3 nginx wrk chromium chromium-driver openssl sqlite3 jq unzip util-linux \
  clang libclang-rt-14-dev llvm-14 clang-format zstd bc"
pkgs=$run
[ "${1:-}" = test ] && pkgs="$run $test"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! dpkg-query -W -f='${Status}\n' $pkgs 2>/dev/null | grep -qv '^install ok installed$' &&
  [ "$(dpkg-query -W -f='${Status}\n' $pkgs 2>/dev/null | wc -l)" -eq "$(echo $pkgs | wc -w)" ]; then
  exit 0 # all installed already
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
