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
# The socket backend only (a dpdk port has no wildcard listener). Kills
# only what it started (lib.sh).
set -u
PK_BACKEND=socket
. "$(dirname "$0")/lib.sh"
pk_init wildcard "$1"

cp "$PK_CONFIGS/groups.yaml" "$PK_WORK/"
cat >"$PK_WORK/pickupd.yaml" <<'YAML'
listen:
  proxy: "0.0.0.0:0"
workers: 1
groups: groups.yaml
trusted: ["127.0.0.0/8"]
record_route: true
YAML
pk_start pickupd.yaml
pass "ready: proxy on 0.0.0.0:$PK_UDP"

python3 "$PK_LIB_DIR/sipsend.py" wildcard "$PK_UDP" || fail "the wildcard listener's checks"

pk_stop
# the 180 came back to 127.0.0.3: forwarded, nothing dropped as not ours
[ "$(pk_counter drop_resp_not_ours)" -eq 0 ] || fail "a response was dropped as not ours"
[ "$(pk_counter fwd_response)" -eq 1 ] || fail "fwd_response: $(pk_counter fwd_response), not 1"
pass "SIGTERM: exit 0; the 180 forwarded, no response dropped"
