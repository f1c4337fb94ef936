#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo does what the README shows: run once, its transcript checked line by line; nothing
# left installed or running after it; its messages when the build or Wine is missing; the
# README's copy of its output has the commands it runs.
# Usage: test/demo/check.sh BUILD-DIR   (e.g. build/x64-clang; make check builds it first)
set -u
out=${1:?usage: test/demo/check.sh BUILD-DIR}
cd "$(dirname "$0")/../.." || exit 1
. test/lib.sh
v=$(sanctum_version)
p=$(sed -n 's/^#define SANCTUM_PROTOCOL_VERSION \([0-9]*\).*/\1/p' include/sanctum/ioctl.h)
transcript=build/demo/check-output.txt
prefix=build/demo/prefix
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$(date +%s)
mkdir -p "$(dirname "$transcript")"
make --no-print-directory -s demo >"$transcript" 2>&1
status=$?
took=$(($(date +%s) - start))
check "make demo exits 0 (exit $status; its output: $transcript)" test "$status" -eq 0
check "make demo takes well under a minute (took $took s)" test "$took" -lt 45

# has DESCRIPTION REGEX: a line of the transcript matches (grep -E).
has() { check "$1" grep -qE -- "$2" "$transcript"; }
# section HEADER-REGEX: the lines after the demo: line matching it, up to the next demo: line.
section() {
    awk -v h="$1" '/^demo: / { on = ($0 ~ h); next } on' "$transcript"
}
in_section() { # DESCRIPTION HEADER-REGEX LINE-REGEX
    section "$2" >"$tmp/section"
    check "$1" grep -qE -- "$3" "$tmp/section"
}

has "sanctumctl install puts the service in the demo's group" \
    '^installed service Sanctum \(Z:\\.*\\sanctum\.sys\), load-order group SanctumDemo$'
has "sanctumctl start starts it" '^started$'
has "sanctumctl status: running, the device answers" '^service: running$'
has "sanctumctl status: the device answers with this version" \
    "^device: answers: driver $v protocol $p \\(protocols match\\)$"
has "sanctumctl version names the client" "^client $v protocol $p$"
has "sanctumctl version names the driver" "^driver $v protocol $p$"
has "both watchers subscribed before the first mark" '^demo: both watchers subscribed'
has "the marks were sent by a second sanctumctl" '^sent a mark \(20 bytes\)$'
has "the probe driver started in the demo's group" '^ +STATE +: 4 +RUNNING'

text='^demo: the text watcher printed'
json='^demo: the JSON watcher printed'
time_seq='^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} #[0-9]+'
in_section "text watcher: the first mark, with its sender" "$text" \
    "$time_seq mark from pid [0-9]+ \"hello from make demo\" bytes 20$"
in_section "text watcher: the probe's IMAGE_LOAD record" "$text" \
    "$time_seq image-load kernel base 0x[0-9A-F]{16} size [0-9]+ \"Z:\\\\.*\\\\sanctum-probe\\.sys\"$"
in_section "text watcher: the mark sent after the probe loaded" "$text" \
    "$time_seq mark from pid [0-9]+ \"the probe driver is loaded\" bytes 26$"
in_section "text watcher: the stop told it the driver is stopping" "$text" \
    '^sanctumctl: watch: the driver is stopping \(it disconnected this watcher\); watched 3 events, 0 dropped$'
in_section "JSON watcher: the first mark" "$json" \
    '^\{"sequence":[0-9]+,"time":"[0-9T:.-]+Z","type":"mark","pid":[0-9]+,"text":"hello from make demo","bytes":20,'
in_section "JSON watcher: the probe's IMAGE_LOAD record" "$json" \
    '"type":"image-load","pid":0,"kernel":true,"base":"0x[0-9A-F]{16}","size":[0-9]+,"name":"Z:.*sanctum-probe\.sys"'
in_section "JSON watcher: the mark sent after the probe loaded" "$json" \
    '"type":"mark","pid":[0-9]+,"text":"the probe driver is loaded","bytes":26,'
in_section "JSON watcher: the stop told it the driver is stopping" "$json" \
    '^sanctumctl: watch: the driver is stopping \(it disconnected this watcher\); watched 3 events, 0 dropped$'
