#!/usr/bin/env bash
# The command line: -V, -h, bad options (64), a config that cannot be opened (66).
. "$(dirname "$0")/../lib.sh"

cat >"$T/ok.yaml" <<YAML
sources:
  - { name: in, type: generate, count: 3 }
sinks:
  - { name: out, type: discard }
YAML

run_sl() { # ARGS...: runs sluiced in the foreground, output in $T/o and $T/e
	env SLUICE_TEST_MARK="$MARK" timeout -k 5 60 "$SLUICED" "$@" >"$T/o" 2>"$T/e" </dev/null
}

run_sl -V; rc=$?
assert_exit 0 "$rc" "sluiced -V"
[ -s "$T/o" ] || [ -s "$T/e" ] || fail "sluiced -V printed nothing"
grep -aqE '[0-9]+\.[0-9]+' "$T/o" "$T/e" || fail "sluiced -V: no version number in: $(cat "$T/o" "$T/e")"

# -V names the libraries this process runs with, for bug reports.
assert_contains "$T/o" "libevent " "sluiced -V"
assert_contains "$T/o" "libyaml " "sluiced -V"

run_sl --version; rc=$?
assert_exit 0 "$rc" "sluiced --version"

run_sl -h; rc=$?
assert_exit 0 "$rc" "sluiced -h"
grep -aq -- '--config' "$T/o" "$T/e" || fail "sluiced -h does not mention --config: $(head -5 "$T/o" "$T/e")"

run_sl --help; rc=$?
assert_exit 0 "$rc" "sluiced --help"

for bad in "--no-such-option" "-Q" "-c" "-l nonsense -c $T/ok.yaml" "--log-format xml -c $T/ok.yaml"; do
	# shellcheck disable=SC2086
	run_sl $bad; rc=$?
	assert_exit 64 "$rc" "sluiced $bad"
	[ -s "$T/e" ] || fail "sluiced $bad: exit 64 but no message on stderr"
done

# A config that does not exist: cannot be opened, 66, the path named.
run_sl -c "$T/does-not-exist.yaml"; rc=$?
assert_exit 66 "$rc" "sluiced -c MISSING"
assert_contains "$T/e" "$T/does-not-exist.yaml" "stderr of sluiced -c MISSING"

# --check says the same: a file that cannot be opened is "no input" (66), not a bad
# config (78), so a unit's ExecStartPre tells a missing file from a wrong one.
run_sl --check -c "$T/does-not-exist.yaml"; rc=$?
assert_exit 66 "$rc" "sluiced --check -c MISSING"
assert_contains "$T/e" "$T/does-not-exist.yaml" "stderr of sluiced --check -c MISSING"

# The good one runs, with each log option accepted.
for opts in "" "-l debug" "-l error" "--log-level warn" "--log-format json" "--log-format text" "--config"; do
	if [ "$opts" = "--config" ]; then
		run_sl --config "$T/ok.yaml"; rc=$?
	else
		# shellcheck disable=SC2086
		run_sl $opts -c "$T/ok.yaml"; rc=$?
	fi
	[ "$rc" = 0 ] || { tail -20 "$T/e"; fail "sluiced $opts -c ok.yaml: expected exit 0, got $rc"; }
done

# Log levels: -l error silences info lines; the command line overrides log.level.
run_sl -l error -c "$T/ok.yaml"; rc=$?
assert_exit 0 "$rc" "sluiced -l error"
grep -aq ': info: ' "$T/e" && fail "-l error: info lines still logged: $(grep -a ': info: ' "$T/e" | head -2)"
run_sl -c "$T/ok.yaml"; rc=$?
grep -aq ': info: ' "$T/e" || fail "default level (info): expected some info line on stderr, got: $(head -3 "$T/e")"
{ cat "$T/ok.yaml"; printf 'log: { level: error }\n'; } >"$T/quiet.yaml"
run_sl -c "$T/quiet.yaml"; rc=$?
assert_exit 0 "$rc" "sluiced with log.level error"
grep -aq ': info: ' "$T/e" && fail "log.level: error in the file: info lines still logged"
run_sl -l info -c "$T/quiet.yaml"; rc=$?
grep -aq ': info: ' "$T/e" || fail "-l info must override log.level: error from the file"
grep -aq ': debug: ' "$T/e" && fail "-l info: debug lines logged"
run_sl -l debug -c "$T/ok.yaml"; rc=$?
grep -aq ': debug: ' "$T/e" || note "-l debug: no debug line at all (not required)"

# --log-format json: log lines are JSON objects (the summary block at exit is
# plain text by contract); no text-format log line.
run_sl -l debug --log-format json -c "$T/ok.yaml"; rc=$?
assert_exit 0 "$rc" "sluiced --log-format json"
grep -a '^{' "$T/e" >"$T/json" || true
[ -s "$T/json" ] || fail "--log-format json -l debug: no JSON log line at all on stderr: $(head -3 "$T/e")"
grep -aq '^sluiced\[' "$T/e" && fail "--log-format json: text-format log lines on stderr: $(grep -a '^sluiced\[' "$T/e" | head -3)"
python3 -c '
import json, sys
for n, l in enumerate(open(sys.argv[1], encoding="utf-8", errors="replace"), 1):
    try:
        o = json.loads(l)
        assert isinstance(o, dict)
    except Exception:
        sys.exit("line %d is not a JSON object: %r" % (n, l[:200]))
' "$T/json" || fail "--log-format json: a log line is not JSON"
exit 0
