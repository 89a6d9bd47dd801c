#!/usr/bin/env bash
# `make install DESTDIR=...`: sluiced, sluicectl, both units (naming the
# installed sluiced), the sysusers.d entry, the default and an example config
# (never installed over edited ones), bash completion and the three man pages,
# which render without a warning; `make uninstall` removes all but the configs.
. "$(dirname "$0")/../lib.sh"

# Install the binaries under test as they are: `-o all` keeps make from
# rebuilding them (other tests run them at the same time).
install_to() { # ROOT PREFIX
	make -C "$SRC_DIR" --no-print-directory -o all install BUILD="$(dirname "$SLUICED")" \
		DESTDIR="$1" PREFIX="$2" \
		>"$T/make.out" 2>&1 || fail "make install DESTDIR=$1 PREFIX=$2 failed: $(tail -5 "$T/make.out")"
}

R=$T/root
install_to "$R" /usr/local
for f in usr/local/sbin/sluiced:755 usr/local/bin/sluicectl:755 \
	usr/local/lib/systemd/system/sluice.service:644 \
	usr/local/lib/systemd/system/sluice@.service:644 \
	usr/local/lib/sysusers.d/sluice.conf:644 etc/sluice/example.yaml:644 \
	etc/sluice/sluice.yaml:644 usr/local/share/bash-completion/completions/sluiced:644 \
	usr/local/share/bash-completion/completions/sluicectl:644 \
	usr/local/share/man/man1/sluicectl.1:644 usr/local/share/man/man5/sluice.yaml.5:644 \
	usr/local/share/man/man8/sluiced.8:644; do
	path=$R/${f%:*}
	[ -f "$path" ] || fail "make install did not install /${f%:*}"
	assert_eq "${f##*:}" "$(stat -c %a "$path")" "mode of /${f%:*}"
done
cmp -s "$R/usr/local/sbin/sluiced" "$SLUICED" || fail "the installed sluiced is not the build under test"
"$R/usr/local/sbin/sluiced" --version | grep -q '^sluiced ' || fail "the installed sluiced does not run"
"$R/usr/local/bin/sluicectl" --version | grep -q '^sluicectl ' || fail "the installed sluicectl does not run"
# One version (daemon/version.h): both programs print it, every man page's footer names it.
version=$(sed -n 's/^#define SLUICE_VERSION "\(.*\)"/\1/p' "$SRC_DIR/daemon/version.h")
[ -n "$version" ] || fail "no SLUICE_VERSION in daemon/version.h"
"$R/usr/local/sbin/sluiced" --version | grep -qx "sluiced $version" || fail "sluiced -V is not $version"
"$R/usr/local/bin/sluicectl" --version | grep -qx "sluicectl $version" || fail "sluicectl -V is not $version"
for m in man1/sluicectl.1 man5/sluice.yaml.5 man8/sluiced.8; do
	grep -q "^\.TH .*\"sluice $version\"" "$R/usr/local/share/man/$m" || fail "$m does not name version $version"
done
for c in example sluice; do
	"$R/usr/local/sbin/sluiced" --check --no-environment -c "$R/etc/sluice/$c.yaml" >/dev/null ||
		fail "the installed $c.yaml does not pass --check"
done
# The default config starts and does its harmless thing (a heartbeat on stdout).
sed "s|/run/sluice/sluice.sock|$T/ctl.sock|; s|interval: 60s|interval: 50ms|" \
	"$R/etc/sluice/sluice.yaml" >"$T/default.yaml"
DAEMON_STDOUT=$T/heartbeat start_daemon "$T/default.yaml"
wait_for 'grep -q "heartbeat 2" "$T/heartbeat"' 60 || fail "the default config prints no heartbeat"
kill -TERM "$DAEMON_PID"
wait_exit "$DAEMON_PID"
assert_exit 0 "$?" "the default config at SIGTERM"

# Bash completion: it parses, and completes options and sluicectl's commands.
for cmd in sluiced sluicectl; do
	bash -n "$R/usr/local/share/bash-completion/completions/$cmd" || fail "completion for $cmd does not parse"
done
got=$(bash -c '. "$1"; COMP_WORDS=(sluiced --log-l); COMP_CWORD=1; _sluiced; echo "${COMPREPLY[*]}"' _ \
	"$R/usr/local/share/bash-completion/completions/sluiced")
assert_eq "--log-level" "$got" "completion of 'sluiced --log-l'"
got=$(bash -c '. "$1"; COMP_WORDS=(sluicectl -s /x re); COMP_CWORD=3; _sluicectl; echo "${COMPREPLY[*]}"' _ \
	"$R/usr/local/share/bash-completion/completions/sluicectl")
assert_eq "resume reload" "$got" "completion of 'sluicectl -s /x re'"
grep -qxF 'ExecStart=/usr/local/sbin/sluiced -c /etc/sluice/sluice.yaml' "$R/usr/local/lib/systemd/system/sluice.service" ||
	fail "the installed sluice.service does not name /usr/local/sbin/sluiced"

# Man pages: no warnings from groff (and from man -l when man is installed).
for m in man1/sluicectl.1 man5/sluice.yaml.5 man8/sluiced.8; do
	page=$R/usr/local/share/man/$m
	groff -man -ww -z "$page" >"$T/groff.out" 2>&1 || fail "groff fails on $m: $(head -5 "$T/groff.out")"
	[ ! -s "$T/groff.out" ] || fail "groff warns on $m: $(head -5 "$T/groff.out")"
	groff -man -Tutf8 -P-cbou "$page" 2>/dev/null | grep -q "SEE ALSO" || fail "$m renders without a SEE ALSO section"
	if command -v man >/dev/null; then
		MANWIDTH=80 man -l "$page" >/dev/null 2>"$T/man.err" || fail "man -l $m failed"
		[ ! -s "$T/man.err" ] || fail "man -l $m warns: $(head -5 "$T/man.err")"
	fi
done

# A second install keeps an edited example; another PREFIX is written into the units.
echo "# edited" >>"$R/etc/sluice/example.yaml"
install_to "$R" /usr/local
assert_contains "$R/etc/sluice/example.yaml" "# edited" "the example config after a second install"
install_to "$T/root2" /usr
grep -qxF 'ExecStart=/usr/sbin/sluiced -c /etc/sluice/%i.yaml' "$T/root2/usr/lib/systemd/system/sluice@.service" ||
	fail "PREFIX=/usr: sluice@.service does not name /usr/sbin/sluiced"
[ -x "$T/root2/usr/sbin/sluiced" ] || fail "PREFIX=/usr: no /usr/sbin/sluiced"

# make uninstall takes back everything but the configs, which are the user's.
make -C "$SRC_DIR" --no-print-directory uninstall DESTDIR="$R" PREFIX=/usr/local >"$T/make.out" 2>&1 ||
	fail "make uninstall failed: $(tail -5 "$T/make.out")"
left=$(cd "$R" && find . -type f | sort | tr '\n' ' ')
assert_eq "./etc/sluice/example.yaml ./etc/sluice/sluice.yaml " "$left" "files left after make uninstall"
exit 0
