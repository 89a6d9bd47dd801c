#!/usr/bin/env bash
# A child flooding its stdout past max_item_bytes: kind output_too_large, the
# child is killed, the daemon's memory stays small, the other items go on.
. "$(dirname "$0")/../lib.sh"

mkfifo "$T/in.fifo"
cat >"$T/c.yaml" <<YAML
max_item_bytes: 64KiB
sources:
  - { name: in, type: stdin }
stages:
  - name: work
    workers: 2
    on_failure: dead_letter
    exec:
      argv: [sh, -c, 'case \$1 in flood*) exec cat /dev/zero ;; lines*) exec yes ;; big*) head -c 65537 /dev/zero | tr "\\\\0" b ;; *) echo "small \$1" ;; esac', sh, "{}"]
      stdout: result
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
DAEMON_STDIN=$T/in.fifo start_daemon "$T/c.yaml"
exec 3>"$T/in.fifo"
printf 'flood1\nx1\nlines1\nbig1\nflood2\nx2\n' >&3
wait_for '[ "$(lines "$T/dead.jsonl")" -ge 4 ] && [ "$(lines "$T/out.txt")" -ge 2 ]' 60 ||
	fail "expected 4 dead letter records and 2 results; got $(lines "$T/dead.jsonl") and $(lines "$T/out.txt")"
hwm=$(hwm_kb "$DAEMON_PID")
limit=$((150 * 1024 * SCALE))
note "daemon VmHWM after 4 floods: ${hwm} KiB"
assert_le "$hwm" "$limit" "daemon peak RSS (KiB) with children flooding stdout (max_item_bytes 64KiB)"
exec 3>&-
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 1 "$rc" "sluiced (4 items fail)"
check_accounting
printf 'small x1\nsmall x2\n' >"$T/want.txt"
sort "$T/out.txt" >"$T/out.sorted"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output of the small items"
assert_eq 4 "$(summary_field work failed)" "stage work failed"
assert_eq 2 "$(summary_field work ok)" "stage work ok"
n=$(jsonl "$T/dead.jsonl" check) || fail "dead letter file malformed"
assert_eq "4 output_too_large" "$(jsonl "$T/dead.jsonl" field error | sort | uniq -c | sed 's/^ *//')" "dead letter error kinds"
assert_eq "big1 flood1 flood2 lines1" "$(jsonl "$T/dead.jsonl" field item | sort | tr '\n' ' ' | sed 's/ $//')" "dead letter items"
assert_no_leftovers 10
exit 0
