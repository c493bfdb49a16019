#!/bin/sh
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
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
[ -w "$nr" ] || { echo "$0: no 2 MiB hugepage support ($nr)" >&2; exit 1; }

# One run at a time on this machine (another CI job, another shell): each
# gives back the reservation it found, so two at once would undo each other.
lock=/run/pk-run-dpdk-huge.lock
exec 9>"$lock"
flock -w 600 9 || { echo "$0: another run has held $lock for 10 minutes" >&2; exit 1; }
before=$(cat "$nr")
dir=
cleanup() {
	if [ -n "$dir" ]; then
		! mountpoint -q "$dir" || umount "$dir" || echo "$0: could not unmount $dir" >&2
		rmdir "$dir" 2>/dev/null || true
	fi
	echo "$before" >"$nr" || echo "$0: could not give the hugepage reservation back to $before" >&2
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

echo $((before + pages)) >"$nr"
got=$(cat "$nr")
if [ "$got" -lt $((before + pages)) ]; then
	echo "$0: the kernel reserved $((got - before)) of $pages 2 MiB pages (memory fragmented?)" >&2
	exit 3
fi
dir=$(mktemp -d /tmp/pk-huge.XXXXXX)
mount -t hugetlbfs -o pagesize=2M nodev "$dir" ||
	{ echo "$0: could not mount a hugetlbfs on $dir" >&2; exit 3; }
status=0
"$bench" --huge-dir "$dir" "$@" || status=$?
exit $status
