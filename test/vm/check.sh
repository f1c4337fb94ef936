#!/bin/sh
# SPDX-License-Identifier: MIT
# make vm-test against the stand-in VM (test/vm/standin.sh): the transport end to end (ssh
# with cmd.exe's quoting and exit statuses, the copy there and back), the whole e2e suite run
# there under Wine, and the failure path: a driver that cannot load gets its evidence
# collected and the run fails with a clear message. It proves the transport and the Wine-side
# results, not Windows.
# Usage: test/vm/check.sh SHELL-EXE DIST-ZIP E2E-EXE
set -u
cd "$(dirname "$0")/../.."
shell_exe=${1:?usage: check.sh SHELL-EXE DIST-ZIP E2E-EXE}
zip=${2:?usage: check.sh SHELL-EXE DIST-ZIP E2E-EXE}
e2e=${3:?usage: check.sh SHELL-EXE DIST-ZIP E2E-EXE}
. test/lib.sh
skipped=0
out=build/vm/standin
tmp=$(mktemp -d)
trap 'test/vm/standin.sh stop "$out/vm"; rm -rf "$tmp"' EXIT

if ! test/vm/standin.sh start "$out/vm" "$shell_exe" >"$tmp/start.log" 2>&1; then
    fail "the stand-in VM did not start:"; sed 's/^/    /' "$tmp/start.log"
    finish vm
    exit 1
fi
export VM=standin VM_SSH_CONFIG=$out/vm/ssh_config VM_DIR=sanctum-vm
ssh_vm() { ssh -F "$VM_SSH_CONFIG" standin "$1"; }

# cmd.exe's quoting and exit status reach the client as OpenSSH for Windows passes them.
got=$(ssh_vm 'echo "a & b" & exit /b 7' | tr -d '\r')
case $got in
*'"a & b" '*) pass ;;
*) fail "a quoted & through ssh: got '$got'" ;;
esac
ssh_vm 'exit /b 7' >/dev/null 2>&1
status=$?
check "cmd's exit status through ssh is 7 (got $status)" test "$status" -eq 7

# The real run: every step, and the suite's own counts.
status=0
test/vm/run.sh sanctum "$zip" "$e2e" "$out/run" >"$tmp/run.log" 2>&1 || status=$?
cat "$tmp/run.log"
line=$(grep -E '^vm-test: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$tmp/run.log" | tail -n 1)
check "make vm-test against the stand-in exits 0 (exit $status)" test "$status" -eq 0
check "make vm-test ends with its result line (got '$line')" test -n "$line"
check "the results came back" test -f "$out/run/results/e2e.txt"
check "the preconditions were checked there" grep -q "OK      elevated" "$out/run/results/preflight.txt"
if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    s=$(echo "$line" | sed -E 's/.* ([0-9]+) skipped$/\1/')
    check "the suite ran there ($p checks passed)" test "$p" -ge 100
    # The suite's checks ran through the transport: they count here too.
    passed=$((passed + p)) skipped=$((skipped + s))
fi

# The failure path: a .sys that is not a driver cannot load; the evidence comes back.
mkdir -p "$tmp/broken"
(cd "$tmp/broken" && unzip -q "$OLDPWD/$zip" && printf 'not a driver\n' >"$(ls -d ./*/)sanctum.sys" &&
    zip -q -r ../broken.zip .)
status=0
test/vm/run.sh sanctum "$tmp/broken.zip" "$e2e" "$out/broken" >"$tmp/broken.log" 2>&1 || status=$?
sed 's/^/    /' "$tmp/broken.log"
check "a driver that cannot load fails the run (exit $status)" test "$status" -eq 1
check "... with a clear message" grep -q "^vm-test: FAIL: the driver did not load on standin" "$tmp/broken.log"
check "... and the result line" grep -qx "vm-test: 0 passed, 1 failed, 0 skipped" "$tmp/broken.log"
check "... whose evidence is kept" test -s "$out/broken/evidence.txt"
for want in "== sc query Sanctum" "sanctumctl: start:" "CodeIntegrity/Operational" "System log"; do
    check "the evidence has '$want'" grep -q "$want" "$out/broken/evidence.txt" "$out/broken/results/load.txt"
done

# No VM, or one that does not answer: a clear message, no build.
status=0
VM= test/vm/run.sh sanctum "$zip" "$e2e" "$tmp/none" >"$tmp/none.log" 2>&1 || status=$?
check "no VM: exit 1 and the command to give" grep -q "no VM given: make vm-test VM=user@host" "$tmp/none.log"
port=$(sed -n 's/^ *Port //p' "$VM_SSH_CONFIG")
sed "s/^ *Port .*/    Port $((port == 65535 ? 1 : port + 1))/" "$VM_SSH_CONFIG" >"$tmp/ssh_config"
VM_SSH_CONFIG=$tmp/ssh_config test/vm/run.sh sanctum "$zip" "$e2e" "$tmp/away" >"$tmp/away.log" 2>&1
check "an unreachable VM: a clear message" grep -q "cannot run a command on standin over ssh" "$tmp/away.log"

test/vm/standin.sh stop "$out/vm"
check "the stand-in's sshd is stopped" test ! -f "$out/vm/sshd.pid"

echo "vm: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
