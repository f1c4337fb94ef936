#!/bin/sh
# SPDX-License-Identifier: MIT
# make vm-test: the end-to-end suite in a Windows test-signing VM, over OpenSSH. It copies the
# dist bundle (unpacked), the suite and vm-run.cmd to VM_DIR on the VM, runs vm-run.cmd there
# (preconditions, a first load, the suite), copies results\ back to OUT/results, and ends with
# `vm-test: N passed, N failed, N skipped`; the exit status says the same. When the driver
# does not load, the evidence the VM collected is printed and kept in OUT/evidence.txt.
# Usage: test/vm/run.sh DRIVER-NAME DIST-ZIP E2E-EXE OUT
# Environment: VM=user@host (required), VM_PORT (default: ssh's, 22), VM_DIR (default
# DRIVER-NAME-vm, relative to the VM account's home, or absolute as C:/path), VM_SSH_CONFIG (an
# ssh_config file to use instead of ~/.ssh/config).
set -eu
usage="usage: VM=user@host test/vm/run.sh DRIVER-NAME DIST-ZIP E2E-EXE OUT"
driver=${1:?$usage} zip=${2:?$usage} e2e=${3:?$usage} out=${4:?$usage}
here=$(cd "$(dirname "$0")" && pwd)
vm=${VM:-}
vm_dir=${VM_DIR:-$driver-vm}

result() { echo "vm-test: $1 passed, $2 failed, $3 skipped"; [ "$2" -eq 0 ]; }
die() { echo "vm-test: FAIL: $*"; result 0 1 0; exit 1; }

[ -n "$vm" ] || die "no VM given: make vm-test VM=user@host [VM_PORT=22] [VM_DIR=$vm_dir]"
case $vm_dir in
*[\"\&\|\<\>\^%\ ]*) die "VM_DIR=$vm_dir: use a path without spaces or any of \" & | < > ^ %" ;;
esac
for tool in ssh scp unzip; do
    command -v $tool >/dev/null 2>&1 || die "$tool not found: install $([ $tool = unzip ] && echo unzip || echo openssh-client) (apt), or run make setup"
done
set -- -o BatchMode=yes -o ConnectTimeout=15 -o ServerAliveInterval=15 -o ServerAliveCountMax=8
[ -n "${VM_SSH_CONFIG:-}" ] && set -- "$@" -F "$VM_SSH_CONFIG"
ssh_opts="$*"
# shellcheck disable=SC2086
remote() { ssh $ssh_opts ${VM_PORT:+-p "$VM_PORT"} "$vm" "$1"; }
# shellcheck disable=SC2086
copy() { scp -q -r $ssh_opts ${VM_PORT:+-P "$VM_PORT"} "$@"; }
win_dir=$(printf '%s' "$vm_dir" | tr / '\\')

# The payload: the bundle's files in bin\, the certificate also in cert\ (where the suite looks
# for it, beside the binaries' folder), the suite with its probe driver, and vm-run.cmd.
rm -rf "$out"
mkdir -p "$out/payload/cert"
payload=$out/payload
unzip -q "$zip" -d "$out/unzip" || die "cannot unpack $zip"
mv "$out/unzip"/* "$payload/bin"
rmdir "$out/unzip"
cp "$payload/bin/$driver-test.cer" "$payload/cert/"
cp "$e2e" "$payload/sanctum-e2e.exe"
# The second driver of the events cases, beside the suite, where it looks for it.
cp "$(dirname "$e2e")/sanctum-probe.sys" "$payload/" || die "no sanctum-probe.sys beside $e2e"
display=$(printf '%s' "$driver" | sed 's/^./\U&/')
sed -e "s/@CTL@/${driver}ctl.exe/g" -e "s/@SYS@/$driver.sys/g" -e "s/@CER@/$driver-test.cer/g" \
    -e "s/@SERVICE@/$display/g" -e "s/@DISPLAY@/$display driver/g" -e 's/$/\r/' \
    "$here/vm-run.cmd" >"$payload/vm-run.cmd"

echo "vm-test: $vm: connecting, clearing $vm_dir"
if ! remote "ver && if exist $win_dir rmdir /s /q $win_dir" >"$out/connect.txt" 2>&1; then
    sed 's/^/    /' "$out/connect.txt"
    die "cannot run a command on $vm over ssh (key-based login to an OpenSSH server with cmd.exe as its shell; see docs/vm.md)"
fi
sed -n '/[^[:space:]]/s/^/    /p' "$out/connect.txt"
echo "vm-test: copying the bundle, the suite and vm-run.cmd to $vm_dir"
copy "$payload" "$vm:$vm_dir" || die "cannot copy $payload to $vm:$vm_dir"

echo "vm-test: running vm-run.cmd on $vm"
status=0
remote "cd /d $win_dir && vm-run.cmd" >"$out/console.txt" 2>&1 || status=$?
tr -d '\r' <"$out/console.txt" | sed 's/^/    /'
copy "$vm:$vm_dir/results" "$out/" 2>"$out/fetch.txt" ||
    echo "vm-test: could not copy the results back: $(cat "$out/fetch.txt")"

case $status in
0 | 1)
    line=$(tr -d '\r' <"$out/results/e2e.txt" 2>/dev/null |
        grep -E '^e2e-vm: [0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' | tail -n 1)
    [ -n "$line" ] || die "the suite did not finish (vm-run.cmd exit $status); its output: $out/results/e2e.txt"
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped$/\1/p')
    [ "$status" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    echo "vm-test: results in $out/results"
    result "$p" "$f" "${s:-0}" ;;
2) die "a precondition does not hold on $vm (the PROBLEM lines above say what to fix)" ;;
3)
    tr -d '\r' <"$out/results/evidence.txt" >"$out/evidence.txt" 2>/dev/null ||
        echo "(vm-run.cmd collected no evidence)" >"$out/evidence.txt"
    die "the driver did not load on $vm; the evidence above is kept in $out/evidence.txt" ;;
255) die "ssh to $vm failed during the run (exit 255)" ;;
*) die "vm-run.cmd ended with exit $status" ;;
esac
