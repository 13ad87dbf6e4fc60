#!/usr/bin/env bash
# Per-frame scene work of animated jobs (issue 14; docs/benchmarks.md,
# "Animation: per-frame scene work"). usage: bench/animation.sh [OUT_DIR] [RANKS] [SPP] [TRIS]
# 100-frame jobs at 640x360 under mpirun (RANKS, default 3: rank 0 schedules,
# the others render), each printing what posing the scene for its frames
# cost the workers (posing, deforming, BVH refit or rebuild, TLAS, lights,
# the back end's update) and its share of the workers' wall time:
#   - RiggedSimple (../shared/scenes: a skin of 188 triangles), no blur and
#     with the shutter open half a frame;
#   - a generated skinned tube of TRIS triangles (default 1,000,000; bent 90
#     degrees and back over 4 s, tests/gen_gltf --skinned-tube), no blur and
#     with the shutter open half a frame: the refit rate in triangles/s.
# The share must stay under 5%. Then the motion blur BVH schemes compared on
# the tube (xisuan-tracebench, 320x180, 8 spp): one tree per shutter segment
# against one tree bounding every motion step, at 3, 5 and 9 steps, for a
# film shutter (frame 24 at 24 fps, shutter 0.5) and a fast bend (frame 2 at
# 2 fps, shutter 1: 45 degrees while it is open): BVH nodes visited and
# triangles tested per ray, and the time to pose the frame.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/xs-anim-bench}
ranks=${2:-3}
spp=${3:-16}
tris=${4:-1000000}
B=$root/build
S=$root/../shared/scenes
[ -x "$B/xisuan" ] || bash "$root/scripts/build.sh" >/dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$out/RiggedSimple"
cp "$S/RiggedSimple/RiggedSimple.glb" "$out/RiggedSimple/"
printf '{"schema": 1, "scene": "RiggedSimple.glb", "camera": {"position": [0, 0, 16], "target": [0, 0, 0], "yfov_deg": 40}}\n' \
  >"$out/RiggedSimple/manifest.json"
"$B/xisuan" pack "$out/RiggedSimple" -o "$out/RiggedSimple.tar.zst" >/dev/null
"$B/tests/gen_gltf" "$out/tube.glb" --skinned-tube "$tris"
rm -rf "$out/out" # every job from scratch (a job folder from an earlier run would resume)
fail=0
for job in "RiggedSimple.tar.zst|0" "RiggedSimple.tar.zst|0.5" "tube.glb|0" "tube.glb|0.5"; do
  IFS='|' read -r scene shutter <<<"$job"
  name="${scene%%.*}_s$shutter"
  start=$(date +%s.%N)
  mpirun -n "$ranks" --oversubscribe "$B/xisuan" render "$out/$scene" --resolution 640x360 --spp "$spp" \
    --frames 1-100 --shutter "$shutter" --out "$out/out" --job "$name" --name f --no-preview --progress off \
    --force >"$out/$name.log" 2>&1 || { echo "FAIL: $name"; tail -5 "$out/$name.log"; fail=1; continue; }
  wall=$(python3 -c "import time; print(round(time.time() - $start, 1))")
  line=$(grep "per-frame scene work" "$out/$name.log")
  echo "$name: ${wall} s: ${line#xisuan: }"
  share=$(sed -n 's/.*, \([0-9.]*\)% of the workers.*/\1/p' <<<"$line")
  python3 -c "import sys; sys.exit(0 if float('$share') < 5.0 else 1)" || { echo "  over 5%"; fail=1; }
done
echo "# motion blur BVH: a tree per segment against one tree over every step"
for cfg in "24 24 0.5" "2 2 1"; do
  read -r frame fps shutter <<<"$cfg"
  for steps in 3 5 9; do
    for scheme in segments union; do
      "$B/xisuan-tracebench" "$out/tube.glb" --width 320 --height 180 --spp 8 --frame "$frame" --fps "$fps" \
        --shutter "$shutter" --motion-steps "$steps" --motion-bvh "$scheme" --bg 1,1,1 | python3 -c "
import json, sys
d = json.loads(sys.stdin.read().split(' ', 1)[1])
print('frame $frame at $fps fps, shutter $shutter, $steps steps, %-8s: %6.2f nodes/ray %6.2f triangles/ray, render %.3f s, pose %.3f s'
      % ('$scheme', d['render_nodes_per_ray'], d['render_tri_tests_per_ray'], d['render_s'], d['frame_s']))"
    done
  done
done
exit $fail
