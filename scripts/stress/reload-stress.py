#!/usr/bin/env python3
"""reload-stress.py: randomized structural-reload stress driver for sluiced.

  scripts/stress/reload-stress.py --seed N [--duration S] [--san] [--out DIR]
        [--ctl|--no-ctl] [--ack|--no-ack] [--unique-paths|--reuse-paths]
        [--clients K] [--end quiet|drain|cancel|live-term|live-cancel]

Every choice not given is drawn from the seed. Starts sluiced (build/release or,
with --san, build/san) with a random config, feeds it from 2-4 persistent tcp
clients (+ persistent unix clients when the unix source is in every config),
short-lived tcp/unix connections and sometimes a generator, and every 10-700 ms
rewrites the config (new structure; sometimes live-only, a refused
max_item_bytes change, a syntax error; bursts of 2-5 back to back) and reloads
(SIGHUP, or `sluicectl reload` with a control socket). Then it stops (end mode),
replays a spool after exit 75, and checks: delivered lines exactly once in the
out-* files, nothing unknown, no holes in any connection's stream, generator
lines unique and gap-free, copy sinks a duplicate-free subset, acks, no
sanitizer report, no crash/hang, every previous pipeline finished, no co-process
left over, no changed sink writing while an older one is open, lost=0.

Results: DIR/report.txt (default /tmp/stress/runs/seedN[-san]); exit 0 = pass.
"""
import argparse
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CTL = f"{ROOT}/build/release/sluicectl"
# connect, write_atomic, free_port and churn_once, shared with the tests' helpers.
sys.path.insert(0, os.path.join(ROOT, "tests", "helpers"))
from sluicetest import churn_once, connect, free_port, write_atomic  # noqa: E402

# ---------------------------------------------------------------- helpers


def q(s):
    return json.dumps(s)  # a YAML double-quoted scalar


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.t0 = time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, *a):
        msg = " ".join(str(x) for x in a)
        with self.lock:
            self.f.write(f"[{time.monotonic() - self.t0:8.3f}] {msg}\n")


# ---------------------------------------------------------------- configs

STAGE_NAMES = ["a", "b", "c", "work"]
TAG_RE = re.compile(rb"^(?:t\d+\.)*")
GEN_RE = re.compile(rb"^(?:t\d+\.)*g\d+-")


