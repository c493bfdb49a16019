#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Group Call Pickup end to end, with SIPp playing every phone, through one
# pickupd on loopback (docs/sip-behaviour.md sections 5-6, DESIGN.md 1-2):
#
#   caller A (caller.xml + caller_*_replaces.xml)   pickupd   callee B (callee_ring.xml)
#   picker C (picker*.xml)
#
# A calls a group member B, whose phone rings (180); C dials the group
# number, the pickup code or the directed prefix + B; pickupd forwards C's
# INVITE to A with Replaces naming A's early dialog; A answers 200 and
# CANCELs its original INVITE, which reaches B with Reason: cause=200. The
# checks are on the messages themselves, from the SIPp logs: the pickup
# INVITE's Request-URI (A's Contact), Replaces (exact tags), Require, Via
# (pickupd's on top, C's with received/rport), Max-Forwards, the copied
# From/To/Call-ID/CSeq/Contact; the CANCEL's Reason and branch; who got
# which call. Cases: group number, pickup code, directed pickup, oldest
# first, nothing ringing (480), no right (403), own call, callee answers
# first (480), caller refuses Replaces (420, the call stays pickable),
# racing pickers (one wins), retransmitted pickup INVITE (one claim),
# Max-Forwards 0 (483); then pickupd's counters.
#
# Usage: test_pickup.sh PICKUPD [record-route]
#   record-route: run with record_route: true (in-dialog requests then
#   carry Route headers back through pickupd).
# Needs sipp (Debian sip-tester), python3, ss (iproute2).
. "$(dirname "$0")/lib.sh"

pk_init pickup "$1"
rr=false
[ "${2:-}" = record-route ] && rr=true
pk_ports b2002 b2004 b3002 a1 a2 c1 c2
pk_conf pickupd.yaml pickupd.yaml "TRUSTED=$PK_NET" RECORD_ROUTE=$rr
pk_start pickupd.yaml
note "pickupd on udp $PK_PROXY_IP:$PK_UDP, record_route: $rr ($PK_BACKEND backend)"

declare -A CID=() FTAG=() TTAG=() CALLEE=() FROM=() TO=() PCID=()

# ring CALLER FROM TO CALLEE [OOC [DELAY]]: CALLEE's phone (statically
# bound) rings for a call from CALLER (user FROM) to TO; returns once the
# caller has the 180. OOC: how the caller's phone treats a pickup INVITE;
# DELAY: how long it takes to answer it (ms).
ring() {
  local a=$1 from=$2 to=$3 b=$4 ooc=${5:-caller_accept_replaces.xml} delay=${6:-0}
  CID[$a]="call-$a-$RANDOM$RANDOM@example.test"
  FTAG[$a]="fa$RANDOM$RANDOM"
  TTAG[$b]="tb$RANDOM$RANDOM"
  CALLEE[$a]=$b; FROM[$a]=$from; TO[$a]=$to
  sipp_start "$b" callee_ring.xml -key user "$to" -key ttag "${TTAG[$b]}"
  sipp_start "$a" caller.xml -oocsf "$PK_SCEN/$ooc" -cid_str "${CID[$a]}" -key cid "${CID[$a]}" \
    -key from "$from" -key to "$to" -key ftag "${FTAG[$a]}" -key ttag "${TTAG[$b]}" -key delay "$delay"
  ev_wait "$a" ringing
}

# pick PICKER FROM DIAL CALLER: a pickup that must succeed, and reach
# CALLER's phone; the picker hangs up once the caller's phone has taken
# the call and cancelled its own INVITE.
pick() {
  local c=$1 a=$4
  PCID[$c]="pick-$c-$RANDOM$RANDOM@example.test"
  sipp_start "$c" picker.xml -cid_str "${PCID[$c]}" -key from "$2" -key dial "$3"
  ev_wait "$c" connected
  ev_wait "$a" picked
  ev_wait "$a" cancelled
  kick "$c" "${PCID[$c]}" bye
  sipp_wait "$c"
}

