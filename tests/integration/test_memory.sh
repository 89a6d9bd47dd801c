#!/usr/bin/env bash
# Queues are bounded in bytes as well as items, and memory_limit is one budget
# for all of them: big items from an endless source into a slow stage keep the
# daemon's memory flat even when the item capacities are huge.
. "$(dirname "$0")/../lib.sh"

[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

pad=$(head -c 50000 /dev/zero | tr '\0' m)   # 50 KB items
for mode in max_bytes memory_limit; do
	case $mode in
	max_bytes) limits="queue: { capacity: 1000000, max_bytes: 1MiB }" ;;
	memory_limit) limits="queue: { capacity: 1000000, max_bytes: 1GiB }
memory_limit: 2MiB" ;;
	esac
	out=$T/$mode.out
	cat >"$T/$mode.yaml" <<YAML
$limits
sources:
  - { name: gen, type: generate, template: "{seq}-$pad" }
stages:
  - name: a
    builtin: { op: passthrough }
  - name: slow
    workers: 2
    # One process per 50 KB item is slow enough: the source is held back.
    exec: { argv: [sh, -c, 'echo "\$\${#1}"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $out }
YAML
	start_daemon "$T/$mode.yaml"
	wait_for '[ "$(lines "$out")" -ge 20 ]' 60 || fail "$mode: fewer than 20 items reached the sink in 60 s"
	hwm1=$(hwm_kb "$DAEMON_PID")
	wait_for '[ "$(lines "$out")" -ge 300 ]' $((60 * SCALE)) || fail "$mode: fewer than 300 items reached the sink"
	hwm2=$(hwm_kb "$DAEMON_PID")
	note "$mode: VmHWM after 20 items ${hwm1} KiB, after 300 items ${hwm2} KiB"
	slack=8192
	[ "$SLUICE_SAN" = 1 ] && slack=32768
	assert_le "$hwm2" $((hwm1 * 3 / 2 + slack)) "$mode: VmHWM (KiB) after 300 items of 50 KB, given ${hwm1} KiB after 20"
	assert_le "$hwm2" $((200 * 1024 * SCALE)) "$mode: VmHWM (KiB) with 50 KB items and a $mode bound"
	kill -TERM "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 120
	rc=$?
	assert_exit 0 "$rc" "$mode: sluiced after SIGTERM"
	check_accounting
	n=$(summary_field source gen items)
	assert_eq "$n" "$(lines "$out")" "$mode: lines written = items generated"
	# Each item is "SEQ-" + 50000 bytes: the stage saw whole items.
	minlen=$(sort -n "$out" | head -n 1)
	assert_ge "$minlen" 50002 "$mode: shortest item length seen by the stage"
done
exit 0
