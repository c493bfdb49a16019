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
#            claimed twice (claimed = picked) nor tracked twice (inserted =
#            the calls: a late INVITE copy of a picked-up call is not
#            tracked again), the table empty afterwards.
#            Without sch_netem in the kernel, the same impairment in user
#            space: pk-impair (pk_impair.c, path in PK_IMPAIR) gives the
#            verdicts of an NFQUEUE that nft or iptables rules in the
#            namespace feed with the SIP packets of both directions; then
#            its counters must show drops in both directions and packets
#            overtaken. Root needed, and netem or pk-impair with nft/iptables
#            NFQUEUE rules: exit 77 (skipped, with the reasons) otherwise.
#            PK_NETEM_OFF=1: the veth pair without any impairment (plumbing
#            only); PK_IMPAIR_SEED=N replays pk-impair's drop/hold decisions.
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
NETEM_HOW=      # netem (the qdisc), nfqueue (pk-impair) or off (PK_NETEM_OFF=1)
IMPAIR_RULES=   # nft or iptables: what puts the packets on pk-impair's queue
IMPAIR_PID=
IMPAIR_Q=0      # the NFQUEUE number; queues are per network namespace
netem_cleanup() {
  # pk-impair first: the namespace (and its queue rules) can only go once
  # nothing runs in it; it accepts what it holds when it stops
  if [ -n "$IMPAIR_PID" ]; then
    kill -TERM "$IMPAIR_PID" 2>/dev/null
    wait "$IMPAIR_PID" 2>/dev/null
  fi
  [ -n "$VETH" ] && ip link del "$VETH" 2>/dev/null
  [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
  pk_cleanup
}

# impair_rules NS TOOL DEV IP PORT: in namespace NS, the UDP packets leaving
# through DEV to IP:PORT and those coming in through DEV from IP:PORT go to
# NFQUEUE $IMPAIR_Q, with no bypass: were pk-impair gone, they would be
# dropped, and the test would fail rather than pass unimpaired. Everything
# is in the namespace (one pk-impair judges both directions, as netem on
# both ends of the veth pair does), so the host's rules are never touched
# and deleting the namespace deletes the rules.
impair_rules() {
  local ns=$1 tool=$2 dev=$3 ip=$4 port=$5
  case $tool in
    nft)
      ip netns exec "$ns" nft -f - <<NFT
table inet pkimpair$$ {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "$dev" ip daddr $ip udp dport $port queue num $IMPAIR_Q
  }
  chain in {
    type filter hook prerouting priority 0; policy accept;
    iifname "$dev" ip saddr $ip udp sport $port queue num $IMPAIR_Q
  }
}
NFT
      ;;
    iptables)
      ip netns exec "$ns" iptables -w -t mangle -A OUTPUT -o "$dev" -p udp -d "$ip" --dport "$port" \
        -j NFQUEUE --queue-num "$IMPAIR_Q" &&
        ip netns exec "$ns" iptables -w -t mangle -A PREROUTING -i "$dev" -p udp -s "$ip" --sport "$port" \
          -j NFQUEUE --queue-num "$IMPAIR_Q"
      ;;
    *) return 1 ;;
  esac
}

