#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# pickupd as an operator and a peer see it: --check on good and bad
# configurations, start-up on loopback (kernel-chosen ports, announced
# through --ready-file on a FIFO: no sleeping for readiness), SIPp sending
# OPTIONS over UDP and TCP and getting 200, a malformed request (RFC 4475
# ncl.dat) answered 400, requests for unregistered users answered 404, SIP
# over TCP edge cases (sipsend.py tcp), and a clean SIGTERM shutdown with
# exit status 0 and the counters logged. Command-line errors exit 2 with
# the usage; a configuration error, a port or metrics address in use, or
# a ready file that cannot be written exits 1 with the reason and leaves
# no control socket or file behind; a FIFO named as the configuration or
# the groups file is refused at once instead of blocking pickupd; a
# regular ready file, a refused SIGHUP reload and SIGINT are checked by
# daemon_signals.py.
#
# Usage: test_daemon.sh PICKUPD NCL_DAT
# Needs sipp (Debian sip-tester) and python3. Kills only what it started.
set -u
pickupd=$(realpath "$1")
ncl=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/python.sh" # python3: the interpreter, not a shim

work=$(mktemp -d /tmp/pk-daemon-test.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM # a timeout or Ctrl-C still runs cleanup

fail() {
  echo "FAIL: $*"
  if [ -f "$work/pickupd.log" ]; then echo "--- pickupd log"; cat "$work/pickupd.log"; fi
  exit 1
}
pass() { echo "ok: $*"; }

command -v sipp >/dev/null || fail "sipp not found: install the Debian package sip-tester"
command -v python3 >/dev/null || fail "python3 not found"

# ---- configurations ----
cat >"$work/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "*801"
    members: ["2001", "2002"]
YAML
# IPv6 is tested where the machine has an IPv6 loopback (some containers
# do not).
if python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' 2>/dev/null; then
  have_v6=1; app='["127.0.0.1:0", "[::1]:0"]'
else
  have_v6=0; app='"127.0.0.1:0"'; echo "note: no IPv6 loopback, IPv6 not tested"
fi
cat >"$work/pickupd.yaml" <<YAML
listen:
  proxy: "127.0.0.1:0"
  app: $app
workers: 2
groups: groups.yaml
capacity:
  calls: 1024
  tcp_connections: 4
timers:
  tcp_idle_timeout: 1
log:
  level: debug
YAML
cat >"$work/bad.yaml" <<'YAML'
workers: 2
groups: groups.yaml
timer:
  ring_timeout: 10
YAML
cat >"$work/badgroups.yaml" <<'YAML'
groups: groups-bad.yaml
YAML
cat >"$work/groups-bad.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "0801"
    members: [alice]
YAML

# ---- command line ----
out=$("$pickupd" --check -c "$work/pickupd.yaml" 2>&1) || fail "--check on a good config: $out"
case $out in ok*) ;; *) fail "--check did not print ok: $out" ;; esac
pass "--check accepts a good configuration"

out=$("$pickupd" --check -c "$work/bad.yaml" 2>&1) && fail "--check accepted an unknown key"
case $out in "$work/bad.yaml:3:1: unknown key 'timer'"*) ;; *) fail "--check message: $out" ;; esac
pass "--check: unknown key reported as file:line:col"

out=$("$pickupd" --check -c "$work/badgroups.yaml" 2>&1) && fail "--check accepted a bad groups file"
case $out in "$work/groups-bad.yaml:4:"*) ;; *) fail "--check groups message: $out" ;; esac
pass "--check: groups file error reported as file:line"

"$pickupd" >/dev/null 2>&1
[ $? -eq 2 ] || fail "no -c: exit status should be 2"
"$pickupd" --version | grep -q '^pickupd ' || fail "--version"
"$pickupd" --help | grep -q -- '--ready-file' || fail "--help"
pass "usage, --help, --version"

out=$("$pickupd" --frobnicate -c "$work/pickupd.yaml" 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "an unknown option: exit status $rc, expected 2"
case $out in *"unrecognized option '--frobnicate'"*"usage: pickupd -c FILE"*) ;; *) fail "unknown option: $out" ;; esac
out=$("$pickupd" -c "$work/pickupd.yaml" extra 2>&1)
rc=$?
[ $rc -eq 2 ] || fail "an extra argument: exit status $rc, expected 2"
case $out in "pickupd: unexpected argument 'extra'"*"usage: pickupd -c FILE"*) ;; *) fail "extra argument: $out" ;; esac
pass "an unknown option, an extra argument: exit 2 with the reason and the usage"

