#!/usr/bin/env bash
# An input file that cannot be opened: exit 66, the message names the path,
# nothing is run; --check reports it before.
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

# --check looks at the environment too: the missing input is reported at the
# position of its path, with exit 78; --no-environment checks the file alone.
env SLUICE_TEST_MARK="$MARK" "$SLUICED" --check -c "$T/c.yaml" >/dev/null 2>"$T/check.err"
rc=$?
assert_exit 78 "$rc" "sluiced --check with a missing input"
assert_contains "$T/check.err" "$T/c.yaml:2:" "--check names the line of the path"
assert_contains "$T/check.err" "source 'in': cannot read '$T/no/such/input.txt': No such file or directory" "--check"
env SLUICE_TEST_MARK="$MARK" "$SLUICED" --check --no-environment -c "$T/c.yaml" >/dev/null 2>"$T/check.err"
rc=$?
assert_exit 0 "$rc" "sluiced --check --no-environment (the file alone is fine)"
exit 0
