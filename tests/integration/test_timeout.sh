#!/usr/bin/env bash
# Per-item timeout: the child's whole process group is killed (a grandchild in
# the background too), SIGKILL follows SIGTERM after kill_after for a child that
# ignores SIGTERM; kind timeout; the other items go on.
. "$(dirname "$0")/../lib.sh"

printf 'hang\nquick1\nstubborn\nquick2\n' >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
shutdown: { kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    workers: 2
    timeout: 1s
    on_failure: dead_letter
    exec:
      argv:
        - sh
        - -c
        - |
          case \$1 in
          hang) sleep 1000 & echo \$! >$T/grandchild.\$1; sleep 1000 ;;
          stubborn) trap '' TERM; sleep 1000 & echo \$! >$T/grandchild.\$1; sleep 1000 ;;
          esac
          echo "done \$1"
        - sh
        - "{}"
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 1 "$rc" "sluiced (2 of 4 items time out)"
check_accounting
sort "$T/out.txt" >"$T/out.sorted"
printf 'done quick1\ndone quick2\n' >"$T/want.txt"
assert_file_eq "$T/want.txt" "$T/out.sorted" "output of the quick items"
assert_eq 2 "$(summary_field work failed)" "stage work failed"
assert_eq 2 "$(summary_field work ok)" "stage work ok"
n=$(jsonl "$T/dead.jsonl" check) || fail "dead letter file malformed"
assert_eq 2 "$n" "dead letter records"
assert_eq "timeout timeout" "$(jsonl "$T/dead.jsonl" field error | tr '\n' ' ' | sed 's/ $//')" "dead letter error kinds"
assert_eq "hang stubborn" "$(jsonl "$T/dead.jsonl" field item | sort | tr '\n' ' ' | sed 's/ $//')" "dead letter items"
# Every sleep, grandchildren included, is gone: the process group was killed.
for it in hang stubborn; do
	[ -s "$T/grandchild.$it" ] || fail "the '$it' child never started its grandchild"
done
assert_no_leftovers 10
exit 0
