#!/usr/bin/env bash
# Hostile-input checks at real size, on the GPU machine (device tool, carry [".carry"]): what the
# load-time non-finite check costs on an 8B-shaped Llama (eval on CUDA and on the CPU), how fast a
# NaN in the last layer is refused, and that inspect stays header-only. Results in $OUT/hostile_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
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
T=resources/demo/sotu-2000-2023.txt
run() {  # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%e s wall, peak RSS %M kB" "$@" >/tmp/o.txt 2>/tmp/e.txt; local rc=$?
  echo "$label: rc $rc, $(tail -1 /tmp/e.txt); $(grep -v 'wall, peak\|Command exited' /tmp/e.txt | tail -1 | cut -c1-220); $(grep -i perplexity /tmp/o.txt | head -1)"
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
