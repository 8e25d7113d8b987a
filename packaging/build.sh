#!/usr/bin/env bash
# Configures and builds Quench into build/ (ccache and precompiled headers keep rebuilds fast).
# Extra arguments go to cmake's configure step, e.g. -DQUENCH_GUI=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${QUENCH_BUILD_DIR:-build}
JOBS=${QUENCH_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$BUILD_DIR" -j "$JOBS"
