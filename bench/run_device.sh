#!/usr/bin/env bash
# Build, GPU tests and kernel benchmark in one call on the GPU machine (the `device` run tool):
# the build tree does not survive between calls, so everything happens here and the logs land in
# $OUT (build.log, gpu_tests.log, core_tests.log, bench.txt, gpu.txt).
#
# From a worktree (here, on the workstation) the tree travels as an ignored folder of the lead's
# checkout, next to the carried headers the GPU machine lacks (.carry/sysroot):
#   rsync -a --delete --exclude '/build*' --exclude .git --exclude /resources --exclude /tests/fixtures \
#     /work/wt-kernels/ /work/main/.carry/wt-kernels/
#   ln -s ../../../tests/fixtures /work/main/.carry/wt-kernels/tests/fixtures   # for --core
#   ln -s ../../resources /work/main/.carry/wt-kernels/resources
# then run (carry: [".carry"]):   cd .carry/wt-kernels && bash bench/run_device.sh [--core] [--no-bench]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/quench-out}
mkdir -p "$OUT"
B=${QUENCH_DEVICE_BUILD:-/tmp/b}
run_core=0 run_bench=1 asan=0 run_calib=0 bench_args=""
for a in "$@"; do
  case $a in
    --core) run_core=1 ;;
    # calibrate sotu-llama (128 × 256 tokens) on CUDA with the statistics kernel and with libtorch's
    # reductions in the same run (bench/calibrate_bench.cpp --stats both) → $OUT/calib.txt
    --calib) run_calib=1 ;;
    --no-bench) run_bench=0 ;;
    # bench_kernels --stats: copy + channel-statistics lines only, each twice
    --stats-bench) bench_args="--stats" ;;
    # The core and CLI suites under AddressSanitizer + UBSan on this machine's 16 cores (CPU only:
    # CUDA off, leaks not reported — libtorch's static allocations would drown them).
    --asan) asan=1 run_core=1 run_bench=0 B=${QUENCH_DEVICE_BUILD:-/tmp/b-asan} ;;
  esac
done
SYSROOT=${QUENCH_SYSROOT:-}
for c in "$PWD/../sysroot/usr/include" "$PWD/.carry/sysroot/usr/include"; do
  [ -z "$SYSROOT" ] && [ -d "$c" ] && SYSROOT=$c
done
TD=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
# The GPU machine has the SQLite runtime but no dev symlink: point CMake at the runtime library
# (or the carried static one); nlohmann's CMake config comes from the carried sysroot.
SQLITE=""
for c in /usr/lib/x86_64-linux-gnu/libsqlite3.so /usr/lib/x86_64-linux-gnu/libsqlite3.so.0 "$SYSROOT/../lib/x86_64-linux-gnu/libsqlite3.a"; do
  [ -z "$SQLITE" ] && [ -e "$c" ] && SQLITE=$c
done
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,memory.used --format=csv | tee "$OUT/gpu.txt"

t0=$(date +%s)
if ! cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TD;$SYSROOT/.." -DCMAKE_CUDA_ARCHITECTURES=90a \
     -DCMAKE_INCLUDE_PATH="$SYSROOT" ${SQLITE:+-DSQLite3_LIBRARY=$SQLITE} -DQUENCH_GUI=OFF \
     $( [ $asan = 1 ] && echo "-DQUENCH_ASAN=ON -DQUENCH_CUDA=OFF" || echo "-DQUENCH_CUDA=ON" ) >"$OUT/configure.log" 2>&1; then
  tail -40 "$OUT/configure.log"
  exit 1
fi
targets="quench_gpu_tests bench_kernels"
[ $run_core = 1 ] && targets="$targets quench_core_tests quench-cli"
[ $run_calib = 1 ] && targets="$targets quench_bench_calibrate quench-cli"
[ $asan = 1 ] && targets="quench_core_tests quench_cli_tests quench-cli"
# -k 0: on a compile error, keep going so one call reports every broken file.
cmake --build "$B" -j"$(nproc)" --target $targets -- -k 0 >"$OUT/build.log" 2>&1
build_rc=$?
echo "build: rc=$build_rc in $(( $(date +%s) - t0 )) s"
grep -E "error|FAILED" "$OUT/build.log" | head -60

rc=$build_rc
if [ $asan = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
  t1=$(date +%s)
  ctest --test-dir "$B" -L "core|cli" --output-on-failure -j"$(nproc)" >"$OUT/asan_tests.log" 2>&1 || rc=1
  echo "asan core+cli tests: $(( $(date +%s) - t1 )) s"
  grep -E "tests passed|FAILED|Failed|ERROR: AddressSanitizer|runtime error" "$OUT/asan_tests.log" | sort | uniq -c | head -40
  exit $rc
fi
if [ -x "$B/tests/quench_gpu_tests" ]; then
  t1=$(date +%s)
  ctest --test-dir "$B" -L gpu --output-on-failure -j4 >"$OUT/gpu_tests.log" 2>&1 || rc=1
  echo "gpu tests: $(( $(date +%s) - t1 )) s"
  grep -E "tests passed|FAILED|Failed|Error" "$OUT/gpu_tests.log" | head -40
fi
if [ $run_core = 1 ] && [ -x "$B/tests/quench_core_tests" ]; then
  t1=$(date +%s)
  ctest --test-dir "$B" -L core -LE slow --output-on-failure -j"$(nproc)" >"$OUT/core_tests.log" 2>&1 || rc=1
  echo "core tests: $(( $(date +%s) - t1 )) s"
  grep -E "tests passed|FAILED|Failed" "$OUT/core_tests.log" | head -30
fi
if [ $run_calib = 1 ] && [ -x "$B/bench/quench_bench_calibrate" ]; then
  "$B/bench/quench_bench_calibrate" resources/demo/sotu-llama --samples 128 --seq 256 --batch 8 --device cuda --stats both \
    >"$OUT/calib.txt" 2>&1 || rc=1
  # The command as README and the end-to-end table time it (weights included, the CLI's batches).
  for i in 1 2; do
    "$B/app/cli/quench-cli" calibrate resources/demo/sotu-llama --text resources/demo/sotu-calib.txt --samples 128 --seq 256 \
      --device cuda --json --no-record | python3 -c "import json,sys; j=json.load(sys.stdin); print('quench-cli calibrate cuda: seconds', round(j['seconds'],3), 'points', len(j['points']))"
  done 2>&1 | tee -a "$OUT/calib.txt"
fi
if [ $run_bench = 1 ] && [ -x "$B/bench/bench_kernels" ]; then
  "$B/bench/bench_kernels" $bench_args >"$OUT/bench.txt" 2>&1 || rc=1
  cat "$OUT/bench.txt"
fi
exit $rc
