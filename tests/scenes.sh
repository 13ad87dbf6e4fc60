#!/usr/bin/env bash
# Renders every scene of ../shared/scenes through a scene package (xisuan pack,
# then 3 MPI ranks) at low resolution, and checks what can be checked without
# eyes: no NaN or Inf, the image is not black, geometry covers the frame.
# The Cornell box also checks that KHR_materials_emissive_strength reaches the
# image: its mean must be within 3% of the built-in Cornell box, rendered from
# the published Cornell data with the same camera, light radiance (17, 12, 4)
# and settings (measured: 0.6%; without the strength of 17 it would be 17
# times darker). Exits 77 (skipped) when ../shared/scenes is absent.
# usage: scenes.sh XISUAN EXR_COMPARE MPIEXEC SCENES_DIR WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 scenes=$4 work=$5
if [ ! -d "$scenes/CornellBox" ]; then
  echo "SKIP: $scenes not found (the shared scenes live in ../shared/scenes)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
fail=0

# name  file  manifest camera/environment (cameras as in ../shared/peers/blender)
pack() {
  local name=$1 file=$2 extra=$3
  mkdir -p "$work/$name"
  cp "$scenes/$name"/* "$work/$name/"
  printf '{\n  "schema": 1,\n  "scene": "%s",\n%s,\n  "render": {"resolution": [64, 48], "spp": 4, "tile": 16}\n}\n' \
    "$file" "$extra" >"$work/$name/manifest.json"
  "$xisuan" pack "$work/$name" -o "$work/$name.tar.zst" >"$work/$name.pack.log" 2>&1 ||
    { echo "FAIL: pack $name"; cat "$work/$name.pack.log"; fail=1; }
}

white='  "environment": {"type": "constant", "color": [1, 1, 1]}'
pack CornellBox CornellBox.gltf '  "camera": {"name": "cornell_cam"},
  "environment": {"type": "constant", "color": [0, 0, 0]}'
pack DamagedHelmet DamagedHelmet.glb "  \"camera\": {\"position\": [0, 0, 3], \"target\": [0, 0, 0], \"yfov_deg\": 40},
$white"
pack EmissiveStrengthTest EmissiveStrengthTest.gltf "  \"camera\": {\"position\": [0, -1, 25], \"target\": [0, -1, 0], \"yfov_deg\": 40},
$white"
pack TransmissionTest TransmissionTest.glb "  \"camera\": {\"index\": 0},
$white"

for name in CornellBox DamagedHelmet EmissiveStrengthTest TransmissionTest; do
  timeout 300 "$mpiexec" -n 3 --oversubscribe "$xisuan" render "$work/$name.tar.zst" \
    --out "$work/out" --job "$name" --name f >"$work/$name.log" 2>&1 ||
    { echo "FAIL: render $name"; cat "$work/$name.log"; fail=1; continue; }
  read -r _ r g b a _ nonfinite < <("$compare" --stats "$work/out/$name/f.0001.exr")
  echo "$name: mean RGB $r $g $b, alpha $a, non-finite $nonfinite ($(grep -o '[0-9]* mesh(es), [0-9]* instance(s)' "$work/$name.log"))"
  [ "$nonfinite" = 0 ] || { echo "FAIL: $name has $nonfinite non-finite values"; fail=1; }
  awk -v r="$r" -v g="$g" -v b="$b" 'BEGIN { exit !((0.2126*r + 0.7152*g + 0.0722*b) > 0.01) }' ||
    { echo "FAIL: $name is black"; fail=1; }
  awk -v a="$a" 'BEGIN { exit !(a > 0.05) }' || { echo "FAIL: $name shows no geometry"; fail=1; }
done

# the mesh and instance counts of the files, as the loader reports them
grep -q "16 mesh(es), 16 instance(s), 32 triangles" "$work/CornellBox.log" || { echo "FAIL: Cornell counts"; fail=1; }
grep -q "1 mesh(es), 1 instance(s), 15452 triangles" "$work/DamagedHelmet.log" || { echo "FAIL: helmet counts"; fail=1; }
grep -q "22 mesh(es), 22 instance(s), 128775 triangles" "$work/TransmissionTest.log" || { echo "FAIL: transmission counts"; fail=1; }

# Cornell: the package's emissive strength against the published data
"$xisuan" render "$work/CornellBox.tar.zst" --resolution 96x96 --spp 256 --tile 32 --out "$work/ref" \
  --job pkg --name c >/dev/null 2>&1 || { echo "FAIL: Cornell package at 256 spp"; fail=1; }
"$xisuan" render --scene cornell --resolution 96x96 --spp 256 --tile 32 --out "$work/ref" \
  --job builtin --name c >/dev/null 2>&1 || { echo "FAIL: built-in Cornell"; fail=1; }
read -r _ pr pg pb _ < <("$compare" --stats "$work/ref/pkg/c.0001.exr")
read -r _ br bg bb _ < <("$compare" --stats "$work/ref/builtin/c.0001.exr")
echo "Cornell package mean $pr $pg $pb; built-in (published data) $br $bg $bb"
awk -v a="$pr $pg $pb" -v b="$br $bg $bb" 'BEGIN {
  split(a, x, " "); split(b, y, " ");
  for (i = 1; i <= 3; ++i) { d = (x[i] - y[i]) / y[i]; if (d < 0) d = -d;
    printf "  channel %d: %.2f%%\n", i, 100 * d; if (d > 0.03) bad = 1 }
  exit bad }' || { echo "FAIL: Cornell emission does not match the reference within 3%"; fail=1; }
[ $fail = 0 ] && echo "scenes: all shared scenes render through packages"
exit $fail
