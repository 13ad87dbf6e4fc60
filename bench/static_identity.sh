#!/usr/bin/env bash
# Static scenes render bit for bit as before a change (issue 14: with the
# shutter closed, animation support must not move a pixel of a still scene).
# usage: bench/static_identity.sh [BEFORE] [OUT_DIR]
#   BEFORE: an `xisuan` binary built from the earlier tree, or a git revision
#   (default: the merge-base of HEAD and main), exported with `git archive` and
#   built here without CUDA (a few minutes on 2 cores).
# Renders the built-in cornell, the shared CornellBox and DamagedHelmet (frames
# 1-2, 160x120, 8 spp, tile 32, with every AOV) with both binaries and compares
# every frame with tests/exr_compare; exits 1 on any difference.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
before=${1:-$(git -C "$root" merge-base HEAD main)}
out=${2:-/tmp/xs-static-identity}
B=$root/build
S=$(cd "$root/../shared/scenes" && pwd)
[ -x "$B/xisuan" ] || bash "$root/scripts/build.sh" >/dev/null
rm -rf "$out" && mkdir -p "$out"
if [ -x "$before" ] && [ -f "$before" ]; then
  old=$before
else
  echo "building $before (without CUDA) in $out/src"
  mkdir -p "$out/src"
  git -C "$root" archive "$before" | tar -x -C "$out/src" || { echo "cannot export $before"; exit 2; }
  cmake -S "$out/src" -B "$out/src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXS_ENABLE_CUDA=OFF \
    -DBUILD_TESTING=OFF >/dev/null && ninja -C "$out/src/build" -j2 xisuan >/dev/null || { echo "build failed"; exit 2; }
  old=$out/src/build/xisuan
fi
fail=0
for scene in cornell "$S/CornellBox/CornellBox.gltf" "$S/DamagedHelmet/DamagedHelmet.glb"; do
  name=$(basename "$scene" | cut -d. -f1)
  for tag in before after; do
    bin=$B/xisuan
    [ $tag = before ] && bin=$old
    "$bin" render "$scene" --resolution 160x120 --spp 8 --tile 32 --frames 1-2 --aovs all --out "$out/$tag" \
      --job "$name" --name f --no-preview --progress off >"$out/$tag.$name.log" 2>&1 ||
      { echo "FAIL: $tag $name"; tail -3 "$out/$tag.$name.log"; fail=1; }
  done
  for f in 0001 0002; do
    r=$("$B/tests/exr_compare" "$out/before/$name/f.$f.exr" "$out/after/$name/f.$f.exr")
    echo "$name frame $f: $r"
    case "$r" in identical*) ;; *) fail=1 ;; esac
    cmp -s "$out/before/$name/f.$f.exr" "$out/after/$name/f.$f.exr" && echo "  (the EXR files are byte-identical too)"
  done
done
[ $fail = 0 ] && echo "static_identity: every frame bit-identical to $before"
exit $fail
