#!/usr/bin/env bash
# Scenes bigger than a rank (docs/running.md, "Memory"): paged textures, one
# copy of the scene per node, the memory plan, instancing at scale.
#  1. a generated scene of 12 textures of 1024^2 (64 MiB of pages; 512^2
#     under the sanitizers, with a cache of 1 MiB) packs into
#     a page store: the image files leave the tar (which plain tar still
#     reads), every page checks;
#  2. rendered through a cache of 4 MiB (16 times smaller than the set) and
#     of the whole set, alone and on 4 ranks: bit-identical frames; with
#     --mem-budget rank=64M the paged scene renders with a peak RSS under
#     64 MiB (/usr/bin/time) where the same scene held whole is refused; the
#     cache's hit rate and bytes read are in the summary and the event log;
#  3. the scene held whole (64 MiB of pages in the scene) on 4 ranks of this
#     node: the PSS the node holds, summed over its ranks, is at least 1.5
#     copies smaller shared than with --node-share off; same pixels;
#  4. a scene that cannot fit is refused on every rank, quickly, with the
#     plan; xisuan info --scene prints the same plan;
#  5. a damaged page fails the job (exit 1) naming the file and the page,
#     and pack --check finds it;
#  6. a million instances of a small mesh (EXT_mesh_gpu_instancing) load and
#     render at under 160 bytes an instance;
#  7. an animated paged scene (a textured quad slides, blurred) on 4 ranks:
#     each rendering rank poses its own copy (the plan says so), the node's
#     ranks still share one texture cache, and the frames equal one rank's
#     and --node-share off's bit for bit (and the frames differ: it moves).
# usage: textures.sh XISUAN GEN_TEXTURED GEN_GLTF EXR_COMPARE MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 gen=$2 gen_gltf=$3 compare=$4 mpiexec=$5 work=$6
rm -rf "$work" && mkdir -p "$work/scene"
fail=0
say() { echo "$*"; }
bad() { echo "FAIL: $*"; fail=1; }
run() { # name, then the render's flags; output in $work/NAME.log
  local name=$1; shift
  "$@" >"$work/$name.log" 2>&1
}
res=(--resolution 160x120 --spp 4 --tile 32 --no-preview)
# under AddressSanitizer a process's memory is its shadow and quarantine as
# much as its own: the budget and peak RSS checks run in the plain build only
sanitized=0
[ -n "${ASAN_OPTIONS:-}" ] && sanitized=1
budget=(--mem-budget rank=64M)
size=1024 cache=4 # 12 textures of 1024^2: 64 MiB of pages, 16 times the cache
if [ $sanitized = 1 ]; then # the same checks on a quarter of the texels, in half the time
  budget=() size=512 cache=1 res=(--resolution 96x72 --spp 4 --tile 32 --no-preview)
fi

# 1. packing
"$gen" "$work/scene" 12 $size >/dev/null || { bad "gen_textured"; exit 1; }
"$xisuan" pack "$work/scene" -o "$work/paged.tar.zst" >"$work/pack.log" 2>&1 || { bad "pack"; cat "$work/pack.log"; }
"$xisuan" pack "$work/scene" -o "$work/whole.tar.zst" --textures embed >"$work/pack2.log" 2>&1 || bad "pack --textures embed"
grep -q "12 texture image(s) paged (their 12 file(s) left the tar)" "$work/pack.log" || { bad "pack did not page"; cat "$work/pack.log"; }
"$xisuan" pack --check "$work/paged.tar.zst" >"$work/check.log" 2>&1 && grep -q "every page checked" "$work/check.log" ||
  { bad "pack --check"; cat "$work/check.log"; }
listing=$(tar --zstd -tf "$work/paged.tar.zst" 2>&1) || bad "plain tar cannot read the package's tar part: $listing"
echo "$listing" | grep -q "scene.gltf" && ! echo "$listing" | grep -q "\.png" || bad "the tar part lists: $listing"
[ $fail = 0 ] && say "pack: $(grep 'pages,' "$work/pack.log" | sed 's/.*paged //')"

