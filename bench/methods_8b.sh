#!/usr/bin/env bash
# The later papers' methods at real layer shapes, on the GPU machine (device tool, carry
# [".carry"]): a Llama with Llama-3-8B widths (bench/make_random_llama.py, LLAMA_LAYERS blocks,
# default 4) and a Mamba-2 with Mamba-2-2.7B widths (bench/make_random_mamba2.py, MAMBA_LAYERS
# blocks, default 8), random weights. Each recipe is one `quench-cli compress` on CUDA in bf16 with
# 8 × 512 calibration tokens and 4 × 512 evaluation tokens; printed: compress seconds, wall time,
# peak RSS, peak GPU memory (nvidia-smi every 0.2 s) and the per-block time. Perplexities of random
# weights mean nothing; the references in the same run (RTN, GPTQ, Quamba) give the time and
# memory ratios. LLAMA_RECIPES / MAMBA_RECIPES (preset names or recipe files; /tmp/recipes/<name>.json
# for the ones written below) run a subset. Results appended to $OUT/methods_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
LL=${LLAMA_LAYERS:-4}
ML=${MAMBA_LAYERS:-8}
L=/tmp/llama-8b-$LL
M=/tmp/mamba2-2.7b-$ML
[ -f $L/config.json ] || python3 bench/make_random_llama.py $L --layers $LL --tokenizer-from resources/demo/sotu-llama
[ -f $M/config.json ] || python3 bench/make_random_mamba2.py $M --layers $ML --tokenizer-from resources/demo/sotu-mamba2
R=/tmp/recipes
mkdir -p $R
cat > $R/dgq.json <<'JSON'
{"name": "dgq-w4a8", "default": {"weights": {"bits": 4, "strategy": "group", "group_size": 128, "symmetric": false, "method": "dgq"},
 "activations": {"bits": 8, "strategy": "tensor", "observer": "minmax"}}, "ignore": ["lm_head"]}
JSON
cat > $R/olive.json <<'JSON'
{"name": "olive-w4", "default": {"weights": {"type": "olive", "strategy": "channel"}}, "ignore": ["lm_head"]}
JSON
cat > $R/palu.json <<'JSON'
{"name": "palu-50", "overrides": [{"match": ["*.self_attn.k_proj", "*.self_attn.v_proj"],
 "lowrank": {"method": "palu", "ratio": 0.5, "group_heads": 4}}]}
JSON
cat > $R/svd.json <<'JSON'
{"name": "svd-50", "overrides": [{"match": ["*.self_attn.k_proj", "*.self_attn.v_proj"], "lowrank": {"method": "svd", "rank": 512}}]}
JSON
cat > $R/svdllm.json <<'JSON'
{"name": "svd-llm-50", "overrides": [{"match": ["*.self_attn.k_proj", "*.self_attn.v_proj"], "lowrank": {"method": "svd-llm", "rank": 512}}]}
JSON
cat > $R/zipcache.json <<'JSON'
{"name": "zipcache", "kv_cache": {"method": "zipcache", "bits": 2, "high_bits": 4, "salient": 0.4, "group_size": 128}}
JSON
cat > $R/kivi.json <<'JSON'
{"name": "kivi", "kv_cache": {"method": "kivi", "bits": 2, "group_size": 32, "residual": 128}}
JSON
gpu_peak() {  # samples used GPU memory (MiB) into $1 until killed
  while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$1"; sleep 0.2; done
}
run() {  # model recipe
  rm -f /tmp/gpu.txt
  gpu_peak /tmp/gpu.txt & P=$!
  /usr/bin/time -v "$CLI" compress "$1" --recipe "$2" --calib resources/demo/sotu-calib.txt --samples 8 --seq 512 --measure-samples 0 \
    --eval resources/demo/sotu-2000-2023.txt --ctx 512 --max-windows 4 --device cuda --dtype bfloat16 --no-record --json \
    2>/tmp/time.txt >/tmp/run.json
  rc=$?
  kill $P 2>/dev/null; wait $P 2>/dev/null
  python3 - "$(basename $1)" "$(basename $2)" "$rc" "$(sort -n /tmp/gpu.txt | tail -1)" <<'PY'
import json, sys, re
model, recipe, rc, gpu = sys.argv[1:]
t = open('/tmp/time.txt').read()
rss = re.search(r'Maximum resident set size \(kbytes\): (\d+)', t)
wall = re.search(r'Elapsed \(wall clock\) time.*: (\S+)', t)
try:
    j = json.load(open('/tmp/run.json'))
    m = j['metrics']
except Exception:
    print(f"{model} {recipe}: failed (rc {rc})", t[-1500:]); sys.exit()
print(f"{model} {recipe}: compress {m['compress_seconds']:.1f} s, eval {m.get('eval_seconds', 0):.1f} s, wall {wall.group(1) if wall else '?'}, "
      f"peak RSS {int(rss.group(1))/1e6 if rss else 0:.1f} GB, peak GPU {int(gpu)/1024:.1f} GiB, perplexity {m.get('perplexity', float('nan')):.4g}")
PY
}
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader): Llama-3-8B widths × $LL blocks, Mamba-2-2.7B widths × $ML blocks"
  for r in ${LLAMA_RECIPES:-W4A16-G128 W4A16-G128-GPTQ $R/dgq.json $R/olive.json $R/svd.json $R/svdllm.json $R/palu.json $R/kivi.json $R/zipcache.json}; do
    if [ "$r" = W4A16-G128-GPTQ ]; then
      echo '{"name": "w4a16-gptq", "default": {"weights": {"bits": 4, "strategy": "group", "group_size": 128, "method": "gptq"}}, "ignore": ["lm_head"]}' > $R/gptq.json
      r=$R/gptq.json
    fi
    run $L $r
  done
  for r in ${MAMBA_RECIPES-quamba quamba2-w8a8 quamba2-w4a8 quamba2-w4a16}; do run $M $r; done
} 2>&1 | tee -a "$OUT/methods_8b.txt"
