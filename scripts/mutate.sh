#!/usr/bin/env bash
# Mutation check: does the test suite catch the bugs it exists for?
#
# Applies each planted bug of scripts/mutations.txt, one at a time, to a
# scratch copy of this working tree (tracked and untracked files, not the
# build folders) under /tmp, rebuilds incrementally (Ninja, no CUDA, warnings
# not fatal: a planted bug may leave an unused variable), runs the tests the
# record names, restores the file, and prints a table: each mutation, the
# tests run, caught or SURVIVED, and the tests that failed. The caller's
# working tree is never modified.
#
# A mutation is located by its snippet, searched across kernels/ render/
# scheduler/ io/ (not by file or line, which move): a snippet found 0 or 2+
# times is an ERROR to fix in the list, never skipped. Before any mutation
# the listed tests must pass on the unmutated tree (a failing baseline would
# make every mutation look caught).
#
# usage: scripts/mutate.sh [--only ID[,ID...]] [--list] [--locate [DIR]] [--keep]
#                          [--jobs N] [--timeout SECONDS] [--mutations FILE]
#   --locate [DIR]  only say where each snippet is (in DIR's kernels/ render/
#                   scheduler/ io/, default this tree): no build, no test; exits
#                   1 when one is not found exactly once (e.g. after files move)
# Exits 0 when every mutation was caught, 1 when one survived or erred.
# Not run by CI: about 30-40 minutes on 2 cores.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
list="$root/scripts/mutations.txt"
only="" keep=0 jobs=$(nproc) tmo=600 list_only=0 locate=""
while [ $# -gt 0 ]; do
  case $1 in
    --only) only=",$2,"; shift 2 ;;
    --list) list_only=1; shift ;;
    --locate) if [ $# -gt 1 ] && [ "${2#--}" = "$2" ]; then locate=$(cd "$2" && pwd); shift; else locate=$root; fi; shift ;;
    --keep) keep=1; shift ;;
    --jobs) jobs=$2; shift 2 ;;
    --timeout) tmo=$2; shift 2 ;;
    --mutations) list=$2; shift 2 ;;
    *) echo "usage: $0 [--only ID,...] [--list] [--locate [DIR]] [--keep] [--jobs N] [--timeout S] [--mutations FILE]" >&2; exit 2 ;;
  esac
done
for tool in perl ninja cmake ctest git tar; do
  command -v $tool >/dev/null || { echo "mutate: $tool is needed" >&2; exit 2; }
done

scratch=$(mktemp -d /tmp/xs-mutate.XXXXXX)
cleanup() { if [ $keep = 1 ]; then echo "mutate: scratch kept in $scratch"; else rm -rf "$scratch"; fi; }
trap cleanup EXIT

