#!/usr/bin/env bash
# Per-item failures of an exec stage: non-zero exit (kind exit, with status and
# stderr tail), killed by a signal (kind signal), a command that does not exist
# (kind spawn, named in the log, never a crash). The others go on; exit 1.
. "$(dirname "$0")/../lib.sh"

printf 'ok1\nfail3\nsig\nok2\nfail42\n' >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: work
    exec:
      argv:
        - sh
        - -c
        - |
          case \$1 in
          fail*) echo "boom \$1 with status \$\${1#fail}" >&2; exit \$\${1#fail} ;;
          sig) echo "about to die" >&2; kill -KILL \$\$\$\$ ;;
          esac
          echo "done \$1"
        - sh
        - "{}"
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/c.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (3 of 5 items fail)"
check_accounting
printf 'done ok1\ndone ok2\n' >"$T/want.txt"
assert_file_eq "$T/want.txt" "$T/out.txt" "output of the items that succeeded"
assert_eq 5 "$(summary_field work in)" "stage work in"
assert_eq 2 "$(summary_field work ok)" "stage work ok"
assert_eq 3 "$(summary_field work failed)" "stage work failed"

n=$(jsonl "$T/dead.jsonl" check) || fail "dead letter file malformed"
assert_eq 3 "$n" "dead letter records"
assert_eq "fail3 sig fail42" "$(jsonl "$T/dead.jsonl" field item | tr '\n' ' ' | sed 's/ $//')" "dead letter items"
assert_eq "exit signal exit" "$(jsonl "$T/dead.jsonl" field error | tr '\n' ' ' | sed 's/ $//')" "dead letter error kinds"
assert_eq "work work work" "$(jsonl "$T/dead.jsonl" field stage | tr '\n' ' ' | sed 's/ $//')" "dead letter stages"
st=$(jsonl "$T/dead.jsonl" field exit_status | tr '\n' ' ')
case $st in "3 "*" 42 ") ;; *) fail "dead letter exit_status: expected 3 and 42 for the exit failures, got: $st" ;; esac
sig=$(jsonl "$T/dead.jsonl" field signal | sed -n 2p)
case $sig in 9 | '"KILL"' | '"SIGKILL"' | KILL | SIGKILL) ;; *) fail "dead letter signal for the killed child: expected 9/SIGKILL, got '$sig'" ;; esac
jsonl "$T/dead.jsonl" field stderr | sed -n 1p | grep -q "boom fail3 with status 3" ||
	fail "dead letter stderr tail of fail3: expected 'boom fail3 with status 3', got '$(jsonl "$T/dead.jsonl" field stderr | sed -n 1p)'"
jsonl "$T/dead.jsonl" field stderr | sed -n 2p | grep -q "about to die" ||
	fail "dead letter stderr tail of sig: expected 'about to die', got '$(jsonl "$T/dead.jsonl" field stderr | sed -n 2p)'"
grep -aq "boom fail42" "$DAEMON_ERR" || fail "the log does not show the failed child's stderr ('boom fail42')"

# A command that does not exist: kind spawn for each item, named in the log.
seq 1 50 >"$T/in50.txt"
for cmd in no-such-command-sluice "$T/no/such/binary"; do
	cat >"$T/spawn.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in50.txt }
stages:
  - { name: run, workers: 4, exec: { argv: [$cmd, "{}"] }, on_failure: dead_letter }
  - { name: after, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/spawn.out }
dead_letter: { type: file, path: $T/spawn.jsonl }
YAML
	rm -f "$T/spawn.jsonl"
	run_daemon "$T/spawn.yaml"
	rc=$?
	assert_exit 1 "$rc" "sluiced with the missing command $cmd"
	check_accounting
	assert_eq 50 "$(summary_field run failed)" "stage run failed ($cmd)"
	assert_eq 0 "$(summary_field after in)" "stage after in"
	assert_contains "$DAEMON_ERR" "$cmd" "stderr (should name the missing command)"
	kinds=$(jsonl "$T/spawn.jsonl" field error | sort | uniq -c | sed 's/^ *//')
	assert_eq "50 spawn" "$kinds" "dead letter error kinds for $cmd"
done

# A command that exists but is not executable: spawn too.
printf '#!/bin/sh\necho hi\n' >"$T/noexec.sh"
chmod 644 "$T/noexec.sh"
sed "s|no-such-command-sluice|$T/noexec.sh|; s|$T/no/such/binary|$T/noexec.sh|" "$T/spawn.yaml" >"$T/noexec.yaml"
rm -f "$T/spawn.jsonl"
run_daemon "$T/noexec.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced with a non-executable command"
check_accounting
assert_eq "50 spawn" "$(jsonl "$T/spawn.jsonl" field error | sort | uniq -c | sed 's/^ *//')" "dead letter kinds (not executable)"
exit 0
