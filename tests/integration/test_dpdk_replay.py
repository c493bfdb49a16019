#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Deterministic replay of a pickup flow through pickupd's pipeline on the
dpdk backend (tests/integration/dpdk_replay.c, DPDK's net_pcap device).

Usage: test_dpdk_replay.py PK_DPDK_REPLAY

The phones' side of the flow is written here as a pcap capture, byte by
byte with struct (Ethernet, ARP, IPv4, UDP with checksums). The answers a
phone gives depend on what pickupd sent (its Via lines), so the capture
grows in stages and every stage replays the whole capture from the start
in a fresh pickupd: a stage's output must begin with the previous stage's
output, byte for byte (Date headers aside) — the replay is deterministic.

  0  ARP requests from the four phones: the answers (and the start-up
     gratuitous ARP) give pickupd's MAC;
  1  + REGISTER of 2004, OPTIONS to pickupd, a datagram with a bad UDP
     checksum (counted, dropped), INVITE from the caller to 2002 (group
     *801) sent as two IPv4 fragments, which pickupd forwards larger than
     the MTU (its own Via added): two fragments out, put back together
     here;
  2  + 180 from 2002, the pickup INVITE of 2003 to *801;
  3  + the caller's 200 to the INVITE with Replaces, its CANCEL of the
     first INVITE.

Checked in the final output: every frame (MACs, IPv4/UDP headers and
checksums, destination), the messages in order and the headers a phone
acts on (Request-URI, Replaces, Require, Reason, Via, CSeq), the counters.
Exit 0 on success, 1 with the first difference.
"""
import os
import struct
import subprocess
import sys
import tempfile

PK_IP = "10.99.0.1"
PEERS = {  # name: (ip, port, mac)
    "caller": ("10.99.0.2", 5070, bytes([2, 0, 0, 0, 0, 0x12])),
    "callee": ("10.99.0.3", 5062, bytes([2, 0, 0, 0, 0, 0x13])),
    "picker": ("10.99.0.4", 5080, bytes([2, 0, 0, 0, 0, 0x14])),
    "reg": ("10.99.0.5", 5062, bytes([2, 0, 0, 0, 0, 0x15])),
}
BCAST = b"\xff" * 6


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ip4b(a):
    return bytes(int(x) for x in a.split("."))


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype):
    return dst + src + struct.pack("!H", etype)


def arp_request(peer):
    ip, _, mac = PEERS[peer]
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + ip4b(ip) + b"\0" * 6 + ip4b(PK_IP)
    return (eth(BCAST, mac, 0x0806) + body).ljust(60, b"\0")


def udp_dgram(src, sport, dst, dport, payload, bad_cksum=False):
    length = 8 + len(payload)
    pseudo = ip4b(src) + ip4b(dst) + struct.pack("!BBH", 0, 17, length)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    c = csum(pseudo + hdr + payload) or 0xFFFF
    if bad_cksum:
        c ^= 0x5A5A
    return struct.pack("!HHHH", sport, dport, length, c) + payload


def ip_packet(src, dst, ident, frag, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, 17, 0,
                      ip4b(src), ip4b(dst))
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


class Capture:
    """What the phones send, in order."""

    def __init__(self):
        self.frames = []
        self.ident = 100

    def sip(self, peer, text, our_mac, bad_cksum=False, fragments=1):
        ip, port, mac = PEERS[peer]
        dgram = udp_dgram(ip, port, PK_IP, 5060, text.replace("\n", "\r\n").encode(), bad_cksum)
        self.ident += 1
        if fragments == 1:
            self.frames.append(eth(our_mac, mac, 0x0800) + ip_packet(ip, PK_IP, self.ident, 0, dgram))
            return
        cut = (len(dgram) // 2) & ~7
        parts = [(0, dgram[:cut], 0x2000), (cut, dgram[cut:], 0)]
        for off, chunk, mf in reversed(parts):  # the last fragment first
            self.frames.append(eth(our_mac, mac, 0x0800) +
                               ip_packet(ip, PK_IP, self.ident, mf | (off // 8), chunk))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for i, fr in enumerate(self.frames):
                f.write(struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)))
                f.write(fr)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        fail("%s: no pcap header" % path)
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    frames, off = [], 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def reassemble(frames):
    """pickupd's frames with its IPv4 fragments put back together (in the
    place of the first fragment); checks the fragments' offsets."""
    out, pending = [], {}
    for fr in frames:
        if struct.unpack("!H", fr[12:14])[0] != 0x0800:
            out.append(fr)
            continue
        ident, frag = struct.unpack("!HH", fr[18:22])
        if frag & 0x3FFF == 0:
            out.append(fr)
            continue
        tot = struct.unpack("!H", fr[16:18])[0]
        parts = pending.setdefault(ident, [])
        if not parts:
            out.append(ident)  # placeholder, in order
        parts.append(((frag & 0x1FFF) * 8, fr[34:14 + tot], frag & 0x2000, fr))
        if len(fr) - 14 > 1500:
            fail("a fragment larger than the MTU")
    for i, x in enumerate(out):
        if isinstance(x, int):
            parts = sorted(pending[x])
            data = b""
            for off, chunk, _, _ in parts:
                if off != len(data):
                    fail("fragments of datagram %d do not follow each other" % x)
                data += chunk
            if parts[-1][2]:
                fail("datagram %d: last fragment missing" % x)
            first = parts[0][3]
            ip = bytearray(first[14:34])
            ip[2:4] = struct.pack("!H", 20 + len(data))
            ip[6:8] = b"\0\0"
            ip[10:12] = b"\0\0"
            ip[10:12] = struct.pack("!H", csum(bytes(ip)))
            out[i] = first[:14] + bytes(ip) + data
    return out


