#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""SIP phones that misbehave on purpose, for tests/integration/test_faults.sh
(docs/reliability.md "Faults"). Standard library only, one thread; every
phone is a UDP socket on 127.0.0.1 talking to pickupd at 127.0.0.1:PK.

  faultkit.py ring-timeout PK CTL CALLEE_PORT
      (a) a callee (2006, statically bound to CALLEE_PORT) that rings and
      never answers: ring_timeout is set to 2 s through the control socket;
      the entry must be expired (calls.in_use back to 0, `expired` + 1)
      between 1.5 and 6 s after the 180, and a pickup after that gets 480
  faultkit.py claim-timeout PK CTL CALLEE_PORT
      (b) a caller that never answers the pickup INVITE: claim_timeout set
      to 2 s; the call must be claimed, then RINGING again
      (`claim_timeout` + 1) within 6 s, and a second picker (2004) then
      gets it (the caller answers this time: picked, the caller's CANCEL
      carries the Reason to the callee); afterwards no entry is left
  faultkit.py call PK USER PHONE_PORT
      a call to USER; a phone listening on PHONE_PORT answers 486 if the
      INVITE reaches it. Prints "reached", or the status pickupd answered
      (404, 480...), or "timeout" (nothing within 3 s)
  faultkit.py register PK USER PHONE_PORT EXPIRES
      REGISTER USER from PHONE_PORT (Contact on it); prints the status
