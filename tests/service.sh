#!/usr/bin/env bash
# The submission service and its client on this machine, everything on
# 127.0.0.1 (docs/service.md): a studio submits the shared Cornell box, a
# cluster (one process, `xisuan join`) renders its frames under a lease, the
# studio fetches them (checked) and a download resumes from a partial file;
# then hostile requests, each refused with the right status and nothing left
# behind: missing, malformed, wrong and rotated tokens, another studio's job
# and upload, a cluster on the studio API and the reverse, path traversal in
# names, URLs and packages (every hostile package of tests/test_package.c),
# bodies over the limits, a spool quota, a chunk at the wrong offset or with
# a wrong checksum, truncated and stalled uploads, slow clients holding
# connections, malformed JSON; finally the service is killed during an upload
# and the client, killed too, resumes it. Every log line must be JSON.
# Skipped (77) without the shared scenes.
# usage: service.sh XISUAN TEST_PACKAGE SCENES WORKDIR
set -uo pipefail
xisuan=$1 gen=$2 scenes=$3 work=$4
[ -d "$scenes/CornellBox" ] || { echo "SKIP: $scenes not found"; exit 77; }
for b in curl jq; do command -v $b >/dev/null || { echo "SKIP: $b not installed (scripts/deps.sh)"; exit 77; }; done
rm -rf "$work" && mkdir -p "$work"
cd "$work" || exit 1
fail=0
pids=()
spid=""
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT
bad() { echo "FAIL: $*"; fail=1; }

spool=$work/spool
port=0
start_service() { # the service on $port (0: any), waiting (bounded) for its health check
  rm -f port
  "$xisuan" serve --spool "$spool" --listen "127.0.0.1:$port" --port-file port --poll 0.2 \
    --client-timeout 2 --max-package-bytes 48M --max-chunk-bytes 4M --lease-ttl 3 --lease-target 2 \
    >>service.log 2>&1 &
  spid=$!
  for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
  [ -s port ] || { echo "FAIL: the service did not start"; cat service.log; exit 1; }
  port=$(cat port)
  url=http://127.0.0.1:$port
  for _ in $(seq 50); do curl -sf "$url/v1/health" >/dev/null && return 0; sleep 0.05; done
  echo "FAIL: no health check"; exit 1
}
stop_service() { kill -"${1:-TERM}" "$spid"; wait "$spid" 2>/dev/null; spid=""; }

"$xisuan" serve --spool "$spool" studio add east --quota-bytes 200M --token-file east.tok >/dev/null &&
"$xisuan" serve --spool "$spool" studio add west --token-file west.tok >/dev/null &&
"$xisuan" serve --spool "$spool" studio add small --quota-bytes 4000 --token-file small.tok >/dev/null &&
"$xisuan" serve --spool "$spool" studio add gpu --quota-jobs 1 --quota-gpu-hours 1 --token-file gpu.tok >/dev/null &&
"$xisuan" serve --spool "$spool" cluster add gz --token-file gz.tok >/dev/null ||
  { echo "FAIL: admin commands"; exit 1; }
grep -q '^xs1_[0-9]*_' east.tok || bad "the token file holds no token"
[ "$(stat -c %a east.tok)" = 600 ] || bad "the token file is not private (mode $(stat -c %a east.tok))"
grep -qF "$(sed "s/^xs1_[0-9]*_//" east.tok)" "$spool/xisuan.db" && bad "the database holds the token's secret"
start_service
E=(-H "Authorization: Bearer $(cat east.tok)")
W=(-H "Authorization: Bearer $(cat west.tok)")
G=(-H "Authorization: Bearer $(cat gz.tok)")
S=(-H "Authorization: Bearer $(cat small.tok)")
# expect STATUS WHAT curl-args...: the request answers STATUS with a JSON error naming it
expect() {
  local want=$1 what=$2
  shift 2
  local got
  got=$(curl -s -o body -w '%{http_code}' --max-time 20 "$@")
  [ "$got" = "$want" ] || bad "$what: HTTP $got, expected $want: $(head -c 300 body)"
  if [ "$want" -ge 400 ] && ! jq -e '.error and .message' body >/dev/null 2>&1; then
    bad "$what: the answer is not a JSON error: $(head -c 200 body)"
  fi
}

