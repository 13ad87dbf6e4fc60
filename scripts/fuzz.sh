#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and
# runs each for SECONDS (default 60). New corpus entries go to
# build-fuzz/corpus/TARGET; crashes to build-fuzz/crash-TARGET-*. Save a
# crashing input (after the fix) under tests/fuzz/corpus/TARGET so the replay
# test keeps it fixed.
# usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: manifest package gltf jobfile tile api texstore part)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(manifest package gltf jobfile tile api texstore part)
command -v clang >/dev/null || { apt-get install -y -qq clang >/dev/null; }
b="$root/build-fuzz"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cmake -S "$root" -B "$b" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DXS_FUZZ=ON -DXS_ENABLE_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $san" -DCMAKE_EXE_LINKER_FLAGS="$san" >/dev/null
cmake --build "$b" --target "${targets[@]/#/fuzz_}" >/dev/null
for t in "${targets[@]}"; do
  mkdir -p "$b/corpus/$t"
  seeds=("$root/tests/fuzz/corpus/$t")
  if [ "$t" = gltf ] && [ -d /usr/share/assimp/models/glTF2 ]; then
    mkdir -p "$b/assimp-seeds"
    find /usr/share/assimp/models/glTF2 \( -name '*.gltf' -o -name '*.glb' \) -size -512k \
      -exec cp -n {} "$b/assimp-seeds/" \; 2>/dev/null || true
    seeds+=("$b/assimp-seeds")
  fi
  # the shared animated scenes (animations, morph targets, a skin), read in place
  for s in BoxAnimated AnimatedMorphCube RiggedSimple; do
    [ "$t" = gltf ] && [ -d "$root/../shared/scenes/$s" ] && seeds+=("$root/../shared/scenes/$s")
  done
  echo "== fuzz_$t for $secs s"
  "$b/tests/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$b/crash-$t-" "$b/corpus/$t" "${seeds[@]}" 2>&1 | tail -12
done
