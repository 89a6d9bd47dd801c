#!/usr/bin/env bash
# A file sink on a full filesystem (a small tmpfs mounted here): the file never
# ends in a torn record; the sink is visibly down (/health/ready 503,
# sluice_sink_up 0, STATUS= says so, one warning rather than one a second);
# SIGTERM spools the records it could not write and the joblog does not list
# them; once space is freed, --resume writes every record exactly once.
. "$(dirname "$0")/../lib.sh"

FS=$T/fs
mkdir "$FS"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=256k tmpfs "$FS" 2>"$T/mount.err"; then
	echo "skipped: cannot mount a tmpfs (needs root): $(cat "$T/mount.err" 2>/dev/null)"
	exit 77
fi
trap 'rc=$?; umount "$FS" 2>/dev/null || umount -l "$FS" 2>/dev/null; (exit $rc); _cleanup' EXIT

N=1000
# 100-byte records, 100 KB in all: more than the room left on the tmpfs.
python3 -c "
for i in range(1, $N + 1): print('r%05d-' % i + 'y' * 93)" >"$T/in.txt"
# Leave about 24 KiB: a few hundred records fit, then ENOSPC, mid-record.
head -c $((232 * 1024)) /dev/zero >"$FS/filler"

NS=$T/notify.sock
NLOG=$T/notify.log
env SLUICE_TEST_MARK="$MARK" python3 "$PYHELPERS/notify_sock.py" listen "$NS" "$NLOG" 300 &
LISTENER=$!
wait_for '[ -e "$NLOG" ]' 30 || fail "the fake notify socket did not come up"

# follow: the job runs on (it would be draining, so not ready, once the input ended).
conf() { # FOLLOW
	cat <<YAML
joblog: $T/job.log
metrics: { listen: "127.0.0.1:0" }
shutdown: { grace: 1s, kill_after: 2s, spool: $T/spool }
sources:
  - { name: in, type: file, path: $T/in.txt, follow: $1 }
stages:
  - name: pass
    builtin: { op: passthrough }
sinks:
  - { name: out, type: file, path: $FS/out.txt }
YAML
}
conf true >"$T/c.yaml"
conf false >"$T/c2.yaml"

metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" 2>/dev/null | head -n 1 | grep -o '[0-9]*$'; }
get() { python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT$1" "${@:2}"; }
sink_up() {
	get /metrics "$T/m.txt" >/dev/null && python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_sink_up sink=out
}
# whole_records FILE: every line is a whole record of the input; prints the count.
whole_records() { python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
if data and not data.endswith(b"\n"):
    sys.exit("ends in a torn record: %r" % data[-40:])
lines = data.split(b"\n")[:-1]
for l in lines:
    if len(l) != 100 or not l.startswith(b"r"):
        sys.exit("not a whole record: %r" % l[:60])
print(len(lines))
PY
}

NOTIFY_SOCKET=$NS start_daemon "$T/c.yaml"
wait_for '[ -n "$(metrics_port)" ]' 30 || fail "no metrics port in the log"
PORT=$(metrics_port)
wait_for '[ "$(sink_up)" = 0 ]' 60 || fail "sluice_sink_up{sink=out} never went to 0 on a full disk"
# Each retry may write part of a record and cut it off again at once: look
# between two retries.
wait_for 'n1=$(whole_records "$FS/out.txt" 2>"$T/torn")' 10 || fail "the output: $(cat "$T/torn")"
# shellcheck disable=SC2154 # n1 is set by the wait_for condition above
note "full after $n1 records"
[ "$n1" -lt "$N" ] || fail "every record fit: the disk was never full"
assert_eq "503 text/plain; charset=utf-8" "$(get /health/ready "$T/ready.txt")" "/health/ready while the sink cannot write"
assert_contains "$T/ready.txt" "sink 'out' cannot write" "/health/ready's reason"
wait_for 'python3 "$PYHELPERS/notify_sock.py" dump "$NLOG" | grep -q "STATUS=.*sink .out. cannot write"' 30 ||
	fail "no STATUS= saying the sink cannot write: $(python3 "$PYHELPERS/notify_sock.py" dump "$NLOG" | tail -3)"
# It keeps retrying (every second) without a warning each time.
sleep 2.5
assert_eq 1 "$(grep -ac "sink 'out': cannot write to '$FS/out.txt': No space left on device" "$DAEMON_ERR")" "warnings while down for a few seconds"
get /metrics "$T/m.txt" >/dev/null
assert_eq "$n1" "$(python3 "$PYHELPERS/promparse.py" get "$T/m.txt" sluice_sink_records_total sink=out)" "sluice_sink_records_total: only what is in the file"

kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
rc=$?
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null
assert_exit 75 "$rc" "sluiced (SIGTERM while the sink cannot write: the rest is spooled)"
check_accounting
n2=$(whole_records "$FS/out.txt") || fail "the output after the stop: $n2"
assert_eq "$n1" "$n2" "records in the file after the stop"
assert_eq 0 "$(summary_field unfinished lost)" "records lost"
assert_ge "$(summary_field unfinished spooled)" 1 "records spooled"
assert_eq "$n2" "$(summary_field sink out written)" "summary: written"
# The joblog lists exactly the records in the file.
tail -n +2 "$T/job.log" | cut -f3 | sort -n >"$T/j"
cut -c2-6 "$FS/out.txt" | sed 's/^0*//' | sort -n >"$T/w"
assert_file_eq "$T/w" "$T/j" "joblog indexes = records written"

rm "$FS/filler"
run_daemon "$T/c2.yaml" --resume
rc=$?
assert_exit 0 "$rc" "sluiced --resume after freeing space"
check_accounting
assert_eq "$N" "$(whole_records "$FS/out.txt")" "records in the file"
cut -c2-6 "$FS/out.txt" | sort | uniq -d | head -3 >"$T/dup"
[ ! -s "$T/dup" ] || fail "records written twice: $(tr '\n' ' ' <"$T/dup")"
assert_eq "$N" "$(tail -n +2 "$T/job.log" | cut -f3 | sort -u | wc -l)" "joblog: every record once"
exit 0
