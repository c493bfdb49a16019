#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The control socket (docs/control.md) driven from outside: a pickupd on
# loopback with a temporary configuration, every command and its error
# codes through tests/integration/ctlkit.py, the socket's file mode and
# peer-credential check, 32+ concurrent clients, reload (command and
# SIGHUP) with a broken file leaving everything as it was, save read back by
# pk-groups-check and by a restarted pickupd, and shutdown (exit status 0,
# socket file removed).
#
#   test_control.sh PICKUPD PK-GROUPS-CHECK
#
# Everything is started here and stopped by PID, whatever happens.
set -u

pickupd=$1
groups_check=$2
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/python.sh" # python3: the interpreter, not a shim
kit="python3 -S $here/ctlkit.py"
work=$(mktemp -d /tmp/pk-control.XXXXXX)
pid=
ok=0

cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; fi
  if [ "${PK_KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  [ -f "$work/pickupd.log" ] && tail -n 20 "$work/pickupd.log" | sed 's/^/  log: /'
  exit 1
}
pass() { ok=$((ok + 1)); echo "ok $ok - $*"; }

command -v python3 >/dev/null || fail "python3 is needed"

sock=$work/ctl.sock
cp "$here/configs/groups.yaml" "$work/groups.yaml"
cat >"$work/pickupd.yaml" <<EOF
listen:
  proxy: "127.0.0.1:0"
workers: 2
domains: [example.test]
groups: groups.yaml
control_socket: ctl.sock
metrics_listen: 127.0.0.1:0
trusted: [127.0.0.0/8]
timers:
  ring_timeout: 300
  claim_timeout: 32
capacity:
  calls: 4096
  registrations: 1024
  groups: 64
  users: 256
EOF

# start: pickupd in the background, wait for its ready FIFO; sets pid,
# udp (the proxy port) and ctl (the control socket as announced).
start() {
  local line
  rm -f "$work/ready"
  mkfifo "$work/ready"
  exec 3<>"$work/ready"
  "$pickupd" -c "$work/pickupd.yaml" --ready-file "$work/ready" >>"$work/pickupd.log" 2>&1 &
  pid=$!
  udp=; ctl=; metrics=; telemetry=
  while :; do
    read -r -t 10 -u 3 line || fail "no readiness announced within 10 s"
    case $line in
      ready) break ;;
      "udp proxy "*) udp=${line##*:} ;;
      "control "*) ctl=${line#control } ;;
      "metrics "*) metrics=${line#metrics } ;;
      "telemetry "*) telemetry=${line#telemetry } ;;
    esac
  done
  exec 3<&-
  [ -n "$udp" ] || fail "no UDP port in the ready file"
}

