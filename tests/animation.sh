#!/usr/bin/env bash
# The animated scenes of ../shared/scenes (BoxAnimated: node translation and
# rotation; AnimatedMorphCube: morph weights; RiggedSimple: a skin) through
# packages and `xisuan render` under MPI, at tiny sizes:
#  moves     frames 1, 13 and 25 (t = 1/24, 13/24, 25/24 s) of one job: their
#            silhouettes differ (IoU under 0.97), no value is NaN or Inf
#  still     frame 1 at time offsets 10 s and 20 s (past every keyframe, so the
#            pose holds) under 2 and 3 ranks and two tile sizes: bit-identical;
#            at offsets 0.5 s and 1 s (the scene moves): different
#  blur      frame 4 at 6 fps with the shutter open a whole frame under 2 ranks
#            and under 4 ranks with another tile size: bit-identical, and unlike
#            shutter 0
#  resume    a blurred 3-frame job whose rank 2 is killed, run again: the frames
#            match an uninterrupted render bit for bit
# Exits 77 (skipped) when ../shared/scenes is absent.
# usage: animation.sh XISUAN EXR_COMPARE MPIEXEC SCENES_DIR WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 scenes=$4 work=$5
if [ ! -d "$scenes/RiggedSimple" ]; then
  echo "SKIP: $scenes not found (the shared scenes live in ../shared/scenes)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
fail=0
mpi() { timeout 300 "$mpiexec" -n "$1" --oversubscribe -x XS_FAULT "${@:2}"; }
export XS_FAULT=

# name  camera (framing the whole animation)
pack() {
  mkdir -p "$work/$1"
  cp "$scenes/$1/$1.glb" "$work/$1/"
  printf '{"schema": 1, "scene": "%s.glb", "camera": %s,\n "environment": {"type": "constant", "color": [1, 1, 1]},\n "render": {"resolution": [64, 48], "spp": 4, "tile": 16}, "animation": {"fps": 24}}\n' \
    "$1" "$2" >"$work/$1/manifest.json"
  "$xisuan" pack "$work/$1" -o "$work/$1.tar.zst" >"$work/$1.pack.log" 2>&1 ||
    { echo "FAIL: pack $1"; cat "$work/$1.pack.log"; fail=1; }
}
pack BoxAnimated '{"position": [0, 1.2, 8], "target": [0, 1.2, 0], "yfov_deg": 40}'
pack AnimatedMorphCube '{"position": [0, 0, 6], "target": [0, 0, 0], "yfov_deg": 40}'
pack RiggedSimple '{"position": [0, 0, 16], "target": [0, 0, 0], "yfov_deg": 40}'

render() { # ranks scene out job [flags...]
  local n=$1 sc=$2 out=$3 job=$4; shift 4
  mpi "$n" "$xisuan" render "$work/$sc.tar.zst" --out "$work/$out" --job "$job" --name f --no-preview \
    --progress off "$@" >"$work/$out.$job.log" 2>&1
}

