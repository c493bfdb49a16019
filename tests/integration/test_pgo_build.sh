#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The profile-guided build (bench/pgo-build.sh, docs/dpdk.md "A
# profile-guided build") still works: it builds pk-bench-dpdk instrumented,
# trains it, rebuilds it with the profile, and the result
#   - is not instrumented any more (no gcov symbols),
#   - was link-time optimised (GCC's LTO names the local symbols it
#     specialises across files "*.lto_priv.N"; a build without LTO has none),
#   - was laid out with the profile: the scanner's rare paths went to
#     pk_sip_scan.cold (without a profile pk_sip_scan is one ~24 KiB block),
#     and its hot paths stayed in pk_sip_scan: the cold part is the smaller
#     one (without -fprofile-partial-training, GCC 12 lost the counts of
#     most of the scanner's blocks and laid its header-line loop cold: a
#     2.4 KiB hot part, 21 KiB cold),
#   - runs the benchmark's mix with every message answered as expected
#     (the bench's own check: "unexpected=0").
# The build goes to a temporary directory, removed whatever happens.
#
# Usage: test_pgo_build.sh SOURCE_DIR
set -u
src=${1:?usage: $0 SOURCE_DIR}
work=$(mktemp -d /tmp/pk-pgo.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# the LTO link needs gold (binutils; on every Debian system): skip without
command -v ld.gold >/dev/null 2>&1 || { echo "skipped: no ld.gold for bench/pgo-build.sh's LTO link"; exit 77; }

"$src/bench/pgo-build.sh" "$work/build" -Dtests=false --seconds 1 --targets bench/pk-bench-dpdk \
	-Dwerror=true || fail "bench/pgo-build.sh failed"
exe=$work/build/bench/pk-bench-dpdk
[ -x "$exe" ] || fail "no $exe"
nm "$exe" | grep -q gcov && fail "pk-bench-dpdk is still instrumented (gcov symbols)"
nm "$exe" | grep -q '\.lto_priv\.' || fail "pk-bench-dpdk was not link-time optimised (no .lto_priv. symbols)"
hot=$(nm -S "$exe" | awk '$4 == "pk_sip_scan" { print $2 }')
cold=$(nm -S "$exe" | awk '$4 == "pk_sip_scan.cold" { print $2 }')
[ -n "$hot" ] && [ -n "$cold" ] || fail "no pk_sip_scan / pk_sip_scan.cold in the PGO build (hot '${hot}', cold '${cold}')"
hot=$((16#$hot)) cold=$((16#$cold))
[ "$cold" -lt "$hot" ] || fail "pk_sip_scan's cold part ($cold B) is not smaller than its hot part ($hot B): its hot paths were laid cold"
"$exe" --seconds 0.3 --dpdk-only >"$work/run.log" 2>&1 || { tail -20 "$work/run.log"; fail "pk-bench-dpdk failed"; }
grep -q "outputs per step:.* unexpected=0" "$work/run.log" || { cat "$work/run.log"; fail "unexpected outputs"; }
rate=$(grep -o '^dpdk *[0-9]* msg/s' "$work/run.log") || fail "no rate in the output"
echo "ok: PGO build: pk_sip_scan $hot B hot, $cold B cold; $rate"
