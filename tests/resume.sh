#!/usr/bin/env bash
# Resume from the journal, against uninterrupted reference renders (bit for bit):
#  checksum   tiles on disk that are not what the journal committed (one replaced
#             by a tile of another seed, one emptied as by a crash before fsync,
#             one deleted) are rendered again, every other tile is kept; the
#             frame equals the reference. Under MPI (the checksum travels with
#             the assignment) and in one process.
#  settings   a rerun with other settings (--spp 8 over --spp 2, and each other
#             setting in the journal's key) is refused with exit 2 and a message
#             showing both settings, touching nothing; --force moves the journal
#             aside (journal.old-1) and renders the new settings afresh; the
#             same settings then resume.
#  frames     a rerun that adds a frame renders only the new frame.
#  torn       a torn last journal line (a kill mid-append) is ignored, and the
#             next record starts on its own line.
#  header     a journal that holds no complete header (a crash right after it
#             was created) has nothing committed: the run starts afresh.
#  cleaned    without --keep-tiles a frame's tiles are removed once it is
#             assembled and journaled; a rerun skips the frames, and a frame
#             whose file went missing has its tiles rendered again (theirs are
#             gone), bit-identical to the reference, under MPI.
# The other cases look at tile files, so they run with --keep-tiles.
# usage: resume.sh XISUAN EXR_COMPARE MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
fail=0
base=(--resolution 64x48 --tile 16 --no-preview --job j --name f --keep-tiles) # 4x3 = 12 tiles a frame
s2=("${base[@]}" --spp 2)
s8=("${base[@]}" --spp 8)
render() { timeout 300 "$xisuan" render "$@"; }
mpi() { timeout 300 "$mpiexec" -n 3 --oversubscribe "$xisuan" render "$@"; }
counts() { sed -n 's/.*tiles (\([0-9]*\) rendered, \([0-9]*\) kept.*/\1 \2/p' "$1" | tail -1; }
same() { # a b label
  local d
  if ! d=$("$compare" "$1" "$2" 2>&1); then echo "FAIL $3: $1 differs from $2: $d"; fail=1; return 1; fi
}
tile() { printf '%s/j/tiles/%04d/x%04d_y%04d.exr' "$1" "$2" "$3" "$4"; }

render "${s2[@]}" --frames 1 --out "$work/ref" >"$work/ref.log" 2>&1 || { echo "FAIL: reference"; cat "$work/ref.log"; exit 1; }
render "${s2[@]}" --frames 1 --seed 7 --out "$work/seed7" >"$work/seed7.log" 2>&1 || { echo "FAIL: seed 7"; exit 1; }
render "${s8[@]}" --frames 1-2 --out "$work/ref8" >"$work/ref8.log" 2>&1 || { echo "FAIL: spp 8 reference"; exit 1; }
cmp -s "$(tile "$work/ref" 1 1 1)" "$(tile "$work/seed7" 1 1 1)" &&
  { echo "FAIL: the seed does not change tile (1, 1): the checksum case would prove nothing"; exit 1; }

# ---- checksum ----------------------------------------------------------------
for mode in mpi single; do
  out="$work/ck_$mode"
  render "${s2[@]}" --frames 1 --out "$out" >"$out.1.log" 2>&1 || { echo "FAIL checksum $mode: first run"; fail=1; continue; }
  cp "$(tile "$work/seed7" 1 1 1)" "$(tile "$out" 1 1 1)" # valid EXR, same layout, other pixels
  : >"$(tile "$out" 1 2 0)"                                # emptied
  rm "$(tile "$out" 1 0 2)"                                 # gone
  rm "$out/j/f.0001.exr"                                    # so the frame is assembled again
  if [ $mode = mpi ]; then mpi "${s2[@]}" --frames 1 --out "$out" >"$out.2.log" 2>&1
  else render "${s2[@]}" --frames 1 --out "$out" >"$out.2.log" 2>&1; fi
  rc=$?
  [ $rc = 0 ] || { echo "FAIL checksum $mode: rerun exit $rc"; cat "$out.2.log"; fail=1; continue; }
  grep -q "resuming job j: the journal holds 12 committed tile(s)" "$out.2.log" ||
    { echo "FAIL checksum $mode: the rerun did not resume from 12 journaled tiles"; fail=1; }
  c=$(counts "$out.2.log")
  [ "$c" = "3 9" ] || { echo "FAIL checksum $mode: rerun rendered/kept '$c', want '3 9': a tile whose" \
    "file is not what the journal committed (replaced by another seed's, emptied, deleted) was kept"; fail=1; }
  same "$(tile "$work/ref" 1 1 1)" "$(tile "$out" 1 1 1)" "checksum $mode: the tile replaced by another seed's"
  same "$work/ref/j/f.0001.exr" "$out/j/f.0001.exr" "checksum $mode: frame"
  echo "checksum ($mode): rerun rendered/kept $c"
