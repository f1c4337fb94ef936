#!/bin/sh
# SPDX-License-Identifier: MIT
# The README and CI say what the code does: version, quick-start commands.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $d"; fi
}
v=$(sed -n 's/^#define SANCTUM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' include/sanctum/version.h | paste -sd. -)
check "version.h defines a version (got '$v')" test -n "$v"
check "README states version $v" grep -q "^Version: \*\*$v\*\*" README.md
check "README's quick start is 'make setup && make'" grep -qx "make setup && make" README.md
check "README's test command is 'make check'" grep -qx "make check" README.md
check ".ci/run runs the README's setup command" grep -qx "make setup && make" .ci/run
check ".ci/run runs the README's test command" grep -qx "make check" .ci/run
echo "docs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
