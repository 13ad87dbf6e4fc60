#!/usr/bin/env bash
# The first GPU run in one script (docs/running.md#the-first-gpu-run): proves
# the CUDA back end on a machine with a GPU, or says exactly what failed.
#
#   scripts/gpu-check.sh [--build DIR] [--out DIR] [--scenes DIR] [--budget S] [--quick]
#
# Steps, each timed and bounded, each with a status in the summary:
#   1. build: use DIR's build (carried to a GPU machine with ../shared/device's
#      bundle: .devbundle/env.sh is sourced when present), or build it here
#      (Release, sm_90) when it is missing and the tools are here;
#   2. probe: is there a GPU CUDA can use (test_gpu has_gpu: ready, none, or
#      broken: device nodes but a CUDA error), nvidia-smi's view;
#   3. ptxas: the kernels' registers, stack and spills for sm_90 (tests/ptxas.sh);
#   4. gpu tests: ctest -L gpu (devbundle-ctest with a bundle);
#   5. renders: the standard scenes through the farm (mpiexec, rank 0 + one GPU
#      rank) on the GPU and on the CPU; GPU and CPU means must agree within 1%;
#   6. bench: xisuan bench on the GPU at the default settings (spp 16, tile 256,
#      1920x1080: is the rank GPU-bound?) and at 256 spp (the kernel's rays/s):
#      rays/s by kind, kernel time, share of FP32 peak, host overhead;
#   7. hostbench: the host side alone (stand-in back end): tiles/s per writer,
#      so the summary says how many writer cores the GPU's tile rate needs.
# Without a GPU every step still runs that can: the GPU parts say "no GPU".
# The summary: OUT/gpu-check.json and OUT/gpu-check.txt (printed at the end).
# Exit 0 when nothing failed (GPU parts may be "no GPU": the summary says so),
# 1 when a step failed. --quick: small sizes and no ctest, for a smoke run
# (tests/CMakeLists.txt runs it so on every CI build). --budget: seconds for
# the whole run (default 450; the GPU machine's window is 8 minutes); a step
# that would start after it is skipped and says so.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="" out="$root/gpu-check-out" scenes="" quick=0 budget=450
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --scenes) scenes=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
t_start=$(date +%s)
elapsed() { echo $(( $(date +%s) - t_start )); }
if [ -z "$build" ]; then
  if [ -f "$root/build-dev/CMakeCache.txt" ]; then build="$root/build-dev"; else build="$root/build"; fi
