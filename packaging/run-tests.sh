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
# The torch-free parsers under libFuzzer, 10 s each: about 110 s from a clean build-fuzz/ on 2 cores
# (fuzz/README.md). A finding fails the run and names its input. QUENCH_FUZZ_SECONDS=0 skips it.
if [ "${QUENCH_FUZZ_SECONDS:-10}" != 0 ]; then
  QUENCH_FUZZ_TORCH=OFF bash fuzz/run.sh "${QUENCH_FUZZ_SECONDS:-10}"
fi
# The Debian package: built, installed with apt, both programs started from /usr/bin.
bash packaging/build-deb.sh
