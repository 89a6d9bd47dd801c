#!/usr/bin/env python3
"""ctl_client.py: raw (and hostile) clients of sluiced's control socket.

  ctl_client.py send SOCKET PAYLOAD [--shut]
      Sends PAYLOAD (Python escapes allowed: 'status\\n', '\\x00\\xff\\n') and
      prints the reply up to EOF. --shut: shut the sending side down after it.
  ctl_client.py big SOCKET NBYTES
      Streams NBYTES of 'a' with no newline while reading; prints the reply. The
      daemon answering and closing early is the expected outcome, not an error.
  ctl_client.py random SOCKET NBYTES SEED
      Sends NBYTES of seeded random bytes then a newline; prints the reply.
  ctl_client.py idle SOCKET [--trickle]
      Connects and sends nothing (--trickle: one byte, no newline, every 2 s);
      prints the reply the daemon sends on its own, then "elapsed=SECONDS".
  ctl_client.py flood SOCKET N CAP
      Opens N connections at once and sends nothing, waits (at most 30 s) until
      the N - CAP past the daemon's cap have been answered "error: busy", then
      sends "status" on the others and reads their replies. Prints
      "busy=B served=S other=O".
  ctl_client.py hold SOCKET N RELEASE_FILE
      Opens N connections (prints "connected=K"), keeps them open until
      RELEASE_FILE exists (at most 60 s), then closes them all.

Every socket operation has a timeout; the script never runs past ~60 s.
"""
import codecs
import os
import random
import select
import socket
import sys
import threading
import time

import sluicetest

TIMEOUT = 60


def connect(path):
    return sluicetest.connect("unix:" + path, timeout=TIMEOUT)


read_all = sluicetest.read_to_eof


def out(data):
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()


def send(path, payload, shut):
    s = connect(path)
    try:
        s.sendall(payload)
        if shut:
            s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out(read_all(s))


def big(path, n):
    s = connect(path)

    def writer():
        chunk = b"a" * 65536
        left = n
        try:
            while left > 0:
                k = min(left, len(chunk))
                s.sendall(chunk[:k])
                left -= k
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    out(read_all(s))


def rand(path, n, seed):
    r = random.Random(seed)
    data = bytes(r.getrandbits(8) for _ in range(n))
    send(path, data + b"\n", False)


def idle(path, trickle):
    s = connect(path)
    start = time.monotonic()
    s.setblocking(False)
    got = []
    next_byte = start + 2
    while time.monotonic() - start < TIMEOUT:
        r, _, _ = select.select([s], [], [], 0.2)
        if r:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            got.append(b)
        elif trickle and time.monotonic() >= next_byte:
            try:
                s.send(b"s")
            except OSError:
                pass
            next_byte += 2
    out(b"".join(got))
    print("elapsed=%.1f" % (time.monotonic() - start))


def flood(path, n, cap):
    socks = [connect(path) for _ in range(n)]
    for s in socks:
        s.setblocking(False)
    replies = [b""] * n
    closed = [False] * n

    def busy_count():
        return sum(1 for i in range(n) if closed[i] and replies[i].startswith(b"error: busy"))

    # The ones past the cap get "error: busy" and EOF at once: wait for all of them.
    deadline = time.monotonic() + 30
    while busy_count() < n - cap and time.monotonic() < deadline:
        open_ = [s for i, s in enumerate(socks) if not closed[i]]
        r, _, _ = select.select(open_, [], [], 0.2)
        for s in r:
            i = socks.index(s)
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                b = b""
            if b:
                replies[i] += b
            else:
                closed[i] = True
    served = other = 0
    for i, s in enumerate(socks):
        if closed[i]:
            if not replies[i].startswith(b"error: busy"):
                other += 1
                sys.stderr.write("unexpected reply: %r\n" % replies[i][:200])
            continue
        s.setblocking(True)
        s.settimeout(TIMEOUT)
        try:
            s.sendall(b"status\n")
            rep = replies[i] + read_all(s)
        except OSError as e:
            rep = b"oserror " + str(e).encode()
        if rep.rstrip(b"\n").endswith(b"\nok"):
            served += 1
        elif rep.startswith(b"error: busy"):
            pass  # counted below
        else:
            other += 1
            sys.stderr.write("unexpected reply to status: %r\n" % rep[-200:])
        if rep.startswith(b"error: busy"):
            closed[i] = True
            replies[i] = rep
    print("busy=%d served=%d other=%d" % (busy_count(), served, other))
    for s in socks:
        s.close()


def hold(path, n, release):
    socks = []
    for _ in range(n):
        try:
            socks.append(connect(path))
        except OSError as e:
            sys.stderr.write("connect: %s\n" % e)
            break
    print("connected=%d" % len(socks))
    sys.stdout.flush()
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    for s in socks:
        s.close()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, path = argv[1], argv[2]
    if cmd == "send":
        payload = codecs.escape_decode(argv[3].encode())[0]
        send(path, payload, "--shut" in argv[4:])
    elif cmd == "big":
        big(path, int(argv[3]))
    elif cmd == "random":
        rand(path, int(argv[3]), int(argv[4]))
    elif cmd == "idle":
        idle(path, "--trickle" in argv[3:])
    elif cmd == "hold":
        hold(path, int(argv[3]), argv[4])
    elif cmd == "flood":
        flood(path, int(argv[3]), int(argv[4]))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
