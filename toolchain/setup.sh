#!/bin/sh
# SPDX-License-Identifier: MIT
# Install every Debian/Ubuntu package the build and the tests need. Safe to run again.
# Uses sudo only when not root (CI runs as root and has no sudo).
# Known: Debian 12 (tried), Ubuntu 22.04 and 24.04 (package names known, never tried here).
set -eu

# openssh-server brings the sshd that test/vm/standin.sh runs unprivileged on a free port
# (make vm-test's stand-in VM); the system's ssh service is neither started nor enabled.
PACKAGES="make gcc libc6-dev openssl osslsigncode clang lld llvm
gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev
wine wine64
clang-tools libclang-rt-dev cppcheck zip unzip bear valgrind jq
openssh-client openssh-server"

# The distribution decides a few names; anything else is tried with Debian 12's.
distro=unknown
if [ -r /etc/os-release ]; then
    distro=$(. /etc/os-release && echo "${ID:-unknown}-${VERSION_ID:-}")
fi
case $distro in
debian-12) ;;
ubuntu-22.04)
    # Ubuntu 22.04's LLVM 14 keeps libFuzzer in libclang-common-14-dev, and its Wine (6.0) is
    # older than the Wine 8 the e2e suites were written against.
    PACKAGES=$(echo "$PACKAGES" | sed 's/libclang-rt-dev/libclang-common-14-dev/')
    echo "setup: Ubuntu 22.04: never tried; its Wine 6.0 is older than the Wine 8 the tests know" ;;
ubuntu-24.04)
    echo "setup: Ubuntu 24.04: never tried; package names as on Debian 12" ;;
*)
    echo "setup: $distro is not one of Debian 12, Ubuntu 22.04 or 24.04: trying Debian 12's names" ;;
esac
case $distro in
ubuntu-*) universe="; Ubuntu needs the universe component (add-apt-repository universe)" ;;
*) universe= ;;
esac

case $(uname -s) in
MINGW* | MSYS* | CLANG* | UCRT*)
    echo "setup: on MSYS2, install with pacman instead (see docs/building.md, 'Building on Windows (MSYS2)')." >&2
    exit 1 ;;
esac
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: apt-get not found; install these packages with your package manager:" >&2
    echo "  $PACKAGES" | tr '\n' ' ' >&2; echo >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=
elif command -v sudo >/dev/null 2>&1; then
    as_root=sudo
    echo "setup: not root: using sudo for apt-get"
else
    echo "setup: not root and sudo is not installed: run this as root (su -c 'make setup')." >&2
    exit 1
fi

missing=
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "setup: all packages already installed"
    exit 0
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -q
# Installing openssh-server must not start or enable the system's ssh service: a policy-rc.d
# that forbids starting services (unless the machine has one already, as containers do), and
# systemd's units left disabled if this run is what installed them.
new_sshd=
case " $missing " in *" openssh-server "*) new_sshd=yes ;; esac
policy=/usr/sbin/policy-rc.d
own_policy=
if [ -n "$new_sshd" ] && [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' | $as_root tee $policy >/dev/null
    $as_root chmod 755 $policy
    own_policy=yes
fi
# --no-install-recommends: Wine's recommends pull in fonts and GUI bits a headless test never uses.
# shellcheck disable=SC2086
status=0
$as_root apt-get install -y -q --no-install-recommends $missing || status=$?
[ -n "$own_policy" ] && $as_root rm -f $policy
if [ -n "$new_sshd" ] && command -v systemctl >/dev/null 2>&1; then
    $as_root systemctl disable ssh.service ssh.socket >/dev/null 2>&1 || true
    [ -d /run/systemd/system ] && { $as_root systemctl stop ssh.service ssh.socket >/dev/null 2>&1 || true; }
fi
if [ "$status" -ne 0 ]; then
    echo "setup: apt-get install failed (exit $status)$universe" >&2
    exit "$status"
fi
echo "setup: done"
