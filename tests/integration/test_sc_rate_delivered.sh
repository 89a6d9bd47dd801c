#!/usr/bin/env bash
# rate: delivers what it is asked for. Generated items through a builtin stage
# with 4 workers: rate: 200/s runs 601 items in ~3 s (delivered within +-15%),
# rate: 20000/s runs 60,001 items in ~3 s (never faster than asked, and not below
# half of it: a loose bound, not a speed test; the bucket keeps fractions and a
# late timer finds the starts it owes, so a loaded machine costs little). The
# old bucket (burst 1 on the loop's cached clock) ran 2000/s at 250/s.
# Also: idle time banks up to `burst` starts; `burst` changes live on reload,
# is printed back by --check, and checked by the loader.
. "$(dirname "$0")/../lib.sh"

# delivered RATE N: runs N items at RATE/s; prints the delivered rate (items
# after the first per second of the job's elapsed time, from its summary).
delivered() {
	cat >"$T/r$1.yaml" <<YAML
sources:
  - { name: g, type: generate, count: $2 }
stages:
  - { name: s, workers: 4, rate: $1/s, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/r$1.out }
YAML
	run_daemon "$T/r$1.yaml"
	rc=$?
	assert_exit 0 "$rc" "sluiced (rate: $1/s)"
	check_accounting
	assert_eq "$2" "$(lines "$T/r$1.out")" "rate $1/s: lines written"
	local e
	e=$(sed -n "s/^summary: .* elapsed=\([0-9.]*\)s.*/\1/p" "$DAEMON_ERR")
	[ -n "$e" ] || fail "rate $1/s: no elapsed= in the summary"
	awk -v n="$2" -v e="$e" 'BEGIN { printf "%d", (n - 1) / e }'
}

got=$(delivered 200 601) || exit 1
note "rate 200/s: delivered $got/s"
assert_ge "$got" 170 "rate 200/s: delivered per second (-15%)"
assert_le "$got" 230 "rate 200/s: delivered per second (+15%)"

got=$(delivered 20000 60001) || exit 1
note "rate 20000/s: delivered $got/s"
assert_ge "$got" 10000 "rate 20000/s: delivered per second (not below half)"
assert_le "$got" 23000 "rate 20000/s: delivered per second (+15%)"

# burst: idle time banks starts, up to burst. rate: 2/s with burst: 10, a tcp
# source: one item, then 6 s with nothing to start, then 12 items at once: 10
# start at once and 2 more at 2/s (about 1 s; without the bank, 5.5 s). Never
# faster than the rate allows after the bank: at least 0.9 s.
port=$(python3 "$PYHELPERS/net_port.py" 1)
cat >"$T/burst.yaml" <<YAML
sources:
  - { name: tcp, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - { name: s, rate: 2/s, burst: 10, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/burst.out }
YAML
start_daemon "$T/burst.yaml"
wait_for 'grep -q "listening" "$DAEMON_ERR"' 30 || fail "the tcp source did not start listening"
python3 "$PYHELPERS/net_client.py" send "127.0.0.1:$port" 'first\n' || fail "tcp client"
wait_for '[ "$(lines "$T/burst.out")" -ge 1 ]' 30 || fail "the first item was not written"
sleep 6 # the scenario: time with nothing to start
t0=$(now_ms)
python3 "$PYHELPERS/net_client.py" send "127.0.0.1:$port" "$(printf 'b%d\\n' $(seq 1 12))" || fail "tcp client"
wait_for '[ "$(lines "$T/burst.out")" -ge 13 ]' 60 || fail "only $(lines "$T/burst.out") of 13 items were written"
t1=$(now_ms)
note "burst: 12 items after 6 s idle at rate 2/s, burst 10: $((t1 - t0)) ms"
assert_ge "$((t1 - t0))" 900 "ms for 12 items after idle (10 banked, 2 at 2/s)"
assert_le "$((t1 - t0))" 4000 "ms for 12 items after idle (10 banked; 5.5 s without the bank)"
# burst is live, like rate: a reload that changes it keeps the pipeline.
sed -i 's|burst: 10|burst: 3|' "$T/burst.yaml"
send_signal "$DAEMON_PID" HUP
wait_for 'grep -aq "reload: reloaded" "$DAEMON_ERR"' 30 || fail "a reload changing burst was not applied live"
assert_not_contains "$DAEMON_ERR" "structure changed" "log after a reload changing burst"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (burst)"
check_accounting

# burst: printed back by --check (default 4), checked with FILE:LINE:COL.
chk() { "$SLUICED" --check -c "$1" >"$T/check.out" 2>"$T/check.err"; }
chk "$T/r200.yaml" || fail "--check of a valid pipeline failed: $(cat "$T/check.err")"
grep -Eq '^ +burst: 4$' "$T/check.out" || fail "--check output: no 'burst: 4' (the default): $(cat "$T/check.out")"
sed 's|rate: 200/s,|rate: 200/s, burst: 50,|' "$T/r200.yaml" >"$T/b50.yaml"
chk "$T/b50.yaml" || fail "--check with burst: 50 failed: $(cat "$T/check.err")"
grep -Eq '^ +burst: 50$' "$T/check.out" || fail "--check output: no 'burst: 50'"

sed 's|rate: 200/s,|rate: 200/s, burst: 0,|' "$T/r200.yaml" >"$T/b0.yaml"
chk "$T/b0.yaml"
assert_exit 78 $? "sluiced --check (burst: 0)"
grep -aqE "^$T/b0.yaml:4:[0-9]+: .*burst" "$T/check.err" || fail "burst: 0: no FILE:4:COL error naming 'burst': $(cat "$T/check.err")"

sed 's|rate: 200/s,|burst: 5,|' "$T/r200.yaml" >"$T/norate.yaml"
chk "$T/norate.yaml"
assert_exit 78 $? "sluiced --check (burst without rate)"
grep -aqE "^$T/norate.yaml:4:[0-9]+: 'burst' in .* needs 'rate'" "$T/check.err" ||
	fail "burst without rate: no FILE:4:COL error: $(cat "$T/check.err")"
exit 0