def run(tool, cap, tmp, stage):
    inp = os.path.join(tmp, "in%d.pcap" % stage)
    out = os.path.join(tmp, "out%d.pcap" % stage)
    cap.write(inp)
    r = subprocess.run([tool, inp, out], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        fail("stage %d: pk-dpdk-replay exit %d: %s" % (stage, r.returncode, r.stderr))
    ctr = {}
    for line in r.stdout.splitlines():
        k, v = line.split()
        ctr[k] = int(v)
    return reassemble(read_pcap(out)), ctr


class Out:
    """One frame pickupd sent, decoded and checked."""

    def __init__(self, fr, our_mac):
        if fr[6:12] != our_mac:
            fail("frame from another MAC: %s" % fr[6:12].hex())
        self.dst_mac = fr[:6]
        self.etype = struct.unpack("!H", fr[12:14])[0]
        self.raw = fr
        self.text = None
        if self.etype != 0x0800:
            return
        ip = fr[14:34]
        if ip[0] != 0x45 or csum(ip) != 0:
            fail("bad IPv4 header from pickupd: %s" % ip.hex())
        tot = struct.unpack("!H", ip[2:4])[0]
        self.src = "%d.%d.%d.%d" % tuple(ip[12:16])
        self.dst = "%d.%d.%d.%d" % tuple(ip[16:20])
        if ip[9] != 17 or self.src != PK_IP:
            fail("not UDP from pickupd: %s" % ip.hex())
        u = fr[34:14 + tot]
        self.sport, self.dport, ulen, uck = struct.unpack("!HHHH", u[:8])
        pseudo = ip4b(self.src) + ip4b(self.dst) + struct.pack("!BBH", 0, 17, ulen)
        if uck != 0 and csum(pseudo + u[:ulen]) != 0:
            fail("bad UDP checksum from pickupd")
        self.text = u[8:ulen].decode("utf-8", "replace")

    def first(self):
        return self.text.split("\r\n", 1)[0]

    def header(self, name):
        return [l.split(":", 1)[1].strip() for l in self.text.split("\r\n\r\n")[0].split("\r\n")[1:]
                if l.split(":", 1)[0].strip().lower() == name.lower()]

    def vias(self):
        return "".join(l + "\n" for l in self.text.split("\r\n\r\n")[0].split("\r\n")
                       if l.lower().startswith("via:"))

    def to(self, peer):
        ip, port, mac = PEERS[peer]
        if (self.dst, self.dport, self.dst_mac) != (ip, port, mac):
            fail("%r went to %s:%d (%s), not the %s %s:%d" %
                 (self.first(), self.dst, self.dport, self.dst_mac.hex(), peer, ip, port))


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            j = next(k for k in range(min(len(x), len(y)) + 1) if k == min(len(x), len(y)) or x[k] != y[k])
            return "frame %d byte %d: %r / %r" % (i, j, x[max(0, j - 40):j + 40], y[max(0, j - 40):j + 40])
    return "lengths %d / %d" % (len(a), len(b))


def undated(frames):
    """The frames with Date headers (the registrar's clock) and the UDP
    checksums of their datagrams blanked."""
    out = []
    for fr in frames:
        i = fr.find(b"\r\nDate: ")
        if i >= 0:
            j = fr.find(b"\r\n", i + 2)
            fr = fr[:i] + b"\r\nDate: -" + b" " * (j - i - 9) + fr[j:]
            fr = fr[:40] + b"\0\0" + fr[42:]  # the UDP checksum covers it
        out.append(fr)
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="pk-dpdk-replay-")
    try:
        return stages(tool, tmp)
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