for sc in BoxAnimated AnimatedMorphCube RiggedSimple; do
  # moves
  render 3 "$sc" moves "$sc" --frames 1,13,25 ||
    { echo "FAIL moves $sc: exit $?"; cat "$work/moves.$sc.log"; fail=1; continue; }
  for fr in 0001 0013 0025; do
    read -r _ _ _ _ a nf < <("$compare" --stats "$work/moves/$sc/f.$fr.exr" | awk '{print $1, $2, $3, $4, $5, $7}')
    [ "$nf" = 0 ] || { echo "FAIL moves $sc: frame $fr has $nf non-finite values"; fail=1; }
    awk -v a="$a" 'BEGIN { exit !(a > 0.01) }' || { echo "FAIL moves $sc: frame $fr shows nothing"; fail=1; }
  done
  i1=$("$compare" --iou "$work/moves/$sc/f.0001.exr" "$work/moves/$sc/f.0013.exr" | awk '{print $2}')
  i2=$("$compare" --iou "$work/moves/$sc/f.0013.exr" "$work/moves/$sc/f.0025.exr" | awk '{print $2}')
  echo "$sc moves: silhouette IoU frame 1 vs 13: $i1, 13 vs 25: $i2"
  awk -v a="$i1" -v b="$i2" 'BEGIN { exit !(a < 0.97 && b < 0.97) }' ||
    { echo "FAIL moves $sc: the silhouettes hardly differ"; fail=1; }

  # still: the pose holds past the last keyframe, so the same frame number
  # gives the same bits at any later time, any rank count and tile size
  render 2 "$sc" still a --frames 1 --time-offset 10 && render 3 "$sc" still b --frames 1 --time-offset 20 --tile 24 ||
    { echo "FAIL still $sc: a render failed"; fail=1; }
  "$compare" "$work/still/a/f.0001.exr" "$work/still/b/f.0001.exr" >"$work/cmp.txt" ||
    { echo "FAIL still $sc: offsets 10 s and 20 s differ:"; cat "$work/cmp.txt"; fail=1; }
  render 2 "$sc" still c --frames 1 --time-offset 0.5 && render 2 "$sc" still d --frames 1 --time-offset 1 ||
    { echo "FAIL still $sc: a render failed"; fail=1; }
  "$compare" "$work/still/c/f.0001.exr" "$work/still/d/f.0001.exr" >/dev/null &&
    { echo "FAIL still $sc: offsets 0.5 s and 1 s render the same"; fail=1; }
  mv "$work/still" "$work/still-$sc"

  # blur: determinism over ranks and tile sizes (frame 4 at 6 fps: t = 0.67 s,
  # the shutter open 1/6 s, long enough to move pixels at this size)
  blur=(--frames 4 --fps 6 --shutter 1)
  render 2 "$sc" blur a "${blur[@]}" && render 4 "$sc" blur b "${blur[@]}" --tile 32 &&
    render 2 "$sc" blur c --frames 4 --fps 6 || { echo "FAIL blur $sc: a render failed"; fail=1; }
  "$compare" "$work/blur/a/f.0004.exr" "$work/blur/b/f.0004.exr" >"$work/cmp.txt" ||
    { echo "FAIL blur $sc: 2 and 4 ranks differ:"; cat "$work/cmp.txt"; fail=1; }
  "$compare" "$work/blur/a/f.0004.exr" "$work/blur/c/f.0004.exr" >/dev/null &&
    { echo "FAIL blur $sc: the blurred frame equals the unblurred one"; fail=1; }
  mv "$work/blur" "$work/blur-$sc"
  echo "$sc: still and blurred frames bit-identical over ranks and tiles"
done

# resume: rank 2 SIGKILLs itself at its 3rd item; the rerun resumes
sc=RiggedSimple
flags=(--frames 1,13,25 --shutter 0.5)
"$xisuan" render "$work/$sc.tar.zst" --out "$work/ref" --job r --name f --no-preview --progress off "${flags[@]}" \
  >"$work/ref.log" 2>&1 || { echo "FAIL resume: the reference failed"; cat "$work/ref.log"; fail=1; }
XS_FAULT="kill:2:3" render 3 "$sc" kill r "${flags[@]}"
rc=$?
[ $rc != 0 ] || { echo "FAIL resume: the killed job exited 0"; fail=1; }
render 3 "$sc" kill r "${flags[@]}"
rc2=$?
[ $rc2 = 0 ] || { echo "FAIL resume: the rerun exited $rc2"; cat "$work/kill.r.log"; fail=1; }
grep -q "resuming job r" "$work/kill.r.log" || { echo "FAIL resume: the rerun did not resume"; fail=1; }
for fr in 0001 0013 0025; do
  "$compare" "$work/ref/r/f.$fr.exr" "$work/kill/r/f.$fr.exr" >"$work/cmp.txt" ||
    { echo "FAIL resume: frame $fr differs from the uninterrupted render:"; cat "$work/cmp.txt"; fail=1; }
done
echo "resume: killed run exit $rc, rerun exit $rc2: $(grep -o '[0-9]* rendered, [0-9]* kept' "$work/kill.r.log" | tail -1)"
[ $fail = 0 ] && echo "animation: the animated scenes move, hold, blur and resume as they should"
exit $fail
