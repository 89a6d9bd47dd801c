#!/usr/bin/env bash
# The redis-stream kinds in the pipeline file: defaults filled in and the password
# redacted by --check; a bad address, a username without password, a missing
# required key and a key of the sink in a source are errors at their line and column.
. "$(dirname "$0")/../lib.sh"

chk() { env SLUICE_TEST_MARK="$MARK" timeout -k 5 60 "$SLUICED" --check --no-environment -c "$1" >"$T/o" 2>"$T/e" </dev/null; }

cat >"$T/ok.yaml" <<'YAML'
sources:
  - { name: in, type: redis-stream, address: "127.0.0.1:6379", stream: s, group: g, password: hunter2 }
sinks:
  - { name: out, type: redis-stream, address: /run/redis.sock, stream: t, maxlen: 1000, username: u, password: hunter2 }
YAML
chk "$T/ok.yaml"
assert_exit 0 $? "sluiced --check (a valid file)"
for want in 'field: "item"' 'batch: 100' 'block: 1s' 'claim_idle: 1m' 'max_deliveries: 5' \
	'start_at: beginning' 'maxlen: 1000' 'max_in_flight: 1000' 'password: "<redacted>"'; do
	assert_contains "$T/o" "$want" "--check output"
done
assert_not_contains "$T/o" hunter2 "--check output (the password)"
cp "$T/o" "$T/printed.yaml"
chk "$T/printed.yaml"
assert_exit 0 $? "sluiced --check of what --check printed"

cat >"$T/bad.yaml" <<'YAML'
sources:
  - name: in
    type: redis-stream
    address: "redis"
    stream: s
    username: u
    maxlen: 10
sinks:
  - { name: out, type: redis-stream, stream: t }
YAML
chk "$T/bad.yaml"
assert_exit 78 $? "sluiced --check (bad redis-stream blocks)"
f=$T/bad.yaml
assert_contains "$T/e" "$f:4:14: 'address' must be HOST:PORT, [V6]:PORT or an absolute socket path, got 'redis'" "bad address"
assert_contains "$T/e" "$f:6:5: 'username' of source 'in' needs 'password'" "username alone"
assert_contains "$T/e" "$f:7:5: unknown key 'maxlen' in source 'in'" "a sink's key"
assert_contains "$T/e" "needs 'group'" "no group"
assert_contains "$T/e" "needs 'address'" "sink without address"
exit 0
