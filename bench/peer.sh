#!/usr/bin/env bash
# Side-by-side with Blender Cycles and Mitsuba 3 on the CPU, and our traversal
# against Embree's (docs/benchmarks.md).
# usage: bench/peer.sh [OUT_DIR] [REF_SPP] [THREADS] [REPEATS]
# 1. Cycles: for each scene, in one run on this machine, xisuan-tracebench and
#    Cycles (../shared/peers/blender/render.py) at 64 spp with the same camera,
#    light and filter (Blackman-Harris 1.5 px), samples per second of each
#    (Cycles' own path-trace timer; our render alone, without load and BVH
#    build), then each renderer's converged reference at REF_SPP (default
#    1024) and the relative RMSE of each 64-spp image against its own
#    reference. Needs: apt-get install -y blender python3-numpy.
# 2. Mitsuba 3 (llvm_ad_rgb, its vectorised CPU variant): the built-in Lambert
#    Cornell box (../shared/peers/mitsuba/cornell.py renders the same one) at
#    256x256, 64 spp, 8 bounces, REPEATS (default 3) alternating runs of each,
#    Mitsuba's render call timed after a first run that JIT-compiles; then
#    each one's reference at REF_SPP and the relative RMSE against it. Needs
#    a virtual environment with mitsuba==3.9.1 at $MI_VENV (default /tmp/mi)
#    and Debian's libllvm19 (DRJIT_LIBLLVM_PATH); skipped when absent.
# 3. The BVH: build and traversal rates on the shared scenes and generated
#    meshes (xisuan-tracebench), and our traversal against Embree 3's on the
#    same rays (xisuan-embreebench, when built).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-/tmp/xs-peer}
ref=${2:-1024}
threads=${3:-2}
repeats=${4:-3}
B=$root/build
S=$(cd "$root/../shared/scenes" && pwd)
P=$(cd "$root/../shared/peers/blender" && pwd)
M=$(cd "$root/../shared/peers/mitsuba" && pwd)
command -v blender >/dev/null || { echo "bench/peer.sh: needs blender (apt-get install -y blender python3-numpy)"; exit 77; }
[ -x "$B/xisuan-tracebench" ] || bash "$root/scripts/build.sh" >/dev/null
mkdir -p "$out"

