#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make bench: what the driver costs, each figure against its floor, for both toolchains in one
# run: the build's time (make -j2 against the same commands run by a script), the binaries'
# sizes (against a minimal driver), the driver's instructions per request and per event
# callback (callgrind, against memcpy/memset of the same bytes), events per second end to end
# on the host (against a ring under a mutex), and under Wine its throughput and the latency
# of a MARK to a pending GET_EVENTS (against a null driver).
# Writes report.md and report.json (the same figures) to build/bench/.
# Usage: test/bench/run.sh [--quick]
#   --quick  one repetition and short samples (seconds; make check runs it): the report goes
#            to build/bench/quick/ and is checked for completeness and form, never for speed.
# Environment: BENCH_REPS (build repetitions, default 5), BENCH_JOBS (parallel jobs, default
# 2), BENCH_WINEPREFIX (default build/wine/prefix, the prefix the Wine suites cache).
# Prints `bench: N passed, M failed` last, counting the checks of the report.
# shellcheck disable=SC2016 # jq programs and make's $(...) are single-quoted on purpose
set -euo pipefail
export LC_ALL=C
# Run from make bench: every make below is timed and parsed as a top-level make of its own.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

quick=0
case ${1:-} in
--quick) quick=1 ;;
"") ;;
*) echo "usage: test/bench/run.sh [--quick]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bench=$root/test/bench
jobs=${BENCH_JOBS:-2}
if [ "$quick" -eq 1 ]; then
    out=$root/build/bench/quick
    build_reps=${BENCH_REPS:-1} cpu_reps=2 time_samples=3 wine_seconds=0.02 wine_samples=1
    events_per_producer=20000 event_samples=1 latency_samples=100
else
    out=$root/build/bench
    build_reps=${BENCH_REPS:-5} cpu_reps=10 time_samples=7 wine_seconds=0.15 wine_samples=7
    events_per_producer=500000 event_samples=5 latency_samples=2000
fi
work=$out/work
tree=$work/tree
results=$work/results.tsv
bench_start=${EPOCHREALTIME/./}
passed=0 failed=0 finished=0

