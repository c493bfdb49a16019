# SPDX-License-Identifier: MIT
# Sourced (bash): 2 MiB hugepages reserved and a hugetlbfs mounted for one
# run, and given back whatever happens. Used by bench/run-dpdk-huge.sh
# (and its test, test_bench_huge.sh).
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
#
# A holder killed outright (SIGKILL: a test runner's last resort after a
# timeout) cannot give back, but the kernel drops its lock. So the holder
# writes what it took to /run/pk-hugepages.state (its PID, the reservation
# it found, its mount) and removes it in the give-back: a take that gets
# the lock and finds the file gives that holder's pages back first,
# unmounting and removing its directory, and says so on stderr.
PK_HUGE_NR=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
PK_HUGE_LOCK=/run/pk-hugepages.lock
PK_HUGE_STATE=/run/pk-hugepages.state
PK_HUGE_DIR=
PK_HUGE_BEFORE=
PK_HUGE_LOCK_FD=

pk_huge_take() {
  local pages=$1 got
  case $pages in '' | *[!0-9]*) echo "pk_huge_take: not a page count: '$pages'" >&2; return 1 ;; esac
  [ "$(id -u)" = 0 ] || { echo "hugepages: needs root (reservation, hugetlbfs mount)" >&2; return 1; }
  [ -w "$PK_HUGE_NR" ] || { echo "hugepages: no 2 MiB hugepage support ($PK_HUGE_NR)" >&2; return 1; }
  exec {PK_HUGE_LOCK_FD}>"$PK_HUGE_LOCK"
  if ! flock -w 600 "$PK_HUGE_LOCK_FD"; then
    echo "hugepages: another run has held $PK_HUGE_LOCK for 10 minutes" >&2
    exec {PK_HUGE_LOCK_FD}>&-
    PK_HUGE_LOCK_FD=
    return 1
  fi
  [ -s "$PK_HUGE_STATE" ] && pk_huge_recover
  PK_HUGE_BEFORE=$(cat "$PK_HUGE_NR")
  pk_huge_state_write
  echo $((PK_HUGE_BEFORE + pages)) >"$PK_HUGE_NR"
  got=$(cat "$PK_HUGE_NR")
  if [ "$got" -lt $((PK_HUGE_BEFORE + pages)) ]; then
    echo "hugepages: the kernel reserved $((got - PK_HUGE_BEFORE)) of $pages 2 MiB pages (memory fragmented?)" >&2
    return 3
  fi
  PK_HUGE_DIR=$(mktemp -d /tmp/pk-huge.XXXXXX) || return 3
  pk_huge_state_write
  mount -t hugetlbfs -o pagesize=2M nodev "$PK_HUGE_DIR" ||
    { echo "hugepages: could not mount a hugetlbfs on $PK_HUGE_DIR" >&2; return 3; }
  return 0
}

# What this holder took, for a later take should it never give back:
# "PID RESERVATION-FOUND DIR" (DIR empty before the mount's directory).
pk_huge_state_write() {
  echo "$$ $PK_HUGE_BEFORE $PK_HUGE_DIR" >"$PK_HUGE_STATE.tmp" && mv -f "$PK_HUGE_STATE.tmp" "$PK_HUGE_STATE"
}

# A holder's state is on file and we hold the lock: that holder died
# without its give-back. Give back for it.
pk_huge_recover() {
  local pid old dir
  read -r pid old dir <"$PK_HUGE_STATE" || true
  echo "hugepages: run $pid ended without giving its pages back: reservation back to ${old:-?}${dir:+, $dir unmounted}" >&2
  if [ -n "$dir" ] && [ "${dir#/tmp/pk-huge.}" != "$dir" ]; then
    ! mountpoint -q "$dir" || umount "$dir" || echo "hugepages: could not unmount $dir" >&2
    rmdir "$dir" 2>/dev/null || true
  fi
  case $old in
  '' | *[!0-9]*) echo "hugepages: $PK_HUGE_STATE names no reservation; left as it is" >&2 ;;
  *) echo "$old" >"$PK_HUGE_NR" || echo "hugepages: could not set the reservation back to $old" >&2 ;;
  esac
  rm -f "$PK_HUGE_STATE"
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
    rm -f "$PK_HUGE_STATE" # ours: only the lock's holder writes it
    exec {PK_HUGE_LOCK_FD}>&-
    PK_HUGE_LOCK_FD=
  fi
}
