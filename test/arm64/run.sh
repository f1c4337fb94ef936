#!/bin/sh
# SPDX-License-Identifier: MIT
# What can be proven of the ARM64 driver without ARM64 hardware: it imports exactly what the
# x64 driver imports, its code never touches x18 (the platform register) nor an FP/NEON
# register, the structures it shares with the kernel and user mode have the x64 layouts,
# and the compatibility layer refuses headers it was not written for. Each check is also
# shown to fail once on a broken input. (PE properties and the signature: test/pe/run.sh.)
# Usage: test/arm64/run.sh X64-BUILD ARM64-BUILD   (e.g. build/x64-clang build/arm64-clang)
set -u
cd "$(dirname "$0")/../.."
x64=${1:?usage: run.sh X64-BUILD ARM64-BUILD} arm64=${2:?usage: run.sh X64-BUILD ARM64-BUILD}
. test/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sys=$arm64/sanctum.sys
triple=aarch64-w64-mingw32

# Imports: the .def follows the x64 build, and the ARM64 image imports the same names.
check "toolchain/arm64/ntoskrnl.def lists the x64 driver's imports (make arm64-def)" \
    toolchain/arm64/imports.sh check "$x64/unsigned/sanctum.sys" toolchain/arm64/ntoskrnl.def
names() { llvm-readobj --coff-imports "$1" | sed -n 's/^  \(Name\|Symbol\): \([^ ]*\).*/\2/p' | LC_ALL=C sort; }
names "$x64/sanctum.sys" >"$tmp/x64-imports"
names "$sys" >"$tmp/arm64-imports"
if cmp -s "$tmp/x64-imports" "$tmp/arm64-imports"; then pass; else
    fail "the ARM64 and x64 drivers import different names (x64 < > ARM64):"
    diff "$tmp/x64-imports" "$tmp/arm64-imports" | grep '^[<>]' | sed 's/^/    /'
fi

# forbidden FILE: the instructions of FILE's code that use x18/w18 or an FP/NEON register.
forbidden() {
    llvm-objdump -d --no-show-raw-insn "$1" | awk -F'\t' 'NF >= 3 {
        ops = tolower($0); sub(/^[^\t]*\t[^\t]*\t/, "", ops)
        if (ops ~ /(^|[^a-z0-9_])([xw]18|[qdshbv][0-9]+|fpcr|fpsr)([^0-9]|$)/) print }'
}
out=$(forbidden "$sys")
if [ -z "$out" ]; then pass; else fail "$sys uses x18 or FP/NEON registers:"; printf '%s\n' "$out" | head -n 10 | sed 's/^/    /'; fi
check "the disassembly of $sys has code to look at" sh -c "llvm-objdump -d '$sys' | grep -q 'ret'"
# The scan does see them: one instruction of each kind, assembled, each must be reported.
printf '%s\n' "mov x0, x18" "add w1, w18, #1" "fmov d0, x1" "add v0.16b, v1.16b, v2.16b" \
    "ldr q0, [x0]" "msr fpcr, x0" "ret" | clang --target=$triple -c -x assembler - -o "$tmp/insn.o"
found=$(forbidden "$tmp/insn.o" | wc -l)
if [ "$found" -eq 6 ]; then pass; else fail "the register scan reports $found of 6 forbidden instructions"; fi
check "the kernel objects are built with -mgeneral-regs-only" \
    sh -c "make -s --no-print-directory -n -W src/kernel/state.c ARCH=arm64 V=1 '$arm64/obj/kernel/state.o' | grep -q -- -mgeneral-regs-only"

# Layouts: every line the probe printed for x64 must be the same for ARM64.
layout() { sed -n 's/^[[:space:]]*\.ascii[[:space:]]*"->\(.*\)\\n"$/\1/p' "$1"; }
layout "$x64/test/layout.s" >"$tmp/x64"
layout "$arm64/test/layout.s" >"$tmp/arm64"
layout "$arm64/test/layout-without-fixes.s" >"$tmp/without"
entries=$(wc -l <"$tmp/x64")
if [ "$entries" -ge 250 ] && [ "$(wc -l <"$tmp/arm64")" -eq "$entries" ]; then pass; else
    fail "the layout probe printed $entries entries for x64 and $(wc -l <"$tmp/arm64") for ARM64 (want the same, at least 250)"
fi
if cmp -s "$tmp/x64" "$tmp/arm64"; then pass; else
    fail "ARM64 layouts differ from x64 (x64 < > ARM64: name offset size):"
    diff "$tmp/x64" "$tmp/arm64" | grep '^[<>]' | head -n 20 | sed 's/^/    /'
