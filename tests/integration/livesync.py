#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Live group changes, each checked by the very next pickup
(tests/integration/test_livesync.sh, bench/livesync-latency.sh).

  livesync.py PICKUPD_PORT CONTROL_SOCKET CALLEE_PORT CHANGES [RELOAD_EVERY]

Plays three phones on 127.0.0.1 over UDP, all in the served domain
example.test: a caller (3001) whose call to 3002 rings (3002 is a static
binding to CALLEE_PORT, where this script answers 180), and a picker
(3003). Then, CHANGES times, it changes 3003's membership of group *802
through the control socket -- alternately `member.add` (right pickup) and
`member.remove` -- and right after the change's answer dials *802 from
3003:
  * member: pickupd forwards the pickup INVITE, with a Replaces header
    naming the ringing call, to the caller, who declines it with 486 (so the
    call goes back to RINGING for the next round); the picker gets the 486;
  * not a member: the picker gets 403 at once.
Every RELOAD_EVERY changes (0: never) it also sends `reload`: the groups
file on disk has 3003 out of *802, so the next pickup must get 403 again.

Prints one line per failure and a summary line
  "changes N reloads R failures F rtt_ms p50 X p99 Y max Z"
(rtt: from sending a change to its answer, which pickupd sends only once
the change is published to the workers), and exits 1 if anything failed.
"""
import json
import random
import socket
import sys
import time

TIMEOUT = 3.0
DOMAIN = "example.test"


class Phone:
    def __init__(self, user, port=0):
        self.user = user
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(TIMEOUT)

    def send(self, data, port):
        self.sock.sendto(data.encode(), ("127.0.0.1", port))

    def recv(self, want):
        """The next message whose first line matches want(first_line);
        others (retransmissions, 100 Trying) are skipped. None on timeout."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                return None
            m = parse(data.decode(errors="replace"))
            if want(m["first"]):
                m["src"] = src
                return m


def parse(text):
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = []
    for ln in lines[1:]:
        name, _, value = ln.partition(":")
        hdrs.append((name.strip(), value.strip()))
    return {"first": lines[0], "hdrs": hdrs, "body": body}


def hget(m, name, all_=False):
    vals = [v for n, v in m["hdrs"] if n.lower() == name.lower()]
    return vals if all_ else (vals[0] if vals else None)


def answer(req, code, reason, to_tag=None, contact=None):
    """A UAS response to req: every Via, From, To (+tag), Call-ID, CSeq."""
    out = ["SIP/2.0 %d %s" % (code, reason)]
    for v in hget(req, "Via", True):
        out.append("Via: " + v)
    out.append("From: " + hget(req, "From"))
    to = hget(req, "To")
    if to_tag and ";tag=" not in to:
        to += ";tag=" + to_tag
    out.append("To: " + to)
    out.append("Call-ID: " + hget(req, "Call-ID"))
    out.append("CSeq: " + hget(req, "CSeq"))
    if contact:
        out.append("Contact: " + contact)
    out.append("Content-Length: 0")
    return "\r\n".join(out) + "\r\n\r\n"


def request(method, ruri, phone, call_id, from_tag, to_uri, cseq, to_tag=None, branch=None, extra=""):
    branch = branch or "z9hG4bK-ls-%x" % random.getrandbits(48)
    to = "<%s>" % to_uri + (";tag=" + to_tag if to_tag else "")
    return ("%s %s SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:%s@%s>;tag=%s\r\n"
            "To: %s\r\n"
            "Call-ID: %s\r\n"
            "CSeq: %d %s\r\n"
            "Contact: <sip:%s@127.0.0.1:%d>\r\n%s"
            "Content-Length: 0\r\n\r\n"
            % (method, ruri, phone.port, branch, phone.user, DOMAIN, from_tag, to, call_id, cseq,
               method, phone.user, phone.port, extra))


