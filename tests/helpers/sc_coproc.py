#!/usr/bin/env python3
"""sc_coproc.py: a co-process for sluiced's `coprocess:` stages (tests).

Reads one request at a time on stdin and answers each on stdout:
  --framing lines    request: the item and "\\n"; answer: one line
  --framing length   request: "<len>\\n<bytes>"; answer: the same framing

Options:
  --transform tag    answer "<pid> <item>" (default)
  --transform rev    answer the item's bytes reversed
  --transform hex    answer the item's bytes in hex
  --crash-item N     exit 3 without answering when the item is an integer
                     divisible by N
  --crash-every N    exit 3 without answering on this process's Nth, 2Nth...
                     request (a per-process counter)
  --hang ITEM        never answer ITEM (sleep)
  --log FILE         append "start PID", "eof PID" (stdin closed) lines
  --ignore-eof       at EOF on stdin, keep running (sleep) instead of exiting
"""
import argparse
import os
import sys
import time


def log(path, what):
    if path:
        with open(path, "a") as f:
            f.write("%s %d\n" % (what, os.getpid()))


def read_request(inp, framing):
    if framing == "lines":
        line = inp.readline()
        if not line:
            return None
        if not line.endswith(b"\n"):
            raise SystemExit("sc_coproc: request without a newline: %r" % line[:100])
        return line[:-1]
    head = inp.readline()
    if not head:
        return None
    n = int(head.strip())
    data = inp.read(n)
    if len(data) != n:
        raise SystemExit("sc_coproc: short request: %d of %d bytes" % (len(data), n))
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framing", default="lines", choices=["lines", "length"])
    ap.add_argument("--transform", default="tag", choices=["tag", "rev", "hex"])
    ap.add_argument("--crash-item", type=int, default=0)
    ap.add_argument("--crash-every", type=int, default=0)
    ap.add_argument("--hang", default=None)
    ap.add_argument("--log", default=None)
    ap.add_argument("--ignore-eof", action="store_true")
    a = ap.parse_args()

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    log(a.log, "start")
    count = 0
    pid = os.getpid()
    while True:
        item = read_request(inp, a.framing)
        if item is None:
            log(a.log, "eof")
            if a.ignore_eof:
                while True:
                    time.sleep(1000)
            return 0
        count += 1
        if a.crash_every and count % a.crash_every == 0:
            sys.stderr.write("sc_coproc %d: crashing on request %d (%r)\n" % (pid, count, item[:50]))
            sys.stderr.flush()
            os._exit(3)
        if a.crash_item and item.isdigit() and int(item) % a.crash_item == 0:
            sys.stderr.write("sc_coproc %d: crashing on item %s\n" % (pid, item.decode()))
            sys.stderr.flush()
            os._exit(3)
        if a.hang is not None and item == a.hang.encode():
            while True:
                time.sleep(1000)
        if a.transform == "tag":
            res = b"%d %s" % (pid, item)
        elif a.transform == "rev":
            res = item[::-1]
        else:
            res = item.hex().encode()
        if a.framing == "lines":
            out.write(res + b"\n")
        else:
            out.write(b"%d\n" % len(res) + res)
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
