#!/usr/bin/env bash
# `xisuan status --timeline` and `--html` on a real job: 4 ranks (rank 0
# schedules, ranks 1-3 render) render two small Cornell frames with one
# injected failure (rank 2's third item, retried elsewhere), then:
#   pictures: the SVG has one row per worker rank (1, 2, 3), one bar per
#     committed tile in its rank's row (the same count per rank as the event
#     log), the failure marked in rank 2's row, the assemblies, the tile map
#     of the chosen frame (--frame) with each tile's committing rank; the PNG
#     is a whole image with the failure's red in it; bad --frame and
#     --timeline values exit 2; the HTML page holds no script and no URL.
#   chromium: headless Chromium opens the page: the DOM shows the progress
#     numbers, the per-rank table with each rank's items, the <svg> with its
#     bars and one <img> per finished frame, which decodes (the images'
#     natural sizes, read by a probe script added to a copy of the page);
#     a screenshot is not blank. Skipped (77) only when chromium is absent.
# usage: status_pictures.sh pictures|chromium XISUAN MPIEXEC WORKDIR
set -uo pipefail
mode=$1 xisuan=$2 mpiexec=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
export PYTHONDONTWRITEBYTECODE=1 # tests/pngread.py is imported from the source tree
if [ "$mode" = chromium ] && ! command -v chromium >/dev/null; then
  echo "SKIP: chromium is not installed (scripts/deps.sh installs it)"
  exit 77
fi
rm -rf "$work" && mkdir -p "$work"
fail=0
job=$work/out/pic
# --balance off: speculative copies (a loaded machine makes some) would add marks
# beside the one failure; tests/status_synthetic.sh draws parts and copies
XS_FAULT="fail:2:3" timeout 120 "$mpiexec" -x XS_FAULT -n 4 --oversubscribe "$xisuan" render cornell \
  --resolution 96x64 --spp 2 --tile 16 --frames 1-2 --out "$work/out" --job pic --progress off --balance off \
  >"$work/render.log" 2>&1 || { echo "FAIL: the render"; cat "$work/render.log"; exit 1; }
grep -q '"event": "tile_failed", "frame": [0-9]*, "tile": [0-9]*, "rank": 2' "$job/events.jsonl" ||
  { echo "FAIL: the injected failure is not in the event log"; exit 1; }

if [ "$mode" = pictures ]; then
  "$xisuan" status "$job" --timeline "$work/t.svg" --frame 1 >"$work/status.txt" 2>&1 ||
    { echo "FAIL: status --timeline (exit $?)"; cat "$work/status.txt"; fail=1; }
  "$xisuan" status "$job" --timeline "$work/t.png" >/dev/null 2>&1 || { echo "FAIL: status --timeline .png"; fail=1; }
  "$xisuan" status "$job" --html "$work/p.html" >/dev/null 2>&1 || { echo "FAIL: status --html"; fail=1; }
  "$xisuan" status "$job" --timeline "$work/bad.svg" --frame 7 >/dev/null 2>"$work/err.txt"; rc=$?
  [ $rc = 2 ] && grep -q -- "--frame 7" "$work/err.txt" && [ ! -e "$work/bad.svg" ] ||
    { echo "FAIL: --frame 7 (not in the job) exited $rc, wrote a file, or did not say why"; cat "$work/err.txt"; fail=1; }
  "$xisuan" status "$job" --timeline "$work/t.txt" >/dev/null 2>&1; rc=$?
  [ $rc = 2 ] || { echo "FAIL: --timeline t.txt exited $rc, expected 2"; fail=1; }
  python3 - "$job/events.jsonl" "$work/t.svg" "$work/t.png" "$work/p.html" "$here" <<'PY' || fail=1
import json, re, sys
import xml.etree.ElementTree as ET
events, svg, png, html, here = sys.argv[1:6]
ev = [json.loads(l) for l in open(events)]
bad = []
committed = {}
for e in ev:
    if e["event"] == "tile_committed":
        committed[e["rank"]] = committed.get(e["rank"], 0) + 1
fails = [e for e in ev if e["event"] == "tile_failed"]
assembled = [e for e in ev if e["event"] == "frame_assembled"]
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(svg).getroot()
rows = {int(g.get("data-rank")): g for g in root.iter(NS + "g") if g.get("data-rank") is not None}
if sorted(rows) != [1, 2, 3]:
    bad.append("rows for ranks %s, expected 1, 2, 3" % sorted(rows))
