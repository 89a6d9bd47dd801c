#!/usr/bin/env bash
# The progress line: shown for a job when stderr is a terminal (run under
# script(1), a real pseudo-terminal), redrawn in place with \r, counting items
# done, a percentage of the estimated total, a rate; cleared at the end so the
# summary starts on a clean line, and before every log line. Never shown when stderr is not a terminal
# (unless --progress), and --no-progress turns it off on a terminal.
. "$(dirname "$0")/../lib.sh"

require_tool script bsdutils

seq 1 60 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
name: prog
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 4
    exec: { argv: [sh, -c, 'sleep 0.05; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML

# On a terminal: what a person sees, as script(1) records it.
env SLUICE_TEST_MARK="$MARK" script -qfec "$SLUICED -c $T/c.yaml" "$T/tty.log" </dev/null >/dev/null 2>&1
rc=$?
assert_exit 0 "$rc" "sluiced under script(1)"
tr '\r' '\n' <"$T/tty.log" | sed 's/\x1b\[K//g' >"$T/screen.txt"
grep -E '^prog: +[0-9]+% of ~60 \| [0-9]+ done, 0 failed \| [0-9]+/s' "$T/screen.txt" >"$T/bars.txt" ||
	fail "no progress line like 'prog:  50% of ~60 | 30 done, 0 failed | 40/s' on the terminal: $(head -c 600 "$T/screen.txt")"
assert_ge "$(lines "$T/bars.txt")" 2 "progress redraws seen"
grep -q 'ETA [0-9]*:[0-9][0-9]' "$T/bars.txt" || fail "no ETA in the progress lines: $(head -n 5 "$T/bars.txt")"
# Done counts only go up, and the summary begins at the start of a line.
sed -E 's/.*\| ([0-9]+) done.*/\1/' "$T/bars.txt" | sort -n -c || fail "the done count went down"
grep -q '^summary: pipeline' "$T/screen.txt" || fail "the summary does not start on a clean line"
assert_eq 60 "$(lines "$T/out.txt")" "items written"

# Not a terminal: no progress line (no carriage returns at all on stderr).
rm -f "$T/out.txt"
run_daemon "$T/c.yaml"
assert_exit 0 "$?" "sluiced, stderr a file"
if grep -q $'\r' "$DAEMON_ERR"; then fail "a progress line was drawn although stderr is a file"; fi
# --progress forces it on.
rm -f "$T/out.txt"
run_daemon "$T/c.yaml" --progress
assert_exit 0 "$?" "sluiced --progress"
grep -q $'\r''prog: ' "$DAEMON_ERR" || fail "--progress drew no progress line"
# A log line while the line is shown erases it first (log.c's before-write hook,
# installed by progress.c): "\r\033[K", then the log line from the start.
sed 's/"\$1"/"\$1"; [ "\$1" != 40 ]/' "$T/c.yaml" >"$T/fail.yaml"
rm -f "$T/out.txt"
run_daemon "$T/fail.yaml" --progress
grep -aq 'warn: .*exit' "$DAEMON_ERR" || fail "no warning for the failed item: $(tail -c 400 "$DAEMON_ERR")"
python3 - "$DAEMON_ERR" <<'PY' || fail "a log line was written over the progress line"
import re, sys
data = open(sys.argv[1], "rb").read()
drawn = False
for m in re.finditer(rb"\rprog: |sluiced\[", data):
    if m.group() == b"\rprog: ":
        drawn = True
        continue
    start = m.start()
    if data[start - 4:start] != b"\r\x1b[K" and drawn and data[start - 1:start] != b"\n":
        sys.exit(f"at byte {start}: {data[max(0, start - 80):start + 40]!r}")
if not drawn:
    sys.exit("no progress line was drawn")
PY
# --no-progress on a terminal: none.
rm -f "$T/out.txt"
env SLUICE_TEST_MARK="$MARK" script -qfec "$SLUICED --no-progress -c $T/c.yaml" "$T/tty2.log" </dev/null >/dev/null 2>&1
assert_exit 0 "$?" "sluiced --no-progress under script(1)"
if grep -q ' done, 0 failed |' "$T/tty2.log"; then fail "--no-progress still drew a progress line"; fi
exit 0
