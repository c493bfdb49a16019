#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pickupd as a stateless proxy (docs/sip-behaviour.md sections 1-4), with
# SIPp playing a caller and a statically bound callee on loopback:
#   * a basic call, INVITE/180/200/ACK/BYE: the callee gets the Request-URI
#     of its binding, pickupd's Via on top of the caller's (received,
#     rport), Max-Forwards decremented, the body unchanged; the caller's
#     responses come back with only its own Via; ACK and BYE are routed by
#     their Request-URI (the callee's Contact);
#   * CANCEL/487/ACK: the CANCEL and the ACK of the 487 reach the callee on
#     the INVITE's branch, and the CANCEL has no Reason (nothing was picked
#     up);
#   * Max-Forwards: 0 -> 483, an unknown user -> 404;
#   * the basic call again with record_route: true (Record-Route on the
#     INVITE, Route on ACK and BYE, popped by pickupd).
#
# Usage: test_proxy.sh PICKUPD
# Needs sipp (Debian sip-tester), python3, ss (iproute2).
. "$(dirname "$0")/lib.sh"

pk_init proxy "$1"
pk_ports b2002 b2004 b3002 a1 c1

declare -A CID=() FTAG=() TTAG=()

# call CALLER FROM TO CALLEE SCENARIO: start the callee and the caller.
call() {
  local a=$1 from=$2 to=$3 b=$4 scen=$5
  CID[$a]="call-$a-$RANDOM$RANDOM@example.test"
  FTAG[$a]="fa$RANDOM$RANDOM"
  TTAG[$b]="tb$RANDOM$RANDOM"
  sipp_start "$b" "$scen" -key user "$to" -key ttag "${TTAG[$b]}"
  sipp_start "$a" caller.xml -cid_str "${CID[$a]}" -key cid "${CID[$a]}" \
    -key from "$from" -key to "$to" -key ftag "${FTAG[$a]}"
}

# The basic call and its checks; $1 = true with record_route.
basic_call() {
  local rr=$1 pa pb inv='^INVITE '
  pa=$(pk_port a1); pb=$(pk_port b2002)
  call a1 1001 2002 b2002 callee_answer.xml
  ev_wait a1 answered
  kick a1 "${CID[a1]}" bye
  sipp_wait a1
  sipp_wait b2002
  # the INVITE as the callee got it
  expect b2002 recv "$inv" 1 line "INVITE sip:2002@$PK_IP_RX:$pb SIP/2\.0"
  expect b2002 recv "$inv" 1 Via "$(rx_pk_via)(;.*)?" 1
  expect b2002 recv "$inv" 1 Via \
    "SIP/2\.0/UDP $PK_IP_RX:$pa;branch=z9hG4bK-${PK_TAG[a1]}-1-inv(?=.*;rport=$pa(;|\$))(?=.*;received=$PK_IP_RX(;|\$)).*" 2
  [ "$(hdr_count b2002 recv "$inv" 1 Via)" = 2 ] || fail "b2002: INVITE with other than 2 Vias"
  expect b2002 recv "$inv" 1 Max-Forwards 69
  local h
  for h in From To Call-ID CSeq Contact Content-Type Content-Length; do
    expect b2002 recv "$inv" 1 "$h" "$(rx_escape "$(hdr a1 sent "$inv" 1 "$h")")"
  done
  # (pk_py's co-process is out of reach in a pipeline: capture first)
  local sent got
  sent=$(msg a1 sent "$inv" 1) || fail "a1: no INVITE sent"
  got=$(msg b2002 recv "$inv" 1) || fail "b2002: no INVITE received"
  sent=$(printf '%s\n' "$sent" | sed -n '/^$/,$p')
  got=$(printf '%s\n' "$got" | sed -n '/^$/,$p')
  [ -n "$sent" ] || fail "a1: an INVITE without a body"
  [ "$got" = "$sent" ] || fail "the INVITE's body changed on the way"
  if [ "$rr" = true ]; then
    expect b2002 recv "$inv" 1 Record-Route "<sip:$PK_PROXY_RX:$PK_UDP;lr>"
  else
    expect b2002 recv "$inv" 1 Record-Route '' none
  fi
  # the caller's view: responses with only its own Via
  expect a1 recv '^SIP/2\.0 180' 1 To "<sip:2002@example\.test>;tag=${TTAG[b2002]}"
  [ "$(hdr_count a1 recv '^SIP/2\.0 180' 1 Via)" = 1 ] || fail "a1: 180 with more than our Via"
  expect a1 recv '^SIP/2\.0 180' 1 Via "SIP/2\.0/UDP $PK_IP_RX:$pa;branch=z9hG4bK-${PK_TAG[a1]}-1-inv.*"
  [ "$(hdr_count a1 recv '^SIP/2\.0 200' 1 Via)" = 1 ] || fail "a1: 200 with more than our Via"
  expect a1 recv '^SIP/2\.0 200' 1 Contact "<sip:2002@$PK_IP_RX:$pb>"
  # in-dialog requests, routed by their Request-URI (the callee's Contact)
  local m
  for m in ACK BYE; do
    expect b2002 recv "^$m " 1 line "$m sip:2002@$PK_IP_RX:$pb SIP/2\.0"
    expect b2002 recv "^$m " 1 Via "$(rx_pk_via)(;.*)?" 1
    expect b2002 recv "^$m " 1 Max-Forwards 69
    # with record_route the caller sends a Route to pickupd, which pops it
    expect b2002 recv "^$m " 1 Route '' none
  done
  if [ "$rr" = true ]; then
    expect a1 recv '^SIP/2\.0 200' 1 Record-Route "<sip:$PK_PROXY_RX:$PK_UDP;lr>"
    expect a1 sent '^ACK ' 1 Route "<sip:$PK_PROXY_RX:$PK_UDP;lr>"
  fi
  expect a1 recv '^SIP/2\.0 200' 2 CSeq '2 BYE'
}

