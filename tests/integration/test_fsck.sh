#!/usr/bin/env bash
# sluiced --fsck -c FILE [--repair] (issue 11): damage made here (a torn checkpoint
# line, a flipped byte, a torn journal tail) is found without being touched, then
# repaired; exit codes 0 clean, 1 damage, 66 and 78 for the config itself.
. "$(dirname "$0")/../lib.sh"

seq 1 100 >"$T/in.txt"
cat >"$T/c.yaml" <<YAML
state_dir: $T/st
sources:
  - { name: in, type: file, path: $T/in.txt }
sinks:
  - { name: out, type: discard }
YAML
fsck() { "$SLUICED" --fsck -c "$T/c.yaml" "$@" >"$T/f.out" 2>"$T/f.err"; }
CK=$T/st/in.checkpoint

fsck
assert_exit 0 $? "--fsck before any run (no state_dir yet)"
run_daemon "$T/c.yaml"
assert_exit 0 $? "the job"
fsck
assert_exit 0 $? "--fsck after a clean run"
assert_contains "$T/f.out" "1 checkpoint file(s)" "the summary counts the checkpoint"
assert_contains "$T/f.out" ": clean" "the summary says clean"

# A torn last line: found, left alone, then cut by --repair.
printf '0badc0de 1 2 3' >>"$CK"
size=$(stat -c %s "$CK")
fsck
assert_exit 1 $? "--fsck with a torn checkpoint line"
assert_contains "$T/f.out" "$CK: torn last line of 14 byte(s)" "the torn line reported"
assert_eq "$size" "$(stat -c %s "$CK")" "size of the checkpoint after --fsck without --repair"
fsck --repair
assert_exit 0 $? "--fsck --repair"
assert_contains "$T/f.out" "repaired" "--repair says it repaired"
fsck
assert_exit 0 $? "--fsck after the repair"

# A flipped byte inside a line fails its CRC.
python3 - "$CK" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[12] ^= 0x01
open(p, "wb").write(b)
PY
fsck
assert_exit 1 $? "--fsck with a flipped byte"
assert_contains "$T/f.out" "$CK:1: 1 line(s) fail their CRC" "the bad line reported with its number"
fsck --repair
assert_exit 0 $? "--fsck --repair of the flipped byte"
fsck
assert_exit 0 $? "--fsck after that repair"

# The journal: three intact items and a torn tail of 9 bytes.
python3 "$PYHELPERS/journal_write.py" "$T/st/journal" 3 9
jsize=$(stat -c %s "$T/st/journal/seg-0000000000000001.log")
fsck
assert_exit 1 $? "--fsck with a torn journal tail"
assert_contains "$T/f.out" "torn tail of 9 byte(s)" "the journal's torn tail reported"
assert_contains "$T/f.out" "3 unfinished item(s)" "the intact items counted"
assert_eq "$jsize" "$(stat -c %s "$T/st/journal/seg-0000000000000001.log")" "journal size after --fsck without --repair"
fsck --repair
assert_exit 0 $? "--fsck --repair of the journal"
assert_eq $((jsize - 9)) "$(stat -c %s "$T/st/journal/seg-0000000000000001.log")" "journal size after --repair"
fsck
assert_exit 0 $? "--fsck after the journal repair"
assert_contains "$T/f.out" "3 unfinished item(s): clean" "the items survive the repair"

# The config itself: missing, bad; --repair alone is a usage error.
"$SLUICED" --fsck -c "$T/missing.yaml" >/dev/null 2>&1
assert_exit 66 $? "--fsck of a missing config"
echo "sources: [" >"$T/bad.yaml"
"$SLUICED" --fsck -c "$T/bad.yaml" >/dev/null 2>&1
assert_exit 78 $? "--fsck of a bad config"
"$SLUICED" --repair -c "$T/c.yaml" >/dev/null 2>&1
assert_exit 64 $? "--repair without --fsck"
exit 0
