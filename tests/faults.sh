#!/usr/bin/env bash
# Farm faults, each against an uninterrupted reference render (bit for bit):
#  retry       a tile that fails once is retried on another rank; the job completes
#  exhausted   a tile that fails everywhere ends the job after its retries, naming it
#  lost        a worker whose device is lost (a sticky GPU error) is retired: its items
#              go to the others without counting as failures; the job completes
#  hang        a worker that hangs is given up on after --stall-timeout; its tiles are
#              rendered by others; the job writes every frame and ends without it
#  kill        a worker SIGKILLed mid-job takes the job down (non-zero exit); the rerun
#              resumes, re-rendering at most the tiles that were in flight (<= 6: two workers x 3 held)
#  drain       SIGUSR1 to mpirun: rank 0 drains, exits 75; the rerun resumes
#  enospc      a full disk (small tmpfs) fails the job cleanly: no frame file, no temp file
#  readonly    a read-only output folder is refused before rendering (exit 2)
# Faults are injected with XS_FAULT (docs/operations.md). The tmpfs cases need
# root (mount): without it the other cases still run and the test then exits
# 77 saying so. Signals go only to the mpiexec this test started (by its PID;
# its own session via setsid, so a stuck job is killed as one process group).
# usage: faults.sh XISUAN EXR_COMPARE MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
fail=0
settings=(--resolution 96x64 --spp 4 --tile 16 --frames 1-2 --no-preview --job j --name f)
mpi() { timeout 300 "$mpiexec" -n "$1" --oversubscribe -x XS_FAULT "${@:2}"; }
same_as_ref() { # out-dir label
  for fr in 0001 0002; do
    "$compare" "$work/ref/j/f.$fr.exr" "$1/j/f.$fr.exr" >/dev/null ||
      { echo "FAIL $2: frame $fr differs from the reference or is missing"; fail=1; }
  done
}
rendered() { sed -n 's/.*tiles (\([0-9]*\) rendered, \([0-9]*\) kept.*/\1/p' "$1" | tail -1; }
kept() { sed -n 's/.*tiles (\([0-9]*\) rendered, \([0-9]*\) kept.*/\2/p' "$1" | tail -1; }
trap 'umount "$work/full" 2>/dev/null; umount "$work/ro" 2>/dev/null' EXIT

export XS_FAULT=
"$xisuan" render "${settings[@]}" --out "$work/ref" >"$work/ref.log" 2>&1 || { echo "FAIL: reference"; exit 1; }

# retry
XS_FAULT="fail:2:1" mpi 3 "$xisuan" render "${settings[@]}" --out "$work/retry" >"$work/retry.log" 2>&1
rc=$?
[ $rc = 0 ] || { echo "FAIL retry: exit $rc"; cat "$work/retry.log"; fail=1; }
grep -q '"event": "tile_failed"' "$work/retry/j/events.jsonl" || { echo "FAIL retry: no tile_failed event"; fail=1; }
same_as_ref "$work/retry" retry
echo "retry: exit $rc, $(grep -c tile_failed "$work/retry/j/events.jsonl") failure(s) retried"

# exhausted
XS_FAULT="tile:1:3" mpi 3 "$xisuan" render "${settings[@]}" --retries 2 --out "$work/exh" >"$work/exh.log" 2>&1
rc=$?
[ $rc = 1 ] || { echo "FAIL exhausted: exit $rc, expected 1"; fail=1; }
grep -q "frame 1 tile 3 failed 3 time(s) (on ranks" "$work/exh.log" || { echo "FAIL exhausted: no report"; cat "$work/exh.log"; fail=1; }
[ -e "$work/exh/j/f.0001.exr" ] && { echo "FAIL exhausted: frame 1 was written"; fail=1; }
echo "exhausted: exit $rc: $(grep -o 'frame 1 tile 3 failed.*' "$work/exh.log")"

# lost: rank 2's device is lost at its 2nd item (as a sticky GPU error): it is
# retired, its items go to rank 1, no failure is counted, the job completes;
# alone (no other rank), the job fails saying nobody is left
XS_FAULT="lost:2:2" mpi 3 "$xisuan" render "${settings[@]}" --retries 0 --out "$work/lost" >"$work/lost.log" 2>&1
rc=$?
[ $rc = 0 ] || { echo "FAIL lost: exit $rc"; cat "$work/lost.log"; fail=1; }
grep -q "rank 2 is retired: injected fault (XS_FAULT): the device is lost" "$work/lost.log" ||
  { echo "FAIL lost: no retirement message"; cat "$work/lost.log"; fail=1; }
