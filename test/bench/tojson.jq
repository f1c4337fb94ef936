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
    elif $r[0] == "cpu" and $r[4] == "callback" then
        .cpu.compilers[$r[1]].events[$r[2]] =
            {bytes_copied: ($r[3] | tonumber), reps: ($r[5] | tonumber), total: ($r[6] | tonumber),
             kernel: ($r[7] | tonumber), top: $r[8], top_ir: ($r[9] | tonumber)}
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
    elif $r[0] == "eventsetup" then .events.setup[$r[1]] = ($r[2] | tonumber)
    elif $r[0] == "eventcheck" then .events.compilers[$r[1]].ok = ($r[3] | value)
    elif $r[0] == "eventrate" then
        .events.compilers[$r[1]][$r[2]] |= (
            .samples += [$r[3] | tonumber] | .received += ($r[4] | tonumber)
            | .dropped += ($r[5] | tonumber) | .batches += ($r[6] | tonumber))
    elif $r[0] == "winelatency" then
        .wine.toolchains[$r[1]].latency[$r[2]].samples_us = ($r[3] | split(",") | map(tonumber))
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
    .events |= ((. // {}) | map_values(
        . as $e
        | {bytes_copied: $e.bytes_copied,
           instructions: (($e.total - $e.kernel) / $e.reps),
           kernel_services: ($e.kernel / $e.reps),
           top_function: {name: $e.top, share: ratio($e.top_ir; $e.total - $e.kernel)}}
        | .instructions_minus_bytes = (.instructions - .bytes_copied))))
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
| .events.method = "events per second from the producers' start to the last record walked, median of the samples; the floor: the same records through a ring under a pthread mutex, same threads, batches and walk"
| .events.compilers |= ((. // {}) | map_values(
    def rate: . + {median: (.samples | median), best: (.samples | max)};
    (.driver |= rate) | (.floor |= rate)
    | .records_per_batch = ratio(.driver.received; .driver.batches)
    # The driver's rate as a share of the floor's: 1 would cost nothing over a plain ring.
    | .ratio = ratio(.driver.median; .floor.median)))
# Latency: the quantile q of the sorted samples (nearest rank).
| def quantile($q): sort | .[(($q * length) | ceil) - 1];
  .wine.toolchains |= map_values(
    if .latency then
        .latency |= (map_values(.samples_us as $s
                       | {samples: ($s | length), median_us: ($s | median),
                          p99_us: ($s | quantile(0.99)), min_us: ($s | min)})
                     | .ratio_median = ratio(.driver.median_us; .null.median_us)
                     | .ratio_p99 = ratio(.driver.p99_us; .null.p99_us))
    else . end)
| .wine.toolchains |= map_values(
    .tests |= map_values(
        .driver += {median: (.driver.samples | median), best: (.driver.samples | max)}
        | .null += {median: (.null.samples | median), best: (.null.samples | max)}
        # How many times the null driver's rate ours reaches: 1 adds nothing to Wine's cost.
        | .ratio = ratio(.null.median; .driver.median)))
