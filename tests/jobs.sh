#!/usr/bin/env bash
# Job files and `xisuan status`: a JSON job file drives a multi-frame render with
# steps, the command line overrides it, bad job files are refused by field, and
# status reports the finished job (exit 0), a running one (exit 3) and none (2).
# usage: jobs.sh XISUAN MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 mpiexec=$2 work=$3
rm -rf "$work" && mkdir -p "$work/jobs"
fail=0
cat >"$work/jobs/shot010.json" <<JSON
{
  "schema": 1,
  "package": "cornell",
  "frames": "1-7x3,10",
  "output": "$work/out",
  "name": "sq010",
  "aovs": ["beauty"],
  "compression": {"type": "zip", "level": 6},
  "render": {"resolution": [48, 32], "spp": 2, "tile": 16, "seed": 9},
  "retries": 1
}
JSON
timeout 120 "$mpiexec" -n 3 --oversubscribe "$xisuan" render "$work/jobs/shot010.json" --spp 3 \
  >"$work/run.log" 2>&1 || { echo "FAIL: job file render"; cat "$work/run.log"; fail=1; }
for f in 0001 0004 0007 0010; do
  [ -s "$work/out/shot010/sq010.$f.exr" ] || { echo "FAIL: frame $f missing"; fail=1; }
done
[ -e "$work/out/shot010/sq010.0002.exr" ] && { echo "FAIL: frame 2 is not in 1-7x3,10"; fail=1; }
grep -q "spp=3 " "$work/out/shot010/journal" || { echo "FAIL: --spp 3 did not override the job file"; fail=1; }
grep -q "seed=9 compression=zip:6 name=sq010" "$work/out/shot010/journal" || { echo "FAIL: job settings"; fail=1; }
"$xisuan" status "$work/out/shot010" >"$work/status.txt"; rc=$?
[ $rc = 0 ] && grep -q "job shot010: completed" "$work/status.txt" && grep -q "frames: 4 assembled of 4" "$work/status.txt" ||
  { echo "FAIL: status of a completed job (exit $rc)"; cat "$work/status.txt"; fail=1; }
# a job still running (its log has no summary yet) and no job at all
head -n 3 "$work/out/shot010/events.jsonl" >"$work/partial.jsonl"
mkdir -p "$work/running" && cp "$work/partial.jsonl" "$work/running/events.jsonl"
"$xisuan" status "$work/running" >/dev/null; rc=$?
[ $rc = 3 ] || { echo "FAIL: status of a running job exited $rc, expected 3"; fail=1; }
"$xisuan" status "$work/nothing" >/dev/null 2>&1; rc=$?
[ $rc = 2 ] || { echo "FAIL: status of no job exited $rc, expected 2"; fail=1; }
# bad job files
bad() { # json fragment-of-message
  printf '%s\n' "$1" >"$work/jobs/bad.json"
  "$xisuan" render "$work/jobs/bad.json" --out "$work/badout" >/dev/null 2>"$work/bad.err"; local rc=$?
  { [ $rc = 2 ] && grep -qF -- "$2" "$work/bad.err"; } || { echo "FAIL: bad job '$1': exit $rc"; cat "$work/bad.err"; fail=1; }
}
bad '{"schema": 1}' "bad.json: package: missing"
bad '{"schema": 1, "package": "cornell", "frame": "1"}' "bad.json: frame: unknown field"
bad '{"schema": 1, "package": "cornell", "render": {"spp": 0}}' "bad.json: render.spp: must be an integer in [1, 1048576]"
bad '{"schema": 1, "package": "cornell", "aovs": ["depth", "velocity"]}' "bad.json: aovs: unknown layer 'velocity'"
bad '{"schema": 1, "package": "cornell", "frames": "5-1"}' "bad.json: frames: '5-1': last frame 1 is before first frame 5"
bad '{"schema": 1, "package": "cornell", "job": "../x"}' "bad.json: job: must not start with '.'"
bad '[1, 2]' "bad.json: not a JSON object"
[ -e "$work/badout" ] && { echo "FAIL: a bad job created its output folder"; fail=1; }
[ $fail = 0 ] && echo "jobs: job file, overrides, status and bad job files behave"
exit $fail
