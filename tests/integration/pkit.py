#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers of the SIPp integration suites (tests/integration/lib.sh).

SIPp plays the phones; this script does the few things SIPp cannot, and
reads SIPp's message logs (-trace_msg) so that the shell scripts can assert
what went over the wire, header by header.

  pkit.py ports N                 N free port numbers (UDP and TCP free on
                                  PK_IP and PK_IP2), scanned from a
                                  base derived from the caller's PID, busy
                                  ones skipped: concurrent suites rarely
                                  collide, and never on a port in use
  pkit.py kick PORT CALLID WHAT   one INFO with "X-Pk-Do: WHAT" and that
                                  Call-ID to the SIPp instance listening on
                                  PK_IP:PORT: the driver's way to tell a
                                  waiting scenario (<recv request="INFO">)
                                  to go on; no answer is awaited
  pkit.py burst PORT SECONDS FILE...
                                  send every FILE (the RFC 4475 corpus) as
                                  one UDP datagram to PK_PROXY_IP:PORT, round
                                  after round (a round every 20 ms) for
                                  SECONDS, with the top Via pointed at our own
                                  socket so that every answer comes back to
                                  us (and nothing leaves the loopback);
                                  prints "FILE STATUS..." per file, the
                                  status codes received for it in the order
                                  received ("-" for none)
  pkit.py msg LOG DIR START NTH   print the NTH (1-based; -1: last) message
                                  that the log shows sent (DIR=sent) or
                                  received (DIR=recv) whose first line
                                  matches the regexp START
  pkit.py count LOG DIR START     how many such messages
  pkit.py hdr LOG DIR START NTH NAME [OCC]
                                  the value of header NAME (compact forms
                                  understood; a comma-separated Via is
                                  split) of that message: occurrence OCC
                                  (1-based, default 1; "all": every one, a
                                  line each); exit 1 if absent
  pkit.py expect LOG DIR START NTH WHAT REGEXP [OCC]
                                  assert: WHAT is "line" (the first line) or
                                  a header name (occurrence OCC, default 1,
                                  or "none": the header must be absent); the
                                  value must match REGEXP in full (Python
                                  syntax). Prints the message on failure,
                                  exit 1

  pkit.py expect-many DIR PEER WHERE START NTH < SPEC
                                  several assertions on one message of
                                  DIR/PEER.msg, one a line of SPEC:
                                    WHAT OCC REGEXP   as expect
                                    WHAT count N      N values (Via: hops)
                                    WHAT same PEER2 WHERE2 START2 NTH2
                                                      equal to WHAT in that
                                                      message of PEER2
                                  WHAT "branch" is the branch parameter of
                                  each Via (occurrence 1: the top one)
                                  (fields separated by blanks; REGEXP is the
                                  rest of the line, and may be empty)

  pkit.py serve                   the above as a co-process (lib.sh keeps
                                  one: starting Python per assertion costs
                                  more than the assertion): a request is a
                                  line, the arguments separated by \\x1f,
                                  with \\x1e for the newlines of the last
                                  one for expect-many's SPEC; the answer is
                                  the output, then a line \\x04 + exit status

LOG may name several files separated by ":" (their messages, in order).

