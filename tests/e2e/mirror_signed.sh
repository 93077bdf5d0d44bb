#!/usr/bin/env bash
# Signed bundles and bundles in one file, end to end:
#  1. `modproxy keygen` makes a key pair; `export --sign` writes a project
#     (a public module graph and a private module from git) to a .tar.zst;
#     `import --trust` reads it streaming into a fresh store, and an
#     offline modproxy serves the project's build to a go command with an
#     empty module cache;
#  2. tampering with one file of a signed bundle (the private module's zip,
#     a list, the manifest), as a directory or an archive, is refused whole
#     with the file's name, and nothing is stored; so are a bundle signed by
#     another key and an unsigned one; without --trust the tampered private
#     zip (manifest fixed to match) would be imported;
#  3. hostile archives (a path out of the bundle, an absolute path, a
#     symbolic link, a hard link, a member over the size limit, a device,
#     a name twice, a version's files apart) are refused by name with
#     nothing stored;
#  4. plain .tar, .tar.zst and .tar.gz bundles import like the directory
#     (their sizes and times printed as FIGURES lines).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/mirror_lib.bash"

corpus_with_sumdb
PRIV=corp.example.com/secret
PZIP=$PRIV/@v/v1.0.0.zip
QLIST=rsc.io/quote/@v/list

# A private module in a git repository on this machine.
git_q() { git -c user.name=t -c user.email=t@example.com -c init.defaultBranch=main \
  -c commit.gpgsign=false -c tag.gpgsign=false "$@"; }
mkdir -p "$T/work/secret" "$T/srv"
(cd "$T/work/secret" && git_q init -q &&
  printf 'module %s\n\ngo 1.19\n' "$PRIV" >go.mod &&
  printf 'package secret\n\nconst Word = "classified"\n' >secret.go &&
  git_q add -A && git_q commit -q -m one && git_q tag v1.0.0)
git clone -q --bare "$T/work/secret" "$T/srv/secret.git"

# The project: rsc.io/quote (public) and the private module.
project_module "$T/proj"
cat >"$T/proj/go.mod" <<EOG
module example.com/hello

go 1.19

require (
	$PRIV v1.0.0
	rsc.io/quote v1.5.2
)
EOG
cat >"$T/proj/hello.go" <<'EOG'
package main

import (
	"fmt"

	"corp.example.com/secret"
	"rsc.io/quote"
)

func main() { fmt.Println(quote.Hello(), secret.Word) }
EOG