# refused PICKER FROM DIAL STATUS [WARNING-REGEXP] [MAX-FORWARDS]: an INVITE
# that must get STATUS (and a Warning matching the regexp).
refused() {
  local c=$1
  sipp_start "$c" picker_reject.xml -key from "$2" -key dial "$3" -key mf "${6:-70}"
  sipp_wait "$c"
  expect "$c" recv '^SIP/2\.0 [2-6]' -1 line "SIP/2\.0 $4 .*"
  if [ -n "${5:-}" ]; then expect "$c" recv '^SIP/2\.0 [2-6]' -1 Warning "$5"; fi
}

# hang CALLER: the caller gives up (CANCEL) on a call still ringing.
hang() {
  kick "$1" "${CID[$1]}" cancel
  sipp_wait "$1"
  sipp_wait "${CALLEE[$1]}"
}

# assert_picked CALLER PICKER [NTH]: the NTH INVITE CALLER's phone received
# is PICKER's, made into a pickup of CALLER's early dialog; PICKER talked
# to CALLER's phone; the callee's phone got the CANCEL with the Reason.
# (Call after all three have exited.)
assert_picked() {
  local a=$1 c=$2 n=${3:-1} b=${CALLEE[$1]}
  local pa pc pb inv='^INVITE '
  pa=$(pk_port "$a"); pc=$(pk_port "$c"); pb=$(pk_port "$b")
  # the pickup INVITE, as the caller's phone got it
  expect_many "$a" recv "$inv" "$n" <<EOF
line 1 INVITE sip:${FROM[$a]}@$PK_IP_RX:$pa SIP/2\.0
Replaces 1 $(rx_escape "${CID[$a]};to-tag=${FTAG[$a]};from-tag=${TTAG[$b]};early-only")
Require 1 (.*,\s*)?replaces(\s*,.*)?
Via count 2
Via 1 $(rx_pk_via)(;.*)?
Via 2 SIP/2\.0/UDP $PK_IP_RX:$pc;branch=z9hG4bK-${PK_TAG[$c]}-1-inv(?=.*;rport=$pc(;|\$))(?=.*;received=$PK_IP_RX(;|\$)).*
Max-Forwards 1 69
CSeq 1 1 INVITE
Call-ID same $c sent $inv 1
From same $c sent $inv 1
To same $c sent $inv 1
Contact same $c sent $inv 1
Content-Type same $c sent $inv 1
Content-Length same $c sent $inv 1
EOF
  # the picker: the caller's phone answered, through pickupd
  expect_many "$c" recv '^SIP/2\.0 200' 1 <<EOF
Contact 1 <sip:${FROM[$a]}@$PK_IP_RX:$pa>
Via count 1
To 1 <sip:[^>]*>;tag=${FTAG[$a]}-pick
EOF
  # the callee's phone: the caller's CANCEL, with the Reason, on the
  # INVITE's branch, then the ACK of the 487 on it too
  expect_many "$b" recv '^CANCEL ' 1 <<EOF
line 1 CANCEL sip:${TO[$a]}@$PK_IP_RX:$pb SIP/2\.0
Reason 1 SIP;cause=200;text="Call completed elsewhere"
branch same $b recv $inv 1
EOF
  expect_many "$b" recv '^ACK ' 1 <<<"branch same $b recv $inv 1"
  # the caller: 487 for its INVITE
  expect "$a" recv '^SIP/2\.0 487' 1 CSeq '1 INVITE'
}

# ---------------------------------------------------------------------------
case_begin "group number"
ring a1 1001 2002 b2002
pick c1 2003 '*801' a1
sipp_wait a1
sipp_wait b2002
assert_picked a1 c1
expect_count a1 recv '^INVITE ' 1
pass "pickup by group number (*801): Replaces, Request-URI, Via, Require; CANCEL with Reason"

# ---------------------------------------------------------------------------
case_begin "pickup code"
ring a1 1001 3002 b3002
pick c1 2003 '*8' a1
sipp_wait a1
sipp_wait b3002
assert_picked a1 c1
pass "pickup by pickup code (*8): a call ringing in 7002 taken by a member of *801 and 7002"

# ---------------------------------------------------------------------------
case_begin "directed"
ring a1 1001 2002 b2002
ring a2 1002 2004 b2004
pick c1 2003 '**2004' a2
sipp_wait a2
sipp_wait b2004
assert_picked a2 c1
expect_count a1 recv '^INVITE ' 0
pick c2 2003 '*801' a1
sipp_wait a1
sipp_wait b2002
assert_picked a1 c2
pass "directed pickup (**2004) takes the call ringing at 2004, not the older one"

