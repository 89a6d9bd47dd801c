#!/usr/bin/env python3
"""notify_sock.py: a stand-in for systemd's notify socket, and queries on what it got.

  notify_sock.py listen SOCKET LOG [MAX_SECONDS]
      Binds an AF_UNIX datagram socket at SOCKET ("@NAME": in the abstract
      namespace) and appends every datagram to
      LOG as one JSON line {"t": monotonic seconds, "fields": ["READY=1", ...]},
      flushed at once. Exits after MAX_SECONDS (default 600) whatever happens,
      so it can never be left behind for long. LOG exists once it listens.
  notify_sock.py count LOG PREFIX [--after PREFIX2]
      How many datagrams have a field starting with PREFIX (only those after the
      first datagram with a field starting with PREFIX2, with --after).
  notify_sock.py first LOG PREFIX
      The index of the first datagram with a field starting with PREFIX, or -1.
  notify_sock.py intervals LOG PREFIX
      The median interval in seconds between datagrams with such a field
      (nothing if there are fewer than 3).
  notify_sock.py dump LOG
      Every datagram, one per line, fields joined by " | ".
"""
import json
import os
import socket
import statistics
import sys
import time


def listen(path, log, max_seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if path.startswith("@"):
        s.bind("\0" + path[1:])
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s.bind(path)
    open(log, "a").close()  # exists once the socket is bound
    end = time.monotonic() + max_seconds
    with open(log, "a") as out:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return 0
            s.settimeout(min(left, 1.0))
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            rec = {"t": time.monotonic(),
                   "fields": data.decode("utf-8", "replace").split("\n")}
            out.write(json.dumps(rec) + "\n")
            out.flush()


def records(log):
    out = []
    try:
        with open(log) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


def has(rec, prefix):
    return any(f.startswith(prefix) for f in rec["fields"])


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    cmd = argv[1]
    if cmd == "listen":
        return listen(argv[2], argv[3], float(argv[4]) if len(argv) > 4 else 600)
    recs = records(argv[2])
    if cmd == "count":
        prefix = argv[3]
        if len(argv) > 5 and argv[4] == "--after":
            idx = next((i for i, r in enumerate(recs) if has(r, argv[5])), None)
            recs = [] if idx is None else recs[idx + 1:]
        print(sum(1 for r in recs if has(r, prefix)))
    elif cmd == "first":
        print(next((i for i, r in enumerate(recs) if has(r, argv[3])), -1))
    elif cmd == "intervals":
        ts = [r["t"] for r in recs if has(r, argv[3])]
        if len(ts) >= 3:
            print("%.3f" % statistics.median(b - a for a, b in zip(ts, ts[1:])))
    elif cmd == "dump":
        for r in recs:
            print("%.3f %s" % (r["t"], " | ".join(r["fields"])))
    else:
        print(__doc__, file=sys.stderr)
        return 64
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