class ConfGen:
    def __init__(self, rng, d, port, ctl, variant_bad):
        self.rng, self.d, self.port, self.ctl = rng, d, port, ctl
        self.gen = 0
        self.out_k = 0
        self.copy_k = 0
        self.applied = None  # the config dict believed to be running
        self.variant_bad = variant_bad
        self.unix_always = False
        self.force_slow = False
        self.unique_paths = False  # no file is opened twice (for the sink overlap watcher)
        self.ack = False  # the next configs get a stage slower than the grace
        self.gen_always = False

    def stage(self, name):
        r = self.rng
        kind = r.choices(
            ["pass", "echo", "sleep", "slow", "sed", "sedtag", "cat", "echotag"],
            [3, 3, 3, 1, 2, 2, 2, 1])[0]
        g = self.gen
        if kind == "pass":
            body = "builtin: { op: passthrough }"
        elif kind == "echo":
            body = "exec: { argv: [sh, -c, 'echo \"$1\"', sh, \"{}\"] }"
        elif kind == "echotag":
            body = f"exec: {{ argv: [sh, -c, 'echo \"t{g}.$1\"', sh, \"{{}}\"] }}"
        elif kind == "sleep":
            s = r.choice(["0.01", "0.02", "0.05"])
            body = f"exec: {{ argv: [sh, -c, 'sleep {s}; echo \"$1\"', sh, \"{{}}\"] }}"
        elif kind == "slow":  # longer than the smallest grace: exercises handover
            s = r.choice(["0.3", "0.5", "1"])
            body = f"exec: {{ argv: [sh, -c, 'sleep {s}; echo \"$1\"', sh, \"{{}}\"] }}"
        elif kind == "sed":
            body = "coprocess: { argv: [sed, -u, 's/^//'] }"
        elif kind == "sedtag":
            body = f"coprocess: {{ argv: [sed, -u, 's/^/t{g}./'] }}"
        else:
            body = "coprocess: { argv: [cat] }"
        parts = [f"name: {name}", f"workers: {r.randint(1, 4)}"]
        if r.random() < 0.7:
            parts.append(f"queue: {{ capacity: {r.randint(2, 50)} }}")
        if r.random() < 0.3:
            parts.append("ordered: true")
        parts.append(body)
        return {"kind": kind, "text": "{ " + ", ".join(parts) + " }"}

    def make_live(self):
        """The applied config with only live parameters changed (workers, grace, kill_after)."""
        r = self.rng
        prev = self.applied
        c = dict(prev)
        t = re.sub(r"workers: \d+", lambda m: f"workers: {r.randint(1, 4)}", prev["text"])
        t = re.sub(r"grace: \w+", f"grace: {r.choice(['200ms', '1s', '30s'])}", t)
        t = re.sub(r"kill_after: \w+", f"kill_after: {r.choice(['1s', '2s', '3s'])}", t)
        c["text"] = t
        c["bad"] = None
        c["live"] = True
        return c

    def make(self, bad=None):
        """A new random config (dict with 'text'); bad: None | 'restart' | 'syntax'."""
        r = self.rng
        self.gen += 1
        g = self.gen
        prev = self.applied
        d = self.d
        c = {"gen": g}
        # shutdown
        grace = r.choice(["200ms", "1s", "30s"])
        kill_after = r.choice(["1s", "2s", "3s"])
        c["grace"] = grace
        lines = ["name: stress"]
        if r.random() < 0.6:
            lines.append(f"queue: {{ capacity: {r.randint(2, 50)} }}")
        if bad == "restart":
            lines.append("max_item_bytes: 2MiB")
        lines.append(f"shutdown: {{ grace: {grace}, kill_after: {kill_after}, spool: {q(d + '/sluice.spool')} }}")
        if self.ctl:
            lines.append(f"control: {{ socket: {q(d + '/ctl.sock')} }}")
        # sources
        lines.append("sources:")
        tcp_mc = 64 if r.random() < 0.8 else 100
        ack = ", ack: true" if self.ack else ""
        tcp_name = "feed" if r.random() < 0.85 else "feed2"
        lines.append(f"  - {{ name: {tcp_name}, type: tcp, listen: \"127.0.0.1:{self.port}\", max_connections: {tcp_mc}{ack} }}")
        c["unix"] = self.unix_always or r.random() < 0.5
        if c["unix"]:
            umc = 64 if r.random() < 0.8 else 100
            lines.append(f"  - {{ name: usrc, type: unix, path: {q(d + '/u.sock')}, max_connections: {umc}{ack} }}")
        c["gen_line"] = None
        if self.gen_always or r.random() < 0.5:
            if prev and prev.get("gen_line") and r.random() < 0.5:
                c["gen_line"] = prev["gen_line"]  # unchanged block: carried over with its count
            else:
                iv = r.choice(["10ms", "20ms", "50ms"])
                c["gen_line"] = f"  - {{ name: gen, type: generate, interval: {iv}, template: \"g{g}-{{seq}}\" }}"
        if c["gen_line"]:
            lines.append(c["gen_line"])
        # stages
        n = r.choice([0, 1, 1, 2, 2, 3])
        if self.force_slow:
            n = max(n, 1)
        names = r.sample(STAGE_NAMES, n)
        stages = [self.stage(nm) for nm in names]
        if self.force_slow and not any(st["kind"] == "slow" for st in stages):
            i = r.randrange(n)
            while stages[i]["kind"] != "slow":
                stages[i] = self.stage(names[i])
        c["stages"] = stages
        if stages:
            lines.append("stages:")
            for st in stages:
                lines.append("  - " + st["text"])
        # sinks
        if prev is None or r.random() < 0.4:
            self.out_k += 1
        k = self.out_k
        if self.out_k > 1 and r.random() < 0.1:
            k = r.randint(1, self.out_k - 1)  # back to an earlier file (appended to)
        fs = "never" if r.random() < 0.9 else "batch"
        sinks = [f"  - {{ name: out, type: file, path: {q(d + f'/out-{k}.txt')}, fsync: {fs} }}"]
        c["copy"] = r.random() < 0.3
        if c["copy"]:
            if self.copy_k == 0 or r.random() < 0.5:
                self.copy_k += 1
            sinks.append(f"  - {{ name: copy, type: file, path: {q(d + f'/copy-{self.copy_k}.txt')} }}")
            if r.random() < 0.3:
                sinks.reverse()
        if self.unique_paths:
            # every file is opened once only: the same sinks (shared) or all-new files
            if prev is not None and r.random() < 0.6:
                sinks = prev["sinks"]
            else:
                self.out_k += 1
                sinks = [x for x in sinks if "name: copy" not in x]
                sinks = [re.sub(r"out-\d+\.txt", f"out-{self.out_k}.txt", sinks[0])]
                if r.random() < 0.3:
                    self.copy_k += 1
                    sinks.append(f"  - {{ name: copy, type: file, path: {q(d + f'/copy-{self.copy_k}.txt')} }}")
        c["sinks"] = sinks
        lines.append("sinks:")
        lines.extend(sinks)
        if bad == "syntax":
            lines.append("wrokers: 3")
        text = "\n".join(lines) + "\n"
        c["text"] = text
        c["bad"] = bad
        return c


# ---------------------------------------------------------------- clients


class Stream(threading.Thread):
    """One persistent connection sending "p{id}-{n}" lines at a steady pace.
    With ack: a reader thread counts the "ok"/"fail" lines coming back."""

    def __init__(self, cid, addr, stop, rng, log, ack=False):
        super().__init__(daemon=True)
        self.cid, self.addr, self.stop, self.log, self.ack = cid, addr, stop, log, ack
        self.chunk = rng.randint(1, 8)
        self.interval = rng.choice([0.01, 0.02, 0.04])
        self.sent = 0
        self.status = "running"
        self.why = ""
        self.acks_ok = 0
        self.acks_other = []
        self.rd_done = threading.Event()
        self.rd_why = None

    def reader(self, s):
        buf = b""
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    self.rd_why = "eof"
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                for ln in lines:
                    if ln == b"ok":
                        self.acks_ok += 1
                    else:
                        self.acks_other.append(ln[:40])
        except OSError as e:
            self.rd_why = f"reset: {e}"
        finally:
            if buf:
                self.acks_other.append(b"partial:" + buf[:40])
            self.rd_done.set()

    def run(self):
        try:
            s = connect("unix:" + self.addr if isinstance(self.addr, str) else self.addr, timeout=120)
        except OSError as e:
            self.status, self.why = "error", f"connect: {e}"
            return
        if self.ack:
            s.settimeout(None)
            rd = threading.Thread(target=self.reader, args=(s,), daemon=True)
            rd.start()
        try:
            while not self.stop.is_set():
                if self.ack:
                    if self.rd_done.is_set():
                        self.status, self.why = "error", f"closed early ({self.rd_why}) after {self.sent}"
                        return
                else:
                    r, _, _ = select.select([s], [], [], 0)
                    if r:
                        try:
                            data = s.recv(4096, socket.MSG_DONTWAIT)
                        except BlockingIOError:
                            continue
                        self.status = "error"
                        self.why = "closed early" if not data else f"unexpected data {data[:40]!r}"
                        return
                lo = self.sent + 1
                hi = self.sent + self.chunk
                s.sendall("".join(f"p{self.cid}-{i}\n" for i in range(lo, hi + 1)).encode())
                self.sent = hi
                time.sleep(self.interval)
            s.shutdown(socket.SHUT_WR)
            if self.ack:
                if not self.rd_done.wait(180):
                    self.status, self.why = "error", f"no EOF within 180s; acks {self.acks_ok}/{self.sent}"
                    return
                if self.rd_why != "eof":
                    self.status, self.why = "error", f"{self.rd_why}; acks {self.acks_ok}/{self.sent}"
                    return
                if self.acks_ok != self.sent or self.acks_other:
                    self.status = "ackbad"
                    self.why = f"acks ok={self.acks_ok} for {self.sent} sent, other={self.acks_other[:5]}"
                    return
                self.status = "ok"
                return
            s.settimeout(180)
            data = s.recv(4096)
            if data:
                self.status, self.why = "error", f"unexpected data {data[:40]!r}"
                return
            self.status = "ok"
        except OSError as e:
            self.status, self.why = "error", f"after {self.sent}: {e}"
        finally:
            if not self.ack:
                s.close()
            else:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def lines(self):
        return [f"p{self.cid}-{i}" for i in range(1, self.sent + 1)]


