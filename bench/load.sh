#!/usr/bin/env bash
# Scene-load benchmark (not a test): load time and peak memory per rank for
# each scene in ../shared/scenes and for generated scenes of over a million
# triangles (stored once and instanced), rendered by 4 MPI ranks at a token
# resolution so the figures are the load's. Rank 0 reads and checks the
# package; ranks 1-3 receive it over MPI and open it in memory.
# usage: bench/load.sh [BUILD_DIR] [RANKS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
ranks=${2:-4}
scenes="$root/../shared/scenes"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$build/tests/gen_gltf" "$work/spheres_1M_unique.glb" 360 3 unique | sed 's/^/generated spheres_1M_unique.glb: /'
"$build/tests/gen_gltf" "$work/spheres_1M_instanced.glb" 360 3 | sed 's/^/generated spheres_1M_instanced.glb: /'
list=()
for f in CornellBox/CornellBox.gltf DamagedHelmet/DamagedHelmet.glb \
         EmissiveStrengthTest/EmissiveStrengthTest.gltf TransmissionTest/TransmissionTest.glb; do
  [ -f "$scenes/$f" ] && list+=("$scenes/$f")
done
list+=("$work/spheres_1M_unique.glb" "$work/spheres_1M_instanced.glb")
for s in "${list[@]}"; do
  echo "== $(basename "$s")"
  mpirun -n "$ranks" --oversubscribe --bind-to none "$build/xisuan" render "$s" --resolution 16x16 \
    --spp 1 --tile 16 --out "$work/out" --no-preview >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  grep -E "^xisuan: scene /|^  rank +[0-9]+: input" "$work/log" | sed 's/^xisuan: scene [^:]*: /  /'
done
