#!/usr/bin/env bash
# One job, two clusters: two independent MPI worlds on this machine ("gz" and
# "sg", each `mpirun -n 2 xisuan join`: its own rank 0 leasing frames from the
# service) serve one lease job of the shared Cornell box. Cluster gz is
# killed (SIGKILL to its whole process group) while it holds a lease with
# frames still to render; the service is restarted (SIGTERM, then started
# again on the same spool and port) while sg works. sg must finish every
# frame: gz's lease is lost when it expires and sg takes its frames. Checks:
# the job completes; each frame is committed exactly once (one
# frame_committed event each, one file each in the spool, no temporary files
# left); gz's unfinished lease went to sg; the frames, fetched and checked,
# are bit-identical to a one-cluster run (`mpirun -n 3 xisuan render`).
# Skipped (77) without the shared scenes.
# usage: service_clusters.sh XISUAN MPIEXEC SCENES WORKDIR
set -uo pipefail
xisuan=$1 mpiexec=$2 scenes=$3 work=$4
[ -d "$scenes/CornellBox" ] || { echo "SKIP: $scenes not found"; exit 77; }
for b in curl jq setsid; do command -v $b >/dev/null || { echo "SKIP: $b not installed"; exit 77; }; done
rm -rf "$work" && mkdir -p "$work"
cd "$work" || exit 1
fail=0
spid="" gz="" sg=""
# Each world runs in a session of its own (setsid): mpirun and its ranks
# (Open MPI gives each rank its own process group, not its own session).
# Killing a world signals exactly the processes of that session.
kill_world() { # SESSION
  local p
  p=$(ps -eo pid=,sid= | awk -v s="$1" '$2 == s { print $1 }')
  [ -n "$p" ] && kill -9 $p 2>/dev/null
}
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  [ -n "$gz" ] && kill_world "$gz"
  [ -n "$sg" ] && kill_world "$sg"
}
trap cleanup EXIT
bad() { echo "FAIL: $*"; fail=1; }
N=16
spool=$work/spool
port=0
start_service() {
  rm -f port
  "$xisuan" serve --spool "$spool" --listen "127.0.0.1:$port" --port-file port --poll 0.2 \
    --lease-ttl 4 --lease-target 3 >>service.log 2>&1 &
  spid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
  [ -s port ] || { echo "FAIL: the service did not start"; cat service.log; exit 1; }
  port=$(cat port)
  url=http://127.0.0.1:$port
  for _ in $(seq 50); do curl -sf "$url/v1/health" >/dev/null && return 0; sleep 0.05; done
  echo "FAIL: no health check"; exit 1
}
"$xisuan" serve --spool "$spool" studio add east --token-file east.tok >/dev/null &&
"$xisuan" serve --spool "$spool" cluster add gz --token-file gz.tok >/dev/null &&
"$xisuan" serve --spool "$spool" cluster add sg --token-file sg.tok >/dev/null || { echo "FAIL: admin"; exit 1; }
start_service

mkdir -p cb && cp "$scenes"/CornellBox/* cb/
cat >cb/manifest.json <<'JSON'
{"schema": 1, "scene": "CornellBox.gltf", "camera": {"name": "cornell_cam"},
 "environment": {"type": "constant", "color": [0, 0, 0]},
 "render": {"resolution": [96, 72], "spp": 24, "tile": 24}}
JSON
R=("$xisuan" remote --server "$url" --token-file east.tok --cache "$work/cache" --progress off)
job=$("${R[@]}" submit cb --job shot --frames "1-$N" --mode lease 2>submit.err) ||
  { echo "FAIL: submit"; cat submit.err; exit 1; }

# two clusters, each its own MPI world and process group
join() { # NAME
  setsid "$mpiexec" -n 2 --oversubscribe "$xisuan" join --server "$url" --token-file "$1.tok" --job "$job" \
    --out "$work/$1" --retry 60 >"$1.log" 2>&1 &
}
join gz
gz=$!
join sg
sg=$!
# gz is killed once it holds a lease of several frames and its render runs
lease=""
for _ in $(seq 1200); do
  lease=$(grep '"event": "lease_granted".*"cluster": "gz"' service.log | grep -v '"frame_count": 1,' |
    head -1 | sed 's/.*"lease": \([0-9]*\).*/\1/')
  [ -n "$lease" ] && break
  sleep 0.02
done
[ -n "$lease" ] || { echo "FAIL: gz never held a lease of several frames"; tail -20 service.log; exit 1; }
sleep 0.3
kill_world "$gz"
wait "$gz" 2>/dev/null
left=""
for _ in $(seq 50); do
  left=$(ps -eo sid=,stat= | awk -v s="$gz" '$1 == s && $2 !~ /^Z/')
  [ -z "$left" ] && break
  sleep 0.1
