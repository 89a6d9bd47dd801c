#!/usr/bin/env bash
# The config as an operator writes it: ${VAR} and ${VAR:-default} from the
# environment (an unset one is an error at its FILE:LINE:COL), $$ for a literal $,
# -c - for a config on stdin (a reload then refuses), credentials in http headers
# not printed by --check, and a file sink's mode: append (the default) | truncate.
. "$(dirname "$0")/../lib.sh"

run_sl() { # ARGS...: sluiced in the foreground, output in $T/o and $T/e
	env SLUICE_TEST_MARK="$MARK" timeout -k 5 60 "$SLUICED" "$@" >"$T/o" 2>"$T/e"
}

# 1. Substitution: set, default, empty with a default, $$, and shell text left alone.
cat >"$T/env.yaml" <<'YAML'
sources:
  - name: gen
    type: generate
    count: ${SL_COUNT:-3}
stages:
  - name: s
    workers: 1
    exec:
      argv: [sh, -c, 'printf "%s %s %s %s\n" "$1" "${SL_WORD}" "${SL_EMPTY:-dflt}" "$${NOT_SUBST:-x}"', sh, "{}"]
sinks:
  - name: out
    type: file
    path: ${SL_OUT}
YAML
SL_COUNT=4 SL_WORD=hello SL_EMPTY='' SL_OUT=$T/out1 run_sl -c "$T/env.yaml" </dev/null
rc=$?
assert_exit 0 "$rc" "run with the variables set"
assert_eq 4 "$(lines "$T/out1")" "records with count from \${SL_COUNT}"
# ${SL_EMPTY:-dflt}: empty counts as unset, as in sh; $${...} reaches sh, which expands
# its own default.
assert_eq "1 hello dflt x" "$(sort "$T/out1" | head -n 1)" "the substituted line"

# The default applies when the variable is unset.
SL_WORD=w SL_OUT=$T/out2 run_sl -c "$T/env.yaml" </dev/null
assert_exit 0 "$?" "run with SL_COUNT unset"
assert_eq 3 "$(lines "$T/out2")" "records with the default count"

# 2. Unset without a default: exit 78, the error at the variable's line and column,
#    with the way out; every such error in one run.
env -u SL_WORD -u SL_OUT "$SLUICED" --check -c "$T/env.yaml" >"$T/o" 2>"$T/e" </dev/null
rc=$?
assert_exit 78 "$rc" "--check with SL_WORD and SL_OUT unset"
col=$(($(grep -n 'SL_WORD' "$T/env.yaml" | head -1 | cut -d: -f2- | awk '{ print index($0, "${SL_WORD}") }')))
line=$(grep -n 'SL_WORD' "$T/env.yaml" | head -1 | cut -d: -f1)
assert_contains "$T/e" "$T/env.yaml:$line:$col: environment variable 'SL_WORD' is not set" "stderr"
assert_contains "$T/e" "\${SL_WORD:-default}" "the hint"
assert_contains "$T/e" "environment variable 'SL_OUT' is not set" "the second error in the same run"

# Malformed references.
printf 'sources:\n  - {name: g, type: generate, count: "${1X}"}\nsinks:\n  - {name: o, type: discard}\n' >"$T/bad1.yaml"
run_sl --check -c "$T/bad1.yaml"
assert_exit 78 "$?" "\${1X}"
assert_contains "$T/e" "$T/bad1.yaml:2:" "\${1X} position"
assert_contains "$T/e" "must be followed by a variable name" "\${1X} message"
printf 'sources:\n  - {name: g, type: generate, count: "${N"}\nsinks:\n  - {name: o, type: discard}\n' >"$T/bad2.yaml"
run_sl --check -c "$T/bad2.yaml"
assert_exit 78 "$?" "\${N unclosed"
assert_contains "$T/e" "'\${N' is not closed" "unclosed message"

# Keys are never substituted: '${X}' as a key is an unknown key, not a variable.
printf 'sources:\n  - {name: g, type: generate, count: 1}\nsinks:\n  - {name: o, type: discard}\n${SL_KEY}: 1\n' >"$T/key.yaml"
SL_KEY=name run_sl --check -c "$T/key.yaml"
assert_exit 78 "$?" "a \${VAR} key"
assert_contains "$T/e" "unknown key '\${SL_KEY}'" "a key is taken literally"

# --check prints the config it will run, and reading that output again must give the
# same config: a literal "${" or "$$" (written "$${" / "$$$$") prints escaped again.
cat >"$T/lit.yaml" <<'YAML'
sources:
  - { name: g, type: generate, count: 1, template: "a$${HOME}b$$$$c$1" }
sinks:
  - { name: o, type: discard }
YAML
run_sl --check -c "$T/lit.yaml"
assert_exit 0 "$?" "--check of literal dollars"
cp "$T/o" "$T/lit2.yaml"
assert_contains "$T/lit2.yaml" 'template: "a$${HOME}b$$$c$1"' "the literal printed escaped"
run_sl --check -c "$T/lit2.yaml"
assert_exit 0 "$?" "--check of the printed config"
assert_eq "$(cat "$T/lit2.yaml")" "$(cat "$T/o")" "printing the printed config is stable"

