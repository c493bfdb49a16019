#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pickupd itself on the dpdk backend (io.backend: dpdk, docs/dpdk.md):
# DPDK's net_af_packet PMD on one end of a veth pair, pickupd with two
# workers on two queues (EAL lcores; qpairs=2, the kernel's fanout spreads
# the flows), the phones in a network namespace on the other end:
#   - dpdk_afpacket_peer.py: ARP (both ways), ICMP echo, OPTIONS, an INVITE
#     fragmented on the way in and forwarded larger than the MTU, a Group
#     Call Pickup (Replaces, 200 to the picker, CANCEL with Reason), and 32
#     more flows all answered;
#   - SIPp (register.xml) registering 2004 from the namespace;
#   - each worker's state in the EAL's memory (no warning at start);
# then a clean stop (SIGTERM: exit 0, "stopped") and pickupd's counters (the
# workers' and the port's network layer's, logged at the stop).
#
#   test_dpdk.sh PICKUPD
#
# Needs root (namespaces, veth, AF_PACKET) and sipp; exits 77 (skipped)
# without them, or when this pickupd has no dpdk backend. Every run makes
# its own namespace, veth names and EAL file prefix, and deletes them on
# exit whatever happens; pickupd is stopped by its PID.
set -u
pickupd=$(realpath "${1:?usage: test_dpdk.sh PICKUPD}")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # pk_check_dpdk, pk_netns_veth, pk_start_ready, pk_netns_register

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v sipp >/dev/null; then
  echo "SKIP: needs root, iproute2 and sipp"
  exit 77
fi

tag=$$ # names from the PID: pk_netns_sweep (lib.sh) knows a dead run's
ns=pk-dpdk-$tag
va=pkd${tag}a
vb=pkd${tag}b
work=$(mktemp -d /tmp/pk-dpdk.XXXXXX)
pid=

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  ip netns del "$ns" 2>/dev/null
  ip link del "$va" 2>/dev/null
  rm -rf "/var/run/dpdk/pk-dpdk-$tag"
  if [ "${PK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*"
  for f in "$work"/*.msg "$work/pickupd.log"; do
    [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 30 "$f"; }
  done
  exit 1
}

cp "$here/configs/groups.yaml" "$work/groups.yaml"
cat >"$work/pickupd.yaml" <<CONF
listen:
  proxy:
    udp: "10.99.0.1:5060"
workers: 2
domains: [example.test]
groups: groups.yaml
trusted: [10.99.0.0/24]
bindings:
  "2002": "sip:2002@10.99.0.3:5062"
control_socket: none
io:
  backend: dpdk
  dpdk:
    eal: [--no-huge, -m, "512", --no-pci, --no-shconf, --file-prefix, pk-dpdk-$tag,
          --lcores, "(0-2)@(0-$(($(nproc) - 1)))", --log-level, error,
          --vdev, "net_af_packet0,iface=$va,qpairs=2,framesz=16384,blocksz=16384"]
    port: net_af_packet0
    data_room: 16512
log:
  level: info
CONF
pk_check_dpdk "$pickupd" "$work/pickupd.yaml" "configuration refused"

pk_netns_sweep
ip netns del "$ns" 2>/dev/null # a killed run with our PID
ip netns add "$ns" || fail "ip netns add"
ip link add "$va" type veth peer name "$vb" || fail "ip link add veth"
pk_netns_veth "$ns" "$va" "$vb" 10.99.0.2/24 10.99.0.3/24

pk_start_ready "$pickupd" "$work/pickupd.yaml" "$work"
tel=$(tr ';' '\n' <<<"$PK_READY" | sed -n 's/^telemetry //p')
grep -q "2 queue(s) of 2 asked, spread by the kernel's packet fanout" "$work/pickupd.log" ||
  fail "pickupd did not set up two queues"
# each worker's state from the EAL, on its lcore's node (pk_io_local_alloc)
! grep "no EAL memory for its state" "$work/pickupd.log" ||
  fail "a worker's state is not in the EAL's memory"

ip netns exec "$ns" python3 "$here/dpdk_afpacket_peer.py" 32 || fail "peer checks"

# SIPp registers 2004 from the namespace.
pk_netns_register "$ns" 10.99.0.1:5060 10.99.0.2 "reg-$tag@dpdk" "$work"

# The stats on the EAL's telemetry socket, as DPDK's own client reads them;
# the port's network-layer counters on their own (/pickupd/stats,net).
[ -n "$tel" ] || fail "no telemetry socket in the ready file"
python3 - "$tel" <<'PY' || fail "telemetry: /pickupd/stats"
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(5)
s.connect(sys.argv[1])
json.loads(s.recv(16384))  # greeting
s.send(b"/pickupd/stats")
st = json.loads(s.recv(16384))["/pickupd/stats"]
if st.get("totals/answered_options", 0) < 33 or st.get("totals/answered_register") != 1:
    sys.exit("unexpected /pickupd/stats: %s" % {k: v for k, v in st.items() if k.startswith("totals/")})
if "truncated" in st or any(k.startswith("net/") for k in st) or st.get("io/rx_frames", 0) < 33:
    sys.exit("/pickupd/stats: truncated, or net in it, or io/rx_frames %s" % st.get("io/rx_frames"))
# the network layer's counters of the port, on their own
s.send(b"/pickupd/stats,net")
net = json.loads(s.recv(16384))["/pickupd/stats"]
p = "net_af_packet0/"
if (net.get(p + "icmp_echo_replied", 0) < 3 or net.get(p + "tx_fragments", 0) < 2 or
        net.get(p + "udp_rx", 0) < 34 or net.get(p + "udp_bad_cksum") != 0 or "truncated" in net):
    sys.exit("unexpected /pickupd/stats,net: %s" % net)
PY

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" = 0 ] || fail "pickupd exit status $rc after SIGTERM"
grep -q "info: stopped" "$work/pickupd.log" || fail "pickupd did not stop cleanly"
sum() { grep -o " $1=[0-9]*" "$work/pickupd.log" | awk -F= '{ s += $2 } END { print s + 0 }'; }
# the port's network counters, logged at the stop as the stats have them
grep -qE "info: port net_af_packet0 net: rx_frames=[0-9]+ .*icmp_echo_replied=3 .*port_ipackets=[1-9]" "$work/pickupd.log" ||
  fail "no network counters of net_af_packet0 at the stop: $(grep ' net:' "$work/pickupd.log")"
[ "$(sum answered_options)" = 33 ] || fail "answered_options = $(sum answered_options), want 33"
[ "$(sum answered_register)" = 1 ] || fail "answered_register = $(sum answered_register), want 1"
[ "$(sum forwarded)" = 6 ] || fail "forwarded = $(sum forwarded), want 6"
[ "$(sum pickup_succeeded)" = 1 ] || fail "pickup_succeeded = $(sum pickup_succeeded), want 1"
n0=$(grep -o "worker 0 io: udp_rx=[0-9]*" "$work/pickupd.log" | grep -o "[0-9]*$")
n1=$(grep -o "worker 1 io: udp_rx=[0-9]*" "$work/pickupd.log" | grep -o "[0-9]*$")
[ "${n0:-0}" -gt 0 ] && [ "${n1:-0}" -gt 0 ] || fail "one worker got nothing (udp_rx $n0 / $n1)"
echo "ok: pickupd on dpdk (net_af_packet, 2 workers: $n0 + $n1 datagrams): ARP, ICMP, OPTIONS, fragments, pickup, SIPp REGISTER, clean stop"