class Churn(threading.Thread):
    """Short-lived connections: connect, 1-3 lines, half-close, wait for EOF."""

    def __init__(self, tid, tcp_addr, unix_path, stop, rng, log):
        super().__init__(daemon=True)
        self.tid, self.tcp, self.unix, self.stop, self.rng, self.log = tid, tcp_addr, unix_path, stop, rng, log
        self.ok, self.maybe = [], []
        self.conns = []  # the lines of each connection that was attempted (sent or not)
        self.counts = {"ok": 0, "refused": 0, "reset": 0, "error": 0, "short-ack": 0}
        self.ack = False
        self.acked = []
        self.tcp_refused = []
        self.errors = []

    def one(self, kind, lines):
        def connected():
            self.maybe.extend(lines)
            self.conns.append(lines)

        want = b"ok\n" * len(lines) if self.ack else b""
        out, why, got = churn_once("unix:" + self.unix if kind == "unix" else self.tcp,
                                   "".join(x + "\n" for x in lines).encode(),
                                   expect=want, on_connected=connected)
        if out == "error" and self.ack and want.startswith(got) and why.startswith("unexpected"):
            self.acked.extend(lines[:got.count(b"\n")])
            return "short-ack", f"acks {got!r} for {len(lines)} lines"
        if out == "error" and why.startswith("unexpected"):
            return "error", f"unexpected data {got[:40]!r}"
        return out, why

    def run(self):
        i = 0
        while not self.stop.is_set():
            kind = "unix" if self.rng.random() < 0.5 else "tcp"
            lines = [f"s{self.tid}{kind[0]}-{i}-{j}" for j in range(self.rng.randint(1, 3))]
            i += 1
            out, why = self.one(kind, lines)
            self.counts[out] += 1
            if out == "ok":
                self.ok.extend(lines)
            elif kind == "tcp":
                (self.tcp_refused if out == "refused" else self.errors).append((time.monotonic(), f"{out} {lines[0]} {why}"))
            time.sleep(self.rng.uniform(0.05, 0.3))


# ---------------------------------------------------------------- the run

VERDICT_RE = re.compile(r"reload: (reloaded '|.*the running pipeline is unchanged)")
SAN_RE = re.compile(r"AddressSanitizer|runtime error|LeakSanitizer|ERROR: .*Sanitizer")