class Control:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def call(self, cmd, **args):
        req = {"cmd": cmd}
        if args:
            req["args"] = args
        t0 = time.monotonic()
        self.sock.sendall((json.dumps(req) + "\n").encode())
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control socket closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line), time.monotonic() - t0


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        return 2
    pk_port, ctl_path, callee_port, changes = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                              int(sys.argv[4]))
    reload_every = int(sys.argv[5]) if len(sys.argv) == 6 else 0
    caller, callee, picker = Phone("3001"), Phone("3002", callee_port), Phone("3003")
    ctl = Control(ctl_path)
    failures = []

    def fail(what):
        failures.append(what)
        print("FAIL: " + what, flush=True)

    # The ringing call 3001 -> 3002.
    call_id = "ls-%x@127.0.0.1" % random.getrandbits(48)
    caller.send(request("INVITE", "sip:3002@%s" % DOMAIN, caller, call_id, "c1", "sip:3002@%s" % DOMAIN, 1),
                pk_port)
    inv = callee.recv(lambda f: f.startswith("INVITE "))
    if inv is None:
        fail("the call to 3002 did not reach its phone")
        print("changes 0 reloads 0 failures 1")
        return 1
    callee.send(answer(inv, 180, "Ringing", "b1", "<sip:3002@127.0.0.1:%d>" % callee.port), pk_port)
    if caller.recv(lambda f: f.startswith("SIP/2.0 180")) is None:
        fail("the caller did not get the 180")

    rtts = []
    reloads = 0
    member = False
    for i in range(changes):
        if reload_every and i and i % reload_every == 0:
            r, rtt = ctl.call("reload")
            if not r.get("ok"):
                fail("reload: %s" % r)
            reloads += 1
            member = False  # the file on disk: 3003 not in *802
            check_pickup(i, "after reload", member, caller, picker, pk_port, fail)
        if member:
            r, rtt = ctl.call("member.remove", group="*802", user="3003")
        else:
            r, rtt = ctl.call("member.add", group="*802", user="3003", rights=["pickup"])
        rtts.append(rtt)
        if not r.get("ok"):
            fail("change %d: %s" % (i, r))
            continue
        member = not member
        check_pickup(i, "member" if member else "not a member", member, caller, picker, pk_port, fail)

    # End the call: CANCEL, the callee's 200 and 487, the caller's ACK.
    caller.send(request("CANCEL", "sip:3002@%s" % DOMAIN, caller, call_id, "c1", "sip:3002@%s" % DOMAIN, 1,
                        branch=hget(inv, "Via", True)[-1].split("branch=")[1].split(";")[0]), pk_port)
    can = callee.recv(lambda f: f.startswith("CANCEL "))
    if can is not None:
        callee.send(answer(can, 200, "OK", "b1"), pk_port)
        callee.send(answer(inv, 487, "Request Terminated", "b1"), pk_port)

    rtts.sort()
    def pct(p):
        return 1000.0 * rtts[min(len(rtts) - 1, int(p * len(rtts)))] if rtts else 0.0
    print("changes %d reloads %d failures %d rtt_ms p50 %.3f p99 %.3f max %.3f"
          % (len(rtts), reloads, len(failures), pct(0.5), pct(0.99), 1000.0 * (rtts[-1] if rtts else 0)))
    return 1 if failures else 0


def check_pickup(i, what, member, caller, picker, pk_port, fail):
    """3003 dials *802: forwarded to the caller (who declines it, 486) when
    a member, 403 when not."""
    cid = "ls-pick-%d-%x@127.0.0.1" % (i, random.getrandbits(32))
    picker.send(request("INVITE", "sip:*802@%s" % DOMAIN, picker, cid, "p%d" % i, "sip:*802@%s" % DOMAIN, 1),
                pk_port)
    if member:
        fwd = caller.recv(lambda f: f.startswith("INVITE "))
        if fwd is None:
            fail("change %d (%s): the pickup INVITE did not reach the caller" % (i, what))
            return
        if hget(fwd, "Call-ID") != cid or not hget(fwd, "Replaces"):
            fail("change %d (%s): the caller got an INVITE without Replaces or of another call" % (i, what))
        caller.send(answer(fwd, 486, "Busy Here", "x%d" % i), pk_port)
        r = picker.recv(lambda f: f.startswith("SIP/2.0 4"))
        if r is None or not r["first"].startswith("SIP/2.0 486"):
            fail("change %d (%s): the picker got %s, not the 486" % (i, what, r and r["first"]))
    else:
        r = picker.recv(lambda f: f.startswith("SIP/2.0 4"))
        if r is None or not r["first"].startswith("SIP/2.0 403"):
            fail("change %d (%s): the picker got %s, not 403" % (i, what, r and r["first"]))
    if r is not None:
        # the ACK of a non-2xx final answer (hop by hop; pickupd drops the
        # one for its own 403, forwards the other)
        picker.send(request("ACK", "sip:*802@%s" % DOMAIN, picker, cid, "p%d" % i, "sip:*802@%s" % DOMAIN, 1,
                            to_tag=hget(r, "To").split("tag=")[-1],
                            branch=hget(r, "Via").split("branch=")[1].split(";")[0]), pk_port)


if __name__ == "__main__":
    sys.exit(main())