total = 0
for r, g in rows.items():
    n = sum(int(x.get("data-n")) for x in g.iter(NS + "rect") if x.get("class") == "tile")
    total += n
    if n != committed.get(r, 0):
        bad.append("rank %d: %d tile bar(s), the log has %d committed" % (r, n, committed.get(r, 0)))
    for x in g.iter(NS + "rect"):
        if x.get("class") and int(x.get("data-r")) != r:
            bad.append("a bar of rank %s in rank %d's row" % (x.get("data-r"), r))
if total != 48:
    bad.append("%d tile bars, expected 48" % total)
for f in fails:
    row = rows.get(f["rank"])
    hit = row is not None and any(x.get("class") == "fail" and int(x.get("data-f")) == f["frame"]
                                  and int(x.get("data-t")) == f["tile"] for x in row.iter(NS + "rect"))
    if not hit:
        bad.append("no failure bar for frame %d tile %d in rank %d's row" % (f["frame"], f["tile"], f["rank"]))
marks = [x for x in root.iter(NS + "rect") if x.get("class") == "mark"]
if len(marks) != len(fails):
    bad.append("%d mark(s) in the marks lane, %d failure(s)" % (len(marks), len(fails)))
asm = [x for x in root.iter(NS + "rect") if x.get("class") == "asm"]
if len(asm) != len(assembled):
    bad.append("%d assembly bar(s), %d frames assembled" % (len(asm), len(assembled)))
# the tile map of frame 1 (--frame 1): each tile's committing rank
last = {}
for e in ev:
    if e["event"] == "tile_committed" and e["frame"] == 1:
        last[e["tile"]] = e["rank"]
cells = {int(x.get("data-t")): int(x.get("data-r")) for x in root.iter(NS + "rect")
         if x.get("class") == "cell" and x.get("data-t") is not None}
if cells != last:
    bad.append("tile map of frame 1 differs from the log: %s vs %s" % (cells, last))
if not any("frame 1:" in (t.text or "") for t in root.iter(NS + "text")):
    bad.append("the tile map is not titled frame 1")
# the PNG: a whole image, 1200 wide, with the failure's red in it
sys.path.insert(0, here)
import pngread
w, h, ch, px = pngread.read(png)
reds = sum(1 for i in range(0, len(px), ch) if px[i:i + 3] == b"\xe0\x00\x00")
if w != 1200 or reds < 10:
    bad.append("t.png: %dx%d with %d pixel(s) of the failure's red (224, 0, 0)" % (w, h, reds))
# the page: no script, no URL, images only as data:
page = open(html, encoding="utf-8").read()
for pat in ("http://", "https://", "<script", "url(http", "<link", "<iframe"):
    if pat in page.lower():
        bad.append("the page holds %r" % pat)
for m in re.finditer(r'(?:src|href)\s*=\s*["\']?([^"\' >]*)', page, re.I):
    if not m.group(1).startswith("data:"):
        bad.append("the page refers to %r" % m.group(1)[:60])
imgs = re.findall(r'<img [^>]*src="data:image/png;base64,', page)
if len(imgs) != 2:
    bad.append("%d embedded preview(s), expected 2" % len(imgs))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
  [ $fail = 0 ] && echo "status_pictures: timeline rows, bars, failure, assemblies, tile map, PNG and a self-contained page check out"
  exit $fail
fi

# chromium: open the page
"$xisuan" status "$job" --html "$work/p.html" >/dev/null 2>&1 || { echo "FAIL: status --html"; exit 1; }
chrome() { # headless, no network of its own, a profile of this test's
  timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir="$work/profile" "$@" \
    2>>"$work/chromium.log"
}
chrome --dump-dom "file://$work/p.html" >"$work/dom.html" || { echo "FAIL: chromium --dump-dom"; tail "$work/chromium.log"; exit 1; }
# a copy with a probe script that writes each image's decoded size into the
# DOM (the page itself has no script and its policy forbids one)
python3 - "$work/p.html" "$work/probe.html" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
probe = ("<script>window.addEventListener('load',function(){document.body.setAttribute('data-decoded',"
         "Array.from(document.images).map(function(i){return i.naturalWidth+'x'+i.naturalHeight}).join(','))})"
         "</script>")
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", probe + "</body>"))
PY
chrome --virtual-time-budget=10000 --dump-dom "file://$work/probe.html" >"$work/probe-dom.html" ||
  { echo "FAIL: chromium on the probe copy"; exit 1; }
