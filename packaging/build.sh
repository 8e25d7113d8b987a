#!/usr/bin/env bash
# Configures and builds Quench into build/ (ccache and precompiled headers keep rebuilds fast).
# Extra arguments go to cmake's configure step, e.g. -DQUENCH_GUI=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${QUENCH_BUILD_DIR:-build}
JOBS=${QUENCH_JOBS:-$(nproc)}
# ccache treats a compile that uses a precompiled header as uncacheable unless told that the PCH's
# defines and fresh timestamps are fine; BASEDIR makes hits work across checkouts (CI's fresh clone).
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$BUILD_DIR" -j "$JOBS"
