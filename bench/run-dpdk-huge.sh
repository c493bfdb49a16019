#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pk-bench-dpdk with DPDK's memory on 2 MiB hugepages, as pickupd runs in a
# deployment (docs/dpdk.md, "Deployment"), on a machine that has none
# reserved.
#
#   bench/run-dpdk-huge.sh BUILD_DIR [pk-bench-dpdk options...]
#
# As root:
# 1. adds PAGES 2 MiB pages (default 320: the bench's 512 MiB of EAL
#    memory and some slack) to the kernel's reservation;
# 2. mounts a hugetlbfs of its own in a temporary directory;
# 3. runs BUILD_DIR/bench/pk-bench-dpdk --huge-dir <that mount> with the
#    options given;
# 4. on its way out (the bench's end, an error, Ctrl-C, SIGTERM, SIGHUP),
#    unmounts, removes the directory and gives the reservation back to what
#    it was. Runs on one machine take turns (a lock in /run): each gives
#    back what it found.
#
# Why: the tests and the default bench run DPDK with --no-huge (4 KiB
# pages), which costs the worker TLB misses on every mbuf it touches; a
# deployment reserves hugepages (dpdk-hugepages.py), so this is the figure
# that matches it. Exit status: pk-bench-dpdk's; 1 on a usage or set-up
# error; 3 when the kernel could not reserve the pages (memory too
# fragmented: try again after `echo 1 > /proc/sys/vm/compact_memory`, or
# at boot) or refused the hugetlbfs mount (a container without the right).
set -eu

usage() {
	echo "usage: $0 BUILD_DIR [pk-bench-dpdk options...]" >&2
	exit 1
}
[ $# -ge 1 ] || usage
bench=$1/bench/pk-bench-dpdk
shift
[ -x "$bench" ] || { echo "$0: no $bench (configure with -Dbench=true and build)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "$0: needs root (it reserves hugepages and mounts hugetlbfs)" >&2; exit 1; }
pages=${PAGES:-320}
case $pages in
'' | *[!0-9]*) echo "$0: PAGES wants a whole number, not '$pages'" >&2; exit 1 ;;
esac
# The reservation, the mount and the lock: tests/lib/hugepages.sh.
. "$(dirname "$0")/../tests/lib/hugepages.sh"
trap pk_huge_give_back EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
rc=0
pk_huge_take "$pages" || rc=$?
[ $rc -eq 0 ] || exit $rc
status=0
"$bench" --huge-dir "$PK_HUGE_DIR" "$@" || status=$?
exit $status
