# shellcheck shell=bash
# tests/lib.sh: sourced by every integration test (tests/integration/*.sh).
#
# Environment (set by tests/run): SLUICED (the daemon binary), HELPERS (compiled
# helpers, $BUILD/helpers), BUILD. SLUICE_SAN=1 under the sanitizer build.
#
# What it gives a test:
#   $T                      a private temp dir (the cwd), removed at exit
#   start_daemon CONF [ARGS] start sluiced in the background (stdin from
#                           $DAEMON_STDIN, default /dev/null); sets DAEMON_PID,
#                           DAEMON_OUT, DAEMON_ERR
#   run_daemon CONF [ARGS]  start_daemon + wait_exit; returns the exit code
#   wait_exit PID [TIMEOUT] wait for it to exit (fails the test past TIMEOUT s);
#                           returns its exit code
#   wait_for 'COND' [TIMEOUT] poll a shell condition every 50 ms, the first times
#                           sooner (default 30 s)
#   fail MSG                print MSG and the daemon's stderr tail, exit 1
#   assert_eq WANT GOT WHAT, assert_ne, assert_ge, assert_le, assert_contains,
#   assert_file_eq WANT_FILE GOT_FILE WHAT
#   summary_field [source|stage|sink] NAME FIELD   (kind defaults to stage)
#   summary_field unfinished FIELD
#   check_accounting        every stage line: in = ok+failed+dropped+in_flight+queued
#   marked_pids             processes carrying this test's marker (the daemon and
#                           everything it started: the marker is in their environment)
#   assert_no_leftovers     none of them is left (waits a little for them to go)
#   zombie_children PID     children of PID in state Z
#   rss_kb PID, hwm_kb PID  VmRSS / VmHWM in KiB
#   send_signal PID SIG     kill -SIG, then wait until it is delivered (so two
#                           in a row never merge into one)
#   lines FILE              number of lines in FILE (0 if missing)
#   require_tool CMD PKG    skip the test (exit 77) when CMD is missing; under CI
#                           tests/run counts that skip as a failure
#   require_strace          strace is there and may trace (LeakSanitizer goes off)
#   strace_attach PID FILE ARGS...  strace -f -o FILE ARGS the running PID and its
#                           threads; returns once attached; sets STRACE_PID
#   main_thread_calls FILE PID REGEX  lines of a strace -f -o FILE made by PID's
#                           main thread (the event loop's) that match REGEX
#
# Every daemon started here carries SLUICE_TEST_MARK=$MARK in its environment;
# its children inherit it. The test shell itself does not export it, so
# marked_pids finds exactly what the daemon left behind. At exit every live
# daemon and every marked process is killed; a test that passed but left a
# marked process behind is turned into a failure.

set -u

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC_DIR=$(cd "$TESTS_DIR/.." && pwd)
PYHELPERS=$TESTS_DIR/helpers
TEST_NAME=$(basename "$0" .sh)
: "${SLUICED:=$SRC_DIR/build/release/sluiced}"
: "${BUILD:=$(dirname "$SLUICED")}"
: "${HELPERS:=$BUILD/helpers}"
: "${SLUICE_SAN:=0}"
unset STATE_DIRECTORY NOTIFY_SOCKET JOURNAL_STREAM WATCHDOG_USEC

T=$(mktemp -d "${TMPDIR:-/tmp}/sluice-$TEST_NAME.XXXXXXXX") || exit 1
MARK="$(basename "$T")-$$"
DAEMON_PID=
DAEMON_RUN=0
DAEMON_OUT=$T/daemon.out
DAEMON_ERR=$T/daemon.err
_DAEMONS=()       # every daemon started
_REAPED=" "       # the ones wait_exit has collected

