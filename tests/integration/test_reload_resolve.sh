#!/usr/bin/env bash
# A reload that adds a tcp and an http source listening on a name
# ("localhost:PORT") looks the names up off the event loop: getaddrinfo(3) can
# block for seconds, so it runs on the background I/O threads and the reload
# goes on when they answer.
# strace -f shows which task read /etc/hosts (glibc's lookup of "localhost"):
# never the main thread. The reload still behaves as before: sluicectl's reply
# says it was applied, the new sources listen and their records reach the sink;
# a second reload that changes nothing structural is answered at once.
. "$(dirname "$0")/../lib.sh"
. "$PYHELPERS/reload.sh"
require_tool curl curl

require_strace
grep -qE '^[^#]*[[:space:]]localhost([[:space:]]|$)' /etc/hosts || { echo "no localhost in /etc/hosts"; exit 77; }

SOCK=$T/ctl.sock
read -r port hport < <(python3 "$PYHELPERS/net_port.py" 2 | tr '\n' ' ')
write_conf() { # [EXTRA_SOURCE]
	cat >"$T/c.yaml" <<YAML
name: resolve
shutdown: { grace: 30s, kill_after: 2s }
sources:
  - { name: gen, type: generate, interval: 100ms, template: "gen-{seq}" }
${1:-}
sinks:
  - { name: out, type: file, path: $T/out.txt }
control: { socket: $SOCK }
YAML
}
write_conf
start_daemon "$T/c.yaml"
wait_running '[ -S "$SOCK" ] && [ "$(lines "$T/out.txt")" -ge 3 ]' 30 || fail "the daemon did not start"

strace_attach "$DAEMON_PID" "$T/trace" -e trace=openat

write_conf "  - { name: net, type: tcp, listen: \"localhost:$port\" }
  - { name: web, type: http, listen: \"localhost:$hport\", path: /in, split: lines }"
reload_ctl "$SOCK"
wait_running 'grep -aq "listening on localhost:$port" "$DAEMON_ERR"' 30 || fail "the new tcp source does not listen"
python3 "$PYHELPERS/net_client.py" send "127.0.0.1:$port" 'net-1\nnet-2\n' || fail "cannot send to the new tcp source"
curl -sS -o /dev/null --data-binary $'web-1\n' "http://127.0.0.1:$hport/in" || fail "cannot post to the new http source"
wait_running 'grep -aqx net-2 "$T/out.txt" && grep -aqx web-1 "$T/out.txt"' 30 ||
	fail "the new sources' records did not reach the sink"

# Nothing structural: applied at once, without a lookup.
sed -i 's/grace: 30s/grace: 20s/' "$T/c.yaml"
"$(dirname "$SLUICED")/sluicectl" -s "$SOCK" reload >"$T/reload2.reply" 2>&1 ||
	fail "second reload: $(cat "$T/reload2.reply")"
assert_contains "$T/reload2.reply" "reloaded"

send_signal "$DAEMON_PID" TERM
wait_exit "$DAEMON_PID" 60
rc=$?
wait "$STRACE_PID"
assert_exit 0 "$rc" "sluiced after SIGTERM"
check_accounting

n=$(grep -c 'openat(.*"/etc/hosts"' "$T/trace" || true)
on_main=$(main_thread_calls "$T/trace" "$DAEMON_PID" 'openat\\(.*"/etc/hosts"')
note "/etc/hosts read $n time(s) during the reload, $on_main on the event loop's thread"
assert_ge "$n" 2 "reads of /etc/hosts during the reload (the lookups of localhost)"
assert_eq 0 "$on_main" "reads of /etc/hosts on the event loop's thread"
exit 0
