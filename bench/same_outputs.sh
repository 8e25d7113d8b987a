#!/usr/bin/env bash
# Refactoring check: runs two quench-cli builds (e.g. one from a checkout of the commit before a
# change) on the bundled models — llama with W8A8, W4A16-G64, Q4_K, Wanda 2:4, SparseGPT 2:4 and 50%, magnitude 30%, SVD-LLM, ASVD, Palu, AWQ, GPTQ,
# GPTQ with act-order and damping, and RTN with the MSE clip (all with --fidelity), sotu-mamba2 with Quamba, mnist-vit with W8A8, and a sensitivity
# analysis — and compares their --json outputs: every key and value must match, timings aside.
# usage: bench/same_outputs.sh OLD_QUENCH_CLI NEW_QUENCH_CLI [WORK_DIR]
set -uo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_QUENCH_CLI NEW_QUENCH_CLI [WORK_DIR]" >&2; exit 2; }
cd "$(dirname "$0")/.."
W=${3:-$(mktemp -d)}
R=$PWD/resources/demo
M=$R/mnist
mkdir -p "$W"
echo '{"default": {"prune": {"method": "wanda", "pattern": "2:4"}}}' > "$W/wanda24.json"
echo '{"default": {"prune": {"method": "sparsegpt", "pattern": "2:4"}}}' > "$W/sparsegpt24.json"
echo '{"default": {"prune": {"method": "sparsegpt", "sparsity": 0.5, "damp": 0.02, "block_size": 32}}}' > "$W/sparsegpt50.json"
echo '{"default": {"prune": {"method": "magnitude", "sparsity": 0.3}}}' > "$W/magnitude30.json"
echo '{"default": {"lowrank": {"method": "svd-llm", "ratio": 0.5}}}' > "$W/svdllm.json"
echo '{"default": {"lowrank": {"method": "asvd", "rank": 32, "alpha": 0.7}}}' > "$W/asvd.json"
echo '{"overrides": [{"match": ["*.self_attn.k_proj", "*.self_attn.v_proj"], "lowrank": {"method": "palu", "ratio": 0.5, "group_heads": 2}}]}' > "$W/palu.json"
echo '{"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 16, "method": "awq"}}}' > "$W/awq.json"
echo '{"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 16, "method": "gptq"}}}' > "$W/gptq.json"
echo '{"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 16, "method": "gptq", "act_order": true, "damp": 0.05}}}' > "$W/gptq-actorder.json"
echo '{"default": {"weights": {"bits": 3, "strategy": "channel", "clip": "mse"}}}' > "$W/rtn-mse.json"
text="--calib $R/sotu-calib.txt --eval $R/sotu-2000-2023.txt --samples 8 --seq 128 --ctx 128 --max-windows 8 --measure-samples 4 --no-record --json"
runs() {  # CLI OUT
  local cli=$1 out=$2
  mkdir -p "$out"
  for r in W8A8 W4A16-G64 Q4_K "$W/wanda24.json" "$W/sparsegpt24.json" "$W/sparsegpt50.json" "$W/magnitude30.json" "$W/svdllm.json" "$W/asvd.json" "$W/palu.json" "$W/awq.json" "$W/gptq.json" "$W/gptq-actorder.json" "$W/rtn-mse.json"; do
    "$cli" compress "$R/sotu-llama" --recipe "$r" $text --fidelity > "$out/llama-$(basename "$r" .json).json" 2>/dev/null || echo "$cli: llama $r failed" >&2
  done
  "$cli" compress "$R/sotu-mamba2" --recipe quamba $text > "$out/mamba2-quamba.json" 2>/dev/null || echo "$cli: mamba2 failed" >&2
  "$cli" compress "$R/mnist-vit" --recipe W8A8 --calib-images "$M/calib-images-idx3-ubyte.gz" --samples 32 \
    --eval-images "$M/test-images-idx3-ubyte.gz" --eval-labels "$M/test-labels-idx1-ubyte.gz" --max-images 256 \
    --measure-samples 4 --no-record --json > "$out/vit-w8a8.json" 2>/dev/null || echo "$cli: vit failed" >&2
  "$cli" sensitivity "$R/sotu-llama" --setting W4A16-G64 --eval "$R/sotu-2000-2023.txt" --ctx 128 --max-windows 4 \
    --no-record --json > "$out/sensitivity.json" 2>/dev/null || echo "$cli: sensitivity failed" >&2
}
runs "$1" "$W/old"
runs "$2" "$W/new"
python3 - "$W" <<'PY'
import json, os, re, sys
w = sys.argv[1]
timing = re.compile(r'seconds|time|peak_rss|tokens_per_second|started|finished')
def diff(x, y, p=''):
    if isinstance(x, dict) and isinstance(y, dict):
        out = [f'{p}/{k}: only in one' for k in set(x) ^ set(y)]
        for k in set(x) & set(y):
            if not timing.search(k): out += diff(x[k], y[k], f'{p}/{k}')
        return out
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        return [d for i, (u, v) in enumerate(zip(x, y)) for d in diff(u, v, f'{p}[{i}]')]
    return [] if x == y else [f'{p}: {x!r} != {y!r}']
bad = 0
for f in sorted(os.listdir(f'{w}/old')):
    try:
        a, b = (json.loads(open(f'{w}/{s}/{f}').read().strip().splitlines()[-1]) for s in ('old', 'new'))
    except Exception as e:
        print(f'{f}: no JSON to compare ({e})'); bad += 1; continue
    d = diff(a, b)
    bad += bool(d)
    print(f'{f}: ' + ('identical' if not d else f'{len(d)} differences, e.g. ' + '; '.join(d[:3])))
sys.exit(1 if bad else 0)
PY
