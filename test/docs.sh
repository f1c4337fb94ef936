#!/bin/sh
# SPDX-License-Identifier: MIT
# The README, docs/ and CI say what the code does: version, quick-start commands, links that
# resolve, make targets and sanctumctl commands that exist.
set -u
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh
v=$(sanctum_version)
p=$(sed -n 's/^#define SANCTUM_PROTOCOL_VERSION \([0-9]*\).*/\1/p' include/sanctum/ioctl.h)
docs="README.md $(ls docs/*.md)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "version.h defines a version (got '$v')" test -n "$v"
check "ioctl.h defines a protocol version (got '$p')" test -n "$p"
check "README states version $v and protocol $p" grep -q "^Version: \*\*$v\*\* (protocol $p)" README.md
check "README's quick start is 'make setup && make'" grep -qx "make setup && make" README.md
check "README's test command is 'make check'" grep -qx "make check" README.md
check ".ci/run runs the README's setup command" grep -qx "make setup && make" .ci/run
check ".ci/run runs the README's test command" grep -qx "make check" .ci/run
check "the GitHub workflow runs .ci/run" grep -q "run: sh .ci/run" .github/workflows/check.yml
check "docs/ has pages" test -n "$(ls docs/*.md 2>/dev/null)"

# scan FILE: what the checks read in a Markdown file, one item a line:
#   L TARGET   a link outside code          H SLUG   a heading's anchor, as GitHub makes it
#   C TEXT     an inline code span, or a line of a fenced code block
# Paragraphs are joined first, since a code span may continue on the next line.
scan() {
    awk '
    function slug(t, s) {
        s = tolower(t)
        gsub(/[^a-z0-9 _-]/, "", s)
        gsub(/ /, "-", s)
        return s
    }
    function flush(n, i, part, rest, t) {
        if (para == "")
            return
        n = split(para, part, "`")
        para = rest = ""
        for (i = 1; i <= n; i++)
            if (i % 2 == 0 && i < n)
                print "C\t" part[i]
            else
                rest = rest " " part[i]
        while (match(rest, /\]\([^) ]+\)/)) {
            print "L\t" substr(rest, RSTART + 2, RLENGTH - 3)
            rest = substr(rest, RSTART + RLENGTH)
        }
    }
    /^```/ { flush(); fence = !fence; next }
    fence { print "C\t" $0; next }
    /^#+ / {
        flush()
        h = $0
        sub(/^#+ +/, "", h)
        sub(/ +#* *$/, "", h)
        gsub(/`/, "", h)
        s = slug(h)
        if (s in seen) { seen[s]++; s = s "-" seen[s] } else seen[s] = 0
        print "H\t" s
        next
    }
    /^[ \t]*$/ { flush(); next }
    { para = para " " $0 }
    END { flush() }
    ' "$1"
}