# ---- a job end to end: submit, a cluster renders it, fetch ----
mkdir -p cb && cp "$scenes"/CornellBox/* cb/
cat >cb/manifest.json <<'JSON'
{"schema": 1, "scene": "CornellBox.gltf", "camera": {"name": "cornell_cam"},
 "environment": {"type": "constant", "color": [0, 0, 0]},
 "render": {"resolution": [48, 36], "spp": 4, "tile": 16}}
JSON
R=("$xisuan" remote --server "$url" --cache "$work/cache" --progress off)
job=$("${R[@]}" --token-file east.tok submit cb --job cb --frames 1-3 --mode lease 2>submit.err)
[ -n "$job" ] || { echo "FAIL: remote submit"; cat submit.err; exit 1; }
"${R[@]}" --token-file east.tok status "$job" >/dev/null; rc=$?
[ $rc = 3 ] || bad "status of a queued job: exit $rc, expected 3"
timeout 120 "$xisuan" join --server "$url" --token-file gz.tok --job "$job" --out cluster >join.log 2>&1 ||
  { bad "xisuan join"; tail -20 join.log; }
"${R[@]}" --token-file east.tok status "$job" >status.txt; rc=$?
[ $rc = 0 ] || { bad "status of the finished job: exit $rc"; cat status.txt; }
grep -q "frames: 3 of 3 done" status.txt || bad "status: $(cat status.txt)"
"${R[@]}" --token-file east.tok fetch "$job" --out fetched >fetch.log 2>&1 || { bad "fetch"; cat fetch.log; }
"$xisuan" render cache/cb.tar.zst --job cb --name cb --frames 1-3 --out ref >ref.log 2>&1 || bad "direct render"
for f in 0001 0002 0003; do
  cmp -s "ref/cb/cb.$f.exr" "fetched/cb.$f.exr" || bad "frame $f differs from a direct render"
  [ -s "fetched/cb.$f.png" ] || bad "no preview of frame $f"
done
grep -q 'cb.0001.png' fetched/report.html || bad "the report does not show the previews"
echo "service: job $job rendered by a cluster, fetched (checked), bit-identical to a direct render"
# a download resumes from a partial file, and a damaged partial file is replaced
mkdir -p resume
head -c 1000 fetched/cb.0001.exr >resume/cb.0001.exr.part
head -c 1000 /dev/urandom >resume/cb.0002.exr.part
"${R[@]}" --token-file east.tok fetch "$job" --out resume >resume.log 2>&1 || { bad "fetch (resume)"; cat resume.log; }
cmp -s fetched/cb.0001.exr resume/cb.0001.exr || bad "the resumed download differs"
cmp -s fetched/cb.0002.exr resume/cb.0002.exr || bad "the damaged partial download was kept"
grep -q '"path": "/v1/jobs/'"$job"'/frames/1", "status": 206' service.log || bad "no Range request (206) for the resume"
ls resume/*.part >/dev/null 2>&1 && bad "partial files left behind"
expect 416 "a range past the end" "${E[@]}" -H "Range: bytes=99999999-" "$url/v1/jobs/$job/frames/1"
echo "service: downloads resume (206) and a damaged partial file is fetched again"

# ---- tokens ----
expect 401 "no token" "$url/v1/jobs"
expect 401 "a malformed token" -H "Authorization: Bearer nonsense" "$url/v1/jobs"
expect 401 "a basic-auth header" -u east:secret "$url/v1/jobs"
id=$(cut -d_ -f2 east.tok)
expect 401 "a wrong secret" -H "Authorization: Bearer xs1_${id}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$url/v1/jobs"
expect 401 "an unknown id" -H "Authorization: Bearer xs1_999_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$url/v1/jobs"
expect 200 "the studio's own jobs" "${E[@]}" "$url/v1/jobs"
jq -e ".jobs | length == 1" body >/dev/null || bad "east does not see exactly its one job"
"$xisuan" serve --spool "$spool" token rotate east --token-file east2.tok >/dev/null || bad "token rotate"
expect 401 "a rotated-out token" "${E[@]}" "$url/v1/jobs"
E=(-H "Authorization: Bearer $(cat east2.tok)")
expect 200 "the new token" "${E[@]}" "$url/v1/jobs"
"$xisuan" serve --spool "$spool" studio set west --disable >/dev/null || bad "studio set --disable"
expect 401 "a disabled studio" "${W[@]}" "$url/v1/jobs"
"$xisuan" serve --spool "$spool" studio set west --enable >/dev/null || bad "studio set --enable"

# ---- another studio's things do not exist for it; roles ----
expect 404 "another studio's job" "${W[@]}" "$url/v1/jobs/$job"
expect 404 "another studio's frame" "${W[@]}" "$url/v1/jobs/$job/frames/1"
expect 404 "another studio's preview" "${W[@]}" "$url/v1/jobs/$job/frames/1/preview"
expect 404 "another studio's report" "${W[@]}" "$url/v1/jobs/$job/report.html"
expect 404 "another studio's package" "${W[@]}" "$url/v1/jobs/$job/package"
expect 404 "cancelling another studio's job" "${W[@]}" -X POST "$url/v1/jobs/$job/cancel"
expect 404 "another studio's upload" "${W[@]}" "$url/v1/uploads/1"
expect 404 "writing another studio's upload" "${W[@]}" -X PUT -H "Upload-Offset: 0" --data-binary x "$url/v1/uploads/1"
expect 403 "a cluster on the studio API" "${G[@]}" "$url/v1/jobs"
expect 403 "a studio asking for a lease" "${E[@]}" -X POST "$url/v1/jobs/$job/leases"
expect 405 "a wrong method" "${E[@]}" -X DELETE "$url/v1/jobs/$job"
expect 404 "a path walk in the URL" "${E[@]}" --path-as-is "$url/v1/jobs/../uploads/1"
expect 404 "an encoded path walk" "${E[@]}" --path-as-is "$url/v1/jobs/%2e%2e/uploads/1"
expect 409 "cancelling a finished job" "${E[@]}" -X POST "$url/v1/jobs/$job/cancel"
expect 410 "a lease on a finished job" "${G[@]}" -X POST "$url/v1/jobs/$job/leases"
echo "service: tokens, other studios' jobs and roles refused (401, 403, 404, 405, 409, 410)"

# ---- bodies: names, JSON, limits, quotas ----
before=$(ls "$spool/uploads" "$spool/jobs" | wc -l)
sum=0123456789abcdef0123456789abcdef
expect 400 "a path as an upload name" "${E[@]}" -d "{\"name\": \"../x.tar.zst\", \"size\": 10, \"xxh3\": \"$sum\"}" "$url/v1/uploads"
expect 400 "a folder in an upload name" "${E[@]}" -d "{\"name\": \"a/x.tar.zst\", \"size\": 10, \"xxh3\": \"$sum\"}" "$url/v1/uploads"
expect 400 "malformed JSON" "${E[@]}" -d '{"name": "x.tar.zst", "size": ' "$url/v1/uploads"
expect 400 "JSON that is not an object" "${E[@]}" -d '["x"]' "$url/v1/uploads"
expect 400 "an unknown field" "${E[@]}" -d "{\"name\": \"x.tar.zst\", \"size\": 10, \"xxh3\": \"$sum\", \"path\": \"/etc\"}" "$url/v1/uploads"
expect 413 "an upload over the size limit" "${E[@]}" -d "{\"name\": \"x.tar.zst\", \"size\": 60000000, \"xxh3\": \"$sum\"}" "$url/v1/uploads"
expect 403 "an upload over the studio's quota" "${S[@]}" -d "{\"name\": \"x.tar.zst\", \"size\": 5000, \"xxh3\": \"$sum\"}" "$url/v1/uploads"
grep -q '"error":"quota"' body || bad "the quota refusal does not say quota"
head -c 70000 /dev/zero | tr '\0' ' ' >big.json
expect 413 "a JSON body over 64 KiB" "${E[@]}" --data-binary @big.json "$url/v1/jobs"
expect 400 "a path as a job name" "${E[@]}" -d '{"upload": 1, "job": "../../etc"}' "$url/v1/jobs"
expect 400 "a path as a frame name" "${E[@]}" -d '{"upload": 1, "job": "j", "name": "a/b"}' "$url/v1/jobs"
expect 400 "a package path in a job" "${E[@]}" -d '{"upload": 1, "job": "j", "package": "/etc/passwd"}' "$url/v1/jobs"
expect 400 "malformed job JSON" "${E[@]}" -d '{"upload": 1, "job": ' "$url/v1/jobs"
expect 400 "a bad render setting" "${E[@]}" -d '{"upload": 1, "job": "j", "render": {"spp": 0}}' "$url/v1/jobs"
grep -q 'render.spp' body || bad "the render's own message is not passed on: $(cat body)"
expect 409 "a job from a used upload" "${E[@]}" -d '{"upload": 1, "job": "again"}' "$url/v1/jobs"
jq -e ".job == $job" body >/dev/null || bad "the conflict does not name the job that took the upload"
after=$(ls "$spool/uploads" "$spool/jobs" | wc -l)
[ "$before" = "$after" ] || bad "refused requests left files in the spool ($before -> $after entries)"
# quotas of jobs in flight and GPU-hours (nodes x GPUs x time limit, reserved at submission)
q1=$("${R[@]}" --token-file gpu.tok submit cb --job q1 --mode lease 2>q.err) || bad "the quota studio's first job: $(cat q.err)"
"${R[@]}" --token-file gpu.tok submit cb --job q2 >/dev/null 2>q.err; rc=$?
[ $rc = 2 ] && grep -q "403: quota: the studio has 1 job(s) in flight, its quota is 1" q.err ||
  bad "a job over the jobs-in-flight quota: exit $rc: $(cat q.err)"
"${R[@]}" --token-file gpu.tok cancel "$q1" >/dev/null || bad "cancel a queued lease job"
"${R[@]}" --token-file gpu.tok submit cb --job q3 --gpus-per-node 1 --time 2:00:00 >/dev/null 2>q.err; rc=$?
[ $rc = 2 ] && grep -q "403: quota: GPU-hours: .* this job reserves 2.000" q.err ||
  bad "a job over the GPU-hour quota: exit $rc: $(cat q.err)"
[ "$(ls "$spool/jobs" | wc -l)" = 2 ] || bad "refused jobs left folders: $(ls "$spool/jobs")"
# (the refused jobs' package stays the studio's finished upload, for a later job)
echo "service: bad names, malformed JSON, oversize bodies and quotas (bytes, jobs in flight, GPU-hours) refused (400, 403, 409, 413), nothing written"

# ---- chunks: offsets, checksums, truncated and stalled bodies ----
head -c 3000 /dev/urandom >blob
expect 201 "an upload opened" "${E[@]}" -d "{\"name\": \"blob.tar.zst\", \"size\": 3000, \"xxh3\": \"$sum\"}" "$url/v1/uploads"
u=$(jq -r .upload body)
head -c 1000 blob >c1
expect 409 "a chunk at the wrong offset" "${E[@]}" -X PUT -H "Upload-Offset: 5" --data-binary @c1 "$url/v1/uploads/$u"
expect 400 "a chunk without an offset" "${E[@]}" -X PUT --data-binary @c1 "$url/v1/uploads/$u"
expect 422 "a chunk with a wrong checksum" "${E[@]}" -X PUT -H "Upload-Offset: 0" -H "X-Xisuan-Chunk-XXH3: $sum" --data-binary @c1 "$url/v1/uploads/$u"
head -c 3500 /dev/zero >toolong
expect 413 "a chunk past the declared size" "${E[@]}" -X PUT -H "Upload-Offset: 0" --data-binary @toolong "$url/v1/uploads/$u"
head -c 5000000 /dev/zero >huge
expect 413 "a chunk over the chunk limit" "${E[@]}" -X PUT -H "Upload-Offset: 0" --data-binary @huge "$url/v1/uploads/$u"
expect 200 "a good chunk" "${E[@]}" -X PUT -H "Upload-Offset: 0" --data-binary @c1 "$url/v1/uploads/$u"
jq -e '.offset == 1000' body >/dev/null || bad "the offset did not move to 1000: $(cat body)"
# a truncated body (the client goes away) and a stalled one (the client stops sending)
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PUT /v1/uploads/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nUpload-Offset: 1000\r\nContent-Length: 1000\r\n\r\n' "$u" "$(cat east2.tok)" >&3
head -c 400 /dev/urandom >&3
exec 3>&-
exec 4<>"/dev/tcp/127.0.0.1/$port"
printf 'PUT /v1/uploads/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nUpload-Offset: 1000\r\nContent-Length: 1000\r\n\r\n' "$u" "$(cat east2.tok)" >&4
head -c 300 /dev/urandom >&4
sleep 3.5 # past --client-timeout 2
read -r -t 2 -u 4 _; rc=$?
[ $rc = 1 ] || bad "a stalled upload was not closed by the service (read exit $rc)"
exec 4>&-
expect 200 "the upload after both" "${E[@]}" "$url/v1/uploads/$u"
jq -e '.offset == 1000 and .state == "open"' body >/dev/null || bad "a broken chunk moved the upload: $(cat body)"
[ "$(stat -c %s "$spool/uploads/$u.tar.zst")" = 1000 ] || bad "a broken chunk left bytes on disk ($(stat -c %s "$spool/uploads/$u.tar.zst"))"
grep -q '"path": "/v1/uploads/'"$u"'", "status": 0,.*"end": "timeout"' service.log || bad "the stalled upload's time-out is not in the log"
echo "service: wrong offsets (409), checksums (422), oversize chunks (413), truncated and stalled bodies refused, the upload unchanged"

# ---- slow clients holding connections ----
for fd in 5 6 7 8; do
  eval "exec $fd<>/dev/tcp/127.0.0.1/$port"
  printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\n' >&$fd # and never the end of the headers
done
t0=$(date +%s.%N)
curl -sf --max-time 5 "$url/v1/health" >/dev/null || bad "health check while slow clients hold connections"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1.0) }' || bad "the health check took $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s beside slow clients"
sleep 3
for fd in 5 6 7 8; do
  read -r -t 2 -u $fd _; rc=$?
  [ $rc = 1 ] || bad "a slow client's connection (fd $fd) was not closed after the time-out"
  eval "exec $fd>&-"
done
echo "service: slow clients do not block others and are closed after the idle time-out"

# ---- hostile packages: refused by the same checks as xisuan pack, nothing kept ----
mkdir -p hostile && "$gen" write hostile >/dev/null || bad "test_package write"
uploads_before=$(ls "$spool/uploads")
n=0
for pkg in hostile/*.tar.zst; do
  name=$(basename "$pkg" .tar.zst)
  "${R[@]}" --token-file east2.tok submit "$pkg" --job "h_$name" --mode lease >/dev/null 2>h.err; rc=$?
  [ $rc = 2 ] || { bad "hostile package $name: exit $rc, expected 2"; cat h.err; }
  grep -qF -- "$(cat "hostile/$name.expect")" h.err || { bad "hostile package $name: message lacks '$(cat "hostile/$name.expect")'"; cat h.err; }
  grep -q ": 422: " h.err || bad "hostile package $name: not refused with 422: $(cat h.err)"
  n=$((n + 1))
done
[ "$(ls "$spool/jobs" | tr '\n' ' ')" = "$job $q1 " ] || bad "hostile packages made jobs: $(ls "$spool/jobs")"
[ "$(ls "$spool/uploads")" = "$uploads_before" ] || bad "hostile uploads left in the spool: $(ls "$spool/uploads")"
[ -e /etc/xisuan_evil ] && bad "/etc/xisuan_evil exists"
find "$work" -name evil | grep -q . && bad "a package entry landed outside: $(find "$work" -name evil)"
echo "service: $n hostile packages refused (422) with the checker's message, nothing kept"

# ---- the service killed during an upload; the client killed during another ----
mkdir -p big && cp cb/* big/ && head -c 12000000 /dev/urandom >big/padding.bin
"${R[@]}" --token-file east2.tok --limit-rate 3M --chunk-bytes 1M --retry 60 submit big --job big --mode lease \
  >big.out 2>big.err &
cpid=$!
pids+=($cpid)
n0=$(grep -c '"path": "/v1/uploads/[0-9]*", "status": 200' service.log)
for _ in $(seq 200); do
  [ "$(grep -c '"path": "/v1/uploads/[0-9]*", "status": 200' service.log)" -ge $((n0 + 3)) ] && break
  sleep 0.05
done
stop_service KILL
echo "service: killed during the upload ($(( $(grep -c '"path": "/v1/uploads/[0-9]*", "status": 200' service.log) - n0 )) chunks in)"
sleep 1
start_service
for _ in $(seq 300); do kill -0 $cpid 2>/dev/null || break; sleep 0.1; done
wait $cpid; rc=$?
[ $rc = 0 ] || { bad "the upload did not complete across the restart (exit $rc)"; cat big.err; }
bigjob=$(cat big.out)
# the first chunk after the restart went on from where the killed service stood
first=$(awk '/"event": "start"/ { n++ } n == 2 && /"detail": "upload [0-9]+: [0-9]+ of/ { print; exit }' service.log |
  sed 's/.*"detail": "upload [0-9]*: \([0-9]*\) of.*/\1/')