grep -q '"event": "rank_retired"' "$work/lost/j/events.jsonl" || { echo "FAIL lost: no rank_retired event"; fail=1; }
grep -q '"event": "tile_failed"' "$work/lost/j/events.jsonl" && { echo "FAIL lost: a lost device counted as a failure"; fail=1; }
same_as_ref "$work/lost" lost
echo "lost: exit $rc: $(grep -o '[0-9]* rank(s) retired[^;]*; [0-9]* item(s) went to other ranks' "$work/lost.log")"
XS_FAULT="lost:0:3" "$xisuan" render "${settings[@]}" --out "$work/lost1" >"$work/lost1.log" 2>&1
rc=$?
[ $rc = 1 ] || { echo "FAIL lost alone: exit $rc, expected 1"; cat "$work/lost1.log"; fail=1; }
grep -q "no rank is left to render" "$work/lost1.log" || { echo "FAIL lost alone: no message"; cat "$work/lost1.log"; fail=1; }
echo "lost alone: exit $rc: $(grep -o 'no rank is left to render.*' "$work/lost1.log")"

# hang
start=$(date +%s)
# --stall-timeout 8: a healthy rank on a loaded 2-core machine (or under ASan)
# can go a few seconds without a word; 3 s gave up on it too
XS_FAULT="hang:2:2" mpi 3 "$xisuan" render "${settings[@]}" --stall-timeout 8 --out "$work/hang" >"$work/hang.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
[ $rc = 0 ] || { echo "FAIL hang: exit $rc"; cat "$work/hang.log"; fail=1; }
grep -q "rank 2 has said nothing for" "$work/hang.log" || { echo "FAIL hang: no warning"; fail=1; }
# given up on after --stall-timeout 8, not before, and not much later (the
# default is 900 s); the rest of the job takes about a second here
[ "$took" -ge 8 ] && [ "$took" -le 60 ] ||
  { echo "FAIL hang: the job took $took s with --stall-timeout 8 (want 8 to 60 s)"; fail=1; }
silent=$(sed -n 's/.*rank 2 has said nothing for \([0-9]*\) s.*/\1/p' "$work/hang.log" | head -1)
[ -n "$silent" ] && [ "$silent" -ge 8 ] ||
  { echo "FAIL hang: rank 2 was given up on after '$silent' s of silence, before --stall-timeout 8"; fail=1; }
grep -q "ending the job without waiting" "$work/hang.log" || { echo "FAIL hang: no end message"; fail=1; }
same_as_ref "$work/hang" hang
echo "hang: exit $rc after ${took} s: $(grep -o 'rank 2 has said nothing[^;]*' "$work/hang.log")"

