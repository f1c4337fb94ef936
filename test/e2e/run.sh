#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the end-to-end or the stress suite for one build under Wine, in a Wine prefix cached
# under build/.
# Usage: test/e2e/run.sh e2e|stress BUILD-DIR   (e.g. build/x64-clang)
set -eu
suite=${1:?usage: run.sh e2e|stress BUILD-DIR}
out=${2:?usage: run.sh e2e|stress BUILD-DIR}
name=$(basename "$out")
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(cd "$out" && pwd)

export WINEPREFIX="$root/build/wine/prefix"
# No Mono or Gecko installers (no network, no display); the driver's DbgPrint lines, and the
# errors of Wine's SCM, winedevice and ntoskrnl (what to read when a start or a load fails).
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINEDEBUG="-all,err+service,err+winedevice,err+ntoskrnl,+debugstr"
unset DISPLAY WAYLAND_DISPLAY

"$root/test/e2e/prefix.sh" "$WINEPREFIX"

log="$out/test/$suite-wine.log"
: >"$log"
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }
status=0
timeout 300 wine "$out/test/sanctum-e2e.exe" "$suite" "$name" "$(winpath "$out")" \
    "$(winpath "$log")" >"$out/test/$suite.out" 2>>"$log" || status=$?
tr -d '\r' <"$out/test/$suite.out"
# Services die with the last Wine process; wait so the next run starts clean.
wineserver -w 2>/dev/null || true
if ! grep -q "^$suite-$name: [0-9]* passed, [0-9]* failed" "$out/test/$suite.out"; then
    echo "$suite-$name: FAIL: the suite did not finish (exit $status); Wine's log: $log"
    echo "$suite-$name: 0 passed, 1 failed"
fi
exit "$status"