# req JSON CHECK: one request, the response must satisfy CHECK (Python).
req() { $kit req "$sock" "$1" "$2" >"$work/last" || { cat "$work/last"; fail "request $1"; }; }
# err JSON CODE [REGEXP]: the request fails with CODE, message matching.
err() {
  local chk="not r['ok'] and r['error']['code'] == '$2'"
  [ $# -ge 3 ] && chk="$chk and __import__('re').search(r'''$3''', r['error']['message']) is not None"
  $kit req "$sock" "$1" "$chk" >"$work/last" || { cat "$work/last"; fail "request $1: expected $2"; }
}

# ---- start-up: a non-socket file at the path is an error; a stale socket is replaced

echo "not a socket" >"$sock"
"$pickupd" -c "$work/pickupd.yaml" >"$work/refused.log" 2>&1 && fail "started with a regular file at the socket path"
grep -q "is not a socket" "$work/refused.log" || { cat "$work/refused.log"; fail "no clear error for a non-socket file"; }
[ "$(cat "$sock")" = "not a socket" ] || fail "the regular file was changed"
pass "a regular file at the socket path is a start-up error (left untouched)"
rm -f "$sock"
$kit stale "$sock" || fail "cannot make a stale socket"
[ -S "$sock" ] || fail "no stale socket"

start
[ "$ctl" = "$sock" ] || [ "$(cd "$work" && realpath -m "$ctl")" = "$sock" ] || fail "ready file names control $ctl"
pass "stale socket replaced; ready file announces 'control $ctl'"

# ---- access

[ "$(stat -c %a "$sock")" = 600 ] || fail "socket mode $(stat -c %a "$sock"), not 600"
[ "$(stat -c %u "$sock")" = "$(id -u)" ] || fail "socket not owned by pickupd's user"
pass "socket mode 0600, owned by pickupd's user"
# The other uid runs the system's python3 (a per-user interpreter, e.g.
# pyenv's under /root, is not reachable to it) on a copy of ctlkit.py.
sys_py=
for p in /usr/bin/python3 /usr/local/bin/python3; do [ -x "$p" ] && { sys_py=$p; break; }; done
if [ "$(id -u)" = 0 ] && [ -n "$sys_py" ]; then
  cp "$here/ctlkit.py" "$work/ctlkit.py"
  chmod 644 "$work/ctlkit.py"
  if command -v setpriv >/dev/null; then
    asnobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
  else
    asnobody="runuser -u nobody --"
  fi
  chmod 711 "$work"
  $asnobody "$sys_py" -S "$work/ctlkit.py" denied "$sock" >"$work/last"
  [ $? = 3 ] || { cat "$work/last"; fail "uid 65534 could connect through mode 0600"; }
  # Past the file mode (opened up for the test), the peer-credential check
  # still refuses the other uid.
  chmod 666 "$sock"
  $asnobody "$sys_py" -S "$work/ctlkit.py" denied "$sock" >"$work/last" || { cat "$work/last"; fail "uid 65534 was served"; }
  chmod 600 "$sock"
  chmod 700 "$work"
  pass "uid 65534 refused: by the file mode, and with permission_denied past it"
else
  echo "skip - peer-credential check needs root (to switch uid) and a system python3"
fi

# A second pickupd with the same control_socket is refused at start-up and
# leaves the running one its socket (a stale-socket cleanup must not take
# a live one). timeout: a second daemon that wrongly starts is a failure,
# not a hang.
timeout 10 "$pickupd" -c "$work/pickupd.yaml" >"$work/second.log" 2>&1
rc=$?
[ $rc != 0 ] && [ $rc != 124 ] || { cat "$work/second.log"; fail "a second pickupd did not fail on a socket in use ($rc)"; }
grep -q "ctl.sock: in use by another process" "$work/second.log" ||
  { cat "$work/second.log"; fail "no clear error for a socket in use"; }
[ -S "$sock" ] || fail "the running pickupd's socket was removed"
req '{"cmd":"status"}' "r['ok'] and r['result']['pid'] == $pid"
pass "a second pickupd on the same socket is refused; the first keeps serving it"

# ---- framing and request errors

err 'not json' bad_request 'not JSON'
err '[1,2]' bad_request 'JSON object'
err '{"args":{}}' bad_request 'cmd'
err '{"cmd":"status","bogus":1}' bad_request 'bogus'
err '{"cmd":"fly","id":"x"}' unknown_command "fly"
req '{"cmd":"fly","id":{"n":[1]}}' "r['id'] == {'n': [1]}"
err '{"cmd":"status","args":{"verbose":true}}' bad_argument 'verbose'
err '{"cmd":"status","args":[1]}' bad_argument 'object'
pass "bad_request, unknown_command (id echoed), bad_argument for unknown arguments"
$kit raw "$sock" $'\n\r\n{"cmd":"status","id":"crlf"}\r' "r['ok'] and r['id'] == 'crlf'" >"$work/last" ||
  { cat "$work/last"; fail "CRLF framing"; }
pass "empty lines skipped, one CR before the LF ignored (answer to the first request, not to the blank lines)"
err '{"cmd":"neighbours"}' unsupported 'socket backend has no neighbour cache'
err '{"cmd":"neighbours","args":{"port":7}}' bad_argument 'port'
pass "neighbours: unsupported on the socket backend (the kernel's ARP table)"
$kit pipeline "$sock" 200 >"$work/last" || { cat "$work/last"; fail "pipelining"; }
pass "$(cat "$work/last")"
$kit unterminated "$sock" >"$work/last" || { cat "$work/last"; fail "a last request without a newline"; }
pass "$(cat "$work/last")"
$kit big "$sock" >"$work/last" || { cat "$work/last"; fail "1 MiB line"; }
pass "a request line over 1 MiB: too_large, connection closed"
for mode in read half unterminated; do
  $kit slow "$sock" 200 $mode >"$work/last" || { cat "$work/last"; fail "slow reader ($mode)"; }
  pass "$(cat "$work/last"); another client served meanwhile"
done
$kit slow "$sock" 2000 read bounded >"$work/last" || { cat "$work/last"; fail "backpressure"; }
pass "$(cat "$work/last") (backpressure: its requests wait while its answers do)"
$kit slow "$sock" 200 vanish >"$work/last" || { cat "$work/last"; fail "slow reader leaving"; }
pass "$(cat "$work/last"); its slot is free again (next: 32 clients)"
$kit many "$sock" 40 >"$work/last" || { cat "$work/last"; fail "concurrent clients"; }
pass "$(cat "$work/last")"

# ---- status, stats, metrics

req '{"cmd":"status","id":7}' "r['ok'] and r['id'] == 7 and r['result']['pid'] == $pid and r['result']['workers'] == 2 and r['result']['groups_file'].endswith('groups.yaml') and r['result']['uptime_s'] >= 0"
pass "status"
st=$($kit sip "$udp" options) || fail "OPTIONS not answered"
[ "$st" = 200 ] || fail "OPTIONS answered $st"
req '{"cmd":"stats"}' "r['ok'] and len(r['result']['workers']) == 2 and r['result']['totals']['rx'] >= 1 and r['result']['totals']['answered_options'] >= 1 and 'other' in r['result']['rejects'] and '400' in r['result']['rejects'] and r['result']['calls']['capacity'] == 4096 and 'claimed' in r['result']['calls']['counters'] and r['result']['registrations']['capacity'] == 1024 and r['result']['groups']['groups'] == 2 and r['result']['groups']['memberships'] == 7 and r['result']['memory']['calltab_bytes'] > 0 and all(v >= 0 for v in r['result']['pickup'].values()) and ('jemalloc' not in r['result']['memory'] or r['result']['memory']['jemalloc']['allocated'] > 0)"
pass "stats: live worker counters (an OPTIONS counted while workers run), tables, groups, memory"
req '{"cmd":"metrics"}' "r['ok'] and 'pickupd_rx_total' in r['result']['text']"
[ -n "$metrics" ] || fail "no metrics listener in the ready file"
python3 -S -c 'import sys, urllib.request
t = urllib.request.urlopen("http://%s/metrics" % sys.argv[1], timeout=10).read().decode()
sys.exit(0 if "pickupd_rx_total" in t and "pickupd_uptime_seconds" in t else 1)' "$metrics" || fail "GET /metrics on $metrics"
pass "metrics: Prometheus text, on the socket and from the HTTP listener ($metrics) in the control loop"

# ---- registrations and live trusted networks

st=$($kit sip "$udp" register alice@example.test sip:alice@127.0.0.1:5999) || fail "REGISTER not answered"
[ "$st" = 200 ] || fail "REGISTER answered $st"
req '{"cmd":"registrations","args":{"user":"alice"}}' "r['ok'] and len(r['result']['registrations']) == 1 and r['result']['registrations'][0]['aor'] == 'alice@example.test' and r['result']['registrations'][0]['contact'] == 'sip:alice@127.0.0.1:5999' and 590 <= r['result']['registrations'][0]['expires_in_s'] <= 600 and not r['result']['registrations'][0]['static']"
req '{"cmd":"registrations","args":{"user":"nobody@example.test"}}' "r['ok'] and r['result']['registrations'] == []"
req '{"cmd":"registrations","args":{"limit":0}}' "r['ok'] and r['result']['registrations'] == [] and r['result']['truncated']"
err '{"cmd":"registrations","args":{"user":""}}' invalid_value
err '{"cmd":"registrations","args":{"limit":-1}}' bad_argument
pass "registrations: listed, filtered by user, limited"
req '{"cmd":"set","args":{"name":"trusted","value":["10.0.0.0/8","fd00::/8"]}}' "r['ok'] and r['result']['value'] == ['10.0.0.0/8', 'fd00::/8']"
st=$($kit sip "$udp" register bob@example.test sip:bob@127.0.0.1:5998) || fail "REGISTER not answered"
[ "$st" = 403 ] || fail "REGISTER from an untrusted network answered $st, not 403"
err '{"cmd":"set","args":{"name":"trusted","value":["10.1.0.0/8"]}}' invalid_value '10.1.0.0/8'
err '{"cmd":"set","args":{"name":"trusted","value":"10.0.0.0/8"}}' bad_argument
req '{"cmd":"get","args":{"name":"trusted"}}' "r['ok'] and r['result'] == {'trusted': ['10.0.0.0/8', 'fd00::/8']}"
req '{"cmd":"set","args":{"name":"trusted","value":["127.0.0.1"]}}' "r['ok'] and r['result']['value'] == ['127.0.0.1/32']"
st=$($kit sip "$udp" register bob@example.test sip:bob@127.0.0.1:5998) || fail "REGISTER not answered"
[ "$st" = 200 ] || fail "REGISTER from a trusted network again answered $st"
pass "set trusted applies to the very next REGISTER (403, then 200); a bad list changes nothing"

# ---- calls

req '{"cmd":"calls"}' "r['ok'] and r['result'] == {'calls': [], 'truncated': False}"
c1=$($kit ring "$udp" 2004) || fail "call to 2004: $c1"
c2=$($kit ring "$udp" 2002) || fail "call to 2002: $c2"
req '{"cmd":"calls"}' "r['ok'] and [c['call_id'] for c in r['result']['calls']] == ['$c1', '$c2'] and r['result']['calls'][0]['state'] == 'ringing' and r['result']['calls'][0]['callee'] == '2004@example.test' and r['result']['calls'][0]['groups'] == ['*801'] and r['result']['calls'][0]['age_ms'] >= r['result']['calls'][1]['age_ms'] and not r['result']['truncated']"
req '{"cmd":"calls","args":{"group":"*801","user":"2002@example.test"}}' "[c['call_id'] for c in r['result']['calls']] == ['$c2']"
req '{"cmd":"calls","args":{"user":"2004"}}' "[c['call_id'] for c in r['result']['calls']] == ['$c1']"
req '{"cmd":"calls","args":{"group":"7002"}}' "r['ok'] and r['result']['calls'] == []"
req '{"cmd":"calls","args":{"limit":1}}' "[c['call_id'] for c in r['result']['calls']] == ['$c1'] and r['result']['truncated']"
c3=$($kit ring "$udp" 2002) || fail "second call to 2002: $c3"
req '{"cmd":"calls","args":{"limit":2}}' "[c['call_id'] for c in r['result']['calls']] == ['$c1', '$c2'] and r['result']['truncated']"
req '{"cmd":"calls","args":{"user":"2002","limit":3}}' "[c['call_id'] for c in r['result']['calls']] == ['$c2', '$c3'] and not r['result']['truncated']"
req '{"cmd":"calls","args":{"limit":0}}' "r['result']['calls'] == [] and r['result']['truncated']"
req '{"cmd":"stats"}' "r['result']['calls']['ringing'] == 3 and r['result']['calls']['counters']['inserted'] >= 3"
err '{"cmd":"calls","args":{"group":"*809"}}' unknown_group '\*809'
err '{"cmd":"calls","args":{"group":"abc"}}' invalid_number
err '{"cmd":"calls","args":{"group":801}}' bad_argument
pass "calls: three ringing calls, the oldest first, filtered by group/user, limited; their errors"

# ---- groups and members

req '{"cmd":"groups"}' "r['ok'] and [g['number'] for g in r['result']['groups']] == ['*801', '7002'] and r['result']['settings']['pickup_code'] == '*8' and {'user': '2005@example.test', 'rights': ['ring']} in r['result']['groups'][0]['members']"
req '{"cmd":"groups","args":{"number":"7002"}}' "r['ok'] and len(r['result']['groups']) == 1 and r['result']['groups'][0]['name'] == 'Support'"
err '{"cmd":"groups","args":{"number":"7009"}}' unknown_group
req '{"cmd":"group.add","args":{"number":"*802","name":"Front desk"}}' "r['ok'] and r['result'] == {'number': '*802'}"
err '{"cmd":"group.add","args":{"number":"*802"}}' exists '\*802'
err '{"cmd":"group.add","args":{"number":"abc"}}' invalid_number 'not a group number'
err '{"cmd":"group.add","args":{"number":"*8"}}' invalid_number 'pickup code'
err '{"cmd":"group.add","args":{"number":"**5"}}' invalid_number
err '{"cmd":"group.add","args":{"number":"*805","name":"bad\u0001name"}}' invalid_value 'control'
err '{"cmd":"group.add","args":{}}' bad_argument 'number'
err '{"cmd":"group.add","args":{"number":802}}' bad_argument 'string'
req '{"cmd":"group.name","args":{"number":"*802","name":"Reception"}}' "r['ok']"
err '{"cmd":"group.name","args":{"number":"*809","name":"x"}}' unknown_group
req '{"cmd":"group.renumber","args":{"number":"*802","new_number":"*803"}}' "r['ok'] and r['result'] == {'number': '*803'}"
err '{"cmd":"group.renumber","args":{"number":"*803","new_number":"7002"}}' exists '7002'
err '{"cmd":"group.renumber","args":{"number":"*802","new_number":"*804"}}' unknown_group '\*802'
err '{"cmd":"group.renumber","args":{"number":"*803","new_number":"#0"}}' invalid_number
req '{"cmd":"groups","args":{"number":"*803"}}' "r['ok'] and r['result']['groups'][0]['name'] == 'Reception'"
pass "group.add/name/renumber and their errors (exists, invalid_number, invalid_value, unknown_group, bad_argument)"

req '{"cmd":"member.add","args":{"group":"*803","user":"carol","rights":["pickup"]}}' "r['ok'] and r['result'] == {'group': '*803', 'user': 'carol@example.test'}"
req '{"cmd":"member.add","args":{"group":"*803","user":"sip:dave@EXAMPLE.test"}}' "r['ok'] and r['result']['user'] == 'dave@example.test'"
err '{"cmd":"member.add","args":{"group":"*803","user":"carol@example.test"}}' exists 'carol'
err '{"cmd":"member.add","args":{"group":"*809","user":"carol"}}' unknown_group
err '{"cmd":"member.add","args":{"group":"*809","user":"e ve"}}' unknown_group
err '{"cmd":"group.name","args":{"number":"*809","name":"bad\u0001"}}' unknown_group
err '{"cmd":"member.add","args":{"group":"x","user":"carol"}}' invalid_number
err '{"cmd":"member.add","args":{"group":"*803","user":"eve@other.test"}}' invalid_value 'other.test'
err '{"cmd":"member.add","args":{"group":"*803","user":"e ve"}}' invalid_value
err '{"cmd":"member.add","args":{"group":"*803","user":"eve","rights":["fly"]}}' invalid_value 'fly'
err '{"cmd":"member.add","args":{"group":"*803","user":"eve","rights":[]}}' invalid_value
err '{"cmd":"member.add","args":{"group":"*803","user":"eve","rights":"ring"}}' bad_argument
err '{"cmd":"member.add","args":{"group":"*803"}}' bad_argument 'user'
req '{"cmd":"member.rights","args":{"group":"*803","user":"carol","rights":["ring","pickup"]}}' "r['ok'] and r['result']['rights'] == ['ring', 'pickup']"
err '{"cmd":"member.rights","args":{"group":"*803","user":"zed","rights":["ring"]}}' unknown_member 'zed'
err '{"cmd":"member.rights","args":{"group":"*803","user":"carol"}}' bad_argument 'rights'
req '{"cmd":"member.remove","args":{"group":"*803","user":"dave"}}' "r['ok']"
err '{"cmd":"member.remove","args":{"group":"*803","user":"dave"}}' unknown_member
err '{"cmd":"member.remove","args":{"group":"*809","user":"dave"}}' unknown_group
req '{"cmd":"groups","args":{"number":"*803"}}' "r['ok'] and r['result']['groups'][0]['members'] == [{'user': 'carol@example.test', 'rights': ['ring', 'pickup']}]"
req '{"cmd":"stats"}' "r['result']['groups']['groups'] == 3 and r['result']['groups']['memberships'] == 8"
pass "member.add/rights/remove and their errors; stats follow the changes"

# capacity: 64 groups in all (3 there): 61 more are added, the 62nd is refused
for i in $(seq 10 80); do echo "{\"cmd\":\"group.add\",\"args\":{\"number\":\"9$i\"}}"; done |
  $kit batch "$sock" >"$work/batch" || fail "batch"
[ "$(grep -c '"ok":true' "$work/batch")" = 61 ] || fail "$(grep -c '"ok":true' "$work/batch") groups added, not 61"
[ "$(sed -n 62p "$work/batch" | grep -c '"code":"capacity"')" = 1 ] || fail "no capacity error at capacity.groups: $(sed -n 62p "$work/batch")"
req '{"cmd":"stats"}' "r['result']['groups']['groups'] == 64"
for i in $(seq 10 80); do echo "{\"cmd\":\"group.remove\",\"args\":{\"number\":\"9$i\"}}"; done |
  $kit batch "$sock" >"$work/batch" || fail "batch"
[ "$(grep -c '"ok":true' "$work/batch")" = 61 ] || fail "groups not removed"
err '{"cmd":"group.remove","args":{"number":"910"}}' unknown_group
req '{"cmd":"stats"}' "r['result']['groups']['groups'] == 3"
pass "capacity at capacity.groups; group.remove, and unknown_group after it"

# ---- tunables

req '{"cmd":"get"}' "r['ok'] and r['result']['ring_timeout'] == 120 and r['result']['claim_timeout'] == 32 and r['result']['log_level'] == 'info'"
req '{"cmd":"set","args":{"name":"ring_timeout","value":30}}' "r['ok'] and r['result'] == {'name': 'ring_timeout', 'value': 30}"
err '{"cmd":"set","args":{"name":"ring_timeout","value":301}}' invalid_value '300'
err '{"cmd":"set","args":{"name":"ring_timeout","value":0}}' invalid_value
err '{"cmd":"set","args":{"name":"ring_timeout","value":"30"}}' bad_argument
req '{"cmd":"set","args":{"name":"claim_timeout","value":10}}' "r['ok'] and r['result']['value'] == 10"
err '{"cmd":"set","args":{"name":"claim_timeout","value":3601}}' invalid_value
req '{"cmd":"set","args":{"name":"log_level","value":"debug"}}' "r['ok']"
err '{"cmd":"set","args":{"name":"log_level","value":"loud"}}' invalid_value 'loud'
err '{"cmd":"set","args":{"name":"speed","value":1}}' bad_argument 'speed'
err '{"cmd":"set","args":{"name":"log_level"}}' bad_argument 'value'
err '{"cmd":"get","args":{"name":"speed"}}' bad_argument
req '{"cmd":"get"}' "r['result']['ring_timeout'] == 30 and r['result']['claim_timeout'] == 10 and r['result']['log_level'] == 'debug'"
req '{"cmd":"set","args":{"name":"log_level","value":"info"}}' "r['ok']"
pass "get/set ring_timeout (bounded by timers.ring_timeout), claim_timeout, log_level"

# ---- save

req "{\"cmd\":\"save\",\"args\":{\"path\":\"$work/saved.yaml\"}}" "r['ok'] and r['result']['groups'] == 3 and r['result']['memberships'] == 8"
"$groups_check" "$work/saved.yaml" >"$work/check.out" 2>&1 || { cat "$work/check.out"; fail "pk-groups-check refuses the saved file"; }
err "{\"cmd\":\"save\",\"args\":{\"path\":\"$work/no/such/dir/g.yaml\"}}" io_error
[ -e "$work/no" ] && fail "a failed save left something"
pass "save writes a file pk-groups-check accepts; an unwritable path is io_error"

# ---- reload

before=$($kit req "$sock" '{"cmd":"groups"}') || fail "groups"
printf 'settings:\n  domains: [example.test]\ngroups:\n  - number: "*801"\n    members: ["a", "b"]\n  - number: "x801"\n    members: ["c"]\n' >"$work/groups.yaml"
err '{"cmd":"reload"}' config_error 'groups\.yaml:6:[0-9]+: '
printf 'settings:\n  domains: [other.test]\ngroups:\n  - number: "*801"\n    members: ["a"]\n' >"$work/groups.yaml"
err '{"cmd":"reload"}' config_error 'other\.test'
printf 'settings:\n  domains: [example.test]\n  ring_timeout: 600\ngroups: []\n' >"$work/groups.yaml"
err '{"cmd":"reload"}' config_error 'ring_timeout'
after=$($kit req "$sock" '{"cmd":"groups"}') || fail "groups"
[ "$before" = "$after" ] || fail "a refused reload changed the groups"
pass "reload of a broken file: config_error with file:line:col, nothing changed"
cp "$here/configs/groups.yaml" "$work/groups.yaml"
printf '  - number: "*805"\n    name: Late\n    members: ["frank"]\n' >>"$work/groups.yaml"
req '{"cmd":"reload"}' "r['ok'] and r['result']['groups'] == 3 and r['result']['memberships'] == 8"
req '{"cmd":"groups"}' "[g['number'] for g in r['result']['groups']] == ['*801', '*805', '7002']"
req '{"cmd":"get","args":{"name":"ring_timeout"}}' "r['result']['ring_timeout'] == 120"
pass "reload: the file's groups in force, its ring timeout applied"

# SIGHUP: the same reload; its effect is polled for (no answer to wait on)
v0=$($kit req "$sock" '{"cmd":"status"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["groups_version"])')
printf '  - number: "*806"\n    members: ["gina"]\n' >>"$work/groups.yaml"
kill -HUP "$pid"
for i in $(seq 1 500); do
  $kit req "$sock" '{"cmd":"groups","args":{"number":"*806"}}' "r['ok']" >/dev/null && break
  sleep 0.01
done
req '{"cmd":"groups","args":{"number":"*806"}}' "r['ok'] and r['result']['groups'][0]['members'][0]['user'] == 'gina@example.test'"
req '{"cmd":"status"}' "r['result']['groups_version'] > $v0"
req '{"cmd":"groups"}' "[(g['number'], g['name']) for g in r['result']['groups']] == [('*801', 'Sales'), ('*805', 'Late'), ('*806', ''), ('7002', 'Support')]"
grep -q "SIGHUP: reloaded" "$work/pickupd.log" || fail "SIGHUP reload not logged"
pass "SIGHUP reloads the groups file"
# A broken file on SIGHUP: refused and logged, nothing changed. The
# signalfd is readable once kill returns, before the next request's
# connection is: the control loop handles the signal first.
before=$($kit req "$sock" '{"cmd":"groups"}') || fail "groups"
cp "$work/groups.yaml" "$work/groups.good"
printf 'groups:\n  - number: "x801"\n' >>"$work/groups.yaml"
kill -HUP "$pid"
after=$($kit req "$sock" '{"cmd":"groups"}') || fail "groups"
[ "$before" = "$after" ] || fail "a refused SIGHUP reload changed the groups"
grep -q "SIGHUP: reload refused, nothing changed: .*groups.yaml:[0-9]*:[0-9]*: " "$work/pickupd.log" ||
  fail "a refused SIGHUP reload not logged with file:line:col"
mv "$work/groups.good" "$work/groups.yaml"
pass "SIGHUP with a broken groups file: refused, logged with file:line:col, nothing changed"

# ---- save to the groups file, shutdown, restart with it

req '{"cmd":"member.add","args":{"group":"*806","user":"hank","rights":["ring"]}}' "r['ok']"
req '{"cmd":"save"}' "r['ok'] and r['result']['path'].endswith('groups.yaml')"
req '{"cmd":"shutdown"}' "r['ok'] and r['result'] == {}"
wait "$pid"
rc=$?
pid=
[ $rc = 0 ] || fail "exit status $rc after shutdown"
[ -e "$sock" ] && fail "socket file left after exit"
grep -q "worker 0: rx=" "$work/pickupd.log" || fail "counters not logged at shutdown"
pass "shutdown: answered, exit status 0, socket file removed, counters logged"

start
req '{"cmd":"groups","args":{"number":"*806"}}' "r['ok'] and {'user': 'hank@example.test', 'rights': ['ring']} in r['result']['groups'][0]['members']"
pass "a restarted pickupd loads the saved groups"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc = 0 ] || fail "exit status $rc after SIGTERM"
[ -e "$sock" ] && fail "socket file left after SIGTERM"
pass "SIGTERM: exit status 0, socket file removed"