# impair_probe NS: can pk-impair impair here? In a throw-away namespace NS:
# a queue rule by nft (the kernel's nft_queue) or else by iptables (the
# xt NFQUEUE target, through nft_compat or legacy iptables), and binding the
# queue (nfnetlink_queue). Sets IMPAIR_RULES, or impair_why on failure.
impair_probe() {
  local ns=$1 out
  if [ -z "${PK_IMPAIR:-}" ] || [ ! -x "$PK_IMPAIR" ]; then
    impair_why="no pk-impair (PK_IMPAIR unset: meson builds it with libnetfilter_queue, Debian libnetfilter-queue-dev)"
    return 1
  fi
  pk_netns_sweep
  ip netns add "$ns" 2>/dev/null || { impair_why="cannot create a network namespace"; return 1; }
  ip -n "$ns" link set lo up
  if command -v nft >/dev/null && impair_rules "$ns" nft lo 127.0.0.1 9 2>/dev/null; then
    IMPAIR_RULES=nft
  elif command -v iptables >/dev/null && impair_rules "$ns" iptables lo 127.0.0.1 9 2>/dev/null; then
    IMPAIR_RULES=iptables
  else
    impair_why="no NFQUEUE rule possible: neither nft's queue (nft_queue) nor iptables' NFQUEUE target (Debian nftables, iptables)"
  fi
  if [ -n "$IMPAIR_RULES" ] && ! out=$(ip netns exec "$ns" "$PK_IMPAIR" -q "$IMPAIR_Q" -P 2>&1); then
    IMPAIR_RULES=
    impair_why="$out"
  fi
  ip netns del "$ns" 2>/dev/null
  [ -n "$IMPAIR_RULES" ]
}

