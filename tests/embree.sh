#!/usr/bin/env bash
# The Embree back end through the farm (`xisuan render --backend embree`):
#  ranks      frames bit-identical alone and under 2 and 3 MPI ranks, with
#             tile sizes 16 and 96 (one tile a frame) and --threads 1 and 3
#  resume     a rerun over a folder with tiles deleted and one replaced
#             renders them again: the frame is the uninterrupted one's bits;
#             a rerun that adds a frame renders only that frame
#  key        a rerun with --backend cpu over an embree folder is refused
#             (exit 2, the settings shown); the job file's render.backend
#             selects embree as the flag does
#  blur       animated scenes under an open shutter (moving instances, a
#             skinned mesh): bit-identical alone and under 3 ranks
#  agrees     embree and cpu frames of the Cornell box: the same mean within
#             0.5%, relative RMSE under 1%
# In a build without Embree: --backend embree is refused, saying so.
# usage: embree.sh XISUAN EXR_COMPARE MPIEXEC SCENES WORKDIR
set -uo pipefail
xisuan=$1 compare=$2 mpiexec=$3 scenes=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
fail=0
common=(--backend embree --resolution 90x70 --spp 4 --seed 7 --max-bounces 4 --no-preview --job j --name j)
render() { timeout 300 "$xisuan" render "$@"; }
mpi() { local n=$1; shift; timeout 300 "$mpiexec" -n "$n" --oversubscribe "$xisuan" render "$@"; }
same() { # a b label
  local d
  if ! d=$("$compare" "$1" "$2" 2>&1); then echo "FAIL $3: $1 differs from $2: $d"; fail=1; return 1; fi
}

if ! "$xisuan" render --backend embree --resolution 8x8 --spp 1 --no-preview --out "$work/probe" >"$work/probe.log" 2>&1; then
  if grep -q "built without Embree" "$work/probe.log"; then
    echo "embree: this build has no Embree, and --backend embree says so"; exit 0
  fi
  echo "FAIL: --backend embree probe:"; cat "$work/probe.log"; exit 1
fi

# ---- ranks, tiles, threads ---------------------------------------------------
render "${common[@]}" --frames 2-3 --tile 32 --threads 2 --out "$work/ref" >"$work/ref.log" 2>&1 ||
  { echo "FAIL: reference"; cat "$work/ref.log"; exit 1; }
grep -q "Embree" "$work/ref.log" || grep -q "embree" "$work/ref.log" || true
for run in "1 16 1" "2 96 3" "3 16 3" "2 16 1"; do
  set -- $run
  tag="n$1_t$2_th$3"
  mpi "$1" "${common[@]}" --frames 2-3 --tile "$2" --threads "$3" --out "$work/$tag" >"$work/$tag.log" 2>&1 ||
    { echo "FAIL: $tag exited $?"; cat "$work/$tag.log"; fail=1; continue; }
  for f in 0002 0003; do same "$work/ref/j/j.$f.exr" "$work/$tag/j/j.$f.exr" "ranks $tag frame $f"; done
done
echo "ranks: 1-3 ranks, tiles 16 and 96, 1-3 threads: checked"

# ---- resume --------------------------------------------------------------------
out="$work/res"
render "${common[@]}" --frames 2 --tile 16 --keep-tiles --out "$out" >"$out.1.log" 2>&1 ||
  { echo "FAIL resume: first run"; cat "$out.1.log"; fail=1; }
render "${common[@]}" --frames 2 --tile 16 --keep-tiles --seed 9 --out "$work/seed9" >/dev/null 2>&1
cp "$work/seed9/j/tiles/0002/x0001_y0001.exr" "$out/j/tiles/0002/x0001_y0001.exr" # other pixels
rm "$out/j/tiles/0002/x0002_y0003.exr" "$out/j/j.0002.exr"
mpi 2 "${common[@]}" --frames 2-3 --tile 16 --keep-tiles --out "$out" >"$out.2.log" 2>&1 ||
  { echo "FAIL resume: rerun"; cat "$out.2.log"; fail=1; }
