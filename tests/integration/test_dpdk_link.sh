#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The link watch of pickupd's dpdk ports (docs/dpdk.md, monitoring): DPDK's
# net_tap PMD makes a kernel tap interface that pickupd serves as its port,
# and whose link follows the interface's state, which this script sets:
#   - the control thread logs the link up once pickupd runs (it looks once
#     a second), and the stats say up, no change;
#   - `ip link set TAP down`: "port net_tap0: link down: its neighbours
#     forgotten" logged, the stats (pickupctl --json stats, the PORTS
#     table, the Prometheus text) say down, one change;
#   - `ip link set TAP up`: "link up ...: its addresses announced" logged,
#     two changes, and pickupd's gratuitous ARP for 10.96.0.1 arrives on
#     the tap interface;
# then a clean stop (SIGTERM: exit 0, "stopped").
#
#   test_dpdk_link.sh PICKUPD PICKUPCTL
#
# Needs root (the tap device) and /dev/net/tun; exits 77 (skipped) without
# them, or when this pickupd has no dpdk backend or DPDK no net_tap. The
# tap interface, named from the PID, goes with pickupd's port; the EAL
# file prefix is removed on exit whatever happens; pickupd is stopped by
# its PID.
set -u
pickupd=$(realpath "${1:?usage: test_dpdk_link.sh PICKUPD PICKUPCTL}")
pickupctl=$(realpath "${2:?usage: test_dpdk_link.sh PICKUPD PICKUPCTL}")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # pk_check_dpdk, pk_start_ready, pk_stop_ready

if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
  echo "SKIP: needs root, /dev/net/tun and iproute2"
  exit 77
fi
# DPDK loads its drivers from its PMD directory (Debian: librte-net-tap23)
if ! compgen -G "/usr/lib/*/dpdk/pmds-*/librte_net_tap.so*" >/dev/null; then
  echo "SKIP: DPDK's net_tap driver is not installed"
  exit 77
fi

tag=$$
tap=pktap$tag
eal=pk-tap-$tag
work=$(mktemp -d /tmp/pk-dpdk-link.XXXXXX)
pid=
gpid= # the gratuitous ARP listener

cleanup() {
  [ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null # its tap interface goes with it
  fi
  rm -rf "/var/run/dpdk/$eal"
  if [ "${PK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  echo "FAIL: $*"
  [ -s "$work/pickupd.log" ] && { echo "--- pickupd.log"; tail -n 30 "$work/pickupd.log"; }
  exit 1
}

cp "$here/configs/groups.yaml" "$work/groups.yaml"
cat >"$work/pickupd.yaml" <<CONF
listen:
  proxy:
    udp: "10.96.0.1:5060"
workers: 1
domains: [example.test]
groups: groups.yaml
control_socket: $work/ctl.sock
io:
  backend: dpdk
  dpdk:
    eal: [--no-huge, -m, "256", --no-pci, --no-shconf, --file-prefix, $eal,
          --lcores, "(0-1)@(0-$(($(nproc) - 1)))", --log-level, error,
          --vdev, "net_tap0,iface=$tap"]
    port: net_tap0
log:
  level: info
CONF
pk_check_dpdk "$pickupd" "$work/pickupd.yaml" "configuration refused"

pk_start_ready "$pickupd" "$work/pickupd.yaml" "$work"
ip link show "$tap" >/dev/null 2>&1 || fail "no tap interface $tap"
ip link set "$tap" up || fail "ip link set $tap up"

# logged WHAT N: wait (the watch looks once a second) until the log has
# N lines matching WHAT; 10 s at most
logged() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(grep -cE "$1" "$work/pickupd.log")" -ge "$2" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "pickupd ended"
    sleep 0.1
  done
  fail "not logged within 10 s ($2 times): /$1/: $(grep 'link' "$work/pickupd.log")"
}
# link UP CHANGES: the stats (JSON, table, Prometheus) say the link is UP
# (true or false) with CHANGES changes
link() {
  local up=$1 changes=$2 n=0
  "$pickupctl" -s "$work/ctl.sock" --json stats >"$work/stats.json" 2>&1 || fail "pickupctl stats: $(cat "$work/stats.json")"
  python3 - "$work/stats.json" "$up" "$changes" <<'PY' || fail "stats.ports: $(cat "$work/stats.json")"
import json, sys
l = json.load(open(sys.argv[1]))["ports"]["net_tap0"]
if l["link_up"] != (sys.argv[2] == "true") or l["link_changes"] != int(sys.argv[3]):
    sys.exit("link %s, want up=%s changes=%s" % (l, sys.argv[2], sys.argv[3]))
PY
  "$pickupctl" -s "$work/ctl.sock" stats >"$work/stats.txt" 2>&1 || fail "pickupctl stats (table)"
  grep -qE "^link_up +$up *\$" "$work/stats.txt" && grep -qE "^link_changes +$changes *\$" "$work/stats.txt" ||
    fail "PORTS table: $(grep -A4 '^PORTS' "$work/stats.txt")"
  [ "$up" = true ] && n=1
  "$pickupctl" -s "$work/ctl.sock" metrics >"$work/metrics.txt" 2>&1 || fail "pickupctl metrics"
  grep -qx "pickupd_port_link_up{port=\"net_tap0\"} $n" "$work/metrics.txt" &&
    grep -qx "pickupd_port_link_changes_total{port=\"net_tap0\"} $changes" "$work/metrics.txt" ||
    fail "metrics: $(grep pickupd_port_ "$work/metrics.txt")"
}

logged 'notice: port net_tap0: link up \(' 1
link true 0
echo "   link up logged, the stats say up"

ip link set "$tap" down || fail "ip link set $tap down"
logged 'warning: port net_tap0: link down: its neighbours forgotten$' 1
link false 1
echo "   link down: logged (a warning), the stats say down, one change"

# A raw socket on the tap interface waits for pickupd's gratuitous ARP
# (an ARP request for 10.96.0.1 from 10.96.0.1), bound before the link
# comes up.
python3 - "$tap" >"$work/garp.out" 2>&1 <<'PY' &
import errno, socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((sys.argv[1], 0))
s.settimeout(15)
print("bound", flush=True)
ours = socket.inet_aton("10.96.0.1")
while True:
    try:
        f = s.recv(2048)  # a timeout ends the script with an error
    except OSError as e:
        if e.errno != errno.ENETDOWN:  # the socket's note that the link was down
            raise
        continue
    if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[28:32] == ours and f[38:42] == ours:
        print("gratuitous ARP", flush=True)
        sys.exit(0)
PY
gpid=$!
for ((i = 0; i < 100; i++)); do
  grep -q bound "$work/garp.out" && break
  kill -0 "$gpid" 2>/dev/null || fail "the ARP listener ended: $(cat "$work/garp.out")"
  sleep 0.05
done
grep -q bound "$work/garp.out" || fail "the ARP listener did not bind within 5 s"

ip link set "$tap" up || fail "ip link set $tap up"
logged 'notice: port net_tap0: link up \(.*\): its addresses announced \(gratuitous ARP\)$' 1
link true 2
wait "$gpid" || fail "no gratuitous ARP for 10.96.0.1 on $tap after the link came up: $(cat "$work/garp.out")"
gpid=
echo "   link up again: logged, two changes, the address announced (gratuitous ARP on the tap)"

pk_stop_ready "$work"
ip link show "$tap" >/dev/null 2>&1 && fail "the tap interface $tap outlived pickupd"
echo "ok: the dpdk port's link watched (net_tap): up, down (neighbours forgotten), up again (address announced), each logged and in the stats; clean stop"
