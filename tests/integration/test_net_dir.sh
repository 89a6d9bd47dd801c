#!/usr/bin/env bash
# The dir source (a spool directory): files there at start and files renamed in
# while it runs are taken; a file moves to done/ (or failed/) only once its
# items are done; dotfiles and subdirectories are ignored; split: lines; an
# oversize file; delete: true. Across a stop (graceful, then a cancel in the
# middle of the work) and a restart nothing is taken twice and nothing is lost.
. "$(dirname "$0")/../lib.sh"

spool=$T/spool
mkdir -p "$spool/sub"
drop() { # NAME CONTENT: written elsewhere, renamed in (as maildir does)
	printf '%s' "$2" >"$T/tmp.$1"
	mv "$T/tmp.$1" "$spool/$1"
}
count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l | tr -d ' '; }

# --- files present at start, files added while running (one ends with a newline:
# not part of its item), split, failures, oversize.
drop a1 "alpha"
drop a2 "bravo"
drop .hidden "never"
printf 'in a subdirectory' >"$spool/sub/x"
cat >"$T/c.yaml" <<YAML
max_item_bytes: 100
sources:
  - { name: jobs, type: dir, path: $spool }
  - { name: lines, type: dir, path: $T/lspool, split: lines, done_dir: $T/ldone }
stages:
  - name: work
    workers: 2
    exec: { argv: [sh, -c, 'case "\$1" in *bad*) exit 3;; esac; printf "%s\n" "\$1"', sh, "{}"] }
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
mkdir -p "$T/lspool"
printf 'l1\nl2\nl3' >"$T/lspool/f"
start_daemon "$T/c.yaml"
wait_for '[ "$(count "$spool/done")" -ge 2 ] && [ "$(count "$T/ldone")" -ge 1 ]' 30 ||
	fail "the files present at the start were not done ($(count "$spool/done") in done/)"
drop b1 "charlie
"
drop b2 "this one is bad"
head -c 500 /dev/zero | tr '\0' o >"$T/tmp.big"
mv "$T/tmp.big" "$spool/big"
: >"$T/tmp.empty"
mv "$T/tmp.empty" "$spool/empty"
printf 'written in place' >"$spool/inplace"
wait_for '[ "$(count "$spool/done")" -ge 5 ] && [ "$(count "$spool/failed")" -ge 2 ]' 30 ||
	fail "the files added while running were not all done: done/ has $(count "$spool/done"), failed/ $(count "$spool/failed")"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 1 $? "sluiced (one item failed, one file too large)"
check_accounting
printf 'alpha\nbravo\ncharlie\n\nwritten in place\nl1\nl2\nl3\n' | sort >"$T/want"
sort "$T/out.txt" >"$T/got"
assert_file_eq "$T/want" "$T/got" "items of every file, once"
assert_eq "a1 a2 b1 empty inplace" "$(ls "$spool/done" | tr '\n' ' ' | sed 's/ $//')" "done/"
assert_eq "b2 big" "$(ls "$spool/failed" | tr '\n' ' ' | sed 's/ $//')" "failed/"
# shellcheck disable=SC2010 # the names are the test's own, without newlines
assert_eq ".hidden sub" "$(ls -A "$spool" | grep -v '^done$\|^failed$' | tr '\n' ' ' | sed 's/ $//')" \
	"what is left in the spool directory"
assert_eq 1 "$(summary_field source jobs rejected)" "rejected (the file over max_item_bytes)"
assert_eq 2 "$(jsonl "$T/dead.jsonl" count)" "dead letters (the failed item and the oversize file)"
assert_eq 0 "$(count "$T/lspool")" "the split file left its directory"

# --- restart: nothing done is taken again; new files are.
drop c1 "delta"
start_daemon "$T/c.yaml"
wait_for '[ "$(count "$spool/done")" -ge 6 ]' 30 || fail "the file added before the restart was not done"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (restart)"
assert_eq 1 "$(summary_field source jobs items)" "items after the restart (only the new file)"
assert_eq 1 "$(grep -c '^delta$' "$T/out.txt")" "the new file's item"
assert_eq 1 "$(grep -c '^alpha$' "$T/out.txt")" "an old file's item is not done twice"

# --- a stop in the middle of the work: graceful, then cancelled by the grace.
rm -rf "$spool" "$T/out.txt"
mkdir -p "$spool"
for i in $(seq 1 30); do drop "f$(printf %02d "$i")" "job-$i"; done
cat >"$T/slow.yaml" <<YAML
shutdown: { grace: 300ms, kill_after: 1s }
sources:
  - { name: jobs, type: dir, path: $spool, delete: true }
stages:
  - name: work
    workers: 2
    queue: { capacity: 4 }
    exec: { argv: [sh, -c, 'sleep 0.2; printf "%s\n" "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/slow.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 4 ]' 60 || fail "the slow run did not start"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 75 ] || fail "sluiced (stopped in the middle): exit $rc, expected 0 or 75"
check_accounting
assert_eq 0 "$(summary_field unfinished spooled)" "items spooled (the directory keeps them)"
first=$(lines "$T/out.txt")
left=$(count "$spool")
note "first run: $first item(s) done; $left file(s) left"
assert_eq 30 $((first + left)) "items done plus files left"
start_daemon "$T/slow.yaml"
wait_for '[ "$(count "$spool")" -eq 0 ]' $((60 * SCALE)) || fail "the files left were not done after the restart"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced (second run)"
for i in $(seq 1 30); do echo "job-$i"; done | sort >"$T/want"
sort "$T/out.txt" >"$T/got"
assert_file_eq "$T/want" "$T/got" "every file's item exactly once across the two runs"
exit 0
