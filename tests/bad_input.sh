#!/usr/bin/env bash
# Bad input under 3 MPI ranks: each case exits 2 (on every rank, so mpirun
# does too) within the timeout, prints one clear message naming the value and
# the reason (rank 0 only), and renders nothing.
# usage: bad_input.sh XISUAN MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 mpiexec=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
: >"$work/a_file"
fail=0

# every path under $work except the logs: a case must leave this unchanged
snapshot() { find "$work" -mindepth 1 ! -name stdout ! -name stderr | sort; }

expect() { # fragment, then the render flags
  local frag=$1; shift
  local before
  before=$(snapshot)
  timeout 60 "$mpiexec" -n 3 --oversubscribe "$xisuan" render --resolution 32x32 --spp 1 "$@" \
    >"$work/stdout" 2>"$work/stderr"
  local rc=$?
  local n
  n=$(grep -c "error:" "$work/stderr")
  if [ $rc = 124 ]; then echo "FAIL ($*): hung"; fail=1
  elif [ $rc != 2 ]; then echo "FAIL ($*): exit $rc, expected 2"; cat "$work/stderr"; fail=1
  elif ! grep -qF -- "$frag" "$work/stderr"; then echo "FAIL ($*): message lacks '$frag':"; cat "$work/stderr"; fail=1
  elif [ "$n" != 1 ]; then echo "FAIL ($*): $n error lines, expected 1"; cat "$work/stderr"; fail=1
  elif grep -q "rendering" "$work/stdout"; then echo "FAIL ($*): rendering started"; fail=1
  else echo "ok: $* -> $(grep 'error:' "$work/stderr")"
  fi
  # nothing may appear: not the --out folder, not a job folder, journal, tile or probe file
  local appeared
  appeared=$(comm -13 <(echo "$before") <(snapshot) | head -5)
  [ -z "$appeared" ] || { echo "FAIL ($*): output appeared: $appeared"; fail=1; }
}

expect "unknown flag '--colour'" --out "$work/o" --colour red
expect "--spp: must be in [1, 1048576], got 0" --out "$work/o" --spp 0
expect "--spp: expected an integer, got 'many'" --out "$work/o" --spp many
expect "--tile: must be in [8, 4096], got 2" --out "$work/o" --tile 2
expect "--resolution (width): must be in [1, 32768], got 0" --out "$work/o" --resolution 0x10
expect "--resolution (height): must be in [1, 32768], got 99999" --out "$work/o" --resolution 10x99999
expect "--frames: '5-3': last frame 3 is before first frame 5" --out "$work/o" --frames 5-3
expect "--compression: must be zip, piz or none, got 'jpeg'" --out "$work/o" --compression jpeg
expect "--job: must not start with '.'" --out "$work/o" --job ..
expect "$work/a_file" --out "$work/a_file"
expect "Not a directory" --out "$work/a_file/sub"
expect "/proc/xisuan" --out /proc/xisuan
# animation: values out of range, and an animation the file does not have
# (refused before any folder is made)
anim=$(cd "$(dirname "$0")" && pwd)/fuzz/corpus/gltf/anim-trs.gltf
expect "--shutter: must be in [0, 1], got 2" --out "$work/o" --shutter 2
expect "--fps: must be in (0, 1000], got 0" --out "$work/o" --fps 0
expect "--motion-steps: must be in [2, 64], got 1" --out "$work/o" --motion-steps 1
expect "animations: no animation 'walk' in the scene (it has 1: 0 'trs')" --out "$work/o" "$anim" --animations walk
# an output folder that cannot be written: a read-only tmpfs as root (where
# permissions do not stop root), folders without write permission otherwise.
# --job fresh: the job folder cannot be created; --job there: it exists (made
# with its tiles/ before the folder turned read-only) but cannot be written
ro_skipped=""
mkdir -p "$work/ro"
if [ "$(id -u)" = 0 ]; then
  if mount -t tmpfs -o size=64k tmpfs "$work/ro" 2>"$work/mount.err" &&
     mkdir -p "$work/ro/there/tiles" && mount -o remount,ro "$work/ro" 2>>"$work/mount.err"; then
    expect "$work/ro/fresh: cannot create directory: Read-only file system" --out "$work/ro" --job fresh
    expect "$work/ro/there/tiles: output directory is not writable: Read-only file system" --out "$work/ro" --job there
  else
    ro_skipped="root, and a read-only tmpfs cannot be mounted here: $(cat "$work/mount.err")"
  fi
  umount "$work/ro" 2>/dev/null
else
  mkdir -p "$work/ro/there/tiles" && chmod 555 "$work/ro/there/tiles" "$work/ro/there" "$work/ro"
  expect "$work/ro/fresh: cannot create directory: Permission denied" --out "$work/ro" --job fresh
  expect "$work/ro/there/tiles: output directory is not writable: Permission denied" --out "$work/ro" --job there
  chmod 755 "$work/ro" "$work/ro/there" "$work/ro/there/tiles"
fi
[ -e "$work/o" ] && { echo "FAIL: an output directory was created for bad flags"; fail=1; }
# the command itself
timeout 60 "$xisuan" frobnicate >/dev/null 2>"$work/stderr"; rc=$?
{ [ $rc = 2 ] && grep -q "unknown command 'frobnicate'" "$work/stderr"; } || { echo "FAIL: unknown command (exit $rc)"; fail=1; }
timeout 60 "$xisuan" render --help >"$work/stdout"; rc=$?
{ [ $rc = 0 ] && grep -q -- "--zip-level" "$work/stdout"; } || { echo "FAIL: --help"; fail=1; }
[ $fail = 0 ] && echo "bad_input: every case rejected cleanly"
if [ $fail = 0 ] && [ -n "$ro_skipped" ]; then
  echo "SKIP: the not-writable case could not run ($ro_skipped)"
  exit 77
fi
exit $fail
