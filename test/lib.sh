# SPDX-License-Identifier: MIT
# Shared by the shell suites (sourced, from the top of the tree): counting checks, the result
# line, and the facts several suites read from the tree or from a PE/PDB pair.

passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds (its output hidden).
check() {
    what=$1; shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$what"; fi
}
# finish SUITE: the result line check.sh adds up; the status says whether any check failed.
finish() {
    echo "$1: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# The version from include/sanctum/version.h, as MAJOR.MINOR.PATCH.
sanctum_version() {
    sed -n 's/^#define SANCTUM_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
        include/sanctum/version.h | paste -sd. -
}

# pdb_guid FILE.pdb / image_guid FILE.exe: the PDB's GUID and the one the image's debug record
# names, both as 32 upper-case hex digits (llvm-readobj prints the record's bytes, in the
# GUID's mixed-endian order).
pdb_guid() {
    llvm-pdbutil dump -summary "$1" 2>/dev/null | sed -n 's/.*GUID: {\(.*\)}.*/\1/p' |
        tr -d '-' | tr 'a-f' 'A-F'
}
image_guid() {
    llvm-readobj --coff-debug-directory "$1" 2>/dev/null | sed -n 's/.*PDBGUID: (\(.*\)).*/\1/p' |
        awk '{ printf "%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s", $4,$3,$2,$1, $6,$5, $8,$7, $9,$10,$11,$12,$13,$14,$15,$16 }' |
        tr 'a-f' 'A-F'
}
