#!/usr/bin/env bash
# The control socket and sluicectl against a running daemon: status (table and
# JSON), pause/resume a source and a stage, scale a stage (seen in
# sluice_workers), reload a valid, an invalid and a structurally changed file
# (applied: a new pipeline), and one changing control.socket or metrics.listen
# (refused: needs a restart), drain -> exit 0. The socket is mode 0600 and
# removed at exit; a stale socket is replaced, a live one (or a file that is not
# a socket) stops the start.
# sluicectl's exit codes: 0, 1, 64, 66, 69, 78.
. "$(dirname "$0")/../lib.sh"

CTL=$(dirname "$SLUICED")/sluicectl
[ -x "$CTL" ] || fail "no sluicectl next to $SLUICED"
SOCK=$T/ctl.sock

ctl() { "$CTL" -s "$SOCK" "$@"; }
# jget EXPR: evaluates EXPR over the JSON on stdin (as d).
jget() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }
src_items() { ctl status --json | jget "[s['items'] for s in d['sources'] if s['name'] == '$1'][0]"; }
metrics_port() { grep -ao 'listening on http://127.0.0.1:[0-9]*' "$DAEMON_ERR" | head -n 1 | grep -o '[0-9]*$'; }
prom() { # NAME LABEL=VALUE...: one sample from /metrics, through the strict parser
	python3 "$PYHELPERS/http_get.py" "http://127.0.0.1:$PORT/metrics" "$T/m.txt" >/dev/null &&
		python3 "$PYHELPERS/promparse.py" get "$T/m.txt" "$@"
}

write_conf() { # WORKERS [EXTRA-STAGE-YAML]
	cat >"$T/c.yaml" <<YAML
name: ctl
shutdown: { grace: 60s }
sources:
  - { name: gen, type: generate, interval: 20ms, template: "a-{seq}" }
  - { name: witness, type: generate, interval: 20ms, template: "w-{seq}" }
stages:
  - name: work
    workers: $1
    exec: { argv: [echo, "{}"] }
${2:-}
sinks:
  - { name: out, type: file, path: $T/out.txt }
metrics: { listen: "127.0.0.1:0" }
control: { socket: $SOCK }
YAML
}

write_conf 2
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ] && [ -n "$(metrics_port)" ]' 30 || fail "no control socket / metrics port"
PORT=$(metrics_port)

# The socket is born 0600 and owned by the daemon's user.
assert_eq 600 "$(stat -c %a "$SOCK")" "control socket mode"
assert_eq "$(id -u)" "$(stat -c %u "$SOCK")" "control socket owner"

# status: a table on stdout, without the protocol's final "ok".
ctl status >"$T/st.txt" 2>"$T/st.err" || fail "sluicectl status: exit $? ($(cat "$T/st.err"))"
for w in SOURCE STAGE SINK gen witness work out "pipeline ctl: running"; do
	assert_contains "$T/st.txt" "$w" "status table"
done
assert_ne ok "$(tail -n 1 "$T/st.txt")" "last line of the status table"
# status --json: one JSON object; -c finds the socket in the pipeline file.
"$CTL" -c "$T/c.yaml" status --json >"$T/st.json" || fail "sluicectl -c status --json: exit $?"
assert_eq "ctl running gen,witness work 2" \
	"$(jget '" ".join([d["pipeline"], d["state"], ",".join(s["name"] for s in d["sources"]), ",".join(s["name"] for s in d["stages"]), str(d["stages"][0]["workers"])])' <"$T/st.json")" \
	"status --json"

# pause a source: its items stop growing while the witness source keeps going.
wait_for '[ "$(src_items gen)" -ge 5 ]' 30 || fail "source gen produced nothing"
ctl pause gen >"$T/p.txt" || fail "sluicectl pause gen: exit $?"
assert_eq "gen paused" "$(cat "$T/p.txt")" "pause reply"
# A generator's tick already under way may still emit one item (it checks the
# hold after emitting), so: at most one more, and then not a single one.
a=$(src_items gen)
w=$(src_items witness)
wait_for '[ "$(src_items witness)" -ge $((w + 25)) ]' 60 || fail "the witness source stalled"
b=$(src_items gen)
assert_le "$b" $((a + 1)) "items of the paused source gen (at the pause: $a)"
w=$(src_items witness)
wait_for '[ "$(src_items witness)" -ge $((w + 25)) ]' 60 || fail "the witness source stalled"
assert_eq "$b" "$(src_items gen)" "items of the paused source gen"
a=$b
assert_eq paused "$(ctl status --json | jget '[s["state"] for s in d["sources"] if s["name"] == "gen"][0]')" "state of gen"
ctl resume gen >/dev/null || fail "sluicectl resume gen: exit $?"
wait_for '[ "$(src_items gen)" -gt "$a" ]' 30 || fail "gen did not resume"

# pause and resume a stage.
ctl pause work >/dev/null || fail "sluicectl pause work: exit $?"
assert_eq True "$(ctl status --json | jget 'd["stages"][0]["paused"]')" "stage work paused"
ctl resume work >/dev/null || fail "sluicectl resume work: exit $?"
assert_eq False "$(ctl status --json | jget 'd["stages"][0]["paused"]')" "stage work resumed"

