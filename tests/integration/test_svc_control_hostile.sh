#!/usr/bin/env bash
# Hostile clients of the control socket never hurt the daemon: a line over
# 4 KiB (and one exactly at it), a 10 MB stream with no newline, NUL and
# binary bytes, garbage commands, a client that never sends a newline (answered
# after the 10 s idle limit, also when it trickles bytes), hundreds of
# connections at once (64 served, the rest "error: busy"), running out of
# descriptors, and a peer whose uid is neither root nor the daemon's. After all
# of it the daemon still answers and drains to exit 0 (ASan-clean in the
# sanitizer build).
. "$(dirname "$0")/../lib.sh"

CTL=$(dirname "$SLUICED")/sluicectl
SOCK=$T/ctl.sock
raw() { python3 "$PYHELPERS/ctl_client.py" "$@"; }
last_line() { tail -n 1 "$1"; }

cat >"$T/c.yaml" <<YAML
name: hostile
sources:
  - { name: gen, type: generate, interval: 50ms, template: "a-{seq}" }
stages:
  - { name: work, workers: 2, builtin: { op: passthrough } }
sinks:
  - { name: out, type: file, path: $T/out.txt }
control: { socket: $SOCK }
YAML
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ]' 30 || fail "no control socket"

expect_reply() { # WHAT PAYLOAD EXPECTED-LAST-LINE-PREFIX [--shut]
	local what=$1 payload=$2 want=$3
	shift 3
	raw send "$SOCK" "$payload" "$@" >"$T/reply" 2>"$T/reply.err" || fail "$what: client failed: $(cat "$T/reply.err")"
	case $(last_line "$T/reply") in
	"$want"*) ;;
	*) fail "$what: expected a last line starting with '$want', got '$(last_line "$T/reply" | cut -c1-200)'" ;;
	esac
}

# Lines at, and one byte over, the 4096-byte limit.
expect_reply "a 4096-byte line" "status$(printf '%4090s' '')\\n" ok
expect_reply "a 4097-byte line" "status$(printf '%4091s' '')\\n" "error: request line too long (the limit is 4096 bytes)"
expect_reply "a 5000-byte line" "$(printf 'a%.0s' $(seq 1 5000))\\n" "error: request line too long"
raw big "$SOCK" 10000000 >"$T/reply" || fail "10 MB stream: client failed"
assert_eq "error: request line too long (the limit is 4096 bytes)" "$(last_line "$T/reply")" "reply to a 10 MB stream"

# Not text, not a command.
expect_reply "NUL and binary bytes" '\x00\x01\xff\n' "error: the request is not a line of text"
expect_reply "an escape sequence" 'pause \x1b[2J\n' "error: the request is not a line of text"
raw random "$SOCK" 65536 7 >"$T/reply" || fail "random bytes: client failed"
case $(last_line "$T/reply") in error:*) ;; *) fail "random bytes: expected an error, got '$(last_line "$T/reply" | cut -c1-100)'" ;; esac
expect_reply "an unknown command" 'frobnicate now\n' "error: unknown command 'frobnicate'"
expect_reply "an empty line" '\n' "error: empty request"
expect_reply "too many words" 'status json and more words\n' "error: too many words"
expect_reply "a missing argument" 'pause\n' "error: wrong number of arguments for 'pause'"
expect_reply "a huge worker count" 'scale work 99999999999999999999\n' "error: the worker count must be a whole number"
expect_reply "a path as a name" 'pause ../../etc/passwd\n' "error: no source or stage named '../../etc/passwd'"
expect_reply "CRLF" 'status\r\n' ok
expect_reply "a last line without a newline, then EOF" 'status json' ok --shut
raw send "$SOCK" '' --shut >"$T/reply" || fail "connect and close: client failed"
assert_eq "" "$(cat "$T/reply")" "reply to a client that sends nothing and closes"
expect_reply "only the first of two lines" 'frob\nstatus\n' "error: unknown command 'frob'"

# Clients that never finish a line: answered after the idle limit (10 s), also
# one that keeps trickling bytes. Both at once.
raw idle "$SOCK" >"$T/idle" &
idle_pid=$!
raw idle "$SOCK" --trickle >"$T/trickle" &
trickle_pid=$!
wait "$idle_pid" || fail "idle client failed"
wait "$trickle_pid" || fail "trickling client failed"
for f in idle trickle; do
	assert_eq "error: no request line within 10s" "$(sed -n 1p "$T/$f")" "reply to the $f client"
	secs=$(sed -n 's/^elapsed=\([0-9]*\).*/\1/p' "$T/$f")
	assert_ge "$secs" 5 "seconds before the $f client was answered"
done

# Hundreds of connections at once: 64 are served, the rest told "busy" at once.
raw flood "$SOCK" 300 64 >"$T/flood" || fail "flood client failed"
assert_eq "busy=236 served=64 other=0" "$(cat "$T/flood")" "300 connections at once"
assert_contains "$DAEMON_ERR" "more with 'busy'"
"$CTL" -s "$SOCK" status >/dev/null || fail "no answer after the flood: exit $?"

# A peer that is neither root nor the daemon's user is refused (SO_PEERCRED),
# even when the socket's mode would let it in.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 0711 "$T"
	cp "$CTL" "$T/sluicectl"
	chmod 0755 "$T/sluicectl"
	chmod 0666 "$SOCK"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$T/sluicectl" -s "$SOCK" status >/dev/null 2>"$T/e.txt"
	assert_exit 1 $? "sluicectl as uid 65534"
	assert_contains "$T/e.txt" "sluicectl: permission denied"
	assert_contains "$DAEMON_ERR" "refused a connection from uid 65534"
	chmod 0600 "$SOCK"
	chmod 0700 "$T"
else
	note "not root or no setpriv: the peer uid check is not exercised"
fi

"$CTL" -s "$SOCK" drain >/dev/null || fail "sluicectl drain: exit $?"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "sluiced after the hostile clients and a drain"
check_accounting

# Out of descriptors: accept fails, the listener pauses instead of spinning,
# and the daemon answers again once the clients are gone.
start_daemon "$T/c.yaml"
wait_for '[ -S "$SOCK" ]' 30 || fail "no control socket (second daemon)"
prlimit --pid "$DAEMON_PID" --nofile=32:32 || fail "prlimit failed"
raw hold "$SOCK" 60 "$T/release" >"$T/hold" &
hold_pid=$!
wait_for 'grep -aq "control: accept on" "$DAEMON_ERR"' 60 || fail "no accept warning with 60 clients and 32 descriptors"
assert_contains "$DAEMON_ERR" "Too many open files"
touch "$T/release"
wait "$hold_pid"
wait_for '"$CTL" -s "$SOCK" status >/dev/null 2>&1' 60 || fail "no answer after the descriptor exhaustion"
"$CTL" -s "$SOCK" drain >/dev/null || fail "drain of the descriptor-limited daemon"
wait_exit "$DAEMON_PID" 120
assert_exit 0 $? "the descriptor-limited daemon after a drain"
check_accounting
assert_no_leftovers 10
exit 0
