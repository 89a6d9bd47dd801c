#!/usr/bin/env bash
# joblog + SIGKILL + --resume loses nothing: the joblog lists a record only once
# every sink has written it.
#
# 1. Deterministic window: the stdout sink writes into a fifo nobody reads, so
#    every item passes the stage but most records stay in the sink's buffer.
#    SIGKILL then. The joblog must list only records that reached the fifo;
#    --resume redoes the others, so each record is out exactly once.
# 2. A short seeded randomized loop: SIGKILL at a random moment, then --resume
#    until a run completes; every input record is in the output at least once.
# 3. A record a sink fails for good (an http sink's 400) after it passed the
#    stages is "failed:sink" in the joblog, not "ok".
. "$(dirname "$0")/../lib.sh"

N=300
# ~1 KB records: 300 of them are several times a pipe's 64 KiB.
python3 -c "
for i in range(1, $N + 1): print('r%04d-' % i + 'x' * 1000)" >"$T/in.txt"

conf() { # SINK SCRIPT
	cat <<YAML
joblog: $T/job.log
metrics: { listen: "127.0.0.1:0" }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 3
    exec: { argv: [sh, -c, '$2', sh, "{}"] }
sinks:
  - $1
YAML
}
metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$'; }
# passed_all: every item left the stage and nothing waits in a queue (the
# results are all in the sink's hands).
passed_all() {
	python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT/metrics" "$T/m.txt" >/dev/null || return 1
	[ "$(python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_items_total stage=work outcome=ok)" = "$N" ] &&
		[ -z "$(awk '/^sluice_queue_items/ && $2 != 0' "$T/m.txt")" ]
}

# keys FILE: the record numbers of the whole lines in FILE (a torn tail left by a
# kill in the middle of a pipe write is not a record), one a line.
keys() { python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
for l in data.split(b"\n")[:-1]:
    print(int(l[1:5]))
PY
}
joblog_keys() { tail -n +2 "$T/job.log" | cut -f3; }

# ---- 1: records held by a stalled sink at the kill ----
mkfifo "$T/fifo"
exec 3<>"$T/fifo" # a reader that never reads (and never sees EOF)
conf "{ name: out, type: stdout }" 'echo "$1"' >"$T/c.yaml"
DAEMON_STDOUT=$T/fifo start_daemon "$T/c.yaml"
wait_for '[ -n "$(metrics_port)" ]' 30 || fail "no metrics port in the log"
PORT=$(metrics_port)
wait_for passed_all 120 || fail "the items did not all pass the stage: $(grep -a '^sluice_items_total\|^sluice_queue_items' "$T/m.txt")"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
python3 -c "
import os, sys
os.set_blocking(3, False)
out = open('$T/out1.txt', 'wb')
while True:
    try:
        b = os.read(3, 65536)
    except BlockingIOError:
        break
    out.write(b)
"
exec 3<&-
keys "$T/out1.txt" | sort -n >"$T/w1"
joblog_keys | sort -n >"$T/j1"
n1=$(wc -l <"$T/w1")
note "run 1: $n1 of $N records reached the fifo; the joblog lists $(wc -l <"$T/j1")"
[ "$n1" -lt "$N" ] || fail "the fifo took every record: the window was not exercised"
extra=$(comm -13 "$T/w1" "$T/j1" | head -5 | tr '\n' ' ')
[ -z "$extra" ] || fail "the joblog lists records no sink wrote (lost by --resume): $extra"

# --resume into a file: the rest, exactly once over both runs.
conf "{ name: out, type: file, path: $T/out2.txt }" 'echo "$1"' >"$T/c2.yaml"
run_daemon "$T/c2.yaml" --resume
rc=$?
assert_exit 0 "$rc" "sluiced --resume after the SIGKILL"
check_accounting
{ cat "$T/w1"; keys "$T/out2.txt"; } | sort -n >"$T/all"
assert_eq "$N" "$(sort -nu "$T/all" | wc -l)" "distinct records over both runs"
assert_eq "$N" "$(wc -l <"$T/all")" "records over both runs (each exactly once)"

# ---- 2: seeded random SIGKILLs ----
seed=${SEED:-9}
RANDOM=$seed
note "random kills: seed $seed"
conf "{ name: out, type: file, path: $T/out3.txt }" 'sleep 0.01; echo "$1"' >"$T/c3.yaml"
rm -f "$T/job.log"
args=()
for iter in 1 2 3 4 5 6; do
	start_daemon "$T/c3.yaml" "${args[@]}"
	args=(--resume)
	# The kill point is what is random here, not a synchronisation.
	delay=$(printf '0.%03d' $((100 + RANDOM % 900)))
	sleep "$delay"
	if _alive "$DAEMON_PID"; then
		kill -KILL "$DAEMON_PID" 2>/dev/null
		wait_exit "$DAEMON_PID" 30
		note "iteration $iter: killed after ${delay}s; $(lines "$T/out3.txt") lines so far"
	else
		wait_exit "$DAEMON_PID" 30
		rc=$?
		assert_exit 0 "$rc" "sluiced (iteration $iter, ran to its end)"
		break
	fi
done
RUN_TIMEOUT=120 run_daemon "$T/c3.yaml" --resume
rc=$?
assert_exit 0 "$rc" "sluiced --resume (the final run)"
keys "$T/out3.txt" | sort -nu >"$T/w3"
missing=$(seq 1 "$N" | comm -23 - "$T/w3" | head -5 | tr '\n' ' ')
[ -z "$missing" ] || fail "records lost over the SIGKILLs (seed $seed): $missing"

# ---- 3: failed at a sink ----
port=$(python3 "$PYHELPERS/net_port.py")
python3 "$PYHELPERS/net_http.py" serve "$port" "$T/web.log" --reject bad >"$T/server.log" 2>&1 &
srv=$!
wait_for 'grep -q ready "$T/server.log"' 30 || fail "the test server did not start"
seq 1 6 >"$T/in6.txt"
cat >"$T/c4.yaml" <<YAML
joblog: $T/job4.log
sources:
  - { name: in, type: file, path: $T/in6.txt }
stages:
  - { name: mark, exec: { argv: [sh, -c, 'case "\$1" in 2|5) echo "bad-\$1";; *) echo "ok-\$1";; esac', sh, "{}"] } }
sinks:
  - { name: web, type: http, url: "http://127.0.0.1:$port/sink", batch: { max_items: 1 } }
YAML
run_daemon "$T/c4.yaml"
assert_exit 1 $? "sluiced (two records refused by the http sink)"
{ kill "$srv" && wait "$srv"; } 2>/dev/null
assert_eq "1 ok
2 failed:sink
3 ok
4 ok
5 failed:sink
6 ok" "$(tail -n +2 "$T/job4.log" | cut -f3,8 | sort -n | tr '\t' ' ')" "joblog outcomes (index outcome)"
exit 0
