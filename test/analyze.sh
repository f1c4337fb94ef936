#!/bin/sh
# SPDX-License-Identifier: MIT
# Static analysis of the driver and the client: clang's static analyzer with the real target
# and headers, and cppcheck. Each source file is one check per tool; a known-bad snippet
# proves each tool still reports what it should.
# Usage: test/analyze.sh DDK-INCLUDE-DIR
set -u
cd "$(dirname "$0")/.."
ddk=${1:?usage: analyze.sh DDK-INCLUDE-DIR}
. test/lib.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

target="--target=x86_64-w64-mingw32 -std=c11 -Wall -Wextra -Werror -Iinclude"
kernel="$target -ffreestanding -isystem $ddk"
user="$target -municode -DUNICODE -D_UNICODE"
cppcheck="cppcheck -q --std=c11 --enable=warning,portability,performance,style --inline-suppr
    --error-exitcode=1 -Iinclude"

# analyze NAME COMMAND...: one check; the tool's report is shown when it fails.
analyze() {
    name=$1; shift
    if "$@" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]; then
        pass
    else
        fail "$name"; sed 's/^/    /' "$tmp/out"
    fi
}
# shellcheck disable=SC2086
for f in src/kernel/*.c; do
    analyze "clang-analyzer $f" clang --analyze -Xclang -analyzer-werror $kernel "$f" -o /dev/null
done
# shellcheck disable=SC2086
for f in src/user/*.c; do
    analyze "clang-analyzer $f" clang --analyze -Xclang -analyzer-werror $user "$f" -o /dev/null
done
# The kernel shim gives cppcheck the driver's types, so that it can follow pointers.
# shellcheck disable=SC2086
analyze "cppcheck src/kernel" $cppcheck -Isrc/kernel -Itest/unit/shim src/kernel
# shellcheck disable=SC2086
analyze "cppcheck src/user" $cppcheck src/user

# Both tools must still catch a NULL dereference and a leak, or a clean run means nothing.
cat >"$tmp/bad.c" <<'BAD'
#include <stdlib.h>
int bad(int n) { int *p = NULL; char *q = malloc(16); if (n) { p = &n; } q[0] = 1; return *p; }
BAD
if clang --analyze -Xclang -analyzer-werror -std=c11 "$tmp/bad.c" -o /dev/null >/dev/null 2>&1; then
    fail "clang's analyzer missed a NULL dereference"
else
    pass
fi
# shellcheck disable=SC2086
if $cppcheck "$tmp/bad.c" >/dev/null 2>&1; then
    fail "cppcheck missed a NULL dereference and a leak"
else
    pass
fi

finish analyze
