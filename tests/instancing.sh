#!/usr/bin/env bash
# A mesh used by several nodes stays one mesh with several instances (the
# counts the loader reports match the generated file), in both layouts, and
# both layouts render the same pixels.
# usage: instancing.sh XISUAN GEN_GLTF EXR_COMPARE WORKDIR
set -uo pipefail
xisuan=$1 gen=$2 compare=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
fail=0
"$gen" "$work/inst.glb" 12 3 >"$work/gen1.txt"
"$gen" "$work/uniq.glb" 12 3 unique >"$work/gen2.txt"
for v in inst uniq; do
  "$xisuan" render "$work/$v.glb" --resolution 48x36 --spp 2 --tile 16 --out "$work/out" --job "$v" \
    --name f >"$work/$v.log" 2>&1 || { echo "FAIL: render $v"; cat "$work/$v.log"; fail=1; }
done
grep -q "3 mesh(es), 11 instance(s), 1300 triangles placed" "$work/inst.log" ||
  { echo "FAIL: instanced file: $(grep 'scene' "$work/inst.log")"; fail=1; }
grep -q "11 mesh(es), 11 instance(s), 1300 triangles placed" "$work/uniq.log" ||
  { echo "FAIL: unique file: $(grep 'scene' "$work/uniq.log")"; fail=1; }
grep -q "meshes 3 instances 11 triangles 1300" "$work/gen1.txt" || { echo "FAIL: generator"; fail=1; }
"$compare" "$work/out/inst/f.0001.exr" "$work/out/uniq/f.0001.exr" ||
  { echo "FAIL: instanced and copied meshes render differently"; fail=1; }
[ $fail = 0 ] && echo "instancing: one mesh, 9 sphere instances + ground + light, same pixels as 9 copies"
exit $fail
