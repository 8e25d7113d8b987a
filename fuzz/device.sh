#!/usr/bin/env bash
# The long fuzzing runs, on the GPU machine's 16 cores (CPU only; device tool, carry [".carry"]):
#   bash fuzz/device.sh SECONDS|@DEADLINE TARGET[:FORKS]...   e.g. @570 config:2 checkpoint:2 recipe:2 ...
# That machine has clang but not compiler-rt, so the libFuzzer and sanitizer runtimes come from
# Debian's clang 14 here (copied into .carry/clang-rt: see fuzz/README.md), reached through a
# resource directory made on the spot. Its libtorch is the machine's torch wheel, as in
# bench/device_build.sh. The corpora carry over between calls: .carry/fuzz-corpus.tar.gz is
# unpacked first, and $OUT/fuzz-corpus.tar.gz written last (copy it back into .carry).
# Building quench_core with the sanitizers takes about 10 minutes there (2026-12-03): the first call
# of a session only builds (SECONDS 0). Each call gets a fresh copy of the tree, whose new mtimes
# would make ninja rebuild everything, so the build reads a copy in /tmp/quench-src that is
# updated by content: files that did not change keep their old mtimes. Progress goes to
# $OUT/device.log as it happens, so a call cut short still returns it.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/quench-out}
mkdir -p "$OUT"
exec >"$OUT/device.log" 2>&1
SRC=/tmp/quench-src
python3 - "$PWD" "$SRC" <<'PY'
import filecmp, os, shutil, sys
src, dst = sys.argv[1:]
for root, dirs, files in os.walk(src):
    dirs[:] = [d for d in dirs if not (d.startswith("build") or d == ".git")]
    for f in files:
        a = os.path.join(root, f)
        b = os.path.join(dst, os.path.relpath(a, src))
        if os.path.islink(a):  # kept as links (the bad-input corpus has some; a carried .so link may dangle)
            if not (os.path.islink(b) and os.readlink(b) == os.readlink(a)):
                os.makedirs(os.path.dirname(b), exist_ok=True)
                if os.path.lexists(b): os.remove(b)
                os.symlink(os.readlink(a), b)
            continue
        if os.path.isfile(b) and filecmp.cmp(a, b, shallow=False):
            continue
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
PY
cd "$SRC"
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
# The wheel's libtorch loads its CUDA libraries too, so a process starts far larger than here: on
# 2026-12-03 the recipe and safetensors targets hit 1024 MB there with 0 executions and no input
# named (their logs did not come back; the start-up size is the likely cause, not verified).
export QUENCH_FUZZ_RSS_MB=${QUENCH_FUZZ_RSS_MB:-2560}
# One intra-op thread per fuzzing process: the forks fill the cores.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p $QUENCH_FUZZ_BUILD
[ -f .carry/fuzz-corpus.tar.gz ] && tar xzf .carry/fuzz-corpus.tar.gz -C $QUENCH_FUZZ_BUILD
# SECONDS may be @DEADLINE: build what is missing, then fuzz until DEADLINE seconds after this
# call began (less 90 s: fuzz/run.sh may stop a target 30 s late, then the corpora are packed), so one call both finishes a build cut short
# by the previous call's limit and spends the rest of its time fuzzing.
if [ "${seconds#@}" != "$seconds" ]; then
  bash fuzz/run.sh 0 "$@" || exit 1
  seconds=$(( ${seconds#@} - SECONDS - 90 ))
  [ $seconds -gt 30 ] || { echo "no time left to fuzz after the build ($SECONDS s)"; exit 1; }
fi
echo "fuzzing ${seconds}s per target from $SECONDS s into the call"
bash fuzz/run.sh "$seconds" "$@"
rc=$?
echo "fuzz/run.sh exit $rc after $SECONDS s (build included)"
tar czf "$OUT/fuzz-corpus.tar.gz" -C $QUENCH_FUZZ_BUILD corpus
cp -r $QUENCH_FUZZ_BUILD/runs.log $QUENCH_FUZZ_BUILD/logs $QUENCH_FUZZ_BUILD/findings "$OUT"/ 2>/dev/null
tail -20 "$QUENCH_FUZZ_BUILD/runs.log"
exit $rc
