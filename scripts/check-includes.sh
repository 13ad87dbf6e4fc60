#!/usr/bin/env bash
# Checks that #include lines point the way the architecture allows
# (docs/architecture.md): kernels <- render <- scheduler <- service <-
# scheduler/cmd, with io beside them (used by render, scheduler and service,
# using none of them):
#
#   kernels/         includes kernels/ only (code both devices compile)
#   io/              includes io/ only
#   render/          includes kernels/, io/, render/
#   scheduler/       includes kernels/, io/, render/, scheduler/ (not scheduler/cmd/)
#   service/         includes io/, scheduler/, service/ (the submission service
#                    and its HTTP client; nothing below includes it)
#   scheduler/cmd/   includes anything of ours
#
# and that a module's private header (*_internal.h) is included only from its
# own folder. Exits 1 and names each offending line. usage: check-includes.sh [ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
allowed() { # folder of the including file -> allowed prefixes
  case "$1" in
    kernels*) echo "kernels/" ;;
    io) echo "io/" ;;
    render) echo "kernels/ io/ render/" ;;
    scheduler) echo "kernels/ io/ render/ scheduler/" ;;
    service) echo "io/ scheduler/ service/" ;;
    scheduler/cmd) echo "kernels/ io/ render/ scheduler/ service/" ;;
    *) echo "" ;;
  esac
}
bad=0
while IFS= read -r f; do
  dir=$(dirname "$f")
  ok=$(allowed "$dir")
  while IFS= read -r line; do
    n=${line%%:*}
    inc=$(sed -n "${n}p" "$f" | sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p')
    [ -n "$inc" ] || continue
    case "$inc" in */*) ;; *) continue ;; esac # a file beside it (none in our folders)
    hit=0
    for p in $ok; do case "$inc" in "$p"*) hit=1 ;; esac; done
    # the commands sit above the scheduler: it never includes them
    case "$dir:$inc" in scheduler:scheduler/cmd/*) hit=0 ;; esac
    if [ $hit = 0 ]; then
      echo "$f:$n: includes \"$inc\": $dir/ may include only: $ok"
      bad=1
    fi
    case "$inc" in
      *_internal.h) [ "$(dirname "$inc")" = "$dir" ] || { echo "$f:$n: includes \"$inc\", private to $(dirname "$inc")/"; bad=1; } ;;
    esac
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done < <(git ls-files -co --exclude-standard 'kernels/*' 'io/*' 'render/*' 'scheduler/*' 'service/*' | grep -E '\.(c|h|cu)$')
if [ $bad = 0 ]; then
  echo "includes: every #include points the allowed way"
fi
exit $bad
