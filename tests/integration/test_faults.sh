#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Faults (issue 7, docs/reliability.md "Faults"): pickupd (socket backend)
# facing peers that misbehave, lossy networks, a restart and a busy
# control socket. Cases (all but `netem` by default):
#
#   ring     a callee that never answers after its 180: with ring_timeout
#            set to 2 s through the control socket the entry is expired
#            (calls.in_use 0, `expired` + 1) and no longer offered
#            (faultkit.py ring-timeout)
#   claim    a caller that never answers the pickup INVITE: with
#            claim_timeout 2 s the call goes back to RINGING, a second
#            picker gets it, no entry is left (faultkit.py claim-timeout)
#   hammer   50 control-socket clients at once (stats, calls, groups,
#            member.add/remove in *801) while SIPp runs the pickup load:
#            no failed call, every client answered, every pickup counted
#   restart  pickupd stopped (SIGTERM) and started again on the same port
#            while SIPp runs answered calls to a static binding: the static
#            binding works the moment pickupd is ready again; a dynamic
#            registration is gone (the call gets 404) until the phone
#            registers again, then the call reaches it; the load's calls
#            mostly survive through SIPp's retransmissions
#   netem    packet loss and reordering (tc netem loss 10% reorder 25% on
#            both ends of a veth pair; the phones in a network namespace
#            the script creates): the pickup load completes through
#            retransmissions, one pickup_succeeded per flow, no call
#            claimed twice (claimed = picked), the table empty afterwards.
#            Root and the netem qdisc needed: exit 77 (skipped) otherwise.
#
# Usage: test_faults.sh PICKUPD [CASE...]
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || { echo "usage: $0 PICKUPD [ring claim hammer restart | netem]"; exit 2; }
bin=$1
shift
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ring claim hammer restart)
KIT="python3 $PK_LIB_DIR/soakkit.py"
FK="python3 $PK_LIB_DIR/faultkit.py"

has_case() {
  local c
  for c in "${cases[@]}"; do [ "$c" = "$1" ] && return 0; done
  return 1
}

# ---- netem: its own namespace and pickupd, see netem_case below ----
NS= VETH=
netem_cleanup() {
  [ -n "$VETH" ] && ip link del "$VETH" 2>/dev/null
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  pk_cleanup
}