class Run:
    def __init__(self, a):
        self.a = a
        self.rng = random.Random(a.seed)
        self.d = os.path.abspath(a.out or f"/tmp/sluice-stress/seed{a.seed}{'-san' if a.san else ''}")
        subprocess.run(["rm", "-rf", self.d])
        os.makedirs(self.d + "/cfg")
        self.log = Log(self.d + "/driver.log")
        self.bin = f"{ROOT}/build/{'san' if a.san else 'release'}/sluiced"
        self.port = free_port()
        self.ctl = a.ctl if a.ctl is not None else self.rng.random() < 0.5
        self.cg = ConfGen(self.rng, self.d, self.port, self.ctl, None)
        self.conf = self.d + "/sluice.yaml"
        self.failures = []
        self.reloads = []  # (seq, method, cfg file, verdict)
        self.n_cfg = 0
        self.mark = f"stress-{os.getpid()}-{a.seed}"
        self.daemon_runs = 0
        self.fd_samples = []

    def fail(self, msg):
        self.log("FAIL:", msg)
        self.failures.append(msg)

    def save_cfg(self, c):
        self.n_cfg += 1
        p = f"{self.d}/cfg/{self.n_cfg:04d}.yaml"
        with open(p, "w") as f:
            f.write(c["text"])
        c["file"] = p
        return p

    def start_daemon(self, tag):
        self.daemon_runs += 1
        env = dict(os.environ, SLUICE_STRESS_MARK=self.mark)
        if self.a.san:
            env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99"
            env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
        self.err_path = f"{self.d}/daemon.{self.daemon_runs}.{tag}.err"
        self.errf = open(self.err_path, "wb")
        self.proc = subprocess.Popen([self.bin, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=open(f"{self.d}/daemon.{self.daemon_runs}.out", "wb"),
                                     stderr=self.errf, env=env)
        self.log(f"started {self.bin} pid {self.proc.pid} ({tag})")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if f"listening on 127.0.0.1:{self.port}".encode() in open(self.err_path, "rb").read():
                return True
            time.sleep(0.05)
        return False

    def err_text(self):
        return open(self.err_path, "rb").read().decode("utf-8", "replace")

    def verdicts(self):
        return [ln for ln in self.err_text().splitlines() if VERDICT_RE.search(ln)]

    def alive(self):
        return self.proc.poll() is None

    # -- one reload: write, trigger, wait for a verdict
    def reload_once(self, seq, c, method, wait=True, before=None):
        write_atomic(self.conf, c["text"])
        nv = len(self.verdicts()) if before is None else before
        if method == "ctl":
            r = subprocess.run([CTL, "-s", self.d + "/ctl.sock", "reload"], capture_output=True, timeout=60)
            reply = (r.stdout + r.stderr).decode(errors="replace").strip()
            self.log(f"reload #{seq} ctl rc={r.returncode} {c['file']}: {reply[:200]}")
        else:
            os.kill(self.proc.pid, signal.SIGHUP)
            self.log(f"reload #{seq} sighup {c['file']}")
        if not wait:
            return nv
        return self.wait_verdict(seq, nv, c)

    def wait_verdict(self, seq, nv, c, need=1, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = self.verdicts()
            if len(v) >= nv + need:
                for ln in v[nv:]:
                    self.log(f"  verdict: {ln[:220]}")
                return v[nv:]
            if not self.alive():
                return None
            time.sleep(0.01)
        v = self.verdicts()
        if len(v) > nv:
            return v[nv:]
        self.fail(f"reload #{seq} ({c['file']}): no verdict within {timeout}s")
        return []

    def check_verdict(self, seq, c, vs, prev_file):
        if vs is None:
            return
        for ln in vs:
            ok = "reload: reloaded '" in ln
            if c["bad"] == "restart" and not ok:
                if "needs a restart" not in ln:
                    self.fail(f"reload #{seq}: expected 'needs a restart', got: {ln}")
            elif c["bad"] == "syntax" and not ok:
                if "has errors" not in ln:
                    self.fail(f"reload #{seq}: expected 'has errors', got: {ln}")
            elif not ok:
                self.fail(f"reload #{seq} refused unexpectedly ({prev_file} -> {c['file']}): {ln}")
            elif c["bad"]:
                self.fail(f"reload #{seq}: a bad config ({c['bad']}) was accepted: {ln}")

    def do_reload(self, seq, method):
        """One reload step (maybe a refused config, maybe a burst); returns the new seq."""
        r = self.rng
        roll = r.random()
        bad = None
        if roll < 0.03:
            bad = "restart"
        elif roll < 0.05:
            bad = "syntax"
        prev = self.cg.applied
        if bad is not None or r.random() >= 0.25:
            seq += 1
            c = self.cg.make_live() if bad is None and r.random() < 0.12 else self.cg.make(bad)
            self.save_cfg(c)
            vs = self.reload_once(seq, c, method)
            self.check_verdict(seq, c, vs, prev["file"])
            self.reloads.append((seq, method, c["file"], prev["file"]))
            if not bad:
                self.cg.applied = c
            return seq
        # a burst of 2-5 back to back, each without waiting for the one before. Each
        # config is derived from the one written before it (a generator block may be
        # kept only from the config right before it, else its count would restart).
        n = r.choice([2, 2, 2, 3, 4, 5])
        nv = len(self.verdicts())
        last = prev
        for i in range(n):
            seq += 1
            c = self.cg.make()
            self.save_cfg(c)
            m = "hup" if i < n - 1 else method
            if m == "ctl" and r.random() < 0.5:
                # the control socket and a signal at the same moment
                th = threading.Thread(target=self.reload_once, args=(seq, c, "ctl"), kwargs={"wait": False})
                th.start()
                time.sleep(r.uniform(0, 0.01))
                os.kill(self.proc.pid, signal.SIGHUP)
                th.join(60)
            else:
                self.reload_once(seq, c, m, wait=False, before=nv)
            self.reloads.append((seq, m + "(burst)", c["file"], last["file"]))
            self.cg.applied = c
            last = c
            if r.random() < 0.5:
                time.sleep(r.uniform(0, 0.05))
        self.wait_verdict(seq, nv, c, need=1)
        time.sleep(0.3)
        vs = self.verdicts()[nv:]
        for ln in vs:
            self.log(f"  verdict(burst): {ln[:220]}")
        self.check_verdict(seq, c, vs, prev["file"])
        return seq

    def children(self):
        out = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                st = open(f"/proc/{p}/stat").read()
                ppid = int(st.rsplit(")", 1)[1].split()[1])
                if ppid != self.proc.pid:
                    continue
                argv = open(f"/proc/{p}/cmdline", "rb").read().split(b"\0")[:-1]
                out.append((int(p), [x.decode(errors="replace") for x in argv]))
            except (OSError, IndexError, ValueError):
                continue
        return out

    def check_children(self):
        """After every previous pipeline finished: co-processes beyond the final config's workers linger."""
        want = {}
        for st in self.cg.applied["stages"]:
            m = re.search(r"coprocess: \{ argv: \[(.*?)\] \}", st["text"])
            if m:
                w = int(re.search(r"workers: (\d+)", st["text"]).group(1))
                key = m.group(1).replace("'", "").replace(", ", " ")
                want[key] = want.get(key, 0) + w
        have = {}
        kids = self.children()
        for pid, argv in kids:
            if argv and argv[0] in ("cat", "sed"):
                key = " ".join(argv)
                have.setdefault(key, []).append(pid)
        extra = {k: v for k, v in have.items() if len(v) > want.get(k, 0)}
        self.log(f"children at the end: {kids}; final co-process workers: {want}")
        try:
            fds = {}
            for fd in os.listdir(f"/proc/{self.proc.pid}/fd"):
                t = os.readlink(f"/proc/{self.proc.pid}/fd/{fd}")
                k = re.sub(r"\[\d+\]", "", t)
                k = re.sub(r"-\d+\.txt$", "-N.txt", k)
                fds[k] = fds.get(k, 0) + 1
            self.log(f"daemon fds at the end: {fds}")
        except OSError:
            pass
        if extra:
            self.fail(f"LINGERING co-processes after every previous pipeline finished: "
                      f"{ {k: len(v) for k, v in extra.items()} } (final config allows {want})")

    def sink_fds(self):
        """{(fd, path)} of the sink files the daemon has open."""
        out = set()
        base = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(base):
            try:
                t = os.readlink(f"{base}/{fd}")
            except OSError:
                continue
            fn = os.path.basename(t)
            if t.startswith(self.d + "/") and fn.startswith(("out-", "copy-")):
                out.add((int(fd), fn))
        return out

    def watch_sinks(self, stop):
        """A changed sink must not write while an older generation's sink is still open
        (README: changed sinks start once the old ones are closed). Flags a file, open on
        exactly one fd, growing while a sink fd first seen earlier stays open all along."""
        order = {}
        hits = {}
        n = 0
        multi = 0
        prev = None
        self.overlaps = []
        while not stop.is_set() and self.alive():
            try:
                f1 = self.sink_fds()
                sizes = {}
                for _, fn in f1:
                    try:
                        sizes[fn] = os.path.getsize(os.path.join(self.d, fn))
                    except OSError:
                        pass
                f2 = self.sink_fds()
            except OSError:
                break
            n += 1
            for k in f1 | f2:
                if k not in order:
                    order[k] = n  # the sample it was first seen in: sinks opened together share it
            if prev is not None:
                pf1, psizes = prev
                for y in f1 & f2:
                    yfn = y[1]
                    if sum(1 for k in f1 | f2 | pf1 if k[1] == yfn) != 1:
                        continue
                    if yfn not in psizes or sizes.get(yfn, 0) <= psizes[yfn]:
                        continue
                    for x in pf1 & f2:
                        if x[1] != yfn and order[x] < order[y] - 1:
                            hits[(x, y)] = hits.get((x, y), 0) + 1
                            if hits[(x, y)] == 3:  # seen growing 3 times: not a sampling race
                                msg = f"{yfn} (fd {y[0]}) grew while the older sink {x[1]} (fd {x[0]}) was open"
                                self.log("OVERLAP: " + msg)
                                self.overlaps.append(msg)
            prev = (f2, sizes)
            gens_open = {order[k] for k in f2}
            if len(gens_open) > 1:
                multi += 1
            time.sleep(0.02)
        self.log(f"sink watcher: {n} samples, {multi} with sinks of 2+ generations open")

    def structural_counts(self):
        t = self.err_text()
        return (t.count("the structure changed; the previous pipeline drains"),
                sum(1 for ln in t.splitlines() if "previous pipeline '" in ln and "finished" in ln))

    def main(self):
        a, r = self.a, self.rng
        self.end = a.end or r.choices(["quiet", "drain", "cancel", "live-term", "live-cancel"], [5, 1, 2, 1, 1])[0]
        self.cg.unix_always = r.random() < 0.4
        self.cg.unique_paths = a.unique_paths if a.unique_paths is not None else r.random() < 0.5
        self.cg.ack = a.ack if a.ack is not None else r.random() < 0.35
        self.cg.gen_always = self.end in ("cancel", "live-cancel") and r.random() < 0.5
        c0 = self.cg.make()
        self.save_cfg(c0)
        write_atomic(self.conf, c0["text"])
        self.cg.applied = c0
        if not self.start_daemon("main"):
            self.fail("the daemon did not start: " + self.err_text()[-2000:])
            return self.finish_report()
        stop = threading.Event()
        addr = ("127.0.0.1", self.port)
        k = a.clients or r.randint(2, 4)
        streams = [Stream(i, addr, stop, random.Random(r.random()), self.log, self.cg.ack) for i in range(k)]
        if self.cg.unix_always:  # the unix source is in every config: persistent unix clients too
            streams += [Stream(100 + i, self.d + "/u.sock", stop, random.Random(r.random()), self.log, self.cg.ack) for i in range(r.randint(1, 2))]
        churns = [Churn(i, addr, self.d + "/u.sock", stop, random.Random(r.random()), self.log) for i in range(2)]
        self.streams, self.churns = streams, churns
        for ch in churns:
            ch.ack = self.cg.ack
        for t in streams + churns:
            t.start()
        wstop = threading.Event()
        self.overlaps = []
        watcher = threading.Thread(target=self.watch_sinks, args=(wstop,), daemon=True)
        if self.cg.unique_paths:  # else fd numbers reused for a reopened path confuse it
            watcher.start()
        self.log(f"{len(streams)} streams, 2 churn threads, ctl={self.ctl}, port={self.port}, "
                 f"end={self.end}, ack={self.cg.ack}, unix_always={self.cg.unix_always}, gen_always={self.cg.gen_always}")
        t_end = time.monotonic() + a.duration
        seq = 0
        crashed = False
        while time.monotonic() < t_end:
            time.sleep(r.uniform(0.1, 0.7) if r.random() < 0.8 else r.uniform(0.01, 0.1))
            if not self.alive():
                crashed = True
                break
            method = "ctl" if self.ctl and r.random() < 0.5 else "hup"
            seq = self.do_reload(seq, method)
            try:
                nfd = len(os.listdir(f"/proc/{self.proc.pid}/fd"))
                nkids = len(self.children())
                self.fd_samples.append((nfd, nkids))
            except OSError:
                pass
        self.n_reloads = seq
        self.log(f"reload loop done: {seq} reloads; crashed={crashed}")
        wstop.set()
        if watcher.is_alive():
            watcher.join(5)
        if self.overlaps:
            self.fail(f"SINK OVERLAP: {len(self.overlaps)} time(s) a new sink wrote while an older one was open, e.g. {self.overlaps[:3]}")
        if not self.alive():
            crashed = True
        self.term_time = None
        live = self.end.startswith("live")
        if not crashed and live:
            # stop while the clients still send and the old pipelines drain
            self.cg.force_slow = r.random() < 0.7
            seq = self.do_reload(seq, "hup")
            self.n_reloads = seq
            time.sleep(r.uniform(0, 0.3))
            self.term_time = time.monotonic()
            rc = self.term_and_wait(second=r.uniform(0.02, 0.5) if self.end == "live-cancel" else None)
        # stop the clients
        stop.set()
        for t in streams + churns:
            t.join(200)
            if t.is_alive():
                self.fail(f"client thread {t} did not finish (a connection never closed: hang?)")
        for s in streams:
            self.log(f"stream {s.cid}: {s.status} sent={s.sent} {s.why}")
            if s.status == "ackbad" or (s.status != "ok" and not live):
                self.fail(f"persistent stream {s.cid} did not end cleanly: {s.why} (sent {s.sent})")
        for ch in churns:
            self.log(f"churn {ch.tid}: {ch.counts}")
            tt = self.term_time or 1e18
            refused = [m for t, m in ch.tcp_refused if t < tt]
            errs = [m for t, m in ch.errors if t < tt]
            if refused:
                self.fail(f"churn {ch.tid}: {len(refused)} tcp connection(s) refused, e.g. {refused[:2]}")
            if errs:
                self.fail(f"churn {ch.tid}: {len(errs)} tcp connection(s) reset/errored, e.g. {errs[:2]}")
        if live and not crashed:
            pass
        elif not crashed and self.alive():
            if self.end == "quiet":
                self.wait_quiet()
                # every structural reload's previous pipeline must finish (within grace + kill_after)
                t0 = time.monotonic()
                while True:
                    ns, nf = self.structural_counts()
                    if nf >= ns or time.monotonic() - t0 > 70:
                        break
                    time.sleep(0.2)
                self.log(f"structural reloads {ns}, previous pipelines finished {nf}")
                if nf < ns:
                    self.fail(f"HANG: {ns - nf} previous pipeline(s) never finished ({ns} structural reloads, {nf} finished)")
                self.check_children()
                rc = self.term_and_wait()
            else:
                # one more structural reload, then stop while the old pipeline drains
                self.cg.force_slow = r.random() < 0.7
                seq = self.do_reload(seq, "hup")
                self.n_reloads = seq
                time.sleep(r.uniform(0, 0.3))
                rc = self.term_and_wait(second=r.uniform(0.02, 0.5) if self.end == "cancel" else None)
        else:
            crashed = True
            try:
                rc = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                rc = None
            self.fail(f"the daemon exited by itself during the run: rc={rc}")
        self.rc1 = rc
        self.after_exit(rc)
        return self.finish_report()

    def client_lines(self):
        """Lines in the sink files that did not come from a generator (read incrementally)."""
        st = self.__dict__.setdefault("_ql", {})
        n = 0
        for fn in os.listdir(self.d):
            if not fn.startswith(("out-", "copy-")):
                continue
            off, cnt = st.get(fn, (0, 0))
            with open(os.path.join(self.d, fn), "rb") as f:
                f.seek(off)
                data = f.read()
            end = data.rfind(b"\n") + 1
            for ln in data[:end].split(b"\n")[:-1]:
                if not GEN_RE.match(ln):
                    cnt += 1
            st[fn] = (off + end, cnt)
            n += cnt
        return n

    def wait_quiet(self, quiet=3.0, limit=180):
        """Wait until the client lines in the sinks stop growing (generators never stop)."""
        t0 = time.monotonic()
        last, since = None, time.monotonic()
        while time.monotonic() - t0 < limit:
            s = self.client_lines()
            if s != last:
                last, since = s, time.monotonic()
            elif time.monotonic() - since >= quiet:
                self.log(f"sinks quiet after {time.monotonic() - t0:.1f}s ({s} client lines)")
                return True
            time.sleep(0.2)
        self.fail(f"the sink files kept growing for {limit}s after the clients stopped")
        return False

    def term_and_wait(self, limit=150, second=None):
        os.kill(self.proc.pid, signal.SIGTERM)
        self.log("SIGTERM")
        if second is not None:
            time.sleep(second)
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.log(f"second SIGTERM after {second:.3f}s")
        try:
            rc = self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.fail(f"HANG: the daemon did not exit within {limit}s of SIGTERM")
            self.dump_hang()
            self.proc.kill()
            rc = self.proc.wait()
        self.errf.close()
        self.log(f"daemon exit {rc}")
        return rc

    def dump_hang(self):
        pid = self.proc.pid
        try:
            r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                               capture_output=True, timeout=60)
            with open(self.d + "/hang-gdb.txt", "wb") as f:
                f.write(r.stdout + r.stderr)
        except Exception as e:  # noqa
            self.log(f"gdb: {e}")
        try:
            subprocess.run(f"ls -l /proc/{pid}/fd > {self.d}/hang-fds.txt 2>&1; ps -ef --forest > {self.d}/hang-ps.txt",
                           shell=True)
            os.kill(pid, signal.SIGUSR2)
            time.sleep(0.5)
        except Exception:
            pass

    def after_exit(self, rc):
        spool = self.d + "/sluice.spool"
        if rc < 0 or rc in (134, 139, 99):
            self.fail(f"CRASH: daemon exit {rc}")
        elif rc == 75:
            self.log("exit 75: a cancel happened")
            if not os.path.exists(spool):
                if "lost=0" not in self.summary_unfinished():
                    self.fail(f"exit 75 without a spool and {self.summary_unfinished()}")
                else:
                    self.log("exit 75 without a spool, nothing lost")
            else:
                self.replay()
        elif rc != 0:
            self.fail(f"daemon exit {rc} (expected 0)")
        self.check_stderr(self.err_path)

    def summary_unfinished(self, path=None):
        for ln in open(path or self.err_path, "rb").read().decode(errors="replace").splitlines():
            if ln.startswith("unfinished:"):
                return ln
        return "(no unfinished: line)"

    def replay(self):
        first_err = self.err_path
        self.check_stderr(first_err)
        last = self.cg.applied["text"]
        # no generator in the replay run (it would start its count again)
        text = "\n".join(ln for ln in last.splitlines() if "type: generate" not in ln) + "\n"
        # the same stages (names), without their sleeps: the replay is not what is under test
        text = re.sub(r"sleep [0-9.]+; ", "", text)
        write_atomic(self.conf, text)
        if not self.start_daemon("replay"):
            self.fail("the replay daemon did not start: " + self.err_text()[-1500:])
            return
        t0 = time.monotonic()
        while os.path.exists(self.d + "/sluice.spool") or os.path.exists(self.d + "/sluice.spool.replaying"):
            if time.monotonic() - t0 > 300 or not self.alive():
                self.fail("the spool was not replayed within 300s")
                break
            time.sleep(0.1)
        self.wait_quiet()
        rc = self.term_and_wait()
        self.rc2 = rc
        if rc != 0:
            self.fail(f"replay run: daemon exit {rc} (expected 0)")

    def check_stderr(self, path):
        txt = open(path, "rb").read().decode(errors="replace")
        m = SAN_RE.search(txt)
        if m:
            i = m.start()
            self.fail(f"SANITIZER in {os.path.basename(path)}: {txt[max(0, i - 300): i + 1500]}")
        u = self.summary_unfinished(path)
        if not re.search(r"\blost=0\b", u):
            self.fail(f"{os.path.basename(path)}: {u}")
        for ln in txt.splitlines():
            m2 = re.match(r"stage (\S+): in=(\d+) ok=(\d+) failed=(\d+) dropped=(\d+) in_flight=(\d+) queued=(\d+)", ln)
            if m2:
                v = list(map(int, m2.groups()[1:]))
                if v[0] != sum(v[1:]):
                    self.fail(f"accounting: {ln}")
                if v[2] or v[3]:
                    self.fail(f"items failed/dropped: {ln}")

    # -- the records
    def check_records(self):
        prim, copies = {}, {}
        bad_lines = []
        for fn in sorted(os.listdir(self.d)):
            if not fn.startswith(("out-", "copy-")):
                continue
            tgt = prim if fn.startswith("out-") else copies
            data = open(os.path.join(self.d, fn), "rb").read()
            if data and not data.endswith(b"\n"):
                self.fail(f"{fn} does not end with a newline (torn last record)")
            for ln in data.split(b"\n")[:-1] if data else []:
                core = TAG_RE.sub(b"", ln)
                tgt.setdefault(core, []).append(fn)
        required = set()
        known = set()
        for s in self.streams:
            ls = s.lines()
            known.update(ls)
            if s.status == "ok":
                required.update(ls)
            elif s.ack:
                required.update(ls[:s.acks_ok])  # acked: done end to end
        for ch in self.churns:
            known.update(ch.maybe)
            required.update(ch.ok)
            required.update(ch.acked)
        required = {x.encode() for x in required}
        known = {x.encode() for x in known}
        gen_re = re.compile(rb"^g(\d+)-(\d+)$")
        gens = {}
        missing = [x for x in required if x not in prim]
        dups = {k: v for k, v in prim.items() if len(v) > 1}
        unknown = []
        for k in prim:
            m = gen_re.match(k)
            if m:
                gens.setdefault(int(m.group(1)), []).append(int(m.group(2)))
            elif k not in known:
                unknown.append(k)
        cdups = {k: v for k, v in copies.items() if len(v) > 1}
        corphans = [k for k in copies if k not in prim]
        self.log(f"records: primary distinct={len(prim)} required={len(required)} missing={len(missing)} "
                 f"dups={len(dups)} unknown={len(unknown)} copies={len(copies)} gens={len(gens)}")
        with open(self.d + "/records.txt", "w") as f:
            for name, lst in (("missing", missing), ("unknown", unknown)):
                for x in sorted(lst)[:2000]:
                    f.write(f"{name} {x.decode(errors='replace')}\n")
            for k, v in list(dups.items())[:2000]:
                f.write(f"dup {k.decode(errors='replace')} {v}\n")
            for k, v in list(cdups.items())[:2000]:
                f.write(f"copydup {k.decode(errors='replace')} {v}\n")
        if missing:
            self.fail(f"LOST: {len(missing)} delivered line(s) not in the primary sinks, e.g. {sorted(missing)[:5]}")
        if dups:
            ex = list(dups.items())[:5]
            self.fail(f"DUPLICATED: {len(dups)} line(s) more than once in the primary sinks, e.g. {ex}")
        if unknown:
            self.fail(f"UNKNOWN: {len(unknown)} line(s) nobody sent, e.g. {unknown[:5]}")
        if cdups:
            self.fail(f"DUPLICATED in copy sinks: {len(cdups)}, e.g. {list(cdups.items())[:3]}")
        if corphans:
            self.fail(f"{len(corphans)} line(s) in copy sinks but not in primary sinks, e.g. {corphans[:3]}")
        # TCP/unix streams are read in order: what reached the sinks of one connection
        # must be a prefix of what it sent (a hole is a lost record)
        holes = []
        for s in self.streams:
            got = sorted(int(k.split(b"-")[1]) for k in prim if k.startswith(f"p{s.cid}-".encode()))
            if got and got[-1] != len(got):
                miss = sorted(set(range(1, got[-1] + 1)) - set(got))
                holes.append(f"stream {s.cid} ({s.status}): {len(miss)} hole(s) below {got[-1]}, e.g. {miss[:5]}")
        for ch in self.churns:
            for conn in ch.conns:
                pres = [x.encode() in prim for x in conn]
                if any(pres) and pres != sorted(pres, reverse=True):
                    holes.append(f"churn conn {conn}: present {pres}")
        if holes:
            self.fail(f"HOLES (lost records inside a connection's stream): {holes[:5]}")
        gaps = []
        for g, seqs in sorted(gens.items()):
            ss = sorted(seqs)
            want = set(range(1, ss[-1] + 1))
            miss = sorted(want - set(ss))
            if miss:
                gaps.append(f"g{g}: {len(miss)} missing of 1..{ss[-1]} e.g. {miss[:5]}")
        if gaps:
            self.fail(f"GENERATOR GAPS (lost generated items): {gaps[:5]}")
        self.stats = dict(primary=len(prim), required=len(required), gens=len(gens),
                          gen_items=sum(len(v) for v in gens.values()))

    def leftovers(self):
        left = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                env = open(f"/proc/{p}/environ", "rb").read()
            except OSError:
                continue
            if f"SLUICE_STRESS_MARK={self.mark}".encode() in env.split(b"\0"):
                try:
                    cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode()
                except OSError:
                    cmd = "?"
                left.append(f"{p} {cmd}")
        if left:
            self.fail(f"{len(left)} process(es) left after exit: {left[:5]}")

    def finish_report(self):
        try:
            if hasattr(self, "streams"):
                self.check_records()
            time.sleep(0.5)
            self.leftovers()
        except Exception as e:  # noqa
            import traceback
            self.fail("driver error: " + traceback.format_exc())
        err = self.err_text() if hasattr(self, "err_path") else ""
        n_struct = sum(
            1 for p in os.listdir(self.d) if p.startswith("daemon.") and p.endswith(".err")
            for ln in open(os.path.join(self.d, p), errors="replace") if "the structure changed; the previous" in ln)
        n_prev = sum(1 for p in os.listdir(self.d) if p.startswith("daemon.") and p.endswith(".err")
                     for ln in open(os.path.join(self.d, p), errors="replace") if "previous pipeline '" in ln and "finished" in ln)
        n_cancel = sum(1 for p in os.listdir(self.d) if p.startswith("daemon.") and p.endswith(".err")
                       for ln in open(os.path.join(self.d, p), errors="replace") if "cancelling the previous pipeline" in ln)
        n_hand = sum(1 for p in os.listdir(self.d) if p.startswith("daemon.") and p.endswith(".err")
                     for ln in open(os.path.join(self.d, p), errors="replace") if "had not finished went to the" in ln)
        summ = (f"seed={self.a.seed} san={self.a.san} ctl={self.ctl} ack={self.cg.ack} "
                f"unique_paths={self.cg.unique_paths} duration={self.a.duration}s "
                f"reload_requests={getattr(self, 'n_reloads', 0)} structural_applied={n_struct} "
                f"previous_finished={n_prev} cancelled_previous={n_cancel} handovers={n_hand} "
                f"end={getattr(self, 'end', None)} exit={getattr(self, 'rc1', None)} replay_exit={getattr(self, 'rc2', None)} "
                f"stats={getattr(self, 'stats', None)} "
                f"fds(first,max,last)={self.fd_samples[0][0] if self.fd_samples else None},"
                f"{max(x[0] for x in self.fd_samples) if self.fd_samples else None},"
                f"{self.fd_samples[-1][0] if self.fd_samples else None} "
                f"children(max,last)={max(x[1] for x in self.fd_samples) if self.fd_samples else None},"
                f"{self.fd_samples[-1][1] if self.fd_samples else None}")
        with open(self.d + "/report.txt", "w") as f:
            f.write(summ + "\n")
            f.write(f"failures: {len(self.failures)}\n")
            for x in self.failures:
                f.write("- " + x + "\n")
            f.write("reloads (seq method new_cfg prev_cfg):\n")
            for rr in self.reloads:
                f.write(f"  {rr}\n")
        print(summ)
        print(f"failures: {len(self.failures)}")
        for x in self.failures:
            print("- " + x[:1500])
        print(f"details: {self.d}")
        return 1 if self.failures else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--duration", type=float, default=150)
    ap.add_argument("--san", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--clients", type=int)
    ap.add_argument("--ack", dest="ack", action="store_true", default=None)
    ap.add_argument("--no-ack", dest="ack", action="store_false")
    ap.add_argument("--unique-paths", dest="unique_paths", action="store_true", default=None)
    ap.add_argument("--reuse-paths", dest="unique_paths", action="store_false")
    ap.add_argument("--end", choices=["quiet", "drain", "cancel", "live-term", "live-cancel"])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--ctl", dest="ctl", action="store_true", default=None)
    g.add_argument("--no-ctl", dest="ctl", action="store_false")
    a = ap.parse_args()
    run = Run(a)
    try:
        sys.exit(run.main())
    finally:
        p = getattr(run, "proc", None)
        if p is not None and p.poll() is None:
            p.kill()


if __name__ == "__main__":
    main()