# 2. pixels and memory against the cache's size
run full "$xisuan" render "$work/paged.tar.zst" "${res[@]}" --out "$work/out" --job full --name f || { bad "render full"; cat "$work/full.log"; }
/usr/bin/time -v "$xisuan" render "$work/paged.tar.zst" "${res[@]}" --out "$work/out" --job small --name f \
  --texture-cache-mib $cache "${budget[@]}" >"$work/small.log" 2>&1 || { bad "render small"; cat "$work/small.log"; }
"$compare" "$work/out/full/f.0001.exr" "$work/out/small/f.0001.exr" >/dev/null ||
  bad "a cache of $cache MiB and one of the whole set render different pixels"
rss=$(awk '/Maximum resident set size/ { print $6 }' "$work/small.log")
[ $sanitized = 1 ] || { [ -n "$rss" ] && [ "$rss" -lt 65536 ]; } ||
  bad "peak RSS ${rss:-?} KiB with a $cache MiB cache, over the 64 MiB budget"
grep -Eq "texture cache: 1 cache\(s\) of [0-9.]+ [KM]iB: [0-9]+ texel reads, [0-9.]+% hits; [0-9]+ pages loaded \([0-9.]+ [KM]iB read" \
  "$work/small.log" || { bad "no texture cache figures in the summary"; grep "texture" "$work/small.log"; }
ev=$(grep '"texture_cache"' "$work/out/small/events.jsonl")
echo "$ev" | grep -q '"hit_rate": 0\.[0-9]*' && echo "$ev" | grep -q '"bytes_read": [1-9]' ||
  bad "no texture_cache event with the hit rate and the bytes read: $ev"
loads=$(echo "$ev" | sed 's/.*"loads": \([0-9]*\).*/\1/')
if [ $sanitized = 0 ]; then
  run whole_budget "$xisuan" render "$work/whole.tar.zst" "${res[@]}" --out "$work/out" --job wb --name f --mem-budget rank=64M
  rc=$?
  [ $rc = 2 ] && grep -q "does not fit" "$work/whole_budget.log" || bad "the scene held whole was not refused in 64 MiB (exit $rc)"
fi
"$mpiexec" -n 4 --oversubscribe "$xisuan" render "$work/paged.tar.zst" "${res[@]}" --out "$work/out" --job mpi --name f \
  --texture-cache-mib $cache >"$work/mpi.log" 2>&1 || { bad "render on 4 ranks"; tail -20 "$work/mpi.log"; }
"$compare" "$work/out/full/f.0001.exr" "$work/out/mpi/f.0001.exr" >/dev/null ||
  bad "4 ranks sharing a $cache MiB cache render different pixels"
[ $fail = 0 ] && say "paged: $(grep -o '[0-9.]* MiB decompressed' "$work/pack.log" | cut -d' ' -f1-2) of pages through $cache MiB: peak RSS $((rss / 1024)) MiB ($([ $sanitized = 1 ] && echo "sanitizers: not checked" || echo "budget 64 MiB")), $loads page loads; same pixels as the whole set, alone and on 4 ranks"

# 3. one copy per node
for share in on off; do
  "$mpiexec" -n 4 --oversubscribe "$xisuan" render "$work/whole.tar.zst" "${res[@]}" --out "$work/out" \
    --job share_$share --name f --node-share $share >"$work/share_$share.log" 2>&1 || { bad "node-share $share"; tail "$work/share_$share.log"; }
done
pss_on=$(sed -n 's/.*node 0: 4 rank(s), PSS summed .* (\([0-9.]*\) MiB).*/\1/p' "$work/share_on.log")
pss_off=$(sed -n 's/.*node 0: 4 rank(s), PSS summed .* (\([0-9.]*\) MiB).*/\1/p' "$work/share_off.log")
block=$(sed -n 's/.*scene built in [0-9.]* s: \([0-9.]*\) MiB.*/\1/p' "$work/share_on.log")
awk -v on="$pss_on" -v off="$pss_off" -v b="$block" 'BEGIN { exit !(on != "" && off != "" && b > 10 && on + 1.5 * b < off) }' ||
  bad "node PSS shared $pss_on MiB, not shared $pss_off MiB, a copy $block MiB"
