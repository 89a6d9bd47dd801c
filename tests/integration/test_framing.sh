#!/usr/bin/env bash
# Framing: the last line without a newline is an item, empty lines are items,
# NUL bytes inside a line are kept, and nul framing splits on NUL.
. "$(dirname "$0")/../lib.sh"

run() { # NAME FRAMING INPUT-FILE
	cat >"$T/$1.yaml" <<YAML
sources:
  - { name: in, type: file, path: $3, framing: $2 }
stages:
  - { name: p, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/$1.out }
YAML
	run_daemon "$T/$1.yaml"
	rc=$?
	assert_exit 0 "$rc" "$1"
	check_accounting
}

# Last line without a trailing newline: still an item, written with "\n".
printf 'one\ntwo\nthree' >"$T/nonl.in"
printf 'one\ntwo\nthree\n' >"$T/nonl.want"
run nonl lines "$T/nonl.in"
assert_file_eq "$T/nonl.want" "$T/nonl.out" "last line without newline"
assert_eq 3 "$(summary_field source in items)" "items from 'one\\ntwo\\nthree'"

# Empty lines are items, at the start, in the middle and at the end.
printf '\na\n\n\nb\n\n' >"$T/empty.in"
run empty lines "$T/empty.in"
assert_file_eq "$T/empty.in" "$T/empty.out" "empty lines"
assert_eq 6 "$(summary_field source in items)" "items from '\\na\\n\\n\\nb\\n\\n'"
assert_eq 6 "$(summary_field p ok)" "stage p ok"

# A file that is just one empty line: one (empty) item.
printf '\n' >"$T/one.in"
run one lines "$T/one.in"
assert_file_eq "$T/one.in" "$T/one.out" "a single empty line"
assert_eq 1 "$(summary_field source in items)" "items from '\\n'"

# NUL bytes inside lines are kept, byte for byte (with CR and high bytes too).
printf 'a\0b\nx\0\0y\r\n\0\n\377\376 tail\n' >"$T/nul.in"
run nul lines "$T/nul.in"
assert_file_eq "$T/nul.in" "$T/nul.out" "NUL bytes inside lines"
assert_eq 4 "$(summary_field source in items)" "items"

# nul framing: records end at NUL, newlines inside are kept; each is written
# followed by "\n"; the last record may lack its NUL.
printf 'r1\0r 2 with\nnewline\0\0r4' >"$T/z.in"
printf 'r1\nr 2 with\nnewline\n\nr4\n' >"$T/z.want"
run z nul "$T/z.in"
assert_file_eq "$T/z.want" "$T/z.out" "nul framing"
assert_eq 4 "$(summary_field source in items)" "items from nul-framed input"

# Long lines well under max_item_bytes go through whole (several read buffers).
python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(40):
        f.write(("%d-" % i) * (5000 + i * 1000) + "\n")
' "$T/long.in"
run long lines "$T/long.in"
assert_file_eq "$T/long.in" "$T/long.out" "long lines (up to ~200 KiB)"
exit 0
