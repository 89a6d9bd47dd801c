"""journal_write.py DIR N [TAIL]: writes a journal segment DIR/seg-0000000000000001.log
with N item records (daemon/journal.h's format, CRC-32C framed) and then TAIL
garbage bytes (a torn append), for the --fsck tests, before any source writes one."""
import os
import struct
import sys


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def record(rid, stage, source, seq, data):
    payload = (bytes([len(stage)]) + stage + bytes([len(source)]) + source +
               struct.pack("<QQI", seq, seq, 1) + data)
    head = struct.pack("<IQB3x", len(payload), rid, 1)
    return struct.pack("<I", crc32c(head + payload)) + head + payload


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    tail = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    os.makedirs(d, exist_ok=True)
    out = b"SLUICE-JOURNAL 1\n"
    for i in range(1, n + 1):
        out += record(i, b"work", b"in", i, b"item %d" % i)
    out += b"\x17" * tail
    with open(os.path.join(d, "seg-0000000000000001.log"), "wb") as f:
        f.write(out)


main()