# A variable whose value is not UTF-8 cannot be a config value (YAML is UTF-8).
printf 'sources:\n  - {name: g, type: generate, count: 1, template: "${SL_BIN}"}\nsinks:\n  - {name: o, type: discard}\n' >"$T/bin.yaml"
SL_BIN=$(printf 'a\377b') run_sl --check -c "$T/bin.yaml"
assert_exit 78 "$?" "a non-UTF-8 variable"
assert_contains "$T/e" "$T/bin.yaml:2:" "non-UTF-8 position"
assert_contains "$T/e" "environment variable 'SL_BIN' holds bytes that are not UTF-8" "non-UTF-8 message"

# 3. -c -: the config from stdin; errors name <stdin>; a reload is refused and the
#    pipeline goes on.
SL_OUT=$T/out3 SL_WORD=x "$SLUICED" -c - <"$T/env.yaml" >"$T/o" 2>"$T/e"
assert_exit 0 "$?" "-c - with a good config"
assert_eq 3 "$(lines "$T/out3")" "records from a config on stdin"
printf 'sources: [\n' | "$SLUICED" --check -c - >"$T/o" 2>"$T/e"
assert_exit 78 "$?" "-c - with a broken config"
assert_contains "$T/e" "<stdin>:" "errors of a config on stdin"

cat >"$T/svc.yaml" <<YAML
sources:
  - { name: gen, type: generate, interval: 50ms }
sinks:
  - { name: out, type: file, path: $T/svc.out }
YAML
DAEMON_STDIN=$T/svc.yaml start_daemon -
wait_for '[ "$(lines "$T/svc.out")" -ge 2 ]' 60 || fail "the stdin-configured daemon writes nothing"
kill -HUP "$DAEMON_PID"
wait_for 'grep -q "read from standard input" "$DAEMON_ERR"' 60 || fail "reload of a stdin config: no refusal logged"
n=$(lines "$T/svc.out")
wait_for '[ "$(lines "$T/svc.out")" -gt '"$n"' ]' 60 || fail "the pipeline stopped after a refused reload"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID"
assert_exit 0 "$?" "the stdin-configured service at SIGTERM"

# 4. --check does not print credentials: Authorization and unknown headers are
#    <redacted>, harmless ones are shown; the token never appears.
cat >"$T/hdr.yaml" <<'YAML'
sources:
  - { name: g, type: generate, count: 1 }
sinks:
  - name: web
    type: http
    url: http://127.0.0.1:9/in
    headers:
      Authorization: "Bearer ${SL_TOKEN}"
      X-Api-Key: k-12345
      Content-Type: application/json
YAML
SL_TOKEN=s3cr3t-t0ken run_sl --check -c "$T/hdr.yaml"
assert_exit 0 "$?" "--check with headers"
assert_not_contains "$T/o" "s3cr3t-t0ken" "--check output"
assert_not_contains "$T/o" "k-12345" "--check output"
assert_contains "$T/o" "\"Authorization\": <redacted>" "--check output"
assert_contains "$T/o" "application/json" "--check output"

# 5. mode: append (the default) adds to the file; truncate empties it at start,
#    but not under --resume, which keeps the records the joblog counts as done.
for mode in append truncate; do
	cat >"$T/$mode.yaml" <<YAML
sources:
  - { name: g, type: generate, count: 5 }
stages:
  - { name: s, builtin: { op: passthrough } }
sinks:
  - { name: f, type: file, path: $T/$mode.out, mode: $mode }
joblog: $T/$mode.joblog
YAML
	run_sl -c "$T/$mode.yaml" </dev/null
	assert_exit 0 "$?" "mode $mode, first run"
	run_sl -c "$T/$mode.yaml" </dev/null
	assert_exit 0 "$?" "mode $mode, second run"
done
assert_eq 10 "$(lines "$T/append.out")" "mode append after two runs"
assert_eq 5 "$(lines "$T/truncate.out")" "mode truncate after two runs"
run_sl --resume -c "$T/truncate.yaml" </dev/null
assert_exit 0 "$?" "mode truncate with --resume"
assert_eq 5 "$(lines "$T/truncate.out")" "mode truncate, --resume keeps the done records"
run_sl --check -c "$T/append.yaml"
assert_contains "$T/o" "mode: append" "--check prints the mode"
printf 'sources:\n  - {name: g, type: generate, count: 1}\nsinks:\n  - {name: o, type: stdout, mode: truncate}\n' >"$T/badmode.yaml"
run_sl --check -c "$T/badmode.yaml"
assert_exit 78 "$?" "mode on a stdout sink"
assert_contains "$T/e" "'mode' does not apply to a stdout sink" "mode on stdout"
exit 0