done
[ -n "$left" ] && bad "processes of the killed world are left"
gz=""
held=$(jq -r "select(.event == \"lease_granted\" and .lease == $lease) | .frames" service.log)
sent=$(jq -r "select(.event == \"frame_committed\" and .lease == $lease) | .frame" service.log | tr '\n' ' ')
echo "clusters: killed gz holding lease $lease (frames $held; sent: $sent)"

# the service restarts while sg works
sleep 0.5
kill -TERM "$spid"
wait "$spid" 2>/dev/null
spid=""
echo "clusters: service stopped (SIGTERM); starting it again on port $port"
sleep 0.5
start_service

for _ in $(seq 1200); do kill -0 "$sg" 2>/dev/null || break; sleep 0.1; done
wait "$sg"; rc=$?
sg=""
[ $rc = 0 ] || { bad "cluster sg exited $rc"; tail -20 sg.log; }

# the job, its frames and its leases
curl -sf -H "Authorization: Bearer $(cat east.tok)" "$url/v1/jobs/$job" >job.json || bad "GET the job"
jq -e ".state == \"completed\" and .frames_done == $N" job.json >/dev/null ||
  bad "the job is $(jq -r .state job.json) with $(jq -r .frames_done job.json) of $N frames"
for f in $(seq "$N"); do
  n=$(jq -r "select(.event == \"frame_committed\" and .frame == $f) | .frame" service.log | wc -l)
  [ "$n" = 1 ] || bad "frame $f committed $n times"
done
count=$(ls "$spool/jobs/$job/out/shot/" | grep -c '^shot\.[0-9]*\.exr$')
[ "$count" = $N ] || bad "the spool holds $count frame files, expected $N"
find "$spool" -name '.*.tmp' | grep -q . && bad "temporary files left: $(find "$spool" -name '.*.tmp')"
state=$(jq -r ".leases[] | select(.lease == $lease) | .state" job.json)
[ "$state" != completed ] || bad "the killed cluster's lease $lease is completed"
taken=$(jq -r "[.leases[] | select(.cluster == \"sg\")] | length" job.json)
by_gz=$(jq -r '[.frames[] | select(.by == "gz")] | length' job.json)
by_sg=$(jq -r '[.frames[] | select(.by == "sg")] | length' job.json)
[ $((by_gz + by_sg)) = $N ] || bad "frames by gz ($by_gz) and sg ($by_sg) do not add up to $N"
# every frame of the lost lease that gz had not sent was committed by sg
lost_frames=$(jq -r "select(.event == \"lease_granted\" and .lease == $lease) | .frames" service.log)
for f in $(echo "$lost_frames" | tr ',' '\n' | awk -F- '{ if (NF == 2) for (i = $1; i <= $2; i++) print i; else print $1 }'); do
  by=$(jq -r ".frames[] | select(.frame == $f) | .by" job.json)
  if ! echo " $sent " | grep -q " $f "; then
    [ "$by" = sg ] || bad "frame $f of the lost lease was committed by '$by', expected sg"
  fi
done
grep -q '"event": "lease_granted".*"cluster": "sg"' service.log || bad "sg never leased"
# sg's leases survived the restart of the service: none lost, every one completed
jq -e '[.leases[] | select(.cluster == "sg" and .state != "completed")] | length == 0' job.json >/dev/null ||
  bad "sg lost a lease across the restart: $(jq -c '[.leases[] | select(.cluster == "sg")]' job.json)"
echo "clusters: job $job completed: $by_gz frame(s) by gz before it was killed, $by_sg by sg in $taken lease(s); lease $lease: $state"

# fetched and checked, against a one-cluster run
"${R[@]}" fetch "$job" --out fetched >fetch.log 2>&1 || { bad "fetch"; cat fetch.log; }
timeout 300 "$mpiexec" -n 3 --oversubscribe "$xisuan" render cache/shot.tar.zst --job shot --name shot \
  --frames "1-$N" --out ref >ref.log 2>&1 || { bad "the one-cluster run"; tail ref.log; }
same=0
for f in $(seq -f %04g 1 "$N"); do
  cmp -s "ref/shot/shot.$f.exr" "fetched/shot.$f.exr" && same=$((same + 1)) || bad "frame $f differs from the one-cluster run"
done
echo "clusters: $same of $N frames bit-identical to a one-cluster run (mpirun -n 3)"
kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=""
jq -e . service.log >/dev/null 2>&1 || bad "the service log is not JSON lines"
[ $fail = 0 ] && echo "clusters: all checks passed"
exit $fail