# ---- DPDK telemetry (a minimal EAL with the socket backend): the same stats

if [ "$(id -u)" = 0 ]; then
  echo "telemetry: true" >>"$work/pickupd.yaml"
  start
  [ -S "$telemetry" ] || fail "no telemetry socket announced ($telemetry)"
  python3 -S -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(sys.argv[1])
json.loads(s.recv(16384))  # greeting
s.send(b"/pickupd/stats,groups")
g = json.loads(s.recv(65536))["/pickupd/stats"]
s.send(b"/pickupd/status")
st = json.loads(s.recv(65536))["/pickupd/status"]
sys.exit(0 if g["groups"] == 4 and st["pid"] == int(sys.argv[2]) else 1)' "$telemetry" "$pid" || fail "telemetry /pickupd/stats"
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  pid=
  [ $rc = 0 ] || fail "exit status $rc after SIGTERM (telemetry)"
  sed -i '/^telemetry:/d' "$work/pickupd.yaml"
  pass "telemetry: true serves the stats on DPDK's telemetry socket ($telemetry)"
else
  echo "skip - DPDK telemetry test runs as root (EAL runtime directory)"
fi

# ---- no socket: control_socket none (and "")

for v in none '""'; do
  sed -i "s|^control_socket: .*|control_socket: $v|; s|^metrics_listen: .*|metrics_listen: none|" "$work/pickupd.yaml"
  start
  [ -z "$ctl" ] && [ -z "$metrics" ] || fail "control_socket: $v still announces '$ctl' '$metrics'"
  [ -e "$sock" ] && fail "control_socket: $v created $sock"
  kill -TERM "$pid"
  wait "$pid"
  rc=$?
  pid=
  [ $rc = 0 ] || fail "exit status $rc after SIGTERM (control_socket: $v)"
done
sed -i "s|^metrics_listen: .*|metrics_listen: localhost:9105|" "$work/pickupd.yaml"
"$pickupd" --check -c "$work/pickupd.yaml" >"$work/check.out" 2>&1 && fail "metrics_listen with a host name accepted"
grep -q "pickupd.yaml:[0-9]*:[0-9]*: .*localhost:9105" "$work/check.out" || { cat "$work/check.out"; fail "no file:line:col for a bad metrics_listen"; }
pass "control_socket none/\"\": no socket, no metrics listener with metrics_listen none; a bad metrics_listen is refused"

echo "all $ok control-socket checks passed"