# kill, then resume
XS_FAULT="kill:2:4" mpi 3 "$xisuan" render "${settings[@]}" --out "$work/kill" >"$work/kill1.log" 2>&1
rc=$?
[ $rc != 0 ] || { echo "FAIL kill: the killed job exited 0"; fail=1; }
journaled=$(grep -c '^T ' "$work/kill/j/journal" || true)
mpi 3 "$xisuan" render "${settings[@]}" --out "$work/kill" >"$work/kill2.log" 2>&1
rc2=$?
[ $rc2 = 0 ] || { echo "FAIL kill: the rerun exited $rc2"; cat "$work/kill2.log"; fail=1; }
again=$(rendered "$work/kill2.log")
total=48
# Lost work: tiles are handed out in order (frame by frame, row-major, 24 a
# frame), so a tile before the last committed one that is not committed was in
# flight when the job went down: at most 2 workers x 3 items held (one
# rendering, one at its writer, one queued). Tiles after
# it had not started (how far the first run got depends on how soon mpiexec
# tears the job down: 46 of 48 here, 26 under ASan on a loaded machine, where
# the former check 'rerun renders at most 4' failed though nothing was lost).
# The rerun renders exactly what the journal lacks.
read -r last holes < <(awk '$1 == "T" { k = ($2 - 1) * 24 + $3; c[k] = 1; if (k > m) m = k }
  END { h = 0; for (i = 0; i < m; ++i) if (!(i in c)) h++; print m + 0, h }' "$work/kill/j/journal")
[ -n "$again" ] && [ "$again" = $((total - journaled)) ] && [ "$journaled" -ge 1 ] && [ "$holes" -le 6 ] ||
  { echo "FAIL kill: rerun rendered '$again' tiles; $journaled of $total were journaled, $holes uncommitted" \
         "before the last committed one (at most 6 = 2 workers x 3 held may be in flight)"; fail=1; }
same_as_ref "$work/kill" kill
echo "kill: first run exit $rc with $journaled/$total tiles journaled ($holes lost in flight); rerun exit $rc2 rendered $again"

# drain on a signal, then resume. mpiexec is started here, in its own session
# (setsid execs it: $! is its PID and its process group); only it is signalled.
XS_FAULT= setsid "$mpiexec" -n 3 --oversubscribe "$xisuan" render "${settings[@]}" \
  --resolution 192x128 --spp 64 --out "$work/drain" >"$work/drain1.log" 2>&1 &
mpipid=$!
for _ in $(seq 100); do
  sleep 0.2
  [ -f "$work/drain/j/journal" ] && [ "$(grep -c '^T ' "$work/drain/j/journal")" -ge 3 ] && break
done
kill -USR1 "$mpipid"
for _ in $(seq 1500); do kill -0 "$mpipid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$mpipid" 2>/dev/null; then
  echo "FAIL drain: still running 300 s after SIGUSR1"; kill -KILL -- -"$mpipid"; fail=1
fi
wait "$mpipid"
rc=$?
[ "$rc" = 75 ] || { echo "FAIL drain: exit $rc, expected 75"; tail -5 "$work/drain1.log"; fail=1; }
grep -q '"event": "drain"' "$work/drain/j/events.jsonl" || { echo "FAIL drain: no drain event"; fail=1; }
# what the drained run committed: tiles of frames it did not also assemble
# (an assembled frame is skipped whole on the rerun); 96 tiles a frame
read -r dkept dframes < <(awk '$1 == "T" { t[$2]++ } $1 == "F" { f[$2] = 1 }
  END { k = 0; n = 0; for (fr = 1; fr <= 2; ++fr) if (!f[fr]) { k += t[fr]; n++ } print k + 0, n }' \
  "$work/drain/j/journal")
"$xisuan" render "${settings[@]}" --resolution 192x128 --spp 64 --out "$work/drain" >"$work/drain2.log" 2>&1 ||
  { echo "FAIL drain: rerun"; fail=1; }
"$xisuan" render "${settings[@]}" --resolution 192x128 --spp 64 --out "$work/drainref" >/dev/null 2>&1
for fr in 0001 0002; do
  "$compare" "$work/drainref/j/f.$fr.exr" "$work/drain/j/f.$fr.exr" >/dev/null || { echo "FAIL drain: frame $fr"; fail=1; }
done
dk=$(kept "$work/drain2.log") dr=$(rendered "$work/drain2.log")
# every tile the drained run committed is kept (verified, not rendered again),
# at least the 3 waited for; every other tile of the unassembled frames rendered
[ -n "$dk" ] && [ "$dk" = "$dkept" ] && [ "$dkept" -ge 3 ] && [ "$dr" = $((dframes * 96 - dkept)) ] ||
  { echo "FAIL drain: rerun kept '$dk' and rendered '$dr' tiles; the journal held $dkept committed tiles" \
         "of $dframes unassembled frame(s) (want kept $dkept >= 3, rendered $((dframes * 96 - dkept)))"; fail=1; }
echo "drain: exit $rc; rerun kept $dk tiles (journal: $dkept), rendered $dr"

# a full disk and a read-only folder (tmpfs; root only)
if [ "$(id -u)" = 0 ] && mkdir -p "$work/full" && mount -t tmpfs -o size=96k tmpfs "$work/full" 2>/dev/null; then
  mpi 3 "$xisuan" render "${settings[@]}" --resolution 256x256 --compression none --out "$work/full" \
    >"$work/full.log" 2>&1
  rc=$?
  [ $rc = 1 ] || { echo "FAIL enospc: exit $rc, expected 1"; tail -5 "$work/full.log"; fail=1; }
  grep -q "No space left on device" "$work/full.log" || { echo "FAIL enospc: no ENOSPC message"; fail=1; }
  left=$(find "$work/full" -name 'f.*.exr' -o -name '.*tmp*' | head -3)
  [ -z "$left" ] || { echo "FAIL enospc: left $left"; fail=1; }
  echo "enospc: exit $rc: $(grep -m1 -o '[^:]*: No space left on device' "$work/full.log")"
  umount "$work/full"
  mkdir -p "$work/ro" && mount -t tmpfs -o size=1m,ro tmpfs "$work/ro"
  mpi 3 "$xisuan" render "${settings[@]}" --out "$work/ro" >"$work/ro.log" 2>&1
  rc=$?
  [ $rc = 2 ] || { echo "FAIL readonly: exit $rc, expected 2"; fail=1; }
  grep -q "Read-only file system" "$work/ro.log" || { echo "FAIL readonly: message"; cat "$work/ro.log"; fail=1; }
  echo "readonly: exit $rc: $(grep -m1 -o 'error: .*' "$work/ro.log")"
  umount "$work/ro"
else
  skipped="enospc and readonly need a tmpfs mounted (root): $( [ "$(id -u)" = 0 ] && echo "mount failed" || echo "not root")"
fi
[ $fail = 0 ] && echo "faults: all cases behaved"
if [ $fail = 0 ] && [ -n "${skipped:-}" ]; then
  echo "SKIP: $skipped; the other cases passed"
  exit 77
fi
exit $fail