# scale: up, down, and the errors.
assert_eq 2 "$(prom sluice_workers stage=work)" "sluice_workers before scaling"
assert_eq "work: 5 worker(s) (was 2)" "$(ctl scale work 5)" "scale reply"
assert_eq 5 "$(prom sluice_workers stage=work)" "sluice_workers after scale 5"
ctl scale work 1 >/dev/null || fail "scale work 1: exit $?"
assert_eq 1 "$(prom sluice_workers stage=work)" "sluice_workers after scale 1"
ctl scale work 0 2>"$T/e.txt"
assert_exit 1 $? "sluicectl scale work 0"
assert_contains "$T/e.txt" "from 1 to 100000"
ctl scale nope 3 2>"$T/e.txt"
assert_exit 1 $? "sluicectl scale nope 3"
assert_contains "$T/e.txt" "no stage named 'nope'"
ctl pause nope 2>"$T/e.txt"
assert_exit 1 $? "sluicectl pause nope"
assert_contains "$T/e.txt" "sluicectl: no source or stage named 'nope'"

# reload: a valid file applies the new worker count...
write_conf 3
ctl reload >"$T/r.txt" 2>&1 || fail "reload of a valid file: exit $? ($(cat "$T/r.txt"))"
assert_contains "$T/r.txt" "reloaded"
assert_eq 3 "$(prom sluice_workers stage=work)" "sluice_workers after reload"
# ...an invalid one is refused with file:line:col, and nothing changes...
sed -i 's/    workers: 3/    wrokers: 4/' "$T/c.yaml"
ctl reload >"$T/r.txt" 2>&1
assert_exit 1 $? "sluicectl reload of an invalid file"
assert_contains "$T/r.txt" "c.yaml:8:5: unknown key 'wrokers'"
assert_contains "$T/r.txt" "did you mean 'workers'"
assert_contains "$T/r.txt" "the running pipeline is unchanged"
assert_eq 3 "$(prom sluice_workers stage=work)" "sluice_workers after a refused reload"
# ...a change of structure (a stage added) is applied: a new pipeline takes over
# (the sources, unchanged, are moved to it), the old one drains...
write_conf 3 "  - { name: more, builtin: { op: passthrough } }"
ctl reload >"$T/r.txt" 2>&1 || fail "reload of a structural change: exit $? ($(cat "$T/r.txt"))"
assert_contains "$T/r.txt" "reloaded"
assert_contains "$DAEMON_ERR" "structure changed" "log"
assert_eq "gen,witness work,more" \
	"$(ctl status --json | jget '",".join(s["name"] for s in d["sources"]) + " " + ",".join(s["name"] for s in d["stages"])')" \
	"sources and stages after the structural reload"
assert_eq 3 "$(prom sluice_workers stage=work)" "sluice_workers of work after the structural reload"
w=$(src_items witness)
wait_for '[ "$(src_items witness)" -ge $((w + 5)) ]' 30 || fail "the moved source witness stalled after the reload"
wait_for 'grep -a "previous pipeline" "$DAEMON_ERR" | grep -aq finished' 30 ||
	fail "the daemon never logged that the previous pipeline finished"
# ...but a change of the control socket or the metrics address is refused (it
# needs a restart), and the running pipeline goes on unchanged.
write_conf 3 "  - { name: more, builtin: { op: passthrough } }"
sed -i "s|socket: $SOCK|socket: $T/other.sock|" "$T/c.yaml"
ctl reload >"$T/r.txt" 2>&1
assert_exit 1 $? "sluicectl reload of a control.socket change"
assert_contains "$T/r.txt" "needs a restart"
[ ! -e "$T/other.sock" ] || fail "a refused reload created the new control socket"
write_conf 3 "  - { name: more, builtin: { op: passthrough } }"
sed -i 's|listen: "127.0.0.1:0"|listen: "127.0.0.1:1"|' "$T/c.yaml"
grep -q '127.0.0.1:1"' "$T/c.yaml" || fail "test bug: metrics.listen not rewritten"
ctl reload >"$T/r.txt" 2>&1
assert_exit 1 $? "sluicectl reload of a metrics.listen change"
assert_contains "$T/r.txt" "needs a restart"
assert_eq "work,more" "$(ctl status --json | jget '",".join(s["name"] for s in d["stages"])')" \
	"stages after the refused reloads"
assert_eq 3 "$(prom sluice_workers stage=work)" "sluice_workers after the refused reloads"
write_conf 3

