#!/usr/bin/env python3
"""net_port.py [N]: prints N (default 1) free TCP ports on 127.0.0.1, one a line.

The ports are free when printed; a test binds them soon after (a race only
with other processes taking ports at that very moment)."""
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
for s in socks:
    s.close()
