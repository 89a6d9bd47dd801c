#!/usr/bin/env python3
"""net_http.py: a local HTTP server and client for sluiced's tests (loopback only).

  net_http.py serve PORT LOG [--reject WORD] [--fail-first N] [--hold FILE]
                       [--tls CERT:KEY] [--client-ca CA]
        A threading HTTP/1.1 server (keep-alive) on 127.0.0.1:PORT (https with
        --tls; with --client-ca it requires a client certificate). Answers:
          GET|POST /ok/X       200, body "got X" (X URL-decoded)
          GET|POST /echo       200, the request body
          GET|POST /status/N   status N, body "status N"
          GET|POST /slow/S/X   sleeps S seconds, then 200 "got X"
          POST /sink           the http sink's target: appends the body (and a
                               newline) to LOG, answers 200; with --reject WORD a
                               body holding WORD gets 400 (and is not logged);
                               with --fail-first N the first N requests get 503;
                               while FILE (--hold) exists, requests wait
        Every request line is appended to LOG.requests ("METHOD PATH"), the
        number of requests so far is in LOG.count, the number of distinct
        client connections in LOG.conns, the most /slow requests in flight at
        once in LOG.maxconc. Prints "ready" when
        listening. Runs until killed.
  net_http.py post URL BODY [--split]
        One POST; prints "STATUS RETRY-AFTER BODY" (RETRY-AFTER "-" when absent)
  net_http.py many URL CLIENTS REQUESTS LINES PREFIX
        CLIENTS keep-alive clients, each sending REQUESTS POSTs of LINES lines
        "PREFIX-<client>-<request>-<line>"; prints the count of each status
"""
import http.client
import http.server
import os
import socketserver
import sys
import threading
import time
import urllib.parse

from sluicetest import write_atomic


def cmd_serve(port, log, opts):
    reject = opts.get("--reject")
    fail_first = int(opts.get("--fail-first", "0"))
    hold = opts.get("--hold")
    lock = threading.Lock()
    state = {"n": 0, "inflight": 0, "max": 0, "peers": set()}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, body):
            if isinstance(body, str):
                body = body.encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            with lock:
                state["n"] += 1
                seq = state["n"]
                if self.client_address[1] not in state["peers"]:
                    state["peers"].add(self.client_address[1])
                    with open(log + ".conns", "w") as f:
                        f.write(f"{len(state['peers'])}\n")
                with open(log + ".requests", "a") as f:
                    f.write(f"{self.command} {self.path}\n")
                write_atomic(log + ".count", f"{seq}\n")
            parts = self.path.split("/")
            if self.path.startswith("/ok/"):
                return self.answer(200, "got " + urllib.parse.unquote(self.path[4:]))
            if self.path == "/echo":
                return self.answer(200, body)
            if self.path.startswith("/status/"):
                code = int(parts[2])
                return self.answer(code, f"status {code}")
            if self.path.startswith("/slow/"):
                with lock:
                    state["inflight"] += 1
                    if state["inflight"] > state["max"]:
                        state["max"] = state["inflight"]
                        with open(log + ".maxconc", "w") as f:
                            f.write(f"{state['max']}\n")
                time.sleep(float(parts[2]))
                with lock:
                    state["inflight"] -= 1
                try:
                    return self.answer(200, "got " + urllib.parse.unquote("/".join(parts[3:])))
                except (BrokenPipeError, ConnectionResetError):
                    return None
            if self.path == "/sink":
                while hold and os.path.exists(hold):
                    time.sleep(0.02)
                if seq <= fail_first:
                    return self.answer(503, "not yet")
                if reject and reject.encode() in body:
                    return self.answer(400, "rejected")
                with lock:
                    with open(log, "ab") as f:
                        f.write(body + b"\n")
                return self.answer(200, "stored")
            return self.answer(404, "no such path")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 128

    srv = Server(("127.0.0.1", port), Handler)
    if "--tls" in opts:
        import ssl

        cert, key = opts["--tls"].split(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if "--client-ca" in opts:
            ctx.load_verify_locations(opts["--client-ca"])
            ctx.verify_mode = ssl.CERT_REQUIRED
        # A failed handshake raises in accept(): an OSError, which serve_forever skips.
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


def split_url(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80, (u.path or "/") + (("?" + u.query) if u.query else "")


def cmd_post(url, body):
    host, port, path = split_url(url)
    c = http.client.HTTPConnection(host, port, timeout=60)
    c.request("POST", path, body=body.encode().decode("unicode_escape").encode("latin-1"))
    r = c.getresponse()
    data = r.read().decode(errors="replace").strip().replace("\n", " ")
    print(r.status, r.getheader("Retry-After") or "-", data, flush=True)
    return 0


def cmd_many(url, clients, requests, lines, prefix):
    host, port, path = split_url(url)
    counts = {}
    lock = threading.Lock()
    errors = []

    def one(c):
        try:
            conn = http.client.HTTPConnection(host, port, timeout=120)
            for r in range(requests):
                body = "".join(f"{prefix}-{c}-{r}-{i}\n" for i in range(lines))
                conn.request("POST", path, body=body.encode())
                resp = conn.getresponse()
                resp.read()
                with lock:
                    counts[resp.status] = counts.get(resp.status, 0) + 1
            conn.close()
        except Exception as e:  # noqa: BLE001
            errors.append(f"client {c}: {e}")

    ts = [threading.Thread(target=one, args=(c,)) for c in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 64
    cmd = argv[1]
    if cmd == "serve":
        opts = {}
        rest = argv[4:]
        for i in range(0, len(rest) - 1, 2):
            opts[rest[i]] = rest[i + 1]
        return cmd_serve(int(argv[2]), argv[3], opts)
    if cmd == "post":
        return cmd_post(argv[2], argv[3])
    if cmd == "many":
        return cmd_many(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), argv[6])
    print(__doc__, file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
