#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# One Group Call Pickup, played by three SIPp phones against the pickupd
# that ./control/run-example runs in another terminal (127.0.0.1:5060,
# control/examples/ configuration), then a summary of what each phone saw.
# It runs the scenarios and command lines of the step-by-step guide,
# docs/try-pickup.md (plus -nostdin and timeouts), so that a newcomer can
# see the whole flow first and then replay it by hand:
#
#   2002 (callee, port 5062) registers, then rings (180) when called;
#   1001 (caller, port 5061) calls 2002;
#   PICKER (port 5063) dials DIAL; pickupd forwards that INVITE to 1001's
#   phone with Replaces, 1001's phone answers it and CANCELs its call to
#   2002, which pickupd forwards with Reason: cause=200.
#
# Usage: control/examples/try-pickup.sh [--no-call] [DIAL [PICKER]]
#   DIAL     what the picker dials: *801 (the group, default), *8 (the
#            pickup code), **2002 (directed pickup); quote it ('*8'): the
#            shell expands a bare *8 if a file name matches
#   PICKER   the picking user: 2001 (default; in *801 and 7002), 2003,
#            3001 (7002 only: 403 for *801), ...
#   --no-call  nobody calls 2002 first: the picker gets 480
# Exit status 0 when the flow went as pickupd documents it (a 200 carries
# Replaces to the caller and Reason to the callee; a refusal reaches no
# caller and leaves no Reason), 1 otherwise. The SIPp message logs stay in
# the work directory it prints.
set -u

here=$(cd "$(dirname "$0")/../.." && pwd)
scen=$here/control/examples/sipp
pk=127.0.0.1:5060
call=1
if [ "${1:-}" = --no-call ]; then call=0; shift; fi
case ${1:-} in -h|--help) sed -n '4,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
dial=${1:-*801}
picker=${2:-2001}

command -v sipp >/dev/null || { echo "sipp not found: apt-get install sip-tester (./control/run-example installs it)" >&2; exit 1; }
command -v ss >/dev/null || { echo "ss not found: apt-get install iproute2" >&2; exit 1; }
if [ -z "$(ss -Hlun 'sport = :5060' 2>/dev/null)" ]; then
  echo "nothing listens on UDP 127.0.0.1:5060: start ./control/run-example in another terminal first" >&2
  exit 1
fi
for port in 5061 5062 5063 5064; do
  if [ -n "$(ss -Hlun "sport = :$port" 2>/dev/null)" ]; then
    echo "UDP port $port is in use (a SIPp from a manual try still running?)" >&2
    exit 1
  fi
done

work=$(mktemp -d /tmp/try-pickup.XXXXXX)
declare -A pid=()