# ---------------------------------------------------------------------------
case_begin "oldest first"
ring a1 1001 2002 b2002
ring a2 1002 2004 b2004
pick c1 2003 '*801' a1
sipp_wait a1
sipp_wait b2002
assert_picked a1 c1
expect_count a2 recv '^INVITE ' 0
pick c2 2003 '*801' a2
sipp_wait a2
sipp_wait b2004
assert_picked a2 c2
pass "two calls ringing in *801: picked oldest first"

# ---------------------------------------------------------------------------
case_begin "nothing ringing"
refused c1 2003 '*801' 480 '399 \S+ "No call to pick up"'
expect c1 recv '^SIP/2\.0 480' 1 Via "SIP/2\.0/UDP $PK_IP_RX:$(pk_port c1);branch=z9hG4bK-${PK_TAG[c1]}-1-inv.*"
refused c1 2003 '*8' 480 '399 \S+ "No call to pick up"'
refused c1 2003 '**2002' 480 '399 \S+ "No call to pick up"'
pass "nothing ringing: 480 with Warning for the group number, the pickup code, directed"

# ---------------------------------------------------------------------------
case_begin "no right"
ring a1 1001 2002 b2002
refused c1 2005 '*801' 403 '399 \S+ "not allowed to pick up here"'
refused c1 3001 '*801' 403 '399 \S+ "not allowed to pick up here"'
refused c1 1002 '*8' 403 '399 \S+ "not allowed to pick up here"'
refused c1 2003 '**1002' 403 '399 \S+ "not allowed to pick up here"'
expect_count a1 recv '^INVITE ' 0
hang a1
expect b2002 recv '^CANCEL ' 1 Reason '' none
pass "403 without the pickup right (ring-only member, other group, no group, directed outside)"

# ---------------------------------------------------------------------------
case_begin "own call"
ring a1 2003 2002 b2002
refused c1 2003 '*801' 480 '399 \S+ "No call to pick up"'
hang a1
pass "a picker is never offered its own outgoing call (480)"

# ---------------------------------------------------------------------------
case_begin "callee answers first"
CID[a1]="call-a1-$RANDOM$RANDOM@example.test"; FTAG[a1]="fa$RANDOM"; TTAG[b2002]="tb$RANDOM"
sipp_start b2002 callee_answer.xml -key user 2002 -key ttag "${TTAG[b2002]}"
sipp_start a1 caller.xml -oocsf "$PK_SCEN/caller_accept_replaces.xml" -cid_str "${CID[a1]}" \
  -key cid "${CID[a1]}" -key from 1001 -key to 2002 -key ftag "${FTAG[a1]}" -key ttag "${TTAG[b2002]}" -key delay 0
ev_wait a1 answered
refused c1 2003 '*801' 480 '399 \S+ "No call to pick up"'
kick a1 "${CID[a1]}" bye
sipp_wait a1
sipp_wait b2002
expect_count a1 recv '^INVITE ' 0
expect b2002 recv '^BYE ' 1 line "BYE sip:2002@$PK_IP_RX:$(pk_port b2002) SIP/2\.0"
pass "the callee answers first: a later pickup gets 480, the call goes on (ACK, BYE)"

# ---------------------------------------------------------------------------
case_begin "caller refuses Replaces"
ring a1 1001 2002 b2002 caller_refuse_replaces.xml
refused c1 2003 '*801' 420
expect c1 recv '^SIP/2\.0 420' 1 Unsupported 'replaces'
refused c2 2003 '*801' 420
expect_count a1 recv '^INVITE ' 2
for n in 1 2; do
  expect a1 recv '^INVITE ' $n Replaces \
    "$(rx_escape "${CID[a1]};to-tag=${FTAG[a1]};from-tag=${TTAG[b2002]};early-only")"
done
hang a1
expect b2002 recv '^CANCEL ' 1 Reason '' none
pass "420 from the caller: the picker gets it, the call is pickable again; its CANCEL has no Reason"