"$compare" "$work/out/share_on/f.0001.exr" "$work/out/share_off/f.0001.exr" >/dev/null &&
  "$compare" "$work/out/full/f.0001.exr" "$work/out/share_on/f.0001.exr" >/dev/null ||
  bad "shared, not shared and paged render different pixels"
[ $fail = 0 ] && say "one copy per node: 4 ranks hold $pss_on MiB (PSS summed) sharing a $block MiB scene, $pss_off MiB with a copy each"

# 4. refused quickly, on every rank, with the plan
t0=$(date +%s)
"$mpiexec" -n 3 --oversubscribe "$xisuan" render "$work/whole.tar.zst" "${res[@]}" --out "$work/out" --job refused \
  --name f --mem-budget node=16M >"$work/refused.log" 2>&1
rc=$?
t1=$(date +%s)
[ $rc = 2 ] || bad "a node budget of 16 MiB: exit $rc, expected 2"
grep -q "memory plan" "$work/refused.log" && grep -q "the scene does not fit: the node needs" "$work/refused.log" ||
  { bad "the refusal did not print the plan"; cat "$work/refused.log"; }
[ ! -e "$work/out/refused/f.0001.exr" ] || bad "a refused job wrote a frame"
[ $((t1 - t0)) -lt 30 ] || bad "the refusal took $((t1 - t0)) s"
"$xisuan" info --scene "$work/whole.tar.zst" --ranks 3 --mem-budget node=16M >"$work/info.log" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "scene, one copy" "$work/info.log" && grep -q "does not fit" "$work/info.log" ||
  { bad "xisuan info --scene: exit $rc"; cat "$work/info.log"; }
"$xisuan" info --scene "$work/paged.tar.zst" --ranks 3 >"$work/info2.log" 2>&1 && grep -q "it fits" "$work/info2.log" ||
  bad "xisuan info --scene of the paged package"
[ $fail = 0 ] && say "refused in $((t1 - t0)) s on 3 ranks with the plan: $(grep -m1 'does not fit' "$work/refused.log" | sed 's/.*does not fit: //')"

# 5. a damaged page
cp "$work/paged.tar.zst" "$work/damaged.tar.zst"
tar_bytes=$(tail -c 48 "$work/damaged.tar.zst" | od -An -t u8 -j 16 -N 8 | tr -d ' ')
printf '\xff\xff\xff\xff' | dd of="$work/damaged.tar.zst" bs=1 seek=$((tar_bytes + 40)) conv=notrunc status=none
run damaged "$xisuan" render "$work/damaged.tar.zst" "${res[@]}" --out "$work/out" --job damaged --name f --retries 0
rc=$?
[ $rc = 1 ] && grep -q "damaged.tar.zst: texture page 0 .*checksum mismatch" "$work/damaged.log" ||
  { bad "a damaged page: exit $rc"; grep -i "error" "$work/damaged.log" | head -3; }
"$xisuan" pack --check "$work/damaged.tar.zst" >"$work/check2.log" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "checksum mismatch" "$work/check2.log" || bad "pack --check missed the damaged page (exit $rc)"
[ $fail = 0 ] && say "a damaged page: the job fails naming it ($(grep -m1 -o 'texture page 0[^;]*mismatch' "$work/damaged.log"))"

# 6. a million instances (90,000 under the sanitizers: same checks, a tenth of the time)
side=1000
[ $sanitized = 1 ] && side=300
"$gen_gltf" "$work/field.glb" 8 $side field >"$work/field.gen" || bad "gen_gltf field"
ninst=$((side * side + 2))
/usr/bin/time -v "$xisuan" render "$work/field.glb" --resolution 64x48 --spp 1 --out "$work/out" --job field --name f \
  --no-preview >"$work/field.log" 2>&1 || { bad "render a million instances"; tail "$work/field.log"; }