chrome --window-size=1300,1800 --screenshot="$work/shot.png" "file://$work/p.html" >/dev/null ||
  { echo "FAIL: chromium --screenshot"; exit 1; }
python3 - "$job/events.jsonl" "$work/dom.html" "$work/probe-dom.html" "$work/shot.png" <<'PY' || fail=1
import json, sys
from html.parser import HTMLParser
events, dom, probe, shot = sys.argv[1:5]
ev = [json.loads(l) for l in open(events)]
bad = []

class Dom(HTMLParser):
    """The text of elements by id, the per-rank table's cells, counts of tags."""
    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.rows, self.tags, self.imgs, self.body = [], {}, {}, {}, [], {}
        self.rank, self.cls = None, None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "body":
            self.body = a
        if tag == "img":
            self.imgs.append(a)
        if tag == "rect" and a.get("class") == "tile":
            self.tags["tile-bar"] = self.tags.get("tile-bar", 0) + int(a.get("data-n", "0"))
        if tag == "tr" and "data-rank" in a:
            self.rank = int(a["data-rank"]); self.rows[self.rank] = {}
        if tag == "td" and self.rank is not None:
            self.cls = (a.get("class") or "").split()
        if tag not in ("img", "meta", "br", "rect", "line", "path"):
            self.stack.append(a.get("id"))
    def handle_endtag(self, tag):
        if tag == "tr":
            self.rank = None
        if tag == "td":
            self.cls = None
        if tag not in ("img", "meta", "br", "rect", "line", "path") and self.stack:
            self.stack.pop()
    def handle_data(self, d):
        if self.stack and self.stack[-1]:
            self.ids[self.stack[-1]] = self.ids.get(self.stack[-1], "") + d
        if self.rank is not None and self.cls:
            for c in self.cls:
                if c != "n":
                    self.rows[self.rank][c] = self.rows[self.rank].get(c, "") + d

d = Dom(); d.feed(open(dom, encoding="utf-8").read())
want = {"state": "completed", "frames-done": "2", "frames-total": "2", "tiles-done": "48", "tiles-total": "48",
        "failures": str(sum(e["event"] == "tile_failed" for e in ev))}
for k, v in want.items():
    if d.ids.get(k, "").strip() != v:
        bad.append("#%s shows %r, expected %r" % (k, d.ids.get(k), v))
items = {}
for e in ev:
    if e["event"] in ("tile_committed", "frame_assembled"):
        items[e["rank"]] = items.get(e["rank"], 0) + 1
for r in (1, 2, 3):
    row = d.rows.get(r)
    if row is None:
        bad.append("no row for rank %d in the rank table" % r)
    elif row.get("items", "").strip() != str(items.get(r, 0)):
        bad.append("rank %d: %r items shown, the log has %d" % (r, row.get("items"), items.get(r, 0)))
if d.tags.get("svg", 0) < 1 or d.tags.get("tile-bar", 0) != 48:
    bad.append("the page's SVG: %d svg, %d tile bar(s), expected 48" % (d.tags.get("svg", 0), d.tags.get("tile-bar", 0)))
if len(d.imgs) != 2 or not all(i.get("src", "").startswith("data:image/png;base64,") for i in d.imgs):
    bad.append("%d preview image(s), expected 2 as data: URIs" % len(d.imgs))
p = Dom(); p.feed(open(probe, encoding="utf-8").read())
if p.body.get("data-decoded") != "96x64,96x64":
    bad.append("decoded previews: %r, expected 96x64,96x64" % p.body.get("data-decoded"))
# the screenshot: not a blank page (a page of one colour filters to zeros)
import struct, zlib
data = open(shot, "rb").read()
idat, pos = b"", 8
while pos < len(data):
    n, = struct.unpack(">I", data[pos:pos + 4])
    if data[pos + 4:pos + 8] == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
busy = sum(1 for i in range(0, len(raw), 101) if raw[i])
if data[:8] != b"\x89PNG\r\n\x1a\n" or busy < len(raw) // 101 // 50:
    bad.append("the screenshot looks blank (%d of %d samples non-zero)" % (busy, len(raw) // 101))
for b in bad:
    print("FAIL:", b)
sys.exit(1 if bad else 0)
PY
[ $fail = 0 ] && echo "status_pictures: Chromium shows the progress, the rank table, the timeline and decoded previews"
exit $fail
