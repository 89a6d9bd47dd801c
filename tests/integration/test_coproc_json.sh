#!/usr/bin/env bash
# coprocess framing: json: each request is {"id":SEQ,"item":"..."} and each answer
# one JSON object that echoes the id, so an answer can never be taken for another
# item's. Against jq itself (multi-valued output folded into one answer, a per-item
# {"error": ...} that fails that item alone, items holding newlines); a process whose
# answers are out of step is replaced and the item fails, naming both ids. With
# framing: lines, a process that prints no line for an item is named as the cause.
. "$(dirname "$0")/../lib.sh"
require_tool jq jq

cat >"$T/in.jsonl" <<'JSONL'
{"n":1,"tags":["a","b"]}
{"n":2,"tags":[]}
{"n":3,"tags":["x"]}
{"n":4,"tags":["multi\nline"]}
{"n":5,"tags":["z"]}
JSONL
cat >"$T/jq.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.jsonl }
stages:
  - name: tags
    workers: 2
    coprocess:
      framing: json
      argv: [jq, -c, --unbuffered, 'if (.item | fromjson | .n) == 3 then {id, error: "no tags for 3"} else {id, result: (.item | fromjson | .tags | join(","))} end']
    on_failure: dead_letter
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML
run_daemon "$T/jq.yaml"
assert_exit 1 "$?" "jq co-process with one item answered as an error"
check_accounting
assert_eq 4 "$(summary_field tags ok)" "items ok"
assert_eq 1 "$(summary_field tags failed)" "items failed"
assert_eq 0 "$(grep -c 'restarted' "$DAEMON_ERR")" "restarts (an error answer keeps the process)"
assert_contains "$DAEMON_ERR" "answered an error: no tags for 3" "the failed item's log line"
assert_contains "$T/dead.jsonl" "no tags for 3" "the dead letter"
# Results: "a,b", "", "multi\nline" (two lines in the file), "z".
assert_eq 5 "$(lines "$T/out.txt")" "lines written"
grep -qx 'a,b' "$T/out.txt" || fail "no 'a,b' result"
grep -qx 'multi' "$T/out.txt" && grep -qx 'line' "$T/out.txt" || fail "the item holding a newline did not come through"

# Out of step: the helper answers item 2 with item 3's id.
cat >"$T/skew.py" <<'PY'
import json, sys
for line in sys.stdin:
    req = json.loads(line)
    i = req["id"] + (1 if req["item"] == "b" else 0)
    sys.stdout.write(json.dumps({"id": i, "result": "got " + req["item"]}) + "\n")
    sys.stdout.flush()
PY
printf 'a\nb\nc\n' >"$T/abc.txt"
cat >"$T/skew.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/abc.txt }
stages:
  - { name: s, coprocess: { framing: json, argv: [python3, $T/skew.py] } }
sinks:
  - { name: out, type: file, path: $T/skew.out }
YAML
run_daemon "$T/skew.yaml"
assert_exit 1 "$?" "a co-process out of step"
assert_eq 2 "$(summary_field s ok)" "items ok (a and c)"
assert_contains "$DAEMON_ERR" "answered id 3 to the request with id 2: its answers are out of step" "the log"
assert_contains "$DAEMON_ERR" "restarted for the next item" "the process is replaced"
assert_eq "got a|got c" "$(sort "$T/skew.out" | tr '\n' '|' | sed 's/|$//')" "results"

# framing: lines, a filter that prints nothing for one item: the timeout names it.
cat >"$T/drop.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/abc.txt }
stages:
  - name: s
    timeout: 1s
    coprocess: { argv: [grep, --line-buffered, -v, b] }
sinks:
  - { name: out, type: file, path: $T/drop.out }
YAML
run_daemon "$T/drop.yaml"
assert_exit 1 "$?" "a lines co-process that drops a line"
assert_contains "$DAEMON_ERR" "it had printed no line for this item (framing: lines needs exactly one line per item" "the hint"
exit 0
