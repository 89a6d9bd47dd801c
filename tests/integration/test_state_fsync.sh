#!/usr/bin/env bash
# State files follow journal.fsync (issue 11), off the event loop: with batch, a file
# source's checkpoint is fdatasync'ed at most once per batch window (10 ms), never
# twice at once; with always, after commits, never twice at once either. The
# generator's next-number file is replaced atomically (tmp, fsync, rename, fsync of
# the directory; no fsync with never). strace -f -tt -y names each synced file.
. "$(dirname "$0")/../lib.sh"

require_strace

# syncs TRACE TEXT MAIN_TID: "N SPAN_MS MOST MAIN": the fdatasync/fsync calls whose
# file (strace -y) ends in TEXT, the ms from the first to the last, the most in flight at once
# (strace splits a call into <unfinished ...> and "resumed" when another task runs
# meanwhile) and how many the main thread made (its TID is the daemon's pid).
syncs() {
	PAT=$2 awk -v main="$3" '
	function ms(t,  a) { split(t, a, ":"); return (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 }
	$3 ~ /^f(data)?sync\(/ && index($3, ENVIRON["PAT"] ">") {
		n++; t = ms($2); if (n == 1) first = t; last = t
		if ($1 == main) onmain++
		if ($0 ~ /<unfinished/) { open[$1] = 1; now++; if (now > most) most = now }
		else if (most < 1) most = 1
	}
	/<\.\.\. f(data)?sync resumed>/ && open[$1] { open[$1] = 0; now-- }
	END { printf "%d %d %d %d\n", n, last - first, most, onmain }' "$1"
}

traced() { # CONF: runs sluiced -c CONF under strace into $T/trace
	rm -f "$T/trace"
	local rc
	env SLUICE_TEST_MARK="$MARK" strace -f -qq -tt -y -e trace=fdatasync,fsync,rename \
		-o "$T/trace" "$SLUICED" -c "$1" >"$T/out" 2>"$T/err"
	rc=$?
	DAEMON_ERR=$T/err
	# The process's own TID (the main thread's) is the smallest: threads come later.
	MAIN=$(awk '{ print $1 }' "$T/trace" | sort -n | head -n 1)
	return $rc
}

# ---- a paced file source: many commits, each loop iteration finishing records ----
N=2000
seq 1 "$N" >"$T/in.txt"
for mode in batch always; do
	rm -rf "$T/st" "$T/o.txt"
	cat >"$T/c.yaml" <<YAML
state_dir: $T/st
journal: { fsync: $mode }
sources:
  - { name: in, type: file, path: $T/in.txt }
stages:
  - { name: pace, rate: 1000/s, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/o.txt }
YAML
	traced "$T/c.yaml"
	assert_exit 0 $? "sluiced with journal.fsync: $mode"
	assert_eq "$N" "$(lines "$T/o.txt")" "records written (fsync: $mode)"
	read -r n span most onmain < <(syncs "$T/trace" /in.checkpoint "$MAIN")
	note "fsync: $mode: $n checkpoint syncs over ${span} ms, at most $most at once, $onmain on the main thread"
	assert_ge "$n" 2 "checkpoint syncs with fsync: $mode"
	assert_eq 1 "$most" "checkpoint syncs in flight at once (fsync: $mode)"
	# At the stop, once the bio pool is shut down, the main thread syncs what the
	# closing sinks finished and the source's last commit: no loop is served then.
	assert_le "$onmain" 2 "checkpoint syncs on the main thread (fsync: $mode)"
	if [ "$mode" = batch ]; then
		# Each sync starts a window after the one before it began (timers never fire
		# early): n syncs span at least (n - 2) windows, the last being the stop's.
		# One window of slack for when strace saw the first and the last.
		assert_le $((n - 2)) $((span / 10 + 1)) "checkpoint syncs for ${span} ms of batch windows"
	fi
done

# ---- the generator's next number: replaced atomically, synced as journal.fsync says ----
for mode in batch never; do
	rm -rf "$T/st" "$T/o.txt"
	cat >"$T/g.yaml" <<YAML
state_dir: $T/st
journal: { fsync: $mode }
sources:
  - { name: gen, type: generate, count: 300, interval: 1ms }
sinks:
  - { name: out, type: file, path: $T/o.txt }
YAML
	traced "$T/g.yaml"
	assert_exit 0 $? "generate with journal.fsync: $mode"
	assert_eq 300 "$(lines "$T/o.txt")" "items generated (fsync: $mode)"
	assert_eq 300 "$(sed 's/^0*//' "$T/st/generate.gen.next")" "the kept count (fsync: $mode)"
	[ -e "$T/st/generate.gen.next.tmp" ] && fail "the temporary file was left behind"
	renames=$(grep -c "rename(\"$T/st/generate.gen.next.tmp\", \"$T/st/generate.gen.next\"" "$T/trace")
	read -r nfile _ mostf onmain < <(syncs "$T/trace" /generate.gen.next.tmp "$MAIN")
	read -r ndir _ _ _ < <(syncs "$T/trace" "$T/st" "$MAIN")
	note "fsync: $mode: $renames renames, $nfile syncs of the new file, $ndir of the directory, $onmain on the main thread"
	assert_ge "$renames" 1 "renames of generate.gen.next.tmp (fsync: $mode)"
	if [ "$mode" = never ]; then
		assert_eq 0 "$nfile" "syncs of the count file (fsync: never)"
		assert_eq 0 "$ndir" "syncs of the state directory (fsync: never)"
	else
		assert_eq "$renames" "$nfile" "a sync of the new count file before each rename"
		assert_ge "$ndir" "$renames" "a sync of the state directory after each rename"
		assert_le "$mostf" 1 "count file syncs in flight at once"
		assert_le "$onmain" 2 "count file syncs on the main thread (at the stop)"
	fi
done
exit 0
