#!/usr/bin/env bash
# Renders every scene of ../shared/scenes through a scene package (xisuan pack,
# then 3 MPI ranks) at low resolution, and checks what can be checked without
# eyes: no NaN or Inf, the image is not black, geometry covers the frame.
# The Cornell box also checks that KHR_materials_emissive_strength reaches the
# image: its mean must be within 3% of the built-in Cornell box, rendered from
# the published Cornell data with the same camera, light radiance (17, 12, 4)
# and settings (measured: 0.6%; without the strength of 17 it would be 17
# times darker). Against the files themselves, read independently of the
# loader (tests/gltf_probe.c): each scene's mesh, instance and triangle counts
# from its accessors and nodes; the coverage (alpha) of the helmet, the
# emissive cubes and the transmission scene against rays cast through the
# file's own triangles with the same camera (a wrong transform, camera, BVH or
# intersection moves the silhouette); and the emissive cubes, seen head-on in
# a black sky, at emissiveFactor (0.1, 0.5, 0.9) times their strengths 1, 2,
# 4, 8, 16 (what the scene's README says a renderer must show).
# Exits 77 (skipped) when ../shared/scenes is absent.
# usage: scenes.sh XISUAN EXR_COMPARE MPIEXEC SCENES_DIR WORKDIR GLTF_PROBE
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 scenes=$4 work=$5 probe=$6
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

# the counts the files' accessors and nodes give, as the loader must report them
for sf in CornellBox/CornellBox.gltf DamagedHelmet/DamagedHelmet.glb \
          EmissiveStrengthTest/EmissiveStrengthTest.gltf TransmissionTest/TransmissionTest.glb; do
  name=${sf%%/*}
  want=$("$probe" counts "$scenes/$sf") || { echo "FAIL: gltf_probe counts $sf"; fail=1; continue; }
  grep -qF ", $want placed" "$work/$name.log" ||
    { echo "FAIL: $name: the loader reports '$(grep -o '[0-9]* mesh(es).*placed' "$work/$name.log")'," \
           "the file holds $want"; fail=1; }
done
# coverage against the files' own geometry, cameras as in the manifests above
"$probe" coverage "$scenes/DamagedHelmet/DamagedHelmet.glb" "$work/out/DamagedHelmet/f.0001.exr" \
  look 0 0 3 0 0 0 40 || { echo "FAIL: DamagedHelmet coverage differs from its geometry"; fail=1; }
"$probe" coverage "$scenes/EmissiveStrengthTest/EmissiveStrengthTest.gltf" \
  "$work/out/EmissiveStrengthTest/f.0001.exr" look 0 -1 25 0 -1 0 40 ||
  { echo "FAIL: EmissiveStrengthTest coverage differs from its geometry"; fail=1; }
"$probe" coverage "$scenes/TransmissionTest/TransmissionTest.glb" "$work/out/TransmissionTest/f.0001.exr" node ||
  { echo "FAIL: TransmissionTest coverage differs from its geometry"; fail=1; }

# the emissive cubes in a black sky, 160x120: the middle 2x2 pixels of each
# front face (x = -6, -3, 0, 3, 6; face at z = 0.5, cube centre y = 0; camera
# at (0, -1, 25) looking down -z, 40 degrees) see only the face's emission
mkdir -p "$work/EmissiveBlack" && cp "$scenes/EmissiveStrengthTest"/* "$work/EmissiveBlack/"
printf '{\n  "schema": 1,\n  "scene": "EmissiveStrengthTest.gltf",\n  "camera": {"position": [0, -1, 25], "target": [0, -1, 0], "yfov_deg": 40},\n  "environment": {"type": "constant", "color": [0, 0, 0]}\n}\n' \
  >"$work/EmissiveBlack/manifest.json"
"$xisuan" pack "$work/EmissiveBlack" -o "$work/EmissiveBlack.tar.zst" >/dev/null 2>&1 &&
  "$xisuan" render "$work/EmissiveBlack.tar.zst" --resolution 160x120 --spp 4 --tile 40 --out "$work/out" \
    --job EmissiveBlack --name f >"$work/EmissiveBlack.log" 2>&1 ||
  { echo "FAIL: EmissiveBlack render"; cat "$work/EmissiveBlack.log"; fail=1; }
strength=1
for cx in -6 -3 0 3 6; do
  read -r px py < <(awk -v x="$cx" 'BEGIN { W = 160; H = 120; th = sin(20 * 3.14159265358979 / 180) / cos(20 * 3.14159265358979 / 180)
    d = 24.5; fx = (x / d / (th * W / H) + 1) / 2 * W; fy = (1 - 1 / d / th) / 2 * H
    printf "%d %d\n", int(fx - 0.5), int(fy - 0.5) }')
  read -r _ r g b _ < <("$compare" --region "$work/out/EmissiveBlack/f.0001.exr" "$px" "$py" 2 2)
  awk -v r="$r" -v g="$g" -v b="$b" -v s="$strength" 'BEGIN {
    split("0.1 0.5 0.9", e, " "); split(r " " g " " b, v, " ")
    for (c = 1; c <= 3; ++c) { d = v[c] / (e[c] * s) - 1; if (d < 0) d = -d; if (d > 0.02) bad = 1 }
    exit bad }' || { echo "FAIL: the emissive cube at x=$cx (strength $strength) shows $r $g $b,"                           "want (0.1, 0.5, 0.9) x $strength within 2%"; fail=1; }
  echo "EmissiveStrengthTest, black sky: cube x=$cx (strength $strength) at pixels ($px, $py): $r $g $b"
  strength=$((strength * 2))
done

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
