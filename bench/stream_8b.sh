#!/usr/bin/env bash
# Streaming at real sizes on the GPU machine (device tool, carry [".carry/sysroot"]): a Llama with
# Llama-3-8B shapes (32 blocks, 16 GB bf16) and Llama-3-70B widths with 4 and with 8 blocks
# (bench/make_random_llama.py, random weights), each evaluated in bf16 on CUDA (STREAM_WINDOWS × 512
# tokens, default 64) loaded whole and streamed one block at a time (--max-memory 4), and the 8B
# also calibrated streamed. Printed per run: wall time, the eval's own seconds, peak RSS, peak GPU
# memory (nvidia-smi every 0.2 s) and the perplexity (which must be the same whole and streamed).
# The 70B-width models show whether the streamed peak grows with the number of blocks.
# STREAM_70B_LAYERS="" skips the 70B-width models. Results appended to $OUT/stream_8b.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
W=${STREAM_WINDOWS:-64}
L8=/tmp/llama-8b
[ -f $L8/config.json ] || python3 bench/make_random_llama.py $L8 --tokenizer-from resources/demo/sotu-llama >/dev/null
gpu_peak() {  # samples used GPU memory (MiB) into $1 until killed
  while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$1"; sleep 0.2; done
}
run() {  # label, then quench-cli arguments
  local label=$1; shift
  rm -f /tmp/gpu.txt
  gpu_peak /tmp/gpu.txt & P=$!
  /usr/bin/time -v "$CLI" "$@" --device cuda --dtype bfloat16 --no-record --json 2>/tmp/time.txt >/tmp/run.json
  rc=$?
  kill $P 2>/dev/null; wait $P 2>/dev/null
  python3 - "$label" "$rc" "$(sort -n /tmp/gpu.txt | tail -1)" <<'PY'
import json, sys, re
label, rc, gpu = sys.argv[1:]
t = open('/tmp/time.txt').read()
rss = re.search(r'Maximum resident set size \(kbytes\): (\d+)', t)
wall = re.search(r'Elapsed \(wall clock\) time.*: (\S+)', t)
plan = [l for l in t.splitlines() if l.startswith('weights:')]
try:
    j = json.loads(open('/tmp/run.json').read().strip().splitlines()[-1])
except Exception:
    print(f"{label}: failed (rc {rc})", t[-1500:]); sys.exit()
v = f", perplexity {j['value']:.6g}, eval {j['seconds']:.1f} s" if 'value' in j else ""
print(f"{label}: wall {wall.group(1) if wall else '?'}, peak RSS {int(rss.group(1))/1e6 if rss else 0:.2f} GB, "
      f"peak GPU {int(gpu)/1024:.1f} GiB{v}" + (f"\n    {plan[0]}" if plan else ""))
PY
}
EVAL="--text resources/demo/sotu-2000-2023.txt --ctx 512 --max-windows $W --batch 16"
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader): streamed vs whole, bf16, $W × 512 tokens"
  run "8B eval whole" eval $L8 $EVAL
  run "8B eval streamed --max-memory 4" eval $L8 $EVAL --max-memory 4
  run "8B calibrate streamed --max-memory 4 (8 × 512)" calibrate $L8 --text resources/demo/sotu-calib.txt --samples 8 --seq 512 --max-memory 4
  rm -rf $L8
  for n in ${STREAM_70B_LAYERS-4 8}; do
    M=/tmp/llama-70b-$n
    python3 bench/make_random_llama.py $M --layers $n --hidden 8192 --ffn 28672 --heads 64 --kv-heads 8 \
      --tokenizer-from resources/demo/sotu-llama >/dev/null
    run "70B widths × $n blocks eval streamed --max-memory 4" eval $M $EVAL --max-memory 4
    rm -rf $M
  done
} 2>&1 | tee -a "$OUT/stream_8b.txt"
