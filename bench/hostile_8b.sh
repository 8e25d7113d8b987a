#!/usr/bin/env bash
# Hostile-input checks at real size, on the GPU machine (device tool, carry [".carry"]): what the
# load-time non-finite check costs on an 8B-shaped Llama (eval on CUDA and on the CPU), how fast a
# NaN in the last layer is refused, and that inspect stays header-only. Results in $OUT/hostile_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/quench-out}
mkdir -p "$OUT"
B=${QUENCH_DEVICE_BUILD:-/tmp/b}
SYSROOT=$PWD/.carry/sysroot/usr/include
TD=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
SQLITE=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0
t0=$(date +%s)
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TD;$SYSROOT/.." -DCMAKE_CUDA_ARCHITECTURES=90a \
  -DCMAKE_INCLUDE_PATH="$SYSROOT" -DSQLite3_LIBRARY=$SQLITE -DQUENCH_GUI=OFF -DQUENCH_CUDA=ON >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
cmake --build "$B" -j"$(nproc)" --target quench-cli >"$OUT/build.log" 2>&1 || { grep -E "error" "$OUT/build.log" | head -30; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
M=/tmp/llama-8b
[ -f $M/config.json ] || python3 bench/make_random_llama.py $M --tokenizer-from resources/demo/sotu-llama
# The same model with one NaN in the last layer's down_proj: its shard copied and patched in place.
N=/tmp/llama-8b-nan
if [ ! -d $N ]; then
  mkdir -p $N && for f in $M/*; do ln -s "$f" $N/; done
  python3 - $M $N <<'PY'
import json, struct, sys, os, shutil
m, n = sys.argv[1:]
name = max((k for k in json.load(open(f"{m}/model.safetensors.index.json"))["weight_map"] if k.endswith("mlp.down_proj.weight")),
           key=lambda k: int(k.split(".")[2]))
shard = json.load(open(f"{m}/model.safetensors.index.json"))["weight_map"][name]
os.remove(f"{n}/{shard}"); shutil.copy(f"{m}/{shard}", f"{n}/{shard}")
with open(f"{n}/{shard}", "r+b") as f:
    hl = struct.unpack("<Q", f.read(8))[0]; h = json.loads(f.read(hl))
    f.seek(8 + hl + h[name]["data_offsets"][0] + 2 * 1000); f.write(struct.pack("<H", 0x7FC0))  # bf16 NaN
print("NaN at", name, "in", shard)
PY
fi
CLI="$B/app/cli/quench-cli"
T=resources/demo/sotu-2000-2023.txt
run() {  # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%e s wall, peak RSS %M kB" "$@" >/tmp/o.txt 2>/tmp/e.txt; local rc=$?
  echo "$label: rc $rc, $(tail -1 /tmp/e.txt); $(grep -v 'wall, peak' /tmp/e.txt | tail -1 | cut -c1-220); $(grep -i perplexity /tmp/o.txt | head -1)"
}
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader)"
  run "inspect 8B" "$CLI" inspect $M
  run "eval 8B cuda bf16, 8 x 256" "$CLI" eval $M --text $T --ctx 256 --max-windows 8 --device cuda --dtype bfloat16 --no-record
  run "eval 8B cuda bf16 NaN in last layer" "$CLI" eval $N --text $T --ctx 256 --max-windows 8 --device cuda --dtype bfloat16 --no-record
  run "eval 8B cpu bf16, 1 x 64" "$CLI" eval $M --text $T --ctx 64 --max-windows 1 --device cpu --dtype bfloat16 --no-record
  run "eval 8B cpu bf16 NaN in last layer" "$CLI" eval $N --text $T --ctx 64 --max-windows 1 --device cpu --dtype bfloat16 --no-record
  run "inspect 8B NaN (headers only)" "$CLI" inspect $N
} 2>&1 | tee "$OUT/hostile_8b.txt"