fi
case "$build" in /*) ;; *) build="$root/$build" ;; esac
case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
if [ -z "$scenes" ]; then
  for d in "$root/shared/scenes" "$root/../shared/scenes"; do [ -d "$d/CornellBox" ] && { scenes=$d; break; }; done
fi
rm -rf "$out" && mkdir -p "$out/steps"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
bundle=0
if [ -f "$root/.devbundle/env.sh" ]; then
  # shellcheck disable=SC1091
  source "$root/.devbundle/env.sh" && bundle=1
fi
log() { echo "gpu-check [$(elapsed) s]: $*"; }
# step NAME STATUS DETAIL [JSON-FIELDS]: one step's result, for the summary
step() {
  printf '{"step": "%s", "status": "%s", "detail": %s, "seconds_at": %s%s}\n' "$1" "$2" \
    "$(printf '%s' "$3" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" "$(elapsed)" \
    "${4:+, $4}" >"$out/steps/$(ls "$out/steps" | wc -l | awk '{printf "%02d", $1}')-$1.json"
  log "$1: $2${3:+: $3}"
}
over_budget() { [ "$(elapsed)" -ge "$budget" ]; }
# the summary: every step's result and the figures, as JSON and text
summarize() {
python3 - "$out" "$(elapsed)" "$gpu" <<'PY'
import glob, json, math, os, sys
out, seconds, gpu = sys.argv[1], int(sys.argv[2]), sys.argv[3]
steps = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "steps", "*.json")))]
def load(name):
    p = os.path.join(out, name)
    try:
        return json.load(open(p))
    except Exception:
        return None
summary = {"seconds": seconds, "gpu": gpu, "steps": steps, "figures": {}}
fig = summary["figures"]
for tag in ("default", "kernel"):
    b = load("bench-%s.json" % tag)
    if not b:
        continue
    rows = []
    for sc in b["scenes"]:
        for r in sc["ranks"]:
            pb = r["per_busy_s"]
            rows.append({"scene": sc["scene"], "resolution": sc["resolution"], "spp": b["spp"], "device": r["device"],
                         "tiles": r["tiles"], "wall_s": sc["wall_s"], "busy_s": r["busy_s"], "kernel_s": r["kernel_s"],
                         "kernel_share_of_wall": r["kernel_share"], "host_overhead_share": r["host_overhead_share"],
                         "rays_per_s": pb["rays_per_s"], "camera_rays_per_s": pb["camera_rays_per_s"],
                         "bounce_rays_per_s": pb["bounce_rays_per_s"], "shadow_rays_per_s": pb["shadow_rays_per_s"],
                         "kernel_rays_per_s": r["kernel_rays_per_s"], "peak_share": pb["peak_share"],
                         "kernel_peak_share": r["kernel_peak_share"], "peak_flops": r["peak_flops"]})
    fig["bench_" + tag] = rows
h = load("hostbench.json")
if h:
    fig["hostbench"] = h
    zip_rows = [r for r in h["runs"] if r["compression"] == "zip" and r["writers"] > 0]
    d = fig.get("bench_default")
    if zip_rows and d and d[0]["kernel_s"] > 0:
        per_writer = max(r["tiles_per_s"] / r["writers"] for r in zip_rows)
        gpu_rate = d[0]["tiles"] / d[0]["kernel_s"]
        fig["writers_needed_at_defaults"] = {"gpu_tiles_per_kernel_s": gpu_rate, "zip_tiles_per_s_per_writer": per_writer,
                                             "writers": math.ceil(gpu_rate / per_writer)}
failed = [s["step"] for s in steps if s["status"] == "fail"]
nogpu = [s["step"] for s in steps if s["status"] == "no GPU"]
summary["passed"] = not failed
summary["failed_steps"] = failed
summary["no_gpu_steps"] = nogpu
json.dump(summary, open(os.path.join(out, "gpu-check.json"), "w"), indent=1)
lines = ["gpu-check: %s in %d s; GPU: %s" % ("FAILED" if failed else "passed" if not nogpu else "no GPU: host parts passed", seconds, gpu)]
for s in steps:
    lines.append("  %-24s %-8s %s" % (s["step"], s["status"], s["detail"][:160]))
for tag in ("default", "kernel"):
    for r in fig.get("bench_" + tag, []):
        lines.append("  bench %s: %s %s %d spp on %s: %.1f M rays/s over busy (camera %.1f, bounce %.1f, shadow %.1f),"
                     " %.1f M rays per kernel second; kernel %.2f s of %.2f s busy (host overhead %.1f%%), %.2f%% of FP32 peak"
                     % (tag, r["scene"], r["resolution"], r["spp"], r["device"][:40], r["rays_per_s"] * 1e-6,
                        r["camera_rays_per_s"] * 1e-6, r["bounce_rays_per_s"] * 1e-6, r["shadow_rays_per_s"] * 1e-6,
                        r["kernel_rays_per_s"] * 1e-6, r["kernel_s"], r["busy_s"], 100 * r["host_overhead_share"],
                        100 * r["kernel_peak_share"]))
if h:
    for r in h["runs"]:
        lines.append("  host %s, %d writer(s): %.1f tiles/s of %dx%d x %d ch (%.1f MB/s in), %.1f ms a tile a writer"
                     % (r["compression"], r["writers"], r["tiles_per_s"], h["tile"], h["tile"], h["channels"],
                        r["mb_in_per_s"], r["ms_per_tile_per_writer"]))
w = fig.get("writers_needed_at_defaults")
if w:
    lines.append("  at default settings the GPU renders %.1f tiles per kernel second; one ZIP writer takes %.1f: %d writer core(s) keep up"
                 % (w["gpu_tiles_per_kernel_s"], w["zip_tiles_per_s_per_writer"], w["writers"]))
open(os.path.join(out, "gpu-check.txt"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
sys.exit(1 if failed else 0)
PY
}

# ---- 1. build -------------------------------------------------------------------------
if [ -x "$build/xisuan" ] && [ -f "$build/CMakeCache.txt" ]; then
  step build ok "using the build in $build$([ $bundle = 1 ] && echo ' with the device bundle (.devbundle)')"
elif command -v cmake >/dev/null && command -v mpicc >/dev/null && pkg-config --exists OpenEXR 2>/dev/null; then
  t0=$(date +%s)
  if "$root/scripts/build.sh" "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="${XS_CUDA_ARCH:-90}" \
      >"$out/build.log" 2>&1; then
    step build ok "built $build in $(( $(date +%s) - t0 )) s (Release, sm_${XS_CUDA_ARCH:-90})"
  else
    step build fail "the build failed: $out/build.log"; tail -20 "$out/build.log"
  fi
else
  step build fail "no build in $build, and this machine cannot build (cmake, MPI or OpenEXR missing): carry one, see docs/running.md#the-first-gpu-run"
fi
xisuan="$build/xisuan"
mpiexec=$(command -v mpiexec || command -v mpirun || echo mpiexec)
compare="$build/tests/exr_compare"
if [ ! -x "$xisuan" ]; then
  summarize
  exit 1
fi

# ---- 2. probe -------------------------------------------------------------------------
gpu=none why=""
if [ -x "$build/tests/test_gpu" ]; then
  why=$("$build/tests/test_gpu" has_gpu 2>&1); rc=$?
  case $rc in
    0) gpu=ready ;;
    77) gpu=none ;;
    *) gpu=broken ;;
  esac
else
  why="this build has no CUDA back end (built without nvcc)"
  [ -e /dev/nvidia0 ] && gpu=broken
fi
smi=""
command -v nvidia-smi >/dev/null &&
  smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1 | head -4)
cores=$(nproc)
case $gpu in
  ready) step probe ok "a GPU CUDA can use${smi:+: $smi}; $cores core(s)" "\"gpu\": \"ready\", \"cores\": $cores" ;;
  none) step probe "no GPU" "$(echo "$why" | tail -1)" "\"gpu\": \"none\", \"cores\": $cores" ;;
  *) step probe fail "a GPU CUDA cannot use: $(echo "$why" | tail -1)${smi:+; nvidia-smi: $smi}" "\"gpu\": \"broken\", \"cores\": $cores" ;;
esac

# ---- 3. ptxas ---------------------------------------------------------------------------
nvcc=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; } || true)
if [ -n "$nvcc" ]; then
  if timeout 120 "$root/tests/ptxas.sh" "$nvcc" "$root" "$root/tests/ptxas_budget.txt" "$out/ptxas-sm90.txt" \
      >"$out/ptxas.log" 2>&1; then
    step ptxas ok "$(grep -v '^#' "$out/ptxas-sm90.txt" | tr '\n' ';' | sed 's/;$//')"
  else
    step ptxas fail "$(grep FAIL "$out/ptxas.log" | tr '\n' ' ')"
  fi
else
  step ptxas skipped "no nvcc here"
fi

# ---- 4. gpu tests -----------------------------------------------------------------------
if [ $quick = 1 ]; then
  step gpu_tests skipped "--quick"
elif over_budget; then
  step gpu_tests skipped "over the time budget"
else
  ct=ctest
  [ $bundle = 1 ] && command -v devbundle-ctest >/dev/null && ct=devbundle-ctest
  if [ "$ct" = ctest ]; then
    (cd "$build" && timeout 360 ctest -L gpu --output-on-failure) >"$out/gpu-tests.log" 2>&1
  else
    (cd "$build" && timeout 360 devbundle-ctest -L gpu --output-on-failure) >"$out/gpu-tests.log" 2>&1
  fi
  total=$(grep -Eo 'tests failed out of [0-9]+' "$out/gpu-tests.log" | grep -Eo '[0-9]+$' | tail -1)
  failed=$(grep -Eo '[0-9]+ tests failed' "$out/gpu-tests.log" | grep -Eo '^[0-9]+' | tail -1)
  skipped=$(grep -c '\*\*\*Skipped' "$out/gpu-tests.log")
  names=$(grep -E '\*\*\*(Failed|Skipped|Timeout|Not Run)|Failed  ' "$out/gpu-tests.log" | sed 's/.*Test *#[0-9]*: *//; s/ \.\.\..*//' | tr '\n' ' ')
  fields="\"total\": ${total:-0}, \"failed\": ${failed:-0}, \"skipped\": $skipped"
  if [ "${total:-0}" = 0 ]; then
    step gpu_tests fail "ctest ran no gpu test: $out/gpu-tests.log" "$fields"
  elif [ $gpu = none ] && [ "${failed:-0}" = 0 ]; then
    step gpu_tests "no GPU" "${total} test(s), all skipped as they should be without a GPU" "$fields"
  elif [ "${failed:-0}" = 0 ] && [ "$skipped" = 0 ]; then
    step gpu_tests ok "all ${total} passed" "$fields"
  else
    step gpu_tests fail "${failed:-0} failed, $skipped skipped of ${total}: $names(see $out/gpu-tests.log)" "$fields"
  fi