# bad_links FILE...: "FILE: TARGET" for each relative link that names no file or directory,
# or an #anchor that is no heading of the Markdown file it points to.
bad_links() {
    for f in "$@"; do
        dir=$(dirname "$f")
        scan "$f" | sed -n 's/^L\t//p' | while read -r target; do
            case $target in *://* | mailto:*) continue ;; esac
            path=${target%%#*}
            anchor=
            case $target in *"#"*) anchor=${target#*#} ;; esac
            if [ -z "$path" ]; then file=$f; else file=$dir/$path; fi
            if [ ! -e "$file" ]; then
                echo "$f: $target"
            elif [ -n "$anchor" ] && ! scan "$file" | grep -qx "H	$anchor"; then
                echo "$f: $target"
            fi
        done
    done
}

# The Makefile's targets, and the client's commands from its command table.
make -pRrq help 2>/dev/null |
    awk -F: '/^# Not a target/ { skip = 1; next }
             /^[^#\t%=][^=]*:([^=]|$)/ && !skip { n = split($1, t, " "); for (i = 1; i <= n; i++) print t[i] }
             { skip = 0 }' | sort -u >"$tmp/targets"
sed -n 's/^ *{ L"\([-a-z]*\)",.*/\1/p' src/user/sanctumctl.c | sort -u >"$tmp/commands"
check "the Makefile's targets could be read (all, check, demo)" \
    sh -c "grep -qx all $tmp/targets && grep -qx check $tmp/targets && grep -qx demo $tmp/targets"
check "the client's command table could be read (install, watch, doctor)" \
    sh -c "grep -qx install $tmp/commands && grep -qx watch $tmp/commands && grep -qx doctor $tmp/commands"

# bad_names FILE...: "FILE: make X" for a `make X` whose X is no target (the first word after
# options and VAR=value), "FILE: sanctumctl X" for a command the client does not have; both
# read only in code (spans and blocks), where commands are.
bad_names() {
    for f in "$@"; do
        scan "$f" | sed -n 's/^C\t//p' | awk '
        {
            n = split($0, w, /[ \t]+/)
            for (i = 1; i < n; i++) {
                # make as a command: first on the line, or after a prompt, an operator or
                # VAR=value; not a package named make (pacman -S make ...) or a word of prose.
                if (w[i] != "make" || (i > 1 && w[i - 1] !~ /^(\$|&&|\|\||;|\||sudo|)$/ &&
                                       w[i - 1] !~ /^[A-Za-z_][A-Za-z0-9_]*=/))
                    continue
                for (j = i + 1; j <= n; j++)
                    if (w[j] !~ /^-/ && w[j] !~ /^[A-Za-z_][A-Za-z0-9_]*=/)
                        break
                if (j <= n && w[j] ~ /^[a-z][a-z0-9_.-]*$/)
                    print "make " w[j]
            }
            line = " " $0
            while (match(line, /[^A-Za-z0-9_.-]sanctumctl(\.exe)? +-*[a-z][a-z-]*/)) {
                word = substr(line, RSTART, RLENGTH)
                line = substr(line, RSTART + RLENGTH)
                sub(/.*sanctumctl(\.exe)? +/, "", word)
                print "sanctumctl " word
            }
        }' | while read -r tool name; do
            if [ "$tool" = make ]; then list=$tmp/targets; else list=$tmp/commands; fi
            grep -qxF -- "$name" "$list" || echo "$f: $tool $name"
        done
    done
}

# bad_versions FILE...: "FILE: TEXT" for a version or protocol of ours that is not this one:
# the dist zip's name, the driver's load line, sanctumctl version's and status's lines.
bad_versions() {
    for f in "$@"; do
        grep -oE "(sanctum-|version |driver |client )[0-9]+\.[0-9]+\.[0-9]+(,? protocol [0-9]+)?" "$f" |
            grep -vE "[ -]$v(,? protocol $p)?\$" | sed "s|^|$f: |"
    done
}

# shellcheck disable=SC2086
{
    bad_links $docs >"$tmp/links"
    bad_names $docs >"$tmp/names"
    bad_versions $docs >"$tmp/versions"
}
check "every relative link in README.md and docs/ resolves: $(tr '\n' ' ' <"$tmp/links")" \
    test ! -s "$tmp/links"
check "every make target and sanctumctl command they name exists: $(tr '\n' ' ' <"$tmp/names")" \
    test ! -s "$tmp/names"
check "every version and protocol they state is $v and $p: $(tr '\n' ' ' <"$tmp/versions")" \
    test ! -s "$tmp/versions"
# make help lists every target meant for users: those of the Makefile's first .PHONY line.
make --no-print-directory help >"$tmp/help" 2>&1
for t in $(sed -n 's/^\.PHONY: //p' Makefile | head -n 1); do
    [ "$t" = help ] && continue
    check "make help lists $t" grep -qE "^  $t( |$)" "$tmp/help"
done

# Each check can fail: a page with one mistake of each kind, beside a page it links to.
mkdir -p "$tmp/plant/sub"
cat >"$tmp/plant/sub/page.md" <<'EOF'
# A page

## The second heading: it has `code`

## The second heading: it has `code`
EOF
cat >"$tmp/plant/bad.md" <<'EOF'
# Planted

[fine](sub/page.md#the-second-heading-it-has-code-1) and [fine too](#planted) and
[web](https://example.com/x.md) and [gone](sub/missing.md) and [no such
heading](sub/page.md#no-heading) and [no third](sub/page.md#the-second-heading-it-has-code-2).
Run `make check`, `make -j2 V=1 dmeo`, `sanctumctl
stats`, and not `make nosuchtarget`: prose make nosuchtarget is not read.

```
$ wine build/x64-clang/sanctumctl.exe wach --json
pacman -S --needed make mingw-w64-x86_64-gcc
PFX_PASSWORD_FILE=f make PFX=x.pfx dsit
sanctum: loaded, version 0.0.9, protocol 2
build/dist/sanctum-0.1.0-x64.zip
```
EOF
bad_links "$tmp/plant/bad.md" | sed "s|^$tmp/plant/||" >"$tmp/got-links"
check "the link check finds a missing file and two missing anchors ($(tr '\n' ' ' <"$tmp/got-links"))" \
    test "$(cat "$tmp/got-links")" = "bad.md: sub/missing.md
bad.md: sub/page.md#no-heading
bad.md: sub/page.md#the-second-heading-it-has-code-2"
bad_names "$tmp/plant/bad.md" | sed "s|^$tmp/plant/||" >"$tmp/got-names"
check "the name check finds an unknown target and command ($(tr '\n' ' ' <"$tmp/got-names"))" \
    test "$(cat "$tmp/got-names")" = "bad.md: make dmeo
bad.md: make nosuchtarget
bad.md: sanctumctl wach
bad.md: make dsit"
bad_versions "$tmp/plant/bad.md" | sed "s|^$tmp/plant/||" >"$tmp/got-versions"
check "the version check finds an old version ($(tr '\n' ' ' <"$tmp/got-versions"))" \
    test "$(cat "$tmp/got-versions")" = "bad.md: version 0.0.9, protocol 2"
finish docs
