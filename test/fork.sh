#!/bin/sh
# SPDX-License-Identifier: MIT
# A fork renames the driver in one place: build with DRIVER_NAME=forkdemo and check that the
# files, the device, the service, the log prefix and the pool tag follow. (check.sh then runs
# the end-to-end suite against this build under Wine.)
# Usage: test/fork.sh
set -u
cd "$(dirname "$0")/.."
. test/lib.sh
out=build/x64-clang-forkdemo

if make -s --no-print-directory DRIVER_NAME=forkdemo build-clang "$out/test/sanctum-e2e.exe" >build/fork.log 2>&1; then
    pass
else
    fail "the fork build failed:"; sed 's/^/    /' build/fork.log
fi
for f in forkdemo.sys forkdemoctl.exe forkdemo.pdb forkdemoctl.pdb; do
    if [ -f "$out/$f" ]; then pass; else fail "$out/$f is missing"; fi
done
if [ -f build/cert/forkdemo-test.cer ]; then pass; else fail "no forkdemo test certificate"; fi

# has_utf16 FILE TEXT: FILE holds TEXT as a UTF-16LE string (as Windows' names are).
has_utf16() { strings -a -el "$1" | grep -q -F -- "$2"; }
if has_utf16 "$out/forkdemo.sys" '\Device\ForkdemoEDR'; then pass; else fail "forkdemo.sys does not name \\Device\\ForkdemoEDR"; fi
if has_utf16 "$out/forkdemo.sys" 'SanctumEDR'; then fail "forkdemo.sys still names SanctumEDR"; else pass; fi
if LC_ALL=C grep -q -a "forkdemo: loaded" "$out/forkdemo.sys"; then pass; else fail "the log prefix is not forkdemo"; fi
if has_utf16 "$out/forkdemoctl.exe" 'Forkdemo'; then pass; else fail "forkdemoctl.exe does not name the Forkdemo service"; fi
# The pool tag 'Fork' is an immediate in the code: 0x6B726F46, little-endian in the bytes.
if LC_ALL=C grep -q -a -F "$(printf 'Fork')" "$out/forkdemo.sys"; then pass; else fail "the pool tag 'Fork' is not in forkdemo.sys"; fi

finish fork
