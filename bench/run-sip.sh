#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run the SIP benchmark (bench/bench_sip.cc) and check the design targets:
#   - the scanner is at least 20x faster than a libosip2 parse, on average
#     over the ordinary corpus (ratio of the average times);
#   - a scan takes under 150 ns on average over that corpus;
#   - forwarding an INVITE (Via push, Max-Forwards, R-URI, emit) takes
#     under 200 ns, the scan not included.
#
#   bench/run-sip.sh [BUILD_DIR] [extra Google Benchmark flags...]
#
# BUILD_DIR (default: build) is a normal optimised build with -Dbench=true
# (not a sanitizer build). Each benchmark runs 3 times and the median is
# used; figures are CPU time per message. The raw results are kept in
# BUILD_DIR/bench-sip.json. Prints the figures and PASS/FAIL per target;
# exits 0 when every target is met, 1 when one is not, 2 on other errors.
# Run it on an otherwise idle machine: the load average is printed with the
# results because concurrent builds inflate every figure.
set -eu

build=build
if [ $# -ge 1 ] && [ "${1#-}" = "$1" ]; then
	build=$1
	shift
fi
exe="$build/bench/pk-bench-sip"
if [ ! -x "$exe" ]; then
	echo "$0: no $exe (meson setup $build -Dbench=true && ninja -C $build bench/pk-bench-sip)" >&2
	exit 2
fi
out="$build/bench-sip.json"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

"$exe" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
	--benchmark_format=json --benchmark_out="$out" --benchmark_out_format=json \
	"$@" >/dev/null || exit 2

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$out" "$load_before" "$load_after" <<'EOF'
import json
import sys

# Targets (docs/benchmarks.md).
MIN_RATIO = 20.0
MAX_SCAN_NS = 150.0
MAX_REWRITE_NS = 200.0

path, load_before, load_after = sys.argv[1:4]
with open(path) as f:
    doc = json.load(f)

SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
median = {}
for b in doc["benchmarks"]:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    if "error_occurred" in b and b["error_occurred"]:
        print("error in %s: %s" % (b["name"], b.get("error_message", "?")))
        sys.exit(2)
    name = b.get("run_name", b["name"])
    median[name] = b["cpu_time"] * SCALE[b.get("time_unit", "ns")]

def group(prefix):
    return {k[len(prefix):]: v for k, v in median.items() if k.startswith(prefix)}

scan = group("scan/")
osip = group("osip_parse/")
common = sorted(set(scan) & set(osip))
if not common:
    print("no scan/osip_parse pairs in %s" % path)
    sys.exit(2)

ctx = doc.get("context", {})
print("pk-bench-sip: %s, %s CPUs at %s MHz, load %s -> %s (1/5/15 min)" % (
    ctx.get("date", "?"), ctx.get("num_cpus", "?"), ctx.get("mhz_per_cpu", "?"),
    load_before, load_after))
print("%-22s %10s %12s %8s" % ("message", "scan ns", "osip ns", "ratio"))
for k in common:
    print("%-22s %10.1f %12.1f %7.1fx" % (k, scan[k], osip[k], osip[k] / scan[k]))

scan_avg = sum(scan[k] for k in common) / len(common)
osip_avg = sum(osip[k] for k in common) / len(common)
ratio = osip_avg / scan_avg
worst = min(common, key=lambda k: osip[k] / scan[k])
print("%-22s %10.1f %12.1f %7.1fx   (worst: %s %.1fx)" % (
    "average", scan_avg, osip_avg, ratio, worst, osip[worst] / scan[worst]))

results = []
results.append(("scan vs libosip2", "%.1fx faster" % ratio, ">= %.0fx" % MIN_RATIO,
                ratio >= MIN_RATIO))
results.append(("scan average", "%.1f ns" % scan_avg, "< %.0f ns" % MAX_SCAN_NS,
                scan_avg < MAX_SCAN_NS))
rw = median.get("rewrite/forward_invite")
if rw is None:
    results.append(("forward rewrite", "missing", "< %.0f ns" % MAX_REWRITE_NS, False))
else:
    results.append(("forward rewrite", "%.1f ns" % rw, "< %.0f ns" % MAX_REWRITE_NS,
                    rw < MAX_REWRITE_NS))
srw = median.get("scan+rewrite/forward_invite")
if srw is not None:
    print("%-22s %10.1f ns (scan+rewrite, for information)" % ("forward_invite", srw))
for what, got, target, ok in results:
    print("%-4s %-18s %-14s (target %s)" % ("PASS" if ok else "FAIL", what, got, target))
sys.exit(0 if all(r[3] for r in results) else 1)
EOF
