#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The stack cookies are in the driver's code, as the image ships: functions with a local array
# (SanctumProtectDevice, SanctumMark) read the guard and call __stack_chk_fail; a function
# without one (SanctumStateInit) does neither, and neither does the entry point call the failure
# routine (it seeds the guard: a cookie in its own frame would not match). The addresses come
# from the build's debug information (clang: the PDB; gcc: the .debug file), the code from the
# shipped image.
#
# usage: test/pe/stack-cookies.sh SYS...   (x64 or ARM64 drivers)
# Prints PASS:/FAIL: lines and a last line "stack cookies: N passed, M failed".
set -u
passed=0 failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

hex() { printf '%x' "$1"; }

# symbols SYS: "NAME START END" for every symbol the build's debug information places in the
# image (virtual addresses, hex without 0x; END is the next symbol's start for gcc).
symbols() {
    local sys=$1 pdb=${1%.sys}.pdb debug=$1.debug base
    base=$(llvm-readobj --file-headers "$sys" | sed -n 's/.*ImageBase: 0x\([0-9A-Fa-f]*\).*/\1/p')
    if [ -f "$pdb" ]; then
        # PDB addresses are section:offset (decimal): add the section's VA and the image base
        # in the shell (mawk's numbers are doubles, printed as 32-bit integers).
        local sections line name sec off size
        sections=$(llvm-readobj --sections "$sys" | awk '/Number:/ {n = $2} /VirtualAddress:/ {print n, $2}')
        llvm-pdbutil dump -publics -symbols "$pdb" 2>/dev/null | awk '
            /S_PUB32|S_GPROC32|S_LPROC32/ { match($0, /`[^`]*`/); name = substr($0, RSTART + 1, RLENGTH - 2); next }
            name != "" && /addr = / {
                match($0, /addr = [0-9]+:[0-9]+/); split(substr($0, RSTART + 7, RLENGTH - 7), p, ":")
                size = 0
                if (match($0, /code size = [0-9]+/)) size = substr($0, RSTART + 12, RLENGTH - 12)
                print name, p[1], p[2], size; name = ""
            }' | while read -r name sec off size; do
            line=$(printf '%s\n' "$sections" | awk -v n="$sec" '$1 == n { print $2 }')
            [ -n "$line" ] || continue
            printf '%s %x %x\n' "$name" $((0x$base + line + 10#$off)) \
                $((0x$base + line + 10#$off + 10#$size))
        done | awk '!($1 in s) || $2 != $3 { s[$1] = $2; e[$1] = $3 } END { for (n in s) print n, s[n], e[n] }'
    elif [ -f "$debug" ]; then
        x86_64-w64-mingw32-nm -n "$debug" | awk '
            { addr[NR] = $1; name[NR] = $3 }
            END { for (i = 1; i <= NR; i++) printf "%s %s %s\n", name[i], addr[i], i < NR ? addr[i + 1] : addr[i] }' |
            sed 's/ 0*\([0-9a-f]\)/ \1/g'
    fi
}

# code SYS START END: the disassembly of [START, END) of the image.
code() {
    llvm-objdump -d --no-show-raw-insn --start-address="0x$2" --stop-address="0x$3" "$1" 2>/dev/null
}

# calls CODE TARGET: the code calls (x64 call, ARM64 bl) the address TARGET.
calls() { printf '%s\n' "$1" | grep -Eq "(callq?|bl)[[:space:]]+0x0*$2\b"; }

# reads CODE ADDR...: the code addresses one of ADDR (x64: RIP-relative, in llvm-objdump's
# comment; ARM64: adrp to its page, then the offset).
reads() {
    local text=$1 a page off
    shift
    for a in "$@"; do
        [ -n "$a" ] || continue
        printf '%s\n' "$text" | grep -Eq "# 0x0*$a\b" && return 0
        page=$(hex $((0x$a & ~0xFFF))) off=$(hex $((0x$a & 0xFFF)))
        printf '%s\n' "$text" | grep -Eq "adrp[[:space:]]+x[0-9]+, 0x0*$page\b" &&
            printf '%s\n' "$text" | grep -Eq "#0x$off\]|#$((0x$off))\]" && return 0
    done
    return 1
}

for sys in "$@"; do
    syms=$(symbols "$sys")
    if [ -z "$syms" ]; then
        fail "$sys: no debug information beside it (${sys%.sys}.pdb or $sys.debug)"
        continue
    fi
    at() { printf '%s\n' "$syms" | awk -v n="$1" '$1 == n { print $2, $3; exit }'; }
    read -r fail_va _ <<<"$(at __stack_chk_fail)"
    read -r guard_va _ <<<"$(at __stack_chk_guard)"
    read -r refptr_va _ <<<"$(at .refptr.__stack_chk_guard)"
    if [ -z "${fail_va:-}" ] || [ -z "${guard_va:-}" ]; then
        fail "$sys: the image defines no __stack_chk_fail and __stack_chk_guard"
        continue
    fi
    for f in SanctumProtectDevice SanctumMark; do
        read -r start end <<<"$(at $f)"
        text=$(code "$sys" "$start" "$end")
        if [ -n "$text" ] && calls "$text" "$fail_va" && reads "$text" "$guard_va" "${refptr_va:-}"; then
            pass "$sys: $f (a local array) checks its stack cookie"
        else
            fail "$sys: $f (a local array) does not read the guard and call __stack_chk_fail"
        fi
    done
    # The check can fail: a function without an array carries no cookie, and the entry point,
    # which seeds the guard, must call no failure routine.
    read -r start end <<<"$(at SanctumStateInit)"
    text=$(code "$sys" "$start" "$end")
    if [ -n "$text" ] && ! calls "$text" "$fail_va" && ! reads "$text" "$guard_va" "${refptr_va:-}"; then
        pass "$sys: SanctumStateInit (no array) has no cookie: the check tells them apart"
    else
        fail "$sys: SanctumStateInit (no array) reads the guard or calls __stack_chk_fail"
    fi
    read -r start end <<<"$(at DriverEntry)"
    [ "$start" = "$end" ] && end=$(hex $((0x$start + 256)))
    text=$(code "$sys" "$start" "$end")
    if [ -n "$text" ] && ! calls "$text" "$fail_va"; then
        pass "$sys: DriverEntry, which seeds the guard, checks no cookie of its own"
    else
        fail "$sys: DriverEntry calls __stack_chk_fail: its own cookie would not match the new guard"
    fi
done
echo "stack cookies: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
