#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Control-socket client for tests/integration/test_control.sh (standard
library only).

  ctlkit.py req SOCK JSON [CHECK]   send one request line, print the
                                    response line; with CHECK (a Python
                                    expression over the response `r`), exit
                                    1 and print both unless it is true
  ctlkit.py raw SOCK TEXT CHECK     the same with TEXT sent as it is (plus a
                                    newline): bad JSON and the like
  ctlkit.py batch SOCK              requests from stdin (one a line) on one
                                    connection, each answer printed on a
                                    line of its own, in order
  ctlkit.py pipeline SOCK N         N requests written at once on one
                                    connection; the N responses must come
                                    back in order (ids 0..N-1)
  ctlkit.py unterminated SOCK       two requests, the last without its
                                    newline, then shutdown(SHUT_WR): both
                                    answered, in order, then EOF
  ctlkit.py many SOCK N             N clients at once: the first 32 are
                                    served (each holds its connection and
                                    makes 20 requests in parallel with the
                                    others), every further one gets `busy`
                                    and is closed; then a new one is served
  ctlkit.py slow SOCK N MODE        a client that does not read: N `metrics`
                                    requests at once, answers far over
                                    what the sockets hold; once the first
                                    bytes are readable, another client
                                    must be served; then MODE read: all N
                                    answers whole and in order; half: the
                                    same after shutdown(SHUT_WR), then
                                    EOF; unterminated: half with the last
                                    request's newline left out; vanish:
                                    close without reading.
                                    With "bounded": pickupd's allocated
                                    memory (stats, jemalloc), once the
                                    other client was served, grew by
                                    under 24 MB (the client's requests
                                    wait while its answers do:
                                    backpressure)
  ctlkit.py big SOCK                a request line over 1 MiB: `too_large`,
                                    then the connection is closed
  ctlkit.py denied SOCK             (run as another uid) expect one
                                    `permission_denied` line, then EOF
  ctlkit.py stale PATH              leave a stale socket file at PATH (bound,
                                    never accepted on, closed)
  ctlkit.py sip PORT KIND [ARG]     one SIP request over UDP to
                                    127.0.0.1:PORT, print the status of the
                                    answer: KIND options, or register AOR
                                    CONTACT
  ctlkit.py ring PORT CALLEE        a call left ringing through pickupd at
                                    127.0.0.1:PORT: CALLEE (user) registers
                                    from a socket of ours, caller 1001
                                    INVITEs it, the callee answers 180 with
                                    a To-tag; prints the Call-ID
