#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The dpdk backend on a real (virtual) wire: DPDK's net_af_packet PMD on
# one end of a veth pair, the phones (dpdk_afpacket_peer.py) in a network
# namespace on the other end. pickupd's pipeline runs in pk-dpdk-replay
# --serve (tests/integration/dpdk_replay.c: the engine as main.c builds
# it; pickupd itself takes --io dpdk once that is wired). Checks ARP (the
# namespace's kernel resolves 10.99.0.1; pickupd resolves 10.99.0.3), ICMP
# echo, OPTIONS, a fragmented INVITE in and an oversized INVITE out, a
# Group Call Pickup (dpdk_afpacket_peer.py), then
# pickupd's counters after a clean stop; once with one worker, then with
# two workers on two queues (qpairs=2: the kernel's fanout spreads the
# flows; ARP learnt on one queue must serve the other) and 32 more flows.
#
#   test_dpdk_afpacket.sh PK_DPDK_REPLAY
#
# Needs root (namespaces, veth, AF_PACKET); exits 77 (skipped) without.
# Every run makes its own namespace and veth names and deletes them on exit,
# whatever happens; the server is stopped by its PID.
set -u
tool=${1:?usage: test_dpdk_afpacket.sh PK_DPDK_REPLAY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # pk_netns_veth

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root and iproute2"
  exit 77
fi

tag=$$ # names from the PID: pk_netns_sweep (lib.sh) knows a dead run's
ns=pk-dpdk-$tag
va=pkd${tag}a
vb=pkd${tag}b
work=$(mktemp -d /tmp/pk-dpdk-afpacket.XXXXXX)
pid=

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  ip netns del "$ns" 2>/dev/null
  ip link del "$va" 2>/dev/null
  if [ "${PK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() { echo "FAIL: $*"; [ -f "$work/err" ] && sed 's/^/  server: /' "$work/err"; exit 1; }

pk_netns_sweep
ip netns del "$ns" 2>/dev/null # a killed run with our PID
ip netns add "$ns" || fail "ip netns add"
ip link add "$va" type veth peer name "$vb" || fail "ip link add veth"
pk_netns_veth "$ns" "$va" "$vb" 10.99.0.2/24 10.99.0.3/24

# net_af_packet's fanout reassembles fragments in the kernel: frames and
# mbufs must hold the largest datagram (16 KB here).
ctr() { awk -v k="$1" '$1 == k { print $2 }' "$work/counters"; }
ge() { local v; v=$(ctr "$1"); [ "${v:-0}" -ge "$2" ] || fail "counter $1 = ${v:-none}, want >= $2"; }
eq() { local v; v=$(ctr "$1"); [ "${v:-x}" = "$2" ] || fail "counter $1 = ${v:-none}, want $2"; }

serve() { # workers extra-flows
  local w=$1 extra=$2 rc
  rm -f "$work/ready"
  ip netns exec "$ns" ip neigh flush dev "$vb"
  "$tool" --serve "$work/ready" "net_af_packet0,iface=$va,qpairs=$w,framesz=16384,blocksz=16384" \
    16512 "$w" >"$work/counters" 2>"$work/err" &
  pid=$!
  for _ in $(seq 300); do
    [ -s "$work/ready" ] && break
    kill -0 "$pid" 2>/dev/null || fail "the server exited"
    sleep 0.1
  done
  [ -s "$work/ready" ] || fail "the server did not get ready"
  grep -q "$w queue(s) of $w asked" "$work/err" || fail "not $w queues"

  ip netns exec "$ns" python3 "$here/dpdk_afpacket_peer.py" "$extra" || fail "peer checks ($w workers)"
  mac=$(ip netns exec "$ns" ip neigh show 10.99.0.1 dev "$vb" | awk '{print $3}')
  [ -n "$mac" ] || fail "the namespace has no ARP entry for 10.99.0.1"

  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  pid=
  [ "$rc" = 0 ] || fail "the server exited with $rc"
  ge net.icmp_echo_replied 3
  ge net.arp_replied 1
  ge net.arp_request_tx 1       # pickupd resolved 10.99.0.3
  ge net.tx_fragments 2         # the oversized INVITE out
  eq net.udp_bad_cksum 0
  eq net.ip_bad_len 0
  eq worker.answered_options $((1 + extra))
  eq worker.forwarded 6          # the big INVITE; the call, 180, pickup INVITE, 200, CANCEL
  eq dpdk.tx_dropped 0
}

serve 1 0
echo "one worker: ok (pickupd MAC $mac)"
serve 2 32
for q in 0 1; do ge q$q.udp_rx 1; done   # the fanout fed both queues
echo "two workers: ok (queues got $(ctr q0.udp_rx) and $(ctr q1.udp_rx) datagrams; ARP shared $(ctr dpdk.arp_shared), taken $(ctr dpdk.arp_from_peers))"
echo "ok: af_packet on veth: ARP, ICMP echo, OPTIONS, fragmented INVITE in and out, 1 and 2 queues"
