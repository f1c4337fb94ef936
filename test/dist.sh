#!/bin/sh
# SPDX-License-Identifier: MIT
# The VM bundle: `make dist` gives a zip with exactly the promised files, whose signatures
# verify against the certificate inside it, whose PDBs match the binaries, whose texts have
# Windows line endings and no template left, and whose timestamps follow SOURCE_DATE_EPOCH.
# Usage: test/dist.sh PECHECK
set -u
cd "$(dirname "$0")/.."
pecheck=${1:?usage: dist.sh PECHECK}
. test/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

version=$(sanctum_version)
name=sanctum-$version-x64
zip=build/dist/$name.zip
# 2000-01-01: the zip's entries must carry this date, not today's.
if ! SOURCE_DATE_EPOCH=946684800 make -s --no-print-directory -W toolchain/make-dist.sh dist >"$tmp/make.log" 2>&1; then
    fail "make dist failed:"; sed 's/^/    /' "$tmp/make.log"
fi
check "make dist made $zip" test -f "$zip"

expected="$name/INSTALL.txt $name/install.cmd $name/sanctum-test.cer $name/sanctum.pdb $name/sanctum.sys $name/sanctumctl.exe $name/sanctumctl.pdb"
got=$(unzip -Z1 "$zip" 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
if [ "$got" = "$expected " ]; then pass; else fail "the zip holds '$got', expected '$expected'"; fi
dates=$(unzip -Z -T "$zip" 2>/dev/null | awk '/^-/ {print $7}' | sort -u | tr '\n' ' ')
if [ "$dates" = "20000101.000000 " ]; then pass; else fail "zip entry times '$dates', expected SOURCE_DATE_EPOCH's 20000101.000000"; fi

unzip -q "$zip" -d "$tmp" 2>/dev/null
d=$tmp/$name
openssl x509 -inform DER -in "$d/sanctum-test.cer" -out "$tmp/ca.pem" 2>/dev/null
check "sanctum-test.cer is a DER certificate" test -s "$tmp/ca.pem"
for f in sanctum.sys sanctumctl.exe; do
    out=$(osslsigncode verify -CAfile "$tmp/ca.pem" -in "$d/$f" 2>&1)
    case $out in
    *"Signature verification: ok"*) pass ;;
    *) fail "$f in the zip does not verify against the bundled certificate" ;;
    esac
    kind=exe; [ "$f" = sanctum.sys ] && kind=driver
    check "pecheck --kind $kind --signed $f (from the zip)" "$pecheck" --kind $kind --signed "$d/$f"
    pdb=${f%.*}.pdb
    a=$(llvm-pdbutil dump -summary "$d/$pdb" 2>/dev/null | sed -n 's/.*Age: \([0-9]*\).*/\1/p')
    b=$(llvm-readobj --coff-debug-directory "$d/$f" 2>/dev/null | sed -n 's/.*PDBAge: \([0-9]*\).*/\1/p')
    g1=$(pdb_guid "$d/$pdb") g2=$(image_guid "$d/$f")
    if [ -n "$g1" ] && [ "$g1" = "$g2" ] && [ "$a" = "$b" ]; then pass; else fail "$pdb (GUID $g1 age $a) does not match $f's debug record (GUID $g2 age $b)"; fi
done
for f in INSTALL.txt install.cmd; do
    check "$f has Windows line endings" sh -c "! grep -qv \$(printf '\\r')\$ '$d/$f'"
    check "$f has no @placeholder@ left" sh -c "! grep -q '@[A-Z]*@' '$d/$f'"
    check "$f names version $version" grep -q "$version" "$d/$f"
done
check "INSTALL.txt names the PDBs and says nothing of a gcc build" sh -c "grep -q 'sanctum.pdb, sanctumctl.pdb' '$d/INSTALL.txt' && ! grep -q 'gcc' '$d/INSTALL.txt'"
check "install.cmd checks elevation and test signing first" grep -q "doctor --preflight" "$d/install.cmd"
check "install.cmd trusts the certificate" grep -q "trust-cert sanctum-test.cer" "$d/install.cmd"
check "install.cmd installs and starts the driver" sh -c "grep -q 'install sanctum.sys' '$d/install.cmd' && grep -q 'sanctumctl.exe start' '$d/install.cmd'"

# Asked for the gcc build's bundle, make dist says, every time, that it is not CET-compatible;
# the bundle holds the gcc build, its DWARF files instead of PDBs, and says so.
gname=$name-gcc
gzip=build/dist/$gname.zip
for run in first again; do
    make -s --no-print-directory dist TOOLCHAIN=gcc >"$tmp/gcc.log" 2>&1
    check "make dist TOOLCHAIN=gcc ($run run) warns that the gcc build is not CET-compatible" \
        grep -q "warning: the gcc build is not CET-compatible.*ship the clang build" "$tmp/gcc.log"
done
gexpected="$gname/INSTALL.txt $gname/install.cmd $gname/sanctum-test.cer $gname/sanctum.sys $gname/sanctum.sys.debug $gname/sanctumctl.exe $gname/sanctumctl.exe.debug"
got=$(unzip -Z1 "$gzip" 2>/dev/null | LC_ALL=C sort | tr '\n' ' ')
if [ "$got" = "$gexpected " ]; then pass; else fail "the gcc zip holds '$got', expected '$gexpected'"; fi
unzip -q "$gzip" -d "$tmp" 2>/dev/null
check "the gcc bundle's driver is the gcc build's" cmp -s "$tmp/$gname/sanctum.sys" build/x64-gcc/sanctum.sys
check "the gcc bundle's INSTALL.txt says it is not CET-compatible, and names no PDB" sh -c "grep -q 'cannot mark it CET-compatible' '$tmp/$gname/INSTALL.txt' && grep -q 'sanctum.sys.debug' '$tmp/$gname/INSTALL.txt' && ! grep -q '\.pdb' '$tmp/$gname/INSTALL.txt' && ! grep -q '@[A-Z0-9]*@' '$tmp/$gname/INSTALL.txt'"

# install.cmd itself, under Wine, from the unzipped folder: one Wine process keeps the driver
# alive from the install to the clean-up.
export WINEPREFIX="$(pwd)/build/wine/prefix" WINEDLLOVERRIDES="mscoree,mshtml=" WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
test/e2e/prefix.sh "$WINEPREFIX"
(cd "$d" && timeout 120 wine cmd /c "install.cmd & sanctumctl.exe uninstall & sanctumctl.exe trust-cert sanctum-test.cer --remove" \
    >"$tmp/install.out" 2>&1)
wineserver -w 2>/dev/null || true
tr -d '\r' <"$tmp/install.out" >"$tmp/install.txt"
for want in "OK      elevated: yes" "added to LocalMachine\\Root" "installed service Sanctum" "started" \
    "protocols match" "OK      certificate:" "OK      device:" "uninstalled" "removed from LocalMachine\\TrustedPublisher"; do
    if grep -qF "$want" "$tmp/install.txt"; then pass; else fail "install.cmd under Wine: no '$want' in its output"; fi
done
if grep -q "^PROBLEM" "$tmp/install.txt"; then fail "install.cmd under Wine: doctor found a problem"; sed 's/^/    /' "$tmp/install.txt"; else pass; fi

finish dist
