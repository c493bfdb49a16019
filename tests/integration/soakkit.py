#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Control-socket helpers of the soak and fault tests (bench/soak.sh,
tests/integration/test_soak.sh, tests/integration/test_faults.sh; docs/
reliability.md). Standard library only. Single-threaded apart from
`hammer`, whose client threads share nothing but the result counters
(under a lock).

  soakkit.py stats SOCK [EXPR...]    print the stats (compact JSON), or the
                                     value of each Python expression over
                                     them (`s`), one a line
  soakkit.py req SOCK JSON           one request; prints the result; exit 1
                                     on an error response
  soakkit.py wait SOCK EXPR SECS     poll `stats` (every 100 ms) until EXPR
                                     holds; exit 1 with the last values
                                     after SECS
  soakkit.py sample SOCK PID CSV SECS
                                     every SECS seconds, one CSV row: time,
                                     pickupd's VmRSS, the ringing-call table
                                     (in_use, tracked, trying, ringing,
                                     claimed), registrations in use, rx,
                                     tx, jemalloc allocated/resident; until
                                     SIGTERM or SIGINT
  soakkit.py flat CSV WARMUP_S       is the RSS flat (see rss_flat below)?
                                     prints the summary; exit 1 if not
  soakkit.py invariants SOCK STATIC [NAME=VALUE...]
                                     the counter invariants of an idle
                                     pickupd (see invariants below) with
                                     STATIC static bindings, plus each
                                     NAME (a dotted path in the stats:
                                     pickup.pickup_succeeded) == VALUE
  soakkit.py hammer SOCK N SECS GROUP
                                     N clients at once for SECS seconds,
                                     each on its own connection, a mix of
                                     stats, calls, groups and member.add /
                                     member.remove of a user of its own in
                                     GROUP; a client refused with `busy`
                                     (more than 32 at once) reconnects
                                     after a short pause. Exit 1 unless
                                     every client got answers to all its
                                     requests, every one ok
