#!/bin/sh
# SPDX-License-Identifier: MIT
# The build system does what the README promises: nothing to do twice, exact rebuilds after a
# header change, quiet or full output, clean keeps the certificate, a missing tool is named.
# Runs after a full build of both toolchains (make check does that first).
set -u
cd "$(dirname "$0")/.."
. test/lib.sh
MAKE="${MAKE:-make} --no-print-directory"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A second make with nothing changed does nothing, for both toolchains.
for tc in clang gcc; do
    out=$($MAKE TOOLCHAIN=$tc 2>&1)
    case $out in
    *"Nothing to be done"*) pass ;;
    *) fail "second make (TOOLCHAIN=$tc) did work: $out" ;;
    esac
done

# rebuilt FILE TOOLCHAIN: the objects that would be rebuilt if FILE changed, one per line.
rebuilt() {
    $MAKE -n -W "$1" TOOLCHAIN="$2" 2>&1 | sed -n "s|^printf .* 'CC' '\(.*\)'$|\1|p" | sort | tr '\n' ' '
}
expect_rebuilt() { # HEADER TOOLCHAIN EXPECTED-OBJECTS
    got=$(rebuilt "$1" "$2")
    if [ "$got" = "$3" ]; then pass; else fail "touching $1 rebuilds '$got', expected '$3'"; fi
}
o=build/x64-clang/obj
# Every kernel source includes sanctum.h, and through it compat.h and the public headers.
kernel=$(for c in src/kernel/*.c; do printf '%s ' "$o/kernel/$(basename "$c" .c).o"; done)
expect_rebuilt src/kernel/queue.c clang "$o/kernel/queue.o "
expect_rebuilt src/kernel/compat.h clang "$kernel"
# Every client source includes the public headers (through console.h or sanctum/client.h).
user=$(for c in src/user/*.c; do printf '%s ' "$o/user/$(basename "$c" .c).o"; done)
expect_rebuilt include/sanctum/version.h clang "$kernel$user"
expect_rebuilt src/kernel/sanctum.h gcc "$(echo "$kernel" | sed 's/x64-clang/x64-gcc/g')"

# Quiet by default, the full command with V=1 (rebuilding one object for real).
out=$($MAKE -W src/kernel/state.c build/x64-clang/obj/kernel/state.o 2>&1)
if [ "$out" = "  CC      build/x64-clang/obj/kernel/state.o" ]; then pass; else fail "quiet output: $out"; fi
out=$($MAKE V=1 -W src/kernel/state.c build/x64-clang/obj/kernel/state.o 2>&1)
case $out in
*"clang --target="*"-Werror"*"-c src/kernel/state.c"*) pass ;;
*) fail "V=1 does not show the command: $out" ;;
esac
# Those rebuilt state.o: bring the tree up to date again for whatever runs next.
$MAKE -s TOOLCHAIN=clang >/dev/null 2>&1

# A missing tool stops make at once and names the package: here, osslsigncode.
mkdir "$tmp/bin"
for t in sh sed paste uname grep head od awk printf cc clang ld.lld llvm-rc llvm-objcopy openssl x86_64-w64-mingw32-gcc; do
    p=$(command -v "$t") && ln -s "$p" "$tmp/bin/$t"
done
out=$(PATH=$tmp/bin $(command -v "${MAKE%% *}") -n 2>&1)
case $out in
*"osslsigncode not found: install osslsigncode"*) pass ;;
*) fail "missing osslsigncode not reported: $out" ;;
esac

# clean keeps the test certificate, distclean removes it (in a copy of the tree).
mkdir "$tmp/tree"
git ls-files -z | xargs -0 cp --parents -t "$tmp/tree"
(cd "$tmp/tree" && $MAKE -s build/cert/sanctum-test.crt >/dev/null 2>&1 && mkdir -p build/x64-clang &&
    $MAKE -s clean >/dev/null 2>&1 && [ -f build/cert/sanctum-test.cer ] && [ ! -d build/x64-clang ]) &&
    pass || fail "make clean removed the certificate or kept build/x64-clang"
(cd "$tmp/tree" && $MAKE -s distclean >/dev/null 2>&1 && [ ! -e build ]) &&
    pass || fail "make distclean left build/"

# The test certificate is what the README says: RSA 3072, SHA-256, code signing, plus a DER copy.
crt=build/cert/sanctum-test.crt
text=$(openssl x509 -in $crt -noout -text 2>&1)
for want in "Public-Key: (3072 bit)" "Signature Algorithm: sha256WithRSAEncryption" "Code Signing"; do
    case $text in
    *"$want"*) pass ;;
    *) fail "the test certificate lacks '$want'" ;;
    esac
done
if openssl x509 -inform DER -in build/cert/sanctum-test.cer -noout 2>/dev/null; then pass; else fail "sanctum-test.cer is not DER"; fi
# A new certificate is valid from a day or more ago, for a VM whose clock is behind this one.
toolchain/make-test-cert.sh "$tmp/cert" >/dev/null 2>&1
check "a new test certificate is valid now" openssl x509 -in "$tmp/cert/sanctum-test.crt" -noout -checkend 0
not_before=$(openssl x509 -in "$tmp/cert/sanctum-test.crt" -noout -startdate 2>/dev/null | sed 's/^notBefore=//')
if [ -n "$not_before" ] && [ $(($(date -u +%s) - $(date -u -d "$not_before" +%s))) -ge 86400 ]; then
    pass
else
    fail "the test certificate's notBefore is '$not_before', not a day or more ago"
fi

finish build
