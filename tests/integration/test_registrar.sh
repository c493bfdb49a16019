#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The registrar and the location service (docs/registrar.md), driven by
# SIPp phones on loopback: add a binding, refresh it, add a second one,
# query, too short an expiry (423 with Min-Expires), remove one, remove all
# with "*", a REGISTER out of CSeq order (500), a static binding's contact
# (403); a registered phone receiving a call at the address its REGISTER
# came from (not its Contact: as behind a NAT), then unregistering (the
# next call gets 404); and, with a configuration that trusts 127.0.0.2
# only, a REGISTER from 127.0.0.1 refused (403) while 127.0.0.2 registers.
#
# Usage: test_registrar.sh PICKUPD
# Needs sipp (Debian sip-tester), python3, ss (iproute2).
. "$(dirname "$0")/lib.sh"

pk_init registrar "$1"
pk_ports b2002 b2004 b3002 r1 r2 a1 c1 p2006

REG_CID="reg-$RANDOM$RANDOM@example.test"
cseq=0
# reg PEER USER H1 H2 [CID]: one REGISTER with the next CSeq; H1/H2 are
# whole header lines ("X-Pk-None: -" for nothing).
reg() {
  local peer=$1 user=$2 h1=$3 h2=$4 cid=${5:-$REG_CID}
  cseq=$((cseq + 1))
  sipp_start "$peer" register.xml -cid_str "$cid" -key user "$user" -key seq "$cseq" \
    -key h1 "$h1" -key h2 "$h2"
  sipp_wait "$peer"
}
# status PEER CODE: the answer to PEER's REGISTER
status() { expect "$1" recv '^SIP/2\.0 [2-6]' 1 line "SIP/2\.0 $2 .*"; }
# contacts PEER: the Contact values of the answer, one a line, sorted
contacts() {
  local out
  out=$(hdr "$1" recv '^SIP/2\.0 [2-6]' 1 Contact all)
  [ -z "$out" ] || printf '%s\n' "$out" | sort
}
ncontacts() {
  local c
  c=$(contacts "$1")
  if [ -z "$c" ]; then echo 0; else printf '%s\n' "$c" | wc -l; fi
}
# in_range VALUE MAX: a remaining expiry in MAX-30..MAX (the clock moves,
# by seconds on a loaded machine; the expiries compared are 100 s apart)
in_range() { [ "$1" -ge $(($2 - 30)) ] && [ "$1" -le "$2" ]; }
# binding_expires PEER URI: the expires parameter of that binding
binding_expires() {
  local c
  c=$(contacts "$1")
  printf '%s\n' "$c" | grep -F "<$2>" | grep -o 'expires=[0-9]*' | cut -d= -f2
}

pk_conf pickupd.yaml pickupd.yaml "TRUSTED=$PK_NET" RECORD_ROUTE=false
pk_start pickupd.yaml
note "pickupd on udp $PK_PROXY_IP:$PK_UDP ($PK_BACKEND backend)"

U1="sip:2006@$PK_IP:$(pk_port r1)"
U2="sip:2006@$PK_IP:$(pk_port r2);line=2"

# ---------------------------------------------------------------------------
case_begin "add"
reg r1 2006 "Contact: <$U1>;expires=120" "X-Pk-None: -"
status r1 200
[ "$(ncontacts r1)" = 1 ] || fail "add: $(ncontacts r1) contacts in the 200"
e=$(binding_expires r1 "$U1")
in_range "${e:-0}" 120 || fail "add: expires=$e, expected 120"
expect r1 recv '^SIP/2\.0 200' 1 Date '[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT'
expect r1 recv '^SIP/2\.0 200' 1 To "<sip:2006@example\.test>;tag=.+"
pass "add a binding: 200 with the Contact and expires=$e, Date"

case_begin "refresh"
reg r1 2006 "Contact: <$U1>" "Expires: 300"
status r1 200
[ "$(ncontacts r1)" = 1 ] || fail "refresh: $(ncontacts r1) contacts"
e=$(binding_expires r1 "$U1")
in_range "${e:-0}" 300 || fail "refresh: expires=$e, expected 300 (from the Expires header)"
pass "refresh (Expires header): one binding, expires=$e"

case_begin "second contact"
reg r2 2006 "Contact: <$U2>;expires=200" "X-Pk-None: -"
status r2 200
[ "$(ncontacts r2)" = 2 ] || fail "second contact: $(ncontacts r2) contacts"
in_range "$(binding_expires r2 "$U2")" 200 || fail "second contact: expires $(binding_expires r2 "$U2")"
in_range "$(binding_expires r2 "$U1")" 300 || fail "second contact: first one's expires $(binding_expires r2 "$U1")"
pass "a second contact: the 200 lists both with their own expiry"

case_begin "query"
reg r1 2006 "X-Pk-None: -" "X-Pk-None: -"
status r1 200
[ "$(ncontacts r1)" = 2 ] || fail "query: $(ncontacts r1) contacts"
pass "query (no Contact): 200 listing both bindings"

