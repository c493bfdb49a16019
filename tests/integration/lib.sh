# SPDX-License-Identifier: MIT
#
# Shared shell helpers of the SIPp integration suites (test_registrar.sh,
# test_proxy.sh, test_pickup.sh, test_malformed.sh) and of the load test
# (bench/load-pickup.sh). Sourced, not run; docs/testing.md explains the
# machinery. What it gives a script:
#
#   pk_init NAME PICKUPD        work directory, cleanup trap, event FIFO,
#                               a pool of free ports
#   pk_port PEER                the port of a named peer (allocated once)
#   pk_conf TEMPLATE [K=V...]   configs/TEMPLATE with @K@ replaced, written
#                               into the work directory (+ groups files)
#   pk_start CONF               start pickupd, wait for its ready FIFO;
#                               sets PK_PID, PK_UDP (proxy port), PK_TCP
#   pk_stop                     SIGTERM, exit status 0 required; the log
#                               stays for pk_counter
#   pk_counter NAME             sum of NAME=value over pickupd's counter lines
#   sipp_start PEER SCEN ARGS   SIPp in the background on the peer's port,
#                               with message/error logs in the work dir;
#                               returns once its socket is bound
#   sipp_wait PEER [STATUS]     wait for it (SIPp's own -timeout bounds the
#                               wait); its exit status must be STATUS (0)
#   ev_wait PEER WHAT [SECS]    wait for an event a scenario wrote into the
#                               event FIFO (<exec command="echo [peer] WHAT
#                               | dd of=[ev] oflag=nonblock">: non-blocking,
#                               so that a late writer never hangs on a FIFO
#                               nobody reads any more); ev_wait_re: by regexp
#   kick PEER CALLID WHAT       tell a scenario waiting for an INFO to go on
#   expect PEER DIR START NTH WHAT REGEXP [OCC]
#                               assert on a message in PEER's SIPp log
#                               (pkit.py expect); expect_many: several at
#                               once; expect_count; msg, hdr, count: queries
#   pass / fail / note          reporting
#
# Everything runs on loopback. Every process started is remembered by PID
# and only those are stopped by the cleanup; a timeout or Ctrl-C still
# runs it. Set PK_KEEP=1 to keep the work directory (logs) afterwards.
#
# PK_BACKEND=dpdk runs the same scripts against pickupd on its dpdk backend
# (docs/testing.md): pk_init makes a network namespace and a veth pair of
# its own (names from the PID; deleted by the cleanup whatever happens),
# pickupd serves the root end through DPDK's net_af_packet (--no-huge, a
# file prefix of its own) at PK_PROXY_IP, and every peer (SIPp, pkit.py,
# ss) runs in the namespace (PK_NSX, "ip netns exec NS") at PK_IP and
# PK_IP2. pk_conf and pk_backend_conf rewrite a configuration's listen: and
# io: sections for it. Without root, iproute2, ethtool or a pickupd built
# with the backend, pk_init exits 77 (skipped). Addresses the scripts use:
#   PK_PROXY_IP  pickupd's (127.0.0.1 / 10.99.N.1)
#   PK_IP        the phones' (127.0.0.1 / 10.99.N.2)
#   PK_IP2       a second one for the untrusted-source cases (127.0.0.2 /
#                10.99.N.3)
#   PK_NET       a trusted network holding all of them (127.0.0.0/8 /
#                10.99.N.0/24)
#   PK_IP_RX, PK_IP2_RX, PK_PROXY_RX  the same as regexps
# and, in templates, @PK_IP@, @PK_IP2@, @PK_PROXY_IP@, @PK_NET@.
# pk_has_tcp CASE tells whether TCP cases can run (not on dpdk: it says
# the case is skipped).

set -u

PK_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$PK_LIB_DIR/../lib/python.sh" # python3: the interpreter, not a shim
PK_SCEN=$PK_LIB_DIR/sipp
PK_CONFIGS=$PK_LIB_DIR/configs
PK_PY="python3 -S $PK_LIB_DIR/pkit.py"
# The address the tests' peers use, and a second loopback address that a
# configuration can leave out of its trusted networks.
PK_BACKEND=${PK_BACKEND:-socket}
PK_IP=127.0.0.1
PK_IP2=127.0.0.2
PK_PROXY_IP=127.0.0.1
PK_NET=127.0.0.0/8
# dpdk: the namespace (PK_NS), its veth pair (PK_VETH: pickupd's end in the
# root namespace, PK_VETH_NS: the peers'), the EAL file prefix, and the
# command prefix running a peer in the namespace (PK_NSX; empty: socket).
PK_NS=
PK_VETH=
PK_VETH_NS=
PK_EAL_PREFIX=
PK_NSX=()
if [ "$PK_BACKEND" = dpdk ]; then
  PK_NET_N=$(($$ % 250 + 1))
  PK_PROXY_IP=10.99.$PK_NET_N.1
  PK_IP=10.99.$PK_NET_N.2
  PK_IP2=10.99.$PK_NET_N.3
  PK_NET=10.99.$PK_NET_N.0/24
