#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Hostile input while legitimate calls go on (issue 7 §4,
# docs/reliability.md "Hostile input"). pickupd (one worker, so that the
# flood and the calls share it) with per-source rate limiting on:
# SIPp places call-and-pickup flows from 127.0.0.1 (bench/sipp/load_*.xml
# through lib.sh's pk_load_sipp) while hostile.py floods it from
# 127.0.0.2 at full rate for FLOOD seconds: the RFC 4475 corpus, seeded
# mutations of it, truncated and 65507-byte datagrams, header bombs (3000
# Via, 3000 Route, 10000 headers, Content-Length: 999999999) and
# valid-looking INVITEs and REGISTERs far beyond the limit. During the
# flood, OPTIONS probes from 127.0.0.1 and two pickups that must be
# refused: by a non-member (1001) and by a member (2003) calling from an
# untrusted network (127.0.0.3).
#
# Pass: every legitimate flow succeeds; pickupd answers every OPTIONS
# during and after the flood; both pickups get 403; the flooder was
# limited (503 with Retry-After, then silence: never more answers than
# twice its limit), and pickupd's counters agree; pickupd exits 0 on
# SIGTERM. Prints the figures (flood rate, flows, pickupd's CPU).
#
# Usage: test_hostile.sh PICKUPD CORPUS_DIR
# Environment: PK_HOSTILE_RATE (flows/s, 30), PK_HOSTILE_FLOOD (s, 10).
# Socket backend only (the extra loopback sources); needs sipp, python3, ss.
. "$(dirname "$0")/lib.sh"

if [ "$PK_BACKEND" != socket ]; then
  echo "skip: the hostile-input test runs on the socket backend (loopback sources)"
  exit 77
fi
pk_init hostile "$1"
corpus=$(realpath "$2")
HOSTILE="python3 -S $PK_LIB_DIR/hostile.py"
FLOOD_IP=127.0.0.2    # the flooder
UNTRUSTED_IP=127.0.0.3 # a phone outside the trusted network
rate=${PK_HOSTILE_RATE:-30}
flood_s=${PK_HOSTILE_FLOOD:-10}
gen_s=$((flood_s + 2))
calls=$((rate * gen_s))
LIMIT=300 BURST=600 RETRY_AFTER=5
# pickupd's socket buffers: a flood of 64 KB datagrams fills the usual
# 4 MB in a few ms, and on a busy machine pickupd may not run for longer
# than that; 64 MB (root: SO_RCVBUFFORCE) rides out ~0.5 s of it
SOCKBUF=67108864
# CPU: on a small shared machine the flooder would take the CPU from the
# legitimate phones (SIPp) and pickupd alike, and so would whatever else
# runs there; their lateness is not what this test measures. So (as root)
# pickupd and the phones run at nice -10, a stand-in for the CPU a
# deployment gives them, and the flooder at nice 19: it still sends as
# fast as the CPU left lets it. The picker dials 2 s after the call starts
# (lib.sh's default is 1 s), for the same reason.
PK_LOAD_LAG=2000
if [ "$(id -u)" = 0 ]; then renice -n -10 -p $$ >/dev/null; fi

pk_ports callee caller picker
cat >"$PK_WORK/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "*801"
    members: ["2002", "2003"]
YAML
# exempt_trusted: false, so that the legitimate phones (127.0.0.1) are
# limited too: the test shows they stay within the limit and unharmed.
cat >"$PK_WORK/pickupd.yaml" <<YAML
listen:
  proxy: "$PK_PROXY_IP:0"
workers: 1
domains: [example.test]
groups: groups.yaml
trusted: [$PK_IP/32]
bindings:
  "2002": "sip:2002@$PK_IP:$(pk_port callee)"
limits:
  requests_per_second: $LIMIT
  burst: $BURST
  over: reply
  retry_after: $RETRY_AFTER
  exempt_trusted: false
io:
  socket_buffer: $SOCKBUF
control_socket: ctl.sock
log:
  level: info
YAML
pk_start pickupd.yaml
note "pickupd on udp $PK_PROXY_IP:$PK_UDP; limits: $LIMIT/s, burst $BURST per source"

flood_pid=
trap '[ -z "$flood_pid" ] || kill "$flood_pid" 2>/dev/null; pk_cleanup' EXIT

