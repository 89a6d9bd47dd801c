#!/usr/bin/env python3
"""net_server.py: a peer for sluiced's tcp and unix sinks (tests only).

  net_server.py ADDR OUT [--reset-after N] [--no-read] [--once]
        Listens on ADDR (HOST:PORT, or unix:PATH) and serves one connection at a
        time, appending what it receives to OUT (flushed at once) and to
        OUT.<n> for the n-th connection (1, 2, ...). Prints "ready" once
        listening, "conn <n>" when one is accepted, "closed <n>" when it ends.
        --reset-after N: the first connection is cut with a reset (SO_LINGER 0)
        after reading N bytes, with unread data left in the kernel
        --no-read: accept, then never read (the peer's window closes)
        --once: exit after the first connection ends
        --tls CERT:KEY: TLS (a failed handshake prints "handshake failed <reason>"
        and the server waits for the next connection)
"""
import os
import socket
import struct
import sys
import time


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    addr, out = argv[1], argv[2]
    rest = argv[3:]
    reset_after = int(rest[rest.index("--reset-after") + 1]) if "--reset-after" in rest else 0
    no_read = "--no-read" in rest
    once = "--once" in rest
    tls = None
    if "--tls" in rest:
        import ssl

        cert, key = rest[rest.index("--tls") + 1].split(":", 1)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
    if addr.startswith("unix:"):
        path = addr[5:]
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
    else:
        host, port = addr.rsplit(":", 1)
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, int(port)))
    srv.listen(16)
    print("ready", flush=True)
    n = 0
    while True:
        c, _ = srv.accept()
        if tls is not None:
            try:
                c = tls.wrap_socket(c, server_side=True)
            except (OSError, ValueError) as e:
                print(f"handshake failed {e}", flush=True)
                c.close()
                continue
        n += 1
        print(f"conn {n}", flush=True)
        if no_read:
            while True:
                time.sleep(3600)
        got = 0
        with open(out, "ab") as all_f, open(f"{out}.{n}", "ab") as one_f:
            while True:
                want = 65536
                if n == 1 and reset_after:
                    want = min(want, reset_after - got)
                    if want <= 0:
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                        break
                try:
                    d = c.recv(want)
                except (ConnectionResetError, OSError):
                    break
                if not d:
                    break
                got += len(d)
                all_f.write(d)
                all_f.flush()
                one_f.write(d)
                one_f.flush()
        c.close()
        print(f"closed {n}", flush=True)
        if once:
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
