#!/usr/bin/env bash
# Configures and builds xisuan. usage: scripts/build.sh [BUILD_DIR [cmake args...]]
# Default: build/, RelWithDebInfo, warnings as errors. CUDA is enabled when
# nvcc is found (PATH, $CUDACXX or /usr/local/cuda/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/build}
shift || true
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$dir" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXS_WERROR=ON "$@" >/dev/null
else
  cmake -S "$root" -B "$dir" "$@" >/dev/null
fi
cmake --build "$dir" -j "$(nproc)"
