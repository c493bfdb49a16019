#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Live group changes under load (issue 6, docs/control.md): while SIPp
# drives the whole pickup flow through pickupd (bench/sipp/load_*.xml:
# calls to 2002 in group *801, picked up by 2003), livesync.py changes
# group *802 through the control socket 100 times -- 3003 added with the
# pickup right, then removed, and so on -- plus a reload of the groups file
# every 25 changes, and checks each change with the very next pickup
# (forwarded to the caller when 3003 is a member, 403 when not). Then a
# change made through the socket is saved and survives a restart.
#
# Passes when: no SIPp flow failed (every call picked up, every check of
# the scenarios held), every change was visible to the next pickup, the
# reloads left the file's content in force, pickupd's counters say every
# load flow was a pickup, and the saved file is what a restarted pickupd
# loads.
#
# Usage: test_livesync.sh PICKUPD [RATE SECONDS]  (default 20 calls/s, 10 s)
. "$(dirname "$0")/lib.sh"

pk_init livesync "$1"
rate=${2:-20}
secs=${3:-10}
pk_ports callee caller picker lscallee

cat >"$PK_WORK/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "*801"
    members: ["2002", "2003"]
  - number: "*802"
    members:
      - { user: "3002", rights: [ring] }
YAML
cat >"$PK_WORK/pickupd.yaml" <<YAML
listen:
  proxy: "127.0.0.1:0"
workers: 2
domains: [example.test]
groups: groups.yaml
bindings:
  "2002": "sip:2002@127.0.0.1:$(pk_port callee)"
  "3002": "sip:3002@127.0.0.1:$(pk_port lscallee)"
capacity:
  calls: 65536
io:
  socket_buffer: $PK_LOAD_BUF
control_socket: ctl.sock
log:
  level: info
YAML
pk_start pickupd.yaml
ctl=$PK_WORK/ctl.sock
[ -S "$ctl" ] || fail "no control socket at $ctl"

case_begin "changes under load"
calls=$((rate * secs))
pk_load_sipp callee load_callee.xml "$calls" "$rate" "$secs"
pk_load_sipp caller load_caller.xml "$calls" "$rate" "$secs" -oocsf "$PK_LOAD_SCEN/load_caller_ooc.xml"
pk_load_sipp picker load_picker.xml "$calls" "$rate" "$secs"
python3 "$PK_LIB_DIR/livesync.py" "$PK_UDP" "$ctl" "$(pk_port lscallee)" 100 25 >"$PK_WORK/livesync.out" 2>&1
ls_rc=$?
for p in caller picker callee; do
  wait "${PK_SIPP_PID[$p]}"
  unset "PK_SIPP_PID[$p]"
done
cat "$PK_WORK/livesync.out" | sed 's/^/   /'
[ $ls_rc = 0 ] || fail "a change was not visible to the next pickup (livesync.py: $ls_rc)"
grep -q "^changes 100 reloads 3 failures 0 " "$PK_WORK/livesync.out" ||
  fail "livesync.py did not make 100 changes and 3 reloads"
failed=$(pk_load_failed "$calls" caller picker callee)
[ "$failed" = 0 ] || fail "$failed of $calls load flows failed during the changes"
pass "100 changes and 3 reloads under $rate calls/s: each visible to the next pickup, 0 of $calls flows failed"

case_begin "save, restart"
python3 - "$ctl" <<'PY' || fail "member.add / save through the control socket"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
for req in ({"cmd": "member.remove", "args": {"group": "*802", "user": "3003"}},
            {"cmd": "member.add", "args": {"group": "*802", "user": "3004", "rights": ["ring"]}},
            {"cmd": "save"}):
    f.write(json.dumps(req) + "\n"); f.flush()
    r = json.loads(f.readline())
    # 3003 may or may not be a member after livesync.py's last change
    if not r.get("ok") and not (req["cmd"] == "member.remove" and r["error"]["code"] == "unknown_member"):
        sys.exit("%s: %s" % (req["cmd"], r))
PY
pk_stop
for c in pickup_succeeded cancel_with_reason; do
  [ "$(pk_counter $c)" -ge "$calls" ] || fail "$c = $(pk_counter $c), expected at least $calls"
done
pk_start pickupd.yaml
python3 - "$ctl" <<'PY' || fail "the saved change did not survive the restart"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.write(json.dumps({"cmd": "groups", "args": {"number": "*802"}}) + "\n"); f.flush()
r = json.loads(f.readline())
members = {m["user"]: m["rights"] for m in r["result"]["groups"][0]["members"]}
want = {"3002": ["ring"], "3004": ["ring"]}
if {u.split("@")[0]: sorted(v) for u, v in members.items()} != want:
    sys.exit("members of *802 after the restart: %s, expected %s" % (members, want))
PY
pk_stop
pass "a change saved through the control socket is what pickupd loads after a restart"
