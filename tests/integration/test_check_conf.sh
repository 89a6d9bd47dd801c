#!/usr/bin/env bash
# --check on every file in conf/ (exit 0), and on a config that uses every key
# implemented: exit 0, the resolved pipeline printed with defaults filled in,
# and that output is itself a valid config.
. "$(dirname "$0")/../lib.sh"

chk() { env SLUICE_TEST_MARK="$MARK" timeout -k 5 60 "$SLUICED" "$@" >"$T/o" 2>"$T/e" </dev/null; }

n=0
for f in "$SRC_DIR"/conf/*.yaml "$SRC_DIR"/conf/*.yml; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	chk --check --no-environment -c "$f"; rc=$?
	[ "$rc" = 0 ] || { head -20 "$T/e"; fail "sluiced --check -c conf/$(basename "$f"): expected exit 0, got $rc"; }
	[ -s "$T/o" ] || fail "sluiced --check -c conf/$(basename "$f"): printed no resolved pipeline on stdout"
	cp "$T/o" "$T/resolved.yaml"
	chk -t --no-environment -c "$T/resolved.yaml"; rc=$?
	[ "$rc" = 0 ] || { cat "$T/resolved.yaml"; head "$T/e"; fail "the --check output of conf/$(basename "$f") is not a valid config (exit $rc)"; }
done
note "checked $n file(s) in conf/"

cat >"$T/full.yaml" <<YAML
name: everything
queue:
  capacity: 100
  max_bytes: 1MiB
  when_full: block
memory_limit: 64MiB
max_item_bytes: 64KiB
shutdown:
  grace: 10s
  kill_after: 2s
  spool: $T/spool
deadline: 1h
sources:
  - name: f
    type: file
    path: $T/in.txt
    follow: false
    framing: lines
  - name: s
    type: stdin
    framing: nul
  - name: e
    type: exec
    argv: [seq, "1", "10"]
    framing: lines
  - name: g
    type: generate
    count: 10
    interval: 10ms
    template: "item-{seq}"
stages:
  - name: run
    workers: 4
    queue: { capacity: 10, max_bytes: 64KiB, when_full: drop_oldest }
    exec:
      argv: [echo, "{}", "{seq}", "{source}"]
      stdin: item
      stdout: lines
      env: { FOO: bar, "BAZ": "1" }
      cwd: /tmp
    timeout: 30s
    on_failure: dead_letter
  - name: keep
    builtin: { op: grep, pattern: "^[0-9]+", invert: true }
    on_failure: skip
  - name: pass
    workers: 2
    builtin: { op: passthrough }
    on_failure: cancel
sinks:
  - { name: out, type: file, path: $T/out.txt, fsync: batch }
  - { name: so, type: stdout }
  - { name: nul, type: discard }
dead_letter:
  type: file
  path: $T/dead.jsonl
log:
  level: debug
  format: json
YAML
chk --check --no-environment -c "$T/full.yaml"; rc=$?
[ "$rc" = 0 ] || { head -20 "$T/e"; fail "--check on a config using every implemented key: expected exit 0, got $rc"; }
cp "$T/o" "$T/resolved.yaml"
for want in everything drop_oldest dead_letter "$T/dead.jsonl" "$T/spool" FOO; do
	assert_contains "$T/resolved.yaml" "$want" "--check output"
done
chk --check --no-environment -c "$T/resolved.yaml"; rc=$?
[ "$rc" = 0 ] || { cat "$T/resolved.yaml"; head "$T/e"; fail "the --check output is not itself a valid config (exit $rc)"; }

# Defaults are filled in: a minimal file resolves to the documented defaults.
cat >"$T/min.yaml" <<YAML
sources:
  - { name: g, type: generate, count: 1 }
stages:
  - { name: st, exec: { argv: [cat] } }
sinks:
  - { name: out, type: discard }
YAML
chk -t -c "$T/min.yaml"; rc=$?
assert_exit 0 "$rc" "--check min.yaml"
cp "$T/o" "$T/min-resolved.yaml"
for key in capacity max_bytes when_full memory_limit max_item_bytes grace kill_after workers on_failure stdout; do
	grep -aq "$key:" "$T/min-resolved.yaml" || { cat "$T/min-resolved.yaml"; fail "--check output does not show the default for '$key'"; }
done
grep -aqE '^name: "?min"?$' "$T/min-resolved.yaml" || { cat "$T/min-resolved.yaml"; fail "--check output: the default name should be the file's base name 'min'"; }
# --check does not run anything: the generator never produced, no child ran.
[ ! -e "$T/out.txt" ] || fail "--check created the sink file: it must not run the pipeline"
exit 0
