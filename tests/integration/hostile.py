#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hostile traffic for tests/integration/test_hostile.sh (standard library
only).

  hostile.py flood SRC_IP PORT SECONDS CORPUS_DIR
      From one UDP socket on SRC_IP, send to pickupd (PK_PROXY_IP:PORT) as
      fast as Python can for SECONDS: the RFC 4475 corpus, seeded mutations
      of it (bit flips, truncations, duplicated slices, splices), truncated
      and oversized datagrams (up to 65507 bytes), header bombs (3000 Via,
      3000 Route, 10000 headers, Content-Length: 999999999) and
      valid-looking INVITEs and REGISTERs, interleaved. (Mutants that
      still start with "SIP/2.0 " are responses to pickupd, which never
      rate-limits responses: counted apart as as_response.) Every message's top
      Via points back at the socket, so answers come back here (nothing
      leaves the loopback); they are counted by status. Prints one JSON
      object: what was sent, at what rate, and what came back.

  hostile.py probe SRC_IP PORT KIND
      One request from a fresh socket on SRC_IP, retransmitted like an
      RFC 3261 client (0.5 s, 1 s, 2 s) until answered (4 s at most):
        options         OPTIONS to pickupd: expects 200
        pickup-member   INVITE *801 from 2003 (a member): expects 403
                        (used from an untrusted source)
        pickup-nonmember INVITE *801 from 1001 (no group): expects 403
      Prints "STATUS MS WARNING" and exits 0 when the status is the one
      expected, 1 otherwise (2: no answer).

  hostile.py burst SRC_IP PORT N
      N OPTIONS at once from one socket on SRC_IP (no retransmissions);
      prints the answers by status after 1.5 s of quiet, as JSON.

The mutations are deterministic (random.Random(4475)): two runs send the
same messages in the same order.
"""
import json
import os
import random
import re
import select
import socket
import sys
import time

PROXY_IP = os.environ.get("PK_PROXY_IP", "127.0.0.1")
MAX_UDP = 65507


def point_via(data, me, n):
    """Top Via -> us (with rport), or a Via of ours on top."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    ours = b"Via: SIP/2.0/UDP " + me + b";branch=z9hG4bK-fl-%d;rport" % n
    for i, line in enumerate(lines[1:], 1):
        if re.match(rb"^(via|v)[ \t]*:", line, re.I):
            lines[i] = ours
            break
    else:
        lines.insert(1, ours)
    return b"\r\n".join(lines) + sep + body


def request(method, ruri, me, n, extra=b"", body=b"", cl=None):
    if cl is None:
        cl = len(body)
    return (b"%s %s SIP/2.0\r\n"
            b"Via: SIP/2.0/UDP %s;branch=z9hG4bK-fl-%d;rport\r\n"
            b"Max-Forwards: 70\r\n"
            b"From: <sip:flood@example.test>;tag=f%d\r\n"
            b"To: <%s>\r\n"
            b"Call-ID: flood-%d@hostile\r\n"
            b"CSeq: 1 %s\r\n"
            b"%s"
            b"Content-Length: %d\r\n\r\n" % (method, ruri, me, n, n, ruri, n, method, extra, cl)) + body


def mutate(rng, msgs):
    m = bytearray(rng.choice(msgs))
    op = rng.randrange(4)
    if op == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(m))
            m[i] ^= 1 << rng.randrange(8)
    elif op == 1:  # truncation
        m = m[:rng.randrange(1, len(m))]
    elif op == 2:  # a slice duplicated in place
        a = rng.randrange(len(m))
        b = min(len(m), a + rng.randint(1, 200))
        m[a:a] = m[a:b] * rng.randint(1, 20)
    else:  # two messages spliced
        other = rng.choice(msgs)
        m = m[:rng.randrange(len(m))] + other[rng.randrange(len(other)):]
    return bytes(m[:MAX_UDP])


