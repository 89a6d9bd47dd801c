#!/usr/bin/env python3
"""http_get.py: one HTTP request, for the metrics endpoint tests.

  http_get.py URL [BODY_FILE] [--method METHOD] [--raw BYTES]
      Prints "STATUS CONTENT-TYPE" on stdout and writes the body to BODY_FILE
      (if given). --raw sends BYTES (Python escapes allowed) as the whole request
      instead, and prints the first line of the answer, or "closed" when the
      server closed without one. Exit 2 when the connection fails.
"""
import codecs
import http.client
import socket
import sys
import urllib.parse


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    url = urllib.parse.urlsplit(argv[1])
    args = argv[2:]
    method, raw, body_file = "GET", None, None
    while args:
        a = args.pop(0)
        if a == "--method":
            method = args.pop(0)
        elif a == "--raw":
            raw = codecs.escape_decode(args.pop(0).encode())[0]
        else:
            body_file = a
    try:
        if raw is not None:
            s = socket.create_connection((url.hostname, url.port), timeout=30)
            s.sendall(raw)
            data = b""
            while b"\n" not in data:
                b = s.recv(4096)
                if not b:
                    break
                data += b
            s.close()
            print(data.split(b"\r\n")[0].decode("latin-1") if data else "closed")
            return 0
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
    except OSError as e:
        print("connection failed: %s" % e, file=sys.stderr)
        return 2
    print("%d %s" % (r.status, r.getheader("Content-Type", "-")))
    if body_file:
        with open(body_file, "wb") as f:
            f.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
