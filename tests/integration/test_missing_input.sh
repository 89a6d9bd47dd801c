#!/usr/bin/env bash
# An input file that cannot be opened: exit 66, the message names the path,
# nothing is run.
. "$(dirname "$0")/../lib.sh"

cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/no/such/input.txt }
stages:
  - { name: s, exec: { argv: [touch, $T/ran] } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
run_daemon "$T/c.yaml"
rc=$?
assert_exit 66 "$rc" "sluiced with a missing input file"
assert_contains "$DAEMON_ERR" "$T/no/such/input.txt" "stderr (should name the missing path)"
[ ! -e "$T/ran" ] || fail "a stage ran although the input could not be opened"

# Unreadable (a directory) is the same.
mkdir "$T/dir.txt"
sed "s|$T/no/such/input.txt|$T/dir.txt|" "$T/c.yaml" >"$T/c2.yaml"
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 66 "$rc" "sluiced with a directory as its input file"
assert_contains "$DAEMON_ERR" "$T/dir.txt" "stderr (should name the path)"

# The config is fine otherwise: --check passes (it does not open inputs).
env SLUICE_TEST_MARK="$MARK" "$SLUICED" --check -c "$T/c.yaml" >/dev/null 2>"$T/check.err"
rc=$?
assert_exit 0 "$rc" "sluiced --check (inputs are opened at run time only)"
exit 0
