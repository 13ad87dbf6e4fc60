#!/usr/bin/env bash
# Installs the dependencies, builds xisuan, and renders the Cornell box with
# 4 MPI ranks on this machine (rank 0 schedules, ranks 1-3 render), then says
# where the frame EXR and its PNG preview are.
# usage: examples/render-cornell.sh [OUT_DIR [extra render flags...]]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out}
shift || true
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build" >/dev/null
mpi=(mpirun -n 4 --oversubscribe)
[ "$(id -u)" = 0 ] && mpi+=(--allow-run-as-root)
"${mpi[@]}" "$root/build/xisuan" render --scene cornell --resolution 512x512 --spp 64 \
  --tile 64 --out "$out" --job example --name cornell "$@"
echo
echo "frame EXR:   $out/example/cornell.0001.exr"
echo "PNG preview: $out/example/cornell.0001.png"
echo "event log:   $out/example/events.jsonl (xisuan status $out/example --timeline t.svg draws it)"
echo "(a frame's tile files are removed once it is assembled; add --keep-tiles to keep them)"