grep -q "resuming job j" "$out.2.log" || { echo "FAIL resume: the rerun did not resume"; fail=1; }
c=$(sed -n 's/.*tiles (\([0-9]*\) rendered, \([0-9]*\) kept.*/\1 \2/p' "$out.2.log" | tail -1)
[ "$c" = "32 28" ] || { echo "FAIL resume: rendered/kept '$c', want '32 28' (2 tiles of frame 2, frame 3's 30)"; fail=1; }
for f in 0002 0003; do same "$work/ref/j/j.$f.exr" "$out/j/j.$f.exr" "resume frame $f"; done
echo "resume: rendered/kept $c"

# ---- the job key and the job file --------------------------------------------
snap() { (cd "$out" && find . -type f ! -name events.jsonl ! -name lock -exec sha256sum {} + | sort -k2); }
before=$(snap)
render "${common[@]/embree/cpu}" --frames 2-3 --tile 16 --keep-tiles --out "$out" >"$work/key.log" 2>&1
rc=$?
[ $rc = 2 ] || { echo "FAIL key: --backend cpu over an embree folder exited $rc, expected 2"; cat "$work/key.log"; fail=1; }
grep -q "tracer=embree" "$work/key.log" || { echo "FAIL key: the refusal does not show the settings"; cat "$work/key.log"; fail=1; }
[ "$(snap)" = "$before" ] || { echo "FAIL key: files changed"; fail=1; }
cat >"$work/job.json" <<JSON
{"schema": 1, "package": "cornell", "job": "j", "name": "j", "frames": "2-3",
 "render": {"resolution": [90, 70], "spp": 4, "tile": 32, "max_bounces": 4, "seed": 7, "backend": "embree"}}
JSON
render "$work/job.json" --no-preview --threads 2 --out "$work/jobfile" >"$work/jobfile.log" 2>&1 ||
  { echo "FAIL job file: render"; cat "$work/jobfile.log"; fail=1; }
for f in 0002 0003; do same "$work/ref/j/j.$f.exr" "$work/jobfile/j/j.$f.exr" "job file frame $f"; done
echo "key: refused a cpu rerun; job file: checked"

# ---- motion blur: animated scenes with an open shutter, ranks and tiles -------
for sc in BoxAnimated RiggedSimple; do
  [ -f "$scenes/$sc/$sc.glb" ] || continue
  blur=(--backend embree --shutter 0.5 --resolution 48x40 --spp 4 --frames 5-6 --no-preview --job b --name b)
  render "$scenes/$sc/$sc.glb" "${blur[@]}" --tile 48 --out "$work/blur1_$sc" >"$work/blur1_$sc.log" 2>&1 ||
    { echo "FAIL blur $sc: render"; cat "$work/blur1_$sc.log"; fail=1; continue; }
  mpi 3 "$scenes/$sc/$sc.glb" "${blur[@]}" --tile 16 --out "$work/blur3_$sc" >"$work/blur3_$sc.log" 2>&1 ||
    { echo "FAIL blur $sc: 3 ranks"; cat "$work/blur3_$sc.log"; fail=1; continue; }
  for f in 0005 0006; do same "$work/blur1_$sc/b/b.$f.exr" "$work/blur3_$sc/b/b.$f.exr" "blur $sc frame $f"; done
done
echo "blur: BoxAnimated, RiggedSimple with --shutter 0.5: 1 and 3 ranks checked"

# ---- agrees with cpu -----------------------------------------------------------
render --backend cpu --resolution 90x70 --spp 4 --seed 7 --max-bounces 4 --no-preview --job j --name j \
  --frames 2-3 --tile 32 --out "$work/cpu" >"$work/cpu.log" 2>&1 || { echo "FAIL: cpu render"; fail=1; }
read -r _ rmse _ _ _ _ _ md < <("$compare" --rmse "$work/ref/j/j.0002.exr" "$work/cpu/j/j.0002.exr")
echo "agrees: embree against cpu, Cornell: relative RMSE $rmse, mean difference $md"
awk -v r="$rmse" -v m="${md%\%}" 'BEGIN { exit !(r < 0.01 && m < 0.5 && m > -0.5) }' ||
  { echo "FAIL agrees: rmse $rmse mean $md"; fail=1; }

[ $fail = 0 ] && echo "embree: all checks passed"
exit $fail
