#!/usr/bin/env bash
# Spools whose lengths are damaged (issue 9, item 2): a record that claims 1 TiB
# (xmalloc aborted at every start: a crash loop, leaving SPOOL.merge.tmp), one
# over max_item_bytes, a length of -1, one past the end of the file, a count
# that is not a number: each spool (and a damaged SPOOL.replaying alike) is set
# aside as SPOOL.corrupt-TIME with the reason logged, nothing of it is replayed,
# no .merge.tmp is left, and the new input runs. A good spool still replays.
. "$(dirname "$0")/../lib.sh"

cat >"$T/job.yaml" <<YAML
max_item_bytes: 100
shutdown: { spool: $T/job.spool, kill_after: 1s }
sources:
  - { name: in, type: file, path: $T/new.txt }
stages:
  - { name: work, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
YAML
seq -f 'new%02g' 1 5 >"$T/new.txt"

# spool FILE [RECORD-HEADER-TAIL DATA]... END: writes a spool by hand
spool() {
	local f=$1
	shift
	printf 'SLUICE-SPOOL 1\n' >"$f"
	while [ $# -gt 1 ]; do
		printf 'R work in %s\n%s\n' "$1" "$2" >>"$f"
		shift 2
	done
	printf '%s\n' "$1" >>"$f"
}

# start_damaged WHAT WHY: the spool in place is set aside for WHY; the new input runs
start_damaged() {
	local what=$1 why=$2
	rm -f "$T/out.txt" "$T"/job.spool.corrupt-*
	run_daemon "$T/job.yaml"
	rc=$?
	assert_exit 0 "$rc" "$what: sluiced"
	check_accounting
	assert_file_eq "$T/new.txt" "$T/out.txt" "$what: output (the new input only)"
	assert_contains "$DAEMON_ERR" "is damaged ($why)" "$what: the log says why"
	ls "$T"/job.spool*.corrupt-* >/dev/null 2>&1 || fail "$what: the damaged spool was not set aside: $(ls "$T")"
	[ ! -e "$T/job.spool" ] || fail "$what: the damaged spool is still in place"
	[ -z "$(ls "$T"/job.spool.merge* 2>/dev/null)" ] || fail "$what: left behind: $(ls "$T"/job.spool.merge*)"
	[ ! -e "$T/job.spool.replaying" ] || fail "$what: a .replaying file is left"
}

spool "$T/job.spool" "1 1 0 5" hello "2 2 0 1099511627776" tiny "E 2"
start_damaged "1 TiB record" "a record of 1099511627776 bytes, over max_item_bytes (100)"
spool "$T/job.spool" "1 1 0 5" hello "2 2 0 150" "$(head -c 150 /dev/zero | tr '\0' z)" "E 2"
start_damaged "a record over max_item_bytes" "a record of 150 bytes, over max_item_bytes (100)"
spool "$T/job.spool" "1 1 0 -1" hello "E 1"
start_damaged "length -1" "bad record header"
spool "$T/job.spool" "1 1 0 5" hello "2 2 0 90" short "E 2"
start_damaged "a length past the end of the file" "truncated record"
spool "$T/job.spool" "1 1 0 5" hello "E -1"
start_damaged "a count of -1" "bad end record"
spool "$T/job.spool.replaying" "9 9 0 99999999999999999999999" x "E 1"
spool "$T/job.spool" "1 1 0 5" hello "2 2 0 5" world "E 2"
rm -f "$T/out.txt"
run_daemon "$T/job.yaml"
rc=$?
assert_exit 0 "$rc" "a damaged .replaying next to a good spool: sluiced"
check_accounting
{ printf 'hello\nworld\n'; cat "$T/new.txt"; } >"$T/want.txt"
assert_file_eq "$T/want.txt" "$T/out.txt" "a damaged .replaying next to a good spool: the good spool, then the new input"
assert_contains "$DAEMON_ERR" "job.spool.replaying' is damaged (bad record header)" "the damaged .replaying is named"
ls "$T"/job.spool.replaying.corrupt-* >/dev/null 2>&1 || fail "the damaged .replaying was not set aside: $(ls "$T")"
[ -z "$(ls "$T"/job.spool.merge* "$T/job.spool" "$T/job.spool.replaying" 2>/dev/null)" ] || fail "left behind: $(ls "$T")"
exit 0
