#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Small SIP peers for tests/integration/test_daemon.sh.

  sipsend.py udp PORT FILE|- [HOST]
                               one datagram (FILE or stdin) to HOST:PORT
                               (default 127.0.0.1; ::1 for IPv6), "@SENTBY@"
                               replaced by our address; prints the answer,
                               or "NO ANSWER" after 5 s
  sipsend.py tcp PORT          the SIP-over-TCP checks of the socket backend
                               (framing, pipelining, keep-alive, half-close,
                               broken streams, idle timeout, connection limit);
                               prints one line per check, exits 1 on failure
  sipsend.py wildcard PORT     the checks of a proxy listener on 0.0.0.0
                               (tests/integration/test_wildcard.sh): answers
                               and forwarded messages leave from the address
                               the peer sent to; prints one line per check,
                               exits 1 on failure
"""
import socket
import sys
import time

TIMEOUT = 5.0


def options(tag, transport="TCP", sentby="127.0.0.1:9", extra=""):
    return ("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
            "Via: SIP/2.0/%s %s;branch=z9hG4bK-%s\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:t@example.test>;tag=%s\r\n"
            "To: <sip:127.0.0.1>\r\n"
            "Call-ID: %s@tcp-check\r\n"
            "CSeq: 1 OPTIONS\r\n%s"
            "Content-Length: 0\r\n\r\n" % (transport, sentby, tag, tag, tag, extra)).encode()


def udp(port, src, host="127.0.0.1"):
    data = sys.stdin.buffer.read() if src == "-" else open(src, "rb").read()
    v6 = ":" in host
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    me = ("[%s]:%d" if v6 else "%s:%d") % (host, s.getsockname()[1])
    data = data.replace(b"@SENTBY@", me.encode())
    # the RFC 4475 messages' Via names 192.0.2.53 without a port: us instead
    data = data.replace(b"SIP/2.0/UDP 192.0.2.53;", ("SIP/2.0/UDP %s;" % me).encode())
    s.settimeout(TIMEOUT)
    s.sendto(data, (host, port))
    try:
        sys.stdout.write(s.recv(65535).decode("latin-1"))
    except socket.timeout:
        print("NO ANSWER")
    return 0


def connect(port):
    c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return c


def read_until(c, pred):
    """Read until pred(data) holds or the peer closes; returns (data, closed)."""
    buf = b""
    end = time.monotonic() + TIMEOUT
    while not pred(buf):
        c.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = c.recv(65536)
        except socket.timeout:
            return buf, False
        except ConnectionResetError:
            return buf, True
        if not chunk:
            return buf, True
        buf += chunk
    return buf, False


def closed_by_peer(c):
    """True if the server closes c within TIMEOUT (read returns EOF/RST)."""
    _, closed = read_until(c, lambda b: False)
    return closed


def n200(b):
    return b.count(b"SIP/2.0 200 OK\r\n")


def check(ok, what):
    print(("ok: " if ok else "FAIL: ") + what)
    return ok


def tcp(port):
    good = True

    # 40 requests in one write: more than one burst of 32, answered in order
    c = connect(port)
    c.sendall(b"".join(options("p%d" % i) for i in range(40)))
    data, _ = read_until(c, lambda b: n200(b) >= 40)
    order = [data.find(("Call-ID: p%d@" % i).encode()) for i in range(40)]
    good &= check(n200(data) == 40 and order == sorted(order) and -1 not in order,
                  "tcp: 40 pipelined requests, 40 answers in order on the same connection")

    # one request in three segments
    msg = options("split")
    for part in (msg[:10], msg[10:100], msg[100:]):
        c.sendall(part)
        time.sleep(0.02)  # make them separate segments, not synchronisation
    data, _ = read_until(c, lambda b: n200(b) >= 1)
    good &= check(n200(data) == 1 and b"Call-ID: split@" in data, "tcp: a request split over 3 segments")

    # CRLFCRLF keep-alive ping gets a CRLF pong (RFC 5626)
    c.sendall(b"\r\n\r\n")
    data, _ = read_until(c, lambda b: len(b) >= 2)
    good &= check(data == b"\r\n", "tcp: CRLFCRLF ping answered with CRLF")

    # half-close after a request: the answer still comes, then EOF
    c.sendall(options("half"))
    c.shutdown(socket.SHUT_WR)
    data, closed = read_until(c, lambda b: False)
    good &= check(n200(data) == 1 and closed, "tcp: request then half-close: answered, then closed")
    c.close()

    # a broken stream (no Content-Length) is closed
    c = connect(port)
    c.sendall(options("nocl").replace(b"Content-Length: 0\r\n", b""))
    good &= check(closed_by_peer(c), "tcp: message without Content-Length: connection closed")
    c.close()

    # an idle connection is closed (tcp_idle_timeout: 1 in the test config)
    c = connect(port)
    t0 = time.monotonic()
    good &= check(closed_by_peer(c), "tcp: idle connection closed after %.1f s" % (time.monotonic() - t0))
    c.close()

    # connection limit (capacity.tcp_connections: 4): a fifth is refused
    conns = [connect(port) for _ in range(5)]
    for i, k in enumerate(conns):
        try:
            k.sendall(options("lim%d" % i))
        except OSError:
            pass
    answered = refused = 0
    for k in conns:
        data, closed = read_until(k, lambda b: n200(b) >= 1)
        if n200(data) == 1:
            answered += 1
        elif closed:
            refused += 1
        k.close()
    good &= check(refused >= 1 and answered >= 1 and answered + refused == 5,
                  "tcp: 5 connections for a limit of 4: %d answered, %d refused" % (answered, refused))
    return 0 if good else 1


def udp_peer():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(TIMEOUT)
    return s


def recv_sip(s):
    """(first line, header lines, source address) of the next datagram, or
    (None, [], None) after TIMEOUT."""
    try:
        data, src = s.recvfrom(65535)
    except socket.timeout:
        return None, [], None
    lines = data.decode("latin-1").split("\r\n\r\n")[0].split("\r\n")
    return lines[0], lines[1:], src


def hdrs_named(lines, name):
    return [l.split(":", 1)[1].strip() for l in lines if l.split(":", 1)[0].strip().lower() == name]


def wildcard(port):
    """pickupd's proxy listener is on 0.0.0.0:PORT; the phones on 127.0.0.1
    send to 127.0.0.2 and 127.0.0.3, two other addresses of the host. What
    pickupd answers or forwards for a request must leave from the address
    the request came to, and name it in Via and Record-Route: a UAS that
    answers to where a request came from (RFC 3581) then reaches pickupd at
    the address its Via names, and a caller gets its answers from the
    address it sent to (a NAT on its side lets nothing else in)."""
    good = True
    callee, caller = udp_peer(), udp_peer()
    cp, kp = callee.getsockname()[1], caller.getsockname()[1]

    callee.sendto(("REGISTER sip:example.test SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-wr;rport\r\n"
                   "Max-Forwards: 70\r\n"
                   "From: <sip:2002@example.test>;tag=wr\r\n"
                   "To: <sip:2002@example.test>\r\n"
                   "Call-ID: wr@wildcard\r\n"
                   "CSeq: 1 REGISTER\r\n"
                   "Contact: <sip:2002@127.0.0.1:%d>\r\n"
                   "Expires: 600\r\n"
                   "Content-Length: 0\r\n\r\n" % (cp, cp)).encode(), ("127.0.0.2", port))
    line, _, src = recv_sip(callee)
    good &= check(line == "SIP/2.0 200 OK" and src == ("127.0.0.2", port),
                  "wildcard: REGISTER to 127.0.0.2 answered 200 from 127.0.0.2 (got %s from %s)" % (line, src))

    caller.sendto(("INVITE sip:2002@example.test SIP/2.0\r\n"
                   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-wi;rport\r\n"
                   "Max-Forwards: 70\r\n"
                   "From: <sip:2001@example.test>;tag=wi\r\n"
                   "To: <sip:2002@example.test>\r\n"
                   "Call-ID: wi@wildcard\r\n"
                   "CSeq: 1 INVITE\r\n"
                   "Contact: <sip:2001@127.0.0.1:%d>\r\n"
                   "Content-Length: 0\r\n\r\n" % (kp, kp)).encode(), ("127.0.0.3", port))
    line, lines, src = recv_sip(callee)
    vias = hdrs_named(lines, "via")
    rr = hdrs_named(lines, "record-route")
    good &= check(line == "INVITE sip:2002@127.0.0.1:%d SIP/2.0" % cp and src == ("127.0.0.3", port),
                  "wildcard: INVITE sent to 127.0.0.3 forwarded from 127.0.0.3 (got %s from %s)" % (line, src))
    good &= check(len(vias) == 2 and vias[0].startswith("SIP/2.0/UDP 127.0.0.3:%d;" % port),
                  "wildcard: the forwarded INVITE's Via names 127.0.0.3 (%s)" % vias[:1])
    good &= check(rr == ["<sip:127.0.0.3:%d;lr>" % port],
                  "wildcard: its Record-Route names 127.0.0.3 (%s)" % rr)
    if src is None or not vias:
        return 1

    # the callee rings, answering to where the INVITE came from with
    # received and rport filled in (RFC 3581 §4)
    vias[0] = vias[0].replace(";rport", ";received=%s;rport=%d" % src, 1)
    ring = ["SIP/2.0 180 Ringing"] + ["Via: " + v for v in vias]
    ring += [n + ": " + hdrs_named(lines, n.lower())[0] for n in ("From", "Call-ID", "CSeq")]
    ring += ["To: %s;tag=wt" % hdrs_named(lines, "to")[0], "Content-Length: 0", "", ""]
    ring = "\r\n".join(ring)
    callee.sendto(ring.encode(), src)
    line, lines, src = recv_sip(caller)
    vias = hdrs_named(lines, "via")
    good &= check(line == "SIP/2.0 180 Ringing" and src == ("127.0.0.3", port),
                  "wildcard: the callee's 180 (sent to the INVITE's source) reaches the caller "
                  "from 127.0.0.3 (got %s from %s)" % (line, src))
    good &= check(len(vias) == 1 and "branch=z9hG4bK-wi" in vias[0],
                  "wildcard: pickupd's Via popped from the 180 (%s)" % vias)
    return 0 if good else 1


if __name__ == "__main__":
    if sys.argv[1] == "udp":
        sys.exit(udp(int(sys.argv[2]), sys.argv[3], *sys.argv[4:5]))
    if sys.argv[1] == "wildcard":
        sys.exit(wildcard(int(sys.argv[2])))
    sys.exit(tcp(int(sys.argv[2])))