Addresses: the environment's PK_IP (the peers', default 127.0.0.1), PK_IP2
(the second peer address, 127.0.0.2) and PK_PROXY_IP (pickupd's,
127.0.0.1), as lib.sh exports them: on the dpdk backend (PK_BACKEND=dpdk)
this script runs in the test's network namespace with 10.99.N.x there.
"""
import os
import re
import select
import socket
import sys
import time

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "k": "supported", "c": "content-type",
           "e": "content-encoding", "s": "subject", "o": "event",
           "r": "refer-to", "b": "referred-by", "x": "session-expires",
           "u": "allow-events", "a": "accept-contact", "j": "reject-contact",
           "d": "request-disposition", "y": "identity", "n": "identity-info"}

IP = os.environ.get("PK_IP", "127.0.0.1")
IP2 = os.environ.get("PK_IP2", "127.0.0.2")
PROXY_IP = os.environ.get("PK_PROXY_IP", "127.0.0.1")

SEP = re.compile(r"^-{40,} \d{4}-\d\d-\d\d [\d:.]+\s*$")
DIRLINE = re.compile(r"^\S+ (?:control )?message (sent|received)\b")


# ---- ports ----

def free(port):
    for fam, addr in ((socket.SOCK_DGRAM, IP), (socket.SOCK_STREAM, IP),
                      (socket.SOCK_DGRAM, IP2), (socket.SOCK_STREAM, IP2)):
        s = socket.socket(socket.AF_INET, fam)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def ports(n):
    # 20000..31999: below the kernel's ephemeral range (32768+), where
    # port-0 listeners and outgoing sockets live, and below SIPp's
    # media (6000+) and control (8888+) ports.
    span = 12000
    base = (os.getppid() * 97) % span
    out = []
    for i in range(span):
        p = 20000 + (base + i) % span
        if free(p):
            out.append(p)
            if len(out) == n:
                print(" ".join(map(str, out)))
                return 0
    print("no free ports", file=sys.stderr)
    return 1


# ---- kick ----

def kick(port, callid, what):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((IP, 0))
    me = s.getsockname()[1]
    msg = ("INFO sip:kick@%s:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-kick-%d;rport\r\n"
           "Max-Forwards: 70\r\n"
           "From: <sip:driver@%s>;tag=kick%d\r\n"
           "To: <sip:kick@%s>\r\n"
           "Call-ID: %s\r\n"
           "CSeq: 1 INFO\r\n"
           "X-Pk-Do: %s\r\n"
           "Content-Length: 0\r\n\r\n" % (IP, port, IP, me, time.monotonic_ns(), IP, me, IP,
                                            callid, what))
    s.sendto(msg.encode(), (IP, port))
    s.close()
    return 0


# ---- burst ----

VIA = re.compile(rb"^(via|v)[ \t]*:[ \t]*SIP[ \t]*/[ \t]*2\.0[ \t]*/[ \t]*[A-Za-z]+[ \t]+"
                 rb"([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]+)?", re.I)


def point_via(data, me, n):
    """Top Via's sent-by -> us, with rport; or a Via of ours on top when
    the top one is too twisted to rewrite (line folding)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines[1:], 1):
        if re.match(rb"^(via|v)[ \t]*:", line, re.I):
            m = VIA.match(line)
            folded = i + 1 < len(lines) and lines[i + 1][:1] in (b" ", b"\t")
            if m and not folded:
                rest = line[m.end():]
                new = b"Via: SIP/2.0/UDP " + me + b";pkburst=%d" % n + rest
                if not re.search(rb";\s*rport", rest, re.I):
                    new += b";rport"
                lines[i] = new
            else:
                lines.insert(1, b"Via: SIP/2.0/UDP " + me + b";pkburst=%d;branch=z9hG4bK-burst-%d;rport" % (n, n))
            break
    else:
        lines.insert(1, b"Via: SIP/2.0/UDP " + me + b";pkburst=%d;branch=z9hG4bK-burst-%d;rport" % (n, n))
    return b"\r\n".join(lines) + sep + body


def burst(port, seconds, files):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((IP, 0))
    me = ("%s:%d" % (IP, s.getsockname()[1])).encode()
    # A second socket stands in for mpart01.dat's Route target, so that
    # the MESSAGE pickupd forwards lands here instead of on a stranger.
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((IP, 0))
    sink_addr = ("%s:%d" % (IP, sink.getsockname()[1])).encode()
    msgs = []
    for f in files:
        data = open(f, "rb").read().replace(b"127.0.0.1:5080", sink_addr)
        msgs.append((os.path.basename(f), data))
    answers = {name: [] for name, _ in msgs}
    name_of = {}
    n = 0
    rounds = 0
    end = time.monotonic() + seconds
    while rounds == 0 or time.monotonic() < end:
        rounds += 1
        for name, data in msgs:
            n += 1
            name_of[n] = name
            s.sendto(point_via(data, me, n), (PROXY_IP, port))
        # collect what has arrived so far, and pace the rounds
        drain(s, answers, name_of, 0.02)
    drain(s, answers, name_of, 1.0)
    print("rounds %d sent %d" % (rounds, n))
    for name, _ in msgs:
        print(name, " ".join(answers[name]) if answers[name] else "-")
    if answers.get("?"):
        print("? " + " ".join(answers["?"]))
    sink.close()
    return 0


