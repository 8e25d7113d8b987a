#!/usr/bin/env bash
# README command (2): install dependencies, build, run every test that needs no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup-debian.sh
bash packaging/build.sh "$@"
export QT_QPA_PLATFORM=offscreen
ctest --test-dir "${QUENCH_BUILD_DIR:-build}" -LE gpu --output-on-failure -j "${QUENCH_JOBS:-$(nproc)}"
