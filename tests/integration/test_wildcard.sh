#!/bin/bash
# SPDX-License-Identifier: MIT
#
# pickupd with its proxy listener on 0.0.0.0 (docs/config.md, `listen`):
# the phones on 127.0.0.1 send to 127.0.0.2 and 127.0.0.3, two other
# addresses of the host. pickupd's answers and what it forwards leave from
# the address the request came to, and its Via and Record-Route name that
# address; the callee's 180, sent to where the INVITE came from (RFC
# 3581), comes back to the caller from the address the caller sent to
# (sipsend.py wildcard).
#
# Usage: test_wildcard.sh PICKUPD
# Needs python3. Kills only what it started.
set -u
pickupd=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/python.sh" # python3: the interpreter, not a shim

work=$(mktemp -d /tmp/pk-wildcard-test.XXXXXX)
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

command -v python3 >/dev/null || fail "python3 not found"

cat >"$work/groups.yaml" <<'YAML'
settings:
  domains: [example.test]
groups:
  - number: "*801"
    members: ["2001", "2002"]
YAML
cat >"$work/pickupd.yaml" <<'YAML'
listen:
  proxy: "0.0.0.0:0"
workers: 1
groups: groups.yaml
trusted: ["127.0.0.0/8"]
record_route: true
YAML

mkfifo "$work/ready"
exec 3<>"$work/ready" # read-write: opening does not block, read -t can time out
"$pickupd" -c "$work/pickupd.yaml" --ready-file "$work/ready" >"$work/pickupd.log" 2>&1 &
pid=$!
port=
while :; do
  read -r -t 10 -u 3 line || fail "no readiness announced within 10 s"
  case $line in
    ready) break ;;
    "udp proxy 0.0.0.0:"*) port=${line##*:} ;;
  esac
done
exec 3<&-
[ -n "$port" ] && [ "$port" != 0 ] || fail "no UDP proxy port on 0.0.0.0 in the ready file"
pass "ready: proxy on 0.0.0.0:$port"

python3 "$here/sipsend.py" wildcard "$port" || fail "the wildcard listener's checks"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "exit status $rc after SIGTERM"
# nothing was dropped as "not ours" (the 180 came back to 127.0.0.3)
! grep -q 'drop_resp_not_ours=' "$work/pickupd.log" || fail "a response was dropped as not ours"
grep -q ' fwd_response=1' "$work/pickupd.log" || fail "the 180 was not forwarded"
pass "SIGTERM: exit 0; the 180 forwarded, no response dropped"