if has_case netem; then
  [ ${#cases[@]} = 1 ] || { echo "netem runs alone: $0 PICKUPD netem"; exit 2; }
  [ "$(id -u)" = 0 ] || { echo "SKIP: netem case needs root (network namespace, veth, tc or NFQUEUE)"; exit 77; }
  command -v ip >/dev/null || { echo "SKIP: ip not found (Debian package iproute2)"; exit 77; }
  probe=pkfp$$
  # until pk_init's cleanup takes over
  trap 'ip link del "$probe" 2>/dev/null; ip netns del "$probe" 2>/dev/null' EXIT
  if ! ip link add "$probe" type veth peer name "${probe}b" 2>/dev/null; then
    echo "SKIP: cannot create a veth pair"; exit 77
  fi
  if [ "${PK_NETEM_OFF:-0}" = 1 ]; then
    NETEM_HOW=off
  # probe the qdisc on a throw-away veth pair: kernels without sch_netem
  # (containers, minimal kernels) cannot emulate loss with it
  elif ! command -v tc >/dev/null; then
    netem_why="tc not found (Debian package iproute2)"
  elif netem_why=$(tc qdisc add dev "$probe" root netem loss 10% reorder 25% delay 2ms 2>&1); then
    NETEM_HOW=netem
  fi
  ip link del "$probe" 2>/dev/null
  if [ -z "$NETEM_HOW" ]; then
    if impair_probe "$probe"; then
      NETEM_HOW=nfqueue
    else
      echo "SKIP: tc netem is unavailable on this kernel ($netem_why)," \
        "and so is the NFQUEUE fallback ($impair_why)"
      exit 77
    fi
  fi
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
  pk_netns_sweep
  ip netns add "$NS" || fail "ip netns add"
  ip link add "$VETH" type veth peer name "$peer" || fail "ip link add veth"
  ip link set "$peer" netns "$NS" || fail "veth into the namespace"
  ip addr add "$H/30" dev "$VETH" && ip link set "$VETH" up || fail "host end"
  ip -n "$NS" addr add "$P/30" dev "$peer" && ip -n "$NS" link set "$peer" up &&
    ip -n "$NS" link set lo up || fail "namespace end"
  case $NETEM_HOW in
    netem)
      tc qdisc add dev "$VETH" root netem loss 10% reorder 25% delay 2ms || fail "netem on $VETH"
      tc -n "$NS" qdisc add dev "$peer" root netem loss 10% reorder 25% delay 2ms || fail "netem on $peer"
      note "netem: loss 10% reorder 25% delay 2ms on both ends of $VETH/$peer ($H <-> $P in $NS)"
      ;;
    nfqueue)
      # the kernel has no sch_netem: pk-impair in the namespace gives the
      # verdicts of the SIP packets to and from pickupd, both directions
      local seed=${PK_IMPAIR_SEED:-$(( (RANDOM << 15) | RANDOM ))} line
      local loss=10 reorder=25 delay=2 # netem's loss 10% reorder 25% delay 2ms
      impair_rules "$NS" "$IMPAIR_RULES" "$peer" "$H" "$(pk_port pk)" ||
        fail "NFQUEUE rules ($IMPAIR_RULES) in $NS"
      mkfifo "$PK_WORK/impair.ready"
      exec 4<>"$PK_WORK/impair.ready"
      ip netns exec "$NS" "$PK_IMPAIR" -q "$IMPAIR_Q" -l $loss -r $reorder -d $delay -s "$seed" \
        -w "$PK_WORK/impair.ready" -c "$PK_WORK/impair.counters" >"$PK_WORK/impair.log" 2>&1 &
      IMPAIR_PID=$!
      read -r -t 10 -u 4 line && [ "$line" = ready ] || fail "pk-impair: not ready within 10 s"
      exec 4<&-
      note "no sch_netem: pk-impair (NFQUEUE $IMPAIR_Q, $IMPAIR_RULES rules in $NS): loss $loss% reorder $reorder%" \
        "delay ${delay}ms on both directions of $VETH/$peer ($H <-> $P), seed $seed (PK_IMPAIR_SEED=$seed replays it)"
      ;;
    *) note "PK_NETEM_OFF=1: the veth pair without impairments (plumbing check only)" ;;
  esac
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
  # retransmit their final answers too (netem_*.xml), and the loss needs
  # longer waits than loopback. Under loss and reordering late copies are
  # normal (a 200 retransmitted after its ACK was lost, a 180 after the
  # INFO): SIPp ignores what it does not expect (-abortunexp off) and the
  # flows fail only when something expected never comes. The picker waits
  # 8 s (a call may need several INVITE retransmissions to ring) and talks
  # 4 s (a lost ACK is sent again before the BYE). The callee sends its
  # 180 every second until the CANCEL (netem_callee.xml says why). Each
  # flow survives only as many losses as its messages have copies: SIPp
  # sends a non-INVITE request or a final answer 13 times here
  # (-max_non_invite_retrans 12, default 9; SIPp caps both counts at
  # -max_retrans, default 9, so that is raised to 12 too: without it the
  # 12 was silently 9, ten copies), at most 1 s apart (-T2 1000, default
  # 4 s: the waits for late copies in the scenarios, the ooc's 15 s after
  # a BYE, are sized for it), and an INVITE 7 times (-max_invite_retrans 6,
  # default 5). What is left to chance is about
  # one run in 2,000 (a picker's seven INVITE copies all lost on one of
  # their two hops: 0.19^7 a call). The longest wait for an expected message (the
  # caller's "picked" INFO when the picker's ACK was lost: the pickup, the
  # talk, the ooc's 15 s) stays under -recv_timeout 75 s. SIPp's own error
  # log: PEER.errors (PK_KEEP=1 keeps it; a summary is shown on failure).
  start_ns_sipp() { # peer scenario args...
    local peer=$1 scen=$2
    shift 2
    ip netns exec "$NS" timeout -k 5 120 \
      sipp "$H:$(pk_port pk)" -sf "$PK_SCEN/$scen" -t u1 -i "$P" -p "$(pk_port "$peer")" -nostdin \
      -m "$calls" -r "$rate" -l 200 -buff_size $PK_LOAD_BUF -timeout 100s -timeout_error \
      -default_behaviors all,-abortunexp -trace_err -error_file "$PK_WORK/$peer.errors" \
      -recv_timeout 75000 -T2 1000 -max_retrans 12 -max_non_invite_retrans 12 -max_invite_retrans 6 \
      -key domain example.test -key lag 8000 -key talk 4000 \
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
  local -A ic=()
  if [ -n "$IMPAIR_PID" ]; then
    # the load is over: pk-impair writes its counters when it stops
    kill -TERM "$IMPAIR_PID"
    wait "$IMPAIR_PID"
    rc=$?
    IMPAIR_PID=
    [ "$rc" = 0 ] || fail "pk-impair: exit status $rc"
    local k v
    while read -r k v; do ic[$k]=$v; done <"$PK_WORK/impair.counters"
    note "pk-impair: ${ic[seen]} packets: ${ic[dropped]} dropped (${ic[dropped_out]} to pickupd," \
      "${ic[dropped_in]} from it), ${ic[delayed]} held, ${ic[reordered]} overtook a held one," \
      "${ic[hold_full]} found the ring full, ${ic[verdict_errors]} verdict errors"
  fi
  if [ -n "$bad" ]; then
    for p in $bad; do # what SIPp gave up on, counted
      tr '\r' '\n' <"$PK_WORK/$p.errors" 2>/dev/null |
        grep -o "receive timeout on message .\{1,60\}:[0-9]* without\|Aborting call on [a-zA-Z ]*" |
        sed 's/ without$//; s/ for Call$//' | sort | uniq -c |
        sed "s/^/   $p: /"
      # and the first few in full (Call-ID, message index): which flow
      tr '\r' '\n' <"$PK_WORK/$p.errors" 2>/dev/null |
        grep -m3 "receive timeout on message\|Aborting call on" | cut -c1-240 |
        sed "s/^/   $p: /"
    done
    fail "SIPp flows failed under loss:$bad"
  fi
  $KIT wait "$ctl" "s['calls']['in_use'] == 0" 40 || fail "entries left after the lossy load"
  $KIT invariants "$ctl" 1 pickup.pickup_succeeded=$calls calls.counters.picked=$calls \
    calls.counters.claimed=$calls calls.counters.inserted=$calls >"$PK_WORK/inv.out"
  rc=$?
  sed 's/^/   /' "$PK_WORK/inv.out"
  $KIT stats "$ctl" "'pickup_retrans %d, pickup_drop_retrans %d, claim_retrans %d' % (s['pickup']['pickup_retrans'], s['pickup']['pickup_drop_retrans'], s['calls']['counters']['claim_retrans'])" | sed 's/^/   /'
  [ $rc = 0 ] || fail "a call claimed twice, lost, or counters off under loss"
  if [ "$NETEM_HOW" = nfqueue ]; then
    # the impairment really happened, or this test proved nothing
    [ "${ic[dropped_out]:-0}" -gt 0 ] && [ "${ic[dropped_in]:-0}" -gt 0 ] ||
      fail "pk-impair dropped nothing in one direction (${ic[dropped_out]:-?} to pickupd, ${ic[dropped_in]:-?} from it)"
    [ "${ic[reordered]:-0}" -gt 0 ] || fail "pk-impair reordered nothing (${ic[delayed]:-?} held)"
    [ "${ic[verdict_errors]:-1}" = 0 ] || fail "pk-impair: ${ic[verdict_errors]} verdicts refused by the kernel"
  fi
  pass "$calls pickup flows under loss and reordering ($NETEM_HOW): all complete, one pickup_succeeded each," \
    "claimed = picked"
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
  # 50 at once against 32 slots: some were refused busy, and came back
  [ "$(grep -o 'busy_retries [0-9]*' "$PK_WORK/hammer.out" | grep -o '[0-9]*$')" -gt 0 ] ||
    fail "no client was refused busy: the 32-connection limit was not reached"
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
  # A call lost across the restart (its INVITE retransmitted to the new
  # pickupd, its answers sent while none ran) leaves an entry that only
  # the ring timeout ends: shorten it, so that the check below sees such
  # entries expire rather than leak.
  $KIT req "$ctl" '{"cmd": "set", "args": {"name": "ring_timeout", "value": 1}}' >/dev/null ||
    fail "set ring_timeout"
fi

$KIT wait "$ctl" "s['calls']['in_use'] == 0" 10 || fail "entries left at the end"
pk_stop
echo "faults passed: ${cases[*]}"
