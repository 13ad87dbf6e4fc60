#!/usr/bin/env bash
# `xisuan status` on a hand-written job folder holding every kind of item the
# event log can tell (no MPI, no render): a tile rendered in two parts and
# merged, a speculative copy that won and the duplicate reply of the rank it
# was copied from (told both as tile_duplicate and as the older
# duplicate_result, so counted once), a failure whose error text is hostile
# HTML, a job name with markup, a journal with a record twice, a preview
# wider than the page's thumbnails and a corrupt one. Checks the text
# figures, the SVG's classes and rows, the tile map, the page's escaping and
# thumbnails; then that `xisuan simulate --timeline` marks the same
# failures the simulation's own event log reports.
# usage: status_synthetic.sh XISUAN WORKDIR
set -uo pipefail
xisuan=$1 work=$2
export PYTHONDONTWRITEBYTECODE=1
rm -rf "$work" && mkdir -p "$work/job"
fail=0
python3 - "$work/job" <<'PY'
import json, struct, sys, zlib
d = sys.argv[1]
t = [1800000000.0]
lines = []
def ev(name, **kw):
    t[0] += 0.01
    lines.append(json.dumps(dict({"time": round(t[0], 3), "event": name}, **kw)))
ev("job_start", job='<b>"x"</b>&\'', scene="0", frames=1, tiles_per_frame=8, ranks=4, resumed=False,
   journal_tiles=0, settings="scene=0 res=64x32 spp=1 tile=16 name=shot xisuan=0")
for tile, rank in ((0, 1), (1, 2), (2, 3), (3, 1), (4, 2)):
    ev("tile_dispatched", frame=1, tile=tile, rank=rank)
    ev("tile_committed", frame=1, tile=tile, rank=rank, seconds=0.005, kept=False, checksum="0")
# tile 5 in two parts, merged on rank 3
ev("tile_dispatched", frame=1, tile=5, rank=1, kind="part", chunks=[0, 4])
ev("tile_dispatched", frame=1, tile=5, rank=2, kind="part", chunks=[4, 4])
ev("part_done", frame=1, tile=5, rank=1, chunks=[0, 4], seconds=0.004)
ev("part_done", frame=1, tile=5, rank=2, chunks=[4, 4], seconds=0.004)
ev("tile_dispatched", frame=1, tile=5, rank=3, kind="merge", chunks=[0, 8])
ev("tile_committed", frame=1, tile=5, rank=3, seconds=0.002, kept=False, checksum="0")
# tile 6 on rank 1, a copy on rank 2 wins, rank 1's reply is a duplicate
ev("tile_dispatched", frame=1, tile=6, rank=1)
ev("tile_dispatched", frame=1, tile=6, rank=2, copy=True)
ev("tile_committed", frame=1, tile=6, rank=2, seconds=0.005, kept=False, checksum="0")
ev("tile_duplicate", frame=1, tile=6, rank=1, seconds=0.02)
ev("duplicate_result", frame=1, tile=6, rank=1)
# tile 7 fails on rank 3 with a hostile message, then rank 1 renders it
ev("tile_dispatched", frame=1, tile=7, rank=3)
ev("tile_failed", frame=1, tile=7, rank=3, error='<script>alert("x")</script>')
ev("tile_dispatched", frame=1, tile=7, rank=1)
ev("tile_committed", frame=1, tile=7, rank=1, seconds=0.005, kept=False, checksum="0")
ev("assembly_dispatched", frame=1, rank=2)
ev("frame_assembled", frame=1, rank=2, path="/elsewhere/shot.0001.exr")
ev("job_summary", job="x", state="completed", frames=1, tiles=8, rendered=8, kept=0, wall_s=0.4,
   samples_per_s=1.0, rays_per_s=1.0)
open(d + "/events.jsonl", "w").write("\n".join(lines) + "\n")
j = "xisuan-journal 1 key=0000000000000000 scene=0 res=64x32 spp=1 tile=16 name=shot\n"
j += "".join("T 1 %d 0000000000000001\n" % k for k in range(8)) + "T 1 3 0000000000000001\n"
j += "F 1 100 0000000000000001\nF 2 100 0000000000000001\n"
open(d + "/journal", "w").write(j)
# frame 1's preview: 1500x20 (wider than the page's 640-pixel thumbnails);
# frame 2's: not a PNG
w, h = 1500, 20
rows = b"".join(b"\0" + bytes(v for x in range(w) for v in (x % 256, 80, 160)) for _ in range(h))
def chunk(k, b):
    return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
      chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(d + "/shot.0001.png", "wb").write(png)
