#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The phones' side of test_dpdk_afpacket.sh, run inside the test's network
namespace (10.99.0.2 and 10.99.0.3 on the veth towards pickupd's
net_af_packet port, pickupd = 10.99.0.1:5060).

  1. ICMP echo to 10.99.0.1 (raw socket: no ping binary needed): three
     requests, each answered with the same id, sequence and payload — which
     also needs pickupd to answer the kernel's ARP request;
  2. OPTIONS to pickupd: 200 OK back to the sender;
  3. an INVITE of ~3.3 KB to 2002 (bound to 10.99.0.3:5062): the kernel
     sends it as three IPv4 fragments; pickupd must reassemble it, resolve
     10.99.0.3 by ARP, and forward it, larger than the MTU, in fragments
     that this kernel reassembles: the callee's socket must get the whole
     INVITE, Request-URI rewritten, body intact;
  4. a Group Call Pickup: the caller (10.99.0.2:5070) calls 2002 (group
     *801, bound to 10.99.0.3:5062), whose phone rings (180); 2003
     (10.99.0.2:5080) dials *801; the caller's phone must get the INVITE
     with Replaces naming its early dialog, answer 200 (to the picker),
     and its CANCEL must reach 2002 with Reason cause=200;
  5. with an argument N: OPTIONS from N more sockets (N flows, which the
     kernel's fanout spreads over pickupd's queues): every one answered.
Exit 0, or 1 with the first failure.

  dpdk_afpacket_peer.py ping ADDR   step 1 only, to ADDR (test_dpdk_ports.sh)
