#!/bin/sh
# SPDX-License-Identifier: MIT
# make demo: the driver and its client end to end under the machine's own Wine, in a Wine
# prefix of its own (build/demo/prefix, made once and cached): install and start through
# sanctumctl, two watchers (text and JSON) while a second sanctumctl sends marks and a second
# driver loads beside ours, stats, stop, uninstall, and the driver's own log. Nothing is left
# running or installed, whether it succeeds or fails.
# Usage: test/demo/demo.sh BUILD-DIR [DRIVER-NAME]   (e.g. build/x64-clang sanctum)
#
# Wine ends its services, and the driver with them, a few seconds after the last Wine process
# exits; every command here runs in one session that `wineserver -p` keeps alive. The first
# process of the session is a `cmd /c exit` whose stderr becomes services.exe's, and so
# winedevice.exe's: the driver's DbgPrint lines (WINEDEBUG=+debugstr) land in run/wine.log.
set -u
out=${1:?usage: test/demo/demo.sh BUILD-DIR [DRIVER-NAME]}
name=${2:-sanctum}
out=${out%/}

# printf, not echo: dash's echo reads the backslashes of Windows paths as escapes.
say() { printf '%s\n' "$*"; }
# What is missing is said first, with the fix, before anything runs (shell builtins only).
fail_early() {
    say "demo: $*" >&2
    exit 1
}
for tool in wine wineserver; do
    command -v "$tool" >/dev/null 2>&1 ||
        fail_early "$tool not found: install the Debian packages wine and wine64 (apt-get install wine wine64), or run make setup"
done
display=$(printf '%s' "$name" | sed 's/^./\U&/')
ctl_name=${name}ctl
for f in "$out/$name.sys" "$out/$ctl_name.exe"; do
    [ -f "$f" ] || fail_early "$f not found: build it first with make (make demo builds it too)"
done
probe_sys=$out/test/sanctum-probe.sys
[ -f "$probe_sys" ] ||
    fail_early "$probe_sys not found: run make demo, which builds this second driver"