grep -q "$ninst instance(s)" "$work/field.log" || bad "the instance count: $(grep 'instance(s)' "$work/field.log" | head -1)"
mib=$(sed -n 's/.*scene built in \([0-9.]*\) s: \([0-9.]*\) MiB.*/\2/p' "$work/field.log")
secs=$(sed -n 's/.*scene built in \([0-9.]*\) s: .*/\1/p' "$work/field.log")
awk -v m="$mib" -v n=$ninst 'BEGIN { exit !(m != "" && m * 1048576 / n < 160) }' || bad "the scene is $mib MiB for $ninst instances"
frss=$(awk '/Maximum resident set size/ { print $6 }' "$work/field.log")
[ $fail = 0 ] && say "$ninst instances: the scene holds $mib MiB ($(awk -v m="$mib" -v n=$ninst 'BEGIN { printf "%.0f", m * 1048576 / n }') bytes an instance), built in $secs s, peak RSS $((frss / 1024)) MiB"
# 7. an animated paged scene: posed per rank, the texture cache still one per node
mkdir -p "$work/anim"
"$gen" "$work/anim" 6 256 1 animate >/dev/null && "$xisuan" pack "$work/anim" -o "$work/anim.tar.zst" >"$work/anim.pack" 2>&1 ||
  { bad "gen_textured animate / pack"; cat "$work/anim.pack"; }
ares=(--resolution 64x48 --spp 4 --tile 16 --no-preview --frames 1,12,24 --shutter 0.5 --texture-cache-mib 1)
"$mpiexec" -n 4 --oversubscribe "$xisuan" render "$work/anim.tar.zst" "${ares[@]}" --out "$work/out" --job anim4   --name f >"$work/anim4.log" 2>&1 || { bad "animated paged on 4 ranks"; tail "$work/anim4.log"; }
"$mpiexec" -n 3 --oversubscribe "$xisuan" render "$work/anim.tar.zst" "${ares[@]}" --out "$work/out" --job anim_off   --name f --node-share off >"$work/anim_off.log" 2>&1 || { bad "animated paged, --node-share off"; tail "$work/anim_off.log"; }
"$xisuan" render "$work/anim.tar.zst" "${ares[@]}" --out "$work/out" --job anim1 --name f >"$work/anim1.log" 2>&1 ||
  { bad "animated paged on 1 rank"; tail "$work/anim1.log"; }
grep -q "scene posed once per rendering rank" "$work/anim4.log" && grep -q "animated: each rendering rank builds and poses its own copy" "$work/anim4.log" ||
  bad "the plan of an animated scene does not say each rank poses its own"
grep -q "one copy per rendering rank (animated" "$work/anim4.log" || bad "the animated scene was not built per rank"
grep -Eq "texture cache: 1 cache\(s\)" "$work/anim4.log" || bad "4 ranks of an animated scene do not share one texture cache"
grep -Eq "texture cache: 2 cache\(s\)" "$work/anim_off.log" || bad "--node-share off: not one texture cache a rendering rank"
for fr in 0001 0012 0024; do
  "$compare" "$work/out/anim1/f.$fr.exr" "$work/out/anim4/f.$fr.exr" >/dev/null &&
    "$compare" "$work/out/anim1/f.$fr.exr" "$work/out/anim_off/f.$fr.exr" >/dev/null ||
    bad "animated paged frame $fr differs between 1 rank, 4 ranks and --node-share off"
done
"$compare" "$work/out/anim1/f.0001.exr" "$work/out/anim1/f.0024.exr" >/dev/null && bad "the animated scene does not move"
[ $fail = 0 ] && say "animated and paged: posed per rank on 4 ranks with one texture cache a node; frames 1, 12, 24 bit-identical to 1 rank and to --node-share off"
rm -rf "$work/scene" "$work/anim" "$work"/*.tar.zst "$work/field.glb"
exit $fail
