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


if __name__ == "__main__":
    if sys.argv[1] == "udp":
        sys.exit(udp(int(sys.argv[2]), sys.argv[3], *sys.argv[4:5]))
    sys.exit(tcp(int(sys.argv[2])))
