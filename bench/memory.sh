#!/usr/bin/env bash
# Scenes bigger than a rank, measured (docs/benchmarks.md, "Memory"): not a
# test, nothing here asserts a speed.
#  1. render time against the texture cache's size: a generated scene of
#     COUNT textures of SIZE^2 (gen_textured), packed into pages, rendered at
#     RES with caches from 1/16 of the page set to all of it (and two small
#     absolute sizes below, where it thrashes); every frame is compared with
#     the whole set's (they must be identical);
#  2. the scene-load time per node and the node's memory (PSS summed over its
#     ranks, at the end of the job) with 1, 2 and 4 ranks, the scene held
#     whole (its textures' pages are part of the scene), shared and not;
#  3. INSTANCES instances of a small mesh (gen_gltf field): load time, bytes
#     an instance, peak RSS.
# usage: bench/memory.sh [BUILD_DIR [WORK_DIR]]
#   env: COUNT (16), SIZE (2048), RES (640x480), SPP (16), SIDE (3163: 10 M
#   instances), SKIP ("" or any of: cache, ranks, instances)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
work=${2:-$build/bench-memory}
xisuan=$build/xisuan gen=$build/tests/gen_textured gen_gltf=$build/tests/gen_gltf compare=$build/tests/exr_compare
COUNT=${COUNT:-16} SIZE=${SIZE:-2048} RES=${RES:-640x480} SPP=${SPP:-16} SIDE=${SIDE:-3163} SKIP=${SKIP:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$work" && mkdir -p "$work/scene"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
"$gen" "$work/scene" "$COUNT" "$SIZE" >/dev/null
"$xisuan" pack "$work/scene" -o "$work/paged.tar.zst" | tail -1
"$xisuan" pack "$work/scene" -o "$work/whole.tar.zst" --textures embed | tail -1
set_mib=$(sed -n 's/.*pages (\([0-9.]*\) MiB decompressed.*/\1/p' <("$xisuan" pack --check "$work/paged.tar.zst"))
echo "page set: $set_mib MiB"

if [[ " $SKIP " != *" cache "* ]]; then
  echo
  echo "== render time against the cache's size ($RES, $SPP spp, 1 rank, $(nproc) threads) =="
  printf '%-12s %9s %9s %10s %10s %12s %10s %s\n' cache MiB wall_s hit_% loads read_MiB peak_RSS same
  ref=""
  for frac in all 2 4 8 16 tiny1 tiny2; do
    case $frac in
      all) mib=$(awk -v s="$set_mib" 'BEGIN { printf "%d", s + 64 }') ;;
      tiny1) mib=16 ;;
      tiny2) mib=4 ;;
      *) mib=$(awk -v s="$set_mib" -v f="$frac" 'BEGIN { m = int(s / f); printf "%d", m < 1 ? 1 : m }') ;;
    esac
    log=$work/cache_$frac.log
    /usr/bin/time -v "$xisuan" render "$work/paged.tar.zst" --resolution "$RES" --spp "$SPP" --out "$work/out" \
      --job "c$frac" --name f --texture-cache-mib "$mib" --no-preview >"$log" 2>&1 || { echo "render failed"; tail "$log"; continue; }
    wall=$(sed -n 's/.*completed: .*, \([0-9.]*\) s wall.*/\1/p' "$log")
    hit=$(sed -n 's/.*texel reads, \([0-9.]*\)% hits.*/\1/p' "$log")
    loads=$(sed -n 's/.*hits; \([0-9]*\) pages loaded.*/\1/p' "$log")
    read=$(grep '"texture_cache"' "$work/out/c$frac/events.jsonl" | sed 's/.*"bytes_read": \([0-9]*\).*/\1/')
    rss=$(awk '/Maximum resident set size/ { printf "%.0f MiB", $6 / 1024 }' "$log")
    same=ref
    if [ -z "$ref" ]; then ref=$work/out/c$frac/f.0001.exr
    elif "$compare" "$ref" "$work/out/c$frac/f.0001.exr" >/dev/null; then same=identical
    else same=DIFFERENT; fi
    label=$([ "$frac" = all ] && echo "all" || ([[ $frac == tiny* ]] && echo "$mib MiB" || echo "1/$frac"))
    printf '%-12s %9s %9s %10s %10s %12s %10s %s\n' "$label" "$mib" "$wall" "$hit" "$loads" \
      "$(awk -v b="$read" 'BEGIN { printf "%.1f", b / 1048576 }')" "$rss" "$same"
  done
fi

if [[ " $SKIP " != *" ranks "* ]]; then
  echo
  echo "== scene load and node memory with 1, 2 and 4 ranks (the scene held whole) =="
  printf '%-6s %-6s %12s %12s %16s %14s\n' ranks share built_s copy_MiB node_PSS_MiB max_peak_RSS
  for n in 1 2 4; do
    for share in on off; do
      [ $n = 1 ] && [ $share = off ] && continue
      log=$work/ranks_${n}_$share.log
      mpirun -n $n --oversubscribe "$xisuan" render "$work/whole.tar.zst" --resolution 320x240 --spp 1 \
        --out "$work/out" --job "r${n}$share" --name f --node-share $share --no-preview >"$log" 2>&1 ||
        { echo "render failed"; tail "$log"; continue; }
      built=$(sed -n 's/.*scene built in \([0-9.]*\) s.*/\1/p' "$log")
      copy=$(sed -n 's/.*scene built in [0-9.]* s: \([0-9.]*\) MiB.*/\1/p' "$log")
      pss=$(sed -n 's/.*node 0: .* PSS summed .* (\([0-9.]*\) MiB).*/\1/p' "$log")
      peak=$(sed -n 's/.*node 0: .*the largest peak RSS \(.*\)/\1/p' "$log")
      printf '%-6s %-6s %12s %12s %16s %14s\n' "$n" "$share" "$built" "$copy" "$pss" "$peak"
    done
  done
fi

if [[ " $SKIP " != *" instances "* ]]; then
  echo
  echo "== $((SIDE * SIDE)) instances of a sphere of 64 triangles (EXT_mesh_gpu_instancing) =="
  "$gen_gltf" "$work/field.glb" 8 "$SIDE" field
  ls -l "$work/field.glb" | awk '{ printf "file: %.1f MiB\n", $5 / 1048576 }'
  log=$work/field.log
  /usr/bin/time -v "$xisuan" render "$work/field.glb" --resolution 320x240 --spp 4 --out "$work/out" --job field \
    --name f --no-preview >"$log" 2>&1 || { echo "render failed"; tail "$log"; }
  grep -E "scene .*instance\(s\)|scene built|completed|rank +0: input" "$log"
  mib=$(sed -n 's/.*scene built in [0-9.]* s: \([0-9.]*\) \([MG]\)iB.*/\1 \2/p' "$log")
  awk -v m="$mib" -v n=$((SIDE * SIDE + 2)) 'BEGIN { split(m, a, " "); b = a[1] * (a[2] == "G" ? 1073741824 : 1048576);
    printf "bytes an instance in the scene: %.1f\n", b / n }'
  awk '/Maximum resident set size/ { printf "peak RSS: %.0f MiB\n", $6 / 1024 } /Elapsed/ { print "wall: " $NF }' "$log"
fi
rm -rf "$work/scene" "$work"/*.tar.zst "$work/field.glb"
