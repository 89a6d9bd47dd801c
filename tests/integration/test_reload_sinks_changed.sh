#!/usr/bin/env bash
# A structural reload whose sinks section changes: the new pipeline gets new
# sinks, the old one drains into its old sinks, and the new sinks start writing
# only once the old ones have written everything and are closed.
#  A. Under load, a file sink's path changes (out-a -> out-b), the tcp source
#     and the stage are unchanged: the client's one connection survives; out-a
#     and out-b together hold 1..N exactly once; everything sent after the
#     reload is in out-b; the old file is closed once the old pipeline finished.
#  B. Sinks [stdout, file]: only the file's path changes, so both pipelines have
#     a stdout sink on the same pipe. 20 KB records, and the pipe's reader is
#     slow (the pipe stays full, writes are partial): every record on stdout is
#     whole, each once, and every record of the old pipeline comes before every
#     record of the new one (one writer at a time); the new file gets no record
#     while the daemon still holds the old one open.
#  C. Cancel path: the old stage hangs (grace 300ms); the reload changes the
#     stage and the file sink's path. The 20 unfinished items are handed to the
#     new pipeline and written once each to the new file; nothing is spooled or
#     lost; no child is left.
#  D. Cancel path while the old sinks still hold records (as B, but the old
#     stage hangs on one record and the grace is 300ms): what the old sinks took
#     is written by them, whole, before the new sinks write anything; the rest is
#     handed over; every record once on stdout and in the two files together.
# Every part: the previous pipeline reports it finished, SIGTERM exits 0 and the
# accounting holds.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

port=$(python3 "$PYHELPERS/net_port.py")
big() { python3 "$PYHELPERS/big_records.py" "$@"; }

stop_daemon() { # LABEL
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 60
	assert_exit 0 $? "$1: sluiced after SIGTERM"
	check_accounting
	assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "$1: unfinished"
	assert_no_leftovers 10
}

# open_in_daemon PATH: the daemon has PATH open.
open_in_daemon() { [ -n "$(fd_pos "$DAEMON_PID" "$1")" ]; }

# ---------------------------------------------------------------------------
# A. A file sink's path changes under load.
N=20000
HOLD=15001 # lines HOLD..N are sent only once the reload was applied