# ---- the list: one folder per record (id, desc, tests, old, new) ------------
mkdir -p "$scratch/muts"
perl -e '
  my ($list, $dir) = @ARGV;
  open(my $f, "<", $list) or die "mutate: $list: $!\n";
  my (%m, $sec, $n);
  sub flush {
    return unless %m;
    for my $k (qw(desc tests old new)) {
      die "mutate: $list: record $m{id} has no $k\n" unless defined $m{$k} && length $m{$k};
    }
    my $d = sprintf("%s/%03d", $dir, ++$n);
    mkdir $d or die "$d: $!\n";
    for my $k (qw(id desc tests old new)) {
      (my $v = $m{$k}) =~ s/\n\z//;
      open(my $o, ">", "$d/$k") or die; print $o $v; close $o;
    }
    %m = ();
  }
  while (<$f>) {
    if (/^=== (\S+)\s*$/) { flush(); %m = (id => $1); $sec = ""; next; }
    if (%m && /^--- (old|new)\s*$/) { $sec = $1; $m{$sec} = ""; next; }
    if ($sec && !/^(# |$)/) { $m{$sec} .= $_; next; }
    $sec = "";
    next if /^\s*(#.*)?$/;
    die "mutate: $list line $.: outside a record: $_" unless %m;
    if (/^(desc|tests):\s*(.*?)\s*$/) { $m{$1} = $2; next; }
    die "mutate: $list line $.: unexpected: $_";
  }
  flush();' "$list" "$scratch/muts" || exit 2

ids=()
for d in "$scratch"/muts/*; do
  id=$(cat "$d/id")
  [ -z "$only" ] || [[ $only == *",$id,"* ]] || continue
  ids+=("$d")
done
# where a record's snippet is in a tree: sets hits ("FILE COUNT" lines) and total
locate_snippet() { # tree record-dir
  hits=$(cd "$1" && find kernels render scheduler io -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' \) -print0 |
         OLD="$(cat "$2/old")" xargs -0 perl -0777 -ne '$c = () = /\Q$ENV{OLD}\E/g; print "$ARGV $c\n" if $c')
  total=$(echo "$hits" | awk 'NF == 2 { s += $2 } END { print s + 0 }')
}
if [ -n "$locate" ]; then
  bad=0
  for d in "${ids[@]}"; do
    locate_snippet "$locate" "$d"
    [ "$total" = 1 ] || bad=$((bad + 1))
    printf '%-32s %s\n' "$(cat "$d/id")" "$([ "$total" = 1 ] && echo "${hits% *}" || echo "ERROR: found $total times $(echo $hits)")"
  done
  echo "mutate: ${#ids[@]} snippet(s) in $locate: $bad not found exactly once"
  [ $bad = 0 ]
  exit
fi
if [ $list_only = 1 ]; then
  for d in "${ids[@]}"; do printf '%-32s %s\n' "$(cat "$d/id")" "$(cat "$d/desc")"; done
  exit 0
fi
[ ${#ids[@]} -gt 0 ] || { echo "mutate: no mutation selected" >&2; exit 2; }

# ---- the scratch tree and its build ------------------------------------------
src="$scratch/src" build="$scratch/build"
mkdir -p "$src"
(cd "$root" && git ls-files -z -co --exclude-standard | tar --null -T - -cf -) | tar -C "$src" -xf - ||
  { echo "mutate: cannot copy the tree" >&2; exit 2; }
echo "mutate: ${#ids[@]} mutation(s); scratch tree $src"
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXS_WERROR=OFF \
  -DXS_ENABLE_CUDA=OFF -DXS_SHARED_SCENES="$root/../shared/scenes" >"$scratch/cmake.log" 2>&1 ||
  { echo "mutate: cmake failed:"; tail -20 "$scratch/cmake.log"; exit 2; }
echo "mutate: building the unmutated tree"
ninja -C "$build" -j "$jobs" >"$scratch/build.log" 2>&1 || { echo "mutate: the unmutated tree does not build:"; tail -30 "$scratch/build.log"; exit 2; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

run_tests() { # regex log -> sets t_run, t_failed (names)
  ctest --test-dir "$build" -R "$1" -j "$jobs" --timeout "$tmo" >"$2" 2>&1
  t_run=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$2" | tail -1)
  t_failed=$(sed -n '/The following tests FAILED:/,$p' "$2" | sed -n 's/^[[:space:]]*[0-9][0-9]* - \([^ ]*\) (.*$/\1/p' |
           tr '\n' ' ')
  [ -n "$t_run" ] || t_run=0
}

# baseline: every listed test passes (or skips) before anything is planted
# (ctest's regexes take few groups: the union is made of test numbers)
nums=$(for d in "${ids[@]}"; do ctest --test-dir "$build" -N -R "$(cat "$d/tests")"; done |
       sed -n 's/^ *Test *#\([0-9]*\):.*/\1/p' | sort -un | tr '\n' ',')
echo "mutate: baseline: the listed tests on the unmutated tree"
ctest --test-dir "$build" -I "0,0,0,${nums%,}" -j "$jobs" --timeout "$tmo" >"$scratch/baseline.log" 2>&1
t_run=$(sed -n 's/.* tests failed out of \([0-9]*\).*/\1/p' "$scratch/baseline.log" | tail -1)
t_failed=$(sed -n '/The following tests FAILED:/,$p' "$scratch/baseline.log" |
           sed -n 's/^[[:space:]]*[0-9][0-9]* - \([^ ]*\) (.*$/\1/p' | tr '\n' ' ')
[ -n "$t_run" ] || t_run=0
if [ -n "$t_failed" ] || [ "$t_run" = 0 ]; then
  echo "mutate: the baseline fails ($t_run run; failed: ${t_failed:-none run}); fix that first:"
  tail -20 "$scratch/baseline.log"
  exit 2
fi
echo "mutate: baseline: $t_run tests pass"

# ---- each mutation ------------------------------------------------------------
results=() survived=0 errors=0
for d in "${ids[@]}"; do
  id=$(cat "$d/id") re=$(cat "$d/tests")
  start=$(date +%s)
  locate_snippet "$src" "$d"
  if [ "$total" != 1 ]; then
    results+=("$id|-|ERROR|snippet found $total times${hits:+ ($(echo "$hits" | tr '\n' ' '))}: update scripts/mutations.txt|0")
    errors=$((errors + 1))
    echo "mutate: $id: ERROR: snippet found $total times"
    continue
  fi
  file=${hits% *}
  cp "$src/$file" "$scratch/orig"
  OLD="$(cat "$d/old")" NEW="$(cat "$d/new")" perl -0777 -i -pe 's/\Q$ENV{OLD}\E/$ENV{NEW}/' "$src/$file"
  if ! ninja -C "$build" -j "$jobs" >"$scratch/$id.build.log" 2>&1; then
    results+=("$id|$file|ERROR|does not build (see the list)|$(( $(date +%s) - start ))")
    errors=$((errors + 1))
    echo "mutate: $id: ERROR: does not build"; grep -m3 error "$scratch/$id.build.log"
  else
    run_tests "$re" "$scratch/$id.test.log"
    if [ "$t_run" = 0 ]; then
      results+=("$id|$file|ERROR|no test matches '$re'|$(( $(date +%s) - start ))")
      errors=$((errors + 1))
    elif [ -n "$t_failed" ]; then
      results+=("$id|$file|caught|$t_run run; failed: $t_failed|$(( $(date +%s) - start ))")
    else
      results+=("$id|$file|SURVIVED|$t_run run, all passed|$(( $(date +%s) - start ))")
      survived=$((survived + 1))
    fi
    echo "mutate: $id: ${results[-1]#*|*|}"
  fi
  cat "$scratch/orig" >"$src/$file" # restore (a new mtime, so the next build recompiles it)
done
ninja -C "$build" -j "$jobs" >/dev/null 2>&1

# ---- the table ------------------------------------------------------------------
echo
printf '| %-30s | %-22s | %-8s | %s |\n' mutation file result "tests (failed)"
printf '|%s|%s|%s|%s|\n' "--------------------------------" "------------------------" "----------" "---"
for r in "${results[@]}"; do
  IFS='|' read -r id file res what secs <<<"$r"
  printf '| %-30s | %-22s | %-8s | %s (%ss) |\n' "$id" "$file" "$res" "$what" "$secs"
done
echo
echo "mutate: ${#results[@]} mutation(s): $(( ${#results[@]} - survived - errors )) caught, $survived survived, $errors error(s)"
[ $survived = 0 ] && [ $errors = 0 ]
