#!/usr/bin/env bash
# stdin and exec sources (lines and nul framing), the generate source with
# count and template, several sources into one pipeline, the stdout sink.
. "$(dirname "$0")/../lib.sh"

# --- stdin source, stdout sink.
printf 'one\ntwo\n\nthree' >"$T/stdin.txt"
cat >"$T/stdin.yaml" <<YAML
sources:
  - { name: in, type: stdin }
stages:
  - { name: p, builtin: { op: passthrough } }
sinks:
  - { name: out, type: stdout }
YAML
DAEMON_STDIN=$T/stdin.txt run_daemon "$T/stdin.yaml"
rc=$?
assert_exit 0 "$rc" "stdin source"
check_accounting
printf 'one\ntwo\n\nthree\n' >"$T/stdin.want"
assert_file_eq "$T/stdin.want" "$DAEMON_OUT" "stdin source to stdout sink"
assert_eq 4 "$(summary_field source in items)" "source in items"

# --- stdin source from a pipe, nul framing.
cat >"$T/stdinz.yaml" <<YAML
sources:
  - { name: in, type: stdin, framing: nul }
sinks:
  - { name: out, type: file, path: $T/stdinz.out }
YAML
mkfifo "$T/z.fifo"
DAEMON_STDIN=$T/z.fifo start_daemon "$T/stdinz.yaml"
printf 'a b\0c\nd\0\0e' >"$T/z.fifo"
wait_exit "$DAEMON_PID" 60
rc=$?
assert_exit 0 "$rc" "stdin source, nul framing, from a pipe"
check_accounting
printf 'a b\nc\nd\n\ne\n' >"$T/stdinz.want"
assert_file_eq "$T/stdinz.want" "$T/stdinz.out" "stdin nul framing"

# --- stdin's file description is shared with whoever started us (a shell's terminal,
# the rest of a pipeline): the source reads a private one, so O_NONBLOCK never reaches
# the process that reads the same pipe after us.
printf 'x\ny\n' | {
	"$SLUICED" -c "$T/stdinz.yaml" >/dev/null 2>"$T/shared.err"
	python3 -c 'import fcntl, os, sys; sys.exit(3 if fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK else 0)'
}
rc=$?
assert_exit 0 "$rc" "stdin's shared pipe description left blocking (3: O_NONBLOCK leaked)"

# --- exec source: seq 1 5000.
cat >"$T/exec.yaml" <<YAML
sources:
  - { name: lister, type: exec, argv: [seq, "1", "5000"] }
stages:
  - { name: p, workers: 2, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/exec.out }
YAML
run_daemon "$T/exec.yaml"
rc=$?
assert_exit 0 "$rc" "exec source"
check_accounting
seq 1 5000 >"$T/exec.want"
sort -n "$T/exec.out" >"$T/exec.sorted"
assert_file_eq "$T/exec.want" "$T/exec.sorted" "exec source seq 1 5000 (as a set)"
assert_eq 5000 "$(summary_field source lister items)" "source lister items"
assert_eq 5000 "$(summary_field sink out written)" "sink out written"

# --- exec source, nul framing (find -print0 style), shell metacharacters literal.
mkdir -p "$T/tree"
touch "$T/tree/plain" "$T/tree/with space" "$T/tree/\$(touch pwned)"
cat >"$T/execz.yaml" <<YAML
sources:
  - { name: lister, type: exec, argv: [find, "$T/tree", -type, f, -print0], framing: nul }
stages:
  - { name: base, exec: { argv: [basename, "{}"] } }
sinks:
  - { name: out, type: file, path: $T/execz.out }
YAML
run_daemon "$T/execz.yaml"
rc=$?
assert_exit 0 "$rc" "exec source with nul framing"
check_accounting
printf '%s\n' "\$(touch pwned)" "plain" "with space" | sort >"$T/execz.want"
sort "$T/execz.out" >"$T/execz.sorted"
assert_file_eq "$T/execz.want" "$T/execz.sorted" "exec source (find -print0) through basename"
[ ! -e "$T/pwned" ] && [ ! -e "$T/tree/pwned" ] || fail "a file name was run through a shell"

# --- generate: count, template; two sources into one sink.
cat >"$T/gen.yaml" <<YAML
sources:
  - { name: g1, type: generate, count: 30, template: "g1-{seq}" }
  - { name: g2, type: generate, count: 20, interval: 1ms, template: "[{seq}] from {source}?" }
sinks:
  - { name: out, type: file, path: $T/gen.out }
YAML
run_daemon "$T/gen.yaml"
rc=$?
assert_exit 0 "$rc" "two generate sources"
check_accounting
assert_eq 30 "$(summary_field source g1 items)" "source g1 items"
assert_eq 20 "$(summary_field source g2 items)" "source g2 items"
assert_eq 50 "$(lines "$T/gen.out")" "lines written"
assert_eq 30 "$(grep -c '^g1-[0-9][0-9]*$' "$T/gen.out")" "lines matching g1-SEQ"
assert_eq 20 "$(grep -c '^\[[0-9][0-9]*\] from ' "$T/gen.out")" "lines matching [SEQ] from ..."
assert_eq 30 "$(grep '^g1-' "$T/gen.out" | sort -u | wc -l)" "distinct {seq} values of g1"
assert_eq 20 "$(grep '^\[' "$T/gen.out" | sed 's/\].*//' | sort -u | wc -l)" "distinct {seq} values of g2"
exit 0
