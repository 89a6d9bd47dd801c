#!/usr/bin/env bash
# A second SIGTERM cancels: running children are killed, queued and in-flight
# items go to shutdown.spool, exit 75. At the next start the spool is replayed
# before new input, and removed once those items are done.
. "$(dirname "$0")/../lib.sh"

seq -f 'a%03g' 1 200 >"$T/in.txt"
cat >"$T/job.yaml" <<YAML
shutdown: { spool: $T/spool/job.spool, kill_after: 1s, grace: 60s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    queue: { capacity: 20 }
    exec:
      argv: [sh, -c, 'case \$1 in a00[1-5]) echo "\$1" ;; *) sleep 1000 & sleep 1000 ;; esac', sh, "{}"]
sinks:
  - { name: out, type: file, path: $T/out1.txt }
YAML
mkdir -p "$T/spool"
start_daemon "$T/job.yaml"
wait_for '[ "$(lines "$T/out1.txt")" -ge 5 ] && [ "$(marked_children | wc -w)" -ge 2 ]' 60 ||
	fail "run 1: expected 5 results and 2 hanging children, got $(lines "$T/out1.txt") and $(marked_children | wc -w)"
# Two SIGTERMs: the first starts a drain that cannot finish, the second cancels.
send_signal "$DAEMON_PID" TERM
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 75 "$rc" "run 1: sluiced after a second SIGTERM"
check_accounting
assert_no_leftovers 10
cp "$DAEMON_ERR" "$T/run1.err"
read_items=$(summary_field source in items)
spooled=$(summary_field unfinished spooled)
assert_eq 0 "$(summary_field unfinished lost)" "run 1: unfinished lost (a spool is configured)"
printf 'a%03d\n' 1 2 3 4 5 >"$T/want1.txt"
sort "$T/out1.txt" >"$T/out1.sorted"
assert_file_eq "$T/want1.txt" "$T/out1.sorted" "run 1: output before the cancel"
assert_eq "$((read_items - 5))" "$spooled" "run 1: spooled = items read - items finished"
assert_ge "$spooled" 2 "run 1: spooled (at least the 2 in flight)"
[ -s "$T/spool/job.spool" ] || fail "run 1: no spool file at $T/spool/job.spool"

# Run 2: same file, new input, a stage that finishes; the spooled items first.
seq -f 'b%03g' 1 10 >"$T/in.txt"
sed -i -e 's|argv: \[sh, -c, .*|argv: [sh, -c, '"'"'echo "$1"'"'"', sh, "{}"]|' -e 's|workers: 2|workers: 1|' -e "s|$T/out1.txt|$T/out2.txt|" "$T/job.yaml"
grep -q "echo \"\$1\"', sh" "$T/job.yaml" || fail "test bug: job.yaml not rewritten: $(cat "$T/job.yaml")"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "run 2: sluiced replaying the spool"
check_accounting
total=$((spooled + 10))
assert_eq "$total" "$(lines "$T/out2.txt")" "run 2: lines written (spooled $spooled + 10 new)"
assert_eq "$total" "$(summary_field sink out written)" "run 2: sink written"
# The replayed items: exactly the ones read but not finished in run 1, once each.
seq -f 'a%03g' 6 "$read_items" >"$T/want-replay.txt"
head -n "$spooled" "$T/out2.txt" | sort >"$T/replay.sorted"
assert_file_eq "$T/want-replay.txt" "$T/replay.sorted" "run 2: the first $spooled lines (the replayed spool, as a set)"
sort "$T/out2.txt" | uniq -d >"$T/dups"
[ ! -s "$T/dups" ] || fail "run 2: duplicated items: $(head -5 "$T/dups" | tr '\n' ' ')"
tail -n 10 "$T/out2.txt" >"$T/new.txt"
seq -f 'b%03g' 1 10 >"$T/want-new.txt"
assert_file_eq "$T/want-new.txt" "$T/new.txt" "run 2: the new input, after the replayed items"
[ ! -e "$T/spool/job.spool" ] || fail "run 2: the spool file is still there after its items were done"
assert_eq "spooled=0 lost=0" "$(grep -a '^unfinished: ' "$DAEMON_ERR" | sed 's/^unfinished: //')" "run 2: unfinished"

# Run 3: nothing to replay any more.
seq -f 'c%03g' 1 3 >"$T/in.txt"
sed -i "s|$T/out2.txt|$T/out3.txt|" "$T/job.yaml"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "run 3"
seq -f 'c%03g' 1 3 >"$T/want3.txt"
assert_file_eq "$T/want3.txt" "$T/out3.txt" "run 3: only the new input (the spool was consumed)"
exit 0