"$TEST_MODPROXY_BIN" keygen site-a -o "$T/site" >"$T/keygen.out" 2>&1 || fail "keygen: $(cat "$T/keygen.out")"
"$TEST_MODPROXY_BIN" keygen site-b -o "$T/other" >/dev/null 2>&1 || fail "keygen other"
assert_eq "$(stat -c %a "$T/site.key")" 600 "the private key's mode"
assert_contains "$(cat "$T/keygen.out")" "$(cat "$T/site.pub")" "keygen prints the public key"
[[ $(cat "$T/site.pub") == site-a+[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+* ]] ||
  fail "public key format: $(cat "$T/site.pub")"
rc=0
"$TEST_MODPROXY_BIN" keygen site-a -o "$T/site" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 1 "keygen over an existing key"

export_to() { # OUT [FLAGS...]: exports the project
  local out=$1
  shift
  "$TEST_MODPROXY_BIN" export --data "$T/connected" --upstream "$UPSTREAM_URL" \
    --sumdb "$SUMDB_KEY $SUMDB_URL" --private 'corp.example.com/*' \
    --git-route "corp.example.com/*=file://$T/srv/{2}.git" "$@" -o "$out" \
    "$T/proj/go.mod" >"$T/export.out" 2>"$T/export.log" ||
    fail "export to $out: $(cat "$T/export.out" "$T/export.log")"
}
import_into() { # DATA BUNDLE [FLAGS...]: sets IMPORT_OUT (stdout and stderr), IMPORT_RC
  local data=$1 bundle=$2
  shift 2
  IMPORT_RC=0
  IMPORT_OUT=$("$TEST_MODPROXY_BIN" import --data "$data" --sumdb "$SUMDB_KEY" \
    --private 'corp.example.com/*' "$@" "$bundle" 2>&1) || IMPORT_RC=$?
}
versions_stored() { # DATA: versions in the store (0 when there is none)
  [[ -f $1/modproxy.db ]] || { echo 0 && return; }
  sqlite3 -readonly "$1/modproxy.db" "SELECT count(*) FROM versions"
}

# ---- 1. signed, one file, imported with --trust, built offline ----------------
t0=$(date +%s.%N)
export_to "$T/bundle.tar.zst" --sign "$T/site.key"
t1=$(date +%s.%N)
assert_contains "$(cat "$T/export.out")" "signed by site-a+"
[[ -f $T/bundle.tar.zst ]] || fail "no archive written"
[[ -z $(find "$T" -maxdepth 1 -name 'bundle.tar.zst.partial-*') ]] || fail "export left its staging behind"
tar --zstd -tf "$T/bundle.tar.zst" >"$T/members" || fail "tar cannot list the archive"
head -2 "$T/members" | tr '\n' ' ' | grep -q "modproxy-bundle.txt modproxy-bundle.sig" ||
  fail "the manifest and signature are not first: $(head -3 "$T/members")"
grep -qx "$PZIP" "$T/members" || fail "the archive lacks $PZIP"
printf 'FIGURES export .tar.zst: %d bytes, %.2f s\n' "$(stat -c %s "$T/bundle.tar.zst")" \
  "$(echo "$t1 - $t0" | bc)"

t0=$(date +%s.%N)
import_into "$T/mirror" "$T/bundle.tar.zst" --trust "$T/site.pub"
t1=$(date +%s.%N)
assert_eq "$IMPORT_RC" 0 "import --trust of the signed archive: $IMPORT_OUT"
assert_contains "$IMPORT_OUT" "versions: 4 added, 0 already present, 0 rejected"
printf 'FIGURES import .tar.zst: %.2f s\n' "$(echo "$t1 - $t0" | bc)"
# A config file's trust key works as the flag does (and the public key as text).
printf 'trust = %s\n' "$(cat "$T/site.pub")" >"$T/trust.conf"
import_into "$T/mirror" "$T/bundle.tar.zst" --config "$T/trust.conf"
assert_eq "$IMPORT_RC" 0 "import with trust in the config file: $IMPORT_OUT"
assert_contains "$IMPORT_OUT" "versions: 0 added, 4 already present, 0 rejected"

MODPROXY_DATA="$T/mirror"
start_modproxy --offline --sumdb "$SUMDB_KEY" --private 'corp.example.com/*'
fresh_gopath
mkdir -p "$T/off" && cp "$T/proj/go.mod" "$T/proj/hello.go" "$T/off/"
cd "$T/off"
GOCMD_ENV=(GONOSUMDB=corp.example.com)
out=$(gocmd run . 2>&1) || fail "offline go run: $out"
assert_contains "$out" "Hello, world. classified"
gocmd mod verify >"$T/verify.out" 2>&1 || fail "go mod verify: $(cat "$T/verify.out")"
GOCMD_ENV=()
cd "$T"
stop_modproxy

# ---- 2. tampered, wrong key, unsigned -------------------------------------------
export_to "$T/signed" --sign "$T/site.key"
[[ -f $T/signed/modproxy-bundle.sig ]] || fail "no signature in the directory bundle"

pack() { # DIR ARCHIVE: the directory as a tar archive, manifest first
  (cd "$1" && tar -caf "$2" modproxy-bundle.txt $(ls modproxy-bundle.sig 2>/dev/null) \
    $(find . -type f ! -name 'modproxy-bundle.*' | sed 's|^\./||' | sort))
}
# refused NAME BUNDLE TEXT [FLAGS]: import --trust $TRUST (default the
# site's key) refuses BUNDLE, saying TEXT, and stores nothing.
refused() {
  local name=$1 bundle=$2 text=$3
  shift 3
  rm -rf "$T/d-$name"
  import_into "$T/d-$name" "$bundle" --trust "${TRUST:-$T/site.pub}" "$@"
  assert_eq "$IMPORT_RC" 1 "$name: exit status ($IMPORT_OUT)"
  assert_contains "$IMPORT_OUT" "refused, nothing imported" "$name"
  assert_contains "$IMPORT_OUT" "$text" "$name"
  assert_eq "$(versions_stored "$T/d-$name")" 0 "$name: versions stored"
}

cp -R "$T/signed" "$T/t-zip" && tamper_zip "$T/t-zip/$PZIP" classified 'leaked!!!!'
refused zip-dir "$T/t-zip" "$PZIP differs from the manifest"
pack "$T/t-zip" "$T/t-zip.tar.zst"
refused zip-tar "$T/t-zip.tar.zst" "$PZIP differs from the manifest"

cp -R "$T/signed" "$T/t-list" && echo v9.9.9 >>"$T/t-list/$QLIST"
refused list-dir "$T/t-list" "$QLIST differs from the manifest"
pack "$T/t-list" "$T/t-list.tar"
refused list-tar "$T/t-list.tar" "$QLIST differs from the manifest"

# The zip changed and the manifest made to match: the signature gives it away
# (a private module has no checksum database record to).
cp -R "$T/signed" "$T/t-man" && tamper_zip "$T/t-man/$PZIP" classified 'leaked!!!!' && fix_manifest "$T/t-man" "$PZIP"
refused manifest-dir "$T/t-man" "modproxy-bundle.txt does not match its signature"
pack "$T/t-man" "$T/t-man.tar.gz"
refused manifest-tar "$T/t-man.tar.gz" "modproxy-bundle.txt does not match its signature"
import_into "$T/d-notrust" "$T/t-man"
assert_eq "$IMPORT_RC" 0 "the same bundle without --trust: $IMPORT_OUT"
assert_eq "$(sqlite3 -readonly "$T/d-notrust/modproxy.db" \
  "SELECT count(*) FROM versions WHERE module='$PRIV' AND zip_size IS NOT NULL")" 1 \
  "without --trust, only the signature could have caught the private zip"

# A file the signed manifest does not list, and one it lists that is gone.
cp -R "$T/signed" "$T/t-extra" && echo x >"$T/t-extra/rsc.io/quote/@v/v1.5.3.info"
refused extra-dir "$T/t-extra" "rsc.io/quote/@v/v1.5.3.info is not in the bundle's manifest"
cp -R "$T/signed" "$T/t-gone" && rm "$T/t-gone/$QLIST"
refused gone-dir "$T/t-gone" "$QLIST is in the signed manifest but not in the bundle"

TRUST=$T/other.pub refused wrong-key "$T/bundle.tar.zst" \
  "modproxy-bundle.sig is signed by none of the trusted keys"
TRUST=$T/other.pub refused wrong-key-dir "$T/signed" \
  "modproxy-bundle.sig is signed by none of the trusted keys"
# Both keys trusted: the bundle is accepted.
import_into "$T/d-both" "$T/bundle.tar.zst" --trust "$T/other.pub" --trust "$T/site.pub"
assert_eq "$IMPORT_RC" 0 "trusted among two keys: $IMPORT_OUT"

export_to "$T/unsigned.tar"
refused unsigned "$T/unsigned.tar" "it is not signed"
import_into "$T/d-unsigned" "$T/unsigned.tar"
assert_eq "$IMPORT_RC" 0 "an unsigned archive without --trust: $IMPORT_OUT"
assert_contains "$IMPORT_OUT" "versions: 4 added"
# A bad --trust value is a usage error.
import_into "$T/d-badkey" "$T/unsigned.tar" --trust "not-a-key"
assert_eq "$IMPORT_RC" 2 "--trust of neither a key nor a file"
assert_contains "$IMPORT_OUT" "--trust not-a-key: neither a key"

# ---- 3. hostile archives ----------------------------------------------------------
# hostile KIND ARCHIVE: a tar of the signed bundle with one bad member.
hostile() {
  python3 - "$T/signed" "$1" "$2" <<'PY'
import sys, tarfile, os, io
src, kind, out = sys.argv[1], sys.argv[2], sys.argv[3]
t = tarfile.open(out, "w")
paths = sorted(os.path.relpath(os.path.join(r, f), src) for r, _, fs in os.walk(src) for f in fs)
if kind == "scattered":  # every .info, then every .mod, then every .zip
    paths.sort(key=lambda p: (os.path.splitext(p)[1], p))
for p in paths:
    t.add(os.path.join(src, p), arcname=p)
def member(name, data=b"", **kw):
    i = tarfile.TarInfo(name)
    i.size = len(data)
    for k, v in kw.items():
        setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)
if kind == "traversal":
    member("../../evil.txt", b"x")
elif kind == "absolute":
    member("/tmp/evil.txt", b"x")
elif kind == "symlink":
    member("rsc.io/quote/@v/v1.5.9.mod", type=tarfile.SYMTYPE, linkname="/etc/passwd")
elif kind == "hardlink":
    member("rsc.io/quote/@v/v1.5.9.mod", type=tarfile.LNKTYPE, linkname="modproxy-bundle.txt")
elif kind == "device":
    member("rsc.io/quote/@v/v1.5.9.mod", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
elif kind == "twice":
    member("rsc.io/quote/@v/list", b"v1.5.2\n")
if kind == "huge":
    # A header that claims 600 MiB; the data is never reached.
    i = tarfile.TarInfo("rsc.io/quote/@v/v1.5.9.zip")
    i.size = 600 << 20
    t.fileobj.write(i.tobuf(tarfile.PAX_FORMAT))
    t.fileobj.write(b"\0" * 4096)
    t.fileobj.close()
else:
    t.close()
PY
}
for kind in traversal absolute symlink hardlink device twice huge scattered; do
  hostile "$kind" "$T/h-$kind.tar"
done
for trust in --trust ""; do
  flags=()
  [[ -n $trust ]] && flags=(--trust "$T/site.pub")
  for kind in traversal absolute symlink hardlink device twice huge scattered; do
    rm -rf "$T/d-h"
    import_into "$T/d-h" "$T/h-$kind.tar" "${flags[@]}"
    assert_eq "$IMPORT_RC" 1 "hostile $kind ${flags[*]}: $IMPORT_OUT"
    assert_contains "$IMPORT_OUT" "refused, nothing imported" "hostile $kind"
    assert_eq "$(versions_stored "$T/d-h")" 0 "hostile $kind: versions stored"
  done
done
import_into "$T/d-h" "$T/h-traversal.tar"
assert_contains "$IMPORT_OUT" "../../evil.txt: not a relative path inside the bundle"
import_into "$T/d-h" "$T/h-absolute.tar"
assert_contains "$IMPORT_OUT" "/tmp/evil.txt: not a relative path inside the bundle"
import_into "$T/d-h" "$T/h-symlink.tar"
assert_contains "$IMPORT_OUT" "rsc.io/quote/@v/v1.5.9.mod: a link"
import_into "$T/d-h" "$T/h-hardlink.tar"
assert_contains "$IMPORT_OUT" "rsc.io/quote/@v/v1.5.9.mod: a link"
import_into "$T/d-h" "$T/h-device.tar"
assert_contains "$IMPORT_OUT" "rsc.io/quote/@v/v1.5.9.mod: not a regular file"
import_into "$T/d-h" "$T/h-twice.tar"
assert_contains "$IMPORT_OUT" "rsc.io/quote/@v/list: in the archive twice"
import_into "$T/d-h" "$T/h-huge.tar"
assert_contains "$IMPORT_OUT" "rsc.io/quote/@v/v1.5.9.zip: 629145600 bytes, over the 500 MiB limit"
import_into "$T/d-h" "$T/h-scattered.tar"
assert_contains "$IMPORT_OUT" "are not together (not an archive of modproxy export?)"
[[ ! -e $T/evil.txt && ! -e /tmp/evil.txt ]] || fail "a hostile member was written"

# ---- 4. plain .tar and .tar.gz; the measurements --------------------------------
# FIGURES lines: each form's size and its export and import times.
for kind in dir tar tar.zst tar.gz; do
  out=$T/plain.$kind
  [[ $kind == dir ]] && out=$T/plain
  t0=$(date +%s.%N)
  export_to "$out"
  t1=$(date +%s.%N)
  import_into "$T/d-$kind" "$out"
  t2=$(date +%s.%N)
  assert_eq "$IMPORT_RC" 0 "import of a $kind bundle: $IMPORT_OUT"
  assert_contains "$IMPORT_OUT" "versions: 4 added, 0 already present, 0 rejected"
  printf 'FIGURES %s: %d bytes, export %.2f s, import %.2f s\n' "$kind" \
    "$(du -sb "$out" | cut -f1)" "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
done
import_into "$T/d-dir" "$T/signed" --trust "$T/site.pub"
assert_eq "$IMPORT_RC" 0 "the signed directory: $IMPORT_OUT"
assert_eq "$(store_digest "$T/d-dir")" "$(store_digest "$T/d-tar")" "a .tar and a directory import the same"
assert_eq "$(store_digest "$T/d-dir")" "$(store_digest "$T/mirror")" \
  "a .tar.zst and a directory import the same"
echo "PASS mirror_signed"
