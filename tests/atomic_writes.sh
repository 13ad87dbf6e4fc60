#!/usr/bin/env bash
# Atomic, durable output, seen from the system calls (strace): a small render
# (one process: 2 frames of 3x2 tiles with PNG previews), then for every tile,
# frame and preview file F:
#   - F is written under a temporary name T in F's own directory, T != F,
#     hidden (a leading '.'), and F itself is never opened for writing;
#   - T is fsync'd (or fdatasync'd) after its last write and before the rename;
#   - rename(T, F) follows;
#   - then the directory of F is fsync'd, so the rename itself survives a
#     power cut.
# The journal is an append log: opened O_APPEND (never truncated), its first
# record the header, every record followed by fdatasync (or fsync) before the
# next record is appended; a tile's record (T frame tile hash) is appended only
# after the tile's rename and directory fsync, a frame's record (F frame) only
# after the frame's. (The journal's own directory entry is not fsync'd at
# creation: losing it in a power cut makes the rerun start afresh, which is
# safe; a record never claims a file that is not on disk.)
# Exits 77 when strace cannot trace here (no ptrace permission).
# usage: atomic_writes.sh XISUAN WORKDIR
set -uo pipefail
xisuan=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
work=$(cd "$work" && pwd) # absolute: strace prints the paths xisuan was given
if ! command -v strace >/dev/null; then
  echo "FAIL: strace is not installed (scripts/deps.sh installs it)"
  exit 1
fi
if ! strace -f -qq -o /dev/null true 2>"$work/probe.err"; then
  echo "SKIP: strace cannot trace here: $(cat "$work/probe.err")"
  exit 77
fi
fail=0
out="$work/out"
tiles_x=3
# LeakSanitizer cannot run under ptrace: an ASan build keeps its other checks
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
strace -f -y -qq -s 48 -o "$work/trace" \
  -e trace=open,openat,creat,write,pwrite64,writev,pwritev,fsync,fdatasync,rename,renameat,renameat2 \
  "$xisuan" render --resolution 48x32 --tile 16 --spp 1 --frames 1-2 --out "$out" --job j --name f \
  >"$work/render.log" 2>&1
rc=$?
[ $rc = 0 ] || { echo "FAIL: the render exited $rc under strace"; cat "$work/render.log"; exit 1; }

