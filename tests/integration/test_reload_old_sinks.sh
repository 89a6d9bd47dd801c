#!/usr/bin/env bash
# A reload that changes the sinks while the old pipeline cannot drain in its
# grace (its stage hangs), for sink kinds that hold records of their own:
#  A. an exec sink: at the cancel its command is told the input has ended (stdin
#     closed) and exits by itself, without waiting for kill_after or being killed;
#  B. a tcp sink whose peer is down: the records it holds are taken back and
#     handed to the new pipeline (written by the new sink), not lost.
# Every item once in the end; "unfinished: spooled=0 lost=0"; exit 0.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

net() { python3 "$PYHELPERS/net_client.py" "$@"; }
read -r port dead < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
items() { printf 'x-%02d\\n' $(seq 1 "$1"); }

write_conf() { # SINK-YAML STAGE-CMD
	cat >"$T/c.yaml" <<YAML
name: rl-old-sinks
shutdown: { grace: 300ms, kill_after: 20s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - name: work
    workers: 1
    exec: { argv: [sh, -c, '$2', sh, "{}"] }
sinks:
  - $1
YAML
}
HANG='case $1 in x-0[1-5]) echo $1;; *) sleep 60;; esac'
FAST='echo $1'

# --- A. exec sink: 5 items written through it, the rest hang in the stage.
write_conf "{ name: out, type: exec, argv: [sh, -c, 'cat >> $T/a-old.txt'] }" "$HANG"
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "A: no listener"
assert_eq closed "$(net send "127.0.0.1:$port" "$(items 20)" --wait-close)" "A: sender"
wait_running '[ "$(lines "$T/a-old.txt")" -ge 5 ]' 30 || fail "A: the exec sink wrote $(lines "$T/a-old.txt") of 5"
write_conf "{ name: out, type: file, path: $T/a-new.txt }" "$FAST"
reload_sighup
# Well before kill_after (20 s): the old sink's command ended on its own.
wait_previous_finished 1 10
assert_eq 0 "$(grep -ac 'did not exit within kill_after' "$DAEMON_ERR")" "A: the old sink's command killed"
wait_running '[ "$(lines "$T/a-new.txt")" -ge 15 ]' 30 || fail "A: the new sink has $(lines "$T/a-new.txt") of 15"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "A: sluiced after SIGTERM"
check_accounting
assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "A: unfinished"
sort "$T/a-old.txt" "$T/a-new.txt" >"$T/a.got"
printf 'x-%02d\n' $(seq 1 20) >"$T/want"
assert_file_eq "$T/want" "$T/a.got" "A: every item once"
assert_no_leftovers 10

# --- B. tcp sink to a port nobody listens on: 5 items reach it and stay there.
write_conf "{ name: out, type: tcp, address: \"127.0.0.1:$dead\", backoff: 100ms, max_backoff: 200ms }" "$HANG"
start_daemon "$T/c.yaml"
wait_running 'grep -aq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "B: no listener"
assert_eq closed "$(net send "127.0.0.1:$port" "$(items 20)" --wait-close)" "B: sender"
wait_running '[ "$(count_children_named sleep)" -ge 1 ]' 30 || fail "B: the stage did not start hanging"
write_conf "{ name: out, type: file, path: $T/b-new.txt }" "$FAST"
reload_sighup
wait_previous_finished 1 10
wait_running '[ "$(lines "$T/b-new.txt")" -ge 20 ]' 30 || fail "B: the new sink has $(lines "$T/b-new.txt") of 20"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "B: sluiced after SIGTERM"
check_accounting
assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "B: unfinished"
assert_contains "$DAEMON_ERR" "taken back as unfinished"
sort "$T/b-new.txt" >"$T/b.got"
assert_file_eq "$T/want" "$T/b.got" "B: every item once, through the new sink"
assert_no_leftovers 10
exit 0
