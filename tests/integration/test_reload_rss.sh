#!/usr/bin/env bash
# Many structural reloads in a row, each waited out (the verdict logged, then the
# previous pipeline finished): memory stays flat, since a retired pipeline is
# freed once it has finished. RELOADS (default 300, 100 under the sanitizers)
# sets how many.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"

# Under ASan freed memory sits in a quarantine: keep it small so RSS means something.
[ "$SLUICE_SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=4:thread_local_quarantine_size_kb=64"

# The release build, where RSS is exact (1 MiB slack), proves the flat memory over
# 300; the sanitizer build (8 MiB slack, for the allocator's quarantine) is there for
# memory errors in a reload and a retirement, which the first ones show: 100.
if [ "$SLUICE_SAN" = 1 ]; then RELOADS=${RELOADS:-100}; else RELOADS=${RELOADS:-300}; fi
WARMUP=20

write_conf() { # PATTERN: a new grep pattern changes the structure
	cat >"$T/c.yaml.tmp" <<YAML
name: rl-rss
sources:
  - { name: feed, type: generate, interval: 5ms, template: "item-{seq}" }
stages:
  - { name: keep, builtin: { op: grep, pattern: "$1" } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
	mv "$T/c.yaml.tmp" "$T/c.yaml"
}

write_conf 'item-[0-9]*0$$'
start_daemon "$T/c.yaml"
wait_running '[ "$(lines "$T/out.txt")" -ge 2 ]' 30 || fail "the first pipeline did not get going"
# One condition per reload (the previous pipeline finished) keeps each round short;
# a refused reload ends the wait at once.
finished() { grep -ac 'reload: the previous pipeline .* finished' "$DAEMON_ERR"; }
for i in $(seq 1 "$RELOADS"); do
	write_conf "item-[0-9]*$((i % 10))\$\$"
	kill -HUP "$DAEMON_PID"
	wait_running '[ "$(finished)" -ge '"$i"' ] || grep -aqE "reload:.*(needs a restart|has errors)" "$DAEMON_ERR"' 30 ||
		fail "reload $i: the previous pipeline did not finish within 30 s"
	grep -aqE "reload:.*(needs a restart|has errors)" "$DAEMON_ERR" && fail "reload $i was refused"
	if [ "$i" = "$WARMUP" ]; then
		rss1=$(rss_kb "$DAEMON_PID")
	fi
done
assert_eq "$RELOADS" "$(grep -ac 'reload: .*structure changed.*starting a new pipeline' "$DAEMON_ERR")" "structural reloads applied"
rss2=$(rss_kb "$DAEMON_PID")
note "VmRSS after $WARMUP reloads: ${rss1} KiB; after $RELOADS: ${rss2} KiB"
slack=1024
[ "$SLUICE_SAN" = 1 ] && slack=8192
assert_le "$rss2" $((rss1 + slack)) "VmRSS (KiB) after $RELOADS structural reloads, given ${rss1} KiB after $WARMUP"

n=$(lines "$T/out.txt")
wait_running '[ "$(lines "$T/out.txt")" -ge $((n + 2)) ]' 30 || fail "the last pipeline does not write"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID" 60
assert_exit 0 $? "sluiced after SIGTERM"
check_accounting
exit 0