hz=$(getconf CLK_TCK)
cpu_ticks() { # pid: utime + stime
  local stat
  stat=$(cat "/proc/$1/stat") || return 1
  stat=${stat##*) }
  set -- $stat
  echo $((${12} + ${13}))
}
udp_drops() { # RcvbufErrors, system-wide (the loopback's drops included)
  awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) n[$i] = i; h = 1 } else print $n["RcvbufErrors"] }' /proc/net/snmp
}
jget() { python3 -c 'import json, sys; print(eval("d" + sys.argv[1], {"d": json.load(open(sys.argv[2]))}))' "$1" "$PK_WORK/flood.json"; }

case_begin "flood during calls"
t0=$(cpu_ticks "$PK_PID")
w0=$(date +%s.%N)
k0=$(udp_drops)
pk_load_sipp callee load_callee.xml "$calls" "$rate" "$gen_s" -trace_err -error_file "$PK_WORK/callee.err"
pk_load_sipp caller load_caller.xml "$calls" "$rate" "$gen_s" -oocsf "$PK_LOAD_SCEN/load_caller_ooc.xml" -trace_err -error_file "$PK_WORK/caller.err"
pk_load_sipp picker load_picker.xml "$calls" "$rate" "$gen_s" -trace_err -error_file "$PK_WORK/picker.err"
nice -n 39 $HOSTILE flood "$FLOOD_IP" "$PK_UDP" "$flood_s" "$corpus" >"$PK_WORK/flood.json" 2>"$PK_WORK/flood.err" &
flood_pid=$!

# probes while the flood lasts: the refused pickups once, OPTIONS in a loop
out=$($HOSTILE probe "$PK_IP" "$PK_UDP" pickup-nonmember) ||
  fail "pickup by a non-member during the flood: '$out', expected 403"
kill -0 "$flood_pid" 2>/dev/null || fail "the flood ended before the probes (too short?)"
note "non-member pickup (1001) during the flood: $out"
out=$($HOSTILE probe "$UNTRUSTED_IP" "$PK_UDP" pickup-member) ||
  fail "pickup from an untrusted network during the flood: '$out', expected 403"
