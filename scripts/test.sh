#!/usr/bin/env bash
# Installs the dependencies, builds (warnings as errors, CUDA when nvcc is
# found), runs every test, then builds again with AddressSanitizer and UBSan
# and runs the unit tests and the farm tests (MPI, faults, resume, atomic
# writes; label farm) there. This is what CI runs (.ci/run).
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
# the farm paths (master, worker, journal, MPI) under the sanitizers; their
# ASAN/LSAN/UBSAN options (leaks on, tests/lsan.supp for Open MPI's own) come
# from the tests' environment (tests/CMakeLists.txt)
echo "== farm tests under ASan + UBSan =="
(cd "$root/build-asan" && ctest --output-on-failure -j "$jobs" -L farm)