# Client-side errors.
"$CTL" -s "$SOCK" frobnicate 2>/dev/null
assert_exit 64 $? "sluicectl frobnicate"
"$CTL" 2>/dev/null
assert_exit 64 $? "sluicectl with no command"
"$CTL" -s "$SOCK" scale work many 2>/dev/null
assert_exit 64 $? "sluicectl scale work many"
"$CTL" -s "$T/nowhere.sock" status 2>"$T/e.txt"
assert_exit 69 $? "sluicectl on a missing socket"
assert_contains "$T/e.txt" "$T/nowhere.sock"
assert_contains "$T/e.txt" "No such file or directory"
"$CTL" -c "$T/missing.yaml" status 2>/dev/null
assert_exit 66 $? "sluicectl -c on a missing file"
# -c reads the file with the daemon's loader: what sluiced would take.
MIN="sources: [{name: g, type: generate}]
sinks: [{name: d, type: discard}]"
printf '%s\n' "$MIN" >"$T/nocontrol.yaml"
"$CTL" -c "$T/nocontrol.yaml" status 2>"$T/e.txt"
assert_exit 78 $? "sluicectl -c on a file without control"
assert_contains "$T/e.txt" "has no 'control: {socket: PATH}'"
printf 'sources: []\ncontrol: {socket: %s}\n' "$SOCK" >"$T/invalid.yaml"
"$CTL" -c "$T/invalid.yaml" status 2>"$T/e.txt"
assert_exit 78 $? "sluicectl -c on a file sluiced would refuse"
assert_contains "$T/e.txt" "$T/invalid.yaml:1:10: 'sources' needs at least one source"
assert_contains "$T/e.txt" "give the socket with -s"
printf '%s\ncontrol:\n  # the socket\n  socket: "%s"   # quoted\nmetrics:\n  listen: "127.0.0.1:0"\n' \
	"$MIN" "$SOCK" >"$T/block.yaml"
"$CTL" -c "$T/block.yaml" status >/dev/null || fail "sluicectl -c with a block-style control: exit $?"
# What a line scan got wrong: ${VAR} (the scan connected to "${CTLDIR}/ctl.sock"),
# and a flow mapping over several lines (the scan found no socket: exit 78).
printf '%s\ncontrol: {socket: "${CTLDIR}/ctl.sock"}\n' "$MIN" >"$T/var.yaml"
CTLDIR=$T "$CTL" -c "$T/var.yaml" status >/dev/null 2>"$T/e.txt" ||
	fail "sluicectl -c with control.socket from \${CTLDIR}: exit $? ($(cat "$T/e.txt"))"
printf '%s\ncontrol: {\n  socket: %s }\n' "$MIN" "$SOCK" >"$T/flow.yaml"
"$CTL" -c "$T/flow.yaml" status >/dev/null 2>"$T/e.txt" ||
	fail "sluicectl -c with a flow mapping over two lines: exit $? ($(cat "$T/e.txt"))"

# drain: ok at once, then the daemon drains and exits 0; the socket is gone.
ctl drain >"$T/d.txt" || fail "sluicectl drain: exit $?"
assert_contains "$T/d.txt" "draining"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced after sluicectl drain"
check_accounting
assert_eq "$(summary_field sink out written)" "$(lines "$T/out.txt")" "records written"
[ ! -e "$SOCK" ] || fail "the control socket was left behind at exit"

# A stale socket (its daemon killed with SIGKILL) is replaced.
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ]' 30 || fail "no control socket (second daemon)"
kill -KILL "$DAEMON_PID"
wait_exit "$DAEMON_PID" 30
[ -S "$SOCK" ] || fail "expected the killed daemon's socket to stay behind"
start_daemon "$T/c.yaml"
first=$DAEMON_PID
wait_for 'grep -aq "removed a stale control socket" "$DAEMON_ERR"' 30 || fail "the stale socket was not replaced"
wait_for 'ctl status >/dev/null 2>&1' 30 || fail "no answer after replacing the stale socket"

# A live one stops a second daemon (73), which leaves it alone.
first_err=$DAEMON_ERR
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 30
assert_exit 73 $? "a second daemon on a live control socket"
assert_contains "$DAEMON_ERR" "another daemon is answering on the control socket"
ctl status >/dev/null || fail "the first daemon stopped answering"
kill -TERM "$first"
wait_exit "$first" 120
assert_exit 0 $? "the first daemon after SIGTERM"
[ ! -e "$SOCK" ] || fail "the control socket was left behind at exit (after SIGTERM)"
DAEMON_ERR=$first_err

# Not a socket: refused, and the file is untouched.
echo precious >"$SOCK"
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 30
assert_exit 73 $? "a regular file at the control socket path"
assert_contains "$DAEMON_ERR" "exists and is not a socket"
assert_eq precious "$(cat "$SOCK")" "the file at the socket path"
rm -f "$SOCK"

# A missing directory: 73. A path too long for sockaddr_un: 78, also for --check.
sed -i "s|socket: $SOCK|socket: $T/no/such/dir/ctl.sock|" "$T/c.yaml"
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 30
assert_exit 73 $? "a control socket in a missing directory"
assert_contains "$DAEMON_ERR" "cannot create the control socket"
long=$T/$(printf 'x%.0s' $(seq 1 120)).sock
sed -i "s|socket: .*|socket: $long }|" "$T/c.yaml"
"$SLUICED" --check -c "$T/c.yaml" >/dev/null 2>"$T/e.txt"
assert_exit 78 $? "sluiced --check with a too long control.socket"
assert_contains "$T/e.txt" "too long for a Unix socket path"
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 30
assert_exit 78 $? "sluiced with a too long control.socket"
assert_no_leftovers 10
exit 0
