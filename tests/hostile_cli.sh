#!/usr/bin/env bash
# Every hostile or broken package of tests/test_package.c, given to
# `xisuan render` under 2 MPI ranks: exit 2 before anything renders, one message
# naming the package and the reason, and no file appears anywhere in the work
# folder (the output directory is not even created; entries such as
# "a/../../evil" or "/etc/xisuan_evil" land nowhere).
# usage: hostile_cli.sh XISUAN TEST_PACKAGE MPIEXEC WORKDIR
set -uo pipefail
xisuan=$1 gen=$2 mpiexec=$3 work=$4
rm -rf "$work" && mkdir -p "$work/pkgs" "$work/cwd/a/b"
"$gen" write "$work/pkgs" || { echo "FAIL: could not write the packages"; exit 1; }
touch "$work/marker"
fail=0 n=0
for pkg in "$work"/pkgs/*.tar.zst; do
  name=$(basename "$pkg" .tar.zst)
  expect=$(cat "$work/pkgs/$name.expect")
  (cd "$work/cwd/a/b" && timeout 60 "$mpiexec" -n 2 --oversubscribe "$xisuan" render "$pkg" \
    --out "$work/out" --resolution 16x16 --spp 1 >"$work/stdout" 2>"$work/stderr")
  rc=$?
  if [ $rc != 2 ]; then echo "FAIL $name: exit $rc, expected 2"; cat "$work/stderr"; fail=1
  elif ! grep -qF -- "$pkg" "$work/stderr" || ! grep -qF -- "$expect" "$work/stderr"; then
    echo "FAIL $name: message lacks the package or '$expect':"; cat "$work/stderr"; fail=1
  elif [ "$(grep -c 'error:' "$work/stderr")" != 1 ]; then echo "FAIL $name: not one message"; cat "$work/stderr"; fail=1
  fi
  n=$((n + 1))
done
new=$(find "$work" -newer "$work/marker" ! -name stdout ! -name stderr ! -type d | head -5)
[ -z "$new" ] || { echo "FAIL: files appeared: $new"; fail=1; }
[ -e "$work/out" ] && { echo "FAIL: the output directory was created"; fail=1; }
[ -e /etc/xisuan_evil ] && { echo "FAIL: /etc/xisuan_evil exists"; fail=1; }
[ $fail = 0 ] && echo "hostile_cli: $n packages refused by xisuan render, nothing written"
exit $fail