fi
PK_IP_RX=${PK_IP//./\\.}
PK_IP2_RX=${PK_IP2//./\\.}
PK_PROXY_RX=${PK_PROXY_IP//./\\.}
export PK_IP PK_IP2 PK_PROXY_IP # pkit.py's addresses
# Every SIPp instance ends by itself within this many seconds (-timeout
# with -timeout_error); waits on them are therefore bounded. Generous: a
# loaded machine (several suites at once, sanitizer builds) must not turn
# a slow driver into a failure; a failing test stops waiting on its own
# events much earlier (ev_wait, 30 s).
PK_SIPP_TIMEOUT=${PK_SIPP_TIMEOUT:-120}
# A scenario waiting for a message gives up after this many ms.
PK_RECV_TIMEOUT=${PK_RECV_TIMEOUT:-60000}

PK_PID=
PK_PKIT_PID=
PK_WORK=
declare -A PK_PORTS=()
declare -A PK_SIPP_PID=()
PK_FREE=()
PK_EV_SEEN=()
PK_CASE=

pk_cleanup() {
  local p
  for p in "${PK_SIPP_PID[@]}"; do
    kill -TERM "$p" 2>/dev/null
  done
  if [ -n "$PK_PID" ] && kill -0 "$PK_PID" 2>/dev/null; then
    kill -KILL "$PK_PID" 2>/dev/null
    # dpdk: gone before its EAL files and port are removed below
    [ -z "$PK_NS" ] || wait "$PK_PID" 2>/dev/null
  fi
  for p in "${PK_SIPP_PID[@]}"; do
    wait "$p" 2>/dev/null
  done
  exec 7>&- 2>/dev/null
  if [ -n "$PK_PKIT_PID" ]; then kill "$PK_PKIT_PID" 2>/dev/null; fi
  if [ -n "$PK_NS" ]; then
    ip link del "$PK_VETH" 2>/dev/null
    ip netns del "$PK_NS" 2>/dev/null
    rm -rf "/var/run/dpdk/$PK_EAL_PREFIX"
  fi
  if [ -n "$PK_WORK" ] && [ "${PK_KEEP:-0}" != 1 ]; then
    rm -rf "$PK_WORK"
  elif [ -n "$PK_WORK" ]; then
    echo "logs kept in $PK_WORK"
  fi
}

# ---- the dpdk backend (PK_BACKEND=dpdk) ----

# Exits 77 (skipped, with the reason) unless this machine can run the
# suites on the dpdk backend: root (namespaces, veth, AF_PACKET), ip,
# ethtool. Whether pickupd has the backend is checked by pk_dpdk_net.
pk_dpdk_check() {
  local c
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: PK_BACKEND=dpdk needs root (network namespace, veth, AF_PACKET)"
    exit 77
  fi
  for c in ip ethtool; do
    command -v $c >/dev/null || { echo "SKIP: PK_BACKEND=dpdk needs $c (Debian: iproute2, ethtool)"; exit 77; }
  done
}

# pk_netns_sweep: the network namespaces that test runs killed outright
# left behind, deleted, with their EAL run directories. A runner's timeout
# ends with SIGKILL (meson test: SIGTERM to the process group, then SIGKILL
# half a second later), before a script's cleanup is done. The scripts
# name their namespaces after their PID (pk-sipp-PID, pk-dpdk-PID,
# pk-dpa-PID, pk-dpb-PID, pkfPID, pkfpPID); one whose PID no longer runs
# is a dead run's.
# Deleting a namespace deletes the veth end in it, and with it the pair.
pk_netns_sweep() {
  local ns pid st
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    case $ns in
      pk-sipp-[0-9]* | pk-dpdk-[0-9]* | pk-dpa-[0-9]* | pk-dpb-[0-9]* | pkf[0-9]* | pkfp[0-9]*) pid=${ns##*[!0-9]} ;;
      *) continue ;;
    esac
    [[ $pid =~ ^[0-9]+$ ]] || continue # digits, then something else
    # alive unless gone or a zombie (killed, not yet reaped)
    st=
    [ -r "/proc/$pid/stat" ] && read -r _ _ st _ <"/proc/$pid/stat" 2>/dev/null
    [ -n "$st" ] && [ "$st" != Z ] && continue
    if ip netns del "$ns" 2>/dev/null; then
      echo "   removed namespace $ns, left by a test run (PID $pid) that no longer runs"
      rm -rf "/var/run/dpdk/$ns"
    fi
  done
}

# The plumbing of a veth pair into a namespace, both already made: PEER
# moved into NS and up with the addresses given, NS's lo up, HOST up in the
# root namespace (no address), and PEER's TX checksum offload off: veth
# leaves UDP checksums to the receiver, and a DPDK port on HOST would see
# them unfinished and drop every datagram (docs/dpdk.md). Any step that
# fails ends the test (the caller's `fail`).
# pickupd BIN on CONF in the background, its log DIR/pickupd.log, until it
# says "ready" on its ready FIFO (DIR/ready): its PID in `pid` (the
# caller's variable, which its cleanup kills), the lines it announced
# before in PK_READY ("line;line;"). No "ready" within 30 s ends the test
# (the caller's `fail`). For the scripts that build their own
# configuration; the others have pk_start.
pk_start_ready() { # BIN CONF DIR
  local line
  PK_READY=
  rm -f "$3/ready"
  mkfifo "$3/ready"
  exec 3<>"$3/ready"
  "$1" -c "$2" --ready-file "$3/ready" >"$3/pickupd.log" 2>&1 &
  pid=$!
  while :; do
    read -r -t 30 -u 3 line || fail "pickupd: no readiness within 30 s"
    [ "$line" = ready ] && break
    PK_READY+="$line;"
  done
  exec 3<&-
}

# pickupd BIN's --check of CONF, a configuration of the dpdk backend:
# accepted; or the test skipped (exit 77) when this pickupd has no dpdk
# backend; or failed (the caller's `fail`) with WHAT and pickupd's reason.
pk_check_dpdk() { # BIN CONF WHAT
  local chk
  chk=$("$1" --check -c "$2" 2>&1) && return 0
  case $chk in
    *"not available"* | *"unknown backend"* | *"not built"*)
      echo "SKIP: this pickupd has no dpdk backend: $chk"
      exit 77 ;;
  esac
  fail "$3: $chk"
}

# The pickupd pk_start_ready started (PID in `pid`) stopped by SIGTERM:
# gone within 20 s, exit status 0, "stopped" in DIR/pickupd.log; `pid`
# emptied. Anything else ends the test (the caller's `fail`).
pk_stop_ready() { # DIR
  local i rc
  kill -TERM "$pid"
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && fail "pickupd still runs 20 s after SIGTERM"
  wait "$pid"
  rc=$?
  pid=
  [ "$rc" = 0 ] || fail "pickupd exit status $rc after SIGTERM"
  grep -q "info: stopped" "$1/pickupd.log" || fail "pickupd did not stop cleanly"
}

# SIPp in namespace NS registers user 2004 from IP:5090 with pickupd at
# SERVER (sipp/register.xml, Call-ID CALLID, its messages in DIR/reg.msg):
# the 200 must list the binding. A failure ends the test (the caller's
# `fail`).
pk_netns_register() { # NS SERVER IP CALLID DIR
  local ns=$1 server=$2 ip=$3 cid=$4 dir=$5
  ip netns exec "$ns" timeout -k 5 40 sipp "$server" -sf "$PK_LIB_DIR/sipp/register.xml" -t u1 \
    -i "$ip" -p 5090 -m 1 -nostdin -timeout 30s -timeout_error \
    -cid_str "$cid" -key domain example.test -key user 2004 -key seq 1 \
    -key h1 "Contact: <sip:2004@$ip:5090>" -key h2 "Expires: 600" -key peer reg \
    -trace_msg -message_file "$dir/reg.msg" >"$dir/reg.out" 2>&1 || fail "SIPp REGISTER"
  grep -q '^SIP/2.0 200 OK' "$dir/reg.msg" || fail "REGISTER not answered 200"
  grep -qF "Contact: <sip:2004@$ip:5090>;expires=" "$dir/reg.msg" ||
    fail "the 200 does not list the binding"
}

pk_netns_veth() { # NS HOST PEER ADDR/LEN...
  local ns=$1 host=$2 peer=$3 a
  shift 3
  ip link set "$peer" netns "$ns" || fail "veth $peer into $ns"
  ip link set "$host" up || fail "veth $host up"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link set "$peer" up || fail "veth $peer up"
  for a in "$@"; do
    ip netns exec "$ns" ip addr add "$a" dev "$peer" || fail "address $a on $peer"
  done
  ip netns exec "$ns" ethtool -K "$peer" tx off >/dev/null || fail "ethtool -K $peer tx off"
}

# The namespace and veth pair of this run (names from the PID: two live
# runs never share them; what a killed run with the same PID left is
# removed first), the peers' addresses in the namespace, PK_PY and PK_NSX
# pointed into it. Exits 77 when this pickupd has no dpdk backend.
pk_dpdk_net() {
  local tag=$$ chk
  PK_EAL_PREFIX=pk-sipp-$tag
  PK_VETH=pks${tag}a
  PK_VETH_NS=pks${tag}b
  cp "$PK_CONFIGS/groups.yaml" "$PK_WORK/probe-groups.yaml"
  pk_backend_conf_text >"$PK_WORK/probe.yaml" <<'YAML'
listen:
  proxy: "127.0.0.1:0"
workers: 1
groups: probe-groups.yaml
control_socket: none
YAML
  pk_check_dpdk "$PK_BIN" "$PK_WORK/probe.yaml" "the dpdk probe configuration is refused"
  rm -f "$PK_WORK/probe.yaml" "$PK_WORK/probe-groups.yaml"
  PK_NS=pk-sipp-$tag
  pk_netns_sweep
  ip link del "$PK_VETH" 2>/dev/null
  ip netns del "$PK_NS" 2>/dev/null
  # a machine (container) that cannot make them cannot run these: skipped
  if ! chk=$(ip netns add "$PK_NS" 2>&1); then
    echo "SKIP: PK_BACKEND=dpdk: cannot create a network namespace: $chk"
    exit 77
  fi
  if ! chk=$(ip link add "$PK_VETH" type veth peer name "$PK_VETH_NS" 2>&1); then
    echo "SKIP: PK_BACKEND=dpdk: cannot create a veth pair: $chk"
    exit 77
  fi
  # pickupd's end has no address of the kernel's: quiet (no IPv6 chatter)
  sysctl -qw "net.ipv6.conf.$PK_VETH.disable_ipv6=1" 2>/dev/null
  pk_netns_veth "$PK_NS" "$PK_VETH" "$PK_VETH_NS" "$PK_IP/24" "$PK_IP2/24"
  PK_NSX=(ip netns exec "$PK_NS")
  PK_PY="${PK_NSX[*]} $PK_PY"
}

# pk_backend_conf_text: a configuration on stdin, on stdout as the backend
# needs it. socket: unchanged. dpdk: the listen: section becomes UDP-only
# listeners at PK_PROXY_IP (proxy on 5060, app on 5075 if the section had
# an app role), the io: section the dpdk backend's: net_af_packet on
# PK_VETH with one queue per worker (workers: N, 1 if absent), frames and
# mbufs for 16 KB datagrams (the kernel reassembles fragments before
# af_packet sees them), EAL --no-huge with this run's file prefix, every
# lcore on the CPUs PK_DPDK_CPUS (default: the last one): the workers
# busy-poll, and the peers need a CPU of their own. PK_DPDK_PMD=af_xdp:
# net_af_xdp on PK_VETH instead, one worker (DPDK 22.11's PMD takes one
# queue on a veth, which has no combined channels), on --no-huge too
# (docs/dpdk.md, "On net_af_xdp": the mbuf pool packed, so that the
# PMD's umem covers it).
pk_backend_conf_text() {
  if [ "$PK_BACKEND" != dpdk ]; then cat; return; fi
  awk -v ip="$PK_PROXY_IP" -v veth="$PK_VETH" -v prefix="$PK_EAL_PREFIX" -v pmd="${PK_DPDK_PMD:-af_packet}" \
    -v cpus="${PK_DPDK_CPUS:-$(($(nproc) - 1))}" '
    function flush_listen() {
      print "listen:"
      print "  proxy:"
      print "    udp: \"" ip ":5060\""
      if (app) { print "  app:"; print "    udp: \"" ip ":5075\"" }
    }
    { lines[NR] = $0 }
    /^workers:/ { w = $2 + 0; if (pmd == "af_xdp") { w = 1; lines[NR] = "workers: 1" } }
    END {
      if (w < 1) w = 1
      sect = ""
      for (i = 1; i <= NR; i++) {
        l = lines[i]
        if (l ~ /^[A-Za-z_]/) {
          if (sect == "listen") flush_listen()
          sect = l; sub(/:.*/, "", sect)
          if (sect == "listen") { app = 0; continue }
          if (sect == "io") { io = 1; continue }
        }
        if (sect == "listen") { if (l ~ /^ +app:/) app = 1; continue }
        if (sect == "io") continue
        print l
      }
      if (sect == "listen") flush_listen()
      print "io:"
      print "  backend: dpdk"
      print "  dpdk:"
      printf "    eal: [--no-huge, -m, \"%d\", --no-pci, --no-shconf, --file-prefix, %s,\n", 256 + 128 * w, prefix
      printf "          --lcores, \"(0-%d)@(%s)\", --log-level, error,\n", w, cpus
      if (pmd == "af_xdp") {
        printf "          --vdev, \"net_af_xdp0,iface=%s,start_queue=0,queue_count=%d\"]\n", veth, w
        print "    port: net_af_xdp0"
      } else {
        printf "          --vdev, \"net_af_packet0,iface=%s,qpairs=%d,framesz=16384,blocksz=16384\"]\n", veth, w
        print "    port: net_af_packet0"
        print "    data_room: 16512"
      }
    }'
}

# pk_backend_conf FILE: FILE rewritten in place for the backend (above).
pk_backend_conf() {
  [ "$PK_BACKEND" = dpdk ] || return 0
  pk_backend_conf_text <"$1" >"$1.tmp" && mv "$1.tmp" "$1"
}

# pk_has_tcp CASE: true where SIP over TCP can be tested; on dpdk (UDP
# only) it says that CASE is skipped and returns 1.
pk_has_tcp() {
  [ "$PK_BACKEND" = dpdk ] || return 0
  echo "skip: $1: needs SIP over TCP, which the dpdk backend does not serve"
  return 1
}

pk_init() { # name pickupd
  PK_NAME=$1
  PK_BIN=$(realpath "$2")
  command -v sipp >/dev/null || { echo "FAIL: sipp not found: install the Debian package sip-tester"; exit 1; }
  command -v python3 >/dev/null || { echo "FAIL: python3 not found"; exit 1; }
  command -v ss >/dev/null || { echo "FAIL: ss not found: install the Debian package iproute2"; exit 1; }
  case $PK_BACKEND in
    socket) ;;
    dpdk) pk_dpdk_check ;;
    *) echo "FAIL: PK_BACKEND=$PK_BACKEND: socket or dpdk"; exit 1 ;;
  esac
  PK_WORK=$(mktemp -d "/tmp/pk-$PK_NAME.XXXXXX")
  trap pk_cleanup EXIT
  trap 'exit 1' INT TERM HUP
  [ "$PK_BACKEND" = socket ] || pk_dpdk_net
  mkfifo "$PK_WORK/events"
  # read-write: opening does not block, and the scenarios' writers never
  # block either since a reader always exists
  exec 7<>"$PK_WORK/events"
  read -r -a PK_FREE <<<"$($PK_PY ports 48)" || fail "no free ports"
  [ "${#PK_FREE[@]}" -eq 48 ] || fail "no free ports"
  # one Python for all the log queries (pk_py)
  coproc PKIT { exec "${PK_NSX[@]}" python3 -S "$PK_LIB_DIR/pkit.py" serve; }
  PK_PKIT_PID=$PKIT_PID
  if [ -n "$PK_NS" ]; then
    # answering means it runs, in the namespace: pk_udp_bound reads the
    # namespace's socket table through its /proc entry
    pk_py count /dev/null sent . >/dev/null || fail "pkit.py co-process did not start"
  fi
}

