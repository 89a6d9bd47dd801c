#!/usr/bin/env bash
# SIGTERM, twice, while the previous pipeline still drains after a structural
# reload (`sluicectl reload`). The old stage hangs on all but its first 5 items,
# with a long grace (so no handover happens before the signals). It proves:
#  * the stop covers both pipelines: the old one's unfinished items (in flight,
#    their children stopped, and queued) go to shutdown.spool; exit 75;
#  * the summary accounts for them: "unfinished: spooled=K lost=0", and the
#    lines written + K = every item read (nothing lost, nothing twice);
#  * a restart with the same file replays the spool: in the end every item has
#    reached the sink exactly once.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

net() { python3 "$PYHELPERS/net_client.py" "$@"; }
port=$(python3 "$PYHELPERS/net_port.py")
SOCK=$T/ctl.sock

write_conf() { # STAGE-ARGV
	cat >"$T/c.yaml" <<YAML
name: rl-term
shutdown: { grace: 60s, kill_after: 1s, spool: $T/rl.spool }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - name: work
    workers: 2
    exec: { argv: $1 }
sinks:
  - { name: out, type: file, path: $T/out.txt }
control: { socket: $SOCK }
YAML
}

write_conf '[sh, -c, "case $1 in x-0[1-5]) ;; *) sleep 60 ;; esac; echo \"$1\"", sh, "{}"]'
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR" && [ -S "$SOCK" ]' 30 ||
	fail "the daemon did not start listening"
# 20 items for the old pipeline: 5 finish, 2 hang in flight, 13 wait.
assert_eq closed "$(net send "127.0.0.1:$port" "$(printf 'x-%02d\\n' $(seq 1 20))" --wait-close)" "sender x"
wait_running '[ "$(lines "$T/out.txt")" -ge 5 ] && [ "$(count_children_named sleep)" -ge 2 ]' $((30 * SCALE)) ||
	fail "expected 5 lines and 2 hanging items, got $(lines "$T/out.txt") and $(count_children_named sleep)"

write_conf '[sh, -c, "echo \"$1\"", sh, "{}"]'
reload_ctl "$SOCK"
# 10 items for the new pipeline, which finishes them while the old one drains.
assert_eq closed "$(net send "127.0.0.1:$port" "$(printf 'y-%02d\\n' $(seq 1 10))" --wait-close)" "sender y"
wait_running '[ "$(lines "$T/out.txt")" -ge 15 ]' $((30 * SCALE)) ||
	fail "the new pipeline wrote only $(($(lines "$T/out.txt") - 5)) of its 10 items"
assert_eq 2 "$(count_children_named sleep)" "hanging children of the old pipeline (still draining)"
grep -a "previous pipeline" "$DAEMON_ERR" | grep -aq finished &&
	fail "the previous pipeline claims to have finished while 15 of its items are unfinished"
# Status shows what the old pipeline still holds: 2 in flight + 13 queued.
CTL=$(dirname "$SLUICED")/sluicectl
prev=$("$CTL" -s "$SOCK" status --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["previous_pipeline"])')
assert_eq "{'state': 'draining', 'items': 15}" "$prev" "status --json: previous_pipeline"
"$CTL" -s "$SOCK" status >"$T/status.txt"
assert_contains "$T/status.txt" "the pipeline before the last reload is draining: 15 item(s) left"

# A graceful stop that cannot finish, then a cancel.
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
assert_exit 75 $? "sluiced after a second SIGTERM"
check_accounting
assert_no_leftovers 10
written=$(lines "$T/out.txt")
spooled=$(summary_field unfinished spooled)
assert_eq 0 "$(summary_field unfinished lost)" "unfinished lost (a spool is configured)"
assert_eq 15 "$written" "lines written before the cancel"
assert_eq 30 $((written + spooled)) "lines written ($written) + spooled ($spooled) = items read"
# The summary (of the last pipeline, which the old one's unfinished items went
# to) shows them where they were left, as after any cancel.
assert_eq "$spooled" "$(unfinished_in_stages)" "in_flight + queued over the summary's stage lines (= spooled)"
[ -s "$T/rl.spool" ] || fail "no spool file at $T/rl.spool"
{ printf 'x-%02d\n' $(seq 1 5); printf 'y-%02d\n' $(seq 1 10); } | sort >"$T/want1.txt"
sort "$T/out.txt" >"$T/got1.txt"
assert_file_eq "$T/want1.txt" "$T/got1.txt" "the items written before the cancel"

# Restart with the same file: the spooled items are replayed through 'work'.
start_daemon "$T/c.yaml"
wait_running '[ "$(lines "$T/out.txt")" -ge 30 ]' $((30 * SCALE)) ||
	fail "after the restart only $(lines "$T/out.txt") of 30 items reached the sink"
wait_running '[ ! -e "$T/rl.spool" ] && [ ! -e "$T/rl.spool.replaying" ]' 30 ||
	fail "the spool is still there after its items were done"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (restart) after SIGTERM"
check_accounting
assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "restart: unfinished"
{ printf 'x-%02d\n' $(seq 1 20); printf 'y-%02d\n' $(seq 1 10); } | sort >"$T/want.txt"
sort "$T/out.txt" >"$T/got.txt"
assert_file_eq "$T/want.txt" "$T/got.txt" "every item in the sink, exactly once, over both runs"
exit 0