def drain(s, answers, name_of, quiet):
    """Answers are matched to their request by the pkburst parameter our
    Via carried (a message without Call-ID gets an answer without one).
    Returns after `quiet` seconds without an answer."""
    while True:
        r, _, _ = select.select([s], [], [], quiet)
        if not r:
            return
        data = s.recv(65535)
        m = re.match(rb"SIP/2\.0 (\d{3})", data)
        b = re.search(rb";pkburst=(\d+)", data)
        name = name_of.get(int(b.group(1))) if b else None
        if m and name:
            answers[name].append(m.group(1).decode())
        elif m:
            answers.setdefault("?", []).append(m.group(1).decode())


# ---- SIPp message logs ----

def parse_log(paths):
    """[(dir, text)] from SIPp -trace_msg files, in order."""
    out = []
    for path in paths.split(":"):
        try:
            lines = open(path, encoding="latin-1").read().split("\n")
        except FileNotFoundError:
            continue
        cur = None
        body = []
        i = 0
        while i < len(lines):
            if SEP.match(lines[i]) and i + 1 < len(lines) and DIRLINE.match(lines[i + 1]):
                if cur:
                    out.append((cur, finish(body)))
                cur = "sent" if DIRLINE.match(lines[i + 1]).group(1) == "sent" else "recv"
                body = []
                i += 3  # separator, direction line, blank line
                continue
            if cur:
                body.append(lines[i])
            i += 1
        if cur:
            out.append((cur, finish(body)))
    return out


def finish(body):
    text = "\n".join(l.rstrip("\r") for l in body).strip("\n")
    return text


def select_msgs(log, direction, start):
    rx = re.compile(start)
    return [t for d, t in parse_log(log) if d == direction and rx.search(t.split("\n", 1)[0])]


def headers(text, name):
    """Values of header `name` (compact forms, comma-split Via), in order.
    The pseudo-header "branch" gives the branch parameter of each Via."""
    if name.lower() == "branch":
        out = []
        for v in headers(text, "via"):
            b = re.search(r";\s*branch\s*=\s*([^;,\s]+)", v, re.I)
            out.append(b.group(1) if b else "")
        return out
    want = name.lower()
    vals = []
    lines = text.split("\n")
    hdrs = []
    for line in lines[1:]:
        if line == "":
            break
        if line[:1] in (" ", "\t") and hdrs:
            hdrs[-1] += " " + line.strip()
        else:
            hdrs.append(line)
    for h in hdrs:
        k, sep, v = h.partition(":")
        if not sep:
            continue
        k = k.strip().lower()
        k = COMPACT.get(k, k)
        if k != want:
            continue
        v = v.strip()
        if want == "via":
            vals.extend(x.strip() for x in split_commas(v))
        else:
            vals.append(v)
    return vals


def split_commas(v):
    out, cur, q = [], "", False
    for ch in v:
        if ch == '"':
            q = not q
        if ch == "," and not q:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def pick(log, direction, start, nth):
    msgs = select_msgs(log, direction, start)
    n = int(nth)
    try:
        return msgs[n - 1] if n > 0 else msgs[n]
    except IndexError:
        return None


