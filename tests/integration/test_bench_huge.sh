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
#   - a bench that fails (a bad option) is cleaned up after just the same;
#   - a holder of the pages killed with SIGKILL (tests/lib/hugepages.sh
#     cannot give back then): the next take gives its pages back, unmounts
#     its hugetlbfs and says so.
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
# net_ring ports only, software: the mbufs packed on hugepages too (the
# layout net_af_xdp's umem needs; docs/dpdk.md, "On net_af_xdp")
grep -q '^dpdk backend: port 0 .*; mempool [0-9]* mbufs x [0-9]* B, packed$' <<<"$out" ||
  fail "the bench's pool on hugepages is not packed: $(grep -m1 'mempool' <<<"$out")"
given_back "the run"

"$src/bench/run-dpdk-huge.sh" "$build" --no-such-option >/dev/null 2>&1
rc=$?
[ $rc -eq 3 ] && { echo "SKIP: no hugepages to be had for the second run"; exit 77; }
[ $rc -eq 2 ] || fail "a bad option: exit $rc, not the bench's usage status 2"
given_back "a failed bench"

# A holder killed outright (SIGKILL, as a test runner does after its
# timeout) cannot give back: the next take gives back for it.
state=/run/pk-hugepages.state
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(
	. "$src/tests/lib/hugepages.sh"
	pk_huge_take 8 || exit $?
	echo "$PK_HUGE_DIR" >"$tmp/dir"
	kill -KILL "$BASHPID"
)
rc=$?
[ $rc -eq 3 ] && { echo "SKIP: no hugepages to be had for the killed holder"; exit 77; }
[ $rc -eq 137 ] || fail "the holder to be killed: exit $rc"
dead=$(cat "$tmp/dir")
[ "$(cat "$nr")" = $((before + 8)) ] || fail "the killed holder's 8 pages are not reserved ($(cat "$nr"), $before before)"
mountpoint -q "$dead" || fail "the killed holder's hugetlbfs $dead is not mounted"
[ -s "$state" ] || fail "the killed holder left no $state"
(
	. "$src/tests/lib/hugepages.sh"
	pk_huge_take 2 2>"$tmp/err" || exit $?
	[ "$(cat "$nr")" = $((before + 2)) ] || exit 10
	pk_huge_give_back
)
rc=$?
cat "$tmp/err"
[ $rc -eq 10 ] && fail "the next take did not start from the reservation before the killed holder's"
[ $rc -eq 0 ] || fail "the take after a killed holder: exit $rc"
grep -q 'ended without giving its pages back' "$tmp/err" || fail "the take did not say it gave back for the killed holder"
! mountpoint -q "$dead" || fail "the killed holder's hugetlbfs $dead is still mounted"
[ ! -e "$dead" ] || fail "the killed holder's directory $dead is still there"
[ ! -e "$state" ] || fail "$state is still there after the give-back"
given_back "a killed holder and the next run"
echo "PASS"