has "both watchers ended after the stop with exit 1" \
    '^demo: the text watcher printed this, and ended with exit 1:$'
has "the JSON watcher too" '^demo: the JSON watcher printed this, and ended with exit 1:$'
has "sanctumctl stats: two subscriptions" '^subscriptions +2$'
has "sanctumctl stats: nothing dropped" '^events dropped +0$'
has "sanctumctl stop stops it" '^stopped$'
has "sanctumctl uninstall removes it" '^uninstalled$'
has "the driver's load line" "^sanctum: loaded, version $v, protocol $p$"
has "the driver's unload line: no pool left" \
    '^sanctum: unloaded, pool outstanding: 0 allocations, 0 bytes$'
has "the demo says nothing is left" '^demo: nothing left: no Sanctum or SanctumDemoProbe service'
has "the closing line names what Wine cannot show and where it is proven" \
    '^demo: not shown under Wine: process and thread events .* DACL .* host harness .* make vm-test'
has "the demo ends with how long it took" '^demo: done in [0-9]+ s$'
check "no line says FAIL" sh -c "! grep -q FAIL '$transcript'"

# Nothing left, seen from outside Wine: no session in the demo's prefix, no service in its
# registry (wineserver writes system.reg as it ends).
if WINEPREFIX=$PWD/$prefix wineserver -k 2>/dev/null; then
    fail "a Wine session was still running in $prefix after make demo"
else
    pass
fi
reg_has() { grep -qF "[System\\\\CurrentControlSet\\\\Services\\\\$1]" "$prefix/system.reg"; }
check "the registry check sees a service Wine installs (MountMgr)" reg_has MountMgr
if reg_has Sanctum || reg_has SanctumDemoProbe; then
    fail "a demo service is still in $prefix/system.reg"
else
    pass
fi

# Missing pieces are named, with the fix, before anything runs.
msg=$(test/demo/demo.sh "$tmp" 2>&1)
st=$?
case $st:$msg in
"1:demo: $tmp/sanctum.sys not found: build it first with make"*) pass ;;
*) fail "a missing build: exit $st, '$msg'" ;;
esac
msg=$(PATH=/nonexistent /bin/sh test/demo/demo.sh "$out" 2>&1)
st=$?
case $st:$msg in
"1:demo: wine not found: install the Debian packages wine and wine64"*) pass ;;
*) fail "Wine missing: exit $st, '$msg'" ;;
esac

# The client's side of the demo, in the demo's prefix with no driver running: --group's usage
# errors, and the advice under Wine when the device does not exist.
export WINEPREFIX="$PWD/$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY WAYLAND_DISPLAY
ctl() { timeout 60 wine "$out/sanctumctl.exe" "$@" 2>&1 | tr -d '\r'; }
msg=$(ctl install --group)
check "install --group without a NAME is a usage error ('$msg')" \
    test "$msg" = "sanctumctl: --group needs a NAME; usage: sanctumctl install [PATH-TO-SYS] [--group NAME]"
msg=$(ctl install --groups x)
check "install with an unknown option is a usage error ('$msg')" \
    test "$msg" = "sanctumctl: unknown option '--groups'; usage: sanctumctl install [PATH-TO-SYS] [--group NAME]"
msg=$(ctl stats)
case $msg in
*"(error 2); the device does not exist: is the driver started? try: sanctumctl start; under Wine"*"wine cmd"*"wineserver -p") pass ;;
*) fail "no device under Wine: the advice does not name the session: '$msg'" ;;
esac
timeout 30 wineserver -w 2>/dev/null

# The README's copy of the output is from a run of this demo: the same commands, in order
# (paths up to build/ aside).
commands() { grep -E '^\$ ' | sed 's/Z:\\.*\\build\\/build\\/'; }
sed -n '/^\$ make demo$/,/^```$/p' README.md | tail -n +2 | commands >"$tmp/readme"
commands <"$transcript" >"$tmp/run"
check "README shows a make demo run" test -s "$tmp/readme"
if cmp -s "$tmp/readme" "$tmp/run"; then pass; else
    fail "README's make demo output runs other commands than the demo: $(diff "$tmp/readme" "$tmp/run" | tr '\n\\' ' /')"
fi
finish demo