[ "${first:-0}" -gt 2000000 ] || bad "after the restart the upload started again from ${first:-?} bytes"
expect 200 "the job from the resumed upload" "${E[@]}" "$url/v1/jobs/$bigjob"
[ "$(jq -r .package_bytes body)" = "$(stat -c %s cache/big.tar.zst)" ] || bad "the package's size differs after the restart"
cmp -s cache/big.tar.zst "$spool/jobs/$bigjob/package.tar.zst" || bad "the spooled package differs from the studio's"
# the client killed mid-upload resumes where the service stands
head -c 12000000 /dev/urandom >big/padding.bin
"${R[@]}" --token-file east2.tok --limit-rate 3M --chunk-bytes 1M submit big --job big2 --mode lease >/dev/null 2>&1 &
cpid=$!
pids+=($cpid)
n0=$(grep -c '"path": "/v1/uploads/[0-9]*", "status": 200' service.log)
for _ in $(seq 200); do
  [ "$(grep -c '"path": "/v1/uploads/[0-9]*", "status": 200' service.log)" -ge $((n0 + 3)) ] && break
  sleep 0.05
done
kill -9 $cpid; wait $cpid 2>/dev/null
"${R[@]}" --token-file east2.tok --progress lines submit big --job big2 --mode lease >big2.out 2>big2.err ||
  { bad "the second upload did not complete"; cat big2.err; }
grep -Eq "resuming upload [0-9]+ of big2.tar.zst at [1-9][0-9]* of" big2.err || bad "the client did not resume: $(cat big2.err)"
echo "service: an upload survives a killed service (SIGKILL; the first chunk after the restart ended at $first bytes) and a killed client (resumed $(grep -o 'at [0-9]* of [0-9]* bytes' big2.err))"

# ---- the log: JSON lines only; nothing left over ----
stop_service TERM
jq -e . service.log >/dev/null 2>&1 || bad "the service log is not JSON lines"
grep -q '"event": "stop"' service.log || bad "no stop event in the log"
find "$spool" -name '.*.tmp' | grep -q . && bad "temporary files left: $(find "$spool" -name '.*.tmp')"
grep -qF "$(sed "s/^xs1_[0-9]*_//" east2.tok)" service.log && bad "a token's secret is in the log"
[ $fail = 0 ] && echo "service: all checks passed"
exit $fail