done

# ---- settings ----------------------------------------------------------------
out="$work/set"
render "${s2[@]}" --frames 1 --out "$out" >"$out.1.log" 2>&1 || { echo "FAIL settings: first run"; fail=1; }
snap() { (cd "$out" && find . -type f ! -name events.jsonl ! -name lock -exec sha256sum {} + | sort -k2); }
before=$(snap)
header2=$(head -1 "$out/j/journal")
refuse() { # label, then the flags that differ
  local label=$1; shift
  render "${base[@]}" --spp 2 --frames 1 --out "$out" "$@" >"$work/refuse.log" 2>&1
  local rc=$?
  if [ $rc != 2 ]; then echo "FAIL settings: $label over a --spp 2 folder exited $rc, expected a refusal (2)"; fail=1
  elif ! grep -q "this output folder holds another job" "$work/refuse.log"; then
    echo "FAIL settings: $label: the refusal does not say why:"; cat "$work/refuse.log"; fail=1
  fi
  [ "$(snap)" = "$before" ] || { echo "FAIL settings: $label: the refused run changed files"; fail=1; }
}
render "${s8[@]}" --frames 1 --out "$out" >"$work/spp8.log" 2>&1
rc=$?
[ $rc = 2 ] || { echo "FAIL settings: --spp 8 over a --spp 2 folder exited $rc (the journal's settings were not compared)"; fail=1; }
grep -q "journal: 'xisuan-journal 1 key=[0-9a-f]* scene=.* spp=2 .*this run: 'xisuan-journal 1 key=[0-9a-f]* scene=.* spp=8 " "$work/spp8.log" ||
  { echo "FAIL settings: the refusal does not show both settings (spp=2, spp=8):"; cat "$work/spp8.log"; fail=1; }
grep -q "\-\-force" "$work/spp8.log" || { echo "FAIL settings: the refusal does not mention --force"; fail=1; }
[ "$(snap)" = "$before" ] || { echo "FAIL settings: the refused run changed files"; fail=1; }
refuse "--seed 3" --seed 3
refuse "--max-bounces 2" --max-bounces 2
refuse "--compression piz" --compression piz
refuse "--zip-level 9" --zip-level 9
refuse "--resolution 64x32" --resolution 64x32
refuse "--clamp 4" --clamp 4
refuse "--filter box" --filter box
refuse "--aovs albedo" --aovs albedo
refuse "--name g" --name g
same "$work/ref/j/f.0001.exr" "$out/j/f.0001.exr" "settings: the spp-2 frame after the refusals"
render "${s8[@]}" --frames 1 --force --out "$out" >"$work/force.log" 2>&1
rc=$?
[ $rc = 0 ] || { echo "FAIL settings: --force exited $rc"; cat "$work/force.log"; fail=1; }
[ -f "$out/j/journal.old-1" ] && [ "$(head -1 "$out/j/journal.old-1")" = "$header2" ] ||
  { echo "FAIL settings: --force did not move the spp-2 journal aside to journal.old-1"; fail=1; }
head -1 "$out/j/journal" | grep -q " spp=8 " || { echo "FAIL settings: the new journal is not for spp 8"; fail=1; }
c=$(counts "$work/force.log")
[ "$c" = "12 0" ] || { echo "FAIL settings: --force rendered/kept '$c', want '12 0' (a fresh start)"; fail=1; }
same "$work/ref8/j/f.0001.exr" "$out/j/f.0001.exr" "settings: --force (spp 8)"
# the same settings again: a resume, not a refusal
rm "$out/j/f.0001.exr"
render "${s8[@]}" --frames 1 --out "$out" >"$work/again.log" 2>&1 || { echo "FAIL settings: same settings refused"; fail=1; }
c=$(counts "$work/again.log")
[ "$c" = "0 12" ] || { echo "FAIL settings: the same settings rendered/kept '$c', want '0 12'"; fail=1; }
same "$work/ref8/j/f.0001.exr" "$out/j/f.0001.exr" "settings: resumed spp 8"
echo "settings: --spp 8 refused (exit 2) as were 9 other settings, --force rendered afresh, the same settings resumed"

# ---- frames: a resumed job may add frames -----------------------------------
render "${s8[@]}" --frames 1-2 --out "$out" >"$work/frames.log" 2>&1 || { echo "FAIL frames: exit $?"; fail=1; }
c=$(counts "$work/frames.log")
[ "$c" = "12 0" ] || { echo "FAIL frames: adding frame 2 rendered/kept '$c', want '12 0' (frame 1 skipped)"; fail=1; }
same "$work/ref8/j/f.0002.exr" "$out/j/f.0002.exr" "frames: frame 2"
same "$work/ref8/j/f.0001.exr" "$out/j/f.0001.exr" "frames: frame 1"
echo "frames: adding frame 2 rendered/kept $c"

