# shellcheck shell=bash
# tests/helpers/redis.sh: a redis-server per test, for the redis-stream tests;
# sourced after lib.sh.
#
#   redis_start             starts redis-server on the unix socket $REDIS_SOCK
#                           ($T/redis/redis.sock; its data in $T/redis), waits for
#                           PING; REDIS_PID. REDIS_ARGS (an array) go to redis-server
#                           (persistence: --appendonly yes --appendfsync always)
#   redis_kill              SIGKILLs it and waits until it is gone
#   redis_shutdown          SHUTDOWN (the AOF is written out), waits until it is gone
#   rcli ARGS...            redis-cli on the socket
#   redis_fill STREAM N [PREFIX]  appends N entries {item: PREFIX1..PREFIXN}
#   redis_pending STREAM GROUP    entries of the group's pending list
require_tool redis-server redis-server
require_tool redis-cli redis-tools

REDIS_DIR=$T/redis
REDIS_SOCK=$REDIS_DIR/redis.sock
REDIS_PID=
REDIS_ARGS=()

rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }

redis_start() {
	mkdir -p "$REDIS_DIR"
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --dir "$REDIS_DIR" \
		--save '' --logfile "$REDIS_DIR/redis.log" "${REDIS_ARGS[@]}" &
	REDIS_PID=$!
	wait_for '[ "$(rcli PING 2>/dev/null)" = PONG ]' 30 || fail "redis-server did not come up"
}

redis_kill() {
	kill -KILL "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	rm -f "$REDIS_SOCK"
}

redis_shutdown() {
	rcli SHUTDOWN >/dev/null 2>&1
	wait "$REDIS_PID" 2>/dev/null
	rm -f "$REDIS_SOCK"
}

redis_fill() { # STREAM N [PREFIX]
	seq 1 "$2" | awk -v s="$1" -v p="${3:-e}" '{ print "XADD " s " * item " p $1 }' |
		redis-cli -s "$REDIS_SOCK" --pipe >/dev/null || fail "cannot fill stream $1"
}

redis_pending() { # STREAM GROUP
	rcli XPENDING "$1" "$2" | head -n 1
}
