#!/usr/bin/env bash
# Backbone benchmark (not a test): frame time of the Cornell box with 1, 2 and
# 4 MPI ranks on this machine, and rank 0's dispatch rate in work items per
# second with the empty kernel (workers answer at once: no pixels, no files).
# Runs everything side by side in one go; quote ratios, not absolute times,
# on a noisy machine. Ranks run with --bind-to none, so each configuration has
# the whole machine (Open MPI binds 1-2 ranks to one core each by default).
# usage: bench/backbone.sh [BUILD_DIR] [RESOLUTION] [SPP]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
res=${2:-512x512}
spp=${3:-64}
x="$build/xisuan"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "frame: cornell $res, $spp spp, tile 64, 1 frame"

wall() { sed -n 's/.* \([0-9.]*\) s wall$/\1/p' "$1" | tail -1; }

declare -A t
for n in 1 2 4; do
  mpirun -n "$n" --oversubscribe --bind-to none "$x" render --resolution "$res" --spp "$spp" --tile 64 \
    --out "$work/r$n" --no-preview >"$work/r$n.log"
  t[$n]=$(wall "$work/r$n.log")
  workers=$(( n == 1 ? 1 : n - 1 ))
  threads=$(sed -n 's/.*rank(s), \([0-9]*\) thread.*/\1/p' "$work/r$n.log")
  msps=$(sed -n 's/.*total: \([0-9.]*\) Msamples.*/\1/p' "$work/r$n.log")
  printf "  %d rank(s): %d worker(s) x %s thread(s): %8.3f s  (%s Msamples/s)\n" "$n" "$workers" \
    "$threads" "${t[$n]}" "$msps"
done
awk -v a="${t[1]}" -v b="${t[2]}" -v c="${t[4]}" \
  'BEGIN { printf "  ratios to 1 rank: 2 ranks %.3f, 4 ranks %.3f\n", b / a, c / a }'
for cmp in "$work"/r2/cornell/cornell.0001.exr "$work"/r4/cornell/cornell.0001.exr; do
  "$build/tests/exr_compare" "$work/r1/cornell/cornell.0001.exr" "$cmp" >/dev/null \
    || echo "  WARNING: $cmp differs from the 1-rank frame"
done

echo "dispatch: empty kernel, 4096x4096 in 8-pixel tiles (262144 items)"
for n in 2 4; do
  mpirun -n "$n" --oversubscribe --bind-to none "$x" render --kernel empty --resolution 4096x4096 --tile 8 \
    --out "$work/d$n" >"$work/d$n.log"
  rate=$(sed -n 's/.*dispatch \([0-9]*\) items, \([0-9]*\) items\/s.*/\2/p' "$work/d$n.log")
  printf "  %d rank(s) (%d worker(s)): %s items/s over %s s\n" "$n" $((n - 1)) "$rate" \
    "$(wall "$work/d$n.log")"
done
