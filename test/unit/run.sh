#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the host unit tests under ASan, UBSan and LSan; builds nothing.
# Usage: test/unit/run.sh BINARY   (e.g. build/host/unit-tests)
# The exit status is the binary's. A binary that dies of a sanitizer report before its
# result line gets one here, so that the failure is counted.
set -u
bin=${1:?usage: run.sh BINARY}
if [ ! -x "$bin" ]; then
    echo "unit: FAIL: $bin is not an executable"
    echo "unit: 0 passed, 1 failed"
    exit 1
fi

# Ours come last, so that options a caller adds cannot switch the checks off.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

out=$(mktemp "${TMPDIR:-/tmp}/sanctum-unit.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT
status=0
timeout 300 "$bin" >"$out" 2>&1 || status=$?
cat "$out"

line=$(grep -E '^unit: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
if [ -z "$line" ]; then
    case $status in
    0) why="exit 0 without a result line" ;;
    124) why="timed out after 300 s" ;;
    *) why="died with exit status $status before its result line (sanitizer report or crash above)" ;;
    esac
    echo "unit: FAIL: $bin $why"
    echo "unit: 0 passed, 1 failed"
    [ "$status" -eq 0 ] && status=1
elif [ "$status" -ne 0 ] && echo "$line" | grep -q ' 0 failed$'; then
    # Something after the result line failed, e.g. LeakSanitizer's check at exit.
    echo "unit: FAIL: $bin exited with status $status after a clean result line"
    echo "$line" | sed -E 's/ 0 failed$/ 1 failed/'
fi
exit "$status"