case_begin "423"
reg r1 2006 "Contact: <$U1>;expires=10" "X-Pk-None: -"
status r1 423
expect r1 recv '^SIP/2\.0 423' 1 Min-Expires 60
reg r1 2006 "X-Pk-None: -" "X-Pk-None: -"
in_range "$(binding_expires r1 "$U1")" 300 || fail "423 changed the binding: $(contacts r1)"
pass "expires below the minimum: 423 Interval Too Brief with Min-Expires: 60, nothing changed"

case_begin "remove one"
reg r1 2006 "Contact: <$U2>;expires=0" "X-Pk-None: -"
status r1 200
[ "$(ncontacts r1)" = 1 ] || fail "remove: $(contacts r1)"
[[ $(contacts r1) == *"<$U1>"* ]] || fail "remove: the wrong binding went: $(contacts r1)"
pass "remove one binding (expires=0): the other stays"

case_begin "out of order"
# U1 was last set by CSeq 2 (the refresh): CSeq 1 on the same Call-ID is
# an older request arriving late
saved=$cseq
cseq=0
reg r1 2006 "Contact: <$U1>;expires=100" "X-Pk-None: -"
status r1 500
cseq=$saved
reg r1 2006 "X-Pk-None: -" "X-Pk-None: -"
[ "$(ncontacts r1)" = 1 ] || fail "an out-of-order REGISTER changed the bindings: $(contacts r1)"
in_range "$(binding_expires r1 "$U1")" 300 || fail "an out-of-order REGISTER changed the expiry: $(contacts r1)"
pass "a REGISTER with an older CSeq on the same Call-ID: 500, nothing changed"

case_begin "remove all"
reg r1 2006 "Contact: *" "Expires: 0"
status r1 200
[ "$(ncontacts r1)" = 0 ] || fail "Contact: * left $(contacts r1)"
reg r1 2006 "X-Pk-None: -" "X-Pk-None: -"
status r1 200
[ "$(ncontacts r1)" = 0 ] || fail "query after *: $(contacts r1)"
reg r1 2006 "Contact: *" "X-Pk-None: -"
status r1 400
pass "Contact: * with Expires: 0 removes all; * without Expires: 0 is a 400"

case_begin "static binding"
reg r1 2002 "Contact: <sip:2002@$PK_IP:$(pk_port b2002)>;expires=0" "X-Pk-None: -" "reg2002-$RANDOM@example.test"
status r1 403
pass "a REGISTER naming a static binding's contact: 403"

# ---------------------------------------------------------------------------
case_begin "registered phone"
# The phone says its Contact is 127.0.0.9:5999 (a private address behind a
# NAT, say); pickupd must send the call where the REGISTER came from.
PH_CID="phone-$RANDOM$RANDOM@example.test"
sipp_start p2006 phone.xml -oocsf "$PK_SCEN/callee_answer.xml" -cid_str "$PH_CID" \
  -key user 2006 -key contact "sip:2006@127.0.0.9:5999" -key ttag "tp$RANDOM"
ev_wait p2006 registered
A_CID="call-a1-$RANDOM$RANDOM@example.test"
sipp_start a1 caller.xml -cid_str "$A_CID" -key cid "$A_CID" -key from 1001 -key to 2006 -key ftag "fa$RANDOM"
ev_wait a1 answered
kick a1 "$A_CID" bye
sipp_wait a1
expect p2006 recv '^INVITE ' 1 line 'INVITE sip:2006@127\.0\.0\.9:5999 SIP/2\.0'
expect p2006 recv '^INVITE ' 1 Via "$(rx_pk_via)(;.*)?" 1
kick p2006 "$PH_CID" unregister
sipp_wait p2006
sipp_start c1 picker_reject.xml -key from 1001 -key dial 2006 -key mf 70
sipp_wait c1
expect c1 recv '^SIP/2\.0 [2-6]' 1 line 'SIP/2\.0 404 .*'
pass "a registered phone gets its call at its REGISTER's source address; after unregistering: 404"

case_begin "counters"
pk_stop
for kv in register_423=1 register_500=1 register_400=1 register_403=1 static_refused=1 out_of_order=1; do
  [ "$(pk_counter "${kv%=*}")" = "${kv#*=}" ] || fail "counter ${kv%=*} = $(pk_counter "${kv%=*}"), expected ${kv#*=}"
done
pass "registrar counters: one each of 423, 500, 400, 403 (static binding)"

# ---------------------------------------------------------------------------
case_begin "untrusted"
pk_conf pickupd.yaml pickupd-untrusted.yaml "TRUSTED=$PK_IP2/32" RECORD_ROUTE=false
pk_start pickupd-untrusted.yaml
reg r1 2007 "Contact: <sip:2007@$PK_IP:$(pk_port r1)>;expires=120" "X-Pk-None: -" "untr-$RANDOM@example.test"
status r1 403
PK_SRC=$PK_IP2 reg r2 2007 "Contact: <sip:2007@$PK_IP2:$(pk_port r2)>;expires=120" "X-Pk-None: -" "tr-$RANDOM@example.test"
status r2 200
expect r2 recv '^SIP/2\.0 200' 1 Contact "<sip:2007@$PK_IP2_RX:$(pk_port r2)>;expires=1(19|20)"
pk_stop
pass "trusted: [$PK_IP2/32]: a REGISTER from $PK_IP gets 403, from $PK_IP2 200"
