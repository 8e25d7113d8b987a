#!/usr/bin/env bash
# The long fuzzing runs, on the GPU machine's 16 cores (CPU only; device tool, carry [".carry"]):
#   bash fuzz/device.sh SECONDS TARGET[:FORKS]...      e.g. 540 config:3 checkpoint:3 recipe:2 ...
# That machine has clang but not compiler-rt, so the libFuzzer and sanitizer runtimes come from
# Debian's clang 14 here (copied into .carry/clang-rt: see fuzz/README.md), reached through a
# resource directory made on the spot. Its libtorch is the machine's torch wheel, as in
# bench/device_build.sh. The corpora carry over between calls: .carry/fuzz-corpus.tar.gz is
# unpacked first, and $OUT/fuzz-corpus.tar.gz written last (copy it back into .carry).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/quench-out}
mkdir -p "$OUT"
seconds=${1:?usage: fuzz/device.sh SECONDS TARGET[:FORKS]...}
shift
CXX=$(ls /usr/bin/clang++-* | sort -V | tail -1)
RD=/tmp/quench-clang-rd
mkdir -p $RD/lib
ln -sfn "$($CXX -print-resource-dir)/include" $RD/include
ln -sfn "$PWD/.carry/clang-rt" $RD/lib/linux
SYSROOT=$PWD/.carry/sysroot/usr/include
TD=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
export QUENCH_FUZZ_BUILD=/tmp/bf QUENCH_FUZZ_CXX=$CXX QUENCH_FUZZ_PARALLEL=1
export QUENCH_FUZZ_CMAKE_ARGS="-DCMAKE_CXX_FLAGS=-resource-dir=$RD -DCMAKE_PREFIX_PATH=$TD;$SYSROOT/.. -DCMAKE_INCLUDE_PATH=$SYSROOT -DSQLite3_LIBRARY=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0 -DCMAKE_CUDA_ARCHITECTURES=90a"
# One intra-op thread per fuzzing process: the forks fill the cores.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p $QUENCH_FUZZ_BUILD
[ -f .carry/fuzz-corpus.tar.gz ] && tar xzf .carry/fuzz-corpus.tar.gz -C $QUENCH_FUZZ_BUILD
t0=$(date +%s)
bash fuzz/run.sh "$seconds" "$@" 2>&1 | tail -60
rc=${PIPESTATUS[0]}
echo "fuzz/run.sh: exit $rc after $(( $(date +%s) - t0 )) s (build included)"
tar czf "$OUT/fuzz-corpus.tar.gz" -C $QUENCH_FUZZ_BUILD corpus
cp -r $QUENCH_FUZZ_BUILD/runs.log $QUENCH_FUZZ_BUILD/logs $QUENCH_FUZZ_BUILD/findings "$OUT"/ 2>/dev/null
exit $rc
