#!/usr/bin/env bash
# when_full: drop_newest / drop_oldest: a full queue drops instead of blocking;
# drops are counted (stage dropped=N), logged, and make the exit code 1.
. "$(dirname "$0")/../lib.sh"

seq -f 'l%03g' 1 100 >"$T/in.txt"

for mode in drop_newest drop_oldest; do
	cat >"$T/$mode.yaml" <<YAML
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - name: slow
    queue: { capacity: 3, when_full: $mode }
    exec: { argv: [sh, -c, 'sleep 0.2; echo "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/$mode.out }
YAML
	run_daemon "$T/$mode.yaml"
	rc=$?
	assert_exit 1 "$rc" "$mode (items were dropped)"
	check_accounting
	in=$(summary_field slow in)
	ok=$(summary_field slow ok)
	dropped=$(summary_field slow dropped)
	assert_eq 100 "$in" "$mode: stage slow in"
	assert_eq 0 "$(summary_field slow failed)" "$mode: stage slow failed"
	assert_ge "$dropped" 1 "$mode: stage slow dropped"
	assert_eq 100 "$((ok + dropped))" "$mode: ok + dropped"
	assert_eq "$ok" "$(lines "$T/$mode.out")" "$mode: lines written"
	assert_le "$ok" 99 "$mode: items processed"
	# What got through is in input order, no duplicates.
	sort -u "$T/$mode.out" >"$T/$mode.sorted"
	assert_file_eq "$T/$mode.sorted" "$T/$mode.out" "$mode: output in input order without duplicates"
	grep -aqi 'drop' "$DAEMON_ERR" || fail "$mode: drops are not logged"
	case $mode in
	drop_newest) assert_eq l001 "$(head -n 1 "$T/$mode.out")" "drop_newest: the first item is never dropped; first line" ;;
	drop_oldest) assert_eq l100 "$(tail -n 1 "$T/$mode.out")" "drop_oldest: the last item is never dropped; last line" ;;
	esac
done

# block (the default) never drops.
sed 's/when_full: drop_oldest/when_full: block/; s/sleep 0.2/sleep 0.01/' "$T/drop_oldest.yaml" | sed "s|$T/drop_oldest.out|$T/block.out|" >"$T/block.yaml"
run_daemon "$T/block.yaml"
rc=$?
assert_exit 0 "$rc" "when_full: block"
check_accounting
assert_eq 0 "$(summary_field slow dropped)" "block: dropped"
assert_file_eq "$T/in.txt" "$T/block.out" "block: output"
exit 0
