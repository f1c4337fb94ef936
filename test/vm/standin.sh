#!/bin/sh
# SPDX-License-Identifier: MIT
# A stand-in for a Windows VM reached over OpenSSH, so that make vm-test's transport is proven
# without Windows: Debian's sshd on a free port of 127.0.0.1, with its own host key, client key
# and configuration under DIR, whose commands run as OpenSSH for Windows runs them
# (`cmd.exe /c COMMAND`), in the cached Wine prefix. scp works through sshd's sftp-server,
# rooted at DIR/home as a Windows account's home would be. Nothing of the system's ssh service
# is used or changed; `stop` ends the sshd that `start` started.
# Usage: standin.sh start DIR SHELL-EXE   (then: ssh -F DIR/ssh_config standin COMMAND)
#        standin.sh stop DIR
set -eu
action=${1:?usage: standin.sh start DIR SHELL-EXE | stop DIR}
dir=${2:?usage: standin.sh start DIR SHELL-EXE | stop DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)

if [ "$action" = stop ]; then
    [ -f "$dir/sshd.pid" ] || exit 0
    pid=$(cat "$dir/sshd.pid")
    kill "$pid" 2>/dev/null || true
    rm -f "$dir/sshd.pid"
    # The sessions' Wine ends with them: wait, so that the next user of the prefix starts clean.
    WINEPREFIX=$root/build/wine/prefix wineserver -w 2>/dev/null || true
    exit 0
fi
[ "$action" = start ] || { echo "standin.sh: unknown action $action" >&2; exit 2; }
shell_exe=${3:?usage: standin.sh start DIR SHELL-EXE}
sshd=/usr/sbin/sshd sftp=/usr/lib/openssh/sftp-server
for tool in "$sshd" "$sftp"; do
    [ -x "$tool" ] || { echo "standin.sh: $tool not found: install openssh-server (apt), or run make setup" >&2; exit 1; }
done
command -v ssh-keygen >/dev/null 2>&1 ||
    { echo "standin.sh: ssh-keygen not found: install openssh-client (apt), or run make setup" >&2; exit 1; }

"$0" stop "$dir"
mkdir -p "$dir/home"
dir=$(cd "$dir" && pwd)
shell_exe=$(cd "$(dirname "$shell_exe")" && pwd)/$(basename "$shell_exe")
user=$(id -un)
prefix=$root/build/wine/prefix
"$root/test/e2e/prefix.sh" "$prefix"

for key in host client; do
    [ -f "$dir/$key" ] || ssh-keygen -q -t ed25519 -N '' -C "sanctum stand-in $key" -f "$dir/$key"
done
cp "$dir/client.pub" "$dir/authorized_keys"

# Every session runs this instead of a login shell: sftp for scp, else the command under Wine
# with cmd.exe. The driver's DbgPrint lines (Wine's stderr) go to the client's stderr and to
# dbgprint.log, which the e2e suite reads as it does under test/e2e/run.sh.
winlog=$(printf 'Z:%s' "$dir/dbgprint.log" | tr / '\\')
cat >"$dir/session.sh" <<SESSION
#!/bin/bash
cd '$dir/home'
case \${SSH_ORIGINAL_COMMAND:-} in
'$sftp') exec '$sftp' -d '$dir/home' ;;
'') echo "stand-in: no interactive sessions; give a command" >&2; exit 1 ;;
esac
export WINEPREFIX='$prefix' WINEDLLOVERRIDES='mscoree,mshtml=' WINEDEBUG='-all,+debugstr'
export SANCTUM_SSH_COMMAND=\$SSH_ORIGINAL_COMMAND SANCTUM_DBGPRINT_LOG='$winlog'
unset DISPLAY WAYLAND_DISPLAY
# Wine's services inherit the session's stdout and hold it open for seconds after the command
# ends; through a file, the session ends with the command.
out=\$(mktemp '$dir/session.XXXXXX')
wine '$shell_exe' >"\$out" 2>>'$dir/dbgprint.log'
status=\$?
cat "\$out"
rm -f "\$out"
exit \$status
SESSION
chmod 755 "$dir/session.sh"

# Debian's sshd, started by root, needs its privilege separation directory (empty, root's).
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then
    mkdir -p -m 0755 /run/sshd
fi

# A free port: sshd exits non-zero when it cannot bind, before it detaches.
port=$((20000 + $$ % 20000))
tries=0
while :; do
    cat >"$dir/sshd_config" <<CONFIG
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $user
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PermitUserEnvironment no
ForceCommand $dir/session.sh
Subsystem sftp $sftp
CONFIG
    if "$sshd" -f "$dir/sshd_config" -E "$dir/sshd.log"; then
        break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 20 ]; then
        echo "standin.sh: sshd did not start on any of 20 ports; see $dir/sshd.log" >&2
        exit 1
    fi
    port=$((port + 1))
done
# sshd writes its pid file once it listens.
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$dir/sshd.pid" ] && break; sleep 0.1; done

printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1-2 "$dir/host.pub")" >"$dir/known_hosts"
cat >"$dir/ssh_config" <<CONFIG
Host standin
    HostName 127.0.0.1
    Port $port
    User $user
    IdentityFile $dir/client
    IdentitiesOnly yes
    UserKnownHostsFile $dir/known_hosts
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
CONFIG
