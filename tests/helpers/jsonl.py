#!/usr/bin/env python3
"""jsonl.py: read sluiced's dead-letter file (one JSON object per line).

  jsonl.py FILE check          every line is a JSON object with all the documented
                               keys; prints the number of records
  jsonl.py FILE field KEY      prints KEY of every record, one per line (strings as
                               is, with \\n and \\0 escaped; others as JSON). For
                               "error", prints the kind (the value itself if it is a
                               string, else its "kind" member)
  jsonl.py FILE count          number of records

Exit 1 with a message on stderr when the file is malformed.
"""
import json
import sys

KEYS = ["item", "stage", "source", "seq", "error", "exit_status", "signal",
        "stderr", "attempts", "time"]
KINDS = {"exit", "signal", "timeout", "spawn", "output_too_large", "http",
         "item_too_large", "io", "rejected"}


def die(msg):
    print("jsonl.py: " + msg, file=sys.stderr)
    sys.exit(1)


def kind(v):
    if isinstance(v, dict):
        return v.get("kind")
    return v


def load(path):
    recs = []
    try:
        data = open(path, "rb").read()
    except OSError as e:
        die("%s: %s" % (path, e.strerror))
    if data and not data.endswith(b"\n"):
        die("%s: last record has no trailing newline (torn write?)" % path)
    for n, raw in enumerate(data.split(b"\n")[:-1], 1):
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            die("%s:%d: not valid JSON (%s): %r" % (path, n, e, raw[:200]))
        if not isinstance(rec, dict):
            die("%s:%d: not a JSON object: %r" % (path, n, raw[:200]))
        recs.append((n, rec))
    return recs


def main():
    if len(sys.argv) < 3:
        die("usage: jsonl.py FILE check|count|field KEY")
    path, cmd = sys.argv[1], sys.argv[2]
    recs = load(path)
    if cmd == "check":
        for n, rec in recs:
            missing = [k for k in KEYS if k not in rec]
            if missing:
                die("%s:%d: missing keys %s in %s" % (path, n, missing, json.dumps(rec)[:300]))
            if kind(rec["error"]) not in KINDS:
                die("%s:%d: error kind %r is not one of %s" % (path, n, rec["error"], sorted(KINDS)))
        print(len(recs))
    elif cmd == "count":
        print(len(recs))
    elif cmd == "field":
        key = sys.argv[3]
        for n, rec in recs:
            if key not in rec:
                die("%s:%d: no key %r in %s" % (path, n, key, json.dumps(rec)[:300]))
            v = rec[key]
            if key == "error":
                v = kind(v)
            if isinstance(v, str):
                print(v.replace("\\", "\\\\").replace("\n", "\\n").replace("\0", "\\0"))
            else:
                print(json.dumps(v))
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    main()