def main(argv):
    cmd = argv[1]
    if cmd == "ports":
        return ports(int(argv[2]))
    if cmd == "kick":
        return kick(int(argv[2]), argv[3], argv[4])
    if cmd == "burst":
        return burst(int(argv[2]), float(argv[3]), argv[4:])
    if cmd == "count":
        print(len(select_msgs(argv[2], argv[3], argv[4])))
        return 0
    if cmd == "msg":
        m = pick(argv[2], argv[3], argv[4], argv[5])
        if m is None:
            return 1
        print(m)
        return 0
    if cmd == "hdr":
        m = pick(argv[2], argv[3], argv[4], argv[5])
        if m is None:
            return 1
        vals = headers(m, argv[6])
        occ = argv[7] if len(argv) > 7 else "1"
        if occ == "all":
            print("\n".join(vals))
            return 0 if vals else 1
        if int(occ) > len(vals):
            return 1
        print(vals[int(occ) - 1])
        return 0
    if cmd == "expect":
        log, direction, start, nth, what, regexp = argv[2:8]
        occ = argv[8] if len(argv) > 8 else "1"
        m = pick(log, direction, start, nth)
        where = "%s message #%s (%s) of %s" % (direction, nth, start, log)
        if m is None:
            print("  no %s" % where)
            return 1
        if what == "line":
            val = m.split("\n", 1)[0]
        else:
            vals = headers(m, what)
            if occ == "none":
                if vals:
                    print("  %s: %s present (%r), expected absent" % (where, what, vals[0]))
                    print(indent(m))
                    return 1
                return 0
            if int(occ) > len(vals):
                print("  %s: no %s header (occurrence %s)" % (where, what, occ))
                print(indent(m))
                return 1
            val = vals[int(occ) - 1]
        if re.fullmatch(regexp, val) is None:
            print("  %s: %s is %r, expected /%s/" % (where, what, val, regexp))
            print(indent(m))
            return 1
        return 0
    if cmd == "expect-many":
        return expect_many(*argv[2:7])
    print(__doc__, file=sys.stderr)
    return 2


def expect_many(workdir, peer, direction, start, nth):
    log = os.path.join(workdir, peer + ".msg")
    m = pick(log, direction, start, nth)
    where = "%s: %s message #%s (%s)" % (peer, direction, nth, start)
    if m is None:
        print("  %s: no such message" % where)
        return 1
    bad = 0
    for spec in sys.stdin.read().split("\n"):
        if not spec.strip():
            continue
        parts = spec.strip().split(None, 2)
        what, occ = parts[0], parts[1]
        arg = parts[2] if len(parts) > 2 else ""
        vals = [m.split("\n", 1)[0]] if what == "line" else headers(m, what)
        if occ == "count":
            ok, shown = len(vals) == int(arg), "%d value(s), expected %s" % (len(vals), arg)
        elif occ == "none":
            ok, shown = not vals, "present (%r), expected absent" % (vals[:1],)
        elif occ == "same":
            p2, d2, s2, n2 = arg.split(None, 3)
            m2 = pick(os.path.join(workdir, p2 + ".msg"), d2, s2, n2)
            other = headers(m2, what)[:1] if m2 else []
            ok = bool(other) and vals[:1] == other
            shown = "%r, expected %r (as in %s)" % (vals[:1], other, p2)
        else:
            i = int(occ)
            val = vals[i - 1] if i <= len(vals) else None
            ok = val is not None and re.fullmatch(arg, val) is not None
            shown = "%r, expected /%s/" % (val, arg)
        if not ok:
            print("  %s: %s %s: %s" % (where, what, occ, shown))
            bad += 1
    if bad:
        print(indent(m))
    return 1 if bad else 0


def indent(m):
    return "\n".join("    | " + l for l in m.split("\n"))


def serve():
    import io
    out = sys.stdout
    for line in sys.stdin:
        args = line.rstrip("\n").split("\x1f")
        spec = ""
        if args and args[0] == "expect-many" and len(args) > 6:
            spec = args.pop().replace("\x1e", "\n")
        buf = io.StringIO()
        sys.stdout, sys.stdin = buf, io.StringIO(spec)
        try:
            rc = main(["pkit.py"] + args)
        except Exception as e:  # a bad request is a failed assertion, not a dead server
            print("pkit: %s: %r" % (" ".join(args), e))
            rc = 1
        finally:
            sys.stdout, sys.stdin = out, sys.__stdin__
        text = buf.getvalue()
        out.write(text if not text or text.endswith("\n") else text + "\n")
        out.write("\x04%d\n" % rc)
        out.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        sys.exit(serve())
    sys.exit(main(sys.argv))
