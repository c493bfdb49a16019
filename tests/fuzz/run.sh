#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Run the libFuzzer targets for a while each and say whether any crashed.
#
#   tests/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]
#
# BUILD_DIR is a clang build configured with -Dfuzz=true (see
# tests/fuzz/meson.build); SECONDS (default 20) is how long each target runs; TARGETs
# default to fuzz_scan, fuzz_rewrite and fuzz_net. Each target works in
# BUILD_DIR/fuzz/TARGET/: corpus/ (seeded from the repository's corpora on
# every run and kept between runs, so coverage accumulates), artifacts/
# (crash-*, leak-*, timeout-* inputs) and log. The seeds are not stored
# twice in git: fuzz_scan gets tests/fuzz/corpus_seed, tests/corpus/ordinary,
# tests/corpus/rfc4475 and tests/corpus/fuzz-regress as they are;
# fuzz_rewrite gets the same messages behind a few fixed edit programs (the
# input layout is described at the top of fuzz_rewrite.c); fuzz_net gets
# frames and operations from tests/fuzz/net_seeds.py (the layout is at the
# top of fuzz_net.c).
#
# The targets run at the same time (one process each: a core each on the
# test command's 2-core machines). Prints one line per target and exits 1
# if any target crashed (or could not run), 0 otherwise. A crash line gives the artifact path; reproduce
# with: BUILD_DIR/tests/fuzz/TARGET ARTIFACT.
set -eu

usage() {
	echo "usage: $0 BUILD_DIR [SECONDS] [TARGET...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
build=$(cd "$1" && pwd)
shift
secs=20
if [ $# -ge 1 ]; then
	secs=$1
	shift
fi
case $secs in '' | *[!0-9]*) usage ;; esac
targets=${*:-fuzz_scan fuzz_rewrite fuzz_net}

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
corpora="$here/corpus_seed $src/tests/corpus/ordinary $src/tests/corpus/rfc4475 $src/tests/corpus/fuzz-regress"

# Seed programs for fuzz_rewrite, as hex (the script prepends the length
# byte): response status selector, cap selector, then (opcode, argument)
# pairs. Opcodes (enum op in fuzz_rewrite.c): 00 via_push, 01 via_pop,
# 02 via_received, 03 maxfwd_set, 04 maxfwd_dec, 05 ruri_set, 06 hdr_add,
# 07 hdr_remove, 08 hdr_remove_name, 09 hdr_replace, 0a route_pop,
# 0b body_set.
programs="
forward:0300004104000500
loose_route:01560a000005028304000601
pop_and_answer:09810100070a801b
body:07b10b05090806340801
replace:0a40090009020903090a0700
mixed:11ff0001010002030304050106020702080109040a000b01
many:0000$(printf '00%02x' $(seq 1 30))
"

# hex2bin HEX: write the bytes HEX spells.
hex2bin() {
	h=$1
	while [ -n "$h" ]; do
		b=${h%"${h#??}"}
		h=${h#??}
		# shellcheck disable=SC2059 # the format is the octal escape
		printf "\\$(printf '%03o' "0x$b")"
	done
}

# seed_dir TARGET DIR: fill DIR with the seed inputs of TARGET.
seed_dir() {
	mkdir -p "$2"
	if [ "$1" = fuzz_net ]; then
		python3 "$here/net_seeds.py" "$2"
		return
	fi
	if [ "$1" = fuzz_rewrite ]; then
		# each program's bytes once (beside DIR: prog-NAME), put before every
		# message: hex2bin forks a printf a byte, too slow per input
		for p in $programs; do
			hex=${p#*:}
			hex2bin "$(printf '%02x' $((${#hex} / 2)))$hex" >"${2%/*}/prog-${p%%:*}"
		done
	fi
	for d in $corpora; do
		[ -d "$d" ] || continue
		for f in "$d"/*; do
			[ -f "$f" ] || continue
			case $f in *.md | *.txt) continue ;; esac
			base=$(basename "$f")
			case $1 in
			fuzz_rewrite)
				case $base in scan-*) continue ;; esac
				case $base in rewrite-*)
					cp "$f" "$2/$base"
					continue
					;;
				esac
				for p in $programs; do
					name=${p%%:*}
					cat "${2%/*}/prog-$name" "$f" >"$2/seed-$name-$base"
				done
				;;
			*)
				case $base in rewrite-*) continue ;; esac
				cp "$f" "$2/seed-$base"
				;;
			esac
		done
	done
}

# fuzz_one TARGET: one target's run, its line into BUILD_DIR/fuzz/TARGET/result;
# exit 1 if it crashed or could not run.
fuzz_one() {
	t=$1
	exe="$build/tests/fuzz/$t"
	work="$build/fuzz/$t"
	mkdir -p "$work/artifacts"
	if [ ! -x "$exe" ]; then
		echo "$t: MISSING $exe (configure with CC=clang -Dfuzz=true and build it)" >"$work/result"
		return 1
	fi
	seed_dir "$t" "$work/corpus"
	dict=-dict="$here/sip.dict" # SIP tokens; fuzz_net's inputs are frames
	[ "$t" = fuzz_net ] && dict=
	before=$(find "$work/artifacts" -type f | wc -l)
	rc=0
	# detect_leaks: the targets free what they allocate, a leak is a bug.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		"$exe" -max_total_time="$secs" -max_len=8192 -timeout=10 \
		$dict -artifact_prefix="$work/artifacts/" \
		-print_final_stats=1 "$work/corpus" >"$work/log" 2>&1 || rc=$?
	if [ "$t" = fuzz_net ]; then
		# the EAL's runtime directory of a fuzz_net that trapped (an
		# exit removes its own): pk-fuzz-net-PID, the PID no longer running
		for d in /var/run/dpdk/pk-fuzz-net-* "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/pk-fuzz-net-*; do
			[ -d "$d" ] && ! kill -0 "${d##*-}" 2>/dev/null && rmdir "$d" 2>/dev/null
		done
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	cov=$(grep -a -o 'cov: [0-9]*' "$work/log" | tail -n 1 | cut -d' ' -f2)
	ncorp=$(find "$work/corpus" -type f | wc -l)
	after=$(find "$work/artifacts" -type f | wc -l)
	if [ "$rc" -ne 0 ] || [ "$after" -gt "$before" ]; then
		# shellcheck disable=SC2012 # libFuzzer names them by hash
		art=$(ls -t "$work/artifacts" | head -n 1)
		why=$(grep -a -m 1 -E 'ERROR: |runtime error|invariant violated|deadly signal' "$work/log" |
			sed 's/^[=0-9]*//' | cut -c1-120)
		echo "$t: CRASH after ${runs:-?} runs: ${why:-exit $rc}; input $work/artifacts/$art (log $work/log)" >"$work/result"
		return 1
	fi
	echo "$t: ok, ${secs}s, ${runs:-?} runs, coverage ${cov:-?}, corpus $ncorp inputs" >"$work/result"
}

# The targets run side by side, one a core (each is one process on one
# thread): the step takes SECONDS, not SECONDS per target. The lines come
# out in the targets' order once all have ended.
status=0
pids=
for t in $targets; do
	rm -f "$build/fuzz/$t/result"
	fuzz_one "$t" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p" || status=1
done
for t in $targets; do
	if [ -f "$build/fuzz/$t/result" ]; then
		cat "$build/fuzz/$t/result"
	else
		echo "$t: no result (the run was cut short)"
		status=1
	fi
done
exit $status
