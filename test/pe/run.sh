#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shipping checks for signed PE binaries: pecheck --signed and osslsigncode verify on
# every FILE, the stack cookies in every driver's code (stack-cookies.sh), then negative tests
# proving pecheck does fail on a broken driver.
#
# usage: test/pe/run.sh PECHECK CAFILE FILE...
#   FILE: signed *.sys (checked as --kind driver) or *.exe (--kind exe). A driver built by
#   clang (a path containing "-clang") must be CET-compatible (--cet); GNU ld cannot mark it.
#   PAGE_HASHES=1 expects signatures with page hashes (make PAGE_HASHES=1), else none.
#   PE_MACHINE (default x64; x64 or arm64) is passed as --machine; set it empty to not constrain.
# Prints PASS:/FAIL: lines and a last line "pe: N passed, M failed"; exit 0 iff M == 0.
set -u

if [ $# -lt 3 ]; then
    echo "usage: $0 PECHECK CAFILE FILE..." >&2
    exit 2
fi
pecheck=$1
cafile=$2
shift 2
machine=${PE_MACHINE-x64}

passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
# Tool output is indented so that only this script's own lines start with PASS:/FAIL:.
show() { printf '%s\n' "$1" | sed 's/^/    /'; }

machine_args=()
[ -n "$machine" ] && machine_args=(--machine "$machine")

tmp=$(mktemp -d) || { echo "FAIL: mktemp -d"; echo "pe: 0 passed, 1 failed"; exit 1; }
trap 'rm -rf "$tmp"' EXIT

# page_hashes FILE: "yes" or "no", from osslsigncode's report of the signature.
page_hashes() {
    if osslsigncode verify -CAfile "$cafile" -in "$1" 2>&1 | grep -q '^Page hash '; then
        echo yes
    else
        echo no
    fi
}
want_page_hashes=no
[ "${PAGE_HASHES:-0}" = 1 ] && want_page_hashes=yes

first_sys= clang_sys=
for f in "$@"; do
    case $f in
    *.sys) kind=driver; [ -z "$first_sys" ] && first_sys=$f ;;
    *.exe) kind=exe ;;
    *) fail "$f: not a .sys or .exe, cannot tell its kind"; continue ;;
    esac
    cet=
    case $kind:$f in driver:*-clang*) cet=--cet; [ -z "$clang_sys" ] && clang_sys=$f ;; esac

    out=$("$pecheck" --kind "$kind" ${machine_args[@]+"${machine_args[@]}"} --signed $cet "$f" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "$f: pecheck --kind $kind --signed $cet"
    else
        fail "$f: pecheck --kind $kind --signed $cet exited $rc"
        show "$out"
    fi

    out=$(osslsigncode verify -CAfile "$cafile" -in "$f" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q 'Signature verification: ok'; then
        pass "$f: osslsigncode verify"
    else
        fail "$f: osslsigncode verify exited $rc without 'Signature verification: ok'"
        # Its report is long: keep the lines that say what went wrong.
        why=$(printf '%s\n' "$out" | grep -iE 'error|fail|warn|no signature|unable' | head -n 12)
        show "${why:-$(printf '%s\n' "$out" | tail -n 12)}"
    fi
    got=$(page_hashes "$f")
    if [ "$got" = "$want_page_hashes" ]; then
        pass "$f: page hashes: $got"
    else
        fail "$f: page hashes: $got, want $want_page_hashes (PAGE_HASHES=${PAGE_HASHES:-0})"
    fi
done

# The stack cookies are in the drivers' code, and the check tells a function without one apart.
drivers=()
for f in "$@"; do case $f in *.sys) drivers+=("$f") ;; esac; done
if [ ${#drivers[@]} -gt 0 ]; then
    out=$("$(dirname "$0")/stack-cookies.sh" "${drivers[@]}" 2>&1)
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL): '
    p=$(printf '%s\n' "$out" | sed -n 's/^stack cookies: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(printf '%s\n' "$out" | sed -n 's/^stack cookies: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        fail "stack-cookies.sh gave no result line"
        show "$out"
    else
        passed=$((passed + p)) failed=$((failed + f))
    fi
fi

# Each mutated copy breaks one property; pecheck must exit 1 and name that check.
negative() {
    local mode=$1 check=$2 what=$3 sys=${4:-$first_sys} copy=$tmp/$1.sys out rc cet=
    [ "$sys" = "$clang_sys" ] && cet=--cet
    if ! out=$("$pecheck" --mutate "$mode" "$sys" "$copy" 2>&1); then
        fail "negative $mode: could not make the mutated copy"
        show "$out"
        return
    fi
    out=$("$pecheck" --kind driver ${machine_args[@]+"${machine_args[@]}"} --signed $cet "$copy" 2>&1)
    rc=$?
    # Match the check name, not the path: MSYS2 may rewrite the path for a native pecheck.
    if [ $rc -eq 1 ] && printf '%s\n' "$out" | grep '^FAIL: ' | grep -qF ": $check:"; then
        pass "negative $mode: pecheck rejects $what"
    else
        fail "negative $mode: pecheck exited $rc on $what (want 1 and a '$check' failure)"
        show "$out"
    fi
}

if [ -z "$first_sys" ]; then
    fail "negative tests: no .sys among the FILEs"
else
    negative checksum "checksum" "a CheckSum field off by one"
    negative wx "no writable+executable section" "a writable+executable section"
    negative nx "dll characteristics" "NX_COMPAT cleared"
    negative nointeg "dll characteristics" "FORCE_INTEGRITY cleared"
    negative nounwind "unwind data" "an empty exception directory (.pdata)"
    negative nosig "certificate table" "a zeroed certificate table directory"
    # ARM64 .pdata is checked against the calls in the code: one function left uncovered.
    [ "$machine" = arm64 ] && negative uncover "unwind data" "a calling function without a .pdata entry"
    negative oldos "os and subsystem versions" "subsystem and OS version 6.0"
fi
if [ -z "$clang_sys" ]; then
    fail "negative nocet: no clang-built .sys among the FILEs"
else
    negative nocet "cet compatible" "a driver without the CET-compatible mark" "$clang_sys"
fi

# The switch works both ways: a copy signed with the other setting reports the other answer.
if [ -n "$first_sys" ]; then
    other=--page-hashes other_want=yes
    [ "$want_page_hashes" = yes ] && other= other_want=no
    key=${cafile%.crt}.key
    if [ -f "$key" ] &&
        toolchain/sign.sh --cert "$cafile" --key "$key" $other --cafile "$cafile" \
            "$(dirname "$first_sys")/unsigned/$(basename "$first_sys")" "$tmp/other.sys" >/dev/null 2>&1 &&
        [ "$(page_hashes "$tmp/other.sys")" = "$other_want" ]; then
        pass "sign.sh ${other:-without --page-hashes}: page hashes: $other_want"
    else
        fail "sign.sh ${other:-without --page-hashes} did not give page hashes: $other_want"
    fi
fi

echo "pe: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
