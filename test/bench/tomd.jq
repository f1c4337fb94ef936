# SPDX-License-Identifier: MIT
# report.json to report.md: the same figures, as tables.
# jq -r -f tomd.jq report.json

def f($d): if . == null then "-" else (. * pow(10; $d) | round) / pow(10; $d) | tostring end;
def x: if . == null then "-" else "\(f(2))x" end;
def kib: if . == null then "-" else (. / 1024 | f(1)) end;
def row: "| " + join(" | ") + " |";
def header: (row), (map("---") | row);
# Sections in the order a reader looks for them; DWARF sections as one column.
def secname: if startswith(".debug_") then ".debug_*" else . end;
def order: [".text", ".rdata", ".data", ".bss", ".pdata", ".xdata", ".idata", ".edata", ".CRT",
    ".tls", ".buildid", ".rsrc", ".reloc", ".debug_*"];

. as $r
| "# Sanctum bench report",
  "",
  "\($r.meta.date), commit `\($r.meta.commit[0:12])`\(if $r.meta.dirty then " (with uncommitted changes)" else "" end), \($r.meta.mode) run, \($r.meta.wall_seconds | f(0)) s.",
  "",
  "- Machine: \($r.meta.cpu), \($r.meta.nproc) CPUs, \($r.meta.memory_mib / 1024 | f(1)) GiB, \($r.meta.kernel)",
  "- Tools: \($r.tools | to_entries | map("\(.key) \(.value)") | join("; "))",
  "",
  "## Build",
  "",
  "A clean build of driver and client with signing: `make -j\($r.build.jobs)` against its floor, the same compiles, resource compiles, links and signs (osslsigncode alone, no verification) run by a script, in parallel where the order allows (\($r.build.reps) runs each, seconds). The no-op row is a second `make` with nothing to do.",
  "",
  (["toolchain", "commands", "make min", "make median", "floor min", "floor median", "ratio (min)", "ratio (median)", "no-op make min", "no-op median"] | header),
  ($r.build.toolchains | to_entries[] | .key as $t | .value |
    [$t, "\(.compiles) cc/rc, \(.links) ld, \(.signs) sign", (.make.min | f(2)), (.make.median | f(2)),
     (.floor.min | f(2)), (.floor.median | f(2)), (.ratio_min | x), (.ratio_median | x),
     (.noop_make.min | f(3)), (.noop_make.median | f(3))] | row),
  "",
  "## Size",
  "",
  "Bytes of each file, unsigned and signed, and the virtual size of each section (the same in the signed file: the signature lies outside them). `minimal.sys` is the floor: a device, its link and an unload routine (`test/bench/minimal.c`), compiled, linked (with the same version resource) and signed by the driver's own commands. *clang-arm64* is the ARM64 driver (`make ARCH=arm64`), without a floor of its own.",
  "",
  ([$r.size.toolchains[].binaries[].sections[].name | secname] | unique) as $present
  | (order | map(select(. as $n | $present | index($n)))) as $names
  | ($names + ($present - $names)) as $names
  | ((["toolchain", "binary", "unsigned", "signed"] + $names) | header),
    ($r.size.toolchains | to_entries[] | .key as $t | .value.binaries | to_entries[] |
      .value as $b
      | (reduce $b.sections[] as $x ({}; .[$x.name | secname] += $x.virtual_size)) as $s
      | ([$t, .key, ($b.unsigned | tostring), ($b.signed | tostring)] +
         ($names | map(($s[.] // null) | if . == null then "-" else tostring end))) | row),
  "",
  ($r.size.toolchains | to_entries[] | .key as $t | .value.driver_vs_minimal // empty |
    "- \($t): \(.driver) is \(.unsigned | x) the minimal driver unsigned, \(.signed | x) signed; its code (.text) \(.text | x), \(.text_bytes_added) bytes more."),
  "",
  "## CPU per request",
  "",
  "Instructions executed per request under callgrind (repeatable on a noisy machine), with the driver's own sources built for the host against the shim (`test/unit/shim`), -O2, no sanitizers. *Driver* counts what runs in the dispatch routine and everything it calls but the kernel's services (pool, spin locks, MDL mapping, IoCompleteRequest: the shim's code, listed apart as *kernel*); memcpy and memset called by the driver count as the driver's. *Handler* is the IRP-free entry point alone (SanctumDeviceControl, SanctumWrite + SanctumRead). The floor is memcpy of the same bytes (ECHO), memset (FILL), two memcpy (WRITE+READ: into the queue and out of it), nothing for GET_VERSION. ECHO is METHOD_BUFFERED: input and output share the system buffer, so the driver moves no byte and the I/O manager's copy shows under *kernel*. glibc's memcpy/memset are kept on their vector loops (callgrind counts every iteration of rep movsb/stosb as an instruction). *ns* is native time per request (median), the handler (the shim's pool and locks included) against the floor, as a cross-check of what the counts mean.",
  "",
  (["compiler", "request", "driver", "kernel", "handler", "floor", "ratio", "driver/byte", "floor/byte", "ns handler", "ns floor", "ns ratio", "hottest driver function"] | header),
  ($r.cpu.compilers | to_entries[] | .key as $c | .value.scenarios | to_entries[] | .value as $s |
    [$c, .key, ($s.irp.driver | f(0)), ($s.irp.kernel_services | f(0)), ($s.handler.driver | f(0)),
     ($s.floor | f(0)), ($s.ratio | x), ($s.driver_per_byte | f(3)), ($s.floor_per_byte | f(3)),
     ($s.time_ns.handler | f(0)), ($s.time_ns.floor | f(0)), ($s.time_ratio | x),
     "\($s.top_function.name) (\($s.top_function.share * 100 | f(0)) %)"] | row),
  "",
  "## Events",
  "",
  "The thread callback (`SanctumOnThread`) under callgrind, from its entry to its return, fired through the shim as ntoskrnl fires it, one subscriber: nobody subscribed (the fast path), the 40-byte record queued, and the record queued then handed to a pending GET_EVENTS, which completes. *Driver* counts the driver's own instructions, the memcpy/memset it calls included; *kernel* the shim's services it calls (spin locks, the system time, IoCompleteRequest). *Bytes copied* are the record's bytes the driver moves: into the queue, and into the request. The goal is at most 150 plus the bytes copied.",
  "",
  (["compiler", "callback", "driver", "bytes copied", "driver - bytes", "kernel", "hottest driver function"] | header),
  ($r.cpu.compilers | to_entries[] | .key as $c | (.value.events // {}) | to_entries[] | .value as $e |
    [$c, .key, ($e.instructions | f(0)), ($e.bytes_copied | tostring), ($e.instructions_minus_bytes | f(0)),
     ($e.kernel_services | f(0)), "\($e.top_function.name) (\($e.top_function.share * 100 | f(0)) %)"] | row),
  "",
  "Events per second end to end on the host, native: \($r.events.setup.producers) producer threads fire the thread callbacks through the shim, the driver queues each \($r.events.setup.record_bytes)-byte record on one subscription (a \($r.events.setup.queue_bytes / 1024 | f(0)) KiB queue), and the consumer keeps \($r.events.setup.pending) GET_EVENTS of \($r.events.setup.batch_bytes / 1024 | f(0)) KiB pending through the shim's I/O manager and walks every batch, checking each record. The producers wait while half a queue of theirs is not walked yet, so the figure is what the pipeline sustains with nothing dropped. The floor moves the same records through a ring under a pthread mutex, with the same threads, batches and walk. \($r.meta.event_samples) samples of \($r.meta.events_per_producer * $r.events.setup.producers) events each, alternating; median, best in brackets.",
  "",
  (["compiler", "driver events/s", "floor events/s", "driver/floor", "records per batch", "dropped"] | header),
  ($r.events.compilers | to_entries[] | .key as $c | .value |
    [$c, "\(.driver.median | f(0)) (\(.driver.best | f(0)))", "\(.floor.median | f(0)) (\(.floor.best | f(0)))",
     (.ratio | x), (.records_per_batch | f(1)), "\(.driver.dropped) of \(.driver.received + .driver.dropped)"] | row),
  "",
  "## Under Wine",
  "",
  "Our driver against the null driver (`test/bench/nulldrv.c`: same device type, codes and direct I/O, every request completed at once with the same byte count), both loaded in the same Wine (\($r.meta.wine_samples) samples of \($r.meta.wine_seconds_per_sample) s each, alternating; median, best in brackets). WRITE+READ moves the size through the queue as 64 KiB messages, each written then read back (the protocol's largest message); its rate counts the bytes once. *Null/ours* above 1 is what our driver adds to Wine's own cost.",
  "",
  (["toolchain", "test", "unit", "ours", "null driver", "null/ours"] | header),
  ($r.wine.toolchains | to_entries[] | .key as $t | .value.tests | to_entries[] | .value as $w |
    [$t, .key, $w.unit, "\($w.driver.median | f(1)) (\($w.driver.best | f(1)))",
     "\($w.null.median | f(1)) (\($w.null.best | f(1)))", ($w.ratio | x)] | row),
  "",
  "Mark to consumer: a GET_EVENTS pending on one handle, a 12-byte MARK (a 56-byte record) sent on another; the time from just before the MARK to the consumer holding the completed request, \($r.meta.latency_samples) samples each, alternating with the null driver, whose GET_EVENTS pends and whose MARK completes it from its dispatch routine. *Ours/null* below 1.15 is the goal.",
  "",
  (["toolchain", "ours median µs", "ours p99 µs", "null median µs", "null p99 µs", "ours/null median", "ours/null p99"] | header),
  ($r.wine.toolchains | to_entries[] | .key as $t | .value.latency // empty |
    [$t, (.driver.median_us | f(1)), (.driver.p99_us | f(1)), (.null.median_us | f(1)), (.null.p99_us | f(1)),
     (.ratio_median | x), (.ratio_p99 | x)] | row)
