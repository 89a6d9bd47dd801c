#!/usr/bin/env bash
# Structural reloads that only a restart can apply are refused, and the running
# pipeline carries on untouched (its source keeps its position; nothing is read
# twice):
#  * a new max_item_bytes (running sources read with it);
#  * a dir source changed on the same path (the new one would take the files the
#    old one has in hand a second time);
# a new pipeline that cannot be built (a port in use) is rolled back; and a reload
# while the pipeline is draining (its sources have ended) is refused too. Each
# refusal names its reason in the log and in sluicectl's reply (exit 1).
. "$(dirname "$0")/../lib.sh"

CTL=$(dirname "$SLUICED")/sluicectl
SOCK=$T/ctl.sock
mkdir -p "$T/in"

write_conf() { # MAX_ITEM_BYTES DONE_DIR_NAME STAGE_CMD
	cat >"$T/c.yaml" <<YAML
name: rl-refused
max_item_bytes: $1
sources:
  - { name: gen, type: generate, interval: 5ms, template: "g-{seq}" }
  - { name: drop, type: dir, path: $T/in, done_dir: $T/$2 }
stages:
  - name: work
    workers: 2
    exec: { argv: [sh, -c, "$3 \$1", sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
control: { socket: $SOCK }
YAML
}

refused() { # WHAT EXPECTED-TEXT
	"$CTL" -s "$SOCK" reload >"$T/r.txt" 2>&1
	assert_exit 1 $? "sluicectl reload ($1)"
	assert_contains "$T/r.txt" "$2"
	assert_contains "$T/r.txt" "the running pipeline is unchanged"
}

write_conf 1MiB 'done' "echo"
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ] && [ "$(lines "$T/out.txt")" -ge 20 ]' 30 || fail "the daemon did not start"

write_conf 2MiB 'done' "echo new"
refused "max_item_bytes" "a new max_item_bytes needs a restart"

write_conf 1MiB done2 "echo new"
refused "dir source changed" "dir source 'drop' on '$T/in' changed"

# A reload is a transaction: a new pipeline that cannot be built (here a new tcp
# source on a port that is taken) leaves the running one exactly as it was.
busy=$(python3 "$PYHELPERS/net_port.py")
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("up", flush=True); time.sleep(120)' "$busy" >"$T/busy.out" &
holder=$!
wait_for 'grep -q up "$T/busy.out"' 30 || fail "could not take a port"
write_conf 1MiB 'done' "echo new"
sed -i "s|^sources:|sources:\n  - { name: late, type: tcp, listen: \"127.0.0.1:$busy\" }|" "$T/c.yaml"
refused "a new source that cannot listen" "the new pipeline could not be built"
assert_contains "$DAEMON_ERR" "cannot listen on 127.0.0.1:$busy"
kill "$holder"

# Still the first pipeline: the old command, and the generator never restarted.
n=$(lines "$T/out.txt")
wait_for '[ "$(lines "$T/out.txt")" -ge $((n + 20)) ]' 30 || fail "the pipeline stopped after the refusals"
grep -aq '^new ' "$T/out.txt" && fail "a refused reload changed the stage"
assert_eq 1 "$(grep -ac "pipeline 'rl-refused' running" "$DAEMON_ERR")" "pipelines running (a refused reload starts none)"

# The same file as the running one is still accepted (nothing to change).
write_conf 1MiB 'done' "echo"
"$CTL" -s "$SOCK" reload >"$T/r.txt" 2>&1 || fail "reload of the unchanged file: $(cat "$T/r.txt")"

kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
# Every generated item once: the generator's position was never lost.
cut -d- -f2 "$T/out.txt" | sort -n | uniq -d >"$T/dups.txt"
[ ! -s "$T/dups.txt" ] || fail "items written twice: $(head -3 "$T/dups.txt" | tr '\n' ' ')"

# --- A job whose source has ended is draining: a new structure is not started.
seq 1 60 >"$T/job.txt"
cat >"$T/j.yaml" <<YAML
name: rl-draining
sources:
  - { name: f, type: file, path: $T/job.txt }
stages:
  - { name: slow, workers: 1, exec: { argv: [sh, -c, "sleep 0.05; echo \$1", sh, "{}"] } }
sinks:
  - { name: out, type: file, path: $T/job-out.txt }
control: { socket: $SOCK }
YAML
start_daemon "$T/j.yaml"
wait_for '[ -S "$SOCK" ] && "$CTL" -s "$SOCK" status --json | grep -q "\"state\":\"draining\""' 30 ||
	fail "the job did not reach draining"
sed -i 's/sleep 0.05; echo/echo/' "$T/j.yaml"
"$CTL" -s "$SOCK" reload >"$T/r.txt" 2>&1
assert_exit 1 $? "sluicectl reload while draining"
assert_contains "$T/r.txt" "the pipeline is draining"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "the job after a refused reload"
assert_eq 60 "$(sort -u "$T/job-out.txt" | wc -l)" "job lines, each once"
exit 0
