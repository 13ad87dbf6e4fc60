#!/usr/bin/env bash
# Animation side by side with Blender Cycles (issue 14; docs/benchmarks.md,
# "Animation against Cycles"). usage: bench/animation_peer.sh [OUT_DIR] [SPP] [W] [H]
# For each animated scene of ../shared/scenes, at three frames: our frame
# (xisuan render, one process) and Cycles' (bench/cycles_anim.py driving
# ../shared/peers/blender/render.py and Blender's glTF importer), same camera
# and white world; the silhouettes (alpha > 0.5) must overlap at IoU >= 0.99.
# Then one frame with motion blur (6 fps, the shutter open a whole frame:
# 1/6 s of motion, centred on the frame) rendered by both with opaque film:
# the means must agree within 2%; the same frame without blur is printed
# beside it (how far the two material models differ anyway), and the
# blurred silhouettes' IoU. Needs: apt-get install -y blender python3-numpy.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/xs-anim-peer}
spp=${2:-64}
w=${3:-320}
h=${4:-240}
B=$root/build
S=$(cd "$root/../shared/scenes" && pwd)
P=$(cd "$root/../shared/peers/blender" && pwd)
command -v blender >/dev/null || { echo "bench/animation_peer.sh: needs blender (apt-get install -y blender python3-numpy)"; exit 77; }
[ -x "$B/xisuan" ] || bash "$root/scripts/build.sh" >/dev/null
mkdir -p "$out"
fail=0

# name | camera position | target | yfov | frames (24 fps) | blurred frame (6 fps)
scenes=(
  "BoxAnimated|0,1.2,8|0,1.2,0|40|12 36 60|4"
  "AnimatedMorphCube|0,0,6|0,0,0|40|13 37 61|3"
  "RiggedSimple|0,0,16|0,0,0|40|13 25 37|4"
)
ours() { # name tag frame fps shutter
  "$B/xisuan" render "$out/$1.tar.zst" --resolution "${w}x$h" --spp "$spp" --frames "$3" --fps "$4" \
    --shutter "$5" --out "$out/xs" --job "$1_$2" --name f --no-preview --progress off >"$out/$1_$2.log" 2>&1 ||
    { echo "FAIL: xisuan $1 $2"; cat "$out/$1_$2.log"; fail=1; }
}
cycles() { # name tag frame fps shutter film pos target yfov
  (cd "$P" && timeout 900 blender -b --factory-startup -noaudio -t 2 --python "$root/bench/cycles_anim.py" -- \
    --peer "$P/render.py" --frame "$3" --fps "$4" --shutter "$5" --film "$6" --scene "$S/$1/$1.glb" \
    --out "$out/cy/$1_$2.exr" --width "$w" --height "$h" --spp "$spp" --threads 2 --cam-pos "$7" \
    --cam-target "$8" --yfov "$9" --bg 1,1,1 --bg-strength 1 >"$out/cy_$1_$2.log" 2>&1) ||
    { echo "FAIL: Cycles $1 $2"; tail -5 "$out/cy_$1_$2.log"; fail=1; }
}
printf '%-18s %-22s %10s\n' scene frame iou
for s in "${scenes[@]}"; do
  IFS='|' read -r name pos tgt yfov frames blurf <<<"$s"
  mkdir -p "$out/$name" "$out/cy"
  cp "$S/$name/$name.glb" "$out/$name/"
  printf '{"schema": 1, "scene": "%s.glb", "camera": {"position": [%s], "target": [%s], "yfov_deg": %s},
 "environment": {"type": "constant", "color": [1, 1, 1]}}\n' "$name" "$pos" "$tgt" "$yfov" >"$out/$name/manifest.json"
  "$B/xisuan" pack "$out/$name" -o "$out/$name.tar.zst" >/dev/null || { echo "FAIL: pack $name"; fail=1; continue; }
  for f in $frames; do
    ours "$name" "f$f" "$f" 24 0
    cycles "$name" "f$f" "$f" 24 0 transparent "$pos" "$tgt" "$yfov"
    iou=$("$B/tests/exr_compare" --iou "$out/xs/${name}_f$f/f.$(printf %04d "$f").exr" "$out/cy/${name}_f$f.exr" | awk '{print $2}')
    printf '%-18s %-22s %10s\n' "$name" "$f (t = $(python3 -c "print(round($f/24, 3))") s)" "$iou"
    awk -v i="$iou" 'BEGIN { exit !(i >= 0.99) }' || { echo "  FAIL: IoU under 0.99"; fail=1; }
  done
  # motion blur: 6 fps, shutter 1 (1/6 s), opaque film for the means
  bf=$(printf %04d "$blurf")
  ours "$name" "blur" "$blurf" 6 1
  ours "$name" "still" "$blurf" 6 0
  cycles "$name" "blur" "$blurf" 6 1 opaque "$pos" "$tgt" "$yfov"
  cycles "$name" "still" "$blurf" 6 0 opaque "$pos" "$tgt" "$yfov"
  cycles "$name" "blura" "$blurf" 6 1 transparent "$pos" "$tgt" "$yfov"
  mb=$("$B/tests/exr_compare" --rmse "$out/xs/${name}_blur/f.$bf.exr" "$out/cy/${name}_blur.exr" | awk '{print $NF}')
  ms=$("$B/tests/exr_compare" --rmse "$out/xs/${name}_still/f.$bf.exr" "$out/cy/${name}_still.exr" | awk '{print $NF}')
  ib=$("$B/tests/exr_compare" --iou "$out/xs/${name}_blur/f.$bf.exr" "$out/cy/${name}_blura.exr" | awk '{print $2}')
  bs=$("$B/tests/exr_compare" --rmse "$out/xs/${name}_blur/f.$bf.exr" "$out/xs/${name}_still/f.$bf.exr" | awk '{print $NF}')
  echo "  $name frame $blurf at 6 fps, shutter 1: mean vs Cycles $mb (unblurred: $ms); blurred silhouettes IoU $ib; our blur moved the mean by $bs"
  python3 -c "import sys; sys.exit(0 if abs(float('${mb%\%}')) <= 2.0 else 1)" || { echo "  FAIL: blurred means differ over 2%"; fail=1; }
done
[ $fail = 0 ] && echo "animation_peer: every silhouette at IoU >= 0.99, every blurred mean within 2% of Cycles'"
# Known: Blender keys glTF LINEAR rotations as quaternion f-curves, which it
# interpolates component by component (then normalises), where glTF asks for
# spherical interpolation; halfway between two keys the two agree, elsewhere
# a rotation lags or leads (docs/benchmarks.md measures BoxAnimated's).
exit $fail
