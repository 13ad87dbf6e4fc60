#!/usr/bin/env bash
# `xisuan info` and `xisuan bench` end to end on the CPU:
# - info plans 9 ranks on the 2-socket 8-GPU XML node exactly as
#   test_placement expects, as a table and as JSON;
# - info and render reject bad input with a message and exit 2 (render
#   --backend cuda on a machine without a GPU says why);
# - on a machine whose GPU CUDA cannot use (a fake /dev with nvidia0 through
#   XS_DEV_DIR, where CUDA fails here), --backend auto warns loudly;
# - bench renders the Cornell box on 2 worker ranks and writes the table and
#   a JSON report with every field the docs name.
# usage: bench_info.sh XISUAN MPIEXEC TEST_PLACEMENT
set -euo pipefail
xisuan=$1 mpiexec=$2 test_placement=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
"$test_placement" --write 2s8g "$work/2s8g.xml"
"$xisuan" info --topology "$work/2s8g.xml" --ranks 9 >"$work/info.txt"
for want in "8 GPU(s), 9 rank(s)" \
            "  0     scheduler -    -             (unbound)" \
            "  1     gpu       0    0000:18:00.0  0-1              0-3              0" \
            "  5     gpu       4    0000:9a:00.0  8-9              16-19            1" \
            "  8     gpu       7    0000:db:00.0  14-15            28-31            1"; do
  grep -qF -- "$want" "$work/info.txt" || { echo "FAIL: info lacks '$want'"; fail=1; }
done
CUDA_VISIBLE_DEVICES=4,5 "$xisuan" info --topology "$work/2s8g.xml" --ranks 5 --json >"$work/info.json"
grep -qF '"warnings": ["GPU 0000:9a:00.0 is shared by local ranks 1, 3' "$work/info.json" ||
  { echo "FAIL: JSON plan lacks the sharing warning"; cat "$work/info.json"; fail=1; }

expect_error() { # want-substring command...
  local want=$1; shift
  set +e
  "$@" >"$work/err.txt" 2>&1
  local rc=$?
  set -e
  if [ $rc != 2 ] || ! grep -qF -- "$want" "$work/err.txt"; then
    echo "FAIL: '$*' exited $rc without '$want':"; cat "$work/err.txt"; fail=1
  fi
}
expect_error "--ranks: expected an integer" "$xisuan" info --ranks 0
expect_error "--topology /nonexistent.xml" "$xisuan" info --topology /nonexistent.xml
expect_error "--backend: must be auto, cuda, cpu or embree" "$xisuan" render --backend gpu
expect_error "unknown flag" "$xisuan" bench --spp 4 --frobnicate 1
if ! "$xisuan" info 2>/dev/null | grep -q "GPUs from CUDA (CUDA_DEVICE_ORDER"; then
  expect_error "--backend cuda: rank 0 sees no CUDA device" "$xisuan" render --backend cuda --spp 1 \
    --resolution 16x16 --out "$work/nocuda" --progress off
  # a GPU's device node where CUDA fails (XS_DEV_DIR: a fake /dev): auto
  # renders on the CPU and says so loudly; cuda names the node and CUDA's error
  mkdir -p "$work/dev" && : >"$work/dev/nvidia0"
  XS_DEV_DIR="$work/dev" "$xisuan" render --spp 1 --resolution 16x16 --out "$work/auto" --progress off \
    >"$work/auto.txt" 2>&1 || { echo "FAIL: auto with an unusable GPU exited $?"; cat "$work/auto.txt"; fail=1; }
  grep -q "WARNING: node .*: the GPUs are unusable, so --backend auto renders on the CPU" "$work/auto.txt" ||
    { echo "FAIL: auto with an unusable GPU said nothing"; cat "$work/auto.txt"; fail=1; }
  XS_DEV_DIR="$work/dev" expect_error "1 NVIDIA GPU device node(s)" "$xisuan" render --backend cuda --spp 1 \
    --resolution 16x16 --out "$work/nocuda" --progress off
fi

timeout 600 "$mpiexec" -n 3 --oversubscribe "$xisuan" bench --scenes cornell --spp 2 --backend cpu \
  --out "$work/bench" --json "$work/bench.json" >"$work/bench.log" 2>&1 ||
  { echo "FAIL: bench exited $?"; cat "$work/bench.log"; exit 1; }
grep -q "%peak" "$work/bench.log" || { echo "FAIL: no bench table"; fail=1; }
for key in '"scene": "cornell"' '"rank": 1' '"rank": 2' '"peak_flops"' '"busy_share"' '"camera_rays_per_s"' \
           '"shadow_rays_per_s"' '"flops_per_s"' '"peak_share"' '"scheduler_idle_share"' '"node_visits"'; do
  grep -qF -- "$key" "$work/bench.json" || { echo "FAIL: bench JSON lacks $key"; fail=1; }
done
tail -4 "$work/bench.log"
[ $fail = 0 ] && echo "bench_info.sh: ok"
exit $fail