if has_case netem; then
  [ ${#cases[@]} = 1 ] || { echo "netem runs alone: $0 PICKUPD netem"; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "SKIP: netem case needs root (network namespace, veth, tc)"; exit 77; }
  command -v tc >/dev/null && command -v ip >/dev/null ||
    { echo "SKIP: tc or ip not found (Debian package iproute2)"; exit 77; }
  # probe the qdisc on a throw-away veth pair: kernels without sch_netem
  # (containers, minimal kernels) cannot emulate loss
  probe=pkfp$$
  trap 'ip link del "$probe" 2>/dev/null' EXIT # until pk_init's cleanup takes over
  if ! ip link add "$probe" type veth peer name "${probe}b" 2>/dev/null; then
    echo "SKIP: cannot create a veth pair"; exit 77
  fi
  if ! out=$(tc qdisc add dev "$probe" root netem loss 10% reorder 25% delay 2ms 2>&1) &&
     [ "${PK_NETEM_OFF:-0}" != 1 ]; then
    ip link del "$probe" 2>/dev/null
    echo "SKIP: tc netem is unavailable on this kernel ($out)"
    exit 77
  fi
  ip link del "$probe" 2>/dev/null
fi

pk_init faults "$bin"
pk_ports pk callee caller picker acallee acaller pyce ph4003 ph5001
trap 'netem_cleanup' EXIT

# ---------------------------------------------------------------------------
netem_case() {
  # unique names per run (the PID), deleted by the EXIT trap whatever
  # happens; addresses from 10.X.Y.0/30 with X.Y from the PID as well
  local id=$(( $$ % 60000 ))
  NS=pkf$$
  VETH=pkf$$h
  local peer=pkf$$n
  local a=$((10 + id / 250)) b=$((id % 250))
  local H=10.$a.$b.1 P=10.$a.$b.2
  ip netns add "$NS" || fail "ip netns add"
  ip link add "$VETH" type veth peer name "$peer" || fail "ip link add veth"
  ip link set "$peer" netns "$NS" || fail "veth into the namespace"
  ip addr add "$H/30" dev "$VETH" && ip link set "$VETH" up || fail "host end"
  ip -n "$NS" addr add "$P/30" dev "$peer" && ip -n "$NS" link set "$peer" up &&
    ip -n "$NS" link set lo up || fail "namespace end"
  if [ "${PK_NETEM_OFF:-0}" != 1 ]; then
    tc qdisc add dev "$VETH" root netem loss 10% reorder 25% delay 2ms || fail "netem on $VETH"
    tc -n "$NS" qdisc add dev "$peer" root netem loss 10% reorder 25% delay 2ms || fail "netem on $peer"
    note "netem: loss 10% reorder 25% delay 2ms on both ends of $VETH/$peer ($H <-> $P in $NS)"
  else
    note "PK_NETEM_OFF=1: the veth pair without impairments (plumbing check only)"
  fi
  cat >"$PK_WORK/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "*801"
    members: ["2002", "2003"]
YAML
  cat >"$PK_WORK/netem.yaml" <<YAML
listen:
  proxy: "$H:$(pk_port pk)"
workers: 2
domains: [example.test]
groups: groups.yaml
bindings:
  "2002": "sip:2002@$P:$(pk_port callee)"
io:
  socket_buffer: $PK_LOAD_BUF
control_socket: ctl.sock
log:
  level: info
YAML
  pk_start netem.yaml
  local ctl=$PK_WORK/ctl.sock rate=5 secs=8
  local calls=$((rate * secs)) p rc
  # the load's three SIPp instances, in the namespace; scenarios that
  # retransmit their final answers too (soak_netem_*.xml), and the loss
  # needs longer waits than loopback
  start_ns_sipp() { # peer scenario args...
    local peer=$1 scen=$2
    shift 2
    ip netns exec "$NS" timeout -k 5 120 \
      sipp "$H:$(pk_port pk)" -sf "$PK_SCEN/$scen" -t u1 -i "$P" -p "$(pk_port "$peer")" -nostdin \
      -m "$calls" -r "$rate" -l 200 -buff_size $PK_LOAD_BUF -timeout 100s -timeout_error \
      -recv_timeout 30000 -key domain example.test -key lag 4000 -key talk 500 \
      "$@" >"$PK_WORK/$peer.out" 2>&1 &
    PK_SIPP_PID[$peer]=$!
  }
  start_ns_sipp callee netem_callee.xml
  start_ns_sipp caller netem_caller.xml -oocsf "$PK_SCEN/netem_caller_ooc.xml"
  start_ns_sipp picker netem_picker.xml
  local bad=
  for p in caller picker callee; do
    wait "${PK_SIPP_PID[$p]}"
    rc=$?
    unset "PK_SIPP_PID[$p]"
    note "$p: $(sipp_stat $p 'Successful call') successful, $(sipp_stat $p 'Failed call') failed (exit $rc)"
    [ "$rc" = 0 ] || bad="$bad $p"
  done
  [ -z "$bad" ] || fail "SIPp flows failed under loss:$bad"
  $KIT wait "$ctl" "s['calls']['in_use'] == 0" 40 || fail "entries left after the lossy load"
  $KIT invariants "$ctl" 1 pickup.pickup_succeeded=$calls calls.counters.picked=$calls \
    calls.counters.claimed=$calls >"$PK_WORK/inv.out"
  rc=$?
  sed 's/^/   /' "$PK_WORK/inv.out"
  $KIT stats "$ctl" "'pickup_retrans %d, pickup_drop_retrans %d, claim_retrans %d' % (s['pickup']['pickup_retrans'], s['pickup']['pickup_drop_retrans'], s['calls']['counters']['claim_retrans'])" | sed 's/^/   /'
  [ $rc = 0 ] || fail "a call claimed twice, lost, or counters off under loss"
  pass "$calls pickup flows under loss and reordering: all complete, one pickup_succeeded each, claimed = picked"
  pk_stop
}

if has_case netem; then
  case_begin netem
  netem_case
  exit 0
fi

# ---------------------------------------------------------------------------
cat >"$PK_WORK/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
  ring_timeout: 120
groups:
  - number: "*801"
    members: ["2002", "2003", "2004", "2006"]
  - number: "*802"
    members:
      - { user: "4001", rights: [ring] }
YAML
cat >"$PK_WORK/pickupd.yaml" <<YAML
listen:
  proxy: "127.0.0.1:$(pk_port pk)"
workers: 2
domains: [example.test]
groups: groups.yaml
trusted: [127.0.0.0/8]
bindings:
  "2002": "sip:2002@127.0.0.1:$(pk_port callee)"
  "2006": "sip:2006@127.0.0.1:$(pk_port pyce)"
  "4001": "sip:4001@127.0.0.1:$(pk_port acallee)"
  "4003": "sip:4003@127.0.0.1:$(pk_port ph4003)"
timers:
  claim_timeout: 32
  register_min_expires: 60
capacity:
  calls: 4096
  registrations: 1024
io:
  socket_buffer: $PK_LOAD_BUF
control_socket: ctl.sock
log:
  level: info
YAML
n_static=4
pk_start pickupd.yaml
ctl=$PK_WORK/ctl.sock
[ -S "$ctl" ] || fail "no control socket at $ctl"

if has_case ring; then
  case_begin "ring timeout"
  out=$($FK ring-timeout "$PK_UDP" "$ctl" "$(pk_port pyce)") || fail "$out"
  pass "$out"
fi

if has_case claim; then
  case_begin "claim timeout"
  out=$($FK claim-timeout "$PK_UDP" "$ctl" "$(pk_port pyce)") || fail "$out"
  pass "$out"
fi

if has_case hammer; then
  case_begin "control socket hammered"
  rate=20 secs=8
  calls=$((rate * secs))
  s0=$($KIT stats "$ctl" "s['pickup']['pickup_succeeded']")
  pk_load_sipp callee load_callee.xml "$calls" "$rate" "$secs"
  pk_load_sipp caller load_caller.xml "$calls" "$rate" "$secs" -oocsf "$PK_LOAD_SCEN/load_caller_ooc.xml"
  pk_load_sipp picker load_picker.xml "$calls" "$rate" "$secs"
  $KIT hammer "$ctl" 50 6 '*801' >"$PK_WORK/hammer.out" 2>&1
  h_rc=$?
  for p in caller picker callee; do
    wait "${PK_SIPP_PID[$p]}"
    unset "PK_SIPP_PID[$p]"
  done
  sed 's/^/   /' "$PK_WORK/hammer.out"
  [ $h_rc = 0 ] || fail "a control client went unanswered or got an error"
  failed=$(pk_load_failed "$calls" caller picker callee)
  [ "$failed" = 0 ] || fail "$failed of $calls pickup flows failed while the control socket was hammered"
  s1=$($KIT stats "$ctl" "s['pickup']['pickup_succeeded']")
  [ $((s1 - s0)) = "$calls" ] || fail "pickup_succeeded moved by $((s1 - s0)), expected $calls"
  $KIT req "$ctl" '{"cmd": "groups", "args": {"number": "*801"}}' >"$PK_WORK/g.out" || fail "groups"
  grep -q '"9[0-9][0-9][0-9]@' "$PK_WORK/g.out" && fail "a hammer member was left in *801"
  pass "50 control clients for 6 s ($(grep -o 'answers [0-9]*' "$PK_WORK/hammer.out")," \
    "$(grep -o 'member_changes [0-9]*' "$PK_WORK/hammer.out"), $(grep -o 'busy_retries [0-9]*' "$PK_WORK/hammer.out"))" \
    "during $calls pickup flows: every client answered, 0 failed calls"
fi

if has_case restart; then
  case_begin "restart under load"
  st=$($FK register "$PK_UDP" 5001 "$(pk_port ph5001)" 600) || fail "$st"
  [ "$st" = 200 ] || fail "REGISTER 5001: $st"
  r=$($FK call "$PK_UDP" 5001 "$(pk_port ph5001)") || fail "$r"
  [ "$r" = reached ] || fail "call to the registered 5001 before the restart: $r"
  rate=20 secs=8
  calls=$((rate * secs))
  i0=$($KIT stats "$ctl" "s['calls']['counters']['inserted']")
  # answered calls to the static 4001 go on through the restart (SIPp
  # retransmits what pickupd missed while it was down)
  pk_load_sipp acallee ../../tests/integration/sipp/call_uas.xml "$calls" "$rate" "$secs" -key user 4001 \
    -recv_timeout 4000
  pk_load_sipp acaller ../../tests/integration/sipp/call_uac.xml "$calls" "$rate" "$secs" \
    -key from 1002 -key to 4001 -key peer ans -recv_timeout 4000
  # restart once a third of the calls went through
  $KIT wait "$ctl" "s['calls']['counters']['inserted'] >= $((i0 + calls / 3))" 20 || fail "load did not start"
  pk_stop
  t0=$(date +%s%N)
  pk_start pickupd.yaml
  r=$($FK call "$PK_UDP" 4003 "$(pk_port ph4003)") || fail "$r"
  t1=$(date +%s%N)
  [ "$r" = reached ] || fail "call to the static binding 4003 right after the restart: $r"
  regs=$($KIT stats "$ctl" "s['registrations']['in_use']")
  [ "$regs" = $n_static ] || fail "$regs bindings after the restart, expected the $n_static static ones"
  r=$($FK call "$PK_UDP" 5001 "$(pk_port ph5001)") || fail "$r"
  case $r in
    404|480) ;;
    *) fail "call to 5001 (registered before the restart, not since): $r, expected 404 or 480" ;;
  esac
  st=$($FK register "$PK_UDP" 5001 "$(pk_port ph5001)" 600) || fail "$st"
  [ "$st" = 200 ] || fail "REGISTER 5001 again: $st"
  r2=$($FK call "$PK_UDP" 5001 "$(pk_port ph5001)") || fail "$r2"
  [ "$r2" = reached ] || fail "call to 5001 after it registered again: $r2"
  for p in acaller acallee; do
    wait "${PK_SIPP_PID[$p]}"
    unset "PK_SIPP_PID[$p]"
  done
  ok=$(sipp_stat acaller 'Successful call')
  failed=$((calls - ${ok:-0}))
  after=$($KIT stats "$ctl" "s['calls']['counters']['inserted']")
  note "load: $ok of $calls calls successful through the restart, $after of them tracked by the new pickupd"
  [ "$failed" -le $((calls / 5)) ] || fail "$failed of $calls calls failed across the restart (more than a fifth)"
  [ "$after" -ge $((calls / 3)) ] && [ "$after" -le $((calls * 4 / 5)) ] ||
    fail "the new pickupd tracked $after calls: the restart did not happen mid-load"
  pass "restart under load: static 4003 reached $(( (t1 - t0) / 1000000 )) ms after the restart began," \
    "5001 got $r until it registered again, then reached; $failed of $calls load calls lost"
fi

$KIT wait "$ctl" "s['calls']['in_use'] == 0" 10 || fail "entries left at the end"
pk_stop
echo "faults passed: ${cases[*]}"
