#!/usr/bin/env bash
# make layers (scripts/layers): the tree passes; an #include that points up a
# layer, a cycle inside a layer and a file the map does not place each fail it,
# named as FILE:LINE with the layers involved. Source only: the release pass runs it.
. "$(dirname "$0")/../lib.sh"

if [ "$SLUICE_SAN" = 1 ]; then
	note "the layer check reads sources: the release pass runs it"
	exit 0
fi
LAYERS=$SRC_DIR/scripts/layers

"$LAYERS" "$SRC_DIR/daemon" >"$T/ok.txt" 2>&1 || fail "scripts/layers fails on the tree: $(head -5 "$T/ok.txt")"
[ ! -s "$T/ok.txt" ] || fail "scripts/layers printed something on a clean tree: $(head -5 "$T/ok.txt")"

fresh() { rm -rf "$T/d" && mkdir "$T/d" && cp "$SRC_DIR"/daemon/*.[ch] "$T/d/"; }
# expect WHAT FIXED-STRING: scripts/layers on $T/d fails and prints the string.
expect() {
	"$LAYERS" "$T/d" >"$T/out.txt" 2>&1
	assert_exit 1 $? "scripts/layers with $1"
	assert_contains "$T/out.txt" "$2" "scripts/layers with $1"
}

# Up: log (base) calling the progress line (service) directly, as it once did.
fresh
sed -i '0,/^#include "log.h"$/s//#include "log.h"\n#include "progress.h"/' "$T/d/log.c"
line=$(grep -n '^#include "progress.h"' "$T/d/log.c" | cut -d: -f1)
expect "log.c including progress.h" "$T/d/log.c:$line: includes progress.h (layer base -> layer service)"

# A cycle inside one layer: signals -> supervisor -> signals.
fresh
printf '#include "supervisor.h"\n' >>"$T/d/signals.c"
expect "a signals <-> supervisor cycle" "includes supervisor.h (a cycle in layer service: signals, supervisor)"

# A file the map does not place.
fresh
printf '/* new.c */\n' >"$T/d/newthing.c"
expect "an unplaced file" "$T/d/newthing.c:1: newthing is in no layer"

# The Makefile target runs the same check.
make -C "$SRC_DIR" --no-print-directory layers >"$T/make.txt" 2>&1 || fail "make layers: $(head -5 "$T/make.txt")"
exit 0
