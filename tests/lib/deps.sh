#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages pickupd needs to build, test and run,
# when they are missing. Sourced by tests/run-all and control/run-example.
# Needs root (or sudo) only when something is missing.
pk_packages=(
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev
  libdpdk-dev dpdk libosip2-dev libjemalloc-dev libcmocka-dev libbenchmark-dev
  libyaml-dev libjansson-dev sip-tester iproute2 python3
  libmicrohttpd-dev ethtool
)
# Only the test command needs these: pk_install_deps test
pk_test_packages=(
  kamailio # the peer of bench/compare-kamailio (its smoke run is a test)
  # faults-netem without sch_netem: tests/integration/pk_impair.c (built
  # when meson finds the two libraries) and the rules feeding its NFQUEUE
  # (nft's queue, or iptables' NFQUEUE target where the kernel lacks nft_queue)
  libnetfilter-queue-dev libmnl-dev nftables iptables
)

pk_install_deps() { # [test]: the test command's packages too
  local missing=()
  local p all=("${pk_packages[@]}")
  [ "${1:-}" = test ] && all+=("${pk_test_packages[@]}")
  for p in "${all[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}
