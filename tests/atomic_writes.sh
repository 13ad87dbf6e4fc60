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
# The journal is created whole, as the files are (its header in a hidden
# temporary, fsync, rename, directory fsync), then opened O_APPEND (never
# truncated) and appended in groups: each write holds one or more whole
# records and is followed by fdatasync (or fsync) before the next write; a
# tile's record (T frame tile hash) is written only after the tile's rename
# and directory fsync, a frame's record (F frame bytes hash) only after the
# frame's.
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
strace -f -y -qq -s 65536 -o "$work/trace" \
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
    if (p == out "/journal" || (dirname(p) == out && basename(p) ~ /^\.journal\.tmp-/)) {
      s = line; sub(/^[^"]*"/, "", s); sub(/".*$/, "", s); sub(/\\n$/, "", s)
      if (p != out "/journal") { if (jhdr == "") jhdr = s; next }
      nj++; jw[nj] = n; jtext[nj] = s
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
function check_file(f, appended,   t, d, s) {
  if (nren[f] != 1) { err(f ": renamed into place " nren[f] + 0 " time(s), expected once"); return 0 }
  t = ren_from[f]
  if (t == f) { err(f ": renamed from itself: no temporary name"); return 0 }
  if (dirname(t) != dirname(f)) err(f ": temporary " t " is not in the same directory")
  if (basename(t) !~ /^\./) err(f ": temporary " t " is not hidden (no leading dot)")
  if (nwopen[f] > 0 && !(appended && nwopen[f] == 1 && wopen[f] > ren_n[f]))
    err(f ": the final name itself was opened for writing" (appended ? " before it was in place" : ""))
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
  check_file(j, 1) # created whole, with its header; then opened to append
  if (jhdr !~ /^xisuan-journal 1 /) err("the journal was not created with its header: '" jhdr "'")
  if (!append[j]) err("the journal is not opened O_APPEND")
  if (trunc[j]) err("the journal is opened with O_TRUNC")
  nrec = 0
  for (k = 1; k <= nj; ++k) {
    s = sync_after(j, jw[k])
    nextw = (k < nj) ? jw[k + 1] : 1e18
    if (!s || s > nextw) err("journal write " k " (" jtext[k] ") not fdatasync'\''d before the next write")
    nr = split(jtext[k], rec, /\\n/)
    for (q = 1; q <= nr; ++q) {
      nrec++
      split(rec[q], w, " ")
      if (w[1] == "T") {
        seen_t[w[2], w[3]]++
        if (!tile_durable[w[2], w[3]] || tile_durable[w[2], w[3]] > jw[k])
          err("journal record " rec[q] " written before its tile was renamed and its directory fsync'\''d")
      } else if (w[1] == "F") {
        seen_f[w[2]]++
        if (!frame_durable[w[2]] || frame_durable[w[2]] > jw[k])
          err("journal record " rec[q] " written before its frame was renamed and its directory fsync'\''d")
      } else {
        err("journal write " k ": not a record: '" rec[q] "'")
      }
    }
  }
  for (fr = 1; fr <= frames; ++fr) {
    for (t = 0; t < tiles; ++t)
      if (seen_t[fr, t] != 1) err("frame " fr " tile " t ": " seen_t[fr, t] + 0 " journal records, expected 1")
    if (seen_f[fr] != 1) err("frame " fr ": " seen_f[fr] + 0 " F records, expected 1")
  }
  printf "atomic_writes: %d files checked (temporary, fsync, rename, directory fsync), %d journal records in %d synced write(s)\n", checked, nrec, nj
  exit bad > 0
}' "$work/trace" || fail=1
[ $fail = 0 ] && echo "atomic_writes: every file and journal record in order"
exit $fail
