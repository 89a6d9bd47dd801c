#!/usr/bin/env bash
# --check looks at the host as well as the file (as `vector validate` does): every
# command resolves and is executable, inputs are readable, outputs can be created,
# listen addresses can be bound. Every problem in one run, each at the FILE:LINE:COL
# of its key's value, sorted, exit 78; --no-environment checks the file alone.
. "$(dirname "$0")/../lib.sh"

chk() { # ARGS...: sluiced --check ..., output in $T/o and $T/e
	env SLUICE_TEST_MARK="$MARK" timeout -k 5 60 "$SLUICED" --check "$@" >"$T/o" 2>"$T/e" </dev/null
}

# A port that is taken for the whole test.
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$T/port" &
busy_pid=$!
wait_for '[ -s "$T/port" ]' 30 || fail "the port holder did not start"
busy=$(cat "$T/port")

mkdir -p "$T/in" "$T/work" "$T/ro"
echo x >"$T/in/items.txt"
printf '#!/bin/sh\ncat\n' >"$T/work/ok.sh"
chmod +x "$T/work/ok.sh"
printf '#!/bin/sh\ncat\n' >"$T/work/noexec.sh"
chmod -x "$T/work/noexec.sh"

# Everything in order: exit 0, the pipeline printed.
cat >"$T/good.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in/items.txt }
  - { name: cmd, type: exec, argv: [echo, hi] }
stages:
  - name: a
    exec: { argv: [sh, -c, 'cat'], cwd: $T/work }
  - name: b
    coprocess: { argv: [./ok.sh], cwd: $T/work }
  - name: c
    exec: { argv: ["{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
  - { name: pipe, type: exec, argv: [cat] }
joblog: $T/job.log
YAML
chk -c "$T/good.yaml"
assert_exit 0 "$?" "--check of a pipeline whose environment is in order: $(cat "$T/e")"
[ -s "$T/o" ] || fail "--check printed no pipeline"

# Every kind of problem, in one run.
cat >"$T/bad.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in/nope.txt }
  - { name: listen, type: tcp, listen: "127.0.0.1:$busy" }
  - { name: cmd, type: exec, argv: [no-such-command-sl] }
stages:
  - name: typo
    exec: { argv: [convrt, "{}"] }
  - name: noexec
    coprocess: { argv: [./noexec.sh], cwd: $T/work }
  - name: nocwd
    exec: { argv: [true], cwd: $T/no-such-dir }
sinks:
  - { name: out, type: file, path: $T/missing/dir/out.txt }
  - { name: isdir, type: file, path: $T/in }
YAML
chk -c "$T/bad.yaml"
assert_exit 78 "$?" "--check with problems in the environment"
cat "$T/e"
# file:line:col of each key's value: path: on line 2, listen: on 3, ...
expect() { # LINE:COL TEXT
	grep -qF "$T/bad.yaml:$1: $2" "$T/e" || fail "--check: expected '$T/bad.yaml:$1: $2'"
}
col_of() { # LINE TEXT: the column of TEXT on that line of bad.yaml
	sed -n "${1}p" "$T/bad.yaml" | awk -v t="$2" '{ print index($0, t) }'
}
expect "2:$(col_of 2 "$T/in/nope.txt")" "source 'in': cannot read '$T/in/nope.txt': No such file or directory"
expect "3:$(col_of 3 "\"127.0.0.1:$busy\"")" "source 'listen': cannot listen on '127.0.0.1:$busy': Address already in use"
expect "4:$(col_of 4 no-such-command-sl)" "source 'cmd': command 'no-such-command-sl' is not found on PATH"
expect "7:$(col_of 7 convrt)" "stage 'typo': command 'convrt' is not found on PATH"
expect "9:$(col_of 9 ./noexec.sh)" "stage 'noexec': cannot run '$T/work/./noexec.sh': Permission denied"
expect "11:$(col_of 11 "$T/no-such-dir")" "stage 'nocwd': cwd '$T/no-such-dir': No such file or directory"
expect "13:$(col_of 13 "$T/missing")" "sink 'out': cannot create '$T/missing/dir/out.txt': directory '$T/missing/dir': No such file or directory"
expect "14:$(col_of 14 "$T/in")" "sink 'isdir': '$T/in' is a directory"
assert_eq 8 "$(grep -c "^$T/bad.yaml:" "$T/e")" "problems reported"
assert_contains "$T/e" "8 problem(s) with the environment" "the closing line"
# Sorted by position.
grep "^$T/bad.yaml:" "$T/e" | cut -d: -f2 | sort -n -c || fail "problems are not in file order"

# The file alone is fine.
chk --no-environment -c "$T/bad.yaml"
assert_exit 0 "$?" "--check --no-environment"

# As the unprivileged user a unit runs as: a root-only directory is not writable, a
# root-only input is not readable.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	mkdir -p "$T/rootonly"
	chmod 0711 "$T" && chmod 0755 "$T/in" "$T/work" && chmod 0755 "$T/rootonly"
	echo secret >"$T/in/secret.txt"
	chmod 0600 "$T/in/secret.txt"
	cat >"$T/perm.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in/secret.txt }
sinks:
  - { name: out, type: file, path: $T/rootonly/out.txt }
YAML
	chmod 0644 "$T/perm.yaml"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SLUICED" --check -c "$T/perm.yaml" \
		>"$T/o" 2>"$T/e" </dev/null
	assert_exit 78 "$?" "--check as nobody"
	assert_contains "$T/e" "source 'in': cannot read '$T/in/secret.txt': Permission denied" "as nobody"
	assert_contains "$T/e" "sink 'out': cannot create '$T/rootonly/out.txt' in '$T/rootonly': Permission denied" "as nobody"
else
	note "not root or no setpriv: the permission checks are not exercised"
fi
kill "$busy_pid" 2>/dev/null
exit 0
