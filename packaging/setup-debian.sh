#!/usr/bin/env bash
# Installs every build and run dependency of Quench from Debian 12 packages.
# Safe to run again: apt-get skips what is installed. Uses sudo when not root.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev                      # libtorch 1.13 (CPU); the GPU machine brings its own 2.x
  libopenblas0-openmp               # without it libtorch falls back to the reference BLAS (~100x slower matmuls)
  libsqlite3-dev nlohmann-json3-dev libgtest-dev
  libcli11-dev                      # quench-cli's options and --help
  libpcre2-dev                      # tokenizer split regexes (\p{L}, lookahead)
  zlib1g-dev libpng-dev libjpeg-dev # datasets: gzip'd IDX, PNG/JPEG image folders
  qt6-base-dev qt6-svg-dev libqcustomplot-dev  # the workbench window
  xvfb xauth                        # headless GUI tests and screenshots
  python3-numpy                     # the compressed-tensors reader of the export tests
  clang libclang-rt-14-dev          # libFuzzer and sanitizers for fuzz/run.sh
  slurmctld slurmd slurm-client munge  # a one-machine Slurm cluster for the sweep tests (packaging/slurm-local.sh)
)
# node and npm for llama.cpp's prebuilt build (packaging/setup-llama-cpp.sh): Debian's, unless a
# node with its own npm (e.g. NodeSource's, which conflicts with Debian's npm package) is there.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
