#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The soak test's short form (docs/reliability.md "Soak"): bench/soak.sh
# for 30 s at 10 calls/s of each kind (pickups, answered calls, cancelled
# calls, register/refresh/unregister), with every check of the long run:
# no failed call, RSS flat after the warm-up, the ringing-call table empty
# after the load, the counters consistent. First, the RSS judgement itself
# is shown to fail on a series that grows (so a leak cannot pass unseen).
#
# Usage: test_soak.sh PICKUPD [SECONDS RATE]   (default 30 s, 10 calls/s)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/python.sh" # python3: the interpreter, not a shim
[ $# -ge 1 ] || { echo "usage: $0 PICKUPD [SECONDS RATE]"; exit 2; }

tmp=$(mktemp -d /tmp/pk-soakcheck.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# 60 samples, 100 MiB growing by 256 KiB a sample (a leak of 1 KiB a call at 256 calls a sample): must fail;
# the same series without the growth, with 2 MiB of jitter: must pass
awk 'BEGIN { print "t_s,rss_kib,in_use,tracked,trying,ringing,claimed,registrations,rx,tx,je_allocated,je_resident";
             for (i = 0; i < 60; i++) printf "%d,%d,10,10,0,10,0,3,0,0,0,0\n", i, 102400 + i * 256 }' >"$tmp/leak.csv"
awk 'BEGIN { print "t_s,rss_kib,in_use,tracked,trying,ringing,claimed,registrations,rx,tx,je_allocated,je_resident";
             for (i = 0; i < 60; i++) printf "%d,%d,10,10,0,10,0,3,0,0,0,0\n", i, 102400 + (i % 7) * 300 }' >"$tmp/flat.csv"
if python3 "$here/soakkit.py" flat "$tmp/leak.csv" 10 >"$tmp/out"; then
  cat "$tmp/out"; echo "FAIL: a growing RSS series was judged flat"; exit 1
fi
python3 "$here/soakkit.py" flat "$tmp/flat.csv" 10 >"$tmp/out" ||
  { cat "$tmp/out"; echo "FAIL: a flat RSS series was judged growing"; exit 1; }
echo "ok: the RSS judgement fails a 256 KiB/sample growth and passes 2 MiB of jitter"

# not exec: the EXIT trap must still remove $tmp
"$here/../../bench/soak.sh" --seconds "${2:-30}" --rate "${3:-10}" "$1"