cycles() { # name scene w h pos target yfov bg spp
  (cd "$P" && blender -b --factory-startup -noaudio -t "$threads" --python render.py -- \
    --scene "$2" --out "$out/$1_cy$9.exr" --width "$3" --height "$4" --spp "$9" --threads "$threads" \
    --tile 64 --cam-pos "$5" --cam-target "$6" --yfov "$7" --bg "$8" --bg-strength 1 \
    --json "$out/$1_cy$9.json" >"$out/$1_cy$9.log" 2>&1)
}
ours() { # name scene w h pos target yfov bg spp
  "$B/xisuan-tracebench" "$2" --width "$3" --height "$4" --spp "$9" --threads "$threads" \
    --cam-pos "$5" --cam-target "$6" --yfov "$7" --bg "$8" --out "$out/$1_xs$9.exr" \
    --json "$out/$1_xs$9.json" >/dev/null
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

scenes=(
  "cornell|$S/CornellBox/CornellBox.gltf|512|512|2.78,2.73,-8|2.78,2.73,0|39.3076|0,0,0"
  "helmet|$S/DamagedHelmet/DamagedHelmet.glb|640|360|0,0,3|0,0,0|40|1,1,1"
)
printf '%-8s %14s %14s %8s %12s %12s\n' scene xs_samples/s cy_samples/s speedup xs_rel_rmse cy_rel_rmse
for s in "${scenes[@]}"; do
  IFS='|' read -r name scene w h pos tgt yfov bg <<<"$s"
  ours "$name" "$scene" "$w" "$h" "$pos" "$tgt" "$yfov" "$bg" 64
  cycles "$name" "$scene" "$w" "$h" "$pos" "$tgt" "$yfov" "$bg" 64
  ours "$name" "$scene" "$w" "$h" "$pos" "$tgt" "$yfov" "$bg" "$ref"
  cycles "$name" "$scene" "$w" "$h" "$pos" "$tgt" "$yfov" "$bg" "$ref"
  xs=$(field "$out/${name}_xs64.json" samples_per_s)
  cy=$(field "$out/${name}_cy64.json" samples_per_s)
  ex=$("$B/tests/exr_compare" --rmse "$out/${name}_xs64.exr" "$out/${name}_xs$ref.exr" | awk '{print $2}')
  ec=$("$B/tests/exr_compare" --rmse "$out/${name}_cy64.exr" "$out/${name}_cy$ref.exr" | awk '{print $2}')
  printf '%-8s %14.0f %14.0f %8.2f %12s %12s\n' "$name" "$xs" "$cy" "$(python3 -c "print($xs/$cy)")" "$ex" "$ec"
done
echo "# cross-check: our converged image against Cycles' (different material models: see docs)"
for n in cornell helmet; do
  echo "$n: $("$B/tests/exr_compare" --rmse "$out/${n}_xs$ref.exr" "$out/${n}_cy$ref.exr")"
done

MI_VENV=${MI_VENV:-/tmp/mi}
MI_VARIANT=${MI_VARIANT:-llvm_ad_rgb}
echo "# Mitsuba 3 ($MI_VARIANT) against xisuan: the built-in Cornell box, 256x256, 64 spp, 8 bounces, $threads threads"
export DRJIT_LIBLLVM_PATH=${DRJIT_LIBLLVM_PATH:-/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1}
if [ -x "$MI_VENV/bin/python" ] && [ -e "$DRJIT_LIBLLVM_PATH" ]; then
  mi() { "$MI_VENV/bin/python" "$M/cornell.py" "$out/mi_$1.exr" 256 256 "$1" 8 "$MI_VARIANT" | awk '{print $4}'; }
  xs() { "$B/xisuan-tracebench" cornell --width 256 --height 256 --spp "$1" --max-bounces 8 --threads "$threads" \
           --out "$out/xs_mi$1.exr" --json "$out/xs_mi$1.json" >/dev/null; field "$out/xs_mi$1.json" render_s; }
  mi 64 >/dev/null # the first run of a size JIT-compiles
  printf '%-6s %12s %12s %8s\n' run xs_s mi_s xs/mi
  for r in $(seq "$repeats"); do
    a=$(xs 64) b=$(mi 64)
    printf '%-6s %12s %12s %8.2f\n' "$r" "$a" "$b" "$(python3 -c "print($b/$a)")"
  done
  xs "$ref" >/dev/null
  mi "$ref" >/dev/null
  echo "xisuan rel. RMSE (64 spp vs its $ref spp): $("$B/tests/exr_compare" --rmse "$out/xs_mi64.exr" "$out/xs_mi$ref.exr")"
  echo "Mitsuba rel. RMSE (64 spp vs its $ref spp): $("$B/tests/exr_compare" --rmse "$out/mi_64.exr" "$out/mi_$ref.exr")"
  echo "converged xisuan vs converged Mitsuba: $("$B/tests/exr_compare" --rmse "$out/xs_mi$ref.exr" "$out/mi_$ref.exr")"
else
  echo "skipped: no Mitsuba ($MI_VENV/bin/python: python3 -m venv $MI_VENV && $MI_VENV/bin/pip install mitsuba==3.9.1 numpy;"
  echo "         $DRJIT_LIBLLVM_PATH: apt-get install -y libllvm19)"
fi
echo "# BVH build and traversal (threads=$threads)"
for s in "$S/CornellBox/CornellBox.gltf" "$S/DamagedHelmet/DamagedHelmet.glb" \
         "$S/EmissiveStrengthTest/EmissiveStrengthTest.gltf" "$S/TransmissionTest/TransmissionTest.glb"; do
  "$B/xisuan-tracebench" "$s" --width 320 --height 240 --spp 4 --threads "$threads" | python3 -c "
import json,sys
d=json.loads(sys.stdin.read().split(' ',1)[1])
print('%-60s tris %8d build %.4fs (%.2f Mtris/s/thread) camera %.2f Mrays/s diffuse %.2f Mrays/s' % (d['scene'][-60:], d['triangles'], d['bvh_build_s'], d['bvh_mtris_per_s_per_thread'], d['camera_trace_rays_per_s']/1e6, d['diffuse_trace_rays_per_s']/1e6))"
done
"$B/xisuan-tracebench" --generate-tris 1000000 --threads "$threads"
"$B/xisuan-tracebench" --generate-tris 4000000 --threads "$threads"
if [ -x "$B/xisuan-embreebench" ]; then
  echo "# traversal: xisuan against Embree 3 on the same rays (threads=$threads)"
  "$B/xisuan-embreebench" cornell --threads "$threads"
  "$B/xisuan-embreebench" "$S/CornellBox/CornellBox.gltf" --threads "$threads" --cam-pos 2.78,2.73,-8 --cam-target 2.78,2.73,0 --yfov 39.3076
  "$B/xisuan-embreebench" "$S/DamagedHelmet/DamagedHelmet.glb" --threads "$threads" --cam-pos 0,0,3 --cam-target 0,0,0 --yfov 40
  "$B/xisuan-embreebench" "$S/TransmissionTest/TransmissionTest.glb" --threads "$threads"
  "$B/xisuan-embreebench" --generate-tris 1000000 --threads "$threads"
else
  echo "# no xisuan-embreebench (apt-get install -y libembree-dev, then rebuild)"
fi
