#!/usr/bin/env bash
# End to end, `cpu` against `embree` (docs/benchmarks.md, "The Embree back
# end"): `xisuan render` of each scene, one rank, T threads, the two back
# ends alternating, R runs each; per run the wall time of the whole command
# (load, both BVH builds, render, EXR), the CPU time it took (user + sys:
# steadier than the wall time on a shared machine) and the render's busy
# time from xisuan's summary. Prints one line per run and a summary of
# ratios (cpu / embree: above 1, embree is faster).
# usage: bench/embree.sh XISUAN GEN_GLTF SCENES_DIR [RES SPP THREADS RUNS]
#   GEN_GLTF: build/tests/gen_gltf (the 1M-triangle sphere: gen_gltf OUT 1000 1)
set -euo pipefail
xisuan=$1 gen=$2 scenes=$3 res=${4:-256x256} spp=${5:-64} threads=${6:-2} runs=${7:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$gen" "$work/mesh1m.glb" 1000 1 >/dev/null
declare -A paths=([cornell]=cornell [DamagedHelmet]="$scenes/DamagedHelmet/DamagedHelmet.glb" [mesh1m]="$work/mesh1m.glb")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %-7s %3s %8s %8s %8s\n' scene backend run wall_s cpu_s busy_s
for scene in cornell DamagedHelmet mesh1m; do
  for r in $(seq 1 "$runs"); do
    for be in cpu embree; do
      log="$work/$scene.$be.$r.log"
      /usr/bin/time -f "TIME %e %U %S" "$xisuan" render "${paths[$scene]}" --backend "$be" --threads "$threads" \
        --resolution "$res" --spp "$spp" --no-preview --out "$work/out" --job "$scene-$be-$r" >"$log" 2>&1
      read -r _ wall us ss < <(grep '^TIME' "$log")
      busy=$(awk '$1 == "0" && NF >= 8 { print $4 }' "$log" | tail -1)
      cpu=$(awk -v a="$us" -v b="$ss" 'BEGIN { printf "%.2f", a + b }')
      printf '%-14s %-7s %3s %8s %8s %8s\n' "$scene" "$be" "$r" "$wall" "$cpu" "$busy" | tee -a "$work/rows"
    done
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ratios cpu/embree per run (wall, cpu, busy), then min-max:"
awk '{ k = $1 SUBSEP $3; v[$1, $2, $3, "w"] = $4; v[$1, $2, $3, "c"] = $5; v[$1, $2, $3, "b"] = $6; s[$1] = 1; n[$3] = 1 }
     END { for (sc in s) { line = sc; for (m = 0; m < 3; ++m) { f = substr("wcb", m + 1, 1); lo = 1e9; hi = 0; list = "";
             for (r in n) { x = v[sc, "cpu", r, f] / v[sc, "embree", r, f]; list = list sprintf(" %.2f", x);
               lo = x < lo ? x : lo; hi = x > hi ? x : hi }
             line = line sprintf("  %s:%s [%.2f-%.2f]", f == "w" ? "wall" : f == "c" ? "cpu" : "busy", list, lo, hi) }
           print line } }' "$work/rows"
