#!/usr/bin/env bash
# The build itself: the release binaries are hardened (full RELRO, BIND_NOW, PIE,
# stack protector, fortified libc calls); a user's CFLAGS replaces only the
# optimisation and debug flags, never the required ones; objects depend on the
# headers they include and on no others; the sanitizer build carries no hardening
# flags; a unit test links the objects its LINK: lines name and no more. Uses
# `make -n` and `make -q -W` on a scratch build directory: nothing in the source
# tree is touched.
. "$(dirname "$0")/../lib.sh"

require_tool readelf binutils
require_tool make make

if [ "${SLUICE_SAN:-0}" = 1 ]; then
	note "hardening is checked in the release pass (the sanitizer build has none)"
	exit 0
fi

# --- the release binaries, as built by make ---------------------------------
for bin in "$SLUICED" "$BUILD/sluicectl"; do
	name=$(basename "$bin")
	readelf -hW "$bin" >"$T/h.$name" || fail "readelf -h $bin"
	grep -Eq 'Type: +DYN' "$T/h.$name" || fail "$name is not a position-independent executable: $(grep Type: "$T/h.$name")"
	readelf -dW "$bin" >"$T/d.$name" || fail "readelf -d $bin"
	grep -Eq '\(FLAGS\) +BIND_NOW' "$T/d.$name" || fail "$name has no BIND_NOW (-z now): $(grep FLAGS "$T/d.$name")"
	grep -Eq '\(FLAGS_1\) +Flags:.* NOW' "$T/d.$name" || fail "$name has no FLAGS_1 NOW"
	grep -Eq '\(FLAGS_1\) +Flags:.* PIE' "$T/d.$name" || fail "$name has no FLAGS_1 PIE"
	readelf -lW "$bin" | grep -q GNU_RELRO || fail "$name has no GNU_RELRO segment (-z relro)"
done
readelf --dyn-syms -W "$SLUICED" >"$T/syms"
grep -q ' __stack_chk_fail' "$T/syms" || fail "sluiced calls no __stack_chk_fail: built without -fstack-protector-strong"
grep -Eq ' __[a-z]+_chk' "$T/syms" || fail "sluiced calls no fortified __*_chk function: built without _FORTIFY_SOURCE"

# --- flags, as make would pass them -------------------------------------------
B=$T/b
mkdir -p "$B"
compile_line() { # OBJECT MAKE-ARGS...: the compiler command make runs for OBJECT
	local obj=$1
	shift
	make -C "$SRC_DIR" --no-print-directory -n -B "$@" "$obj" 2>&1 | grep -- "-o $obj " | tail -n 1
}
line=$(compile_line "$B/util.o" BUILD="$B")
for flag in -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -MMD -fstack-protector-strong -fPIE \
	-D_FORTIFY_SOURCE=2 -O2; do
	grep -q -- " $flag " <<<"$line " || fail "the release compile has no $flag: $line"
done
line=$(compile_line "$B/util.o" BUILD="$B" CFLAGS=-O0)
for flag in -std=gnu11 -Wall -Wextra -Werror -Wshadow -D_GNU_SOURCE -MMD -O0; do
	grep -q -- " $flag " <<<"$line " || fail "make CFLAGS=-O0 loses $flag: $line"
done
grep -q -- "-O2" <<<"$line" && fail "make CFLAGS=-O0 still passes the default -O2: $line"
grep -q -- "_FORTIFY_SOURCE" <<<"$line" && fail "_FORTIFY_SOURCE without optimisation (glibc warns, -Werror fails): $line"
# A packager's own _FORTIFY_SOURCE (dpkg-buildflags puts it in CPPFLAGS) wins.
line=$(compile_line "$B/util.o" BUILD="$B" CPPFLAGS=-D_FORTIFY_SOURCE=3)
[ "$(grep -o -- '-D_FORTIFY_SOURCE=[0-9]' <<<"$line")" = "-D_FORTIFY_SOURCE=3" ] ||
	fail "CPPFLAGS=-D_FORTIFY_SOURCE=3 is not the only _FORTIFY_SOURCE: $line"
link=$(make -C "$SRC_DIR" --no-print-directory -n -B BUILD="$B" "$B/sluiced" 2>&1 | grep -- "-o $B/sluiced ")
for flag in -pie -Wl,-z,relro,-z,now; do
	grep -q -- " $flag " <<<"$link" || fail "the release link has no $flag: $link"
done
line=$(compile_line "$T/s/util.o" SANITIZE=1 BUILD="$T/s")
grep -q -- "-fsanitize=address,undefined" <<<"$line" || fail "SANITIZE=1 does not sanitize: $line"
for flag in -fstack-protector-strong -fPIE _FORTIFY_SOURCE; do
	grep -q -- "$flag" <<<"$line" && fail "SANITIZE=1 carries the release hardening flag $flag: $line"
done

# --- header dependencies: json.o is rebuilt for json.h, not for queue.h ------
make -C "$SRC_DIR" --no-print-directory BUILD="$B" "$B/json.o" >"$T/make.out" 2>&1 ||
	fail "make $B/json.o: $(tail -5 "$T/make.out")"
grep -q 'daemon/json.h' "$B/json.d" || fail "$B/json.d does not list daemon/json.h: $(cat "$B/json.d")"
make -C "$SRC_DIR" --no-print-directory -q BUILD="$B" "$B/json.o" || fail "json.o is out of date right after it was built"
make -C "$SRC_DIR" --no-print-directory -q -W daemon/json.h BUILD="$B" "$B/json.o" &&
	fail "json.o is not rebuilt when json.h changes"
make -C "$SRC_DIR" --no-print-directory -q -W daemon/queue.h BUILD="$B" "$B/json.o" ||
	fail "json.o is rebuilt when queue.h, which it does not include, changes"

# --- a unit test links what its LINK: lines name ------------------------------
link=$(make -C "$SRC_DIR" --no-print-directory -n -B BUILD="$B" "$B/tests/test_json" 2>&1 | grep -- "-o $B/tests/test_json ")
objs=$(grep -oE '[^ ]+\.o' <<<"$link" | xargs -n1 basename | sort | tr '\n' ' ')
assert_eq "json.o util.o " "$objs" "the objects test_json links (its LINK: line)"
exit 0