# ===========================================================================
pk_conf pickupd.yaml pickupd.yaml "TRUSTED=$PK_NET" RECORD_ROUTE=false
pk_start pickupd.yaml
note "pickupd on udp $PK_PROXY_IP:$PK_UDP ($PK_BACKEND backend)"

case_begin "basic call"
basic_call false
pass "basic call INVITE/180/200/ACK/BYE: Request-URI of the binding, Vias, Max-Forwards, body, in-dialog routing"

# ---------------------------------------------------------------------------
case_begin "cancel"
call a1 1001 2002 b2002 callee_ring.xml
ev_wait a1 ringing
kick a1 "${CID[a1]}" cancel
sipp_wait a1
sipp_wait b2002
bi=$(branch_of b2002 recv '^INVITE ' 1)
expect b2002 recv '^CANCEL ' 1 line "CANCEL sip:2002@$PK_IP_RX:$(pk_port b2002) SIP/2\.0"
[ "$(branch_of b2002 recv '^CANCEL ' 1)" = "$bi" ] || fail "CANCEL not on the INVITE's branch ($bi)"
[ "$(branch_of b2002 recv '^ACK ' 1)" = "$bi" ] || fail "ACK of the 487 not on the INVITE's branch ($bi)"
expect b2002 recv '^CANCEL ' 1 Reason '' none
expect b2002 recv '^CANCEL ' 1 Max-Forwards 69
expect a1 recv '^SIP/2\.0 200' 1 CSeq '1 CANCEL'
expect a1 recv '^SIP/2\.0 487' 1 CSeq '1 INVITE'
[ "$(hdr_count a1 recv '^SIP/2\.0 487' 1 Via)" = 1 ] || fail "a1: 487 with more than our Via"
pass "CANCEL/487/ACK: on the INVITE's branch, no Reason (not picked up)"

# ---------------------------------------------------------------------------
case_begin "max-forwards"
sipp_start c1 picker_reject.xml -key from 1001 -key dial 2002 -key mf 0
sipp_wait c1
expect c1 recv '^SIP/2\.0 [2-6]' 1 line 'SIP/2\.0 483 .*'
expect c1 recv '^SIP/2\.0 483' 1 Warning '399 \S+ ".*"'
pass "Max-Forwards: 0 -> 483 Too Many Hops with a Warning"

case_begin "unknown user"
sipp_start c1 picker_reject.xml -key from 1001 -key dial 9999 -key mf 70
sipp_wait c1
expect c1 recv '^SIP/2\.0 [2-6]' 1 line 'SIP/2\.0 404 .*'
pass "INVITE for a user neither registered nor bound -> 404"

pk_stop
[ "$(pk_counter answered_483)" = 1 ] || fail "answered_483 = $(pk_counter answered_483), expected 1"
[ "$(pk_counter answered_404)" = 1 ] || fail "answered_404 = $(pk_counter answered_404), expected 1"

# ===========================================================================
case_begin "record-route"
pk_conf pickupd.yaml pickupd-rr.yaml "TRUSTED=$PK_NET" RECORD_ROUTE=true
pk_start pickupd-rr.yaml
basic_call true
pk_stop
pass "record_route: true: Record-Route on the INVITE and its 200, Route on ACK/BYE popped by pickupd"
