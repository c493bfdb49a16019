#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run-dpdk-huge.sh (docs/dpdk.md): pk-bench-dpdk on 2 MiB hugepages
# the script reserves and mounts itself, and gives back whatever happens:
#   - the bench says its DPDK memory was in 2 MiB pages (as the EAL reports
#     its memory segments) and ran the mix with every message answered as
#     expected ("unexpected=0");
#   - afterwards the kernel's reservation is what it was before, and no
#     hugetlbfs of the script's is left mounted;
#   - a bench that fails (a bad option) is cleaned up after just the same.
# Skipped (77) when the kernel cannot reserve the pages (fragmented memory)
# or mount a hugetlbfs (the script's exit status 3).
#
# Usage: test_bench_huge.sh SOURCE_DIR BUILD_DIR
set -u
src=${1:?usage: $0 SOURCE_DIR BUILD_DIR}
build=${2:?usage: $0 SOURCE_DIR BUILD_DIR}
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
fail() { echo "FAIL: $*"; exit 1; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
[ -w "$nr" ] || { echo "SKIP: no 2 MiB hugepages here"; exit 77; }
left() { mount | grep -c ' /tmp/pk-huge\.' || true; }
# The reservation and the mounts as they were before the script ran.
given_back() {
	[ "$(cat "$nr")" = "$before" ] || fail "after $1: reservation $(cat "$nr"), $before before"
	[ "$(left)" = "$mounts" ] || fail "after $1: a hugetlbfs of the script's is still mounted"
}

before=$(cat "$nr")
mounts=$(left)
out=$("$src/bench/run-dpdk-huge.sh" "$build" --seconds 0.3 --dpdk-only 2>&1)
rc=$?
echo "$out"
[ $rc -eq 3 ] && { echo "SKIP: no hugepages to be had here (see above)"; exit 77; }
[ $rc -eq 0 ] || fail "run-dpdk-huge.sh exited $rc"
grep -q 'DPDK memory in 2048 KiB pages (hugepages)' <<<"$out" || fail "the bench did not run on 2 MiB pages"
grep -q 'unexpected=0' <<<"$out" || fail "the bench's mix was not answered as expected"
given_back "the run"

"$src/bench/run-dpdk-huge.sh" "$build" --no-such-option >/dev/null 2>&1
rc=$?
[ $rc -eq 3 ] && { echo "SKIP: no hugepages to be had for the second run"; exit 77; }
[ $rc -eq 2 ] || fail "a bad option: exit $rc, not the bench's usage status 2"
given_back "a failed bench"
echo "PASS"
