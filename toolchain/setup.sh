#!/bin/sh
# SPDX-License-Identifier: MIT
# Install every Debian/Ubuntu package the build and the tests need. Safe to run again.
# Uses sudo only when not root (CI runs as root and has no sudo).
set -eu

PACKAGES="make gcc libc6-dev openssl osslsigncode clang lld llvm
gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-x86-64-dev
wine wine64
clang-tools libclang-rt-dev cppcheck zip unzip bear valgrind jq"

case $(uname -s) in
MINGW* | MSYS* | CLANG* | UCRT*)
    echo "setup: on MSYS2, install with pacman instead (see README, 'Building on Windows')." >&2
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
# --no-install-recommends: Wine's recommends pull in fonts and GUI bits a headless test never uses.
# shellcheck disable=SC2086
$as_root apt-get install -y -q --no-install-recommends $missing
echo "setup: done"
