#!/usr/bin/env python3
"""net_stream.py: long-running clients of sluiced's tcp and unix sources, for
the reload tests (tests only).

ADDR is HOST:PORT (tcp) or unix:PATH.

  net_stream.py stream ADDR N [--chunk C] [--interval S] [--hold-at K FILE]
                [--progress FILE] [--prefix P]
        ONE connection, kept for the whole run: sends the lines "1".."N" in
        chunks of C lines (default 200), one chunk every S seconds (default
        0.02). With --hold-at, before sending line K it waits until FILE exists
        (so lines K..N are sent after whatever the test did before creating it).
        --progress: the last line number sent, in FILE (atomically). --prefix:
        the lines are "P1".."PN". At the end
        it half-closes and waits for the daemon to close the connection, so every
        byte was read. Prints "ok sent=N" and exits 0; if the daemon closed or
        reset the connection at any earlier moment (or a connect failed), prints
        "error: ..." and exits 1.
  net_stream.py churn ADDR PREFIX OUTDIR [--threads K] [--stop FILE] [--pause S]
        K threads (default 3), each opening one short connection after another
        (S seconds apart, default 0.005, so ephemeral ports last) until FILE
        exists: connect, send the line "PREFIX-<thread>-<n>",
        half-close, read until the daemon closes. Each attempt ends as one of
          ok        the daemon closed the connection cleanly (EOF) after it all
          refused   connect failed: ECONNREFUSED (or ENOENT/ECONNREFUSED on a
                    unix path: nobody listening)
          reset     the connection was reset (ECONNRESET, EPIPE, ENOTCONN)
          error     anything else (timeout, ...)
        Writes OUTDIR/count (ok attempts so far, about 20 times a second), and
        at the end OUTDIR/ok (the lines of the ok attempts), OUTDIR/sent (every
        line sent, whatever the outcome), OUTDIR/bad (one line per attempt that
        was not ok: outcome, line, reason). Prints
        "ok=N refused=R reset=X error=E" and exits 0.
  net_stream.py hold ADDR TEXT [--shut]
        Connects, sends TEXT (Python escapes allowed, e.g. 'a\\nb\\n'; @FILE: the
        bytes of FILE), prints "sent", and keeps the connection open, sending
        nothing more (--shut: half-closed), until the daemon closes it: then
        prints "closed eof" (a clean close) or "closed reset: REASON", and exits
        0 ("timeout" and 1 after 120 s).

All exit by themselves if the test that started them goes away (their parent
changes), and never wait longer than 120 s for anything.
"""
import os
import select
import socket
import sys
import threading
import time

from sluicetest import churn_once, connect, write_atomic

LIMIT = 120.0


class Orphaned(Exception):
    pass


PARENT = os.getppid()


def check_parent():
    if os.getppid() != PARENT:
        raise Orphaned()


def opt(rest, name, default, n=1):
    if name not in rest:
        return default
    i = rest.index(name)
    return rest[i + 1] if n == 1 else rest[i + 1: i + 1 + n]


# --- stream -----------------------------------------------------------------

