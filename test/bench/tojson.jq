# SPDX-License-Identifier: MIT
# run.sh's results (tab-separated rows, the first field naming the kind) to report.json.
# jq -R -s -f tojson.jq results.tsv

def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def stats: {runs: ., min: min, median: median};
def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def value: if . == "true" then true elif . == "false" then false else (tonumber? // .) end;
def mib: . / 1048576;
def testkey($test; $bytes):
    if $test == "get_version" then "get_version"
    elif $bytes >= 1048576 then "\($test)_\($bytes / 1048576)m"
    else "\($test)_\($bytes / 1024)k" end;

split("\n") | map(select(length > 0) | split("\t"))
| reduce .[] as $r ({schema: 1};
    if $r[0] == "meta" then
        .meta[$r[1]] = (if $r[3] == "str" then $r[2] else ($r[2] | value) end)
    elif $r[0] == "tool" then .tools[$r[1]] = $r[2]
    elif $r[0] == "build" then .build.toolchains[$r[1]][$r[2]] += [$r[3] | tonumber]
    elif $r[0] == "buildinfo" then .build.toolchains[$r[1]].info[$r[2]] = ($r[3] | value)
    elif $r[0] == "size" then .size.toolchains[$r[1]].binaries[$r[2]][$r[3]] = ($r[4] | value)
    elif $r[0] == "section" then
        .size.toolchains[$r[1]].binaries[$r[2]].sections +=
            [{name: $r[3], virtual_size: ($r[4] | tonumber), raw_size: ($r[5] | tonumber)}]
    elif $r[0] == "cpucheck" then .cpu.compilers[$r[1]][$r[2]] = ($r[3] | value)
    elif $r[0] == "cpu" then
        .cpu.compilers[$r[1]].scenarios[$r[2]].bytes = ($r[3] | tonumber)
        | .cpu.compilers[$r[1]].scenarios[$r[2]].raw[$r[4]] =
            {reps: ($r[5] | tonumber), total: ($r[6] | tonumber), kernel: ($r[7] | tonumber),
             top: $r[8], top_ir: ($r[9] | tonumber)}
    elif $r[0] == "cputime" then .cpu.compilers[$r[1]].scenarios[$r[2]].time_ns[$r[3]] = ($r[4] | tonumber)
    elif $r[0] == "wine" then
        ($r[3] | tonumber) as $bytes
        | .wine.toolchains[$r[1]].tests[testkey($r[2]; $bytes)] |= (
            .test = $r[2] | .bytes = $bytes
            | .unit = (if $r[2] == "get_version" then "calls/s" else "MiB/s" end)
            | .[$r[4]] = {samples: ($r[5] | split(",") | map(tonumber
                | if $r[2] == "get_version" then . else mib end))})
    elif $r[0] == "winecheck" then
        if $r[1] == "exit" then .wine.exit = ($r[2] | tonumber)
        else .wine.toolchains[$r[1]].checked_failures = ($r[2] | tonumber) end
    else . end)

# Derived figures: statistics, ratios to the floors, per request and per byte.
| .build.jobs = .meta.jobs | .build.reps = .meta.build_reps
| .build.toolchains |= map_values(
    (.info // {}) as $info
    | {make: (.make | stats), floor: (.floor | stats), noop_make: (.noop | stats)}
    | .ratio_min = ratio(.make.min; .floor.min)
    | .ratio_median = ratio(.make.median; .floor.median)
    | . + $info)
| .size.toolchains |= map_values(
    # ARM64 has no minimal driver to compare with.
    if .binaries["minimal.sys"] == null then . else
    . as $tc
    | ($tc.binaries | to_entries | map(select(.key | endswith(".sys")) | .key)
        | map(select(. != "minimal.sys")) | first) as $driver
    | def text($b): [$tc.binaries[$b].sections[] | select(.name == ".text") | .virtual_size] | add;
      .driver_vs_minimal = {
        driver: $driver,
        unsigned: ratio($tc.binaries[$driver].unsigned; $tc.binaries["minimal.sys"].unsigned),
        signed: ratio($tc.binaries[$driver].signed; $tc.binaries["minimal.sys"].signed),
        text: ratio(text($driver); text("minimal.sys")),
        text_bytes_added: (text($driver) - text("minimal.sys"))} end)
| .cpu.method = "callgrind instruction counts (Ir) per request, host build of the driver's sources against test/unit/shim at -O2 (driver sources with -ffreestanding -fno-stack-protector, as in the kernel build), glibc string functions kept off rep movsb/stosb"
| .cpu.compilers |= map_values(
    .scenarios |= map_values(
        .bytes as $bytes | .raw as $raw
        | def per($m): ($raw[$m].total - $raw[$m].kernel) / $raw[$m].reps;
          .irp = {driver: per("irp"), kernel_services: ($raw.irp.kernel / $raw.irp.reps)}
        | .handler = {driver: per("handler"), kernel_services: ($raw.handler.kernel / $raw.handler.reps)}
        | .floor = ($raw.floor.total / $raw.floor.reps)
        | .ratio = ratio(.irp.driver; .floor)
        | .driver_per_byte = (.irp.driver / $bytes)
        | .floor_per_byte = (.floor / $bytes)
        | .top_function = {name: $raw.irp.top,
                           share: ratio($raw.irp.top_ir; $raw.irp.total - $raw.irp.kernel)}
        | .time_ratio = ratio(.time_ns.handler; .time_ns.floor)
        | del(.raw)))
| .wine.toolchains |= map_values(
    .tests |= map_values(
        .driver += {median: (.driver.samples | median), best: (.driver.samples | max)}
        | .null += {median: (.null.samples | median), best: (.null.samples | max)}
        # How many times the null driver's rate ours reaches: 1 adds nothing to Wine's cost.
        | .ratio = ratio(.null.median; .driver.median)))
