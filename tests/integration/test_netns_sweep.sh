#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pk_netns_sweep (lib.sh): the namespaces of test runs killed outright are
# deleted by the next run that makes one, with their veth pairs and EAL
# run directories; those of live runs, and other namespaces, are not.
# Root; skipped (77) where namespaces cannot be made.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
fail() { echo "FAIL: $*"; exit 1; }
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
	echo "SKIP: needs root and iproute2"
	exit 77
fi

# a PID that ran and ended: a dead run's
sleep 0 &
dead=$!
wait "$dead"
kill -0 "$dead" 2>/dev/null && { echo "SKIP: PID $dead in use again"; exit 77; }
live=$$
made=(pk-sipp-$dead pk-dpdk-$dead pk-dpa-$dead pk-dpb-$dead pkf$dead pkfp$dead pk-sipp-$live pk-other-$dead)
cleanup() {
	local n
	for n in "${made[@]}"; do ip netns del "$n" 2>/dev/null; done
	ip link del "pkw${dead}a" 2>/dev/null
	rm -rf "/var/run/dpdk/pk-sipp-$dead"
}
trap cleanup EXIT
for n in "${made[@]}"; do
	ip netns add "$n" 2>/dev/null || { echo "SKIP: cannot create a network namespace"; exit 77; }
done
# a veth pair with one end in a dead run's namespace, and its EAL directory
ip link add "pkw${dead}a" type veth peer name "pkw${dead}b" || fail "ip link add veth"
ip link set "pkw${dead}b" netns "pk-sipp-$dead" || fail "veth into the namespace"
mkdir -p "/var/run/dpdk/pk-sipp-$dead"

out=$(pk_netns_sweep)
echo "$out"
have() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
for n in pk-sipp-$dead pk-dpdk-$dead pk-dpa-$dead pk-dpb-$dead pkf$dead pkfp$dead; do
	! have "$n" || fail "$n (PID $dead ended) is still there"
	grep -q "removed namespace $n," <<<"$out" || fail "the sweep did not say it removed $n"
done
have "pk-sipp-$live" || fail "pk-sipp-$live (a live PID) was removed"
have "pk-other-$dead" || fail "pk-other-$dead (not a test run's name) was removed"
! ip link show "pkw${dead}a" >/dev/null 2>&1 || fail "the veth pair of the removed namespace is still there"
[ ! -e "/var/run/dpdk/pk-sipp-$dead" ] || fail "the removed run's EAL directory is still there"
echo "PASS"
