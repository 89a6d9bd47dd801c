#!/usr/bin/env bash
# `make install DESTDIR=...`: sluiced, sluicectl, both units (naming the
# installed sluiced), the sysusers.d entry, an example config (never installed
# over an edited one) and the three man pages, which render without a warning.
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
	usr/local/share/man/man1/sluicectl.1:644 usr/local/share/man/man5/sluice.yaml.5:644 \
	usr/local/share/man/man8/sluiced.8:644; do
	path=$R/${f%:*}
	[ -f "$path" ] || fail "make install did not install /${f%:*}"
	assert_eq "${f##*:}" "$(stat -c %a "$path")" "mode of /${f%:*}"
done
cmp -s "$R/usr/local/sbin/sluiced" "$SLUICED" || fail "the installed sluiced is not the build under test"
"$R/usr/local/sbin/sluiced" --version | grep -q '^sluiced ' || fail "the installed sluiced does not run"
"$R/usr/local/bin/sluicectl" --version | grep -q '^sluicectl ' || fail "the installed sluicectl does not run"
"$R/usr/local/sbin/sluiced" --check --no-environment -c "$R/etc/sluice/example.yaml" >/dev/null ||
	fail "the installed example does not pass --check"
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
exit 0
