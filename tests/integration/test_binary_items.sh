#!/usr/bin/env bash
# Items with NUL bytes, invalid UTF-8, quotes, backslashes and control bytes:
# the dead letter file stays valid JSON (one object per line) and carries the
# item; the spool keeps them byte for byte across a restart.
. "$(dirname "$0")/../lib.sh"

python3 - "$T/in.txt" <<'PY'
import sys
items = [b'plain', b'nul\x00inside', b'bad utf8 \xff\xfe \xc3', b'quote " and \\ backslash',
         b'ctrl \x01\x1f\x7f \r end', b'\xe2\x82\xac euro', b'{"json": true}', b'']
open(sys.argv[1], 'wb').write(b''.join(i + b'\n' for i in items))
PY
n=$(lines "$T/in.txt")

# 1. Every item fails and is dead-lettered.
cat >"$T/dl.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: fail
    exec: { argv: [sh, -c, 'printf "err \\\\001 \\\\377\\n" >&2; exit 3'] }
    on_failure: dead_letter
sinks:
  - { name: out, type: discard }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/dl.yaml"
rc=$?
assert_exit 1 "$rc" "every item fails"
check_accounting
got=$(jsonl "$T/dead.jsonl" check) || fail "dead letter file is not valid JSON lines: $(head -c 300 "$T/dead.jsonl" | cat -v)"
assert_eq "$n" "$got" "dead letter records"
# The item round-trips: decoded JSON string == original bytes (invalid UTF-8
# may be escaped any reasonable way, but valid text must come back exactly).
python3 - "$T/in.txt" "$T/dead.jsonl" <<'PY' || fail "dead letter items do not match the input items"
import json, sys
want = open(sys.argv[1], 'rb').read().split(b'\n')[:-1]
got = [json.loads(l)['item'] for l in open(sys.argv[2], encoding='utf-8')]
bad = 0
for w, g in zip(want, got):
    try:
        wt = w.decode('utf-8')
    except UnicodeDecodeError:
        wt = None
    if wt is not None and g != wt:
        print('item %r came back as %r' % (w, g)); bad += 1
    if wt is None and not isinstance(g, str):
        print('item %r came back as non-string %r' % (w, g)); bad += 1
sys.exit(1 if bad else 0)
PY

# 2. Spooled at a cancel, replayed byte for byte.
cat >"$T/job.yaml" <<YAML
shutdown: { spool: $T/job.spool, kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    exec: { argv: [sh, -c, 'sleep 1000'], stdout: item }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/job.yaml"
wait_for '[ "$(marked_children | wc -w)" -ge 2 ]' 60 || fail "the stage's children never started"
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "cancelled by a second SIGTERM"
check_accounting
assert_eq "$n" "$(summary_field unfinished spooled)" "items spooled"
: >"$T/empty.txt"
sed -i -e "s|path: $T/in.txt|path: $T/empty.txt|" -e "s|argv: \[sh, -c, 'sleep 1000'\]|argv: [\"true\"]|" "$T/job.yaml"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "replaying the spool"
check_accounting
sort "$T/in.txt" >"$T/want.sorted"
sort "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.sorted" "$T/out.sorted" "replayed binary items (as a set)"
[ ! -e "$T/job.spool" ] || fail "the spool is still there after the replay"
exit 0
