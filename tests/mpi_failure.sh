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

check() { # name ranks fault relayed-fragment verdict-regex [flags]
  local name=$1 n=$2 fault=$3 frag=$4 verdict=$5; shift 5
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
  # the worker's reason, relayed by rank 0 with the rank and item
  grep -qF -- "$frag" "$work/$name.err" || { echo "FAIL $name: message lacks '$frag'"; cat "$work/$name.err"; fail=1; }
  # rank 0's own verdict, separately: the item, how often it failed and where, no retries left
  grep -qE -- "$verdict" "$work/$name.err" ||
    { echo "FAIL $name: no verdict from rank 0 matching '$verdict'"; cat "$work/$name.err"; fail=1; }
  # and under MPI rank 0's report that the job failed (printed by rank 0 only)
  if [ "$n" != 0 ] && ! grep -q "^xisuan render: error: job j failed" "$work/$name.err"; then
    echo "FAIL $name: rank 0 did not report 'job j failed'"; cat "$work/$name.err"; fail=1
  fi
  # the relayed failure and the verdict name the same item
  local relayed named
  relayed=$(grep -o 'rank [0-9]*: frame [0-9]* \(tile [0-9]*\|assembly\)' "$work/$name.err" | head -1 | sed 's/rank [0-9]*: //')
  named=$(grep -oE 'frame [0-9]+ tile [0-9]+ failed|assembly of frame [0-9]+ failed' "$work/$name.err" | head -1 |
          sed -E 's/ failed//; s/assembly of (frame [0-9]+)/\1 assembly/')
  [ -n "$relayed" ] && [ "$relayed" = "$named" ] ||
    { echo "FAIL $name: the failure names '$relayed', the verdict '$named'"; fail=1; }
  # no frame (OUT/j/NAME.FFFF.exr or its preview) and no temporary file anywhere
  local frames
  frames=$( { find "$out" -maxdepth 2 \( -name '*.exr' -o -name '*.png' \); find "$out" -name '.*.tmp-*'; } | head -3)
  [ -z "$frames" ] || { echo "FAIL $name: left $frames"; fail=1; }
  [ $fail = 0 ] && echo "ok $name: exit $rc, $(grep -m1 'injected' "$work/$name.err")"
}

check tile_on_worker 3 fail:2:2 "rank 2: frame 1 tile" \
  '^xisuan: error: frame 1 tile [0-9]+ failed 1 time\(s\) \(on ranks 2\); no retries left' --tile 16
check tile_single_process 0 fail:0:3 "rank 0: frame 1 tile" \
  '^xisuan: error: frame 1 tile [0-9]+ failed 1 time\(s\) \(on ranks 0\); no retries left' --tile 16
# 2 ranks, one worker, one tile: item 1 is the tile, item 2 the assembly
check assembly 2 fail:1:2 "rank 1: frame 1 assembly: injected" \
  '^xisuan: error: the assembly of frame 1 failed 1 time\(s\) \(on ranks 1\); no retries left' --tile 64
exit $fail
