#!/usr/bin/env bash
# The CUDA back end through the whole farm (label gpu; skipped, exit 77,
# without a GPU): mpirun with GPU ranks renders the Cornell box; tile sizes 64
# and 128 give bit-identical frames (pixels depend on (seed, frame, pixel,
# sample) and a fixed summation order only); the GPU frame's mean agrees with
# the CPU's within 1%; `xisuan bench` on the GPU writes its JSON report.
# usage: gpu.sh XISUAN MPIEXEC TEST_GPU EXR_COMPARE
set -euo pipefail
xisuan=$1 mpiexec=$2 test_gpu=$3 compare=$4
"$test_gpu" has_gpu || exit $?
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--scene cornell --resolution 256x256 --spp 32 --frames 1 --progress off --job j)
run() { # tag ranks flags...
  local tag=$1 n=$2; shift 2
  timeout 300 "$mpiexec" -n "$n" --oversubscribe "$xisuan" render "${common[@]}" --out "$work/$tag" "$@" \
    >"$work/$tag.log" 2>&1 || { echo "FAIL: $tag exited $?"; cat "$work/$tag.log"; exit 1; }
}
run gpu64 3 --backend cuda --tile 64
run gpu128 2 --backend cuda --tile 128
run cpu 2 --backend cpu --tile 64
grep -q "CUDA 0:" "$work/gpu64.log" || { echo "FAIL: no CUDA rank in the log"; cat "$work/gpu64.log"; exit 1; }
"$compare" "$work/gpu64/j/j.0001.exr" "$work/gpu128/j/j.0001.exr" ||
  { echo "FAIL: GPU frames with tiles 64 and 128 differ"; exit 1; }
line=$("$compare" --rmse "$work/gpu64/j/j.0001.exr" "$work/cpu/j/j.0001.exr")
echo "GPU vs CPU: $line"
diff=$(echo "$line" | sed -n 's/.*mean_diff \(-\?[0-9.]*\)%.*/\1/p')
awk -v d="$diff" 'BEGIN { exit !(d < 1.0 && d > -1.0) }' || { echo "FAIL: means differ by $diff%"; exit 1; }
timeout 300 "$mpiexec" -n 2 --oversubscribe "$xisuan" bench --scenes cornell --spp 16 --out "$work/bench" \
  --json "$work/bench.json" >"$work/bench.log" 2>&1 || { echo "FAIL: bench"; cat "$work/bench.log"; exit 1; }
grep -q '"peak_share"' "$work/bench.json" || { echo "FAIL: no bench JSON"; exit 1; }
tail -6 "$work/bench.log"
echo "gpu.sh: ok"
