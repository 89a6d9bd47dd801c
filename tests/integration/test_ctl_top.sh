#!/usr/bin/env bash
# sluicectl top: a live view. On a terminal (a real one, under tmux): a full screen
# with per-stage rates, a queue bar, in flight / workers, paused things highlighted,
# q quits and the terminal comes back; elsewhere: one block of plain lines per
# refresh. A daemon that goes away ends it with exit 69 and a message.
. "$(dirname "$0")/../lib.sh"

CTL=$(dirname "$SLUICED")/sluicectl
[ -x "$CTL" ] || fail "no sluicectl next to $SLUICED"
SOCK=$T/ctl.sock
TM=(tmux -L "sluice-top-$$" -f /dev/null)
cleanup_tmux() { "${TM[@]}" kill-server 2>/dev/null; }
trap 'rc=$?; cleanup_tmux; (exit $rc); _cleanup' EXIT

cat >"$T/c.yaml" <<YAML
sources:
  - { name: ticks, type: generate, interval: 5ms }
stages:
  - name: slow
    workers: 2
    queue: { capacity: 20 }
    exec: { argv: [sleep, "0.05"], stdout: item }
sinks:
  - { name: out, type: discard }
control: { socket: $SOCK }
YAML
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ]' 60 || fail "no control socket"

# 1. Not a terminal: plain lines, one block per refresh, with rates from the second on.
"$CTL" -s "$SOCK" top -n 3 -d 0.5 >"$T/plain" 2>"$T/plain.err" </dev/null
assert_exit 0 "$?" "sluicectl top -n 3 (not a terminal)"
assert_eq 3 "$(grep -c '^pipeline ' "$T/plain")" "blocks printed"
grep -q '^stage slow .*in_flight=[0-9]* workers=2 queued=[0-9]* capacity=20' "$T/plain" ||
	fail "no stage line: $(cat "$T/plain")"
rate=$(grep '^sink out ' "$T/plain" | tail -n 1 | sed 's/.*written_per_s=//')
awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || fail "no write rate in the last block: $(tail -n 6 "$T/plain")"

# 2. A terminal: tmux runs it; what a person sees is captured from the pane.
"${TM[@]}" new-session -d -s top -x 140 -y 30 \
	"'$CTL' -s '$SOCK' top -d 0.3; echo EXITED rc=\$?; sleep 600" || fail "tmux did not start"
screen() { "${TM[@]}" capture-pane -p -t top; }
wait_for 'screen | grep -q "^slow .*2/2 .*\[[#.]*\]"' 60 ||
	fail "the top screen shows no stage line with a queue bar: $(screen)"
screen >"$T/screen1"
assert_contains "$T/screen1" "sluice top - pipeline c: running" "the header"
assert_contains "$T/screen1" "SOURCE" "the sources table"
assert_contains "$T/screen1" "WRITTEN/s" "the sinks table"
# The generator outruns the stage: its source is held back, and highlighted.
# shellcheck disable=SC2034 # read by the wait_for condition below
reverse=$'\033\\[([0-9]+;)*7m(\033\\[[0-9;]*m)*'
wait_for '"${TM[@]}" capture-pane -e -p -t top | grep -qE "${reverse}ticks +generate +held back"' 60 ||
	fail "a held-back source is not highlighted: $("${TM[@]}" capture-pane -e -p -t top | cat -v | head -8)"
# A paused stage shows P.
"$CTL" -s "$SOCK" pause slow >/dev/null || fail "sluicectl pause slow"
wait_for 'screen | grep -q "^slow .*/2 P"' 30 || fail "a paused stage is not marked: $(screen)"
"$CTL" -s "$SOCK" resume slow >/dev/null || fail "sluicectl resume slow"
# q quits and gives the terminal back (the alternate screen is gone).
"${TM[@]}" send-keys -t top q
wait_for 'screen | grep -q "EXITED rc=0"' 30 || fail "q did not end top: $(screen)"
screen | grep -q "SOURCE" && fail "the top screen is still shown after q"

# 3. The daemon goes away: top ends with 69 and says why, on a restored terminal.
"${TM[@]}" kill-session -t top
"${TM[@]}" new-session -d -s top2 -x 140 -y 30 \
	"'$CTL' -s '$SOCK' top -d 0.2 2>'$T/gone.err'; echo EXITED rc=\$?; sleep 600"
wait_for '"${TM[@]}" capture-pane -p -t top2 | grep -q "^slow "' 60 || fail "second top did not draw"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID"
wait_for '"${TM[@]}" capture-pane -p -t top2 | grep -q "EXITED rc=69"' 60 ||
	fail "top did not end with 69 when the daemon went away: $("${TM[@]}" capture-pane -p -t top2)"
# Connection refused, or a reply cut short by the exit: either way the socket is named.
assert_contains "$T/gone.err" "sluicectl top: " "the reason"
assert_contains "$T/gone.err" "$SOCK" "the reason"

# 4. Bad arguments are usage errors.
for bad in "-n 0" "-d 0" "-x 1" "-n"; do
	# shellcheck disable=SC2086
	"$CTL" -s "$SOCK" top $bad >/dev/null 2>&1 </dev/null
	assert_exit 64 "$?" "sluicectl top $bad"
done
exit 0
