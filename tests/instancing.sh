#!/usr/bin/env bash
# A mesh used by several nodes stays one mesh with several instances (the
# counts the loader reports match the generated file), in both layouts, and
# both layouts render the same pixels. Then an equirectangular environment
# from the package lights the scene. Then solid glass spheres that absorb
# green and blue inside (KHR_materials_volume) tint the frame red, where the
# same glass as thin walls does not.
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

# an equirectangular environment from the package: a rendered frame serves as the sky;
# escaping rays must pick it up (brighter than a black world, no NaN), and a missing
# sky image is refused by name
mkdir -p "$work/envpkg"
"$xisuan" render --scene cornell --resolution 64x32 --spp 4 --out "$work/sky" --job s --name sky \
  >/dev/null 2>&1 || { echo "FAIL: sky render"; fail=1; }
cp "$work/sky/s/sky.0001.exr" "$work/envpkg/sky.exr"
cp "$work/inst.glb" "$work/envpkg/scene.glb"
for env in equirect black; do
  if [ $env = equirect ]; then e='{"type": "equirect", "image": "sky.exr", "strength": 4}'
  else e='{"type": "constant", "color": [0, 0, 0]}'; fi
  printf '{"schema": 1, "scene": "scene.glb", "environment": %s}\n' "$e" >"$work/envpkg/manifest.json"
  "$xisuan" pack "$work/envpkg" -o "$work/env_$env.tar.zst" >/dev/null 2>&1 || { echo "FAIL: pack $env"; fail=1; }
  "$xisuan" render "$work/env_$env.tar.zst" --resolution 48x36 --spp 4 --tile 16 --out "$work/out" \
    --job "env_$env" --name f >/dev/null 2>&1 || { echo "FAIL: render $env"; fail=1; }
done
read -r _ er eg eb _ _ en < <("$compare" --stats "$work/out/env_equirect/f.0001.exr")
read -r _ br bg bb _ _ bn < <("$compare" --stats "$work/out/env_black/f.0001.exr")
awk -v e="$er $eg $eb" -v b="$br $bg $bb" 'BEGIN { split(e, x, " "); split(b, y, " ");
  exit !(x[1] + x[2] + x[3] > 1.2 * (y[1] + y[2] + y[3]) + 0.01) }' ||
  { echo "FAIL: the sky adds no light ($er $eg $eb vs black $br $bg $bb)"; fail=1; }
[ "$en" = 0 ] || { echo "FAIL: non-finite values with the sky"; fail=1; }
printf '{"schema": 1, "scene": "scene.glb", "environment": {"type": "equirect", "image": "nosky.exr"}}\n' \
  >"$work/envpkg/manifest.json"
"$xisuan" pack "$work/envpkg" -o "$work/env_missing.tar.zst" 2>"$work/pack.err"; rc=$?
{ [ $rc = 2 ] && grep -q "environment.image: 'nosky.exr' is not in the package" "$work/pack.err"; } ||
  { echo "FAIL: a missing sky image was not refused by name (exit $rc)"; cat "$work/pack.err"; fail=1; }
[ $fail = 0 ] && echo "environment: the equirectangular sky lights the scene ($er $eg $eb vs black $br $bg $bb)"
# solid glass: KHR_materials_volume through loader, scene and kernel
for v in glass thinglass; do
  "$gen" "$work/$v.glb" 24 2 $v >/dev/null
  "$xisuan" render "$work/$v.glb" --resolution 64x48 --spp 16 --tile 32 --out "$work/out" --job "$v" \
    --name f >"$work/$v.log" 2>&1 || { echo "FAIL: render $v"; cat "$work/$v.log"; fail=1; }
done
read -r _ gr gg gb _ _ gn < <("$compare" --stats "$work/out/glass/f.0001.exr")
read -r _ tr tg tb _ _ tn < <("$compare" --stats "$work/out/thinglass/f.0001.exr")
awk -v g="$gr $gg" -v t="$tr $tg" 'BEGIN { split(g, x, " "); split(t, y, " ");
  exit !(x[1] / x[2] > 1.05 * (y[1] / y[2])) }' ||
  { echo "FAIL: solid glass does not absorb green (R/G $gr/$gg vs thin walls $tr/$tg)"; fail=1; }
[ "$gn" = 0 ] && [ "$tn" = 0 ] || { echo "FAIL: non-finite values with glass"; fail=1; }
[ $fail = 0 ] && echo "glass: the solid spheres tint the frame (R/G $gr/$gg, thin walls $tr/$tg)"
exit $fail
