#!/usr/bin/env bash
# Items are never passed through a shell: metacharacters reach the command as
# one literal argv element, and nothing they "say" happens.
. "$(dirname "$0")/../lib.sh"
DUMP=$HELPERS/argv-dump
[ -x "$DUMP" ] || fail "helper $DUMP not built"

mkdir -p "$T/home"
cat >"$T/in.txt" <<ITEMS
\$(touch $T/pwned1); rm -rf $T/home
\`touch $T/pwned2\`
a; touch $T/pwned3
a && touch $T/pwned4 || touch $T/pwned4
a | tee $T/pwned5
a > $T/pwned6
*
~
'single' "double" \\backslash
\$HOME \${PATH} {seq} {source} {}
	tab	and  two  spaces
ITEMS
n=$(lines "$T/in.txt")

cat >"$T/c.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: dump
    exec: { argv: [$DUMP, '{}'], stdout: lines }
  - name: keep
    builtin: { op: grep, pattern: "^argv\\\\[1\\\\]=" }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
run_daemon "$T/c.yaml"
rc=$?
assert_exit 0 "$rc" "sluiced"
check_accounting

# Expected: each item verbatim as argv[1] (argv-dump escapes \ and tabs).
while IFS= read -r item; do
	esc=$(printf '%s' "$item" | sed -e 's/\\/\\x5c/g' -e 's/\t/\\x09/g')
	printf 'argv[1]=<%s>\n' "$esc"
done <"$T/in.txt" >"$T/want.txt"
assert_file_eq "$T/want.txt" "$T/out.txt" "argv[1] as received"

for i in 1 2 3 4 5 6; do
	[ ! -e "$T/pwned$i" ] || fail "an item was run through a shell: $T/pwned$i exists"
done
[ -d "$T/home" ] || fail "an item was run through a shell: $T/home was removed"
exit 0
