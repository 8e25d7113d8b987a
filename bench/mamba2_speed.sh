#!/usr/bin/env bash
# Mamba-2 evaluation speed at Mamba2-2.7B shapes on the GPU machine (device tool, carry
# [".carry/sysroot"]): where a block's time goes (bench_kernels --mamba2: each op of the mixer
# alone, the chunked scan against its first einsum formulation), then `eval` of a random-weight
# checkpoint (bench/make_random_mamba2.py, 64 blocks) on 8 × 2048 tokens in bf16, batch 8: the
# eval's own seconds give tokens/s (issue 20 asks ≥ 18,000). Appends to $OUT/mamba2_speed.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
QUENCH_DEVICE_TARGETS="${QUENCH_DEVICE_TARGETS:-} bench_kernels" source bench/device_build.sh || exit 1
M=/tmp/mamba2-2.7b
[ -f $M/config.json ] || python3 bench/make_random_mamba2.py $M --tokenizer-from resources/demo/sotu-mamba2 >/dev/null || exit 1
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader): Mamba-2 2.7B shapes"
  "$B/bench/bench_kernels" --mamba2
  for run in 1 2; do
    "$CLI" eval $M --text resources/demo/sotu-2000-2023.txt --ctx 2048 --max-windows 8 --batch 8 --device cuda --dtype bfloat16 \
      --no-record --json 2>/dev/null | tail -1 |
      python3 -c 'import json,sys; j=json.load(sys.stdin); print(f"eval 8 x 2048 (run '"$run"'): perplexity {j[\"value\"]:.6g}, {j[\"seconds\"]:.2f} s, {j[\"tokens\"]/j[\"seconds\"]:,.0f} tokens/s")'
  done
} 2>&1 | tee -a "$OUT/mamba2_speed.txt"
