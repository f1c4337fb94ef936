#!/bin/sh
# SPDX-License-Identifier: MIT
# The ARM64 compatibility layer: copies of the installed mingw-w64 DDK headers that
# toolchain/arm64/ddk.edits names, with those edits applied. Each edit replaces an exact
# text that must occur exactly as often as the edit says; anything else stops the build,
# so a different header version fails here instead of silently changing a layout.
# Usage: gen-ddk.sh [--without-layout] DDK-INCLUDE EDITS OUT-DIR
#   --without-layout: leave out the edits that fix layouts (only for test/arm64/run.sh, which
#   proves that the layout comparison fails without them).
set -eu
skip=
if [ "${1:-}" = --without-layout ]; then skip=layout:; shift; fi
ddk=${1:?usage: gen-ddk.sh [--without-layout] DDK-INCLUDE EDITS OUT-DIR} edits=${2:?} out=${3:?}

rm -rf "$out.tmp"
mkdir -p "$out.tmp"
# Edits read as:  edit FILE COUNT WHY  /  <<<  / old lines / ===  / new lines / >>>
awk -v ddk="$ddk" -v out="$out.tmp" -v skip="$skip" '
function slurp(path,    text, rs) {
    rs = RS; RS = "\001"   # no such byte in a header: the whole file is one record
    if ((getline text < path) <= 0 || text == "") {
        printf "gen-ddk: %s: missing or empty\n", path > "/dev/stderr"; bad = 2; exit
    }
    close(path); RS = rs
    return text
}
function count(hay, needle,    n, i) {
    n = 0
    while ((i = index(hay, needle)) > 0) { n++; hay = substr(hay, i + length(needle)) }
    return n
}
function replace_all(hay, old, new,    res, i) {
    res = ""
    while ((i = index(hay, old)) > 0) {
        res = res substr(hay, 1, i - 1) new
        hay = substr(hay, i + length(old))
    }
    return res hay
}
$1 == "edit" && state == "" {
    file = $2; want = $3; why = $0; sub(/^edit [^ ]+ [0-9]+ /, "", why)
    if (!(file in text)) { text[file] = slurp(ddk "/" file); order[++nfiles] = file }
    old = ""; new = ""; state = "head"; next
}
$0 == "<<<" && state == "head" { state = "old"; next }
$0 == "===" && state == "old" { state = "new"; next }
$0 == ">>>" && state == "new" {
    got = count(text[file], old)
    if (got != want) {
        printf "gen-ddk: %s: edit \"%s\" expects its text %d time(s), found %d.\n", file, why, want, got > "/dev/stderr"
        printf "gen-ddk: these edits are for mingw-w64 %s headers; check toolchain/arm64/ddk.edits against yours.\n", version > "/dev/stderr"
        bad = 1; exit
    }
    if (skip == "" || index(why, skip) != 1) text[file] = replace_all(text[file], old, new)
    edits++; state = ""; next
}
state == "old" { old = old $0 "\n"; next }
state == "new" { new = new $0 "\n"; next }
$1 == "version" && state == "" { version = $2; next }
/^#/ || /^$/ { if (state == "") next }
{ printf "gen-ddk: %s:%d: unexpected line: %s\n", FILENAME, FNR, $0 > "/dev/stderr"; bad = 2; exit }
END {
    if (bad) exit bad
    if (state != "") { printf "gen-ddk: %s: unterminated edit \"%s\"\n", FILENAME, why > "/dev/stderr"; exit 2 }
    for (k = 1; k <= nfiles; k++) {
        f = order[k]
        printf "%s", text[f] > (out "/" f)
        close(out "/" f)
    }
}' "$edits"
rm -rf "$out"
mv "$out.tmp" "$out"