def static_messages(corpus_dir, me, sink):
    """(category, bytes) sent every round, in a fixed order."""
    rng = random.Random(4475)
    corpus = []
    for f in sorted(os.listdir(corpus_dir)):
        if f.endswith(".dat"):
            with open(os.path.join(corpus_dir, f), "rb") as fh:
                corpus.append(point_via(fh.read().replace(b"127.0.0.1:5080", sink), me, 0))
    out = [("corpus", c) for c in corpus]
    out += [("mutant", mutate(rng, corpus)) for _ in range(600)]
    inv = request(b"INVITE", b"sip:nobody@example.test", me, 1, body=b"v=0\r\n")
    out += [("truncated", inv[:rng.randrange(1, len(inv))]) for _ in range(50)]
    # oversized: the largest UDP datagram, valid-looking and not
    pad = b"a=x-pad:" + b"x" * (MAX_UDP - 600) + b"\r\n"
    big = request(b"INVITE", b"sip:nobody@example.test", me, 2, body=pad)
    out.append(("oversized", big[:MAX_UDP]))
    out.append(("oversized", request(b"OPTIONS", b"sip:example.test", me, 3,
                                     extra=b"X-Long: " + b"y" * (MAX_UDP - 400) + b"\r\n")[:MAX_UDP]))
    out.append(("oversized", bytes(rng.randrange(256) for _ in range(MAX_UDP))))
    # header bombs
    vias = b"Via: " + b",".join([b"SIP/2.0/UDP h%d" % i for i in range(3000)]) + b"\r\n"
    out.append(("bomb_via", request(b"INVITE", b"sip:nobody@example.test", me, 4, extra=vias)))
    vlines = b"".join(b"v:SIP/2.0/UDP h%d\r\n" % i for i in range(3000))
    out.append(("bomb_via", request(b"INVITE", b"sip:nobody@example.test", me, 5, extra=vlines)))
    routes = b"Route: " + b",".join([b"<sip:192.0.2.1;lr>"] * 3000) + b"\r\n"
    out.append(("bomb_route", request(b"INVITE", b"sip:nobody@example.test", me, 6, extra=routes)))
    out.append(("bomb_headers", request(b"OPTIONS", b"sip:example.test", me, 7, extra=b"a:b\r\n" * 10000)))
    out.append(("bomb_cl", request(b"INVITE", b"sip:nobody@example.test", me, 8, body=b"v=0\r\n", cl=999999999)))
    return out


def flood(src, port, seconds, corpus_dir):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 23)
    s.bind((src, 0))
    s.setblocking(False)
    me = ("%s:%d" % (src, s.getsockname()[1])).encode()
    # a sink stands in for mpart01.dat's Route target
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((src, 0))
    sink_addr = ("%s:%d" % (src, sink.getsockname()[1])).encode()
    static = static_messages(corpus_dir, me, sink_addr)
    dst = (PROXY_IP, port)
    sent = {}
    nbytes = 0
    answers = {}
    rl503 = rl503_ra = 0
    n = 100

    def drain():
        nonlocal rl503, rl503_ra
        while True:
            try:
                data = s.recv(70000)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ICMP errors of earlier sends
                continue
            st = data[8:11].decode("latin-1") if data.startswith(b"SIP/2.0 ") else "other"
            answers[st] = answers.get(st, 0) + 1
            if st == "503" and b"rate limit" in data:
                rl503 += 1
                if re.search(rb"\r\nRetry-After: *\d+\r\n", data):
                    rl503_ra += 1

    def send(cat, data):
        nonlocal nbytes
        try:
            s.sendto(data, dst)
        except (BlockingIOError, InterruptedError):
            sent["send_blocked"] = sent.get("send_blocked", 0) + 1
            return
        except OSError:
            sent["send_error"] = sent.get("send_error", 0) + 1
            return
        sent[cat] = sent.get(cat, 0) + 1
        nbytes += len(data)
        if data.startswith(b"SIP/2.0 "):
            sent["as_response"] = sent.get("as_response", 0) + 1

    t0 = time.monotonic()
    end = t0 + seconds
    i = 0
    while time.monotonic() < end:
        for cat, data in static:
            n += 1
            send(cat, data)
            if n % 2 == 0:
                send("valid_invite", request(b"INVITE", b"sip:flood%d@example.test" % n, me, n, body=b"v=0\r\n"))
            else:
                send("valid_register", request(b"REGISTER", b"sip:example.test", me, n,
                                               extra=b"Contact: <sip:flood@%s>\r\n" % me))
            i += 1
            if i % 64 == 0:
                drain()
                if time.monotonic() >= end:
                    break
    elapsed = time.monotonic() - t0
    # answers still on their way
    stop = time.monotonic() + 1.0
    while time.monotonic() < stop:
        select.select([s], [], [], 0.1)
        drain()
    total = sum(v for k, v in sent.items() if not k.startswith("send_") and k != "as_response")
    print(json.dumps({
        "seconds": round(elapsed, 2), "sent": total, "rate": int(total / elapsed),
        "mbytes": round(nbytes / 1e6, 1), "by_kind": sent, "answers": answers,
        "responses": sent.get("as_response", 0),
        "answered": sum(answers.values()), "rl503": rl503, "rl503_retry_after": rl503_ra,
    }, sort_keys=True))
    return 0


