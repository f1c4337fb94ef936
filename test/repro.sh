#!/bin/sh
# SPDX-License-Identifier: MIT
# Reproducible builds: two clean builds of this tree, in two directories and at two different
# times, give byte-identical unsigned binaries, PDBs and .debug files for each toolchain and
# for the ARM64 driver; each PDB's GUID matches the debug record of its binary. (Signatures
# differ by design: they hold the signing time.)
# Usage: test/repro.sh
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
work=$root/build/repro
. test/lib.sh

outputs="build/x64-clang/unsigned/sanctum.sys build/x64-clang/unsigned/sanctumctl.exe
build/x64-clang/sanctum.pdb build/x64-clang/sanctumctl.pdb
build/x64-gcc/unsigned/sanctum.sys build/x64-gcc/unsigned/sanctumctl.exe
build/x64-gcc/sanctum.sys.debug build/x64-gcc/sanctumctl.exe.debug"
# ARM64 is built by its own make (ARCH=arm64): the driver and its PDB.
arm64_outputs="build/arm64-clang/unsigned/sanctum.sys build/arm64-clang/sanctum.pdb"

rm -rf "$work"
for copy in first second; do
    mkdir -p "$work/$copy"
    # The tree as it is now: tracked and new files, without what git ignores (build/).
    git ls-files -z --cached --others --exclude-standard |
        xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh |
        xargs -0 cp --parents -t "$work/$copy"
    # shellcheck disable=SC2086
    if ! (cd "$work/$copy" && make -s --no-print-directory -j2 $outputs >build.log 2>&1 &&
        make -s --no-print-directory -j2 ARCH=arm64 $arm64_outputs >>build.log 2>&1); then
        fail "the $copy build failed:"; sed 's/^/    /' "$work/$copy/build.log"
    fi
    sleep 2 # a different time: nothing may depend on it
done

for f in $outputs $arm64_outputs; do
    if cmp -s "$work/first/$f" "$work/second/$f"; then pass; else fail "$f differs between the two builds"; fi
done

for built in x64-clang/sanctum.sys x64-clang/sanctumctl.exe arm64-clang/sanctum.sys; do
    name=${built#*/}
    image=$work/first/build/${built%/*}/unsigned/$name
    pdb=$work/first/build/${built%/*}/${name%.*}.pdb
    a=$(pdb_guid "$pdb") b=$(image_guid "$image")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then pass; else fail "$name: PDB GUID '$a', debug record '$b'"; fi
    # The debug record names the PDB by file name only: no build path inside the binary.
    record=$(llvm-readobj --coff-debug-directory "$image" | sed -n 's/.*PDBFileName: //p')
    if [ "$record" = "${name%.*}.pdb" ]; then pass; else fail "$name names its PDB '$record'"; fi
done
for f in $outputs $arm64_outputs; do
    if grep -q "$work" "$work/first/$f"; then fail "$f contains the build directory's path"; else pass; fi
done

rm -rf "$work"
finish repro