# ---- torn: a kill mid-append --------------------------------------------------
printf 'T 2 3 12' >>"$out/j/journal"
rm "$out/j/f.0002.exr"
render "${s8[@]}" --frames 1-2 --out "$out" >"$work/torn.log" 2>&1 || { echo "FAIL torn: exit $?"; cat "$work/torn.log"; fail=1; }
c=$(counts "$work/torn.log")
[ "$c" = "0 12" ] || { echo "FAIL torn: rendered/kept '$c', want '0 12'"; fail=1; }
same "$work/ref8/j/f.0002.exr" "$out/j/f.0002.exr" "torn: frame 2"
grep -qx 'T 2 3 12' "$out/j/journal" && [ "$(grep -cE '^F 2 [0-9]+ [0-9a-f]{16}$' "$out/j/journal")" = 2 ] ||
  { echo "FAIL torn: the record after a torn line does not start on its own line:"; tail -3 "$out/j/journal"; fail=1; }
bad=$(grep -cvE '^(xisuan-journal 1 key=[0-9a-f]{16} .*|T [0-9]+ [0-9]+ [0-9a-f]{16}|F [0-9]+ [0-9]+ [0-9a-f]{16}|T 2 3 12)$' "$out/j/journal")
[ "$bad" = 0 ] || { echo "FAIL torn: $bad malformed journal line(s)"; fail=1; }
echo "torn: a torn last line ignored, rendered/kept $c"

# ---- header: the journal holds no complete first line --------------------------
for torn in "" "xisuan-journal 1 key="; do
  out="$work/hdr${#torn}"
  mkdir -p "$out/j" && printf '%s' "$torn" >"$out/j/journal"
  render "${s2[@]}" --frames 1 --out "$out" >"$out.log" 2>&1
  rc=$?
  [ $rc = 0 ] || { echo "FAIL header: a journal holding '$torn' (no complete header) made the run exit $rc:"; cat "$out.log"; fail=1; continue; }
  c=$(counts "$out.log")
  [ "$c" = "12 0" ] || { echo "FAIL header: rendered/kept '$c', want '12 0'"; fail=1; }
  [ "$(head -1 "$out/j/journal")" = "$header2" ] || { echo "FAIL header: the journal was not started afresh"; head -2 "$out/j/journal"; fail=1; }
  same "$work/ref/j/f.0001.exr" "$out/j/f.0001.exr" "header '$torn'"
done
echo "header: an empty or torn journal header starts the job afresh"

# ---- cleaned: tiles removed after assembly, resume from the journal and frames ---
out="$work/cleaned"
nokeep=(--resolution 64x48 --tile 16 --no-preview --job j --name f --spp 8 --frames 1-2 --out "$out")
mpi "${nokeep[@]}" >"$out.1.log" 2>&1 || { echo "FAIL cleaned: first run"; cat "$out.1.log"; fail=1; }
n=$(find "$out/j/tiles" -type f 2>/dev/null | wc -l)
[ "$n" = 0 ] || { echo "FAIL cleaned: $n file(s) left under tiles/ after both frames were assembled"; fail=1; }
mpi "${nokeep[@]}" >"$out.2.log" 2>&1 || { echo "FAIL cleaned: rerun"; fail=1; }
[ "$(counts "$out.2.log")" = "0 0" ] ||
  { echo "FAIL cleaned: a rerun of a finished job rendered again: $(grep 'job j' "$out.2.log")"; fail=1; }
rm "$out/j/f.0002.exr"
mpi "${nokeep[@]}" >"$out.3.log" 2>&1 || { echo "FAIL cleaned: rerun after losing frame 2"; cat "$out.3.log"; fail=1; }
c=$(counts "$out.3.log")
[ "$c" = "12 0" ] || { echo "FAIL cleaned: rendered/kept '$c', want '12 0' (frame 2's tiles were removed)"; fail=1; }
same "$work/ref8/j/f.0001.exr" "$out/j/f.0001.exr" "cleaned: frame 1"
same "$work/ref8/j/f.0002.exr" "$out/j/f.0002.exr" "cleaned: frame 2"
n=$(find "$out/j/tiles" -type f 2>/dev/null | wc -l)
[ "$n" = 0 ] || { echo "FAIL cleaned: $n file(s) left under tiles/ after the rerun"; fail=1; }
echo "cleaned: no tiles left; a lost frame rendered again from scratch, rendered/kept $c"

[ $fail = 0 ] && echo "resume: all cases behaved"
exit $fail