out=$("$pickupd" -c "$work/missing.yaml" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "a missing configuration file: exit status $rc, expected 1"
[ "$out" = "$work/missing.yaml: cannot open: No such file or directory" ] || fail "missing file: $out"
printf 'groups: absent.yaml\n' >"$work/nogroups.yaml"
out=$("$pickupd" -c "$work/nogroups.yaml" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "a missing groups file: exit status $rc, expected 1"
case $out in "$work/absent.yaml: "*"No such file or directory"*) ;; *) fail "missing groups file: $out" ;; esac
printf 'groups: groups.yaml\ndomains: [other.test]\n' >"$work/domains.yaml"
out=$("$pickupd" -c "$work/domains.yaml" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "a domain of the groups file not served: exit status $rc, expected 1"
case $out in "$work/domains.yaml:2:10: domains: the groups file $work/groups.yaml serves 'example.test'"*) ;;
  *) fail "domains cross-check: $out" ;; esac
printf 'groups: groups.yaml\ncapacity:\n  users: 1\n' >"$work/capacity.yaml"
out=$("$pickupd" --check -c "$work/capacity.yaml" 2>&1) && fail "--check accepted more users than capacity.users: $out"
case $out in "$work/capacity.yaml:3:10: capacity.users: the groups file $work/groups.yaml has 2 users"*) ;;
  *) fail "capacity cross-check: $out" ;; esac
pass "missing files, a cross-check error, a groups file beyond capacity: exit 1, file:line:col"

# A FIFO (nobody writes to it) named as either file: refused at once, not
# read for ever; `timeout` turns a hang into a failure.
mkfifo "$work/conf.fifo" "$work/groups.fifo"
out=$(timeout 10 "$pickupd" --check -c "$work/conf.fifo" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "a FIFO as the configuration file: exit status $rc, expected 1 (124: it hung): $out"
[ "$out" = "$work/conf.fifo: not a regular file (a FIFO)" ] || fail "FIFO configuration file: $out"
printf 'groups: groups.fifo\n' >"$work/fifogroups.yaml"
out=$(timeout 10 "$pickupd" -c "$work/fifogroups.yaml" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "a FIFO as the groups file: exit status $rc, expected 1 (124: it hung): $out"
[ "$out" = "$work/groups.fifo: not a regular file (a FIFO)" ] || fail "FIFO groups file: $out"
pass "a FIFO as the configuration or the groups file: exit 1 at once, named as a FIFO"

# ---- start ----
mkfifo "$work/ready"
exec 3<>"$work/ready" # read-write: opening does not block, read -t can time out
"$pickupd" -c "$work/pickupd.yaml" --ready-file "$work/ready" >"$work/pickupd.log" 2>&1 &
pid=$!
declare -A port
while :; do
  read -r -t 10 -u 3 line || fail "no readiness announced within 10 s"
  case $line in
    ready) break ;;
    pid*) [ "${line#pid }" = "$pid" ] || fail "ready file names pid ${line#pid }, started $pid" ;;
    *) set -- $line
       case $3 in \[*) port[$1-$2-v6]=${3##*:} ;; *) port[$1-$2]=${3##*:} ;; esac ;;
  esac
done
exec 3<&-
keys="udp-proxy tcp-proxy udp-app tcp-app"
[ $have_v6 = 1 ] && keys="$keys udp-app-v6 tcp-app-v6"
for k in $keys; do
  [ -n "${port[$k]:-}" ] && [ "${port[$k]}" != 0 ] || fail "no $k port in the ready file"
done
pass "ready: udp/tcp proxy ${port[udp-proxy]}/${port[tcp-proxy]}, app ${port[udp-app]}/${port[tcp-app]}"

# ---- SIPp: OPTIONS over UDP and TCP ----
cd "$work"
run_sipp() { # transport port
  sipp "127.0.0.1:$2" -sf "$here/options.xml" -t "$1" -i 127.0.0.1 -m 1 \
    -timeout 10s -timeout_error -recv_timeout 5000 -nostdin >"$work/sipp-$1-$2.log" 2>&1
}
run_sipp u1 "${port[udp-proxy]}" || { cat "$work/sipp-u1-${port[udp-proxy]}.log"; fail "SIPp OPTIONS over UDP"; }
pass "SIPp OPTIONS over UDP (proxy port): 200 with Allow, Supported: replaces, To-tag"
run_sipp t1 "${port[tcp-app]}" || { cat "$work/sipp-t1-${port[tcp-app]}.log"; fail "SIPp OPTIONS over TCP"; }
pass "SIPp OPTIONS over TCP (application-server port): 200"
run_sipp t1 "${port[tcp-proxy]}" || fail "SIPp OPTIONS over TCP (proxy port)"
pass "SIPp OPTIONS over TCP (proxy port): 200"

# ---- raw UDP exchanges ----
# udp_ask PORT FILE|-: sends one datagram (FILE, or stdin) with "@SENTBY@"
# replaced by the sender's address, prints the answer (5 s at most).
udp_ask() { python3 "$here/sipsend.py" udp "$1" "$2"; }

ans=$(udp_ask "${port[udp-proxy]}" "$ncl")
case $ans in "SIP/2.0 400 Bad Request"*) ;; *) fail "ncl.dat (negative Content-Length): expected 400, got: $ans" ;; esac
echo "$ans" | grep -q '^Warning: 399 pickupd "' || fail "400 without the Warning header: $ans"
echo "$ans" | grep -q '^Call-ID: ncl.0ha0isndaksdj2193423r542w35' || fail "400 does not echo the Call-ID: $ans"
pass "malformed request (RFC 4475 ncl.dat) answered 400 with a Warning"

