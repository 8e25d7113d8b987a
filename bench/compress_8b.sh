#!/usr/bin/env bash
# Streamed compression at real sizes on the GPU machine (device tool, carry [".carry/sysroot"]):
# GPTQ W4A16-G128 of a Llama with Llama-3-8B shapes (bench/make_random_llama.py, random bf16
# weights) with COMPRESS_SAMPLES × COMPRESS_SEQ calibration tokens (default 512 × 2048, the issue's
# figure; llm-compressor's published run of the same job: 745 s, 5.8 GB), in bf16 on CUDA, streamed
# one block at a time (--max-memory 4), with per-layer errors measured on 16 samples. Then, unless
# COMPRESS_70B_LAYERS="", Llama-3-70B widths with that many blocks, to show that the peak does not
# grow with the block count. Printed per run: wall time, Quench's compress seconds, peak RSS, peak
# GPU memory (nvidia-smi every 0.2 s: the whole process, CUDA context included) and what libtorch's
# allocator held at most. Results appended to $OUT/compress_8b.txt; with QUENCH_MEMORY_TRACE=1 the
# per-step peaks go to $OUT/memory_trace.txt. COMPRESS_RECIPE (a recipe file) and COMPRESS_LABEL
# replace the GPTQ recipe, e.g. a SparseGPT 2:4 one.
set -uo pipefail
cd "$(dirname "$0")/.."
source bench/device_build.sh
N=${COMPRESS_SAMPLES:-512}
T=${COMPRESS_SEQ:-2048}
L8=/tmp/llama-8b
[ -f $L8/config.json ] || python3 bench/make_random_llama.py $L8 --tokenizer-from resources/demo/sotu-llama >/dev/null
cat > /tmp/gptq-w4a16-g128.json <<'JSON'
{"default": {"weights": {"bits": 4, "strategy": "group", "group_size": 128, "method": "gptq"}}}
JSON
gpu_peak() {  # samples used GPU memory (MiB) into $1 until killed
  while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >> "$1"; sleep 0.2; done
}
run() {  # label, then quench-cli arguments
  local label=$1; shift
  rm -f /tmp/gpu.txt
  gpu_peak /tmp/gpu.txt & P=$!
  /usr/bin/time -v "$CLI" "$@" --device cuda --dtype bfloat16 --no-record --json 2>/tmp/time.txt >/tmp/run.json
  grep '^memory: ' /tmp/time.txt > "$OUT/memory_trace.txt" 2>/dev/null
  rc=$?
  kill $P 2>/dev/null; wait $P 2>/dev/null
  python3 - "$label" "$rc" "$(sort -n /tmp/gpu.txt | tail -1)" <<'PY'
import json, sys, re
label, rc, gpu = sys.argv[1:]
t = open('/tmp/time.txt').read()
rss = re.search(r'Maximum resident set size \(kbytes\): (\d+)', t)
wall = re.search(r'Elapsed \(wall clock\) time.*: (\S+)', t)
try:
    j = json.loads(open('/tmp/run.json').read().strip().splitlines()[-1])
except Exception:
    print(f"{label}: failed (rc {rc})", t[-1500:]); sys.exit()
m = j.get("metrics", {})
rows = [l for l in j.get("layers", []) if l.get("output_sqnr_db") is not None]
sq = sorted(l["output_sqnr_db"] for l in rows)
bs = j.get("details", {}).get("streamed", {}).get("block_seconds", [])
per_block = f", {sum(bs)/len(bs):.2f} s per block (max {max(bs):.2f})" if bs else ""
alloc = m.get('peak_gpu_memory_mib')
alloc = f" (libtorch's allocator held {alloc/1024:.1f} GiB at most)" if alloc else ""
print(f"{label}: wall {wall.group(1) if wall else '?'}, compress {m.get('compress_seconds', 0):.1f} s, peak RSS "
      f"{int(rss.group(1))/1e6 if rss else 0:.2f} GB, peak GPU {int(gpu)/1024:.1f} GiB{alloc}; {len(rows)} layers measured, "
      f"output SQNR {sq[0] if sq else 0:.1f}..{sq[-1] if sq else 0:.1f} dB{per_block}")
PY
}
RECIPE=${COMPRESS_RECIPE:-/tmp/gptq-w4a16-g128.json}
LABEL=${COMPRESS_LABEL:-GPTQ W4A16-G128}
CAL="--calib resources/demo/sotu-calib.txt --samples $N --seq $T --recipe $RECIPE --max-memory 4"
{
  echo "== $(date -u +%F) $(nvidia-smi --query-gpu=name --format=csv,noheader): streamed $LABEL, bf16, $N × $T calibration tokens"
  run "8B $LABEL streamed --max-memory 4" compress $L8 $CAL
  for n in ${COMPRESS_70B_LAYERS-}; do
    M=/tmp/llama-70b-$n
    [ -f $M/config.json ] || python3 bench/make_random_llama.py $M --layers $n --hidden 8192 --ffn 28672 --heads 64 --kv-heads 8 \
      --tokenizer-from resources/demo/sotu-llama >/dev/null
    run "70B widths × $n blocks $LABEL streamed --max-memory 4" compress $M $CAL
  done
} 2>&1 | tee -a "$OUT/compress_8b.txt"
