#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every test suite and add up their `<suite>: N passed, M failed[, K skipped]` lines.
# Usage: test/check.sh BUILD-DIR...   (one per toolchain, e.g. build/x64-clang build/x64-gcc)
set -u
: "${1:?usage: test/check.sh BUILD-DIR...}"
# The suites run make as a user would: `make -j2 check` must not hand them its jobserver
# (which they cannot reach: each warns and the build suite fails), nor the variables given on
# its command line (the suites check the project's defaults).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
logs=build/check
rm -rf "$logs"
mkdir -p "$logs"

# run NAME COMMAND...: a suite's output is shown and kept in build/check/NAME.log, and what it
# took in build/check/times (make check has a budget of 10 minutes on 2 cores).
run() {
    name=$1; shift
    echo "== $name"
    start=$(date +%s)
    "$@" >"$logs/$name.log" 2>&1
    echo "exit $?" >"$logs/$name.exit"
    cat "$logs/$name.log"
    echo "$name $(($(date +%s) - start)) s" >>"$logs/times"
}

shipped=
for out in "$@"; do shipped="$shipped $out/sanctum.sys $out/sanctumctl.exe"; done
run docs test/docs.sh
run build test/build.sh
run analyze test/analyze.sh "${DDK_INCLUDE:-/usr/share/mingw-w64/include/ddk}"
run unit test/unit/run.sh build/host/unit-tests
run fuzz test/fuzz/run.sh build/host/fuzz-driver 20 build/fuzz
run client test/client/run.sh build/host/client-tests build/host/fuzz-events 5
run repro test/repro.sh
run dist test/dist.sh build/host/pecheck
# shellcheck disable=SC2086
run pe test/pe/run.sh build/host/pecheck build/cert/sanctum-test.crt $shipped
# ARM64: the same PE checks for its driver, then what can be proven without ARM64 hardware.
run pe-arm64 env PE_MACHINE=arm64 test/pe/run.sh build/host/pecheck build/cert/sanctum-test.crt build/arm64-clang/sanctum.sys
run arm64 test/arm64/run.sh build/x64-clang build/arm64-clang
# make bench, quick: its report complete and well formed (never its figures).
run bench test/bench/run.sh --quick
for out in "$@"; do
    run "e2e-$(basename "$out")" test/e2e/run.sh e2e "$out"
    run "stress-$(basename "$out")" test/e2e/run.sh stress "$out"
done
# make demo, once: its transcript, nothing left behind, its messages when something is missing.
run demo test/demo/check.sh "$1"
# A fork's renamed driver builds, and loads and answers under Wine like ours.
run fork test/fork.sh
run e2e-x64-clang-forkdemo test/e2e/run.sh e2e build/x64-clang-forkdemo
# make vm-test against the stand-in VM: a local sshd whose commands run under Wine.
. test/lib.sh
run vm test/vm/check.sh build/vm/standin-shell.exe "build/dist/sanctum-$(sanctum_version)-x64.zip" \
    build/x64-clang/test/sanctum-e2e.exe

passed=0 failed=0 skipped=0
for log in "$logs"/*.log; do
    name=$(basename "$log" .log)
    line=$(grep -E "^[A-Za-z0-9_.-]+: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$" "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "$name: FAIL: no result line ($(cat "$logs/$name.exit"))"
        failed=$((failed + 1))
        continue
    fi
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, .*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped$/\1/p')
    # A suite that exits non-zero without counting a failure still failed.
    if [ "$f" -eq 0 ] && [ "$(cat "$logs/$name.exit")" != "exit 0" ]; then f=1; fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + ${s:-0}))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