case $out in *"not in a trusted network"*) ;; *) fail "untrusted pickup refused for another reason: $out" ;; esac
kill -0 "$flood_pid" 2>/dev/null || fail "the flood ended before the probes (too short?)"
note "member pickup (2003) from $UNTRUSTED_IP during the flood: $out"
probes=0 worst=0
while kill -0 "$flood_pid" 2>/dev/null; do
  out=$($HOSTILE probe "$PK_IP" "$PK_UDP" options) || fail "OPTIONS during the flood: '$out'"
  ms=${out#* }; ms=${ms%% *}
  [ "$ms" -gt "$worst" ] && worst=$ms
  probes=$((probes + 1))
  pk_alive || fail "pickupd died during the flood"
done
wait "$flood_pid" || fail "the flooder failed: $(cat "$PK_WORK/flood.err")"
flood_pid=
[ "$probes" -gt 0 ] || fail "no OPTIONS probe ran during the flood"
note "OPTIONS during the flood: $probes answered 200, slowest $worst ms"
drops=$(($(udp_drops) - k0))
for p in caller picker callee; do
  wait "${PK_SIPP_PID[$p]}"
  unset "PK_SIPP_PID[$p]"
done
t1=$(cpu_ticks "$PK_PID")
w1=$(date +%s.%N)
pk_alive || fail "pickupd died"
failed=$(pk_load_failed "$calls" caller picker callee)
[ "$failed" = 0 ] || fail "$failed of $calls legitimate flows failed during the flood"
pass "$calls call+pickup flows at $rate/s during the flood, all successful"

case_begin "after the flood"
out=$($HOSTILE probe "$PK_IP" "$PK_UDP" options) || fail "OPTIONS after the flood: '$out'"
out=$($HOSTILE probe "$FLOOD_IP" "$PK_UDP" options) || fail "OPTIONS from the flooder's address after the flood: '$out'"
pass "pickupd answers OPTIONS after the flood (from the flooder's address too: $out)"

case_begin "the flooder was limited"
sent=$(jget '["sent"]')
fsecs=$(jget '["seconds"]')
frate=$(jget '["rate"]')
answered=$(jget '["answered"]')
rl503=$(jget '["rl503"]')
rl503_ra=$(jget '["rl503_retry_after"]')
note "flood: $(jget '["by_kind"]')"
note "answers to the flooder: $(jget '["answers"]')"
[ "$sent" -ge 5000 ] || fail "the flood sent only $sent messages"
[ "$rl503" -gt 0 ] || fail "the flooder got no 503 of the rate limiter"
[ "$rl503_ra" = "$rl503" ] || fail "$((rl503 - rl503_ra)) of $rl503 rate-limit 503s without Retry-After"
# what a source can get out of pickupd: LIMIT/s passed + LIMIT/s 503s
# (each with a burst), over the flood and the second the sockets drain in
bound=$(awk -v l=$LIMIT -v b=$BURST -v t="$fsecs" 'BEGIN { printf "%d", 2 * (l * (t + 2) + b) }')
[ "$answered" -le "$bound" ] || fail "the flooder got $answered answers, more than twice its limit ($bound)"
pass "flood of $sent messages ($frate/s): $rl503 answered 503 + Retry-After: $RETRY_AFTER, $answered answers in all (bound $bound)"

case_begin "live rate_limit"
ctl() { python3 -S "$PK_LIB_DIR/ctlkit.py" req "$PK_WORK/ctl.sock" "$@" >/dev/null || fail "control socket: $1"; }
ctl '{"cmd":"get","args":{"name":"rate_limit"}}' "r['ok'] and r['result']['rate_limit'] == $LIMIT"
# 2000 OPTIONS at once from the (quiet) flooder's address: the burst
# passes, the over budget's worth is answered 503, the rest dropped
b=$($HOSTILE burst "$FLOOD_IP" "$PK_UDP" 2000)
python3 -c "import json, sys; a = json.loads(sys.argv[1]); sys.exit(not ($BURST <= a.get('200', 0) <= $BURST + 150 and a.get('503', 0) >= $BURST and sum(a.values()) < 2000))" "$b" ||
  fail "2000 OPTIONS at once, limit on: $b"
ctl '{"cmd":"set","args":{"name":"rate_limit","value":0}}' "r['ok'] and r['result']['value'] == 0"
b2=$($HOSTILE burst "$FLOOD_IP" "$PK_UDP" 2000)
[ "$b2" = '{"200": 2000}' ] || fail "2000 OPTIONS at once after set rate_limit 0: $b2"
ctl '{"cmd":"set","args":{"name":"rate_limit","value":-1}}' "not r['ok']"
pass "2000 OPTIONS at once: $b with the limit; set rate_limit 0 (control socket): all answered 200"

case_begin "stop"
pk_stop
resp=$(jget '["responses"]')
a=$(pk_counter answered_ratelimit)
d=$(pk_counter drop_ratelimit)
forb=$(pk_counter pickup_forbidden)
[ "$a" -ge "$rl503" ] || fail "answered_ratelimit=$a, but the flooder got $rl503 of them"
[ "$a" -le "$bound" ] || fail "answered_ratelimit=$a above the bound $bound"
[ "$d" -gt 0 ] || fail "drop_ratelimit=0: nothing beyond twice the limit was dropped"
# every request the flooder sent beyond what its limit lets through was
# limited (or lost in the kernel before pickupd read it); responses
# (mutants still starting "SIP/2.0 ") are never limited
passmax=$(awk -v l=$LIMIT -v b=$BURST -v t="$fsecs" 'BEGIN { printf "%d", l * (t + 2) + b }')
[ $((a + d + drops + passmax)) -ge $((sent - resp)) ] ||
  fail "limited $a + $d, kernel drops $drops, passed at most $passmax: less than the $((sent - resp)) requests sent"
[ "$forb" -ge 2 ] || fail "pickup_forbidden=$forb, expected the two refused pickups"
pass "pickupd stopped cleanly; counters: answered_ratelimit=$a drop_ratelimit=$d pickup_forbidden=$forb"
cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.2f s CPU over %.1f s (%.0f%% of a core)", t / hz, w1 - w0, 100 * t / hz / (w1 - w0) }')
note "figures: flood $frate msg/s ($sent in $fsecs s), legitimate flows $((calls - failed))/$calls," \
  "UDP receive-buffer drops $drops, pickupd $cpu"