PROBES = {
    "options": (b"OPTIONS", b"sip:example.test", b"sip:probe@example.test", 200),
    "pickup-member": (b"INVITE", b"sip:*801@example.test", b"sip:2003@example.test", 403),
    "pickup-nonmember": (b"INVITE", b"sip:*801@example.test", b"sip:1001@example.test", 403),
}


def probe(src, port, kind):
    method, ruri, frm, want = PROBES[kind]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    me = ("%s:%d" % (src, s.getsockname()[1])).encode()
    tag = "%d%d" % (os.getpid(), int(time.monotonic() * 1000))
    msg = (b"%s %s SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP %s;branch=z9hG4bK-pr-%s;rport\r\n"
           b"Max-Forwards: 70\r\n"
           b"From: <%s>;tag=p%s\r\n"
           b"To: <%s>\r\n"
           b"Call-ID: probe-%s@hostile\r\n"
           b"CSeq: 1 %s\r\n"
           b"Contact: <sip:probe@%s>\r\n"
           b"Content-Length: 0\r\n\r\n" % (method, ruri, me, tag.encode(), frm, tag.encode(), ruri,
                                           tag.encode(), method, me))
    t0 = time.monotonic()
    deadline = t0 + 4.0
    interval = 0.5
    while time.monotonic() < deadline:
        s.sendto(msg, (PROXY_IP, port))
        wait_until = min(deadline, time.monotonic() + interval)
        interval *= 2
        while True:
            left = wait_until - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            data = s.recv(70000)
            m = re.match(rb"SIP/2\.0 (\d{3})", data)
            if not m or int(m.group(1)) < 200:
                continue
            st = int(m.group(1))
            w = re.search(rb"\r\nWarning: *([^\r\n]*)", data)
            print(st, int((time.monotonic() - t0) * 1000), w.group(1).decode("latin-1") if w else "-")
            return 0 if st == want else 1
    print("- %d no answer" % int((time.monotonic() - t0) * 1000))
    return 2


def burst(src, port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
    s.bind((src, 0))
    me = ("%s:%d" % (src, s.getsockname()[1])).encode()
    for i in range(n):
        s.sendto(request(b"OPTIONS", b"sip:example.test", me, i), (PROXY_IP, port))
    answers = {}
    while True:
        r, _, _ = select.select([s], [], [], 1.5)
        if not r:
            break
        data = s.recv(70000)
        st = data[8:11].decode("latin-1")
        answers[st] = answers.get(st, 0) + 1
    print(json.dumps(answers, sort_keys=True))
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "flood":
        return flood(argv[2], int(argv[3]), float(argv[4]), argv[5])
    if len(argv) == 5 and argv[1] == "burst":
        return burst(argv[2], int(argv[3]), int(argv[4]))
    if len(argv) == 5 and argv[1] == "probe":
        return probe(argv[2], int(argv[3]), argv[4])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
