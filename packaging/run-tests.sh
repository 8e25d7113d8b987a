#!/usr/bin/env bash
# README command (2): install dependencies, build, run every test that needs no GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/setup-debian.sh
bash packaging/setup-llama-cpp.sh >/dev/null   # llama.cpp (prebuilt, from npm) for the GGUF agreement tests
bash packaging/build.sh "$@"
export QT_QPA_PLATFORM=offscreen
# ctest runs two test programs at once on two cores: one libtorch thread each, and OpenMP threads
# that sleep rather than spin when they wait (spinning threads starve each other on a busy machine).
export QUENCH_THREADS=${QUENCH_THREADS:-1} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ctest --test-dir "${QUENCH_BUILD_DIR:-build}" -LE gpu --output-on-failure -j "${QUENCH_JOBS:-$(nproc)}"
