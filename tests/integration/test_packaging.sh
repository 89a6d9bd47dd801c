#!/usr/bin/env bash
# Packaging: `make dist` makes sluice-VERSION.tar.gz of the committed tree, which
# builds on its own; `dpkg-buildpackage -us -uc -b` makes a .deb that holds the
# binaries, units, sysusers entry, man pages, completion and configs, and lintian
# reports no error. Both build the whole daemon, so this runs in the release pass
# only (the sanitizer pass tests the same files).
. "$(dirname "$0")/../lib.sh"

if [ "${SLUICE_SAN:-0}" = 1 ]; then
	note "packaging is checked in the release pass"
	exit 0
fi
if ! git -C "$SRC_DIR" rev-parse --git-dir >/dev/null 2>&1; then
	# Inside an unpacked tarball: there is no history to archive.
	note "not a git checkout: make dist has nothing to archive here"
	exit 0
fi

version=$(sed -n 's/^#define SLUICE_VERSION "\(.*\)"/\1/p' "$SRC_DIR/daemon/version.h")
[ -n "$version" ] || fail "no SLUICE_VERSION in daemon/version.h"
grep -q "^sluice ($version)" "$SRC_DIR/debian/changelog" ||
	fail "debian/changelog's first entry is not version $version"

# make dist writes into the source tree; take the tarball away at once.
make -C "$SRC_DIR" --no-print-directory dist >"$T/dist.out" 2>&1 || fail "make dist: $(tail -5 "$T/dist.out")"
mv "$SRC_DIR/sluice-$version.tar.gz" "$T/" || fail "make dist made no sluice-$version.tar.gz"
tar -xzf "$T/sluice-$version.tar.gz" -C "$T" || fail "the tarball does not unpack"
src=$T/sluice-$version
for f in Makefile README.md daemon/sluiced.c tests/run debian/rules conf/sluice.yaml; do
	[ -f "$src/$f" ] || fail "the tarball has no $f"
done
[ ! -e "$src/build" ] || fail "the tarball carries build output"
built_before=$(stat -c %Y "$SLUICED")

# The .deb, built from the unpacked tarball (which also shows that it builds).
# Without the suite's BUILD (tests/run exports it): make would build into, and package,
# the build directory under test instead of the tarball's own.
(cd "$src" && env -u BUILD -u SLUICED -u HELPERS dpkg-buildpackage -us -uc -b) >"$T/deb.out" 2>&1 ||
	fail "dpkg-buildpackage failed: $(tail -20 "$T/deb.out")"
deb=$T/sluice_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || fail "no $(basename "$deb") was built"
dpkg-deb -x "$deb" "$T/root" || fail "dpkg-deb -x failed"
[ -x "$src/build/release/sluiced" ] || fail "the package build did not build in the unpacked tarball"
[ "$(stat -c %Y "$SLUICED")" = "$built_before" ] || fail "the package build rebuilt the binary under test"
for f in usr/sbin/sluiced usr/bin/sluicectl lib/systemd/system/sluice.service \
	lib/systemd/system/sluice@.service usr/lib/sysusers.d/sluice.conf \
	etc/sluice/sluice.yaml etc/sluice/example.yaml \
	usr/share/man/man8/sluiced.8.gz usr/share/man/man5/sluice.yaml.5.gz \
	usr/share/man/man1/sluicectl.1.gz \
	usr/share/bash-completion/completions/sluiced \
	usr/share/bash-completion/completions/sluicectl usr/share/doc/sluice/copyright; do
	[ -e "$T/root/$f" ] || fail "the package does not install /$f"
done
grep -qxF 'ExecStart=/usr/sbin/sluiced -c /etc/sluice/sluice.yaml' "$T/root/lib/systemd/system/sluice.service" ||
	fail "the packaged sluice.service does not name /usr/sbin/sluiced"
"$T/root/usr/sbin/sluiced" -V | grep -q "^sluiced $version" || fail "the packaged sluiced does not run"
"$T/root/usr/bin/sluicectl" -V | grep -qx "sluicectl $version" || fail "the packaged sluicectl is not version $version"
zcat "$T/root/usr/share/man/man8/sluiced.8.gz" | grep -q "^\.TH .*\"sluice $version\"" ||
	fail "the packaged sluiced(8) does not name version $version"
"$T/root/usr/sbin/sluiced" --check --no-environment -c "$T/root/etc/sluice/sluice.yaml" >/dev/null ||
	fail "the packaged default config does not pass --check"
# The configs are conffiles: an upgrade never overwrites an edited one.
dpkg-deb -e "$deb" "$T/ctl"
grep -qx /etc/sluice/sluice.yaml "$T/ctl/conffiles" || fail "/etc/sluice/sluice.yaml is not a conffile"
grep -q systemd-sysusers "$T/ctl/postinst" || fail "postinst does not create the sluice user"

lintian --fail-on error --display-info "$T"/sluice_*.changes \
	>"$T/lintian.out" 2>&1 || fail "lintian reports errors: $(grep '^E:' "$T/lintian.out" | head -10)"
# The binaries are hardened (debian/rules asks for hardening=+all, the Makefile keeps
# the flags): no hardening-no-relro, -bindnow, -pie or -fortify-functions tag.
! grep -q 'hardening-no-' "$T/lintian.out" ||
	fail "lintian: the packaged binaries are not hardened: $(grep 'hardening-no-' "$T/lintian.out" | head -5)"
note "lintian: $(grep -c '^W:' "$T/lintian.out") warning(s)"
exit 0
