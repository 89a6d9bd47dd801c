#!/usr/bin/env bash
# sluiced --schema prints a JSON Schema (draft 2020-12) of the pipeline file, made
# from the loader's own key tables. Every conf/*.yaml and every YAML example of
# README.md and sluice.yaml(5) is valid against it; a misspelt key, a wrong enum
# value, a wrong type, a key of another kind and a stage with two kinds are not
# (and sluiced --check refuses each as well). The key reference of sluice.yaml(5)
# and the schema name the same keys.
. "$(dirname "$0")/../lib.sh"
require_tool python3 python3
python3 -c 'import jsonschema, yaml' 2>/dev/null ||
	require_tool missing-python3-jsonschema "python3-jsonschema python3-yaml"
CHECK="$SRC_DIR/tests/helpers/schema_check.py"

"$SLUICED" --schema >"$T/schema.json" 2>"$T/schema.err"
rc=$?
DAEMON_ERR=$T/schema.err
assert_exit 0 "$rc" "sluiced --schema"
grep -q '"\$schema": "https://json-schema.org/draft/2020-12/schema"' "$T/schema.json" ||
	fail "sluiced --schema: no draft 2020-12 \$schema line"

python3 "$CHECK" "$T/schema.json" examples "$SRC_DIR"/conf/*.yaml "$SRC_DIR/README.md" \
	"$SRC_DIR/man/sluice.yaml.5" >"$T/ex.out" 2>&1 ||
	{ grep -v ': valid$' "$T/ex.out"; fail "an example is not valid against sluiced --schema"; }
n=$(grep -c ': valid$' "$T/ex.out")
[ "$n" -ge 10 ] || { cat "$T/ex.out"; fail "only $n examples were checked (README, man page and conf/ hold more)"; }
note "$n examples valid"

# A valid file with values from the environment: "${...}" stands for any type.
cat >"$T/ok.yaml" <<'YAML'
name: ok
queue: { capacity: "${CAP:-10}", when_full: drop_oldest }
shutdown: { grace: 5s, kill_after: 0 }
sources:
  - { name: g, type: generate, count: 3, interval: "${IV:-0s}" }
  - { name: d, type: dir, path: /tmp/in, delete: yes }
stages:
  - { name: s, workers: 2, exec: { argv: [cat], stdout: lines }, max_failures: 5% }
  - { name: b, builtin: { op: grep, pattern: x }, rate: 10/s, burst: 2 }
sinks:
  - { name: o, type: http, url: "http://h:1/p", timeout: 5s, batch: { max_bytes: 64KiB } }
YAML
python3 "$CHECK" "$T/schema.json" examples "$T/ok.yaml" >"$T/ok.out" 2>&1 ||
	{ cat "$T/ok.out"; fail "a valid file is refused by the schema"; }

# Each of these is refused by the schema and by the loader.
bad() { # NAME WHAT: $T/NAME.yaml from stdin
	cat >"$T/$1.yaml"
	python3 "$CHECK" "$T/schema.json" invalid "$T/$1.yaml" >"$T/$1.out" 2>&1 ||
		{ cat "$T/$1.out"; fail "the schema accepts $2"; }
	note "schema refuses $2: $(cut -c1-160 "$T/$1.out")"
	"$SLUICED" --check --no-environment -c "$T/$1.yaml" >/dev/null 2>"$T/$1.err"
	assert_exit 78 $? "sluiced --check on $2"
}
bad misspelt "a misspelt key" <<'YAML'
sources:
  - { name: g, type: generate }
stages:
  - { name: s, wrokers: 2, exec: { argv: [cat] } }
sinks:
  - { name: o, type: stdout }
YAML
bad enum "a wrong enum value" <<'YAML'
queue: { when_full: drop_all }
sources:
  - { name: g, type: generate }
sinks:
  - { name: o, type: stdout }
YAML
bad type "a wrong type" <<'YAML'
sources:
  - { name: f, type: file, path: /tmp/x, follow: 3 }
sinks:
  - { name: o, type: stdout }
YAML
bad kind "a key of another kind" <<'YAML'
sources:
  - { name: f, type: file, path: /tmp/x, listen: "127.0.0.1:1" }
sinks:
  - { name: o, type: stdout }
YAML
bad twokinds "a stage with two kinds" <<'YAML'
sources:
  - { name: g, type: generate }
stages:
  - { name: s, exec: { argv: [cat] }, builtin: { op: passthrough } }
sinks:
  - { name: o, type: stdout }
YAML
bad needs "a kind without its required key" <<'YAML'
sources:
  - { name: g, type: generate }
sinks:
  - { name: o, type: tcp }
YAML

# The key reference of sluice.yaml(5) against the schema, both ways.
python3 "$CHECK" "$T/schema.json" manpage "$SRC_DIR/man/sluice.yaml.5" >"$T/man.out" 2>&1 ||
	{ cat "$T/man.out"; fail "sluice.yaml(5) and sluiced --schema disagree on the keys"; }
note "$(tail -1 "$T/man.out")"
# ... and the check sees a key dropped from the page and a key the schema lacks.
sed -e '/^\.B shield$/d' -e 's/^\.B ordered$/.B orderly/' "$SRC_DIR/man/sluice.yaml.5" >"$T/man.5"
if python3 "$CHECK" "$T/schema.json" manpage "$T/man.5" >"$T/man2.out" 2>&1; then
	fail "the man page check accepts a page without 'shield' and with 'orderly'"
fi
grep -q "key 'shield' of the schema is not documented" "$T/man2.out" ||
	{ cat "$T/man2.out"; fail "the man page check does not name the undocumented key 'shield'"; }
grep -q "'orderly' is documented as a key but the schema has no such key" "$T/man2.out" ||
	{ cat "$T/man2.out"; fail "the man page check does not name the unknown key 'orderly'"; }
exit 0