# Stop the SIPp instances this script started (by PID) if it is
# interrupted; they all end by themselves otherwise.
cleanup() {
  local p
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# phone NAME TIMEOUT SIPP-ARGS...: one SIPp phone on loopback, in the
# foreground, one call; its message log in $work/NAME.log, its screen in
# $work/NAME.out. SIPp's -timeout bounds the run.
phone() {
  local name=$1 limit=$2
  shift 2
  sipp "$@" -i 127.0.0.1 -m 1 -nostdin -trace_msg -message_file "$work/$name.log" \
    -timeout "$limit" -timeout_error >"$work/$name.out" 2>&1
}

# until_true SECONDS COMMAND...: wait, bounded, for a condition that no
# signal announces (a socket bound, a line in a SIPp log).
until_true() {
  local n=$(($1 * 20))
  shift
  while ! "$@"; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || return 1
    sleep 0.05
  done
}
not() { ! "$@"; }
bound() { [ -n "$(ss -Hlun "sport = :$1" 2>/dev/null)" ]; }
# (SIPp logs the messages as they are, with CRLF line ends)
logged() { [ -f "$2" ] && tr -d '\r' <"$2" | grep -q "$1"; }

# show FILE DIRECTION START HEADER...: the first message in a SIPp log that
# was sent/received (DIRECTION) and whose first line matches START: that
# line, then the named headers.
show() {
  awk -v dir="$2" -v start="$3" -v hdrs="${*:4}" '
    BEGIN { n = split(hdrs, h, " ") }
    { sub(/\r$/, "") }
    /^-----+ [0-9]/ { state = 0; next }
    state == 0 && /^(UDP|TCP) message/ { state = ($0 ~ dir) ? 1 : 3; next }
    state == 1 && /^$/ { next }
    state == 1 { if ($0 ~ start && !done) { print "    " $0; state = 2 } else state = 3; next }
    state == 2 && /^$/ { done = 1; state = 3; next }
    state == 2 { for (i = 1; i <= n; i++) if (index($0, h[i] ":") == 1) print "    " $0 }
  ' "$1"
}

fail=0
check() { # what-a-user-notices condition...
  local what=$1
  shift
  if "$@"; then echo "  ok: $what"; else echo "  NOT OK: $what"; fail=1; fi
}

echo "work directory: $work"
echo "1. callee 2002 (port 5062) registers with pickupd"
if ! phone register 5s "$pk" -sf "$scen/register.xml" -p 5062 -s 2002; then
  echo "  REGISTER failed (see $work/register.log)" >&2
  exit 1
fi
show "$work/register.log" received '^SIP/2\.0' Contact

echo "   and waits for calls"
sipp -sf "$scen/callee.xml" -i 127.0.0.1 -p 5062 -s 2002 -m 1 -nostdin -trace_msg \
  -message_file "$work/callee.log" -timeout 150s -timeout_error >"$work/callee.out" 2>&1 &
pid[callee]=$!
until_true 5 bound 5062 || { echo "the callee's SIPp did not start (see $work/callee.out)" >&2; exit 1; }

if [ "$call" = 1 ]; then
  echo "2. caller 1001 (port 5061) calls 2002"
  sipp "$pk" -sf "$scen/caller.xml" -oocsf "$scen/caller_replaces.xml" -i 127.0.0.1 -p 5061 \
    -s 2002 -m 1 -nostdin -trace_msg -message_file "$work/caller.log" \
    -timeout 150s -timeout_error >"$work/caller.out" 2>&1 &
  pid[caller]=$!
  if ! until_true 5 logged '^SIP/2\.0 180' "$work/caller.log"; then
    echo "  the call does not ring (see $work/caller.log)" >&2
    exit 1
  fi
  show "$work/caller.log" received '^SIP/2\.0 180' From To Call-ID
else
  echo "2. (nobody calls: nothing rings)"
fi

echo "3. picker $picker (port 5063) dials $dial"
phone picker 30s "$pk" -sf "$scen/picker.xml" -p 5063 -s "$dial" -key from "$picker"
picker_rc=$?
show "$work/picker.log" received '^SIP/2\.0 [2-6]' Contact Warning
status=$(awk '/^SIP\/2\.0 [2-6][0-9][0-9] /{ print $2; exit }' "$work/picker.log")

if [ "$call" = 1 ] && [ "$status" != 200 ]; then
  echo "   nobody picked the call up: the caller hangs up"
  cid=$(awk '/^Call-ID:/{ print $2; exit }' "$work/caller.log")
  phone hangup 5s 127.0.0.1:5061 -sf "$scen/hangup.xml" -p 5064 -key cid "$cid"
fi
if [ "$call" = 0 ]; then
  # the callee was never called: stop it
  kill -TERM "${pid[callee]}" 2>/dev/null
  wait "${pid[callee]}" 2>/dev/null
  unset 'pid[callee]'
fi

rc=0
for p in "${!pid[@]}"; do
  wait "${pid[$p]}" || { echo "  the $p's SIPp failed (see $work/$p.out and $work/$p.log)"; rc=1; }
  unset "pid[$p]"
done

echo
echo "What the phones saw:"
if [ "$status" = 200 ]; then
  echo "  the caller's phone (1001) got the picker's INVITE, with Replaces:"
  show "$work/caller.log" received '^INVITE sip:1001@' Replaces Require From
  echo "  the callee's phone (2002) got the caller's CANCEL:"
  show "$work/callee.log" received '^CANCEL ' Reason
  check "the picker $picker got 200 OK from the caller's phone" \
    logged '^Contact: <sip:1001@127\.0\.0\.1:5061>$' "$work/picker.log"
  check "the caller's phone got Replaces for its early dialog" \
    logged '^Replaces: .*;early-only$' "$work/caller.log"
  check "... with Require: replaces" logged '^Require: replaces$' "$work/caller.log"
  check "the callee's phone got the CANCEL with Reason: cause=200" \
    logged '^Reason: SIP;cause=200;text="Call completed elsewhere"$' "$work/callee.log"
else
  echo "  the picker $picker got ${status:-no answer}; no phone was offered the call"
  if [ "$call" = 1 ]; then
    echo "  the caller hung up; the callee's phone (2002) got its CANCEL:"
    show "$work/callee.log" received '^CANCEL ' Reason
  fi
  check "the picker got a refusal from pickupd" test -n "$status"
  if [ "$call" = 1 ]; then
    check "the caller's phone got no pickup INVITE" \
      not logged '^INVITE sip:1001@' "$work/caller.log"
    check "the callee's CANCEL has no Reason (the caller simply hung up)" \
      not logged '^Reason:' "$work/callee.log"
  fi
fi
[ "$picker_rc" = 0 ] || { echo "  the picker's SIPp failed (see $work/picker.out)"; rc=1; }
echo "message logs: $work/*.log"
[ "$rc" = 0 ] && [ "$fail" = 0 ]
