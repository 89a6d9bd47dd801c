"""sluicetest.py: what the Python test helpers (tests/helpers/*.py) and the stress
driver (scripts/stress/) share, so each is written once.

  connect(addr, timeout)   a connected stream socket to "unix:PATH", "HOST:PORT"
                           ("[V6]:PORT"), a (host, port) pair or a plain path
  write_atomic(path, text) path holds either its old or its new text, never half
  free_port(), free_ports(n)  tcp ports on 127.0.0.1 that are free right now
  read_to_eof(s)           every byte until the peer closes (or resets)
  refused(e), reset(e)     how a failed connect or send ends, for churn counts
  churn_once(...)          one short connection: connect, send, half-close, read
                           to EOF, and the outcome ("ok", "refused", "reset",
                           "error") with the reason

The helpers are run as `python3 tests/helpers/NAME.py`, so this directory is on
sys.path; scripts/stress/ adds it itself.
"""
import errno
import os
import socket
import time


def parse_addr(addr):
    """(family, sockaddr) of "unix:PATH", "HOST:PORT", "[V6]:PORT", a (host, port)
    pair or a plain filesystem path (no colon, or starting with "/")."""
    if isinstance(addr, tuple):
        return socket.AF_INET, addr
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    if addr.startswith("/") or ":" not in addr:
        return socket.AF_UNIX, addr
    host, port = addr.rsplit(":", 1)
    return socket.AF_INET, (host.strip("[]"), int(port))


def connect(addr, timeout=60):
    """A stream socket connected to addr, with timeout (seconds, None: blocking) on
    every operation. A unix listener whose backlog is full answers EAGAIN: that is
    retried until timeout. A refused or missing listener raises at once (churn
    counts those)."""
    family, where = parse_addr(addr)
    if family != socket.AF_UNIX:
        return socket.create_connection(where, timeout=timeout)
    deadline = time.monotonic() + (timeout if timeout is not None else 60)
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(where)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        except BaseException:
            s.close()
            raise


def write_atomic(path, text):
    """Writes text to path through a rename, so a reader sees the old or the new
    content whole (progress and count files polled by the tests)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def free_ports(n):
    """n distinct tcp ports on 127.0.0.1, free when returned (a race only with other
    processes taking ports at that very moment)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port():
    return free_ports(1)[0]


def read_to_eof(s):
    """Every byte s receives until the peer closes; a reset ends it like a close."""
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def refused(e):
    """A connect that found nobody listening (tcp) or no socket file (unix)."""
    return isinstance(e, (ConnectionRefusedError, FileNotFoundError)) or (
        isinstance(e, OSError) and e.errno in (errno.ECONNREFUSED, errno.ENOENT))


def reset(e):
    """A connection the daemon reset or closed under us; ENOTCONN is what
    shutdown() says after such a reset."""
    return isinstance(e, (ConnectionResetError, BrokenPipeError)) or (
        isinstance(e, OSError) and e.errno == errno.ENOTCONN)


def churn_once(addr, data, timeout=60, expect=b"", on_connected=None):
    """One short connection: connect, send data, half-close, read until the daemon
    closes. Returns (outcome, why, got): "ok" when exactly expect came back before a
    clean close; "refused", "reset" or "error" (why says what) otherwise.
    on_connected() runs once the connection is up, before anything is sent."""
    try:
        s = connect(addr, timeout=timeout)
    except OSError as e:
        if refused(e):
            return "refused", str(e), b""
        return "error", f"connect: {e}", b""
    if on_connected:
        on_connected()
    got = b""
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        if got == expect:
            return "ok", "", got
        return "error", f"unexpected data from the daemon: {got[:60]!r}", got
    except OSError as e:
        return ("reset" if reset(e) else "error"), str(e), got
    finally:
        s.close()