_alive() { # PID: exists and is not a zombie
	local line
	[ -r "/proc/$1/stat" ] || return 1
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	line=${line##*) }
	[ "${line%% *}" != Z ]
}

_cleanup() {
	local rc=$? pid killed=0 left
	trap - EXIT
	for pid in "${_DAEMONS[@]}"; do
		case $_REAPED in *" $pid "*) continue ;; esac
		if [ -e "/proc/$pid" ]; then
			_alive "$pid" && killed=1
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	if [ "$rc" -eq 0 ] && [ "$killed" -eq 0 ]; then
		# Children must never outlive the daemon: give killed ones a moment to vanish.
		if ! wait_for '[ -z "$(marked_pids)" ]' 10; then
			left=$(marked_pids)
			echo "FAIL: $TEST_NAME: processes left behind after the daemon exited:"
			# shellcheck disable=SC2086
			ps -o pid,ppid,pgid,stat,args -p "$(echo $left | tr ' ' ',')" 2>/dev/null
			rc=1
		fi
	fi
	for _ in 1 2 3 4 5; do
		left=$(marked_pids)
		[ -z "$left" ] && break
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
		sleep 0.1
	done
	# Peers the test started in the background (an http.server, a client) end with it:
	# one left running outlives the suite, holding its port and its deleted directory.
	for pid in $(jobs -p); do
		kill -KILL "$pid" 2>/dev/null
	done
	if [ "${KEEP_TMP:-0}" = 1 ] || { [ "$rc" -ne 0 ] && [ "${KEEP_TMP_ON_FAIL:-0}" = 1 ]; }; then
		echo "(temp dir kept: $T)"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# wait_for 'CONDITION' [TIMEOUT_S]: 0 as soon as CONDITION (eval'd) is true,
# 1 if it is still false after TIMEOUT_S seconds (default 30). The first polls
# come quickly (most waits are short: a loop of them, as test_reload_rss's, was
# mostly pauses), then every 50 ms.
# The clock is read without $(now_ms): a fork per poll adds up under load.
wait_for() {
	local cond=$1 to=${2:-30} deadline pause=0.01 now
	now=${EPOCHREALTIME/./}
	deadline=$((now / 1000 + to * 1000))
	while :; do
		eval "$cond" && return 0
		now=${EPOCHREALTIME/./}
		[ $((now / 1000)) -ge "$deadline" ] && break
		sleep "$pause"
		case $pause in 0.01) pause=0.02 ;; *) pause=0.05 ;; esac
	done
	eval "$cond" && return 0
	return 1
}

daemon_tail() {
	local f=${1:-$DAEMON_ERR} n=${2:-30}
	if [ -s "$f" ]; then
		echo "--- $(basename "$f") (last $n lines) ---"
		tail -n "$n" "$f" | cut -c1-400
		echo "---"
	fi
}

fail() {
	echo "FAIL: $TEST_NAME: $*"
	if [ -n "${DAEMON_PID:-}" ] && _alive "$DAEMON_PID"; then
		echo "--- sluiced (pid $DAEMON_PID) is still running; it and its children:"
		# shellcheck disable=SC2046
		show_pids "$DAEMON_PID" $(children_of "$DAEMON_PID")
	fi
	daemon_tail "$DAEMON_ERR" 30
	exit 1
}

note() { echo "# $*"; }

assert_eq() { # WANT GOT WHAT
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}
assert_ne() { # UNWANTED GOT WHAT
	[ "$1" != "$2" ] || fail "${3:-value}: expected anything but '$1'"
}
_is_int() { case $1 in '' | *[!0-9-]*) return 1 ;; esac; }
assert_ge() { # GOT MIN WHAT
	_is_int "$1" && [ "$1" -ge "$2" ] || fail "${3:-value}: expected >= $2, got '$1'"
}
assert_le() { # GOT MAX WHAT
	_is_int "$1" && [ "$1" -le "$2" ] || fail "${3:-value}: expected <= $2, got '$1'"
}
assert_contains() { # FILE FIXED-STRING WHAT
	grep -aqF -- "$2" "$1" 2>/dev/null ||
		fail "${3:-$(basename "$1")}: expected to contain '$2'"
}
assert_not_contains() { # FILE FIXED-STRING WHAT
	! grep -aqF -- "$2" "$1" 2>/dev/null ||
		fail "${3:-$(basename "$1")}: expected not to contain '$2', but it does: $(grep -aF -- "$2" "$1" | head -3)"
}
assert_file_eq() { # WANT_FILE GOT_FILE WHAT
	if [ ! -e "$2" ]; then
		fail "${3:-output}: file $2 does not exist"
	fi
	if ! cmp -s "$1" "$2"; then
		echo "--- ${3:-output}: expected (-) vs got (+), first differences:"
		diff -a -u "$1" "$2" | sed -n '3,40p' | cat -v
		echo "--- sizes: expected $(wc -c <"$1") bytes, got $(wc -c <"$2") bytes"
		fail "${3:-output} differs from what was expected"
	fi
}
assert_exit() { # WANT GOT WHAT
	[ "$1" = "$2" ] || fail "${3:-sluiced} exit code: expected $1, got $2"
}

