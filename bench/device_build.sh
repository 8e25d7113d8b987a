# Sourced by the real-size bench scripts on the GPU machine: sets OUT and B and builds quench-cli
# there (libtorch from the machine's torch wheel, SQLite, nlohmann and CLI11 from .carry/sysroot: libsqlite3-dev, nlohmann-json3-dev and libcli11-dev unpacked there with dpkg -x), and the
# targets in QUENCH_DEVICE_TARGETS besides (e.g. quench_gpu_tests).
OUT=${OUT:-/tmp/quench-out}
mkdir -p "$OUT"
B=${QUENCH_DEVICE_BUILD:-/tmp/b}
SYSROOT=$PWD/.carry/sysroot/usr/include
TD=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
SQLITE=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0
t0=$(date +%s)
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TD;$SYSROOT/.." -DCMAKE_CUDA_ARCHITECTURES=90a \
  -DCMAKE_INCLUDE_PATH="$SYSROOT" -DSQLite3_LIBRARY=$SQLITE -DQUENCH_GUI=OFF -DQUENCH_CUDA=ON >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
cmake --build "$B" -j"$(nproc)" --target quench-cli ${QUENCH_DEVICE_TARGETS:-} >"$OUT/build.log" 2>&1 || { grep -E "error" "$OUT/build.log" | head -30; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
CLI="$B/app/cli/quench-cli"
