#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Load test of Group Call Pickup through pickupd, with SIPp on loopback:
# N calls per second of the whole flow (docs/performance.md)
#
#   caller --INVITE--> pickupd --> callee (rings, 180)
#   picker --INVITE *801--> pickupd --INVITE+Replaces--> caller --200--> picker
#   caller --CANCEL--> pickupd --CANCEL+Reason--> callee (200, 487, ACK)
#   picker --ACK, talk, BYE--> pickupd --> caller
#
# three SIPp instances (bench/sipp/load_*.xml: callers with their
# out-of-call scenario answering the pickups, a ringing callee, pickers
# dialling 1 s after their call starts), each step for a fixed time, at a
# ladder of rates, 4 MB socket buffers on every side (SIPp -buff_size,
# pickupd io.socket_buffer). For each step: calls, failed calls (any of
# the three instances; every check of the scenarios counts: Replaces
# shape, Require, the CANCEL's Reason), pickupd's CPU time per 1,000
# calls (utime + stime from /proc/PID/stat, so SIPp's own CPU is not in
# it), SIPp's CPU, and the kernel's UDP buffer drops (system-wide, and on
# pickupd's own sockets from /proc/net/udp). The ladder stops at
# the first step with a failure; the last line is the highest rate
# without one.
#
# Usage: bench/load-pickup.sh [options] PICKUPD
#   --rates "R1 R2 ..."   calls per second, ascending (default
#                         "50 100 200 300 400 600 800 1000")
#   --duration S          seconds of call generation per step (default 20)
#   --workers N           pickupd workers (default 1)
#   --smoke               one short step (5 s at 20 calls/s): the
#                         integration suite's check that the flow holds up
#   --keep-going          go on after a failed step
# Not part of the test command (it takes minutes): run it by hand.
# PK_BACKEND=dpdk: against pickupd on the dpdk backend, SIPp in a network
# namespace on a veth pair (tests/integration/lib.sh; root). The drop
# columns then count the namespace's and pickupd's kernel sockets: none.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/lib.sh"

rates="50 100 200 300 400 600 800 1000"
duration=20
workers=1
smoke=0
keep_going=0
while [ $# -gt 1 ]; do
  case $1 in
    --rates) rates=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --keep-going) keep_going=1; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
[ $# -eq 1 ] || { sed -n '/^# Usage/,/^# Not part/p' "$0"; exit 2; }
if [ $smoke = 1 ]; then rates=20; duration=5; fi

BUF=$PK_LOAD_BUF

pk_init load "$1"
pk_ports callee caller picker

cat >"$PK_WORK/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "*801"
    members: ["2002", "2003"]
YAML
cat >"$PK_WORK/pickupd.yaml" <<YAML
listen:
  proxy: "$PK_PROXY_IP:0"
workers: $workers
domains: [example.test]
groups: groups.yaml
bindings:
  "2002": "sip:2002@$PK_IP:$(pk_port callee)"
capacity:
  calls: 262144
io:
  socket_buffer: $BUF
log:
  level: info
YAML
pk_backend_conf "$PK_WORK/pickupd.yaml" # PK_BACKEND=dpdk: listen:, io:
pk_start pickupd.yaml

hz=$(getconf CLK_TCK)
cpu_ticks() { # pid: utime + stime
  local stat
  stat=$(cat "/proc/$1/stat") || return 1
  stat=${stat##*) } # fields after the command name
  set -- $stat
  echo $((${12} + ${13}))
}
udp_drops() { # RcvbufErrors + SndbufErrors, system-wide
  awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) n[$i] = i; h = 1 } else print $n["RcvbufErrors"] + $n["SndbufErrors"] }' /proc/net/snmp
}
pk_drops() { # datagrams dropped on pickupd's UDP sockets (all workers')
  awk -v port="$(printf ':%04X' "$PK_UDP")" '$2 ~ port "$" { s += $NF } END { print s + 0 }' /proc/net/udp
}

# cpu_s FILE: user + system seconds of the children from `times` output
cpu_s() {
  tail -n 1 "$1" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] } printf "%.1f", s }'
}

echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; pickupd $workers worker(s);" \
  "steps of $duration s; CPU: pickupd's per 1000 flows, each SIPp's (caller/picker/callee) in all"
printf '%-6s %-6s %-7s %-6s %-10s %-16s %-8s %s\n' rate calls ok failed "pk ms/1k" "sipp cpu s (a/b/c)" drops "(pickupd's)"
best=0
best_cpu=-
flows=0
for rate in $rates; do
  calls=$((rate * duration))
  flows=$((flows + calls))
  t0=$(cpu_ticks "$PK_PID")
  d0=$(udp_drops)
  p0=$(pk_drops)
  pk_load_sipp callee load_callee.xml "$calls" "$rate" "$duration"
  pk_load_sipp caller load_caller.xml "$calls" "$rate" "$duration" -oocsf "$PK_LOAD_SCEN/load_caller_ooc.xml"
  pk_load_sipp picker load_picker.xml "$calls" "$rate" "$duration"
  for p in caller picker callee; do
    wait "${PK_SIPP_PID[$p]}"
    unset "PK_SIPP_PID[$p]"
  done
  t1=$(cpu_ticks "$PK_PID")
  d1=$(udp_drops)
  p1=$(pk_drops)
  pk_alive || fail "pickupd died at $rate calls/s"
  # a flow failed if any of its three legs did: calls - the fewest
  # successful calls of the three instances
  ok=$calls
  cpu=
  for p in caller picker callee; do
    s=$(sipp_stat $p 'Successful call')
    [ "${s:-0}" -lt "$ok" ] && ok=${s:-0}
    cpu="$cpu$(cpu_s "$PK_WORK/$p.cpu")/"
  done
  failed=$((calls - ok))
  per1k=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$calls" 'BEGIN { printf "%.1f", t * 1000 / hz / n * 1000 }')
  printf '%-6s %-6s %-7s %-6s %-10s %-16s %-8s %s\n' "$rate" "$calls" "$ok" "$failed" "$per1k" "${cpu%/}" \
    $((d1 - d0)) $((p1 - p0))
  if [ "$failed" -ne 0 ]; then
    grep -h -i "aborting\|unexpected\|timeout" "$PK_WORK"/{caller,picker,callee}.out 2>/dev/null |
      head -5 | cut -c1-200 | sed 's/^/   /'
    [ $keep_going = 1 ] || break
  else
    best=$rate
    best_cpu=$per1k
  fi
done
pk_stop
grep -h "pickup:" "$PK_WORK/pickupd.log" | sed 's/^.*info: /   /' | cut -c1-200
rx=$(pk_counter rx)
tx=$(pk_counter tx)
echo "   pickupd received $rx and sent $tx messages: $(awk -v r="$rx" -v t="$tx" -v n=$flows 'BEGIN { printf "%.1f in, %.1f out", r / n, t / n }') per flow"
if [ $best = 0 ]; then
  echo "no rate without failed calls"
  exit 1
fi
if [ $smoke = 1 ]; then
  # every flow a pickup, every CANCEL with the Reason, as pickupd counts
  for c in pickup_succeeded cancel_with_reason; do
    [ "$(pk_counter $c)" = $flows ] || { echo "FAIL: $c = $(pk_counter $c), expected $flows"; exit 1; }
  done
fi
echo "highest rate with zero failed calls: $best calls/s (pickupd: $best_cpu ms CPU per 1000 calls, $workers worker(s))"