lines() { if [ -e "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# start_daemon CONF [ARGS...]: sluiced -c CONF ARGS in the background.
start_daemon() {
	local conf=$1
	shift
	DAEMON_RUN=$((DAEMON_RUN + 1))
	DAEMON_OUT=$T/daemon.$DAEMON_RUN.out
	DAEMON_ERR=$T/daemon.$DAEMON_RUN.err
	env SLUICE_TEST_MARK="$MARK" "$SLUICED" -c "$conf" "$@" \
		<"${DAEMON_STDIN:-/dev/null}" >"${DAEMON_STDOUT:-$DAEMON_OUT}" 2>"$DAEMON_ERR" &
	DAEMON_PID=$!
	_DAEMONS+=("$DAEMON_PID")
}

# wait_exit PID [TIMEOUT_S]: returns the exit code; fails the test if it is
# still running after TIMEOUT_S (default 120; the bound is only a safety net).
wait_exit() {
	local pid=$1 to=${2:-120} rc
	if ! wait_for "! _alive $pid" "$to"; then
		fail "sluiced (pid $pid) did not exit within ${to}s"
	fi
	wait "$pid"
	rc=$?
	_REAPED="$_REAPED$pid "
	return $rc
}

# run_daemon CONF [ARGS...]: run to the end, return the exit code.
run_daemon() {
	start_daemon "$@"
	wait_exit "$DAEMON_PID" "${RUN_TIMEOUT:-120}"
}

# summary_field [source|stage|sink] NAME FIELD | summary_field unfinished FIELD
# Reads the last summary in $SUMMARY_FILE (default: the last daemon's stderr).
summary_field() {
	local kind name field prefix line tok
	if [ "$1" = unfinished ]; then
		prefix="unfinished: "
		field=$2
	elif [ $# -ge 3 ]; then
		kind=$1 name=$2 field=$3
		prefix="$kind $name: "
	else
		name=$1 field=$2
		prefix="stage $name: "
	fi
	line=$(awk -v p="$prefix" 'index($0, p) == 1' "${SUMMARY_FILE:-$DAEMON_ERR}" 2>/dev/null | tail -n 1)
	if [ -z "$line" ]; then
		echo "summary_field: no summary line starting with '$prefix' in ${SUMMARY_FILE:-$DAEMON_ERR}" >&2
		return 1
	fi
	for tok in ${line#"$prefix"}; do
		case $tok in "$field="*)
			echo "${tok#"$field="}"
			return 0
			;;
		esac
	done
	echo "summary_field: no field '$field' in: $line" >&2
	return 1
}

# check_accounting: the summary is there, and for every stage
# in = ok + failed + dropped + in_flight + queued.
check_accounting() {
	local f=${SUMMARY_FILE:-$DAEMON_ERR} line bad
	grep -aq '^unfinished: spooled=[0-9]* lost=[0-9]*' "$f" ||
		fail "no summary at exit (expected a line 'unfinished: spooled=N lost=N' on stderr)"
	grep -aq '^sink [^ ]*: written=[0-9]*' "$f" ||
		fail "no summary at exit (expected a line 'sink NAME: written=N' on stderr)"
	bad=$(awk '/^stage [^ ]*: in=/ {
		delete v
		for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (!("in" in v) || !("ok" in v) || !("failed" in v) || !("dropped" in v) || !("in_flight" in v) || !("queued" in v))
			print "malformed: " $0
		else if (v["in"] != v["ok"] + v["failed"] + v["dropped"] + v["in_flight"] + v["queued"])
			print "in != ok+failed+dropped+in_flight+queued: " $0
	}' "$f")
	[ -z "$bad" ] || fail "item accounting broken: $bad"
}

# Processes carrying this test's marker (environment), i.e. the daemons and
# everything they started. Zombies have no readable environment: see
# zombie_children for those.
marked_pids() {
	local f p out=
	while read -r f; do
		p=${f#/proc/}
		p=${p%/environ}
		[ "$p" = "$$" ] && continue
		_alive "$p" && out="$out $p"
	done < <(grep -lszxF -- "SLUICE_TEST_MARK=$MARK" /proc/[0-9]*/environ 2>/dev/null)
	echo "${out# }"
}

# Processes carrying the marker other than the daemon itself.
marked_children() {
	local p out=
	for p in $(marked_pids); do
		[ "$p" = "${DAEMON_PID:-}" ] || out="$out $p"
	done
	echo "${out# }"
}

show_pids() { # PIDS...: one ps line each
	[ $# -gt 0 ] || return 0
	local list
	list=$(echo "$@" | tr -s ' ' ',')
	ps -o pid,ppid,pgid,stat,pcpu,etime,args -p "$list" 2>/dev/null | cut -c1-160
}

assert_no_leftovers() { # [TIMEOUT_S]
	if ! wait_for '[ -z "$(marked_pids)" ]' "${1:-10}"; then
		local left
		left=$(marked_pids)
		echo "processes left behind:"
		# shellcheck disable=SC2086
		show_pids $left
		fail "processes started by the daemon are still running after it exited: $left"
	fi
}

# Children of PID in state Z (zombies): prints their pids.
zombie_children() {
	local f line st ppid out=
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		line=${line##*) }
		st=${line%% *}
		[ "$st" = Z ] || continue
		line=${line#* }
		ppid=${line%% *}
		[ "$ppid" = "$1" ] && { out="$out ${f//[!0-9]/}"; }
	done
	echo "${out# }"
}

# Children of PID (any state).
children_of() {
	local f line ppid out=
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		line=${line##*) }
		line=${line#* }
		ppid=${line%% *}
		[ "$ppid" = "$1" ] && { out="$out ${f//[!0-9]/}"; }
	done
	echo "${out# }"
}

# signal_pending PID SIGNUM: the signal is pending (not yet delivered) for PID.
signal_pending() {
	local bit=$((1 << ($2 - 1))) mask
	while read -r mask; do
		[ $((0x$mask & bit)) -ne 0 ] && return 0
	done < <(awk '$1 == "SigPnd:" || $1 == "ShdPnd:" { print $2 }' "/proc/$1/status" 2>/dev/null)
	return 1
}

# send_signal PID SIG: kill -SIG PID and wait until the process has taken it, so
# that two signals sent one after the other are never merged into one.
send_signal() {
	local num
	num=$(kill -l "$2") || fail "send_signal: unknown signal $2"
	kill -"$2" "$1" || fail "could not send SIG$2 to $1"
	wait_for "! signal_pending $1 $num" 30 || fail "SIG$2 stayed pending for 30 s in pid $1"
}

_status_kb() { awk -v k="$2:" '$1 == k { print $2; exit }' "/proc/$1/status" 2>/dev/null; }
rss_kb() { _status_kb "$1" VmRSS; }
hwm_kb() { _status_kb "$1" VmHWM; }

# The file offset of the daemon's open descriptor on PATH (empty if none).
fd_pos() { # PID PATH
	local fd
	for fd in /proc/"$1"/fd/*; do
		if [ "$(readlink "$fd" 2>/dev/null)" = "$2" ]; then
			awk '$1 == "pos:" { print $2; exit }' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null
			return 0
		fi
	done
}

# dead_letter FILE check | field KEY | count: see tests/helpers/jsonl.py
jsonl() { python3 "$PYHELPERS/jsonl.py" "$@"; }

# require_tool CMD PACKAGE: skip the test when CMD is not installed. The last line
# says "missing tool", which tests/run turns into a failure when CI=true: whatever
# a test needs, scripts/install-deps installs.
require_tool() {
	command -v "$1" >/dev/null && return 0
	echo "SKIP: missing tool: $1 (Debian package $2; scripts/install-deps installs it)"
	exit 77
}

require_strace() {
	require_tool strace strace
	strace -f -qq -e trace=none true 2>/dev/null || { echo "strace cannot trace here"; exit 77; }
	# LeakSanitizer cannot run under ptrace; the rest of ASan and UBSan can.
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
}

strace_attach() { # PID FILE STRACE_ARGS...
	local pid=$1 out=$2
	shift 2
	strace -f -qq -o "$out" "$@" -p "$pid" 2>"$T/strace.err" &
	# shellcheck disable=SC2034 # for the test, which waits for strace to end
	STRACE_PID=$!
	wait_for '[ "$(awk '\''$1 == "TracerPid:" { print $2 }'\'' /proc/'"$pid"'/status)" != 0 ]' 30 ||
		fail "strace did not attach to $pid: $(cat "$T/strace.err")"
}

# strace -f -o writes "TID syscall(...)"; the main thread's TID is the process's pid.
main_thread_calls() { # FILE PID REGEX
	awk -v m="$2" -v re="$3" '$1 == m && $0 ~ re' "$1" | wc -l
}

# Tests scale their generous bounds under the sanitizer build.
# shellcheck disable=SC2034 # read by the tests that source this file
if [ "$SLUICE_SAN" = 1 ]; then SCALE=3; else SCALE=1; fi

[ -x "$SLUICED" ] || fail "no daemon binary at $SLUICED (build it first)"
# Relative paths a daemon or child might create land in the temp dir.
cd "$T" || exit 1
