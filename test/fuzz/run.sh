#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the libFuzzer target over the regression corpus, then fuzz for a fixed time; builds nothing.
# Usage: test/fuzz/run.sh FUZZER [SECONDS] [OUT-DIR]
#   e.g. test/fuzz/run.sh build/host/fuzz-driver 20 build/fuzz
# Each input of test/fuzz/corpus/ is one test, the fuzzing session one more; the result line is
# `fuzz: N passed, M failed`. New inputs go to OUT-DIR/corpus (never into the repository); a
# crash, leak, timeout or out-of-memory input is saved in OUT-DIR with the command to replay it.
set -u
fuzzer=${1:?usage: run.sh FUZZER [SECONDS] [OUT-DIR]}
seconds=${2:-20}
out=${3:-build/fuzz}
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=$root/test/fuzz/corpus
passed=0 failed=0

if [ ! -x "$fuzzer" ]; then
    echo "fuzz: FAIL: $fuzzer is not an executable"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi
mkdir -p "$out/corpus" || exit 1
log=$out/fuzz.log
# Inputs saved by an earlier run go: each run reports its own.
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*

# Ours come last, so that options a caller adds cannot switch the checks off.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"

# An input that fails is kept as a crash file, with the command that replays it.
report() { # report WHAT FILE
    echo "fuzz: FAIL: $1: $2"
    echo "fuzz:   replay: $fuzzer $2"
    echo "fuzz:   once fixed, keep it as a regression input: cp $2 test/fuzz/corpus/<name>"
}

# 1. The regression corpus, each input a test: all in one process (a process costs more than
#    most inputs); when that fails, one process per input says which ones.
inputs=$(find "$corpus" -maxdepth 1 -type f | sort)
count=$(echo "$inputs" | grep -c .)
# shellcheck disable=SC2086 # the names are hashes and ours: no spaces
if [ "$count" -gt 0 ] && timeout 300 "$fuzzer" $inputs >"$out/replay.log" 2>&1; then
    passed=$((passed + count))
else
    for input in $inputs; do
        name=$(basename "$input")
        if timeout 60 "$fuzzer" "$input" >"$out/replay.log" 2>&1; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            cp "$input" "$out/crash-corpus-$name"
            tail -n 30 "$out/replay.log"
            report "corpus input $name" "$out/crash-corpus-$name"
        fi
    done
fi

# 2. Fuzzing from the corpus and what earlier runs found, for a fixed time.
status=0
# No other process adds to the corpus, so it is not re-read every second (-reload=0). An
# input's share of the mutations shrinks with its run time (a 16 MiB FILL costs as much as a
# hundred short inputs): slow inputs are still fuzzed, the fast ones more often.
timeout $((seconds + 120)) "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=4096 -reload=0 -entropic_scale_per_exec_time=1 \
    -artifact_prefix="$out/" "$out/corpus" "$corpus" >"$log" 2>&1 || status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
seed=$(sed -n 's/^INFO: Seed: *//p' "$log" | head -n 1)
artifact=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null |
    grep -v '/crash-corpus-' | head -n 1)
echo "fuzz: ${runs:-?} executions (budget ${seconds} s), ${speed:-?} exec/s, ${new:-0} new inputs" \
    "(in $out/corpus), seed ${seed:-?}"
if [ "$status" -eq 0 ] && [ -z "$artifact" ]; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    grep -E '^(==[0-9]+==|fuzz_driver:|shim:|SUMMARY|.*runtime error)' "$log" | head -n 20
    if [ -n "$artifact" ]; then
        report "the fuzzer found an input that fails" "$artifact"
    else
        echo "fuzz: FAIL: the fuzzer exited with status $status and saved no input; see $log"
    fi
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
