#!/usr/bin/env bash
# Installs what xisuan needs to build and test on Debian 12, as root (or with
# sudo): compilers, CMake, Open MPI, OpenEXR Core (and its exrheader tool),
# libpng, libjpeg-turbo, libarchive with zstd, cJSON, xxHash, Embree 3 (the
# Embree back end, render/backend_embree.c); for the submission
# service libmicrohttpd (HTTP server), SQLite, libcurl (HTTP client) and
# libsodium (API token hashing); for tests strace, curl, jq, Slurm with munge
# (the tests start their own single-node cluster), assimp-testmodels (real and
# malformed glTF files the glTF fuzz replay reads) and python3
# (scripts/gpu-check.sh writes its summary with it; the status tests read SVG,
# PNG and HTML with it) and chromium (tests/status_pictures.sh opens `xisuan
# status --html`'s page in it, headless). Does nothing when everything is
# already installed. CUDA is not a Debian package: when
# /usr/local/cuda/bin/nvcc (or nvcc on PATH, or $CUDACXX) exists the build uses
# it, otherwise the CPU build goes on without it.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libopenmpi-dev openmpi-bin libopenexr-dev openexr libpng-dev
      libarchive-dev libcjson-dev libhwloc-dev libjpeg62-turbo-dev libzstd-dev zstd libxxhash-dev libembree-dev strace
      libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev libsodium-dev curl jq
      procps slurm-wlm munge assimp-testmodels python3 chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} = 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