open(d + "/shot.0002.png", "wb").write(b"\x89PNG\r\n\x1a\nnot really")
PY
"$xisuan" status "$work/job" --timeline "$work/t.svg" --html "$work/p.html" >"$work/status.txt" 2>&1; rc=$?
[ $rc = 0 ] || { echo "FAIL: status exited $rc"; cat "$work/status.txt"; fail=1; }
grep -q "failures: 1, duplicates: 1," "$work/status.txt" &&
  grep -q "tiles: journal holds 8 committed of 8;" "$work/status.txt" &&
  grep -q "journal: 2 frame(s) finished" "$work/status.txt" ||
  { echo "FAIL: the text figures"; cat "$work/status.txt"; fail=1; }
python3 - "$work/t.svg" "$work/p.html" <<'PY' || fail=1
import re, sys
import xml.etree.ElementTree as ET
svg, html = sys.argv[1:3]
NS = "{http://www.w3.org/2000/svg}"
bad = []
root = ET.parse(svg).getroot()
rows = {int(g.get("data-rank")): g for g in root.iter(NS + "g") if g.get("data-rank") is not None}
if sorted(rows) != [1, 2, 3]:
    bad.append("rows %s, expected 1, 2, 3" % sorted(rows))
def bars(rank, cls):
    return [x for x in rows.get(rank, ET.Element("g")).iter(NS + "rect") if x.get("class") == cls]
want = {(1, "part"): 1, (2, "part"): 1, (3, "merge"): 1, (1, "dup"): 1, (3, "fail"): 1, (2, "asm"): 1,
        (1, "tile"): 3, (2, "tile"): 3, (3, "tile"): 1}
for (rank, cls), n in want.items():
    got = sum(int(x.get("data-n")) for x in bars(rank, cls))
    if got != n:
        bad.append("rank %d: %d %s bar(s), expected %d" % (rank, got, cls, n))
copies = [x for x in root.iter(NS + "rect") if x.get("class") == "tile" and x.get("stroke") == "#c000c0"]
if [(x.get("data-r"), x.get("data-t")) for x in copies] != [("2", "6")]:
    bad.append("copies outlined: %s, expected rank 2's tile 6" % [(x.get("data-r"), x.get("data-t")) for x in copies])
marks = [x for x in root.iter(NS + "rect") if x.get("class") == "mark"]
if len(marks) != 3:
    bad.append("%d marks (copy, duplicate, failure), expected 3" % len(marks))
cells = {int(x.get("data-t")): int(x.get("data-r")) for x in root.iter(NS + "rect")
         if x.get("class") == "cell" and x.get("data-t") is not None}
if cells != {0: 1, 1: 2, 2: 3, 3: 1, 4: 2, 5: 3, 6: 2, 7: 1}:
    bad.append("tile map: %s" % cells)
page = open(html, encoding="utf-8").read()
if "<script" in page or "<b>" in page:
    bad.append("text from the log reached the page unescaped")
for s in ("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;", "&lt;b&gt;&quot;x&quot;&lt;/b&gt;&amp;&#39;"):
    if s not in page:
        bad.append("the page lacks the escaped %r" % s)
if not re.search(r'<figure data-frame="1"><img alt="frame 1" width="500" height="6" src="data:image/png;base64,', page) \
        or "1500x20, shown at 500x6" not in page:
    bad.append("frame 1's preview is not a 500x6 thumbnail")
if not re.search(r'<figure class="missing" data-frame="2"><figcaption>frame 2: no preview: [^<]*shot\.0002\.png', page):
    bad.append("frame 2's corrupt preview is not reported by name")
if 'id="duplicates">1<' not in page or 'id="parts">2<' not in page or 'id="copies">1<' not in page:
    bad.append("the page's duplicates, parts or copies")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
