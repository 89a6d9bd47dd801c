#!/usr/bin/env bash
# The systemd units: `systemd-analyze verify` passes without a word on both
# (the template also as an instance), `systemd-analyze security --offline=true`
# rates both at an exposure level of 2.0 or less, and they say what SPEC §5
# asks (Type=notify, KillMode=mixed, a finite TimeoutStopSec above the default
# grace + kill_after, the watchdog, the state directory for the spool, ...).
# The sysusers.d entry is valid. Skips (77) only when systemd-analyze cannot
# run here.
. "$(dirname "$0")/../lib.sh"

require_tool systemd-analyze systemd
if ! systemd-analyze --version >/dev/null 2>&1; then
	echo "systemd-analyze does not run here"
	exit 77
fi
UNITS=$SRC_DIR/systemd
mkdir -p "$T/units" "$T/man/man1" "$T/man/man5" "$T/man/man8"
# The units name the installed binary; verify checks that it exists, so point it
# at the one under test (that is all `make install` changes too).
for u in sluice.service sluice@.service; do
	[ -f "$UNITS/$u" ] || fail "no $UNITS/$u"
	sed "s|/usr/local/sbin/sluiced|$SLUICED|g" "$UNITS/$u" >"$T/units/$u"
done
cp "$T/units/sluice@.service" "$T/units/sluice@example.service"
# Documentation=man:... is checked with man(1) when it is there, against ours.
cp "$SRC_DIR/man/sluicectl.1" "$T/man/man1/"
cp "$SRC_DIR/man/sluice.yaml.5" "$T/man/man5/"
cp "$SRC_DIR/man/sluiced.8" "$T/man/man8/"
man_opt=--man=no
command -v man >/dev/null && man_opt=--man=yes

for u in sluice.service sluice@.service sluice@example.service; do
	MANPATH=$T/man systemd-analyze verify "$man_opt" "$T/units/$u" >"$T/verify.out" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && [ ! -s "$T/verify.out" ] ||
		fail "systemd-analyze verify $u: exit $rc: $(head -5 "$T/verify.out")"
	systemd-analyze security --offline=true "$T/units/$u" >"$T/security.out" 2>&1 ||
		fail "systemd-analyze security $u failed: $(tail -3 "$T/security.out")"
	level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/security.out")
	[ -n "$level" ] || fail "no exposure level for $u: $(tail -3 "$T/security.out")"
	note "$u: exposure level $level"
	python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$level" ||
		fail "$u: exposure level $level, more than 2.0: $(grep '✗' "$T/security.out" | head -10)"
done

# What SPEC §5 and the daemon rely on.
for u in sluice.service sluice@.service; do
	f=$UNITS/$u
	for line in Type=notify NotifyAccess=main KillMode=mixed Restart=on-failure WatchdogSec=30s \
		StateDirectory=sluice RuntimeDirectory=sluice ConfigurationDirectory=sluice UMask=0077 \
		'ExecReload=/bin/kill -HUP $MAINPID' NoNewPrivileges=yes ProtectSystem=strict \
		CapabilityBoundingSet= 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
		SystemCallFilter=@system-service MemoryDenyWriteExecute=yes User=sluice; do
		grep -qxF -- "$line" "$f" || fail "$u lacks the line '$line'"
	done
	stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s$/\1/p' "$f")
	assert_ge "$stop" 36 "$u: TimeoutStopSec (above the default grace 30s + kill_after 5s)"
	assert_le "$stop" 120 "$u: TimeoutStopSec (finite, and not far above)"
done
grep -qxF 'ExecStart=/usr/local/sbin/sluiced -c /etc/sluice/sluice.yaml' "$UNITS/sluice.service" ||
	fail "sluice.service does not run /etc/sluice/sluice.yaml"
grep -qxF 'ExecStartPre=/usr/local/sbin/sluiced --check -c /etc/sluice/sluice.yaml' "$UNITS/sluice.service" ||
	fail "sluice.service does not check its file first"
grep -qxF 'ExecStart=/usr/local/sbin/sluiced -c /etc/sluice/%i.yaml' "$UNITS/sluice@.service" ||
	fail "sluice@.service does not run /etc/sluice/%i.yaml"
grep -qxF 'ExecStartPre=/usr/local/sbin/sluiced --check -c /etc/sluice/%i.yaml' "$UNITS/sluice@.service" ||
	fail "sluice@.service does not check its file first"

# The unit's user comes from sysusers.d.
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$T/root/etc"
	systemd-sysusers --dry-run --root="$T/root" "$UNITS/sluice.sysusers" >"$T/sysusers.out" 2>&1 ||
		fail "systemd-sysusers rejects sluice.sysusers: $(cat "$T/sysusers.out")"
	assert_contains "$T/sysusers.out" "Creating user 'sluice'"
fi

# ExecStartPre's --check accepts the example that `make install` ships.
"$SLUICED" --check --no-environment -c "$SRC_DIR/conf/example.yaml" >/dev/null 2>"$T/check.err" ||
	fail "sluiced --check rejects conf/example.yaml: $(cat "$T/check.err")"
exit 0