req() { # method ruri extra-header-line
  printf '%s %s SIP/2.0\r\nVia: SIP/2.0/UDP @SENTBY@;branch=z9hG4bK-%s\r\nMax-Forwards: 70\r\nFrom: <sip:2001@example.test>;tag=a1\r\nTo: <%s>\r\nCall-ID: %s@itest\r\nCSeq: 1 %s\r\n%bContent-Length: 0\r\n\r\n' \
    "$1" "$2" "$RANDOM" "$2" "$RANDOM" "$1" "$3"
}
ans=$(req INVITE sip:2002@example.test "Contact: <sip:2001@127.0.0.1>\r\n" | udp_ask "${port[udp-app]}" -)
case $ans in "SIP/2.0 404 Not Found"*) ;; *) fail "INVITE to an unregistered user: expected 404, got: $ans" ;; esac
pass "INVITE to an unregistered user answered 404"

if [ $have_v6 = 1 ]; then
  ans=$(req OPTIONS sip:example.test "" | python3 "$here/sipsend.py" udp "${port[udp-app-v6]}" - ::1)
  case $ans in "SIP/2.0 200 OK"*) ;; *) fail "OPTIONS over IPv6: expected 200, got: $ans" ;; esac
  pass "OPTIONS over UDP/IPv6 answered 200"
fi

ans=$(req OPTIONS sip:example.test "Require: frobnicate\r\n" | udp_ask "${port[udp-proxy]}" -)
case $ans in "SIP/2.0 420 Bad Extension"*) ;; *) fail "OPTIONS with Require: expected 420, got: $ans" ;; esac
echo "$ans" | grep -q '^Unsupported: frobnicate' || fail "420 without Unsupported: $ans"
pass "OPTIONS with an unknown Require answered 420 with Unsupported"

ans=$(req OPTIONS sip:2002@example.test "" | udp_ask "${port[udp-proxy]}" -)
case $ans in "SIP/2.0 404 "*) ;; *) fail "OPTIONS for an unregistered user: expected 404 (proxied), got: $ans" ;; esac
pass "OPTIONS for a user (not pickupd) proxied: 404, not registered"

# ---- SIP over TCP: framing, pipelining, keep-alive, limits ----
python3 "$here/sipsend.py" tcp "${port[tcp-proxy]}" || fail "SIP over TCP checks"

