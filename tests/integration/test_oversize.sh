#!/usr/bin/env bash
# An input line longer than max_item_bytes is rejected at the source: counted,
# dead-lettered, and the rest is processed; exit 1.
. "$(dirname "$0")/../lib.sh"

{
	echo short1
	head -c 101 /dev/zero | tr '\0' x; echo
	echo short2
	head -c 100 /dev/zero | tr '\0' z; echo        # exactly the limit: accepted
	head -c 300000 /dev/zero | tr '\0' y; echo     # spans many read buffers
	echo short3
	head -c 5000 /dev/zero | tr '\0' w             # last line, no newline
} >"$T/in.txt"
{
	echo short1
	echo short2
	head -c 100 /dev/zero | tr '\0' z; echo
	echo short3
} >"$T/want.txt"

cat >"$T/c.yaml" <<YAML
max_item_bytes: 100
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - { name: s, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/c.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (oversize lines rejected)"
check_accounting
assert_file_eq "$T/want.txt" "$T/out.txt" "output (the lines within max_item_bytes)"
assert_eq 3 "$(summary_field source in rejected)" "source in rejected"
assert_eq 4 "$(summary_field s in)" "stage s in (rejected lines never enter it)"
assert_eq 4 "$(summary_field s ok)" "stage s ok"
assert_eq 4 "$(summary_field sink out written)" "sink out written"

[ -s "$T/dead.jsonl" ] || fail "no dead letter file $T/dead.jsonl"
n=$(jsonl "$T/dead.jsonl" check) || fail "dead letter file is malformed"
assert_eq 3 "$n" "dead letter records"
assert_eq "item_too_large item_too_large item_too_large" "$(jsonl "$T/dead.jsonl" field error | tr '\n' ' ' | sed 's/ $//')" "dead letter error kinds"
assert_eq "in in in" "$(jsonl "$T/dead.jsonl" field source | tr '\n' ' ' | sed 's/ $//')" "dead letter sources"
items=$(jsonl "$T/dead.jsonl" field item | cut -c1-10 | tr '\n' ' ' | sed 's/ $//')
assert_eq "xxxxxxxxxx yyyyyyyyyy wwwwwwwwww" "$items" "dead letter items (first 10 bytes)"

# Without a dead letter file: still rejected and counted, still exit 1.
grep -v dead_letter "$T/c.yaml" >"$T/c2.yaml"
sed -i "s|$T/out.txt|$T/out2.txt|" "$T/c2.yaml"
run_daemon "$T/c2.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (oversize lines, no dead letter file)"
check_accounting
assert_file_eq "$T/want.txt" "$T/out2.txt" "output without a dead letter file"
assert_eq 3 "$(summary_field source in rejected)" "source in rejected"
grep -aqiE 'too large|too long|max_item_bytes|item_too_large' "$DAEMON_ERR" || fail "no log line about the rejected lines"

# The same through a pipe (stdin source) and an exec source.
cat >"$T/c3.yaml" <<YAML
max_item_bytes: 100
sources:
  - { name: pipe, type: stdin }
  - { name: cmd, type: exec, argv: [cat, $T/in.txt] }
sinks:
  - { name: out, type: file, path: $T/out3.txt }
dead_letter: { type: file, path: $T/dead3.jsonl }
YAML
DAEMON_STDIN=$T/in.txt run_daemon "$T/c3.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (oversize lines from stdin and an exec source)"
check_accounting
assert_eq 3 "$(summary_field source pipe rejected)" "source pipe rejected"
assert_eq 3 "$(summary_field source cmd rejected)" "source cmd rejected"
assert_eq 8 "$(lines "$T/out3.txt")" "lines written (4 from each source)"
{ cat "$T/want.txt" "$T/want.txt"; } | sort >"$T/want3.sorted"
sort "$T/out3.txt" >"$T/out3.sorted"
assert_file_eq "$T/want3.sorted" "$T/out3.sorted" "output from both sources (as a set)"
assert_eq "6 item_too_large" "$(jsonl "$T/dead3.jsonl" field error | sort | uniq -c | sed 's/^ *//')" "dead letter kinds"
exit 0