say() { printf 'bench: %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "bench: FAIL: $*"; }
# check DESCRIPTION COMMAND...: one counted check of the report.
check() {
    local d=$1; shift
    if "$@" >/dev/null 2>&1; then pass; else fail "$d"; fi
}
# A step that dies leaves a counted failure, so that check.sh sees a result line.
on_exit() {
    local status=$?
    if [ "$finished" -eq 0 ]; then
        echo "bench: FAIL: stopped (exit $status); logs in ${work#"$root"/}"
        echo "bench: $passed passed, $((failed + 1)) failed"
    fi
}
trap on_exit EXIT
# To stderr: die also runs inside command substitutions.
die() { echo "bench: FAIL: $*" >&2; exit 1; }
row() { (IFS=$'\t'; printf '%s\n' "$*") >>"$results"; }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
seconds_since() { awk -v a="$1" -v b="$(now_us)" 'BEGIN { printf "%.4f", (b - a) / 1e6 }'; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (apt), or run make setup"; }
need make make
need jq jq
need valgrind valgrind
need llvm-readobj llvm
need osslsigncode osslsigncode
need wine wine
need clang clang
need gcc gcc
[ -f /usr/include/valgrind/callgrind.h ] || die "valgrind/callgrind.h not found: install valgrind (apt)"

rm -rf "$work"
mkdir -p "$work" "$tree"
: >"$results"

# ---- the scratch tree: the tree as it is now (tracked and new files), built apart ----

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$tree"
    commit=$(git rev-parse HEAD)
    git diff --quiet HEAD -- 2>/dev/null && [ -z "$(git ls-files --others --exclude-standard)" ] &&
        dirty=false || dirty=true
else
    tar --exclude=./build -cf - . | tar -xf - -C "$tree"
    commit=unknown dirty=true
fi
# A certificate of the bench's own (made once): build/cert belongs to the real build.
[ -f build/bench/cert/sanctum-test.crt ] || toolchain/make-test-cert.sh build/bench/cert sanctum
mkdir -p "$tree/build/cert"
cp build/bench/cert/sanctum-test.* "$tree/build/cert/"

# mkvar VAR [MAKE-ARGS...]: a variable as the Makefile computes it (in the scratch tree).
mkvar() {
    local var=$1; shift
    (cd "$tree" && make -s --no-print-directory "$@" BENCH_VAR="$var" \
        --eval '.bench-print: ; $(info $($(BENCH_VAR)))@:' .bench-print)
}
toolchains=$(mkvar TOOLCHAINS)
sys=$(mkvar SYS)
ctl=$(mkvar CTL)
for tc in $toolchains; do
    eval "out_$tc=\$(mkvar ${tc}_OUT)"
    eval "kobj_$tc=\$(mkvar ${tc}_KOBJ)"
done
outdir() { eval "echo \$out_$1"; }

# ---- the machine and the tools ----

row meta mode "$([ "$quick" -eq 1 ] && echo quick || echo full)" str
row meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" str
row meta commit "$commit" str
row meta dirty "$dirty" bool
row meta nproc "$(nproc)" num
row meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" str
row meta memory_mib "$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)" num
row meta kernel "$(uname -sr)" str
row meta jobs "$jobs" num
row meta build_reps "$build_reps" num
row meta cpu_reps "$cpu_reps" num
row meta events_per_producer "$events_per_producer" num
row meta event_samples "$event_samples" num
row meta latency_samples "$latency_samples" num
row meta wine_seconds_per_sample "$wine_seconds" num
row meta wine_samples "$wine_samples" num
first_line() { "$@" 2>/dev/null | sed -n '/[0-9]/{s/, using:$//;p;q}' | tr -d '\r'; }
gcc_cc=$(mkvar gcc_CC)
row tool clang "$(first_line clang --version)"
row tool lld "$(first_line ld.lld --version)"
row tool llvm-rc "$(readlink -f "$(command -v llvm-rc)")"
row tool mingw-gcc "$(first_line "$gcc_cc" --version)$(dpkg-query -W -f=' (Debian ${Version})' \
    gcc-mingw-w64-x86-64-win32 2>/dev/null || true)"
row tool binutils "$(first_line "$(mkvar gcc_OBJCOPY)" --version)"
row tool osslsigncode "$(first_line osslsigncode --version)"
row tool make "$(first_line make --version)"
row tool wine "$(first_line wine --version)"
row tool valgrind "$(first_line valgrind --version)"
row tool host-gcc "$(first_line gcc --version)"
row tool host-clang "$(first_line clang --version)"
row tool glibc "$(first_line ldd --version)"

# ---- 1. the build: make -j2 against its floor, the same commands with no make ----

# The floor signs as sign.sh does, without its verification: stop if sign.sh changed.
grep -q 'osslsigncode sign "$@" -h sha256 $page_hashes -n "Sanctum"' toolchain/sign.sh ||
    die "toolchain/sign.sh no longer signs as the floor assumes: update floor_jobs in $0"

# floor_jobs TC DIR: make -n's commands as job files DIR/jobs/NN.sh, a link and the commands
# after it (the toolchain's split_debug) being one job, sign.sh its osslsigncode call alone; and
# DIR/deps: a line per job, its number, its kind and the jobs whose output it reads. Compiles
# keep -MMD -MP: clang records its command line in the CodeView that lands in the PDB, whose
# hash is in the binary (/Brepro), so without them the floor's binaries would not be make's.
floor_jobs() {
    local tc=$1 dir=$2
    mkdir -p "$dir/jobs"
    (cd "$tree" && make -n -B V=1 TOOLCHAIN="$tc") >"$dir/make-n.txt"
    awk -v dir="$dir" '
        function job(kind, line) {
            n++; kinds[n] = kind; cmd[n] = line
            for (i = 1; i < NF; i++) if ($i == "-o" || $i == "-fo" || $i == "-out") made[$(i + 1)] = n
            return n
        }
        /^mkdir -p / { print > (dir "/mkdirs.sh"); next }
        /^true$/ || /make-test-cert\.sh/ || /\.page-hashes-/ { next }
        /^toolchain\/sign\.sh / {
            ph = ""
            for (i = 2; i < NF - 1; i++) {
                if ($i == "--cert") cert = $(i + 1)
                if ($i == "--key") key = $(i + 1)
                if ($i == "--page-hashes") ph = "-ph "
            }
            $0 = "osslsigncode sign -certs " cert " -key " key " -h sha256 " ph "-n Sanctum -in " \
                $(NF - 1) " -out " $NF
            job("sign", $0 " >/dev/null"); next
        }
        / -c / || /^(llvm-rc|[^ ]*windres) / { job("compile", $0); next }
        / -o / { link = job("link", $0); next }
        # What follows a link (the split_debug step of the toolchain) belongs to it.
        link { cmd[link] = cmd[link] "\n" $0; next }
        { print "bench: make -n printed a command the floor does not know: " $0 > "/dev/stderr"; bad = 1 }
        END {
            for (j = 1; j <= n; j++) {
                f = sprintf("%s/jobs/%02d.sh", dir, j)
                print cmd[j] > f; close(f)
                deps = ""; split(cmd[j], words, /[ \n]+/)
                for (w in words)
                    if ((words[w] in made) && made[words[w]] != j) deps = deps sprintf(" %02d", made[words[w]])
                printf "%02d %s%s\n", j, kinds[j], deps > (dir "/deps")
            }
            exit bad
        }' "$dir/make-n.txt"
}

# run_floor DIR: every job as soon as the jobs it reads from are done, $jobs at a time: the
# parallelism make -j has, with nothing of make's own work.
run_floor() {
    local dir=$1 id kind deps d ready pid left
    local -A needs=() begun=() ended=() job_of=()
    while read -r id kind deps; do needs[$id]=$deps; done <"$dir/deps"
    cd "$tree"
    sh -e "$dir/mkdirs.sh"
    left=${#needs[@]}
    while [ "$left" -gt 0 ]; do
        for id in $(printf '%s\n' "${!needs[@]}" | sort); do
            [ ${#job_of[@]} -lt "$jobs" ] || break
            [ -z "${begun[$id]:-}" ] || continue
            ready=1
            for d in ${needs[$id]}; do [ -n "${ended[$d]:-}" ] || ready=0; done
            [ "$ready" -eq 1 ] || continue
            sh -e "$dir/jobs/$id.sh" &
            job_of[$!]=$id begun[$id]=1
        done
        wait -n -p pid || { wait; return 1; }
        ended[${job_of[$pid]}]=1
        unset "job_of[$pid]"
        left=$((left - 1))
    done
    cd "$root"
}
run_make() { (cd "$tree" && make -j"$jobs" TOOLCHAIN="$1" >"$work/make-$1.log" 2>&1); }
unsigned_sums() { (cd "$tree/$(outdir "$1")" && sha256sum unsigned/*); }

for tc in $toolchains; do
    dir=$work/floor-$tc
    floor_jobs "$tc" "$dir"
    for kind in compile link sign; do
        row buildinfo "$tc" "${kind}s" "$(awk -v k="$kind" '$2 == k' "$dir/deps" | wc -l)"
    done
    # One build untimed first, so that every timed one finds the same warm caches.
    [ "$quick" -eq 1 ] || { rm -rf "${tree:?}/$(outdir "$tc")"; run_make "$tc"; }
    last=
    for rep in $(seq 1 "$build_reps"); do
        # The floor first on odd repetitions, make first on even ones: drift hits both, and an
        # odd count ends with make's build, which the rest of the bench uses.
        order="floor make"
        [ $((rep % 2)) -eq 0 ] && order="make floor"
        for what in $order; do
            rm -rf "${tree:?}/$(outdir "$tc")"
            t0=$(now_us)
            if [ "$what" = make ]; then
                run_make "$tc" || die "make ($tc) failed: see ${work#"$root"/}/make-$tc.log"
            else
                (run_floor "$dir") >"$work/floor-$tc.log" 2>&1 ||
                    die "the floor ($tc) failed: see ${work#"$root"/}/floor-$tc.log"
            fi
            s=$(seconds_since "$t0")
            row build "$tc" "$what" "$s"
            say "build $tc: $what $rep/$build_reps: $s s"
            unsigned_sums "$tc" >"$work/sums-$tc-$what"
            last=$what
        done
    done
    cmp -s "$work/sums-$tc-make" "$work/sums-$tc-floor" && same=true || same=false
    row buildinfo "$tc" same_unsigned_outputs "$same"
    # The rest of the bench uses make's build, dependency files included.
    [ "$last" = make ] || { rm -rf "${tree:?}/$(outdir "$tc")"; run_make "$tc"; }
    idle=true
    for rep in $(seq 1 "$build_reps"); do
        t0=$(now_us)
        (cd "$tree" && make -j"$jobs" TOOLCHAIN="$tc") >"$work/noop-$tc.log" 2>&1
        row build "$tc" noop "$(seconds_since "$t0")"
        grep -qv "Nothing to be done" "$work/noop-$tc.log" && idle=false
    done
    row buildinfo "$tc" noop_did_nothing "$idle"
done

# ---- 2. sizes: every shipped binary, and the minimal driver built with the same commands ----

# like_driver TC NAME SOURCE: SOURCE compiled, linked (with the driver's version resource) and
# signed by the commands make runs for the driver, into OUT/bench/; prints the signed path.
like_driver() {
    local tc=$1 name=$2 src=$3 dir o b obj new cmd
    dir=$work/floor-$tc
    o=$(outdir "$tc") b=${sys%.sys}
    new=$o/bench
    mkdir -p "$tree/$new/unsigned"
    obj=$(eval "echo \$kobj_$tc" | tr ' ' '\n' | grep "/driver\.o$")
    cmd=$(grep -l " src/kernel/driver\.c " "$dir"/jobs/*.sh | head -n 1)
    if [ -z "$obj" ] || [ -z "$cmd" ]; then
        die "no compile command for src/kernel/driver.c in make -n"
    fi
    # A floor has no stack cookies: it brings no guard of its own, and what ours cost counts as
    # ours.
    sed -e "s# src/kernel/driver\.c # $src #" -e "s# -o $obj# -o $new/$name.o#" \
        -e "s# -fstack-protector-strong # -fno-stack-protector #" "$cmd" \
        >"$work/$name-$tc-compile.sh"
    # The link: the driver's objects out, ours in; every output renamed.
    cmd=$(grep -l -- "-o $o/unsigned/$sys" "$dir"/jobs/*.sh | head -n 1)
    [ -n "$cmd" ] || die "no link command for $o/unsigned/$sys in make -n"
    awk -v objs="$(eval "echo \$kobj_$tc")" -v mine="$new/$name.o" '
        BEGIN { n = split(objs, o, " "); for (i = 1; i <= n; i++) drop[o[i]] = 1 }
        NR == 1 {
            line = ""
            for (i = 1; i <= NF; i++) {
                if ($i in drop) { if (!done) { line = line " " mine; done = 1 } continue }
                line = line " " $i
            }
            print substr(line, 2); next
        }
        { print }' "$cmd" |
        sed -e "s#$o/unsigned/$sys#$new/unsigned/$name.sys#g" -e "s#$o/$b\.#$new/$name.#g" \
            -e "s#:$b\.pdb#:$name.pdb#g" >"$work/$name-$tc-link.sh"
    if grep -q -e "$o/unsigned/$sys" -e "$obj" "$work/$name-$tc-link.sh"; then
        die "could not rename the outputs of the link for $name ($tc)"
    fi
    cmd=$(grep -l -- "-in $o/unsigned/$sys " "$dir"/jobs/*.sh | head -n 1)
    sed -e "s#$o/unsigned/$sys#$new/unsigned/$name.sys#" -e "s#-out $o/$sys#-out $new/$name.sys#" \
        "$cmd" >"$work/$name-$tc-sign.sh"
    rm -f "$tree/$new/$name.sys"
    (cd "$tree" && for step in compile link sign; do sh -e "$work/$name-$tc-$step.sh"; done) \
        >"$work/$name-$tc.log" 2>&1 || die "building $name ($tc) failed: see ${work#"$root"/}/$name-$tc.log"
    echo "$tree/$new/$name.sys"
}

# sections FILE: name, virtual size and raw size of each section, a line each.
sections() {
    llvm-readobj --sections "$1" | awk '
        /^ *Name: / { name = $2 }
        /^ *VirtualSize: / { virt = $2 }
        /^ *RawDataSize: / { print name, virt, $2 }'
}
record_size() { # TC BINARY UNSIGNED SIGNED
    local name virt raw
    row size "$1" "$2" unsigned "$(stat -c %s "$3")"
    row size "$1" "$2" signed "$(stat -c %s "$4")"
    while read -r name virt raw; do
        row section "$1" "$2" "$name" "$((virt))" "$raw"
    done < <(sections "$3")
    cmp -s <(sections "$3") <(sections "$4") && same=true || same=false
    row size "$1" "$2" signed_sections_same "$same"
}
for tc in $toolchains; do
    o=$tree/$(outdir "$tc")
    record_size "$tc" "$sys" "$o/unsigned/$sys" "$o/$sys"
    record_size "$tc" "$ctl" "$o/unsigned/$ctl" "$o/$ctl"
    signed=$(like_driver "$tc" minimal test/bench/minimal.c)
    record_size "$tc" minimal.sys "$(dirname "$signed")/unsigned/minimal.sys" "$signed"
    eval "null_$tc=\$(like_driver \"\$tc\" nulldrv test/bench/nulldrv.c)"
done
# The ARM64 driver (clang only), built in the same tree; no floor of its own.
(cd "$tree" && make -j"$jobs" ARCH=arm64) >"$work/arm64.log" 2>&1 ||
    die "make ARCH=arm64 failed: see ${work#"$root"/}/arm64.log"
record_size clang-arm64 "$sys" "$tree/build/arm64-clang/unsigned/$sys" "$tree/build/arm64-clang/$sys"

# ---- 3. CPU per request: callgrind's instruction counts on the host build ----

# The unit tests' flags without sanitizers and with -O2; the driver's sources also get the
# kernel build's code-generation flags (no builtins, its stack cookies against its own guard),
# everything else none.
unit_flags=$(mkvar UNIT_CFLAGS | tr ' ' '\n' |
    grep -v -e '^-fsanitize' -e '^-fno-sanitize' -e '^-O' -e '^-MMD$' -e '^-MP$' -e '^$' | paste -sd' ' -)
case " $unit_flags " in *" -fshort-wchar "*) ;; *) unit_flags="$unit_flags -fshort-wchar" ;; esac
kernel_flags="-ffreestanding $(mkvar HOST_GS_CFLAGS)"
for cc in gcc clang; do
    dir=$work/cpu-$cc
    mkdir -p "$dir/obj"
    # valgrind 3.19 cannot read clang 14's default DWARF 5.
    flags="$unit_flags -O2 -gdwarf-4"
    objs=
    for src in src/kernel/*.c src/user/events.c test/unit/shim/*.c test/bench/cpubench.c \
        test/bench/eventbench.c; do
        extra=-fno-stack-protector
        case $src in src/kernel/*) extra=$kernel_flags ;; esac
        obj=$dir/obj/$(echo "$src" | tr / _).o
        # shellcheck disable=SC2086
        (cd "$tree" && $cc $flags $extra -c "$src" -o "$obj") >>"$dir/build.log" 2>&1 ||
            die "compiling $src for the CPU bench ($cc) failed: see ${dir#"$root"/}/build.log"
        case $src in test/bench/*) ;; *) objs="$objs $obj" ;; esac
    done
    for prog in cpubench eventbench; do
        # shellcheck disable=SC2086
        $cc -pthread $objs "$dir/obj/test_bench_$prog.c.o" -o "$dir/$prog" >>"$dir/build.log" 2>&1 ||
            die "linking the CPU bench's $prog ($cc) failed: see ${dir#"$root"/}/build.log"
    done
    # glibc's string functions use rep movsb/stosb past a size, and callgrind counts each
    # iteration of a rep instruction as an instruction: the tunables keep them on their vector
    # loops, whose counts mean what the driver's mean.
    ok=true
    (cd "$dir" && GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=0x7fffffff:glibc.cpu.x86_rep_stosb_threshold=0x7fffffff \
        valgrind --tool=callgrind --collect-atstart=no --compress-strings=no --compress-pos=no \
        --toggle-collect='SanctumDispatch*' --toggle-collect='bench_direct_*' \
        --toggle-collect='bench_floor_*' --toggle-collect='SanctumOnThread' \
        --callgrind-out-file="$dir/callgrind.out" \
        ./cpubench callgrind "$cpu_reps") >"$dir/callgrind.log" 2>&1 || ok=false
    for dump in "$dir"/callgrind.out.*; do
        # Kernel services: every call from the driver's code into a function of
        # test/unit/shim/*.c (pool, locks, MDL mapping, IoCompleteRequest), inclusive. The rest
        # of what was collected is the driver's, the memcpy/memset it calls included.
        awk -v cc="$cc" '
            FNR == NR {
                if (/^fl=/) fl = substr($0, 4)
                else if (/^fn=/ && fl ~ /\/test\/unit\/shim\/[^\/]*\.c$/) shim[substr($0, 4)] = 1
                next
            }
            /^desc: Trigger: Client Request: bench / {
                for (i = 5; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
            }
            /^summary: / { total = $2 }
            /^fn=/ { fn = substr($0, 4); call = 0; next }
            /^cfn=/ { cfn = substr($0, 5); next }
            /^calls=/ { call = 1; next }
            # own: what each function of the driver costs by itself, and each library call
            # of the driver (memcpy) with all it runs: the hottest one goes in the report.
            /^[0-9]/ {
                driver = fn ~ /^(Sanctum|DriverEntry|bench_)/
                if (call && driver && (cfn in shim)) kernel += $2
                else if (call && driver && cfn !~ /^(Sanctum|DriverEntry|bench_)/) own[cfn] += $2
                else if (!call && driver) own[fn] += $2
                call = 0
            }
            END {
                top = "-"; topir = 0
                for (g in own) if (own[g] > topir) { top = g; topir = own[g] }
                printf "cpu\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", cc, f["scenario"], f["bytes"],
                    f["mode"], f["reps"], total, kernel, top, topir
            }' "$dump" "$dump" >>"$results"
    done
    # Native time, as a cross-check of what the instruction counts say about bulk copies.
    "$dir/cpubench" time "$time_samples" >"$dir/time.log" 2>&1 || ok=false
    row cpucheck "$cc" ok "$ok"
    awk -v cc="$cc" -F'\t' '$1 == "time" { printf "cputime\t%s\t%s\t%s\t%s\n", cc, $2, $3, $4 }' \
        "$dir/time.log" >>"$results"
    # Events per second end to end, native, against the mutex ring in the same run.
    evok=true
    "$dir/eventbench" "$events_per_producer" "$event_samples" >"$dir/eventbench.log" 2>&1 || evok=false
    row eventcheck "$cc" ok "$evok"
    awk -v cc="$cc" -F'\t' '
        $1 == "setup" { for (i = 2; i < NF; i += 2) printf "eventsetup\t%s\t%s\n", $i, $(i + 1) }
        $1 == "events" { printf "eventrate\t%s\t%s\t%s\t%s\t%s\t%s\n", cc, $2, $3, $4, $5, $6 }' \
        "$dir/eventbench.log" >>"$results"
    say "cpu $cc: done"
done

# ---- 4. under Wine: our driver against the null driver, in one Wine process ----

wdir=$work/wine
mkdir -p "$wdir"
# shellcheck disable=SC2086
(cd "$tree" && $gcc_cc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude -Itest/e2e -municode \
    -DUNICODE -D_UNICODE test/bench/winebench.c test/e2e/harness.c src/user/client.c \
    src/user/events.c -ladvapi32 -o "$wdir/winebench.exe") >"$wdir/build.log" 2>&1 ||
    die "building winebench.exe failed: see ${wdir#"$root"/}/build.log"
# shellcheck disable=SC1003 # a backslash for tr
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }
export WINEPREFIX=${BENCH_WINEPREFIX:-$root/build/wine/prefix}
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY
"$root/test/e2e/prefix.sh" "$WINEPREFIX"
set --
for tc in $toolchains; do
    set -- "$@" "$tc" "$(winpath "$tree/$(outdir "$tc")/$sys")" "$(winpath "$(eval "echo \$null_$tc")")"
done
status=0
timeout 600 wine "$wdir/winebench.exe" "$wine_seconds" "$wine_samples" "$latency_samples" "$@" \
    >"$wdir/winebench.out" 2>"$wdir/wine.log" || status=$?
wineserver -w 2>/dev/null || true
tr -d '\r' <"$wdir/winebench.out" | awk -F'\t' '
    $1 == "result" { r = $6; for (i = 7; i <= NF; i++) r = r "," $i
                     printf "wine\t%s\t%s\t%s\t%s\t%s\n", $2, $3, $4, $5, r }
    $1 == "latency" { r = $4; for (i = 5; i <= NF; i++) r = r "," $i
                      printf "winelatency\t%s\t%s\t%s\n", $2, $3, r }
    $1 == "checked" { printf "winecheck\t%s\t%s\n", $2, $3 }
    $1 == "error" { print "bench: winebench: " $2 > "/dev/stderr" }' >>"$results"
row winecheck exit "$status"
say "wine: done (exit $status)"

# ---- the report ----

row meta wall_seconds "$(seconds_since "$bench_start")" num
jq -R -s -f "$bench/tojson.jq" "$results" >"$out/report.json.tmp"
mv "$out/report.json.tmp" "$out/report.json"
jq -r -f "$bench/tomd.jq" "$out/report.json" >"$out/report.md.tmp"
mv "$out/report.md.tmp" "$out/report.md"

# ---- the checks: the report is complete and well formed (never the figures' values) ----

r=$out/report.json
check "report.json is valid JSON" jq -e . "$r"
check "report.json holds only finite numbers" \
    jq -e '[.. | numbers | select(isinfinite or isnan)] | length == 0' "$r"
check "report.json names the machine, commit and tools" \
    jq -e '(.meta | .nproc > 0 and (.cpu | length > 0) and (.commit | length > 0)) and
           ([.tools[] | select(length == 0)] | length == 0)' "$r"
for tc in $toolchains; do
    check "build $tc: make, floor and no-op times, and their ratio" jq -e --arg t "$tc" '
        .build.toolchains[$t] | .make.min > 0 and .floor.min > 0 and .noop_make.min > 0 and
        .ratio_min > 0 and .ratio_median > 0 and .compiles > 0 and .links > 0 and .signs > 0' "$r"
    check "build $tc: the floor builds the same unsigned binaries as make" \
        jq -e --arg t "$tc" '.build.toolchains[$t].same_unsigned_outputs' "$r"
    check "build $tc: a second make does nothing" \
        jq -e --arg t "$tc" '.build.toolchains[$t].noop_did_nothing' "$r"
    for b in "$sys" "$ctl" minimal.sys; do
        check "size $tc $b: signed and unsigned sizes, sections with .text" jq -e --arg t "$tc" \
            --arg b "$b" '.size.toolchains[$t].binaries[$b] | .signed > .unsigned and .unsigned > 0 and
            .signed_sections_same and ([.sections[] | select(.name == ".text" and .virtual_size > 0)] | length == 1)' "$r"
    done
    check "size $tc: the driver against the minimal driver" \
        jq -e --arg t "$tc" '.size.toolchains[$t].driver_vs_minimal | .unsigned > 0 and .text > 0' "$r"
    check "wine $tc: our driver answered correctly before timing" \
        jq -e --arg t "$tc" '.wine.toolchains[$t].checked_failures == 0' "$r"
    check "wine $tc: GET_VERSION, FILL and WRITE+READ at 4 sizes, driver and null" jq -e --arg t "$tc" '
        .wine.toolchains[$t].tests | length == 9 and
        all(.[]; .driver.median > 0 and .null.median > 0 and .ratio > 0)' "$r"
    check "wine $tc: mark-to-consumer latency, median and p99, driver and null" jq -e --arg t "$tc" \
        --argjson n "$latency_samples" '.wine.toolchains[$t].latency |
        all(.driver, .null; .samples == $n and .median_us > 0 and .p99_us >= .median_us) and
        .ratio_median > 0 and .ratio_p99 > 0' "$r"
done
check "size clang-arm64 $sys: signed and unsigned sizes, sections with .text" jq -e --arg b "$sys" '
    .size.toolchains["clang-arm64"].binaries[$b] | .signed > .unsigned and .unsigned > 0 and
    .signed_sections_same and ([.sections[] | select(.name == ".text" and .virtual_size > 0)] | length == 1)' "$r"
check "wine: winebench.exe exited 0" jq -e '.wine.exit == 0' "$r"
for cc in gcc clang; do
    check "cpu $cc: the bench checked every reply" jq -e --arg c "$cc" '.cpu.compilers[$c].ok' "$r"
    check "cpu $cc: six scenarios with driver, kernel, floor and per-byte figures" jq -e --arg c "$cc" '
        .cpu.compilers[$c].scenarios | length == 6 and
        all(.[]; .irp.driver > 0 and .irp.kernel_services >= 0 and .handler.driver > 0 and
                 .floor >= 0 and .driver_per_byte > 0 and .time_ns.handler > 0)' "$r"
done
for cc in gcc clang; do
    check "cpu $cc: the thread callback, unsubscribed, queued and completing a request" jq -e \
        --arg c "$cc" '.cpu.compilers[$c].events | length == 3 and
        all(.[]; .instructions > 0 and .kernel_services >= 0 and .bytes_copied >= 0)' "$r"
    check "events $cc: every record checked, every event received or counted as dropped" \
        jq -e --arg c "$cc" '.events.compilers[$c].ok' "$r"
    check "events $cc: events per second, driver and floor, and their ratio" jq -e --arg c "$cc" \
        --argjson per "$events_per_producer" --argjson samples "$event_samples" '
        (.events.setup.producers * $per * $samples) as $n | .events.compilers[$c] |
        all(.driver, .floor; .median > 0 and .received + .dropped == $n) and .ratio > 0 and
        .records_per_batch >= 1' "$r"
done
for heading in "## Build" "## Size" "## CPU per request" "## Events" "## Under Wine"; do
    check "report.md has '$heading'" grep -qx "$heading" "$out/report.md"
done
# In the tables' bodies, no empty cell and no null, nan or inf where a figure should be.
check "report.md has no empty or missing figure" awk -F'|' '
    !/^\|/ { body = 0; next }
    /^\| --- / { body = 1; next }
    body { for (i = 2; i < NF; i++) { c = $i; gsub(/^ +| +$/, "", c)
           if (c == "" || c ~ /(^|[ (])(null|-?nan|-?inf)($|[ )])/) bad = 1 } }
    END { exit bad }' "$out/report.md"

say "report: ${out#"$root"/}/report.md and report.json ($(seconds_since "$bench_start") s)"
finished=1
echo "bench: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
