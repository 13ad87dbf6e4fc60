#!/usr/bin/env bash
# 4 ranks render a package and only rank 0 opens it: strace follows mpirun and
# every rank it starts, and exactly one process may open the package file.
# The frame must still be right (equal to a single-process render).
# usage: mpi_open_once.sh XISUAN EXR_COMPARE MPIEXEC GEN_GLTF WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 gen=$4 work=$5
command -v strace >/dev/null || { echo "SKIP: strace is not installed"; exit 77; }
rm -rf "$work" && mkdir -p "$work/pkg"
"$gen" "$work/pkg/scene.glb" 16 2 >/dev/null
printf '{"schema": 1, "scene": "scene.glb", "render": {"resolution": [48, 32], "spp": 2, "tile": 16}}\n' \
  >"$work/pkg/manifest.json"
"$xisuan" pack "$work/pkg" -o "$work/scene.tar.zst" >/dev/null || { echo "FAIL: pack"; exit 1; }
strace -f -qq -e trace=open,openat -o "$work/trace" \
  "$mpiexec" -n 4 --oversubscribe "$xisuan" render "$work/scene.tar.zst" --out "$work/out" \
  --job mpi --name f >"$work/log" 2>&1 || { echo "FAIL: render"; cat "$work/log"; exit 1; }
"$xisuan" render "$work/scene.tar.zst" --out "$work/out" --job one --name f >/dev/null 2>&1
pids=$(grep -F "scene.tar.zst" "$work/trace" | grep -v ENOENT | awk '{print $1}' | sort -u)
n=$(echo "$pids" | grep -c .)
traced=$(grep "libmpi.so" "$work/trace" | awk '{print $1}' | sort -u | grep -c .)
echo "MPI processes traced: $traced; processes that opened the package: $n ($(echo $pids))"
fail=0
[ "$traced" -ge 4 ] || { echo "FAIL: strace saw $traced MPI processes, expected 4"; fail=1; }
[ "$n" = 1 ] || { echo "FAIL: $n processes opened the package, expected only rank 0"; fail=1; }
grep -q "job mpi completed" "$work/log" || { echo "FAIL: job did not complete"; fail=1; }
"$compare" "$work/out/one/f.0001.exr" "$work/out/mpi/f.0001.exr" || fail=1
[ $fail = 0 ] && echo "mpi_open_once: only rank 0 opened the package; frame identical to 1 process"
exit $fail