# pk_py ARGS...: pkit.py ARGS through the co-process; for expect-many, the
# SPEC is read from stdin. Prints the output, returns the exit status.
pk_py() {
  local line rc='' req
  if [ "$1" = expect-many ]; then
    local spec
    spec=$(cat)
    set -- "$@" "${spec//$'\n'/$'\x1e'}"
  fi
  req=$(IFS=$'\x1f'; printf '%s' "$*")
  printf '%s\n' "$req" >&"${PKIT[1]}" || { echo "pkit co-process gone"; return 1; }
  while IFS= read -r line <&"${PKIT[0]}"; do
    case $line in
      $'\x04'*) rc=${line#$'\x04'}; break ;;
    esac
    printf '%s\n' "$line"
  done
  return "${rc:-1}"
}

note() { echo "   $*"; }
pass() { echo "ok: $*"; }

# Prints what helps to understand a failure: pickupd's log and the SIPp
# logs of the current case, then exits 1.
fail() {
  echo "FAIL: ${PK_CASE:+[$PK_CASE] }$*"
  if [ "$BASHPID" != "$$" ]; then
    # in a subshell ($(...)): stop the test itself, whose traps clean up
    kill -TERM $$
    exit 1
  fi
  local f
  if [ -n "$PK_WORK" ]; then
    for f in "$PK_WORK"/*.err "$PK_WORK"/*.log; do
      [ -s "$f" ] || continue
      [ "$(basename "$f")" = pickupd.log ] && continue
      echo "--- $(basename "$f")"
      tail -n 30 "$f"
    done
    if [ -f "$PK_WORK/pickupd.log" ]; then
      # stop pickupd first: it logs its counters when it stops
      if [ -n "$PK_PID" ] && kill -TERM "$PK_PID" 2>/dev/null; then
        local i
        for ((i = 0; i < 50; i++)); do
          kill -0 "$PK_PID" 2>/dev/null || break
          sleep 0.1
        done
      fi
      echo "--- pickupd.log"
      tail -n 40 "$PK_WORK/pickupd.log"
    fi
  fi
  exit 1
}

# The start of a test case: names it in failure messages.
case_begin() { PK_CASE=$1; }

pk_port() { # peer: its port, allocated from the pool on first use
  local peer=$1
  if [ -z "${PK_PORTS[$peer]:-}" ]; then
    [ "${#PK_FREE[@]}" -gt 0 ] || fail "port pool exhausted"
    PK_PORTS[$peer]=${PK_FREE[0]}
    PK_FREE=("${PK_FREE[@]:1}")
  fi
  echo "${PK_PORTS[$peer]}"
}

# Ports are handed out in the parent shell (a $(pk_port x) subshell could
# not record them): call this for every peer before using $(pk_port x).
pk_ports() {
  local peer
  for peer in "$@"; do pk_port "$peer" >/dev/null; done
}

# ---- pickupd ----

# pk_conf TEMPLATE OUT [KEY=VALUE...]: configs/TEMPLATE with every @KEY@
# replaced (and @PORT_peer@ by that peer's port, @PK_IP@, @PK_IP2@,
# @PK_PROXY_IP@, @PK_NET@ by the addresses), written to the work
# directory as OUT (for the backend: pk_backend_conf_text), next to
# copies of the groups files.
pk_conf() {
  local tpl=$1 out=$2 kv k v
  shift 2
  local sedargs=()
  for kv in "$@"; do
    k=${kv%%=*}; v=${kv#*=}
    sedargs+=(-e "s|@$k@|$v|g")
  done
  for k in "${!PK_PORTS[@]}"; do
    sedargs+=(-e "s|@PORT_$k@|${PK_PORTS[$k]}|g")
  done
  sedargs+=(-e "s|@PK_IP@|$PK_IP|g" -e "s|@PK_IP2@|$PK_IP2|g"
    -e "s|@PK_PROXY_IP@|$PK_PROXY_IP|g" -e "s|@PK_NET@|$PK_NET|g")
  cp "$PK_CONFIGS"/groups*.yaml "$PK_WORK/"
  sed "${sedargs[@]}" "$PK_CONFIGS/$tpl" | pk_backend_conf_text >"$PK_WORK/$out"
  if grep -v '^ *#' "$PK_WORK/$out" | grep '@[A-Za-z_0-9]*@'; then
    fail "$tpl: placeholders left unreplaced"
  fi
  local chk
  chk=$("$PK_BIN" --check -c "$PK_WORK/$out" 2>&1) || fail "configuration refused: $chk"
}

pk_start() { # conf (in the work dir)
  local line
  rm -f "$PK_WORK/ready"
  mkfifo "$PK_WORK/ready"
  exec 3<>"$PK_WORK/ready"
  "$PK_BIN" -c "$PK_WORK/$1" --ready-file "$PK_WORK/ready" >"$PK_WORK/pickupd.log" 2>&1 &
  PK_PID=$!
  PK_UDP=; PK_TCP=; PK_UDP_APP=
  while :; do
    read -r -t "${PK_START_TIMEOUT:-10}" -u 3 line ||
      fail "pickupd: no readiness announced within ${PK_START_TIMEOUT:-10} s"
    case $line in
      ready) break ;;
      "udp proxy "*) [ -n "$PK_UDP" ] || PK_UDP=${line##*:} ;;
      "tcp proxy "*) [ -n "$PK_TCP" ] || PK_TCP=${line##*:} ;;
      "udp app "*) [ -n "$PK_UDP_APP" ] || PK_UDP_APP=${line##*:} ;;
    esac
  done
  exec 3<&-
  [ -n "$PK_UDP" ] || fail "pickupd: no UDP proxy port in the ready file"
}

pk_alive() { kill -0 "$PK_PID" 2>/dev/null; }

pk_stop() {
  pk_alive || fail "pickupd is gone (crashed?)"
  kill -TERM "$PK_PID"
  wait "$PK_PID"
  local rc=$?
  PK_PID=
  [ $rc -eq 0 ] || fail "pickupd: exit status $rc after SIGTERM"
}

pk_counter() { # name: the sum over all workers' counter lines
  grep -o " $1=[0-9]*" "$PK_WORK/pickupd.log" | awk -F= '{ s += $2 } END { print s + 0 }'
}

# ---- SIPp ----

# pk_udp_bound IP PORT: is a UDP socket bound there? (ss; on dpdk the
# namespace's table, read through the pkit co-process's /proc/PID/net/udp
# without starting anything in the namespace)
pk_udp_bound() {
  if [ -z "$PK_NS" ]; then
    [ -n "$(ss -Hlun "src $1:$2")" ]
    return
  fi
  local a b c d
  IFS=. read -r a b c d <<<"$1"
  grep -q "^ *[0-9]*: $(printf '%02X%02X%02X%02X:%04X' "$d" "$c" "$b" "$a" "$2") " \
    "/proc/$PK_PKIT_PID/net/udp"
}

# Waits until something is bound to UDP port $2 on $1, or the process $3
# has exited. SIPp has no readiness signal of its own, so this looks at the
# socket table (ss), a few ms at a time, for 10 s at most.
pk_wait_bound() { # ip port pid
  local i
  for ((i = 0; i < 1000; i++)); do
    if pk_udp_bound "$1" "$2"; then return 0; fi
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# Waits until nothing is bound to UDP port $2 on $1 any more, 10 s at most:
# an <exec> child of the peer's previous SIPp (echo | dd into the event
# FIFO) inherits its socket and may outlive it for a moment on a loaded
# machine; the next SIPp on that port would fail to bind (EADDRINUSE).
pk_wait_free() { # ip port
  local i
  for ((i = 0; i < 1000; i++)); do
    if ! pk_udp_bound "$1" "$2"; then return 0; fi
    sleep 0.01
  done
  return 1
}

# sipp_start PEER SCENARIO [REMOTE] [ARGS...]: one SIPp instance for PEER,
# on its port, talking to REMOTE ("host:port", default pickupd's UDP proxy
# port); from PK_IP, or PK_SRC (PK_SRC=$PK_IP2 sipp_start ...).
# Logs: PEER.msg (-trace_msg), PEER.err (unexpected messages), PEER.log
# (<log> actions, warnings), PEER.out (the screen). Keys every scenario may
# use: [ev] (the event FIFO), [peer] (PEER's tag: its name and a sequence
# number, unique in the run, so that a late event of an earlier instance
# is never taken for this one's), [domain]. One call (-m 1) unless ARGS
# have -m. Returns once SIPp's socket is bound (or SIPp has already ended:
# sipp_wait tells how).
PK_SEQ=0
declare -A PK_TAG=()
sipp_start() {
  local peer=$1 scen=$2
  shift 2
  local remote="$PK_PROXY_IP:$PK_UDP" ip=${PK_SRC:-$PK_IP} a port
  case ${1:-} in [0-9]*:[0-9]*) remote=$1; shift ;; esac
  pk_port "$peer" >/dev/null
  port=${PK_PORTS[$peer]}
  local mflag=(-m 1)
  for a in "$@"; do [ "$a" = "-m" ] && mflag=(); done
  PK_SEQ=$((PK_SEQ + 1))
  PK_TAG[$peer]="$peer-$PK_SEQ"
  rm -f "$PK_WORK/$peer".{msg,err,log,out}
  pk_wait_free "$ip" "$port" || note "$ip:$port still bound by another process"
  timeout -k 5 $((PK_SIPP_TIMEOUT + 10)) "${PK_NSX[@]}" \
    sipp "$remote" -sf "$PK_SCEN/$scen" -t u1 -i "$ip" -p "$port" "${mflag[@]}" -nostdin \
    -timeout "${PK_SIPP_TIMEOUT}s" -timeout_error -recv_timeout "$PK_RECV_TIMEOUT" \
    -trace_msg -message_file "$PK_WORK/$peer.msg" \
    -trace_err -error_file "$PK_WORK/$peer.err" \
    -trace_logs -log_file "$PK_WORK/$peer.log" \
    -key ev "$PK_WORK/events" -key peer "${PK_TAG[$peer]}" -key domain example.test \
    "$@" >"$PK_WORK/$peer.out" 2>&1 &
  PK_SIPP_PID[$peer]=$!
  if ! pk_wait_bound "$ip" "$port" "${PK_SIPP_PID[$peer]}"; then
    # ended already: a short scenario (one request, one answer) may be
    # over before a look at the socket table sees it; sipp_wait judges
    # its exit status. Not starting at all is this function's failure.
    if kill -0 "${PK_SIPP_PID[$peer]}" 2>/dev/null ||
      grep -qs "Unable to bind" "$PK_WORK/$peer.err" "$PK_WORK/$peer.out"; then
      fail "SIPp $peer ($scen) did not start on $ip:$port"
    fi
  fi
}

# sipp_wait PEER [STATUS]: waits for PEER's SIPp (bounded by its own
# -timeout and the timeout(1) around it); fails unless it exits with
# STATUS (default 0: every call succeeded).
sipp_wait() {
  local peer=$1 want=${2:-0} rc
  local pid=${PK_SIPP_PID[$peer]:-}
  [ -n "$pid" ] || fail "sipp_wait: no SIPp $peer"
  wait "$pid"
  rc=$?
  unset "PK_SIPP_PID[$peer]"
  if [ "$rc" != "$want" ]; then
    echo "--- $peer.out"; tail -n 25 "$PK_WORK/$peer.out"
    [ -s "$PK_WORK/$peer.log" ] && { echo "--- $peer.log"; cat "$PK_WORK/$peer.log"; }
    echo "--- $peer.msg (last messages)"; tail -n 60 "$PK_WORK/$peer.msg" 2>/dev/null
    fail "SIPp $peer exited with $rc, expected $want"
  fi
}

# ev_wait PEER WHAT [SECONDS (30)]: waits until PEER's current SIPp instance
# has written "TAG WHAT" into the event FIFO (an event read earlier counts:
# the order in which independent peers report does not matter).
ev_wait() {
  local want="${PK_TAG[$1]:-$1} $2" secs=${3:-30} line e
  for e in "${PK_EV_SEEN[@]}"; do
    [ "$e" = "$want" ] && return 0
  done
  local deadline=$((SECONDS + secs))
  while :; do
    local left=$((deadline - SECONDS))
    [ $left -gt 0 ] || fail "event '$want' did not come within $secs s (seen: ${PK_EV_SEEN[*]:-none})"
    if read -r -t "$left" -u 7 line; then
      PK_EV_SEEN+=("$line")
      [ "$line" = "$want" ] && return 0
    fi
  done
}

kick() { # peer callid what
  pk_py kick "$(pk_port "$1")" "$2" "$3"
}

# ---- assertions on the SIPp message logs ----

# expect PEER DIR START NTH WHAT REGEXP [OCC]: in PEER's log, the NTH
# message sent/received (DIR) whose first line matches START; WHAT is
# "line" or a header name (occurrence OCC, or "none" for absent). REGEXP
# must match the whole value (Python syntax).
expect() {
  local peer=$1
  shift
  pk_py expect "$PK_WORK/$peer.msg" "$@" || fail "$peer: $1 $2 #$3: $4 does not match"
}

# expect_many PEER DIR START NTH <<SPEC: several assertions on one message,
# in one go (pkit.py expect-many: "WHAT OCC REGEXP", "WHAT count N",
# "WHAT none", "WHAT same PEER2 DIR2 START2 NTH2" per line).
expect_many() {
  pk_py expect-many "$PK_WORK" "$@" || fail "$1: $2 $3 #$4: assertions failed"
}

msg() { local peer=$1; shift; pk_py msg "$PK_WORK/$peer.msg" "$@"; }
hdr() { local peer=$1; shift; pk_py hdr "$PK_WORK/$peer.msg" "$@"; }
count() { local peer=$1; shift; pk_py count "$PK_WORK/$peer.msg" "$@"; }

expect_count() { # peer dir start n
  local n
  n=$(count "$1" "$2" "$3")
  [ "$n" = "$4" ] || fail "$1: $n messages $2 matching /$3/, expected $4"
}

# Regexp fragments for the assertions.
RX_PK_BRANCH='z9hG4bKpk[0-9a-f]{16}\.[0-9a-f]{8}'
rx_pk_via() { # the Via pickupd adds (UDP, its proxy port), any pk params
  echo "SIP/2\\.0/UDP $PK_PROXY_RX:$PK_UDP;branch=$RX_PK_BRANCH;rport${1:-}"
}
rx_escape() { printf '%s' "$1" | sed -e 's/[][\.*^$?+(){}|/]/\\&/g'; }

# (The co-process is not reachable from the left side of a pipeline, a
# subshell of its own: capture pk_py's output first.)
hdr_count() { # peer dir start nth name: how many values (Via: each hop)
  local out
  out=$(hdr "$@" all)
  [ -n "$out" ] || { echo 0; return; }
  printf '%s\n' "$out" | grep -c .
}

branch_of() { # peer dir start nth [occ]: the branch of that Via
  hdr "$1" "$2" "$3" "$4" branch "${5:-1}"
}

# sipp_stat PEER NAME: a cumulative counter of the statistics screen SIPp
# printed when it ended ("Successful call", "Failed call", ...).
sipp_stat() {
  awk -F'|' -v n="$2" 'index($1, n) == 3 { v = $3 } END { gsub(/ /, "", v); print v }' "$PK_WORK/$1.out"
}

# ev_wait_re REGEXP [SECONDS]: as ev_wait, for the first event matching an
# extended regexp (anchored); the line is left in EV_LINE.
ev_wait_re() {
  local rx="^($1)\$" secs=${2:-30} line e
  for e in "${PK_EV_SEEN[@]}"; do
    if [[ $e =~ $rx ]]; then EV_LINE=$e; return 0; fi
  done
  local deadline=$((SECONDS + secs))
  while :; do
    local left=$((deadline - SECONDS))
    [ $left -gt 0 ] || fail "no event matching /$1/ within $secs s (seen: ${PK_EV_SEEN[*]:-none})"
    if read -r -t "$left" -u 7 line; then
      PK_EV_SEEN+=("$line")
      if [[ $line =~ $rx ]]; then EV_LINE=$line; return 0; fi
    fi
  done
}

# ---- load (bench/load-pickup.sh, test_livesync.sh) ----

# The three SIPp instances of the pickup load (bench/sipp/load_*.xml).
PK_LOAD_SCEN=$(cd "$PK_LIB_DIR/../../bench/sipp" && pwd)
PK_LOAD_BUF=4194304 # socket buffers of every side
PK_LOAD_LAG=1000    # ms between a picker's call start and its INVITE
PK_LOAD_TALK=1000   # ms between the picker's ACK and its BYE

# pk_load_sipp PEER SCENARIO CALLS RATE SECONDS [ARGS]: a SIPp instance of
# the load, CALLS calls at RATE per second (about SECONDS of generation),
# without message logs (they would be the bottleneck); its screen goes to
# PEER.out. It runs in a subshell that writes, when SIPp has ended, the CPU
# time of its children (that SIPp only) to PEER.cpu with the shell's
# `times`; a TERM to the subshell (the cleanup) is passed on to SIPp.
# Returns once SIPp's socket is bound; wait for PK_SIPP_PID[PEER].
pk_load_sipp() {
  local peer=$1 scen=$2 calls=$3 rate=$4 secs=$5
  shift 5
  pk_port "$peer" >/dev/null
  local port=${PK_PORTS[$peer]}
  (
    timeout -k 5 $((secs + 60)) "${PK_NSX[@]}" \
      sipp "$PK_PROXY_IP:$PK_UDP" -sf "$PK_LOAD_SCEN/$scen" -t u1 -i "$PK_IP" -p "$port" -nostdin \
      -m "$calls" -r "$rate" -l $((rate * 10 + 100)) -buff_size $PK_LOAD_BUF \
      -timeout "$((secs + 50))s" -timeout_error -recv_timeout 20000 \
      -max_recv_loops 10000 -max_sched_loops 10000 \
      -key domain example.test -key lag $PK_LOAD_LAG -key talk $PK_LOAD_TALK \
      "$@" >"$PK_WORK/$peer.out" 2>&1 &
    child=$!
    trap 'kill -TERM $child 2>/dev/null' TERM
    wait $child
    rc=$?
    times >"$PK_WORK/$peer.cpu"
    exit $rc
  ) &
  PK_SIPP_PID[$peer]=$!
  pk_wait_bound "$PK_IP" "$port" "${PK_SIPP_PID[$peer]}" || fail "SIPp $peer did not start"
}

# pk_load_failed CALLS PEER...: calls minus the fewest successful calls of
# the instances (a flow failed if any of its legs did).
pk_load_failed() {
  local calls=$1 ok=$1 p s
  shift
  for p in "$@"; do
    s=$(sipp_stat "$p" 'Successful call')
    [ "${s:-0}" -lt "$ok" ] && ok=${s:-0}
  done
  echo $((calls - ok))
}
