# SPDX-License-Identifier: MIT
# Sourced (bash): 2 MiB hugepages reserved and a hugetlbfs mounted for one
# run, and given back whatever happens. Used by bench/run-dpdk-huge.sh and
# by tests/integration/lib.sh for the net_af_xdp variants of the SIPp
# suites (PK_DPDK_PMD=af_xdp), which need their mempool in hugepages.
#
#   pk_huge_take PAGES   reserve PAGES more 2 MiB pages and mount a
#                        hugetlbfs of our own on PK_HUGE_DIR (a new
#                        /tmp/pk-huge.XXXXXX). 0; 3 when the kernel gives
#                        fewer pages (fragmented memory) or refuses the
#                        mount; 1 when this machine has no 2 MiB pages or
#                        we are not root. The reason is on stderr.
#   pk_huge_give_back    unmount, remove the directory, set the reservation
#                        back to what it was before pk_huge_take. Safe to
#                        call twice, or without a take.
#
# One holder at a time on the machine (another CI job, another shell): a
# take waits up to 10 minutes for /run/pk-hugepages.lock, held until the
# give-back, because each holder restores the reservation it found.
PK_HUGE_NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
PK_HUGE_DIR=
PK_HUGE_BEFORE=
PK_HUGE_LOCK_FD=

pk_huge_take() {
  local pages=$1 got
  case $pages in '' | *[!0-9]*) echo "pk_huge_take: not a page count: '$pages'" >&2; return 1 ;; esac
  [ "$(id -u)" = 0 ] || { echo "hugepages: needs root (reservation, hugetlbfs mount)" >&2; return 1; }
  [ -w "$PK_HUGE_NR" ] || { echo "hugepages: no 2 MiB hugepage support ($PK_HUGE_NR)" >&2; return 1; }
  exec {PK_HUGE_LOCK_FD}>/run/pk-hugepages.lock
  flock -w 600 "$PK_HUGE_LOCK_FD" ||
    { echo "hugepages: another run has held /run/pk-hugepages.lock for 10 minutes" >&2; return 1; }
  PK_HUGE_BEFORE=$(cat "$PK_HUGE_NR")
  echo $((PK_HUGE_BEFORE + pages)) >"$PK_HUGE_NR"
  got=$(cat "$PK_HUGE_NR")
  if [ "$got" -lt $((PK_HUGE_BEFORE + pages)) ]; then
    echo "hugepages: the kernel reserved $((got - PK_HUGE_BEFORE)) of $pages 2 MiB pages (memory fragmented?)" >&2
    return 3
  fi
  PK_HUGE_DIR=$(mktemp -d /tmp/pk-huge.XXXXXX) || return 3
  mount -t hugetlbfs -o pagesize=2M nodev "$PK_HUGE_DIR" ||
    { echo "hugepages: could not mount a hugetlbfs on $PK_HUGE_DIR" >&2; return 3; }
  return 0
}

pk_huge_give_back() {
  if [ -n "$PK_HUGE_DIR" ]; then
    ! mountpoint -q "$PK_HUGE_DIR" || umount "$PK_HUGE_DIR" ||
      echo "hugepages: could not unmount $PK_HUGE_DIR" >&2
    rmdir "$PK_HUGE_DIR" 2>/dev/null || true
    PK_HUGE_DIR=
  fi
  if [ -n "$PK_HUGE_BEFORE" ]; then
    echo "$PK_HUGE_BEFORE" >"$PK_HUGE_NR" ||
      echo "hugepages: could not give the reservation back to $PK_HUGE_BEFORE" >&2
    PK_HUGE_BEFORE=
  fi
  if [ -n "$PK_HUGE_LOCK_FD" ]; then
    exec {PK_HUGE_LOCK_FD}>&-
    PK_HUGE_LOCK_FD=
  fi
}