Exit status 0 on success, 1 on a failed check, 2 on a usage error.
"""
import json
import os
import random
import signal
import socket
import sys
import threading
import time

TIMEOUT = 20


class CtlError(Exception):
    pass


class Conn:
    """One control-socket connection: request lines out, response lines in."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""
        self.served = 0  # answers other than `busy` on this connection

    def call(self, cmd, args=None):
        req = {"cmd": cmd}
        if args is not None:
            req["args"] = args
        try:
            self.s.sendall(json.dumps(req).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            # refused (busy) and closed before our request went out: the
            # refusal line may still be there to read
            pass
        while b"\n" not in self.buf:
            try:
                d = self.s.recv(1 << 20)
            except ConnectionResetError:
                d = b""
            if not d:
                raise CtlError("connection closed")
            self.buf += d
        line, _, self.buf = self.buf.partition(b"\n")
        r = json.loads(line)
        if r.get("ok") or r["error"]["code"] != "busy":
            self.served += 1
        return r

    def close(self):
        self.s.close()


def ctl(path, cmd, args=None):
    c = Conn(path)
    try:
        r = c.call(cmd, args)
    finally:
        c.close()
    if not r.get("ok"):
        raise CtlError("%s: %s" % (cmd, r.get("error")))
    return r["result"]


def stats(path):
    return ctl(path, "stats")


def dig(s, dotted):
    for k in dotted.split("."):
        s = s[k]
    return s


def cmd_stats(a):
    s = stats(a[0])
    if len(a) == 1:
        print(json.dumps(s, separators=(",", ":")))
    for e in a[1:]:
        print(eval(e, {"s": s}))
    return 0


def cmd_req(a):
    req = json.loads(a[1])
    print(json.dumps(ctl(a[0], req["cmd"], req.get("args"))))
    return 0


def cmd_wait(a):
    path, expr, secs = a[0], a[1], float(a[2])
    deadline = time.monotonic() + secs
    while True:
        s = stats(path)
        if eval(expr, {"s": s}):
            return 0
        if time.monotonic() > deadline:
            c = s["calls"]
            print("not within %g s: %s (calls in_use %d ringing %d claimed %d, counters %s)"
                  % (secs, expr, c["in_use"], c["ringing"], c["claimed"],
                     {k: v for k, v in c["counters"].items() if v}))
            return 1
        time.sleep(0.1)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


COLUMNS = ["t_s", "rss_kib", "in_use", "tracked", "trying", "ringing", "claimed",
           "registrations", "rx", "tx", "je_allocated", "je_resident"]


def cmd_sample(a):
    path, pid, out, every = a[0], int(a[1]), a[2], float(a[3])
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    t0 = time.monotonic()
    nxt = t0
    with open(out, "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        f.flush()
        while not stop:
            try:
                s = stats(path)
                rss = rss_kib(pid)
            except (OSError, CtlError, ValueError) as e:
                print("sample: %s" % e, file=sys.stderr)
                return 1
            c = s["calls"]
            je = s["memory"].get("jemalloc", {})
            row = [round(time.monotonic() - t0, 2), rss, c["in_use"], c["tracked"], c["trying"],
                   c["ringing"], c["claimed"], s["registrations"]["in_use"], s["totals"]["rx"],
                   s["totals"]["tx"], je.get("allocated", 0), je.get("resident", 0)]
            f.write(",".join(str(v) for v in row) + "\n")
            f.flush()
            nxt += every
            while not stop and time.monotonic() < nxt:
                time.sleep(min(0.2, max(0.0, nxt - time.monotonic())))
    return 0


def read_csv(path):
    rows = []
    with open(path) as f:
        head = f.readline().strip().split(",")
        for line in f:
            v = line.strip().split(",")
            if len(v) == len(head):
                rows.append(dict(zip(head, (float(x) for x in v))))
    return rows


# RSS is "flat" when, after the warm-up, the highest RSS of the last third
# of the samples is at most the highest of the first third plus the larger
# of 5 % and 4 MiB. The warm-up covers what a new pickupd touches once
# (table pages, the allocator's arenas, SIPp's first calls); the slack
# covers allocator noise (jemalloc returns pages lazily, in MiB steps). A
# leak of one table entry or one small allocation per call breaks it
# within minutes at the soak's rates (see docs/reliability.md). The same
# rule, with max(10 %, 1 MiB), holds jemalloc's allocated bytes (exact,
# no page granularity; 0 in sanitizer builds, which have no jemalloc).
FLAT_PCT = 5.0
FLAT_KIB = 4096


def cmd_flat(a):
    rows = [r for r in read_csv(a[0]) if r["t_s"] >= float(a[1])]
    if len(rows) < 6:
        print("too few samples after the warm-up: %d" % len(rows))
        return 1
    n = len(rows) // 3
    first, last = rows[:n], rows[-n:]
    f_max = max(r["rss_kib"] for r in first)
    l_max = max(r["rss_kib"] for r in last)
    allrss = [r["rss_kib"] for r in rows]
    limit = f_max + max(f_max * FLAT_PCT / 100, FLAT_KIB)
    je_f = max(r["je_allocated"] for r in first)
    je_l = max(r["je_allocated"] for r in last)
    occ_f = max(r["in_use"] for r in first)
    occ_l = max(r["in_use"] for r in last)
    print("rss: %d samples after %s s warm-up; min %.1f MiB, max %.1f MiB; "
          "first third max %.1f MiB, last third max %.1f MiB (limit %.1f MiB, %+.2f %%)"
          % (len(rows), a[1], min(allrss) / 1024, max(allrss) / 1024, f_max / 1024,
             l_max / 1024, limit / 1024, (l_max - f_max) * 100.0 / f_max))
    print("jemalloc allocated: first third max %.2f MiB, last third max %.2f MiB"
          % (je_f / 1048576, je_l / 1048576))
    print("table occupancy under load: first third max %d, last third max %d entries"
          % (occ_f, occ_l))
    ok = True
    if l_max > limit:
        print("FAIL: RSS grew beyond the limit")
        ok = False
    # the heap itself, byte-exact: pickupd's workers never allocate, so
    # what jemalloc holds may only move by what the control thread's
    # answers need at the moment they are sampled
    if je_l > je_f + max(je_f * FLAT_PCT * 2 / 100, 1 << 20):
        print("FAIL: jemalloc's allocated bytes grew beyond max(10 %, 1 MiB)")
        ok = False
    # the table's occupancy under steady load must not creep up either:
    # entries that are never freed would (slack: rate jitter of SIPp)
    if occ_l > 2 * occ_f + 20:
        print("FAIL: table occupancy grew under the same load")
        ok = False
    return 0 if ok else 1


def outcomes(c):
    """The outcome counters of a worker counter block (dataplane/worker.h:
    every message received is counted once in rx, then exactly once in an
    outcome): answered_*, drop_*, rejected, forwarded. Not the events
    (tx, slow_path, requests, responses, ratelimit_shared...)."""
    return sum(v for n, v in c.items()
               if n.startswith("answered_") or n.startswith("drop_") or n in ("rejected", "forwarded"))


def invariants(s, static):
    """The invariants of an idle pickupd's counters (no message in flight,
    no call in the table). Returns a list of (ok, text)."""
    out = []

    def eq(name, a, b):
        out.append((a == b, "%s: %d == %d" % (name, a, b)))

    # dataplane/worker.h: every message received is counted once in rx
    # and exactly once in one outcome
    for w in s["workers"]:
        c = w["counters"]
        eq("worker %d rx = sum of outcomes" % w["id"], c["rx"], outcomes(c))
    t = s["totals"]
    eq("rx = sum of outcomes", t["rx"], outcomes(t))
    c = s["calls"]
    k = c["counters"]
    eq("calls in use (idle)", c["in_use"], 0)
    # include/pickup/calltab.h: a tracked call leaves the table once, by a
    # final answer or CANCEL, a settled pickup, or the ring timeout
    eq("calls inserted = removed + picked + claim_gone + expired", k["inserted"],
       k["removed"] + k["picked"] + k["claim_gone"] + k["expired"])
    # every entry taken from the pool went back through RCU
    eq("calls alloc = retired", k["alloc"], k["retired"])
    # a claim ends once: picked, gone, reverted or timed out (or the call
    # left the table while claimed: removed/expired, which idle tests
    # without those races do not see)
    out.append((k["claimed"] >= k["picked"] + k["claim_gone"] + k["claim_reverted"] + k["claim_timeout"],
                "calls claimed >= picked + claim_gone + claim_reverted + claim_timeout: %d >= %d"
                % (k["claimed"], k["picked"] + k["claim_gone"] + k["claim_reverted"] + k["claim_timeout"])))
    p = s["pickup"]
    # dataplane/pickup/pickup.h: the worker's view of the same events
    eq("pickup calls_tracked = calls inserted", p["calls_tracked"], k["inserted"])
    eq("pickup_succeeded = calls picked", p["pickup_succeeded"], k["picked"])
    eq("pickup_forwarded = calls claimed", p["pickup_forwarded"], k["claimed"])
    r = s["registrations"]
    rk = r["counters"]
    # include/pickup/location.h: every REGISTER is answered once
    eq("register_requests = register_200 + refusals", rk["register_requests"],
       sum(v for n, v in rk.items() if n.startswith("register_") and n[9:].isdigit()))
    # bindings: what came in went out again; the statics stay
    eq("registered = removed + expired + evicted + (in use - static)", rk["registered"],
       rk["removed"] + rk["expired"] + rk["evicted"] + r["in_use"] - static)
    return out


def cmd_invariants(a):
    s = stats(a[0])
    res = invariants(s, int(a[1]))
    for kv in a[2:]:
        name, _, want = kv.partition("=")
        got = dig(s, name)
        res.append((got == int(want), "%s: %d == %s" % (name, got, want)))
    bad = 0
    for ok, text in res:
        print("%s %s" % ("ok  " if ok else "FAIL", text))
        bad += not ok
    return 1 if bad else 0


def cmd_hammer(a):
    path, n, secs, group = a[0], int(a[1]), float(a[2]), a[3]
    lock = threading.Lock()
    res = {"answers": 0, "busy": 0, "errors": [], "clients_done": 0, "member_changes": 0,
           "first_max": 0.0}
    t0 = time.monotonic()
    deadline = t0 + secs
    start = threading.Barrier(n)
    unserved = [n]  # clients with no answer yet (under lock)

    def client(i):
        user = "9%03d" % i
        rnd = random.Random(i)
        answers = busy = changes = 0
        first = None  # seconds from the start to this client's first answer
        member = False
        start.wait()
        conn = None
        try:
            while time.monotonic() < deadline:
                if conn is None:
                    conn = Conn(path)
                choice = rnd.random()
                if choice < 0.4:
                    cmd, args = "stats", None
                elif choice < 0.5:
                    cmd, args = "calls", {"limit": 10}
                elif choice < 0.6:
                    cmd, args = "groups", {"number": group}
                elif member:
                    cmd, args = "member.remove", {"group": group, "user": user}
                else:
                    cmd, args = "member.add", {"group": group, "user": user, "rights": ["ring"]}
                try:
                    r = conn.call(cmd, args)
                except (CtlError, OSError):
                    # a connection closed on us before any answer: refused
                    # while the 32 slots were taken; one that had been
                    # served must not break
                    if conn.served:
                        raise
                    r = None
                if r is None or (not r.get("ok") and r["error"]["code"] == "busy"):
                    # more than 32 clients: refused, retry shortly (sooner
                    # while this client has had no answer yet: the test
                    # wants every client served)
                    conn.close()
                    conn = None
                    busy += 1
                    time.sleep((0.005 + rnd.random() * 0.01) if first is None
                               else (0.02 + rnd.random() * 0.05))
                    continue
                if not r.get("ok"):
                    raise CtlError("%s %s: %s" % (cmd, args, r["error"]))
                answers += 1
                if first is None:
                    first = time.monotonic() - t0
                    with lock:
                        unserved[0] -= 1
                if cmd.startswith("member."):
                    member = not member
                    changes += 1
                # A served client lets its slot go after every answer while
                # some client has had none yet, and now and then after that,
                # and waits longer than a refused client before it asks
                # again: the refused ones get their turn. (The server keeps
                # no queue: with served clients letting go only now and
                # then, one refused client in 50 could lose every race for
                # a free slot for the whole run under ASan.)
                if unserved[0] > 0 or rnd.random() < 0.1:
                    conn.close()
                    conn = None
                    time.sleep(0.1 + rnd.random() * 0.1)
            if member:
                if conn is None:
                    conn = Conn(path)
                while True:
                    r = conn.call("member.remove", {"group": group, "user": user})
                    if r.get("ok"):
                        break
                    if r["error"]["code"] != "busy":
                        raise CtlError("final member.remove: %s" % r["error"])
                    conn.close()
                    time.sleep(0.05)
                    conn = Conn(path)
                changes += 1
        except Exception as e:  # reported below, checked by the exit status
            with lock:
                res["errors"].append("client %d: %s" % (i, e))
            return
        finally:
            if conn is not None:
                conn.close()
        with lock:
            res["answers"] += answers
            res["busy"] += busy
            res["member_changes"] += changes
            if answers > 0:
                res["clients_done"] += 1
                res["first_max"] = max(res["first_max"], first)
            else:
                res["errors"].append("client %d: no answer in %g s" % (i, secs))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("clients %d served %d answers %d member_changes %d busy_retries %d errors %d"
          " (the last client's first answer after %.2f s)"
          % (n, res["clients_done"], res["answers"], res["member_changes"], res["busy"],
             len(res["errors"]), res["first_max"]))
    for e in res["errors"][:10]:
        print("  " + e)
    return 0 if res["clients_done"] == n and not res["errors"] else 1


CMDS = {"stats": cmd_stats, "req": cmd_req, "wait": cmd_wait, "sample": cmd_sample,
        "flat": cmd_flat, "invariants": cmd_invariants, "hammer": cmd_hammer}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in CMDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return CMDS[sys.argv[1]](sys.argv[2:])
    except (OSError, CtlError) as e:
        print("%s: %s" % (sys.argv[1], e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