"""
import os
import socket
import struct
import sys
import time

PK = "10.99.0.1"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(dst=PK):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(5)
    ident = os.getpid() & 0xFFFF
    for seq in range(1, 4):
        payload = b"pickupd-%d" % seq * 4
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        pkt = hdr[:2] + struct.pack("!H", csum(hdr + payload)) + hdr[4:] + payload
        s.sendto(pkt, (dst, 0))
        deadline = time.time() + 5
        while True:
            if time.time() > deadline:
                fail("no echo reply to request %d" % seq)
            data, addr = s.recvfrom(2048)
            ihl = (data[0] & 15) * 4
            icmp = data[ihl:]
            if addr[0] != dst or icmp[0] != 0:
                continue
            t, code, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if rid != ident or rseq != seq:
                continue
            if icmp[8:] != payload or csum(icmp) != 0:
                fail("echo reply %d: payload or checksum wrong" % seq)
            break
    print("ping: 3 replies")


def sip(text):
    return text.replace("\n", "\r\n").encode()


def recv_msg(sock, what):
    try:
        data, src = sock.recvfrom(65535)
    except socket.timeout:
        fail("nothing received: " + what)
    return data.decode("utf-8", "replace"), src


def headers(text, name):
    head = text.split("\r\n\r\n")[0].split("\r\n")[1:]
    return [l.split(":", 1)[1].strip() for l in head if l.split(":", 1)[0].strip().lower() == name.lower()]


def vias(text):
    return "".join(l + "\n" for l in text.split("\r\n\r\n")[0].split("\r\n") if l.lower().startswith("via:"))


def pickup(caller, callee):
    picker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    picker.bind(("10.99.0.2", 5080))
    picker.settimeout(5)
    tag = "%d" % os.getpid()
    caller.sendto(sip("INVITE sip:2002@example.test SIP/2.0\n"
                      "Via: SIP/2.0/UDP 10.99.0.2:5070;branch=z9hG4bK-pc%s;rport\n"
                      "Max-Forwards: 70\nFrom: \"Alice\" <sip:alice@example.test>;tag=fa%s\n"
                      "To: <sip:2002@example.test>\nCall-ID: pc%s@afpacket\nCSeq: 1 INVITE\n"
                      "Contact: <sip:alice@10.99.0.2:5070>\nContent-Length: 0\n\n" % (tag, tag, tag)),
                  (PK, 5060))
    inv, _ = recv_msg(callee, "the call at 2002's phone")
    if not inv.startswith("INVITE sip:2002@10.99.0.3:5062 SIP/2.0\r\n"):
        fail("call at 2002: %r" % inv[:80])
    callee.sendto(sip("SIP/2.0 180 Ringing\n%sFrom: \"Alice\" <sip:alice@example.test>;tag=fa%s\n"
                      "To: <sip:2002@example.test>;tag=tb%s\nCall-ID: pc%s@afpacket\nCSeq: 1 INVITE\n"
                      "Contact: <sip:2002@10.99.0.3:5062>\nContent-Length: 0\n\n" % (vias(inv), tag, tag, tag)),
                  (PK, 5060))
    ring, _ = recv_msg(caller, "the 180 at the caller")
    if not ring.startswith("SIP/2.0 180 Ringing\r\n"):
        fail("180 at the caller: %r" % ring[:80])
    picker.sendto(sip("INVITE sip:*801@example.test SIP/2.0\n"
                      "Via: SIP/2.0/UDP 10.99.0.2:5080;branch=z9hG4bK-pp%s;rport\n"
                      "Max-Forwards: 70\nFrom: \"Picker\" <sip:2003@example.test>;tag=fp%s\n"
                      "To: <sip:*801@example.test>\nCall-ID: pp%s@afpacket\nCSeq: 7 INVITE\n"
                      "Contact: <sip:2003@10.99.0.2:5080>\nContent-Length: 0\n\n" % (tag, tag, tag)),
                  (PK, 5060))
    rep, _ = recv_msg(caller, "the INVITE with Replaces at the caller")
    want = "pc%s@afpacket;to-tag=fa%s;from-tag=tb%s;early-only" % (tag, tag, tag)
    if not rep.startswith("INVITE sip:alice@10.99.0.2:5070 SIP/2.0\r\n") or \
            headers(rep, "Replaces") != [want] or headers(rep, "Require") != ["replaces"]:
        fail("INVITE with Replaces: %r" % rep[:400])
    caller.sendto(sip("SIP/2.0 200 OK\n%sFrom: \"Picker\" <sip:2003@example.test>;tag=fp%s\n"
                      "To: <sip:*801@example.test>;tag=ta%s\nCall-ID: pp%s@afpacket\nCSeq: 7 INVITE\n"
                      "Contact: <sip:alice@10.99.0.2:5070>\nContent-Length: 0\n\n" % (vias(rep), tag, tag, tag)),
                  (PK, 5060))
    ok, _ = recv_msg(picker, "the 200 at the picker")
    if not ok.startswith("SIP/2.0 200 OK\r\n") or headers(ok, "CSeq") != ["7 INVITE"]:
        fail("200 at the picker: %r" % ok[:80])
    caller.sendto(sip("CANCEL sip:2002@example.test SIP/2.0\n"
                      "Via: SIP/2.0/UDP 10.99.0.2:5070;branch=z9hG4bK-pc%s;rport\n"
                      "Max-Forwards: 70\nFrom: \"Alice\" <sip:alice@example.test>;tag=fa%s\n"
                      "To: <sip:2002@example.test>\nCall-ID: pc%s@afpacket\nCSeq: 1 CANCEL\n"
                      "Content-Length: 0\n\n" % (tag, tag, tag)), (PK, 5060))
    can, _ = recv_msg(callee, "the CANCEL at 2002's phone")
    if not can.startswith("CANCEL sip:2002@10.99.0.3:5062 SIP/2.0\r\n") or \
            headers(can, "Reason") != ['SIP;cause=200;text="Call completed elsewhere"']:
        fail("CANCEL at 2002: %r" % can[:400])
    print("pickup of a ringing call: Replaces, 200 to the picker, CANCEL with Reason")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "ping":
        ping(sys.argv[2])
        return 0
    ping()
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("10.99.0.2", 5070))
    caller.settimeout(5)
    caller.sendto(sip("OPTIONS sip:10.99.0.1 SIP/2.0\n"
                      "Via: SIP/2.0/UDP 10.99.0.2:5070;branch=z9hG4bK-o1;rport\n"
                      "Max-Forwards: 70\nFrom: <sip:2004@example.test>;tag=fo\n"
                      "To: <sip:10.99.0.1>\nCall-ID: o1@afpacket\nCSeq: 1 OPTIONS\n"
                      "Content-Length: 0\n\n"), (PK, 5060))
    try:
        ans, src = caller.recvfrom(65535)
    except socket.timeout:
        fail("no answer to OPTIONS")
    if not ans.startswith(b"SIP/2.0 200 OK\r\n") or src != (PK, 5060):
        fail("OPTIONS answer: %r from %r" % (ans[:60], src))
    print("OPTIONS: 200 OK")

    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    callee.bind(("10.99.0.3", 5062))
    callee.settimeout(5)
    body = "v=0\r\no=- 1 1 IN IP4 10.99.0.2\r\ns=-\r\nc=IN IP4 10.99.0.2\r\nt=0 0\r\n" + \
        "".join("a=x-pad%d:%s\r\n" % (i, "p" * 60) for i in range(48))
    inv = sip("INVITE sip:2002@example.test SIP/2.0\n"
              "Via: SIP/2.0/UDP 10.99.0.2:5070;branch=z9hG4bK-big1;rport\n"
              "Max-Forwards: 70\nFrom: \"Alice\" <sip:alice@example.test>;tag=fa\n"
              "To: <sip:2002@example.test>\nCall-ID: big1@afpacket\nCSeq: 1 INVITE\n"
              "Contact: <sip:alice@10.99.0.2:5070>\nContent-Type: application/sdp\n"
              "Content-Length: %d\n\n" % len(body)) + body.encode()
    if len(inv) < 3000:
        fail("test INVITE too small to be fragmented")
    caller.sendto(inv, (PK, 5060))
    try:
        got, src = callee.recvfrom(65535)
    except socket.timeout:
        fail("the fragmented INVITE was not forwarded to 10.99.0.3:5062")
    if not got.startswith(b"INVITE sip:2002@10.99.0.3:5062 SIP/2.0\r\n"):
        fail("forwarded INVITE: %r" % got[:80])
    if not got.endswith(body.encode()) or len(got) <= 1500 or src != (PK, 5060):
        fail("forwarded INVITE: %d bytes from %r, body intact: %s" %
             (len(got), src, got.endswith(body.encode())))
    print("INVITE of %d bytes in fragments: forwarded whole (%d bytes)" % (len(inv), len(got)))
    pickup(caller, callee)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    socks = []
    for i in range(n):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("10.99.0.2", 0))
        u.settimeout(5)
        port = u.getsockname()[1]
        u.sendto(sip("OPTIONS sip:10.99.0.1 SIP/2.0\n"
                     "Via: SIP/2.0/UDP 10.99.0.2:%d;branch=z9hG4bK-m%d;rport\n"
                     "Max-Forwards: 70\nFrom: <sip:2004@example.test>;tag=fm%d\n"
                     "To: <sip:10.99.0.1>\nCall-ID: m%d@afpacket\nCSeq: 1 OPTIONS\n"
                     "Content-Length: 0\n\n" % (port, i, i, i)), (PK, 5060))
        socks.append(u)
    for i, u in enumerate(socks):
        try:
            ans = u.recv(65535)
        except socket.timeout:
            fail("OPTIONS %d of %d not answered" % (i + 1, n))
        if not ans.startswith(b"SIP/2.0 200 OK\r\n") or b"Call-ID: m%d@afpacket" % i not in ans:
            fail("OPTIONS %d: %r" % (i, ans[:80]))
    if n:
        print("%d more OPTIONS from %d flows: all answered" % (n, n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