Exit status 0 on success, 1 on a failed check, 2 on a usage error.
"""
import json
import os
import socket
import sys
import time

DOMAIN = "example.test"


class Fail(Exception):
    pass


def ctl(path, cmd, args=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    req = {"cmd": cmd}
    if args is not None:
        req["args"] = args
    s.sendall(json.dumps(req).encode() + b"\n")
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(1 << 20)
        if not d:
            break
        buf += d
    s.close()
    r = json.loads(buf)
    if not r.get("ok"):
        raise Fail("%s: %s" % (cmd, r.get("error")))
    return r["result"]


def wait_stats(path, pred, secs, what):
    deadline = time.monotonic() + secs
    while True:
        s = ctl(path, "stats")
        if pred(s):
            return s
        if time.monotonic() > deadline:
            c = s["calls"]
            raise Fail("%s: not within %g s (in_use %d ringing %d claimed %d; %s)"
                       % (what, secs, c["in_use"], c["ringing"], c["claimed"],
                          {k: v for k, v in c["counters"].items() if v}))
        time.sleep(0.05)


class Msg:
    def __init__(self, data, src):
        text = data.decode("utf-8", "replace")
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.first = lines[0]
        self.hdrs = []
        for h in lines[1:]:
            n, _, v = h.partition(":")
            self.hdrs.append((n.strip(), v.strip()))
        self.src = src

    def is_request(self, method=None):
        if self.first.startswith("SIP/2.0"):
            return False
        return method is None or self.first.startswith(method + " ")

    def status(self):
        return int(self.first.split(" ")[1]) if self.first.startswith("SIP/2.0 ") else 0

    def get(self, name):
        for n, v in self.hdrs:
            if n.lower() == name.lower():
                return v
        return None

    def all(self, name):
        return [(n, v) for n, v in self.hdrs if n.lower() == name.lower()]


class Phone:
    def __init__(self, pk, user, port=0):
        self.pk = ("127.0.0.1", pk)
        self.user = user
        self.u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.u.bind(("127.0.0.1", port))
        self.port = self.u.getsockname()[1]
        self.tag = "%s-%d-%d" % (user, os.getpid(), self.port)
        self.n = 0
        self.contact = "<sip:%s@127.0.0.1:%d>" % (user, self.port)

    def uri(self):
        return "sip:%s@%s" % (self.user, DOMAIN)

    def request(self, method, ruri, to, callid, cseq, branch=None, totag=None, extra="", dst=None):
        self.n += 1
        branch = branch or "z9hG4bK-%s-%d" % (self.tag, self.n)
        msg = ("%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
               "Max-Forwards: 70\r\nFrom: <%s>;tag=%s\r\nTo: <%s>%s\r\nCall-ID: %s\r\n"
               "CSeq: %d %s\r\nContact: %s\r\n%sContent-Length: 0\r\n\r\n"
               % (method, ruri, self.port, branch, self.uri(), self.tag, to,
                  ";tag=" + totag if totag else "", callid, cseq, method, self.contact, extra))
        self.u.sendto(msg.encode(), dst or self.pk)
        return branch

    def respond(self, req, code, reason, totag=None, extra=""):
        out = "SIP/2.0 %d %s\r\n" % (code, reason)
        for n, v in req.hdrs:
            ln = n.lower()
            if ln in ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route"):
                out += "%s: %s\r\n" % (n, v)
            elif ln in ("to", "t"):
                if totag and ";tag=" not in v:
                    v += ";tag=" + totag
                out += "%s: %s\r\n" % (n, v)
        out += "Contact: %s\r\n%sContent-Length: 0\r\n\r\n" % (self.contact, extra)
        self.u.sendto(out.encode(), req.src)

    def recv(self, pred, secs=3, what="a message"):
        """The next message satisfying pred (others are skipped)."""
        deadline = time.monotonic() + secs
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("%s: no %s within %g s" % (self.user, what, secs))
            self.u.settimeout(left)
            try:
                d, src = self.u.recvfrom(65536)
            except socket.timeout:
                continue
            m = Msg(d, src)
            if pred(m):
                return m

    def drain(self):
        """Messages waiting on the socket now (returned, not answered)."""
        out = []
        self.u.settimeout(0)
        try:
            while True:
                d, src = self.u.recvfrom(65536)
                out.append(Msg(d, src))
        except (BlockingIOError, socket.timeout):
            pass
        return out


def final(m):
    return m.status() >= 200


def ring(pk, callee_port, tag):
    """caller 1001 -> 2006 (static binding on callee_port), 180. Returns
    (caller, callee, invite as the callee got it, call-id, callee to-tag)."""
    caller = Phone(pk, "1001")
    callee = Phone(pk, "2006", callee_port)
    callid = "fault-%s-%d@faultkit" % (tag, os.getpid())
    br = caller.request("INVITE", "sip:2006@" + DOMAIN, "sip:2006@" + DOMAIN, callid, 1,
                        extra="Supported: replaces\r\n")
    inv = callee.recv(lambda m: m.is_request("INVITE"), what="INVITE")
    ttag = "ce-" + tag
    callee.respond(inv, 180, "Ringing", ttag)
    caller.recv(lambda m: m.status() == 180, what="180")
    caller.inv_branch = br
    return caller, callee, inv, callid, ttag


def pickup(pk, user, callid_tag):
    p = Phone(pk, user)
    callid = "pick-%s-%d@faultkit" % (callid_tag, os.getpid())
    p.request("INVITE", "sip:*801@" + DOMAIN, "sip:*801@" + DOMAIN, callid, 1)
    return p, callid


def cmd_ring_timeout(a):
    pk, path, cport = int(a[0]), a[1], int(a[2])
    ctl(path, "set", {"name": "ring_timeout", "value": 2})
    try:
        s0 = ctl(path, "stats")
        e0 = s0["calls"]["counters"]["expired"]
        caller, callee, inv, callid, ttag = ring(pk, cport, "rt")
        t180 = time.monotonic()
        wait_stats(path, lambda s: s["calls"]["ringing"] == 1, 3, "the call ringing")
        s = wait_stats(path, lambda s: s["calls"]["in_use"] == 0, 6, "the entry freed by the ring timeout")
        dt = time.monotonic() - t180
        if s["calls"]["counters"]["expired"] != e0 + 1:
            raise Fail("expired %d, expected %d" % (s["calls"]["counters"]["expired"], e0 + 1))
        if dt < 1.5:
            raise Fail("entry gone after %.2f s: before the 2 s ring timeout" % dt)
        # no longer offered: a pickup now finds nothing
        p, _ = pickup(pk, "2003", "rt")
        m = p.recv(final, what="final answer to the pickup")
        if m.status() != 480:
            raise Fail("pickup after the ring timeout: %s, expected 480" % m.first)
        if any(x.is_request("INVITE") for x in caller.drain()):
            raise Fail("the expired call was offered to a picker anyway")
        # the phones end their call (pickupd forwards it as any CANCEL)
        caller.request("CANCEL", "sip:2006@" + DOMAIN, "sip:2006@" + DOMAIN, callid, 1,
                       branch=caller.inv_branch)
        print("ring timeout: entry expired %.1f s after the 180 (ring_timeout 2 s), "
              "calls.in_use 0, expired +1; the next pickup got 480" % dt)
    finally:
        ctl(path, "set", {"name": "ring_timeout", "value": 120})
    return 0


def cmd_claim_timeout(a):
    pk, path, cport = int(a[0]), a[1], int(a[2])
    ctl(path, "set", {"name": "claim_timeout", "value": 2})
    try:
        k0 = ctl(path, "stats")["calls"]["counters"]
        caller, callee, inv, callid, ttag = ring(pk, cport, "ct")
        wait_stats(path, lambda s: s["calls"]["ringing"] == 1, 3, "the call ringing")
        # picker 1: its INVITE reaches the caller, which never answers
        p1, _ = pickup(pk, "2003", "ct1")
        r1 = caller.recv(lambda m: m.is_request("INVITE"), what="pickup INVITE (picker 1)")
        if callid not in (r1.get("Replaces") or ""):
            raise Fail("first pickup INVITE without Replaces of our call: %s" % r1.get("Replaces"))
        tclaim = time.monotonic()
        wait_stats(path, lambda s: s["calls"]["claimed"] == 1, 3, "the call claimed")
        s = wait_stats(path, lambda s: s["calls"]["ringing"] == 1 and s["calls"]["claimed"] == 0
                       and s["calls"]["counters"]["claim_timeout"] == k0["claim_timeout"] + 1,
                       6, "the claim released by the claim timeout")
        dt = time.monotonic() - tclaim
        if dt < 1.5:
            raise Fail("claim released after %.2f s: before the 2 s claim timeout" % dt)
        if s["calls"]["in_use"] != 1:
            raise Fail("in_use %d after the claim timeout, expected 1" % s["calls"]["in_use"])
        # picker 2 gets the same call; this time the caller answers
        p2, cid2 = pickup(pk, "2004", "ct2")
        r2 = caller.recv(lambda m: m.is_request("INVITE") and m.get("Call-ID") == cid2,
                         what="pickup INVITE (picker 2)")
        if callid not in (r2.get("Replaces") or ""):
            raise Fail("second pickup INVITE without Replaces of our call: %s" % r2.get("Replaces"))
        caller.respond(r2, 200, "OK", "cr-ct")
        ok = p2.recv(final, what="final answer (picker 2)")
        if ok.status() != 200:
            raise Fail("picker 2 got %s" % ok.first)
        totag = ok.get("To").split("tag=")[1].split(";")[0]
        p2.request("ACK", "sip:1001@127.0.0.1:%d" % caller.port, "sip:*801@" + DOMAIN, cid2, 1,
                   totag=totag)
        # the caller drops its first leg: CANCEL, with the Reason at the callee
        caller.request("CANCEL", "sip:2006@" + DOMAIN, "sip:2006@" + DOMAIN, callid, 1,
                       branch=caller.inv_branch)
        c = callee.recv(lambda m: m.is_request("CANCEL"), what="CANCEL")
        if "cause=200" not in (c.get("Reason") or ""):
            raise Fail("the CANCEL after the pickup came without Reason cause=200: %s" % c.get("Reason"))
        callee.respond(c, 200, "OK", ttag)
        callee.respond(inv, 487, "Request Terminated", ttag)
        s = wait_stats(path, lambda s: s["calls"]["in_use"] == 0, 5, "no entry left")
        k = s["calls"]["counters"]
        got = {n: k[n] - k0[n] for n in ("claimed", "claim_timeout", "picked", "expired", "inserted")}
        want = {"claimed": 2, "claim_timeout": 1, "picked": 1, "expired": 0, "inserted": 1}
        if got != want:
            raise Fail("table counters moved by %s, expected %s" % (got, want))
        late = [m for m in caller.drain() if m.is_request("INVITE") and m.get("Call-ID") not in (cid2,)]
        late = [m for m in late if m.get("Call-ID") != r1.get("Call-ID")]
        if late:
            raise Fail("a third pickup INVITE reached the caller")
        print("claim timeout: claim released %.1f s after the unanswered pickup INVITE (claim_timeout 2 s), "
              "the second picker got the call; claimed +2, claim_timeout +1, picked +1, in_use 0" % dt)
    finally:
        ctl(path, "set", {"name": "claim_timeout", "value": 32})
    return 0


def cmd_call(a):
    pk, user, pport = int(a[0]), a[1], int(a[2])
    phone = Phone(pk, user, pport)
    caller = Phone(pk, "1001")
    callid = "fcall-%s-%d-%d@faultkit" % (user, os.getpid(), time.monotonic_ns())
    caller.request("INVITE", "sip:%s@%s" % (user, DOMAIN), "sip:%s@%s" % (user, DOMAIN), callid, 1)
    deadline = time.monotonic() + 3
    phone.u.setblocking(False)
    caller.u.setblocking(False)
    while time.monotonic() < deadline:
        for p in (phone, caller):
            try:
                d, src = p.u.recvfrom(65536)
            except BlockingIOError:
                continue
            m = Msg(d, src)
            if p is phone and m.is_request("INVITE"):
                phone.respond(m, 486, "Busy Here", "busy")
                print("reached")
                return 0
            if p is caller and m.status() >= 200:
                caller.request("ACK", "sip:%s@%s" % (user, DOMAIN), "sip:%s@%s" % (user, DOMAIN),
                               callid, 1, totag=(m.get("To").split("tag=") + [""])[1])
                print(m.status())
                return 0
        time.sleep(0.005)
    print("timeout")
    return 0


def cmd_register(a):
    pk, user, pport, expires = int(a[0]), a[1], int(a[2]), int(a[3])
    phone = Phone(pk, user, pport)
    phone.request("REGISTER", "sip:" + DOMAIN, phone.uri(), "reg-%s-%d@faultkit" % (user, pport), 1,
                  extra="Expires: %d\r\n" % expires)
    m = phone.recv(final, what="REGISTER answer")
    print(m.status())
    return 0


CMDS = {"ring-timeout": cmd_ring_timeout, "claim-timeout": cmd_claim_timeout, "call": cmd_call,
        "register": cmd_register}


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in CMDS:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return CMDS[sys.argv[1]](sys.argv[2:])
    except (Fail, OSError) as e:
        print("FAIL: %s" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
