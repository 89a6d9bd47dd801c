#!/usr/bin/env python3
"""big_records.py: large fixed-length records, to catch torn or interleaved
writes (tests only).

Record I (1-based) of length LEN (newline not counted) is
    "%06d:" % I, then LEN-14 times the letter "abc...z"[I % 26], then ":%06d" % I
so a record cut short, spliced with another or split over two lines does not
have this shape.

  big_records.py send ADDR N LEN [--hold-at K FILE] [--progress FILE]
        ONE tcp (HOST:PORT) or unix (unix:PATH) connection: sends records 1..N,
        each followed by a newline. With --hold-at, waits before record K until
        FILE exists. --progress: the last record sent, in FILE (atomically). At
        the end it half-closes and waits for the daemon to close the connection.
        Prints "ok sent=N" and exits 0, or "error: ..." and exits 1.
  big_records.py read FIFO OUT [--chunk C] [--pause S] [--stats FILE]
        A slow reader: opens FIFO (blocks until a writer opens it), then reads at
        most C bytes (default 4096) at a time, S seconds apart (default 0.002),
        appending each to OUT at once, until EOF; exits 0. --stats: at the end,
        "reads=R bytes=B max_pending=M" (M: the most bytes ever found waiting in
        the pipe before a read, a full pipe is about 65536).
  big_records.py check FILE LEN [--ids OUT]
        Every line of FILE is one whole record of length LEN (and FILE ends with
        a newline): prints "ok lines=N" and exits 0, else "bad: ..." (the first
        bad line) and exits 1. --ids: the record numbers, one a line, in order.

All give up after 120 s without progress, and exit if their parent goes away.
"""
import array
import fcntl
import os
import socket
import sys
import termios
import time

from sluicetest import connect, write_atomic

LIMIT = 120.0
PARENT = os.getppid()


def record(i, length):
    head, tail = f"{i:06d}:", f":{i:06d}"
    return head + chr(ord("a") + i % 26) * (length - len(head) - len(tail)) + tail


def opt(rest, name, default, n=1):
    if name not in rest:
        return default
    i = rest.index(name)
    return rest[i + 1] if n == 1 else rest[i + 1: i + 1 + n]


def cmd_send(addr, rest):
    n, length = int(rest[0]), int(rest[1])
    hold = opt(rest, "--hold-at", None, 2)
    hold_at, hold_file = (int(hold[0]), hold[1]) if hold else (0, None)
    progress = opt(rest, "--progress", None)
    sent = 0
    try:
        s = connect(addr, timeout=LIMIT)
        if progress:
            write_atomic(progress, "0\n")
        for i in range(1, n + 1):
            if hold_file and i == hold_at:
                deadline = time.monotonic() + LIMIT
                while not os.path.exists(hold_file):
                    if os.getppid() != PARENT:
                        return 1
                    if time.monotonic() > deadline:
                        print(f"error: {hold_file} did not appear", flush=True)
                        return 1
                    time.sleep(0.02)
            s.sendall((record(i, length) + "\n").encode())
            sent = i
            if progress:
                write_atomic(progress, f"{sent}\n")
        s.shutdown(socket.SHUT_WR)
        while True:
            data = s.recv(4096)
            if not data:
                break
            print(f"error: unexpected data from the daemon: {data[:60]!r}", flush=True)
            return 1
        s.close()
    except OSError as e:
        print(f"error: after record {sent}: {e}", flush=True)
        return 1
    print(f"ok sent={sent}", flush=True)
    return 0


def cmd_read(fifo, out, rest):
    chunk = int(opt(rest, "--chunk", "4096"))
    pause = float(opt(rest, "--pause", "0.002"))
    stats = opt(rest, "--stats", None)
    fd = os.open(fifo, os.O_RDONLY)
    reads = total = max_pending = 0
    buf = array.array("i", [0])
    with open(out, "ab", buffering=0) as f:
        while True:
            if os.getppid() != PARENT:
                return 1
            fcntl.ioctl(fd, termios.FIONREAD, buf, True)
            max_pending = max(max_pending, buf[0])
            data = os.read(fd, chunk)
            if not data:
                break
            f.write(data)
            reads += 1
            total += len(data)
            time.sleep(pause)
    os.close(fd)
    if stats:
        write_atomic(stats, f"reads={reads} bytes={total} max_pending={max_pending}\n")
    return 0


def cmd_check(path, rest):
    length = int(rest[0])
    ids_out = opt(rest, "--ids", None)
    ids = []
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        tail = len(data) - data.rfind(b"\n") - 1
        print(f"bad: the file ends with a partial line ({tail} bytes)")
        return 1
    lines = data.split(b"\n")[:-1] if data else []
    for no, line in enumerate(lines, 1):
        text = line.decode("latin-1")
        ok = len(text) == length and text[:6].isdigit()
        if ok:
            i = int(text[:6])
            ok = i > 0 and text == record(i, length)
        if not ok:
            print(f"bad: line {no} ({len(text)} bytes) is not a whole record: "
                  f"{text[:20]!r}...{text[-20:]!r}")
            return 1
        ids.append(i)
    if ids_out:
        with open(ids_out, "w") as f:
            f.write("".join(f"{i}\n" for i in ids))
    print(f"ok lines={len(lines)}")
    return 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "send":
        return cmd_send(argv[2], argv[3:])
    if len(argv) >= 4 and argv[1] == "read":
        return cmd_read(argv[2], argv[3], argv[4:])
    if len(argv) >= 4 and argv[1] == "check":
        return cmd_check(argv[2], argv[3:])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