def server_closed_early(s):
    """True (with a reason) if the daemon closed or reset the connection."""
    r, _, _ = select.select([s], [], [], 0)
    if not r:
        return None
    try:
        data = s.recv(4096, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None
    except OSError as e:
        return f"connection error while sending: {e}"
    if not data:
        return "the daemon closed the connection while lines were still being sent"
    return f"unexpected data from the daemon: {data[:60]!r}"


def cmd_stream(addr, rest):
    n = int(rest[0])
    chunk = int(opt(rest, "--chunk", "200"))
    interval = float(opt(rest, "--interval", "0.02"))
    hold = opt(rest, "--hold-at", None, 2)
    hold_at, hold_file = (int(hold[0]), hold[1]) if hold else (0, None)
    progress = opt(rest, "--progress", None)
    prefix = opt(rest, "--prefix", "")
    try:
        s = connect(addr, timeout=LIMIT)
    except OSError as e:
        print(f"error: connect: {e}", flush=True)
        return 1
    sent = 0
    if progress:
        write_atomic(progress, "0\n")
    try:
        nxt = 1
        while nxt <= n:
            check_parent()
            last = min(n, nxt + chunk - 1)
            if hold_file and nxt < hold_at <= last:
                last = hold_at - 1  # a short chunk up to the hold point
            if hold_file and nxt == hold_at:
                deadline = time.monotonic() + LIMIT
                while not os.path.exists(hold_file):
                    check_parent()
                    if time.monotonic() > deadline:
                        print(f"error: {hold_file} did not appear within {LIMIT:.0f}s", flush=True)
                        return 1
                    why = server_closed_early(s)
                    if why:
                        print(f"error: after line {sent}: {why}", flush=True)
                        return 1
                    time.sleep(0.02)
                hold_file = None
            why = server_closed_early(s)
            if why:
                print(f"error: after line {sent}: {why}", flush=True)
                return 1
            s.sendall("".join(f"{prefix}{i}\n" for i in range(nxt, last + 1)).encode())
            sent = last
            nxt = last + 1
            if progress:
                write_atomic(progress, f"{sent}\n")
            time.sleep(interval)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(LIMIT)
        while True:
            data = s.recv(4096)
            if not data:
                break
            print(f"error: unexpected data from the daemon: {data[:60]!r}", flush=True)
            return 1
    except Orphaned:
        return 1
    except OSError as e:
        print(f"error: after line {sent}: {e}", flush=True)
        return 1
    s.close()
    print(f"ok sent={sent}", flush=True)
    return 0


# --- churn ------------------------------------------------------------------

def cmd_churn(addr, rest):
    prefix, outdir = rest[0], rest[1]
    threads = int(opt(rest, "--threads", "3"))
    stop = opt(rest, "--stop", None)
    pause = float(opt(rest, "--pause", "0.005"))
    os.makedirs(outdir, exist_ok=True)
    lock = threading.Lock()
    ok_lines, sent_lines, bad = [], [], []
    counts = {"ok": 0, "refused": 0, "reset": 0, "error": 0}
    start = time.monotonic()
    done = threading.Event()

    def stopped():
        if stop and os.path.exists(stop):
            return True
        if time.monotonic() - start > LIMIT or os.getppid() != PARENT:
            return True
        return False

    def one(line):
        def connected():
            with lock:
                sent_lines.append(line)

        outcome, why, _ = churn_once(addr, line.encode() + b"\n", timeout=30,
                                     on_connected=connected)
        return outcome, why

    def worker(t):
        i = 0
        while not stopped():
            line = f"{prefix}-{t}-{i}"
            i += 1
            outcome, why = one(line)
            with lock:
                counts[outcome] += 1
                if outcome == "ok":
                    ok_lines.append(line)
                else:
                    bad.append(f"{outcome} {line} {why}")
            time.sleep(pause if outcome == "ok" else max(pause, 0.01))

    def reporter():
        while not done.is_set():
            with lock:
                n = counts["ok"]
            write_atomic(os.path.join(outdir, "count"), f"{n}\n")
            done.wait(0.05)

    write_atomic(os.path.join(outdir, "count"), "0\n")
    rep = threading.Thread(target=reporter)
    rep.start()
    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    done.set()
    rep.join()
    write_atomic(os.path.join(outdir, "count"), f"{counts['ok']}\n")
    for name, rows in (("ok", ok_lines), ("sent", sent_lines), ("bad", bad)):
        with open(os.path.join(outdir, name), "w") as f:
            f.write("".join(r + "\n" for r in rows))
    print(" ".join(f"{k}={counts[k]}" for k in ("ok", "refused", "reset", "error")), flush=True)
    return 0


# --- hold -------------------------------------------------------------------

def cmd_hold(addr, rest):
    if rest[0].startswith("@"):
        with open(rest[0][1:], "rb") as f:
            data = f.read()
    else:
        data = rest[0].encode().decode("unicode_escape").encode("latin-1")
    s = connect(addr, timeout=LIMIT)
    s.sendall(data)
    if "--shut" in rest[1:]:
        s.shutdown(socket.SHUT_WR)
    print("sent", flush=True)
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        if os.getppid() != PARENT:
            return 1
        r, _, _ = select.select([s], [], [], 0.05)
        if not r:
            continue
        try:
            got = s.recv(4096)
        except OSError as e:
            print(f"closed reset: {e}", flush=True)
            return 0
        if not got:
            print("closed eof", flush=True)
            return 0
        print(f"unexpected data from the daemon: {got[:60]!r}", flush=True)
    print("timeout", flush=True)
    return 1


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 64
    cmd, addr, rest = argv[1], argv[2], argv[3:]
    if cmd == "stream":
        return cmd_stream(addr, rest)
    if cmd == "churn" and len(rest) >= 2:
        return cmd_churn(addr, rest)
    if cmd == "hold":
        return cmd_hold(addr, rest)
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