# ---- start-up failures: exit 1 with the reason, nothing left behind ----
# startfail NAME MESSAGE [pickupd args]: $work/NAME.yaml must fail to
# start (within 20 s, else it is killed) with MESSAGE in its log, leaving
# neither its control socket $work/NAME.sock nor a ready file.
startfail() {
  local name=$1 msg=$2
  shift 2
  timeout 20 "$pickupd" -c "$work/$name.yaml" "$@" >"$work/$name.log" 2>&1
  local rc=$?
  [ $rc -eq 1 ] || { cat "$work/$name.log"; fail "$name: exit status $rc, expected 1"; }
  grep -qF -- "$msg" "$work/$name.log" || { cat "$work/$name.log"; fail "$name: no '$msg' in the log"; }
  [ ! -e "$work/$name.sock" ] || fail "$name: control socket left behind"
  [ ! -e "$work/$name.ready" ] || fail "$name: ready file written"
}
conf() { # NAME: a configuration on free ports, its own control socket, then $2
  printf 'listen:\n  proxy: "127.0.0.1:0"\ngroups: groups.yaml\ncontrol_socket: %s\n%b' \
    "$work/$1.sock" "${2:-}" >"$work/$1.yaml"
}
conf inuse
sed -i "s/127.0.0.1:0/127.0.0.1:${port[udp-proxy]}/" "$work/inuse.yaml"
startfail inuse "127.0.0.1:${port[udp-proxy]}/udp: Address already in use" --ready-file "$work/inuse.ready"
pass "a SIP port in use (another pickupd): exit 1, no socket or ready file left"
conf metricsinuse "metrics_listen: 127.0.0.1:${port[tcp-proxy]}\n"
startfail metricsinuse "error: metrics listener 127.0.0.1:${port[tcp-proxy]}: Address already in use" \
  --ready-file "$work/metricsinuse.ready"
# the address once, then the reason: the line ends where that message does
line=$(grep -F "127.0.0.1:${port[tcp-proxy]}" "$work/metricsinuse.log")
[ "${line#*: error: }" = "metrics listener 127.0.0.1:${port[tcp-proxy]}: Address already in use" ] ||
  fail "metrics_listen in use: '$line'"
pass "metrics_listen on an address in use: exit 1, the address and the reason once, nothing left"
conf noready
startfail noready "ready file $work/nodir/ready: No such file or directory" --ready-file "$work/nodir/ready"
pass "a ready file in a missing directory: exit 1, the workers stopped, no socket left"
conf dirready
mkdir "$work/rdir"
startfail dirready "ready file $work/rdir: Is a directory" --ready-file "$work/rdir"
[ ! -e "$work/rdir.tmp" ] || fail "a ready file that cannot be renamed into place leaves $work/rdir.tmp"
pass "a ready file that is a directory: exit 1, no temporary file left"

# ---- stop ----
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q 'SIGTERM: stopping' "$work/pickupd.log" || fail "no stop message"
grep -q 'worker 1:' "$work/pickupd.log" || fail "second worker's counters not logged"
total() { # sum of counter NAME over the workers' lines
  grep -o " $1=[0-9]*" "$work/pickupd.log" | awk -F= '{ s += $2 } END { print s + 0 }'
}
[ "$(total answered_options)" -ge $((3 + have_v6)) ] || fail "answered_options: $(total answered_options)"
[ "$(total rejected_400)" -eq 1 ] || fail "rejected_400: $(total rejected_400)"
[ "$(total answered_404)" -eq 2 ] || fail "answered_404: $(total answered_404)"
[ "$(total answered_check)" -eq 1 ] || fail "answered_check: $(total answered_check)"
[ "$(total tcp_refused)" -ge 1 ] || fail "tcp_refused: $(total tcp_refused)"
[ "$(total tcp_framing)" -eq 1 ] || fail "tcp_framing: $(total tcp_framing)"
[ "$(total tcp_closed_idle)" -ge 1 ] || fail "tcp_closed_idle: $(total tcp_closed_idle)"
grep -q 'info: stopped' "$work/pickupd.log" || fail "no final log line"
pass "SIGTERM: exit 0, counters logged"

# ---- a regular ready file, SIGHUP of a broken groups file, SIGINT ----
conf signals
printf 'settings:\n  domains: [example.test]\ngroups:\n  - number: "*801"\n    members: [\n' >"$work/groups-broken.yaml"
python3 "$here/daemon_signals.py" "$pickupd" "$work/signals.yaml" "$work/signals.ready" \
  "$work/groups.yaml" "$work/groups-broken.yaml" || fail "daemon_signals.py"
[ ! -e "$work/signals.sock" ] || fail "control socket left after SIGINT"
pass "regular ready file, refused SIGHUP reload, SIGINT: exit 0, nothing left"
