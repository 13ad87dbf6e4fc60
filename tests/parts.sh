#!/usr/bin/env bash
# Sample splits and speculative copies on a real farm: the Cornell box at 72
# spp (5 chunks, the last short) with every AOV, rendered alone, then under 1,
# 2 and 4 ranks with every tile split into parts (XS_TEST_SPLIT, cuts of 3
# and 4 parts), with a copy of every tile and part sent to another worker
# (XS_TEST_COPY), and both: every frame must be byte-identical to the plain
# render (cmp, not only the pixels); the event log must show each tile's
# parts done and merged (part_done, one tile_committed a tile) and, where
# there is another worker, duplicates (tile_duplicate); no part file,
# temporary or tile folder may be left. Then part files a killed run left are removed when
# the next run takes the folder.
# usage: parts.sh XISUAN MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 mpiexec=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
common=(--resolution 40x30 --tile 16 --spp 72 --aovs all --frames 1-2 --seed 5 --max-bounces 4 --job j --name j)
tiles=12 # 3x2 tiles a frame, 2 frames
fail=0

render() { # tag ranks env... -- : renders into $work/$tag
  local tag=$1 n=$2; shift 2
  local cmd=("$xisuan" render "${common[@]}" --out "$work/$tag")
  [ "$n" = 0 ] || cmd=("$mpiexec" -n "$n" --oversubscribe "${cmd[@]}")
  env "$@" timeout 120 "${cmd[@]}" >"$work/$tag.log" 2>&1 ||
    { echo "FAIL: $tag exited $?"; tail -20 "$work/$tag.log"; fail=1; return 1; }
}

count() { # tag event: how many of that event the log holds
  grep -c "\"event\": \"$2\"" "$work/$1/j/events.jsonl"
}

check() { # tag parts(0: none) copies(yes|no)
  local tag=$1 parts=$2 copies=$3
  for f in 0001 0002; do
    cmp -s "$work/ref/j/j.$f.exr" "$work/$tag/j/j.$f.exr" ||
      { echo "FAIL: $tag: frame $f differs from the plain render"; fail=1; }
  done
  local committed done dup
  committed=$(count "$tag" tile_committed) done=$(count "$tag" part_done) dup=$(count "$tag" tile_duplicate)
  [ "$committed" = $tiles ] || { echo "FAIL: $tag: $committed tiles committed, $tiles expected"; fail=1; }
  if [ "$parts" != 0 ]; then
    [ "$done" = $((tiles * parts)) ] || { echo "FAIL: $tag: $done parts done, $((tiles * parts)) expected"; fail=1; }
    [ "$(grep -c '"kind": "merge"' "$work/$tag/j/events.jsonl")" -ge $tiles ] ||
      { echo "FAIL: $tag: fewer merges dispatched than tiles"; fail=1; }
  fi
  if [ "$copies" = yes ]; then
    [ "$dup" -gt 0 ] || { echo "FAIL: $tag: copies were sent but no tile_duplicate was logged"; fail=1; }
  fi
  local left
  left=$(find "$work/$tag" \( -name '*.part' -o -name '.*tmp*' \) | head -3)
  [ -z "$left" ] || { echo "FAIL: $tag: files left: $left"; fail=1; }
  # assembled frames' tiles are removed, their folders too: a late part must not keep one
  left=$(ls -A "$work/$tag/j/tiles" 2>/dev/null | head -3)
  [ -z "$left" ] || { echo "FAIL: $tag: tile folders left: $left"; fail=1; }
  echo "$tag: frames identical; $committed tiles committed, $done parts done, $dup duplicate(s)"
}

render ref 0 XS_TEST_SPLIT= || exit 1
for n in 1 2 4; do
  render "split3_n$n" $n XS_TEST_SPLIT=3 && check "split3_n$n" 3 no
done
render split4_n4 4 XS_TEST_SPLIT=4 && check split4_n4 4 no
render copy_n4 4 XS_TEST_COPY=1 && check copy_n4 0 yes
render copy_n2 2 XS_TEST_COPY=1 && check copy_n2 0 no
render both_n4 4 XS_TEST_SPLIT=3 XS_TEST_COPY=1 && check both_n4 3 yes

# a killed run's part files and their temporaries: removed when the next run
# takes the folder (the split is not journaled: that run renders afresh)
d="$work/stale/j/tiles/0001"
mkdir -p "$d"
: >"$d/x0001_y0000.c00000-00002.part"
: >"$d/.x0001_y0000.c00002-00005.part.tmp-host-999999-0"
render stale 1 XS_TEST_SPLIT=3 && check stale 3 no
grep -q "removed 2 temporary file(s)" "$work/stale.log" ||
  { echo "FAIL: the stale part and its temporary were not removed at start"; tail -5 "$work/stale.log"; fail=1; }

# a bad hook value is refused, naming it
XS_TEST_SPLIT=1 timeout 60 "$xisuan" render "${common[@]}" --out "$work/bad" >"$work/bad.log" 2>&1
rc=$?
[ $rc != 0 ] && grep -q "XS_TEST_SPLIT: '1': expected a part count in \[2, 64\]" "$work/bad.log" ||
  { echo "FAIL: XS_TEST_SPLIT=1 (rc $rc) not refused with its reason"; cat "$work/bad.log"; fail=1; }

[ $fail = 0 ] && echo "parts: every split and copied render is byte-identical to the plain one"
exit $fail
