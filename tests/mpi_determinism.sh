#!/usr/bin/env bash
# The same frames rendered alone, under 1, 2 and 4 MPI ranks (oversubscribed),
# with three tile sizes (one giving a single-tile frame, so ranks outnumber
# tiles) and each compression, must hold bit-identical pixels. Every frame
# must pass exrheader, and no temporary file may be left behind.
# usage: mpi_determinism.sh XISUAN EXR_COMPARE MPIEXEC EXRHEADER WORKDIR
set -euo pipefail
xisuan=$1 compare=$2 mpiexec=$3 exrheader=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
common=(--resolution 90x70 --spp 4 --frames 2-3 --seed 7 --max-bounces 4 --job j)
fail=0

render() { # ranks tile tag [flags...]
  local n=$1 tile=$2 tag=$3; shift 3
  local cmd=("$xisuan" render "${common[@]}" --tile "$tile" --out "$work/$tag" "$@")
  if [ "$n" = 0 ]; then
    timeout 300 "${cmd[@]}" >"$work/$tag.log" 2>&1
  else
    timeout 300 "$mpiexec" -n "$n" --oversubscribe "${cmd[@]}" >"$work/$tag.log" 2>&1
  fi || { echo "FAIL: render $tag exited $?"; cat "$work/$tag.log"; exit 1; }
}

same() { # tag: compare its frames with the reference
  for f in 0002 0003; do
    if ! "$compare" "$work/ref/j/j.$f.exr" "$work/$1/j/j.$f.exr" >"$work/cmp.txt"; then
      echo "FAIL: $1 frame $f differs from the single-process reference:"; cat "$work/cmp.txt"; fail=1
    fi
  done
}

render 0 32 ref --name j
for n in 1 2 4; do
  for tile in 16 96; do
    keep=()
    [ "$n" = 4 ] && keep=(--keep-tiles) # the tile grid is checked below
    render "$n" "$tile" "n${n}_t${tile}" --name j "${keep[@]}"
    same "n${n}_t${tile}"
  done
done
# compressions hold the same pixels (all three are lossless for float)
render 4 24 piz --name j --compression piz
same piz
render 2 24 none --name j --compression none
same none
render 2 24 zip9 --name j --compression zip --zip-level 9
same zip9

for tag in ref n4_t16 piz; do
  for f in 0002 0003; do
    "$exrheader" "$work/$tag/j/j.$f.exr" >"$work/hdr.txt" || { echo "FAIL: exrheader rejects $tag $f"; fail=1; }
    grep -q "tiledimage" "$work/hdr.txt" || { echo "FAIL: $tag $f is not a tiled image"; fail=1; }
    grep -q "random y" "$work/hdr.txt" || { echo "FAIL: $tag $f line order is not random y"; fail=1; }
  done
done
grep -q "piz" <("$exrheader" "$work/piz/j/j.0002.exr") || { echo "FAIL: piz frame is not piz"; fail=1; }
# tiles: 90x70 in 16-pixel tiles is 6x5 per frame; the single-tile job has 1
[ "$(find "$work/n4_t16/j/tiles/0002" -name '*.exr' | wc -l)" = 30 ] || { echo "FAIL: tile count"; fail=1; }
[ "$(find "$work/n4_t96/j/tiles/0003" -name '*.exr' | wc -l)" = 1 ] || { echo "FAIL: one-tile count"; fail=1; }
# without --keep-tiles a frame's tiles go once it is assembled and journaled
left=$(find "$work/n2_t16/j/tiles" -name '*.exr' | wc -l)
[ "$left" = 0 ] || { echo "FAIL: $left tile file(s) left after assembly without --keep-tiles"; fail=1; }
[ -s "$work/n4_t16/j/j.0002.png" ] || { echo "FAIL: no PNG preview"; fail=1; }
left=$(find "$work" -name '.*tmp*' | head -3)
[ -z "$left" ] || { echo "FAIL: temporary files left: $left"; fail=1; }
grep -q "completed" "$work/n4_t16.log" || { echo "FAIL: no summary"; fail=1; }
[ $fail = 0 ] && echo "mpi_determinism: all renders bit-identical"
exit $fail
