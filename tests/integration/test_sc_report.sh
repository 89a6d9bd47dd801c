#!/usr/bin/env bash
# The error report: failures of several kinds (exit status 3, killed by signal 9,
# timeout, a missing command (spawn), output_too_large) in two stages give one
# group per stage and kind, with the right counts. With --log-format json the
# report is one JSON object on one line starting with {"report":.
. "$(dirname "$0")/../lib.sh"

# 4 x exit 3, 2 x SIGKILL, 2 x timeout (one ends at SIGTERM, one needs SIGKILL:
# still one kind, one group), 6 x output_too_large (three commands exit by
# themselves, three are stopped: one group), 5 that pass stage 'run' and then
# fail to spawn in stage 'missing'.
printf '%s\n' e3a ok1 big1 e3b k9a hang stubborn ok2 big4 big2 e3c ok3 big5 k9b e3d big3 big6 ok4 ok5 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
max_item_bytes: 1KiB
shutdown: { kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: run
    workers: 4
    timeout: 1s
    on_failure: dead_letter
    exec:
      argv:
        - sh
        - -c
        - |
          case \$1 in
          e3*) echo "no good: \$1" >&2; exit 3 ;;
          k9*) kill -KILL \$\$\$\$ ;;
          hang) sleep 1000 & wait ;;                 # timeout: ends at SIGTERM
          stubborn) trap '' TERM; sleep 1000 & wait ;; # timeout: needs SIGKILL
          big[123]) yes | head -c 5000; exit 0 ;;   # writes too much, then exits
          big[456]) yes ;;                          # writes too much until stopped
          esac
          echo "\$1"
        - sh
        - "{}"
  - name: missing
    workers: 2
    exec: { argv: [no-such-command-sluice-sc, "{}"] }
    on_failure: skip
sinks:
  - { name: out, type: file, path: $T/out.txt }
dead_letter: { type: file, path: $T/dead.jsonl }
YAML

want_groups() {
	cat <<'EOF'
  missing: spawn: 5 item(s)
  run: exit status 3: 4 item(s)
  run: killed by signal 9: 2 item(s)
  run: output_too_large: 6 item(s)
  run: timeout: 2 item(s)
EOF
}

run_daemon "$T/c.yaml"
rc=$?
assert_exit 1 "$rc" "sluiced (19 items fail in 5 ways)"
check_accounting
assert_eq 14 "$(summary_field run failed)" "stage run failed"
assert_eq 5 "$(summary_field run ok)" "stage run ok"
assert_eq 5 "$(summary_field missing failed)" "stage missing failed"
[ ! -s "$T/out.txt" ] || fail "output written: $(head -3 "$T/out.txt")"
grep -aqx 'error report: 19 item(s) failed' "$DAEMON_ERR" || fail "no line 'error report: 19 item(s) failed'"
grep -aE '^  [^ ].*: [0-9]+ item\(s\)$' "$DAEMON_ERR" | sort >"$T/groups.txt"
want_groups >"$T/want-groups.txt"
assert_file_eq "$T/want-groups.txt" "$T/groups.txt" "the error report's groups (stage: kind: count)"
# Examples: at most three per group, then a count of the rest.
grep -aA12 '^  run: exit status 3: 4 item(s)$' "$DAEMON_ERR" | grep -aq '^    \.\.\. and 1 more$' ||
	fail "the group of 4 exit-status-3 failures should show 3 examples and '... and 1 more'"
assert_contains "$DAEMON_ERR" "no good: e3" "stderr (the report's stderr tails)"
assert_contains "$DAEMON_ERR" "no-such-command-sluice-sc" "stderr (names the missing command)"
# The dead letter file agrees (stage run only: stage missing skips).
assert_eq "4 exit|6 output_too_large|2 signal|2 timeout" \
	"$(jsonl "$T/dead.jsonl" field error | sort | uniq -c | sed 's/^ *//' | tr '\n' '|' | sed 's/|$//')" "dead letter kinds"

# The same with --log-format json: the summary is one JSON line, with the report in it
# ({"summary": {..., "report": ...}}), and its stages keep the item accounting.
run_daemon "$T/c.yaml" --log-format json
rc=$?
assert_exit 1 "$rc" "sluiced --log-format json"
n=$(grep -ac '"summary":{' "$DAEMON_ERR")
assert_eq 1 "$n" "JSON summary lines on stderr"
grep -a '"summary":{' "$DAEMON_ERR" | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["summary"]
for st in s["stages"]:
    assert st["in"] == st["ok"] + st["failed"] + st["dropped"] + st["in_flight"] + st["queued"], st
print(json.dumps({"report": s["report"]}))' >"$T/report.json" || fail "the JSON summary does not parse, or its accounting is broken"
python3 - "$T/report.json" >"$T/json-groups.txt" <<'PY' || fail "the JSON report does not parse or lacks fields: $(cat "$T/json-groups.txt")"
import json, sys
line = open(sys.argv[1], encoding="utf-8").read()
assert line.endswith("\n") and line.count("\n") == 1, "not exactly one line"
doc = json.loads(line)
assert isinstance(doc, dict) and list(doc) == ["report"], "no report in the summary: %r" % list(doc)
rep = doc["report"]
total = None
for k in ("failed", "total", "items", "count"):
    if isinstance(rep.get(k), int):
        total = rep[k]
        break
assert total == 19, "total failed %r, expected 19: %r" % (total, rep)
groups = rep["groups"]
names = {"exit": "exit status %s", "signal": "killed by signal %s"}
for g in groups:
    kind = g["kind"]
    if kind == "exit":
        title = "exit status %d" % g["exit_status"]
    elif kind == "signal":
        title = "killed by signal %d" % g["signal"]
    else:
        title = kind
    print("  %s: %s: %d item(s)" % (g["stage"], title, g["count"]))
PY
sort "$T/json-groups.txt" >"$T/json-groups.sorted"
assert_file_eq "$T/want-groups.txt" "$T/json-groups.sorted" "the JSON report's groups (stage: kind: count)"
# In JSON mode the text report is not printed as well.
if grep -aq '^error report:' "$DAEMON_ERR"; then fail "with --log-format json the text report is printed too"; fi
assert_no_leftovers 10
exit 0
