#!/usr/bin/env bash
# Installs the dependencies, builds (warnings as errors, CUDA when nvcc is
# found), runs every test, then builds again with AddressSanitizer and UBSan
# and runs the unit tests there. This is what CI runs (.ci/run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jobs=$(nproc)

echo "== build (RelWithDebInfo, -Werror, CUDA when nvcc is found) =="
"$root/scripts/build.sh" "$root/build"
echo "== tests =="
(cd "$root/build" && ctest --output-on-failure -j "$jobs")

echo "== build (ASan + UBSan) =="
"$root/scripts/build.sh" "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DXS_SANITIZE=ON \
  -DXS_ENABLE_CUDA=OFF
echo "== unit tests under ASan + UBSan =="
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs" -L unit)
