#!/usr/bin/env bash
# A sweep at real size, on the GPU machine (device tool, carry [".carry"]): an 8B-shaped random
# Llama (bench/make_random_llama.py), planned (headers only: time and RSS), then run here with
# --local on CUDA: two recipes and the sensitivity of the first blocks' layers in chunks, one
# process per task. GPU memory is sampled every 0.5 s, so the peak shows each task holds one model.
# Then the same sensitivity in one run, and the merged run compared with it row by row.
# Results appended to $OUT/sweep_8b.txt. Argument: the blocks the sensitivity covers (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
M=/tmp/llama-8b
BLOCKS=${1:-2}
[ -f $M/config.json ] || python3 bench/make_random_llama.py $M --tokenizer-from resources/demo/sotu-llama
W=/tmp/sweep-8b
rm -rf $W && mkdir -p $W
LAYERS=$(python3 -c "import json,sys; print(json.dumps(['model.layers.%d.*' % i for i in range($BLOCKS)]))")
cat > $W/sweep.json <<JSON
{"name": "8b", "model": "$M", "device": "cuda", "dtype": "bfloat16",
 "calib": "$PWD/resources/demo/sotu-calib.txt", "samples": 4, "seq": 128,
 "eval": "$PWD/resources/demo/sotu-2000-2023.txt", "ctx": 256, "max_windows": 4,
 "recipes": ["W4A16-G128", "W8A16"],
 "sensitivity": {"setting": "W4A16-G128", "layers": $LAYERS, "chunks": $BLOCKS}}
JSON
gpu_peak() {  # samples used GPU memory (MiB) into $1 until killed
  while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$1"; sleep 0.5; done
}
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader), sensitivity over $BLOCKS blocks"
  /usr/bin/time -f "plan: %e s wall, peak RSS %M kB" "$CLI" sweep plan $W/sweep.json > $W/plan.txt 2> $W/time.txt
  tail -1 $W/plan.txt; tail -1 $W/time.txt
  gpu_peak $W/gpu.txt & P=$!
  /usr/bin/time -f "sweep run --local: %e s wall, peak RSS (runner) %M kB" "$CLI" sweep run $W/sweep.json --dir $W/d --db $W/store.db 2> $W/time.txt
  kill $P
  tail -1 $W/time.txt
  echo "GPU memory used, peak over the sweep: $(sort -n $W/gpu.txt | tail -1) MiB"
  "$CLI" experiments list --db $W/store.db
  # The same analysis in one run, and the merged one compared with it.
  SEL=$(python3 -c "import json; print(','.join(json.load(open('$W/sweep.json'))['sensitivity']['layers']))")
  /usr/bin/time -f "one sensitivity run: %e s wall, peak RSS %M kB" "$CLI" sensitivity $M --setting W4A16-G128 --layers "$SEL" \
    --eval resources/demo/sotu-2000-2023.txt --ctx 256 --max-windows 4 --calib resources/demo/sotu-calib.txt --samples 4 --seq 128 \
    --device cuda --dtype bfloat16 --db $W/one.db --json > $W/one.json 2> $W/time.txt
  tail -1 $W/time.txt
  MID=$("$CLI" experiments list --db $W/store.db --kind sensitivity --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
  "$CLI" experiments show $MID --db $W/store.db --json > $W/merged.json
  "$CLI" experiments show 1 --db $W/one.db --json > $W/single.json
  python3 - $W <<'PY'
import json, sys
w = sys.argv[1]
m, s = json.load(open(f"{w}/merged.json")), json.load(open(f"{w}/single.json"))
rows = lambda e: [(l["layer"], l["settings"]) for l in e["layers"]]
same = rows(m) == rows(s)
worst = max(abs(a[1]["sensitivity"][k]["delta"] - b[1]["sensitivity"][k]["delta"])
            for a, b in zip(rows(m), rows(s)) for k in a[1]["sensitivity"])
print(f"merged vs one run: {len(rows(m))} units, rows identical: {same}, largest |Δ delta| {worst:.3g}")
PY
} 2>&1 | tee -a "$OUT/sweep_8b.txt"
