#!/usr/bin/env bash
# With --retries 0, a work item that fails on a worker ends the whole job: rank 0 names the
# rank, frame, tile and reason, every rank exits non-zero, nothing hangs, and
# no frame file (nor a temporary one) is left. Failures are injected with
# XS_FAULT=fail:RANK:N (the rank's Nth item fails).
# usage: mpi_failure.sh XISUAN MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 mpiexec=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
fail=0

check() { # name ranks fault expected-fragment [flags]
  local name=$1 n=$2 fault=$3 frag=$4; shift 4
  local out="$work/$name"
  local cmd=("$xisuan" render --resolution 64x48 --spp 1 --retries 0 --out "$out" --job j "$@")
  if [ "$n" = 0 ]; then
    XS_FAULT=$fault timeout 120 "${cmd[@]}" >"$work/$name.out" 2>"$work/$name.err"
  else
    XS_FAULT=$fault timeout 120 "$mpiexec" -n "$n" --oversubscribe -x XS_FAULT "${cmd[@]}" \
      >"$work/$name.out" 2>"$work/$name.err"
  fi
  local rc=$?
  if [ $rc = 124 ]; then echo "FAIL $name: hung"; fail=1; return; fi
  if [ $rc = 0 ]; then echo "FAIL $name: exit 0 after a failure"; fail=1; fi
  grep -qF -- "$frag" "$work/$name.err" || { echo "FAIL $name: message lacks '$frag'"; cat "$work/$name.err"; fail=1; }
  grep -q "job j failed\|injected fault" "$work/$name.err" || { echo "FAIL $name: no failure report"; fail=1; }
  local frames
  frames=$(find "$out" -maxdepth 2 -name 'j.*.exr' -o -maxdepth 2 -name '.*tmp*' | head -3)
  [ -z "$frames" ] || { echo "FAIL $name: left $frames"; fail=1; }
  [ $fail = 0 ] && echo "ok $name: exit $rc, $(grep -m1 'injected' "$work/$name.err")"
}

check tile_on_worker 3 fail:2:2 "rank 2: frame 1 tile" --tile 16
check tile_single_process 0 fail:0:3 "rank 0: frame 1 tile" --tile 16
# 2 ranks, one worker, one tile: item 1 is the tile, item 2 the assembly
check assembly 2 fail:1:2 "rank 1: frame 1 assembly: injected" --tile 64
exit $fail