# a damaged log and journal (numbers out of range, wrong types, a torn last
# line): figures, picture and page all the same, quickly, without a crash
mkdir -p "$work/bad"
cat >"$work/bad/events.jsonl" <<'JSONL'
{"time": 5, "event": "job_start", "job": "j", "frames": 1e300, "tiles_per_frame": -5, "ranks": 1e12, "settings": "res=99999999x1 tile=0 name=../../etc"}
{"time": 6, "event": "tile_committed", "frame": "x", "tile": 1e300, "rank": 2, "seconds": -1e308}
{"time": 1e308, "event": "tile_committed", "frame": 1, "tile": 3, "rank": 4194303, "seconds": 1}
{"time": 7, "event": "tile_committed", "frame": 1, "tile": 3, "rank": 1048575, "seconds": 1e300}
{"time": -1e308, "event": "tile_failed", "frame": 1, "tile": 2, "rank": 3, "error": 5}
{"time": 7, "event": "part_done", "rank": -4}
{"event": "frame_assembled"}
[1,2,3]
"str"
{"time": 8, "event": "tile_dispatched", "frame": 1, "tile": 1, "rank": 3, "kind": 7, "copy": "yes"}
{"time": 9, "event": "job_summary", "state": "completed\u0007<b>", "wall_s": "x"}
{"time": 9, "event": "tile_committed", "frame": 1, "tile":
JSONL
printf 'xisuan-journal 1 key=0\nT -1 5 0\nT 1 99999999999 0\nF 99999999999\nF 3\nT 1 2' >"$work/bad/journal"
for out in t.svg t.png; do
  timeout 30 "$xisuan" status "$work/bad" --timeline "$work/bad/$out" --html "$work/bad/p.html" >"$work/bad.txt" 2>&1
  rc=$?
  [ $rc = 3 ] && [ -s "$work/bad/$out" ] && [ -s "$work/bad/p.html" ] && ! grep -q "<b>" "$work/bad/p.html" ||
    { echo "FAIL: status of a damaged log ($out) exited $rc (expected 3: no summary it can read)"; cat "$work/bad.txt"; fail=1; }
done

# the simulator's picture: one failure bar per failure its event log reports
"$xisuan" simulate --workers gpu:6:1:0.08 --frames 1-3 --resolution 256x128 --tile 32 --retries 5 --seed 3 \
  --out "$work/sim" --timeline "$work/sim.svg" >"$work/sim.txt" 2>&1 ||
  { echo "FAIL: simulate"; cat "$work/sim.txt"; fail=1; }
"$xisuan" simulate --workers gpu:6:1:0.08 --frames 1-3 --resolution 256x128 --tile 32 --retries 5 --seed 3 \
  --out "$work/sim-png" --timeline "$work/sim.png" >/dev/null 2>&1 || { echo "FAIL: simulate --timeline .png"; fail=1; }
# a folder an earlier simulation used is refused (its journal would be resumed), nothing written
before=$(wc -c <"$work/sim/simulate/events.jsonl")
"$xisuan" simulate --workers gpu:6:1 --frames 1-3 --resolution 256x128 --tile 32 --out "$work/sim" >"$work/sim2.txt" 2>&1
rc=$?
[ $rc = 2 ] && grep -q "sim/simulate/journal: an earlier simulation's journal" "$work/sim2.txt" &&
  [ "$(wc -c <"$work/sim/simulate/events.jsonl")" = "$before" ] ||
  { echo "FAIL: simulate into a used --out exited $rc: $(cat "$work/sim2.txt")"; fail=1; }
python3 - "$work/sim/simulate/events.jsonl" "$work/sim.svg" "$work/sim.png" <<'PY' || fail=1
import json, sys
import xml.etree.ElementTree as ET
events, svg, png = sys.argv[1:4]
NS = "{http://www.w3.org/2000/svg}"
failed = sum(json.loads(l)["event"] in ("tile_failed", "assembly_failed") for l in open(events))
root = ET.parse(svg).getroot()
drawn = sum(1 for x in root.iter(NS + "rect") if x.get("class") == "fail")
rows = [g.get("data-rank") for g in root.iter(NS + "g") if g.get("data-rank") is not None]
bad = []
if failed == 0 or drawn != failed:
    bad.append("the simulation failed %d item(s), its picture marks %d" % (failed, drawn))
if rows != [str(r) for r in range(1, 7)]:
    bad.append("simulated rows %s, expected ranks 1-6" % rows)
if open(png, "rb").read(8) != b"\x89PNG\r\n\x1a\n":
    bad.append("simulate --timeline .png wrote no PNG")
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
[ $fail = 0 ] && echo "status_synthetic: parts, merges, copies, duplicates, failures, escaping, thumbnails and the simulator's marks check out"
exit $fail
