#!/bin/sh
# SPDX-License-Identifier: MIT
# Make the Wine prefix once and cache it (a new one takes several seconds).
# Usage: test/e2e/prefix.sh PREFIX-DIR
set -eu
prefix=${1:?usage: prefix.sh PREFIX-DIR}
[ -f "$prefix/.sanctum-ready" ] && exit 0
rm -rf "$prefix"
mkdir -p "$prefix"
WINEPREFIX=$prefix wine wineboot -i >/dev/null 2>&1
# A service started before wineboot has settled fails with 1053.
WINEPREFIX=$prefix wineserver -w
touch "$prefix/.sanctum-ready"