Exit status 0 on success, 1 on a failed check, 2 on a usage error.
"""
import json
import os
import select
import socket
import sys
import threading

TIMEOUT = 20


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    return s


def readline(s, buf):
    """One line from s (buf: bytes already read); returns (line, rest) or
    (None, rest) at EOF."""
    while b"\n" not in buf:
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            # pickupd closed with our unread request in its queue (refused
            # or too_large): the kernel reports a reset after the data.
            d = b""
        if not d:
            return None, buf
        buf += d
    line, _, rest = buf.partition(b"\n")
    return line, rest


def read_answers(s, buf, n, good=lambda r: True):
    """The answers to requests with ids 0..n-1, in order, each ok and
    good(answer): returns (None, rest, bytes read) or (what went wrong,
    rest, bytes)."""
    total = 0
    for i in range(n):
        line, buf = readline(s, buf)
        if line is None:
            return "connection closed after %d answers" % i, buf, total
        total += len(line) + 1
        r = json.loads(line)
        if not r.get("ok") or r.get("id") != i or not good(r):
            return "answer %d out of order or wrong: %s" % (i, line[:200]), buf, total
    return None, buf, total


def at_eof(s, buf):
    """None when pickupd closed after what was read, else what came."""
    more, _ = readline(s, buf)
    if more is not None or buf:
        return "after the last answer: %r, not EOF" % (more or buf)[:100]
    return None


def exchange(path, data):
    s = connect(path)
    try:
        s.sendall(data + b"\n")
        line, _ = readline(s, b"")
    finally:
        s.close()
    if line is None:
        raise SystemExit("no response (connection closed)")
    return line.decode()


def check(line, expr):
    try:
        r = json.loads(line)
    except ValueError:
        print("response is not JSON: %r" % line)
        return 1
    if "\n" in line:
        print("response spans lines")
        return 1
    try:
        ok = eval(expr, {"r": r, "len": len, "any": any, "all": all})
    except Exception as e:  # the check itself failed: a failure too
        print("check %s raised %r on %s" % (expr, e, line))
        return 1
    if not ok:
        print("check failed: %s\nresponse: %s" % (expr, line))
        return 1
    return 0


def cmd_req(a):
    line = exchange(a[0], a[1].encode())
    print(line)
    return check(line, a[2]) if len(a) > 2 else 0


def cmd_raw(a):
    line = exchange(a[0], a[1].encode())
    print(line)
    return check(line, a[2])


def cmd_batch(a):
    s = connect(a[0])
    buf = b""
    for req in sys.stdin.buffer.read().splitlines():
        if not req.strip():
            continue
        s.sendall(req + b"\n")
        line, buf = readline(s, buf)
        if line is None:
            print("connection closed")
            return 1
        print(line.decode())
    s.close()
    return 0


def cmd_pipeline(a):
    n = int(a[1])
    s = connect(a[0])
    s.sendall(b"".join(json.dumps({"cmd": "status", "id": i}).encode() + b"\n" for i in range(n)))
    err, _, _ = read_answers(s, b"", n)
    if err:
        print(err)
        return 1
    s.close()
    print("%d pipelined responses in order" % n)
    return 0


def cmd_unterminated(a):
    s = connect(a[0])
    s.sendall(b'{"cmd":"status","id":0}\n{"cmd":"status","id":1}')
    s.shutdown(socket.SHUT_WR)
    err, buf, _ = read_answers(s, b"", 2)
    if err:
        print(err + " (the last request had no newline)")
        return 1
    err = at_eof(s, buf)
    if err:
        print(err)
        return 1
    s.close()
    print("a last request without its newline before the client's EOF answered, then EOF")
    return 0


def cmd_many(a):
    n = int(a[1])
    socks, errors = [], []
    # 32 connections, each served once before the next is opened, so that
    # all are counted by pickupd before the extra ones arrive.
    for i in range(32):
        s = connect(a[0])
        s.sendall(b'{"cmd":"status"}\n')
        line, _ = readline(s, b"")
        if line is None or not json.loads(line).get("ok"):
            print("client %d not served: %r" % (i, line))
            return 1
        socks.append(s)
    for i in range(32, n):
        s = connect(a[0])
        line, rest = readline(s, b"")
        if line is None or json.loads(line).get("error", {}).get("code") != "busy":
            print("client %d: expected busy, got %r" % (i, line))
            return 1
        more, _ = readline(s, rest)
        if more is not None:
            print("client %d: busy, but the connection stayed open" % i)
            return 1
        s.close()

    def work(s, k):
        buf = b""
        try:
            for j in range(20):
                s.sendall(json.dumps({"cmd": "stats", "id": [k, j]}).encode() + b"\n")
                line, buf = readline(s, buf)
                r = json.loads(line)
                if not r.get("ok") or r.get("id") != [k, j]:
                    errors.append("client %d request %d: %s" % (k, j, line[:200]))
                    return
        except Exception as e:
            errors.append("client %d: %r" % (k, e))

    th = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate(socks)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if errors:
        print("\n".join(errors[:5]))
        return 1
    for s in socks:
        s.close()
    # The slots are free again once pickupd saw the closes: a new client
    # is served (a busy answer while it catches up is retried).
    for attempt in range(200):
        line = exchange(a[0], b'{"cmd":"status"}')
        if json.loads(line).get("ok"):
            break
        threading.Event().wait(0.01)
    else:
        print("no client served after the 32 left: %s" % line)
        return 1
    print("32 clients served concurrently (640 requests), %d refused busy" % (n - 32))
    return 0


def allocated(path):
    """The bytes pickupd's allocator holds (jemalloc's count of live
    allocations, from stats), or None without jemalloc (sanitizer builds,
    whose allocators keep freed memory in quarantine)."""
    r = json.loads(exchange(path, b'{"cmd":"stats"}'))
    return r.get("result", {}).get("memory", {}).get("jemalloc", {}).get("allocated")


def cmd_slow(a):
    n, mode = int(a[1]), a[2]
    bounded = len(a) > 3 and a[3] == "bounded"
    mem0 = allocated(a[0]) if bounded else None
    s = connect(a[0])
    # One write well under the socket buffer: pickupd reads all N requests
    # in one go and answers them before it flushes.
    reqs = b"".join(json.dumps({"cmd": "metrics", "id": i}).encode() + b"\n" for i in range(n))
    s.sendall(reqs[:-1] if mode == "unterminated" else reqs)
    if mode in ("half", "unterminated"):
        s.shutdown(socket.SHUT_WR)
    r, _, _ = select.select([s], [], [], TIMEOUT)
    if not r:
        print("no answer within %d s" % TIMEOUT)
        return 1
    # pickupd holds the answers the socket did not take; others are served.
    line = exchange(a[0], b'{"cmd":"status","id":"other"}')
    if not json.loads(line).get("ok"):
        print("another client not served while one reads slowly: %s" % line)
        return 1
    # The control thread answered the other client after it had read the
    # slow one's requests: without backpressure, every answer is in its
    # memory by now.
    grown = allocated(a[0]) - mem0 if mem0 is not None else None
    if grown is not None and grown > 24 << 20:
        print("pickupd's memory grew by %d KB for %d answers nobody reads" % (grown >> 10, n))
        return 1
    if mode == "vanish":
        s.close()
        print("a client with %d answers pending left without reading" % n)
        return 0
    err, buf, total = read_answers(s, b"", n, lambda r: "pickupd_rx_total" in r["result"]["text"])
    if err:
        print(err)
        return 1
    if total < 4 << 20:
        print("only %d bytes of answers: too few to fill the sockets" % total)
        return 1
    if mode in ("half", "unterminated"):
        err = at_eof(s, buf)
        if err:
            print(err)
            return 1
    s.close()
    print("%d answers (%d bytes) to a slow reader whole and in order%s%s" %
          (n, total, ", then EOF" if mode == "half" else
           ", the last without its newline, then EOF" if mode == "unterminated" else "",
           "" if not bounded else
           ", pickupd's memory %d KB more while they waited" % (grown >> 10) if grown is not None else
           " (pickupd's memory not measured: no jemalloc in this build)"))
    return 0


def cmd_big(a):
    s = connect(a[0])
    chunk = b"x" * 65536
    sent = 0
    try:
        while sent <= (1 << 20) + 65536:
            s.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    line, rest = readline(s, b"")
    if line is None or json.loads(line).get("error", {}).get("code") != "too_large":
        print("expected too_large, got %r" % line)
        return 1
    more, _ = readline(s, rest)
    if more is not None:
        print("the connection stayed open after too_large")
        return 1
    print(line.decode())
    return 0


def cmd_denied(a):
    try:
        s = connect(a[0])
    except PermissionError:
        print("connect: permission denied by the file mode")
        return 3
    try:  # pickupd may have answered and closed already
        s.sendall(b'{"cmd":"status"}\n')
    except (BrokenPipeError, ConnectionResetError):
        pass
    line, rest = readline(s, b"")
    if line is None or json.loads(line).get("error", {}).get("code") != "permission_denied":
        print("expected permission_denied, got %r" % line)
        return 1
    more, _ = readline(s, rest)
    if more is not None:
        print("the connection stayed open after permission_denied")
        return 1
    print(line.decode())
    return 0


def cmd_stale(a):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(a[0])
    s.close()
    return 0


def cmd_sip(a):
    port, kind = int(a[0]), a[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(5)
    u.bind(("127.0.0.1", 0))
    me = u.getsockname()[1]
    tag = "%d-%d" % (os.getpid(), me)
    if kind == "options":
        first, extra = "OPTIONS sip:127.0.0.1:%d SIP/2.0" % port, ""
        frm = "sip:probe@example.test"
        to = "sip:127.0.0.1:%d" % port
        cseq = "1 OPTIONS"
    else:
        aor, contact = a[2], a[3]
        first = "REGISTER sip:%s SIP/2.0" % aor.split("@")[1]
        frm = to = "sip:" + aor
        cseq = "1 REGISTER"
        extra = "Contact: <%s>\r\nExpires: 600\r\n" % contact
    msg = ("%s\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s;rport\r\n"
           "Max-Forwards: 70\r\nFrom: <%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s@ctlkit\r\n"
           "CSeq: %s\r\n%sContent-Length: 0\r\n\r\n") % (first, me, tag, frm, tag, to, tag, cseq, extra)
    u.sendto(msg.encode(), ("127.0.0.1", port))
    try:
        d, _ = u.recvfrom(65536)
    except socket.timeout:
        print("no answer")
        return 1
    print(d.split(b"\r\n", 1)[0].split(b" ")[1].decode())
    return 0


def sip_request(first, me, tag, frm, to, callid, cseq, extra=""):
    return ("%s\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <%s>;tag=%s\r\nTo: <%s>\r\nCall-ID: %s\r\n"
            "CSeq: %s\r\n%sContent-Length: 0\r\n\r\n") % (first, me, tag, frm, tag, to, callid, cseq, extra)


def recv_sip(u, want):
    """The next message whose first line starts with want (others skipped)."""
    while True:
        d, src = u.recvfrom(65536)
        if d.startswith(want.encode()):
            return d.decode(), src


def cmd_ring(a):
    port, callee = int(a[0]), a[1]
    pk = ("127.0.0.1", port)
    ce = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    cr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for u in (ce, cr):
        u.settimeout(5)
        u.bind(("127.0.0.1", 0))
    cep, crp = ce.getsockname()[1], cr.getsockname()[1]
    tag = "%d-%d" % (os.getpid(), cep)
    aor = "sip:%s@example.test" % callee
    ce.sendto(sip_request("REGISTER sip:example.test SIP/2.0", cep, tag + "r", aor, aor, "reg-" + tag,
                          "1 REGISTER", "Contact: <sip:%s@127.0.0.1:%d>\r\nExpires: 600\r\n" % (callee, cep))
              .encode(), pk)
    st, _ = recv_sip(ce, "SIP/2.0")
    if " 200 " not in st.split("\r\n")[0]:
        print("REGISTER: " + st.split("\r\n")[0])
        return 1
    callid = "call-%s@ctlkit" % tag
    cr.sendto(sip_request("INVITE %s SIP/2.0" % aor, crp, tag + "i", "sip:1001@example.test", aor, callid,
                          "1 INVITE", "Contact: <sip:1001@127.0.0.1:%d>\r\n" % crp).encode(), pk)
    inv, src = recv_sip(ce, "INVITE ")
    hdrs = [h for h in inv.split("\r\n\r\n")[0].split("\r\n")[1:]
            if h.split(":")[0].strip().lower() in ("via", "v", "from", "f", "to", "t", "call-id", "i", "cseq")]
    resp = "SIP/2.0 180 Ringing\r\n"
    for h in hdrs:
        if h.split(":")[0].strip().lower() in ("to", "t"):
            h += ";tag=callee-" + tag
        resp += h + "\r\n"
    resp += "Contact: <sip:%s@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n" % (callee, cep)
    ce.sendto(resp.encode(), src)
    st, _ = recv_sip(cr, "SIP/2.0 180")  # forwarded to the caller: pickupd saw it
    print(callid)
    return 0


CMDS = {"req": cmd_req, "batch": cmd_batch, "raw": cmd_raw, "pipeline": cmd_pipeline, "many": cmd_many, "slow": cmd_slow, "big": cmd_big,
        "unterminated": cmd_unterminated, "denied": cmd_denied, "stale": cmd_stale, "sip": cmd_sip, "ring": cmd_ring}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in CMDS:
        print(__doc__, file=sys.stderr)
        return 2
    return CMDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