conf_a() { # OUT
	cat >"$T/a.yaml" <<YAML
name: rl-sinks-a
shutdown: { grace: 30s, kill_after: 2s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - name: mark
    workers: 2
    coprocess: { argv: [sed, -u, "s/^/x /"] }
sinks:
  - { name: out, type: file, path: $T/$1 }
YAML
}

conf_a out-a.txt
start_daemon "$T/a.yaml"
wait_running 'grep -saq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "A: the daemon did not start listening"
python3 "$PYHELPERS/net_stream.py" stream "127.0.0.1:$port" "$N" --chunk 200 --interval 0.02 \
	--hold-at "$HOLD" "$T/a.go" --progress "$T/a.sent" >"$T/a.client" 2>&1 &
client=$!
wait_running '[ "$(lines "$T/out-a.txt")" -ge 2000 ]' $((30 * SCALE)) ||
	fail "A: only $(lines "$T/out-a.txt") lines reached the sink before the reload"
conf_a out-b.txt
reload_sighup
note "A: reload applied with $(lines "$T/out-a.txt") lines in out-a, $(cat "$T/a.sent") sent"
touch "$T/a.go"
wait "$client"
rc=$?
[ "$rc" -eq 0 ] || fail "A: the client's connection did not survive the reload: $(cat "$T/a.client")"
assert_eq "ok sent=$N" "$(cat "$T/a.client")" "A: client"
wait_previous_finished
wait_running '[ $(($(lines "$T/out-a.txt") + $(lines "$T/out-b.txt"))) -ge $N ]' $((60 * SCALE)) ||
	fail "A: only $(($(lines "$T/out-a.txt") + $(lines "$T/out-b.txt"))) of $N lines reached out-a and out-b"
# The old pipeline is gone: its file is closed, the new one open.
open_in_daemon "$T/out-a.txt" && fail "A: the daemon still holds out-a.txt open after the previous pipeline finished"
open_in_daemon "$T/out-b.txt" || fail "A: the daemon does not hold out-b.txt open"
stop_daemon A

na=$(lines "$T/out-a.txt") nb=$(lines "$T/out-b.txt")
note "A: out-a $na lines, out-b $nb lines"
assert_ge "$nb" 1 "A: lines in out-b"
assert_eq 0 "$(cat "$T/out-a.txt" "$T/out-b.txt" | grep -avcE '^x [0-9]+$')" "A: lines not of the form 'x N'"
cat "$T/out-a.txt" "$T/out-b.txt" | cut -d' ' -f2 | sort -n >"$T/a.got"
uniq -d "$T/a.got" >"$T/a.dups"
[ ! -s "$T/a.dups" ] || fail "A: records written twice: $(head -5 "$T/a.dups" | tr '\n' ' ')"
seq 1 "$N" >"$T/a.want"
assert_file_eq "$T/a.want" "$T/a.got" "A: the numbers in out-a and out-b together (sorted)"
late=$(awk -v h="$HOLD" '$2 >= h' "$T/out-a.txt" | wc -l)
assert_eq 0 "$late" "A: lines sent after the reload but written to the old file"
assert_eq $((N - HOLD + 1)) "$(awk -v h="$HOLD" '$2 >= h' "$T/out-b.txt" | wc -l)" "A: lines sent after the reload in out-b"

# ---------------------------------------------------------------------------
# B. Two stdout sinks on one slow pipe must not tear or interleave records.
LEN=20000 # bytes in a record (big_records.py), newline not counted

# gate_watch TAG OLD NEW: until the previous pipeline has finished, the file NEW
# must stay empty while the daemon holds the file OLD open (NEW is looked at
# first: once closed, OLD is never opened again, so a hit is a real overlap).
# Writes $T/TAG.gate.bad (the overlaps seen) and $T/TAG.gate.seen (how many
# samples saw OLD open and NEW still empty, for the log).
gate_watch() {
	local tag=$1 old=$T/$2 new=$T/$3 seen=0
	while ! grep -a "previous pipeline" "$DAEMON_ERR" | grep -aq finished; do
		if [ ! -d "$T" ] || ! _alive "$DAEMON_PID"; then break; fi
		if [ -s "$new" ]; then
			if open_in_daemon "$old"; then
				echo "$3 had $(wc -c <"$new") bytes while $2 was still open" >>"$T/$tag.gate.bad"
			fi
		elif open_in_daemon "$old"; then
			seen=$((seen + 1))
		fi
		sleep 0.02
	done
	echo "$seen" >"$T/$tag.gate.seen"
}

# check_records LABEL TAG COUNT OLD NEW: after the stop. $T/TAG.stdout (what the
# pipe's reader got) and the files OLD and NEW (the old and the new pipeline's
# file sinks) hold whole records only; stdout has 1..COUNT, each once, and so
# have OLD and NEW together; both files have some; on stdout every record of
# the old pipeline (those in OLD) comes before every record of the new one.
check_records() {
	local label=$1 tag=$2 count=$3 old=$4 new=$5 res f na nb
	[ ! -s "$T/$tag.gate.bad" ] ||
		fail "$label: the new file sink wrote before the old one was closed: $(head -3 "$T/$tag.gate.bad")"
	res=$(big check "$T/$tag.stdout" "$LEN" --ids "$T/$tag.stdout.ids") || fail "$label: stdout: $res"
	for f in "$old" "$new"; do
		res=$(big check "$T/$f" "$LEN" --ids "$T/$f.ids") || fail "$label: $f: $res"
	done
	na=$(lines "$T/$old.ids") nb=$(lines "$T/$new.ids")
	note "$label: $old $na records, $new $nb"
	assert_ge "$na" 1 "$label: records in $old"
	assert_ge "$nb" 1 "$label: records in $new"
	seq 1 "$count" >"$T/$tag.want"
	sort -n "$T/$tag.stdout.ids" >"$T/$tag.stdout.sorted"
	assert_file_eq "$T/$tag.want" "$T/$tag.stdout.sorted" "$label: the record numbers on stdout (sorted), each once"
	sort -n "$T/$old.ids" "$T/$new.ids" >"$T/$tag.files.sorted"
	assert_file_eq "$T/$tag.want" "$T/$tag.files.sorted" "$label: the record numbers in $old and $new together (sorted), each once"
	# One writer at a time on the pipe.
	awk 'NR == FNR { old[$1] = 1; next } { print (($1 in old) ? "old" : "new") }' \
		"$T/$old.ids" "$T/$tag.stdout.ids" | uniq >"$T/$tag.runs"
	[ "$(tr '\n' ' ' <"$T/$tag.runs")" = "old new " ] ||
		fail "$label: on stdout the old pipeline's and the new pipeline's records are mixed (runs: $(tr '\n' ' ' <"$T/$tag.runs"))"
}

NB=200
HOLDB=101 # records HOLDB..NB are sent only once the reload was applied
conf_b() { # OUT
	cat >"$T/b.yaml" <<YAML
name: rl-sinks-b
shutdown: { grace: 120s, kill_after: 2s }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - { name: pass, builtin: { op: passthrough } }
sinks:
  - { name: screen, type: stdout }
  - { name: keep, type: file, path: $T/$1 }
YAML
}

mkfifo "$T/b.fifo"
big read "$T/b.fifo" "$T/b.stdout" --chunk 4096 --pause 0.002 --stats "$T/b.reader" &
reader=$!
conf_b b-old.txt
DAEMON_STDOUT=$T/b.fifo start_daemon "$T/b.yaml"
wait_running 'grep -saq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "B: the daemon did not start listening"
big send "127.0.0.1:$port" "$NB" "$LEN" --hold-at "$HOLDB" "$T/b.go" --progress "$T/b.sent" >"$T/b.client" 2>&1 &
client=$!
# The old pipeline holds records still to be written to the slow pipe.
wait_running '[ "$(cat "$T/b.sent" 2>/dev/null)" = $((HOLDB - 1)) ] && [ "$(lines "$T/b.stdout")" -ge 1 ]' $((30 * SCALE)) ||
	fail "B: the sender did not send its first $((HOLDB - 1)) records ($(cat "$T/b.sent" 2>/dev/null) sent, $(lines "$T/b.stdout") on stdout)"
conf_b b-new.txt
reload_sighup
note "B: reload applied with $(lines "$T/b.stdout") records through the pipe, $(lines "$T/b-old.txt") in the old file"
gate_watch b b-old.txt b-new.txt &
watcher=$!
touch "$T/b.go"
wait "$client"
rc=$?
[ "$rc" -eq 0 ] || fail "B: the sender's connection did not survive the reload: $(cat "$T/b.client")"
assert_eq "ok sent=$NB" "$(cat "$T/b.client")" "B: sender"
wait_previous_finished 1 $((60 * SCALE))
wait "$watcher"
# (stdout need not be through yet: the stop drains it.)
wait_running '[ $(($(lines "$T/b-old.txt") + $(lines "$T/b-new.txt"))) -ge $NB ]' $((60 * SCALE)) ||
	fail "B: only $(lines "$T/b-old.txt") + $(lines "$T/b-new.txt") of $NB records reached the files"
stop_daemon B
wait "$reader" || fail "B: the stdout reader failed"
note "B: stdout reader: $(cat "$T/b.reader"); samples with the old file open and the new one empty: $(cat "$T/b.gate.seen")"
check_records B b "$NB" b-old.txt b-new.txt
assert_eq 0 "$(awk -v h="$HOLDB" '$1 >= h' "$T/b-old.txt.ids" | wc -l)" "B: records sent after the reload in the old file"

# ---------------------------------------------------------------------------
# C. The old pipeline is cancelled after its grace; its sink path changes too.
ITEMS=$(printf 'x-%02d\\n' $(seq 1 20))
printf 'new x-%02d\n' $(seq 1 20) >"$T/c.want"
conf_c() { # OUT STAGE
	cat >"$T/c.yaml" <<YAML
name: rl-sinks-c
shutdown: { grace: 300ms, kill_after: 1s, spool: $T/c.spool }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
sinks:
  - { name: out, type: file, path: $T/$1 }
stages:
  - $2
YAML
}
conf_c c-old.txt '{ name: work, workers: 1, exec: { argv: [sh, -c, "sleep 30; echo \"old $1\"", sh, "{}"] } }'
start_daemon "$T/c.yaml"
wait_running 'grep -saq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "C: the daemon did not start listening"
# Once the daemon closes the connection it has read all 20 items.
assert_eq closed "$(python3 "$PYHELPERS/net_client.py" send "127.0.0.1:$port" "$ITEMS" --wait-close)" "C: the sender's connection"
wait_running '[ "$(count_children_named sleep)" -ge 1 ]' 30 || fail "C: the slow stage did not start an item"
conf_c c-new.txt '{ name: work, workers: 2, exec: { argv: [sh, -c, "echo \"new $1\"", sh, "{}"] } }'
reload_sighup
wait_running '[ "$(lines "$T/c-new.txt")" -ge 20 ]' $((30 * SCALE)) ||
	fail "C: only $(lines "$T/c-new.txt") of the 20 items reached the new sink after the reload"
wait_previous_finished
wait_running '[ "$(count_children_named sleep)" -eq 0 ]' 30 || fail "C: the old stage's child was not stopped"
open_in_daemon "$T/c-old.txt" && fail "C: the daemon still holds c-old.txt open after the previous pipeline finished"
note "C: $(grep -a 'reload: .*had not finished' "$DAEMON_ERR" | head -1 | cut -c1-160)"
stop_daemon C
[ ! -e "$T/c.spool" ] || fail "C: a spool file was written"
assert_eq 0 "$(lines "$T/c-old.txt")" "C: lines in the old file (no item finished in the old pipeline)"
sort "$T/c-new.txt" >"$T/c.got"
assert_file_eq "$T/c.want" "$T/c.got" "C: the items in the new file (sorted), each once, through the new stage"
# ---------------------------------------------------------------------------
# D. Cancel path while the old sinks still hold records: sinks [stdout, file],
# 20 KB records, a slow pipe; the old stage passes records 1..KD-1 on and hangs
# on record KD (workers 1, grace 300ms). The reload changes the stage and the
# file sink's path. The old pipeline is cancelled with records still waiting
# for its sinks: those its sinks have taken are written by them (a record half
# written to the pipe is finished, kill_after is generous), the rest and the
# unfinished items go to the new pipeline, whose sinks start after the old ones
# closed. Every record once, whole, old before new on stdout; nothing spooled
# or lost; no child left.
ND=40
KD=25 # the old stage's command hangs on record 000025
conf_d() { # OUT STAGE
	cat >"$T/d.yaml" <<YAML
name: rl-sinks-d
shutdown: { grace: 300ms, kill_after: 60s, spool: $T/d.spool }
sources:
  - { name: feed, type: tcp, listen: "127.0.0.1:$port" }
stages:
  - $2
sinks:
  - { name: screen, type: stdout }
  - { name: keep, type: file, path: $T/$1 }
YAML
}
mkfifo "$T/d.fifo"
big read "$T/d.fifo" "$T/d.stdout" --chunk 2048 --pause 0.005 --stats "$T/d.reader" &
reader=$!
conf_d d-old.txt '{ name: work, workers: 1, exec: { argv: [sh, -c, "case $1 in 000025:*) sleep 30;; esac; echo \"$1\"", sh, "{}"] } }'
DAEMON_STDOUT=$T/d.fifo start_daemon "$T/d.yaml"
wait_running 'grep -saq "listening on 127.0.0.1:$port" "$DAEMON_ERR"' 30 || fail "D: the daemon did not start listening"
big send "127.0.0.1:$port" "$ND" "$LEN" >"$T/d.client" 2>&1 &
client=$!
wait_running '[ "$(count_children_named sleep)" -ge 1 ] && [ "$(lines "$T/d.stdout")" -ge 1 ]' $((30 * SCALE)) ||
	fail "D: the slow stage did not reach record $KD ($(lines "$T/d.stdout") records on stdout)"
conf_d d-new.txt '{ name: work, builtin: { op: passthrough } }'
reload_sighup
note "D: reload applied with $(lines "$T/d.stdout") records through the pipe, $(lines "$T/d-old.txt") in the old file"
gate_watch d d-old.txt d-new.txt &
watcher=$!
wait "$client"
rc=$?
[ "$rc" -eq 0 ] || fail "D: the sender's connection did not survive the reload: $(cat "$T/d.client")"
assert_eq "ok sent=$ND" "$(cat "$T/d.client")" "D: sender"
wait_previous_finished 1 $((60 * SCALE))
wait "$watcher"
# (stdout need not be through yet: the stop drains it.)
wait_running '[ $(($(lines "$T/d-old.txt") + $(lines "$T/d-new.txt"))) -ge $ND ]' $((60 * SCALE)) ||
	fail "D: only $(lines "$T/d-old.txt") + $(lines "$T/d-new.txt") of $ND records reached the files"
wait_running '[ "$(count_children_named sleep)" -eq 0 ]' 30 || fail "D: the old stage's child was not stopped"
note "D: $(grep -a 'cancelling the previous pipeline' "$DAEMON_ERR" | head -1 | cut -c1-160)"
note "D: $(grep -a 'reload: .*had not finished' "$DAEMON_ERR" | head -1 | cut -c1-160)"
stop_daemon D
wait "$reader" || fail "D: the stdout reader failed"
[ ! -e "$T/d.spool" ] || fail "D: a spool file was written"
note "D: stdout reader: $(cat "$T/d.reader"); samples with the old file open and the new one empty: $(cat "$T/d.gate.seen")"
check_records D d "$ND" d-old.txt d-new.txt
assert_eq 0 "$(awk -v k="$KD" '$1 >= k' "$T/d-old.txt.ids" | wc -l)" "D: records from $KD on (never finished by the old stage) in the old file"
exit 0
