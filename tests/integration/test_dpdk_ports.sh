#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pickupd on the dpdk backend with two DPDK ports (io.dpdk.ports,
# docs/dpdk.md): net_af_packet0 and net_af_packet1 on the root ends of two
# veth pairs, the phones in two network namespaces on the other ends:
#
#   A  10.98.1.2/24   -- port 0, pickupd 10.98.1.1/24
#      10.98.4.2/24                     and 10.98.4.1/24 (a second subnet);
#      10.98.5.7/32                     static route 10.98.5.0/24 via
#                                       10.98.1.2 (port 0 has no gateway)
#   B  10.98.2.2/24   -- port 1, pickupd 10.98.2.1/24, gateway 10.98.2.2
#      10.98.3.5/32      (on B's veth end: off-link for pickupd, reached
#                         through the gateway; B answers no ARP for it)
#
#   - `--check` refuses a listener on no port, a listener address on two
#     ports, `port:` given with `ports:`, and a static route whose next
#     hop is off-link, naming the problem, and
#     warns that io.dpdk is unused with backend socket;
#   - both ports set up with two queues each (two workers), ICMP echo
#     on each;
#   - the control socket's stats while pickupd runs: the network layer's
#     counters per port (the echo requests counted on the port each came
#     in on) and each worker's share of them, the I/O queues' counters per
#     worker, each port's link (up, logged once), in pickupctl's JSON,
#     table and Prometheus views;
#   - SIPp registers 2004 from A;
#   - a call from B (via 10.98.2.1) to 2004 in A: the INVITE, ACK and BYE
#     reach A with pickupd's Via of port A (10.98.1.1), the responses reach
#     B (they leave by port B); the INVITE is record-routed twice (RFC
#     5658: port A's address on top, port B's below), and the ACK and BYE,
#     sent by B with both as Route, reach A with neither;
#   - a call from A (via 10.98.1.1) to the static binding 2006 at
#     10.98.3.5:5064 in B: the requests go through the gateway (pickupd
#     ARPs for 10.98.2.2; B ignores ARP for 10.98.3.5) with pickupd's Via
#     of port B (10.98.2.1);
#   - a call from B to the static binding 2007 at 10.98.4.2:5066 in A,
#     port 0's second subnet: the requests leave from the listener of that
#     subnet (10.98.4.1), on-link; from 10.98.1.1 they would go to port
#     0's gateway, which it has none of (docs/sip-behaviour.md §2);
#   - a call from B to the static binding 2008 at 10.98.5.7:5068 in A,
#     off-link, by port 0's static route: the requests leave port 0
#     (Via 10.98.1.1) for the route's next hop 10.98.1.2; without the
#     route they would go to port 1's gateway (B), which does not have
#     that address, and port 0 has no gateway of its own;
#   - each port's neighbour (ARP) cache, from `pickupctl neighbours`:
#     the namespaces' addresses with their MACs, on their own ports only;
#   - a clean stop (SIGTERM: exit 0, "stopped") and pickupd's counters.
#
#   test_dpdk_ports.sh PICKUPD PICKUPCTL
#
# Needs root (namespaces, veth, AF_PACKET), iproute2, ethtool and sipp;
# exits 77 (skipped) without them, or when this pickupd has no dpdk
# backend. Every run makes its own namespaces, veth names and EAL file
# prefix (from its PID), and deletes them on exit whatever happens;
# pickupd and SIPp are stopped by their PIDs.
set -u
pickupd=$(realpath "${1:?usage: test_dpdk_ports.sh PICKUPD PICKUPCTL}")
pickupctl=$(realpath "${2:?usage: test_dpdk_ports.sh PICKUPD PICKUPCTL}")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh" # pk_check_dpdk, pk_netns_sweep, pk_netns_veth, pk_start_ready, pk_stop_ready, pk_netns_register, python3 on PATH

