#!/usr/bin/env python3
"""net_client.py: clients for sluiced's tcp and unix sources (tests only).

ADDR is HOST:PORT (tcp) or unix:PATH.

  net_client.py many ADDR CLIENTS LINES PREFIX
        CLIENTS concurrent connections, each sending LINES lines
        "PREFIX-<client>-<line>" and closing cleanly; exit 0 once all are sent
  net_client.py send ADDR TEXT [--rst] [--wait-close]
        sends TEXT (Python escapes allowed, e.g. 'a\\nb'; @FILE: the bytes of
        FILE) then closes; --rst closes
        with a reset (SO_LINGER 0); --wait-close half-closes and waits for the
        server to close the connection (prints "closed" when it does, within 30 s)
  net_client.py flood ADDR BYTES LINE_LEN PROGRESS_FILE
        sends BYTES in lines of LINE_LEN (newline included) as fast as the
        server takes them, writing the number of bytes sent so far to
        PROGRESS_FILE (atomically, about 20 times a second); exits when done
  net_client.py ack ADDR LINES PREFIX [--window N] [--progress FILE] [--items FILE]
        sends LINES lines "PREFIX-<i>" (or the lines of FILE), half-closes, reads
        one ack line per line sent and prints "ok=N fail=M fails=I,J" (the
        0-based positions of the lines not acked "ok"; " eof" when the server
        closed before every line was acked); with --window, at most N unacked
        lines at a time; --progress: the acks received so far, in FILE
  net_client.py hold ADDR N
        opens N connections and keeps them open until killed; prints "open"
        once they are all connected, and "closed K" each time the server closes
        one of them
"""
import select
import socket
import struct
import sys
import threading
import time

from sluicetest import connect, write_atomic


def cmd_many(addr, clients, lines, prefix):
    errors = []

    def one(c):
        try:
            s = connect(addr)
            buf = "".join(f"{prefix}-{c}-{i}\n" for i in range(lines)).encode()
            s.sendall(buf)
            s.shutdown(socket.SHUT_WR)
            # Wait for the server's side to close, so every byte was read.
            s.settimeout(60)
            while s.recv(4096):
                pass
            s.close()
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {c}: {e}")

    ts = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def cmd_send(addr, text, rst, wait_close):
    if text.startswith("@"):
        with open(text[1:], "rb") as f:
            data = f.read()
    else:
        data = text.encode().decode("unicode_escape").encode("latin-1")
    s = connect(addr)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        # The daemon may close on us first (an oversize record): that is a close.
        if wait_close:
            print("closed", flush=True)
        s.close()
        return 0
    if rst:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        return 0
    if wait_close:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # already closed by the daemon (ENOTCONN): reading says so below
        s.settimeout(30)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, OSError):
            pass
        print("closed", flush=True)
    s.close()
    return 0


def write_progress(path, n):
    write_atomic(path, f"{n}\n")


def cmd_flood(addr, total, line_len, progress):
    s = connect(addr)
    s.setblocking(False)
    line = b"x" * (line_len - 1) + b"\n"
    chunk = line * max(1, 65536 // line_len)
    sent = 0
    last = 0.0
    write_progress(progress, 0)
    while sent < total:
        # Non-blocking, so the progress file moves even while the window is shut.
        _, w, _ = select.select([], [s], [], 0.05)
        if w:
            off = sent % len(chunk)
            try:
                sent += s.send(chunk[off: off + min(len(chunk) - off, total - sent)])
            except BlockingIOError:
                pass
        now = time.monotonic()
        if now - last >= 0.05:
            write_progress(progress, sent)
            last = now
    write_progress(progress, sent)
    s.close()
    return 0


def cmd_ack(addr, lines, prefix, window, progress, items):
    s = connect(addr)
    s.settimeout(120)
    counts = {}
    fails = []
    pending = b""
    got = 0
    eof = False

    def read_acks(block):
        nonlocal pending, got, eof
        if not block:
            r, _, _ = select.select([s], [], [], 0)
            if not r:
                return True
        try:
            data = s.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            eof = True
            return False
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            word = line.decode()
            counts[word] = counts.get(word, 0) + 1
            if word != "ok":
                fails.append(str(got))
            got += 1
            if progress:
                write_progress(progress, got)
        return True

    sent = 0
    while sent < lines:
        if window and sent - got >= window:
            if not read_acks(True):
                break
            continue
        body = items[sent] if items else f"{prefix}-{sent}"
        s.sendall(body.encode() + b"\n")
        sent += 1
        if not read_acks(False):
            break
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    while got < sent and not eof:
        if not read_acks(True):
            break
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items()))
          + " fails=" + (",".join(fails) or "-") + (" eof" if eof and got < sent else ""),
          flush=True)
    return 0


def cmd_hold(addr, n):
    socks = [connect(addr) for _ in range(n)]
    print("open", flush=True)
    closed = 0
    live = list(socks)
    while live:
        r, _, _ = select.select(live, [], [], 1)
        for s in r:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                live.remove(s)
                closed += 1
                print(f"closed {closed}", flush=True)
    while True:
        time.sleep(1)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, addr = argv[1], argv[2]
    rest = argv[3:]
    if cmd == "many":
        return cmd_many(addr, int(rest[0]), int(rest[1]), rest[2])
    if cmd == "send":
        return cmd_send(addr, rest[0], "--rst" in rest, "--wait-close" in rest)
    if cmd == "flood":
        return cmd_flood(addr, int(rest[0]), int(rest[1]), rest[2])
    if cmd == "ack":
        window = int(rest[rest.index("--window") + 1]) if "--window" in rest else 0
        progress = rest[rest.index("--progress") + 1] if "--progress" in rest else None
        items = None
        if "--items" in rest:
            with open(rest[rest.index("--items") + 1]) as f:
                items = f.read().splitlines()
        return cmd_ack(addr, int(rest[0]), rest[1], window, progress, items)
    if cmd == "hold":
        return cmd_hold(addr, int(rest[0]))
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
