#!/usr/bin/env bash
# A real single-node Slurm (tests/slurm_cluster.sh: munged, slurmctld and
# slurmd from Debian, started and stopped here) runs a job submitted with
# `xisuan submit`. Mid-job the batch shell gets SIGUSR1 (as --signal=B:USR1@N
# would send it before the time limit): xisuan drains and exits 75, the script
# requeues the job, and the requeued run resumes from the journal. The frames
# must equal a direct render bit for bit. Skipped (77) without root or Slurm.
# usage: slurm.sh XISUAN EXR_COMPARE WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 work=$3
. "$(dirname "$0")/slurm_cluster.sh"
rm -rf "$work" && mkdir -p "$work/out"
cleanup() {
  [ -n "${jobid:-}" ] && scancel "$jobid" 2>/dev/null
  slurm_down
}
trap cleanup EXIT
slurm_up "$work"

# the job: a job file, 2 worker ranks, slow enough to interrupt
cat >"$work/job.json" <<JSON
{"schema": 1, "package": "cornell", "frames": "1-2", "output": "$work/out", "job": "slurmjob",
 "render": {"resolution": [160, 120], "spp": 48, "tile": 16}}
JSON
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
"$xisuan" submit "$work/job.json" --nodes 1 --ranks-per-node 2 --time 10 --launcher srun \
  >"$work/submit.log" 2>&1 || { echo "FAIL: xisuan submit"; cat "$work/submit.log"; exit 1; }
jobid=$(tail -n 1 "$work/submit.log" | tr -d '[:space:]')
echo "slurm: submitted job $jobid"
for _ in $(seq 120); do
  state=$(scontrol show job "$jobid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  [ "$state" = RUNNING ] && break
  sleep 0.5
done
[ "$state" = RUNNING ] || { echo "FAIL: job $jobid did not start: $(squeue -h -j "$jobid" -o '%T %r')"; exit 1; }
journal="$work/out/slurmjob/journal"
for _ in $(seq 300); do
  [ -f "$journal" ] && [ "$(grep -c '^T ' "$journal")" -ge 4 ] && break
  sleep 0.2
done
before=$(grep -c '^T ' "$journal" 2>/dev/null || echo 0)
echo "slurm: $before tiles committed; sending SIGUSR1 to the batch shell"
scancel --signal=USR1 --batch "$jobid"
state=""
released=0
for _ in $(seq 360); do
  info=$(scontrol show job "$jobid" 2>/dev/null)
  state=$(echo "$info" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  restarts=$(echo "$info" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  [ "$state" = COMPLETED ] && break
  [ "$state" = FAILED ] || [ "$state" = CANCELLED ] && break
  if [ "$released" = 0 ] && [ "$state" = PENDING ] && [ "${restarts:-0}" -ge 1 ]; then
    released=1
    echo "slurm: job $jobid requeued (Restarts=$restarts); Slurm starts it again after cred_expire"
  fi
  sleep 0.5
done
log=$(ls "$work/out/slurmjob"/slurm-*.log 2>/dev/null | head -1)
fail=0
[ "$state" = COMPLETED ] || { echo "FAIL: job state $state"; fail=1; }
[ "${restarts:-0}" -ge 1 ] || { echo "FAIL: the job was not requeued (Restarts=${restarts:-?})"; fail=1; }
grep -q "xisuan exited 75" "$log" || { echo "FAIL: no drain exit in the job log"; fail=1; }
grep -q "drained; requeueing job" "$log" || { echo "FAIL: the script did not requeue"; fail=1; }
grep -q "resuming job slurmjob" "$log" || { echo "FAIL: the requeued run did not resume"; fail=1; }
[ "$(grep -c '"event": "job_start"' "$work/out/slurmjob/events.jsonl")" -ge 2 ] || { echo "FAIL: one run only"; fail=1; }
"$xisuan" render "$work/job.json" --out "$work/ref" >/dev/null 2>&1
for f in 0001 0002; do
  "$compare" "$work/ref/slurmjob/cornell.$f.exr" "$work/out/slurmjob/cornell.$f.exr" >/dev/null ||
    { echo "FAIL: frame $f differs from a direct render"; fail=1; }
done
if [ $fail != 0 ]; then
  echo "--- job log"; cat "$log"; echo "--- slurmctld"; tail -20 "$work/slurmctld.log"
  exit $fail
fi
echo "slurm: job $jobid (srun --mpi=pmix) drained (exit 75), requeued (Restarts=$restarts), resumed and completed; frames equal a direct render"
grep -E "xisuan-submit|resuming|job slurmjob" "$log"

# the other launcher: mpirun inside the allocation, a plain run to completion
"$xisuan" submit "$work/job.json" --job viampirun --nodes 1 --ranks-per-node 2 --time 10 \
  --launcher mpirun -- --spp 4 >"$work/submit2.log" 2>&1 || { echo "FAIL: submit (mpirun)"; exit 1; }
jobid=$(tail -n 1 "$work/submit2.log" | tr -d '[:space:]')
for _ in $(seq 240); do
  state=$(scontrol show job "$jobid" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
  case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT) break ;; esac
  sleep 0.5
done
log2=$(ls "$work/out/viampirun"/slurm-*.log 2>/dev/null | head -1)
if [ "$state" = COMPLETED ] && grep -q "job viampirun completed" "$log2"; then
  echo "slurm: job $jobid (mpirun) completed"
else
  echo "FAIL: the mpirun job ended $state"; cat "$log2"; fail=1
fi
exit $fail
