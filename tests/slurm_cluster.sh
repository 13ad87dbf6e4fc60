# A real single-node Slurm for tests: sourced, not run (tests/slurm.sh,
# tests/service_slurm.sh). munged, slurmctld and slurmd from Debian, started
# and stopped here with their key, state, spool and logs under the test's
# folder; proctrack/linuxproc, task/none, no accounting, NodeName = this host
# with 8 CPUs whatever it has (the jobs oversubscribe), cred_expire=10 (also
# Slurm's delay before a requeued job starts again).
#
#   slurm_up WORK   skips the test (exit 77) without Slurm, munge or root;
#                   starts the daemons, exports SLURM_CONF for every client,
#                   waits (bounded) until the node is idle
#   slurm_down      stops the daemons it started (call it from the EXIT trap)
slurm_pids=()

slurm_up() {
  local work=$1 b
  for b in munged slurmctld slurmd sbatch scontrol squeue sinfo scancel; do
    command -v $b >/dev/null || { echo "SKIP: $b not installed (apt-get install slurm-wlm munge)"; exit 77; }
  done
  [ "$(id -u)" = 0 ] || { echo "SKIP: the test cluster runs its daemons as root"; exit 77; }
  mkdir -p "$work"/{state,spool,munge} && chmod 700 "$work/munge"
  local host cpus mem port
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  port=$(( 20000 + RANDOM % 20000 ))
  # munge: its own key and socket
  dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 2>/dev/null && chmod 400 "$work/munge/munge.key"
  munged --foreground --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.sock" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
    --seed-file="$work/munge/munged.seed" &
  slurm_pids+=($!)
  cat >"$work/slurm.conf" <<CONF
ClusterName=xisuantest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire is also Slurm's delay before a requeued job may start again
AuthInfo=socket=$work/munge/munge.sock,cred_expire=10
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
# the node has fewer cores than the job has ranks: let the configuration speak
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
NodeName=$host CPUs=8 RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
CONF
  export SLURM_CONF="$work/slurm.conf"
  slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.out" 2>&1 &
  slurm_pids+=($!)
  slurmd -D -f "$SLURM_CONF" >"$work/slurmd.out" 2>&1 &
  slurm_pids+=($!)
  for _ in $(seq 60); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
    sleep 0.5
  done
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] || {
    echo "FAIL: the test cluster did not come up"; tail -5 "$work/slurmctld.log" "$work/slurmd.log"; exit 1; }
  echo "slurm: single-node cluster up ($host, $cpus CPUs, port $port)"
}

slurm_down() {
  local p
  for p in "${slurm_pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 0.5
  for p in "${slurm_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  slurm_pids=()
}