# ---------------------------------------------------------------------------
case_begin "racing pickers"
ring a1 1001 2002 b2002
race="race-$RANDOM$RANDOM"
sipp_start c1 picker_race.xml -cid_str "$race-%u@example.test" -key from 2003 -key dial '*801' -users 2 -m 2
ev_wait_re "${PK_TAG[c1]}-[12] lost"
ev_wait_re "${PK_TAG[c1]}-[12] connected"
winner=${EV_LINE#"${PK_TAG[c1]}-"}
winner=${winner%% *}
ev_wait a1 picked
ev_wait a1 cancelled
kick c1 "$race-$winner@example.test" bye
sipp_wait c1
sipp_wait a1
sipp_wait b2002
expect_count c1 recv '^SIP/2\.0 200' 2 # the INVITE's and the BYE's
expect_count c1 recv '^SIP/2\.0 480' 1
expect_count a1 recv '^INVITE ' 1
expect a1 recv '^INVITE ' 1 Call-ID "$race-$winner@example\.test"
expect b2002 recv '^CANCEL ' 1 Reason 'SIP;cause=200;text="Call completed elsewhere"'
pass "two pickers racing for one call: one gets it (#$winner), the other 480"

# ---------------------------------------------------------------------------
case_begin "retransmitted pickup INVITE"
# a1's phone takes 1.2 s to answer the pickup: the picker retransmits its
# INVITE (SIPp, UDP, T1 = 500 ms) meanwhile
ring a1 1001 2002 b2002 caller_accept_replaces.xml 1200
ring a2 1002 2004 b2004
pick c1 2003 '*801' a1
sipp_wait a1
sipp_wait b2002
sent=$(count c1 sent '^INVITE ')
[ "$sent" -ge 2 ] || fail "the picker sent its INVITE $sent time(s): no retransmission to test"
n=$(count a1 recv '^INVITE ')
# Every copy reaches the caller, except those that cross its answer on a
# loaded machine (the picker had not got the 200 yet): pickupd drops these
# by design (pickup_drop_retrans, checked with the counters below).
[ "$n" -ge 2 ] || fail "$sent copies of the pickup INVITE sent, $n reached the caller"
[ "$n" -le "$sent" ] || fail "$sent copies of the pickup INVITE sent, $n reached the caller"
RETRANS_CROSSED=$((sent - n))
[ "$RETRANS_CROSSED" = 0 ] || note "$RETRANS_CROSSED copies crossed the caller's answer"
for ((i = 2; i <= n; i++)); do
  [ "$(msg a1 recv '^INVITE ' 1)" = "$(msg a1 recv '^INVITE ' $i)" ] || fail "copy $i of the pickup INVITE differs"
done
assert_picked a1 c1
expect_count a2 recv '^INVITE ' 0
pick c2 2003 '*801' a2
sipp_wait a2
sipp_wait b2004
assert_picked a2 c2
pass "a pickup INVITE sent $sent times: identical copies to the same caller, one call claimed; the next stayed ringing"

# ---------------------------------------------------------------------------
case_begin "max-forwards"
ring a1 1001 2002 b2002
refused c1 2003 '*801' 483 '' 0
expect_count a1 recv '^INVITE ' 0
hang a1
pass "a pickup INVITE with Max-Forwards: 0 gets 483 and claims nothing"

# ---------------------------------------------------------------------------
case_begin "counters"
pk_stop
want() { # counter expected
  local v
  v=$(pk_counter "$1")
  [ "$v" = "$2" ] || fail "counter $1 = $v, expected $2"
}
want pickup_succeeded 9
# each of the 9 picked calls' CANCEL carried the Reason (the cases check
# it on the wire); a CANCEL the caller retransmitted (no 200 within its
# T1, 500 ms, on a loaded machine) is forwarded, and counted, once more
[ "$(pk_counter cancel_with_reason)" -ge 9 ] ||
  fail "counter cancel_with_reason = $(pk_counter cancel_with_reason), expected 9 or more"
want pickup_no_replaces 2
want pickup_forbidden 4
[ "$(pk_counter pickup_retrans)" -ge 1 ] || fail "pickup_retrans = $(pk_counter pickup_retrans)"
[ "$(pk_counter pickup_drop_retrans)" -ge "$RETRANS_CROSSED" ] ||
  fail "pickup_drop_retrans = $(pk_counter pickup_drop_retrans), but $RETRANS_CROSSED copies did not reach the caller"
pass "pickupd stopped cleanly; pickup counters add up"
