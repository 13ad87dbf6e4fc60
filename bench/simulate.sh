#!/usr/bin/env bash
# The farm at 1,200 GPUs (issue 15's goals), shown by `xisuan simulate` on the
# real policy, driver loop, report, journal and event log: one line per
# scenario, with balance off (the policy as it was: row-major tiles to whoever
# asks) and on (speed estimates, admission, cost order, splits, copies).
#
#   bash bench/simulate.sh [BUILD_DIR] [R0_US]
#
# R0_US: rank 0's clock moves that many microseconds per message handled
# (reproducible runs); "measured" moves it by the CPU time rank 0's loop
# really spent (the default; figures then vary a little from run to run).
# 4K frames (3840x2160), tile 64 (2,040 tiles a frame), 256 spp (16 sample
# chunks a tile), lognormal tile costs (mean 1 s on a GPU, sigma 0.5,
# coherence 0.9 between frames unless said), 20 us message latency,
# prefetch 2 (a GPU holds its running tile and the next). The policy's speed
# estimates start from each class's speed, as the farm's start from each
# device's peak FLOP/s (--priors off: from equal speeds).
set -euo pipefail
BUILD=${1:-build}
R0=${2:-measured}
X="$BUILD/xisuan"
[ -x "$X" ] || { echo "bench/simulate.sh: no $X (build first)" >&2; exit 2; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
r0=()
[ "$R0" != measured ] && r0=(--r0-us "$R0")

# run NAME BALANCE ARGS...: prints the figures of one simulation as JSON in $TMP/NAME.BALANCE.json
run() {
    local name=$1 bal=$2
    shift 2
    "$X" simulate --balance "$bal" --out "$TMP/out.$name.$bal" --json "$TMP/$name.$bal.json" "${r0[@]}" "$@" >/dev/null
}
field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d$2)" "$1"; }
busy() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.1f%%' % (100*d['busy']))" "$1"; }

for bal in off on; do
    run equal $bal --workers gpu:1200:1 --frames 1-100
    run half $bal --workers gpu:600:1 --workers half:600:0.5 --frames 1-100
    run mixed $bal --workers gpu:1100:1 --workers cpu:100:0.05 --frames 1-100
    run mixednp $bal --workers gpu:1100:1 --workers cpu:100:0.05 --frames 1-100 --priors off
    run alone $bal --workers gpu:1100:1 --frames 1-100
    run one $bal --workers gpu:1200:1 --frames 1
    run short $bal --workers gpu:1200:1 --frames 1-100 --cost-mean 0.05 --journal-sync-ms 2
    run indep $bal --workers gpu:1200:1 --frames 1-100 --cost-coherence 0
done
ratio() { python3 -c "import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); print('%.3fx the GPUs alone (%.1f s vs %.1f s)' % (a['makespan_s']/b['makespan_s'], a['makespan_s'], b['makespan_s']))" "$1" "$2"; }
printf '| scenario (4K frames, tile 64) | balance off | balance on | goal |\n|---|---|---|---|\n'
printf '| 1,200 equal GPUs, 100 frames | %s busy | %s busy | >= 97%% |\n' "$(busy $TMP/equal.off.json)" "$(busy $TMP/equal.on.json)"
printf '| 1,200 GPUs, half at half speed, 100 frames | %s | %s | >= 97%% |\n' "$(busy $TMP/half.off.json)" "$(busy $TMP/half.on.json)"
printf '| 1,100 GPUs + 100 CPU ranks at 1/20, 100 frames | %s | %s | never slower than the GPUs alone |\n' \
    "$(ratio $TMP/mixed.off.json $TMP/alone.off.json)" "$(ratio $TMP/mixed.on.json $TMP/alone.on.json)"
printf '| the same, speed estimates not seeded from device peaks (--priors off) | %s | %s | |\n' \
    "$(ratio $TMP/mixednp.off.json $TMP/alone.off.json)" "$(ratio $TMP/mixednp.on.json $TMP/alone.on.json)"
printf '| 1,200 GPUs, one 4K frame | %s busy | %s busy | >= 80%% |\n' "$(busy $TMP/one.off.json)" "$(busy $TMP/one.on.json)"
printf '| 1,200 GPUs, 0.05 s tiles, journal on a 2 ms-fsync disk, 100 frames | %s busy | %s busy | >= 95%% |\n' \
    "$(busy $TMP/short.off.json)" "$(busy $TMP/short.on.json)"
printf '| 1,200 equal GPUs, 100 frames, tile costs independent between frames | %s busy | %s busy | (harder: costs unknown) |\n' \
    "$(busy $TMP/indep.off.json)" "$(busy $TMP/indep.on.json)"
r0() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%.2f + %.2f = %.2f' % (d['rank0_us_per_item'], d['rank0_threads_us_per_item'], d['rank0_us_per_item'] + d['rank0_threads_us_per_item']))" "$1"; }
printf '\nrank 0 CPU per item (us, measured: its loop + its journal and event threads), balance on:\n'
printf '  1,200 equal GPUs %s; mixed %s; 0.05 s tiles with a 2 ms fsync %s\n' \
    "$(r0 $TMP/equal.on.json)" "$(r0 $TMP/mixed.on.json)" "$(r0 $TMP/short.on.json)"
