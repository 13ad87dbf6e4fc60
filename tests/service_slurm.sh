#!/usr/bin/env bash
# The service and its client end to end through a real single-node Slurm
# (tests/slurm_cluster.sh): a studio uploads the shared scenes (folders with a
# manifest, packed by `xisuan remote submit`); the service checks each package,
# submits it as a Slurm job with `xisuan submit` (srun --mpi=pmix) and follows
# it through its journal, event log and squeue; the service is restarted
# (SIGTERM) while the jobs run; the studio fetches the frames as they finish
# (each checked against its checksum) and they must equal a direct `xisuan
# render` bit for bit. A job cancelled while it runs is scancel'd and ends
# cancelled. Skipped (77) without Slurm, root or the shared scenes.
# usage: service_slurm.sh XISUAN SCENES WORKDIR
set -uo pipefail
xisuan=$1 scenes=$2 work=$3
[ -d "$scenes/CornellBox" ] || { echo "SKIP: $scenes not found"; exit 77; }
for b in curl jq; do command -v $b >/dev/null || { echo "SKIP: $b not installed"; exit 77; }; done
. "$(dirname "$0")/slurm_cluster.sh"
rm -rf "$work" && mkdir -p "$work"
spid=""
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  local j
  for j in $(squeue -h -o %i 2>/dev/null); do scancel "$j" 2>/dev/null; done
  slurm_down
}
trap cleanup EXIT
slurm_up "$work"
cd "$work" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
spool=$work/spool_service
port=0
start_service() {
  rm -f port
  "$xisuan" serve --spool "$spool" --listen "127.0.0.1:$port" --port-file port --poll 0.3 \
    --launcher srun --default-time 10 >>service.log 2>&1 &
  spid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
  [ -s port ] || { echo "FAIL: the service did not start"; cat service.log; exit 1; }
  port=$(cat port)
  url=http://127.0.0.1:$port
}
"$xisuan" serve --spool "$spool" studio add east --token-file east.tok >/dev/null || { echo "FAIL: admin"; exit 1; }
start_service
R=("$xisuan" remote --server "$url" --token-file east.tok --cache "$work/cache" --progress off)

# the shared scenes as folders, cameras as tests/scenes.sh sets them
scene() { # NAME FILE MANIFEST-LINES
  mkdir -p "src/$1"
  cp "$scenes/$1"/* "src/$1/"
  printf '{\n  "schema": 1,\n  "scene": "%s",\n%s,\n  "render": {"resolution": [32, 24], "spp": 2, "tile": 16}\n}\n' \
    "$2" "$3" >"src/$1/manifest.json"
}
white='  "environment": {"type": "constant", "color": [1, 1, 1]}'
scene CornellBox CornellBox.gltf '  "camera": {"name": "cornell_cam"},
  "environment": {"type": "constant", "color": [0, 0, 0]}'
scene DamagedHelmet DamagedHelmet.glb "  \"camera\": {\"position\": [0, 0, 3], \"target\": [0, 0, 0], \"yfov_deg\": 40},
$white"
scene EmissiveStrengthTest EmissiveStrengthTest.gltf "  \"camera\": {\"position\": [0, -1, 25], \"target\": [0, -1, 0], \"yfov_deg\": 40},
$white"
scene TransmissionTest TransmissionTest.glb "  \"camera\": {\"index\": 0},
$white"
names=(CornellBox DamagedHelmet EmissiveStrengthTest TransmissionTest)
declare -A ids
for n in "${names[@]}"; do
  id=$("${R[@]}" submit "src/$n" --job "$n" --frames 1-2 --nodes 1 --ranks-per-node 2 --time 10 2>"submit_$n.err")
  [ -n "$id" ] || { bad "submit $n"; cat "submit_$n.err"; continue; }
  ids[$n]=$id
done
echo "service_slurm: submitted ${#ids[@]} scenes: ${ids[*]}"

# the service restarts while its jobs are in Slurm's hands
for _ in $(seq 300); do
  grep -q '"event": "job_running"' service.log && break
  sleep 0.1
done
grep -q '"event": "job_running"' service.log || bad "no job started running"
kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=""
echo "service_slurm: service stopped while $(squeue -h | wc -l) Slurm job(s) were queued or running; starting it again"
start_service

for n in "${!ids[@]}"; do
  timeout 300 "${R[@]}" fetch "${ids[$n]}" --out "fetched/$n" --wait --poll 0.5 >"fetch_$n.log" 2>&1 ||
    { bad "fetch $n (job ${ids[$n]})"; cat "fetch_$n.log"; "${R[@]}" status "${ids[$n]}"; continue; }
  "$xisuan" render "cache/$n.tar.zst" --job "$n" --name "$n" --frames 1-2 --out ref >"ref_$n.log" 2>&1 ||
    bad "direct render of $n"
  for f in 0001 0002; do
    cmp -s "ref/$n/$n.$f.exr" "fetched/$n/$n.$f.exr" || bad "$n frame $f differs from a direct render"
  done
  [ -s "fetched/$n/report.html" ] || bad "no report for $n"
  slurm=$("${R[@]}" status "${ids[$n]}" --json | jq -r .slurm_id)
  echo "service_slurm: $n: Slurm job $slurm completed; 2 frames fetched (checked), bit-identical to a direct render"
done
for e in job_submitted job_running job_completed; do
  [ "$(grep -c "\"event\": \"$e\"" service.log)" -ge ${#names[@]} ] || bad "fewer $e events than jobs"
done

# a job cancelled while it runs
mkdir -p src/slow && cp src/CornellBox/* src/slow/ &&
  sed -i 's/"resolution": \[32, 24\], "spp": 2/"resolution": [320, 240], "spp": 512/' src/slow/manifest.json
slow=$("${R[@]}" submit src/slow --job slow --frames 1-4 --nodes 1 --ranks-per-node 2 --time 10 2>slow.err)
for _ in $(seq 300); do
  [ "$("${R[@]}" status "$slow" --json | jq -r .state)" = running ] && break
  sleep 0.1
done
"${R[@]}" cancel "$slow" >/dev/null || bad "cancel"
state=""
for _ in $(seq 300); do
  state=$("${R[@]}" status "$slow" --json | jq -r .state)
  [ "$state" = cancelled ] && break
  sleep 0.1
done
[ "$state" = cancelled ] || bad "the cancelled job is $state"
sid=$("${R[@]}" status "$slow" --json | jq -r .slurm_id)
for _ in $(seq 100); do
  s=$(squeue -h -j "$sid" -o %T 2>/dev/null)
  case "$s" in ""|CANCELLED|COMPLETED|FAILED) break ;; esac
  sleep 0.1
done
case "$s" in ""|CANCELLED) echo "service_slurm: job $slow (Slurm $sid) cancelled while running" ;;
  *) bad "Slurm job $sid is $s after the cancel" ;; esac
kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=""
jq -e . service.log >/dev/null 2>&1 || bad "the service log is not JSON lines"
[ $fail = 0 ] && echo "service_slurm: all checks passed"
exit $fail
