#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Reloads of a 1M-membership groups file while SIPp drives pickups through
# pickupd (issue 6: "a reload of a 1M-membership groups file causes no
# failed call under load"; docs/performance.md).
#
# The groups file is pk-gen-groups' 100,000 groups x 10 members over
# 500,000 users (1M memberships, two domains) plus group *801 (2002, 2003)
# that the load uses (bench/sipp/load_*.xml: calls to 2002 picked up by
# 2003 dialling *801). While the load runs, the control socket is asked to
# `reload` again and again (pickupctl reload), each time re-reading and
# re-indexing the whole file on the control thread and publishing it with
# one pointer store. Prints each reload's wall time as pickupctl saw it,
# then the flows and failed flows; exit 1 if any flow failed, a reload
# failed, or pickupd's group count changed.
#
# Usage: bench/reload-under-load.sh [--rate R] [--duration S] [--smoke] BUILD_DIR
#   BUILD_DIR holds pickupd, control/pickupctl and bench/pk-gen-groups
#   (a meson build with -Dbench=true).
#   --rate R       pickup flows per second (default 50)
#   --duration S   seconds of load (default 30)
#   --smoke        10 s at 20 flows/s (the integration suite runs it)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/integration/lib.sh"

rate=50
secs=30
while [ $# -gt 1 ]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --duration) secs=$2; shift 2 ;;
    --smoke) rate=20; secs=10; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
[ $# -eq 1 ] || { sed -n '/^# Usage/,/^#   --smoke/p' "$0"; exit 2; }
build=$(cd "$1" && pwd)
ctl_bin=$build/control/pickupctl
gen=$build/bench/pk-gen-groups
for b in "$build/pickupd" "$ctl_bin" "$gen"; do
  [ -x "$b" ] || { echo "FAIL: $b not built (meson configure -Dbench=true)"; exit 1; }
done

pk_init reload "$build/pickupd"
pk_ports callee caller picker

"$gen" 100000 10 500000 >"$PK_WORK/groups.yaml" || fail "pk-gen-groups"
cat >>"$PK_WORK/groups.yaml" <<'YAML'
  - number: "*801"
    members: ["2002", "2003"]
YAML
cat >"$PK_WORK/pickupd.yaml" <<YAML
listen:
  proxy: "127.0.0.1:0"
workers: 1
groups: groups.yaml
bindings:
  "2002": "sip:2002@127.0.0.1:$(pk_port callee)"
capacity:
  calls: 65536
  groups: 131072
  users: 524288
io:
  socket_buffer: $PK_LOAD_BUF
control_socket: ctl.sock
log:
  level: info
YAML
t0=$(date +%s.%N)
PK_START_TIMEOUT=60 pk_start pickupd.yaml
echo "# pickupd ready with 1M memberships in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
ctl() { "$ctl_bin" -s "$PK_WORK/ctl.sock" --timeout 30 "$@"; }
groups_before=$(ctl --json status >/dev/null && ctl --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["groups"]["memberships"])')
[ "$groups_before" -ge 1000000 ] || fail "pickupd holds $groups_before memberships, expected 1M"

calls=$((rate * secs))
pk_load_sipp callee load_callee.xml "$calls" "$rate" "$secs"
pk_load_sipp caller load_caller.xml "$calls" "$rate" "$secs" -oocsf "$PK_LOAD_SCEN/load_caller_ooc.xml"
pk_load_sipp picker load_picker.xml "$calls" "$rate" "$secs"
reloads=0
bad=0
# reload until the pickers are done (the callers' last calls end later)
while kill -0 "${PK_SIPP_PID[picker]}" 2>/dev/null; do
  r0=$(date +%s.%N)
  if out=$(ctl reload 2>&1); then
    reloads=$((reloads + 1))
    echo "   reload $reloads: $(awk -v a="$r0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s"
  else
    bad=$((bad + 1))
    echo "   reload failed: $out"
  fi
done
for p in caller picker callee; do
  wait "${PK_SIPP_PID[$p]}"
  unset "PK_SIPP_PID[$p]"
done
groups_after=$(ctl --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["groups"]["memberships"])')
failed=$(pk_load_failed "$calls" caller picker callee)
pk_stop
echo "$reloads reloads of 1M memberships under $rate flows/s: $calls flows, $failed failed"
[ "$bad" = 0 ] || fail "$bad reloads failed"
[ "$reloads" -ge 2 ] || fail "only $reloads reloads happened during the load"
[ "$groups_after" = "$groups_before" ] || fail "memberships $groups_before before, $groups_after after"
[ "$failed" = 0 ] || fail "$failed flows failed during the reloads"
[ "$(pk_counter pickup_succeeded)" -ge "$calls" ] || fail "pickup_succeeded = $(pk_counter pickup_succeeded), expected $calls"
echo "ok: no failed flow during $reloads reloads"
