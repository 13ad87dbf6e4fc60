#!/usr/bin/env bash
# Benchmark of the submission service (not a test; docs/benchmarks.md):
#   - upload and download throughput on loopback (`xisuan remote submit` and
#     `xisuan remote fetch --package`: chunks with their XXH3-128, fdatasync per
#     chunk, the whole file checked) against `cp` of the same bytes on the same
#     file system, with and without `sync`;
#   - requests per second of the status endpoint (GET /v1/jobs/ID, a job of 24
#     frames) with 100 concurrent clients (ApacheBench from apache2-utils,
#     installed when missing), with keep-alive and with a connection a request.
# The package is the Cornell box plus MIB MiB of random bytes (incompressible).
# usage: bench/service.sh [BUILD_DIR] [MIB] [REQUESTS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
mib=${2:-1024}
nreq=${3:-20000}
xisuan=$build/xisuan
scenes=$root/../shared/scenes
command -v ab >/dev/null || {
  echo "bench: installing apache2-utils (ab)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null
}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/xs-bench-service-XXXXXX")
spid=""
trap '[ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

mkdir -p scene && cp "$scenes"/CornellBox/* scene/
cat >scene/manifest.json <<'JSON'
{"schema": 1, "scene": "CornellBox.gltf", "camera": {"name": "cornell_cam"},
 "environment": {"type": "constant", "color": [0, 0, 0]},
 "render": {"resolution": [64, 48], "spp": 4, "tile": 16}}
JSON
head -c $((mib * 1048576)) /dev/urandom >scene/padding.bin
"$xisuan" pack scene -o pkg.tar.zst --level 1 >/dev/null
bytes=$(stat -c %s pkg.tar.zst)
echo "== package: $bytes bytes ($(df -T . | awk 'NR == 2 { print $2 }') file system at $work)"

"$xisuan" serve --spool spool studio add bench --quota-bytes 1T --token-file bench.tok >/dev/null
"$xisuan" serve --spool spool --listen 127.0.0.1:0 --port-file port --log service.log &
spid=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.05; done
url=http://127.0.0.1:$(cat port)
R=("$xisuan" remote --server "$url" --token-file bench.tok --progress lines ${XS_BENCH_CHUNK:+--chunk-bytes $XS_BENCH_CHUNK})

now() { date +%s.%N; }
rate() { awk -v b="$bytes" -v a="$1" -v z="$2" 'BEGIN { printf "%.3f s, %.1f MB/s", z - a, b / (z - a) / 1e6 }'; }
sync
t0=$(now); cp pkg.tar.zst copy1; t1=$(now)
echo "cp (page cache):            $(rate "$t0" "$t1")"
rm -f copy1; sync
t0=$(now); cp pkg.tar.zst copy2; sync; t1=$(now)
echo "cp + sync:                  $(rate "$t0" "$t1")"
rm -f copy2; sync

t0=$(now)
job=$("${R[@]}" submit pkg.tar.zst --job bench --frames 1-24 --mode lease 2>submit.err)
t1=$(now)
grep -o 'uploaded .*' submit.err | sed 's/^/remote submit, upload:     /'
echo "remote submit, end to end:  $(rate "$t0" "$t1") (hash, upload, the package check, the job)"
sync
t0=$(now)
"${R[@]}" fetch "$job" --out dl --no-previews --package >/dev/null 2>fetch.err || true
t1=$(now)
grep -o 'fetched package.tar.zst.*' fetch.err | sed 's/^/remote fetch --package:     /'
cmp -s pkg.tar.zst dl/package.tar.zst || { echo "bench: the downloaded package differs"; exit 1; }

tok=$(cat bench.tok)
echo "== GET /v1/jobs/$job ($(curl -s -H "Authorization: Bearer $tok" "$url/v1/jobs/$job" | wc -c) bytes of JSON), 100 concurrent clients, $nreq requests"
ab -q -k -c 100 -n "$nreq" -H "Authorization: Bearer $tok" "$url/v1/jobs/$job" >ab_keep.txt 2>&1
non2xx=$(grep -E '^Non-2xx' ab_keep.txt | awk '{print $3}' || true)
echo "keep-alive:        $(grep -E '^Requests per second' ab_keep.txt | awk '{print $4, "requests/s"}'), $(grep -E '^Failed requests' ab_keep.txt | awk '{print $3}') failed, ${non2xx:-0} non-2xx; 99% under $(awk '/ 99%/ {print $2}' ab_keep.txt) ms"
ab -q -c 100 -n "$nreq" -H "Authorization: Bearer $tok" "$url/v1/jobs/$job" >ab_new.txt 2>&1
echo "a connection each: $(grep -E '^Requests per second' ab_new.txt | awk '{print $4, "requests/s"}'), $(grep -E '^Failed requests' ab_new.txt | awk '{print $3}') failed; 99% under $(awk '/ 99%/ {print $2}' ab_new.txt) ms"
ab -q -k -c 100 -n "$nreq" "$url/v1/health" >ab_health.txt 2>&1
echo "health (no token, no database row), keep-alive: $(grep -E '^Requests per second' ab_health.txt | awk '{print $4, "requests/s"}') (ab counts its answers of varying length as failed)"
echo "nproc $(nproc); $(lscpu | sed -n 's/^Model name: *//p')"
