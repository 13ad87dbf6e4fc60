#!/usr/bin/env bash
# The CUDA kernels' resources for sm_90 (H100, H200), recorded and held to a
# budget without a GPU: nvcc compiles kernels/cuda/kernel.cu with
# `-Xptxas -v`; for each kernel the registers, stack frame and spills go to
# RECORD (one line a kernel), and the test fails when a kernel spills, uses
# more registers or stack than tests/ptxas_budget.txt allows, or has no
# budget line (a new kernel needs one). Registers decide how many threads an
# SM holds; spills are local-memory traffic in the hottest loop.
# usage: ptxas.sh NVCC SOURCE_ROOT BUDGET RECORD
set -euo pipefail
nvcc=$1 root=$2 budget=$3 record=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$nvcc" -std=c++17 -arch=sm_90 --Werror all-warnings -I"$root" -Xptxas -v -cubin -o "$work/k.cubin" \
  "$root/kernels/cuda/kernel.cu" >"$work/log" 2>&1 || { cat "$work/log"; echo "FAIL: nvcc"; exit 1; }
# ptxas -v: "Compiling entry function 'K' for 'sm_90'", then
# "N bytes stack frame, N bytes spill stores, N bytes spill loads" and "Used N registers"
awk '
  /Compiling entry function/ { match($0, /function .[A-Za-z0-9_]+./); k = substr($0, RSTART + 10, RLENGTH - 11) }
  /bytes stack frame/ && k != "" { stack[k] = $1; st[k] = $5; ld[k] = $9 }
  /Used [0-9]+ registers/ && k != "" { match($0, /Used [0-9]+ registers/); regs[k] = substr($0, RSTART + 5, RLENGTH - 15) + 0; order[++n] = k; k = "" }
  END { for (i = 1; i <= n; ++i) { k = order[i]; printf "%s registers %d stack %d spill_stores %d spill_loads %d\n", k, regs[k], stack[k], st[k], ld[k] } }
' "$work/log" >"$record"
{ echo "# ptxas -v, sm_90, $("$nvcc" --version | tail -1)"; cat "$record"; } >"$work/rec" && mv "$work/rec" "$record"
cat "$record"
fail=0
kernels=$(grep -v '^#' "$record" | awk '{print $1}')
[ -n "$kernels" ] || { echo "FAIL: no kernel found in the ptxas output"; cat "$work/log"; exit 1; }
for k in $kernels; do
  read -r regs stack sst sld < <(awk -v k="$k" '$1 == k { print $3, $5, $7, $9 }' "$record")
  line=$(awk -v k="$k" '$1 == k && !/^#/ { print $2, $3 }' "$budget")
  if [ -z "$line" ]; then echo "FAIL: $k has no budget in $budget"; fail=1; continue; fi
  read -r max_regs max_stack <<<"$line"
  [ "$sst" = 0 ] && [ "$sld" = 0 ] || { echo "FAIL: $k spills ($sst bytes stored, $sld loaded)"; fail=1; }
  [ "$regs" -le "$max_regs" ] || { echo "FAIL: $k uses $regs registers, budget $max_regs"; fail=1; }
  [ "$stack" -le "$max_stack" ] || { echo "FAIL: $k has a $stack-byte stack frame, budget $max_stack"; fail=1; }
done
for k in $(grep -v '^#' "$budget" | awk 'NF {print $1}'); do
  grep -q "^$k " "$record" || { echo "FAIL: $k is in the budget but not compiled"; fail=1; }
done
[ $fail = 0 ] && echo "ptxas: every kernel within its budget, no spills"
exit $fail
