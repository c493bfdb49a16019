#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pickupd from start to exit with a regular ready file, SIGHUP and SIGINT.

Usage: daemon_signals.py PICKUPD CONFIG READY GROUPS BAD_GROUPS

Starts `PICKUPD -c CONFIG --ready-file READY`, READY a path where no file
is yet, and waits for the file to be renamed into place (inotify on its
directory, watched before the start: no polling, no sleep). It must say
"pid N" (the child's pid) first and "ready" last. Then BAD_GROUPS is
copied over GROUPS (the groups file CONFIG names) and SIGHUP sent: the
log must say the reload was refused, naming the file and line, and
pickupd must go on running. SIGINT then stops it:
exit status 0, "SIGINT: stopping" and "stopped" logged, the ready file
removed. Kills only the pickupd it started, by its pid.
"""
import ctypes
import os
import queue
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

IN_CLOSE_WRITE = 0x008
IN_MOVED_TO = 0x080
TIMEOUT = 10.0


def fail(msg, log=()):
    print("FAIL: " + msg)
    for line in log:
        print("  | " + line)
    sys.exit(1)


def main():
    pickupd, config, ready, groups, bad_groups = sys.argv[1:6]
    ready_dir, ready_name = os.path.split(os.path.abspath(ready))
    libc = ctypes.CDLL(None, use_errno=True)
    ifd = libc.inotify_init1(os.O_CLOEXEC)
    if ifd < 0 or libc.inotify_add_watch(ifd, ready_dir.encode(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0:
        fail("inotify: %s" % os.strerror(ctypes.get_errno()))

    proc = subprocess.Popen([pickupd, "-c", config, "--ready-file", ready],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log, lines = [], queue.Queue()

    def reader():
        for line in proc.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=reader, daemon=True).start()

    def wait_log(text):
        """The log up to the first line containing text (None at EOF)."""
        end = time.monotonic() + TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return None
            if line is None:
                return None
            log.append(line)
            if text in line:
                return line

    try:
        # ---- ready: the file renamed into place
        end = time.monotonic() + TIMEOUT
        done = False
        while not done:
            left = end - time.monotonic()
            if left <= 0:
                fail("no ready file within %.0f s" % TIMEOUT, log)
            if not select.select([ifd], [], [], min(left, 0.5))[0]:
                if proc.poll() is not None:
                    wait_log("\0")
                    fail("pickupd exited (status %d) before it was ready" % proc.returncode, log)
                continue
            buf = os.read(ifd, 4096)
            off = 0
            while off < len(buf):
                _, mask, _, n = struct.unpack_from("iIII", buf, off)
                name = buf[off + 16:off + 16 + n].rstrip(b"\0").decode()
                off += 16 + n
                if name == ready_name and mask & IN_MOVED_TO:
                    done = True
        with open(ready) as f:
            content = f.read().splitlines()
        if not content or content[0] != "pid %d" % proc.pid or content[-1] != "ready":
            fail("ready file: %r (pid %d)" % (content, proc.pid), log)
        print("ok: a regular ready file is renamed into place: pid %d ... ready" % proc.pid)

        # ---- SIGHUP with a broken groups file: refused, still running
        shutil.copyfile(bad_groups, groups)
        proc.send_signal(signal.SIGHUP)
        line = wait_log("SIGHUP:")
        if line is None or "reload refused, nothing changed: %s:" % groups not in line:
            fail("SIGHUP of a broken groups file: expected 'reload refused ... %s:LINE', got %r"
                 % (groups, line), log)
        if proc.poll() is not None:
            fail("pickupd exited after a refused SIGHUP reload (status %d)" % proc.returncode, log)
        print("ok: SIGHUP with a broken groups file: refused with file:line, pickupd runs on")

        # ---- SIGINT: a clean stop
        proc.send_signal(signal.SIGINT)
        if wait_log("SIGINT: stopping") is None:
            fail("no 'SIGINT: stopping' in the log", log)
        try:
            rc = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("pickupd still running %.0f s after SIGINT" % TIMEOUT, log)
        while wait_log("\0") is not None:
            pass
        if rc != 0:
            fail("exit status %d after SIGINT" % rc, log)
        if not any(line.endswith("info: stopped") for line in log):
            fail("no final 'stopped' line", log)
        if os.path.exists(ready):
            fail("the ready file is left after the stop", log)
        print("ok: SIGINT: exit 0, 'stopped' logged, the ready file removed")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
