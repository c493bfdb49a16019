#!/bin/sh
# SPDX-License-Identifier: MIT
#
# A profile-guided release build of pickupd and its benchmarks.
#
#   bench/pgo-build.sh BUILD_DIR [--seconds S] [--targets "T ..."] [--no-lto] [meson setup options...]
#
# 1. configures BUILD_DIR as a release build instrumented for profiling
#    (meson's -Db_pgo=generate; an existing meson build directory there is
#    wiped first, anything else at that path is refused);
# 2. builds pk-bench-dpdk and trains: it runs the benchmark's message mix
#    (docs/dpdk.md: calls to group members, 180s, pickups, CANCELs, BYEs,
#    REGISTERs) through one worker of each backend for S seconds (default
#    3; the dpdk backend twice: checksums in software, and left to the
#    wire as to an offloading NIC), with the worker saturated, so that the
#    profile is the one of a loaded worker;
# 3. reconfigures with -Db_pgo=use and builds the targets (default: all of
#    the build) with the profile: GCC lays out the hot paths together and
#    moves the rare ones out of line (the worker's code no longer thrashes
#    the instruction cache: docs/dpdk.md, "A profile-guided build").
# Both builds are link-time optimised (-Db_lto=true), linked by gold: on
# the benchmark's mix 3-4 % more messages a second than the profile alone
# in two rounds of three (docs/dpdk.md, "2026-11-28 (session 12)"). GNU ld
# 2.40's LTO link of pickupd was stopped after 18 minutes of CPU; gold
# links it in seconds. --no-lto leaves LTO out (and lets -Dc_link_args /
# -Dcpp_link_args through, which would replace -fuse-ld=gold). The
# script's options may come anywhere among the meson options.
#
# Why a saturated benchmark rather than pickupd under SIPp: an idle poll-mode
# worker spins on empty receive bursts millions of times a second, so in a
# profile of the daemon under a SIPp load that loop outweighs all message
# handling, which GCC then optimises for size -- measured slower than the
# plain build (docs/dpdk.md). The training mix is the benchmark's own, so a
# benchmark run on this build is measured on the traffic it was trained on;
# docs/dpdk.md says what that means for the figures.
#
# The sources must not change between the two builds (GCC refuses a stale
# profile). Needs what the release build needs plus -Dbench=true's
# dependencies (Google Benchmark); runs the benchmark on EAL --no-huge, no
# root needed. Exit status: 0 built, 1 a step failed.
set -eu

usage() {
	echo "usage: $0 BUILD_DIR [--seconds S] [--targets \"T ...\"] [--no-lto] [meson setup options...]" >&2
	exit 1
}
[ $# -ge 1 ] || usage
build=$1
shift
seconds=3
targets=
lto=true
# The script's own options anywhere in the list; the rest, in their order,
# rotated to the end of "$@" for meson.
n=$#
while [ "$n" -gt 0 ]; do
	arg=$1
	shift
	n=$((n - 1))
	case $arg in
	--no-lto) lto=false ;;
	--seconds | --targets)
		[ "$n" -ge 1 ] || usage
		if [ "$arg" = --seconds ]; then seconds=$1; else targets=$1; fi
		shift
		n=$((n - 1))
		;;
	*) set -- "$@" "$arg" ;;
	esac
done
case $seconds in
'' | *[!0-9]*) echo "$0: --seconds wants a whole number, not '$seconds'" >&2; exit 1 ;;
esac
if [ "$lto" = true ]; then
	command -v ld.gold >/dev/null 2>&1 ||
		{ echo "$0: no ld.gold (Debian's binutils has it) for the LTO link; --no-lto builds without" >&2; exit 1; }
	# meson keeps the last value of an option: the user's link arguments
	# would drop -fuse-ld=gold, and the LTO link with it
	for arg in "$@"; do
		case $arg in
		-Dc_link_args=* | -Dcpp_link_args=*)
			echo "$0: $arg would replace the LTO build's -fuse-ld=gold; add it to them and pass --no-lto, or leave them out" >&2
			exit 1
			;;
		esac
	done
fi
src=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'pgo-build: %s\n' "$*"; }

# -Wno-missing-profile: files the training never runs (the control plane's
# tools, the tests) have no profile; they are built as without one.
# -fprofile-partial-training: code the profile counts as never run is
# optimised as without a profile, not for size and out of line. GCC 12
# loses the counts of most of pk_sip_scan's blocks when it expands it
# (after the inlined start line; the loop's block is counted 4 million
# times in the last GIMPLE dump, 0 after expansion), and did the same in
# pk_registrar_handle, pk_proxy_handle_request and pk_rw_emit: without the
# flag their hot paths were laid in the .cold parts, the scanner's
# header-line loop with its variables on the stack. With it, 2-4 % fewer
# cycles a message on the benchmark's mix, for both backends alike: the
# ratio between them did not move (docs/dpdk.md, "2026-11-29 (session
# 21)").
# An existing BUILD_DIR is wiped: only if it is a meson build directory
# (a mistyped path must not cost a tree).
if [ -e "$build" ]; then
	[ -d "$build/meson-private" ] ||
		{ echo "$0: $build exists and is not a meson build directory: not wiping it" >&2; exit 1; }
	rm -rf "$build"
fi
if [ "$lto" = true ]; then
	set -- -Db_lto=true -Dc_link_args=-fuse-ld=gold -Dcpp_link_args=-fuse-ld=gold "$@"
fi
say "configure $build (b_pgo=generate, b_lto=$lto)"
meson setup "$build" "$src" --buildtype=release -Dbench=true -Db_pgo=generate \
	-Dc_args="-Wno-missing-profile -fprofile-partial-training" \
	-Dcpp_args="-Wno-missing-profile -fprofile-partial-training" "$@" >"$build.setup.log" 2>&1 ||
	{ cat "$build.setup.log" >&2; exit 1; }
mv "$build.setup.log" "$build/pgo-setup.log"
say "build the instrumented benchmark"
ninja -C "$build" bench/pk-bench-dpdk >"$build/pgo-generate.log" 2>&1 ||
	{ tail -30 "$build/pgo-generate.log" >&2; exit 1; }

say "train: pk-bench-dpdk --seconds $seconds (dpdk, dpdk+ol and socket, one saturated worker each)"
"$build/bench/pk-bench-dpdk" --seconds "$seconds" >"$build/pgo-train.log" 2>&1 ||
	{ tail -30 "$build/pgo-train.log" >&2; exit 1; }
# The profile must cover the pipeline: the scanner, the worker, the proxy,
# the pickup handlers, the network layer and the dpdk backend.
missing=
for f in scan.c worker.c proxy.c pickup.c ip4.c dpdk.c calltab.c; do
	find "$build" -name "*$f.gcda" | grep -q . || missing="$missing $f"
done
[ -z "$missing" ] || { echo "$0: the training left no profile for:$missing" >&2; exit 1; }
say "profile: $(find "$build" -name '*.gcda' | wc -l) object files"

say "reconfigure (b_pgo=use) and build ${targets:-everything}"
meson configure "$build" -Db_pgo=use >/dev/null
# shellcheck disable=SC2086 # targets is a list
ninja -C "$build" $targets >"$build/pgo-use.log" 2>&1 || { tail -30 "$build/pgo-use.log" >&2; exit 1; }
say "done: $build (logs: $build/pgo-*.log)"
