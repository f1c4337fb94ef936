#!/bin/sh
# SPDX-License-Identifier: MIT
# The README and CI say what the code does: version, quick-start commands.
set -u
cd "$(dirname "$0")/.."
. test/lib.sh
v=$(sanctum_version)
check "version.h defines a version (got '$v')" test -n "$v"
check "README states version $v" grep -q "^Version: \*\*$v\*\*" README.md
check "README's quick start is 'make setup && make'" grep -qx "make setup && make" README.md
check "README's test command is 'make check'" grep -qx "make check" README.md
check ".ci/run runs the README's setup command" grep -qx "make setup && make" .ci/run
check ".ci/run runs the README's test command" grep -qx "make check" .ci/run
check "the GitHub workflow runs .ci/run" grep -q "run: sh .ci/run" .github/workflows/check.yml
finish docs
