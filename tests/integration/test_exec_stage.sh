#!/usr/bin/env bash
# exec stages: {} / {seq} / {source} substitution, stdin: none|item, every
# stdout mode (result, lines, discard, item), env and cwd.
. "$(dirname "$0")/../lib.sh"
DUMP=$HELPERS/argv-dump
[ -x "$DUMP" ] || fail "helper $DUMP not built"

printf 'alpha\nb e t a\n\ngamma-{}\n' >"$T/in.txt"

run() { # NAME STAGE-YAML [EXIT]
	cat >"$T/$1.yaml" <<YAML
sources:
  - { name: src1, type: file, path: $T/in.txt }
stages:
$2
sinks:
  - { name: out, type: file, path: $T/$1.out }
YAML
	run_daemon "$T/$1.yaml"
	rc=$?
	assert_exit "${3:-0}" "$rc" "$1"
	check_accounting
}

# --- argv substitution: {} alone, inside a word, {source}, {seq}; one argv
# element per placeholder whatever the item holds (spaces, empty, braces).
run subst "  - name: x
    exec:
      argv: [$DUMP, '{}', 'x{}y', '{source}', 'seq={seq}', 'lit']
      stdout: lines"
cat >"$T/subst.want" <<W
argc=6
argv[1]=<alpha>
argv[2]=<xalphay>
argv[3]=<src1>
argv[4]=<seq=S>
argv[5]=<lit>
cwd=<CWD>
argc=6
argv[1]=<b e t a>
argv[2]=<xb e t ay>
argv[3]=<src1>
argv[4]=<seq=S>
argv[5]=<lit>
cwd=<CWD>
argc=6
argv[1]=<>
argv[2]=<xy>
argv[3]=<src1>
argv[4]=<seq=S>
argv[5]=<lit>
cwd=<CWD>
argc=6
argv[1]=<gamma-{}>
argv[2]=<xgamma-{}y>
argv[3]=<src1>
argv[4]=<seq=S>
argv[5]=<lit>
cwd=<CWD>
W
sed -e 's/^argv\[4\]=<seq=[0-9][0-9]*>$/argv[4]=<seq=S>/' -e 's/^cwd=<.*>$/cwd=<CWD>/' "$T/subst.out" >"$T/subst.norm"
assert_file_eq "$T/subst.want" "$T/subst.norm" "argv as the command saw it (seq numbers normalized)"
# {seq}: distinct integers, increasing in input order (one worker).
seqs=$(sed -n 's/^argv\[4\]=<seq=\([0-9]*\)>$/\1/p' "$T/subst.out" | tr '\n' ' ')
assert_eq "4" "$(echo "$seqs" | wc -w)" "number of {seq} values ($seqs)"
# shellcheck disable=SC2086 # split on purpose: one number a line, no empty one
sorted=$(echo $seqs | tr ' ' '\n' | sort -n -u | tr '\n' ' ')
assert_eq "$seqs" "$sorted" "{seq} values: distinct and increasing in input order"
assert_eq 4 "$(summary_field x in)" "stage x in"
assert_eq 4 "$(summary_field x ok)" "stage x ok"
assert_eq 28 "$(summary_field sink out written)" "sink out written (7 lines per item, stdout: lines)"

# --- stdout: result: the whole stdout, one trailing newline stripped.
run result "  - name: r
    exec: { argv: [printf, 'L1-%s\nL2\n\n', '{}'], stdout: result }"
printf 'L1-alpha\nL2\n\nL1-b e t a\nL2\n\nL1-\nL2\n\nL1-gamma-{}\nL2\n\n' >"$T/result.want"
assert_file_eq "$T/result.want" "$T/result.out" "stdout: result (multi-line result, one newline stripped)"
assert_eq 4 "$(summary_field sink out written)" "sink out written (one result per item)"

# A result without a trailing newline is kept whole.
run result2 "  - name: r
    exec: { argv: [printf, '<%s>', '{}'] }"
