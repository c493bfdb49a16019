#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Malformed traffic while calls go on: SIPp places 40 ordinary calls
# through pickupd (INVITE/180/200/ACK/BYE, 20 calls/s) while the RFC 4475
# torture messages (tests/corpus/rfc4475/*.dat, valid and invalid, requests
# and responses) are sent at it over UDP, round after round, for as long.
# Required: every call succeeds; each invalid request RFC 4475 says to
# reject is answered 400 (505 for the bad SIP version), the same way every
# time; pickupd is still there and stops cleanly. Answers to the torture
# messages come back to the sender (their top Via is pointed at it), so
# nothing leaves the loopback.
#
# Usage: test_malformed.sh PICKUPD CORPUS_DIR
# Needs sipp (Debian sip-tester), python3, ss (iproute2).
. "$(dirname "$0")/lib.sh"

pk_init malformed "$1"
corpus=$(realpath "$2")
pk_ports b2002 b2004 b3002 a1
pk_conf pickupd.yaml pickupd.yaml "TRUSTED=$PK_NET" RECORD_ROUTE=false
pk_start pickupd.yaml
note "pickupd on udp $PK_PROXY_IP:$PK_UDP ($PK_BACKEND backend)"

case_begin "burst during calls"
calls=40
sipp_start b2002 call_uas.xml -m $calls -key user 2002
sipp_start a1 call_uac.xml -m $calls -r 20 -key from 1001 -key to 2002
$PK_PY burst "$PK_UDP" 2.5 "$corpus"/*.dat >"$PK_WORK/burst.txt" || fail "burst sender failed"
sipp_wait a1
sipp_wait b2002
pk_alive || fail "pickupd died during the burst"
note "$(head -1 "$PK_WORK/burst.txt") torture messages"
[ "$(sipp_stat a1 'Successful call')" = $calls ] || fail "a1: $(sipp_stat a1 'Successful call') successful calls"
pass "$calls calls through pickupd during the burst, all successful"

case_begin "answers"
# answers FILE: the distinct statuses received for FILE
answers() { awk -v f="$1" '$1 == f { for (i = 2; i <= NF; i++) print $i }' "$PK_WORK/burst.txt" | sort -u | tr '\n' ' '; }
# nanswers FILE: how many answers FILE got in all
nanswers() { awk -v f="$1" '$1 == f { print ($2 == "-") ? 0 : NF - 1 }' "$PK_WORK/burst.txt"; }
rounds=$(head -1 "$PK_WORK/burst.txt" | awk '{ print $2 }')
for f in badinv01 clerr ncl scalar02 quotbal ltgtruri lwsruri lwsstart trws mismatch01 mismatch02 \
  multi01 mcl01 insuf badvers; do
  want=400
  [ $f = badvers ] && want=505
  got=$(answers "$f.dat")
  [ "$got" = "$want " ] || fail "$f.dat: answered '$got', expected $want every time"
  [ "$(nanswers "$f.dat")" = "$rounds" ] || fail "$f.dat: $(nanswers "$f.dat") answers for $rounds sent"
done
for f in bcast unreason noreason scalarlg bigcode; do
  got=$(answers "$f.dat")
  [ "$got" = "- " ] || fail "$f.dat (a response not ours): answered '$got'"
done
# no request is answered more than once
for f in "$corpus"/*.dat; do
  f=$(basename "$f")
  [ "$(nanswers "$f")" -le "$rounds" ] || fail "$f: $(nanswers "$f") answers for $rounds sent: $(answers "$f")"
done
pass "invalid requests: 400 (505 for SIP/7.0), the same each round; responses not ours: dropped; at most one answer per request"

case_begin "stop"
pk_stop
pass "pickupd stopped cleanly after the burst"
