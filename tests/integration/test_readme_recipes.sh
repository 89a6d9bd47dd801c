#!/usr/bin/env bash
# The README's quick start and recipes run as written: every yaml block marked
# `<!-- recipe: NAME -->` in README.md is taken from the README itself, its paths
# (/tmp/sluice-demo, and the service's /var/lib/sluice and /run/sluice) moved into
# this test's temp dir and its ports replaced by free ones; then the inputs the
# README tells the reader to make are made here (the log shipper's HTTP collector is
# the README's own python block, marked `<!-- recipe-input: collector -->`),
# `sluiced --check` passes and the pipeline gives what the README says it gives. A
# recipe marked in the README but not run here (or the other way round) fails.
. "$(dirname "$0")/../lib.sh"
require_tool jq jq
require_tool socat socat
require_tool curl curl
CTL=$(dirname "$SLUICED")/sluicectl
[ -x "$CTL" ] || fail "no sluicectl next to $SLUICED"

README=$SRC_DIR/README.md
read -r port mport hport cport < <(python3 "$PYHELPERS/net_port.py" 4 | tr '\n' ' ')

# block MARKER LANG: the README's LANG block after <!-- MARKER -->, rewritten.
block() {
	awk -v m="<!-- $1 -->" -v fence="\`\`\`$2" '
		$0 == m { want = 1; next }
		want && $0 == fence { inside = 1; want = 0; next }
		inside && /^```$/ { exit }
		inside { print }' "$README" |
		sed -e "s#/tmp/sluice-demo#$T#g" -e "s#/var/lib/sluice#$T#g" -e "s#/run/sluice#$T#g" \
			-e "s#127\.0\.0\.1:7000#127.0.0.1:$port#g" -e "s#127\.0\.0\.1:9464#127.0.0.1:$mport#g" \
			-e "s#127\.0\.0\.1:8080#127.0.0.1:$cport#g" -e "s#\"127\.0\.0\.1\", 8080#\"127.0.0.1\", $cport#g"
}

# recipe NAME: the marked yaml block as $T/NAME.yaml, checked.
recipe() {
	block "recipe: $1" yaml >"$T/$1.yaml"
	[ -s "$T/$1.yaml" ] || fail "README.md has no yaml block after <!-- recipe: $1 -->"
	"$SLUICED" --check -c "$T/$1.yaml" >"$T/$1.check" 2>&1 ||
		fail "sluiced --check on the README's recipe '$1': $(cat "$T/$1.check")"
	TESTED="$TESTED $1"
}
TESTED=

# --- quick start: five items, upper-cased, on stdout.
recipe quickstart
run_daemon "$T/quickstart.yaml"
assert_exit 0 $? "the quick start"
printf 'ITEM %s\n' 1 2 3 4 5 >"$T/want"
sort "$DAEMON_OUT" >"$T/got"
assert_file_eq "$T/want" "$T/got" "the quick start's output"

# --- fetch: URLs through the http stage against python3 -m http.server.
mkdir -p "$T/www"
for i in 1 2 3; do echo "{\"id\": $i}" >"$T/www/$i.json"; done
(cd "$T/www" && exec python3 -m http.server "$hport" --bind 127.0.0.1) >"$T/server.log" 2>&1 &
srv=$!
trap 'rc=$?; kill "$srv" 2>/dev/null; (exit $rc); _cleanup' EXIT
wait_for "curl -sf http://127.0.0.1:$hport/1.json >/dev/null" 30 || fail "http.server did not start"
printf "http://127.0.0.1:$hport/%s.json\n" 1 2 3 404 >"$T/urls.txt"
recipe fetch
run_daemon "$T/fetch.yaml"
assert_exit 1 $? "the fetch recipe (one URL is a 404)"
printf '{"id": %s}\n' 1 2 3 >"$T/want"
sort "$T/pages.jsonl" >"$T/got"
assert_file_eq "$T/want" "$T/got" "pages.jsonl"
assert_eq 1 "$(lines "$T/fetch.failed.jsonl")" "dead-lettered URLs"
assert_eq '404 3' "$(jq -r '"\(.exit_status) \(.attempts)"' "$T/fetch.failed.jsonl")" "the 404's dead letter"
kill "$srv"

# --- batch: a command per file; a failure, --resume, then --resume-failed.
mkdir -p "$T/files"
for f in a b c; do echo "hello $f" >"$T/files/$f.txt"; done
mkdir "$T/files/b.txt.up" # b's output cannot be written (even by root): it fails
recipe batch
run_daemon "$T/batch.yaml"
assert_exit 1 $? "the batch recipe with b failing"
assert_eq 'HELLO A' "$(cat "$T/files/a.txt.up")" "a.txt.up"
assert_eq 1 "$(grep -c 'failed:exit' "$T/upper.joblog")" "failed lines in the joblog"
rmdir "$T/files/b.txt.up"
run_daemon "$T/batch.yaml" --resume
assert_exit 1 $? "--resume skips the failed file and says so"
assert_contains "$DAEMON_ERR" "resume: skipped=1 item(s) that failed in an earlier run" "the summary of --resume"
[ ! -e "$T/files/b.txt.up" ] || fail "--resume ran the failed file"
run_daemon "$T/batch.yaml" --resume-failed
assert_exit 0 $? "--resume-failed"
assert_eq 'HELLO B' "$(cat "$T/files/b.txt.up")" "b.txt.up after --resume-failed"
assert_eq 1 "$(summary_field source files items)" "items --resume-failed ran"
assert_eq 3 "$(lines "$T/upper.done")" "files done over the three runs"

# --- the log shipper: a followed file to the README's own HTTP collector.
block "recipe-input: collector" python >"$T/collector.py"
grep -q "$cport" "$T/collector.py" || fail "no collector on port 8080 in README.md"
python3 "$T/collector.py" >"$T/collector.log" 2>&1 &
coll=$!
trap 'rc=$?; kill "$srv" "$coll" 2>/dev/null; (exit $rc); _cleanup' EXIT
wait_for "curl -s -o /dev/null -X POST -d '' http://127.0.0.1:$cport/" 30 || fail "the collector did not start"
rm -f "$T/collected.log"
touch "$T/app.log"
recipe shipper
start_daemon "$T/shipper.yaml"
wait_for "grep -q \"pipeline 'shipper' running\" '$DAEMON_ERR'" 30 || fail "the shipper did not start"
printf 'INFO start\nERROR disk full\nWARN slow\n' >>"$T/app.log"
wait_for "[ \"\$(lines '$T/collected.log')\" -ge 2 ]" 30 || fail "the collector got no lines"
printf 'ERROR disk full\nWARN slow\n' >"$T/want"
assert_file_eq "$T/want" "$T/collected.log" "what the collector got"
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID"
assert_exit 0 $? "the shipper after SIGTERM"
kill "$coll"

# --- fan-out: the same results on stdout and in a file.
printf 'GET /a 200\nGET /b 500\nPOST /c 200\nGET /d 503\n' >"$T/access.log"
recipe fanout
run_daemon "$T/fanout.yaml"
assert_exit 0 $? "the fan-out recipe"
printf 'GET /b 500\nGET /d 503\n' >"$T/want"
assert_file_eq "$T/want" "$DAEMON_OUT" "the console sink"
assert_file_eq "$T/want" "$T/errors.log" "the archive sink"

# --- jq as a co-process, in input order.
printf '%s\n' '{"user":"ann","items":[1,2]}' '{"user":"bob","items":[]}' \
	'{"user":"cy","items":[7]}' >"$T/events.jsonl"
recipe jq
run_daemon "$T/jq.yaml"
assert_exit 0 $? "the jq recipe"
printf '%s\n' '{"user":"ann","n":2}' '{"user":"bob","n":0}' '{"user":"cy","n":1}' >"$T/want"
assert_file_eq "$T/want" "$T/counts.jsonl" "counts.jsonl"

# --- the service: tcp with acks, metrics, sluicectl status and top, SIGTERM.
recipe service
start_daemon "$T/service.yaml"
wait_for "[ -S '$T/ingest.sock' ] && curl -sf http://127.0.0.1:$mport/health/ready >/dev/null" 30 ||
	fail "the service did not become ready"
printf 'hello\nworld\n' | socat -t 30 - "TCP:127.0.0.1:$port" >"$T/acks"
assert_eq 'ok ok' "$(tr '\n' ' ' <"$T/acks" | sed 's/ $//')" "the acks"
awk '{ print $2 }' "$T/ingest.txt" | sort >"$T/got" # 4 workers: in any order
printf 'hello\nworld\n' >"$T/want"
assert_file_eq "$T/want" "$T/got" "ingest.txt"
grep -Eq '^[0-9]+ hello$' "$T/ingest.txt" || fail "no time stamp in ingest.txt: $(cat "$T/ingest.txt")"
curl -sf "http://127.0.0.1:$mport/metrics" >"$T/metrics" || fail "GET /metrics"
assert_contains "$T/metrics" 'sluice_items_total{pipeline="ingest",stage="stamp",outcome="ok"} 2' "/metrics"
"$CTL" -c "$T/service.yaml" status >"$T/status" || fail "sluicectl -c ... status"
assert_contains "$T/status" "pipeline ingest: running" "sluicectl status"
"$CTL" -c "$T/service.yaml" top -n 1 </dev/null >"$T/top" || fail "sluicectl top -n 1"
assert_contains "$T/top" "stage stamp" "sluicectl top (not a terminal)"
send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID"
assert_exit 0 $? "the service after SIGTERM"

# Every recipe the README marks was run here.
marked=$(sed -n 's/^<!-- recipe: \(.*\) -->$/\1/p' "$README" | sort | tr '\n' ' ')
tested=$(echo "$TESTED" | tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ')
assert_eq "$marked" "$tested" "the recipes marked in README.md and the ones run here"
echo "PASS: $TEST_NAME"
