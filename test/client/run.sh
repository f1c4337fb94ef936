#!/bin/sh
# SPDX-License-Identifier: MIT
# The client library's host tests: the record walker's unit tests, then its fuzzer for a few
# seconds (one more check). Builds nothing.
# Usage: test/client/run.sh UNIT-BINARY FUZZ-BINARY [SECONDS]
#   e.g. test/client/run.sh build/host/client-tests build/host/fuzz-events 5
set -u
unit=${1:?usage: run.sh UNIT-BINARY FUZZ-BINARY [SECONDS]}
fuzzer=${2:?usage: run.sh UNIT-BINARY FUZZ-BINARY [SECONDS]}
seconds=${3:-5}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sanctum-client.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

status=0
timeout 60 "$unit" >"$tmp/unit.out" 2>&1 || status=$?
cat "$tmp/unit.out"
line=$(grep -E '^client: [0-9]+ passed, [0-9]+ failed$' "$tmp/unit.out" | tail -n 1)
if [ -z "$line" ]; then
    echo "client: FAIL: $unit died (exit $status) before its result line"
    passed=0 failed=1
else
    passed=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    failed=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    [ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
fi

# The fuzzer starts from nothing each time: the walker is small, and seconds cover it.
mkdir -p "$tmp/corpus"
if timeout $((seconds + 60)) "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$tmp/" "$tmp/corpus" >"$tmp/fuzz.log" 2>&1; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    grep -E '^(==[0-9]+==|fuzz_events:|SUMMARY|.*runtime error)' "$tmp/fuzz.log" | head -n 20
    for a in "$tmp"/crash-* "$tmp"/leak-* "$tmp"/timeout-*; do
        [ -f "$a" ] || continue
        mkdir -p build/fuzz-events && cp "$a" build/fuzz-events/
        echo "client: FAIL: the walker's fuzzer failed on an input; replay: $fuzzer build/fuzz-events/$(basename "$a")"
    done
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/fuzz.log" | tail -n 1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tmp/fuzz.log" | tail -n 1)
echo "client: walker fuzzer: ${runs:-?} executions in ${seconds} s (${speed:-?}/s)"
echo "client: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