awk -v out="$out/j" -v tiles_x=$tiles_x -v tiles=6 -v frames=2 '
function dirname(p) { sub(/\/[^\/]*$/, "", p); return p }
function basename(p) { sub(/^.*\//, "", p); return p }
# the path strace -y shows for the first fd argument, e.g. fsync(21</a/b>)
function fd_path(s,   i) {
  if (!match(s, /\(-?[0-9]+<[^>]*>/)) return ""
  s = substr(s, RSTART, RLENGTH); i = index(s, "<"); return substr(s, i + 1, length(s) - i - 1)
}
# the path of the fd returned, e.g. ... = 20</a/journal>
function ret_path(s) {
  if (!match(s, /= [0-9]+<[^>]*>$/)) return ""
  s = substr(s, RSTART, RLENGTH); sub(/^= [0-9]+</, "", s); sub(/>$/, "", s); return s
}
function err(msg) { print "FAIL: " msg; bad++ }
{
  line = $0
  pid = $1
  # join a call split by another thread: "... <unfinished ...>" + "<... x resumed>"
  if (line ~ /<unfinished \.\.\.>$/) { sub(/ <unfinished \.\.\.>$/, "", line); pend[pid] = line; next }
  if (line ~ /<\.\.\. [a-z0-9]+ resumed>/) {
    rest = line; sub(/^.*resumed>/, "", rest); line = pend[pid] rest; delete pend[pid]
  }
  sub(/^[0-9]+ +/, "", line)
  call = line; sub(/\(.*/, "", call)
  if (line ~ /= -1 /) next # failed calls (ENOENT probes) are not writes
  n++
  if (call == "open" || call == "openat" || call == "creat") {
    p = ret_path(line)
    if (p == "") next
    if (call == "creat" || line ~ /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/) {
      wopen[p] = n; nwopen[p]++
      if (line ~ /O_TRUNC/) trunc[p] = 1
      if (line ~ /O_APPEND/) append[p] = 1
    }
  } else if (call == "write" || call == "pwrite64" || call == "writev" || call == "pwritev") {
    p = fd_path(line)
    lastw[p] = n
    if (p == out "/journal") {
      nj++; jw[nj] = n
      s = line; sub(/^[^"]*"/, "", s); sub(/".*$/, "", s); sub(/\\n$/, "", s); jtext[nj] = s
    }
  } else if (call == "fsync" || call == "fdatasync") {
    p = fd_path(line)
    sync_n[p, ++nsync[p]] = n
  } else if (call == "rename" || call == "renameat" || call == "renameat2") {
    s = line; q1 = ""; q2 = ""
    if (match(s, /"[^"]*"/)) { q1 = substr(s, RSTART + 1, RLENGTH - 2); s = substr(s, RSTART + RLENGTH) }
    if (match(s, /"[^"]*"/)) q2 = substr(s, RSTART + 1, RLENGTH - 2)
    nren[q2]++; ren_from[q2] = q1; ren_n[q2] = n
  }
}
# the first fsync of p after index i (0 when none)
function sync_after(p, i,   k) {
  for (k = 1; k <= nsync[p]; ++k) if (sync_n[p, k] > i) return sync_n[p, k]
  return 0
}
function check_file(f,   t, d, s) {
  if (nren[f] != 1) { err(f ": renamed into place " nren[f] + 0 " time(s), expected once"); return 0 }
  t = ren_from[f]
  if (t == f) { err(f ": renamed from itself: no temporary name"); return 0 }
  if (dirname(t) != dirname(f)) err(f ": temporary " t " is not in the same directory")
  if (basename(t) !~ /^\./) err(f ": temporary " t " is not hidden (no leading dot)")
  if (nwopen[f] > 0) err(f ": the final name itself was opened for writing")
  if (!(t in wopen)) err(f ": temporary " t " was never opened for writing")
  else if (wopen[t] > ren_n[f]) err(f ": temporary opened after the rename")
  s = sync_after(t, (t in lastw) ? lastw[t] : wopen[t])
  if (!s || s > ren_n[f]) err(f ": no fsync of the temporary " t " after its last write and before the rename")
  d = sync_after(dirname(f), ren_n[f])
  if (!d) { err(f ": no fsync of its directory " dirname(f) " after the rename"); return 0 }
  checked++
  return d
}
END {
  for (fr = 1; fr <= frames; ++fr) {
    for (t = 0; t < tiles; ++t) {
      name = sprintf("%s/tiles/%04d/x%04d_y%04d.exr", out, fr, t % tiles_x, int(t / tiles_x))
      tile_durable[fr, t] = check_file(name)
    }
    frame_durable[fr] = check_file(sprintf("%s/f.%04d.exr", out, fr))
    check_file(sprintf("%s/f.%04d.png", out, fr))
  }
  j = out "/journal"
  if (!(j in wopen)) err("the journal was never opened for writing")
  if (!append[j]) err("the journal is not opened O_APPEND")
  if (trunc[j]) err("the journal is opened with O_TRUNC")
  if (nj < 1 || jtext[1] !~ /^xisuan-journal 1 /) err("the journal does not start with its header")
  for (k = 1; k <= nj; ++k) {
    s = sync_after(j, jw[k])
    nextw = (k < nj) ? jw[k + 1] : 1e18
    if (!s || s > nextw) err("journal record " k " (" jtext[k] ") not fdatasync'\''d before the next append")
    split(jtext[k], w, " ")
    if (w[1] == "T") {
      seen_t[w[2], w[3]]++
      if (!tile_durable[w[2], w[3]] || tile_durable[w[2], w[3]] > jw[k])
        err("journal record " jtext[k] " appended before its tile was renamed and its directory fsync'\''d")
    } else if (w[1] == "F") {
      seen_f[w[2]]++
      if (!frame_durable[w[2]] || frame_durable[w[2]] > jw[k])
        err("journal record " jtext[k] " appended before its frame was renamed and its directory fsync'\''d")
    }
  }
  for (fr = 1; fr <= frames; ++fr) {
    for (t = 0; t < tiles; ++t)
      if (seen_t[fr, t] != 1) err("frame " fr " tile " t ": " seen_t[fr, t] + 0 " journal records, expected 1")
    if (seen_f[fr] != 1) err("frame " fr ": " seen_f[fr] + 0 " F records, expected 1")
  }
  printf "atomic_writes: %d files checked (temporary, fsync, rename, directory fsync), %d journal appends\n", checked, nj
  exit bad > 0
}' "$work/trace" || fail=1
[ $fail = 0 ] && echo "atomic_writes: every file and journal record in order"
exit $fail
