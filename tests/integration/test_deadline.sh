#!/usr/bin/env bash
# deadline: the whole job must finish in time, else it is cancelled: exit 2,
# children killed, every item accounted for.
. "$(dirname "$0")/../lib.sh"

cat >"$T/c.yaml" <<YAML
deadline: 1s
shutdown: { kill_after: 1s }
sources:
  - { name: gen, type: generate, count: 100, template: "item-{seq}" }
stages:
  - name: slow
    workers: 2
    exec: { argv: [sh, -c, 'echo \$\$\$\$ >>$T/started; sleep 1000 & sleep 1000'], stdout: item }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/c.yaml"
wait_exit "$DAEMON_PID" 120
rc=$?
assert_exit 2 "$rc" "sluiced (deadline passed)"
check_accounting
grep -aqi 'deadline' "$DAEMON_ERR" || fail "stderr does not say the deadline passed"
[ -s "$T/started" ] || fail "no child of the stage ever started"
assert_no_leftovers 10

# A job that finishes well within its deadline is not affected.
cat >"$T/c2.yaml" <<YAML
deadline: 1h
sources:
  - { name: gen, type: generate, count: 100 }
stages:
  - { name: p, exec: { argv: [echo, "{}"] } }
sinks:
  - { name: out, type: file, path: $T/out2.txt }
YAML
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced (within its deadline)"
check_accounting
assert_eq 100 "$(lines "$T/out2.txt")" "lines written"
exit 0