fi
echo "layout: $entries offsets, sizes and values compared between x64 and ARM64"
# Without the layout edits the comparison must fail, on the fields the prototype found wrong.
diff "$tmp/x64" "$tmp/without" >"$tmp/diff"
for want in "> IO_STACK_LOCATION.Parameters 4 " "> IO_STACK_LOCATION.Parameters.DeviceIoControl.IoControlCode 12 " \
    "> IO_STACK_LOCATION.FileObject 44 " "> NPAGED_LOOKASIDE_LIST 256" "> PAGED_LOOKASIDE_LIST 256"; do
    if grep -qF -- "$want" "$tmp/diff"; then pass; else fail "without its layout edits, the comparison does not show '$want'"; fi
done

# The compatibility layer refuses headers whose text differs from what an edit expects.
mkdir "$tmp/ddk"
ddk=${DDK_INCLUDE:-/usr/share/mingw-w64/include/ddk}
cp "$ddk/wdm.h" "$ddk/ntddk.h" "$tmp/ddk/"
sed -i 's/^  KSPIN_LOCK Lock__ObsoleteButDoNotDelete;$/  KSPIN_LOCK Lock__Obsolete;/' "$tmp/ddk/wdm.h"
if toolchain/arm64/gen-ddk.sh "$tmp/ddk" toolchain/arm64/ddk.edits "$tmp/out" >"$tmp/gen.log" 2>&1; then
    fail "gen-ddk.sh accepted a wdm.h it was not written for"
elif grep -q 'NPAGED_LOOKASIDE_LIST.*expects its text 1 time(s), found 0' "$tmp/gen.log"; then pass; else
    fail "gen-ddk.sh failed without naming the edit:"; sed 's/^/    /' "$tmp/gen.log"
fi
check "gen-ddk.sh leaves no half-made headers behind" test ! -e "$tmp/out"

# The build: ARM64 is clang's alone, and a second make does nothing.
out=$(make --no-print-directory -n ARCH=arm64 TOOLCHAIN=gcc 2>&1)
case $out in
*"ARCH=arm64 needs TOOLCHAIN=clang"*) pass ;;
*) fail "TOOLCHAIN=gcc ARCH=arm64 does not stop with the reason: $out" ;;
esac
out=$(make --no-print-directory ARCH=arm64 2>&1)
case $out in
*"Nothing to be done"*) pass ;;
*) fail "a second make ARCH=arm64 did work: $out" ;;
esac

# make dist ARCH=arm64: the ARM64 driver with the x64 client, and the text saying why.
pecheck=build/host/pecheck
name=sanctum-$(sanctum_version)-arm64
if make -s --no-print-directory dist ARCH=arm64 >"$tmp/dist.log" 2>&1; then pass; else
    fail "make dist ARCH=arm64 failed:"; sed 's/^/    /' "$tmp/dist.log"
fi
unzip -q "build/dist/$name.zip" -d "$tmp" 2>/dev/null
got=$(cd "$tmp" && find "$name" -type f | LC_ALL=C sort | tr '\n' ' ')
expected="$name/INSTALL.txt $name/install.cmd $name/sanctum-test.cer $name/sanctum.pdb $name/sanctum.sys $name/sanctumctl.exe $name/sanctumctl.pdb "
if [ "$got" = "$expected" ]; then pass; else fail "the ARM64 zip holds '$got', expected '$expected'"; fi
check "the zip's sanctum.sys is the ARM64 driver" "$pecheck" --kind driver --machine arm64 --signed "$tmp/$name/sanctum.sys"
check "the zip's sanctumctl.exe is the x64 client" "$pecheck" --kind exe --machine x64 --signed "$tmp/$name/sanctumctl.exe"
check "the ARM64 INSTALL.txt says the client runs under emulation" grep -q "through its emulation" "$tmp/$name/INSTALL.txt"
check "the ARM64 INSTALL.txt has no @placeholder@ left" sh -c "! grep -q '@[A-Z0-9]*@' '$tmp/$name/INSTALL.txt'"

# The PDB belongs to the image, and the image carries its VERSIONINFO.
a=$(pdb_guid "$arm64/sanctum.pdb") b=$(image_guid "$sys")
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass; else fail "sanctum.pdb GUID '$a', $sys debug record '$b'"; fi
check "$sys has a VERSIONINFO resource" sh -c "llvm-readobj --coff-resources '$sys' | grep -q 'Type: VERSIONINFO'"

finish arm64
