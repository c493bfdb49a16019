#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Seed inputs for fuzz_net (tests/fuzz/fuzz_net.c describes the layout).

    net_seeds.py DIR

writes a few inputs into DIR that reach each part of the network layer at
once (an ARP request and reply, an ICMP echo, a UDP datagram for a served
port, one in two fragments, a VLAN-tagged one, a datagram sent before its
next hop is known, a large one fragmented on a small MTU, time passing),
so that a short run starts where a blind fuzzer would take minutes to
get. The checksums are left 0: the receive operations ask the harness to
write right ones (op bit 3).
"""
import os
import struct
import sys

OUR_MAC = bytes([2, 0, 0, 0, 0, 1])
PEER_MAC = bytes([2, 0, 0, 0, 0, 2])
BCAST = b"\xff" * 6
OUR_IP = bytes([10, 99, 0, 1])
PEER_IP = bytes([10, 99, 0, 2])

# op 0: a received frame; bits: 4 our MAC, 8 repair checksums, 16 checked
# by the port, 32 VLAN stripped; op 1: time; op 2: send (peer << 2); op 3: poll
RX = 0x0C


def eth(dst, ethertype, vlan=None):
    if vlan is None:
        return dst + PEER_MAC + struct.pack("!H", ethertype)
    return dst + PEER_MAC + struct.pack("!HHH", 0x8100, vlan, ethertype)


def ip4(proto, payload, ident=1, frag=0, src=PEER_IP, dst=OUR_IP):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0, src,
                       dst) + payload


def udp(payload, dport=5060, length=None):
    return struct.pack("!HHHH", 5062, dport, length or 8 + len(payload), 0) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, spa, tha, tpa)


def rx(frame, op=RX):
    return struct.pack("<BH", op, len(frame)) + frame


def send(peer, length):
    return struct.pack("<BH", 2 | peer << 2, length)


def tick(units):
    return bytes([1, units])


POLL = bytes([3])
SIP = (b"INVITE sip:2002@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.99.0.2:5062;branch=z9hG4bK-1\r\n"
       b"Max-Forwards: 70\r\nFrom: <sip:1001@example.test>;tag=a\r\nTo: <sip:2002@example.test>\r\n"
       b"Call-ID: seed@fuzz\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def seeds():
    dgram = udp(SIP * 4)  # 2 fragments of a 1,500-byte MTU
    half = (len(dgram) // 2) & ~7
    yield "arp-request", b"\x00" + rx(
        eth(BCAST, 0x0806) + arp(1, PEER_MAC, PEER_IP, b"\x00" * 6, OUR_IP))
    yield "arp-resolve", b"\x00" + send(0, 300) + rx(
        eth(OUR_MAC, 0x0806) + arp(2, PEER_MAC, PEER_IP, OUR_MAC, OUR_IP)) + POLL
    yield "icmp-echo", b"\x00" + rx(eth(OUR_MAC, 0x0800) + ip4(1, struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping"))
    yield "udp", b"\x00" + rx(eth(OUR_MAC, 0x0800) + ip4(17, udp(SIP)))
    yield "udp-checked", b"\x00" + rx(eth(OUR_MAC, 0x0800) + ip4(17, udp(SIP)), RX | 16)
    yield "udp-fragments", b"\x00" + rx(eth(OUR_MAC, 0x0800) + ip4(17, dgram[:half], 9, 0x2000)) + rx(
        eth(OUR_MAC, 0x0800) + ip4(17, dgram[half:], 9, half // 8)) + tick(50) + POLL
    yield "udp-vlan", b"\x01" + rx(eth(OUR_MAC, 0x0800, 100) + ip4(17, udp(SIP)))
    yield "udp-vlan-stripped", b"\x01" + rx(eth(OUR_MAC, 0x0800) + ip4(17, udp(SIP)), RX | 32)
    yield "send-large-small-mtu", b"\x08" + send(3, 2000) + send(0, 1200) + tick(2) + POLL + tick(
        40) + POLL + rx(eth(OUR_MAC, 0x0806) + arp(2, PEER_MAC, bytes([10, 99, 0, 254]), OUR_MAC, OUR_IP))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: net_seeds.py DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(sys.argv[1], "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