def stages(tool, tmp):
    cap = Capture()
    for p in ("caller", "callee", "picker", "reg"):
        cap.frames.append(arp_request(p))
    out0, _ = run(tool, cap, tmp, 0)
    if len(out0) != 5:
        fail("stage 0: %d frames out, want the gratuitous ARP and 4 replies" % len(out0))
    our_mac = out0[0][6:12]
    garp = out0[0]
    if garp[:6] != BCAST or garp[12:14] != b"\x08\x06" or garp[28:32] != ip4b(PK_IP) or \
            garp[38:42] != ip4b(PK_IP):
        fail("stage 0: first frame is not our gratuitous ARP: %s" % garp[:42].hex())
    for fr, p in zip(out0[1:], ("caller", "callee", "picker", "reg")):
        ip, _, mac = PEERS[p]
        if fr[:6] != mac or struct.unpack("!H", fr[20:22])[0] != 2 or fr[22:28] != our_mac or \
                fr[28:32] != ip4b(PK_IP) or fr[32:38] != mac or fr[38:42] != ip4b(ip):
            fail("stage 0: bad ARP reply to the %s: %s" % (p, fr[:42].hex()))

    # Stage 1: REGISTER, OPTIONS, a bad checksum, a fragmented INVITE.
    cap.sip("reg", "REGISTER sip:example.test SIP/2.0\n"
            "Via: SIP/2.0/UDP 10.99.0.5:5062;branch=z9hG4bK-r1;rport\n"
            "Max-Forwards: 70\nFrom: <sip:2004@example.test>;tag=fr1\n"
            "To: <sip:2004@example.test>\nCall-ID: r1@replay\nCSeq: 1 REGISTER\n"
            "Contact: <sip:2004@10.99.0.5:5062>;expires=600\nContent-Length: 0\n\n", our_mac)
    cap.sip("reg", "OPTIONS sip:10.99.0.1 SIP/2.0\n"
            "Via: SIP/2.0/UDP 10.99.0.5:5062;branch=z9hG4bK-o1;rport\n"
            "Max-Forwards: 70\nFrom: <sip:2004@example.test>;tag=fo1\n"
            "To: <sip:10.99.0.1>\nCall-ID: o1@replay\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
            our_mac)
    cap.sip("reg", "OPTIONS sip:10.99.0.1 SIP/2.0\n"
            "Via: SIP/2.0/UDP 10.99.0.5:5062;branch=z9hG4bK-o2;rport\n"
            "Max-Forwards: 70\nFrom: <sip:2004@example.test>;tag=fo2\n"
            "To: <sip:10.99.0.1>\nCall-ID: o2@replay\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
            our_mac, bad_cksum=True)
    sdp = ("v=0\no=- 1 1 IN IP4 10.99.0.2\ns=-\nc=IN IP4 10.99.0.2\nt=0 0\n"
           "m=audio 49170 RTP/AVP 0 8 101\na=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n"
           "a=rtpmap:101 telephone-event/8000\na=sendrecv\n" + "a=x-pad:%s\n" % ("p" * 900))
    sdpb = sdp.replace("\n", "\r\n")
    cap.sip("caller", "INVITE sip:2002@example.test SIP/2.0\n"
            "Via: SIP/2.0/UDP 10.99.0.2:5070;branch=z9hG4bK-c1;rport\n"
            "Max-Forwards: 70\nFrom: \"Alice\" <sip:alice@example.test>;tag=fa1\n"
            "To: <sip:2002@example.test>\nCall-ID: c1@replay\nCSeq: 1 INVITE\n"
            "Contact: <sip:alice@10.99.0.2:5070>\nContent-Type: application/sdp\n"
            "Content-Length: %d\n\n%s" % (len(sdpb), sdp), our_mac, fragments=2)
    out1, c1 = run(tool, cap, tmp, 1)
    if undated(out1[:5]) != undated(out0):
        fail("stage 1 did not start with stage 0's output: " + first_diff(undated(out1[:5]), undated(out0)))
    o = [Out(fr, our_mac) for fr in out1[5:]]
    if len(o) != 3:
        fail("stage 1: %d frames after the ARP, want 3: %r" % (len(o), [x.first() for x in o]))
    if o[0].first() != "SIP/2.0 200 OK" or o[0].header("CSeq") != ["1 REGISTER"] or \
            o[0].header("Contact")[0].find("sip:2004@10.99.0.5:5062") < 0:
        fail("stage 1: REGISTER answer: %r" % o[0].text)
    o[0].to("reg")
    if o[1].first() != "SIP/2.0 200 OK" or o[1].header("CSeq") != ["1 OPTIONS"]:
        fail("stage 1: OPTIONS answer: %r" % o[1].text)
    o[1].to("reg")
    inv = o[2]
    inv.to("callee")
    if inv.first() != "INVITE sip:2002@10.99.0.3:5062 SIP/2.0":
        fail("stage 1: forwarded INVITE: %r" % inv.first())
    if len(inv.header("Via")) != 2 or not inv.header("Via")[0].startswith("SIP/2.0/UDP 10.99.0.1:5060;branch=z9hG4bK") \
            or inv.header("Max-Forwards") != ["69"] or not inv.text.endswith(sdpb):
        fail("stage 1: forwarded INVITE headers/body: %r" % inv.text[:600])
    if c1["net.udp_bad_cksum"] != 1 or c1["net.frag_reassembled"] != 1 or c1["worker.rx"] != 3 \
            or c1["net.tx_fragments"] != 2:
        fail("stage 1 counters: bad_cksum %d reassembled %d rx %d tx_fragments %d" %
             (c1["net.udp_bad_cksum"], c1["net.frag_reassembled"], c1["worker.rx"],
              c1["net.tx_fragments"]))

    # Stage 2: 180 from 2002, 2003 dials *801.
    cap.sip("callee", "SIP/2.0 180 Ringing\n%sFrom: \"Alice\" <sip:alice@example.test>;tag=fa1\n"
            "To: <sip:2002@example.test>;tag=tb1\nCall-ID: c1@replay\nCSeq: 1 INVITE\n"
            "Contact: <sip:2002@10.99.0.3:5062>\nContent-Length: 0\n\n" % inv.vias(), our_mac)
    cap.sip("picker", "INVITE sip:*801@example.test SIP/2.0\n"
            "Via: SIP/2.0/UDP 10.99.0.4:5080;branch=z9hG4bK-p1;rport\n"
            "Max-Forwards: 70\nFrom: \"Picker\" <sip:2003@example.test>;tag=fp1\n"
            "To: <sip:*801@example.test>\nCall-ID: pk1@replay\nCSeq: 7 INVITE\n"
            "Contact: <sip:2003@10.99.0.4:5080>\nContent-Length: 0\n\n", our_mac)
    out2, c2 = run(tool, cap, tmp, 2)
    if undated(out2[:len(out1)]) != undated(out1):
        fail("stage 2 did not start with stage 1's output: " + first_diff(undated(out2[:len(out1)]), undated(out1)))
    o = [Out(fr, our_mac) for fr in out2[len(out1):]]
    if [x.first() for x in o] != ["SIP/2.0 180 Ringing", "INVITE sip:alice@10.99.0.2:5070 SIP/2.0"]:
        fail("stage 2: %r" % [x.first() for x in o])
    o[0].to("caller")
    if len(o[0].header("Via")) != 1 or o[0].header("To") != ["<sip:2002@example.test>;tag=tb1"]:
        fail("stage 2: 180 to the caller: %r" % o[0].text)
    rep = o[1]
    rep.to("caller")
    if rep.header("Replaces") != ["c1@replay;to-tag=fa1;from-tag=tb1;early-only"] or \
            rep.header("Require") != ["replaces"] or rep.header("Call-ID") != ["pk1@replay"] or \
            rep.header("CSeq") != ["7 INVITE"]:
        fail("stage 2: INVITE with Replaces: %r" % rep.text)
    if c2["worker.forwarded"] < 3:
        fail("stage 2: forwarded %d" % c2["worker.forwarded"])

    # Stage 3: the caller accepts the pickup and cancels its call.
    cap.sip("caller", "SIP/2.0 200 OK\n%sFrom: \"Picker\" <sip:2003@example.test>;tag=fp1\n"
            "To: <sip:*801@example.test>;tag=ta1\nCall-ID: pk1@replay\nCSeq: 7 INVITE\n"
            "Contact: <sip:alice@10.99.0.2:5070>\nContent-Length: 0\n\n" % rep.vias(), our_mac)
    cap.sip("caller", "CANCEL sip:2002@example.test SIP/2.0\n"
            "Via: SIP/2.0/UDP 10.99.0.2:5070;branch=z9hG4bK-c1;rport\n"
            "Max-Forwards: 70\nFrom: \"Alice\" <sip:alice@example.test>;tag=fa1\n"
            "To: <sip:2002@example.test>\nCall-ID: c1@replay\nCSeq: 1 CANCEL\n"
            "Content-Length: 0\n\n", our_mac)
    out3, c3 = run(tool, cap, tmp, 3)
    if undated(out3[:len(out2)]) != undated(out2):
        fail("stage 3 did not start with stage 2's output: " + first_diff(undated(out3[:len(out2)]), undated(out2)))
    o = [Out(fr, our_mac) for fr in out3[len(out2):]]
    if [x.first() for x in o] != ["SIP/2.0 200 OK", "CANCEL sip:2002@10.99.0.3:5062 SIP/2.0"]:
        fail("stage 3: %r" % [x.first() for x in o])
    o[0].to("picker")
    if o[0].header("CSeq") != ["7 INVITE"] or len(o[0].header("Via")) != 1:
        fail("stage 3: 200 to the picker: %r" % o[0].text)
    o[1].to("callee")
    if o[1].header("Reason") != ['SIP;cause=200;text="Call completed elsewhere"']:
        fail("stage 3: CANCEL without the Reason: %r" % o[1].text)
    if o[1].header("Via")[0].split(";")[1] != inv.header("Via")[0].split(";")[1]:
        fail("stage 3: the CANCEL's branch is not the INVITE's")
    # The same capture again: the same bytes.
    again, _ = run(tool, cap, tmp, 4)
    if undated(again) != undated(out3):
        fail("a second replay of the same capture differs: " + first_diff(undated(again), undated(out3)))
    for k in ("net.ip_bad_cksum", "net.tx_full", "net.tx_no_mbuf", "dpdk.tx_dropped",
              "worker.drop_parse", "worker.drop_proxy"):
        if c3[k] != 0:
            fail("counter %s = %d" % (k, c3[k]))
    print("ok: %d frames in, %d out; pickup flow, fragments, ARP, checksums, determinism" %
          (len(cap.frames), len(out3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
