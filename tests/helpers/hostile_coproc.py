#!/usr/bin/env python3
"""hostile_coproc.py: a co-process that breaks sluiced's framing on purpose (tests).

Answers each request with "ok:<item>" in the stage's framing, except:
  --framing lines|length  the framing (default lines)
  --raw ITEM=HEX          answer ITEM with these raw bytes instead (any framing)
  --extra ITEM=HEX        write these bytes too (unasked) with the answer to ITEM
  --spew ITEM             after answering ITEM, wait a second (so that sluiced
                          is idle), then write stdout without end (unasked)
  --log FILE              append "start PID" at start
"""
import argparse
import os
import sys
import time


def kv(s):
    k, _, v = s.partition("=")
    return k.encode(), bytes.fromhex(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--framing", default="lines")
    ap.add_argument("--raw", type=kv, action="append", default=[])
    ap.add_argument("--extra", type=kv, action="append", default=[])
    ap.add_argument("--spew")
    ap.add_argument("--log")
    a = ap.parse_args()
    raw, extra = dict(a.raw), dict(a.extra)
    if a.log:
        with open(a.log, "a") as f:
            f.write("start %d\n" % os.getpid())
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        if a.framing == "lines":
            line = inp.readline()
            if not line:
                return
            item = line[:-1]
        else:
            head = inp.readline()
            if not head:
                return
            item = inp.read(int(head))
        if item in raw:
            ans = raw[item]
        elif a.framing == "lines":
            ans = b"ok:" + item + b"\n"
        else:
            ans = b"%d\nok:%s" % (len(item) + 3, item)
        # One write(2) with the extra bytes: sluiced reads them with the answer.
        out.write(ans + extra.get(item, b""))
        out.flush()
        if a.spew is not None and item == a.spew.encode():
            time.sleep(1)
            chunk = b"x" * 65536
            while True:
                out.write(chunk)
                out.flush()


if __name__ == "__main__":
    main()
