#!/usr/bin/env bash
# The crash driver's smoke (issue 11): a followed file -> exec stage (3 workers) ->
# file sink with state_dir, SIGKILLed 15 times at seeded random moments while the
# file grows, about half the runs with journal.fsync: batch (checkpoint syncs) and
# some kills aimed at a checkpoint append or an fdatasync in progress: no record
# lost, at most 10 duplicates per kill, a graceful restart repeats none.
# scripts/stress/crash-file runs the long version.
. "$(dirname "$0")/../lib.sh"

san=()
[ "$SLUICE_SAN" = 1 ] && san=(--san)
SLUICE_TEST_MARK=$MARK python3 "$SRC_DIR/scripts/stress/crash-file" --seed "${SEED:-11}" \
	--kills 15 --time-bound 400 --sluiced "$SLUICED" --out "$T/run" "${san[@]}" >"$T/report" 2>&1
rc=$?
cat "$T/report"
assert_exit 0 "$rc" "scripts/stress/crash-file (seed ${SEED:-11}; $T/run)"
assert_contains "$T/report" "kills=15 " "all 15 kills happened within the time bound"
aimed=$(grep -o 'aimed=[0-9]*' "$T/report" | cut -d= -f2)
synced=$(grep -o 'fsync_runs=[0-9]*' "$T/report" | cut -d= -f2)
assert_ge "$aimed" 1 "kills aimed at a checkpoint append or an fdatasync"
assert_ge "$synced" 1 "runs with journal.fsync: batch"
exit 0