fi

# ---- 5. renders: GPU against CPU ----------------------------------------------------------
if [ $quick = 1 ]; then res=64x64 spp=4; else res=320x240 spp=32; fi
render() { # tag backend scene job
  timeout 300 "$mpiexec" -n 2 "$xisuan" render "$3" --backend "$2" --resolution $res --spp $spp --frames 1 \
    --out "$out/render/$1" --job "$4" --name f --progress off --no-preview >"$out/render/$1.log" 2>&1
}
pack() { # name file manifest-lines
  mkdir -p "$out/render/pkg/$1" && cp "$scenes/$1"/* "$out/render/pkg/$1/"
  printf '{\n  "schema": 1,\n  "scene": "%s",\n%s\n}\n' "$2" "$3" >"$out/render/pkg/$1/manifest.json"
  "$xisuan" pack "$out/render/pkg/$1" -o "$out/render/pkg/$1.tar.zst" >"$out/render/pkg/$1.log" 2>&1 &&
    echo "$out/render/pkg/$1.tar.zst"
}
mkdir -p "$out/render"
list=("cornell|cornell")
if [ -n "$scenes" ] && [ $quick = 0 ]; then
  white='  "environment": {"type": "constant", "color": [1, 1, 1]}'
  p=$(pack CornellBox CornellBox.gltf '  "camera": {"name": "cornell_cam"},
  "environment": {"type": "constant", "color": [0, 0, 0]}') && list+=("CornellBox|$p")
  p=$(pack DamagedHelmet DamagedHelmet.glb "  \"camera\": {\"position\": [0, 0, 3], \"target\": [0, 0, 0], \"yfov_deg\": 40},
$white") && list+=("DamagedHelmet|$p")
  p=$(pack TransmissionTest TransmissionTest.glb "  \"camera\": {\"index\": 0},
$white") && list+=("TransmissionTest|$p")
  p=$(pack EmissiveStrengthTest EmissiveStrengthTest.gltf "  \"camera\": {\"position\": [0, -1, 25], \"target\": [0, -1, 0], \"yfov_deg\": 40},
$white") && list+=("EmissiveStrengthTest|$p")
fi
[ -z "$scenes" ] && log "renders: no shared scenes found (--scenes DIR): the built-in Cornell box only"
for entry in "${list[@]}"; do
  name=${entry%%|*} scene=${entry#*|}
  if over_budget; then step "render_$name" skipped "over the time budget"; continue; fi
  if ! render "cpu-$name" cpu "$scene" "$name"; then
    step "render_$name" fail "the CPU reference failed: $(tail -2 "$out/render/cpu-$name.log" | tr '\n' ' ')"
    continue
  fi
  cpu_exr="$out/render/cpu-$name/$name/f.0001.exr"
  if [ $gpu != ready ]; then
    step "render_$name" "no GPU" "CPU reference $res, $spp spp rendered ($("$compare" --stats "$cpu_exr"))"
    continue
  fi
  if ! render "gpu-$name" cuda "$scene" "$name"; then
    step "render_$name" fail "the GPU render failed: $(grep -m2 -i 'error' "$out/render/gpu-$name.log" | tr '\n' ' ')"
    continue
  fi
  line=$("$compare" --rmse "$out/render/gpu-$name/$name/f.0001.exr" "$cpu_exr" 2>&1)
  diff=$(echo "$line" | sed -n 's/.*mean_diff \(-\{0,1\}[0-9.]*\)%.*/\1/p')
  rmse=$(echo "$line" | sed -n 's/.*rel_rmse \([0-9.]*\).*/\1/p')
  fields="\"mean_diff_percent\": ${diff:-null}, \"rel_rmse\": ${rmse:-null}"
  if [ -n "$diff" ] && awk -v d="$diff" 'BEGIN { exit !(d < 1.0 && d > -1.0) }'; then
    step "render_$name" ok "GPU against CPU at $res, $spp spp: $line" "$fields"
  else
    step "render_$name" fail "GPU against CPU at $res, $spp spp: means differ: $line" "$fields"
  fi
done

# ---- 6. bench on the GPU -----------------------------------------------------------------
bench() { # tag flags...
  local tag=$1; shift
  timeout 300 "$mpiexec" -n 2 "$xisuan" bench --out "$out/bench-$tag" --json "$out/bench-$tag.json" "$@" \
    >"$out/bench-$tag.log" 2>&1
}
if [ $gpu != ready ]; then
  step bench "no GPU" "xisuan bench measures the GPU: nothing to measure"
else
  helmet=""
  [ -n "$scenes" ] && helmet=",helmet"
  if over_budget; then
    step bench_default skipped "over the time budget"
  elif bench default --scenes cornell --spp 16 --resolution 1920x1080; then
    step bench_default ok "cornell 1920x1080, 16 spp, default tile, slots and writers" "\"json\": \"bench-default.json\""
  else
    step bench_default fail "$(tail -3 "$out/bench-default.log" | tr '\n' ' ')"
  fi
  if over_budget; then
    step bench_kernel skipped "over the time budget"
  elif bench kernel --scenes "cornell$helmet" --scene-dir "${scenes:-.}" --spp 256; then
    step bench_kernel ok "cornell$helmet at 256 spp" "\"json\": \"bench-kernel.json\""
  else
    step bench_kernel fail "$(tail -3 "$out/bench-kernel.log" | tr '\n' ' ')"
  fi
fi

# ---- 7. the host side alone -----------------------------------------------------------------
if [ $quick = 1 ]; then hb=(--tile 64 --tiles 8 --writers 0,1 --compression zip,none);
else
  writers=$(printf '%s\n' 0 1 $(( cores / 2 )) $(( cores - 1 )) | awk '$1 >= 0 && !seen[$1]++' | paste -sd,)
  hb=(--tile 256 --tiles 64 --writers "$writers" --compression zip,piz,none)
fi
if over_budget; then
  step hostbench skipped "over the time budget"
elif timeout 240 "$build/xisuan-hostbench" "${hb[@]}" --spp 16 --out "$out/hostbench" --json "$out/hostbench.json" \
    >"$out/hostbench.log" 2>&1; then
  step hostbench ok "$(grep -c '^  [a-z]' "$out/hostbench.log") measurement(s): $out/hostbench.log" "\"json\": \"hostbench.json\""
else
  step hostbench fail "$(tail -3 "$out/hostbench.log" | tr '\n' ' ')"
fi

summarize