for c in ip ethtool ss sipp; do
  command -v $c >/dev/null || { echo "SKIP: needs iproute2, ethtool and sipp ($c)"; exit 77; }
done
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (network namespaces, veth, AF_PACKET)"
  exit 77
fi

tag=$$ # names from the PID: pk_netns_sweep (lib.sh) knows a dead run's
nsa=pk-dpa-$tag
nsb=pk-dpb-$tag
eal=$nsa # the EAL's file prefix: the sweep removes /var/run/dpdk/<namespace>
vah=pkpa${tag}h # root ends (pickupd's ports)
van=pkpa${tag}n # namespace ends (the phones')
vbh=pkpb${tag}h
vbn=pkpb${tag}n
work=$(mktemp -d /tmp/pk-dpdk-ports.XXXXXX)
pid=
declare -A spid=() # SIPp instances in the background, by name

cleanup() {
  local p
  for p in "${spid[@]}"; do kill -TERM "$p" 2>/dev/null; done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null # gone before its ports and EAL files go
  fi
  for p in "${spid[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$nsa" 2>/dev/null
  ip netns del "$nsb" 2>/dev/null
  ip link del "$vah" 2>/dev/null
  ip link del "$vbh" 2>/dev/null
  rm -rf "/var/run/dpdk/$eal"
  if [ "${PK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
  local f i
  echo "FAIL: $*"
  for f in "$work"/*.out "$work"/*.err "$work"/*.msg; do
    [ -s "$f" ] && { echo "--- $(basename "$f")"; tail -n 40 "$f"; }
  done
  if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
    # its counters are logged when it stops
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  [ -s "$work/pickupd.log" ] && { echo "--- pickupd.log"; tail -n 40 "$work/pickupd.log"; }
  exit 1
}

# ---- configurations ----

cp "$here/configs/groups.yaml" "$work/groups.yaml"
# conf FILE LISTENERS DPDK_KEYS: a configuration with the proxy's UDP
# listeners LISTENERS (a YAML flow list) and DPDK_KEYS (lines under
# io.dpdk after the EAL options)
conf() {
  cat >"$work/$1" <<CONF
listen:
  proxy:
    udp: $2
workers: 2
domains: [example.test]
groups: groups.yaml
trusted: [10.98.0.0/16]
bindings:
  "2006": "sip:2006@10.98.3.5:5064"
  "2007": "sip:2007@10.98.4.2:5066"
  "2008": "sip:2008@10.98.5.7:5068"
record_route: true
control_socket: $work/ctl.sock
io:
  backend: dpdk
  dpdk:
    eal: [--no-huge, -m, "512", --no-pci, --no-shconf, --file-prefix, $eal,
          --lcores, "(0-2)@(0-$(($(nproc) - 1)))", --log-level, error,
          --vdev, "net_af_packet0,iface=$vah,qpairs=2,framesz=16384,blocksz=16384",
          --vdev, "net_af_packet1,iface=$vbh,qpairs=2,framesz=16384,blocksz=16384"]
    data_room: 16512
$3
log:
  level: info
CONF
}
port0='      - port: net_af_packet0
        addresses: [10.98.1.1, 10.98.4.1]
        prefix_len: 24
        routes: [10.98.5.0/24 via 10.98.1.2]'
port1='      - port: net_af_packet1
        addresses: [10.98.2.1]
        prefix_len: 24
        gateway: 10.98.2.2'
listeners='["10.98.1.1:5060", "10.98.2.1:5060", "10.98.4.1:5060"]'
conf pickupd.yaml "$listeners" "    ports:
$port0
$port1"
pk_check_dpdk "$pickupd" "$work/pickupd.yaml" "configuration refused"

# refused FILE REGEXP WHAT: --check must refuse FILE, REGEXP (extended,
# any case) in its error, the file's path left out (the work directory's
# name has "ports" in it)
refused() {
  local out
  if out=$("$pickupd" --check -c "$work/$1" 2>&1); then
    fail "--check accepts $3"
  fi
  out=${out//"$work/$1"/FILE}
  grep -qiE -- "$2" <<<"$out" || fail "--check refuses $3 without naming it (/$2/): $out"
  echo "   refused, $3: $out"
}
# a listener on no port
conf bad1.yaml '["10.98.1.1:5060", "10.98.9.1:5060"]' "    ports:
$port0
$port1"
refused bad1.yaml '10\.98\.9\.1' "a listener on no port"
# a listener's address on two ports
conf bad2.yaml "$listeners" "    ports:
$port0
      - port: net_af_packet1
        addresses: [10.98.2.1, 10.98.1.1]
        prefix_len: 24"
refused bad2.yaml '10\.98\.1\.1|twice|two ports' "a listener address on two ports"
# the one-port keys and ports: together
conf bad3.yaml "$listeners" "    port: net_af_packet0
    ports:
$port0
$port1"
refused bad3.yaml 'ports' "port and ports together"
# a static route whose next hop is on-link nowhere on its port
conf bad4.yaml "$listeners" "    ports:
      - port: net_af_packet0
        addresses: [10.98.1.1, 10.98.4.1]
        routes: [10.98.5.0/24 via 10.98.2.9]
$port1"
refused bad4.yaml ':25:0: .*next hop 10\.98\.2\.9 of the route to 10\.98\.5\.0/24 \(port net_af_packet0\) is in the prefix \(/24\) of none of its addresses' \
  "a route's next hop off-link"
# io.dpdk with the socket backend: valid, but said to be unused
sed 's/^  backend: dpdk$/  backend: socket/' "$work/pickupd.yaml" >"$work/socket.yaml"
out=$("$pickupd" --check -c "$work/socket.yaml" 2>&1) || fail "--check refuses io.dpdk with backend socket: $out"
grep -q "^warning: $work/socket.yaml:[0-9]*: io.dpdk is ignored: io.backend is socket$" <<<"$out" ||
  fail "--check: no warning for an unused io.dpdk: $out"
echo "   accepted with a warning, io.dpdk and backend socket"

# ---- the network ----

pk_netns_sweep
for n in "$nsa" "$nsb"; do
  ip netns del "$n" 2>/dev/null # a killed run with our PID
  ip netns add "$n" || fail "ip netns add $n"
done
ip link add "$vah" type veth peer name "$van" || fail "ip link add veth (A)"
ip link add "$vbh" type veth peer name "$vbn" || fail "ip link add veth (B)"
# pickupd's ends have no address of the kernel's: quiet (no IPv6 chatter)
sysctl -qw "net.ipv6.conf.$vah.disable_ipv6=1" "net.ipv6.conf.$vbh.disable_ipv6=1" 2>/dev/null
pk_netns_veth "$nsa" "$vah" "$van" 10.98.1.2/24 10.98.4.2/24 10.98.5.7/32
pk_netns_veth "$nsb" "$vbh" "$vbn" 10.98.2.2/24 10.98.3.5/32
# B answers ARP for 10.98.2.2 only (arp_ignore 2: the target must be in
# the asker's subnet): a datagram for 10.98.3.5 gets there only by the
# gateway's MAC. And B asks from 10.98.2.2, as a router would.
ip netns exec "$nsb" sysctl -qw "net.ipv4.conf.$vbn.arp_ignore=2" "net.ipv4.conf.$vbn.arp_announce=2" ||
  fail "sysctl arp_ignore/arp_announce in $nsb"

# ---- pickupd ----

pk_start_ready "$pickupd" "$work/pickupd.yaml" "$work"
for a in 10.98.1.1:5060 10.98.2.1:5060 10.98.4.1:5060; do
  [[ $PK_READY == *"udp proxy $a;"* ]] || fail "listener $a not announced (ready file: $PK_READY)"
done
grep "dpdk: " "$work/pickupd.log" | grep -q "port 0 net_af_packet0 .*; routes 10\.98\.5\.0/24 via 10\.98\.1\.2" ||
  fail "port 0's static route not in the start-up line: $(grep 'dpdk: ' "$work/pickupd.log")"
# each port set up with a queue per worker (the kernel's fanout spreads
# each port's flows over the two workers; ARP learnt by one worker's queue
# reaches the other's on the same port)
for p in 0 1; do
  grep "dpdk: " "$work/pickupd.log" |
    grep -qE "port $p net_af_packet$p \(net_af_packet, [0-9A-F:]+\): 2 queue\(s\) of 2 asked, spread by the kernel's packet fanout" ||
    fail "port $p (net_af_packet$p) not set up with two queues"
done
echo "   both ports set up, two queues each"

# ---- ICMP echo on both ports ----

# icmp_echo NS ADDR: ICMP echo from namespace NS to ADDR, answered
# (dpdk_afpacket_peer.py's, three requests: a raw socket, no ping binary)
icmp_echo() { ip netns exec "$1" python3 "$here/dpdk_afpacket_peer.py" ping "$2"; }
icmp_echo "$nsa" 10.98.1.1 || fail "ICMP echo to 10.98.1.1 from $nsa (port 0)"
icmp_echo "$nsb" 10.98.2.1 || fail "ICMP echo to 10.98.2.1 from $nsb (port 1)"
# twice on port 1: the stats below tell the ports apart by their counts
icmp_echo "$nsb" 10.98.2.1 || fail "second ICMP echo to 10.98.2.1 from $nsb (port 1)"
echo "   ICMP echo answered on both ports"

# ---- the counters while pickupd runs (control socket) ----

# Each port's echo requests (three on port 0, six on port 1) are counted
# on that port, and the frames each worker's queue took in that worker's
# io; the table and Prometheus views show the same numbers.
"$pickupctl" -s "$work/ctl.sock" --json stats >"$work/stats.json" 2>"$work/stats.err" ||
  fail "pickupctl stats: $(cat "$work/stats.err")"
python3 - "$work/stats.json" <<'PY' || fail "stats: the network and I/O counters"
import json, sys
st = json.load(open(sys.argv[1]))
net = st.get("net") or sys.exit("no net section: %s" % sorted(st))
if list(net) != ["net_af_packet0", "net_af_packet1"]:
    sys.exit("net ports %s" % list(net))
for (port, c), want in zip(net.items(), (3, 6)):
    if c["icmp_echo_replied"] != want:
        sys.exit("%s: icmp_echo_replied %s, want %d" % (port, c["icmp_echo_replied"], want))
    if c["udp_bad_cksum"] != 0 or c["ip_bad_cksum"] != 0 or c["ip_rx"] < 3:
        sys.exit("%s: %s" % (port, c))
    # the port's own counters (its driver's): every frame the workers saw
    # came through it, every echo reply left by it, nothing missed
    if (c["port_ipackets"] < c["rx_frames"] or c["port_opackets"] < want or
            c["port_imissed"] != 0 or c["port_rx_nombuf"] != 0):
        sys.exit("%s: the port's counters: %s" % (port, c))
ws = st["workers"]
if len(ws) != 2 or any("io" not in w for w in ws):
    sys.exit("workers' io: %s" % ws)
for k in ("rx_frames", "udp_rx", "tx_frames"):
    if st["io"][k] != sum(w["io"][k] for w in ws):
        sys.exit("io.%s %s is not the workers' sum" % (k, st["io"][k]))
if st["io"]["rx_frames"] < 6 or st["io"]["tx_dropped"] != 0:
    sys.exit("io: %s" % st["io"])
# each worker's share of each port's network layer: the echoes the
# kernel's fanout gave it, which add up to the port's; no driver counters
for port, want in (("net_af_packet0", 3), ("net_af_packet1", 6)):
    shares = [w.get("net", {}).get(port) for w in ws]
    if any(not isinstance(s, dict) for s in shares):
        sys.exit("workers' net for %s: %s" % (port, shares))
    if sum(s["icmp_echo_replied"] for s in shares) != want:
        sys.exit("%s: the workers' icmp_echo_replied %s do not add up to %d" %
                 (port, [s["icmp_echo_replied"] for s in shares], want))
    if any("port_ipackets" in s for s in shares):
        sys.exit("%s: a worker's share has the port's driver counters" % port)
# each port's link, as its driver reports it: up, no change since
ports = st.get("ports") or sys.exit("no ports section: %s" % sorted(st))
if list(ports) != ["net_af_packet0", "net_af_packet1"]:
    sys.exit("ports %s" % list(ports))
for port, l in ports.items():
    if l.get("link_up") is not True or l.get("link_changes") != 0 or not isinstance(l.get("speed_mbps"), int):
        sys.exit("%s: link %s" % (port, l))
PY
"$pickupctl" -s "$work/ctl.sock" stats >"$work/stats.txt" 2>&1 || fail "pickupctl stats (table)"
grep -qE '^NET +net_af_packet0 +net_af_packet1 *$' "$work/stats.txt" ||
  fail "no NET table for both ports: $(grep -A2 '^NET' "$work/stats.txt")"
grep -qE '^icmp_echo_replied +3 +6 *$' "$work/stats.txt" ||
  fail "NET table: $(grep icmp_echo_replied "$work/stats.txt")"
grep -qE '^IO +TOTAL +W0 +W1 *$' "$work/stats.txt" || fail "no IO table"
grep -qE '^PORTS +net_af_packet0 +net_af_packet1 *$' "$work/stats.txt" &&
  grep -qE '^link_up +true +true *$' "$work/stats.txt" ||
  fail "no PORTS table with both links up: $(grep -A3 '^PORTS' "$work/stats.txt")"
# one worker's view: its share of each port's network layer
"$pickupctl" -s "$work/ctl.sock" stats --worker 1 >"$work/stats1.txt" 2>&1 || fail "pickupctl stats --worker 1"
grep -qE '^NET W1 +net_af_packet0 +net_af_packet1 *$' "$work/stats1.txt" ||
  fail "stats --worker 1: no NET W1 table: $(grep -A2 '^NET' "$work/stats1.txt")"
"$pickupctl" -s "$work/ctl.sock" metrics >"$work/metrics.txt" 2>&1 || fail "pickupctl metrics"
for p in 0:3 1:6; do
  grep -qx "pickupd_net_icmp_echo_replied_total{port=\"net_af_packet${p%:*}\"} ${p#*:}" "$work/metrics.txt" ||
    fail "metrics: $(grep icmp_echo_replied "$work/metrics.txt")"
  grep -qx "pickupd_port_link_up{port=\"net_af_packet${p%:*}\"} 1" "$work/metrics.txt" &&
    grep -qx "pickupd_port_link_changes_total{port=\"net_af_packet${p%:*}\"} 0" "$work/metrics.txt" ||
    fail "metrics: $(grep pickupd_port_ "$work/metrics.txt")"
done
# a series per worker (the kernel's fanout decides which got the echoes)
[ "$(grep -cE '^pickupd_io_rx_frames_total\{worker="[01]"\} [0-9]+$' "$work/metrics.txt")" = 2 ] &&
  grep -qE '^pickupd_io_rx_frames_total\{worker="[01]"\} [1-9]' "$work/metrics.txt" ||
  fail "metrics: $(grep io_rx_frames "$work/metrics.txt")"
echo "   stats: ICMP counted on each port (JSON, table, metrics) and each worker's share, I/O per worker, links up"


# ---- SIPp ----

# sipp_bg NAME NS IP PORT REMOTE SCENARIO ARGS...: one call of SCENARIO in
# namespace NS on IP:PORT, in the background (spid[NAME]); logs NAME.msg,
# NAME.err, NAME.out. Returns once its socket is bound (10 s at most).
sipp_bg() {
  local name=$1 ns=$2 ip=$3 port=$4 remote=$5 scen=$6 i
  shift 6
  timeout -k 5 50 ip netns exec "$ns" sipp "$remote" -sf "$here/sipp/$scen" -t u1 \
    -i "$ip" -p "$port" -m 1 -nostdin -timeout 40s -timeout_error -recv_timeout 20000 \
    -trace_msg -message_file "$work/$name.msg" -trace_err -error_file "$work/$name.err" \
    -key peer "$name" -key domain example.test "$@" >"$work/$name.out" 2>&1 &
  spid[$name]=$!
  for ((i = 0; i < 200; i++)); do
    [ -n "$(ip netns exec "$ns" ss -Hlun "src $ip:$port")" ] && return 0
    kill -0 "${spid[$name]}" 2>/dev/null || fail "SIPp $name ended before binding $ip:$port"
    sleep 0.05
  done
  fail "SIPp $name: nothing bound on $ip:$port in $ns within 10 s"
}

# sipp_end NAME: its exit status must be 0 (bounded by -timeout and timeout(1))
sipp_end() {
  local rc
  wait "${spid[$1]}"
  rc=$?
  unset "spid[$1]"
  [ "$rc" = 0 ] || fail "SIPp $1 exited with $rc"
}

# expect NAME DIR START NTH WHAT REGEXP [OCC]: pkit.py expect on NAME.msg
expect() {
  local name=$1
  shift
  python3 -S "$here/pkit.py" expect "$work/$name.msg" "$@" || fail "$name: $1 $2 #$3: $4 does not match /$5/"
}

branch='z9hG4bKpk[0-9a-f]{16}\.[0-9a-f]{8}'

# call UAS NS ADDR UAC NS ADDR TO USER VIA: one call of SIPp UAC (in
# namespace NS at ADDR, ip:port, sent to pickupd's TO) to USER, answered
# by SIPp UAS (likewise, at ADDR); pickupd must reach UAS from VIA
# (ip:port, the listener its Via names): the INVITE with UAS's address
# as Request-URI, every request (INVITE, ACK, BYE) with pickupd's Via of
# VIA on top of UAC's, and the 200 back at UAC with UAS's Contact.
call() {
  local uas=$1 uas_ns=$2 uas_at=$3 uac=$4 uac_ns=$5 uac_at=$6 to=$7 user=$8 via=$9 m
  sipp_bg "$uas" "$uas_ns" "${uas_at%:*}" "${uas_at#*:}" "$via" call_uas.xml -key user "$user"
  sipp_bg "$uac" "$uac_ns" "${uac_at%:*}" "${uac_at#*:}" "$to" call_uac.xml -key from 1001 -key to "$user"
  sipp_end "$uac"
  sipp_end "$uas"
  expect "$uas" recv '^INVITE ' 1 line "INVITE sip:$user@${uas_at//./\\.} SIP/2\\.0"
  for m in INVITE ACK BYE; do
    expect "$uas" recv "^$m " 1 Via "SIP/2\\.0/UDP ${via//./\\.};branch=$branch;rport(;.*)?" 1
    expect "$uas" recv "^$m " 1 Via "SIP/2\\.0/UDP ${uac_at//./\\.};.*" 2
  done
  expect "$uac" recv '^SIP/2\.0 200' 1 CSeq '1 INVITE'
  expect "$uac" recv '^SIP/2\.0 200' 1 Contact "<sip:$user@${uas_at//./\\.}>"
}

# SIPp registers 2004 from A.
pk_netns_register "$nsa" 10.98.1.1:5060 10.98.1.2 "reg-$tag@dpdk-ports" "$work"
echo "   2004 registered from $nsa"

# A call from B (port 1) to 2004 in A (port 0).
call uas4 "$nsa" 10.98.1.2:5090 uac1 "$nsb" 10.98.2.2:5070 10.98.2.1:5060 2004 10.98.1.1:5060
# record_route: two entries, the port towards A on top; the in-dialog
# requests came with both as Route (B's route set) and lost both
expect uas4 recv '^INVITE ' 1 Record-Route '<sip:10\.98\.1\.1:5060;lr>' 1
expect uas4 recv '^INVITE ' 1 Record-Route '<sip:10\.98\.2\.1:5060;lr>' 2
for m in ACK BYE; do
  expect uas4 recv "^$m " 1 Route '' none
  routes=$(python3 -S "$here/pkit.py" hdr "$work/uac1.msg" sent "^$m " 1 Route all | tr '\n' ,)
  [[ $routes =~ \<sip:10\.98\.2\.1:5060\;lr\>,\ *\<sip:10\.98\.1\.1:5060\;lr\> ]] ||
    fail "uac1: its $m did not carry pickupd's two Record-Route entries as Route: $routes"
done
expect uac1 recv '^SIP/2\.0 180' 1 Via 'SIP/2\.0/UDP 10\.98\.2\.2:5070;.*'
vias=$(python3 -S "$here/pkit.py" hdr "$work/uac1.msg" recv '^SIP/2\.0 200' 1 Via all)
[ "$(grep -c . <<<"$vias")" = 1 ] || fail "uac1: the 200 has other than its own Via: $vias"
echo "   call B -> A: Via 10.98.1.1:5060 on port 0, the answers back on port 1"

# A call from A (port 0) to the static binding 2006 at 10.98.3.5, off-link:
# through the gateway 10.98.2.2 on port 1.
call uas6 "$nsb" 10.98.3.5:5064 uac2 "$nsa" 10.98.1.2:5070 10.98.1.1:5060 2006 10.98.2.1:5060
expect uas6 recv '^INVITE ' 1 Record-Route '<sip:10\.98\.2\.1:5060;lr>' 1
expect uas6 recv '^INVITE ' 1 Record-Route '<sip:10\.98\.1\.1:5060;lr>' 2
ip netns exec "$nsb" ip neigh show dev "$vbn" | grep -q '^10\.98\.2\.1 ' ||
  fail "B never heard pickupd's port 1 ARP (no neighbour 10.98.2.1)"
echo "   call A -> 10.98.3.5 (by the gateway 10.98.2.2): Via 10.98.2.1:5060 on port 1"

# A call from B (port 1) to the static binding 2007 at 10.98.4.2, in port
# 0's second subnet: from the listener of that subnet, on-link (port 0 has
# no gateway: from 10.98.1.1 it would be dropped, tx_no_route).
call uas7 "$nsa" 10.98.4.2:5066 uac3 "$nsb" 10.98.2.2:5072 10.98.2.1:5060 2007 10.98.4.1:5060
expect uas7 recv '^INVITE ' 1 Record-Route '<sip:10\.98\.4\.1:5060;lr>' 1
echo "   call B -> 10.98.4.2 (port 0's second subnet): Via 10.98.4.1:5060, on-link"

# A call from B (port 1) to the static binding 2008 at 10.98.5.7 in A,
# off-link: by port 0's static route, to its next hop 10.98.1.2.
call uas8 "$nsa" 10.98.5.7:5068 uac4 "$nsb" 10.98.2.2:5074 10.98.2.1:5060 2008 10.98.1.1:5060
expect uas8 recv '^INVITE ' 1 Record-Route '<sip:10\.98\.1\.1:5060;lr>' 1
echo "   call B -> 10.98.5.7 (port 0's static route via 10.98.1.2): Via 10.98.1.1:5060 on port 0"

# ---- the neighbour caches (pickupctl neighbours) ----

# Each port's ARP cache, merged over the two workers: A's address on
# port 0 (the phone, and the static route's next hop) with A's MAC, B's
# on port 1 (the gateway) with B's; nothing off-link (10.98.3.5 and
# 10.98.5.7 went by their next hops), no address on the other port.
mac_a=$(ip netns exec "$nsa" cat "/sys/class/net/$van/address")
mac_b=$(ip netns exec "$nsb" cat "/sys/class/net/$vbn/address")
"$pickupctl" -s "$work/ctl.sock" --json neighbours >"$work/nb.json" 2>"$work/nb.err" ||
  fail "pickupctl neighbours: $(cat "$work/nb.err")"
python3 - "$work/nb.json" "$mac_a" "$mac_b" <<'PY' || fail "neighbours: $(cat "$work/nb.json")"
import json, sys
nb = json.load(open(sys.argv[1]))["neighbours"]
if list(nb) != ["net_af_packet0", "net_af_packet1"]:
    sys.exit("ports %s" % list(nb))
def of(port):
    return {e["address"]: e for e in nb[port]}
for port, addr, mac, absent in (("net_af_packet0", "10.98.1.2", sys.argv[2], "10.98.2.2"),
                                ("net_af_packet1", "10.98.2.2", sys.argv[3], "10.98.1.2")):
    e = of(port).get(addr) or sys.exit("%s: no %s" % (port, addr))
    if e["state"] not in ("reachable", "stale") or e["mac"] != mac or e["queued"] != 0:
        sys.exit("%s %s: %s (want MAC %s)" % (port, addr, e, mac))
    if not e["workers"] or any(w not in (0, 1) for w in e["workers"]) or e["age_ms"] < 0:
        sys.exit("%s %s: workers/age %s" % (port, addr, e))
    for far in ("10.98.3.5", "10.98.5.7", absent):
        if far in of(port):
            sys.exit("%s has %s: %s" % (port, far, of(port)[far]))
PY
"$pickupctl" -s "$work/ctl.sock" neighbours --port net_af_packet1 >"$work/nb.txt" 2>&1 ||
  fail "pickupctl neighbours --port: $(cat "$work/nb.txt")"
grep -qE '^PORT +ADDRESS +MAC +STATE +AGE +QUEUED +WORKERS *$' "$work/nb.txt" &&
  grep -qE "^net_af_packet1 +10\.98\.2\.2 +$mac_b +(reachable|stale) " "$work/nb.txt" &&
  ! grep -q '^net_af_packet0' "$work/nb.txt" || fail "pickupctl neighbours --port net_af_packet1: $(cat "$work/nb.txt")"
out=$("$pickupctl" -s "$work/ctl.sock" neighbours --port nope 2>&1) && fail "neighbours --port nope: accepted"
grep -q "no port 'nope'" <<<"$out" || fail "neighbours --port nope: $out"
echo "   neighbours: 10.98.1.2 ($mac_a) on port 0, 10.98.2.2 ($mac_b) on port 1, nothing off-link"
# the control thread's link watch (once a second) announced both links
for p in 0 1; do
  grep -qE "notice: port net_af_packet$p: link up \([0-9]+ Mb/s" "$work/pickupd.log" ||
    fail "no 'link up' logged for port $p: $(grep 'link' "$work/pickupd.log")"
done

# ---- stop ----

pk_stop_ready "$work"
sum() { grep -o " $1=[0-9]*" "$work/pickupd.log" | awk -F= '{ s += $2 } END { print s + 0 }'; }
[ "$(sum answered_register)" = 1 ] || fail "answered_register = $(sum answered_register), want 1"
# four calls of INVITE, 180, 200, ACK, BYE, 200 (and retransmissions)
[ "$(sum forwarded)" -ge 24 ] || fail "forwarded = $(sum forwarded), want 24 or more"
echo "ok: pickupd on two dpdk ports (net_af_packet0/1): configuration errors, ICMP on both, SIPp REGISTER, a call each way (Vias of the egress port, by the gateway off-link), a call into a port's second subnet (from its listener), a call by a static route, the neighbour caches, clean stop"