out=$(cd "$out" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
out=${out#"$root"/} # shown relative to the tree when inside it
demo=build/demo
run=$demo/run
export WINEPREFIX="$root/$demo/prefix"
# No Mono or Gecko installers (no network, no display); nothing from Wine on the client's
# stderr. The session's first process sets what the services log (below).
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
ctl_exe=$out/$ctl_name.exe
group=${display}Demo
probe=${display}DemoProbe
winpath() { printf 'Z:%s' "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" | tr / '\\'; }

session='' watchers=''
# Whatever happens, nothing stays installed or running: both services go, then the session.
cleanup() {
    for pid in $watchers; do kill "$pid" 2>/dev/null; done
    if [ -n "$session" ]; then
        timeout 20 wine sc stop "$probe" >/dev/null 2>&1
        timeout 20 wine sc delete "$probe" >/dev/null 2>&1
        timeout 30 wine "$ctl_exe" uninstall >/dev/null 2>&1
        timeout 20 wineserver -k >/dev/null 2>&1
        say "demo: cleaned up: both services removed, the Wine session ended"
    fi
}
trap cleanup EXIT
trap 'say "demo: interrupted" >&2; exit 130' INT TERM HUP
fail() {
    say "demo: FAIL: $*" >&2
    say "demo: the services' log (Wine's errors, the driver's DbgPrint lines): $run/wine.log" >&2
    exit 1
}

# shown ARGS...: the arguments as a shell would need them typed.
shown() {
    for a in "$@"; do
        case $a in
        *[\ \"\']*) printf ' "%s"' "$(printf '%s' "$a" | sed 's/"/\\"/g')" ;;
        *) printf ' %s' "$a" ;;
        esac
    done
}
# win SECONDS PROGRAM ARGS...: a Windows program in the session; its output (CR removed) on
# stdout, its exit status returned.
win() {
    t=$1; shift
    timeout "$t" wine "$@" >"$run/cmd.out" 2>&1
    rc=$?
    tr -d '\r' <"$run/cmd.out"
    return $rc
}
# ctl ARGS...: "$ sanctumctl ARGS", then what it printed; its exit status.
ctl() {
    say "\$ $ctl_name$(shown "$@")"
    win 30 "$ctl_exe" "$@"
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds, polled every 0.2 s; 1 after SECONDS.
wait_for() {
    limit=$(($(date +%s) + $1)); shift
    until "$@"; do
        [ "$(date +%s)" -lt "$limit" ] || return 1
        sleep 0.2
    done
}
subscribed() {
    timeout 10 wine "$ctl_exe" stats --json 2>/dev/null | grep -q "\"Subscriptions\":$1[,}]"
}
# events FILE: how many event lines a watcher has printed (text or JSON).
events() { grep -cE '^([0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ #|\{"sequence":)' "$1"; }
seen() { [ "$(events "$run/watch.txt")" -ge "$1" ] && [ "$(events "$run/watch.json")" -ge "$1" ]; }
running() { kill -0 "$1" 2>/dev/null; }
watchers_ended() { ! running "$text_pid" && ! running "$json_pid"; }

start=$(date +%s)
mkdir -p "$run"
rm -f "$run"/*
if [ ! -f "$WINEPREFIX/.sanctum-ready" ]; then
    say "demo: making the demo's own Wine prefix $demo/prefix (once; about 15 s)"
    timeout 120 test/e2e/prefix.sh "$WINEPREFIX" ||
        fail "could not make the Wine prefix $demo/prefix (wine wineboot -i failed)"
fi
# A session left in this prefix (by hand, or by an interrupted run) would hold the old driver.
if timeout 20 wineserver -k 2>/dev/null; then
    say "demo: ended the Wine session that was running in $demo/prefix"
    sleep 1
fi
timeout 20 wineserver -p || fail "wineserver -p did not start a persistent Wine server"
session=yes
WINEDEBUG=-all,err+service,err+winedevice,err+ntoskrnl,+debugstr \
    timeout 60 wine cmd /c exit >/dev/null 2>"$run/wine.log" ||
    fail "Wine did not start a session in $demo/prefix"
# Services an interrupted run left registered.
if timeout 30 wine "$ctl_exe" status >/dev/null 2>&1; then
    timeout 30 wine "$ctl_exe" uninstall >/dev/null 2>&1
    say "demo: removed the $display service an earlier run left installed"
fi
if timeout 20 wine sc query "$probe" >/dev/null 2>&1; then
    timeout 20 wine sc delete "$probe" >/dev/null 2>&1
    say "demo: removed the $probe service an earlier run left installed"
fi

say "demo: $(wine --version 2>/dev/null), prefix $demo/prefix, one Wine session kept by wineserver -p"
say "demo: each \$ line runs in that session ($ctl_name: wine $ctl_exe)"
ctl install --group "$group" || fail "$ctl_name install failed"
ctl start || fail "$ctl_name start failed"
ctl status || fail "$ctl_name status failed"
ctl version || fail "$ctl_name version failed"

# Two watchers while a second sanctumctl sends marks and the probe driver loads beside ours.
say "\$ $ctl_name watch --timeout 60 >$run/watch.txt 2>&1 &"
timeout 90 wine "$ctl_exe" watch --timeout 60 >"$run/watch.txt" 2>&1 &
text_pid=$! watchers=$!
say "\$ $ctl_name watch --json --timeout 60 >$run/watch.json 2>&1 &"
timeout 90 wine "$ctl_exe" watch --json --timeout 60 >"$run/watch.json" 2>&1 &
json_pid=$! watchers="$watchers $!"
wait_for 20 subscribed 2 ||
    fail "the watchers did not subscribe within 20 s: $(tr -d '\r' <"$run/watch.txt" "$run/watch.json")"
say "demo: both watchers subscribed (stats --json: \"Subscriptions\":2)"
ctl mark "hello from make demo" || fail "$ctl_name mark failed"
say "\$ sc create $probe type= kernel start= demand group= $group binPath= $(winpath "$probe_sys")"
win 20 sc create "$probe" type= kernel start= demand group= "$group" binPath= "$(winpath "$probe_sys")" ||
    fail "sc create $probe failed"
say "\$ sc start $probe | grep STATE"
win 20 sc start "$probe" | grep STATE
win 20 sc query "$probe" | grep -q RUNNING || fail "the probe driver did not start"
ctl mark "the probe driver is loaded" || fail "$ctl_name mark failed"
wait_for 20 seen 3 || fail "the watchers did not print 3 events within 20 s"
ctl stats || fail "$ctl_name stats failed"

# The stop ends the watchers' pending requests: each says so and exits.
ctl stop || fail "$ctl_name stop failed"
wait_for 20 watchers_ended ||
    fail "the watchers did not end within 20 s of the stop"
wait "$text_pid"; text_rc=$?
wait "$json_pid"; json_rc=$?
watchers=''
say "demo: the text watcher printed this, and ended with exit $text_rc:"
tr -d '\r' <"$run/watch.txt"
say "demo: the JSON watcher printed this, and ended with exit $json_rc:"
tr -d '\r' <"$run/watch.json"

say "\$ sc stop $probe | grep STATE"
win 20 sc stop "$probe" | grep STATE
say "\$ sc delete $probe"
win 20 sc delete "$probe" || fail "sc delete $probe failed"
ctl uninstall || fail "$ctl_name uninstall failed"
say "demo: the driver's own log (its DbgPrintEx lines, from Wine's debugstr channel):"
sed -n "s/.*vDbgPrintExWithPrefix [0-9a-fA-F]*:[0-9a-fA-F]*: \($name: .*\)/\1/p" "$run/wine.log" |
    tr -d '\r'

# Nothing left: neither service, then no Wine session.
if timeout 30 wine "$ctl_exe" status >/dev/null 2>&1; then fail "the $display service is still installed"; fi
if timeout 20 wine sc query "$probe" >/dev/null 2>&1; then fail "the $probe service is still installed"; fi
timeout 20 wineserver -k || fail "wineserver -k found no session to end"
session=''
say "demo: nothing left: no $display or $probe service, and the Wine session ended (wineserver -k)"
say "demo: not shown under Wine: process and thread events (Wine never calls those callbacks) and the device's DACL (Wine does not apply it); the host harness in make check tests both, make vm-test on a Windows VM"
say "demo: done in $(($(date +%s) - start)) s"
