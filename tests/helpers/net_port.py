#!/usr/bin/env python3
"""net_port.py [N]: prints N (default 1) free TCP ports on 127.0.0.1, one a line.

The ports are free when printed; a test binds them soon after (a race only
with other processes taking ports at that very moment)."""
import sys

from sluicetest import free_ports

for port in free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
    print(port)