printf '<alpha>\n<b e t a>\n<>\n<gamma-{}>\n' >"$T/result2.want"
assert_file_eq "$T/result2.want" "$T/result2.out" "stdout: result (the default), no trailing newline"

# --- stdout: lines: every output line is an item.
run lines "  - name: l
    exec: { argv: [printf, '%s-1\n%s-2\n', '{}', '{}'], stdout: lines }"
printf 'alpha-1\nalpha-2\nb e t a-1\nb e t a-2\n-1\n-2\ngamma-{}-1\ngamma-{}-2\n' >"$T/lines.want"
assert_file_eq "$T/lines.want" "$T/lines.out" "stdout: lines"
assert_eq 8 "$(summary_field sink out written)" "sink out written (stdout: lines)"

# --- stdout: discard: a terminal side effect; nothing passed on, items ok.
run discard "  - name: d
    exec: { argv: [sh, -c, 'printf \"%s\\n\" \"\$1\" >>\"\$2\"; echo noise', sh, '{}', '$T/side'], stdout: discard }"
assert_file_eq "$T/in.txt" "$T/side" "side effect of the discard stage"
assert_eq 0 "$(summary_field sink out written)" "sink out written (stdout: discard)"
assert_eq 4 "$(summary_field d ok)" "stage d ok (stdout: discard)"
[ ! -s "$T/discard.out" ] || fail "stdout: discard: the sink got: $(head -3 "$T/discard.out")"

# --- stdout: item: the input item is passed on unchanged, stdout ignored.
run item "  - name: i
    exec: { argv: [sh, -c, 'echo ignored-\$1', sh, '{}'], stdout: item }"
assert_file_eq "$T/in.txt" "$T/item.out" "stdout: item"

# --- stdin: item: the item on the child's stdin.
run stdin "  - name: s
    exec: { argv: [tr, a-z, A-Z], stdin: item, stdout: result }"
printf 'ALPHA\nB E T A\n\nGAMMA-{}\n' >"$T/stdin.want"
assert_file_eq "$T/stdin.want" "$T/stdin.out" "stdin: item through tr a-z A-Z"

# --- stdin: none: the child does not read the daemon's stdin.
echo "DAEMON-STDIN-LEAKED" >"$T/daemon-stdin"
DAEMON_STDIN=$T/daemon-stdin run stdinnone "  - name: s
    exec: { argv: [sh, -c, 'cat; echo \"end-\$1\"', sh, '{}'], stdin: none }"
assert_not_contains "$T/stdinnone.out" "LEAKED" "stdin: none output (the child read the daemon's stdin)"
printf 'end-alpha\nend-b e t a\nend-\nend-gamma-{}\n' >"$T/stdinnone.want"
assert_file_eq "$T/stdinnone.want" "$T/stdinnone.out" "stdin: none"

# --- env: added to the daemon's environment; cwd.
mkdir -p "$T/wd dir"
run env "  - name: e
    workers: 2
    exec:
      argv: [sh, -c, 'printf \"%s|%s|%s|%s\\n\" \"\$FOO\" \"\$EMPTY\" \"\$(pwd)\" \"\$SLUICE_TEST_MARK\"']
      env: { FOO: 'bar baz', EMPTY: '' }
      cwd: '$T/wd dir'"
for _ in 1 2 3 4; do echo "bar baz||$T/wd dir|$MARK"; done >"$T/env.want"
assert_file_eq "$T/env.want" "$T/env.out" "env (FOO, EMPTY and the inherited marker) and cwd"

# --- several workers: every item processed once.
seq 1 200 >"$T/in.txt"
run par "  - name: p
    workers: 8
    exec: { argv: [sh, -c, 'echo \$((\$1 * 2))', sh, '{}'] }"
seq 2 2 400 >"$T/par.want"
sort -n "$T/par.out" >"$T/par.sorted"
assert_file_eq "$T/par.want" "$T/par.sorted" "8 workers: the results as a set"
assert_eq 200 "$(summary_field p ok)" "stage p ok"
exit 0
