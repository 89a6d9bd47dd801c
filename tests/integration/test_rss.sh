#!/usr/bin/env bash
# Backpressure from an endless generator into a slow exec stage: memory stays
# flat (VmHWM after many items is not much above VmHWM after a few), and a
# graceful stop still drains everything read.
. "$(dirname "$0")/../lib.sh"

# Under ASan freed memory sits in a quarantine: keep it small so RSS means something.
[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

pad=$(head -c 400 /dev/zero | tr '\0' p)
cat >"$T/c.yaml" <<YAML
memory_limit: 8MiB
# The drain of what was read (a few hundred items, one process each) is what is
# checked, not how fast it is: on a loaded machine it can take longer than the
# default 30 s grace.
shutdown: { grace: 200s }
sources:
  - { name: gen, type: generate, template: "item-{seq}-$pad" }
stages:
  - name: slow
    workers: 2
    # One process per item (no sleep, no pipe): still far slower than the source,
    # which must be held back. 1,000 items go through in seconds, and the drain of
    # what was read (a full queue) in a second or two.
    exec: { argv: [sh, -c, 'printf "%.20s\\n" "\$1"', sh, "{}"] }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
start_daemon "$T/c.yaml"
wait_for '[ "$(lines "$T/out.txt")" -ge 50 ]' 60 || fail "fewer than 50 items reached the sink in 60 s"
hwm1=$(hwm_kb "$DAEMON_PID")
rss1=$(rss_kb "$DAEMON_PID")
wait_for '[ "$(lines "$T/out.txt")" -ge 1000 ]' $((60 * SCALE)) || fail "fewer than 1000 items reached the sink"
hwm2=$(hwm_kb "$DAEMON_PID")
rss2=$(rss_kb "$DAEMON_PID")
note "after 50 items: VmRSS ${rss1} KiB VmHWM ${hwm1} KiB; after 1000: VmRSS ${rss2} KiB VmHWM ${hwm2} KiB"
slack=4096
[ "$SLUICE_SAN" = 1 ] && slack=16384
assert_le "$hwm2" $((hwm1 * 3 / 2 + slack)) "VmHWM (KiB) after 1000 items, given ${hwm1} KiB after 50 (endless source must be held back)"
assert_le "$rss2" $((hwm1 * 3 / 2 + slack)) "VmRSS (KiB) after 1000 items, given VmHWM ${hwm1} KiB after 50"

kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 240
rc=$?
assert_exit 0 "$rc" "sluiced after SIGTERM (endless source, graceful)"
check_accounting
n=$(summary_field source gen items)
assert_eq "$n" "$(summary_field sink out written)" "sink written = source items after the drain"
assert_eq "$n" "$(lines "$T/out.txt")" "lines in the sink file = source items"
exit 0
